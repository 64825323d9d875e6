//! The PDF analyzer against every corpus file in `tests/data/pdf/` (sources in `SOURCES.md`,
//! facts from `shared/corpus/MANIFEST.tsv`: `expected_facts_from_source`, and `observed_facts`
//! from pypdf and poppler's pdfinfo where they are exact), then against hostile documents built
//! here: circular page trees, nesting 100 000 deep, page counts over the limit, forms that draw
//! themselves.

mod common;
mod pdf_corpus {
    //! Hostile and synthetic documents, built in the tests.
    pub mod hostile;
}

use common::analyze_path_with;
use fileproc_formats::pdf::{PageSize, PdfAnalyzer, PdfSummary};
use fileproc_formats::{Analysis, FormatError, Limits, Section};

/// The summary and warnings of a corpus file, or its error.
fn corpus(name: &str) -> Result<(PdfSummary, Analysis), FormatError> {
    let limits = Limits {
        thumbnail_sizes: vec![256, 128],
        ..Limits::default()
    };
    let (analysis, _) = analyze_path_with(&PdfAnalyzer, &format!("pdf/{name}"), limits)?;
    Ok((summary(&analysis), analysis))
}

pub(crate) fn summary(analysis: &Analysis) -> PdfSummary {
    match &analysis.section {
        Section::Pdf(s) => s.clone(),
        other => panic!("not a PDF section: {other:?}"),
    }
}

fn ok(name: &str) -> (PdfSummary, Analysis) {
    corpus(name).unwrap_or_else(|e| panic!("{name} failed: {e}"))
}

fn code(result: Result<(PdfSummary, Analysis), FormatError>) -> &'static str {
    match result {
        Ok((s, _)) => panic!("expected an error, got {} pages", s.page_count),
        Err(e) => e.code(),
    }
}

fn size(width: f64, height: f64, rotation: u16, pages: u32) -> PageSize {
    PageSize {
        width,
        height,
        rotation,
        pages,
    }
}

/// Page 1's thumbnails, as (size, width, height).
fn thumbs(analysis: &Analysis) -> Vec<(u32, u32, u32)> {
    let t = &analysis.thumbnails;
    t.iter()
        .map(|t| (t.size, t.image.width, t.image.height))
        .collect()
}

