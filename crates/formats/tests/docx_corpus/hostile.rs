//! Hostile and odd DOCX packages built here with the zip crate: bombs (honest and lying sizes),
//! too many entries, a billion-laughs DTD, deep nesting, wrong types.

use std::io::{Cursor, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fileproc_formats::docx::{DocxAnalyzer, DocxSummary};
use fileproc_formats::{Analyzer, Context, DiscardRecords, FormatError, Input, Limits, Section};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"#;
const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

/// A ZIP of `entries`, deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("start entry");
        writer.write_all(data).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A minimal DOCX whose main document is `document`.
fn docx_with(document: &[u8]) -> Vec<u8> {
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", document),
    ])
}

fn analyze(bytes: &[u8], limits: Limits, cancel: &AtomicBool) -> Result<DocxSummary, FormatError> {
    let mut cursor = Cursor::new(bytes);
    let mut progress = |_| {};
    let mut ctx = Context {
        limits,
        size: Some(bytes.len() as u64),
        progress: &mut progress,
        records: &mut DiscardRecords,
        cancel,
    };
    match DocxAnalyzer
        .analyze(Input::Seekable(&mut cursor), &mut ctx)?
        .section
    {
        Section::Docx(s) => Ok(s),
        _ => panic!("not a DOCX analysis"),
    }
}

fn analyze_default(bytes: &[u8]) -> Result<DocxSummary, FormatError> {
    analyze(bytes, Limits::default(), &AtomicBool::new(false))
}

/// Sets the declared inflated size of `name` in both its local and central headers.
fn lie_about_size(zip: &mut [u8], name: &str, size: u32) {
    let name = name.as_bytes();
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (sig, size_at, name_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => ("local", at + 22, at + 30),
            b"PK\x01\x02" => ("central", at + 24, at + 46),
            _ => continue,
        };
        if zip.get(name_at..name_at + name.len()) == Some(name) {
            zip[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
            assert!(matches!(sig, "local" | "central"));
        }
    }
    assert_eq!(patched, 2, "both headers of the entry were patched");
}

/// A document.xml of `n` spaces inside one text run: deflates about 1000:1.
fn spaces_document(n: usize) -> Vec<u8> {
    let mut doc = format!("<w:document {W}><w:body><w:p><w:r><w:t>").into_bytes();
    doc.resize(doc.len() + n, b' ');
    doc.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    doc
}

