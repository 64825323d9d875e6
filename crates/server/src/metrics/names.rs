//! The metric names of the whole project (fixed: alert rules and dashboards use them), their
//! help texts and units, and the histogram buckets. Every name here is described once per
//! recorder by [`describe`].

use ::metrics::{KeyName, Recorder, SharedString, Unit};

/// Requests served, by matched route template, method and status (counter).
pub const HTTP_REQUESTS: &str = "fileproc_http_requests_total";
/// Time from request to response head, seconds, by route, method and status (histogram).
pub const HTTP_REQUEST_DURATION: &str = "fileproc_http_request_duration_seconds";
/// Requests being served now (gauge).
pub const HTTP_IN_FLIGHT: &str = "fileproc_http_requests_in_flight";
/// Upload bytes received, by kind (counter).
pub const UPLOAD_BYTES: &str = "fileproc_upload_bytes_total";
/// Time of one upload request, chunked part or tus PATCH, seconds, by kind (histogram).
pub const UPLOAD_DURATION: &str = "fileproc_upload_duration_seconds";
/// Uploads that ended, by kind and outcome (counter).
pub const UPLOADS: &str = "fileproc_uploads_total";
/// Jobs that ended, by file type and outcome (counter).
pub const FILES_PROCESSED: &str = "fileproc_files_processed_total";
/// Time of one processing attempt, seconds, by file type (histogram).
pub const PROCESSING_DURATION: &str = "fileproc_processing_duration_seconds";
/// Failed processing attempts, by the job's error code (counter).
pub const PROCESSING_ERRORS: &str = "fileproc_processing_errors_total";
/// Jobs waiting in the queue, not claimed (gauge).
pub const QUEUE_DEPTH: &str = "fileproc_queue_depth";
/// This instance's workers, by state running or idle (gauge).
pub const WORKERS: &str = "fileproc_workers";
/// Job attempts that failed and were queued again (counter).
pub const JOB_RETRIES: &str = "fileproc_job_retries_total";
/// Jobs taken over after their worker's lease expired (counter).
pub const JOB_LEASES_EXPIRED: &str = "fileproc_job_leases_expired_total";
/// Blob store calls, by backend, operation and outcome (counter).
pub const STORAGE_OPERATIONS: &str = "fileproc_storage_operations_total";
/// Time of one blob store call, seconds, by backend and operation (histogram).
pub const STORAGE_OPERATION_DURATION: &str = "fileproc_storage_operation_duration_seconds";
/// Cache lookups, by cache and result (counter).
pub const CACHE_REQUESTS: &str = "fileproc_cache_requests_total";
/// WebSocket connections open now (gauge).
pub const WEBSOCKET_CONNECTIONS: &str = "fileproc_websocket_connections";
/// WebSocket messages, by direction (counter).
pub const WEBSOCKET_MESSAGES: &str = "fileproc_websocket_messages_total";
/// Virus scans, by outcome (counter).
pub const VIRUS_SCANS: &str = "fileproc_virus_scans_total";
/// 1 when `/ready` last said ready or degraded, else 0 (gauge).
pub const READY: &str = "fileproc_ready";
/// Always 1, labelled with the version (gauge).
pub const BUILD_INFO: &str = "fileproc_build_info";

/// Buckets of request and upload durations, seconds: 5 ms to 5 min.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Buckets of processing durations, seconds: 10 ms to 10 min (`processing.timeout`'s range).
const PROCESSING_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// Buckets of storage calls, seconds: 1 ms to 30 s.
const STORAGE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Each histogram with its buckets (upper bounds, seconds).
pub(crate) const HISTOGRAMS: &[(&str, &[f64])] = &[
    (HTTP_REQUEST_DURATION, REQUEST_BUCKETS),
    (UPLOAD_DURATION, REQUEST_BUCKETS),
    (PROCESSING_DURATION, PROCESSING_BUCKETS),
    (STORAGE_OPERATION_DURATION, STORAGE_BUCKETS),
];

