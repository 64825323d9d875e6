//! Compression at rest over real HTTP, on the suite's stack (local files, or S3): a CSV is
//! stored as zstd frames, smaller, and every way out (download whole and by range, the zstd
//! stream itself, processing) gives the original bytes; pictures and containers are stored as
//! they came; compression and encryption together round-trip; a damaged frame is an
//! `integrity_error`, never wrong bytes. Also the compression of JSON responses.

use fileproc::blob::BlobStore;
use fileproc::blob::compress::{self, FRAME_LEN, HEADER_LEN};
use fileproc::blob::crypt::{self, MAGIC, TAG_LEN};
use serde_json::Value;
use sha2::Digest as _;

use crate::helpers::{TestApp, TestStack, broken_body, generated_csv, test_data};

/// A test key, not a secret.
const KEY: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// GET `path` with extra headers: status, headers, body.
async fn get(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("GET");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    (status, h, r.bytes().await.expect("body").to_vec())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Every way of reading `id` back gives `original`: the whole download, ranges across frame
/// boundaries and at both ends, and the stored zstd stream for a client that accepts it.
async fn assert_reads_back(app: &TestApp, id: &str, original: &[u8], stored_zstd: &[u8]) {
    let path = format!("/api/v1/files/{id}/download");
    let (status, h, body) = get(app, &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), sha256_hex(original));
    assert_eq!(
        header(&h, "content-length"),
        Some(original.len().to_string().as_str())
    );
    assert_eq!(header(&h, "content-encoding"), None);
    assert_eq!(header(&h, "vary"), Some("accept-encoding"));
    assert_eq!(
        header(&h, "etag"),
        Some(format!("\"{}\"", sha256_hex(original)).as_str())
    );

    let len = original.len();
    let ranges = [
        (0, 0),
        (FRAME_LEN - 10, FRAME_LEN + 10),
        (2 * FRAME_LEN, 2 * FRAME_LEN),
        (100_000, 3 * FRAME_LEN + 12_345),
        (len - 500, len - 1),
    ];
    for (first, last) in ranges {
        let (status, h, body) =
            get(app, &path, &[("Range", &format!("bytes={first}-{last}"))]).await;
        assert_eq!(status, 206, "{first}-{last}");
        assert_eq!(
            header(&h, "content-range"),
            Some(format!("bytes {first}-{last}/{len}").as_str())
        );
        assert_eq!(body, &original[first..=last], "{first}-{last}");
    }
    // A suffix range, and a range with zstd accepted: ranges are of the original bytes.
    let (status, h, body) = get(
        app,
        &path,
        &[("Range", "bytes=-777"), ("Accept-Encoding", "zstd")],
    )
    .await;
    assert_eq!((status, header(&h, "content-encoding")), (206, None));
    assert_eq!(body, &original[len - 777..]);

    // zstd accepted: the stored frames as they are, which any zstd decoder reads.
    let (status, h, body) = get(app, &path, &[("Accept-Encoding", "gzip, zstd")]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-encoding"), Some("zstd"));
    assert_eq!(
        header(&h, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        header(&h, "etag"),
        Some(format!("\"{}-zstd\"", sha256_hex(original)).as_str())
    );
    assert_eq!(body, stored_zstd);
    assert_eq!(
        zstd::decode_all(&body[..]).expect("a zstd stream"),
        original
    );
    // Either ETag is a match for If-None-Match.
    let etag = format!("\"{}\"", sha256_hex(original));
    let (status, h, _) = get(
        app,
        &path,
        &[("Accept-Encoding", "zstd"), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(status, 304);
    assert_eq!(
        header(&h, "etag"),
        Some(format!("\"{}-zstd\"", sha256_hex(original)).as_str())
    );
    // gzip only: the original bytes, never compressed again on the way out.
    let (status, h, body) = get(app, &path, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!((status, header(&h, "content-encoding")), (200, None));
    assert_eq!(body.len(), len);
}

#[tokio::test]
async fn a_csv_is_stored_as_zstd_frames_smaller_and_reads_back_byte_for_byte() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = generated_csv(150_000);
    assert!(csv.len() > 5 * FRAME_LEN, "{}", csv.len());
    let (id, result) = app.process("orders.csv", csv.clone()).await;
    // Processing read the original through the decoder.
    assert_eq!(result["csv"]["row_count"], 150_000);
    assert_eq!(result["sha256"], sha256_hex(&csv));

    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    let info = &file["storage_info"];
    let key = BlobStore::original_key(&id);
    let stored = stack.raw_object(&key).await;
    assert_eq!(info["size"], csv.len());
    assert_eq!(info["encoding"], "zstd");
    assert_eq!(info["compressed_size"], stored.len());
    assert!(
        stored.len() * 4 < csv.len(),
        "{} stored for {}",
        stored.len(),
        csv.len()
    );
    assert!(stored.starts_with(&compress::header()));
    // One frame per started MiB, as any zstd decoder reads them.
    assert_eq!(zstd::decode_all(&stored[..]).expect("a zstd stream"), csv);
    assert_reads_back(&app, &id, &csv, &stored).await;

    // The records came from the decoded bytes too.
    let (status, records) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=149999&limit=5"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(records["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(records["records"][0]["id"], 149_999);
    app.stop().await;
}

#[tokio::test]
async fn a_tus_upload_is_compressed_when_assembled_and_its_ranges_read_back() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = generated_csv(100_000);
    let id = app.upload_tus("tus.csv", &csv).await;
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let stored = stack.raw_object(&BlobStore::original_key(&id)).await;
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(file["storage_info"]["compressed_size"], stored.len());
    assert!(stored.len() * 4 < csv.len());
    assert_reads_back(&app, &id, &csv, &stored).await;
    app.stop().await;
}

#[tokio::test]
async fn pictures_containers_tiny_files_and_compression_off_are_stored_as_they_came() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let jpeg = test_data("jpeg/Landscape_6.jpg");
    let xlsx = test_data("xlsx/testEXCEL.xlsx");
    // Two rows: the frame, header and seek table would outweigh what zstd saves.
    let tiny = b"id,name\n1,a\n".to_vec();
    for (name, bytes) in [
        ("photo.jpg", &jpeg),
        ("book.xlsx", &xlsx),
        ("tiny.csv", &tiny),
    ] {
        let file = app.upload_pending(name, bytes.clone()).await;
        let id = file["file_id"].as_str().unwrap();
        assert_eq!(file["storage_info"].get("compressed_size"), None, "{name}");
        assert_eq!(file["storage_info"].get("encoding"), None, "{name}");
        assert_eq!(
            &stack.raw_object(&BlobStore::original_key(id)).await,
            bytes,
            "{name} is stored as it came"
        );
        let (status, h, body) = get(
            &app,
            &format!("/api/v1/files/{id}/download"),
            &[("Accept-Encoding", "zstd")],
        )
        .await;
        assert_eq!(
            (status, header(&h, "content-encoding")),
            (200, None),
            "{name}"
        );
        assert_eq!(header(&h, "vary"), None, "{name}");
        assert_eq!(&body, bytes, "{name}");
    }
    app.stop().await;

    let app = TestApp::start(&stack, &[("STORAGE_COMPRESSION", "none")]).await;
    let csv = generated_csv(20_000);
    let file = app.upload_pending("plain.csv", csv.clone()).await;
    let id = file["file_id"].as_str().unwrap();
    assert_eq!(file["storage_info"].get("compressed_size"), None);
    assert_eq!(stack.raw_object(&BlobStore::original_key(id)).await, csv);
    app.stop().await;
}

#[tokio::test]
async fn compression_then_encryption_round_trips_and_is_smaller_than_the_plaintext() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("FILEPROC_STORAGE__ENCRYPTION__KEYS__DEFAULT", KEY),
            ("STORAGE_COMPRESSION_LEVEL", "6"),
        ],
    )
    .await;
    let csv = generated_csv(120_000);
    let (id, result) = app.process("sealed.csv", csv.clone()).await;
    assert_eq!(result["csv"]["row_count"], 120_000);
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    let compressed = file["storage_info"]["compressed_size"]
        .as_u64()
        .expect("compressed_size") as usize;
    let stored = stack.raw_object(&BlobStore::original_key(&id)).await;
    // Sealed after compressing: the encryption header, then 64 KiB chunks of the zstd stream.
    assert!(stored.starts_with(&MAGIC));
    let chunks = compressed.div_ceil(64 * 1024).max(1);
    assert_eq!(
        stored.len(),
        crypt::HEADER_LEN + compressed + chunks * TAG_LEN
    );
    assert!(
        stored.len() * 4 < csv.len(),
        "{} for {}",
        stored.len(),
        csv.len()
    );
    // The zstd stream a client gets is the opened object: header first.
    let (status, h, zstd_body) = get(
        &app,
        &format!("/api/v1/files/{id}/download"),
        &[("Accept-Encoding", "zstd")],
    )
    .await;
    assert_eq!(
        (status, header(&h, "content-encoding")),
        (200, Some("zstd"))
    );
    assert_eq!(zstd_body.len(), compressed);
    assert!(zstd_body.starts_with(&compress::header()[..HEADER_LEN]));
    assert_reads_back(&app, &id, &csv, &zstd_body).await;
    app.stop().await;
}

