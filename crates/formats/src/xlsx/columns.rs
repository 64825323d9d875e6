//! A sheet's column statistics (`columns_stats`): the CSV result's `columns`, computed over the
//! sheet's records by the CSV analyzer's own [`ColumnStats`], so that both mean the same.
//!
//! Each record's cells are fed to their column as the text the record shows:
//! - numbers as their JSON text, as serde_json writes them in the records: integers as such,
//!   other numbers in their shortest round-trip form (`3`, `0.5`, `1e+300`). Excel stores every
//!   number as a double and the records show a whole one as an integer (`value.rs`: `<v>1.0</v>`
//!   and `<v>1</v>` are the same cell, `1`), so a column of whole numbers is `integer` and a
//!   single fractional value makes it `float`, as `1` and `2.5` do in a CSV;
//! - booleans as `true` and `false`;
//! - date cells as the ISO 8601 text of the records: `date`, or `datetime` once one has a time of
//!   day; a time of day alone (`18:00:00`) or a duration (`PT1H`) has no column type and makes the
//!   column a string one;
//! - text and error cells as strings whatever they read as: `12345`, `true`, `2021-01-01`, `NA`
//!   or `#N/A` typed as text stay strings, never integers, booleans, dates or nulls, as the
//!   records show them (a CSV has no such distinction and types them).
//!
//! A null is a cell absent from a record: no value, or an empty string (`value.rs`). Lengths are
//! in characters of that text, and `distinct_estimate` counts distinct texts (a number `3` and a
//! text `3` count once).
//!
//! Memory: one [`ColumnStats`] for each column with a value (at most the 16384 columns a sheet
//! has), each of fixed size but for its exact distinct set (at most 512 hashes, then a 4 KiB
//! sketch) and its smallest and largest text.

use std::collections::BTreeMap;

use calamine::DataRef;
use serde_json::Value;

use super::header::Header;
use crate::csv::{ColumnStats, ColumnSummary, is_temporal};

/// How a cell's value counts for its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Typing {
    /// A number, boolean or date cell: typed by its text.
    Typed,
    /// A text or error cell: a string whatever it reads as.
    Text,
}

impl Typing {
    /// The typing of a cell from its workbook type.
    pub(crate) fn of(value: &DataRef<'_>) -> Self {
        match value {
            DataRef::String(_) | DataRef::SharedString(_) | DataRef::Error(_) => Typing::Text,
            _ => Typing::Typed,
        }
    }
}

/// The statistics of a sheet's columns, by 0-based column.
#[derive(Default)]
pub(crate) struct Columns {
    stats: BTreeMap<u32, ColumnStats>,
    /// Scratch space for a number's text.
    text: Vec<u8>,
}

impl Columns {
    /// Adds one record's cell (a record holds one cell per column at most).
    pub(crate) fn observe(&mut self, col: u32, value: &Value, typing: Typing) {
        let stats = self.stats.entry(col).or_default();
        match value {
            Value::Number(n) => {
                // The serializer's own text, as the records get it (itoa, zmij), without the
                // `fmt` machinery `write!` adds. Writing to a Vec cannot fail.
                self.text.clear();
                let _ = serde_json::to_writer(&mut self.text, n);
                stats.observe_with(&self.text, true);
            }
            Value::Bool(b) => {
                stats.observe_with(if *b { b"true" } else { b"false" }, true);
            }
            Value::String(s) if typing == Typing::Typed && is_temporal(s.as_bytes()) => {
                stats.observe_with(s.as_bytes(), true);
            }
            // Text, errors, durations, times of day, NaN and infinities (`value.rs`).
            Value::String(s) => stats.observe_text(s.as_bytes()),
            // A record holds no nulls, arrays or objects.
            Value::Null | Value::Array(_) | Value::Object(_) => {}
        }
    }

