//! Prometheus metrics: one recorder per running service (its [`Metrics`] in [`AppState`]), fed
//! by the HTTP middleware ([`http`]), the upload paths (`ingest`, `api/uploads`, `api/tus`), the
//! workers (`queue`), the blob store ([`storage`]), the caches, the WebSocket and the virus scan;
//! rendered in the text format at `GET /metrics` ([`http::scrape`]).
//!
//! The recorder is not installed globally: several servers may share one process (the API
//! tests start many), and each must count only its own. Handles of the finite label sets are
//! registered at start-up, so every series is in the first scrape (counters at 0) and the hot
//! paths only add to an atomic; labels that are not finite (route, status, error code) are
//! looked up per event, never per byte.
//!
//! [`AppState`]: crate::state::AppState

pub mod http;
pub mod names;
pub mod storage;

use std::sync::Arc;
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use fileproc_formats::FileType;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use tokio_util::sync::CancellationToken;

/// Where the handles say they come from (the exporter ignores it).
const METADATA: Metadata<'static> = Metadata::new("fileproc", Level::INFO, Some("fileproc"));

/// How often recorded histogram samples are folded into their buckets between scrapes, so
/// that an unscraped server holds no growing sample buffers.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// The way a file arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadKind {
    /// `POST /api/v1/files` (multipart/form-data).
    Multipart,
    /// `/api/v1/uploads` (parts by number).
    Chunked,
    /// `/api/v1/tus` (tus 1.0 PATCHes).
    Tus,
}

impl UploadKind {
    const ALL: [UploadKind; 3] = [UploadKind::Multipart, UploadKind::Chunked, UploadKind::Tus];

    /// The kind of a resumable upload as the catalog stores it (`chunked`, `tus`).
    pub fn of_stored(kind: &str) -> Self {
        if kind == crate::catalog::UploadKind::Tus.as_str() {
            UploadKind::Tus
        } else {
            UploadKind::Chunked
        }
    }

    /// The `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Multipart => "multipart",
            UploadKind::Chunked => "chunked",
            UploadKind::Tus => "tus",
        }
    }
}

/// How a processing job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEnd {
    Completed,
    Failed,
    Quarantined,
}

impl JobEnd {
    const ALL: [JobEnd; 3] = [JobEnd::Completed, JobEnd::Failed, JobEnd::Quarantined];

    fn as_str(self) -> &'static str {
        match self {
            JobEnd::Completed => "completed",
            JobEnd::Failed => "failed",
            JobEnd::Quarantined => "quarantined",
        }
    }
}

/// A virus scan's verdict as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanOutcome {
    Clean,
    Infected,
    /// clamd could not give a verdict (unreachable, timeout, protocol error).
    Error,
}

/// The caches whose lookups are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheName {
    /// Finished results ([`crate::cache::ResultCache`]).
    Result,
    /// File rows in Redis ([`crate::catalog::FileCache`]).
    File,
}

/// The counters of one upload kind.
pub struct UploadMetrics {
    /// Bytes of content received (add per chunk or request, never per byte).
    pub bytes: Counter,
    /// Seconds of one request, part or PATCH.
    pub duration: Histogram,
    /// Uploads that stored a file.
    pub completed: Counter,
    /// Uploads refused or broken off.
    pub failed: Counter,
}

struct Inner {
    recorder: PrometheusRecorder,
    process: metrics_process::Collector,
    in_flight: Gauge,
    uploads: [UploadMetrics; 3],
    /// By [`FileType::ALL`] index: per outcome, and the duration.
    processed: Vec<([Counter; 3], Histogram)>,
    queue_depth: Gauge,
    workers_running: Gauge,
    workers_idle: Gauge,
    job_retries: Counter,
    leases_expired: Counter,
    ws_connections: Gauge,
    ws_sent: Counter,
    ws_received: Counter,
    scans: [Counter; 3],
    ready: Gauge,
    /// `[result, file] × [hit, miss]`.
    cache: [[Counter; 2]; 2],
}

