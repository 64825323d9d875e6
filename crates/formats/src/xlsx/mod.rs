//! XLSX (ECMA-376 SpreadsheetML): sheets, typed records, formulas, date system, core properties.
//!
//! # Design
//! The package is first opened through [`crate::ooxml::Package`]: ZIP limits, content types (a
//! DOCX is a `TypeMismatch`), OLE2 refusals (a password-protected workbook is `Encrypted`), core
//! properties, and the shared-strings checks calamine lacks (`workbook.rs`). Then calamine 0.38
//! opens the same bytes and each worksheet is streamed with its cell reader (`sheet.rs`), sheet
//! after sheet in workbook order; every record goes to the record sink as it is read, so a reader
//! of the sink finds sheet `n`'s records after the `records_count` of the sheets before it.
//!
//! calamine inflates parts itself; the zip crate under it refuses to inflate an entry past its
//! declared size, and the declared sizes passed the limits before calamine ran, so its reads stay
//! within them.
//!
//! # Definitions
//! - `rows` × `columns`: the used range, from the first to the last row and column holding a
//!   non-empty cell (empty rows and columns inside it counted); `used_range` names it, `dimension`
//!   is what the sheet declares (calamine reads `A1` for a sheet without `<dimension>`).
//! - `header`: the column names (first non-empty row, see `header.rs`).
//! - `columns_stats`: the CSV result's column statistics, one per `header` column, over the
//!   records (`columns.rs`).
//! - `records_count`: rows after the header holding a non-empty cell (empty rows are skipped);
//!   `records`: the first `limits.preview_records` of them.
//! - `formula_count`: cells with a formula (`<f>`), shared-formula cells included.
//! - chartsheets (and dialog or macro sheets) are listed, `rows` 0, without records.
//! - a worksheet calamine cannot start on (e.g. `<dimension ref="A0:AZ48943">`, which it refuses)
//!   is listed with `error` set and no records, and a warning; the other sheets are read.
//! - Strict OOXML (`purl.oclc.org` namespaces) is read: calamine handles it.
//!
//! # Measured
//! `fileproc_bench_inputs::xlsx` (100,000 rows × 10 columns, 6.9 MB; 37 MB of sheet XML, 105,018 shared
//! strings), release build, 2 shared cores: 0.70-0.75 s of CPU and 9.6 MB peak RSS for the whole
//! analysis with every record sent to a sink. A bare pass of calamine's cell reader over the same
//! file takes 0.47-0.67 s and 8.4 MB: building the typed records costs about a third on top.
//! python-calamine 0.9.1 reading all rows: 0.84 s of CPU, 87 MB.
//! The column statistics (`columns.rs`) add about 10%, measured side by side with
//! `examples/analyze.rs`: 6.91 → 7.65 G instructions (callgrind), 0.57-0.68 → 0.64-0.75 s of CPU,
//! 0.3-0.5 MB more peak RSS; half of the added instructions are the CSV's
//! `ColumnStats::observe_with` (hashing, extremes, typing).

mod columns;
mod header;
mod sheet;
mod value;
mod workbook;

use std::io::{Read, Seek};

use calamine::{Reader, SheetType, SheetVisible};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::csv::ColumnSummary;
use crate::ooxml::{CoreProperties, Package, PackageKind};
use crate::{Access, Analysis, Analyzer, Context, FormatError, Input, Section};
use sheet::{Outcome, SheetData};
use workbook::guard;

/// The `xlsx` section of a result (`DESIGN.md` section 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XlsxSummary {
    /// Every sheet, in workbook order.
    pub sheets: Vec<SheetSummary>,
    /// Sheets of every kind.
    pub sheet_count: usize,
    /// Cells with a formula, over all worksheets.
    pub formula_count: u64,
    /// Non-empty cells, over all worksheets.
    pub cell_count: u64,
    /// Parts in the workbook's `media/` folder (`xl/media/`): the pictures its drawings embed.
    pub image_count: u64,
    /// 1900 or 1904: the epoch of the workbook's date serials (`workbookPr/@date1904`).
    pub date_system: u16,
    /// The package's core properties (`docProps/core.xml`); boxed to keep [`Section`] small.
    pub core_properties: Box<CoreProperties>,
}

/// One sheet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SheetSummary {
    /// The sheet's name.
    pub name: String,
    /// `visible`, `hidden` or `veryHidden` (only code can show it).
    pub visible: Visibility,
    /// `worksheet`, `chartsheet`, `dialogsheet` or `macrosheet`.
    pub kind: SheetKind,
    /// Rows of the used range.
    pub rows: u64,
    /// Columns of the used range.
    pub columns: u64,
    /// The declared `<dimension>`, e.g. `A1:D22`; `null` for sheets that were not read or
    /// declare none.
    pub dimension: Option<String>,
    /// The used range, e.g. `A1:C22`; `null` for a sheet without non-empty cells.
    pub used_range: Option<String>,
    /// Column names, in column order: the header row's, plus `column_N` for columns only later
    /// rows use.
    pub header: Vec<String>,
    /// Statistics of each `header` column over the records, in the same order: the CSV
    /// result's `columns` entries (`columns.rs` says how cells are typed); empty for a sheet
    /// without a header. Named apart from `columns`, the used range's column count.
    #[serde(default)]
    pub columns_stats: Vec<ColumnSummary>,
    /// Records (rows after the header with a non-empty cell) sent to the record sink.
    pub records_count: u64,
    /// The first records: header name → value, non-empty cells only.
    pub records: Vec<Map<String, Value>>,
    /// Non-empty cells.
    pub cell_count: u64,
    /// Cells with a formula.
    pub formula_count: u64,
    /// Why the sheet could not be read, when it could not.
    pub error: Option<String>,
}

