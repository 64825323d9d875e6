//! The generators make what they promise, the same bytes every time: each input is read back
//! by fileproc's own analyzers (and the CSV by the csv crate) with exact facts.

use std::io::Cursor;

use fileproc_bench_inputs::{Input, csv, docx, images, pdf, xlsx};
use fileproc_formats::{Analysis, DiscardRecords, FileType, Limits};
use sha2::{Digest, Sha256};

fn analyze(file_type: FileType, bytes: &[u8], limits: Limits) -> Analysis {
    let size = Some(bytes.len() as u64);
    fileproc_formats::analyze_whole(
        file_type,
        &mut Cursor::new(bytes),
        size,
        limits,
        &mut DiscardRecords,
    )
    .expect("the analysis")
}

/// The result section's fields: `{"csv": {...}}` → `{...}`.
fn section_json(analysis: &Analysis) -> serde_json::Value {
    let value = serde_json::to_value(&analysis.section).expect("a JSON section");
    let object = value.as_object().expect("an object");
    assert_eq!(object.len(), 1, "one format key: {value}");
    object.values().next().cloned().expect("the section")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_csv_has_the_promised_size_columns_and_types_and_is_the_same_every_time() {
    let mut bytes = Vec::new();
    let facts = csv::write(&mut bytes, 1_000_000, csv::SEED).expect("written");
    assert_eq!(facts.bytes, bytes.len() as u64);
    assert!((1_000_000..1_000_200).contains(&facts.bytes), "{facts:?}");

    // The same seed gives the same bytes; another seed other bytes of the same shape.
    let mut again = Vec::new();
    assert_eq!(
        csv::write(&mut again, 1_000_000, csv::SEED).expect("written"),
        facts
    );
    assert_eq!(sha256(&again), sha256(&bytes));
    let mut other = Vec::new();
    csv::write(&mut other, 1_000_000, 7).expect("written");
    assert_ne!(sha256(&other), sha256(&bytes));

    // Every record has 10 fields under RFC 4180 quoting.
    let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
    let mut records = 0u64;
    for record in reader.records() {
        let record = record.expect("a valid record");
        assert_eq!(record.len(), csv::COLUMNS);
        records += 1;
    }
    assert_eq!(records, facts.records);

    let summary = section_json(&analyze(FileType::Csv, &bytes, Limits::default()));
    assert_eq!(summary["row_count"], facts.records);
    assert_eq!(summary["column_count"], 10);
    assert_eq!(summary["has_header"], true);
    let columns = summary["columns"].as_array().expect("columns");
    let types: Vec<&str> = columns
        .iter()
        .map(|c| c["type"].as_str().expect("a type"))
        .collect();
    assert_eq!(
        types,
        [
            "integer", "integer", "float", "float", "boolean", "date", "datetime", "string",
            "string", "string"
        ]
    );
    // Empty cells only where the generator leaves them: quantity, score and city.
    let nulls: Vec<u64> = columns
        .iter()
        .map(|c| c["null_count"].as_u64().expect("a null count"))
        .collect();
    assert_eq!(nulls.iter().enumerate().filter(|(_, n)| **n > 0).count(), 3);
    assert!(nulls[1] > 0 && nulls[3] > 0 && nulls[8] > 0, "{nulls:?}");
}

#[test]
fn the_images_have_their_dimensions_and_the_jpeg_its_orientation() {
    let jpeg = images::jpeg_12mp().expect("a JPEG");
    let image = section_json(&analyze(FileType::Jpeg, &jpeg, Limits::default()));
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(4000), Some(3000))
    );
    // Orientation 6 (rotate 90° clockwise to display) swaps the displayed sides.
    assert_eq!(
        (
            image["display_width"].as_u64(),
            image["display_height"].as_u64()
        ),
        (Some(3000), Some(4000))
    );
    assert_eq!(image["exif"]["make"], "fileproc");

    let png = images::png_rgba().expect("a PNG");
    let image = section_json(&analyze(FileType::Png, &png, Limits::default()));
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(3000), Some(2000))
    );
    assert_eq!(image["has_alpha"], true);

    let webp = images::webp_photo().expect("a WebP");
    let image = section_json(&analyze(FileType::Webp, &webp, Limits::default()));
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(2000), Some(1500))
    );
    assert_eq!(
        sha256(&images::webp_photo().expect("a WebP")),
        sha256(&webp)
    );
}

#[test]
fn the_pdf_has_its_pages_and_text() {
    let bytes = pdf::text_pdf(200);
    assert_eq!(sha256(&pdf::text_pdf(200)), sha256(&bytes));
    let limits = Limits {
        thumbnail_sizes: Vec::new(),
        ..Limits::default()
    };
    let summary = section_json(&analyze(FileType::Pdf, &bytes, limits));
    assert_eq!(summary["page_count"], 200);
    assert_eq!(summary["info"]["title"], "fileproc PDF benchmark");
    let text = summary["text"].as_str().expect("text");
    assert!(
        text.starts_with("Chapter 1: generated benchmark page"),
        "{text:.80}"
    );
}

#[test]
fn the_workbook_and_the_document_have_their_rows_and_paragraphs() {
    let bytes = xlsx::workbook(1_000).expect("a workbook");
    let summary = section_json(&analyze(FileType::Xlsx, &bytes, Limits::default()));
    assert_eq!(summary["sheet_count"], 1);
    assert_eq!(summary["sheets"][0]["name"], "Data");
    // The used range: the header row and 1,000 rows.
    assert_eq!(summary["sheets"][0]["rows"], 1_001);
    assert_eq!(summary["sheets"][0]["columns"], 10);

    let bytes = docx::document(300).expect("a document");
    let summary = section_json(&analyze(FileType::Docx, &bytes, Limits::default()));
    assert_eq!(summary["table_count"], 1);
    // 300 body paragraphs (title and headings included); the table's cells come on top.
    assert_eq!(summary["paragraph_count"], 300);
    assert_eq!(summary["core_properties"]["title"], "Benchmark document");
}

#[test]
fn ensure_writes_an_input_once_and_keeps_it() {
    let dir = std::env::temp_dir().join(format!("fileproc-bench-inputs-{}", std::process::id()));
    let path = fileproc_bench_inputs::ensure(&dir, Input::Csv1Mb).expect("written");
    let first = std::fs::metadata(&path)
        .expect("a file")
        .modified()
        .expect("a time");
    let again = fileproc_bench_inputs::ensure(&dir, Input::Csv1Mb).expect("kept");
    assert_eq!(again, path);
    assert_eq!(
        std::fs::metadata(&path)
            .expect("a file")
            .modified()
            .expect("a time"),
        first
    );
    let mut expected = Vec::new();
    csv::write(&mut expected, 1_000_000, csv::SEED).expect("written");
    assert_eq!(std::fs::read(&path).expect("read"), expected);
    std::fs::remove_dir_all(&dir).expect("removed");
}
