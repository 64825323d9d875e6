//! The driver shared by the fuzz targets: hand the fuzzer's bytes to one format's analyzer, the
//! way the service does (`Input::Stream` or `Input::Seekable` as the analyzer asks), with small
//! limits and a sink that drops records.
//!
//! An error is a normal outcome (most mutated inputs are broken files). A finding is a panic that
//! escapes the analyzer, an input that runs longer than libFuzzer's `-timeout`, memory beyond
//! `-rss_limit_mb` (or one allocation beyond it), or a successful analysis whose section does not
//! serialize to the result JSON.

#![forbid(unsafe_code)]

use std::backtrace::Backtrace;
use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, Once};

use fileproc_formats::{
    Access, Analysis, Context, DiscardRecords, FileType, Input, Limits, analyzer_for,
};

/// Crates that panic on some inputs by design, whose panics an analyzer catches with
/// `catch_unwind` (`shared/CRATES.md`: pdf-extract). A panic raised while one of them is on
/// the stack, as a demangled path prefix in the backtrace, is left to the analyzer; any other
/// panic aborts at once, as libFuzzer's default hook does, even if something catches it later
/// (e.g. the join of the CSV parser thread).
const PANICS_BY_DESIGN: &[&str] = &["pdf_extract::"];

/// The message of the last panic of [`PANICS_BY_DESIGN`], printed only if it escapes.
static CAUGHT_PANIC: Mutex<String> = Mutex::new(String::new());

/// The limits of a fuzzing run: the defaults of `DESIGN.md` section 6, scaled down so one input
/// stays well inside `-rss_limit_mb=2048` and `-timeout=10`, and so that the CSV limits are within
/// reach of the 128 KiB inputs `scripts/fuzz-smoke.sh` gives that target. A finding is an analyzer
/// that does not keep to its limits, so their size does not matter.
pub fn limits() -> Limits {
    Limits {
        preview_records: 20,
        max_field_bytes: 16 << 10,
        max_record_bytes: 64 << 10,
        max_columns: 512,
        thumbnail_sizes: vec![64],
        max_image_pixels: 4_000_000,
        max_frames: 100,
        max_pdf_pages: 1_000,
        max_expanded_bytes: 64 << 20,
        max_shared_strings_bytes: 16 << 20,
        text_chars: 1_000,
        ..Limits::default()
    }
}

/// Run the analyzer of `file_type` over `data`, aborting the process (a libFuzzer crash) if a
/// panic escapes it or its successful result does not serialize.
pub fn analyze(file_type: FileType, data: &[u8]) {
    static HOOK: Once = Once::new();
    HOOK.call_once(install_panic_hook);
    match panic::catch_unwind(AssertUnwindSafe(|| run(file_type, data))) {
        Ok(Ok(analysis)) => {
            if let Err(e) = serde_json::to_value(&analysis.section) {
                eprintln!("the {file_type:?} section does not serialize to JSON: {e}");
                std::process::abort();
            }
        }
        Ok(Err(_)) => {}
        Err(_) => {
            let message = CAUGHT_PANIC.lock().map(|m| m.clone()).unwrap_or_default();
            eprintln!("a panic escaped the {file_type:?} analyzer: {message}");
            std::process::abort();
        }
    }
}

/// One analysis, set up as the service's pipeline does it.
fn run(file_type: FileType, data: &[u8]) -> Result<Analysis, fileproc_formats::FormatError> {
    let Some(analyzer) = analyzer_for(file_type) else {
        return Err(fileproc_formats::FormatError::Unsupported(format!(
            "no analyzer for {file_type:?}"
        )));
    };
    let cancel = AtomicBool::new(false);
    let mut progress = |_| {};
    let mut records = DiscardRecords;
    let mut ctx = Context {
        limits: limits(),
        size: u64::try_from(data.len()).ok(),
        progress: &mut progress,
        records: &mut records,
        cancel: &cancel,
    };
    let mut cursor = Cursor::new(data);
    let input = match analyzer.access() {
        Access::Sequential => Input::Stream(&mut cursor),
        Access::Random => Input::Seekable(&mut cursor),
    };
    analyzer.analyze(input, &mut ctx)
}

/// Replace libfuzzer-sys's hook (print, then abort) with one that lets the panics of
/// [`PANICS_BY_DESIGN`] unwind to the analyzer's `catch_unwind`, keeping their message in
/// [`CAUGHT_PANIC`].
fn install_panic_hook() {
    let abort_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let trace = Backtrace::force_capture().to_string();
        let by_design = trace.lines().any(|line| {
            let frame = line.trim_start();
            let symbol = frame
                .split_once(": ")
                .map_or(frame, |(_, s)| s.trim_start_matches('<'));
            PANICS_BY_DESIGN.iter().any(|p| symbol.starts_with(p))
        });
        if by_design {
            if let Ok(mut message) = CAUGHT_PANIC.lock() {
                *message = format!("{info}\n{trace}");
            }
        } else {
            abort_hook(info);
            std::process::abort();
        }
    }));
}
