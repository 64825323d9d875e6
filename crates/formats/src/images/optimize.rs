//! The optimised variant of an image ([`crate::Limits::optimize_images`]): the same picture in
//! fewer bytes, for the caller to store beside the original. Nothing of the picture is lost:
//!
//! - **PNG**: oxipng recompresses the image data (filters, DEFLATE, and reductions of bit depth,
//!   colour type and palette that keep every pixel's value; transparent pixels keep their
//!   colour, 16-bit samples are never scaled). The PNG spec's `IDAT` stream is lossless by
//!   construction, so any re-encoding that decodes to the same samples is.
//! - **JPEG and WebP**: no lossless recompressor exists in pure Rust (JPEG's would re-code the
//!   Huffman data, like jpegtran; WebP's lossy data cannot be re-coded at all), so the variant is
//!   only made when [`crate::Limits::strip_metadata`] asks for metadata to go: the same coded
//!   data, byte for byte, in a smaller container (`optimize/strip.rs`).
//!
//! With `strip_metadata` every format loses its metadata the same way (`optimize/strip.rs`
//! names what goes and what stays): text, time, EXIF, XMP, IPTC and comments go; what changes how
//! the picture looks stays (ICC profile, PNG gamma and colour chunks, pixel aspect, JPEG's Adobe
//! colour transform). The EXIF orientation is kept as a minimal EXIF block holding the
//! `Orientation` tag alone, when it is not 1, in every format, PNG included: rotating the
//! pixels instead would be lossless in a PNG but cannot be done to a JPEG or WebP without
//! re-encoding, would cost a full decode and encode where the rest costs a copy, and would need
//! each APNG frame turned; one rule for the three formats keeps the variant's
//! `display_width`/`display_height` those of the original.
//!
//! An APNG keeps every frame: oxipng keeps `acTL`/`fcTL`/`fdAT` unless told to strip them,
//! recompresses each frame's data, and turns its reductions off for animations.
//!
//! The variant is kept only when it is smaller than the original. A failure (oxipng's error, a
//! container that cannot be walked, a file past the memory limit) or a timeout with nothing
//! smaller is a warning, never a failed job.
//!
//! # Measured
//!
//! oxipng alone, once per preset, dependencies at opt-level 2, 2 shared cores under another
//! build (`oxipng_presets_timed` in `tests/image_optimize.rs`):
//!
//! | input | preset 1 | preset 2 | preset 3 |
//! | --- | --- | --- | --- |
//! | 3000×2000 RGBA, 13.8 MB (`fileproc-bench-inputs`) | 2.2 s, −9.2 % | 3.5 s, −9.2 % | 8.5 s, −9.2 % |
//! | kodim23.png, 768×512 RGB, 558 kB | 0.24 s, −1.9 % | 0.37 s, −1.8 % | 0.81 s, −3.6 % |
//!
//! Preset 3 runs past `PNG_TIMEOUT` (5 s) on the large picture, where it stops with what it has.
//!
//! Sources: PNG spec, 3rd edition (W3C, 2025), sections 5 (chunks) and 11.3 (ancillary chunks),
//! and the APNG chunks `acTL`/`fcTL`/`fdAT` (section 11.3.6); ITU-T T.81 | ISO/IEC 10918-1
//! annex B (markers, segments, entropy-coded data), JFIF 1.02 (APP0), Exif 2.32 (CIPA
//! DC-008-2019) section 4.5.4 (APP1), ICC.1 annex B.4 (APP2), Adobe TN 5116 (APP14); the WebP
//! container specification (RFC 9649 section 2.7: `VP8X` flags, chunk order).

mod strip;

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use crate::{Context, EncodedImage, FileType, FormatError, ImageFormat};

use super::ImageSummary;

/// The longest oxipng works on one PNG: a huge picture must not hold a worker. Past it oxipng
/// tries nothing further and returns the best it has found, which is kept when smaller.
const PNG_TIMEOUT: Duration = Duration::from_secs(5);

/// A lossless, smaller variant of an original image ([`crate::Analysis::optimized`]).
#[derive(Debug, Clone)]
pub struct Optimized {
    /// The variant: the original's encoding (`format`), its stored `width` and `height` in
    /// pixels (the EXIF orientation, when kept, still applies), and its `bytes`.
    pub image: EncodedImage,
    /// The original's size, in bytes.
    pub original_bytes: u64,
    /// Whether metadata was left out ([`crate::Limits::strip_metadata`]); always true for a JPEG
    /// or WebP variant, which is made for nothing else.
    pub metadata_stripped: bool,
}

impl Optimized {
    /// Bytes saved: `original_bytes` less the variant's size (more than 0: a variant that is not
    /// smaller is not kept).
    pub fn saving_bytes(&self) -> u64 {
        self.original_bytes
            .saturating_sub(self.image.bytes.len() as u64)
    }

    /// The share of the original saved, 0.0..1.0 (0.25: a quarter smaller).
    pub fn saving_ratio(&self) -> f64 {
        if self.original_bytes == 0 {
            return 0.0;
        }
        self.saving_bytes() as f64 / self.original_bytes as f64
    }
}

