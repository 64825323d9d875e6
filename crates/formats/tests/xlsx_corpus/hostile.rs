//! Hostile and odd XLSX workbooks built here with the zip crate: bogus dimensions, oversized or
//! lying shared strings, entity bombs, lying part sizes, sparse rows, header names, sheet order.

use std::io::{Cursor, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fileproc_formats::xlsx::{XlsxAnalyzer, XlsxSummary};
use fileproc_formats::{Analyzer, Context, FormatError, Input, Limits};
use serde_json::{Map, Value, json};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::{assert_sink_matches, common::CollectTyped, summary};

type Outcome = Result<(XlsxSummary, Vec<String>, Vec<Map<String, Value>>), FormatError>;

pub fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        writer
            .start_file(name.as_str(), options)
            .expect("start entry");
        writer.write_all(data).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A workbook with one worksheet per `(name, inner XML of <worksheet>)`, and shared strings.
fn workbook(sheets: &[(&str, &str)], shared_strings: Option<&str>) -> Vec<u8> {
    zip_of(&workbook_parts(sheets, shared_strings))
}

/// The parts of [`workbook`], by name, to add more before zipping them with [`zip_of`].
pub fn workbook_parts(
    sheets: &[(&str, &str)],
    shared_strings: Option<&str>,
) -> Vec<(String, Vec<u8>)> {
    let ns = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut types = String::from(
        r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let (mut book, mut rels) = (
        format!("<workbook {ns}><sheets>"),
        String::from(
            "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
        ),
    );
    let mut entries = Vec::new();
    for (i, (name, body)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        book.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
        ));
        rels.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="{rel}/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
        entries.push((
            format!("xl/worksheets/sheet{n}.xml"),
            format!("<worksheet {ns}>{body}</worksheet>").into_bytes(),
        ));
    }
    types.push_str("</Types>");
    book.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    let root = format!(
        r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    entries.extend([
        ("[Content_Types].xml".to_owned(), types.into_bytes()),
        ("_rels/.rels".to_owned(), root.into_bytes()),
        ("xl/workbook.xml".to_owned(), book.into_bytes()),
        ("xl/_rels/workbook.xml.rels".to_owned(), rels.into_bytes()),
    ]);
    if let Some(sst) = shared_strings {
        entries.push(("xl/sharedStrings.xml".to_owned(), sst.as_bytes().to_vec()));
    }
    entries
}

/// An inline-string cell.
pub fn s(at: &str, text: &str) -> String {
    format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)
}

