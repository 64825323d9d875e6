//! `/metrics` over real HTTP: the fixed series are there from the start, and an upload, a
//! processed file, a failed job, chunked and tus uploads move their counters by exact amounts
//! (deltas between two scrapes of the test's own server). `promtool check metrics` reads a
//! real scrape when promtool is installed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, TestStack, corpus};

/// One sample of the text exposition format: its labels and value.
#[derive(Debug, Clone)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape: samples by metric name, and the `# TYPE` of each family.
#[derive(Debug)]
pub(crate) struct Scrape {
    text: String,
    samples: HashMap<String, Vec<Sample>>,
    types: HashMap<String, String>,
    helps: HashMap<String, String>,
}

impl Scrape {
    /// Parse the Prometheus text format (0.0.4): `# HELP`/`# TYPE` lines, then
    /// `name{label="value",...} value [timestamp]` with `\\`, `\"` and `\n` escapes.
    fn parse(text: &str) -> Scrape {
        let mut samples: HashMap<String, Vec<Sample>> = HashMap::new();
        let mut types = HashMap::new();
        let mut helps = HashMap::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line: name and type");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                helps.insert(name.to_owned(), help.to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (name, labels, rest) = match line.find(['{', ' ']) {
                Some(i) if line.as_bytes()[i] == b'{' => {
                    let (labels, rest) = parse_labels(&line[i + 1..]);
                    (&line[..i], labels, rest)
                }
                Some(i) => (&line[..i], BTreeMap::new(), &line[i..]),
                None => panic!("a sample line without a value: {line}"),
            };
            let value = rest
                .split_whitespace()
                .next()
                .unwrap_or_else(|| panic!("no value: {line}"));
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|e| panic!("value {v:?} in {line}: {e}")),
            };
            samples
                .entry(name.to_owned())
                .or_default()
                .push(Sample { labels, value });
        }
        Scrape {
            text: text.to_owned(),
            samples,
            types,
            helps,
        }
    }

    /// The value of the sample `name` whose labels are exactly `labels`; `None` if absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let found: Vec<&Sample> = self
            .samples
            .get(name)?
            .iter()
            .filter(|s| s.labels == wanted)
            .collect();
        assert!(
            found.len() <= 1,
            "{name}{wanted:?} appears {} times",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// As [`Scrape::get`], 0 when the series is not there yet.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Every label set of `name`.
    fn series(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.samples
            .get(name)
            .map(|s| s.iter().map(|s| s.labels.clone()).collect())
            .unwrap_or_default()
    }
}

/// The labels of a sample line after its `{`, and what follows the closing `}`.
fn parse_labels(text: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after) = rest.split_once("=\"").expect("label: key=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("label value ends with a quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape") {
                    (_, 'n') => value.push('\n'),
                    (_, c) => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = &after[end + 1..];
    }
}

pub(crate) async fn scrape_at(client: &reqwest::Client, url: &str) -> Scrape {
    let r = client.get(url).send().await.expect("GET /metrics");
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    Scrape::parse(&r.text().await.expect("metrics body"))
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_at(&app.client, &app.url("/metrics")).await
}

/// Scrape until `done` holds (the workers count right after the catalog says a job ended);
/// 10 s at most.
async fn scrape_until(app: &TestApp, done: impl Fn(&Scrape) -> bool) -> Scrape {
    scrape_until_at(&app.client, &app.url("/metrics"), done).await
}

