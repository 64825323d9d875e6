//! Virus scanning against a real clamd (`scripts/with-clamd.sh` starts one whose database knows
//! the EICAR test file; without `TEST_CLAMAV_HOST` those tests print SKIPPED and return), and,
//! always, what happens when clamd cannot be reached.

use serde_json::Value;

use crate::helpers::{Clamd, TestApp, TestStack, generated_csv, wait_status};
use crate::progress::{connect, frames_until_done, new_statuses, of_type};

/// The EICAR anti-virus test file (68 bytes; <https://www.eicar.org>), written in two halves so
/// that this source file is not itself taken for it.
fn eicar() -> Vec<u8> {
    let bytes = [
        r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR",
        "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat()
    .into_bytes();
    assert_eq!(bytes.len(), 68);
    bytes
}

/// A file's object.
async fn file_object(app: &TestApp, id: &str) -> Value {
    let (code, file) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(code, 200, "{file}");
    file
}

/// Every use of a quarantined file's bytes or results answers 403 `quarantined`.
async fn assert_never_served(app: &TestApp, id: &str) {
    for path in [
        "download",
        "result",
        "records",
        "thumbnail",
        "converted",
        "status",
    ] {
        let (code, body) = app.get_json(&format!("/api/v1/files/{id}/{path}")).await;
        if path == "status" {
            assert_eq!((code, body["status"].as_str()), (200, Some("quarantined")));
            assert_eq!(body["error"]["code"], "quarantined");
            continue;
        }
        assert_eq!(
            (code, body["code"].as_str()),
            (403, Some("quarantined")),
            "{path}: {body}"
        );
    }
    let response = app.post(&format!("/api/v1/files/{id}/process")).await;
    assert_eq!(response.status(), 403, "re-processing a quarantined file");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "quarantined");
}

#[track_caller]
fn assert_infected(file: &Value) {
    assert_eq!(file["status"], "quarantined", "{file}");
    let scan = &file["virus_scan"];
    assert_eq!(scan["status"], "infected", "{file}");
    assert_eq!(scan["clean"], false);
    let threats = scan["threats"].as_array().expect("threats");
    assert!(
        threats.len() == 1
            && threats[0]
                .as_str()
                .unwrap()
                .starts_with("Eicar-Test-Signature"),
        "{scan}"
    );
    assert!(
        scan["scanner"].as_str().unwrap().starts_with("clamav 1."),
        "{scan}"
    );
    assert!(
        scan["scanned_at"].as_str().unwrap().ends_with('Z'),
        "{scan}"
    );
    assert_eq!(file["error"]["code"], "quarantined");
    assert!(
        file["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Eicar-Test-Signature"),
        "{file}"
    );
}

#[tokio::test]
async fn eicar_uploaded_as_csv_is_quarantined_by_its_job_and_never_served() {
    let Some(clamd) = Clamd::from_env("eicar_uploaded_as_csv_is_quarantined_by_its_job") else {
        return;
    };
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &clamd.env()).await;
    // Held until a client watches, to see every frame of the job.
    let response = app
        .upload_bytes("eicar.csv", eicar(), &[("auto_process", "false")])
        .await;
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    let id = file["file_id"].as_str().unwrap().to_owned();
    assert_eq!(
        file["virus_scan"],
        Value::Null,
        "not scanned before its job"
    );
    let mut ws = connect(&app.base, &format!("?file_id={id}")).await;
    assert_eq!(
        app.post(&format!("/api/v1/files/{id}/process"))
            .await
            .status(),
        202
    );
    let frames = frames_until_done(&mut ws, &id).await;
    assert_eq!(
        new_statuses(&frames),
        ["queued", "processing", "quarantined"],
        "{frames:#?}"
    );
    let steps: Vec<&str> = of_type(&frames, "progress")
        .iter()
        .filter_map(|f| f["data"]["step"].as_str())
        .collect();
    assert_eq!(steps.first(), Some(&"virus_scan"), "{frames:#?}");
    assert!(
        !steps.contains(&"extraction"),
        "never processed: {frames:#?}"
    );
    let last = frames.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["error"]["code"].as_str()),
        (Some("error"), Some("quarantined"))
    );

    assert_infected(&file_object(&app, &id).await);
    assert_never_served(&app, &id).await;
    // This server's own counters: one infected scan, one quarantined job, never processed.
    let quarantined = [("file_type", "csv"), ("outcome", "quarantined")];
    let metrics = crate::metrics::scrape_until_at(&app.client, &app.url("/metrics"), |s| {
        s.value("fileproc_files_processed_total", &quarantined) == 1.0
    })
    .await;
    assert_eq!(
        metrics.value("fileproc_virus_scans_total", &[("outcome", "infected")]),
        1.0
    );
    assert_eq!(
        metrics.value("fileproc_virus_scans_total", &[("outcome", "clean")]),
        0.0
    );
    assert_eq!(
        metrics.value(
            "fileproc_files_processed_total",
            &[("file_type", "csv"), ("outcome", "completed")]
        ),
        0.0
    );
    // A late client is told at once.
    let mut late = connect(&app.base, &format!("?file_id={id}")).await;
    let frames = frames_until_done(&mut late, &id).await;
    assert_eq!(frames[0]["data"]["status"], "quarantined");
    assert_eq!(frames[1]["error"]["code"], "quarantined");
    // It lists under its status and can be deleted.
    let (_, list) = app.get_json("/api/v1/files?status=quarantined").await;
    assert_eq!(list["files"][0]["file_id"], id.as_str());
    assert_eq!(
        app.delete(&format!("/api/v1/files/{id}")).await.status(),
        204
    );
    app.stop().await;
}

