//! Hostile and synthetic PDFs written by hand: circular page trees and parent chains, nesting
//! 100 000 deep (in objects, object streams and content), forms that draw themselves, a flate
//! bomb, page counts over the limit, partial dates, cancellation.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};

use fileproc_formats::pdf::{PdfAnalyzer, PdfSummary};
use fileproc_formats::{Analysis, Analyzer, Context, FormatError, Input, Limits};

use crate::summary;

/// A PDF whose object `n` is `bodies[n - 1]`, with a correct cross-reference table.
fn build(bodies: &[Vec<u8>], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    let size = bodies.len() + 1;
    out.extend(
        format!(
            "trailer\n<< /Size {size} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .bytes(),
    );
    out
}

fn obj(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< /Length {} {dict} >>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

/// Catalog (1), pages (2), `kids` page objects from 3 on, each with one line of Helvetica text
/// (font 3 + kids, contents after it).
fn text_pdf(pages: usize, page_extra: &str) -> Vec<u8> {
    let font = 3 + pages;
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + i)).collect();
    let mut bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj(&format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )),
    ];
    for i in 0..pages {
        bodies.push(obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R >> >> /Contents {} 0 R {page_extra} >>",
            font + 1 + i
        )));
    }
    bodies.push(obj(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ));
    for i in 0..pages {
        let content = format!("BT /F1 12 Tf 72 700 Td (Hello page {}) Tj ET", i + 1);
        bodies.push(stream("", content.as_bytes()));
    }
    build(&bodies, "")
}

/// Runs the analyzer on bytes; also returns how many progress reports it made.
fn run_with(
    data: &[u8],
    limits: Limits,
    cancel_after_reports: Option<usize>,
) -> Result<(PdfSummary, Analysis, usize), FormatError> {
    let cancel = AtomicBool::new(false);
    let mut reports = 0usize;
    let mut progress = |_| {
        reports += 1;
        if cancel_after_reports.is_some_and(|n| reports >= n) {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let mut sink = fileproc_formats::DiscardRecords;
    let mut ctx = Context {
        limits,
        size: Some(data.len() as u64),
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let mut reader = Cursor::new(data.to_vec());
    let analysis = PdfAnalyzer.analyze(Input::Seekable(&mut reader), &mut ctx)?;
    drop(ctx);
    Ok((summary(&analysis), analysis, reports))
}

fn run(data: &[u8]) -> Result<(PdfSummary, Analysis, usize), FormatError> {
    run_with(data, Limits::default(), None)
}

fn error_code(result: Result<(PdfSummary, Analysis, usize), FormatError>) -> &'static str {
    match result {
        Ok((s, a, _)) => panic!("expected an error, got {s:?} {:?}", a.warnings),
        Err(e) => e.code(),
    }
}

#[test]
fn a_hand_written_pdf_gives_its_text_and_one_progress_report_per_page_and_pass() {
    let (s, _, reports) = run(&text_pdf(3, "")).unwrap();
    assert_eq!(s.page_count, 3);
    assert_eq!(s.text, "Hello page 1\n\nHello page 2\n\nHello page 3");
    assert_eq!((s.text_length, s.word_count), (40, 9));
    // Structure and text passes report each page; the thumbnail ends with one more.
    assert_eq!(reports, 3 + 3 + 1);
}

#[test]
fn text_is_cut_at_text_chars_while_the_counts_cover_all_of_it() {
    let limits = Limits {
        text_chars: 5,
        ..Limits::default()
    };
    let (s, _, _) = run_with(&text_pdf(2, ""), limits, None).unwrap();
    assert_eq!(s.text, "Hello");
    assert_eq!((s.text_length, s.word_count), (26, 6));
}

#[test]
fn cancelling_between_pages_stops_the_analysis() {
    let result = run_with(&text_pdf(5, ""), Limits::default(), Some(2));
    assert_eq!(error_code(result), "cancelled");
}

#[test]
fn more_pages_than_max_pdf_pages_is_a_limit_failure() {
    let limits = Limits {
        max_pdf_pages: 4,
        ..Limits::default()
    };
    let result = run_with(&text_pdf(5, ""), limits.clone(), None);
    assert_eq!(error_code(result), "limit_exceeded");
    assert!(run_with(&text_pdf(4, ""), limits, None).is_ok());
}

#[test]
fn a_page_tree_whose_kids_point_back_to_itself_fails_as_corrupt() {
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>"),
        obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"),
    ];
    assert_eq!(error_code(run(&build(&bodies, ""))), "corrupt_file");
}

#[test]
fn a_cycle_through_an_intermediate_pages_node_fails_as_corrupt() {
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj("<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 2 0 R] /Count 1 >>"),
        obj("<< /Type /Page /Parent 3 0 R /MediaBox [0 0 100 100] >>"),
    ];
    assert_eq!(error_code(run(&build(&bodies, ""))), "corrupt_file");
}

