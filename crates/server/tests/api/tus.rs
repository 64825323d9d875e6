//! tus 1.0.0 over real HTTP (<https://tus.io/protocols/resumable-upload>): discovery, creation
//! (also deferred and with upload), PATCHes with checksums, the errors the protocol names (409,
//! 412, 413, 415, 460), termination, expiry, concurrent PATCHes, a body cut off, and a resume
//! after a restart.

use base64::Engine;
use md5::Digest as _;
use std::time::Duration;

use crate::helpers::{TestApp, TestStack, generated_csv};

const MIB: usize = 1024 * 1024;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// POST a creation; the response.
async fn create(app: &TestApp, headers: &[(&str, String)]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap()
}

/// Create an upload of `length` bytes named `filename`; its URL.
async fn create_upload(app: &TestApp, filename: &str, length: usize) -> String {
    let r = create(
        app,
        &[
            ("Upload-Length", length.to_string()),
            (
                "Upload-Metadata",
                format!("filename {},source dGVzdA==", b64(filename.as_bytes())),
            ),
        ],
    )
    .await;
    assert_eq!(r.status(), 201);
    let location = header(&r, "location").expect("Location");
    assert!(location.starts_with("/api/v1/tus/"), "{location}");
    app.url(&location)
}

async fn patch(
    app: &TestApp,
    url: &str,
    offset: usize,
    bytes: Vec<u8>,
    extra: &[(&str, String)],
) -> reqwest::Response {
    let mut req = app
        .client
        .patch(url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string());
    for (k, v) in extra {
        req = req.header(*k, v);
    }
    req.body(bytes).send().await.unwrap()
}

async fn head(app: &TestApp, url: &str) -> reqwest::Response {
    app.client
        .head(url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap()
}

async fn offset_of(app: &TestApp, url: &str) -> u64 {
    let r = head(app, url).await;
    assert_eq!(r.status(), 200);
    header(&r, "upload-offset").unwrap().parse().unwrap()
}

fn file_id_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn options_advertises_the_version_extensions_limit_and_checksums() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("SERVER_MAX_UPLOAD_SIZE", "1GiB")]).await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/tus/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "tus-resumable").as_deref(), Some("1.0.0"));
    assert_eq!(header(&r, "tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(header(&r, "tus-max-size").as_deref(), Some("1073741824"));
    assert_eq!(
        header(&r, "tus-checksum-algorithm").as_deref(),
        Some("sha1,md5,sha256")
    );
    let extensions = header(&r, "tus-extension").unwrap();
    for ext in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "checksum",
        "expiration",
    ] {
        assert!(
            extensions.split(',').any(|e| e == ext),
            "{ext} in {extensions}"
        );
    }
    // Any other request must speak 1.0.0.
    let r = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(header(&r, "tus-version").as_deref(), Some("1.0.0"));
}

