//! Idle WebSocket clients on one instance: how many `/ws` connections it holds, its memory with
//! them, and how long one file's `completed` frame takes to reach all of them.
//!
//! The bench starts the release server binary as a child process on a free port (SQLite and
//! local files in a fresh temporary directory; `FILEPROC_WEBSOCKET__MAX_CONNECTIONS` set to
//! `--max-connections`), after raising its own soft `RLIMIT_NOFILE` to the hard limit (the
//! server inherits it). It then:
//!
//! 1. connects one client to `/ws` (all files), uploads a small CSV and times its `completed`
//!    frame (the baseline, which also warms the server up), and closes it;
//! 2. opens `--clients` WebSocket connections to `ws://127.0.0.1:PORT/ws` (no `file_id`: each
//!    watches every file), `--concurrency` handshakes at a time, counting those whose first frame
//!    is `{"type":"connected",...}`, and keeps them open and idle (each is read, so pings get
//!    their pongs); the server's `VmRSS` is read before, and at each checkpoint (1k, 5k and all);
//! 3. uploads one small CSV (`POST /api/v1/files/upload`, multipart field `file`, `x.csv`) and
//!    measures when each client receives that file's `completed` frame, for up to `--wait` s;
//! 4. when the open-file limits allow it, opens connections up to the server's maximum and checks
//!    that the next one is refused with HTTP 503 (otherwise says why it did not);
//! 5. closes every client and reads the server's RSS again.
//!
//! ```text
//! make ws-bench
//! cargo build --release -p fileproc && \
//!   cargo run --release -p fileproc --example ws_bench -- [--bin PATH] [--clients 10000]
//!   [--checkpoints 1000,5000] [--max-connections 20000] [--concurrency 100] [--wait 60]
//!   [--no-probe] [--server-env NAME=VALUE]... [--dir DIR]
//! ```
//!
//! `--concurrency` defaults to 100, under the server's listen backlog (128: tokio's
//! `TcpListener::bind`): with more handshakes in flight its accept queue overflows and the
//! clients that overflow it wait for a SYN retransmission (1 s, then 3 s...).
//!
//! The bench's own clients read with a 4 KiB buffer, so that the bench process stays small; the
//! server's buffers are its own settings (`--server-env FILEPROC_WEBSOCKET__READ_BUFFER_SIZE=4KiB`
//! changes them). Both processes need about one descriptor per connection: with a hard
//! `RLIMIT_NOFILE` under `--clients` plus a margin, raise it first (`ulimit -n`, as `make
//! ws-bench` tries).

mod bench_support;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use bench_support::{
    Sampler, Server, clock_ticks_per_second, cpu_ticks, kib_mb, loadavg, machine, median, open_fds,
    percentile, proc_nofile, proc_status_kib, raise_nofile, reset_hwm, small_csv, threads,
    upload_csv,
};
use futures::StreamExt as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Longest a connection may take from TCP connect to its `connected` frame.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a batch of connections before the server's RSS is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Descriptors kept free besides one per connection (listener, database, logs, HTTP client).
const FD_MARGIN: u64 = 64;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Args {
    bin: PathBuf,
    clients: usize,
    checkpoints: Vec<usize>,
    max_connections: usize,
    concurrency: usize,
    wait: Duration,
    probe: bool,
    server_env: Vec<(String, String)>,
    dir: PathBuf,
}

fn usage() -> &'static str {
    "usage: ws_bench [--bin PATH] [--clients 10000] [--checkpoints 1000,5000] \
     [--max-connections 20000] [--concurrency 100] [--wait 60] [--no-probe] \
     [--server-env NAME=VALUE]... [--dir DIR]"
}

fn positive(flag: &str, value: &str) -> Result<usize> {
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| anyhow!("{flag} must be a positive integer, not {value:?}"))
}

