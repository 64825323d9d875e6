//! The monitoring files: the alert rules and the Grafana dashboard use only the metric names
//! fixed for fileproc (issue 8), and a running service serves every one of them; the dashboard
//! is valid JSON whose every panel queries something, and Grafana's provisioning points at the
//! Compose Prometheus and the dashboards directory.
//! (promtool checks the Prometheus files themselves: scripts/check-monitoring.sh.)

use std::collections::BTreeSet;

use crate::files::{self, scalar};

/// The metric names fixed for the whole project.
const METRICS: &[&str] = &[
    "fileproc_http_requests_total",
    "fileproc_http_request_duration_seconds",
    "fileproc_http_requests_in_flight",
    "fileproc_upload_bytes_total",
    "fileproc_upload_duration_seconds",
    "fileproc_uploads_total",
    "fileproc_files_processed_total",
    "fileproc_processing_duration_seconds",
    "fileproc_processing_errors_total",
    "fileproc_queue_depth",
    "fileproc_workers",
    "fileproc_job_retries_total",
    "fileproc_job_leases_expired_total",
    "fileproc_storage_operations_total",
    "fileproc_storage_operation_duration_seconds",
    "fileproc_cache_requests_total",
    "fileproc_websocket_connections",
    "fileproc_websocket_messages_total",
    "fileproc_virus_scans_total",
    "fileproc_ready",
    "fileproc_build_info",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
];

/// Series Prometheus makes itself for every target (not exported by fileproc).
const SCRAPE_SERIES: &[&str] = &["up"];

/// The histograms among [`METRICS`], whose series add `_bucket`, `_sum` and `_count`.
const HISTOGRAMS: &[&str] = &[
    "fileproc_http_request_duration_seconds",
    "fileproc_upload_duration_seconds",
    "fileproc_processing_duration_seconds",
    "fileproc_storage_operation_duration_seconds",
];

/// The metric names a PromQL text refers to (`fileproc_*` and `process_*` words, and `up`),
/// histogram series suffixes removed.
fn metric_names(promql: &str) -> BTreeSet<String> {
    promql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.starts_with("fileproc_") || w.starts_with("process_") || SCRAPE_SERIES.contains(w)
        })
        .map(|w| {
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = w.strip_suffix(suffix)
                    && HISTOGRAMS.contains(&base)
                {
                    return base.to_owned();
                }
            }
            w.to_owned()
        })
        .collect()
}

