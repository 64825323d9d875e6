//! fileproc side by side with what users would pick instead, in one run, written to
//! BENCHMARKS.md: `make benchmark` (which installs the peers, runs criterion, builds the release
//! binary and then this).
//!
//! 1. The inputs (`fileproc-bench-inputs`, seeded) are written once into `--inputs`.
//! 2. Per format (`items.rs`): fileproc's analyzer, in this process, against the peers on the
//!    same file (a bare csv-crate pass, pandas, vipsthumbnail, Pillow, pdftotext, pdftoppm,
//!    pypdf, python-calamine, openpyxl, python-docx), alternated run by run.
//! 3. End to end (`e2e.rs`): the release server on the embedded default, large CSVs (latency and
//!    peak RSS, 1 GB included), small files from 10 and 100 clients.
//!    Compression at rest (`compression`): the 100 MB CSV end to end with `storage.compression`
//!    off, at the default level 1, one higher (2) and zstd's own default (3): stored bytes,
//!    upload and processing.
//! 4. Criterion's results, when `cargo bench` left them in `--criterion`.
//! 5. For every target missed, a CPU profile of fileproc doing that work (`profile.rs`).
//!
//! ```text
//! cargo run --release -p fileproc --example benchmark -- [--out BENCHMARKS.md]
//!   [--python PATH] [--bin target/release/fileproc] [--inputs target/bench-inputs]
//!   [--criterion target/criterion] [--work DIR] [--runs 5] [--e2e-runs 3]
//!   [--small-files 1000] [--parts formats,e2e,compression] [--items csv,xlsx] [--no-profiles]
//! ```
//!
//! `--items` keeps the per-format items whose title contains one of the words. Without
//! `--python` the Python peers are left out (and said to be). Figures are printed to
//! stderr as they come; the file is written at the end.

#[path = "../bench_support/mod.rs"]
mod bench_support;
mod e2e;
mod items;
mod peers;
mod profile;
mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use fileproc_bench_inputs::Input;

use bench_support::{default_bin, loadavg, machine, median};
use items::{Item, Runner, Work};
use peers::{PythonPeer, program_version};
use report::{LargeRow, Report, SmallRow, Verdict, ratio};

