//! The CSV analyzer against the corpus files in `tests/data/csv/` (sources in `SOURCES.md`).
//! Expected values were computed independently with Python's `csv` module (see the comments).

mod common;

use common::{analyze_bytes, analyze_file, col, summary_of};
use fileproc_formats::FormatError;
use fileproc_formats::csv::{ColumnType, CsvSummary};
use serde_json::{Value, json};

fn names(s: &CsvSummary) -> Vec<&str> {
    s.columns.iter().map(|c| c.name.as_str()).collect()
}

fn types(s: &CsvSummary) -> Vec<ColumnType> {
    s.columns.iter().map(|c| c.column_type).collect()
}

/// Dialect and shape, the facts every corpus file is checked for.
fn assert_shape(
    s: &CsvSummary,
    encoding: &str,
    delimiter: &str,
    has_header: bool,
    rows: u64,
    cols: usize,
) {
    assert_eq!(s.encoding, encoding, "encoding");
    assert_eq!(s.delimiter, delimiter, "delimiter");
    assert_eq!(s.quote, "\"");
    assert_eq!(s.has_header, has_header, "has_header");
    assert_eq!(s.row_count, rows, "row_count");
    assert_eq!(s.records_count, rows, "records_count");
    assert_eq!(s.column_count, cols, "column_count");
    assert_eq!(s.columns.len(), cols);
}

#[test]
fn table_csv_has_an_integer_id_and_a_cjk_name() {
    let (s, warnings, records) = summary_of(analyze_file("table.csv"));
    assert_shape(&s, "UTF-8", ",", true, 2, 2);
    assert_eq!(names(&s), ["id", "name"]);
    assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String]);
    let id = col(&s, "id");
    assert_eq!(
        (id.min.clone(), id.max.clone(), id.mean),
        (Some(json!(1)), Some(json!(2)), Some(1.5))
    );
    assert_eq!((id.null_count, id.distinct_estimate), (0, 2));
    let name = col(&s, "name");
    assert_eq!(
        (name.min.clone(), name.max.clone()),
        (Some(json!("english")), Some(json!("中国人")))
    );
    assert_eq!(
        (name.min_length, name.max_length, name.mean),
        (Some(3), Some(7), None)
    );
    let typed: Vec<Value> = s.records.iter().cloned().map(Value::Object).collect();
    assert_eq!(
        typed,
        [
            json!({"id": 1, "name": "english"}),
            json!({"id": 2, "name": "中国人"})
        ]
    );
    assert_eq!(
        records,
        [
            vec![Some("1".into()), Some("english".into())],
            vec![Some("2".into()), Some("中国人".into())]
        ]
    );
    assert!(warnings.is_empty());
}

#[test]
fn bom_csv_strips_the_bom_from_the_header() {
    let (s, _, _) = summary_of(analyze_file("bom.csv"));
    assert_shape(&s, "UTF-8", ",", true, 2, 2);
    assert_eq!(names(&s), ["id", "name"]);
    assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String]);
    assert_eq!(s.records.first().and_then(|r| r.get("id")), Some(&json!(1)));
}

#[test]
fn delimiter_csv_is_semicolon_separated() {
    let (s, _, _) = summary_of(analyze_file("delimiter.csv"));
    assert_shape(&s, "UTF-8", ";", true, 2, 2);
    assert_eq!(names(&s), ["id", "name"]);
    assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String]);
    assert_eq!(col(&s, "id").mean, Some(1.5));
}

#[test]
fn table_tsv_is_tab_separated_with_a_backslash_n_null() {
    let (s, _, records) = summary_of(analyze_file("table.tsv"));
    assert_shape(&s, "UTF-8", "\t", true, 3, 2);
    assert_eq!(names(&s), ["id", "name"]);
    assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String]);
    let id = col(&s, "id");
    assert_eq!(
        (id.min.clone(), id.max.clone(), id.mean),
        (Some(json!(1)), Some(json!(3)), Some(2.0))
    );
    let name = col(&s, "name");
    assert_eq!((name.null_count, name.distinct_estimate), (1, 2));
    assert_eq!(records.last(), Some(&vec![Some("3".to_owned()), None]));
    assert_eq!(
        s.records.last(),
        Some(
            &json!({"id": 3, "name": null})
                .as_object()
                .cloned()
                .unwrap_or_default()
        )
    );
}