#[tokio::test]
async fn a_damaged_frame_is_an_integrity_error_and_the_other_frames_still_read() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = generated_csv(100_000);
    let file = app.upload_pending("damaged.csv", csv.clone()).await;
    let id = file["file_id"].as_str().unwrap().to_owned();
    let key = BlobStore::original_key(&id);
    let mut stored = stack.raw_object(&key).await;
    // A byte in the middle of the last data frame (before the seek table).
    let at = stored.len() - 400;
    stored[at] ^= 0x55;
    stack.put_raw_object(&key, stored).await;

    let path = format!("/api/v1/files/{id}/download");
    let (status, _, body) = get(&app, &path, &[("Range", "bytes=0-99")]).await;
    assert_eq!((status, &body[..]), (206, &csv[..100]));
    let last = csv.len() - 1;
    let (status, _, body) = get(
        &app,
        &path,
        &[("Range", &format!("bytes={}-{last}", last - 9))],
    )
    .await;
    assert_eq!(status, 500);
    let error: Value = serde_json::from_slice(&body).expect("an error body");
    assert_eq!(error["code"], "integrity_error", "{error}");
    // A whole read breaks off before the damaged frame's bytes: never wrong bytes.
    if let Some(received) = broken_body(&app, &path).await {
        assert!(received.len() < csv.len() && csv.starts_with(&received));
    }
    // The object replaced by the plain original: the catalog says compressed, so it is refused
    // (a replaced object is never served as if it were the file).
    stack.put_raw_object(&key, csv.clone()).await;
    for headers in [
        &[][..],
        &[("Accept-Encoding", "zstd")][..],
        &[("Range", "bytes=0-9")][..],
    ] {
        let (status, _, body) = get(&app, &path, headers).await;
        let error: Value = serde_json::from_slice(&body).expect("an error body");
        assert_eq!(
            (status, &error["code"]),
            (500, &Value::from("integrity_error")),
            "{headers:?}"
        );
    }
    // Processing fails the job with the same code, not retried.
    assert_eq!(
        app.post(&format!("/api/v1/files/{id}/process"))
            .await
            .status(),
        202
    );
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "integrity_error", "{status}");
    app.stop().await;
}

