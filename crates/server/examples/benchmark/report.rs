//! BENCHMARKS.md: the machine and the command, the targets met or missed, one table per work
//! item, the end-to-end figures, criterion's throughputs and, for each missed target, where the
//! time goes.

use std::fmt::Write as _;
use std::path::Path;

use crate::bench_support::{median, min_max};
use crate::e2e::{LargeRun, SmallRun, small_medians};
use crate::items::Measured;
use crate::profile::{self, Summary};

/// A goal and how it came out.
pub struct Verdict {
    pub goal: String,
    pub measured: String,
    pub met: bool,
    /// Where the time goes, for a missed goal.
    pub profile: Option<Summary>,
}

/// The large-CSV figures of one input.
pub struct LargeRow {
    pub label: String,
    pub bytes: u64,
    pub runs: Vec<LargeRun>,
}

/// The small-files figures at one client count.
pub struct SmallRow {
    pub clients: usize,
    pub files: usize,
    pub runs: Vec<SmallRun>,
}

/// Everything measured, in the order of the document.
#[derive(Default)]
pub struct Report {
    pub header: String,
    pub items: Vec<Measured>,
    pub large: Vec<LargeRow>,
    pub small: Vec<SmallRow>,
    /// The 100 MB CSV with compression at rest off and at two levels.
    pub compression: Vec<LargeRow>,
    pub criterion: Vec<(String, f64, Option<String>)>,
    pub verdicts: Vec<Verdict>,
    pub notes: Vec<String>,
    /// The server's RSS before the first file, MB.
    pub idle_rss_mb: Option<f64>,
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

fn mb_per_s(bytes: u64, s: f64) -> String {
    let rate = bytes as f64 / s / 1e6;
    if rate < 10.0 {
        format!("{rate:.1} MB/s")
    } else {
        format!("{rate:.0} MB/s")
    }
}

/// A ratio as `0.52×`.
pub fn ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.3}×")
    } else {
        format!("{r:.2}×")
    }
}

