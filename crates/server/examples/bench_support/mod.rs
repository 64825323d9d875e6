//! What the `ws_bench` and `small_files_bench` examples share (the approach of `upload_bench`):
//! the release server binary started as a child process on a free port with a clean
//! environment, `/health` awaited, and its memory and CPU read from `/proc`.
//!
//! Not an example itself (a directory without `main.rs` is not one); each bench includes it
//! with `mod bench_support;`, and each uses only part of it.

#![allow(dead_code)]

use anyhow::{Context as _, Result, bail};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the server's RSS is read by a [`Sampler`].
pub const SAMPLE_EVERY: Duration = Duration::from_millis(20);
const MB: f64 = 1_000_000.0;

/// `fileproc` beside the running example (`<target>/<profile>/examples/<name>`), else
/// `target/release/fileproc`.
pub fn default_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("fileproc")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("target/release/fileproc"))
}

/// `VmRSS`, `VmHWM`... of a process, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reset `VmHWM` to the current RSS (`/proc/<pid>/clear_refs`, Linux 4.0+); whether it worked.
pub fn reset_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User plus system CPU time of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The soft and hard `Max open files` of a process, as `/proc/<pid>/limits` shows them.
pub fn proc_nofile(pid: u32) -> Option<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut it = line["Max open files".len()..].split_whitespace();
    Some((it.next()?.to_owned(), it.next()?.to_owned()))
}

/// Open file descriptors of a process (entries of `/proc/<pid>/fd`).
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Threads of a process.
pub fn threads(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "Threads:")
}

/// Reads a process's `VmRSS` every [`SAMPLE_EVERY`] on its own thread until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
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
    pub fn finish(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// The server child process; killed when dropped.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Start `bin serve` on a free port of 127.0.0.1, in `dir` (its working directory, where its
    /// log goes), with a clean environment: `PATH`, `SERVER_HOST`, `SERVER_PORT`,
    /// `LOG_LEVEL=warn`, then `env` (which may override any of them). Resource limits (open
    /// files) are the bench's own, inherited.
    pub fn start(bin: &Path, dir: &Path, env: &[(String, String)]) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port")?
            .port();
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).context("creating the server log")?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            // A clean environment and working directory: no configs/config.yaml, no inherited
            // DB_HOST, REDIS_URL, S3_* or FILEPROC_* that would change the stack measured.
            .env_clear()
            .current_dir(dir)
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", port.to_string())
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        Ok(Server {
            child,
            pid,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// Wait until `/health` answers 200.
    pub async fn wait_healthy(&mut self, client: &reqwest::Client) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before it was healthy; its log:\n{}",
                    self.log_tail(40)
                );
            }
            if let Ok(r) = client.get(format!("{}/health", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the server was not healthy after 60 s; its log:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmRSS:").unwrap_or(0)
    }

    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Lines of the log (warnings and errors, at `LOG_LEVEL=warn`).
    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if !self.running() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit (children inherit it); the
/// soft and hard limits in force afterwards.
pub fn raise_nofile() -> Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(RLIMIT_NOFILE)")?;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    Ok((soft, hard))
}

/// Median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0..=100) of `sorted` by the nearest-rank method (NaN when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}

/// KiB to MB (10^6 bytes).
pub fn kib_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / MB
}

/// CPUs, CPU model, memory and kernel of this machine.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM, Linux {}",
        mem_kib as f64 / (1024.0 * 1024.0),
        kernel.trim()
    )
}

/// 1-minute load average, from `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// SplitMix64: small, fast, deterministic.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small CSV: a header line and `rows` records drawn from `seed` (distinct seeds give
/// distinct contents: the first column holds the seed).
pub fn small_csv(seed: u64, rows: usize) -> String {
    use std::fmt::Write as _;
    const FIRST: [&str; 8] = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
    ];
    const LAST: [&str; 8] = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    ];
    const CITY: [&str; 6] = ["Paris", "Lyon", "Berlin", "Oslo", "Porto", "Zurich"];
    const STATUS: [&str; 4] = ["paid", "pending", "refunded", "failed"];
    let mut rng = seed;
    let mut text = String::from("id,customer,city,amount,currency,created_at,status\n");
    for row in 0..rows {
        let r = splitmix(&mut rng);
        let t = splitmix(&mut rng);
        let pick = |shift: u32, n: usize| ((r >> shift) as usize) % n;
        let _ = writeln!(
            text,
            "{seed}-{row},{} {},{},{}.{:02},EUR,2024-{:02}-{:02}T{:02}:{:02}:{:02}Z,{}",
            FIRST[pick(0, FIRST.len())],
            LAST[pick(8, LAST.len())],
            CITY[pick(16, CITY.len())],
            (t >> 20) % 100_000,
            (t >> 4) % 100,
            1 + (t >> 40) % 12,
            1 + (t >> 44) % 28,
            (t >> 50) % 24,
            (t >> 54) % 60,
            (t >> 58) % 60,
            STATUS[pick(32, STATUS.len())],
        );
    }
    text
}

/// `POST /api/v1/files/upload` of `csv` as `filename`; the new file's id.
pub async fn upload_csv(
    client: &reqwest::Client,
    base: &str,
    filename: &str,
    csv: String,
) -> Result<String> {
    upload_part(client, base, filename, reqwest::multipart::Part::text(csv)).await
}

/// `POST /api/v1/files/upload` of `part` (as field `file`, named `filename`, `text/csv`); the
/// new file's id.
pub async fn upload_part(
    client: &reqwest::Client,
    base: &str,
    filename: &str,
    part: reqwest::multipart::Part,
) -> Result<String> {
    let part = part.file_name(filename.to_owned()).mime_str("text/csv")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let resp = client
        .post(format!("{base}/api/v1/files/upload"))
        .multipart(form)
        .send()
        .await
        .context("multipart upload")?;
    let status = resp.status();
    let text = resp.text().await.context("reading the upload's answer")?;
    if status != StatusCode::CREATED {
        bail!("upload of {filename}: {status}: {text}");
    }
    let file: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("upload answer not JSON: {text}"))?;
    file.get("file_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no file_id in the upload's answer: {text}"))
}
