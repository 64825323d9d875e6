//! Real CSV files from public test suites (facts from ../shared/corpus/MANIFEST.tsv, where
//! `csv_rows` counts the header line too), uploaded and processed over HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStack, corpus};

fn names(result: &Value) -> Vec<&str> {
    result["csv"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect()
}

fn types(result: &Value) -> Vec<&str> {
    result["csv"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect()
}

fn column<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["csv"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[tokio::test]
async fn small_corpus_files_have_their_known_rows_columns_and_dialects() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    // (file, delimiter, data rows, header)
    let cases = [
        ("table.csv", ",", 2, vec!["id", "name"]),
        ("bom.csv", ",", 2, vec!["id", "name"]),
        ("delimiter.csv", ";", 2, vec!["id", "name"]),
        ("table.tsv", "\t", 3, vec!["id", "name"]),
        ("quotes_and_newlines.csv", ",", 2, vec!["a", "b"]),
        ("newlines_crlf.csv", ",", 3, vec!["a", "b", "c"]),
        ("defective-rows.csv", ",", 2, vec!["id", "name", "age"]),
        ("without-rows.csv", ",", 0, vec!["id", "name"]),
    ];
    for (file, delimiter, rows, header) in cases {
        let (id, result) = app.process(file, corpus(file)).await;
        let csv = &result["csv"];
        assert_eq!(result["file_id"], id.as_str());
        assert_eq!(result["file_type"], "csv", "{file}");
        assert_eq!(result["status"], "completed", "{file}");
        assert_eq!(result["processor"]["name"], "csv", "{file}");
        assert_eq!(csv["delimiter"], delimiter, "{file}");
        assert_eq!(csv["has_header"], true, "{file}");
        assert_eq!(csv["row_count"], rows, "{file}");
        assert_eq!(csv["records_count"], rows, "{file}");
        assert_eq!(csv["column_count"], header.len(), "{file}");
        assert_eq!(names(&result), header, "{file}");
        assert_eq!(result["size"], corpus(file).len(), "{file}");
    }
}

#[tokio::test]
async fn table_csv_is_typed_with_exact_statistics_and_records() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (_, result) = app.process("table.csv", corpus("table.csv")).await;
    assert_eq!(
        result["sha256"],
        "a1fd6c5ff3494f697874deeb07f69f8667e903dd94a7bc062dd57550cea26da8"
    );
    assert_eq!(result["csv"]["encoding"], "UTF-8");
    assert_eq!(types(&result), ["integer", "string"]);
    let id = column(&result, "id");
    assert_eq!((id["min"].as_i64(), id["max"].as_i64()), (Some(1), Some(2)));
    assert_eq!(id["mean"].as_f64(), Some(1.5));
    assert_eq!(id["null_count"], 0);
    assert_eq!(id["distinct_estimate"], 2);
    let name = column(&result, "name");
    assert_eq!(
        (name["min_length"].as_u64(), name["max_length"].as_u64()),
        (Some(3), Some(7))
    );
    assert_eq!(
        result["csv"]["records"],
        json!([{"id": 1, "name": "english"}, {"id": 2, "name": "中国人"}])
    );
}

#[tokio::test]
async fn bom_is_stripped_and_tsv_null_marker_is_null() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (_, bom) = app.process("bom.csv", corpus("bom.csv")).await;
    assert_eq!(bom["csv"]["encoding"], "UTF-8");
    assert_eq!(
        bom["csv"]["records"][0],
        json!({"id": 1, "name": "english"})
    );
    let (_, tsv) = app.process("table.tsv", corpus("table.tsv")).await;
    assert_eq!(column(&tsv, "name")["null_count"], 1);
    assert_eq!(tsv["csv"]["records"][2]["name"], Value::Null);
}

#[tokio::test]
async fn latin1_file_is_decoded_as_windows_1252() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, result) = app
        .process("uspop-latin1.csv", corpus("uspop-latin1.csv"))
        .await;
    let csv = &result["csv"];
    assert_eq!(csv["encoding"], "windows-1252");
    assert_eq!(csv["row_count"], 100);
    assert_eq!(
        names(&result),
        ["City", "State", "Population", "Latitude", "Longitude"]
    );
    assert_eq!(
        types(&result),
        ["string", "string", "integer", "float", "float"]
    );
    assert_eq!(column(&result, "Population")["null_count"], 50);
    // python3: the one non-ASCII city is "Õakman" (0xD5 in Latin-1).
    let (_, page) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=0&limit=100"))
        .await;
    let cities: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["City"].as_str())
        .filter(|c| !c.is_ascii())
        .collect();
    assert_eq!(cities, ["Õakman"]);
}

