//! Encryption at rest over real HTTP: what is stored is ciphertext, what is served is the
//! original byte for byte (whole, by range, as records), through every kind of upload; objects
//! stored before encryption was on still read; a damaged chunk is an `integrity_error`, never
//! wrong bytes.

use fileproc::blob::BlobStore;
use fileproc::blob::crypt::{HEADER_LEN, MAGIC, TAG_LEN};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::HashSet;

use crate::helpers::{TestApp, TestStack, broken_body, generated_csv, test_data};

/// A test key, not a secret.
const KEY: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
const OTHER_KEY: &str = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=";
/// Encryption on, with the default 64 KiB chunks; compression off, so that the sealed layout of
/// the original bytes can be checked here (compression and encryption together are tested in
/// `compression.rs`).
const ENCRYPTED: &[(&str, &str)] = &[
    ("FILEPROC_STORAGE__ENCRYPTION__KEYS__DEFAULT", KEY),
    ("STORAGE_COMPRESSION", "none"),
];
const CHUNK: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `stored` starts with the header and holds no 16-byte run of `plain`.
fn assert_ciphertext_of(stored: &[u8], plain: &[u8]) {
    assert!(stored.starts_with(&MAGIC), "no encryption header");
    let runs: HashSet<&[u8]> = stored.windows(16).collect();
    assert!(
        !plain.windows(16).any(|w| runs.contains(w)),
        "plaintext shows in the stored object"
    );
}

/// The stored size of `len` plaintext bytes in chunks of `chunk` bytes.
fn sealed_len(len: usize, chunk: usize) -> usize {
    HEADER_LEN + len + len.div_ceil(chunk).max(1) * TAG_LEN
}

/// GET with a `Range` header: status, `Content-Range`, body.
async fn get_range(app: &TestApp, path: &str, range: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = app
        .client
        .get(app.url(path))
        .header("Range", range)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    let content_range = r
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        content_range,
        r.bytes().await.expect("body").to_vec(),
    )
}

/// Upload without processing; the file id.
async fn upload_pending(app: &TestApp, name: &str, bytes: Vec<u8>) -> String {
    let file = app.upload_pending(name, bytes).await;
    file["file_id"].as_str().expect("file_id").to_owned()
}

