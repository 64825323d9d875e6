//! The benchmark document: PARAGRAPHS paragraphs of generated words, a
//! `Heading 1` every 100 paragraphs and a `Heading 2` every 20, and one 50 × 5 table in the
//! middle, with the zip crate and hand-written WordprocessingML.

use std::fmt::Write as _;
use std::io::{self, Cursor, Write};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::{Rng, other};

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const WORDS: [&str; 16] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "labore",
    "magna",
    "aliqua",
];

/// 1 to `n` words from [`WORDS`], space-separated.
fn words(rng: &mut Rng, n: u64) -> String {
    let count = 1 + rng.below(n);
    (0..count)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn paragraph(body: &mut String, style: Option<&str>, text: &str) {
    body.push_str("<w:p>");
    if let Some(style) = style {
        let _ = write!(body, r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#);
    }
    let _ = write!(
        body,
        r#"<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#
    );
}

fn table(body: &mut String, rng: &mut Rng) {
    body.push_str("<w:tbl><w:tblPr><w:tblW w:w=\"0\" w:type=\"auto\"/></w:tblPr>");
    for _ in 0..50 {
        body.push_str("<w:tr>");
        for _ in 0..5 {
            body.push_str("<w:tc>");
            paragraph(body, None, &words(rng, 3));
            body.push_str("</w:tc>");
        }
        body.push_str("</w:tr>");
    }
    body.push_str("</w:tbl>");
}

/// A document of `paragraphs` paragraphs (the title and headings included) and one 50 × 5
/// table in the middle.
///
/// # Errors
/// The zip writer's.
pub fn document(paragraphs: u64) -> io::Result<Vec<u8>> {
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    let mut body = format!("<w:document {W}><w:body>");
    paragraph(&mut body, Some("Title"), "Benchmark document");
    for i in 1..paragraphs {
        if i == paragraphs / 2 {
            table(&mut body, &mut rng);
        }
        if i % 100 == 0 {
            paragraph(&mut body, Some("Heading1"), &format!("Chapter {}", i / 100));
        } else if i % 20 == 0 {
            paragraph(&mut body, Some("Heading2"), &format!("Section {i}"));
        } else {
            paragraph(&mut body, None, &words(&mut rng, 60));
        }
    }
    body.push_str("</w:body></w:document>");
    write_package(&body)
}

fn write_package(document: &str) -> io::Result<Vec<u8>> {
    let types = r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;
    let root = format!(
        r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#
    );
    let rels = format!(
        r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/styles" Target="styles.xml"/></Relationships>"#
    );
    let styles = format!(
        r#"<w:styles {W}><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style><w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style></w:styles>"#
    );
    let core = r#"<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><dc:title>Benchmark document</dc:title><dc:creator>gen_docx</dc:creator><dcterms:created>2026-01-01T00:00:00Z</dcterms:created></cp:coreProperties>"#;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let parts: [(&str, &str); 6] = [
        ("[Content_Types].xml", types),
        ("_rels/.rels", &root),
        ("word/_rels/document.xml.rels", &rels),
        ("word/styles.xml", &styles),
        ("docProps/core.xml", core),
        ("word/document.xml", document),
    ];
    for (name, data) in parts {
        zip.start_file(name, options).map_err(other)?;
        zip.write_all(data.as_bytes())?;
    }
    Ok(zip.finish().map_err(other)?.into_inner())
}