#[tokio::test]
async fn an_upload_in_several_patches_with_checksums_is_assembled_and_processed() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let rows = 70_000;
    let csv = generated_csv(rows);
    let url = create_upload(&app, "tus.csv", csv.len()).await;
    let file_id = file_id_of(&url);
    let r = head(&app, &url).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
    assert_eq!(header(&r, "upload-length"), Some(csv.len().to_string()));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    assert!(header(&r, "upload-expires").unwrap().ends_with(" GMT"));
    assert!(
        header(&r, "upload-metadata")
            .unwrap()
            .starts_with("filename ")
    );
    let (_, file) = app.get_json(&format!("/api/v1/files/{file_id}")).await;
    assert_eq!(file["status"], "uploading");
    assert_eq!(file["metadata"]["source"], "test");

    let mut offset = 0;
    for (i, piece) in csv.chunks(MIB).enumerate() {
        let checksum = match i % 3 {
            0 => format!("sha1 {}", b64(&sha1::Sha1::digest(piece))),
            1 => format!("md5 {}", b64(&md5::Md5::digest(piece))),
            _ => format!("sha256 {}", b64(&sha2::Sha256::digest(piece))),
        };
        let r = patch(
            &app,
            &url,
            offset,
            piece.to_vec(),
            &[("Upload-Checksum", checksum)],
        )
        .await;
        assert_eq!(r.status(), 204, "PATCH {i}");
        offset += piece.len();
        assert_eq!(header(&r, "upload-offset"), Some(offset.to_string()));
        assert!(header(&r, "upload-expires").is_some());
        if offset < csv.len() {
            assert_eq!(offset_of(&app, &url).await, offset as u64);
        }
    }
    let status = app.wait_done(&file_id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, file) = app.get_json(&format!("/api/v1/files/{file_id}")).await;
    assert_eq!(file["sha256"], sha256_hex(&csv));
    assert_eq!(file["filename"], "tus.csv");
    let (_, result) = app
        .get_json(&format!("/api/v1/files/{file_id}/result"))
        .await;
    assert_eq!(result["csv"]["row_count"], rows);
    let (_, _, bytes) = app
        .get_bytes(&format!("/api/v1/files/{file_id}/download"))
        .await;
    assert_eq!(sha256_hex(&bytes), sha256_hex(&csv));
    // HEAD on the finished upload still answers, for clients resuming a finished upload.
    assert_eq!(offset_of(&app, &url).await, csv.len() as u64);
    let keys = stack.stored_keys().await;
    assert!(keys.iter().all(|k| !k.contains("/upload/")), "{keys:?}");
}

#[tokio::test]
async fn wrong_checksum_offset_content_type_and_length_are_refused() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let data = b"a,b\n1,2\n3,4\n".to_vec();
    let url = create_upload(&app, "t.csv", data.len()).await;

    let wrong = format!("sha256 {}", b64(&sha2::Sha256::digest(b"other")));
    let r = patch(&app, &url, 0, data.clone(), &[("Upload-Checksum", wrong)]).await;
    assert_eq!(r.status().as_u16(), 460);
    assert_eq!(
        offset_of(&app, &url).await,
        0,
        "a failed checksum keeps nothing"
    );
    let r = patch(
        &app,
        &url,
        0,
        data.clone(),
        &[("Upload-Checksum", "crc32 AAAA".into())],
    )
    .await;
    assert_eq!(r.status(), 400);

    let r = patch(&app, &url, 0, data[..4].to_vec(), &[]).await;
    assert_eq!(r.status(), 204);
    let r = patch(&app, &url, 0, data[..4].to_vec(), &[]).await;
    assert_eq!(r.status(), 409, "offset 0 is behind the upload's 4");
    let r = patch(&app, &url, 9, data[4..].to_vec(), &[]).await;
    assert_eq!(r.status(), 409);
    let r = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/octet-stream")
        .header("Upload-Offset", "4")
        .body(data[4..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = patch(&app, &url, 4, [&data[4..], b"extra"].concat(), &[]).await;
    assert_eq!(r.status(), 413, "past Upload-Length");
    assert_eq!(offset_of(&app, &url).await, 4);
    let r = patch(&app, &url, 4, data[4..].to_vec(), &[]).await;
    assert_eq!(r.status(), 204);
    let status = app.wait_done(&file_id_of(&url)).await;
    assert_eq!(status["status"], "completed", "{status}");

    let r = create(&app, &[("Upload-Length", "10".to_owned())]).await;
    assert_eq!(r.status(), 400, "no filename in Upload-Metadata");
    let r = create(
        &app,
        &[
            ("Upload-Length", "10".into()),
            ("Upload-Metadata", format!("filename {}", b64(b"run.exe"))),
        ],
    )
    .await;
    assert_eq!(r.status(), 415);
    let r = create(
        &app,
        &[
            ("Upload-Length", (200 * MIB).to_string()),
            ("Upload-Metadata", format!("filename {}", b64(b"big.csv"))),
        ],
    )
    .await;
    assert_eq!(r.status(), 413, "over the default 100 MiB limit");
}

#[tokio::test]
async fn a_deferred_length_is_held_to_the_size_limit_and_set_by_a_later_patch() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("SERVER_MAX_UPLOAD_SIZE", "1MiB")]).await;
    let r = create(
        &app,
        &[
            ("Upload-Defer-Length", "1".into()),
            (
                "Upload-Metadata",
                format!("filename {}", b64(b"deferred.csv")),
            ),
        ],
    )
    .await;
    assert_eq!(r.status(), 201);
    let url = app.url(&header(&r, "location").unwrap());
    let r = head(&app, &url).await;
    assert_eq!(header(&r, "upload-defer-length").as_deref(), Some("1"));
    assert_eq!(header(&r, "upload-length"), None);

    let csv = generated_csv(30_000);
    assert!(csv.len() > MIB);
    let first = 600 * 1024;
    assert_eq!(
        patch(&app, &url, 0, csv[..first].to_vec(), &[])
            .await
            .status(),
        204
    );
    let r = patch(&app, &url, first, csv[first..].to_vec(), &[]).await;
    assert_eq!(r.status(), 413, "past the 1 MiB limit");
    assert_eq!(offset_of(&app, &url).await, first as u64);
    let r = patch(
        &app,
        &url,
        first,
        Vec::new(),
        &[("Upload-Length", csv.len().to_string())],
    )
    .await;
    assert_eq!(r.status(), 413, "a length over the limit");

    // Cut the file at a line end under the limit and declare that length with the last bytes.
    let end = csv[..MIB].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let r = patch(
        &app,
        &url,
        first,
        csv[first..end].to_vec(),
        &[("Upload-Length", end.to_string())],
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-length"), Some(end.to_string()));
    let id = file_id_of(&url);
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(file["sha256"], sha256_hex(&csv[..end]));
}

