//! A tus client made by others, unchanged: tus-js-client (npm, run with Node.js) uploads a
//! multi-megabyte CSV in 1 MiB PATCHes, is aborted part-way, and a second client object resumes
//! the same upload from the offset the server reports; the file is then processed.
//!
//! Needs `node` and `npm` on the PATH; the client is installed from `tests/tus-client/
//! package-lock.json` on first use (`npm ci`).

use sha2::Digest as _;
use std::path::Path;

use crate::helpers::{TestApp, TestStack, generated_csv, npm_ci};

/// `tests/tus-client` with its dependencies installed.
async fn client_dir() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tus-client");
    npm_ci(&dir, "tus-js-client").await;
    dir
}

#[tokio::test]
async fn tus_js_client_uploads_is_interrupted_resumes_and_the_file_is_processed() {
    let dir = client_dir().await;
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let rows = 100_000;
    let csv = generated_csv(rows);
    assert!(csv.len() > 4 * 1024 * 1024, "{}", csv.len());
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("client.csv");
    std::fs::write(&path, &csv).unwrap();

    let output = tokio::process::Command::new("node")
        .arg(dir.join("upload.mjs"))
        .arg(app.url("/api/v1/tus/"))
        .arg(&path)
        .arg("0.4")
        .output()
        .await
        .expect("this test needs node (Node.js 18 or later) on the PATH");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tus-js-client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("the client's report");
    let size = csv.len() as u64;
    assert_eq!(report["size"], size);
    let offset = report["offset_at_resume"].as_u64().unwrap();
    assert!(
        offset > 0 && offset < size,
        "offset at resume {offset} of {size}"
    );
    assert!(
        report["first_progress"].as_u64().unwrap() >= offset,
        "the second client went on from {offset}, not from 0: {report}"
    );

    let url = report["url"].as_str().unwrap();
    let id = url.rsplit('/').next().unwrap();
    let status = app.wait_done(id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(file["filename"], "client.csv");
    assert_eq!(file["purpose"], "tus-js-client test");
    assert_eq!(file["sha256"], hex::encode(sha2::Sha256::digest(&csv)));
    let (_, result) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!(result["csv"]["row_count"], rows);
}
