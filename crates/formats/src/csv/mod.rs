//! CSV (and TSV): the streaming analyzer.
//!
//! # Design
//!
//! One forward pass over the bytes, in memory that does not grow with the file:
//!
//! 1. The first 64 KiB (`encoding::PREFIX_BYTES`) decide everything that needs look-ahead:
//!    binary refusal, the encoding (BOM, else valid UTF-8, else chardetng), the delimiter (the
//!    candidate whose quote-aware parse gives the most consistent field count) and whether the first
//!    record is a header (its cells against the types of the sampled columns below).
//! 2. The prefix and the rest of the input are chained again into one stream: UTF-8 passes through
//!    untouched, anything else is transcoded to UTF-8 as it streams.
//! 3. A parser thread (`csv_core`, bounded record sizes) fills batches of records while this thread
//!    analyses the previous batch (see `reader.rs`). Each cell is typed by byte-level checks
//!    (`infer.rs`) only while its column could still be something else than a string, and feeds
//!    fixed-size per-column accumulators (`stats.rs`): no allocation per cell or per record.
//! 4. Every record goes to the record sink as it is read; the first `preview_records` are also kept
//!    and typed at the end, once the columns' types are final.
//!
//! Where the time goes (`examples/csv_floor.rs`, 100 MB, 10 mixed columns, 2 cores): the
//! analysis takes about 2.0-2.3x the wall time of a bare `csv::Reader::read_byte_record` counting
//! pass, and about 4x its CPU time. The analysis thread is the bottleneck, at roughly 35-40 ns per
//! cell (null check, hash and HyperLogLog register, string extremes, typing while the column is
//! typed, the sink's `&str`); the parser thread costs 1.2-1.3x the counting pass (probably
//! because its batches go through memory the other core reads, where the counting pass reuses one
//! small record buffer). Two ways to balance the threads were tried and measured no
//! better: computing per-field hashes and lengths on the parser thread (the results crossing cores
//! cost what they saved) and analysing some columns on the parser thread (it became the
//! bottleneck).
//!
//! Every record seen by the sink, every column's statistics and every type decision are exact
//! except `distinct_estimate` (exact up to 512 distinct values, then HyperLogLog) and the header
//! and delimiter decisions, which look at the first 64 KiB only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod analysis;
mod encoding;
mod infer;
mod reader;
mod sniff;
mod stats;

pub use infer::NULL_MARKERS;
pub(crate) use infer::is_temporal;
pub(crate) use stats::ColumnStats;

use crate::{Access, Analysis, Analyzer, Context, FormatError, Input};

/// The `csv` section of a result (`DESIGN.md` section 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CsvSummary {
    /// The detected encoding's WHATWG name: `UTF-8`, `UTF-16LE`, `UTF-16BE`, `windows-1252`...
    pub encoding: String,
    /// The delimiter: one of `,` `;` `\t` `|`.
    pub delimiter: String,
    /// The quote character.
    pub quote: String,
    /// Whether the first record is a header.
    pub has_header: bool,
    /// Data records (the header not counted).
    pub row_count: u64,
    /// Columns (the header's field count, or the most common field count without a header).
    pub column_count: usize,
    /// One summary per column.
    pub columns: Vec<ColumnSummary>,
    /// Records whose field count differs from `column_count`.
    pub malformed_rows: u64,
    /// Records available at `/records` (equals `row_count`).
    pub records_count: u64,
    /// The first records, typed, header → value.
    pub records: Vec<Map<String, Value>>,
}

/// A column's inferred type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    Boolean,
    Date,
    Datetime,
    String,
}

/// Statistics of one column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub null_count: u64,
    pub distinct_estimate: u64,
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub mean: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

/// One record typed by the columns' final types: header → JSON value.
///
/// `fields` are a record's raw fields as the record sink received them (`None` is null); missing
/// fields are null, extra ones are ignored. Integer → JSON integer, float → JSON number, boolean →
/// `true`/`false`, date and datetime → normalised ISO 8601 strings (a date in a datetime column
/// becomes midnight), string → the raw string. A null marker is null whatever the type, and a
/// value that does not fit its column's type (which the analysis never produces) stays a string.
pub fn typed_record(columns: &[ColumnSummary], fields: &[Option<&str>]) -> Map<String, Value> {
    columns
        .iter()
        .zip(fields.iter().copied().chain(std::iter::repeat(None)))
        .map(|(c, f)| {
            (
                c.name.clone(),
                f.map_or(Value::Null, |s| typed_value(c.column_type, s)),
            )
        })
        .collect()
}

/// One raw value as its column's type.
pub fn typed_value(column_type: ColumnType, raw: &str) -> Value {
    if infer::is_null(raw.as_bytes()) {
        return Value::Null;
    }
    if column_type == ColumnType::String {
        return Value::String(raw.to_owned());
    }
    let typed = match (column_type, infer::classify(raw.trim_ascii().as_bytes())) {
        (ColumnType::Integer, infer::Cell::Int(v)) => Some(Value::from(v)),
        #[allow(clippy::cast_precision_loss)]
        (ColumnType::Float, infer::Cell::Int(v)) => {
            serde_json::Number::from_f64(v as f64).map(Value::Number)
        }
        (ColumnType::Float, infer::Cell::Float(v)) => {
            serde_json::Number::from_f64(v).map(Value::Number)
        }
        (ColumnType::Boolean, infer::Cell::Bool(b)) => Some(Value::Bool(b)),
        (ColumnType::Date, infer::Cell::Date(d)) => Some(Value::String(d.iso())),
        (ColumnType::Datetime, infer::Cell::Date(d)) => Some(Value::String(d.at_midnight().iso())),
        (ColumnType::Datetime, infer::Cell::DateTime(dt)) => Some(Value::String(dt.iso())),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(raw.to_owned()))
}

/// The CSV analyzer.
pub struct CsvAnalyzer;

impl Analyzer for CsvAnalyzer {
    fn name(&self) -> &'static str {
        "csv"
    }
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
    fn access(&self) -> Access {
        Access::Sequential
    }
    /// # Errors
    /// [`FormatError::Empty`] for a file without content (0 bytes, only a BOM or whitespace),
    /// [`FormatError::Corrupt`] for binary data, [`FormatError::LimitExceeded`] for a field, record
    /// or column count past [`crate::Limits`], [`FormatError::Cancelled`], [`FormatError::Io`].
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
        analysis::analyze(input, ctx)
    }
}
