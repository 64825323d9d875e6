//! End to end: `fileproc serve` (the release binary, a child process) on the embedded default
//! (SQLite + local disk in a fresh directory), driven over loopback like a client would:
//!
//! - a CSV of 1, 10, 100 MB and 1 GB: multipart upload (streamed from the file), then the
//!   `completed` event on `/ws`, then `GET /result`: the latency of each part, and the server's
//!   peak RSS (`VmHWM`, reset before each file, and `VmRSS` sampled every 20 ms);
//! - small CSVs (20 records each) from 10 and 100 concurrent clients, each uploading its next
//!   file once the last one is `completed`: files/s and the latency of each file, upload start
//!   → its `completed` event.
//!
//! Completion comes from one WebSocket watching every file, so no client polls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use futures::StreamExt as _;
use reqwest::StatusCode;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::bench_support::{
    Sampler, Server, clock_ticks_per_second, cpu_ticks, kib_mb, median, percentile,
    proc_status_kib, reset_hwm, small_csv, upload_csv, upload_part,
};
use crate::profile;

/// Longest one file may take from its upload to its last event.
const FILE_TIMEOUT: Duration = Duration::from_secs(600);

/// How a file's processing ended, and when its event arrived.
#[derive(Debug, Clone)]
struct Outcome {
    at: Instant,
    error: Option<String>,
}

/// One `/ws` connection watching every file: terminal events by file id.
#[derive(Clone)]
struct Watcher {
    done: Arc<Mutex<HashMap<String, Outcome>>>,
    notify: Arc<Notify>,
    /// Set when the WebSocket ends (the server went away): waiting stops at once.
    closed: Arc<std::sync::atomic::AtomicBool>,
}

impl Watcher {
    async fn connect(port: u16) -> Result<Watcher> {
        let url = format!("ws://127.0.0.1:{port}/ws");
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .with_context(|| format!("connecting to {url}"))?;
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains("\"connected\"") => {}
            other => bail!("the WebSocket's first frame was {other:?}"),
        }
        let watcher = Watcher {
            done: Arc::default(),
            notify: Arc::default(),
            closed: Arc::default(),
        };
        let w = watcher.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let text = text.as_str();
                if !(text.contains("\"completed\"") || text.contains("\"error\"")) {
                    continue;
                }
                let at = Instant::now();
                let Ok(frame) = serde_json::from_str::<serde_json::Value>(text) else {
                    continue;
                };
                let error = match frame["type"].as_str() {
                    Some("completed") => None,
                    Some("error") => Some(frame["error"].to_string()),
                    _ => continue,
                };
                let Some(id) = frame["file_id"].as_str() else {
                    continue;
                };
                if let Ok(mut done) = w.done.lock() {
                    done.insert(id.to_owned(), Outcome { at, error });
                }
                w.notify.notify_waiters();
            }
            w.closed.store(true, Ordering::SeqCst);
            w.notify.notify_waiters();
        });
        Ok(watcher)
    }

    /// Waits for `file_id`'s terminal event: when it came, or the file's error.
    async fn wait(&self, file_id: &str) -> Result<Instant> {
        let deadline = Instant::now() + FILE_TIMEOUT;
        loop {
            let notified = self.notify.notified();
            let outcome = self
                .done
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .remove(file_id);
            if let Some(outcome) = outcome {
                return match outcome.error {
                    None => Ok(outcome.at),
                    Some(error) => bail!("file {file_id} failed: {error}"),
                };
            }
            ensure!(
                !self.closed.load(Ordering::SeqCst),
                "the server's WebSocket closed while {file_id} was waited for: did the server \
                 exit? (its log is server.log in the --work directory)"
            );
            let left = deadline.saturating_duration_since(Instant::now());
            ensure!(!left.is_zero(), "no terminal event for {file_id}");
            let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), notified).await;
        }
    }
}

