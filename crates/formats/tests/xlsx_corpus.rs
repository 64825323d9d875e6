//! The XLSX analyzer against the corpus files in `tests/data/xlsx/` (sources in `SOURCES.md`;
//! facts from `shared/corpus/MANIFEST.tsv`: the source projects' own tests, openpyxl 3.1.5 for
//! dimensions and non-empty cell counts), against hostile workbooks built here (`hostile`),
//! and for column statistics against workbooks built here too (`columns`).

#[path = "xlsx_corpus/columns.rs"]
mod columns;
mod common;
#[path = "xlsx_corpus/hostile.rs"]
mod hostile;

use common::analyze_path;
use fileproc_formats::csv::ColumnType;
use fileproc_formats::xlsx::{SheetKind, SheetSummary, Visibility, XlsxAnalyzer, XlsxSummary};
use fileproc_formats::{Analysis, FormatError, Section};
use serde_json::{Map, Value, json};

/// The summary, warnings and sink records of a corpus file; panics (failing the test) when it
/// fails. Checks on the way that each sheet's preview is the start of its records in the sink.
fn xlsx(path: &str) -> (XlsxSummary, Vec<String>, Vec<Map<String, Value>>) {
    let (s, warnings, records) = summary(analyze_path(&XlsxAnalyzer, &format!("xlsx/{path}")));
    assert_sink_matches(&s, &records);
    (s, warnings, records)
}

pub fn summary(
    result: Result<(Analysis, Vec<Map<String, Value>>), FormatError>,
) -> (XlsxSummary, Vec<String>, Vec<Map<String, Value>>) {
    match result {
        Ok((
            Analysis {
                section: Section::Xlsx(s),
                warnings,
                ..
            },
            records,
        )) => (s, warnings, records),
        Ok(_) => panic!("not an XLSX analysis"),
        Err(e) => panic!("analysis failed: {e}"),
    }
}

/// The sink got every sheet's records in sheet order, `records_count` of each.
pub fn assert_sink_matches(s: &XlsxSummary, records: &[Map<String, Value>]) {
    let mut at = 0usize;
    for sheet in &s.sheets {
        let count = usize::try_from(sheet.records_count).unwrap();
        let slice = &records[at..at + count];
        assert_eq!(
            &slice[..sheet.records.len()],
            &sheet.records[..],
            "{}",
            sheet.name
        );
        at += count;
    }
    assert_eq!(at, records.len(), "records sent beyond the sheets' counts");
}

fn sheet<'a>(s: &'a XlsxSummary, name: &str) -> &'a SheetSummary {
    s.sheets.iter().find(|x| x.name == name).expect("sheet")
}

fn names(s: &XlsxSummary) -> Vec<&str> {
    s.sheets.iter().map(|x| x.name.as_str()).collect()
}

fn code(path: &str) -> &'static str {
    analyze_path(&XlsxAnalyzer, &format!("xlsx/{path}"))
        .unwrap_err()
        .code()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[test]
fn test_excel_has_tikas_title_creator_and_squares() {
    let (s, _, records) = xlsx("testEXCEL.xlsx");
    let p = &s.core_properties;
    assert_eq!(p.title.as_deref(), Some("Simple Excel document"));
    assert_eq!(p.creator.as_deref(), Some("Keith Bennett"));
    assert_eq!(names(&s), ["Feuil1", "Feuil2", "Feuil3"]);
    assert!(s.sheets.iter().all(|x| x.visible == Visibility::Visible));
    assert_eq!((s.date_system, s.cell_count, s.image_count), (1900, 34, 0));
    let f = sheet(&s, "Feuil1");
    assert_eq!(
        f.header,
        [
            "Sample Excel Worksheet - Numbers and their Squares",
            "column_2",
            "column_3"
        ]
    );
    // Declared A1:D22 (openpyxl 22x4); column D holds only empty styled cells.
    assert_eq!(f.dimension.as_deref(), Some("A1:D22"));
    assert_eq!(
        (f.rows, f.columns, f.used_range.as_deref()),
        (22, 3, Some("A1:C22"))
    );
    assert_eq!(
        f.records[0],
        obj(json!({"column_2": "Number", "column_3": "Square"}))
    );
    assert!(records.contains(&obj(json!({"column_2": 14, "column_3": 196}))));
    // B7:B20 and C6:C20 are two shared formulas: 14 + 15 cells.
    assert_eq!((s.formula_count, f.formula_count), (29, 29));
    assert_eq!((f.records_count, records.len()), (17, 17));
}

