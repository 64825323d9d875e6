//! Small files end to end: how many small CSV files a second one instance takes in and
//! processes, with how long each takes from its upload to `completed`, on the embedded default
//! (SQLite + local disk) and on the production stack (PostgreSQL + Redis + S3).
//!
//! For each run the bench starts the release server binary as a child process on a free port,
//! with a fresh catalog (a new SQLite file in a temporary directory, or a new PostgreSQL database
//! `fileproc_bench_<id>`, dropped after the run) and fresh storage (a new directory, or a new
//! `STORAGE_PREFIX` in the bucket). `--clients` concurrent clients then upload `--files` distinct
//! small CSVs (a header and `--rows` records each) through `POST /api/v1/files/upload`
//! (multipart, field `file`); each client, after each upload, polls
//! `GET /api/v1/files/{id}/status` every `--poll-ms` until the file is `completed` (or
//! `failed`), then uploads its next file. Before the timed files, `--warmup` files go the same
//! way, untimed. The server's `VmRSS` is sampled every 20 ms during the timed part.
//!
//! files/s = files / (first upload's start → last file seen completed). Latency = one file's
//! upload start → the status poll that saw it `completed` (so up to `--poll-ms` late).
//!
//! ```text
//! make small-files-bench            # both stacks, the production one through
//!                                   # scripts/with-production-stack.sh (moto as S3)
//! cargo build --release -p fileproc && \
//!   cargo run --release -p fileproc --example small_files_bench -- [--bin PATH]
//!   [--files 1000] [--rows 20] [--clients 8] [--runs 3] [--poll-ms 10] [--warmup 16]
//!   [--stacks embedded,production] [--database-url URL] [--redis-url URL]
//!   [--s3-endpoint URL] [--s3-bucket NAME] [--server-env NAME=VALUE]... [--dir DIR]
//! ```
//!
//! The production stack's `--database-url` (an admin URL: the bench creates and drops its
//! databases there), `--redis-url`, `--s3-endpoint` and `--s3-bucket` default to the
//! `TEST_DATABASE_URL`, `TEST_REDIS_URL`, `TEST_S3_ENDPOINT` and `TEST_S3_BUCKET` that
//! `scripts/with-production-stack.sh` exports; the S3 credentials are `test`/`test`
//! (`TEST_S3_ACCESS_KEY_ID`, `TEST_S3_SECRET_ACCESS_KEY` override them). Without `--stacks`,
//! the production stack is measured when it is configured.

mod bench_support;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use bench_support::{
    Sampler, Server, clock_ticks_per_second, cpu_ticks, kib_mb, loadavg, machine, median, min_max,
    percentile, proc_status_kib, reset_hwm, small_csv, upload_csv,
};
use reqwest::StatusCode;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Longest one file may take from its upload to `completed`.
const FILE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Embedded,
    Production,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Embedded => "embedded (SQLite + local disk)",
            Stack::Production => "production (PostgreSQL + Redis + S3/moto)",
        }
    }
}

/// Where the production stack is.
#[derive(Clone)]
struct Production {
    admin_url: String,
    redis_url: String,
    s3_endpoint: String,
    s3_bucket: String,
    access_key: String,
    secret_key: String,
}

struct Args {
    bin: PathBuf,
    files: usize,
    rows: usize,
    clients: usize,
    runs: usize,
    poll: Duration,
    warmup: usize,
    stacks: Vec<Stack>,
    production: Option<Production>,
    server_env: Vec<(String, String)>,
    dir: PathBuf,
}

fn usage() -> &'static str {
    "usage: small_files_bench [--bin PATH] [--files 1000] [--rows 20] [--clients 8] [--runs 3] \
     [--poll-ms 10] [--warmup 16] [--stacks embedded,production] [--database-url URL] \
     [--redis-url URL] [--s3-endpoint URL] [--s3-bucket NAME] [--server-env NAME=VALUE]... \
     [--dir DIR]"
}

fn count(flag: &str, value: &str, min: usize) -> Result<usize> {
    value
        .parse()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| anyhow!("{flag} must be an integer of at least {min}, not {value:?}"))
}

fn env_or(flag: Option<String>, var: &str) -> Option<String> {
    flag.or_else(|| std::env::var(var).ok())
        .filter(|v| !v.trim().is_empty())
}