/// A sheet's visibility (ECMA-376 Part 1, §18.18.68 `ST_SheetState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Visibility {
    Visible,
    Hidden,
    VeryHidden,
}

/// A sheet's kind, from its part's relationship type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SheetKind {
    Worksheet,
    Chartsheet,
    Dialogsheet,
    Macrosheet,
}

/// The XLSX analyzer.
pub struct XlsxAnalyzer;

impl Analyzer for XlsxAnalyzer {
    fn name(&self) -> &'static str {
        "xlsx"
    }
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
    fn access(&self) -> Access {
        Access::Random
    }
    /// # Errors
    /// `Empty` for no bytes; `Encrypted` for a password-protected workbook; `TypeMismatch` for
    /// another Office type (DOCX, legacy .xls) or a plain ZIP; `Corrupt` for a damaged container,
    /// XML or cell; `LimitExceeded` for the ZIP and shared-strings limits; `Cancelled`; `Io` from
    /// the record sink; `Unsupported` for a forward-only input.
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
        let Input::Seekable(reader) = input else {
            return Err(FormatError::Unsupported(
                "XLSX needs random access to its ZIP container".into(),
            ));
        };
        analyze(reader, ctx)
    }
}

fn analyze<R: Read + Seek>(mut reader: R, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
    ctx.check_cancelled()?;
    let mut warnings = Vec::new();
    let (core_properties, image_count) = {
        let mut package = Package::open(&mut reader, &ctx.limits, PackageKind::Excel)?;
        workbook::check_shared_strings(&mut package, &ctx.limits)?;
        let media = workbook::media_folder(package.main_part());
        let image_count = package.count_parts_under(&media) as u64;
        (package.core_properties(&mut warnings)?, image_count)
    };
    let mut book = workbook::open(reader)?;
    let is_1904 = book.has_1904_epoch();
    let metadata = book.sheets_metadata().to_vec();
    let mut sheets = Vec::with_capacity(metadata.len());
    for (index, meta) in metadata.iter().enumerate() {
        ctx.check_cancelled()?;
        let kind = kind_of(meta.typ);
        let outcome = if kind == SheetKind::Worksheet {
            guard(&format!("sheet {:?}", meta.name), || {
                let place = sheet::Place {
                    index,
                    of: metadata.len(),
                };
                sheet::read(&mut book, &meta.name, is_1904, place, ctx)
            })?
        } else {
            Outcome::Read(SheetData::default())
        };
        if let Outcome::Unreadable(why) = &outcome {
            warnings.push(format!("sheet {:?} could not be read: {why}", meta.name));
        }
        sheets.push(summarize(&meta.name, meta.visible, kind, outcome));
        let size = ctx.size.unwrap_or(0);
        let items = crate::Items {
            done: index as u64 + 1,
            total: Some(metadata.len() as u64),
            unit: "sheets",
        };
        ctx.report_items(
            size.saturating_mul(index as u64 + 1) / metadata.len() as u64,
            items,
        );
    }
    let summary = XlsxSummary {
        sheet_count: sheets.len(),
        formula_count: sheets.iter().map(|s| s.formula_count).sum(),
        cell_count: sheets.iter().map(|s| s.cell_count).sum(),
        sheets,
        image_count,
        date_system: if is_1904 { 1904 } else { 1900 },
        core_properties: Box::new(core_properties),
    };
    let mut analysis = Analysis::new(Section::Xlsx(summary));
    analysis.warnings = warnings;
    Ok(analysis)
}

fn kind_of(typ: SheetType) -> SheetKind {
    match typ {
        SheetType::ChartSheet => SheetKind::Chartsheet,
        SheetType::DialogSheet => SheetKind::Dialogsheet,
        SheetType::MacroSheet | SheetType::Vba => SheetKind::Macrosheet,
        SheetType::WorkSheet => SheetKind::Worksheet,
    }
}

fn summarize(name: &str, visible: SheetVisible, kind: SheetKind, outcome: Outcome) -> SheetSummary {
    let (data, error) = match outcome {
        Outcome::Read(data) => (data, None),
        Outcome::Unreadable(why) => (SheetData::default(), Some(why)),
    };
    let span = |lo: u32, hi: u32| u64::from(hi) - u64::from(lo) + 1;
    let (rows, columns) = data
        .used
        .map_or((0, 0), |(lo, hi)| (span(lo.0, hi.0), span(lo.1, hi.1)));
    let used_range = data.used.map(|(lo, hi)| value::range_ref(lo, hi));
    SheetSummary {
        name: name.to_owned(),
        visible: match visible {
            SheetVisible::Visible => Visibility::Visible,
            SheetVisible::Hidden => Visibility::Hidden,
            SheetVisible::VeryHidden => Visibility::VeryHidden,
        },
        kind,
        rows,
        columns,
        dimension: declared_dimension(data.dimension, used_range.as_deref()),
        used_range,
        header: data.header,
        columns_stats: data.columns_stats,
        records_count: data.records_count,
        records: data.records,
        cell_count: data.cell_count,
        formula_count: data.formula_count,
        error,
    }
}

/// The declared dimension, or `None` where the sheet declares none: calamine reads a missing
/// `<dimension>` as `A1`, which a sheet with cells beyond A1 cannot truly declare.
fn declared_dimension(declared: Option<String>, used_range: Option<&str>) -> Option<String> {
    match (declared.as_deref(), used_range) {
        (Some("A1"), Some(used)) if used != "A1" => None,
        _ => declared,
    }
}
