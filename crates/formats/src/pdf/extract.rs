//! The text layer through pdf-extract (on lopdf), whose output matched pdftotext on the
//! documents tried (CRATES.md).
//!
//! pdf-extract panics on some inputs by design; the call runs under `catch_unwind` and a panic
//! sends the caller to the fallback extractor. Two things a panic guard cannot catch are checked
//! before the call, because pdf-extract recurses on them without a bound and a stack overflow
//! aborts the process: a page's `/Parent` chain (inherited attributes, ISO 32000-2 §7.7.3.4) and
//! Form XObjects drawing Form XObjects (§8.10), where a form that draws itself, directly or
//! through inherited resources, never ends. Both are walked here iteratively, within
//! `max_pdf_depth` levels (and at most [`FORM_DEPTH`] for forms).
//!
//! lopdf decrypts a document encrypted with an empty user password as it loads it, so the text
//! of owner-password-only documents comes out here too.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Dictionary, Document, MediaBox, Object, ObjectId, OutputDev, OutputError};

use super::text::TextSink;
use super::{PageProgress, TEXT_PHASE};
use crate::{Context, FormatError};

/// Deepest Form XObject nesting handed to pdf-extract (hayro-interpret stops at 50).
const FORM_DEPTH: u32 = 32;

/// Most XObject entries looked at while checking forms, per document.
const FORM_CHECK_BUDGET: usize = 100_000;

/// Extracts the text of `data` into a new sink, page by page.
///
/// Returns `Ok(Err(reason))` when pdf-extract cannot be used or fails (lopdf cannot read the
/// file, a check above refuses it, it returns an error or panics): the caller falls back.
///
/// # Errors
/// `Cancelled` when the caller cancels between pages.
pub(crate) fn extract(
    data: &[u8],
    ctx: &mut Context<'_>,
    keep: usize,
) -> Result<Result<TextSink, String>, FormatError> {
    let max_depth = ctx.limits.max_pdf_depth;
    let loaded = catch_unwind(|| Document::load_mem(data));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Ok(Err(format!("lopdf cannot read it: {e}"))),
        Err(_) => return Ok(Err("lopdf panicked while reading it".into())),
    };
    if let Err(reason) = check(&doc, max_depth) {
        return Ok(Err(reason));
    }
    let page_total = doc.get_pages().len();
    let mut output = SinkOutput {
        sink: TextSink::new(keep),
        progress: PageProgress::new(ctx, page_total, TEXT_PHASE),
        cancelled: false,
        page_height: 0.0,
        last_end: 0.0,
        last_y: 0.0,
        first_char: false,
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::output_doc(&doc, &mut output)
    }));
    if output.cancelled {
        return Err(FormatError::Cancelled);
    }
    match result {
        Ok(Ok(())) => Ok(Ok(output.sink)),
        Ok(Err(e)) => Ok(Err(format!("pdf-extract failed: {e}"))),
        Err(_) => Ok(Err("pdf-extract panicked".into())),
    }
}

/// The recursion checks described in the module documentation.
fn check(doc: &Document, max_depth: u32) -> Result<(), String> {
    let mut budget = FORM_CHECK_BUDGET;
    for (number, page) in doc.get_pages() {
        let chain = parent_chain(doc, page, max_depth)
            .map_err(|why| format!("page {number}'s /Parent chain {why}"))?;
        let resources = chain
            .iter()
            .find_map(|&dict| deref(doc, dict.get(b"Resources").ok()?)?.as_dict().ok());
        if let Some(resources) = resources {
            check_forms(doc, resources, max_depth.min(FORM_DEPTH), &mut budget)
                .map_err(|why| format!("page {number}: {why}"))?;
        }
    }
    Ok(())
}

/// The page's dictionary and its ancestors', following `/Parent` references.
fn parent_chain(
    doc: &Document,
    page: ObjectId,
    max_depth: u32,
) -> Result<Vec<&Dictionary>, String> {
    let mut seen = HashSet::new();
    let mut chain = Vec::new();
    let mut current = page;
    loop {
        if !seen.insert(current) {
            return Err("is circular".into());
        }
        if chain.len() > max_depth as usize {
            return Err(format!(
                "is deeper than {max_depth} levels (processing.pdf.max_depth)"
            ));
        }
        let Ok(dict) = doc.get_dictionary(current) else {
            return Ok(chain);
        };
        chain.push(dict);
        match dict.get(b"Parent").and_then(Object::as_reference) {
            Ok(parent) => current = parent,
            Err(_) => return Ok(chain),
        }
    }
}

/// Form XObjects reachable from `resources`, as pdf-extract's `Do` would reach them: a form
/// without its own `/Resources` uses the ones it was drawn with.
fn check_forms(
    doc: &Document,
    resources: &Dictionary,
    max_depth: u32,
    budget: &mut usize,
) -> Result<(), String> {
    let mut stack = vec![(resources, 0u32)];
    while let Some((resources, depth)) = stack.pop() {
        let Some(x_objects) = resources
            .get(b"XObject")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok())
        else {
            continue;
        };
        for (_, entry) in x_objects.iter() {
            *budget = budget
                .checked_sub(1)
                .ok_or("too many XObjects to check for recursion")?;
            let Some(Object::Stream(form)) = deref(doc, entry) else {
                continue;
            };
            if form.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
                continue;
            }
            if depth + 1 > max_depth {
                return Err(format!(
                    "forms draw forms more than {max_depth} levels deep, or circularly"
                ));
            }
            let inner = form
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|o| deref(doc, o))
                .and_then(|o| o.as_dict().ok())
                .unwrap_or(resources);
            stack.push((inner, depth + 1));
        }
    }
    Ok(())
}

/// The object itself, or the one a reference points at.
fn deref<'d>(doc: &'d Document, object: &'d Object) -> Option<&'d Object> {
    match object {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

/// pdf-extract's plain-text layout (`PlainTextOutput`: a line break when the baseline moves by
/// more than a line, a space when a gap opens between glyphs), written into a [`TextSink`]
/// instead of a `String`, with a cancellation check and a progress report per page.
struct SinkOutput<'p, 'c> {
    sink: TextSink,
    progress: PageProgress<'p, 'c>,
    cancelled: bool,
    page_height: f64,
    last_end: f64,
    last_y: f64,
    first_char: bool,
}

impl OutputDev for SinkOutput<'_, '_> {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        if self.progress.cancelled() {
            self.cancelled = true;
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        self.page_height = media_box.ury - media_box.lly;
        self.last_end = 100_000.0;
        self.sink.page_break();
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.progress.page_done();
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        // The text matrix with the page flipped so y grows downwards, as PlainTextOutput does.
        let (x, y) = (trm.m31, self.page_height - trm.m32);
        let scaled_x = trm.m11 * font_size + trm.m21 * font_size;
        let scaled_y = trm.m12 * font_size + trm.m22 * font_size;
        let size = (scaled_x * scaled_y).abs().sqrt();
        if self.first_char {
            let moved = (y - self.last_y).abs();
            if moved > size * 1.5 {
                self.sink.push('\n');
            }
            if x < self.last_end && moved > size * 0.5 {
                self.sink.push('\n');
            }
            if x > self.last_end + size * 0.1 {
                self.sink.push(' ');
            }
        }
        self.sink.push_str(char);
        self.first_char = false;
        self.last_y = y;
        self.last_end = x + width * size;
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.first_char = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
