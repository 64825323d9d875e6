//! Where the time goes, for each missed target: a CPU profile (pprof's protobuf `Profile`, from
//! the pprof crate in this process or from the server's `/debug/pprof/profile`) summed up by
//! function: self time (the leaf frame) and total time (anywhere on the stack).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use pprof::protos::Profile;

/// A profile summed up by function.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Samples (CPU time / sampling period).
    pub samples: i64,
    /// Functions by the share of samples where they are the innermost frame (inlined helpers
    /// count as themselves), highest first.
    pub by_self: Vec<(String, f64)>,
    /// fileproc's own functions by the share of samples they are on the stack of, highest first.
    pub ours_by_total: Vec<(String, f64)>,
    /// For a server profile: its length in seconds and sampling rate (Hz), to tell busy from
    /// waiting.
    pub window: Option<(u64, u32)>,
}

/// A function name without its hash suffix (`::h0123456789abcdef`) and shortened past 110 chars.
fn clean(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(i) if name.len() - i == 19 => &name[..i],
        _ => name,
    };
    if name.chars().count() > 110 {
        format!("{}…", name.chars().take(110).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// Sums `profile` up (`top` functions per list).
pub fn summarize(profile: &Profile, top: usize) -> Summary {
    let string = |i: i64| {
        profile
            .string_table
            .get(usize::try_from(i).unwrap_or(0))
            .cloned()
            .unwrap_or_default()
    };
    let functions: HashMap<u64, String> = profile
        .function
        .iter()
        .map(|f| (f.id, clean(&string(f.name))))
        .collect();
    // A location's functions, innermost first (pprof: the last line is the caller the others
    // were inlined into).
    let locations: HashMap<u64, Vec<String>> = profile
        .location
        .iter()
        .map(|l| {
            let names = l
                .line
                .iter()
                .filter_map(|line| functions.get(&line.function_id).cloned())
                .collect();
            (l.id, names)
        })
        .collect();
    let mut total_samples = 0i64;
    let mut by_self: HashMap<String, i64> = HashMap::new();
    let mut by_total: HashMap<String, i64> = HashMap::new();
    for sample in &profile.sample {
        let count = sample.value.first().copied().unwrap_or(0);
        total_samples += count;
        let stack: Vec<&String> = sample
            .location_id
            .iter()
            .filter_map(|id| locations.get(id))
            .flatten()
            .collect();
        // Self time goes to the innermost frame: pprof-rs gives each inlined function its own
        // location, so a helper inlined into a loop (`is_char_boundary`...) shows by its name.
        if let Some(leaf) = stack.first() {
            *by_self.entry((*leaf).clone()).or_default() += count;
        }
        let mut seen = HashSet::new();
        for name in stack {
            if name.contains("fileproc") && seen.insert(name) {
                *by_total.entry(name.clone()).or_default() += count;
            }
        }
    }
    let share = |map: HashMap<String, i64>| {
        let mut v: Vec<(String, f64)> = map
            .into_iter()
            .map(|(name, n)| (name, 100.0 * n as f64 / total_samples.max(1) as f64))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(top);
        v
    };
    Summary {
        samples: total_samples,
        by_self: share(by_self),
        ours_by_total: share(by_total),
        window: None,
    }
}

/// Profiles this process (every thread, 997 Hz) while `work` runs again and again for at least
/// `duration`.
pub fn in_process(duration: Duration, mut work: impl FnMut() -> Result<()>) -> Result<Profile> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(997)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .context("starting the profiler")?;
    let started = Instant::now();
    while started.elapsed() < duration {
        work()?;
    }
    let report = guard.report().build().context("building the profile")?;
    report.pprof().context("encoding the profile")
}

/// The summary as Markdown: two short tables.
pub fn markdown(summary: &Summary) -> String {
    if summary.samples == 0 {
        return "No samples: the work ended before the profile could see it (run more of it, e.g. \
                a larger `--small-files`).\n"
            .into();
    }
    let busy = summary
        .window
        .map(|(seconds, hz)| {
            let cores = summary.samples as f64 / (seconds as f64 * f64::from(hz));
            format!(
                " over {seconds} s: the server was on CPU for {:.0}% of one core's time",
                cores * 100.0
            )
        })
        .unwrap_or_default();
    let mut out = format!(
        "{} samples{busy}. Self time (the innermost function at the sampled instruction, inlined helpers by their own name):\n\n| % | function |\n| ---: | --- |\n",
        summary.samples
    );
    for (name, pct) in &summary.by_self {
        out.push_str(&format!("| {pct:.1} | `{}` |\n", name.replace('|', "\\|")));
    }
    if !summary.ours_by_total.is_empty() {
        out.push_str(
            "\nfileproc's functions by total time (themselves and what they call):\n\n| % | function |\n| ---: | --- |\n",
        );
        for (name, pct) in &summary.ours_by_total {
            out.push_str(&format!("| {pct:.1} | `{}` |\n", name.replace('|', "\\|")));
        }
    }
    out
}