/// The optimised variant of the image in `file`, when [`crate::Limits::optimize_images`] asks
/// for one and it comes out smaller. Call it after the header's limits passed: it reads the whole
/// file into memory (refused, with a warning, past [`crate::Limits::max_memory_bytes`]).
///
/// # Errors
/// `Cancelled` before the work starts; `Io` reading `file`. Everything else is a warning.
/// The memory oxipng takes for `summary`'s picture, in bytes, at most: the unfiltered pixels
/// of every frame (samples of `bit_depth` bits, 3 or 4 per pixel as an upper bound for grey and
/// palette pictures too), held about three times over (the image, a filtered trial, the best
/// one so far).
fn png_working_bytes(summary: &ImageSummary) -> u64 {
    let channels: u64 = if summary.has_alpha { 4 } else { 3 };
    let bytes_per_sample = u64::from(summary.bit_depth.max(8)) / 8;
    let frame = u64::from(summary.width) * u64::from(summary.height) * channels * bytes_per_sample;
    frame
        .saturating_mul(u64::from(summary.frame_count.max(1)))
        .saturating_mul(3)
}

pub(crate) fn variant(
    file_type: FileType,
    file: &mut (impl Read + Seek),
    summary: &ImageSummary,
    ctx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<Optimized>, FormatError> {
    let limits = &ctx.limits;
    let format = match file_type {
        FileType::Png => ImageFormat::Png,
        FileType::Jpeg if limits.strip_metadata => ImageFormat::Jpeg,
        FileType::Webp if limits.strip_metadata => ImageFormat::Webp,
        _ => return Ok(None),
    };
    if !limits.optimize_images {
        return Ok(None);
    }
    let size = file.seek(SeekFrom::End(0))?;
    if size > limits.max_memory_bytes {
        warnings.push(format!(
            "no optimised variant: the file's {size} bytes are over the memory limit of {} \
             (processing.memory_limit)",
            limits.max_memory_bytes
        ));
        return Ok(None);
    }
    if format == ImageFormat::Png {
        let working = png_working_bytes(summary);
        if working > limits.max_memory_bytes {
            warnings.push(format!(
                "no optimised PNG: recompressing its pixels would take about {working} bytes, \
                 over the memory limit of {} (processing.memory_limit)",
                limits.max_memory_bytes
            ));
            return Ok(None);
        }
    }
    ctx.check_cancelled()?;
    file.rewind()?;
    let mut original = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(size).read_to_end(&mut original)?;

    let orientation = summary.exif.as_ref().and_then(|e| e.orientation);
    let made = strip::orientation_exif(orientation.unwrap_or(1)).and_then(|exif| {
        let (strip, exif) = (limits.strip_metadata, exif.as_deref());
        match format {
            ImageFormat::Png => png(&original, strip.then_some(exif), ctx),
            ImageFormat::Jpeg => strip::jpeg(&original, exif),
            ImageFormat::Webp => strip::webp(&original, exif),
        }
    });
    match made {
        Ok(bytes) if bytes.len() < original.len() => Ok(Some(Optimized {
            image: EncodedImage {
                width: summary.width,
                height: summary.height,
                format,
                bytes,
            },
            original_bytes: original.len() as u64,
            metadata_stripped: limits.strip_metadata,
        })),
        Ok(_) => Ok(None),
        Err(warning) => {
            warnings.push(warning);
            Ok(None)
        }
    }
}

/// `png` recompressed by oxipng at [`crate::Limits::optimize_level`], after its metadata is
/// left out when `strip` is `Some` (holding the orientation EXIF block to keep, if any).
///
/// # Errors
/// A warning: oxipng's error, or its timeout passed with nothing smaller found.
fn png(png: &[u8], strip: Option<Option<&[u8]>>, ctx: &Context<'_>) -> Result<Vec<u8>, String> {
    let stripped;
    let input = match strip {
        Some(exif) => {
            stripped = strip::png(png, exif)?;
            &stripped[..]
        }
        None => png,
    };
    let mut options = oxipng::Options::from_preset(ctx.limits.optimize_level.min(6));
    // Metadata is left out before (`strip::png`), so oxipng keeps every chunk it is given:
    // its own `Safe` list would also drop `gAMA` and `cHRM`, and its stripping modes may swap an
    // sRGB-like ICC profile for an `sRGB` chunk.
    options.strip = oxipng::StripChunks::None;
    options.timeout = Some(PNG_TIMEOUT);
    // The inflated image data is held whole: bounded like a decoded picture.
    options.max_decompressed_size = usize::try_from(ctx.limits.max_memory_bytes).ok();
    let started = Instant::now();
    let out = oxipng::optimize_from_memory(input, &options)
        .map_err(|e| format!("no optimised PNG: oxipng failed: {e}"))?;
    if out.len() >= png.len() && started.elapsed() >= PNG_TIMEOUT {
        return Err(format!(
            "no optimised PNG: oxipng found nothing smaller within its {} s",
            PNG_TIMEOUT.as_secs()
        ));
    }
    // oxipng hands its input back when it finds nothing smaller; the stripped input may still be.
    Ok(out)
}

#[cfg(test)]
mod tests;
