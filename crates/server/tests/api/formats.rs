//! Every format over HTTP: real files from public test suites (facts from
//! ../shared/corpus/MANIFEST.tsv; copies and sources in crates/formats/tests/data), uploaded and
//! processed, their thumbnails served; hostile files fail with their code while the server goes
//! on serving.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStack, corpus, test_data};

/// The dimensions of an encoded picture.
fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let picture = image::load_from_memory(bytes).expect("a decodable picture");
    (picture.width(), picture.height())
}

/// Fetch the default thumbnail of `id`: its content type and dimensions.
async fn thumbnail(app: &TestApp, id: &str) -> (String, (u32, u32)) {
    let (status, content_type, body) = app
        .get_bytes(&format!("/api/v1/files/{id}/thumbnail"))
        .await;
    assert_eq!(status, 200, "thumbnail of {id}");
    (content_type, dimensions(&body))
}

#[tokio::test]
async fn each_format_completes_with_its_section_and_a_thumbnail_where_it_has_a_picture() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;

    let (id, pdf) = app
        .process("testPDF.pdf", test_data("pdf/testPDF.pdf"))
        .await;
    assert_eq!(pdf["file_type"], "pdf");
    assert_eq!(pdf["pdf"]["page_count"], 1);
    assert_eq!(pdf["pdf"]["pdf_version"], "1.3");
    assert_eq!(pdf["pdf"]["info"]["title"], "Apache Tika - Apache Tika");
    assert_eq!(pdf["pdf"]["info"]["author"], "Bertrand Delacrétaz");
    let text = pdf["pdf"]["text"].as_str().expect("text");
    assert!(text.contains("Tika - Content Analysis Toolkit"), "{text}");
    // A4 page 1, 595 x 842 pt: the 256 px thumbnail is 256 high.
    let (content_type, (w, h)) = thumbnail(&app, &id).await;
    assert_eq!(content_type, "image/jpeg");
    assert_eq!(h, 256);
    assert!((180..=182).contains(&w), "A4 width at 256 px high: {w}");

    let (id, docx) = app
        .process("testWORD.docx", test_data("docx/testWORD.docx"))
        .await;
    assert_eq!(
        docx["docx"]["core_properties"]["title"],
        "Sample Word Document"
    );
    assert_eq!(docx["docx"]["core_properties"]["creator"], "Keith Bennett");
    assert_eq!(docx["docx"]["table_count"], 1);
    assert_eq!(docx["thumbnails"], Value::Array(vec![]));
    let (status, _, _) = app
        .get_bytes(&format!("/api/v1/files/{id}/thumbnail"))
        .await;
    assert_eq!(status, 404, "a DOCX has no thumbnail");

    let (id, jpeg) = app
        .process("Landscape_6.jpg", test_data("jpeg/Landscape_6.jpg"))
        .await;
    assert_eq!(jpeg["jpeg"]["width"], 1200);
    assert_eq!(jpeg["jpeg"]["height"], 1800);
    assert_eq!(jpeg["jpeg"]["exif"]["orientation"], 6);
    // Orientation 6 applied: stored portrait, the thumbnail is landscape.
    let (content_type, dims) = thumbnail(&app, &id).await;
    assert_eq!(content_type, "image/jpeg");
    assert_eq!(dims, (256, 171));
    assert_eq!(jpeg["thumbnails"][0]["width"], 256);
    assert_eq!(jpeg["thumbnails"][0]["height"], 171);
    assert_eq!(
        jpeg["thumbnails"][0]["url"],
        format!("/api/v1/files/{id}/thumbnail?size=256")
    );

    let (id, png) = app
        .process("basn6a16.png", test_data("png/basn6a16.png"))
        .await;
    assert_eq!(png["png"]["width"], 32);
    assert_eq!(png["png"]["bit_depth"], 16);
    assert_eq!(png["png"]["has_alpha"], true);
    // Smaller than the thumbnail size: not enlarged; alpha kept as PNG.
    assert_eq!(thumbnail(&app, &id).await, ("image/png".into(), (32, 32)));

    let (id, webp) = app.process("1.webp", test_data("webp/1.webp")).await;
    assert_eq!(webp["webp"]["width"], 550);
    assert_eq!(webp["webp"]["height"], 368);
    assert_eq!(thumbnail(&app, &id).await.1, (256, 171));
    app.stop().await;
}

