//! Upload throughput on loopback, and the server's memory while it runs, for the three upload
//! paths: multipart (`POST /api/v1/files/upload`), chunked (5 MiB parts through
//! `/api/v1/files/upload/{init,chunk,complete}`) and tus 1.0 (8 MiB PATCHes on `/api/v1/tus/`).
//!
//! The bench starts the release server binary as a child process on a free port, with SQLite and
//! local files in a fresh temporary directory, and uploads a payload generated on the fly
//! (deterministic CSV lines from a seeded generator, streamed, never held whole in memory) through
//! each path, `--runs` times in a rotating order. It checks that the server's `sha256` and `size`
//! are those of the bytes sent, samples the server's `VmRSS` every 20 ms (and reads its `VmHWM`,
//! reset before each upload), deletes the file, and prints Markdown tables.
//!
//! ```text
//! make upload-bench
//! cargo build --release -p fileproc && \
//!   cargo run --release -p fileproc --example upload_bench -- [--bin PATH] [--size 1GiB]
//!   [--runs 3] [--dir DIR] [--paths multipart,chunked,tus] [--env KEY=VALUE]...
//! ```
//!
//! `--bin` defaults to the `fileproc` binary beside this example's own (`<target>/release/`),
//! then `target/release/fileproc`. `--size` takes bytes or a number with KiB, MiB, GiB (powers of
//! 1024) or KB, MB, GB (powers of 1000); the default is 1 GiB. `--dir` is where the temporary
//! directory goes (default the system's); it needs about twice the size free. `--env` (repeatable)
//! sets a server variable, e.g. `--env STORAGE_ENCRYPTION_KEY=$(openssl rand -base64 32)` to
//! measure with encryption at rest; the report names the variables, never their values.

mod bench_support;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use base64::Engine as _;
use bench_support::{
    Server, clock_ticks_per_second, cpu_ticks, default_bin, kib_mb, machine, median, min_max,
    proc_status_kib, reset_hwm, splitmix,
};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Part size of the chunked path.
const CHUNK_SIZE: u64 = 5 * 1024 * 1024;
/// Body size of a tus PATCH.
const TUS_PATCH: u64 = 8 * 1024 * 1024;
/// Most bytes the generator hands to the HTTP client at once.
const STREAM_CHUNK: usize = 128 * 1024;
/// How often the server's RSS is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// Bytes of distinct CSV lines the payload is drawn from.
const POOL_SIZE: usize = 4 * 1024 * 1024;
/// The generator's seed: every run sends the same bytes.
const SEED: u64 = 0x0F11_E9C0_BE4C_4B1D;
/// The header line of the generated CSV.
const CSV_HEADER: &str = "id,customer,city,amount,currency,created_at,status\n";
const GIB: u64 = 1024 * 1024 * 1024;
const MB: f64 = 1_000_000.0;
const MIB: f64 = 1_048_576.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadPath {
    Multipart,
    Chunked,
    Tus,
}

impl UploadPath {
    const ALL: [UploadPath; 3] = [UploadPath::Multipart, UploadPath::Chunked, UploadPath::Tus];

    fn name(self) -> &'static str {
        match self {
            UploadPath::Multipart => "multipart",
            UploadPath::Chunked => "chunked (5 MiB parts)",
            UploadPath::Tus => "tus (8 MiB PATCHes)",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "multipart" => Some(UploadPath::Multipart),
            "chunked" => Some(UploadPath::Chunked),
            "tus" => Some(UploadPath::Tus),
            _ => None,
        }
    }
}

struct Args {
    bin: PathBuf,
    size: u64,
    runs: usize,
    dir: PathBuf,
    paths: Vec<UploadPath>,
    /// Extra server variables (`--env KEY=VALUE`).
    env: Vec<(String, String)>,
}

fn usage() -> &'static str {
    "usage: upload_bench [--bin PATH] [--size 1GiB] [--runs 3] [--dir DIR] \
     [--paths multipart,chunked,tus] [--env KEY=VALUE]..."
}

