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
    a.kill();
    for id in &small {
        let done = wait_done(&client, &b.base, id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "completed", "{done}");
        let result = b
            .get_json(&client, &format!("/api/v1/files/{id}/result"))
            .await;
        assert_eq!(result["csv"]["row_count"], 2);
    }
    // B takes over the big job once A's lease expires, and finishes it exactly once.
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
