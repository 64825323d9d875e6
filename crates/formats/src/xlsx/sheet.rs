//! One worksheet streamed through calamine's cell reader (`worksheet_cells_reader`), never as a
//! dense grid: memory holds one row's cells, the header and the preview records, whatever the
//! declared `<dimension>` says (`A1:XFD1048576` with two cells costs two cells).
//!
//! Rows are the runs of cells sharing a row number, in the order the part gives them. The first
//! row with a non-empty cell is the header (`header.rs`); every later row with a non-empty cell
//! is one record, sent to the record sink; rows without one are skipped (no empty records). A
//! record holds the row's non-empty cells only, header name → value (`value.rs`). Every record
//! also feeds its columns' statistics (`columns.rs`).

use std::io::{Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Xlsx, XlsxError};
use serde_json::{Map, Value};

use super::columns::{Columns, Typing};
use super::header::Header;
use super::value::{range_ref, to_json};
use super::workbook::calamine_error;
use crate::csv::ColumnSummary;
use crate::{Context, FormatError};

/// Last 0-based row and column of a sheet (1048576 rows × 16384 columns, XFD1048576).
const MAX_ROW: u32 = 1_048_575;
const MAX_COL: u32 = 16_383;
/// Cancellation is checked this often, in cells.
const CHECK_EVERY: u64 = 16_384;

/// What streaming a worksheet gave.
#[derive(Debug, Default)]
pub(crate) struct SheetData {
    /// The declared `<dimension>` (`A1` when the sheet has none).
    pub(crate) dimension: Option<String>,
    /// The range from the first to the last row and column holding a non-empty cell.
    pub(crate) used: Option<((u32, u32), (u32, u32))>,
    pub(crate) header: Vec<String>,
    /// One summary per header column, over the records.
    pub(crate) columns_stats: Vec<ColumnSummary>,
    pub(crate) records_count: u64,
    pub(crate) records: Vec<Map<String, Value>>,
    pub(crate) cell_count: u64,
    pub(crate) formula_count: u64,
}

/// How reading a worksheet ended.
pub(crate) enum Outcome {
    Read(SheetData),
    /// calamine could not start on the sheet (its part before the cells, e.g. a `<dimension>` it
    /// cannot parse such as `A0:AZ48943`, or one it panics on such as `B2:A1` in builds with
    /// overflow checks); nothing was sent to the sink.
    Unreadable(String),
}

/// Where a sheet sits among the workbook's sheets, for progress: its index and the sheet count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) index: usize,
    pub(crate) of: usize,
}

/// Streams the worksheet `name`, sending its records to `ctx.records`. Progress is reported as
/// the share of the file of the sheets before it, plus this sheet's share times the fraction of
/// its declared rows reached (only an estimate: the declared dimension may be wrong).
///
/// # Errors
/// `Corrupt` for a cell that cannot be read or lies outside the sheet's size; `LimitExceeded`
/// from the container; `Cancelled`; `Io` from the record sink.
pub(crate) fn read<RS: Read + Seek>(
    workbook: &mut Xlsx<RS>,
    name: &str,
    is_1904: bool,
    place: Place,
    ctx: &mut Context<'_>,
) -> Result<Outcome, FormatError> {
    let opened = catch_unwind(AssertUnwindSafe(move || {
        let book = workbook;
        book.worksheet_cells_reader(name)
    }));
    let mut cells = match opened {
        Ok(Ok(cells)) => cells,
        Ok(Err(e)) => {
            return match calamine_error(&format!("sheet {name:?}"), &e) {
                FormatError::Corrupt(msg) => Ok(Outcome::Unreadable(msg)),
                other => Err(other),
            };
        }
        Err(_) => {
            return Ok(Outcome::Unreadable(
                "the spreadsheet reader failed on the part before its cells".into(),
            ));
        }
    };
    let dims = cells.dimensions();
    let mut pass = Pass::new(ctx.limits.preview_records, place, dims.end.0);
    pass.data.dimension = Some(range_ref(dims.start, dims.end));
    loop {
        let cell = match cells.next_cell_with_formula_metadata() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => return Err(cell_error(name, &e)),
        };
        if cell.formula.is_some() {
            pass.data.formula_count += 1;
        }
        if let Some(value) = to_json(&cell.value, is_1904) {
            pass.cell(name, cell.pos, value, Typing::of(&cell.value), ctx)?;
        }
    }
    pass.flush(ctx)?;
    Ok(Outcome::Read(pass.finish()))
}