fn parse_args() -> Result<Args> {
    let mut bin = None;
    let mut files = 1000;
    let mut rows = 20;
    let mut clients = 8;
    let mut runs = 3;
    let mut poll = Duration::from_millis(10);
    let mut warmup = 16;
    let mut stacks = None;
    let (mut db, mut redis, mut endpoint, mut bucket) = (None, None, None, None);
    let mut server_env = Vec::new();
    let mut dir = std::env::temp_dir();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--help" || arg == "-h" {
            println!("{}", usage());
            std::process::exit(0);
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
            "--files" => files = count(&flag, &value, 1)?,
            "--rows" => rows = count(&flag, &value, 1)?,
            "--clients" => clients = count(&flag, &value, 1)?,
            "--runs" => runs = count(&flag, &value, 1)?,
            "--poll-ms" => poll = Duration::from_millis(count(&flag, &value, 1)? as u64),
            "--warmup" => warmup = count(&flag, &value, 0)?,
            "--stacks" => {
                stacks = Some(
                    value
                        .split(',')
                        .map(|s| match s.trim() {
                            "embedded" => Ok(Stack::Embedded),
                            "production" => Ok(Stack::Production),
                            other => Err(anyhow!(
                                "unknown stack {other:?}: use embedded or production"
                            )),
                        })
                        .collect::<Result<Vec<_>>>()?,
                );
            }
            "--database-url" => db = Some(value),
            "--redis-url" => redis = Some(value),
            "--s3-endpoint" => endpoint = Some(value),
            "--s3-bucket" => bucket = Some(value),
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
    let parts = (
        env_or(db, "TEST_DATABASE_URL"),
        env_or(redis, "TEST_REDIS_URL"),
        env_or(endpoint, "TEST_S3_ENDPOINT"),
        env_or(bucket, "TEST_S3_BUCKET"),
    );
    let production = match parts {
        (Some(admin_url), Some(redis_url), Some(s3_endpoint), Some(s3_bucket)) => {
            Some(Production {
                admin_url,
                redis_url,
                s3_endpoint,
                s3_bucket,
                access_key: env_or(None, "TEST_S3_ACCESS_KEY_ID").unwrap_or_else(|| "test".into()),
                secret_key: env_or(None, "TEST_S3_SECRET_ACCESS_KEY")
                    .unwrap_or_else(|| "test".into()),
            })
        }
        _ => None,
    };
    let stacks = match stacks {
        Some(s) => {
            ensure!(
                !s.contains(&Stack::Production) || production.is_some(),
                "the production stack needs --database-url, --redis-url, --s3-endpoint and \
                 --s3-bucket (or TEST_DATABASE_URL, TEST_REDIS_URL, TEST_S3_ENDPOINT and \
                 TEST_S3_BUCKET, as scripts/with-production-stack.sh exports them)"
            );
            s
        }
        None if production.is_some() => vec![Stack::Embedded, Stack::Production],
        None => {
            eprintln!(
                "the production stack is not configured (no TEST_DATABASE_URL...): embedded only"
            );
            vec![Stack::Embedded]
        }
    };
    let bin = bin.unwrap_or_else(bench_support::default_bin);
    ensure!(
        bin.is_file(),
        "no server binary at {}: build it with `cargo build --release -p fileproc` or pass --bin",
        bin.display()
    );
    Ok(Args {
        bin,
        files,
        rows,
        clients,
        runs,
        poll,
        warmup,
        stacks,
        production,
        server_env,
        dir,
    })
}

// ---------------------------------------------------------------------------------------------
// The stack of one run.

/// A fresh PostgreSQL database, made on `admin_url`; its URL.
async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to the PostgreSQL admin URL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .with_context(|| format!("CREATE DATABASE {name}"))?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting to the PostgreSQL admin URL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .with_context(|| format!("DROP DATABASE {name}"))?;
    Ok(())
}

