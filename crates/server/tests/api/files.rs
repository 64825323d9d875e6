//! Listing, showing, status, deleting, and the error shape of unknown things.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStack, corpus, generated_csv};

#[tokio::test]
async fn unknown_file_is_404_with_the_error_shape_everywhere() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let id = "0190f5b8-0000-7000-8000-000000000000";
    for path in ["", "/status", "/result", "/records", "/download"] {
        let (code, body) = app.get_json(&format!("/api/v1/files/{id}{path}")).await;
        assert_eq!(code, 404, "{path}");
        assert_eq!(
            body,
            json!({"error": "file not found", "code": "not_found"}),
            "{path}"
        );
    }
    let delete = app.delete(&format!("/api/v1/files/{id}")).await;
    assert_eq!(delete.status(), 404);
    let process = app.post(&format!("/api/v1/files/{id}/process")).await;
    assert_eq!(process.status(), 404);
    let (code, body) = app.get_json("/api/v1/nothing-here").await;
    assert_eq!((code, body["code"].as_str()), (404, Some("not_found")));
    let put = app
        .client
        .put(app.url(&format!("/api/v1/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(
        put.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_filters_by_status_and_type() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let file = app
            .upload_bytes(
                &format!("f{n}.csv"),
                format!("n\n{n}\n").into_bytes(),
                &[("auto_process", "false")],
            )
            .await;
        ids.push(
            file.json::<Value>().await.unwrap()["file_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, first) = app.get_json("/api/v1/files?limit=2").await;
    let page: Vec<&str> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .get_json(&format!("/api/v1/files?limit=2&cursor={cursor}"))
        .await;
    let page: Vec<&str> = second["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[2].as_str(), ids[1].as_str()]);
    let (_, last) = app
        .get_json(&format!("/api/v1/files?limit=2&cursor={}", ids[1]))
        .await;
    assert_eq!(last["files"].as_array().unwrap().len(), 1);
    assert_eq!(last["has_more"], false);
    assert_eq!(last["next_cursor"], Value::Null);

    app.post(&format!("/api/v1/files/{}/process", ids[0])).await;
    app.wait_done(&ids[0]).await;
    let (_, completed) = app.get_json("/api/v1/files?status=completed").await;
    assert_eq!(completed["files"].as_array().unwrap().len(), 1);
    assert_eq!(completed["files"][0]["file_id"], ids[0].as_str());
    let (_, pending) = app
        .get_json("/api/v1/files?status=pending&file_type=csv")
        .await;
    assert_eq!(pending["files"].as_array().unwrap().len(), 4);
    let (_, pdfs) = app.get_json("/api/v1/files?file_type=pdf").await;
    assert_eq!(pdfs["files"], json!([]));
    let (code, bad) = app.get_json("/api/v1/files?status=lost").await;
    assert_eq!((code, bad["code"].as_str()), (400, Some("invalid_query")));
    let (code, bad) = app.get_json("/api/v1/files?cursor=garbage").await;
    assert_eq!((code, bad["code"].as_str()), (400, Some("invalid_query")));
}

#[tokio::test]
async fn status_reports_progress_and_processing_twice_is_a_conflict_while_queued() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("PROCESSING_WORKER_COUNT", "1")]).await;
    let file = app.upload("nfl.csv", corpus("nfl.csv")).await;
    let id = file["file_id"].as_str().unwrap();
    let again = app.post(&format!("/api/v1/files/{id}/process")).await;
    let status = again.status().as_u16();
    // Either it is still queued or processing (409), or it already finished (202, re-queued).
    assert!(status == 409 || status == 202, "{status}");
    if status == 409 {
        assert_eq!(
            again.json::<Value>().await.unwrap()["code"],
            "already_processing"
        );
    }
    let done = app.wait_done(id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["step"], "complete");
    assert_eq!(done["error"], Value::Null);
}

#[tokio::test]
async fn delete_removes_the_row_the_result_and_every_blob() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, _) = app.process("table.csv", corpus("table.csv")).await;
    assert_eq!(stack.stored_keys().await.len(), 2); // original + records
    let response = app.delete(&format!("/api/v1/files/{id}")).await;
    assert_eq!(response.status(), 204);
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(code, 404);
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!(code, 404);
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
}