#[tokio::test]
async fn json_responses_are_compressed_for_clients_that_accept_it_and_downloads_are_not() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    for i in 0..30 {
        app.upload_pending(&format!("file-{i}.csv"), generated_csv(10))
            .await;
    }
    let (status, h, gz) = get(
        &app,
        "/api/v1/files?limit=30",
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(
        (status, header(&h, "content-encoding")),
        (200, Some("gzip"))
    );
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    let list: Value = serde_json::from_slice(&plain).expect("JSON");
    assert_eq!(list["files"].as_array().map(Vec::len), Some(30));
    assert!(
        gz.len() * 3 < plain.len(),
        "{} for {}",
        gz.len(),
        plain.len()
    );

    let (status, h, z) = get(
        &app,
        "/api/v1/files?limit=30",
        &[("Accept-Encoding", "zstd")],
    )
    .await;
    assert_eq!(
        (status, header(&h, "content-encoding")),
        (200, Some("zstd"))
    );
    assert_eq!(zstd::decode_all(&z[..]).unwrap(), plain);
    // Without Accept-Encoding, identity.
    let (_, h, body) = get(&app, "/api/v1/files?limit=30", &[]).await;
    assert_eq!(header(&h, "content-encoding"), None);
    assert_eq!(body, plain);

    // A download of a file stored as it came is not gzipped on the way out.
    let jpeg = test_data("jpeg/Landscape_6.jpg");
    let file = app.upload_pending("photo.jpg", jpeg.clone()).await;
    let id = file["file_id"].as_str().unwrap();
    let (_, h, body) = get(
        &app,
        &format!("/api/v1/files/{id}/download"),
        &[("Accept-Encoding", "gzip, zstd")],
    )
    .await;
    assert_eq!(header(&h, "content-encoding"), None);
    assert_eq!(body, jpeg);
    app.stop().await;
}