#[tokio::test]
async fn eicar_uploaded_as_pdf_is_quarantined_rather_than_refused_by_type() {
    let Some(clamd) = Clamd::from_env("eicar_uploaded_as_pdf_is_quarantined") else {
        return;
    };
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &clamd.env()).await;
    let response = app.upload_bytes("eicar.pdf", eicar(), &[]).await;
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    assert_infected(&file);
    assert_eq!(file["file_type"], "pdf", "the type its name claims");
    let id = file["file_id"].as_str().unwrap();
    assert_eq!(file_object(&app, id).await["status"], "quarantined");
    assert_never_served(&app, id).await;

    // A clean file whose bytes are not what its name says is still refused, and not kept.
    let response = app
        .upload_bytes("notes.pdf", b"just some text\n".to_vec(), &[])
        .await;
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "type_mismatch");
    let keys = stack.stored_keys().await;
    assert!(
        keys.iter().all(|k| k.contains(id)),
        "only the quarantined file is stored: {keys:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn eicar_sent_over_tus_as_pdf_is_quarantined_at_completion() {
    let Some(clamd) = Clamd::from_env("eicar_sent_over_tus_as_pdf_is_quarantined") else {
        return;
    };
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &clamd.env()).await;
    use base64::Engine as _;
    let name = base64::engine::general_purpose::STANDARD.encode("eicar.pdf");
    let created = app
        .client
        .post(app.url("/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "68")
        .header("Upload-Metadata", format!("filename {name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let patched = app
        .client
        .patch(app.url(&format!("/api/v1/tus/{id}")))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(eicar())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 204);
    assert_infected(&file_object(&app, &id).await);
    assert_never_served(&app, &id).await;
    app.stop().await;
}

#[tokio::test]
async fn a_clean_csv_is_scanned_then_processed() {
    let Some(clamd) = Clamd::from_env("a_clean_csv_is_scanned_then_processed") else {
        return;
    };
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &clamd.env()).await;
    let (id, result) = app.process("clean.csv", generated_csv(1000)).await;
    assert_eq!(result["csv"]["row_count"], 1000);
    let file = file_object(&app, &id).await;
    let scan = &file["virus_scan"];
    assert_eq!(
        (
            scan["status"].as_str(),
            scan["clean"].as_bool(),
            scan["threats"].as_array().map(Vec::len)
        ),
        (Some("clean"), Some(true), Some(0)),
        "{file}"
    );
    assert!(
        scan["scanner"].as_str().unwrap().starts_with("clamav 1."),
        "{scan}"
    );
    assert!(scan.get("reason").is_none());
    let (code, _, body) = app.get_bytes(&format!("/api/v1/files/{id}/download")).await;
    assert_eq!((code, body.len()), (200, generated_csv(1000).len()));
    let metrics = crate::metrics::scrape_at(&app.client, &app.url("/metrics")).await;
    assert_eq!(
        metrics.value("fileproc_virus_scans_total", &[("outcome", "clean")]),
        1.0
    );
    assert_eq!(
        metrics.value("fileproc_virus_scans_total", &[("outcome", "infected")]),
        0.0
    );
    // /ready says clamd answers, and which version.
    let (code, ready) = app.get_json("/ready").await;
    assert_eq!(
        (code, ready["status"].as_str()),
        (200, Some("ready")),
        "{ready}"
    );
    assert_eq!(ready["checks"]["virus_scanner"]["ok"], true);
    assert!(
        ready["checks"]["virus_scanner"]["version"]
            .as_str()
            .unwrap()
            .starts_with("ClamAV ")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_file_larger_than_clamd_scans_is_not_scanned_and_the_policy_decides() {
    let test = "a_file_larger_than_clamd_scans_is_not_scanned";
    let Some(clamd) = Clamd::from_env(test) else {
        return;
    };
    let Some(limit) = clamd.stream_max_length else {
        eprintln!("{test}: SKIPPED, set TEST_CLAMAV_STREAM_MAX_LENGTH (clamd's StreamMaxLength)");
        return;
    };
    let mut csv = generated_csv(limit / 40 + 1000);
    assert!(csv.len() > limit);
    csv.truncate(csv.iter().rposition(|b| *b == b'\n').unwrap() + 1);
    let rows = csv.iter().filter(|b| **b == b'\n').count() - 1;

    // The default, refuse: not processed.
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &clamd.env()).await;
    let file = app.upload("big.csv", csv.clone()).await;
    let id = file["file_id"].as_str().unwrap();
    let status = app.wait_done(id).await;
    assert_eq!(
        (status["status"].as_str(), status["error"]["code"].as_str()),
        (Some("failed"), Some("not_scanned")),
        "{status}"
    );
    let scan = file_object(&app, id).await["virus_scan"].clone();
    assert_eq!(
        (scan["status"].as_str(), scan["clean"].as_bool()),
        (Some("not_scanned"), Some(false))
    );
    assert!(
        scan["reason"].as_str().unwrap().contains("StreamMaxLength"),
        "{scan}"
    );
    assert_eq!(scan["threats"], serde_json::json!([]));
    app.stop().await;

    // process: processed all the same, and the file says it was not scanned.
    let stack = TestStack::new().await;
    let mut env = clamd.env().to_vec();
    env.push(("SECURITY_SCAN_OVERSIZE", "process"));
    let app = TestApp::start(&stack, &env).await;
    let (id, result) = app.process("big.csv", csv).await;
    assert_eq!(result["csv"]["row_count"], rows);
    let scan = file_object(&app, &id).await["virus_scan"].clone();
    assert_eq!(scan["status"], "not_scanned", "{scan}");
    app.stop().await;
}

#[tokio::test]
async fn with_clamd_unreachable_the_job_is_retried_and_never_taken_for_clean() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
        .to_string();
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("SECURITY_VIRUS_SCANNING", "true"),
            ("CLAMAV_HOST", "127.0.0.1"),
            ("CLAMAV_PORT", &port),
            ("CLAMAV_TIMEOUT", "2s"),
            ("PROCESSING_MAX_RETRIES", "2"),
            ("FILEPROC_PROCESSING__RETRY_BACKOFF", "100ms"),
            ("FILEPROC_PROCESSING__POLL_INTERVAL", "50ms"),
        ],
    )
    .await;
    let response = app
        .upload_bytes("clean.csv", generated_csv(10), &[("auto_process", "false")])
        .await;
    let id = response.json::<Value>().await.unwrap()["file_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = connect(&app.base, &format!("?file_id={id}")).await;
    assert_eq!(
        app.post(&format!("/api/v1/files/{id}/process"))
            .await
            .status(),
        202
    );
    let frames = frames_until_done(&mut ws, &id).await;
    // Three attempts (two retries), each back to the queue but the last.
    assert_eq!(
        new_statuses(&frames),
        [
            "queued",
            "processing",
            "queued",
            "processing",
            "queued",
            "processing",
            "failed"
        ],
        "{frames:#?}"
    );
    let last = frames.last().unwrap();
    assert_eq!(last["error"]["code"], "scanner_unavailable", "{last}");
    let status = wait_status(&app, &id, &["failed"]).await;
    assert_eq!(status["error"]["code"], "scanner_unavailable");
    let file = file_object(&app, &id).await;
    assert_eq!(
        file["virus_scan"],
        Value::Null,
        "never recorded as scanned: {file}"
    );
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!(code, 409);
    // This server's own counters: three scans without a verdict, two retries, one failure.
    let failed = [("file_type", "csv"), ("outcome", "failed")];
    let metrics = crate::metrics::scrape_until_at(&app.client, &app.url("/metrics"), |s| {
        s.value("fileproc_files_processed_total", &failed) == 1.0
    })
    .await;
    assert_eq!(
        metrics.value("fileproc_virus_scans_total", &[("outcome", "error")]),
        3.0
    );
    assert_eq!(metrics.value("fileproc_job_retries_total", &[]), 2.0);
    assert_eq!(
        metrics.value(
            "fileproc_processing_errors_total",
            &[("code", "scanner_unavailable")]
        ),
        3.0
    );
    // /ready stays up (stored files are still served) and says clamd is down.
    let (code, ready) = app.get_json("/ready").await;
    assert_eq!(
        (code, ready["status"].as_str()),
        (200, Some("degraded")),
        "{ready}"
    );
    assert_eq!(ready["checks"]["virus_scanner"]["ok"], false);
    // Degraded is still in rotation.
    let metrics = crate::metrics::scrape_at(&app.client, &app.url("/metrics")).await;
    assert_eq!(metrics.value("fileproc_ready", &[]), 1.0);

    // An upload refused by type is refused as before when it cannot be scanned.
    let response = app.upload_bytes("notes.pdf", b"text\n".to_vec(), &[]).await;
    assert_eq!(response.status(), 415);
    app.stop().await;
}