/// A number cell.
pub fn n(at: &str, v: f64) -> String {
    format!(r#"<c r="{at}"><v>{v}</v></c>"#)
}

fn analyze(bytes: &[u8], limits: Limits, cancel: &AtomicBool) -> Outcome {
    let mut cursor = Cursor::new(bytes);
    let mut sink = CollectTyped::default();
    let mut progress = |_| {};
    let mut ctx = Context {
        limits,
        size: Some(bytes.len() as u64),
        progress: &mut progress,
        records: &mut sink,
        cancel,
    };
    let analysis = XlsxAnalyzer.analyze(Input::Seekable(&mut cursor), &mut ctx)?;
    let (s, warnings, records) = summary(Ok((analysis, sink.0)));
    assert_sink_matches(&s, &records);
    Ok((s, warnings, records))
}

pub fn analyze_default(bytes: &[u8]) -> Outcome {
    analyze(bytes, Limits::default(), &AtomicBool::new(false))
}

fn obj(v: Value) -> Map<String, Value> {
    super::obj(v)
}

#[test]
fn a_whole_sheet_dimension_with_two_cells_costs_two_cells() {
    let body = format!(
        r#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1">{}</row><row r="1048576">{}</row></sheetData>"#,
        s("A1", "name"),
        n("XFD1048576", 7.0)
    );
    let started = Instant::now();
    let (s, _, records) = analyze_default(&workbook(&[("Big", &body)], None)).unwrap();
    let sh = &s.sheets[0];
    assert_eq!(sh.dimension.as_deref(), Some("A1:XFD1048576"));
    assert_eq!((sh.rows, sh.columns, sh.cell_count), (1_048_576, 16_384, 2));
    assert_eq!(records, [obj(json!({"column_16384": 7}))]);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_dimension_calamine_refuses_leaves_that_sheet_unread_and_the_others_read() {
    let bad = format!(
        r#"<dimension ref="A0:AZ48943"/><sheetData><row r="1">{}</row></sheetData>"#,
        s("A1", "x")
    );
    let good = format!(
        r#"<sheetData><row r="1">{}</row><row r="2">{}</row></sheetData>"#,
        s("A1", "k"),
        n("A2", 1.0)
    );
    let (s, warnings, records) =
        analyze_default(&workbook(&[("Bad", &bad), ("Good", &good)], None)).unwrap();
    assert!(s.sheets[0].error.is_some());
    assert_eq!((s.sheets[0].rows, s.sheets[0].records_count), (0, 0));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("\"Bad\""), "{warnings:?}");
    assert_eq!(records, [obj(json!({"k": 1}))]);
}

#[test]
fn a_reversed_dimension_never_fails_the_analysis() {
    // calamine subtracts B2 - A1; builds with overflow checks panic there (caught: the sheet is
    // unread), release builds read the sheet.
    let body = format!(
        r#"<dimension ref="B2:A1"/><sheetData><row r="1">{}</row></sheetData>"#,
        s("A1", "x")
    );
    let (s, _, _) = analyze_default(&workbook(&[("Odd", &body)], None)).unwrap();
    let sh = &s.sheets[0];
    assert!(sh.error.is_some() || sh.header == ["x"], "{sh:?}");
}

#[test]
fn shared_strings_over_their_limit_are_refused_before_loading() {
    let sst = format!(
        r#"<sst xmlns="x" uniqueCount="1"><si><t>{}</t></si></sst>"#,
        "a".repeat(2_000)
    );
    let limits = Limits {
        max_shared_strings_bytes: 1_000,
        ..Limits::default()
    };
    let err = analyze(
        &workbook(&[("S", "<sheetData/>")], Some(&sst)),
        limits,
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(
        err.to_string()
            .contains("processing.archive.max_shared_strings_size"),
        "{err}"
    );
}

#[test]
fn a_shared_string_count_the_part_cannot_hold_is_corrupt() {
    let sst = r#"<sst xmlns="x" uniqueCount="4000000000"><si><t>a</t></si></sst>"#;
    let err = analyze_default(&workbook(&[("S", "<sheetData/>")], Some(sst))).unwrap_err();
    assert_eq!(err.code(), "corrupt_file", "{err}");
}

#[test]
fn entities_in_shared_strings_are_refused_not_expanded() {
    let sst = r#"<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><sst xmlns="x" uniqueCount="1"><si><t>&b;</t></si></sst>"#;
    let started = Instant::now();
    let err = analyze_default(&workbook(&[("S", "<sheetData/>")], Some(sst))).unwrap_err();
    assert_eq!(err.code(), "corrupt_file", "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_worksheet_lying_about_its_size_is_stopped_while_inflating() {
    let mut body = String::from("<sheetData>");
    body.push_str(&" ".repeat(8 << 20));
    body.push_str("</sheetData>");
    let mut book = workbook(&[("Lie", &body)], None);
    patch_size(&mut book, b"xl/worksheets/sheet1.xml", 100_000);
    let err = analyze_default(&book).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.to_string().contains("declared size"), "{err}");
}

/// Sets the declared inflated size of `name` in both its local and central headers.
fn patch_size(zip: &mut [u8], name: &[u8], size: u32) {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (size_at, name_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (at + 22, at + 30),
            b"PK\x01\x02" => (at + 24, at + 46),
            _ => continue,
        };
        if zip.get(name_at..name_at + name.len()) == Some(name) {
            zip[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
}

#[test]
fn empty_rows_are_skipped_and_empty_or_duplicate_headers_get_unique_names() {
    let body = format!(
        r#"<sheetData><row r="2">{}{}{}</row><row r="3">{}{}</row><row r="6">{}{}</row></sheetData>"#,
        s("A2", "name"),
        s("C2", "name"),
        s("D2", "column_2"),
        n("A3", 1.0),
        n("B3", 2.5),
        s("C6", "x"),
        n("E6", 3.0),
    );
    let (s, _, records) = analyze_default(&workbook(&[("H", &body)], None)).unwrap();
    let sh = &s.sheets[0];
    assert_eq!(
        (sh.rows, sh.columns, sh.used_range.as_deref()),
        (5, 5, Some("A2:E6"))
    );
    assert_eq!(
        sh.header,
        ["name", "column_2_2", "name_2", "column_2", "column_5"]
    );
    assert_eq!(
        records,
        [
            obj(json!({"name": 1, "column_2_2": 2.5})),
            obj(json!({"name_2": "x", "column_5": 3}))
        ]
    );
}

#[test]
fn records_of_each_sheet_follow_the_sheets_before_it() {
    let one = format!(
        r#"<sheetData><row r="1">{}</row><row r="2">{}</row><row r="3">{}</row></sheetData>"#,
        s("A1", "a"),
        n("A2", 1.0),
        n("A3", 2.0)
    );
    let two = format!(
        r#"<sheetData><row r="1">{}</row><row r="2">{}</row></sheetData>"#,
        s("A1", "b"),
        n("A2", 3.0)
    );
    let (s, _, records) =
        analyze_default(&workbook(&[("One", &one), ("Two", &two)], None)).unwrap();
    let counts: Vec<u64> = s.sheets.iter().map(|x| x.records_count).collect();
    assert_eq!(counts, [2, 1]);
    assert_eq!(
        records,
        [
            obj(json!({"a": 1})),
            obj(json!({"a": 2})),
            obj(json!({"b": 3}))
        ]
    );
}

#[test]
fn a_plain_zip_and_garbage_fail_clearly() {
    let plain = zip_of(&[("a.txt".to_owned(), b"hello".to_vec())]);
    assert_eq!(analyze_default(&plain).unwrap_err().code(), "type_mismatch");
    assert_eq!(
        analyze_default(b"not a workbook").unwrap_err().code(),
        "corrupt_file"
    );
}

#[test]
fn a_cancelled_analysis_stops_with_cancelled() {
    let err = analyze(
        &workbook(&[("S", "<sheetData/>")], None),
        Limits::default(),
        &AtomicBool::new(true),
    )
    .unwrap_err();
    assert_eq!(err.code(), "cancelled");
}

#[test]
fn progress_rises_through_a_large_sheet_and_ends_at_the_file_size() {
    let mut body = String::from("<dimension ref=\"A1:B20000\"/><sheetData>");
    for r in 1..=20_000 {
        body.push_str(&format!(
            "<row r=\"{r}\">{}{}</row>",
            n(&format!("A{r}"), 1.0),
            n(&format!("B{r}"), 2.0)
        ));
    }
    body.push_str("</sheetData>");
    let book = workbook(&[("P", &body)], None);
    let mut seen = Vec::new();
    let mut progress = |p: fileproc_formats::Progress| seen.push(p.bytes_done);
    let mut ctx = Context {
        limits: Limits::default(),
        size: Some(book.len() as u64),
        progress: &mut progress,
        records: &mut CollectTyped::default(),
        cancel: &AtomicBool::new(false),
    };
    XlsxAnalyzer
        .analyze(Input::Seekable(&mut Cursor::new(&book)), &mut ctx)
        .unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(seen[0] > 0 && seen[0] < book.len() as u64, "{seen:?}");
    assert_eq!(seen.last(), Some(&(book.len() as u64)));
}
