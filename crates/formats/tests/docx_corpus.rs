//! The DOCX analyzer against the corpus files in `tests/data/docx/` (sources in `SOURCES.md`;
//! facts from `shared/corpus/MANIFEST.tsv`: the source projects' own tests, and python-docx 1.2.0
//! for paragraph counts), and against hostile packages built here (`hostile`).

mod common;
#[path = "docx_corpus/hostile.rs"]
mod hostile;

use common::{analyze_path, analyze_path_with};
use fileproc_formats::docx::{DocxAnalyzer, DocxSummary, Heading};
use fileproc_formats::{Analysis, FormatError, Limits, Section};

/// The summary and warnings of a corpus file; panics (failing the test) when it fails.
fn docx(path: &str) -> (DocxSummary, Vec<String>) {
    summary(analyze_path(&DocxAnalyzer, &format!("docx/{path}")).map(|(a, _)| a))
}

fn summary(result: Result<Analysis, FormatError>) -> (DocxSummary, Vec<String>) {
    match result {
        Ok(Analysis {
            section: Section::Docx(s),
            warnings,
            ..
        }) => (s, warnings),
        Ok(_) => panic!("not a DOCX analysis"),
        Err(e) => panic!("analysis failed: {e}"),
    }
}

/// Whitespace runs as single spaces, to compare text the way Tika's tests do.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn heading(level: u8, text: &str) -> Heading {
    Heading {
        level,
        text: text.into(),
    }
}

#[test]
fn test_word_has_tikas_title_creator_table_and_link() {
    let (s, warnings) = docx("testWORD.docx");
    let p = &s.core_properties;
    assert_eq!(p.title.as_deref(), Some("Sample Word Document"));
    assert_eq!(p.creator.as_deref(), Some("Keith Bennett"));
    assert_eq!(p.last_modified_by.as_deref(), Some("Nick Burch"));
    assert_eq!(p.revision.as_deref(), Some("3"));
    assert_eq!(p.created.as_deref(), Some("2008-12-11T16:04:00Z"));
    assert_eq!(p.modified.as_deref(), Some("2010-11-12T16:21:00Z"));
    assert!(s.text.contains("http://tika.apache.org/"), "{}", s.text);
    assert_eq!(
        (s.paragraph_count, s.table_count, s.image_count),
        (22, 1, 0)
    );
    assert_eq!(
        s.tables,
        [[
            ["This is a table", ""],
            ["", "Nested table\nMore of our nested table"],
            ["The table has things in it", ""]
        ]]
    );
    assert!(!s.text_truncated && !s.tables_truncated && warnings.is_empty());
}

#[test]
fn test_word_outline_has_the_title_and_three_heading_levels() {
    let (s, _) = docx("testWORD.docx");
    // "Main Heading" uses a custom style named "Heading" without an outline level: not a heading.
    assert_eq!(
        s.headings,
        [
            heading(0, "Sample Word Document Title"),
            heading(1, "Heading Level 1"),
            heading(2, "Heading Level 2"),
            heading(3, "Heading Level 3"),
        ]
    );
}

#[test]
fn test_word_text_has_headers_and_footers_after_the_body() {
    let (s, _) = docx("testWORD.docx");
    assert!(
        s.text
            .starts_with("Sample Word Document Title\nAnd now for a subtitle\n")
    );
    assert!(
        s.text.ends_with(
            "That’s it!\nThis is the header for our document\nThis is the footer for our document\n"
        ),
        "{}",
        s.text
    );
    assert_eq!((s.word_count, s.character_count), (114, 627));
}