#[tokio::test]
async fn a_csv_stored_encrypted_is_ciphertext_at_rest_and_reads_back_byte_for_byte() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, ENCRYPTED).await;
    let rows = 8000;
    let csv = generated_csv(rows);
    assert!(csv.len() > 5 * CHUNK, "{}", csv.len());
    let (id, result) = app.process("orders.csv", csv.clone()).await;
    assert_eq!(result["csv"]["row_count"], rows);
    assert_eq!(result["size"], csv.len());

    let original = stack.raw_object(&BlobStore::original_key(&id)).await;
    assert_eq!(original.len(), sealed_len(csv.len(), CHUNK));
    assert_ciphertext_of(&original, &csv);
    let keys = stack.stored_keys().await;
    let records = BlobStore::records_key(&id);
    assert!(keys.contains(&records), "{keys:?}");
    for key in keys.iter().filter(|k| k.contains(&id)) {
        assert!(stack.raw_object(key).await.starts_with(&MAGIC), "{key}");
    }

    let download = format!("/api/v1/files/{id}/download");
    let (code, _, body) = app.get_bytes(&download).await;
    assert_eq!(code, 200);
    assert_eq!(sha256_hex(&body), sha256_hex(&csv));
    let len = csv.len();
    let ranges = [
        (0, 100),
        (CHUNK - 6, CHUNK + 10), // across a chunk boundary
        (CHUNK, 2 * CHUNK),      // exactly one chunk
        (3 * CHUNK - 1, 3 * CHUNK),
        (len - 70_000, len), // over the last chunk boundary to the end
        (len - 1, len),
    ];
    for (start, end) in ranges {
        let header = format!("bytes={start}-{}", end - 1);
        let (code, content_range, body) = get_range(&app, &download, &header).await;
        assert_eq!(code, 206, "{header}");
        assert_eq!(
            content_range,
            Some(format!("bytes {start}-{}/{len}", end - 1))
        );
        assert!(body == csv[start..end], "{header}");
    }
    let (code, _, body) = get_range(&app, &download, "bytes=-10").await;
    assert_eq!((code, body.as_slice()), (206, &csv[len - 10..]));

    // Records are paged with ranged reads of the sealed records object.
    let (code, page) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=5000&limit=3"))
        .await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["records"][0]["id"], json!(5000));
    assert_eq!(page["records"][2]["label"], json!("item number 5002"));
    let (_, last) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=7998&limit=10"))
        .await;
    assert_eq!(last["records"].as_array().map(Vec::len), Some(2));
    assert_eq!(last["records"][1]["id"], json!(7999));

    // A picture: its thumbnail is sealed too, and served whole with its plaintext length.
    let (id, result) = app
        .process("photo.jpg", test_data("jpeg/Landscape_6.jpg"))
        .await;
    assert_eq!(result["thumbnails"][0]["size"], 256, "{result}");
    let thumbnail = BlobStore::thumbnail_key(&id, 256, fileproc_formats::ImageFormat::Jpeg);
    assert!(stack.raw_object(&thumbnail).await.starts_with(&MAGIC));
    let r = app
        .client
        .get(app.url(&format!("/api/v1/files/{id}/thumbnail?size=256")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(
        (body.len(), result["thumbnails"][0]["bytes"].as_u64()),
        (length, Some(length as u64))
    );
    let picture = image::load_from_memory(&body).expect("a JPEG");
    assert_eq!((picture.width(), picture.height()), (256, 171));
    app.stop().await;
}

#[tokio::test]
async fn chunked_and_tus_uploads_are_sealed_piece_by_piece_and_round_trip() {
    let stack = TestStack::new().await;
    // Small chunks: many chunk boundaries inside each upload piece.
    let settings = [
        ("STORAGE_ENCRYPTION_KEY", KEY),
        ("FILEPROC_STORAGE__ENCRYPTION__CHUNK_SIZE", "4KiB"),
        ("STORAGE_COMPRESSION", "none"),
    ];
    let app = TestApp::start(&stack, &settings).await;
    let rows = 50_000;
    let csv = generated_csv(rows);
    assert!(csv.len() > 2 * MIB && csv.len() < 3 * MIB, "{}", csv.len());

    // Chunked: three parts, the last sent first.
    let init = app
        .client
        .post(app.url("/api/v1/files/upload/init"))
        .json(&json!({"filename": "chunked.csv", "size": csv.len(), "chunk_size": MIB}))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 201);
    let init: Value = init.json().await.unwrap();
    let (file_id, upload_id) = (
        init["file_id"].as_str().unwrap().to_owned(),
        init["upload_id"].as_str().unwrap().to_owned(),
    );
    let mut parts = Vec::new();
    for (n, piece) in csv.chunks(MIB).enumerate().rev() {
        let r = app
            .client
            .put(app.url(&format!(
                "/api/v1/files/upload/{file_id}/chunk?upload_id={upload_id}&chunk_number={}",
                n + 1
            )))
            .body(piece.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let part: Value = r.json().await.unwrap();
        parts.push(json!({"part_number": n + 1, "etag": part["etag"]}));
    }
    let pieces: Vec<String> = stack
        .stored_keys()
        .await
        .into_iter()
        .filter(|k| k.contains(&file_id) && k.contains("/upload/"))
        .collect();
    assert_eq!(pieces.len(), 3, "{pieces:?}");
    for key in &pieces {
        assert_ciphertext_of(&stack.raw_object(key).await, &csv[..MIB]);
    }
    parts.reverse();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/files/upload/{file_id}/complete")))
        .json(&json!({"upload_id": upload_id, "parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_round_trip(&stack, &app, &file_id, &csv, rows, 4096).await;

    // tus: two PATCHes.
    let r = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", csv.len().to_string())
        .header("Upload-Metadata", "filename dHVzLmNzdg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let url = app.url(r.headers()["location"].to_str().unwrap());
    let file_id = url.rsplit('/').next().unwrap().to_owned();
    let split = MIB + 12_345;
    for (offset, piece) in [(0, &csv[..split]), (split, &csv[split..])] {
        let r = app
            .client
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(piece.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    assert_round_trip(&stack, &app, &file_id, &csv, rows, 4096).await;
    app.stop().await;
}

/// The file completed with `rows` rows, is stored sealed in chunks of `chunk` bytes, and
/// downloads as `csv`.
async fn assert_round_trip(
    stack: &TestStack,
    app: &TestApp,
    id: &str,
    csv: &[u8],
    rows: usize,
    chunk: usize,
) {
    let status = app.wait_done(id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, result) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!(result["csv"]["row_count"], rows);
    assert_eq!(result["sha256"], sha256_hex(csv));
    let stored = stack.raw_object(&BlobStore::original_key(id)).await;
    assert_eq!(stored.len(), sealed_len(csv.len(), chunk));
    assert_ciphertext_of(&stored, csv);
    let (code, _, body) = app.get_bytes(&format!("/api/v1/files/{id}/download")).await;
    assert_eq!(code, 200);
    assert_eq!(sha256_hex(&body), sha256_hex(csv));
}

#[tokio::test]
async fn a_damaged_chunk_fails_downloads_and_processing_with_integrity_error() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, ENCRYPTED).await;
    let csv = generated_csv(8000);
    let id = upload_pending(&app, "damaged.csv", csv.clone()).await;
    let key = BlobStore::original_key(&id);
    let stored = stack.raw_object(&key).await;
    let download = format!("/api/v1/files/{id}/download");

    // Chunk 3 altered: what comes before it still reads; it and the whole file do not.
    let chunk_at = |i: usize| HEADER_LEN + i * (CHUNK + TAG_LEN);
    let mut damaged = stored.clone();
    damaged[chunk_at(3) + 100] ^= 0x20;
    stack.put_raw_object(&key, damaged).await;
    let (code, _, body) = get_range(&app, &download, "bytes=0-999").await;
    assert_eq!((code, body.as_slice()), (206, &csv[..1000]));
    let range = format!("bytes={}-{}", 3 * CHUNK + 5, 3 * CHUNK + 10);
    let (code, _, body) = get_range(&app, &download, &range).await;
    let error: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(code, 500, "{error}");
    assert_eq!(error["code"], "integrity_error");
    assert!(
        error["error"].as_str().unwrap().contains("chunk 3"),
        "{error}"
    );
    // The whole file: the status goes out once chunk 0 opens, so the response breaks off
    // (before or after its head reached the client) and never carries a byte that did not open.
    if let Some(received) = broken_body(&app, &download).await {
        assert!(received.len() <= 3 * CHUNK && csv.starts_with(&received));
    }

    // Processing fails at once, not retried, with the code.
    assert_eq!(
        app.post(&format!("/api/v1/files/{id}/process"))
            .await
            .status(),
        202
    );
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "integrity_error", "{status}");

    // Chunk 0 altered: the download is refused before any byte, with the code.
    let mut damaged = stored.clone();
    damaged[chunk_at(0) + 1] ^= 0x01;
    stack.put_raw_object(&key, damaged).await;
    let (code, error) = app.get_json(&download).await;
    assert_eq!(
        (code, &error["code"]),
        (500, &json!("integrity_error")),
        "{error}"
    );
    // The last chunk dropped: a truncation, caught at the new last chunk.
    let last = csv.len() % CHUNK + TAG_LEN;
    stack
        .put_raw_object(&key, stored[..stored.len() - last].to_vec())
        .await;
    let (code, _, _) = get_range(&app, &download, "bytes=0-9").await;
    assert_eq!(code, 206, "chunk 0 is intact");
    let last_full = csv.len() / CHUNK - 1;
    let range = format!("bytes={}-{}", last_full * CHUNK, last_full * CHUNK + 1);
    let (code, _, body) = get_range(&app, &download, &range).await;
    assert_eq!(code, 500, "{}", String::from_utf8_lossy(&body));
    app.stop().await;
}

#[tokio::test]
async fn objects_stored_before_encryption_or_under_an_older_key_still_read() {
    let stack = TestStack::new().await;
    let plain_csv = generated_csv(3000);
    let app = TestApp::start(&stack, &[("STORAGE_COMPRESSION", "none")]).await;
    let (plain_id, _) = app.process("before.csv", plain_csv.clone()).await;
    app.stop().await;
    let stored = stack.raw_object(&BlobStore::original_key(&plain_id)).await;
    assert_eq!(stored, plain_csv, "stored as it was, without encryption");

    // Encryption on with key v1: the old file still reads and processes; new ones are sealed.
    let v1 = [
        ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V1", KEY),
        ("STORAGE_ENCRYPTION_KEY_ID", "v1"),
    ];
    let app = TestApp::start(&stack, &v1).await;
    let v1_csv = generated_csv(4000);
    let (v1_id, _) = app.process("v1.csv", v1_csv.clone()).await;
    assert_ciphertext_of(
        &stack.raw_object(&BlobStore::original_key(&v1_id)).await,
        &v1_csv,
    );
    let download = format!("/api/v1/files/{plain_id}/download");
    let (code, _, body) = app.get_bytes(&download).await;
    assert_eq!((code, sha256_hex(&body)), (200, sha256_hex(&plain_csv)));
    let (code, _, body) = get_range(&app, &download, "bytes=100-199").await;
    assert_eq!((code, body.as_slice()), (206, &plain_csv[100..200]));
    assert_eq!(
        app.post(&format!("/api/v1/files/{plain_id}/process"))
            .await
            .status(),
        202
    );
    let status = app.wait_done(&plain_id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (code, page) = app
        .get_json(&format!(
            "/api/v1/files/{plain_id}/records?offset=2500&limit=1"
        ))
        .await;
    assert_eq!(
        (code, &page["records"][0]["id"]),
        (200, &json!(2500)),
        "{page}"
    );
    app.stop().await;

    // Rotated to v2, v1 kept: all three read; the new file names v2 in its header.
    let rotated = [
        ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V1", KEY),
        ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V2", OTHER_KEY),
        ("STORAGE_ENCRYPTION_KEY_ID", "v2"),
    ];
    let app = TestApp::start(&stack, &rotated).await;
    let v2_csv = generated_csv(1000);
    let v2_id = upload_pending(&app, "v2.csv", v2_csv.clone()).await;
    let v2_stored = stack.raw_object(&BlobStore::original_key(&v2_id)).await;
    assert_eq!(&v2_stored[9..12], b"\x02v2", "key id length and key id");
    for (id, csv) in [
        (&plain_id, &plain_csv),
        (&v1_id, &v1_csv),
        (&v2_id, &v2_csv),
    ] {
        let (code, _, body) = app.get_bytes(&format!("/api/v1/files/{id}/download")).await;
        assert_eq!((code, sha256_hex(&body)), (200, sha256_hex(csv)), "{id}");
    }
    app.stop().await;

    // v1 removed: its file is refused with key_unavailable, never served as ciphertext.
    let app = TestApp::start(
        &stack,
        &[
            ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V2", OTHER_KEY),
            ("STORAGE_ENCRYPTION_KEY_ID", "v2"),
        ],
    )
    .await;
    let (code, error) = app
        .get_json(&format!("/api/v1/files/{v1_id}/download"))
        .await;
    assert_eq!(
        (code, &error["code"]),
        (500, &json!("key_unavailable")),
        "{error}"
    );
    app.stop().await;
}