/// Every `expr` of the dashboard's panels, with the panel's title.
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let panels = dashboard["panels"].as_array().expect("panels");
    panels
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "panel {title} queries something");
            targets.into_iter().map(move |t| {
                (
                    title.clone(),
                    t["expr"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

#[test]
fn alerts_use_only_the_fixed_metric_names() {
    let rules = files::yaml("monitoring/prometheus/alerts.yml");
    let mut alerts = Vec::new();
    let mut used = BTreeSet::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = scalar(&rule["alert"]);
            used.extend(metric_names(&scalar(&rule["expr"])));
            assert!(rule["for"].is_string(), "{name} has a `for:`");
            let severity = scalar(&rule["labels"]["severity"]);
            assert!(
                ["warning", "critical"].contains(&severity.as_str()),
                "{name}"
            );
            for annotation in ["summary", "description"] {
                assert!(
                    rule["annotations"][annotation].is_string(),
                    "{name} {annotation}"
                );
            }
            alerts.push(name);
        }
    }
    assert_eq!(
        alerts,
        [
            "FileprocHighErrorRate",
            "FileprocQueueBacklog",
            "FileprocSlowProcessing",
            "FileprocNotReady",
            "FileprocDown"
        ]
    );
    let unknown: Vec<&String> = used
        .iter()
        .filter(|m| !METRICS.contains(&m.as_str()) && !SCRAPE_SERIES.contains(&m.as_str()))
        .collect();
    assert!(unknown.is_empty(), "not fileproc metrics: {unknown:?}");
    let expected: BTreeSet<String> = [
        "fileproc_http_requests_total",
        "fileproc_queue_depth",
        "fileproc_processing_duration_seconds",
        "fileproc_ready",
        "up",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(used, expected);
}

#[test]
fn the_dashboard_uses_only_the_fixed_metric_names_and_shows_each_area() {
    let text = files::read("monitoring/grafana/dashboards/fileproc.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "fileproc");
    let exprs = dashboard_exprs(&dashboard);
    let mut used = BTreeSet::new();
    for (title, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "panel {title}: {expr}");
        used.extend(names);
    }
    let unknown: Vec<&String> = used
        .iter()
        .filter(|m| !METRICS.contains(&m.as_str()) && !SCRAPE_SERIES.contains(&m.as_str()))
        .collect();
    assert!(unknown.is_empty(), "not fileproc metrics: {unknown:?}");
    // Every fixed metric is on the dashboard.
    let missing: Vec<&&str> = METRICS.iter().filter(|m| !used.contains(**m)).collect();
    assert!(missing.is_empty(), "metrics with no panel: {missing:?}");
    // Panels refer to the provisioned datasource.
    let datasource = files::yaml("monitoring/grafana/provisioning/datasources/prometheus.yml");
    let uid = scalar(&datasource["datasources"][0]["uid"]);
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] != "row" {
            assert_eq!(
                panel["datasource"]["uid"],
                uid.as_str(),
                "{}",
                panel["title"]
            );
        }
    }
}

#[test]
fn grafana_provisioning_points_at_prometheus_and_the_dashboards() {
    let datasource = files::yaml("monitoring/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(
        scalar(&datasource["datasources"][0]["url"]),
        "http://prometheus:9090"
    );
    let provider = files::yaml("monitoring/grafana/provisioning/dashboards/fileproc.yml");
    let path = scalar(&provider["providers"][0]["options"]["path"]);
    let compose = files::yaml("docker-compose.yml");
    let mounts: Vec<String> = files::compose_service(&compose, "grafana")["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(scalar)
        .collect();
    assert!(
        mounts.contains(&format!("./monitoring/grafana/dashboards:{path}:ro")),
        "{mounts:?}"
    );
}

/// The metric names a Prometheus text exposition declares (`# TYPE name kind`).
fn exported_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_metric_the_alerts_and_the_dashboard_query_is_served_by_fileproc() {
    let stack = crate::helpers::TestStack::new().await;
    let app = crate::helpers::TestApp::start(&stack, &[]).await;
    // The error counter's series are born with the first error (its codes are open-ended):
    // fail one job so that it is there.
    app.process_failing("empty.csv", Vec::new()).await;
    let (status, _, body) = app.get_bytes("/metrics").await;
    assert_eq!(status, 200);
    let exported = exported_names(&String::from_utf8(body).expect("UTF-8 scrape"));

    let mut queried = BTreeSet::new();
    let rules = files::yaml("monitoring/prometheus/alerts.yml");
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            queried.extend(metric_names(&scalar(&rule["expr"])));
        }
    }
    let text = files::read("monitoring/grafana/dashboards/fileproc.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    for (_, expr) in dashboard_exprs(&dashboard) {
        queried.extend(metric_names(&expr));
    }
    let missing: Vec<&String> = queried
        .iter()
        .filter(|m| !SCRAPE_SERIES.contains(&m.as_str()) && !exported.contains(*m))
        .collect();
    assert!(missing.is_empty(), "queried but not served: {missing:?}");
    // And every name of the fixed list is served (the process collector adds a few more:
    // threads, virtual memory).
    let unserved: Vec<&&str> = METRICS.iter().filter(|m| !exported.contains(**m)).collect();
    assert!(unserved.is_empty(), "fixed but not served: {unserved:?}");
    let extra: Vec<&String> = exported
        .iter()
        .filter(|m| !METRICS.contains(&m.as_str()))
        .collect();
    assert!(
        extra.iter().all(|m| m.starts_with("process_")),
        "served but not in the fixed list: {extra:?}"
    );
    app.stop().await;
}