#[tokio::test]
async fn xlsx_records_page_through_each_sheet_by_name() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let (id, result) = app
        .process("any_sheets.xlsx", test_data("xlsx/any_sheets.xlsx"))
        .await;
    let sheets = result["xlsx"]["sheets"].as_array().expect("sheets");
    let names: Vec<&str> = sheets.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Visible", "Hidden", "VeryHidden", "Chart"]);
    // Each sheet's records come from its own place in the stored records.
    let mut seen = 0;
    for sheet in sheets {
        let name = sheet["name"].as_str().unwrap();
        let count = sheet["records_count"].as_u64().expect("records_count");
        let (status, page) = app
            .get_json(&format!(
                "/api/v1/files/{id}/records?sheet={name}&limit=1000"
            ))
            .await;
        assert_eq!(status, 200, "{name}: {page}");
        assert_eq!(page["sheet"], name);
        assert_eq!(page["total"], count, "{name}");
        assert_eq!(
            page["records"].as_array().unwrap().len() as u64,
            count,
            "{name}"
        );
        assert_eq!(page["records"], sheet["records"], "{name}: preview = page");
        seen += count;
    }
    assert!(seen > 0, "the visible sheet has records");
    // Each sheet's column statistics, over the records the page served: A2 and A3 are the
    // numbers 3 and 5, A5 a note (text), B2 and B3 the numbers 4 and 6.
    let note = "This workbook contains 4 sheets: Visible, Hidden, VeryHidden and Chart";
    assert_eq!(
        sheets[0]["columns_stats"],
        json!([
            {"name": "1", "type": "string", "null_count": 0, "distinct_estimate": 3,
             "min": "3", "max": note, "mean": null, "min_length": 1, "max_length": 70},
            {"name": "2", "type": "integer", "null_count": 1, "distinct_estimate": 2,
             "min": 4, "max": 6, "mean": 5.0, "min_length": 1, "max_length": 1},
        ])
    );
    for sheet in &sheets[1..] {
        assert_eq!(sheet["columns_stats"], json!([]), "{}", sheet["name"]);
    }
    let (status, error) = app
        .get_json(&format!("/api/v1/files/{id}/records?sheet=Nope"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "unknown_sheet");

    let (id, errors) = app
        .process("errors.xlsx", test_data("xlsx/errors.xlsx"))
        .await;
    assert_eq!(errors["xlsx"]["sheets"][0]["name"], "Feuil1");
    let (status, page) = app
        .get_json(&format!("/api/v1/files/{id}/records?limit=10"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["sheet"], "Feuil1");
    let cells: Vec<String> = std::iter::once(
        page["records"][0]
            .as_object()
            .and_then(|r| r.keys().next().cloned())
            .unwrap_or_default(),
    )
    .chain(page["records"].as_array().unwrap().iter().map(|r| {
        r.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }))
    .collect();
    // Column A holds the seven Excel errors; the first is the header.
    assert_eq!(
        cells,
        [
            "#DIV/0!", "#NAME?", "#VALUE!", "#NULL!", "#REF!", "#NUM!", "#N/A"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn hostile_and_broken_files_fail_with_their_code_and_the_server_goes_on() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let cases = [
        (
            "65536-uint32-limit.png",
            "png/65536-uint32-limit.png",
            "limit_exceeded",
        ),
        ("pr6531_1.pdf", "pdf/pr6531_1.pdf", "encrypted_file"),
        ("bug1020226.pdf", "pdf/bug1020226.pdf", "corrupt_file"),
        (
            "testWORD_protected_passtika.docx",
            "docx/testWORD_protected_passtika.docx",
            "encrypted_file",
        ),
        (
            "testWORD_truncated.docx",
            "docx/testWORD_truncated.docx",
            "corrupt_file",
        ),
        (
            "corrupt-header.jpg",
            "jpeg/corrupt-header.jpg",
            "corrupt_file",
        ),
        (
            "x_unexpected_eof.png",
            "png/x_unexpected_eof.png",
            "corrupt_file",
        ),
        ("null_file.xlsx", "xlsx/null_file.xlsx", "empty_file"),
    ];
    for (name, path, code) in cases {
        let status = app.process_failing(name, test_data(path)).await;
        assert_eq!(status["error"]["code"], code, "{name}: {status}");
    }
    // The service still serves: a good file completes after all of them.
    let (_, result) = app.process("table.csv", corpus("table.csv")).await;
    assert_eq!(result["csv"]["row_count"], 2);
    app.stop().await;
}

#[tokio::test]
async fn thumbnail_sizes_come_from_the_config_and_unknown_sizes_are_refused() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[("FILEPROC_PROCESSING__IMAGE__THUMBNAIL_SIZES", "[64, 128]")],
    )
    .await;
    let (id, result) = app.process("cat.jpg", test_data("jpeg/cat.jpg")).await;
    let sizes: Vec<(u64, u64, u64)> = result["thumbnails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["size"].as_u64().unwrap(),
                t["width"].as_u64().unwrap(),
                t["height"].as_u64().unwrap(),
            )
        })
        .collect();
    // cat.jpg is 320 x 240.
    assert_eq!(sizes, [(128, 128, 96), (64, 64, 48)]);
    let (status, _, body) = app
        .get_bytes(&format!("/api/v1/files/{id}/thumbnail?size=64"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(dimensions(&body), (64, 48));
    let (status, error) = app
        .get_json(&format!("/api/v1/files/{id}/thumbnail?size=256"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invalid_size");

    // Deleting the file removes its thumbnails with it.
    assert_eq!(
        app.delete(&format!("/api/v1/files/{id}")).await.status(),
        204
    );
    assert_eq!(stack.stored_keys().await, Vec::<String>::new());
    app.stop().await;
}