fn parse_args() -> Result<Args> {
    let mut bin = None;
    let mut size = GIB;
    let mut runs = 3;
    let mut dir = std::env::temp_dir();
    let mut paths = UploadPath::ALL.to_vec();
    let mut env = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            println!("{}", usage());
            std::process::exit(0);
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| anyhow!("{flag} needs a value\n{}", usage()))?,
        };
        match flag.as_str() {
            "--bin" => bin = Some(PathBuf::from(value)),
            "--size" => size = parse_size(&value)?,
            "--runs" => {
                runs =
                    value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        anyhow!("--runs must be a positive integer, not {value:?}")
                    })?;
            }
            "--dir" => dir = PathBuf::from(value),
            "--env" => {
                let (key, value) = value
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--env takes KEY=VALUE, not {value:?}"))?;
                env.push((key.to_owned(), value.to_owned()));
            }
            "--paths" => {
                paths = value
                    .split(',')
                    .map(|p| {
                        UploadPath::parse(p).ok_or_else(|| {
                            anyhow!("unknown path {p:?}: use multipart, chunked or tus")
                        })
                    })
                    .collect::<Result<_>>()?;
            }
            _ => bail!("unknown argument {arg:?}\n{}", usage()),
        }
    }
    ensure!(size > 0, "--size must be above 0");
    let bin = match bin {
        Some(b) => b,
        None => default_bin(),
    };
    ensure!(
        bin.is_file(),
        "no server binary at {}: build it with `cargo build --release -p fileproc` or pass --bin",
        bin.display()
    );
    Ok(Args {
        bin,
        size,
        runs,
        dir,
        paths,
        env,
    })
}

fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{s:?} is not a size"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => bail!("unknown size unit {other:?} in {s:?}"),
    };
    n.checked_mul(factor)
        .ok_or_else(|| anyhow!("{s:?} is too large"))
}

// ---------------------------------------------------------------------------------------------
// The payload.

/// The payload of one upload: `size` bytes of CSV, a header line then records. The records are
/// drawn from a pool of distinct lines at seeded positions and handed out as zero-copy slices of
/// it, so producing them costs the bench next to nothing; every byte handed out is hashed.
struct Payload {
    pool: Bytes,
    /// Offsets of the pool's line starts, ascending, ending with `pool.len()`.
    starts: Vec<usize>,
    rng: u64,
    pos: usize,
    /// `pos` is at the end of a line: the next chunk starts at a random line.
    jump: bool,
    left: u64,
    sent: u64,
    hasher: Sha256,
}