/// One service's metrics: the recorder and the handles of its fixed series. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh recorder with every metric described and every finite series registered.
    pub fn new() -> Self {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in names::HISTOGRAMS {
            builder = builder
                .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
                .unwrap_or_else(|_| unreachable!("the bucket lists are not empty"));
        }
        let builder = builder
            .set_buckets(names::DEFAULT_BUCKETS)
            .unwrap_or_else(|_| unreachable!("the bucket list is not empty"));
        let recorder = builder.build_recorder();
        names::describe(&recorder);
        let process = metrics_process::Collector::default();
        ::metrics::with_local_recorder(&recorder, || process.describe());

        let counter = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_counter(&static_key(name, labels), &METADATA)
        };
        let gauge = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_gauge(&static_key(name, labels), &METADATA)
        };
        let histogram = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_histogram(&static_key(name, labels), &METADATA)
        };
        let uploads = UploadKind::ALL.map(|kind| {
            let kind = kind.as_str();
            UploadMetrics {
                bytes: counter(names::UPLOAD_BYTES, &[("kind", kind)]),
                duration: histogram(names::UPLOAD_DURATION, &[("kind", kind)]),
                completed: counter(names::UPLOADS, &[("kind", kind), ("outcome", "completed")]),
                failed: counter(names::UPLOADS, &[("kind", kind), ("outcome", "failed")]),
            }
        });
        let processed = FileType::ALL
            .iter()
            .map(|t| {
                let file_type = t.as_str();
                let ends = JobEnd::ALL.map(|end| {
                    counter(
                        names::FILES_PROCESSED,
                        &[("file_type", file_type), ("outcome", end.as_str())],
                    )
                });
                let duration = histogram(names::PROCESSING_DURATION, &[("file_type", file_type)]);
                (ends, duration)
            })
            .collect();
        let cache = ["result", "file"].map(|cache| {
            ["hit", "miss"].map(|result| {
                counter(
                    names::CACHE_REQUESTS,
                    &[("cache", cache), ("result", result)],
                )
            })
        });
        // The storage series exist from the start, before any call (registering is enough;
        // the store's decorator takes its own handles). `fileproc_processing_errors_total` has
        // no finite label set (its codes come from the analyzers): it appears at the first error.
        for backend in ["local", "s3"] {
            for operation in storage::OPERATIONS {
                for outcome in ["ok", "error"] {
                    let _ = counter(
                        names::STORAGE_OPERATIONS,
                        &[
                            ("backend", backend),
                            ("operation", operation),
                            ("outcome", outcome),
                        ],
                    );
                }
                let _ = histogram(
                    names::STORAGE_OPERATION_DURATION,
                    &[("backend", backend), ("operation", operation)],
                );
            }
        }
        gauge(names::BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))]).set(1.0);
        let inner = Inner {
            in_flight: gauge(names::HTTP_IN_FLIGHT, &[]),
            uploads,
            processed,
            queue_depth: gauge(names::QUEUE_DEPTH, &[]),
            workers_running: gauge(names::WORKERS, &[("state", "running")]),
            workers_idle: gauge(names::WORKERS, &[("state", "idle")]),
            job_retries: counter(names::JOB_RETRIES, &[]),
            leases_expired: counter(names::JOB_LEASES_EXPIRED, &[]),
            ws_connections: gauge(names::WEBSOCKET_CONNECTIONS, &[]),
            ws_sent: counter(names::WEBSOCKET_MESSAGES, &[("direction", "sent")]),
            ws_received: counter(names::WEBSOCKET_MESSAGES, &[("direction", "received")]),
            scans: ["clean", "infected", "error"]
                .map(|outcome| counter(names::VIRUS_SCANS, &[("outcome", outcome)])),
            ready: gauge(names::READY, &[]),
            cache,
            process,
            recorder,
        };
        Metrics(Arc::new(inner))
    }

    /// A counter of `name` with `labels`, registered on first use.
    pub fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.0
            .recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// A histogram of `name` with `labels`, registered on first use.
    pub fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.0
            .recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// The counters of one upload kind.
    pub fn upload(&self, kind: UploadKind) -> &UploadMetrics {
        match kind {
            UploadKind::Multipart => &self.0.uploads[0],
            UploadKind::Chunked => &self.0.uploads[1],
            UploadKind::Tus => &self.0.uploads[2],
        }
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> &Gauge {
        &self.0.in_flight
    }

    /// A job ended as `end`; `file_type` as the catalog holds it (`unknown` when its row
    /// could not be read).
    pub fn job_ended(&self, file_type: &str, end: JobEnd) {
        let end_index = JobEnd::ALL.iter().position(|e| *e == end).unwrap_or(0);
        match self.file_type_index(file_type) {
            Some((ends, _)) => ends[end_index].increment(1),
            None => self
                .counter(
                    names::FILES_PROCESSED,
                    vec![
                        Label::new("file_type", file_type.to_owned()),
                        Label::new("outcome", end.as_str()),
                    ],
                )
                .increment(1),
        }
    }

    /// One processing attempt of a `file_type` file took `seconds` (whatever its outcome).
    pub fn processing_time(&self, file_type: &str, seconds: f64) {
        match self.file_type_index(file_type) {
            Some((_, duration)) => duration.record(seconds),
            None => self
                .histogram(
                    names::PROCESSING_DURATION,
                    vec![Label::new("file_type", file_type.to_owned())],
                )
                .record(seconds),
        }
    }

    fn file_type_index(&self, file_type: &str) -> Option<&([Counter; 3], Histogram)> {
        let i = FileType::ALL.iter().position(|t| t.as_str() == file_type)?;
        self.0.processed.get(i)
    }

    /// A processing attempt failed with `code`.
    pub fn processing_error(&self, code: &str) {
        self.counter(
            names::PROCESSING_ERRORS,
            vec![Label::new("code", code.to_owned())],
        )
        .increment(1);
    }

    /// A failed attempt was queued again.
    pub fn job_retried(&self) {
        self.0.job_retries.increment(1);
    }

    /// A job was claimed after its previous worker's lease expired.
    pub fn lease_expired(&self) {
        self.0.leases_expired.increment(1);
    }

    /// A worker started (idle until it claims a job).
    pub fn worker_started(&self) {
        self.0.workers_idle.increment(1.0);
    }

    /// A worker stopped (it was idle).
    pub fn worker_stopped(&self) {
        self.0.workers_idle.decrement(1.0);
    }

    /// A worker took a job (`true`) or finished it (`false`).
    pub fn worker_busy(&self, busy: bool) {
        let (from, to) = if busy {
            (&self.0.workers_idle, &self.0.workers_running)
        } else {
            (&self.0.workers_running, &self.0.workers_idle)
        };
        from.decrement(1.0);
        to.increment(1.0);
    }

    /// The number of queued jobs, as last read from the catalog.
    pub fn set_queue_depth(&self, jobs: u64) {
        self.0.queue_depth.set(jobs as f64);
    }

    /// A WebSocket connection opened (`true`) or closed (`false`).
    pub fn websocket_open(&self, open: bool) {
        if open {
            self.0.ws_connections.increment(1.0);
        } else {
            self.0.ws_connections.decrement(1.0);
        }
    }

    /// A WebSocket message was sent.
    pub fn websocket_sent(&self) {
        self.0.ws_sent.increment(1);
    }

    /// A WebSocket message was received.
    pub fn websocket_received(&self) {
        self.0.ws_received.increment(1);
    }

    /// clamd gave a verdict, or none.
    pub fn virus_scan(&self, outcome: ScanOutcome) {
        let i = match outcome {
            ScanOutcome::Clean => 0,
            ScanOutcome::Infected => 1,
            ScanOutcome::Error => 2,
        };
        self.0.scans[i].increment(1);
    }

    /// A cache lookup hit or missed.
    pub fn cache_lookup(&self, cache: CacheName, hit: bool) {
        let c = match cache {
            CacheName::Result => 0,
            CacheName::File => 1,
        };
        self.0.cache[c][usize::from(!hit)].increment(1);
    }

    /// What `/ready` answered: ready or degraded (`true`), not ready (`false`).
    pub fn set_ready(&self, ready: bool) {
        self.0.ready.set(if ready { 1.0 } else { 0.0 });
    }

    /// Refresh the process collector and render every series in the Prometheus text format
    /// (version 0.0.4).
    pub fn render(&self) -> String {
        ::metrics::with_local_recorder(&self.0.recorder, || self.0.process.collect());
        self.0.recorder.handle().render()
    }

    /// Fold recorded histogram samples into their buckets every few seconds until `stop`.
    pub fn spawn_upkeep(&self, stop: CancellationToken) {
        let handle = self.0.recorder.handle();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_PERIOD);
            loop {
                tokio::select! {
                    _ = tick.tick() => handle.run_upkeep(),
                    () = stop.cancelled() => return,
                }
            }
        });
    }
}

fn static_key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::new(*k, *v))
            .collect::<Vec<_>>(),
    )
}
