//! The chunked upload API over real HTTP: parts in any order, replaced parts, ETags checked at
//! completion, abort, errors with their codes, and a resume after a restart.

use md5::Digest as _;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStack, generated_csv};

const MIB: usize = 1024 * 1024;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5::Md5::digest(bytes)))
}

/// `POST /upload/init`; status and body.
async fn init(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/files/upload/init"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// `PUT .../chunk`; status and body.
async fn put(app: &TestApp, file: &str, upload: &str, n: i64, bytes: Vec<u8>) -> (u16, Value) {
    let r = app
        .client
        .put(app.url(&format!(
            "/api/v1/files/upload/{file}/chunk?upload_id={upload}&chunk_number={n}"
        )))
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn complete(app: &TestApp, file: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/files/upload/{file}/complete")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(v: &Value) -> (String, String) {
    (
        v["file_id"].as_str().expect("file_id").to_owned(),
        v["upload_id"].as_str().expect("upload_id").to_owned(),
    )
}

#[tokio::test]
async fn parts_out_of_order_with_one_replaced_are_assembled_checked_and_processed() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let rows = 60_000;
    let csv = generated_csv(rows);
    assert!(csv.len() > 2 * MIB && csv.len() < 3 * MIB, "{}", csv.len());
    let (code, started) = init(
        &app,
        json!({"filename": "orders.csv", "size": csv.len(), "chunk_size": MIB}),
    )
    .await;
    assert_eq!(code, 201, "{started}");
    assert_eq!(started["chunk_size"], MIB);
    assert_eq!(started["total_chunks"], 3);
    assert!(started["expires_at"].is_string());
    let (file_id, upload_id) = ids(&started);
    let ws = started["websocket_url"].as_str().unwrap();
    assert!(ws.ends_with(&format!("/ws?file_id={file_id}")), "{ws}");
    let (_, file) = app.get_json(&format!("/api/v1/files/{file_id}")).await;
    assert_eq!(file["status"], "uploading");

    let part = |n: usize| csv[(n - 1) * MIB..(n * MIB).min(csv.len())].to_vec();
    // 3, then a wrong 1 (right size, wrong bytes), then 2, then 1 again: the last one counts.
    let (code, third) = put(&app, &file_id, &upload_id, 3, part(3)).await;
    assert_eq!(code, 200, "{third}");
    assert_eq!(third["part_number"], 3);
    assert_eq!(third["size"], csv.len() - 2 * MIB);
    assert_eq!(third["etag"], etag_of(&part(3)));
    let (code, wrong) = put(&app, &file_id, &upload_id, 1, vec![b'x'; MIB]).await;
    assert_eq!(code, 200);
    assert_eq!(wrong["etag"], etag_of(&vec![b'x'; MIB]));
    assert_eq!(put(&app, &file_id, &upload_id, 2, part(2)).await.0, 200);
    let (code, first) = put(&app, &file_id, &upload_id, 1, part(1)).await;
    assert_eq!(code, 200);
    assert_eq!(first["etag"], etag_of(&part(1)));

    let (code, listed) = app
        .get_json(&format!(
            "/api/v1/files/upload/{file_id}/parts?upload_id={upload_id}"
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(listed["received"], csv.len());
    let parts = listed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["part_number"], i + 1);
        assert_eq!(p["etag"], etag_of(&part(i + 1)));
    }

    // The replaced part's old ETag is refused; then the right list completes it.
    let (code, err) = complete(
        &app,
        &file_id,
        json!({"upload_id": upload_id, "parts": [
            {"part_number": 1, "etag": wrong["etag"]},
            {"part_number": 2, "etag": etag_of(&part(2))},
            {"part_number": 3, "etag": etag_of(&part(3))},
        ]}),
    )
    .await;
    assert_eq!((code, err["code"].as_str()), (400, Some("invalid_part")));
    let named: Vec<Value> = (1..=3)
        .map(|n| json!({"part_number": n, "etag": etag_of(&part(n))}))
        .collect();
    let (code, file) = complete(
        &app,
        &file_id,
        json!({"upload_id": upload_id, "parts": named}),
    )
    .await;
    assert_eq!(code, 200, "{file}");
    assert_eq!(file["sha256"], sha256_hex(&csv));
    assert_eq!(file["size"], csv.len());
    assert_eq!(file["file_type"], "csv");
    // Queued; a worker woken at once may already hold it.
    let status = file["status"].as_str().unwrap();
    assert!(
        ["queued", "processing", "completed"].contains(&status),
        "{status}"
    );

    let status = app.wait_done(&file_id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, result) = app
        .get_json(&format!("/api/v1/files/{file_id}/result"))
        .await;
    assert_eq!(result["csv"]["row_count"], rows);
    let (code, _, bytes) = app
        .get_bytes(&format!("/api/v1/files/{file_id}/download"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(sha256_hex(&bytes), sha256_hex(&csv));
    // The parts are gone once assembled; the upload is no more.
    let keys = stack.stored_keys().await;
    assert!(keys.iter().all(|k| !k.contains("/upload/")), "{keys:?}");
    let (code, err) = app
        .get_json(&format!(
            "/api/v1/files/upload/{file_id}/parts?upload_id={upload_id}"
        ))
        .await;
    assert_eq!((code, err["code"].as_str()), (409, Some("upload_finished")));
}

#[tokio::test]
async fn bad_parts_sizes_and_ids_are_refused_with_their_codes() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("SERVER_MAX_UPLOAD_SIZE", "4MiB")]).await;
    let (code, err) = init(&app, json!({"filename": "big.csv", "size": 5 * MIB})).await;
    assert_eq!((code, err["code"].as_str()), (413, Some("file_too_large")));
    let (code, err) = init(&app, json!({"filename": "tool.exe", "size": 10})).await;
    assert_eq!(code, 415, "{err}");
    let (code, err) = init(
        &app,
        json!({"filename": "a.csv", "size": 10, "chunk_size": 10}),
    )
    .await;
    assert_eq!(
        (code, err["code"].as_str()),
        (400, Some("invalid_chunk_size"))
    );
    let (code, err) = init(&app, json!({"filename": "a.csv"})).await;
    assert_eq!((code, err["code"].as_str()), (400, Some("invalid_json")));

    let size = 2 * MIB + 10;
    let (code, started) = init(
        &app,
        json!({"filename": "a.csv", "size": size, "chunk_size": MIB, "auto_process": false}),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(started["total_chunks"], 3);
    let (file_id, upload_id) = ids(&started);
    // Nothing to download until the upload completes.
    let (code, _, body) = app
        .get_bytes(&format!("/api/v1/files/{file_id}/download"))
        .await;
    assert_eq!(code, 409);
    assert!(String::from_utf8_lossy(&body).contains("upload_in_progress"));
    let other = uuid::Uuid::now_v7().to_string();
    assert_eq!(put(&app, &file_id, &other, 1, vec![b'a'; MIB]).await.0, 404);
    assert_eq!(
        put(&app, &other, &upload_id, 1, vec![b'a'; MIB]).await.0,
        404
    );
    for n in [0, 4] {
        let (code, err) = put(&app, &file_id, &upload_id, n, vec![b'a'; 10]).await;
        assert_eq!(
            (code, err["code"].as_str()),
            (400, Some("invalid_chunk_number"))
        );
    }
    // Every part but the last is exactly chunk_size; the last is the rest.
    let (code, err) = put(&app, &file_id, &upload_id, 1, vec![b'a'; MIB - 1]).await;
    assert_eq!(
        (code, err["code"].as_str()),
        (400, Some("invalid_chunk_size"))
    );
    let (code, err) = put(&app, &file_id, &upload_id, 3, vec![b'a'; 11]).await;
    assert_eq!(
        (code, err["code"].as_str()),
        (400, Some("invalid_chunk_size"))
    );
    assert_eq!(
        put(&app, &file_id, &upload_id, 3, b"1\n2\n3\n4\n5\n".to_vec())
            .await
            .0,
        200
    );

    // Part 1 and 2 missing, then out of order.
    let (code, err) = complete(
        &app,
        &file_id,
        json!({"upload_id": upload_id, "parts": [{"part_number": 3, "etag": "x"}]}),
    )
    .await;
    assert_eq!(
        (code, err["code"].as_str()),
        (400, Some("invalid_part_order"))
    );
    let mut head = b"n\n".to_vec();
    head.extend(std::iter::repeat_n(b"7\n".as_slice(), MIB / 2 - 1).flatten());
    let body = b"8\n".repeat(MIB / 2);
    assert_eq!(
        put(&app, &file_id, &upload_id, 1, head.clone()).await.0,
        200
    );
    let listed = json!({"upload_id": upload_id, "parts": [
        {"part_number": 1, "etag": etag_of(&head)},
        {"part_number": 2, "etag": etag_of(&body)},
        {"part_number": 3, "etag": etag_of(b"1\n2\n3\n4\n5\n")},
    ]});
    let (code, err) = complete(&app, &file_id, listed.clone()).await;
    assert_eq!((code, err["code"].as_str()), (400, Some("invalid_part")));
    assert_eq!(
        put(&app, &file_id, &upload_id, 2, body.clone()).await.0,
        200
    );
    let (code, file) = complete(&app, &file_id, listed).await;
    assert_eq!(code, 200, "{file}");
    assert_eq!(file["status"], "pending");
    let whole = [head, body, b"1\n2\n3\n4\n5\n".to_vec()].concat();
    assert_eq!(file["sha256"], sha256_hex(&whole));
    // Completed once; the upload is over, and says so (a client whose answer was lost can tell).
    let (code, err) = complete(&app, &file_id, json!({"upload_id": upload_id, "parts": []})).await;
    assert_eq!((code, err["code"].as_str()), (409, Some("upload_finished")));
}

#[tokio::test]
async fn an_aborted_upload_leaves_nothing_behind() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (_, started) = init(
        &app,
        json!({"filename": "a.csv", "size": MIB + 1, "chunk_size": MIB}),
    )
    .await;
    let (file_id, upload_id) = ids(&started);
    assert_eq!(
        put(&app, &file_id, &upload_id, 1, vec![b'a'; MIB]).await.0,
        200
    );
    assert!(!stack.stored_keys().await.is_empty());
    let r = app
        .delete(&format!(
            "/api/v1/files/upload/{file_id}?upload_id={upload_id}"
        ))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
    let (code, _) = app.get_json(&format!("/api/v1/files/{file_id}")).await;
    assert_eq!(code, 404);
    assert_eq!(
        put(&app, &file_id, &upload_id, 2, vec![b'a'; 1]).await.0,
        404
    );
}