#[test]
fn defective_rows_are_counted_padded_and_truncated() {
    let (s, warnings, records) = summary_of(analyze_file("defective-rows.csv"));
    assert_shape(&s, "UTF-8", ",", true, 2, 3);
    assert_eq!(names(&s), ["id", "name", "age"]);
    assert_eq!(
        types(&s),
        [ColumnType::Integer, ColumnType::String, ColumnType::Integer]
    );
    assert_eq!(s.malformed_rows, 2);
    assert_eq!(warnings, ["2 malformed rows (field count differs from 3)"]);
    let age = col(&s, "age");
    assert_eq!(
        (age.null_count, age.min.clone(), age.mean),
        (1, Some(json!(26)), Some(26.0))
    );
    assert_eq!(
        records,
        [
            vec![Some("1101".to_owned()), Some("John".to_owned()), None],
            vec![
                Some("1102".to_owned()),
                Some("Julie".to_owned()),
                Some("26".to_owned())
            ],
        ]
    );
    assert_eq!(
        s.records.get(1).map(|r| Value::Object(r.clone())),
        Some(json!({"id": 1102, "name": "Julie", "age": 26}))
    );
}

#[test]
fn uspop_latin1_is_decoded_as_windows_1252() {
    // python3: csv.reader(open(..., encoding="cp1252")): 100 rows; Population 50 nulls, 50 distinct,
    // 5184..773283, mean 49729.62; Latitude 25.5802778..65.2419444; City max "Õakman".
    let (s, warnings, _) = summary_of(analyze_file("uspop-latin1.csv"));
    assert_shape(&s, "windows-1252", ",", true, 100, 5);
    assert_eq!(
        names(&s),
        ["City", "State", "Population", "Latitude", "Longitude"]
    );
    assert_eq!(
        types(&s),
        [
            ColumnType::String,
            ColumnType::String,
            ColumnType::Integer,
            ColumnType::Float,
            ColumnType::Float
        ]
    );
    let pop = col(&s, "Population");
    assert_eq!((pop.null_count, pop.distinct_estimate), (50, 50));
    assert_eq!(
        (pop.min.clone(), pop.max.clone(), pop.mean),
        (Some(json!(5184)), Some(json!(773_283)), Some(49729.62))
    );
    let lat = col(&s, "Latitude");
    assert_eq!(
        (lat.min.clone(), lat.max.clone(), lat.distinct_estimate),
        (Some(json!(25.5802778)), Some(json!(65.2419444)), 100)
    );
    let lon = col(&s, "Longitude");
    assert_eq!(
        (lon.min.clone(), lon.max.clone()),
        (Some(json!(-165.2716667)), Some(json!(-68.42)))
    );
    let city = col(&s, "City");
    assert_eq!(
        (city.min.clone(), city.max.clone(), city.distinct_estimate),
        (Some(json!("Auburn")), Some(json!("Õakman")), 98)
    );
    assert_eq!((city.min_length, city.max_length), (Some(4), Some(26)));
    assert!(warnings.is_empty());
}

#[test]
fn empty_csv_is_an_empty_file() {
    assert!(matches!(analyze_file("empty.csv"), Err(FormatError::Empty)));
}

#[test]
fn implicit_zip_is_refused_as_binary() {
    let err = analyze_file("implicit-zip.csv").err();
    assert!(
        matches!(&err, Some(FormatError::Corrupt(m)) if m.contains("binary") && m.contains("ZIP")),
        "{err:?}"
    );
    assert_eq!(err.map(|e| e.code()), Some("corrupt_file"));
}

#[test]
fn without_rows_has_a_header_and_no_rows() {
    let (s, _, records) = summary_of(analyze_file("without-rows.csv"));
    assert_shape(&s, "UTF-8", ",", true, 0, 2);
    assert_eq!(names(&s), ["id", "name"]);
    assert_eq!(types(&s), [ColumnType::String, ColumnType::String]);
    assert!(records.is_empty() && s.records.is_empty());
    assert_eq!(col(&s, "id").null_count, 0);
}

#[test]
fn quotes_and_newlines_keep_the_embedded_newline() {
    let (s, _, records) = summary_of(analyze_file("quotes_and_newlines.csv"));
    assert_shape(&s, "UTF-8", ",", true, 2, 2);
    assert_eq!(names(&s), ["a", "b"]);
    assert_eq!(types(&s), [ColumnType::Integer, ColumnType::String]);
    assert_eq!(
        records
            .first()
            .and_then(|r| r.get(1))
            .cloned()
            .flatten()
            .as_deref(),
        Some("ha \n\"ha\" \nha")
    );
    assert_eq!(
        s.records.first().and_then(|r| r.get("b")),
        Some(&json!("ha \n\"ha\" \nha"))
    );
    assert_eq!(col(&s, "b").max_length, Some(12));
}