fn parse_args() -> Result<Args> {
    let mut bin = None;
    let mut clients = 10_000;
    let mut checkpoints = vec![1_000, 5_000];
    let mut max_connections = 20_000;
    let mut concurrency = 100;
    let mut wait = Duration::from_secs(60);
    let mut probe = true;
    let mut server_env = Vec::new();
    let mut dir = std::env::temp_dir();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            "--no-probe" => {
                probe = false;
                continue;
            }
            _ => {}
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") && f != "--server-env" => {
                (f.to_owned(), Some(v.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| anyhow!("{flag} needs a value\n{}", usage()))?,
        };
        match flag.as_str() {
            "--bin" => bin = Some(PathBuf::from(value)),
            "--clients" => clients = positive(&flag, &value)?,
            "--checkpoints" => {
                checkpoints = value
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| positive(&flag, s.trim()))
                    .collect::<Result<_>>()?;
            }
            "--max-connections" => max_connections = positive(&flag, &value)?,
            "--concurrency" => concurrency = positive(&flag, &value)?,
            "--wait" => wait = Duration::from_secs(positive(&flag, &value)? as u64),
            "--server-env" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--server-env takes NAME=VALUE, not {value:?}"))?;
                server_env.push((k.to_owned(), v.to_owned()));
            }
            "--dir" => dir = PathBuf::from(value),
            _ => bail!("unknown argument {arg:?}\n{}", usage()),
        }
    }
    checkpoints.retain(|c| *c < clients);
    checkpoints.sort_unstable();
    checkpoints.dedup();
    checkpoints.push(clients);
    let bin = bin.unwrap_or_else(bench_support::default_bin);
    ensure!(
        bin.is_file(),
        "no server binary at {}: build it with `cargo build --release -p fileproc` or pass --bin",
        bin.display()
    );
    Ok(Args {
        bin,
        clients,
        checkpoints,
        max_connections,
        concurrency,
        wait,
        probe,
        server_env,
        dir,
    })
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// Why a connection did not reach its `connected` frame.
enum Fail {
    /// The server answered the upgrade with this status.
    Http(u16),
    /// No `connected` frame within [`CONNECT_TIMEOUT`].
    Timeout,
    Io(String),
    /// The first frame was something else.
    Frame(String),
    Other(String),
}

impl Fail {
    fn label(&self) -> String {
        match self {
            Fail::Http(s) => format!("HTTP {s}"),
            Fail::Timeout => format!("timeout ({} s)", CONNECT_TIMEOUT.as_secs()),
            Fail::Io(e) => format!("I/O: {e}"),
            Fail::Frame(f) => format!("first frame: {f}"),
            Fail::Other(e) => e.clone(),
        }
    }
}

fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Connect to `url` and read the first frame, which must be `connected`.
async fn open_one(url: &str) -> Result<(Ws, Duration), Fail> {
    use tokio_tungstenite::tungstenite::Error;
    let started = Instant::now();
    let handshake = async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true)
                .await
                .map_err(|e| match e {
                    Error::Http(resp) => Fail::Http(resp.status().as_u16()),
                    Error::Io(e) => Fail::Io(e.to_string()),
                    other => Fail::Other(other.to_string()),
                })?;
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: serde_json::Value = serde_json::from_str(text.as_str())
                    .map_err(|_| Fail::Frame(format!("not JSON: {}", text.as_str())))?;
                if frame["type"] == "connected" {
                    Ok(ws)
                } else {
                    Err(Fail::Frame(format!("type {}", frame["type"])))
                }
            }
            Some(Ok(other)) => Err(Fail::Frame(format!("{other:?}"))),
            Some(Err(e)) => Err(Fail::Other(e.to_string())),
            None => Err(Fail::Frame("the connection closed".into())),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(r) => r.map(|ws| (ws, started.elapsed())),
        Err(_) => Err(Fail::Timeout),
    }
}

/// A `completed` frame a client received.
struct Completion {
    file_id: String,
    at: Instant,
}

/// What the reading clients share.
struct Hub {
    completions: mpsc::UnboundedSender<Completion>,
    /// Connections that ended while the bench held them (closed or failed by the server).
    dropped: AtomicUsize,
    /// Frames received after the opening one, all clients together.
    frames: AtomicUsize,
}