/// The pixels of an encoded picture, as 16-bit RGBA (exact for every PNG colour type).
fn pixels(bytes: &[u8]) -> (u32, u32, Vec<u16>) {
    let picture = image::load_from_memory(bytes).expect("decodes");
    let rgba = picture.to_rgba16();
    (rgba.width(), rgba.height(), rgba.into_raw())
}

#[tokio::test]
async fn the_optimised_png_decodes_to_the_same_pixels_and_the_original_stays() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("FILEPROC_PROCESSING__IMAGE__OPTIMIZE", "true"),
            ("FILEPROC_PROCESSING__IMAGE__ENABLE_WEBP", "true"),
        ],
    )
    .await;
    for name in ["kodim23.png", "basn6a16.png", "tbbn3p08.png"] {
        let original = test_data(&format!("png/{name}"));
        let (id, result) = app.process(name, original.clone()).await;
        let o = &result["optimized"];
        let bytes = o["bytes"].as_u64().expect("an optimised variant") as usize;
        assert_eq!(o["original_bytes"], original.len(), "{name}");
        assert_eq!(o["saving_bytes"], original.len() - bytes, "{name}");
        assert!(bytes < original.len(), "{name}: {bytes}");
        assert_eq!(
            (o["format"].as_str(), o["lossless"].as_bool()),
            (Some("png"), Some(true))
        );
        assert_eq!(o["metadata_stripped"], false);
        let (status, content_type, variant) = app
            .get_bytes(&format!("/api/v1/files/{id}/optimized"))
            .await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/png"),
            "{name}"
        );
        assert_eq!(variant.len(), bytes);
        assert_eq!(
            pixels(&variant),
            pixels(&original),
            "{name}: the pixels changed"
        );
        assert_eq!((o["width"].as_u64(), o["height"].as_u64()), {
            let (w, h, _) = pixels(&original);
            (Some(u64::from(w)), Some(u64::from(h)))
        });
        // The WebP conversion beside it, served the same way.
        let (status, content_type, webp) = app
            .get_bytes(&format!("/api/v1/files/{id}/converted"))
            .await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/webp"),
            "{name}"
        );
        assert_eq!(
            webp.len() as u64,
            result["converted"]["bytes"].as_u64().unwrap()
        );
        // The original is never replaced.
        let (_, _, download) = app.get_bytes(&format!("/api/v1/files/{id}/download")).await;
        assert_eq!(download, original, "{name}");
    }
    // A JPEG is not optimised without stripping; with optimisation off there is no variant.
    let (id, result) = app
        .process("photo.jpg", test_data("jpeg/Landscape_6.jpg"))
        .await;
    assert_eq!(result.get("optimized"), None);
    let (status, _) = app.get_json(&format!("/api/v1/files/{id}/optimized")).await;
    assert_eq!(status, 404);
    app.stop().await;

    let app = TestApp::start(&stack, &[]).await;
    let (id, result) = app.process("plain.png", test_data("png/kodim23.png")).await;
    assert_eq!(result.get("optimized"), None, "off by default");
    assert_eq!(
        app.get_json(&format!("/api/v1/files/{id}/optimized"))
            .await
            .0,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn stripping_metadata_keeps_the_image_data_and_the_orientation() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("FILEPROC_PROCESSING__IMAGE__OPTIMIZE", "true"),
            ("FILEPROC_PROCESSING__IMAGE__STRIP_METADATA", "true"),
        ],
    )
    .await;
    // A camera JPEG (make, model, dates; no orientation): no EXIF left, same pixels.
    let original = test_data("jpeg/testJPEG_EXIF.jpg");
    let (id, result) = app.process("camera.jpg", original.clone()).await;
    assert!(
        result["jpeg"]["exif"]["make"].is_string(),
        "{}",
        result["jpeg"]["exif"]
    );
    let o = &result["optimized"];
    assert_eq!(
        (o["format"].as_str(), o["metadata_stripped"].as_bool()),
        (Some("jpeg"), Some(true))
    );
    let (status, content_type, variant) = app
        .get_bytes(&format!("/api/v1/files/{id}/optimized"))
        .await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    assert!(variant.len() < original.len());
    assert_eq!(pixels(&variant), pixels(&original));
    // Processed again, the variant has no EXIF at all, and the same dimensions.
    let (_, again) = app.process("stripped.jpg", variant).await;
    assert!(again["jpeg"]["exif"].is_null(), "{}", again["jpeg"]);
    assert_eq!(
        (
            again["jpeg"]["width"].as_u64(),
            again["jpeg"]["height"].as_u64()
        ),
        (
            result["jpeg"]["width"].as_u64(),
            result["jpeg"]["height"].as_u64()
        )
    );
    // A photo turned by its EXIF orientation (6): the variant keeps only the orientation, so
    // it still shows upright, with the same pixels.
    let original = test_data("jpeg/Landscape_6.jpg");
    let (id, result) = app.process("turned.jpg", original.clone()).await;
    assert_eq!(result["jpeg"]["exif"]["orientation"], 6);
    let (status, _, variant) = app
        .get_bytes(&format!("/api/v1/files/{id}/optimized"))
        .await;
    assert_eq!(status, 200, "{}", result["optimized"]);
    assert!(variant.len() < original.len());
    assert_eq!(pixels(&variant), pixels(&original));
    let (_, again) = app.process("turned-stripped.jpg", variant).await;
    let exif = &again["jpeg"]["exif"];
    assert_eq!(exif["orientation"], 6, "{exif}");
    assert!(
        exif["make"].is_null() && exif["datetime_original"].is_null(),
        "{exif}"
    );
    assert_eq!(
        (
            again["jpeg"]["display_width"].as_u64(),
            again["jpeg"]["display_height"].as_u64()
        ),
        (Some(1800), Some(1200))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_whole_download_that_does_not_match_the_files_digest_breaks_off() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    // Stored as it came (a JPEG): a byte changed in the middle changes no length or header.
    let jpeg = test_data("jpeg/Landscape_6.jpg");
    let file = app.upload_pending("photo.jpg", jpeg.clone()).await;
    let id = file["file_id"].as_str().unwrap();
    let key = BlobStore::original_key(id);
    let path = format!("/api/v1/files/{id}/download");
    let (_, _, intact) = get(&app, &path, &[]).await;
    assert_eq!(intact, jpeg, "an intact file goes out whole");
    let mut altered = jpeg.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x01;
    stack.put_raw_object(&key, altered).await;
    // The status may go out before the digest is known: the response then breaks off (before
    // or after its head reached the client), never with the last bytes.
    if let Some(received) = broken_body(&app, &path).await {
        assert!(received.len() < jpeg.len(), "the last bytes were held back");
    }
    app.stop().await;
}
