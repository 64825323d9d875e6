//! Each sheet's `columns_stats`, on workbooks built here: one column of each type, text cells
//! that read as numbers, empty strings, a column past the header, empty and header-only sheets.

use serde_json::{Value, json};

use super::hostile::{analyze_default, n, s, workbook_parts, zip_of};
use super::obj;

/// Cell formats: 0 general, 1 a date (built-in format 14, `m/d/yyyy`), 2 a datetime (22,
/// `m/d/yy h:mm`). calamine reads only `<xf>` elements with an end tag.
const STYLES: &str = r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="3"><xf numFmtId="0"></xf><xf numFmtId="14"></xf><xf numFmtId="22"></xf></cellXfs></styleSheet>"#;

/// A workbook of the given sheets with [`STYLES`].
fn styled_workbook(sheets: &[(&str, &str)]) -> Vec<u8> {
    let mut parts = workbook_parts(sheets, None);
    parts.push(("xl/styles.xml".to_owned(), STYLES.as_bytes().to_vec()));
    zip_of(&parts)
}

/// A cell with raw attributes and value: `<c r="{at}" {attrs}><v>{v}</v></c>`.
fn c(at: &str, attrs: &str, v: &str) -> String {
    format!(r#"<c r="{at}" {attrs}><v>{v}</v></c>"#)
}

fn row(r: u32, cells: &[String]) -> String {
    format!(r#"<row r="{r}">{}</row>"#, cells.concat())
}

fn stats_json(stats: &[fileproc_formats::csv::ColumnSummary]) -> Value {
    serde_json::to_value(stats).expect("serializable")
}

#[test]
fn each_column_gets_the_type_and_statistics_its_records_show() {
    let header = [
        "int", "float", "bool", "date", "when", "text", "code", "empty",
    ];
    let header_cells: Vec<String> = header
        .iter()
        .zip('A'..)
        .map(|(name, col)| s(&format!("{col}1"), name))
        .collect();
    let body = format!(
        "<sheetData>{}{}{}{}{}</sheetData>",
        row(1, &header_cells),
        row(
            2,
            &[
                n("A2", 1.0),
                n("B2", 0.5),
                c("C2", r#"t="b""#, "1"),
                c("D2", r#"s="1""#, "44197"),
                c("E2", r#"s="2""#, "44197.5"),
                s("F2", "b"),
                s("G2", "12345"),
            ]
        ),
        row(
            3,
            &[
                // A whole number written as a fraction is the integer 2.
                c("A3", "", "2.0"),
                n("B3", 1.0),
                c("C3", r#"t="b""#, "0"),
                c("D3", r#"s="1""#, "44198"),
                c("E3", r#"s="1""#, "44199"),
                // An empty string is an empty cell.
                s("F3", ""),
                s("G3", "42"),
            ]
        ),
        row(
            4,
            &[
                n("A4", 3.0),
                n("B4", 2.25),
                c("C4", r#"t="b""#, "1"),
                c("D4", r#"s="1""#, "44562"),
                // Text that reads as a null marker elsewhere is a value here.
                s("F4", "NA"),
            ]
        ),
        row(
            5,
            &[
                n("A5", -4.0),
                c("C5", r#"t="b""#, "1"),
                // An ISO 8601 date cell (`t="d"`).
                c("D5", r#"t="d""#, "2020-02-29"),
                n("I5", 7.0),
            ]
        ),
    );
    let (s, _, records) = analyze_default(&styled_workbook(&[("Types", &body)])).unwrap();
    let sh = &s.sheets[0];
    assert_eq!(sh.records_count, 4);
    assert_eq!(
        records[..2],
        [
            obj(
                json!({"int": 1, "float": 0.5, "bool": true, "date": "2021-01-01",
                "when": "2021-01-01T12:00:00", "text": "b", "code": "12345"})
            ),
            obj(
                json!({"int": 2, "float": 1, "bool": false, "date": "2021-01-02",
                "when": "2021-01-03", "code": "42"})
            ),
        ]
    );
    assert_eq!(
        records[3],
        obj(json!({"int": -4, "bool": true, "date": "2020-02-29", "column_9": 7}))
    );
    assert_eq!(
        stats_json(&sh.columns_stats),
        json!([
            {"name": "int", "type": "integer", "null_count": 0, "distinct_estimate": 4,
             "min": -4, "max": 3, "mean": 0.5, "min_length": 1, "max_length": 2},
            {"name": "float", "type": "float", "null_count": 1, "distinct_estimate": 3,
             "min": 0.5, "max": 2.25, "mean": 1.25, "min_length": 1, "max_length": 4},
            {"name": "bool", "type": "boolean", "null_count": 0, "distinct_estimate": 2,
             "min": false, "max": true, "mean": null, "min_length": 4, "max_length": 5},
            {"name": "date", "type": "date", "null_count": 0, "distinct_estimate": 4,
             "min": "2020-02-29", "max": "2022-01-01", "mean": null,
             "min_length": 10, "max_length": 10},
            {"name": "when", "type": "datetime", "null_count": 2, "distinct_estimate": 2,
             "min": "2021-01-01T12:00:00", "max": "2021-01-03T00:00:00", "mean": null,
             "min_length": 10, "max_length": 19},
            {"name": "text", "type": "string", "null_count": 2, "distinct_estimate": 2,
             "min": "NA", "max": "b", "mean": null, "min_length": 1, "max_length": 2},
            {"name": "code", "type": "string", "null_count": 2, "distinct_estimate": 2,
             "min": "12345", "max": "42", "mean": null, "min_length": 2, "max_length": 5},
            {"name": "empty", "type": "string", "null_count": 4, "distinct_estimate": 0,
             "min": null, "max": null, "mean": null, "min_length": null, "max_length": null},
            {"name": "column_9", "type": "integer", "null_count": 3, "distinct_estimate": 1,
             "min": 7, "max": 7, "mean": 7.0, "min_length": 1, "max_length": 1},
        ])
    );
    assert_eq!(
        sh.header,
        [
            "int", "float", "bool", "date", "when", "text", "code", "empty", "column_9"
        ]
    );
}

#[test]
fn one_fractional_number_makes_a_column_of_whole_numbers_float() {
    let body = format!(
        "<sheetData>{}{}{}</sheetData>",
        row(1, &[s("A1", "x")]),
        row(2, &[c("A2", "", "1.0")]),
        row(3, &[c("A3", "", "2.5")]),
    );
    let (s, _, records) = analyze_default(&styled_workbook(&[("F", &body)])).unwrap();
    assert_eq!(records, [obj(json!({"x": 1})), obj(json!({"x": 2.5}))]);
    assert_eq!(
        stats_json(&s.sheets[0].columns_stats),
        json!([{"name": "x", "type": "float", "null_count": 0, "distinct_estimate": 2,
                "min": 1.0, "max": 2.5, "mean": 1.75, "min_length": 1, "max_length": 3}])
    );
}

#[test]
fn an_empty_sheet_has_no_column_statistics_and_a_header_only_one_has_empty_ones() {
    let only_header = format!("<sheetData>{}</sheetData>", row(1, &[s("B1", "h")]));
    let (s, _, _) = analyze_default(&styled_workbook(&[
        ("Empty", "<sheetData/>"),
        ("Header", &only_header),
    ]))
    .unwrap();
    assert_eq!(stats_json(&s.sheets[0].columns_stats), json!([]));
    assert_eq!(
        stats_json(&s.sheets[1].columns_stats),
        json!([{"name": "h", "type": "string", "null_count": 0, "distinct_estimate": 0,
                "min": null, "max": null, "mean": null, "min_length": null, "max_length": null}])
    );
}