/// Read `ws` until it ends, answering pings (tungstenite does) and reporting `completed` frames.
async fn hold(mut ws: Ws, hub: Arc<Hub>) {
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) => {
                hub.frames.fetch_add(1, Ordering::Relaxed);
                let text = text.as_str();
                // Only `completed` frames are parsed, so the bench spends little per frame.
                if text.contains("\"completed\"")
                    && let Ok(frame) = serde_json::from_str::<serde_json::Value>(text)
                    && frame["type"] == "completed"
                {
                    let _ = hub.completions.send(Completion {
                        file_id: frame["file_id"].as_str().unwrap_or_default().to_owned(),
                        at: Instant::now(),
                    });
                }
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    hub.dropped.fetch_add(1, Ordering::Relaxed);
}

/// Connections opened by one batch.
#[derive(Default)]
struct Batch {
    connected: usize,
    failures: BTreeMap<String, usize>,
    handshakes: Vec<f64>,
    seconds: f64,
}

/// Open `n` connections, `concurrency` at a time, each held by a task in `held`.
async fn open_batch(
    url: &str,
    n: usize,
    concurrency: usize,
    held: &mut JoinSet<()>,
    hub: &Arc<Hub>,
) -> Batch {
    let started = Instant::now();
    let mut batch = Batch::default();
    let mut opening = futures::stream::iter(0..n)
        .map(|_| open_one(url))
        .buffer_unordered(concurrency);
    while let Some(result) = opening.next().await {
        match result {
            Ok((ws, took)) => {
                batch.connected += 1;
                batch.handshakes.push(took.as_secs_f64() * 1000.0);
                held.spawn(hold(ws, Arc::clone(hub)));
            }
            Err(fail) => *batch.failures.entry(fail.label()).or_default() += 1,
        }
    }
    batch.seconds = started.elapsed().as_secs_f64();
    batch
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// The server at one point of the run.
struct Stage {
    name: String,
    open: usize,
    got_connected: usize,
    failed: usize,
    rss_kib: u64,
    hwm_kib: u64,
    fds: Option<usize>,
    threads: Option<u64>,
    open_seconds: Option<f64>,
    handshake_p50_p99: Option<(f64, f64)>,
}

/// One upload watched by `watchers` clients.
struct FanOut {
    watchers: usize,
    received: usize,
    answered_ms: f64,
    arrivals_ms: Vec<f64>,
    peak_kib: u64,
    cpu_seconds: f64,
    frames: usize,
}

async fn health_ms(client: &reqwest::Client, base: &str) -> Result<f64> {
    let started = Instant::now();
    let resp = client
        .get(format!("{base}/health"))
        .send()
        .await
        .context("GET /health")?;
    ensure!(resp.status().is_success(), "/health: {}", resp.status());
    resp.bytes().await.context("reading /health")?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Upload a CSV and collect, for up to `wait`, the `completed` frames of that file that
/// `watchers` clients receive.
async fn fan_out(
    client: &reqwest::Client,
    server: &Server,
    rx: &mut mpsc::UnboundedReceiver<Completion>,
    watchers: usize,
    seed: u64,
    wait: Duration,
    hub: &Hub,
) -> Result<FanOut> {
    // Whatever came before belongs to no upload of this run.
    while rx.try_recv().is_ok() {}
    let frames_before = hub.frames.load(Ordering::Relaxed);
    let ticks = clock_ticks_per_second();
    let cpu_before = cpu_ticks(server.pid).unwrap_or(0);
    let sampler = Sampler::start(server.pid);
    let started = Instant::now();
    let file_id = upload_csv(client, &server.base, "x.csv", small_csv(seed, 20)).await?;
    let answered_ms = started.elapsed().as_secs_f64() * 1000.0;
    let deadline = started + wait;
    let mut arrivals_ms = Vec::with_capacity(watchers);
    while arrivals_ms.len() < watchers {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(c)) if c.file_id == file_id => {
                arrivals_ms.push(c.at.duration_since(started).as_secs_f64() * 1000.0);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let (peak_kib, _) = sampler.finish();
    let cpu_seconds = cpu_ticks(server.pid)
        .unwrap_or(0)
        .saturating_sub(cpu_before) as f64
        / ticks;
    arrivals_ms.sort_by(f64::total_cmp);
    Ok(FanOut {
        watchers,
        received: arrivals_ms.len(),
        answered_ms,
        arrivals_ms,
        peak_kib,
        cpu_seconds,
        frames: hub.frames.load(Ordering::Relaxed) - frames_before,
    })
}

fn stage(server: &Server, name: impl Into<String>, open: usize, batch: Option<&Batch>) -> Stage {
    let handshake_p50_p99 = batch.filter(|b| !b.handshakes.is_empty()).map(|b| {
        let mut h = b.handshakes.clone();
        h.sort_by(f64::total_cmp);
        (percentile(&h, 50.0), percentile(&h, 99.0))
    });
    Stage {
        name: name.into(),
        open,
        got_connected: batch.map_or(0, |b| b.connected),
        failed: batch.map_or(0, |b| b.failures.values().sum()),
        rss_kib: server.rss_kib(),
        hwm_kib: proc_status_kib(server.pid, "VmHWM:").unwrap_or(0),
        fds: open_fds(server.pid),
        threads: threads(server.pid),
        open_seconds: batch.map(|b| b.seconds),
        handshake_p50_p99,
    }
}

fn label(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn stages_table(stages: &[Stage], base_kib: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| stage | open connections | got `connected` (this step) | failed (this step) | server \
         RSS MB | Δ RSS vs before MB | KiB per open connection | VmHWM MB | server fds | server \
         threads | time to open s | connections/s | handshake p50 / p99 ms |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in stages {
        let delta = s.rss_kib as f64 - base_kib as f64;
        let per = if s.open > 0 {
            format!("{:.1}", delta / s.open as f64)
        } else {
            "–".into()
        };
        let (secs, rate) = match s.open_seconds {
            Some(t) if s.got_connected > 0 => (
                format!("{t:.2}"),
                format!("{:.0}", s.got_connected as f64 / t),
            ),
            _ => ("–".into(), "–".into()),
        };
        let hs = s
            .handshake_p50_p99
            .map_or("–".into(), |(a, b)| format!("{a:.1} / {b:.1}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:+.1} | {per} | {:.1} | {} | {} | {secs} | {rate} | {hs} |",
            s.name,
            s.open,
            s.got_connected,
            s.failed,
            kib_mb(s.rss_kib),
            delta * 1024.0 / 1e6,
            kib_mb(s.hwm_kib),
            s.fds.map_or("?".into(), |f| f.to_string()),
            s.threads.map_or("?".into(), |t| t.to_string()),
        );
    }
    out
}

fn fan_out_table(rows: &[FanOut], wait: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| clients watching all files | got the file's `completed` within {} s | upload answered \
         ms | first `completed` ms | p50 ms | p99 ms | last ms | frames received (all clients) | \
         server peak RSS MB | server CPU s |",
        wait.as_secs()
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let a = &r.arrivals_ms;
        let ms = |v: f64| {
            if v.is_nan() {
                "–".to_owned()
            } else {
                format!("{v:.0}")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.1} | {:.2} |",
            r.watchers,
            r.received,
            r.answered_ms,
            ms(a.first().copied().unwrap_or(f64::NAN)),
            ms(percentile(a, 50.0)),
            ms(percentile(a, 99.0)),
            ms(a.last().copied().unwrap_or(f64::NAN)),
            r.frames,
            kib_mb(r.peak_kib),
            r.cpu_seconds,
        );
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let (before_soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .context("getrlimit")?;
    let (soft, hard) = raise_nofile()?;
    eprintln!("RLIMIT_NOFILE: soft {before_soft} → {soft}, hard {hard} (the server inherits it)");
    let needed = args.clients as u64 + FD_MARGIN;
    if soft < needed {
        eprintln!(
            "warning: {soft} open files allowed, {needed} needed for {} clients: expect failed \
             connections (raise the hard limit first, e.g. `ulimit -n 65536` as root)",
            args.clients
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("ws-bench-")
        .tempdir_in(&args.dir)
        .context("creating the temporary directory")?;
    let mut env: Vec<(String, String)> = vec![
        (
            "DATABASE_URL".into(),
            format!("sqlite:{}", tmp.path().join("fileproc.db").display()),
        ),
        (
            "LOCAL_STORAGE_PATH".into(),
            tmp.path().join("files").display().to_string(),
        ),
        (
            "FILEPROC_WEBSOCKET__MAX_CONNECTIONS".into(),
            args.max_connections.to_string(),
        ),
    ];
    env.extend(args.server_env.iter().cloned());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let mut server = Server::start(&args.bin, tmp.path(), &env)?;
    server.wait_healthy(&client).await?;
    let server_nofile = proc_nofile(server.pid);
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    eprintln!(
        "server {} (pid {}), {url}; its open-file limit {:?}",
        args.bin.display(),
        server.pid,
        server_nofile
    );

    let (tx, mut rx) = mpsc::unbounded_channel();
    let hub = Arc::new(Hub {
        completions: tx,
        dropped: AtomicUsize::new(0),
        frames: AtomicUsize::new(0),
    });
    let mut stages = vec![stage(&server, "start-up", 0, None)];

    // 1. The baseline: one client, which also warms the server up.
    let mut one = JoinSet::new();
    let warm = open_batch(&url, 1, 1, &mut one, &hub).await;
    ensure!(
        warm.connected == 1,
        "the first WebSocket client failed: {:?}",
        warm.failures
    );
    let baseline = fan_out(&client, &server, &mut rx, 1, 1, args.wait, &hub).await?;
    one.shutdown().await;
    tokio::time::sleep(SETTLE).await;
    hub.dropped.store(0, Ordering::Relaxed);
    let before = stage(&server, "before (after a 1-client warm-up)", 0, None);
    let base_kib = before.rss_kib;
    reset_hwm(server.pid);
    stages.push(before);

    // 2. The idle clients.
    let mut held = JoinSet::new();
    let mut opened = 0;
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for &target in &args.checkpoints {
        let n = target - opened;
        eprint!("opening {n} connections (to {target})... ");
        let batch = open_batch(&url, n, args.concurrency, &mut held, &hub).await;
        opened = target;
        tokio::time::sleep(SETTLE).await;
        let open = held.len() - hub.dropped.load(Ordering::Relaxed);
        eprintln!(
            "{} connected in {:.2} s, {} failed, {open} open; server RSS {:.1} MB",
            batch.connected,
            batch.seconds,
            batch.failures.values().sum::<usize>(),
            kib_mb(server.rss_kib())
        );
        for (k, v) in &batch.failures {
            *failures.entry(k.clone()).or_default() += v;
        }
        stages.push(stage(&server, label(target), open, Some(&batch)));
    }
    let open_idle = held.len() - hub.dropped.load(Ordering::Relaxed);
    let health_idle = health_ms(&client, &server.base).await?;

    // 3. One upload, all of them watching.
    eprintln!("uploading x.csv with {open_idle} clients watching...");
    let fan = fan_out(&client, &server, &mut rx, open_idle, 2, args.wait, &hub).await?;
    eprintln!(
        "{} of {} got its completed frame; last after {:.0} ms",
        fan.received,
        fan.watchers,
        fan.arrivals_ms.last().copied().unwrap_or(f64::NAN)
    );
    tokio::time::sleep(SETTLE).await;
    let open_after = held.len() - hub.dropped.load(Ordering::Relaxed);
    stages.push(stage(&server, "after the fan-out", open_after, None));

    // 4. The connection limit.
    let server_soft: Option<u64> = server_nofile.as_ref().and_then(|(s, _)| s.parse().ok());
    let probe = if !args.probe {
        "not run (--no-probe)".to_owned()
    } else {
        let target = args.max_connections;
        let client_needs = target as u64 + 1 + FD_MARGIN;
        let server_needs = target as u64 + FD_MARGIN;
        if soft < client_needs || server_soft.is_none_or(|s| s < server_needs) {
            format!(
                "not run: connection {} needs about {client_needs} descriptors in the bench and \
                 {server_needs} in the server; RLIMIT_NOFILE allows {soft} here and {} in the \
                 server (hard limit {hard}; `ulimit -Hn` cannot be raised in this environment \
                 unless the process has CAP_SYS_RESOURCE). Run with --max-connections {} to \
                 probe the limit at this scale.",
                target + 1,
                server_soft.map_or("?".into(), |s| s.to_string()),
                args.clients
            )
        } else {
            let open_now = held.len() - hub.dropped.load(Ordering::Relaxed);
            let more = target.saturating_sub(open_now);
            let batch = open_batch(&url, more, args.concurrency, &mut held, &hub).await;
            let open = held.len() - hub.dropped.load(Ordering::Relaxed);
            stages.push(stage(
                &server,
                format!("{} (the maximum)", label(target)),
                open,
                Some(&batch),
            ));
            let next = match open_one(&url).await {
                Ok(_) => "accepted (not refused!)".to_owned(),
                Err(f) => f.label(),
            };
            format!(
                "connection {} with {open} open (server maximum {target}): {next}; {} of {more} \
                 extra connections reached `connected` ({} failed)",
                open + 1,
                batch.connected,
                batch.failures.values().sum::<usize>()
            )
        }
    };
    eprintln!("limit probe: {probe}");

    // 5. Close every client.
    let open_before_close = held.len() - hub.dropped.load(Ordering::Relaxed);
    let dropped_by_server = hub.dropped.load(Ordering::Relaxed);
    held.shutdown().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stages.push(stage(&server, "5 s after closing all", 0, None));
    let health_after = health_ms(&client, &server.base).await?;
    let log_lines = server.log_lines();
    let warnings = server.log_tail(15);
    server.stop();

    println!();
    println!(
        "WebSocket bench: {} idle clients on `/ws` (no file_id: each watches every file), {} \
         handshakes at a time, one server (SQLite + local files) with \
         FILEPROC_WEBSOCKET__MAX_CONNECTIONS={}{}; machine: {}; load average at the end {}.",
        args.clients,
        args.concurrency,
        args.max_connections,
        args.server_env
            .iter()
            .map(|(k, v)| format!(", {k}={v}"))
            .collect::<String>(),
        machine(),
        loadavg()
    );
    println!(
        "Open files (RLIMIT_NOFILE): bench soft {before_soft} raised to {soft} (hard {hard}); \
         server soft/hard {}.",
        server_nofile.map_or("?".into(), |(s, h)| format!("{s}/{h}"))
    );
    println!(
        "RSS is VmRSS read {} s after each step; Δ and KiB per connection are against \
         \"before\"; VmHWM is the kernel's peak since \"before\". The bench's clients read with \
         4 KiB buffers and run on one thread beside the server, on the same CPUs.",
        SETTLE.as_secs()
    );
    println!();
    print!("{}", stages_table(&stages, base_kib));
    println!();
    print!("{}", fan_out_table(&[baseline, fan], args.wait));
    println!();
    println!(
        "Times are from the start of the upload's POST to the frame's arrival in the client. \
         Connections held open: {open_idle} before the upload, {open_after} after it, \
         {open_before_close} before closing; {dropped_by_server} ended from the server's side."
    );
    println!(
        "GET /health with {open_idle} connections open: {health_idle:.1} ms; after closing \
         them: {health_after:.1} ms."
    );
    if !failures.is_empty() {
        println!("Failed connections by cause: {failures:?}.");
    }
    println!("Limit probe: {probe}");
    println!(
        "Handshake times (median of the per-step p50s): {:.1} ms.",
        median(
            stages
                .iter()
                .filter_map(|s| s.handshake_p50_p99.map(|h| h.0))
                .collect()
        )
    );
    if log_lines > 0 {
        println!();
        println!("Server log ({log_lines} lines of warnings and errors; the last 15):");
        println!("```");
        println!("{warnings}");
        println!("```");
    }
    drop(server);
    tmp.close().context("removing the temporary directory")?;
    Ok(())
}