/// A running server and its client side.
pub struct Service {
    pub server: Server,
    /// The server's RSS once it answers `/health` and the WebSocket is open, before any file, MB.
    pub idle_rss_mb: f64,
    client: reqwest::Client,
    watcher: Watcher,
    _dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Service {
    /// Starts `bin serve` on the embedded default in a new directory under `work`, with the
    /// CPU profile endpoint on and uploads up to 2 GiB.
    pub async fn start(bin: &Path, work: &Path) -> Result<Service> {
        Self::start_with(bin, work, &[]).await
    }

    /// [`Service::start`] with `extra` variables on top (e.g. `STORAGE_COMPRESSION_LEVEL`).
    pub async fn start_with(bin: &Path, work: &Path, extra: &[(&str, &str)]) -> Result<Service> {
        // One directory per service, several services may run at once.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = work.join(format!("e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        // Removed on every way out, a server that does not start included.
        let guard = TempDir(dir.clone());
        let env: Vec<(String, String)> = [
            (
                "DATABASE_URL",
                format!("sqlite:{}", dir.join("fileproc.db").display()),
            ),
            (
                "LOCAL_STORAGE_PATH",
                dir.join("files").display().to_string(),
            ),
            ("SERVER_MAX_UPLOAD_SIZE", "2GiB".to_owned()),
            ("MONITORING_PPROF_ENABLED", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .collect();
        let mut server = Server::start(bin, &dir, &env)?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        server.wait_healthy(&client).await?;
        let watcher = Watcher::connect(server.port).await?;
        let idle_rss_mb = kib_mb(server.rss_kib());
        Ok(Service {
            server,
            idle_rss_mb,
            client,
            watcher,
            _dir: guard,
        })
    }

    async fn delete(&self, file_id: &str) -> Result<()> {
        let resp = self
            .client
            .delete(format!("{}/api/v1/files/{file_id}", self.server.base))
            .send()
            .await?;
        ensure!(
            resp.status().is_success(),
            "DELETE {file_id}: {}",
            resp.status()
        );
        Ok(())
    }

    /// A CPU profile of the server over the next `seconds` (`/debug/pprof/profile`), started now
    /// and collected by awaiting the returned task.
    pub fn profile(&self, seconds: u64) -> tokio::task::JoinHandle<Result<pprof::protos::Profile>> {
        let url = format!("{}/debug/pprof/profile?seconds={seconds}", self.server.base);
        let client = self.client.clone();
        tokio::spawn(async move {
            use pprof::protos::Message as _;
            let resp = client.get(url).send().await?;
            ensure!(
                resp.status() == StatusCode::OK,
                "profile: {}",
                resp.status()
            );
            let bytes = resp.bytes().await?;
            Ok(pprof::protos::Profile::decode(bytes.as_ref())?)
        })
    }
}

/// One large file's way through the service.
#[derive(Debug, Clone, Copy)]
pub struct LargeRun {
    /// Upload start → 201, seconds.
    pub upload_s: f64,
    /// 201 → `completed` event.
    pub process_s: f64,
    /// Upload start → the result read.
    pub total_s: f64,
    /// The server's peak RSS while the file went through, MB.
    pub peak_rss_mb: f64,
    /// Bytes the original took in the store (`storage_info.compressed_size`, else its size).
    pub stored_bytes: u64,
    /// The server's CPU time (user + system) during the upload, seconds: unlike the wall time,
    /// it does not grow when other work shares the machine.
    pub upload_cpu_s: f64,
    /// The server's CPU time from the 201 to the `completed` event, seconds.
    pub process_cpu_s: f64,
}

/// Multipart upload of `path` streamed from disk; the file id.
async fn upload_path(client: &reqwest::Client, base: &str, path: &Path) -> Result<String> {
    let file = tokio::fs::File::open(path).await?;
    let length = file.metadata().await?.len();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("data.csv");
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), length);
    upload_part(client, base, name, part).await
}

/// The first `row_count` anywhere in a result.
fn row_count(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Object(map) => map
            .get("row_count")
            .and_then(serde_json::Value::as_u64)
            .or_else(|| map.values().find_map(row_count)),
        serde_json::Value::Array(items) => items.iter().find_map(row_count),
        _ => None,
    }
}

/// Uploads the CSV at `path`, waits for it to be processed, reads its result (which must count
/// `records`) and deletes it.
pub async fn large_csv(service: &Service, path: &Path, records: u64) -> Result<LargeRun> {
    let pid = service.server.pid;
    let hwm_reset = reset_hwm(pid);
    let sampler = Sampler::start(pid);
    let cpu = || cpu_ticks(pid).unwrap_or(0) as f64 / clock_ticks_per_second();
    let cpu_started = cpu();
    let started = Instant::now();
    let base = &service.server.base;
    let file_id = upload_path(&service.client, base, path).await?;
    let uploaded = Instant::now();
    let cpu_uploaded = cpu();
    let completed = service.watcher.wait(&file_id).await?;
    let cpu_completed = cpu();
    let resp = service
        .client
        .get(format!("{base}/api/v1/files/{file_id}/result"))
        .send()
        .await?;
    ensure!(resp.status() == StatusCode::OK, "result: {}", resp.status());
    let result: serde_json::Value = resp.json().await?;
    let total = started.elapsed();
    let (sampled_kib, _) = sampler.finish();
    let hwm_kib = if hwm_reset {
        proc_status_kib(pid, "VmHWM:").unwrap_or(0)
    } else {
        0
    };
    ensure!(
        row_count(&result) == Some(records),
        "the result counts {:?} records, the file has {records}",
        row_count(&result)
    );
    let file: serde_json::Value = service
        .client
        .get(format!("{base}/api/v1/files/{file_id}"))
        .send()
        .await?
        .json()
        .await?;
    let info = &file["storage_info"];
    let stored_bytes = info["compressed_size"]
        .as_u64()
        .or_else(|| info["size"].as_u64())
        .unwrap_or(0);
    service.delete(&file_id).await?;
    Ok(LargeRun {
        stored_bytes,
        upload_cpu_s: cpu_uploaded - cpu_started,
        process_cpu_s: cpu_completed - cpu_uploaded,
        upload_s: (uploaded - started).as_secs_f64(),
        process_s: completed.saturating_duration_since(uploaded).as_secs_f64(),
        total_s: total.as_secs_f64(),
        peak_rss_mb: kib_mb(sampled_kib.max(hwm_kib)),
    })
}