#[test]
fn a_bomb_with_honest_sizes_is_refused_before_inflating() {
    let bomb = docx_with(&spaces_document(64 << 20));
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let started = Instant::now();
    let err = analyze_default(&bomb).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.to_string().contains("max_expansion_ratio"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_bomb_lying_about_its_size_is_stopped_while_inflating() {
    let mut bomb = docx_with(&spaces_document(64 << 20));
    lie_about_size(&mut bomb, "word/document.xml", 1 << 20);
    let started = Instant::now();
    let err = analyze_default(&bomb).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.to_string().contains("declared size"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn declared_sizes_over_max_expanded_bytes_are_refused() {
    let doc = docx_with(&spaces_document(200_000));
    let limits = Limits {
        max_expanded_bytes: 100_000,
        max_expansion_ratio: 1_000_000,
        ..Limits::default()
    };
    let err = analyze(&doc, limits, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(
        err.to_string()
            .contains("processing.archive.max_expanded_size"),
        "{err}"
    );
}

#[test]
fn twenty_thousand_entries_are_over_the_entry_limit() {
    let names: Vec<String> = (0..20_000).map(|i| format!("junk/{i}.xml")).collect();
    let mut entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    entries.push(("[Content_Types].xml", CONTENT_TYPES.as_bytes()));
    let err = analyze_default(&zip_of(&entries)).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded", "{err}");
    assert!(err.to_string().contains("20001 entries"), "{err}");
    assert!(
        err.to_string().contains("processing.archive.max_entries"),
        "{err}"
    );
}

#[test]
fn a_billion_laughs_dtd_is_never_expanded() {
    let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
    let doc = format!(
        "<?xml version=\"1.0\"?>{dtd}<w:document {W}><w:body><w:p><w:r>\
         <w:t>a&lol9;b&xxe;c &amp; d</w:t></w:r></w:p></w:body></w:document>"
    );
    let started = Instant::now();
    let s = analyze_default(&docx_with(doc.as_bytes())).unwrap();
    assert_eq!(s.text, "abc & d\n");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn deeply_nested_tables_do_not_overflow_the_stack() {
    let depth = 20_000;
    let mut doc = format!("<w:document {W}><w:body>");
    for _ in 0..depth {
        doc.push_str("<w:tbl><w:tr><w:tc>");
    }
    doc.push_str("<w:p><w:r><w:t>deep</w:t></w:r></w:p>");
    for _ in 0..depth {
        doc.push_str("</w:tc></w:tr></w:tbl>");
    }
    doc.push_str("</w:body></w:document>");
    let s = analyze_default(&docx_with(doc.as_bytes())).unwrap();
    assert_eq!(s.table_count, 1);
    assert_eq!(s.tables, [[["deep"]]]);
}

#[test]
fn strict_ooxml_namespaces_are_read() {
    let doc = r#"<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body>
        <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Strict</w:t></w:r></w:p>
        </w:body></w:document>"#;
    let s = analyze_default(&docx_with(doc.as_bytes())).unwrap();
    assert_eq!(s.text, "Strict\n");
    assert_eq!((s.headings.len(), s.headings[0].level), (1, 2));
}

#[test]
fn a_plain_zip_without_content_types_is_a_type_mismatch() {
    let err = analyze_default(&zip_of(&[("hello.txt", b"hi")])).unwrap_err();
    assert_eq!(err.code(), "type_mismatch", "{err}");
}

#[test]
fn empty_and_non_zip_bytes_fail_clearly() {
    assert_eq!(analyze_default(b"").unwrap_err().code(), "empty_file");
    assert_eq!(
        analyze_default(b"%PDF-1.7\n").unwrap_err().code(),
        "corrupt_file"
    );
}

#[test]
fn malformed_document_xml_is_a_corrupt_file() {
    let doc = format!("<w:document {W}><w:body><w:p></w:body></w:document>");
    let err = analyze_default(&docx_with(doc.as_bytes())).unwrap_err();
    assert_eq!(err.code(), "corrupt_file", "{err}");
}

#[test]
fn a_cancelled_analysis_stops_with_cancelled() {
    let err = analyze(
        &docx_with(&spaces_document(10)),
        Limits::default(),
        &AtomicBool::new(true),
    )
    .unwrap_err();
    assert_eq!(err.code(), "cancelled");
}

#[test]
fn progress_rises_through_the_parts_and_ends_at_the_file_size() {
    let mut doc = format!("<w:document {W}><w:body>");
    for i in 0..5_000 {
        doc.push_str(&format!("<w:p><w:r><w:t>paragraph {i}</w:t></w:r></w:p>"));
    }
    doc.push_str("</w:body></w:document>");
    let bytes = docx_with(doc.as_bytes());
    let mut seen = Vec::new();
    let mut progress = |p: fileproc_formats::Progress| seen.push(p.bytes_done);
    let mut ctx = Context {
        limits: Limits::default(),
        size: Some(bytes.len() as u64),
        progress: &mut progress,
        records: &mut DiscardRecords,
        cancel: &AtomicBool::new(false),
    };
    DocxAnalyzer
        .analyze(Input::Seekable(&mut Cursor::new(&bytes)), &mut ctx)
        .unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&(bytes.len() as u64)));
}

/// An OLE2 compound file holding one stream named `stream`.
fn compound_file_with(stream: &str) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("create cfb");
    file.create_stream(stream)
        .expect("create stream")
        .write_all(b"legacy bytes")
        .expect("write stream");
    file.flush().expect("flush cfb");
    file.into_inner().into_inner()
}

#[test]
fn a_legacy_word_document_is_a_type_mismatch_and_an_encrypted_package_is_encrypted() {
    let err = analyze_default(&compound_file_with("WordDocument")).unwrap_err();
    assert_eq!(err.code(), "type_mismatch", "{err}");
    assert!(err.to_string().contains(".doc"), "{err}");
    let err = analyze_default(&compound_file_with("EncryptedPackage")).unwrap_err();
    assert_eq!(err.code(), "encrypted_file", "{err}");
}

#[test]
fn a_damaged_compound_file_is_corrupt() {
    let mut bytes = compound_file_with("WordDocument");
    bytes.truncate(600);
    assert_eq!(analyze_default(&bytes).unwrap_err().code(), "corrupt_file");
}