/// The server's environment for `stack` in `dir`; the database to drop afterwards, if any.
async fn stack_env(
    args: &Args,
    stack: Stack,
    dir: &std::path::Path,
    id: &str,
) -> Result<(Vec<(String, String)>, Option<String>)> {
    let mut env = vec![(
        "LOCAL_STORAGE_PATH".to_owned(),
        dir.join("files").display().to_string(),
    )];
    let mut database = None;
    match stack {
        Stack::Embedded => env.push((
            "DATABASE_URL".into(),
            format!("sqlite:{}", dir.join("fileproc.db").display()),
        )),
        Stack::Production => {
            let p = args
                .production
                .as_ref()
                .ok_or_else(|| anyhow!("the production stack is not configured"))?;
            let name = format!("fileproc_bench_{id}");
            let url = create_database(&p.admin_url, &name).await?;
            database = Some(name);
            env.extend([
                ("DATABASE_URL".to_owned(), url),
                ("REDIS_URL".to_owned(), p.redis_url.clone()),
                ("STORAGE_PROVIDER".to_owned(), "s3".to_owned()),
                ("S3_ENDPOINT".to_owned(), p.s3_endpoint.clone()),
                ("S3_BUCKET".to_owned(), p.s3_bucket.clone()),
                ("STORAGE_PREFIX".to_owned(), format!("bench-{id}")),
                ("AWS_ACCESS_KEY_ID".to_owned(), p.access_key.clone()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), p.secret_key.clone()),
                ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ]);
        }
    }
    env.extend(args.server_env.iter().cloned());
    Ok((env, database))
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// One file's way through the service.
struct FileRun {
    /// Upload start → the poll that saw `completed`.
    latency_ms: f64,
    /// Upload start → its 201.
    upload_ms: f64,
    /// Status requests made.
    polls: usize,
    /// When it was seen completed, from the start of the timed part.
    done_at: Duration,
}

