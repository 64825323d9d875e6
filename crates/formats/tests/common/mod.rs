//! Helpers shared by the format tests: run an analyzer over bytes or a test data file and
//! collect what the record sink received.

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;

use fileproc_formats::csv::{ColumnSummary, CsvAnalyzer, CsvSummary};
use fileproc_formats::{
    Analysis, Analyzer, Context, FormatError, Input, Limits, RecordSink, Section,
};
use serde_json::{Map, Value};

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

    fn typed_record(&mut self, _record: &Map<String, Value>) -> std::io::Result<()> {
        Err(std::io::Error::other("the CSV analyzer sends raw records"))
    }
}

/// A sink that keeps typed records (XLSX sheets, one after another).
#[derive(Default)]
pub struct CollectTyped(pub Vec<Map<String, Value>>);

impl RecordSink for CollectTyped {
    fn record(&mut self, _fields: &[Option<&str>]) -> std::io::Result<()> {
        Err(std::io::Error::other("expected typed records"))
    }

    fn typed_record(&mut self, record: &Map<String, Value>) -> std::io::Result<()> {
        self.0.push(record.clone());
        Ok(())
    }
}

/// Runs `analyzer` over `tests/data/{path}` as a seekable file, with `limits`; returns the
/// analysis and the typed records it sent.
pub fn analyze_path_with(
    analyzer: &dyn Analyzer,
    path: &str,
    limits: Limits,
) -> Result<(Analysis, Vec<Map<String, Value>>), FormatError> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    let mut file = std::fs::File::open(&full).map_err(FormatError::Io)?;
    let size = file.metadata().map_err(FormatError::Io)?.len();
    let mut sink = CollectTyped::default();
    let mut progress = |_| {};
    let cancel = AtomicBool::new(false);
    let mut ctx = Context {
        limits,
        size: Some(size),
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let analysis = analyzer.analyze(Input::Seekable(&mut file), &mut ctx)?;
    Ok((analysis, sink.0))
}

/// [`analyze_path_with`] with the default limits.
pub fn analyze_path(
    analyzer: &dyn Analyzer,
    path: &str,
) -> Result<(Analysis, Vec<Map<String, Value>>), FormatError> {
    analyze_path_with(analyzer, path, Limits::default())
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
                ..
            },
            records,
        )) => (s, warnings, records),
        Ok(_) => panic!("not a CSV analysis"),
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
