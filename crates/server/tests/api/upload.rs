//! The multipart upload: streaming, digest, limits, form fields, and the download of the bytes.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, TestStack, corpus};

#[tokio::test]
async fn upload_returns_201_with_the_file_object_and_digest() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let bytes = corpus("nfl.csv");
    let response = app
        .upload_bytes(
            "nfl.csv",
            bytes.clone(),
            &[
                ("purpose", "season stats"),
                ("auto_process", "false"),
                ("metadata", r#"{"team":"all"}"#),
            ],
        )
        .await;
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    let id = file["file_id"].as_str().unwrap();
    assert_eq!(file["filename"], "nfl.csv");
    assert_eq!(file["file_type"], "csv");
    assert_eq!(file["content_type"], "text/csv");
    assert_eq!(file["size"], 1_364_658);
    assert_eq!(
        file["sha256"],
        "f19c3fc40ba0ba279a6e9dd84d275729cc71cb529ff39c2a864939f084b9aaad"
    );
    assert_eq!(file["status"], "pending");
    assert_eq!(file["purpose"], "season stats");
    assert_eq!(file["metadata"], json!({"team": "all"}));
    let key = file["storage_info"]["key"].as_str().unwrap();
    let day = file["uploaded_at"].as_str().unwrap()[..10].replace('-', "/");
    assert_eq!(key, format!("files/{day}/{id}/original"));
    assert_eq!(file["storage_info"]["size"], 1_364_658);
    assert!(
        file["websocket_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/ws?file_id={id}"))
    );
    // Not processed until asked: the result is a 409 meanwhile.
    let (code, body) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("not_completed")));
    assert_eq!(stack.stored_keys().await, [key]);

    let queued = app.post(&format!("/api/v1/files/{id}/process")).await;
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.unwrap();
    assert_eq!(queued["file_id"], id);
    assert_eq!(queued["status"], "queued");
    assert_eq!(app.wait_done(id).await["status"], "completed");
}

#[tokio::test]
async fn upload_larger_than_limit_is_rejected_with_413_and_nothing_is_stored() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("SERVER_MAX_UPLOAD_SIZE", "1MiB")]).await;
    let big = "id,value\n".repeat(140_000).into_bytes(); // 1.26 MB: over, but small enough that the
    // client has sent it all into the socket buffers when the early 413 arrives
    let response = app.upload_bytes("big.csv", big, &[]).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "file_too_large");
    assert!(body["error"].as_str().unwrap().contains("1048576"));
    let (_, list) = app.get_json("/api/v1/files").await;
    assert_eq!(list["files"], json!([]));
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
    // Exactly at the limit is fine.
    let exact = vec![b'a'; 1024 * 1024];
    assert_eq!(
        app.upload_bytes("exact.csv", exact, &[]).await.status(),
        201
    );
}