#[test]
fn a_page_tree_deeper_than_max_pdf_depth_is_a_limit_failure() {
    // 70 /Pages levels, each its own object, so only the tree walk sees the depth.
    let levels = 70;
    let mut bodies = vec![obj("<< /Type /Catalog /Pages 2 0 R >>")];
    for level in 0..levels {
        let n = 2 + level;
        bodies.push(obj(&format!(
            "<< /Type /Pages /Kids [{} 0 R] /Count 1 >>",
            n + 1
        )));
    }
    bodies.push(obj("<< /Type /Page /MediaBox [0 0 100 100] >>"));
    assert_eq!(error_code(run(&build(&bodies, ""))), "limit_exceeded");
}

#[test]
fn arrays_nested_100000_deep_are_a_limit_failure_without_overflowing_the_stack() {
    let mut deep = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Junk ".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.extend(b" >>");
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        deep,
    ];
    assert_eq!(error_code(run(&build(&bodies, ""))), "limit_exceeded");
}

#[test]
fn deep_nesting_inside_a_content_stream_does_not_crash_the_text_layer() {
    let mut content = b"BT /F1 12 Tf 72 700 Td (Still here) Tj ET ".to_vec();
    content.extend(std::iter::repeat_n(b'[', 100_000));
    content.extend(std::iter::repeat_n(b']', 100_000));
    content.extend(b" TJ");
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        ),
        obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        stream("", &content),
    ];
    let (s, _, _) = run(&build(&bodies, "")).unwrap();
    assert_eq!(s.page_count, 1);
    assert!(s.text.contains("Still here"), "{s:?}");
}

#[test]
fn a_form_that_draws_itself_is_read_by_the_fallback_without_recursing_forever() {
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /Font << /F1 4 0 R >> /XObject << /X 5 0 R >> >> /Contents 6 0 R >>",
        ),
        obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 200 200]",
            b"BT /F1 12 Tf 10 10 Td (Loop) Tj ET /X Do",
        ),
        stream("", b"BT /F1 12 Tf 10 100 Td (Page) Tj ET /X Do"),
    ];
    let (s, a, _) = run(&build(&bodies, "")).unwrap();
    assert_eq!(s.text_extractor, "hayro");
    assert!(s.text.starts_with("Page"), "{s:?}");
    assert!(
        a.warnings.iter().any(|w| w.contains("circularly")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn a_circular_parent_chain_keeps_pdf_extract_away_but_the_text_is_read() {
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 4 0 R >>"),
        obj(
            "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R >>",
        ),
        obj("<< /Type /Pages /Kids [] /Count 0 /Parent 2 0 R >>"),
        obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        stream("", b"BT /F1 12 Tf 72 700 Td (No media box here) Tj ET"),
    ];
    let (s, a, _) = run(&build(&bodies, "")).unwrap();
    assert_eq!(s.text, "No media box here");
    assert_eq!(s.text_extractor, "hayro");
    assert!(
        a.warnings.iter().any(|w| w.contains("circular")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn a_flate_bomb_in_a_content_stream_is_refused_before_it_is_inflated() {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 64 << 20]).unwrap();
    let deflated = encoder.finish().unwrap();
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R >>"),
        stream("/Filter /FlateDecode", &deflated),
    ];
    let limits = Limits {
        max_pdf_inflated_bytes: 16 << 20,
        ..Limits::default()
    };
    let err = run_with(&build(&bodies, ""), limits, None).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded");
    assert!(
        err.to_string()
            .contains("(processing.pdf.max_inflated_size)"),
        "{err}"
    );
}

#[test]
fn info_dates_may_be_partial_and_text_may_be_pdf_doc_encoded() {
    let mut bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"),
    ];
    let mut info = b"<< /Title (Caf\xE9 \x93le) /Subject () ".to_vec();
    info.extend(b"/CreationDate (D:2023) /ModDate (D:20231225143000+05'30') >>");
    bodies.push(info);
    let (s, _, _) = run(&build(&bodies, "/Info 4 0 R")).unwrap();
    assert_eq!(s.info.title.as_deref(), Some("Café ﬁle"));
    assert_eq!(s.info.subject, None);
    assert_eq!(s.info.created.as_deref(), Some("2023-01-01T00:00:00Z"));
    assert_eq!(
        s.info.modified.as_deref(),
        Some("2023-12-25T14:30:00+05:30")
    );
}