impl Report {
    /// The whole document.
    pub fn markdown(&self) -> String {
        let mut out = self.header.clone();
        out.push_str("\n## Targets\n\n| goal | measured | |\n| --- | --- | --- |\n");
        for v in &self.verdicts {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                v.goal,
                v.measured,
                if v.met { "met" } else { "**missed**" }
            );
        }
        if !self.items.is_empty() {
            out.push_str(
                "\n## Per format\n\nTimes are medians over the runs; the ratio is fileproc's time over \
                 the peer's in the same run, its median (and range) over the runs: below 1× fileproc \
                 is faster.\n",
            );
        }
        for m in &self.items {
            let f = median(m.fileproc.seconds.clone());
            let _ = write!(
                out,
                "\n### {}\n\nInput `{}`, {} bytes; {} runs.\n\n| | time | throughput | fileproc / this | did |\n| --- | ---: | ---: | ---: | --- |\n| **fileproc** | {} | {} | | {} |\n",
                m.item.title,
                m.item.input.file_name(),
                m.input_bytes,
                m.fileproc.seconds.len(),
                seconds(f),
                mb_per_s(m.input_bytes, f),
                m.fileproc.facts,
            );
            for (s, ratios) in &m.peers {
                let p = median(s.seconds.clone());
                let (lo, hi) = min_max(ratios);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} ({}–{}) | {} |",
                    s.name,
                    seconds(p),
                    mb_per_s(m.input_bytes, p),
                    ratio(median(ratios.clone())),
                    ratio(lo),
                    ratio(hi),
                    if s.facts.is_empty() { "–" } else { &s.facts },
                );
            }
        }
        if !self.large.is_empty() {
            let idle = self
                .idle_rss_mb
                .map(|mb| format!("The server's RSS before the first file: {mb:.1} MB.\n\n"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "\n## End to end\n\n`fileproc serve` (release) on the embedded default: SQLite and \
                 local disk, default settings (4 workers), over loopback. Medians over the runs.\n\n\
                 ### CSV: upload, processing, result\n\nMultipart upload streamed from disk, the \
                 `completed` event on `/ws`, then `GET /result` (its `row_count` checked). Peak RSS \
                 is the server's `VmHWM`, reset before each file, and `VmRSS` sampled every 20 ms. \
                 Processing includes writing every record to storage as NDJSON.\n\n\
                 {idle}| file | runs | upload | processing | upload → result | throughput (whole way) | peak server RSS (max) |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for row in &self.large {
                let col = |f: fn(&LargeRun) -> f64| median(row.runs.iter().map(f).collect());
                let total = col(|r| r.total_s);
                let rss_max = row.runs.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} ({}) | {} | {} | {} | {:.1} MB ({rss_max:.1}) |",
                    row.label,
                    row.runs.len(),
                    seconds(col(|r| r.upload_s)),
                    mb_per_s(row.bytes, col(|r| r.upload_s)),
                    seconds(col(|r| r.process_s)),
                    seconds(total),
                    mb_per_s(row.bytes, total),
                    col(|r| r.peak_rss_mb),
                );
            }
        }
        if !self.small.is_empty() {
            out.push_str(
                "\n### Small files\n\nDistinct CSVs of 20 records (about 1.2 KB); each client uploads \
                 its next file once its last one is `completed`. Latency: upload start → the \
                 `completed` event. Files are deleted between runs.\n\n\
                 | clients | files × runs | files/s | p50 | p99 | server CPU per file | peak server RSS |\n\
                 | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for row in &self.small {
                let (fps, p50, p99, rss, cpu) = small_medians(&row.runs);
                let _ = writeln!(
                    out,
                    "| {} | {} × {} | {fps:.0} | {p50:.1} ms | {p99:.1} ms | {cpu:.2} ms | {rss:.1} MB |",
                    row.clients,
                    row.files,
                    row.runs.len(),
                );
            }
        }
        if let Some(none) = self.compression.first() {
            let base = |f: fn(&LargeRun) -> f64| median(none.runs.iter().map(f).collect());
            out.push_str(
                "\n### Compression at rest: the 100 MB CSV\n\nThe same multipart upload and \
                 processing on a fresh service per setting (`storage.compression`); stored is \
                 the original's object in the store (`storage_info.compressed_size`). Medians of \
                 the wall time and of the server's CPU time (user + system, which other work on \
                 the machine does not inflate); the cost is the CPU time over the CPU time \
                 without compression.\n\n\
                 | setting | runs | stored | ratio | upload | upload CPU | cost | processing | processing CPU | cost |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for row in &self.compression {
                let col = |f: fn(&LargeRun) -> f64| median(row.runs.iter().map(f).collect());
                let stored = col(|r| r.stored_bytes as f64);
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.1} MB | {:.2}× | {} ({}) | {} | {} | {} ({}) | {} | {} |",
                    row.label,
                    row.runs.len(),
                    stored / 1e6,
                    row.bytes as f64 / stored,
                    seconds(col(|r| r.upload_s)),
                    mb_per_s(row.bytes, col(|r| r.upload_s)),
                    seconds(col(|r| r.upload_cpu_s)),
                    ratio(col(|r| r.upload_cpu_s) / base(|r| r.upload_cpu_s)),
                    seconds(col(|r| r.process_s)),
                    mb_per_s(row.bytes, col(|r| r.process_s)),
                    seconds(col(|r| r.process_cpu_s)),
                    ratio(col(|r| r.process_cpu_s) / base(|r| r.process_cpu_s)),
                );
            }
        }
        if !self.criterion.is_empty() {
            out.push_str(
                "\n## Criterion: the analyzers alone\n\n`cargo bench -p fileproc-formats --bench analyzers` \
                 (inputs made in memory by `fileproc-bench-inputs`, smaller than the ones above where \
                 noted in the name); criterion's median estimate.\n\n| benchmark | time | throughput |\n\
                 | --- | ---: | ---: |\n",
            );
            for (name, s, throughput) in &self.criterion {
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} |",
                    seconds(*s),
                    throughput.as_deref().unwrap_or("–")
                );
            }
        }
        let missed: Vec<&Verdict> = self
            .verdicts
            .iter()
            .filter(|v| v.profile.is_some())
            .collect();
        if !missed.is_empty() {
            out.push_str(
                "\n## Where the time goes, for the missed targets\n\nCPU profiles taken in the same \
                 run (pprof, 997 Hz in the benchmark's process for the analyzers; the server's \
                 `/debug/pprof/profile`, 100 Hz, for the end-to-end figures), summed by function.\n",
            );
            for v in missed {
                if let Some(summary) = &v.profile {
                    let _ = write!(
                        out,
                        "\n### {} ({})\n\n{}",
                        v.goal,
                        v.measured,
                        profile::markdown(summary)
                    );
                }
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

/// Criterion's results under `dir` (`<target>/criterion`): each benchmark's name, median
/// seconds and throughput, sorted by name. Missing or unreadable entries are skipped.
pub fn read_criterion(dir: &Path) -> Vec<(String, f64, Option<String>)> {
    let mut rows = Vec::new();
    let Ok(walk) = walk(dir) else {
        return rows;
    };
    for bench in walk {
        let read = |name: &str| -> Option<serde_json::Value> {
            serde_json::from_slice(&std::fs::read(bench.join(name)).ok()?).ok()
        };
        let (Some(estimates), Some(meta)) = (read("estimates.json"), read("benchmark.json")) else {
            continue;
        };
        let Some(ns) = estimates["median"]["point_estimate"].as_f64() else {
            continue;
        };
        let s = ns / 1e9;
        let name = meta["full_id"].as_str().unwrap_or("?").to_owned();
        let throughput = match &meta["throughput"] {
            serde_json::Value::Object(t) => {
                if let Some(bytes) = t.get("Bytes").and_then(serde_json::Value::as_f64) {
                    Some(format!("{:.0} MB/s", bytes / s / 1e6))
                } else {
                    t.get("Elements")
                        .and_then(serde_json::Value::as_f64)
                        .map(|n| format!("{:.0} items/s", n / s))
                }
            }
            _ => None,
        };
        rows.push((name, s, throughput));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Every `new` directory under `dir` holding criterion's files.
fn walk(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    if path.join("estimates.json").is_file() {
                        found.push(path);
                    }
                } else if path.file_name().is_none_or(|n| n != "report") {
                    stack.push(path);
                }
            }
        }
    }
    Ok(found)
}