#[test]
fn test_excel_column_statistics_follow_its_records() {
    let (s, _, records) = xlsx("testEXCEL.xlsx");
    let f = sheet(&s, "Feuil1");
    // The records: row 4 holds the labels `Number` and `Square` (text), rows 6-20 the numbers
    // 1-15 and their squares, row 22 a note in column A. A text cell makes a string column, so
    // all three are strings: extremes compare bytes ("1" < "15" < "225" < "Number").
    let note = "Written and saved in Microsoft Excel X for Mac Service Release 1.\n";
    assert_eq!(records[16], obj(json!({f.header[0].as_str(): note})));
    assert_eq!(
        serde_json::to_value(&f.columns_stats).unwrap(),
        json!([
            {"name": "Sample Excel Worksheet - Numbers and their Squares", "type": "string",
             "null_count": 16, "distinct_estimate": 1, "min": note, "max": note, "mean": null,
             "min_length": 66, "max_length": 66},
            {"name": "column_2", "type": "string", "null_count": 1, "distinct_estimate": 16,
             "min": "1", "max": "Number", "mean": null, "min_length": 1, "max_length": 6},
            {"name": "column_3", "type": "string", "null_count": 1, "distinct_estimate": 16,
             "min": "1", "max": "Square", "mean": null, "min_length": 1, "max_length": 6},
        ])
    );
    // The other two sheets are empty.
    assert!(s.sheets[1..].iter().all(|x| x.columns_stats.is_empty()));
}

#[test]
fn strict_ooxml_workbook_is_read() {
    let (s, _, records) = xlsx("testEXCEL.strict.xlsx");
    let p = &s.core_properties;
    assert_eq!(p.title.as_deref(), Some("Sample Spreadsheet"));
    assert_eq!(p.creator.as_deref(), Some("Nick Burch"));
    assert_eq!(names(&s), ["First Sheet", "Sheet Number 2", "Sheet3"]);
    let first = sheet(&s, "First Sheet");
    assert_eq!(first.header, ["Test spreadsheet", "column_2"]);
    assert!(records.contains(&obj(json!({"Test spreadsheet": "This one is red"}))));
    let second = sheet(&s, "Sheet Number 2");
    assert_eq!(second.formula_count, 1);
    assert_eq!(
        second.records.last(),
        Some(&obj(
            json!({"Start of 2nd sheet": 1, "column_2": 10, "column_3": 2, "column_4": 13})
        ))
    );
}

#[test]
fn password_protected_xlsx_is_an_encrypted_file() {
    assert_eq!(code("testEXCEL_protected_passtika.xlsx"), "encrypted_file");
}

#[test]
fn test_excel_1img_has_one_image_and_two_sheets() {
    let (s, _, _) = xlsx("testEXCEL_1img.xlsx");
    assert_eq!(s.image_count, 1);
    assert_eq!(names(&s), ["Sheet1", "Sheet2"]);
    let dims: Vec<_> = s.sheets.iter().map(|x| (x.rows, x.columns)).collect();
    assert_eq!(dims, [(10, 9), (3, 9)]);
    assert_eq!(
        sheet(&s, "Sheet1").header[0],
        "The quick brown fox jumps over the lazy dog"
    );
    let p = &s.core_properties;
    assert_eq!(
        p.title.as_deref(),
        Some("The quick brown fox jumps over the lazy dog")
    );
    assert_eq!(p.creator.as_deref(), Some("Nevin Nollop"));
    assert_eq!((s.cell_count, s.formula_count), (29, 2));
}

#[test]
fn date_xlsx_uses_the_1900_system() {
    let (s, _, records) = xlsx("date.xlsx");
    assert_eq!(s.date_system, 1900);
    let sh = sheet(&s, "Sheet1");
    // A1 is serial 44197 = 2021-01-01; A3 a duration of 255:10:10.
    assert_eq!(sh.header, ["2021-01-01", "15"]);
    assert_eq!(
        records,
        [
            obj(json!({"2021-01-01": "2021-01-02", "15": 16})),
            obj(json!({"2021-01-01": "PT255H10M10S", "15": 17}))
        ]
    );
    assert_eq!((sh.rows, sh.columns, s.cell_count), (3, 2, 6));
    // A duration has no column type: the date column with one is a string column.
    assert_eq!(
        serde_json::to_value(&sh.columns_stats).unwrap(),
        json!([
            {"name": "2021-01-01", "type": "string", "null_count": 0, "distinct_estimate": 2,
             "min": "2021-01-02", "max": "PT255H10M10S", "mean": null,
             "min_length": 10, "max_length": 12},
            {"name": "15", "type": "integer", "null_count": 0, "distinct_estimate": 2,
             "min": 16, "max": 17, "mean": 16.5, "min_length": 2, "max_length": 2},
        ])
    );
}

#[test]
fn date_1904_xlsx_gives_the_same_dates_from_other_serials() {
    let (s, _, records) = xlsx("date_1904.xlsx");
    // A1 is serial 42735 in the 1904 system = 2021-01-01.
    assert_eq!(s.date_system, 1904);
    assert_eq!(sheet(&s, "Sheet1").header, ["2021-01-01", "15"]);
    assert_eq!(
        records[1],
        obj(json!({"2021-01-01": "PT255H10M10S", "15": 17}))
    );
}