#[test]
fn tracemonkey_has_14_letter_pages_of_text_and_a_thumbnail_of_page_1() {
    let (s, a) = ok("tracemonkey.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (14, "1.4"));
    assert!(!s.encrypted);
    assert_eq!(s.page_sizes, [size(612.0, 792.0, 0, 14)]);
    assert!(
        s.text
            .starts_with("Trace-based Just-in-Time Type Specialization for Dynamic")
    );
    assert_eq!(s.text.chars().count(), Limits::default().text_chars);
    assert!(s.text_length > 80_000 && s.word_count > 13_000, "{s:?}");
    assert_eq!(s.text_extractor, "pdf-extract");
    // 612 x 792 pt rendered with its long side at 256 px, then scaled to 128.
    assert_eq!(thumbs(&a), [(256, 197, 256), (128, 99, 128)]);
    let decoded = image::load_from_memory(&a.thumbnails[0].image.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (197, 256));
}

#[test]
fn pdkids_counts_55_pages_through_nested_kids_and_has_images() {
    let (s, _) = ok("pdkids.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (55, "1.4"));
    assert_eq!(s.page_sizes, [size(612.0, 792.0, 0, 55)]);
    assert_eq!(s.info.author.as_deref(), Some("Matt Pierard"));
    assert!(s.has_images);
    assert!(
        s.text
            .starts_with("PD KIDS\nPublic domain texts for young people.")
    );
}

#[test]
fn rotation_reports_the_second_page_rotated_by_90_degrees() {
    let (s, _) = ok("rotation.pdf");
    assert_eq!(s.page_count, 2);
    assert_eq!(
        s.page_sizes,
        [size(612.0, 792.0, 0, 1), size(612.0, 792.0, 90, 1)]
    );
    assert_eq!(s.info.title.as_deref(), Some("Microsoft Word - Document1"));
    assert_eq!(s.info.author.as_deref(), Some("brianc"));
    assert!(
        s.text
            .starts_with("This is my first page with normal layout.")
    );
}

#[test]
fn a_pdf_2_0_header_gives_version_2_0_and_utf16_info() {
    let (s, _) = ok("bug1937438_af_from_latex.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (1, "2.0"));
    assert_eq!(s.info.title.as_deref(), Some("Math Test One"));
    assert_eq!(s.info.author.as_deref(), Some("David"));
    assert_eq!(s.info.created.as_deref(), Some("2024-02-23T21:38:22Z"));
    assert!(s.text.starts_with("Math Test One"));
}

#[test]
fn scanned_pages_have_images_and_no_text() {
    let (s, a) = ok("issue7229.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (2, "1.3"));
    assert_eq!(s.page_sizes, [size(596.0, 842.0, 0, 2)]);
    assert!(s.has_images);
    assert_eq!((s.text.as_str(), s.text_length, s.word_count), ("", 0, 0));
    assert!(a.warnings.iter().any(|w| w.contains("no OCR")));
    assert_eq!(thumbs(&a)[0], (256, 181, 256));
}

#[test]
fn an_image_only_pdf_needing_ocr_has_no_text() {
    let (s, _) = ok("testOCR.pdf");
    assert_eq!(s.page_count, 1);
    assert_eq!(s.page_sizes, [size(792.0, 612.0, 0, 1)]);
    assert!(s.has_images);
    assert_eq!((s.text.as_str(), s.text_length), ("", 0));
    assert_eq!(s.info.title.as_deref(), Some("Presentation1"));
    assert_eq!(s.info.author.as_deref(), Some("grantingersoll"));
}

#[test]
fn test_pdf_has_tikas_title_author_creator_and_text() {
    let (s, _) = ok("testPDF.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (1, "1.3"));
    assert!(!s.encrypted);
    assert_eq!(s.page_sizes, [size(595.0, 842.0, 0, 1)]);
    assert_eq!(s.info.title.as_deref(), Some("Apache Tika - Apache Tika"));
    assert_eq!(s.info.author.as_deref(), Some("Bertrand Delacrétaz"));
    assert_eq!(s.info.creator.as_deref(), Some("Firefox"));
    assert_eq!(s.info.created.as_deref(), Some("2007-09-15T11:02:31+02:00"));
    assert!(s.text.contains("Tika - Content Analysis Toolkit"));
    assert!(!s.has_images);
}

#[test]
fn an_empty_user_password_opens_an_encrypted_pdf() {
    let (s, _) = ok("empty_protected.pdf");
    assert!(s.encrypted);
    assert_eq!((s.page_count, s.pdf_version.as_str()), (1, "1.7"));
    assert_eq!(s.page_sizes, [size(612.0, 792.0, 0, 1)]);
    assert_eq!(s.text_length, 0);
}

#[test]
fn an_owner_password_only_pdf_is_decrypted_metadata_and_text_included() {
    let (s, a) = ok("testPDF_protected.pdf");
    assert!(s.encrypted);
    assert_eq!((s.page_count, s.pdf_version.as_str()), (41, "1.6"));
    assert_eq!(s.page_sizes, [size(595.0, 842.0, 0, 41)]);
    assert_eq!(s.info.author.as_deref(), Some("The Bank of England"));
    assert_eq!(
        s.info.subject.as_deref(),
        Some("Speeches by Andrew G Haldane")
    );
    let title = s.info.title.unwrap_or_default();
    assert!(title.starts_with("Rethinking the Financial Network, Speech by Andrew G Hald"));
    assert!(s.text.contains("RETHINKING THE FINANCIAL NETWORK"));
    assert_eq!(s.text_extractor, "pdf-extract");
    assert!(!a.thumbnails.is_empty());
}

#[test]
fn a_pdf_needing_a_user_password_fails_as_encrypted() {
    assert_eq!(code(corpus("pr6531_1.pdf")), "encrypted_file");
}

#[test]
fn a_missing_xref_keyword_is_repaired_and_its_text_read_by_the_fallback() {
    let (s, a) = ok("xref_command_missing.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (1, "1.7"));
    assert_eq!(s.page_sizes, [size(200.0, 50.0, 0, 1)]);
    assert_eq!((s.text.as_str(), s.text_length), ("Reduced test-case", 17));
    assert_eq!(s.text_extractor, "hayro");
    assert!(a.warnings.iter().any(|w| w.contains("fallback")));
    assert_eq!(thumbs(&a)[0], (256, 256, 64));
}

#[test]
fn a_fuzzed_xref_header_is_repaired_to_one_empty_page() {
    let (s, _) = ok("GHOSTSCRIPT-698804-1-fuzzed.pdf");
    assert_eq!((s.page_count, s.pdf_version.as_str()), (1, "1.4"));
    assert_eq!(s.page_sizes, [size(612.0, 792.0, 0, 1)]);
    assert_eq!(s.text_length, 0);
}

#[test]
fn a_severely_corrupt_pdf_fails_as_corrupt() {
    assert_eq!(code(corpus("bug1020226.pdf")), "corrupt_file");
}

/// pdf.js opens issue15590 with one page, but that page is the `/Pages` entry pointing at a
/// JavaScript action dictionary: the file holds no page object at all, and pypdf and poppler
/// both refuse it. fileproc does too.
#[test]
fn a_catalog_whose_pages_entry_is_not_a_page_tree_fails_as_corrupt() {
    assert_eq!(code(corpus("issue15590.pdf")), "corrupt_file");
}