#[tokio::test]
async fn health_and_ready_report_the_parts() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (code, health) = app.get_json("/health").await;
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
    // Workers start asynchronously; readiness follows within a moment.
    let mut ready = (0, Value::Null);
    for _ in 0..50 {
        ready = app.get_json("/ready").await;
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ready.0, 200);
    assert_eq!(ready.1["checks"]["catalog"]["ok"], true);
    assert_eq!(ready.1["checks"]["blob_store"]["ok"], true);
    assert_eq!(ready.1["checks"]["workers"]["alive"], 2);
    let kind = if std::env::var("TEST_REDIS_URL").is_ok_and(|u| !u.is_empty()) {
        "redis"
    } else {
        "in-process"
    };
    assert_eq!(ready.1["checks"]["cache"]["kind"], kind);
}

#[tokio::test]
async fn an_unreachable_redis_degrades_to_cache_misses_and_shows_in_ready() {
    let stack = TestStack::new().await;
    // Nothing listens on port 1: every cache call fails fast.
    let app = TestApp::start(&stack, &[("REDIS_URL", "redis://127.0.0.1:1/0")]).await;
    let (id, result) = app.process("table.csv", corpus("table.csv")).await;
    assert_eq!(result["csv"]["row_count"], 2);
    let (code, again) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!((code, &again), (200, &result));
    let (code, ready) = app.get_json("/ready").await;
    assert_eq!(code, 200);
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["cache"]["ok"], false);
    assert_eq!(ready["checks"]["cache"]["kind"], "redis");
    assert_eq!(ready["checks"]["catalog"]["ok"], true);
}

#[tokio::test]
async fn progress_is_published_and_deleting_mid_job_leaves_no_object_behind() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("PROCESSING_WORKER_COUNT", "1")]).await;
    let file = app.upload("big.csv", generated_csv(300_000)).await;
    let id = file["file_id"].as_str().unwrap();
    let started = std::time::Instant::now();
    loop {
        let (_, status) = app.get_json(&format!("/api/v1/files/{id}/status")).await;
        assert_ne!(status["status"], "completed", "finished before the delete");
        if status["status"] == "processing" {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Progress is published while the analyzer reads (every 500 ms).
    let started = std::time::Instant::now();
    loop {
        let (_, status) = app.get_json(&format!("/api/v1/files/{id}/status")).await;
        let progress = status["progress"].as_f64().unwrap();
        if status["status"] == "processing" && progress > 0.0 {
            assert!(progress < 1.0, "{status}");
            assert_eq!(status["step"], "extraction");
            break;
        }
        assert_eq!(
            status["status"], "processing",
            "finished before progress was seen"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let response = app.delete(&format!("/api/v1/files/{id}")).await;
    assert_eq!(response.status(), 204);
    // The worker notices at its next lease renewal or at its end; either way it cleans up.
    let mut keys = stack.stored_keys().await;
    for _ in 0..200 {
        if keys.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        keys = stack.stored_keys().await;
    }
    assert_eq!(keys, Vec::<String>::new());
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn an_unreachable_blob_store_is_503_storage_unavailable_and_stores_no_row() {
    let stack = TestStack::new().await;
    // Nothing listens on port 1: every store call fails (after the store client's retries).
    let app = TestApp::start(
        &stack,
        &[
            ("STORAGE_PROVIDER", "s3"),
            ("S3_BUCKET", "nowhere"),
            ("S3_ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .await;
    let response = app
        .upload_bytes("table.csv", corpus("table.csv"), &[])
        .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "storage_unavailable");
    assert!(
        !body["error"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
    let (_, list) = app.get_json("/api/v1/files").await;
    assert_eq!(list["files"], json!([]));
    let (code, ready) = app.get_json("/ready").await;
    assert_eq!(code, 503);
    assert_eq!(ready["checks"]["blob_store"]["ok"], false);
}