/// The buckets of any other histogram.
pub(crate) const DEFAULT_BUCKETS: &[f64] = REQUEST_BUCKETS;

/// Describe every metric of the list on `recorder` (help text and unit).
pub(crate) fn describe(recorder: &dyn Recorder) {
    let counter = |name: &'static str, unit: Option<Unit>, help: &'static str| {
        recorder.describe_counter(
            KeyName::from_const_str(name),
            unit,
            SharedString::from(help),
        );
    };
    counter(
        HTTP_REQUESTS,
        Some(Unit::Count),
        "HTTP requests served, by matched route template (\"unmatched\" for none), method and status.",
    );
    counter(
        UPLOAD_BYTES,
        Some(Unit::Bytes),
        "Bytes of file content received by uploads, by kind (multipart, chunked, tus).",
    );
    counter(
        UPLOADS,
        Some(Unit::Count),
        "Uploads that ended, by kind and outcome (completed: a file was stored; failed: refused or broken off).",
    );
    counter(
        FILES_PROCESSED,
        Some(Unit::Count),
        "Processing jobs that ended, by file type and outcome (completed, failed, quarantined).",
    );
    counter(
        PROCESSING_ERRORS,
        Some(Unit::Count),
        "Processing attempts that failed, by the job's error code (retried attempts included).",
    );
    counter(
        JOB_RETRIES,
        Some(Unit::Count),
        "Processing attempts that failed and were queued again with backoff.",
    );
    counter(
        JOB_LEASES_EXPIRED,
        Some(Unit::Count),
        "Jobs claimed again after the lease of the worker that held them expired.",
    );
    counter(
        STORAGE_OPERATIONS,
        Some(Unit::Count),
        "Blob store calls, by backend (local, s3), operation and outcome (ok: answered, not found included; error: failed).",
    );
    counter(
        CACHE_REQUESTS,
        Some(Unit::Count),
        "Cache lookups, by cache (result, file) and result (hit, miss; an unreachable cache is a miss).",
    );
    counter(
        WEBSOCKET_MESSAGES,
        Some(Unit::Count),
        "WebSocket messages, by direction (sent, received), pings and pongs included.",
    );
    counter(
        VIRUS_SCANS,
        Some(Unit::Count),
        "Virus scans by clamd, by outcome (clean, infected, error).",
    );
    let gauge = |name: &'static str, unit: Option<Unit>, help: &'static str| {
        recorder.describe_gauge(
            KeyName::from_const_str(name),
            unit,
            SharedString::from(help),
        );
    };
    gauge(
        HTTP_IN_FLIGHT,
        Some(Unit::Count),
        "HTTP requests being served now.",
    );
    gauge(
        QUEUE_DEPTH,
        Some(Unit::Count),
        "Jobs waiting in the queue (queued, not claimed), read from the catalog at each scrape.",
    );
    gauge(
        WORKERS,
        Some(Unit::Count),
        "This instance's processing workers, by state (running a job, idle).",
    );
    gauge(
        WEBSOCKET_CONNECTIONS,
        Some(Unit::Count),
        "WebSocket connections open now.",
    );
    gauge(
        READY,
        None,
        "1 when /ready last answered ready or degraded, 0 when it answered not_ready.",
    );
    gauge(
        BUILD_INFO,
        None,
        "Always 1; the version label names the running build.",
    );
    let histogram = |name: &'static str, help: &'static str| {
        recorder.describe_histogram(
            KeyName::from_const_str(name),
            Some(Unit::Seconds),
            SharedString::from(help),
        );
    };
    histogram(
        HTTP_REQUEST_DURATION,
        "Time from a request's arrival to its response head, by route, method and status.",
    );
    histogram(
        UPLOAD_DURATION,
        "Time of one upload request (multipart), chunked part or tus PATCH, by kind.",
    );
    histogram(
        PROCESSING_DURATION,
        "Time of one processing attempt (scan, analysis, storing the output), by file type.",
    );
    histogram(
        STORAGE_OPERATION_DURATION,
        "Time of one blob store call until its answer (a read's body streams after), by backend and operation.",
    );
}
