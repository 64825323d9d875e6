//! Helpers shared by the CSV tests: run the analyzer over bytes or a corpus file and collect
//! what the record sink received.

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;

use fileproc_formats::csv::{ColumnSummary, CsvAnalyzer, CsvSummary};
use fileproc_formats::{
    Analysis, Analyzer, Context, FormatError, Input, Limits, RecordSink, Section,
};

/// The fields every record sent to the sink had.
pub type Records = Vec<Vec<Option<String>>>;

/// A sink that keeps every record.
#[derive(Default)]
pub struct Collect(pub Records);

impl RecordSink for Collect {
    fn record(&mut self, fields: &[Option<&str>]) -> std::io::Result<()> {
        self.0
            .push(fields.iter().map(|f| f.map(str::to_owned)).collect());
        Ok(())
    }
}

/// Analyzes bytes with the given limits and cancel flag.
pub fn analyze_with(
    data: &[u8],
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<(Analysis, Records), FormatError> {
    let mut sink = Collect::default();
    let mut progress = |_| {};
    let mut ctx = Context {
        limits,
        size: Some(data.len() as u64),
        progress: &mut progress,
        records: &mut sink,
        cancel,
    };
    let mut reader: &[u8] = data;
    let analysis = CsvAnalyzer.analyze(Input::Stream(&mut reader), &mut ctx)?;
    Ok((analysis, sink.0))
}

/// Analyzes bytes with the default limits.
pub fn analyze_bytes(data: &[u8]) -> Result<(Analysis, Records), FormatError> {
    analyze_with(data, Limits::default(), &AtomicBool::new(false))
}

/// Analyzes a file of `tests/data/csv/`.
pub fn analyze_file(name: &str) -> Result<(Analysis, Records), FormatError> {
    let path = format!("{}/tests/data/csv/{name}", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(&path).map_err(FormatError::Io)?;
    analyze_bytes(&data)
}

/// The CSV summary, warnings and records of a successful analysis; panics (failing the test)
/// otherwise.
pub fn summary_of(
    result: Result<(Analysis, Records), FormatError>,
) -> (CsvSummary, Vec<String>, Records) {
    match result {
        Ok((
            Analysis {
                section: Section::Csv(s),
                warnings,
            },
            records,
        )) => (s, warnings, records),
        Err(e) => panic!("analysis failed: {e}"),
    }
}

/// The column named `name`; panics (failing the test) when there is none.
pub fn col<'a>(s: &'a CsvSummary, name: &str) -> &'a ColumnSummary {
    s.columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}