#[tokio::test]
async fn bad_forms_are_400_with_the_error_shape() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let no_file = reqwest::multipart::Form::new().text("purpose", "x");
    let response = app
        .client
        .post(app.url("/api/v1/files/upload"))
        .multipart(no_file)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "missing_file"
    );
    let bad_metadata = app
        .upload_bytes("a.csv", b"a\n1\n".to_vec(), &[("metadata", "[1]")])
        .await;
    assert_eq!(bad_metadata.status(), 400);
    assert_eq!(
        bad_metadata.json::<Value>().await.unwrap()["code"],
        "invalid_form"
    );
    let blocked = app
        .upload_bytes("run.exe", b"id,name\n1,a\n".to_vec(), &[])
        .await;
    assert_eq!(blocked.status(), 415);
    assert_eq!(
        blocked.json::<Value>().await.unwrap()["code"],
        "blocked_extension"
    );
    // A program is refused whatever it is named: PE, ELF, Mach-O, a #! script.
    for (bytes, name) in [
        (&b"MZ\x90\x00\x03\x00"[..], "run.exe"),
        (&b"MZ\x90\x00\x03\x00"[..], "report.csv"),
        (&b"\x7fELF\x02\x01\x01\x00"[..], "photo.png"),
        (&[0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1][..], "doc.pdf"),
        (&b"#!/bin/sh\necho hi\n"[..], "data.csv"),
    ] {
        let r = app.upload_bytes(name, bytes.to_vec(), &[]).await;
        assert_eq!(r.status(), 415, "{name}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["code"],
            "executable_blocked",
            "{name}"
        );
    }
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let not_allowed = app.upload_bytes("image.gif", png, &[]).await;
    assert_eq!(not_allowed.status(), 415);
    assert_eq!(
        not_allowed.json::<Value>().await.unwrap()["code"],
        "blocked_extension"
    );
    let not_json = app
        .client
        .post(app.url("/api/v1/files/upload"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(
        not_json.json::<Value>().await.unwrap()["code"],
        "invalid_form"
    );
    // Nothing refused left a blob behind.
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
}

#[tokio::test]
async fn download_serves_the_bytes_with_etag_ranges_and_disposition() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let bytes = corpus("table.csv");
    let file = app.upload("中国 table.csv", bytes.clone()).await;
    let id = file["file_id"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/files/{id}/download"));

    let full = app.client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", hex::encode(Sha256::digest(&bytes))));
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.headers()["content-length"], "30");
    assert_eq!(
        full.headers()["content-disposition"],
        "attachment; filename=\"__ table.csv\"; filename*=UTF-8''%E4%B8%AD%E5%9B%BD%20table%2Ecsv"
    );
    assert_eq!(full.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let part = app
        .client
        .get(&url)
        .header("range", "bytes=3-9")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 3-9/30");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[3..10]);

    let suffix = app
        .client
        .get(&url)
        .header("range", "bytes=-4")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.unwrap().as_ref(), &bytes[26..]);

    let outside = app
        .client
        .get(&url)
        .header("range", "bytes=100-200")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(outside.headers()["content-range"], "bytes */30");
    assert_eq!(
        outside.json::<Value>().await.unwrap()["code"],
        "range_not_satisfiable"
    );

    let cached = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let weak = app
        .client
        .get(&url)
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 304);
}

#[tokio::test]
async fn file_names_are_kept_as_safe_data() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    // Kept as safe data: no path, no bidi override, NFC, Windows-safe.
    let named = app
        .upload("../../x/in\u{202E}voiceCON.csv", b"a\n1\n".to_vec())
        .await;
    assert_eq!(named["filename"], "invoiceCON.csv");
    let reserved = app.upload("con.csv", b"a\n1\n".to_vec()).await;
    assert_eq!(reserved["filename"], "_con.csv");
    let long = app
        .upload(&format!("{}.csv", "ü".repeat(300)), b"a\n1\n".to_vec())
        .await;
    let kept = long["filename"].as_str().unwrap();
    assert!(kept.len() <= 255 && kept.ends_with("ü.csv"), "{kept}");
    // The stored keys never hold a client's name.
    assert!(
        stack
            .stored_keys()
            .await
            .iter()
            .all(|k| !k.contains("voice") && !k.contains("con")),
    );
}

#[tokio::test]
async fn an_office_file_under_the_other_office_name_is_refused_by_its_zip_directory() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    // Both start with [Content_Types].xml: the first bytes only say "a ZIP".
    let docx = crate::helpers::test_data("docx/doc-coreprops.docx");
    let xlsx = crate::helpers::test_data("xlsx/any_sheets.xlsx");
    for (bytes, name, found) in [
        (docx.clone(), "report.xlsx", "docx"),
        (xlsx.clone(), "sheet.docx", "xlsx"),
    ] {
        let r = app.upload_bytes(name, bytes, &[]).await;
        assert_eq!(r.status(), 415, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "type_mismatch");
        assert!(body["error"].as_str().unwrap().contains(found), "{body}");
    }
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
    // Under their own names they are taken.
    assert_eq!(app.upload("report.docx", docx).await["file_type"], "docx");
    assert_eq!(app.upload("sheet.xlsx", xlsx).await["file_type"], "xlsx");
}