#[tokio::test]
async fn defective_rows_are_counted_as_malformed() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (_, result) = app
        .process("defective-rows.csv", corpus("defective-rows.csv"))
        .await;
    assert_eq!(result["csv"]["malformed_rows"], 2);
    assert!(!result["warnings"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn quoted_newlines_stay_inside_their_field() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (_, quotes) = app
        .process("quotes_and_newlines.csv", corpus("quotes_and_newlines.csv"))
        .await;
    // csv-spectrum json/quotes_and_newlines.json
    assert_eq!(
        quotes["csv"]["records"],
        json!([{"a": 1, "b": "ha \n\"ha\" \nha"}, {"a": 3, "b": "4"}])
    );
    let (_, crlf) = app
        .process("newlines_crlf.csv", corpus("newlines_crlf.csv"))
        .await;
    // csv-spectrum json/newlines_crlf.json
    assert_eq!(crlf["csv"]["records"][1]["a"], "Once upon \r\na time");
    assert_eq!(crlf["csv"]["records"][2], json!({"a": "7", "b": 8, "c": 9}));
}

#[tokio::test]
async fn nfl_play_by_play_has_9999_records_with_exact_statistics() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, result) = app.process("nfl.csv", corpus("nfl.csv")).await;
    let csv = &result["csv"];
    assert_eq!(csv["row_count"], 9999);
    assert_eq!(csv["column_count"], 13);
    assert_eq!(csv["malformed_rows"], 0);
    assert_eq!(
        names(&result),
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
    // Expected values computed with python3's csv module over the same file.
    let qtr = column(&result, "qtr");
    assert_eq!(qtr["type"], "integer");
    assert_eq!(
        (qtr["min"].as_i64(), qtr["max"].as_i64()),
        (Some(1), Some(5))
    );
    assert_eq!(qtr["distinct_estimate"], 5);
    let min = column(&result, "min");
    assert_eq!(
        (
            min["min"].as_i64(),
            min["max"].as_i64(),
            min["null_count"].as_u64()
        ),
        (Some(-9), Some(60), Some(1))
    );
    let down = column(&result, "down");
    assert_eq!(down["null_count"], 1003);
    assert!((down["mean"].as_f64().unwrap() - 1.985_549_132_947_976_9).abs() < 1e-9);
    let season = column(&result, "season");
    assert_eq!(
        (season["min"].as_i64(), season["max"].as_i64()),
        (Some(2012), Some(2012))
    );
    // 59 descriptions are only no-break spaces: blank, so null (python3: `not v.strip()`).
    let description = column(&result, "description");
    assert_eq!(description["type"], "string");
    assert_eq!(description["null_count"], 59);
    assert_eq!(
        (
            description["min_length"].as_u64(),
            description["max_length"].as_u64()
        ),
        (Some(30), Some(488))
    );
    let off = column(&result, "off");
    assert_eq!(off["null_count"], 5);
    assert_eq!(csv["records"].as_array().unwrap().len(), 100);

    // All records are paged at /records: python3 row 5000 is 20120916_DET@SF, qtr 1, min 56, sec 34.
    let (code, page) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=5000&limit=3"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(page["total"], 9999);
    assert_eq!(page["next_offset"], 5003);
    let first = &page["records"][0];
    assert_eq!(
        (
            &first["gameid"],
            &first["qtr"],
            &first["min"],
            &first["sec"]
        ),
        (&json!("20120916_DET@SF"), &json!(1), &json!(56), &json!(34))
    );
    let (_, last) = app
        .get_json(&format!("/api/v1/files/{id}/records?offset=9998&limit=10"))
        .await;
    assert_eq!(last["records"].as_array().unwrap().len(), 1);
    assert_eq!(last["records"][0]["gameid"], "20120930_NO@GB");
    assert_eq!(last["next_offset"], Value::Null);

    let ndjson = app
        .client
        .get(app.url(&format!(
            "/api/v1/files/{id}/records?format=ndjson&limit=10000"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let body = ndjson.text().await.unwrap();
    assert_eq!(body.lines().count(), 9999);
    let line: Value = serde_json::from_str(body.lines().nth(5000).unwrap()).unwrap();
    assert_eq!(line["gameid"], "20120916_DET@SF");
}

#[tokio::test]
async fn empty_file_fails_its_job_with_empty_file_and_the_service_keeps_serving() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let file = app.upload("empty.csv", corpus("empty.csv")).await;
    let id = file["file_id"].as_str().unwrap();
    let status = app.wait_done(id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "empty_file");
    let (code, body) = app.get_json(&format!("/api/v1/files/{id}/result")).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("not_completed")));
    let (_, result) = app.process("table.csv", corpus("table.csv")).await;
    assert_eq!(result["csv"]["row_count"], 2);
}

#[tokio::test]
async fn zip_archive_named_csv_is_refused_with_415() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let response = app
        .upload_bytes("implicit-zip.csv", corpus("implicit-zip.csv"), &[])
        .await;
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "type_mismatch");
    assert!(body["error"].as_str().unwrap().contains("zip"));
}
