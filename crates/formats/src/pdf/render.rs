//! The page-1 thumbnail: hayro renders the page straight at the scale where its long side is the
//! largest configured thumbnail size (not at print resolution and then shrunk), on white, and the
//! shared thumbnail code scales and encodes it for each size.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::page::Page;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use image::{DynamicImage, RgbImage};

use crate::thumbnail::{self, Thumbnail};
use crate::{FormatError, Limits};

/// Renders `page` and makes its thumbnails; no sizes configured is no thumbnails.
///
/// # Errors
/// `Corrupt` when a thumbnail cannot be encoded; a page too thin to show is no thumbnail (and a
/// warning, returned as `Ok(Err(..))`).
pub(crate) fn thumbnails(
    page: &Page<'_>,
    limits: &Limits,
) -> Result<Result<Vec<Thumbnail>, String>, FormatError> {
    let Some(&size) = limits.thumbnail_sizes.iter().max() else {
        return Ok(Ok(Vec::new()));
    };
    if size == 0 {
        return Ok(Ok(Vec::new()));
    }
    let (width, height) = page.render_dimensions();
    #[allow(clippy::cast_precision_loss)]
    let scale = size as f32 / width.max(height);
    let (pixels_wide, pixels_high) = (width * scale, height * scale);
    if !(pixels_wide >= 1.0 && pixels_high >= 1.0 && pixels_wide.max(pixels_high) <= 65_535.0) {
        return Ok(Err(format!(
            "page 1 ({width} x {height} pt) is too thin to render at {size} pixels"
        )));
    }
    let cache = RenderCache::new();
    let pixmap = hayro::render(
        page,
        &cache,
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &PixmapSettings {
            x_scale: scale,
            y_scale: scale,
            bg_color: WHITE,
        },
    );
    let (w, h) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    // On an opaque white background every pixel is opaque, so premultiplied RGB is plain RGB.
    let rgb: Vec<u8> = pixmap
        .data_as_u8_slice()
        .chunks_exact(4)
        .flat_map(|px| match px {
            [r, g, b, _] => [*r, *g, *b],
            _ => [255; 3],
        })
        .collect();
    let Some(picture) = RgbImage::from_raw(w, h, rgb) else {
        return Ok(Err("page 1 rendered to an unexpected pixel buffer".into()));
    };
    thumbnail::thumbnails(&DynamicImage::ImageRgb8(picture), &limits.thumbnail_sizes).map(Ok)
}