#[tokio::test]
async fn zero_length_creation_with_upload_and_termination() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    // Zero length: complete at creation, an empty file that fails processing as such.
    let url = create_upload(&app, "empty.csv", 0).await;
    let status = app.wait_done(&file_id_of(&url)).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "empty_file");

    // creation-with-upload: the POST body is the first PATCH.
    let data = b"x,y\n1,2\n".to_vec();
    let r = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", data.len().to_string())
        .header("Upload-Metadata", format!("filename {}", b64(b"with.csv")))
        .header("Content-Type", "application/offset+octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "upload-offset"), Some(data.len().to_string()));
    let url = app.url(&header(&r, "location").unwrap());
    let status = app.wait_done(&file_id_of(&url)).await;
    assert_eq!(status["status"], "completed", "{status}");

    // Termination removes the upload and its bytes.
    let url = create_upload(&app, "gone.csv", 100).await;
    assert_eq!(
        patch(&app, &url, 0, vec![b'1'; 50], &[]).await.status(),
        204
    );
    let r = app
        .client
        .delete(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(head(&app, &url).await.status(), 404);
    assert_eq!(
        patch(&app, &url, 50, vec![b'1'; 50], &[]).await.status(),
        404
    );
    let keys = stack.stored_keys().await;
    let id = file_id_of(&url);
    assert!(keys.iter().all(|k| !k.contains(&id)), "{keys:?}");
}

#[tokio::test]
async fn abandoned_uploads_expire_and_their_parts_are_removed() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("UPLOAD_EXPIRY", "1s"),
            ("FILEPROC_STORAGE__UPLOAD_CLEANUP_INTERVAL", "200ms"),
        ],
    )
    .await;
    let url = create_upload(&app, "abandoned.csv", 100).await;
    assert_eq!(
        patch(&app, &url, 0, vec![b'1'; 40], &[]).await.status(),
        204
    );
    let id = file_id_of(&url);
    assert!(stack.stored_keys().await.iter().any(|k| k.contains(&id)));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let gone = app.get_json(&format!("/api/v1/files/{id}")).await.0 == 404;
        if gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(head(&app, &url).await.status(), 404);
    let keys = stack.stored_keys().await;
    assert!(keys.iter().all(|k| !k.contains(&id)), "{keys:?}");
}