    /// One summary per column of `header`, in its order, over `records` records: the cells a
    /// column did not get are its nulls.
    pub(crate) fn summaries(mut self, header: &Header, records: u64) -> Vec<ColumnSummary> {
        header
            .columns()
            .map(|(col, name)| {
                let mut stats = self.stats.remove(&col).unwrap_or_default();
                stats.observe_missing_until(records);
                stats.summary(name.to_owned())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::ColumnType;
    use serde_json::json;

    /// The summary of one column fed `cells` as one record each.
    fn column(cells: &[(Value, Typing)]) -> ColumnSummary {
        let mut columns = Columns::default();
        for (value, typing) in cells {
            columns.observe(0, value, *typing);
        }
        let header = Header::from_row([(0, &json!("c"))]);
        let mut summaries = columns.summaries(&header, cells.len() as u64);
        summaries.remove(0)
    }

    fn typed(values: &[Value]) -> ColumnSummary {
        let cells: Vec<_> = values.iter().map(|v| (v.clone(), Typing::Typed)).collect();
        column(&cells)
    }

    #[test]
    fn whole_numbers_make_an_integer_column_and_a_fraction_a_float_one() {
        // `value.rs` gives a whole double (`<v>2.0</v>`) as the integer 2.
        let c = typed(&[json!(1), json!(2), json!(3)]);
        assert_eq!(c.column_type, ColumnType::Integer);
        assert_eq!(
            (c.min, c.max, c.mean),
            (Some(json!(1)), Some(json!(3)), Some(2.0))
        );
        let c = typed(&[json!(1), json!(2.5), json!(1e300)]);
        assert_eq!(c.column_type, ColumnType::Float);
        assert_eq!((c.min, c.max), (Some(json!(1.0)), Some(json!(1e300))));
        // Texts `1`, `2.5` and `1e+300`, as serde_json writes them.
        assert_eq!((c.min_length, c.max_length), (Some(1), Some(6)));
    }

    #[test]
    fn text_cells_stay_strings_whatever_they_read_as() {
        let text = |s: &str| (json!(s), Typing::Text);
        let c = column(&[text("12345"), text("NA"), text("true")]);
        assert_eq!(c.column_type, ColumnType::String);
        assert_eq!((c.null_count, c.distinct_estimate), (0, 3));
        assert_eq!((c.min, c.max), (Some(json!("12345")), Some(json!("true"))));
        let c = column(&[(json!(7), Typing::Typed), text("2021-01-01")]);
        assert_eq!(c.column_type, ColumnType::String);
    }

    #[test]
    fn date_cells_make_date_or_datetime_columns_and_durations_strings() {
        let c = typed(&[json!("2021-01-02"), json!("2020-12-31")]);
        assert_eq!(c.column_type, ColumnType::Date);
        assert_eq!(
            (c.min, c.max),
            (Some(json!("2020-12-31")), Some(json!("2021-01-02")))
        );
        let c = typed(&[json!("2021-01-02"), json!("2021-01-01T12:00:00.500")]);
        assert_eq!(c.column_type, ColumnType::Datetime);
        assert_eq!(
            (c.min, c.max),
            (
                Some(json!("2021-01-01T12:00:00.500")),
                Some(json!("2021-01-02T00:00:00"))
            )
        );
        let c = typed(&[json!("2021-01-02"), json!("PT255H10M10S")]);
        assert_eq!(c.column_type, ColumnType::String);
        let c = typed(&[json!(1.5), json!("NaN")]);
        assert_eq!((c.column_type, c.null_count), (ColumnType::String, 0));
    }

    #[test]
    fn columns_without_a_cell_in_some_records_count_those_as_nulls() {
        let mut header = Header::from_row([(0, &json!("a")), (2, &json!("b"))]);
        let mut columns = Columns::default();
        columns.observe(0, &json!(true), Typing::Typed);
        columns.observe(0, &json!(false), Typing::Typed);
        // A column past the header, named by the record that first has it.
        assert_eq!(header.name(4), "column_5");
        columns.observe(4, &json!("x"), Typing::Text);
        let summaries = columns.summaries(&header, 3);
        let got: Vec<_> = summaries
            .iter()
            .map(|c| (c.name.as_str(), c.column_type, c.null_count, c.min.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", ColumnType::Boolean, 1, Some(json!(false))),
                ("b", ColumnType::String, 3, None),
                ("column_5", ColumnType::String, 2, Some(json!("x"))),
            ]
        );
    }
}
