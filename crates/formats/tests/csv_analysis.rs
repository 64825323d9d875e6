//! The CSV analyzer on generated inputs: encodings, dialects, typing, limits, cancel, the sink.

mod common;

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Collect, analyze_bytes, analyze_with, col, summary_of};
use fileproc_formats::csv::{ColumnSummary, ColumnType, CsvAnalyzer, typed_record};
use fileproc_formats::{Analyzer, Context, FormatError, Input, Limits, Section};
use serde_json::{Value, json};

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[test]
fn utf16_le_and_be_with_bom_are_transcoded() {
    let text = "id,name\n1,Zoë\n2,中国人\n";
    for (big_endian, name) in [(false, "UTF-16LE"), (true, "UTF-16BE")] {
        let (s, _, records) = summary_of(analyze_bytes(&utf16(text, big_endian)));
        assert_eq!(s.encoding, name);
        assert_eq!(
            (
                s.delimiter.as_str(),
                s.has_header,
                s.row_count,
                s.column_count
            ),
            (",", true, 2, 2)
        );
        assert_eq!(col(&s, "id").column_type, ColumnType::Integer);
        assert_eq!(
            records,
            [
                vec![Some("1".into()), Some("Zoë".into())],
                vec![Some("2".into()), Some("中国人".into())]
            ]
        );
    }
}

#[test]
fn semicolon_file_with_decimal_commas_is_semicolon_with_string_values() {
    let (s, _, records) = summary_of(analyze_bytes(b"id;value\n1;1,5\n2;2,75\n"));
    assert_eq!(
        (
            s.delimiter.as_str(),
            s.has_header,
            s.row_count,
            s.column_count
        ),
        (";", true, 2, 2)
    );
    assert_eq!(col(&s, "value").column_type, ColumnType::String);
    assert_eq!(
        records.get(1),
        Some(&vec![Some("2".into()), Some("2,75".into())])
    );
}

#[test]
fn pipe_separated_file_is_detected() {
    let (s, _, _) = summary_of(analyze_bytes(b"a|b|c\n1|x|2020-01-02\n2|y|2021-03-04\n"));
    assert_eq!(
        (s.delimiter.as_str(), s.column_count, s.row_count),
        ("|", 3, 2)
    );
    assert_eq!(col(&s, "c").column_type, ColumnType::Date);
    assert_eq!(
        (col(&s, "c").min.clone(), col(&s, "c").max.clone()),
        (Some(json!("2020-01-02")), Some(json!("2021-03-04")))
    );
}

#[test]
fn windows_1252_bytes_decode_to_accented_letters() {
    let data = b"name,city\nRen\xE9,Z\xFCrich\nJos\xE9,M\xFCnchen\nAndr\xE9,K\xF6ln\n";
    let (s, warnings, records) = summary_of(analyze_bytes(data));
    assert_eq!(s.encoding, "windows-1252");
    assert_eq!(
        records.first(),
        Some(&vec![Some("René".into()), Some("Zürich".into())])
    );
    assert_eq!(col(&s, "name").max, Some(json!("René")));
    assert_eq!(col(&s, "name").max_length, Some(5));
    assert!(warnings.is_empty());
}

#[test]
fn invalid_utf8_after_the_prefix_is_decoded_lossily_with_a_warning() {
    let mut data = b"id,text\n".to_vec();
    for i in 0..5000 {
        data.extend_from_slice(
            format!("{i},plain text that is valid utf-8 and long enough\n").as_bytes(),
        );
    }
    data.extend_from_slice(b"5000,bad \xFF byte\n");
    let (s, warnings, records) = summary_of(analyze_bytes(&data));
    assert_eq!((s.encoding.as_str(), s.row_count), ("UTF-8", 5001));
    assert_eq!(
        records.last(),
        Some(&vec![Some("5000".into()), Some("bad \u{FFFD} byte".into())])
    );
    assert_eq!(
        warnings,
        ["1 field was not valid UTF-8; invalid bytes were replaced with U+FFFD"]
    );
}

