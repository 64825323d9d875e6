//! Times the CSV analysis against its floor, a bare `csv::Reader::read_byte_record` counting pass,
//! on one file: `cargo run --release -p fileproc-formats --example csv_floor -- FILE [RUNS [floor|analysis]]`
//! (the third argument runs only one side, e.g. under `perf stat` to see CPU time).

use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fileproc_formats::context::DiscardRecords;
use fileproc_formats::csv::CsvAnalyzer;
use fileproc_formats::{Analyzer, Context, Input, Limits, Section};

fn floor(path: &str) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(File::open(path)?);
    let mut record = csv::ByteRecord::new();
    let (mut records, mut fields) = (0u64, 0u64);
    while reader.read_byte_record(&mut record)? {
        records += 1;
        fields += record.len() as u64;
    }
    Ok((records, fields))
}

fn analysis(path: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let cancel = AtomicBool::new(false);
    let mut progress = |_| {};
    let mut sink = DiscardRecords;
    let mut ctx = Context {
        limits: Limits::default(),
        size: Some(size),
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let result = CsvAnalyzer.analyze(Input::Stream(&mut file), &mut ctx)?;
    let Section::Csv(summary) = result.section else {
        return Err("the CSV analyzer returned another section".into());
    };
    Ok(summary.row_count)
}

fn best<T>(
    runs: usize,
    mut f: impl FnMut() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<(Duration, T), Box<dyn std::error::Error>> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f()?;
        let elapsed = start.elapsed();
        if best.as_ref().is_none_or(|(b, _)| elapsed < *b) {
            best = Some((elapsed, value));
        }
    }
    best.ok_or_else(|| "no runs".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: csv_floor FILE [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let size = std::fs::metadata(&path)?.len();
    #[allow(clippy::cast_precision_loss)]
    let mb = size as f64 / 1e6;
    let only = args.next();
    let mut t_floor = None;
    if only.as_deref() != Some("analysis") {
        let (t, (records, fields)) = best(runs, || floor(&path))?;
        println!(
            "floor:    {:>8.3} s  {:>7.1} MB/s  ({records} records, {fields} fields)",
            t.as_secs_f64(),
            mb / t.as_secs_f64()
        );
        t_floor = Some(t);
    }
    if only.as_deref() != Some("floor") {
        let (t, rows) = best(runs, || analysis(&path))?;
        println!(
            "analysis: {:>8.3} s  {:>7.1} MB/s  ({rows} data rows)",
            t.as_secs_f64(),
            mb / t.as_secs_f64()
        );
        if let Some(f) = t_floor {
            println!(
                "ratio:    {:.2}x (best of {runs})",
                t.as_secs_f64() / f.as_secs_f64()
            );
        }
    }
    Ok(())
}
