//! What operators see: request ids in responses and logs, no credentials in logs, traces sent
//! over OTLP/HTTP to a collector (a stand-in receiver here, decoding the protobuf the exporter
//! sends), and CPU profiles in pprof's format.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use pprof::protos::Message as _;
use prost::Message as _;
use serde_json::Value;

use crate::helpers::{Server, TestApp, TestStack, generated_csv};

/// An OTLP/HTTP trace receiver: `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`,
/// as a collector on port 4318 takes it; keeps every span.
struct OtlpReceiver {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl OtlpReceiver {
    async fn start() -> OtlpReceiver {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let kept = Arc::clone(&spans);
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = Arc::clone(&kept);
                async move {
                    let request = ExportTraceServiceRequest::decode(body)
                        .expect("the exporter sends a protobuf ExportTraceServiceRequest");
                    let mut all = kept.lock().expect("span list");
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            all.extend(scope.spans);
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        OtlpReceiver { url, spans }
    }

    /// Wait until a span satisfying `want` has arrived; every span so far.
    async fn wait_for(&self, what: &str, want: impl Fn(&Span) -> bool) -> Vec<Span> {
        let started = Instant::now();
        loop {
            let spans = self.spans.lock().expect("span list").clone();
            if spans.iter().any(&want) {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {what} span arrived; got {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A span attribute as text (strings as they are, integers in decimal).
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

async fn wait_completed(client: &reqwest::Client, server: &Server, id: &str) {
    let started = Instant::now();
    loop {
        let status = server
            .get_json(client, &format!("/api/v1/files/{id}/status"))
            .await;
        if status["status"] == "completed" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not completed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_upload_and_its_job_are_one_trace_sent_over_otlp() {
    let receiver = OtlpReceiver::start().await;
    let stack = TestStack::new().await;
    let server = Server::start_with(
        &stack,
        &[
            ("TRACING_ENABLED", "true"),
            ("TRACING_ENDPOINT", &receiver.url),
            // The batch goes out every 100 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        None,
    );
    let client = reqwest::Client::new();
    let file = server
        .upload(&client, "traced.csv", generated_csv(200))
        .await;
    let id = file["file_id"].as_str().expect("file id").to_owned();
    wait_completed(&client, &server, &id).await;

    let is_job =
        |s: &Span| s.name == "process file" && attribute(s, "file.id").as_deref() == Some(&id);
    let spans = receiver.wait_for("job", is_job).await;
    let job = spans.iter().find(|s| is_job(s)).expect("the job span");
    let uploads: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "POST /api/v1/files/upload")
        .collect();
    assert_eq!(uploads.len(), 1, "one upload request span");
    let upload = uploads[0];
    assert_eq!(
        attribute(upload, "http.response.status_code").as_deref(),
        Some("201")
    );
    assert_eq!(
        attribute(upload, "http.route").as_deref(),
        Some("/api/v1/files/upload")
    );
    // SpanKind: 2 = server, 5 = consumer (opentelemetry-proto trace.proto).
    assert_eq!(upload.kind, 2);
    assert_eq!(job.kind, 5);
    assert_eq!(job.trace_id.len(), 16);
    assert_eq!(
        job.trace_id, upload.trace_id,
        "the job joins the upload's trace"
    );
    assert_eq!(
        job.parent_span_id, upload.span_id,
        "the job is the upload's child"
    );
    assert_eq!(attribute(job, "job.attempt").as_deref(), Some("1"));
    // Storage calls are spans of the same trace: the upload's store, the job's reads and writes.
    let storage_in = |parent: &Span| {
        spans
            .iter()
            .filter(|s| s.name.starts_with("storage.") && s.trace_id == parent.trace_id)
            .filter(|s| s.start_time_unix_nano >= parent.start_time_unix_nano)
            .filter(|s| s.end_time_unix_nano <= parent.end_time_unix_nano)
            .count()
    };
    assert!(
        storage_in(upload) >= 1,
        "the upload stores its bytes in a storage span"
    );
    assert!(
        storage_in(job) >= 2,
        "the job reads the original and writes its results"
    );

    // A client's traceparent makes the request part of the client's trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let answer = client
        .get(format!("{}/api/v1/files/{id}", server.base))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .send()
        .await
        .expect("GET");
    assert_eq!(answer.status(), 200);
    let is_show = |s: &Span| s.name == "GET /api/v1/files/{file_id}";
    let spans = receiver.wait_for("file request", is_show).await;
    let show = spans.iter().find(|s| is_show(s)).expect("the request span");
    assert_eq!(hex::encode(&show.trace_id), trace_id);
    assert_eq!(hex::encode(&show.parent_span_id), parent_id);
}

/// The JSON log lines in `path`.
fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the log file")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}")))
        .collect()
}

/// The `request_id` of the request span a JSON log line was written in, if any.
fn request_id_of(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")?["request_id"]
        .as_str()
}

#[tokio::test]
async fn request_ids_are_kept_or_made_returned_and_in_every_log_line_of_the_request() {
    let stack = TestStack::new().await;
    let dir = tempfile::tempdir().expect("a directory");
    let log = dir.path().join("server.log");
    let key = "k-telemetry-test-key";
    let server = Server::start_with(
        &stack,
        &[
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
            ("AUTH_MODE", "api_key"),
            (
                "API_KEYS",
                &format!("owner-a:{}", fileproc::auth::hash_key(key)),
            ),
        ],
        Some(&log),
    );
    let client = reqwest::Client::new();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(generated_csv(50)).file_name("ids.csv"),
    );
    let uploaded = client
        .post(format!("{}/api/v1/files/upload", server.base))
        .header("x-api-key", key)
        .header("x-request-id", "upload-7f3a")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 201);
    assert_eq!(uploaded.headers()["x-request-id"], "upload-7f3a");
    let id = uploaded.json::<Value>().await.expect("file object")["file_id"]
        .as_str()
        .expect("file id")
        .to_owned();

    // No id, or one that could forge a log line: a UUID is made.
    for sent in [None, Some("has space"), Some(&*"x".repeat(129))] {
        let mut request = client
            .get(format!("{}/api/v1/files/{id}", server.base))
            .header("x-api-key", key);
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let answer = request.send().await.expect("GET");
        assert_eq!(answer.status(), 200);
        let made = answer.headers()["x-request-id"].to_str().expect("text");
        assert!(uuid::Uuid::parse_str(made).is_ok(), "{sent:?} gave {made}");
    }
    // Errors carry it too; a credential in the query never reaches the logs.
    let refused = client
        .get(format!(
            "{}/api/v1/files/{id}/events?token=secret-in-query-91c2",
            server.base
        ))
        .header("x-request-id", "refused-1")
        .send()
        .await
        .expect("GET");
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["x-request-id"], "refused-1");

    // The lines are written as the requests finish; wait for the last one's.
    let started = Instant::now();
    let lines = loop {
        let lines = log_lines(&log);
        if lines.iter().any(|l| request_id_of(l) == Some("refused-1")) {
            break lines;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no log line of refused-1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let of = |rid: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| request_id_of(l) == Some(rid))
            .collect()
    };
    let upload_lines = of("upload-7f3a");
    let messages: Vec<&str> = upload_lines
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        ["file stored", "request finished"],
        "{upload_lines:?}"
    );
    assert_eq!(upload_lines[0]["file.id"], id.as_str());
    assert_eq!(upload_lines[1]["status"], 201);
    // Every line about storing this file was written inside the upload request's span.
    for line in lines.iter().filter(|l| l["message"] == "file stored") {
        assert_eq!(request_id_of(line), Some("upload-7f3a"), "{line}");
    }
    let refused_lines = of("refused-1");
    assert_eq!(refused_lines.len(), 1, "{refused_lines:?}");
    assert_eq!(refused_lines[0]["status"], 401);
    let text = std::fs::read_to_string(&log).expect("the log file");
    assert!(
        !text.contains("secret-in-query-91c2"),
        "a query token was logged"
    );
    assert!(!text.contains(key), "an API key was logged");
}

#[tokio::test]
async fn cpu_profiles_are_pprof_protobuf_and_only_when_enabled() {
    let stack = TestStack::new().await;
    let off = TestApp::start(&stack, &[]).await;
    let (status, body) = off.get_json("/debug/pprof/profile?seconds=1").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");
    off.stop().await;

    let app = TestApp::start(&stack, &[("MONITORING_PPROF_ENABLED", "true")]).await;
    for bad in ["0", "301", "x", "-1", "1&seconds=2"] {
        let (status, body) = app
            .get_json(&format!("/debug/pprof/profile?seconds={bad}"))
            .await;
        assert_eq!(status, 400, "seconds={bad}");
        assert_eq!(body["code"], "invalid_query");
    }
    // A client that gives up frees the profile slot at once, not after its `seconds`.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        app.client
            .get(app.url("/debug/pprof/profile?seconds=60"))
            .send(),
    )
    .await;
    assert!(abandoned.is_err(), "a 60 s profile is still running");
    let freed = Instant::now();
    loop {
        let (status, body) = app.get_json("/debug/pprof/profile?seconds=1").await;
        if status == 200 {
            break;
        }
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("profile_in_progress"))
        );
        assert!(
            freed.elapsed() < Duration::from_secs(5),
            "the abandoned profile kept the slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Something to sample: this process busy on another thread for the profile's second.
    let busy = std::thread::spawn(|| {
        let until = Instant::now() + Duration::from_millis(1500);
        let mut x: u64 = 1;
        while Instant::now() < until {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            }
        }
        x
    });
    let first = app
        .client
        .get(app.url("/debug/pprof/profile?seconds=1"))
        .send();
    let second = async {
        // One profile at a time: the second, sent while the first runs, is refused.
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.get_json("/debug/pprof/profile?seconds=1").await
    };
    let (first, (status, body)) = tokio::join!(first, second);
    assert_eq!(status, 409);
    assert_eq!(body["code"], "profile_in_progress");
    let first = first.expect("the profile");
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "application/octet-stream");
    let bytes = first.bytes().await.expect("profile bytes");
    busy.join().expect("the busy thread");

    let profile = pprof::protos::Profile::decode(bytes.as_ref())
        .expect("the body is a pprof protobuf Profile");
    let text = |i: i64| profile.string_table[usize::try_from(i).expect("index")].as_str();
    // 100 samples a second: a period of 10 ms of CPU time.
    let period_type = profile.period_type.as_ref().expect("period type");
    assert_eq!(text(period_type.ty), "cpu");
    assert_eq!(text(period_type.unit), "nanoseconds");
    assert_eq!(profile.period, 10_000_000);
    let duration_ms = profile.duration_nanos / 1_000_000;
    assert!((1000..2000).contains(&duration_ms), "{duration_ms} ms");
    assert!(!profile.sample.is_empty(), "a busy second has samples");
    assert!(!profile.function.is_empty());
    assert!(
        profile
            .string_table
            .iter()
            .any(|s| s.contains("cpu_profiles_are_pprof_protobuf")),
        "the busy thread's function is named in the profile"
    );
    app.stop().await;
    read_with_go_pprof(&bytes);
}