#[test]
fn newlines_crlf_has_three_rows_and_keeps_the_quoted_crlf() {
    let (s, _, records) = summary_of(analyze_file("newlines_crlf.csv"));
    assert_shape(&s, "UTF-8", ",", true, 3, 3);
    assert_eq!(names(&s), ["a", "b", "c"]);
    assert_eq!(
        types(&s),
        [ColumnType::String, ColumnType::Integer, ColumnType::Integer]
    );
    assert_eq!(
        records
            .get(1)
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .as_deref(),
        Some("Once upon \r\na time")
    );
    assert_eq!(
        records.get(2),
        Some(&vec![
            Some("7".to_owned()),
            Some("8".to_owned()),
            Some("9".to_owned())
        ])
    );
    let b = col(&s, "b");
    assert_eq!(
        (b.min.clone(), b.max.clone(), b.mean),
        (Some(json!(2)), Some(json!(8)), Some(5.0))
    );
}

#[test]
fn nfl_csv_matches_the_python_summary() {
    // python3 csv module over nfl.csv: 9999 data rows, 13 columns (see /tmp/expect.py in the
    // report): qtr 1..5 mean 2.5843584358435843, season 2012..2012, down 1003 nulls, etc.
    let (s, warnings, records) = summary_of(analyze_file("nfl.csv"));
    assert_shape(&s, "UTF-8", ",", true, 9999, 13);
    assert_eq!(
        names(&s),
        [
            "gameid",
            "qtr",
            "min",
            "sec",
            "off",
            "def",
            "down",
            "togo",
            "ydline",
            "description",
            "offscore",
            "defscore",
            "season"
        ]
    );
    use ColumnType::{Integer as I, String as S};
    assert_eq!(types(&s), [S, I, I, I, S, S, I, I, I, S, I, I, I]);
    let expect = [
        // name, nulls, distinct, min, max
        (
            "gameid",
            0,
            60,
            json!("20120905_DAL@NYG"),
            json!("20120930_TEN@HOU"),
        ),
        ("qtr", 0, 5, json!(1), json!(5)),
        ("min", 1, 70, json!(-9), json!(60)),
        ("sec", 0, 60, json!(0), json!(59)),
        ("off", 5, 32, json!("ARI"), json!("WAS")),
        ("def", 0, 32, json!("ARI"), json!("WAS")),
        ("down", 1003, 4, json!(1), json!(4)),
        ("togo", 1003, 37, json!(1), json!(45)),
        ("ydline", 1, 99, json!(1), json!(99)),
        ("offscore", 0, 43, json!(0), json!(52)),
        ("defscore", 0, 43, json!(0), json!(52)),
        ("season", 0, 1, json!(2012), json!(2012)),
    ];
    for (name, nulls, distinct, min, max) in expect {
        let c = col(&s, name);
        assert_eq!(
            (
                c.null_count,
                c.distinct_estimate,
                c.min.clone(),
                c.max.clone()
            ),
            (nulls, distinct, Some(min), Some(max)),
            "{name}"
        );
    }
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
    assert!(close(col(&s, "qtr").mean, 2.5843584358435843));
    assert!(close(col(&s, "togo").mean, 8.64817696754113));
    assert_eq!(col(&s, "season").mean, Some(2012.0));
    let desc = col(&s, "description");
    assert_eq!(
        (desc.null_count, desc.min_length, desc.max_length),
        (59, Some(30), Some(488))
    );
    // 9505 distinct descriptions: past the exact range, so a HyperLogLog estimate (±3%).
    assert!(
        (9_220..=9_790).contains(&desc.distinct_estimate),
        "{}",
        desc.distinct_estimate
    );
    assert_eq!(
        desc.min,
        Some(json!(
            "(10:00) (No Huddle) J.Flacco right end for 1 yard TOUCHDOWN."
        ))
    );
    // Every record reached the sink, in order; the result keeps the first 100.
    assert_eq!(records.len(), 9999);
    assert_eq!(
        records
            .first()
            .and_then(|r| r.first())
            .cloned()
            .flatten()
            .as_deref(),
        Some("20120905_DAL@NYG")
    );
    assert_eq!(records.first().and_then(|r| r.get(2)).cloned(), Some(None));
    assert_eq!(s.records.len(), 100);
    assert_eq!(
        s.records.first().and_then(|r| r.get("season")),
        Some(&json!(2012))
    );
    assert_eq!(
        s.records.first().and_then(|r| r.get("min")),
        Some(&Value::Null)
    );
    assert!(warnings.is_empty());
}

#[test]
fn whitespace_only_is_an_empty_file() {
    assert!(matches!(
        analyze_bytes(b" \n\t\r\n  "),
        Err(FormatError::Empty)
    ));
    assert!(matches!(
        analyze_bytes(b"\xEF\xBB\xBF"),
        Err(FormatError::Empty)
    ));
}