#[test]
fn a_file_without_header_gets_generated_names() {
    let (s, _, _) = summary_of(analyze_bytes(b"1,2.5,true\n2,3,false\n3,,yes\n"));
    assert!(!s.has_header);
    assert_eq!(s.row_count, 3);
    let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["column_1", "column_2", "column_3"]);
    let types: Vec<ColumnType> = s.columns.iter().map(|c| c.column_type).collect();
    assert_eq!(
        types,
        [ColumnType::Integer, ColumnType::Float, ColumnType::Boolean]
    );
    let b = col(&s, "column_3");
    assert_eq!(
        (b.min.clone(), b.max.clone(), b.mean, b.distinct_estimate),
        (Some(json!(false)), Some(json!(true)), None, 3)
    );
    assert_eq!(col(&s, "column_2").mean, Some(2.75));
    let first: Vec<Value> = s.records.iter().cloned().map(Value::Object).collect();
    assert_eq!(
        first.first(),
        Some(&json!({"column_1": 1, "column_2": 2.5, "column_3": true}))
    );
    assert_eq!(
        first.get(2),
        Some(&json!({"column_1": 3, "column_2": null, "column_3": true}))
    );
}

#[test]
fn duplicate_and_empty_header_names_are_made_unique() {
    let (s, _, _) = summary_of(analyze_bytes(b"name,,name,value\nx,y,z,1\nu,v,w,2\n"));
    assert!(s.has_header);
    let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["name", "column_2", "name_2", "value"]);
}

#[test]
fn all_string_columns_keep_the_first_row_as_header() {
    let (s, _, _) = summary_of(analyze_bytes(b"a,b\nfoo,bar\nbaz,qux\n"));
    assert!(s.has_header);
    assert_eq!(s.row_count, 2);
}

#[test]
fn null_markers_are_null_in_records_and_counts() {
    let (s, _, records) = summary_of(analyze_bytes(b"v,w\n1,a\nNULL,b\n\\N,c\nNA,d\n,e\n5,N/A\n"));
    let v = col(&s, "v");
    assert_eq!(
        (v.column_type, v.null_count, v.mean),
        (ColumnType::Integer, 4, Some(3.0))
    );
    assert_eq!(col(&s, "w").null_count, 1);
    assert_eq!(records.get(1), Some(&vec![None, Some("b".into())]));
}

#[test]
fn datetimes_are_normalised_in_records_and_extremes() {
    let data =
        b"when,flag\n2024-01-02 03:04:05,TRUE\n2024-01-02T10:00:00+02:00,false\n2023-12-31,True\n";
    let (s, _, _) = summary_of(analyze_bytes(data));
    let when = col(&s, "when");
    assert_eq!(when.column_type, ColumnType::Datetime);
    assert_eq!(
        (when.min.clone(), when.max.clone()),
        (
            Some(json!("2023-12-31T00:00:00")),
            Some(json!("2024-01-02T10:00:00+02:00"))
        )
    );
    assert_eq!(col(&s, "flag").column_type, ColumnType::Boolean);
    let typed: Vec<Value> = s.records.iter().cloned().map(Value::Object).collect();
    assert_eq!(
        typed,
        [
            json!({"when": "2024-01-02T03:04:05", "flag": true}),
            json!({"when": "2024-01-02T10:00:00+02:00", "flag": false}),
            json!({"when": "2023-12-31T00:00:00", "flag": true}),
        ]
    );
}

#[test]
fn typed_record_gives_each_type_its_json_shape() {
    let column = |name: &str, column_type| ColumnSummary {
        name: name.into(),
        column_type,
        null_count: 0,
        distinct_estimate: 0,
        min: None,
        max: None,
        mean: None,
        min_length: None,
        max_length: None,
    };
    let columns = [
        column("i", ColumnType::Integer),
        column("f", ColumnType::Float),
        column("b", ColumnType::Boolean),
        column("d", ColumnType::Date),
        column("t", ColumnType::Datetime),
        column("s", ColumnType::String),
        column("bad", ColumnType::Integer),
        column("missing", ColumnType::String),
    ];
    let fields = [
        Some("-42"),
        Some("7"),
        Some("No"),
        Some("2020/02/29"),
        Some("2020-02-29 23:59"),
        Some(" 1 "),
        Some("x1"),
    ];
    let record = Value::Object(typed_record(&columns, &fields));
    assert_eq!(
        record,
        json!({"i": -42, "f": 7.0, "b": false, "d": "2020-02-29", "t": "2020-02-29T23:59:00", "s": " 1 ", "bad": "x1", "missing": null})
    );
    assert!(record.get("i").is_some_and(Value::is_i64));
    assert!(record.get("f").is_some_and(Value::is_f64));
}

