//! The fallback text extractor, for documents pdf-extract cannot take (lopdf cannot read a file
//! whose cross-reference table hayro-syntax had to rebuild) or fails on: hayro-interpret runs
//! each page's content stream (ISO 32000-2 §9.4, text objects) and hands every glyph with its
//! position and, where the font says (`ToUnicode`, encoding, glyph name; §9.10), its Unicode
//! text.
//!
//! Layout is simple: a line break when the baseline moves by more than half the font size or
//! the text jumps back to the left, a space when a gap of more than 15% of the font size opens
//! after a glyph's advance. Glyphs without a Unicode mapping are left out.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context as Interpreter, Device, DrawMode, DrawProps, Image,
    ImageDrawProps, InterpreterCache, InterpreterSettings, SoftMask, interpret_page,
};
use hayro::hayro_syntax::Pdf;
use hayro::kurbo::{BezPath, Point, Rect};

use super::text::TextSink;
use super::{PageProgress, TEXT_PHASE};
use crate::{Context, FormatError};

/// Glyph space units per text space unit for fonts hayro-interpret gives in thousandths of an
/// em (§9.2.4); used to read the font size off a glyph's transform.
const GLYPH_UNITS_PER_EM: f64 = 1000.0;

/// Extracts the text of every page into a new sink.
///
/// Returns `Ok(Err(reason))` when hayro-interpret panics; the caller then reports no text.
///
/// # Errors
/// `Cancelled` when the caller cancels between pages.
pub(crate) fn extract(
    pdf: &Pdf,
    ctx: &mut Context<'_>,
    keep: usize,
) -> Result<Result<TextSink, String>, FormatError> {
    let mut sink = TextSink::new(keep);
    let mut progress = PageProgress::new(ctx, pdf.pages().len(), TEXT_PHASE);
    let cache = InterpreterCache::new();
    for page in pdf.pages().iter() {
        if progress.cancelled() {
            return Err(FormatError::Cancelled);
        }
        sink.page_break();
        let (width, height) = page.render_dimensions();
        let mut interpreter = Interpreter::new(
            page.initial_transform(true).to_kurbo(),
            Rect::new(0.0, 0.0, f64::from(width), f64::from(height)),
            &cache,
            page.xref(),
            InterpreterSettings::default(),
        );
        let mut device = TextDevice {
            sink: &mut sink,
            last: None,
        };
        let run = catch_unwind(AssertUnwindSafe(|| {
            interpret_page(page, &mut interpreter, &mut device);
        }));
        if run.is_err() {
            return Ok(Err("hayro-interpret panicked while reading the text".into()));
        }
        progress.page_done();
    }
    Ok(Ok(sink))
}

/// Where the previous glyph was, in points, y growing downwards.
#[derive(Clone, Copy)]
struct LastGlyph {
    x: f64,
    y: f64,
    end_x: f64,
    size: f64,
}

/// A device that only reads text.
struct TextDevice<'s> {
    sink: &'s mut TextSink,
    last: Option<LastGlyph>,
}

impl TextDevice<'_> {
    fn glyph(&mut self, glyph: &Glyph<'_>, transform: hayro::kurbo::Affine) {
        let [a, b, c, d, _, _] = transform.as_coeffs();
        let origin = transform * Point::ZERO;
        let size = c.hypot(d) * GLYPH_UNITS_PER_EM;
        let advance = match glyph {
            Glyph::Outline(g) => g.advance_width(),
            Glyph::Type3(g) => g.advance_width(),
        }
        .map_or(GLYPH_UNITS_PER_EM / 2.0, f64::from)
            * a.hypot(b);
        if let Some(last) = self.last {
            let line = last.size.max(size);
            if (origin.y - last.y).abs() > line * 0.5 || origin.x < last.x - line {
                self.sink.push('\n');
            } else if origin.x > last.end_x + line * 0.15 {
                self.sink.push(' ');
            }
        }
        match glyph.as_unicode() {
            Some(hayro_cmap::BfString::Char(c)) => self.sink.push(c),
            Some(hayro_cmap::BfString::String(s)) => self.sink.push_str(&s),
            None => {}
        }
        self.last = Some(LastGlyph {
            x: origin.x,
            y: origin.y,
            end_x: origin.x + advance,
            size,
        });
    }
}

impl<'a> Device<'a> for TextDevice<'_> {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        for glyph in run.glyphs() {
            self.glyph(glyph, props.transform * glyph.transform());
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}