#[tokio::test]
async fn an_empty_file_completes_with_no_parts_and_fails_processing_as_empty() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (code, started) = init(&app, json!({"filename": "empty.csv", "size": 0})).await;
    assert_eq!(code, 201);
    assert_eq!(started["total_chunks"], 0);
    let (file_id, upload_id) = ids(&started);
    let (code, file) = complete(&app, &file_id, json!({"upload_id": upload_id, "parts": []})).await;
    assert_eq!(code, 200, "{file}");
    assert_eq!(file["size"], 0);
    assert_eq!(file["sha256"], sha256_hex(b""));
    let status = app.wait_done(&file_id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "empty_file");
}

#[tokio::test]
async fn an_upload_resumes_after_a_restart_with_the_parts_it_lists() {
    let stack = TestStack::new().await;
    let rows = 30_000;
    let csv = generated_csv(rows);
    let chunk = 256 * 1024;
    let app = TestApp::start(&stack, &[]).await;
    let (_, started) = init(
        &app,
        json!({"filename": "resumed.csv", "size": csv.len(), "chunk_size": chunk}),
    )
    .await;
    let (file_id, upload_id) = ids(&started);
    let total = csv.len().div_ceil(chunk);
    let part = |n: usize| csv[(n - 1) * chunk..(n * chunk).min(csv.len())].to_vec();
    for n in 1..=total / 2 {
        assert_eq!(
            put(&app, &file_id, &upload_id, n as i64, part(n)).await.0,
            200
        );
    }
    app.stop().await;

    let app = TestApp::start(&stack, &[]).await;
    let (code, listed) = app
        .get_json(&format!(
            "/api/v1/files/upload/{file_id}/parts?upload_id={upload_id}"
        ))
        .await;
    assert_eq!(code, 200);
    let have: Vec<i64> = listed["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part_number"].as_i64().unwrap())
        .collect();
    assert_eq!(have, (1..=(total / 2) as i64).collect::<Vec<_>>());
    for n in total / 2 + 1..=total {
        assert_eq!(
            put(&app, &file_id, &upload_id, n as i64, part(n)).await.0,
            200
        );
    }
    let named: Vec<Value> = (1..=total)
        .map(|n| json!({"part_number": n, "etag": etag_of(&part(n))}))
        .collect();
    let (code, file) = complete(
        &app,
        &file_id,
        json!({"upload_id": upload_id, "parts": named}),
    )
    .await;
    assert_eq!(code, 200, "{file}");
    assert_eq!(file["sha256"], sha256_hex(&csv));
    let status = app.wait_done(&file_id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, result) = app
        .get_json(&format!("/api/v1/files/{file_id}/result"))
        .await;
    assert_eq!(result["csv"]["row_count"], rows);
}

#[tokio::test]
async fn an_upload_whose_bytes_are_not_its_type_is_refused_at_completion_and_removed() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    let (_, started) = init(&app, json!({"filename": "table.csv", "size": png.len()})).await;
    let (file_id, upload_id) = ids(&started);
    assert_eq!(put(&app, &file_id, &upload_id, 1, png.clone()).await.0, 200);
    let (code, err) = complete(
        &app,
        &file_id,
        json!({"upload_id": upload_id, "parts": [{"part_number": 1, "etag": etag_of(&png)}]}),
    )
    .await;
    assert_eq!((code, err["code"].as_str()), (415, Some("type_mismatch")));
    assert_eq!(
        app.get_json(&format!("/api/v1/files/{file_id}")).await.0,
        404
    );
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
}
