//! Live progress over a real WebSocket client (tokio-tungstenite) and Server-Sent Events: the
//! order of a file's frames from upload to result, late clients, failures, all files, the
//! connection limit, clients that never read, and (on the production stack) an instance's
//! client seeing a job another instance runs.

use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{TestApp, TestStack, generated_csv};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const MIB: usize = 1024 * 1024;

fn ws_url(base: &str, query: &str) -> String {
    format!("{}/ws{query}", base.replacen("http://", "ws://", 1))
}

pub(crate) async fn connect(base: &str, query: &str) -> Socket {
    tokio_tungstenite::connect_async(ws_url(base, query))
        .await
        .expect("WebSocket handshake")
        .0
}

/// The next JSON frame (pings are answered by the library), within `limit`.
async fn frame(ws: &mut Socket, limit: Duration) -> Value {
    loop {
        let message = tokio::time::timeout(limit, ws.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a WebSocket message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => {}
        }
    }
}

/// Frames until one for `file_id` is terminal (`completed` or `error`).
pub(crate) async fn frames_until_done(ws: &mut Socket, file_id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut frames = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let f = frame(ws, left).await;
        let done = f["file_id"] == file_id && (f["type"] == "completed" || f["type"] == "error");
        frames.push(f);
        if done {
            return frames;
        }
    }
}

pub(crate) fn of_type<'a>(frames: &'a [Value], kind: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == kind).collect()
}

pub(crate) fn new_statuses(frames: &[Value]) -> Vec<String> {
    of_type(frames, "status_change")
        .iter()
        .map(|f| f["data"]["new_status"].as_str().unwrap().to_owned())
        .collect()
}