struct Args {
    out: PathBuf,
    python: Option<PathBuf>,
    bin: PathBuf,
    inputs: PathBuf,
    criterion: Option<PathBuf>,
    work: PathBuf,
    runs: usize,
    e2e_runs: usize,
    small_files: usize,
    formats: bool,
    e2e: bool,
    compression: bool,
    profiles: bool,
    /// Only the per-format items whose title contains one of these (case-insensitive).
    items: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        out: PathBuf::from("BENCHMARKS.md"),
        python: None,
        bin: default_bin(),
        inputs: PathBuf::from("target/bench-inputs"),
        criterion: None,
        work: std::env::temp_dir().join("fileproc-benchmark"),
        runs: 5,
        e2e_runs: 3,
        small_files: 1000,
        formats: true,
        e2e: true,
        compression: true,
        profiles: true,
        items: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--no-profiles" {
            args.profiles = false;
            continue;
        }
        const TAKE_VALUES: [&str; 11] = [
            "--out",
            "--python",
            "--bin",
            "--inputs",
            "--criterion",
            "--work",
            "--runs",
            "--e2e-runs",
            "--small-files",
            "--parts",
            "--items",
        ];
        if !TAKE_VALUES.contains(&flag.as_str()) {
            bail!("unknown option {flag} (see the example's doc comment)");
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value (see the example's doc comment)"))?;
        let count = |v: &str| -> Result<usize> {
            v.parse::<usize>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .with_context(|| format!("{flag} takes a number from 1 to 1000000, not {v:?}"))
        };
        match flag.as_str() {
            "--out" => args.out = value.into(),
            "--python" => args.python = Some(value.into()),
            "--bin" => args.bin = value.into(),
            "--inputs" => args.inputs = value.into(),
            "--criterion" => args.criterion = Some(value.into()),
            "--work" => args.work = value.into(),
            "--runs" => args.runs = count(&value)?,
            "--e2e-runs" => args.e2e_runs = count(&value)?,
            "--small-files" => args.small_files = count(&value)?,
            "--items" => {
                args.items = value.split(',').map(str::to_lowercase).collect();
                if args.items.iter().any(String::is_empty) {
                    bail!("--items takes words separated by commas, not {value:?}");
                }
            }
            "--parts" => {
                args.formats = false;
                args.e2e = false;
                args.compression = false;
                for part in value.split(',') {
                    match part {
                        "formats" => args.formats = true,
                        "e2e" => args.e2e = true,
                        "compression" => args.compression = true,
                        other => bail!("unknown part {other:?}: formats, e2e or compression"),
                    }
                }
            }
            other => unreachable!("{other} is in TAKE_VALUES"),
        }
    }
    Ok(args)
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn header(args: &Args) -> String {
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let checkout = env!("CARGO_MANIFEST_DIR");
    let commit =
        command_line("git", &["-C", checkout, "rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty = command_line(
        "git",
        &[
            "-C",
            checkout,
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_some_and(|s| !s.is_empty());
    let rustc = command_line("rustc", &["--version"]).unwrap_or_default();
    let python = args
        .python
        .as_deref()
        .map(PythonPeer::versions)
        .unwrap_or_else(|| "not run (no --python)".into());
    format!(
        "# Benchmarks\n\n\
         fileproc side by side with what a team would pick instead, on the same generated inputs in \
         one run, so the machine's noise falls on both sides. Written by `make benchmark`; \
         figures are never asserted in tests.\n\n\
         - **When**: {date}, commit `{commit}`{}, built with {rustc} (release profile).\n\
         - **Machine**: {}. Load average at the start: {}.\n\
         - **Peers**: {python}; {}; {}; {}; the system's {}.\n\
         - **Options**: `{}`.\n\
         - **Reproduce**: `make benchmark` (installs the peers: Debian's libvips-tools and \
         poppler-utils, and the Python packages of `bench/peers/requirements.txt` into a \
         virtualenv; then criterion, then `crates/server/examples/benchmark`). Inputs are made \
         from fixed seeds by `crates/bench-inputs` and cached in `target/bench-inputs`.\n\n\
         How each side is timed: fileproc's analyzer runs in the benchmark's own process, on the \
         file as a worker reads it (records dropped rather than stored); the Python peers are \
         timed inside one long-lived interpreter (start-up and imports not counted); \
         vipsthumbnail, pdftotext and pdftoppm from spawn to exit, as a service would run them. \
         Each contender runs once untimed first; runs shorter than 0.2 s are repeated back to back \
         and count as their mean. fileproc goes first in even runs and last in odd ones.\n",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        machine(),
        loadavg(),
        program_version("vipsthumbnail", "--version"),
        program_version("pdftotext", "-v"),
        program_version("pdftoppm", "-v"),
        program_version("python3", "--version"),
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
    )
}

/// The input files, made once.
fn prepare_inputs(dir: &Path, inputs: &[Input]) -> Result<()> {
    for input in inputs {
        let started = Instant::now();
        let path = fileproc_bench_inputs::ensure(dir, *input)
            .with_context(|| format!("writing {}", input.file_name()))?;
        eprintln!(
            "input {} ({} bytes, {:.1} s)",
            path.display(),
            std::fs::metadata(&path)?.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The per-format items `--items` keeps (all without it); a word that names no item is refused.
fn selected_items(args: &Args) -> Result<Vec<Item>> {
    let all = items::all();
    let title = |item: &Item| item.title.to_lowercase();
    for word in &args.items {
        if !all.iter().any(|i| title(i).contains(word.as_str())) {
            let titles: Vec<String> = all.iter().map(title).collect();
            bail!(
                "--items {word:?} names no item (titles: {})",
                titles.join("; ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|i| {
            args.items.is_empty() || args.items.iter().any(|w| title(i).contains(w.as_str()))
        })
        .collect())
}

/// The per-format items: measured, judged against their targets, profiled where missed.
fn run_formats(args: &Args, selected: Vec<Item>, report: &mut Report) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peers/peer.py");
    let mut python = match &args.python {
        Some(python) => Some(PythonPeer::start(python, &script)?),
        None => {
            report
                .notes
                .push("The Python peers were not run (no `--python`).".into());
            None
        }
    };
    let scratch = args.work.join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let mut runner = Runner {
        python: python.as_mut(),
        scratch,
    };
    for mut item in selected {
        if runner.python.is_none() {
            item.peers.retain(|p| !matches!(p.work, Work::Python(_)));
        }
        let path = args.inputs.join(item.input.file_name());
        eprintln!("measuring {} ...", item.title);
        let measured = runner.measure(&item, &path, args.runs)?;
        for (series, ratios) in &measured.peers {
            eprintln!(
                "  {}: fileproc {:.4} s, {} {:.4} s, ratio {}",
                item.title,
                median(measured.fileproc.seconds.clone()),
                series.name,
                median(series.seconds.clone()),
                ratio(median(ratios.clone()))
            );
            for target in item.targets.iter().filter(|t| t.peer == series.name) {
                let r = median(ratios.clone());
                let met = r <= target.max_ratio;
                let profile = if met || !args.profiles {
                    None
                } else {
                    Some(profile_item(&item, &path)?)
                };
                report.verdicts.push(Verdict {
                    goal: format!("{} ({})", target.goal, item.title),
                    measured: format!("{} (goal ≤ {})", ratio(r), ratio(target.max_ratio)),
                    met,
                    profile,
                });
            }
        }
        report.items.push(measured);
    }
    Ok(())
}

/// A 3-second in-process profile of fileproc doing `item`.
fn profile_item(item: &Item, path: &Path) -> Result<profile::Summary> {
    let Work::Analyzer {
        file_type,
        thumbnails,
    } = &item.fileproc
    else {
        bail!("only fileproc's analyzers are profiled");
    };
    let profile = profile::in_process(Duration::from_secs(3), || {
        items::analyze(*file_type, thumbnails, path).map(|_| ())
    })?;
    Ok(profile::summarize(&profile, 15))
}

/// The end-to-end part, with its verdicts.
/// The 100 MB CSV end to end with compression at rest off, at the default level, one higher
/// and zstd's own default, each on a fresh service: what it saves in the store and costs in
/// upload and processing time.
async fn run_compression(args: &Args, report: &mut Report) -> Result<()> {
    let path = args.inputs.join(Input::Csv100Mb.file_name());
    let records = items::csv_floor(&path)?.saturating_sub(1);
    let bytes = std::fs::metadata(&path)?.len();
    let settings: [(&str, &[(&str, &str)]); 4] = [
        ("none", &[("STORAGE_COMPRESSION", "none")]),
        (
            "zstd level 1 (default)",
            &[("STORAGE_COMPRESSION_LEVEL", "1")],
        ),
        ("zstd level 2", &[("STORAGE_COMPRESSION_LEVEL", "2")]),
        ("zstd level 3", &[("STORAGE_COMPRESSION_LEVEL", "3")]),
    ];
    // Every setting's service runs at once and the runs alternate between them, so that a
    // change in the machine's load falls on all of them alike.
    let mut services = Vec::new();
    for (label, extra) in settings {
        let service = e2e::Service::start_with(&args.bin, &args.work, extra).await?;
        // Warm-up: the catalog's and the workers' first use.
        e2e::large_csv(&service, &path, records).await?;
        services.push((label, service, Vec::new()));
    }
    for run in 0..args.e2e_runs {
        for (label, service, runs) in &mut services {
            let r = e2e::large_csv(service, &path, records).await?;
            eprintln!(
                "compression {label} run {run}: stored {} B, upload {:.3} s, processing {:.3} s",
                r.stored_bytes, r.upload_s, r.process_s
            );
            runs.push(r);
        }
    }
    for (label, _, runs) in services {
        report.compression.push(LargeRow {
            label: label.to_owned(),
            bytes,
            runs,
        });
    }
    Ok(())
}

async fn run_e2e(args: &Args, report: &mut Report) -> Result<()> {
    let service = e2e::Service::start(&args.bin, &args.work).await?;
    report.idle_rss_mb = Some(service.idle_rss_mb);
    let mut rss = Vec::new();
    // Profiles of missed targets are taken after every measurement: symbolising a profile grows
    // the server's RSS by hundreds of MB (its DWARF), which would show in the later peaks.
    let mut upload_profile: Option<(PathBuf, u64, usize)> = None;
    let mut small_profile: Option<(u64, usize)> = None;
    for (label, input) in [
        ("1 MB", Input::Csv1Mb),
        ("10 MB", Input::Csv10Mb),
        ("100 MB", Input::Csv100Mb),
        ("1 GB", Input::Csv1Gb),
    ] {
        let path = args.inputs.join(input.file_name());
        let records = items::csv_floor(&path)?.saturating_sub(1);
        let bytes = std::fs::metadata(&path)?.len();
        let mut runs = Vec::new();
        for run in 0..args.e2e_runs {
            let r = e2e::large_csv(&service, &path, records).await?;
            eprintln!(
                "e2e {label} run {run}: upload {:.3} s, processing {:.3} s, total {:.3} s, peak RSS {:.1} MB",
                r.upload_s, r.process_s, r.total_s, r.peak_rss_mb
            );
            runs.push(r);
        }
        rss.push((
            label,
            runs.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max),
        ));
        if input == Input::Csv1Gb {
            let upload = median(runs.iter().map(|r| r.upload_s).collect());
            let throughput = bytes as f64 / upload / 1e6;
            let met = throughput >= 500.0;
            if !met && args.profiles {
                upload_profile = Some((path.clone(), records, report.verdicts.len()));
            }
            report.verdicts.push(Verdict {
                goal: "1 GB upload ≥ 500 MB/s on loopback".into(),
                measured: format!("{throughput:.0} MB/s (multipart, median of {})", runs.len()),
                met,
                profile: None,
            });
        }
        report.large.push(LargeRow {
            label: label.to_owned(),
            bytes,
            runs,
        });
    }
    let worst = rss.iter().map(|(_, mb)| *mb).fold(0.0, f64::max);
    report.verdicts.push(Verdict {
        goal: "Peak server RSS ≤ 50 MB while processing 1 MB, 100 MB or 1 GB (flat)".into(),
        measured: rss
            .iter()
            .map(|(label, mb)| format!("{label}: {mb:.1} MB"))
            .collect::<Vec<_>>()
            .join(", "),
        met: worst <= 50.0,
        profile: None,
    });

    // Warm-up: the first files pay for the catalog's and the workers' first use.
    e2e::small_files(&service, 10, 50, 1_000_000).await?;
    for clients in [10, 100] {
        let mut runs = Vec::new();
        for run in 0..args.e2e_runs {
            let seed = (clients * 1_000 + run) as u64 * 1_000_000;
            let r = e2e::small_files(&service, clients, args.small_files, seed).await?;
            eprintln!(
                "e2e small files, {clients} clients, run {run}: {:.0} files/s, p99 {:.1} ms",
                r.files_per_s,
                bench_support::percentile(&r.latencies_ms, 99.0)
            );
            runs.push(r);
        }
        if clients == 100 {
            let (fps, _, p99, _, _) = e2e::small_medians(&runs);
            let met = fps >= 1000.0 && p99 < 50.0;
            if !met && args.profiles {
                let seconds = (args.small_files as f64 / fps).ceil().clamp(1.0, 60.0) as u64;
                small_profile = Some((seconds, report.verdicts.len()));
            }
            report.verdicts.push(Verdict {
                goal: "≥ 1,000 small files/s end to end, p99 < 50 ms at 100 clients".into(),
                measured: format!("{fps:.0} files/s, p99 {p99:.1} ms"),
                met,
                profile: None,
            });
        }
        report.small.push(SmallRow {
            clients,
            files: args.small_files,
            runs,
        });
    }
    if let Some((path, records, verdict)) = upload_profile {
        let summary = e2e::profiled(&service, 3, async {
            e2e::large_csv(&service, &path, records).await.map(|_| ())
        })
        .await?;
        report.verdicts[verdict].profile = Some(summary);
    }
    if let Some((seconds, verdict)) = small_profile {
        let summary = e2e::profiled(&service, seconds, async {
            e2e::small_files(&service, 100, args.small_files, 9_000_000_000)
                .await
                .map(|_| ())
        })
        .await?;
        report.verdicts[verdict].profile = Some(summary);
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    // Fail before measuring, not after: the report's directory, and items that name something.
    let out_dir = args
        .out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if args.out.is_dir() {
        bail!(
            "--out {} is a directory: name the report's file",
            args.out.display()
        );
    }
    if !out_dir.is_dir() {
        bail!(
            "--out {}: no directory {}",
            args.out.display(),
            out_dir.display()
        );
    }
    let selected = if args.formats {
        selected_items(&args)?
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let mut report = Report {
        header: header(&args),
        ..Report::default()
    };
    // The inputs of the selected items, then the end-to-end CSVs, each once.
    let mut inputs: Vec<Input> = Vec::new();
    let e2e_inputs = Input::ALL.into_iter().filter(|i| i.csv_bytes().is_some());
    let wanted = selected
        .iter()
        .map(|i| i.input)
        .chain(e2e_inputs.filter(|_| args.e2e))
        .chain(args.compression.then_some(Input::Csv100Mb));
    for input in wanted {
        if !inputs.contains(&input) {
            inputs.push(input);
        }
    }
    if (args.e2e || args.compression) && !args.bin.is_file() {
        bail!(
            "{} is missing: cargo build --release -p fileproc --bin fileproc (or --bin PATH)",
            args.bin.display()
        );
    }
    prepare_inputs(&args.inputs, &inputs)?;
    if args.formats {
        run_formats(&args, selected, &mut report)?;
    }
    if args.e2e || args.compression {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if args.e2e {
            runtime.block_on(run_e2e(&args, &mut report))?;
        }
        if args.compression {
            runtime.block_on(run_compression(&args, &mut report))?;
        }
    }
    if let Some(dir) = &args.criterion {
        report.criterion = report::read_criterion(dir);
        if report.criterion.is_empty() {
            report.notes.push(format!(
                "No criterion results under `{}` (run `cargo bench -p fileproc-formats` first).",
                dir.display()
            ));
        }
    }
    report.notes.push(format!(
        "The whole benchmark took {:.0} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        loadavg()
    ));
    std::fs::write(&args.out, report.markdown())
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    let _ = std::fs::remove_dir_all(args.work.join("scratch"));
    Ok(())
}