fn cell_error(sheet: &str, e: &XlsxError) -> FormatError {
    calamine_error(&format!("sheet {sheet:?}"), e)
}

/// The state of the pass over one sheet's cells.
struct Pass {
    data: SheetData,
    preview_limit: usize,
    header: Option<Header>,
    columns: Columns,
    /// The current row's cells: column, value, and how the value counts for its column's type.
    row: Vec<(u32, Value, Typing)>,
    row_at: Option<u32>,
    place: Place,
    last_row: u32,
}

impl Pass {
    fn new(preview_limit: usize, place: Place, last_row: u32) -> Self {
        Pass {
            data: SheetData::default(),
            preview_limit,
            header: None,
            columns: Columns::default(),
            row: Vec::new(),
            row_at: None,
            place,
            last_row,
        }
    }

    /// Reports the estimated share of the file done, at `row`.
    fn report(&self, row: u32, ctx: &mut Context<'_>) {
        let Some(size) = ctx.size else {
            return;
        };
        let fraction = (f64::from(row) / f64::from(self.last_row.max(1))).min(1.0);
        #[allow(clippy::cast_precision_loss)]
        let done = (self.place.index as f64 + fraction) / self.place.of.max(1) as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        ctx.report((done * size as f64) as u64);
    }

    fn cell(
        &mut self,
        sheet: &str,
        (row, col): (u32, u32),
        value: Value,
        typing: Typing,
        ctx: &mut Context<'_>,
    ) -> Result<(), FormatError> {
        if row > MAX_ROW || col > MAX_COL {
            return Err(FormatError::Corrupt(format!(
                "sheet {sheet:?} has a cell at row {}, column {}, beyond XFD1048576 (the largest \
                 sheet: 1048576 rows × 16384 columns)",
                u64::from(row) + 1,
                u64::from(col) + 1
            )));
        }
        if self.row_at != Some(row) {
            self.flush(ctx)?;
            self.row_at = Some(row);
        }
        if self.row.len() > MAX_COL as usize {
            return Err(FormatError::Corrupt(format!(
                "sheet {sheet:?} row {} has more cells than a row has columns (16384)",
                u64::from(row) + 1
            )));
        }
        self.row.push((col, value, typing));
        self.data.cell_count += 1;
        self.data.used = Some(match self.data.used {
            None => ((row, col), (row, col)),
            Some((lo, hi)) => (
                (lo.0.min(row), lo.1.min(col)),
                (hi.0.max(row), hi.1.max(col)),
            ),
        });
        if self.data.cell_count.is_multiple_of(CHECK_EVERY) {
            ctx.check_cancelled()?;
            self.report(row, ctx);
        }
        Ok(())
    }

    /// Ends the current row: it becomes the header or a record.
    fn flush(&mut self, ctx: &mut Context<'_>) -> Result<(), FormatError> {
        if self.row.is_empty() {
            return Ok(());
        }
        let mut row = std::mem::take(&mut self.row);
        row.sort_by_key(|(col, _, _)| *col);
        row.dedup_by_key(|(col, _, _)| *col);
        let Some(header) = self.header.as_mut() else {
            self.header = Some(Header::from_row(
                row.iter().map(|(col, value, _)| (*col, value)),
            ));
            return Ok(());
        };
        for (col, value, typing) in &row {
            self.columns.observe(*col, value, *typing);
        }
        let record: Map<String, Value> = row
            .into_iter()
            .map(|(col, value, _)| (header.name(col).to_owned(), value))
            .collect();
        ctx.records.typed_record(&record)?;
        self.data.records_count += 1;
        if self.data.records.len() < self.preview_limit {
            self.data.records.push(record);
        }
        Ok(())
    }

    fn finish(mut self) -> SheetData {
        if let Some(header) = self.header {
            self.data.header = header.names();
            self.data.columns_stats = self.columns.summaries(&header, self.data.records_count);
        }
        self.data
    }
}