/// Small files from concurrent clients, one run.
#[derive(Debug, Clone)]
pub struct SmallRun {
    pub files_per_s: f64,
    /// Upload start → `completed`, ms, sorted.
    pub latencies_ms: Vec<f64>,
    pub peak_rss_mb: f64,
    /// Server CPU per file, ms.
    pub cpu_ms_per_file: f64,
}

/// `files` small CSVs (distinct, 20 records each, seeds from `seed`) from `clients` concurrent
/// clients; every file is deleted afterwards.
pub async fn small_files(
    service: &Service,
    clients: usize,
    files: usize,
    seed: u64,
) -> Result<SmallRun> {
    let bodies: Arc<Vec<String>> =
        Arc::new((0..files as u64).map(|i| small_csv(seed + i, 20)).collect());
    let pid = service.server.pid;
    reset_hwm(pid);
    let sampler = Sampler::start(pid);
    let cpu_before = cpu_ticks(pid).unwrap_or(0);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (next, bodies) = (Arc::clone(&next), Arc::clone(&bodies));
        let client = service.client.clone();
        let base = service.server.base.clone();
        let watcher = service.watcher.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<_, anyhow::Error>(done);
                };
                let t0 = Instant::now();
                let id =
                    upload_csv(&client, &base, &format!("small-{i}.csv"), body.clone()).await?;
                let at = watcher.wait(&id).await?;
                done.push((id, at.saturating_duration_since(t0), at));
            }
        }));
    }
    let mut all = Vec::with_capacity(files);
    for task in tasks {
        all.extend(task.await??);
    }
    let last = all.iter().map(|(_, _, at)| *at).max().unwrap_or(started);
    let elapsed = last.saturating_duration_since(started).as_secs_f64();
    let cpu_s = (cpu_ticks(pid).unwrap_or(0) - cpu_before) as f64 / clock_ticks_per_second();
    let (sampled_kib, _) = sampler.finish();
    let hwm_kib = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
    let mut latencies_ms: Vec<f64> = all
        .iter()
        .map(|(_, l, _)| l.as_secs_f64() * 1000.0)
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    for (id, _, _) in &all {
        service.delete(id).await?;
    }
    Ok(SmallRun {
        files_per_s: files as f64 / elapsed.max(1e-9),
        latencies_ms,
        peak_rss_mb: kib_mb(sampled_kib.max(hwm_kib)),
        cpu_ms_per_file: cpu_s * 1000.0 / files as f64,
    })
}

/// Medians over runs of a small-files measurement: files/s, p50, p99, RSS, CPU per file.
pub fn small_medians(runs: &[SmallRun]) -> (f64, f64, f64, f64, f64) {
    (
        median(runs.iter().map(|r| r.files_per_s).collect()),
        median(
            runs.iter()
                .map(|r| percentile(&r.latencies_ms, 50.0))
                .collect(),
        ),
        median(
            runs.iter()
                .map(|r| percentile(&r.latencies_ms, 99.0))
                .collect(),
        ),
        median(runs.iter().map(|r| r.peak_rss_mb).collect()),
        median(runs.iter().map(|r| r.cpu_ms_per_file).collect()),
    )
}

/// The profile of the server while `work` runs (profile of `seconds`), summed up.
pub async fn profiled<T>(
    service: &Service,
    seconds: u64,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<profile::Summary> {
    let profile = service.profile(seconds);
    work.await?;
    let profile = profile.await??;
    let hz = u32::try_from(1_000_000_000 / profile.period.max(1)).unwrap_or(100);
    Ok(profile::Summary {
        window: Some((seconds, hz)),
        ..profile::summarize(&profile, 15)
    })
}
