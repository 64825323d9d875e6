//! PDF: page count, version, page sizes, the information dictionary, encryption, the text layer,
//! images and a page-1 thumbnail (`DESIGN.md` section 4, "pdf"; ISO 32000-2).
//!
//! # Design
//!
//! 1. The whole file is read into memory: a PDF is read from its end, through the
//!    cross-reference table, and every library here works on a byte slice. A lexical pre-scan
//!    (`scan.rs`) refuses nesting deeper than `max_pdf_depth` before any parser sees it
//!    (object streams are scanned once decoded), and flate streams that inflate to more than
//!    `max_pdf_inflated_bytes` together (the decompression-bomb guard the libraries lack).
//! 2. hayro-syntax opens the document (`load.rs`): it repairs a broken cross-reference table
//!    by reading the objects themselves, and decrypts with the empty user password (RC4 or AES),
//!    so an owner-password-only document is processed and reported `encrypted`; one that needs a
//!    user password is `encrypted_file`, one without a readable catalog and page tree
//!    `corrupt_file`.
//! 3. The page tree is walked with an explicit stack (`pages.rs`): circular is `corrupt_file`,
//!    too deep or too many pages `limit_exceeded`. Then, page by page: sizes and images.
//! 4. Text (`extract.rs`): pdf-extract, under `catch_unwind` and after checks for the unbounded
//!    recursions a panic guard cannot catch. When it cannot be used or fails, hayro-interpret
//!    reads the glyphs instead (`fallback.rs`) and a warning says so. Whitespace is normalised
//!    as the text streams in (`text.rs`); only the first `text_chars` characters are kept.
//! 5. hayro renders page 1 at the largest thumbnail size (`render.rs`).
//!
//! Cancellation is checked and progress reported per page, in each pass.
//!
//! Limits of the libraries, measured or read in their code: hayro-syntax builds its page list
//! when it opens a document, before `max_pdf_pages` can be checked (a few hundred bytes per
//! page); neither hayro-syntax nor lopdf bounds how far a stream may inflate, and the pre-scan
//! only counts flate streams it can read before decryption (not LZW or encrypted ones). The
//! per-job memory limit of the caller is the guard there.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use hayro::hayro_syntax::{Pdf, PdfVersion};
use serde::{Deserialize, Serialize};

mod extract;
mod fallback;
mod info;
mod load;
mod pages;
mod render;
mod scan;
mod text;

use crate::{Access, Analysis, Analyzer, Context, FormatError, Input, Section};

/// The `pdf` section of a result (`DESIGN.md` section 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PdfSummary {
    /// Pages in the document (the leaves of the page tree, ISO 32000-2 §7.7.3).
    pub page_count: u32,
    /// The version: the catalog's `/Version` when present (§7.7.2), else the header's, e.g.
    /// `"1.4"`, `"2.0"`.
    pub pdf_version: String,
    /// Whether the document is encrypted (§7.6); such a document is only processed when the
    /// empty user password opens it.
    pub encrypted: bool,
    /// The distinct page sizes, in order of first appearance, each with the number of pages of
    /// that size and rotation: a 14-page letter paper is one entry with `pages: 14`. At most
    /// 100 entries; further sizes are left out with a warning.
    pub page_sizes: Vec<PageSize>,
    /// The document information dictionary (§14.3.3).
    pub info: PdfInfo,
    /// The first `limits.text_chars` characters of the text, whitespace normalised (runs of
    /// spaces become one, blank lines separate pages and paragraphs).
    pub text: String,
    /// Characters in the whole normalised text.
    pub text_length: u64,
    /// Words (runs of non-whitespace characters) in the whole text.
    pub word_count: u64,
    /// Whether a page draws an image: an Image XObject in its resources (or those of a form it
    /// holds), or an inline image in its content.
    pub has_images: bool,
    /// Which extractor read the text: `pdf-extract`, `hayro` (the fallback) or `none`.
    pub text_extractor: String,
}

