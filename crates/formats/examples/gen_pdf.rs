//! Writes the PDF benchmark input: a deterministic text document of 200 US-letter pages (by
//! default), each with a heading and a few paragraphs of pseudo-random words in Helvetica (a
//! standard Type1 font, ISO 32000-2 §9.6.2.2, not embedded), written by hand with a correct
//! cross-reference table (§7.5.4). The same arguments always give the same bytes.
//!
//! `cargo run --release -p fileproc-formats --example gen_pdf -- OUT.pdf [PAGES]`

use std::fmt::Write as _;
use std::io::Write as _;

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

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn word(&mut self) -> &'static str {
        let n = WORDS.len() as u64;
        WORDS[usize::try_from(self.next() % n).unwrap_or(0)]
    }
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
            let words: Vec<&str> = (0..WORDS_PER_LINE).map(|_| rng.word()).collect();
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().ok_or("usage: gen_pdf OUT.pdf [PAGES]")?;
    let pages: usize = args.get(1).map_or(Ok(200), |p| p.parse())?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

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

    let mut pdf: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(pdf.len());
        write!(pdf, "{} 0 obj\n{body}\nendobj\n", i + 1)?;
    }
    let xref = pdf.len();
    write!(pdf, "xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1)?;
    for offset in offsets {
        writeln!(pdf, "{offset:010} 00000 n ")?;
    }
    write!(
        pdf,
        "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        bodies.len() + 1
    )?;
    std::fs::write(out, &pdf)?;
    eprintln!("{out}: {pages} pages, {} bytes", pdf.len());
    Ok(())
}