#[tokio::test]
async fn an_upload_resumes_at_the_offset_head_reports_after_a_restart() {
    let stack = TestStack::new().await;
    let csv = generated_csv(40_000);
    let half = csv.len() / 2;
    let app = TestApp::start(&stack, &[]).await;
    let url = create_upload(&app, "restart.csv", csv.len()).await;
    let path = url.trim_start_matches(&app.base).to_owned();
    assert_eq!(
        patch(&app, &url, 0, csv[..half].to_vec(), &[])
            .await
            .status(),
        204
    );
    app.stop().await;

    let app = TestApp::start(&stack, &[]).await;
    let url = app.url(&path);
    let offset = offset_of(&app, &url).await as usize;
    assert_eq!(offset, half);
    assert_eq!(
        patch(&app, &url, offset, csv[offset..].to_vec(), &[])
            .await
            .status(),
        204
    );
    let status = app.wait_done(&file_id_of(&url)).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, file) = app
        .get_json(&format!("/api/v1/files/{}", file_id_of(&url)))
        .await;
    assert_eq!(file["sha256"], sha256_hex(&csv));
}

/// A body that sends `bytes` in pieces, pausing between them, then fails (or ends).
fn slow_body(bytes: Vec<u8>, piece: usize, pause: Duration, fail: bool) -> reqwest::Body {
    let pieces: Vec<Vec<u8>> = bytes.chunks(piece).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>))
        .then(move |p| async move {
            tokio::time::sleep(pause).await;
            p
        })
        .chain(futures::stream::iter(
            fail.then(|| Err(std::io::Error::other("the client went away"))),
        ));
    reqwest::Body::wrap_stream(stream)
}

use futures::StreamExt as _;

#[tokio::test]
async fn a_patch_cut_off_keeps_what_arrived_and_the_client_resumes_from_there() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = generated_csv(20_000);
    let url = create_upload(&app, "cut.csv", csv.len()).await;
    let sent = 300 * 1024;
    let r = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(slow_body(
            csv[..sent].to_vec(),
            64 * 1024,
            Duration::from_millis(50),
            true,
        ))
        .send()
        .await;
    assert!(r.is_err(), "the body failed, so the request did");
    // The server notices the broken body and commits what arrived.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let offset = loop {
        let offset = offset_of(&app, &url).await as usize;
        if offset > 0 {
            break offset;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing of the cut body was kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(offset <= sent, "{offset} > {sent}");
    assert_eq!(
        patch(&app, &url, offset, csv[offset..].to_vec(), &[])
            .await
            .status(),
        204
    );
    let id = file_id_of(&url);
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(file["sha256"], sha256_hex(&csv));
}

#[tokio::test]
async fn of_two_concurrent_patches_one_wins_and_only_its_bytes_are_stored() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let winner = generated_csv(5_000);
    let mut loser = winner.clone();
    loser[10] = b'9';
    let url = create_upload(&app, "race.csv", winner.len()).await;
    let slow = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(slow_body(
            winner.clone(),
            32 * 1024,
            Duration::from_millis(100),
            false,
        ))
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = patch(&app, &url, 0, loser, &[]).await;
    assert!(
        r.status() == 409 || r.status() == 423,
        "the second PATCH got {}",
        r.status()
    );
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), 204);
    let id = file_id_of(&url);
    let status = app.wait_done(&id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let (_, _, bytes) = app.get_bytes(&format!("/api/v1/files/{id}/download")).await;
    assert_eq!(sha256_hex(&bytes), sha256_hex(&winner));
}