/// Pages of one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageSize {
    /// Width in points (1/72 inch) of the visible area, the crop box within the media box
    /// (§14.11.2), before rotation.
    pub width: f64,
    /// Height in points.
    pub height: f64,
    /// The page's `/Rotate`, clockwise degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    /// How many pages have this size and rotation.
    pub pages: u32,
}

/// The document information dictionary (ISO 32000-2 §14.3.3). Text is decoded from
/// PDFDocEncoding, UTF-16BE or UTF-8 (§7.9.2.2) and trimmed; an empty value is `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PdfInfo {
    /// `/Title`.
    pub title: Option<String>,
    /// `/Author`.
    pub author: Option<String>,
    /// `/Subject`.
    pub subject: Option<String>,
    /// `/Keywords`, as written (no splitting).
    pub keywords: Option<String>,
    /// The application that created the original document.
    pub creator: Option<String>,
    /// The application that converted it to PDF.
    pub producer: Option<String>,
    /// `/CreationDate` as RFC 3339 (§7.9.4; partial dates completed as §7.9.4 says).
    pub created: Option<String>,
    /// `/ModDate` as RFC 3339.
    pub modified: Option<String>,
}

/// The PDF analyzer.
pub struct PdfAnalyzer;

impl Analyzer for PdfAnalyzer {
    fn name(&self) -> &'static str {
        "pdf"
    }
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
    fn access(&self) -> Access {
        Access::Random
    }
    /// # Errors
    /// `empty_file` for no bytes; `corrupt_file` without a `%PDF-` header, without a readable
    /// catalog and page tree (after repair), with a circular page tree or no pages;
    /// `encrypted_file` when a user password is needed; `limit_exceeded` past `max_pdf_pages` or
    /// `max_pdf_depth`; `cancelled`; `io_error`.
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
        ctx.check_cancelled()?;
        let data = load::read_all(input, ctx.size)?;
        let opened = load::open(data, &ctx.limits)?;
        analyze_document(&opened.pdf, opened.encrypted, ctx)
    }
}

/// The share of the progress bar each pass takes: structure, then text; the thumbnail ends it.
const STRUCTURE_PHASE: (f64, f64) = (0.0, 0.1);
const TEXT_PHASE: (f64, f64) = (0.1, 0.95);

fn analyze_document(
    pdf: &Pdf,
    encrypted: bool,
    ctx: &mut Context<'_>,
) -> Result<Analysis, FormatError> {
    pages::check_tree(pdf, &ctx.limits)?;
    let page_count = pdf.pages().len();
    pages::check_page_count(page_count as u64, &ctx.limits)?;
    let page_count = u32::try_from(page_count).map_err(|_| {
        FormatError::LimitExceeded("over 2^32 pages (processing.pdf.max_pages)".into())
    })?;
    if page_count == 0 {
        return Err(FormatError::Corrupt("the page tree holds no pages".into()));
    }
    let mut warnings = Vec::new();
    let (page_sizes, has_images) = structure(pdf, ctx, &mut warnings)?;
    let keep = ctx.limits.text_chars;
    let (sink, extractor) = match extract::extract(pdf.data().as_ref(), ctx, keep)? {
        Ok(sink) => (sink, "pdf-extract"),
        Err(reason) => {
            warnings.push(format!("text read by the fallback extractor: {reason}"));
            match fallback::extract(pdf, ctx, keep)? {
                Ok(sink) => (sink, "hayro"),
                Err(reason) => {
                    warnings.push(format!("no text extracted: {reason}"));
                    (text::TextSink::new(keep), "none")
                }
            }
        }
    };
    if sink.length() == 0 && has_images {
        warnings.push("no text layer: the pages are images (no OCR is done)".into());
    }
    let (text, text_length, word_count) = sink.finish();
    ctx.check_cancelled()?;
    let thumbnails = thumbnails(pdf, ctx, &mut warnings)?;
    ctx.report(pdf.data().as_ref().len() as u64);
    let summary = PdfSummary {
        page_count,
        pdf_version: version(pdf.version()).to_owned(),
        encrypted,
        page_sizes,
        info: info::info(pdf.metadata()),
        text,
        text_length,
        word_count,
        has_images,
        text_extractor: extractor.to_owned(),
    };
    let mut analysis = Analysis::new(Section::Pdf(summary));
    analysis.warnings = warnings;
    analysis.thumbnails = thumbnails;
    Ok(analysis)
}

