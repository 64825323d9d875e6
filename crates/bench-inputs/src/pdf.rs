//! The PDF benchmark input: a deterministic text document of US-letter pages, each with a heading and a few paragraphs of pseudo-random words in Helvetica (a
//! standard Type1 font, ISO 32000-2 §9.6.2.2, not embedded), written by hand with a correct
//! cross-reference table (§7.5.4). The same page count always gives the same bytes.

use std::fmt::Write as _;

use crate::Rng;

/// Words the paragraphs are drawn from.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "this",
    "are",
    "or",
    "file",
    "service",
    "upload",
    "stream",
    "page",
    "result",
    "worker",
    "queue",
    "progress",
    "thumbnail",
    "document",
    "metadata",
    "limit",
    "storage",
    "catalog",
    "format",
    "analysis",
    "record",
    "column",
    "text",
    "image",
    "render",
    "extract",
    "version",
    "header",
    "table",
    "object",
    "reference",
    "cross",
    "dictionary",
];

/// Lines per paragraph, words per line and paragraphs per page.
const LINES_PER_PARAGRAPH: usize = 8;
const WORDS_PER_LINE: usize = 12;
const PARAGRAPHS_PER_PAGE: usize = 4;

fn word(rng: &mut Rng) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize]
}

/// The content stream of one page.
fn page_content(number: usize, rng: &mut Rng) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "BT\n/F1 16 Tf\n72 720 Td\n(Chapter {number}: generated benchmark page) Tj\n/F1 11 Tf\n14 TL\nT*\n"
    );
    for _ in 0..PARAGRAPHS_PER_PAGE {
        s.push_str("T*\n");
        for line in 0..LINES_PER_PARAGRAPH {
            let words: Vec<&str> = (0..WORDS_PER_LINE).map(|_| word(rng)).collect();
            let end = if line + 1 == LINES_PER_PARAGRAPH {
                "."
            } else {
                ""
            };
            let _ = writeln!(s, "({}{end}) Tj T*", words.join(" "));
        }
    }
    s.push_str("ET\n");
    s
}

/// A text PDF of `pages` pages: a chapter heading and four paragraphs of eight lines each.
pub fn text_pdf(pages: usize) -> Vec<u8> {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);

    // Objects: 1 catalog, 2 page tree, 3 font, 4 info, then page i at 5 + 2i, its content 6 + 2i.
    let mut bodies: Vec<String> = Vec::with_capacity(4 + 2 * pages);
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    bodies.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    bodies.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    ));
    bodies.push(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    );
    bodies.push(
        "<< /Title (fileproc PDF benchmark) /Author (gen_pdf) /Producer (fileproc gen_pdf) \
         /CreationDate (D:20261101120000Z) >>"
            .into(),
    );
    for i in 0..pages {
        bodies.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            6 + 2 * i
        ));
        let content = page_content(i + 1, &mut rng);
        bodies.push(format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ));
    }

    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(pdf.len());
        let _ = write!(pdf, "{} 0 obj\n{body}\nendobj\n", i + 1);
    }
    let xref = pdf.len();
    let _ = write!(pdf, "xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1);
    for offset in offsets {
        let _ = writeln!(pdf, "{offset:010} 00000 n ");
    }
    let _ = write!(
        pdf,
        "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        bodies.len() + 1
    );
    pdf.into_bytes()
}
