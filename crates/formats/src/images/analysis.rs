//! One image's analysis, stage by stage (see the module documentation): header and limits,
//! EXIF, pixels, orientation, thumbnails, the optional WebP conversion and optimised variant.

use std::io::{BufRead, BufReader, Seek};

use image::DynamicImage;
use image::metadata::Orientation;

use crate::thumbnail::{fit, thumbnails};
use crate::{Analysis, Context, FileType, FormatError, ReadSeek, Section};

use super::header::{Header, bad_signature, sniff};
use super::{ImageSummary, convert, decode, exif, jpeg, optimize, png, webp};

/// Read buffer: large enough that seeking over small chunks stays inside it.
const BUFFER_BYTES: usize = 64 << 10;

/// Analyzes one image of type `file_type` (JPEG, PNG or WebP).
///
/// # Errors
/// See [`super::ImageAnalyzer`]'s `analyze`.
pub(crate) fn analyze(
    file_type: FileType,
    file: &mut dyn ReadSeek,
    ctx: &mut Context<'_>,
) -> Result<Analysis, FormatError> {
    let mut r = BufReader::with_capacity(BUFFER_BYTES, file);
    r.rewind()?;
    let head = r.fill_buf()?;
    if sniff(head) != Some(file_type) {
        return Err(bad_signature(head, file_type));
    }
    let mut header = match file_type {
        FileType::Jpeg => jpeg::read_header(&mut r, &ctx.limits)?,
        FileType::Png => png::read_header(&mut r, ctx)?,
        FileType::Webp => webp::read_header(&mut r, ctx)?,
        other => {
            return Err(FormatError::Unsupported(format!(
                "{} is not an image type",
                other.as_str()
            )));
        }
    };
    ctx.report(r.stream_position()?);
    ctx.check_cancelled()?;

    let mut warnings = std::mem::take(&mut header.warnings);
    let exif = header
        .exif
        .take()
        .and_then(|raw| exif::parse(raw, &mut warnings));
    let orientation = exif.as_ref().and_then(|e| e.orientation).unwrap_or(1);
    let summary = summary(&header, exif, orientation);

    r.rewind()?;
    let target = decode_target(&header, ctx);
    let mut picture = decode::decode(file_type, &mut r, &header, target, &ctx.limits)?;
    ctx.report(ctx.size.unwrap_or_else(|| r.stream_position().unwrap_or(0)));
    ctx.check_cancelled()?;

    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(Orientation::from_exif)
    {
        picture.apply_orientation(o);
    }
    let converted = convert_to_webp(&picture, &summary, ctx, &mut warnings)?;
    ctx.check_cancelled()?;
    let thumbnails = thumbnails(&picture, &ctx.limits.thumbnail_sizes)?;
    // The variant reads the original whole: the decoded picture goes first.
    drop(picture);
    let optimized = optimize::variant(file_type, &mut r, &summary, ctx, &mut warnings)?;

    let section = match file_type {
        FileType::Jpeg => Section::Jpeg(summary),
        FileType::Png => Section::Png(summary),
        _ => Section::Webp(summary),
    };
    Ok(Analysis {
        section,
        warnings,
        thumbnails,
        converted,
        optimized,
    })
}

/// The size a JPEG may be decoded at: both sides at least the largest thumbnail's, so its IDCT
/// can scale down; `None` (full size) when the WebP conversion needs every pixel. PNG and WebP
/// always decode at full size.
fn decode_target(header: &Header, ctx: &Context<'_>) -> Option<(u32, u32)> {
    if ctx.limits.enable_webp {
        return None;
    }
    let largest = ctx
        .limits
        .thumbnail_sizes
        .iter()
        .copied()
        .max()
        .unwrap_or(1);
    Some(fit(header.width, header.height, largest.max(1)))
}

fn summary(header: &Header, exif: Option<exif::ExifSummary>, orientation: u16) -> ImageSummary {
    let (display_width, display_height) = if orientation >= 5 {
        (header.height, header.width)
    } else {
        (header.width, header.height)
    };
    ImageSummary {
        width: header.width,
        height: header.height,
        display_width,
        display_height,
        color_type: header.color_type,
        bit_depth: header.bit_depth,
        has_alpha: header.has_alpha,
        animated: header.frame_count > 1,
        frame_count: header.frame_count,
        interlaced: header.interlaced,
        exif,
        icc_profile: header.icc_profile.clone(),
    }
}

/// The WebP conversion when asked for; its failure is a warning.
fn convert_to_webp(
    picture: &DynamicImage,
    summary: &ImageSummary,
    ctx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<crate::EncodedImage>, FormatError> {
    if !ctx.limits.enable_webp {
        return Ok(None);
    }
    ctx.check_cancelled()?;
    match convert::to_webp(picture, ctx.limits.webp_quality) {
        Ok(webp) => {
            if summary.animated {
                warnings.push(format!(
                    "the WebP conversion holds the first of {} frames only",
                    summary.frame_count
                ));
            }
            Ok(Some(webp))
        }
        Err(warning) => {
            warnings.push(warning);
            Ok(None)
        }
    }
}
