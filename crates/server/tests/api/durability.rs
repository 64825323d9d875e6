//! Nothing is lost across restarts: files, results, queued work, and a job whose process died.

use serde_json::Value;
use std::time::Duration;

use crate::helpers::{
    Server, TestApp, TestStack, corpus, generated_csv, wait_done, wait_processing,
};

#[tokio::test]
async fn files_and_results_survive_a_restart_on_the_same_data_directory() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (done_id, before) = app.process("table.csv", corpus("table.csv")).await;
    let pending = app
        .upload_bytes(
            "later.csv",
            b"x\n1\n2\n3\n".to_vec(),
            &[("auto_process", "false")],
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let pending_id = pending["file_id"].as_str().unwrap().to_owned();
    app.stop().await;

    let app = TestApp::start(&stack, &[]).await;
    let (code, after) = app
        .get_json(&format!("/api/v1/files/{done_id}/result"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(after, before);
    let (code, file) = app.get_json(&format!("/api/v1/files/{pending_id}")).await;
    assert_eq!((code, file["status"].as_str()), (200, Some("pending")));
    let bytes = app
        .client
        .get(app.url(&format!("/api/v1/files/{done_id}/download")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), corpus("table.csv").as_slice());
    let (_, page) = app
        .get_json(&format!("/api/v1/files/{done_id}/records"))
        .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["records"][1]["name"], "中国人");
}

#[tokio::test]
async fn a_job_interrupted_by_killing_the_process_is_completed_after_restart() {
    let stack = TestStack::new().await;
    let rows = 400_000;
    let client = reqwest::Client::new();
    let mut server = Server::start(&stack);
    let file = server.upload(&client, "big.csv", generated_csv(rows)).await;
    let id = file["file_id"].as_str().unwrap().to_owned();
    wait_processing(&client, &server, &id).await;
    server.kill();
    drop(server);

    let server = Server::start(&stack);
    let status = server
        .get_json(&client, &format!("/api/v1/files/{id}/status"))
        .await;
    assert_eq!(
        status["status"], "processing",
        "the interrupted job is still owned by the dead worker's lease"
    );
    let done = wait_done(&client, &server.base, &id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let result: Value = client
        .get(format!("{}/api/v1/files/{id}/result", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["csv"]["row_count"], rows);
    assert_eq!(result["csv"]["column_count"], 5);
    // A process of its own: its counters start at 0. It took the job over from a dead lease.
    let completed = [("file_type", "csv"), ("outcome", "completed")];
    let metrics =
        crate::metrics::scrape_until_at(&client, &format!("{}/metrics", server.base), |s| {
            s.value("fileproc_files_processed_total", &completed) == 1.0
        })
        .await;
    assert_eq!(metrics.value("fileproc_job_leases_expired_total", &[]), 1.0);
    assert_eq!(metrics.value("fileproc_job_retries_total", &[]), 0.0);
    assert_eq!(metrics.value("fileproc_queue_depth", &[]), 0.0);
}

#[tokio::test]
async fn a_job_over_its_timeout_is_retried_then_fails_with_timeout_and_the_service_goes_on() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("PROCESSING_TIMEOUT", "20ms"),
            ("PROCESSING_MAX_RETRIES", "1"),
            ("FILEPROC_PROCESSING__RETRY_BACKOFF", "50ms"),
        ],
    )
    .await;
    let file = app.upload("big.csv", generated_csv(300_000)).await;
    let id = file["file_id"].as_str().unwrap();
    let status = app.wait_done(id).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "timeout");
    assert_eq!(
        status["error"]["message"],
        "processing took longer than 0.02 s"
    );
    // This server's own recorder: two attempts timed out, the first was retried.
    let failed = [("file_type", "csv"), ("outcome", "failed")];
    let metrics = crate::metrics::scrape_until_at(&app.client, &app.url("/metrics"), |s| {
        s.value("fileproc_files_processed_total", &failed) == 1.0
    })
    .await;
    assert_eq!(metrics.value("fileproc_job_retries_total", &[]), 1.0);
    assert_eq!(
        metrics.value("fileproc_processing_errors_total", &[("code", "timeout")]),
        2.0
    );
    assert_eq!(
        metrics.value(
            "fileproc_processing_duration_seconds_count",
            &[("file_type", "csv")]
        ),
        2.0
    );
    let (code, _) = app.get_json("/health").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn two_instances_share_the_work_and_one_finishes_what_the_other_left_when_killed() {
    let stack = TestStack::new().await;
    let client = reqwest::Client::new();
    let mut a = Server::start(&stack);
    let rows = 400_000;
    let big = a.upload(&client, "big.csv", generated_csv(rows)).await;
    let big_id = big["file_id"].as_str().unwrap().to_owned();
    // Only A runs, so A holds the job.
    wait_processing(&client, &a, &big_id).await;
    let b = Server::start(&stack);
    // Small uploads to A while both run are processed by either and readable on B.
    let mut small = Vec::new();
    for n in 0..4 {
        let file = a
            .upload(
                &client,
                &format!("s{n}.csv"),
                format!("n\n{n}\n{}\n", n + 1).into_bytes(),
            )
            .await;
        small.push(file["file_id"].as_str().unwrap().to_owned());
    }
    // A client on B follows the big job A is running.
    let ws_url = format!(
        "{}/ws?file_id={big_id}",
        b.base.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("WebSocket on B");
    a.kill();
    for id in &small {
        let done = wait_done(&client, &b.base, id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "completed", "{done}");
        let result = b
            .get_json(&client, &format!("/api/v1/files/{id}/result"))
            .await;
        assert_eq!(result["csv"]["row_count"], 2);
    }
    // B takes over the big job once A's lease expires, and finishes it exactly once; B's client
    // sees it through to the end, its progress never going back.
    let frames = follow_to_the_end(&mut ws).await;
    assert_eq!(frames[0]["type"], "connected");
    assert_eq!(frames[0]["data"]["status"], "processing");
    let progress: Vec<f64> = frames
        .iter()
        .filter(|f| f["type"] == "progress")
        .map(|f| f["progress"].as_f64().unwrap())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "completed", "{frames:#?}");
    assert_eq!(last["data"]["csv"]["row_count"], rows);
    let done = wait_done(&client, &b.base, &big_id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let result = b
        .get_json(&client, &format!("/api/v1/files/{big_id}/result"))
        .await;
    assert_eq!(result["csv"]["row_count"], rows);
    let page = b
        .get_json(
            &client,
            &format!("/api/v1/files/{big_id}/records?offset={}&limit=5", rows - 2),
        )
        .await;
    assert_eq!(page["total"], rows);
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["records"][1]["id"], rows - 1);
}

/// WebSocket frames until `completed` or `error` (two minutes at most).
async fn follow_to_the_end(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Vec<Value> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut frames = Vec::new();
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the job ended in time")
            .expect("the socket is open")
            .expect("a message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            let end = frame["type"] == "completed" || frame["type"] == "error";
            frames.push(frame);
            if end {
                return frames;
            }
        }
    }
}