/// The status of `file_id` (`GET /api/v1/files/{id}/status`).
async fn status(client: &reqwest::Client, base: &str, file_id: &str) -> Result<String> {
    let resp = client
        .get(format!("{base}/api/v1/files/{file_id}/status"))
        .send()
        .await
        .context("GET status")?;
    let code = resp.status();
    let text = resp.text().await.context("reading the status")?;
    ensure!(
        code == StatusCode::OK,
        "status of {file_id}: {code}: {text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("status not JSON: {text}"))?;
    if v["status"] == "failed" {
        bail!("{file_id} failed: {}", v["error"]);
    }
    v["status"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no status in {text}"))
}

/// Upload one file and poll until it is completed.
async fn one_file(
    client: &reqwest::Client,
    base: &str,
    poll: Duration,
    name: &str,
    csv: String,
    epoch: Instant,
) -> Result<FileRun> {
    let started = Instant::now();
    let file_id = upload_csv(client, base, name, csv).await?;
    let upload_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut polls = 0;
    loop {
        polls += 1;
        if status(client, base, &file_id).await? == "completed" {
            let now = Instant::now();
            return Ok(FileRun {
                latency_ms: now.duration_since(started).as_secs_f64() * 1000.0,
                upload_ms,
                polls,
                done_at: now.duration_since(epoch),
            });
        }
        ensure!(
            started.elapsed() < FILE_TIMEOUT,
            "{file_id} was not completed after {} s",
            FILE_TIMEOUT.as_secs()
        );
        tokio::time::sleep(poll).await;
    }
}

/// `files` files through `clients` concurrent clients; file `i` has seed `seed_base + i`.
async fn drive(
    client: &reqwest::Client,
    base: &str,
    args: &Args,
    files: usize,
    seed_base: u64,
) -> (Vec<FileRun>, Vec<String>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let epoch = Instant::now();
    let workers = (0..args.clients).map(|_| {
        let next = Arc::clone(&next);
        async move {
            let mut done = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= files {
                    break;
                }
                let seed = seed_base + i as u64;
                let csv = small_csv(seed, args.rows);
                let name = format!("small-{seed}.csv");
                match one_file(client, base, args.poll, &name, csv, epoch).await {
                    Ok(run) => done.push(run),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            (done, errors)
        }
    });
    let results = futures::future::join_all(workers).await;
    let (mut done, mut errors) = (Vec::new(), Vec::new());
    for (d, e) in results {
        done.extend(d);
        errors.extend(e);
    }
    let wall = done
        .iter()
        .map(|r| r.done_at)
        .max()
        .unwrap_or_else(|| epoch.elapsed());
    (done, errors, wall)
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// One run of one stack.
struct Run {
    stack: Stack,
    round: usize,
    completed: usize,
    errors: Vec<String>,
    seconds: f64,
    files_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    upload_p50_ms: f64,
    polls_per_file: f64,
    idle_kib: u64,
    peak_kib: u64,
    hwm_kib: Option<u64>,
    cpu_seconds: f64,
    log_lines: usize,
    log_tail: String,
}

async fn run_once(args: &Args, stack: Stack, round: usize) -> Result<Run> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let tmp = tempfile::Builder::new()
        .prefix("small-files-bench-")
        .tempdir_in(&args.dir)
        .context("creating the temporary directory")?;
    let (env, database) = stack_env(args, stack, tmp.path(), &id).await?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.clients * 2)
        .build()
        .context("building the HTTP client")?;
    let measured = async {
        let mut server = Server::start(&args.bin, tmp.path(), &env)?;
        server.wait_healthy(&client).await?;
        // Distinct contents in every run and stack: seeds never repeat.
        let seed_base = ((round as u64) << 40)
            | (u64::from(stack == Stack::Production) << 39)
            | (u64::from(std::process::id()) << 20);
        if args.warmup > 0 {
            let (_, errors, _) = drive(&client, &server.base, args, args.warmup, seed_base).await;
            ensure!(
                errors.is_empty(),
                "warm-up failed: {}; server log:\n{}",
                errors[0],
                server.log_tail(20)
            );
        }
        let pid = server.pid;
        let idle_kib = server.rss_kib();
        let hwm_reset = reset_hwm(pid);
        let ticks = clock_ticks_per_second();
        let cpu_before = cpu_ticks(pid).unwrap_or(0);
        let sampler = Sampler::start(pid);
        let (done, errors, wall) = drive(
            &client,
            &server.base,
            args,
            args.files,
            seed_base + args.warmup as u64,
        )
        .await;
        let (peak_kib, _) = sampler.finish();
        let cpu_seconds = cpu_ticks(pid).unwrap_or(0).saturating_sub(cpu_before) as f64 / ticks;
        let hwm_kib = if hwm_reset {
            proc_status_kib(pid, "VmHWM:")
        } else {
            None
        };
        let log_lines = server.log_lines();
        let log_tail = server.log_tail(10);
        server.stop();
        let mut latencies: Vec<f64> = done.iter().map(|r| r.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        let mut uploads: Vec<f64> = done.iter().map(|r| r.upload_ms).collect();
        uploads.sort_by(f64::total_cmp);
        let polls: usize = done.iter().map(|r| r.polls).sum();
        let seconds = wall.as_secs_f64();
        Ok::<_, anyhow::Error>(Run {
            stack,
            round,
            completed: done.len(),
            errors,
            seconds,
            files_per_s: done.len() as f64 / seconds,
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            max_ms: latencies.last().copied().unwrap_or(f64::NAN),
            upload_p50_ms: percentile(&uploads, 50.0),
            polls_per_file: polls as f64 / done.len().max(1) as f64,
            idle_kib,
            peak_kib,
            hwm_kib,
            cpu_seconds,
            log_lines,
            log_tail,
        })
    }
    .await;
    if let (Some(name), Some(p)) = (&database, &args.production)
        && let Err(e) = drop_database(&p.admin_url, name).await
    {
        eprintln!("warning: dropping {name}: {e:#}");
    }
    tmp.close().context("removing the temporary directory")?;
    measured
}

fn report(runs: &[Run], stacks: &[Stack], files: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| stack | runs | files/s, median [min–max] | p50 upload→completed ms, median | p99 ms, \
         median | max ms, median | upload (POST→201) p50 ms, median | server peak RSS MB, \
         median [max] | VmHWM MB, max | server CPU ms per file, median | failed files (all runs) |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &stack in stacks {
        let of: Vec<&Run> = runs.iter().filter(|r| r.stack == stack).collect();
        if of.is_empty() {
            continue;
        }
        let rates: Vec<f64> = of.iter().map(|r| r.files_per_s).collect();
        let (lo, hi) = min_max(&rates);
        let peaks: Vec<f64> = of.iter().map(|r| kib_mb(r.peak_kib)).collect();
        let (_, peak_hi) = min_max(&peaks);
        let hwm = of
            .iter()
            .filter_map(|r| r.hwm_kib)
            .max()
            .map_or("–".to_owned(), |h| format!("{:.1}", kib_mb(h)));
        let med = |f: fn(&Run) -> f64| median(of.iter().map(|r| f(r)).collect());
        let failed: usize = of.iter().map(|r| r.errors.len()).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} [{lo:.1}–{hi:.1}] | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} [{peak_hi:.1}] \
             | {hwm} | {:.2} | {failed} |",
            stack.name(),
            of.len(),
            median(rates.clone()),
            med(|r| r.p50_ms),
            med(|r| r.p99_ms),
            med(|r| r.max_ms),
            med(|r| r.upload_p50_ms),
            median(peaks),
            med(|r| r.cpu_seconds * 1000.0 / r.completed.max(1) as f64),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Every run, in the order run ({files} timed files each):"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| round | stack | completed | failed | seconds | files/s | p50 ms | p99 ms | max ms | \
         upload p50 ms | status polls per file | idle RSS MB | peak RSS MB | VmHWM MB | server \
         CPU s | server log lines |"
    );
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} \
             | {:.1} | {} | {:.2} | {} |",
            r.round,
            r.stack.name(),
            r.completed,
            r.errors.len(),
            r.seconds,
            r.files_per_s,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.upload_p50_ms,
            r.polls_per_file,
            kib_mb(r.idle_kib),
            kib_mb(r.peak_kib),
            r.hwm_kib
                .map_or("–".to_owned(), |h| format!("{:.1}", kib_mb(h))),
            r.cpu_seconds,
            r.log_lines,
        );
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    eprintln!(
        "server {}; {} files of {} rows, {} clients, {} runs per stack: {}",
        args.bin.display(),
        args.files,
        args.rows,
        args.clients,
        args.runs,
        args.stacks
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut runs = Vec::new();
    for round in 1..=args.runs {
        // Rotate the order each round so no stack always runs first.
        let mut order = args.stacks.clone();
        let n = order.len();
        order.rotate_left((round - 1) % n);
        for stack in order {
            eprint!("round {round}: {:<44}", stack.name());
            let run = run_once(&args, stack, round).await?;
            eprintln!(
                " {:6.1} files/s  p50 {:6.1} ms  p99 {:6.1} ms  peak RSS {:6.1} MB  {} failed",
                run.files_per_s,
                run.p50_ms,
                run.p99_ms,
                kib_mb(run.peak_kib),
                run.errors.len()
            );
            runs.push(run);
        }
    }

    let csv_bytes = small_csv(0, args.rows).len();
    println!();
    println!(
        "Small-files bench: {} distinct CSV files per run ({} records each, about {} bytes), \
         {} concurrent clients, each uploading (multipart) then polling GET \
         /api/v1/files/{{id}}/status every {} ms until completed; {} untimed warm-up files \
         first; a fresh server, catalog and storage per run; server defaults otherwise \
         (processing.worker_count 4){}. Machine: {}; load average at the end {}.",
        args.files,
        args.rows,
        csv_bytes,
        args.clients,
        args.poll.as_millis(),
        args.warmup,
        args.server_env
            .iter()
            .map(|(k, v)| format!(", {k}={v}"))
            .collect::<String>(),
        machine(),
        loadavg()
    );
    if let Some(p) = args
        .production
        .as_ref()
        .filter(|_| args.stacks.contains(&Stack::Production))
    {
        println!(
            "Production stack: PostgreSQL {} (a new database per run), Redis {}, S3 {} bucket \
             {} (a new STORAGE_PREFIX per run).",
            redact(&p.admin_url),
            redact(&p.redis_url),
            p.s3_endpoint,
            p.s3_bucket
        );
    }
    println!(
        "files/s = files / (first upload start → last file seen completed); latency = upload \
         start → the status poll that saw completed (up to {} ms late). Peak RSS: VmRSS sampled \
         every 20 ms during the timed files; VmHWM: the kernel's peak since just before them. \
         Medians over the runs.",
        args.poll.as_millis()
    );
    println!();
    print!("{}", report(&runs, &args.stacks, args.files));
    for r in runs.iter().filter(|r| !r.errors.is_empty()) {
        println!();
        println!(
            "Round {} {}: {} failed files; first: {}",
            r.round,
            r.stack.name(),
            r.errors.len(),
            r.errors[0]
        );
    }
    for r in runs.iter().filter(|r| r.log_lines > 0) {
        println!();
        println!(
            "Server log of round {} {} ({} lines; the last 10):",
            r.round,
            r.stack.name(),
            r.log_lines
        );
        println!("```");
        println!("{}", r.log_tail);
        println!("```");
    }
    Ok(())
}

/// A URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