/// `go tool pprof -top` reads the profile and names the busy function, when Go is installed
/// (CI installs Debian's golang-go: scripts/ensure-go.sh).
fn read_with_go_pprof(profile: &[u8]) {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("cpu.pb");
    std::fs::write(&path, profile).expect("writing the profile");
    let output = std::process::Command::new("go")
        .args(["tool", "pprof", "-top", "-symbolize=none"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("GOCACHE", dir.path().join("cache"))
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: go tool pprof (Go is not installed)");
            return;
        }
        Err(e) => panic!("running go tool pprof: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("flat%"), "{stdout}");
    assert!(
        stdout.contains("cpu_profiles_are_pprof_protobuf"),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_unusable_rust_log_is_said_and_log_level_used() {
    let stack = TestStack::new().await;
    let dir = tempfile::tempdir().expect("a directory");
    let log = dir.path().join("server.log");
    let server = Server::start_with(
        &stack,
        &[
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
            ("RUST_LOG", "info,x=["),
        ],
        Some(&log),
    );
    let client = reqwest::Client::new();
    let health = server.get_json(&client, "/health").await;
    assert_eq!(health["status"], "ok");
    let started = Instant::now();
    loop {
        let lines = log_lines(&log);
        let warned = lines.iter().any(|l| {
            l["level"] == "WARN"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("RUST_LOG = \"info,x=[\" is not a filter"))
        });
        // LOG_LEVEL=info took over: the request's line is there.
        let served = lines.iter().any(|l| l["message"] == "request finished");
        if warned && served {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{lines:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