/// Page sizes and whether any page has images, page by page.
fn structure(
    pdf: &Pdf,
    ctx: &mut Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<PageSize>, bool), FormatError> {
    let mut sizes = Vec::new();
    let mut sizes_dropped = 0u64;
    let mut has_images = false;
    let mut forms = HashSet::new();
    let mut progress = PageProgress::new(ctx, pdf.pages().len(), STRUCTURE_PHASE);
    for page in pdf.pages().iter() {
        if progress.cancelled() {
            return Err(FormatError::Cancelled);
        }
        if !pages::add_size(&mut sizes, page) {
            sizes_dropped += 1;
        }
        has_images = has_images || pages::has_images(page, &mut forms);
        progress.page_done();
    }
    if sizes_dropped > 0 {
        warnings.push(format!(
            "{sizes_dropped} pages have sizes beyond the first {} distinct ones and are not in \
             page_sizes",
            pages::MAX_DISTINCT_SIZES
        ));
    }
    Ok((sizes, has_images))
}

/// Page 1's thumbnails; a render that fails or panics is a warning, not a failed job.
fn thumbnails(
    pdf: &Pdf,
    ctx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::Thumbnail>, FormatError> {
    let Some(page) = pdf.pages().first() else {
        return Ok(Vec::new());
    };
    match catch_unwind(AssertUnwindSafe(|| render::thumbnails(page, &ctx.limits))) {
        Ok(Ok(Ok(thumbnails))) => Ok(thumbnails),
        Ok(Ok(Err(reason))) => {
            warnings.push(format!("no thumbnail: {reason}"));
            Ok(Vec::new())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            warnings.push("no thumbnail: rendering page 1 panicked".into());
            Ok(Vec::new())
        }
    }
}

/// The version as written in a header: `"1.4"`.
fn version(v: PdfVersion) -> &'static str {
    match v {
        PdfVersion::Pdf10 => "1.0",
        PdfVersion::Pdf11 => "1.1",
        PdfVersion::Pdf12 => "1.2",
        PdfVersion::Pdf13 => "1.3",
        PdfVersion::Pdf14 => "1.4",
        PdfVersion::Pdf15 => "1.5",
        PdfVersion::Pdf16 => "1.6",
        PdfVersion::Pdf17 => "1.7",
        PdfVersion::Pdf20 => "2.0",
    }
}

/// Cancellation checks and progress reports for one pass over the pages: each page done moves
/// the progress through the pass's share of the file's bytes.
pub(crate) struct PageProgress<'p, 'c> {
    ctx: &'p mut Context<'c>,
    total: usize,
    done: usize,
    phase: (f64, f64),
}

impl<'p, 'c> PageProgress<'p, 'c> {
    pub(crate) fn new(ctx: &'p mut Context<'c>, total: usize, phase: (f64, f64)) -> Self {
        PageProgress {
            ctx,
            total,
            done: 0,
            phase,
        }
    }

    /// Whether the caller has cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.ctx.check_cancelled().is_err()
    }

    /// One more page done: report it.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    #[allow(clippy::cast_sign_loss)]
    pub(crate) fn page_done(&mut self) {
        self.done += 1;
        let share = self.done.min(self.total) as f64 / self.total.max(1) as f64;
        let fraction = self.phase.0 + (self.phase.1 - self.phase.0) * share;
        let bytes = self.ctx.size.unwrap_or(0) as f64 * fraction;
        let items = crate::Items {
            done: self.done as u64,
            total: Some(self.total as u64),
            unit: "pages",
        };
        self.ctx.report_items(bytes as u64, items);
    }
}