#[test]
fn test_word_various_has_footnote_header_text_box_and_table_text() {
    let (s, _) = docx("testWORD_various.docx");
    let text = squash(&s.text);
    for expected in [
        "Footnote appears here",
        "This is the header text.",
        "Row 1 Col 1 Row 1 Col 2 Row 1 Col 3",
        "This is a footnote.",
        "This is the footer text.",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    // The text box is read once, from mc:Choice (its mc:Fallback copy is skipped).
    assert_eq!(s.text.matches("Here is a text box").count(), 1);
    assert_eq!((s.paragraph_count, s.table_count), (42, 1));
    assert_eq!(
        s.tables,
        [[
            ["Row 1 Col 1", "Row 1 Col 2", "Row 1 Col 3"],
            ["Row 2 Col 1", "Row 2 Col 2", "Row 2 Col 3"]
        ]]
    );
    let p = &s.core_properties;
    assert_eq!(p.creator.as_deref(), Some("Michael McCandless"));
    assert_eq!(p.subject.as_deref(), Some("Subject is here"));
    assert_eq!(p.keywords.as_deref(), Some("Keyword1 Keyword2"));
}

#[test]
fn test_word_3imgs_has_three_images_and_ends_with_the_end() {
    let (s, _) = docx("testWORD_3imgs.docx");
    assert_eq!((s.image_count, s.image_references), (3, 3));
    assert_eq!(s.paragraph_count, 9);
    assert!(s.text.trim_end().ends_with("The end!"), "{}", s.text);
    let p = &s.core_properties;
    assert_eq!(
        p.title.as_deref(),
        Some("The quick brown fox jumps over the lazy dog")
    );
    assert_eq!(p.creator.as_deref(), Some("Nevin Nollop"));
    assert_eq!(p.created.as_deref(), Some("2005-05-26T13:57:00Z"));
}

#[test]
fn tbl_having_tables_has_three_empty_tables_of_their_shapes() {
    let (s, _) = docx("tbl-having-tables.docx");
    assert_eq!((s.table_count, s.paragraph_count), (3, 3));
    let shapes: Vec<(usize, usize)> = s
        .tables
        .iter()
        .map(|t| (t.len(), t.first().map_or(0, Vec::len)))
        .collect();
    assert_eq!(shapes, [(2, 2), (3, 3), (2, 4)]);
    assert!(s.tables.iter().flatten().flatten().all(String::is_empty));
    assert_eq!((s.word_count, s.character_count), (0, 0));
    assert_eq!(s.core_properties.creator.as_deref(), Some("Steve Canny"));
}

#[test]
fn having_images_has_three_image_parts_placed_six_times() {
    let (s, _) = docx("having-images.docx");
    // Five inline pictures in the body (python-docx inline_shapes) and one in the header.
    assert_eq!((s.image_count, s.image_references), (3, 6));
    assert_eq!(s.paragraph_count, 5);
    assert_eq!(s.core_properties.creator.as_deref(), Some("Steve Canny"));
}

#[test]
fn doc_coreprops_has_every_core_property() {
    let (s, _) = docx("doc-coreprops.docx");
    let p = s.core_properties;
    assert_eq!(p.creator.as_deref(), Some("Steve Canny"));
    assert_eq!(p.title.as_deref(), Some("Title"));
    assert_eq!(p.subject.as_deref(), Some("Subject"));
    assert_eq!(p.keywords.as_deref(), Some("key; word; keyword"));
    assert_eq!(p.description.as_deref(), Some("Description"));
    assert_eq!(p.category.as_deref(), Some("Category"));
    assert_eq!(p.last_modified_by.as_deref(), Some("Steve Canny"));
    assert_eq!(p.revision.as_deref(), Some("2"));
    assert_eq!(p.created.as_deref(), Some("2014-12-13T22:02:00Z"));
    assert_eq!(p.modified.as_deref(), Some("2014-12-13T22:06:00Z"));
    assert_eq!(s.paragraph_count, 1);
}

#[test]
fn external_entity_is_neither_fetched_nor_expanded_and_left_out_of_the_text() {
    let (s, warnings) = docx("ExternalEntityInText.docx");
    assert_eq!(s.text, "Here should not be the POI web site: \"\"\n");
    assert_eq!(s.paragraph_count, 1);
    assert_eq!(s.core_properties.creator.as_deref(), Some("Uwe Schindler"));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("DOCTYPE"), "{warnings:?}");
    assert!(warnings[0].contains("1 entity reference"), "{warnings:?}");
}

#[test]
fn recursive_embedded_has_its_preview_image_and_short_text() {
    let (s, _) = docx("test_recursive_embedded.docx");
    assert_eq!((s.paragraph_count, s.image_count), (3, 1));
    assert!(s.text.starts_with("embed_0"), "{}", s.text);
    assert_eq!(s.core_properties.creator, None);
}

#[test]
fn password_protected_docx_is_an_encrypted_file() {
    let err = analyze_path(&DocxAnalyzer, "docx/testWORD_protected_passtika.docx").unwrap_err();
    assert_eq!(err.code(), "encrypted_file", "{err}");
}

#[test]
fn truncated_docx_is_a_corrupt_file() {
    let err = analyze_path(&DocxAnalyzer, "docx/testWORD_truncated.docx").unwrap_err();
    assert_eq!(err.code(), "corrupt_file", "{err}");
}

#[test]
fn text_is_cut_at_the_limit_while_counts_cover_everything() {
    let limits = Limits {
        text_chars: 10,
        ..Limits::default()
    };
    let (s, _) =
        summary(analyze_path_with(&DocxAnalyzer, "docx/testWORD.docx", limits).map(|(a, _)| a));
    assert_eq!(s.text, "Sample Wor");
    assert!(s.text_truncated);
    assert_eq!((s.word_count, s.character_count), (114, 627));
}

#[test]
fn an_xlsx_analysed_as_docx_is_a_type_mismatch() {
    let err = analyze_path(&DocxAnalyzer, "xlsx/testEXCEL.xlsx").unwrap_err();
    assert_eq!(err.code(), "type_mismatch", "{err}");
    assert!(err.to_string().contains("Excel workbook"), "{err}");
}