/// Start a chunked upload of `bytes` in 1 MiB parts; (file_id, upload_id, parts).
async fn init_chunked(app: &TestApp, name: &str, bytes: &[u8]) -> (String, String, usize) {
    let started: Value = app
        .client
        .post(app.url("/api/v1/files/upload/init"))
        .json(&json!({"filename": name, "size": bytes.len(), "chunk_size": MIB}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        started["file_id"].as_str().unwrap().to_owned(),
        started["upload_id"].as_str().unwrap().to_owned(),
        started["total_chunks"].as_u64().unwrap() as usize,
    )
}

/// Send every part, then complete.
async fn send_chunked(app: &TestApp, file_id: &str, upload_id: &str, bytes: &[u8]) {
    let mut parts = Vec::new();
    for (i, part) in bytes.chunks(MIB).enumerate() {
        let n = i + 1;
        let r: Value = app
            .client
            .put(app.url(&format!(
                "/api/v1/files/upload/{file_id}/chunk?upload_id={upload_id}&chunk_number={n}"
            )))
            .body(part.to_vec())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        parts.push(json!({"part_number": n, "etag": r["etag"]}));
    }
    let r = app
        .client
        .post(app.url(&format!("/api/v1/files/upload/{file_id}/complete")))
        .json(&json!({"upload_id": upload_id, "parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Status changes in lifecycle order, non-decreasing progress per status, ending in
/// `completed` with `rows` rows.
fn assert_life(frames: &[Value], rows: usize, parts: usize) {
    assert_eq!(frames[0]["type"], "connected");
    assert_eq!(frames[0]["data"]["status"], "uploading");
    assert_eq!(
        new_statuses(frames),
        ["queued", "processing", "completed"],
        "{frames:#?}"
    );
    let mut status = "uploading".to_owned();
    let mut last = -1.0;
    let mut upload_events = 0;
    let mut processing_events = 0;
    for f in &frames[1..] {
        match f["type"].as_str().unwrap() {
            "status_change" => {
                assert_eq!(f["data"]["old_status"], status.as_str(), "{f}");
                status = f["data"]["new_status"].as_str().unwrap().to_owned();
                last = -1.0;
            }
            "progress" => {
                let p = f["progress"].as_f64().unwrap();
                assert!(
                    p >= last,
                    "progress went back from {last} to {p}: {frames:#?}"
                );
                assert!((0.0..=1.0).contains(&p));
                last = p;
                match status.as_str() {
                    "uploading" => {
                        assert_eq!(f["data"]["step"], "upload");
                        upload_events += 1;
                    }
                    "processing" => {
                        let step = f["data"]["step"].as_str().unwrap();
                        assert!(
                            ["validation", "extraction", "thumbnail", "storage"].contains(&step),
                            "{step}"
                        );
                        // Extraction counts the CSV's rows as it goes.
                        if let Some(message) = f["data"]["message"].as_str() {
                            assert_eq!(step, "extraction");
                            let (n, unit) = message.split_once(' ').unwrap();
                            assert!(n.parse::<u64>().is_ok() && unit == "rows", "{message}");
                        }
                        processing_events += 1;
                    }
                    other => panic!("progress while {other}: {f}"),
                }
            }
            "completed" => assert_eq!(status, "completed"),
            other => panic!("unexpected {other}: {f}"),
        }
    }
    assert_eq!(upload_events, parts, "one upload progress per part");
    assert!(processing_events >= 1, "{frames:#?}");
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "completed");
    assert_eq!(last["progress"], 1.0);
    assert_eq!(last["data"]["csv"]["row_count"], rows);
}

#[tokio::test]
async fn a_client_connected_during_the_upload_sees_every_step_in_order_to_the_result() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let rows = 120_000;
    let csv = generated_csv(rows);
    let (file_id, upload_id, parts) = init_chunked(&app, "live.csv", &csv).await;
    assert!(parts >= 5, "{parts}");
    let mut ws = connect(&app.base, &format!("?file_id={file_id}")).await;
    let mut sse = app
        .client
        .get(app.url(&format!("/api/v1/files/{file_id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(
        sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Both have said `connected` before the first part goes.
    let first = frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(first["type"], "connected");
    let mut sse_frames = Vec::new();
    let mut buffer = String::new();
    while sse_frames.is_empty() {
        read_sse(&mut sse, &mut buffer, &mut sse_frames).await;
    }
    send_chunked(&app, &file_id, &upload_id, &csv).await;

    let mut frames = vec![first];
    frames.extend(frames_until_done(&mut ws, &file_id).await);
    assert_life(&frames, rows, parts);
    // The status endpoint agrees with the last frame.
    let (_, status) = app
        .get_json(&format!("/api/v1/files/{file_id}/status"))
        .await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["progress"], 1.0);

    // SSE gives the same sequence.
    while sse_frames
        .last()
        .is_none_or(|f: &Value| f["type"] != "completed")
    {
        read_sse(&mut sse, &mut buffer, &mut sse_frames).await;
    }
    assert_life(&sse_frames, rows, parts);
    assert_eq!(new_statuses(&sse_frames), new_statuses(&frames));
}

/// Read SSE bytes until at least one more whole event is parsed into `out`.
async fn read_sse(response: &mut reqwest::Response, buffer: &mut String, out: &mut Vec<Value>) {
    let before = out.len();
    while out.len() == before {
        let chunk = tokio::time::timeout(Duration::from_secs(90), response.chunk())
            .await
            .expect("an SSE event in time")
            .expect("the stream")
            .expect("the stream is open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let name = event.lines().find_map(|l| l.strip_prefix("event: "));
            let data = event.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(name), Some(data)) = (name, data) {
                let value: Value = serde_json::from_str(data).unwrap();
                assert_eq!(value["type"], name);
                out.push(value);
            }
        }
    }
}

#[tokio::test]
async fn a_late_client_gets_the_outcome_at_once_and_a_failure_ends_in_its_error() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, _) = app.process("done.csv", generated_csv(100)).await;
    let mut ws = connect(&app.base, &format!("?file_id={id}")).await;
    let first = frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(first["type"], "connected");
    assert_eq!(first["data"]["status"], "completed");
    assert_eq!(first["progress"], 1.0);
    let second = frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(second["type"], "completed");
    assert_eq!(second["data"]["csv"]["row_count"], 100);

    let file = app.upload("empty.csv", Vec::new()).await;
    let id = file["file_id"].as_str().unwrap();
    let mut ws = connect(&app.base, &format!("?file_id={id}")).await;
    let frames = frames_until_done(&mut ws, id).await;
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "error", "{frames:#?}");
    assert_eq!(last["error"]["code"], "empty_file");
    let (_, status) = app.get_json(&format!("/api/v1/files/{id}/status")).await;
    assert_eq!(status["error"]["code"], "empty_file");
}

#[tokio::test]
async fn a_client_without_a_file_id_sees_every_file_and_bad_ids_are_refused() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let mut ws = connect(&app.base, "").await;
    assert_eq!(
        frame(&mut ws, Duration::from_secs(10)).await["type"],
        "connected"
    );
    let a = app.upload("a.csv", generated_csv(10)).await;
    let b = app.upload("b.csv", generated_csv(20)).await;
    let ids = [
        a["file_id"].as_str().unwrap(),
        b["file_id"].as_str().unwrap(),
    ];
    let mut done = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.len() < 2 {
        let f = frame(&mut ws, deadline.saturating_duration_since(Instant::now())).await;
        if f["type"] == "completed" {
            done.insert(
                f["file_id"].as_str().unwrap().to_owned(),
                f["data"]["csv"]["row_count"].clone(),
            );
        }
    }
    assert_eq!(done[ids[0]], 10);
    assert_eq!(done[ids[1]], 20);

    // A malformed id is a 400 before any upgrade; an unknown one an error frame and a
    // policy-violation close.
    let r = app
        .client
        .get(app.url("/ws?file_id=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app.client.get(app.url("/ws")).send().await.unwrap();
    assert_eq!(r.status(), 400, "a plain GET is not an upgrade");
    let unknown = uuid::Uuid::now_v7();
    let mut ws = connect(&app.base, &format!("?file_id={unknown}")).await;
    let f = frame(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(
        (f["type"].as_str(), f["error"]["code"].as_str()),
        (Some("error"), Some("not_found"))
    );
    match tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(close)))) => assert_eq!(close.code, CloseCode::Policy),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn connections_beyond_the_maximum_are_refused_with_503() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("FILEPROC_WEBSOCKET__MAX_CONNECTIONS", "2")]).await;
    let mut first = connect(&app.base, "").await;
    let _second = connect(&app.base, "").await;
    match tokio_tungstenite::connect_async(ws_url(&app.base, "")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!(
            "a third connection was not refused: {:?}",
            other.map(|_| ())
        ),
    }
    let r = app
        .client
        .get(app.url(&format!("/api/v1/files/{}/events", uuid::Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "SSE counts against the same limit");
    first.close(None).await.unwrap();
    // The permit comes back once the server sees the close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if tokio_tungstenite::connect_async(ws_url(&app.base, ""))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection's slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Upload a CSV and the time until its status is completed.
async fn time_job(app: &TestApp, csv: Vec<u8>) -> Duration {
    let started = Instant::now();
    let file = app.upload("timed.csv", csv).await;
    let status = app.wait_done(file["file_id"].as_str().unwrap()).await;
    assert_eq!(status["status"], "completed");
    started.elapsed()
}

#[tokio::test]
async fn clients_that_never_read_do_not_slow_processing() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = generated_csv(100_000);
    let alone = time_job(&app, csv.clone()).await;
    // Fifty clients following every file that never read a frame.
    let mut stuck = Vec::new();
    for _ in 0..50 {
        stuck.push(connect(&app.base, "").await);
    }
    let watched = time_job(&app, csv.clone()).await;
    let again = time_job(&app, csv).await;
    let slowest = watched.max(again);
    assert!(
        slowest < alone * 3 + Duration::from_secs(2),
        "alone {alone:?}, with 50 stuck clients {watched:?} and {again:?}"
    );
    drop(stuck);
}

#[tokio::test]
async fn a_client_on_one_instance_sees_a_job_another_instance_runs() {
    if std::env::var("TEST_REDIS_URL").is_err() {
        eprintln!(
            "a_client_on_one_instance_sees_a_job_another_instance_runs: SKIPPED, instances share \
             events through Redis: set TEST_REDIS_URL (and TEST_DATABASE_URL, TEST_S3_*)"
        );
        return;
    }
    let stack = TestStack::new().await;
    // A runs the jobs; B serves the API only and runs none.
    let a = TestApp::start(&stack, &[]).await;
    let b = TestApp::start(&stack, &[("PROCESSING_WORKER_COUNT", "0")]).await;
    let rows = 50_000;
    let csv = generated_csv(rows);
    let (file_id, upload_id, parts) = init_chunked(&b, "shared.csv", &csv).await;
    let mut ws = connect(&b.base, &format!("?file_id={file_id}")).await;
    let first = frame(&mut ws, Duration::from_secs(10)).await;
    send_chunked(&b, &file_id, &upload_id, &csv).await;
    let mut frames = vec![first];
    frames.extend(frames_until_done(&mut ws, &file_id).await);
    assert_life(&frames, rows, parts);
    // And A's own client sees the same end.
    let mut on_a = connect(&a.base, &format!("?file_id={file_id}")).await;
    assert_eq!(
        frame(&mut on_a, Duration::from_secs(10)).await["data"]["status"],
        "completed"
    );
}

#[tokio::test]
async fn clients_are_pinged_and_one_that_never_answers_is_dropped_at_the_read_deadline() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("FILEPROC_WEBSOCKET__PING_PERIOD", "200ms"),
            ("FILEPROC_WEBSOCKET__PONG_TIMEOUT", "700ms"),
        ],
    )
    .await;
    let mut silent = connect(&app.base, "").await;
    let mut live = connect(&app.base, "").await;
    // The live client reads (and so answers pings) for two seconds; the silent one does not.
    let mut pings = 0;
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(message) = tokio::time::timeout_at(until.into(), live.next()).await {
        match message {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(_)) => {}
            other => panic!("the answering client was dropped: {other:?}"),
        }
    }
    assert!(pings >= 5, "{pings} pings in 2 s at a 200 ms period");
    // The silent client's connection is gone: whatever it had buffered, then the end.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match silent.next().await {
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the silent client was never dropped");
}