#[test]
fn inline_strings_with_cdata_are_read() {
    let (s, _, records) = xlsx("inlineStr_cdata.xlsx");
    let sh = sheet(&s, "Sheet1");
    assert_eq!(sh.header, ["Hello CDATA", "World"]);
    assert_eq!(
        records,
        [obj(json!({"Hello CDATA": "12345", "World": "NormalText"}))]
    );
    // `12345` is a text cell: a string, as the record shows it, not an integer.
    let types: Vec<_> = sh
        .columns_stats
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.min.clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("Hello CDATA", ColumnType::String, Some(json!("12345"))),
            ("World", ColumnType::String, Some(json!("NormalText")))
        ]
    );
    assert_eq!((sh.rows, sh.columns), (2, 2));
    // The sheet declares no <dimension>: none is reported, the used range is.
    assert_eq!(sh.dimension, None);
    assert_eq!(sh.used_range.as_deref(), Some("A1:B2"));
}

#[test]
fn any_sheets_lists_hidden_very_hidden_and_chart_sheets() {
    let (s, _, records) = xlsx("any_sheets.xlsx");
    assert_eq!(names(&s), ["Visible", "Hidden", "VeryHidden", "Chart"]);
    let vis: Vec<_> = s.sheets.iter().map(|x| x.visible).collect();
    use Visibility::*;
    assert_eq!(vis, [Visible, Hidden, VeryHidden, Visible]);
    let kinds: Vec<_> = s.sheets.iter().map(|x| x.kind).collect();
    use SheetKind::*;
    assert_eq!(kinds, [Worksheet, Worksheet, Worksheet, Chartsheet]);
    let v = sheet(&s, "Visible");
    assert_eq!(
        (v.rows, v.columns, v.header.clone()),
        (5, 2, vec!["1".to_owned(), "2".to_owned()])
    );
    // Row 4 is empty: skipped, not an empty record.
    assert_eq!(v.records_count, 3);
    assert_eq!(records[0], obj(json!({"1": 3, "2": 4})));
    let chart = sheet(&s, "Chart");
    assert_eq!(
        (chart.rows, chart.records_count, chart.dimension.clone()),
        (0, 0, None)
    );
    assert_eq!((s.sheet_count, s.cell_count), (4, 7));
    assert_eq!(s.core_properties.creator.as_deref(), Some("Алена"));
}

#[test]
fn empty_sheet_has_no_rows_or_records() {
    let (s, warnings, records) = xlsx("empty_sheet.xlsx");
    let sh = sheet(&s, "Sheet1");
    assert_eq!(
        (sh.rows, sh.columns, sh.cell_count, sh.records_count),
        (0, 0, 0, 0)
    );
    assert!(sh.header.is_empty() && sh.used_range.is_none());
    assert!(sh.columns_stats.is_empty());
    assert!(records.is_empty() && warnings.is_empty());
}

#[test]
fn a_workbook_without_shared_strings_opens() {
    let (s, _, _) = xlsx("noSharedStringTable.xlsx");
    let sh = sheet(&s, "Sheet1");
    assert_eq!(sh.header, ["2006-04-12", "123"]);
    assert_eq!((sh.rows, sh.columns), (1, 2));
    assert_eq!(s.core_properties.creator.as_deref(), Some("David North"));
}

#[test]
fn formulae_counts_plain_shared_and_array_formulas() {
    let (s, _, records) = xlsx("formulae.xlsx");
    // 12345, A2+A3, SUM(A2:A4), A4*2, the shared B7 anchor and its 3 cells, the array
    // formula's anchor (C10) and the IF of A16.
    assert_eq!(s.formula_count, 10);
    let sh = sheet(&s, "Sheet1");
    assert_eq!((sh.rows, sh.columns, sh.cell_count), (16, 5, 32));
    assert_eq!(
        sh.header,
        ["column_1", "Nothing", "column_3", "column_4", "column_5"]
    );
    assert!(records.contains(&obj(json!({"column_1": "Düsseldorf"}))));
    assert!(records.contains(&obj(json!({"column_1": 1, "Nothing": 11, "column_3": 605}))));
    assert_eq!(s.core_properties.creator.as_deref(), Some("Adam Morris"));
}

#[test]
fn error_cells_are_their_error_text() {
    let (s, _, records) = xlsx("errors.xlsx");
    assert_eq!(names(&s), ["Feuil1", "Feuil2", "Feuil3"]);
    assert_eq!(sheet(&s, "Feuil1").header, ["#DIV/0!"]);
    let values: Vec<&Value> = records.iter().filter_map(|r| r.get("#DIV/0!")).collect();
    assert_eq!(
        values,
        ["#NAME?", "#VALUE!", "#NULL!", "#REF!", "#NUM!", "#N/A"]
    );
    assert_eq!((s.formula_count, s.cell_count), (7, 7));
}

#[test]
fn a_zero_byte_xlsx_is_an_empty_file() {
    assert_eq!(code("null_file.xlsx"), "empty_file");
}

#[test]
fn the_xml_bomb_is_refused_by_its_expansion_ratio() {
    let err = analyze_path(&XlsxAnalyzer, "xlsx/poc-xmlbomb.xlsx").unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.to_string().contains("xl/sharedStrings.xml"), "{err}");
}

#[test]
fn a_docx_analysed_as_xlsx_is_a_type_mismatch() {
    let err = analyze_path(&XlsxAnalyzer, "docx/testWORD.docx").unwrap_err();
    assert_eq!(err.code(), "type_mismatch", "{err}");
    assert!(err.to_string().contains("Word document"), "{err}");
}