#[test]
fn a_field_past_the_limit_fails_with_limit_exceeded() {
    let mut data = b"id,blob\n1,".to_vec();
    data.extend(std::iter::repeat_n(b'x', 2 << 20));
    data.extend_from_slice(b"\n2,y\n");
    let limits = Limits {
        max_field_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = analyze_with(&data, limits, &AtomicBool::new(false)).err();
    assert!(
        matches!(&err, Some(FormatError::LimitExceeded(m)) if m.contains("field") && m.contains("1048576")),
        "{err:?}"
    );
    assert_eq!(err.map(|e| e.code()), Some("limit_exceeded"));
}

#[test]
fn too_many_columns_or_too_long_a_record_fail() {
    let wide = analyze_with(
        b"a,b,c,d,e\n",
        Limits {
            max_columns: 4,
            ..Limits::default()
        },
        &AtomicBool::new(false),
    );
    assert!(matches!(wide, Err(FormatError::LimitExceeded(m)) if m.contains("column")));
    let long = analyze_with(
        b"a,b\n12345,67890\n",
        Limits {
            max_record_bytes: 8,
            ..Limits::default()
        },
        &AtomicBool::new(false),
    );
    assert!(matches!(long, Err(FormatError::LimitExceeded(m)) if m.contains("record 2")));
}

#[test]
fn a_set_cancel_flag_ends_the_analysis_as_cancelled() {
    let data: Vec<u8> = (0..100_000)
        .flat_map(|i| format!("{i},x\n").into_bytes())
        .collect();
    let err = analyze_with(&data, Limits::default(), &AtomicBool::new(true)).err();
    assert!(matches!(err, Some(FormatError::Cancelled)), "{err:?}");
}

#[test]
fn cancelling_midway_stops_with_cancelled() {
    let data: Vec<u8> = (0..300_000)
        .flat_map(|i| format!("{i},some text {i}\n").into_bytes())
        .collect();
    let cancel = AtomicBool::new(false);
    let mut sink = Collect::default();
    let mut progress = |_| cancel.store(true, Ordering::Relaxed);
    let mut ctx = Context {
        limits: Limits::default(),
        size: None,
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let mut reader: &[u8] = &data;
    let result = CsvAnalyzer.analyze(Input::Stream(&mut reader), &mut ctx);
    assert!(matches!(result, Err(FormatError::Cancelled)));
    assert!(
        sink.0.len() < 300_000 && !sink.0.is_empty(),
        "{}",
        sink.0.len()
    );
}

#[test]
fn every_record_reaches_the_sink_and_progress_is_reported_on_a_seekable_input() {
    // 200k rows, ~3 MB: several batches and progress reports.
    let mut data = b"n,half,label\n".to_vec();
    for i in 0..200_000u32 {
        data.extend_from_slice(format!("{i},{}.5,item {}\n", i / 2, i % 1000).as_bytes());
    }
    let cancel = AtomicBool::new(false);
    let mut sink = Collect::default();
    let mut reports = Vec::new();
    let mut progress = |p: fileproc_formats::Progress| reports.push(p.bytes_done);
    let mut ctx = Context {
        limits: Limits::default(),
        size: Some(data.len() as u64),
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let mut cursor = Cursor::new(data.clone());
    let analysis = CsvAnalyzer.analyze(Input::Seekable(&mut cursor), &mut ctx);
    let Ok(fileproc_formats::Analysis {
        section: Section::Csv(s),
        ..
    }) = analysis
    else {
        panic!("{analysis:?}")
    };
    assert_eq!(s.row_count, 200_000);
    assert_eq!(sink.0.len(), 200_000);
    assert_eq!(
        sink.0.get(123_456),
        Some(&vec![
            Some("123456".into()),
            Some("61728.5".into()),
            Some("item 456".into())
        ])
    );
    let n = col(&s, "n");
    assert_eq!(
        (n.min.clone(), n.max.clone(), n.mean),
        (Some(json!(0)), Some(json!(199_999)), Some(99_999.5))
    );
    assert!(
        (196_000..=204_000).contains(&n.distinct_estimate),
        "{}",
        n.distinct_estimate
    );
    // Past the exact range (512): a sketch estimate, within 1% here.
    assert!((990..=1010).contains(&col(&s, "label").distinct_estimate));
    assert_eq!(col(&s, "half").column_type, ColumnType::Float);
    assert_eq!(s.records.len(), 100);
    assert!(reports.len() >= 2, "{reports:?}");
    assert_eq!(reports.last().copied(), Some(data.len() as u64));
    assert!(reports.windows(2).all(|w| w.first() <= w.last()));
}

#[test]
fn a_utf16_file_larger_than_the_sniffing_prefix_streams_through_the_transcoder() {
    let mut text = String::from("id;city;when\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i};Zürich {};2024-02-{:02}\n", i % 7, i % 28 + 1));
    }
    let (s, _, records) = summary_of(analyze_bytes(&utf16(&text, false)));
    assert_eq!(
        (
            s.encoding.as_str(),
            s.delimiter.as_str(),
            s.row_count,
            s.column_count
        ),
        ("UTF-16LE", ";", 20_000, 3)
    );
    assert_eq!(records.len(), 20_000);
    assert_eq!(
        records.last(),
        Some(&vec![
            Some("19999".into()),
            Some("Zürich 0".into()),
            Some("2024-02-08".into())
        ])
    );
    assert_eq!(col(&s, "city").distinct_estimate, 7);
    assert_eq!(col(&s, "city").max_length, Some(8));
    let when = col(&s, "when");
    assert_eq!(
        (when.column_type, when.min.clone(), when.max.clone()),
        (
            ColumnType::Date,
            Some(json!("2024-02-01")),
            Some(json!("2024-02-28"))
        )
    );
}

#[test]
fn a_column_that_turns_string_late_keeps_exact_string_extremes() {
    let mut data = b"code\n".to_vec();
    for i in 0..50_000 {
        data.extend_from_slice(format!("{}\n", 100 + i).as_bytes());
    }
    data.extend_from_slice(b"n/k\n");
    let (s, _, _) = summary_of(analyze_bytes(&data));
    let code = col(&s, "code");
    // python3: min(str(100 + i) for i in range(50000)) + ["n/k"] -> "100", max -> "n/k"
    assert_eq!(
        (code.column_type, code.min.clone(), code.max.clone()),
        (ColumnType::String, Some(json!("100")), Some(json!("n/k")))
    );
    assert_eq!(
        (code.min_length, code.max_length, code.mean),
        (Some(3), Some(5), None)
    );
}

#[test]
fn short_rows_in_a_wide_file_count_missing_cells_as_nulls_in_every_column() {
    let data = b"c1,c2,c3,c4,c5,c6,c7,c8,c9,c10\n1,2,3,4,5,6,7,8,9,10\n11\n21,22,23,24,25,26,27,28,29,30,31\n";
    let (s, warnings, records) = summary_of(analyze_bytes(data));
    assert_eq!((s.row_count, s.column_count, s.malformed_rows), (3, 10, 2));
    assert_eq!(warnings, ["2 malformed rows (field count differs from 10)"]);
    let nulls: Vec<u64> = s.columns.iter().map(|c| c.null_count).collect();
    assert_eq!(nulls, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    let sums: Vec<Option<f64>> = s.columns.iter().map(|c| c.mean).collect();
    assert_eq!(sums.first(), Some(&Some(11.0)));
    assert_eq!(sums.get(2), Some(&Some(13.0)));
    assert_eq!(sums.get(9), Some(&Some(20.0)));
    assert_eq!(
        records
            .get(1)
            .map(|r| r.iter().filter(|f| f.is_some()).count()),
        Some(1)
    );
    assert_eq!(records.get(2).map(Vec::len), Some(10));
}