/// [`scrape_until`] at the `/metrics` of `url`.
pub(crate) async fn scrape_until_at(
    client: &reqwest::Client,
    url: &str,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let started = Instant::now();
    loop {
        let s = scrape_at(client, url).await;
        if done(&s) {
            return s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the metrics did not move:\n{}",
            s.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Run `promtool check metrics` on a scrape when promtool is installed.
fn promtool_check(scrape: &Scrape) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIPPED: promtool not installed");
            return;
        }
        Err(e) => panic!("starting promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(scrape.text.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "");
}

/// The fixed names (the project's list) with their types.
const FIXED: &[(&str, &str)] = &[
    ("fileproc_http_requests_in_flight", "gauge"),
    ("fileproc_upload_bytes_total", "counter"),
    ("fileproc_upload_duration_seconds", "histogram"),
    ("fileproc_uploads_total", "counter"),
    ("fileproc_files_processed_total", "counter"),
    ("fileproc_processing_duration_seconds", "histogram"),
    ("fileproc_queue_depth", "gauge"),
    ("fileproc_workers", "gauge"),
    ("fileproc_job_retries_total", "counter"),
    ("fileproc_job_leases_expired_total", "counter"),
    ("fileproc_storage_operations_total", "counter"),
    ("fileproc_storage_operation_duration_seconds", "histogram"),
    ("fileproc_cache_requests_total", "counter"),
    ("fileproc_websocket_connections", "gauge"),
    ("fileproc_websocket_messages_total", "counter"),
    ("fileproc_virus_scans_total", "counter"),
    ("fileproc_ready", "gauge"),
    ("fileproc_build_info", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_cpu_seconds_total", "counter"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

fn backend() -> &'static str {
    match std::env::var("TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => "s3",
        _ => "local",
    }
}

#[tokio::test]
async fn every_fixed_series_is_in_the_first_scrape_with_help_and_type() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let s = scrape_until(&app, |s| {
        s.value("fileproc_workers", &[("state", "idle")]) == 2.0
    })
    .await;
    for (name, kind) in FIXED {
        assert_eq!(
            s.types.get(*name).map(String::as_str),
            Some(*kind),
            "{name}"
        );
        assert!(
            s.helps.get(*name).is_some_and(|h| !h.is_empty()),
            "{name} has no help"
        );
    }
    // Counters of every finite label set at 0 before anything happened.
    for kind in ["multipart", "chunked", "tus"] {
        assert_eq!(
            s.get("fileproc_upload_bytes_total", &[("kind", kind)]),
            Some(0.0)
        );
        for outcome in ["completed", "failed"] {
            assert_eq!(
                s.get(
                    "fileproc_uploads_total",
                    &[("kind", kind), ("outcome", outcome)]
                ),
                Some(0.0),
                "{kind} {outcome}"
            );
        }
        assert_eq!(
            s.get("fileproc_upload_duration_seconds_count", &[("kind", kind)]),
            Some(0.0)
        );
    }
    for file_type in ["csv", "pdf", "docx", "xlsx", "jpeg", "png", "webp"] {
        for outcome in ["completed", "failed", "quarantined"] {
            assert_eq!(
                s.get(
                    "fileproc_files_processed_total",
                    &[("file_type", file_type), ("outcome", outcome)]
                ),
                Some(0.0),
                "{file_type} {outcome}"
            );
        }
    }
    for outcome in ["clean", "infected", "error"] {
        assert_eq!(
            s.get("fileproc_virus_scans_total", &[("outcome", outcome)]),
            Some(0.0)
        );
    }
    for direction in ["sent", "received"] {
        assert_eq!(
            s.get(
                "fileproc_websocket_messages_total",
                &[("direction", direction)]
            ),
            Some(0.0)
        );
    }
    for cache in ["result", "file"] {
        for result in ["hit", "miss"] {
            assert!(
                s.get(
                    "fileproc_cache_requests_total",
                    &[("cache", cache), ("result", result)]
                )
                .is_some(),
                "{cache} {result}"
            );
        }
    }
    assert_eq!(
        s.get("fileproc_workers", &[("state", "running")]),
        Some(0.0)
    );
    assert_eq!(s.get("fileproc_websocket_connections", &[]), Some(0.0));
    assert_eq!(s.get("fileproc_job_retries_total", &[]), Some(0.0));
    assert_eq!(s.get("fileproc_job_leases_expired_total", &[]), Some(0.0));
    assert_eq!(s.get("fileproc_queue_depth", &[]), Some(0.0));
    assert_eq!(
        s.get(
            "fileproc_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    // The standard process collector, refreshed by the scrape.
    assert!(s.value("process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(s.value("process_open_fds", &[]) >= 3.0);
    assert!(s.value("process_start_time_seconds", &[]) > 1_600_000_000.0);
    // The storage series of this stack's backend, every operation, both outcomes.
    for operation in [
        "put",
        "get",
        "get_range",
        "head",
        "delete",
        "list",
        "multipart_part",
    ] {
        for outcome in ["ok", "error"] {
            assert!(
                s.get(
                    "fileproc_storage_operations_total",
                    &[
                        ("backend", backend()),
                        ("operation", operation),
                        ("outcome", outcome)
                    ]
                )
                .is_some(),
                "{operation} {outcome}"
            );
        }
    }
    // Buckets in seconds, ending with +Inf.
    let buckets: Vec<String> = s
        .series("fileproc_processing_duration_seconds_bucket")
        .into_iter()
        .filter(|l| l.get("file_type").map(String::as_str) == Some("csv"))
        .map(|l| l["le"].clone())
        .collect();
    assert_eq!(buckets.first().map(String::as_str), Some("0.01"));
    assert_eq!(buckets.last().map(String::as_str), Some("+Inf"));
    promtool_check(&s);
    app.stop().await;
}

#[tokio::test]
async fn a_processed_multipart_upload_moves_its_counters_by_exact_amounts() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = corpus("table.csv");
    let upload_route = [
        ("route", "/api/v1/files/upload"),
        ("method", "POST"),
        ("status", "201"),
    ];
    let completed = [("file_type", "csv"), ("outcome", "completed")];
    let put_ok = |op| [("backend", backend()), ("operation", op), ("outcome", "ok")];
    let before = scrape(&app).await;

    let (id, result) = app.process("table.csv", csv.clone()).await;
    assert_eq!(result["csv"]["row_count"], 2);
    let after = scrape_until(&app, |s| {
        s.value("fileproc_files_processed_total", &completed)
            > before.value("fileproc_files_processed_total", &completed)
    })
    .await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        delta("fileproc_upload_bytes_total", &[("kind", "multipart")]),
        csv.len() as f64
    );
    assert_eq!(
        delta(
            "fileproc_uploads_total",
            &[("kind", "multipart"), ("outcome", "completed")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fileproc_uploads_total",
            &[("kind", "multipart"), ("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(
        delta(
            "fileproc_upload_duration_seconds_count",
            &[("kind", "multipart")]
        ),
        1.0
    );
    assert_eq!(delta("fileproc_files_processed_total", &completed), 1.0);
    assert_eq!(
        delta(
            "fileproc_files_processed_total",
            &[("file_type", "csv"), ("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(
        delta(
            "fileproc_processing_duration_seconds_count",
            &[("file_type", "csv")]
        ),
        1.0
    );
    assert!(
        delta(
            "fileproc_processing_duration_seconds_sum",
            &[("file_type", "csv")]
        ) > 0.0
    );
    assert_eq!(delta("fileproc_http_requests_total", &upload_route), 1.0);
    assert_eq!(
        delta(
            "fileproc_http_request_duration_seconds_count",
            &upload_route
        ),
        1.0
    );
    // The upload went to the store as a multipart upload: opened and completed once at least
    // (the records file goes the same way); nothing failed.
    assert!(
        delta(
            "fileproc_storage_operations_total",
            &put_ok("multipart_complete")
        ) >= 1.0
    );
    for op in [
        "put",
        "get",
        "multipart_start",
        "multipart_part",
        "multipart_complete",
    ] {
        let error = [
            ("backend", backend()),
            ("operation", op),
            ("outcome", "error"),
        ];
        assert_eq!(
            delta("fileproc_storage_operations_total", &error),
            0.0,
            "{op}"
        );
    }
    assert_eq!(
        delta(
            "fileproc_processing_errors_total",
            &[("code", "empty_file")]
        ),
        0.0
    );
    assert_eq!(after.value("fileproc_queue_depth", &[]), 0.0);

    // Routes are their templates; no route is `unmatched`; the result read goes through the
    // result cache.
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}")).await;
    assert_eq!(code, 200);
    // With Redis, file rows are read through the file cache: one lookup for this read.
    let mid = scrape(&app).await;
    let file_lookups = |s: &Scrape| {
        s.value(
            "fileproc_cache_requests_total",
            &[("cache", "file"), ("result", "hit")],
        ) + s.value(
            "fileproc_cache_requests_total",
            &[("cache", "file"), ("result", "miss")],
        )
    };
    let redis = std::env::var("TEST_REDIS_URL").is_ok_and(|u| !u.is_empty());
    assert_eq!(
        file_lookups(&mid) - file_lookups(&after),
        if redis { 1.0 } else { 0.0 }
    );
    let (code, _) = app.get_json("/api/v1/no-such-route").await;
    assert_eq!(code, 404);
    let (code, _) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!(code, 200);
    let (code, _) = app.get_json("/ready").await;
    assert_eq!(code, 200);
    let last = scrape(&app).await;
    // /ready heads an object that is not there: an answer of the store, not an error.
    let head = |outcome| {
        [
            ("backend", backend()),
            ("operation", "head"),
            ("outcome", outcome),
        ]
    };
    let moved =
        |name: &str, labels: &[(&str, &str)]| last.value(name, labels) - after.value(name, labels);
    assert_eq!(
        moved(
            "fileproc_http_requests_total",
            &[
                ("route", "/api/v1/files/{file_id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "fileproc_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        1.0
    );
    let result_reads = moved(
        "fileproc_cache_requests_total",
        &[("cache", "result"), ("result", "hit")],
    ) + moved(
        "fileproc_cache_requests_total",
        &[("cache", "result"), ("result", "miss")],
    );
    assert_eq!(result_reads, 1.0);
    assert_eq!(last.get("fileproc_ready", &[]), Some(1.0));
    assert_eq!(moved("fileproc_storage_operations_total", &head("ok")), 1.0);
    assert_eq!(
        moved("fileproc_storage_operations_total", &head("error")),
        0.0
    );
    // No series carries a raw path.
    for labels in last.series("fileproc_http_requests_total") {
        assert!(!labels["route"].contains(&id), "{labels:?}");
    }
    promtool_check(&last);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_job_counts_as_failed_with_its_error_code() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let failed = [("file_type", "csv"), ("outcome", "failed")];
    let code = [("code", "empty_file")];
    let before = scrape(&app).await;
    let status = app.process_failing("empty.csv", corpus("empty.csv")).await;
    assert_eq!(status["error"]["code"], "empty_file");
    let after = scrape_until(&app, |s| {
        s.value("fileproc_files_processed_total", &failed)
            > before.value("fileproc_files_processed_total", &failed)
    })
    .await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta("fileproc_files_processed_total", &failed), 1.0);
    assert_eq!(
        delta(
            "fileproc_files_processed_total",
            &[("file_type", "csv"), ("outcome", "completed")]
        ),
        0.0
    );
    assert_eq!(delta("fileproc_processing_errors_total", &code), 1.0);
    // empty_file is permanent: no retry.
    assert_eq!(delta("fileproc_job_retries_total", &[]), 0.0);
    assert_eq!(
        delta(
            "fileproc_processing_duration_seconds_count",
            &[("file_type", "csv")]
        ),
        1.0
    );
    // The upload itself succeeded (an empty file is stored, and fails processing).
    assert_eq!(
        delta(
            "fileproc_uploads_total",
            &[("kind", "multipart"), ("outcome", "completed")]
        ),
        1.0
    );
    app.stop().await;
}

#[tokio::test]
async fn chunked_and_tus_uploads_move_their_kinds() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let csv = corpus("table.csv");
    let before = scrape(&app).await;

    // Chunked: init, one part, complete.
    let r = app
        .client
        .post(app.url("/api/v1/files/upload/init"))
        .json(&json!({"filename": "c.csv", "size": csv.len(), "auto_process": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    let file_id = started["file_id"].as_str().unwrap();
    let upload_id = started["upload_id"].as_str().unwrap();
    let r = app
        .client
        .put(app.url(&format!(
            "/api/v1/files/upload/{file_id}/chunk?upload_id={upload_id}&chunk_number=1"
        )))
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let part: Value = r.json().await.unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/files/upload/{file_id}/complete")))
        .json(&json!({"upload_id": upload_id, "parts": [
            {"part_number": 1, "etag": part["etag"]}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    // tus: create, then two PATCHes that finish it.
    app.upload_tus("t.csv", &csv).await;

    // An aborted chunked upload is a failed one.
    let r = app
        .client
        .post(app.url("/api/v1/files/upload/init"))
        .json(&json!({"filename": "gone.csv", "size": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let gone: Value = r.json().await.unwrap();
    let r = app
        .delete(&format!(
            "/api/v1/files/upload/{}?upload_id={}",
            gone["file_id"].as_str().unwrap(),
            gone["upload_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status(), 204);

    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let size = csv.len() as f64;
    for (kind, requests) in [("chunked", 1.0), ("tus", 2.0)] {
        assert_eq!(
            delta("fileproc_upload_bytes_total", &[("kind", kind)]),
            size,
            "{kind}"
        );
        assert_eq!(
            delta("fileproc_upload_duration_seconds_count", &[("kind", kind)]),
            requests,
            "{kind}"
        );
        assert_eq!(
            delta(
                "fileproc_uploads_total",
                &[("kind", kind), ("outcome", "completed")]
            ),
            1.0,
            "{kind}"
        );
    }
    assert_eq!(
        delta(
            "fileproc_uploads_total",
            &[("kind", "chunked"), ("outcome", "failed")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fileproc_uploads_total",
            &[("kind", "tus"), ("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(
        delta("fileproc_upload_bytes_total", &[("kind", "multipart")]),
        0.0
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_port_serves_metrics_alone_and_the_main_port_not() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("METRICS_PORT", "0")]).await;
    let metrics_addr = app
        .app
        .as_ref()
        .and_then(|a| a.metrics_addr())
        .expect("a metrics port");
    assert_ne!(metrics_addr.port(), 0);
    let base = format!("http://{metrics_addr}");
    let (code, _) = app.get_json("/health").await;
    assert_eq!(code, 200);
    let s = scrape_at(&app.client, &format!("{base}/metrics")).await;
    // The main port's requests are counted; /metrics is not on it.
    assert_eq!(
        s.get(
            "fileproc_http_requests_total",
            &[("route", "/health"), ("method", "GET"), ("status", "200")]
        ),
        Some(1.0)
    );
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The metrics port serves nothing else.
    for path in ["/health", "/api/v1/files"] {
        let r = app
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // Refusals there have the API's JSON shape too.
    let r = app
        .client
        .post(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.expect("a JSON error");
    assert_eq!(body["code"], "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[("FILEPROC_MONITORING__METRICS_ENABLED", "false")]).await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn websocket_connections_and_messages_are_counted() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, _) = app.process("table.csv", corpus("table.csv")).await;
    let before = scrape(&app).await;
    let mut ws = crate::progress::connect(&app.base, &format!("?file_id={id}")).await;
    // The opening frames (the file's state), then silence: count what the client got.
    let mut frames = 0.0;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await
    {
        if let Message::Text(_) = message.expect("a WebSocket message") {
            frames += 1.0;
        }
    }
    assert!(frames >= 1.0);
    ws.send(Message::Text("hello".into())).await.unwrap();
    let received = [("direction", "received")];
    let open = scrape_until(&app, |s| {
        s.value("fileproc_websocket_messages_total", &received)
            > before.value("fileproc_websocket_messages_total", &received)
    })
    .await;
    let delta = |s: &Scrape, name: &str, labels: &[(&str, &str)]| {
        s.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(open.get("fileproc_websocket_connections", &[]), Some(1.0));
    assert_eq!(
        delta(&open, "fileproc_websocket_messages_total", &received),
        1.0
    );
    assert_eq!(
        delta(
            &open,
            "fileproc_websocket_messages_total",
            &[("direction", "sent")]
        ),
        frames
    );
    ws.close(None).await.unwrap();
    let closed = scrape_until(&app, |s| {
        s.value("fileproc_websocket_connections", &[]) == 0.0
    })
    .await;
    // The close frame is a message received too.
    assert_eq!(
        delta(&closed, "fileproc_websocket_messages_total", &received),
        2.0
    );
    app.stop().await;
}

#[tokio::test]
async fn methods_outside_the_http_standard_share_one_label() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    for method in ["FOOBAR1", "FOOBAR2", "PROPFIND"] {
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/health"),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 405);
    }
    let s = scrape(&app).await;
    let labels = [
        ("route", "/health"),
        ("method", "_OTHER"),
        ("status", "405"),
    ];
    assert_eq!(s.value("fileproc_http_requests_total", &labels), 3.0);
    let methods: std::collections::BTreeSet<String> = s
        .series("fileproc_http_requests_total")
        .into_iter()
        .filter_map(|l| l.get("method").cloned())
        .collect();
    assert!(
        methods
            .iter()
            .all(|m| !m.starts_with("FOOBAR") && m != "PROPFIND"),
        "{methods:?}"
    );
    app.stop().await;
}