impl Payload {
    fn new(size: u64) -> Payload {
        let mut rng = SEED;
        let mut text = String::with_capacity(POOL_SIZE + 256);
        let mut starts = vec![0];
        text.push_str(CSV_HEADER);
        const FIRST: [&str; 8] = [
            "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
        ];
        const LAST: [&str; 8] = [
            "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        ];
        const CITY: [&str; 6] = ["Paris", "Lyon", "Berlin", "Oslo", "Porto", "Zurich"];
        const CURRENCY: [&str; 3] = ["EUR", "USD", "CHF"];
        const STATUS: [&str; 4] = ["paid", "pending", "refunded", "failed"];
        let mut id: u64 = 1;
        while text.len() < POOL_SIZE {
            starts.push(text.len());
            let r = splitmix(&mut rng);
            let pick = |shift: u32, n: usize| ((r >> shift) as usize) % n;
            let t = splitmix(&mut rng);
            // Writing to a String cannot fail.
            let _ = writeln!(
                text,
                "{id},{} {},{},{}.{:02},{},2024-{:02}-{:02}T{:02}:{:02}:{:02}Z,{}",
                FIRST[pick(0, FIRST.len())],
                LAST[pick(8, LAST.len())],
                CITY[pick(16, CITY.len())],
                (t >> 20) % 100_000,
                (t >> 4) % 100,
                CURRENCY[pick(24, CURRENCY.len())],
                1 + (t >> 40) % 12,
                1 + (t >> 44) % 28,
                (t >> 50) % 24,
                (t >> 54) % 60,
                (t >> 58) % 60,
                STATUS[pick(32, STATUS.len())],
            );
            id += 1;
        }
        starts.push(text.len());
        Payload {
            pool: Bytes::from(text),
            starts,
            rng,
            pos: 0,
            jump: false,
            left: size,
            sent: 0,
            hasher: Sha256::new(),
        }
    }

    /// The next bytes, at most `max` of them (and at most [`STREAM_CHUNK`]); `None` at the end.
    fn next_chunk(&mut self, max: u64) -> Option<Bytes> {
        let max = usize::try_from(max.min(self.left)).unwrap_or(usize::MAX);
        if max == 0 {
            return None;
        }
        if self.jump {
            // Any record line: not the header (index 0), not the end marker.
            let records = (self.starts.len() - 2) as u64;
            let i = 1 + usize::try_from(splitmix(&mut self.rng) % records).unwrap_or(0);
            self.pos = self.starts[i];
        }
        let limit = (self.pos + STREAM_CHUNK).min(self.pool.len());
        // End on the last line start at or before `limit` when there is one past `pos`.
        let aligned = self.starts[self.starts.partition_point(|&s| s <= limit) - 1];
        let end = if aligned > self.pos { aligned } else { limit }.min(self.pos + max);
        let chunk = self.pool.slice(self.pos..end);
        self.jump = self.starts.binary_search(&end).is_ok();
        self.pos = end;
        self.left -= chunk.len() as u64;
        self.sent += chunk.len() as u64;
        self.hasher.update(&chunk);
        Some(chunk)
    }

    /// Bytes handed out and their hex SHA-256.
    fn digest(&self) -> (u64, String) {
        (self.sent, hex::encode(self.hasher.clone().finalize()))
    }
}

type Shared = Arc<Mutex<Payload>>;

/// The next `len` bytes of `payload` as a request body.
fn body(payload: &Shared, len: u64) -> reqwest::Body {
    let payload = Arc::clone(payload);
    let stream = futures::stream::unfold(len, move |left| {
        let payload = Arc::clone(&payload);
        async move {
            let chunk = payload
                .lock()
                .expect("payload lock poisoned")
                .next_chunk(left)?;
            let n = chunk.len() as u64;
            Some((Ok::<_, std::io::Error>(chunk), left - n))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

// ---------------------------------------------------------------------------------------------
// The server process and its memory.

/// Reads a process's `VmRSS` every [`SAMPLE_EVERY`] on its own thread until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            loop {
                if let Some(rss) = proc_status_kib(pid, "VmRSS:") {
                    peak = peak.max(rss);
                    samples += 1;
                }
                if flag.load(Ordering::Relaxed) {
                    return (peak, samples);
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        Sampler { stop, thread }
    }

    /// The highest RSS seen (KiB) and the number of samples.
    fn finish(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// Bytes of the files under `path`.
fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Free bytes where `path` is, from `df` (`None` if it cannot tell).
fn free_bytes(path: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(path).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

// ---------------------------------------------------------------------------------------------
// The three paths.

/// What an upload returned.
struct Uploaded {
    file_id: String,
    /// The file object (for tus, as `GET /api/v1/files/{id}` shows it after the last PATCH).
    file: Value,
    /// Time of the final request (complete, or the last PATCH), which assembles the parts.
    finalize: Option<Duration>,
}

async fn json_of(resp: reqwest::Response, what: &str, expected: StatusCode) -> Result<Value> {
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading the answer to {what}"))?;
    ensure!(
        status == expected,
        "{what}: {status} (expected {expected}): {text}"
    );
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

fn str_field<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{what}: no string {key:?} in {v}"))
}

fn u64_field(v: &Value, key: &str, what: &str) -> Result<u64> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("{what}: no integer {key:?} in {v}"))
}

async fn upload_multipart(
    client: &reqwest::Client,
    base: &str,
    payload: &Shared,
    size: u64,
) -> Result<Uploaded> {
    let part = reqwest::multipart::Part::stream_with_length(body(payload, size), size)
        .file_name("bench.csv")
        .mime_str("text/csv")?;
    let form = reqwest::multipart::Form::new()
        .text("auto_process", "false")
        .part("file", part);
    let resp = client
        .post(format!("{base}/api/v1/files/upload"))
        .multipart(form)
        .send()
        .await
        .context("multipart upload")?;
    let file = json_of(resp, "multipart upload", StatusCode::CREATED).await?;
    Ok(Uploaded {
        file_id: str_field(&file, "file_id", "multipart upload")?.to_owned(),
        file,
        finalize: None,
    })
}

async fn upload_chunked(
    client: &reqwest::Client,
    base: &str,
    payload: &Shared,
    size: u64,
) -> Result<Uploaded> {
    let init = client
        .post(format!("{base}/api/v1/files/upload/init"))
        .json(&serde_json::json!({
            "filename": "bench.csv",
            "size": size,
            "chunk_size": CHUNK_SIZE,
            "auto_process": false,
        }))
        .send()
        .await
        .context("init")?;
    let init = json_of(init, "init", StatusCode::CREATED).await?;
    let file_id = str_field(&init, "file_id", "init")?.to_owned();
    let upload_id = str_field(&init, "upload_id", "init")?.to_owned();
    let chunk_size = u64_field(&init, "chunk_size", "init")?;
    let total = u64_field(&init, "total_chunks", "init")?;
    ensure!(
        chunk_size == CHUNK_SIZE && total == size.div_ceil(CHUNK_SIZE),
        "init answered chunk_size {chunk_size} and total_chunks {total} for {size} bytes"
    );
    let mut parts = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for k in 1..=total {
        let len = if k < total {
            chunk_size
        } else {
            size - (total - 1) * chunk_size
        };
        let what = format!("part {k}/{total}");
        let resp = client
            .put(format!(
                "{base}/api/v1/files/upload/{file_id}/chunk?upload_id={upload_id}&chunk_number={k}"
            ))
            .header(CONTENT_LENGTH, len)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body(payload, len))
            .send()
            .await
            .with_context(|| what.clone())?;
        let part = json_of(resp, &what, StatusCode::OK).await?;
        ensure!(
            u64_field(&part, "part_number", &what)? == k && u64_field(&part, "size", &what)? == len,
            "{what}: answered {part}"
        );
        parts.push(serde_json::json!({
            "part_number": k,
            "etag": str_field(&part, "etag", &what)?,
        }));
    }
    let started = Instant::now();
    let resp = client
        .post(format!("{base}/api/v1/files/upload/{file_id}/complete"))
        .json(&serde_json::json!({ "upload_id": upload_id, "parts": parts }))
        .send()
        .await
        .context("complete")?;
    let file = json_of(resp, "complete", StatusCode::OK).await?;
    Ok(Uploaded {
        file_id,
        file,
        finalize: Some(started.elapsed()),
    })
}

async fn upload_tus(
    client: &reqwest::Client,
    base: &str,
    payload: &Shared,
    size: u64,
) -> Result<Uploaded> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let resp = client
        .post(format!("{base}/api/v1/tus/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", size)
        .header(
            "Upload-Metadata",
            format!(
                "filename {},auto_process {}",
                b64("bench.csv"),
                b64("false")
            ),
        )
        .send()
        .await
        .context("tus creation")?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(location) = location.filter(|_| status == StatusCode::CREATED) else {
        let text = resp.text().await.unwrap_or_default();
        bail!("tus creation: {status} without a Location: {text}");
    };
    let file_id = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let url = if location.starts_with("http") {
        location.clone()
    } else {
        format!("{base}{location}")
    };
    let mut offset = 0;
    let mut last = Duration::ZERO;
    while offset < size {
        let len = TUS_PATCH.min(size - offset);
        let started = Instant::now();
        let resp = client
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header(CONTENT_TYPE, "application/offset+octet-stream")
            .header("Upload-Offset", offset)
            .header(CONTENT_LENGTH, len)
            .body(body(payload, len))
            .send()
            .await
            .with_context(|| format!("PATCH at {offset}"))?;
        let status = resp.status();
        let new_offset = resp
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if status != StatusCode::NO_CONTENT || new_offset != Some(offset + len) {
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "PATCH at {offset} ({len} bytes): {status}, Upload-Offset {new_offset:?}: {text}"
            );
        }
        last = started.elapsed();
        offset += len;
    }
    let resp = client
        .get(format!("{base}/api/v1/files/{file_id}"))
        .send()
        .await
        .context("reading the tus file")?;
    let file = json_of(resp, "GET the tus file", StatusCode::OK).await?;
    Ok(Uploaded {
        file_id,
        file,
        finalize: Some(last),
    })
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// One upload measured.
struct Run {
    path: UploadPath,
    round: usize,
    seconds: f64,
    finalize: Option<f64>,
    server_cpu: f64,
    idle_kib: u64,
    peak_kib: u64,
    /// `VmHWM` after the upload, reset before it (`None` if the reset failed).
    hwm_kib: Option<u64>,
    after_kib: u64,
    samples: usize,
    /// Bytes under the storage directory once the upload answered.
    stored: u64,
    /// Bytes left under it after the DELETE.
    leftover: u64,
    /// SHA-256 of the payload, as both sides computed it.
    sha256: String,
}

struct Bench {
    client: reqwest::Client,
    server: Server,
    files: PathBuf,
    size: u64,
    ticks: f64,
}

impl Bench {
    async fn run(&self, path: UploadPath, round: usize) -> Result<Run> {
        let pid = self.server.pid;
        let base = &self.server.base;
        let payload: Shared = Arc::new(Mutex::new(Payload::new(self.size)));
        let idle_kib = self.server.rss_kib();
        let hwm_reset = reset_hwm(pid);
        let cpu_before = cpu_ticks(pid).unwrap_or(0);
        let sampler = Sampler::start(pid);
        let started = Instant::now();
        let uploaded = match path {
            UploadPath::Multipart => {
                upload_multipart(&self.client, base, &payload, self.size).await
            }
            UploadPath::Chunked => upload_chunked(&self.client, base, &payload, self.size).await,
            UploadPath::Tus => upload_tus(&self.client, base, &payload, self.size).await,
        };
        let elapsed = started.elapsed();
        let (peak_kib, samples) = sampler.finish();
        let cpu_after = cpu_ticks(pid).unwrap_or(0);
        let hwm_kib = if hwm_reset {
            proc_status_kib(pid, "VmHWM:")
        } else {
            None
        };
        let after_kib = self.server.rss_kib();
        let uploaded = uploaded.with_context(|| format!("{} upload", path.name()))?;
        let stored = dir_bytes(&self.files);

        let (sent, sha256) = payload.lock().expect("payload lock poisoned").digest();
        ensure!(
            sent == self.size,
            "{}: sent {sent} bytes, not {}",
            path.name(),
            self.size
        );
        let what = format!("{} file", path.name());
        let their_sha = str_field(&uploaded.file, "sha256", &what)?;
        let their_size = u64_field(&uploaded.file, "size", &what)?;
        ensure!(
            their_sha == sha256 && their_size == self.size,
            "{}: the server reports sha256 {their_sha} and size {their_size}, the bench sent \
             {sha256} and {}",
            path.name(),
            self.size
        );

        let resp = self
            .client
            .delete(format!("{base}/api/v1/files/{}", uploaded.file_id))
            .send()
            .await
            .context("DELETE")?;
        ensure!(
            resp.status() == StatusCode::NO_CONTENT,
            "DELETE {}: {}",
            uploaded.file_id,
            resp.status()
        );
        let leftover = dir_bytes(&self.files);
        Ok(Run {
            path,
            round,
            seconds: elapsed.as_secs_f64(),
            finalize: uploaded.finalize.map(|d| d.as_secs_f64()),
            server_cpu: cpu_after.saturating_sub(cpu_before) as f64 / self.ticks,
            idle_kib,
            peak_kib,
            hwm_kib,
            after_kib,
            samples,
            stored,
            leftover,
            sha256,
        })
    }
}

fn size_label(size: u64) -> String {
    if size.is_multiple_of(GIB) {
        format!("{} GiB", size / GIB)
    } else if size.is_multiple_of(1 << 20) {
        format!("{} MiB", size >> 20)
    } else {
        format!("{size} B")
    }
}

fn report(runs: &[Run], paths: &[UploadPath], size: u64) -> String {
    let mut out = String::new();
    let label = size_label(size);
    let _ = writeln!(
        out,
        "| path | size | runs | seconds, median [min–max] | MB/s, median [min–max] | MiB/s, median \
         | finalize s, median | server CPU s, median | peak RSS MB, median [max] | VmHWM MB, max \
         | idle RSS before MB, median |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &path in paths {
        let of: Vec<&Run> = runs.iter().filter(|r| r.path == path).collect();
        if of.is_empty() {
            continue;
        }
        let secs: Vec<f64> = of.iter().map(|r| r.seconds).collect();
        let mbps: Vec<f64> = secs.iter().map(|s| size as f64 / MB / s).collect();
        let mibps: Vec<f64> = secs.iter().map(|s| size as f64 / MIB / s).collect();
        let (s_lo, s_hi) = min_max(&secs);
        let (m_lo, m_hi) = min_max(&mbps);
        let finalize: Vec<f64> = of.iter().filter_map(|r| r.finalize).collect();
        let finalize = if finalize.is_empty() {
            "–".to_owned()
        } else {
            format!("{:.2}", median(finalize))
        };
        let cpu = median(of.iter().map(|r| r.server_cpu).collect());
        let peaks: Vec<f64> = of.iter().map(|r| kib_mb(r.peak_kib)).collect();
        let (_, peak_hi) = min_max(&peaks);
        let hwm = of
            .iter()
            .filter_map(|r| r.hwm_kib)
            .max()
            .map_or("–".to_owned(), |h| format!("{:.1}", kib_mb(h)));
        let idle = median(of.iter().map(|r| kib_mb(r.idle_kib)).collect());
        let _ = writeln!(
            out,
            "| {} | {label} | {} | {:.2} [{s_lo:.2}–{s_hi:.2}] | {:.1} [{m_lo:.1}–{m_hi:.1}] \
             | {:.1} | {finalize} | {cpu:.2} | {:.1} [{peak_hi:.1}] | {hwm} | {idle:.1} |",
            path.name(),
            of.len(),
            median(secs.clone()),
            median(mbps),
            median(mibps),
            median(peaks),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Every run, in the order run:");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| round | path | seconds | MB/s | finalize s | server CPU s | idle RSS MB | peak RSS MB \
         (samples) | VmHWM MB | RSS after MB | stored MB | left after DELETE |"
    );
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.1} | {} | {:.2} | {:.1} | {:.1} ({}) | {} | {:.1} | {:.1} | {} B |",
            r.round,
            r.path.name(),
            r.seconds,
            size as f64 / MB / r.seconds,
            r.finalize.map_or("–".to_owned(), |f| format!("{f:.2}")),
            r.server_cpu,
            kib_mb(r.idle_kib),
            kib_mb(r.peak_kib),
            r.samples,
            r.hwm_kib
                .map_or("–".to_owned(), |h| format!("{:.1}", kib_mb(h))),
            kib_mb(r.after_kib),
            r.stored as f64 / MB,
            r.leftover,
        );
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    // The chunked and tus paths hold the parts and the assembled file at once.
    let needed = args.size.saturating_mul(2) + 256 * 1024 * 1024;
    if let Some(free) = free_bytes(&args.dir) {
        ensure!(
            free >= needed,
            "{} has {:.1} GB free; the bench needs about {:.1} GB (2 × --size)",
            args.dir.display(),
            free as f64 / 1e9,
            needed as f64 / 1e9
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("upload-bench-")
        .tempdir_in(&args.dir)
        .context("creating the temporary directory")?;
    eprintln!(
        "server {}, data in {}, payload {} ({} bytes), {} runs per path",
        args.bin.display(),
        tmp.path().display(),
        size_label(args.size),
        args.size,
        args.runs
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let dir = tmp.path();
    // Room for the payload whatever --size says, and at least 2 GiB; SQLite and local files in
    // the temporary directory; then the --env settings, which may override these.
    let mut env = vec![
        (
            "SERVER_MAX_UPLOAD_SIZE".to_owned(),
            args.size.max(2 * GIB).to_string(),
        ),
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite:{}", dir.join("fileproc.db").display()),
        ),
        (
            "LOCAL_STORAGE_PATH".to_owned(),
            dir.join("files").display().to_string(),
        ),
    ];
    env.extend(args.env.iter().cloned());
    let mut server = Server::start(&args.bin, dir, &env)?;
    server.wait_healthy(&client).await?;
    let startup_kib = server.rss_kib();
    let mut bench = Bench {
        client,
        server,
        files: tmp.path().join("files"),
        size: args.size,
        ticks: clock_ticks_per_second(),
    };

    let mut runs = Vec::new();
    let mut expected_sha = None;
    for round in 1..=args.runs {
        // Rotate the order each round so no path always runs first (or on a warm page cache).
        let mut order = args.paths.clone();
        let n = order.len();
        order.rotate_left((round - 1) % n);
        for path in order {
            eprint!("round {round}: {:<24}", path.name());
            let run = bench.run(path, round).await?;
            eprintln!(
                " {:7.2} s {:7.1} MB/s  peak RSS {:6.1} MB  server CPU {:.2} s",
                run.seconds,
                args.size as f64 / MB / run.seconds,
                kib_mb(run.peak_kib),
                run.server_cpu
            );
            if expected_sha.is_none() {
                expected_sha = Some(run.sha256.clone());
            }
            runs.push(run);
        }
    }
    let final_kib = bench.server.rss_kib();
    bench.server.stop();
    let warnings = bench.server.log_tail(30);

    println!();
    println!(
        "Upload bench: {} ({} bytes) per upload over loopback, one connection, {} runs per path; \
         machine: {}.",
        size_label(args.size),
        args.size,
        args.runs,
        machine()
    );
    if !args.env.is_empty() {
        let names: Vec<&str> = args.env.iter().map(|(k, _)| k.as_str()).collect();
        println!("Server variables set: {}.", names.join(", "));
    }
    println!(
        "Payload SHA-256 (every run, checked against the server's): {}.",
        expected_sha.unwrap_or_default()
    );
    println!(
        "MB = 10^6 bytes, MiB = 2^20. Seconds run from the first request to the final answer \
         (complete, or the last PATCH; for tus the file is then read back for its sha256, \
         untimed). finalize = the final request alone (it assembles the parts). Peak RSS is the \
         highest of VmRSS samples every {} ms; VmHWM is the kernel's peak, reset before each \
         upload. Server RSS after start-up {:.1} MB, at the end {:.1} MB.",
        SAMPLE_EVERY.as_millis(),
        kib_mb(startup_kib),
        kib_mb(final_kib)
    );
    println!();
    print!("{}", report(&runs, &args.paths, args.size));
    if !warnings.trim().is_empty() {
        println!();
        println!("Server log (warnings and errors, last 30 lines):");
        println!("```");
        println!("{warnings}");
        println!("```");
    }
    drop(bench);
    tmp.close().context("removing the temporary directory")?;
    Ok(())
}