#[test]
fn bytes_without_a_pdf_header_are_corrupt_and_no_bytes_are_empty() {
    assert_eq!(
        error_code(run(b"just some text, not a PDF")),
        "corrupt_file"
    );
    assert_eq!(error_code(run(b"")), "empty_file");
}

#[test]
fn a_page_tree_without_pages_is_corrupt() {
    let bodies = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [] /Count 0 >>"),
    ];
    assert_eq!(error_code(run(&build(&bodies, ""))), "corrupt_file");
}

/// A PDF whose page (object 3) sits in an uncompressed object stream (object 4), found through
/// a cross-reference stream (object 5, ISO 32000-2 §7.5.8).
fn object_stream_pdf(page: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = [0usize; 6];
    let mut put = |out: &mut Vec<u8>, n: usize, body: &[u8]| {
        offsets[n] = out.len();
        out.extend(format!("{n} 0 obj\n").bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    };
    put(&mut out, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    put(&mut out, 2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    let header = "3 0 ";
    let data = format!("{header}{page}");
    let dict = format!("/Type /ObjStm /N 1 /First {}", header.len());
    put(&mut out, 4, &stream(&dict, data.as_bytes()));
    let xref_at = out.len();
    offsets[5] = xref_at;
    // Entries of W [1 4 2]: type, offset or object stream number, generation or index.
    let mut entries = vec![0u8, 0, 0, 0, 0, 0xFF, 0xFF];
    for (n, &offset) in offsets.iter().enumerate().skip(1) {
        let (kind, field, index) = if n == 3 {
            (2u8, 4u32, 0u16)
        } else {
            (1, u32::try_from(offset).unwrap(), 0)
        };
        entries.push(kind);
        entries.extend(field.to_be_bytes());
        entries.extend(index.to_be_bytes());
    }
    let dict = "/Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R";
    out.extend(b"5 0 obj\n");
    out.extend(stream(dict, &entries));
    out.extend(format!("\nendobj\nstartxref\n{xref_at}\n%%EOF\n").bytes());
    out
}

#[test]
fn a_page_inside_an_object_stream_is_found_through_a_cross_reference_stream() {
    let (s, _, _) = run(&object_stream_pdf(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] >>",
    ))
    .unwrap();
    assert_eq!(s.page_count, 1);
    assert_eq!(
        (s.page_sizes[0].width, s.page_sizes[0].height),
        (300.0, 400.0)
    );
}

#[test]
fn nesting_hidden_in_an_object_stream_is_a_limit_failure_once_decoded() {
    // 80 levels: under hayro-syntax's own cap (512), over max_pdf_depth (64).
    let deep = format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Junk {}{} >>",
        "[".repeat(80),
        "]".repeat(80)
    );
    match run(&object_stream_pdf(&deep)) {
        Err(e @ FormatError::LimitExceeded(_)) => {
            assert!(e.to_string().contains("of the object stream"), "{e}");
        }
        other => panic!("expected limit_exceeded, got {:?}", other.map(|r| r.0)),
    }
}