#[tokio::test]
async fn protocol_edges_method_override_strict_numbers_and_no_removal_under_a_patch() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let data = generated_csv(3_000);
    let url = create_upload(&app, "edges.csv", data.len()).await;

    // Numbers are digits only.
    let r = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "+0")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = create(&app, &[("Upload-Length", "+10".into())]).await;
    assert_eq!(r.status(), 400);
    // What is not supported is said, not ignored.
    let r = create(
        &app,
        &[
            ("Upload-Length", "10".into()),
            ("Upload-Concat", "partial".into()),
            ("Upload-Metadata", format!("filename {}", b64(b"c.csv"))),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let long = format!("filename {},note {}", b64(b"l.csv"), b64(&[b'x'; 4000]));
    let r = create(
        &app,
        &[("Upload-Length", "10".into()), ("Upload-Metadata", long)],
    )
    .await;
    assert_eq!(r.status(), 400, "Upload-Metadata over 4 KiB");
    let r = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "4")
        .header("Upload-Metadata", format!("filename {}", b64(b"w.csv")))
        .header("Content-Type", "text/plain")
        .body("a,b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        415,
        "a body that is not application/offset+octet-stream"
    );

    // A termination while a PATCH streams waits for it: 409, and the PATCH's bytes count.
    let half = data.len() / 2;
    let slow = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(slow_body(
            data[..half].to_vec(),
            16 * 1024,
            Duration::from_millis(60),
            false,
        ))
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = app
        .client
        .delete(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "terminated under a PATCH");
    assert_eq!(slow.await.unwrap().unwrap().status(), 204);
    assert_eq!(offset_of(&app, &url).await, half as u64);

    // X-HTTP-Method-Override: PATCH on a POST is a PATCH.
    let r = app
        .client
        .post(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("X-HTTP-Method-Override", "PATCH")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", half.to_string())
        .body(data[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let id = file_id_of(&url);
    assert_eq!(app.wait_done(&id).await["status"], "completed");
    let (_, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(file["sha256"], sha256_hex(&data));
}

#[tokio::test]
async fn a_terminated_upload_leaves_no_file_behind_on_disk_not_even_a_crash_leftover() {
    let stack = TestStack::new().await;
    if std::env::var("TEST_S3_ENDPOINT").is_ok() {
        eprintln!("local disk only: SKIPPED on the S3 stack");
        return;
    }
    let app = TestApp::start(&stack, &[]).await;
    let url = create_upload(&app, "crash.csv", 100).await;
    assert_eq!(
        patch(&app, &url, 0, vec![b'1'; 40], &[]).await.status(),
        204
    );
    // What a PATCH interrupted by a crash leaves on local disk: a temporary part file that
    // listings do not show.
    let id = file_id_of(&url);
    let files = stack.local_files_dir();
    let dir = walk(&files)
        .into_iter()
        .find(|p| p.ends_with(&id))
        .expect("the file's directory");
    std::fs::create_dir_all(dir.join("upload")).unwrap();
    std::fs::write(dir.join("upload").join("00002-crashed#1"), b"partial").unwrap();
    let r = app
        .client
        .delete(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!dir.exists(), "{} is still there", dir.display());
}

/// Every directory under `root`.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                todo.push(entry.path());
                out.push(entry.path());
            }
        }
    }
    out
}

#[tokio::test]
async fn an_unfinished_upload_shows_its_offset_as_progress_in_the_file_object_and_the_list() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let body = b"id,name\n".repeat(125); // 1,000 bytes
    let url = create_upload(&app, "half.csv", body.len()).await;
    let r = patch(&app, &url, 0, body[..250].to_vec(), &[]).await;
    assert_eq!(r.status(), 204);
    let id = file_id_of(&url);

    let (status, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(file["status"], "uploading");
    assert_eq!(file["progress"], 0.25);
    let (_, list) = app.get_json("/api/v1/files?status=uploading").await;
    assert_eq!(list["files"][0]["file_id"], id.as_str());
    assert_eq!(list["files"][0]["progress"], 0.25);
    let (_, status) = app.get_json(&format!("/api/v1/files/{id}/status")).await;
    assert_eq!(status["progress"], 0.25);
    app.stop().await;
}
