//! Nothing is lost across restarts: files, results, queued work, and a job whose process died.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, TestStack, corpus, generated_csv, wait_done};

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

/// The `fileproc serve` binary on `stack`, with a short lease so a dead worker's job is taken over
/// quickly.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(stack: &TestStack) -> Server {
        let port = free_port();
        let env = stack.env(&[
            ("SERVER_PORT", &port.to_string()),
            ("PROCESSING_WORKER_COUNT", "1"),
            ("FILEPROC_PROCESSING__LEASE_DURATION", "2s"),
            ("FILEPROC_PROCESSING__POLL_INTERVAL", "200ms"),
        ]);
        let child = Command::new(env!("CARGO_BIN_EXE_fileproc"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fileproc serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_job_interrupted_by_killing_the_process_is_completed_after_restart() {
    let stack = TestStack::new().await;
    let rows = 400_000;
    let bytes = generated_csv(rows);
    let client = reqwest::Client::new();
    let mut server = Server::start(&stack);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("big.csv"),
    );
    let file: Value = client
        .post(format!("{}/api/v1/files/upload", server.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = file["file_id"].as_str().unwrap().to_owned();

    // Kill the process (no graceful shutdown) while the job runs.
    let started = Instant::now();
    loop {
        let status: Value = client
            .get(format!("{}/api/v1/files/{id}/status", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_ne!(
            status["status"], "completed",
            "the job finished before it could be interrupted"
        );
        if status["status"] == "processing" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = Server::start(&stack);
    let status: Value = client
        .get(format!("{}/api/v1/files/{id}/status", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let (code, _) = app.get_json("/health").await;
    assert_eq!(code, 200);
}
