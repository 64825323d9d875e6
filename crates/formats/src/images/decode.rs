//! Pixels: each format's decoder, bounded by the image limits a second time (the header check
//! came first), and guarded against decoder panics.
//!
//! JPEG goes through jpeg-decoder, whose IDCT can scale by 1/2, 1/4 or 1/8 while decoding: a
//! thumbnail of a 12 MP photo then costs a decode of 0.2 MP. Four-component JPEGs are converted
//! to RGB here as Pillow does (`R = (255 - C)(255 - K) / 255`, likewise G from M and B from Y),
//! after undoing Adobe's inverted storage; no ICC conversion. PNG and WebP
//! go through the `image` crate; for animations that is the first frame (for APNG, the `IDAT`
//! image).

use std::io::{BufRead, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageError, Luma, RgbImage};
use jpeg_decoder::{ColorTransform, PixelFormat};

use crate::{FileType, FormatError, Limits};

use super::header::Header;

/// Bytes per pixel of the widest decoded layout (16-bit RGBA), for the decoders' own memory limit.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Decodes the image: a JPEG scaled by its IDCT so both sides stay at least `target` (full size
/// when `None`), a PNG or WebP at full size.
///
/// # Errors
/// `Corrupt` when the pixels cannot be decoded (truncated or malformed data, or a decoder
/// panic), `Unsupported` for coding features no decoder here has (arithmetic coding, 12-bit
/// colour JPEG...), `LimitExceeded` from the decoder's own limits, `Io`.
pub(crate) fn decode<R: BufRead + Seek>(
    file_type: FileType,
    r: R,
    header: &Header,
    target: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<DynamicImage, FormatError> {
    let what = file_type.as_str().to_uppercase();
    let decoded = catch_unwind(AssertUnwindSafe(|| match file_type {
        FileType::Png => {
            let decoder = PngDecoder::with_limits(r, image_limits(limits)).map_err(from_image)?;
            DynamicImage::from_decoder(decoder).map_err(from_image)
        }
        FileType::Webp => {
            let mut decoder = WebPDecoder::new(r).map_err(from_image)?;
            decoder
                .set_limits(image_limits(limits))
                .map_err(from_image)?;
            DynamicImage::from_decoder(decoder).map_err(from_image)
        }
        _ => decode_jpeg(r, header, target, limits),
    }));
    decoded.unwrap_or_else(|_| {
        Err(FormatError::Corrupt(format!(
            "the {what} decoder failed on malformed data"
        )))
    })
}

/// The `image` crate's limits from ours: the same width and height, and memory for the largest
/// allowed picture at 8 bytes a pixel, at most the analysis's memory budget.
fn image_limits(limits: &Limits) -> image::Limits {
    let mut out = image::Limits::default();
    out.max_image_width = Some(limits.max_image_width);
    out.max_image_height = Some(limits.max_image_height);
    out.max_alloc = Some(decode_budget(limits));
    out
}

/// Bytes a decoder may allocate: enough for the largest allowed picture, within the memory budget.
fn decode_budget(limits: &Limits) -> u64 {
    limits
        .max_image_pixels
        .saturating_mul(MAX_BYTES_PER_PIXEL)
        .min(limits.max_memory_bytes)
}

fn from_image(e: ImageError) -> FormatError {
    match e {
        ImageError::Limits(e) => FormatError::LimitExceeded(format!("decoder limit: {e}")),
        ImageError::Unsupported(e) => FormatError::Unsupported(e.to_string()),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            FormatError::Corrupt("the image data is truncated".into())
        }
        ImageError::IoError(e) if is_data_error(&e) => {
            FormatError::Corrupt(format!("the image data cannot be decoded: {e}"))
        }
        ImageError::IoError(e) => FormatError::Io(e),
        e => FormatError::Corrupt(format!("the image data cannot be decoded: {e}")),
    }
}

/// Decoders report some bad data as I/O errors (a bad zlib stream in a PNG is `InvalidData`):
/// those are the file's fault, not the reader's.
fn is_data_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
    )
}

fn from_jpeg(e: jpeg_decoder::Error) -> FormatError {
    match e {
        jpeg_decoder::Error::Unsupported(f) => {
            FormatError::Unsupported(format!("JPEG coding feature {f:?}"))
        }
        jpeg_decoder::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            FormatError::Corrupt("the JPEG image data is truncated".into())
        }
        jpeg_decoder::Error::Io(e) if is_data_error(&e) => {
            FormatError::Corrupt(format!("the JPEG image data cannot be decoded: {e}"))
        }
        jpeg_decoder::Error::Io(e) => FormatError::Io(e),
        e => FormatError::Corrupt(format!("the JPEG image data cannot be decoded: {e}")),
    }
}

fn decode_jpeg<R: Read>(
    r: R,
    header: &Header,
    target: Option<(u32, u32)>,
    limits: &Limits,
) -> Result<DynamicImage, FormatError> {
    let layout = header
        .jpeg
        .ok_or_else(|| FormatError::Corrupt("no JPEG frame header".into()))?;
    let mut decoder = jpeg_decoder::Decoder::new(r);
    let max_bytes = decode_budget(limits);
    decoder.set_max_decoding_buffer_size(usize::try_from(max_bytes).unwrap_or(usize::MAX));
    // Without an Adobe marker, four components are plain CMYK (Pillow's reading); with one they
    // are stored inverted, which jpeg-decoder's CMYK and YCCK transforms undo.
    let adobe_cmyk = layout.components == 4 && layout.adobe_transform.is_some();
    if layout.components == 4 && !adobe_cmyk {
        decoder.set_color_transform(ColorTransform::None);
    }
    if let Some((w, h)) = target {
        let clamp = |v: u32| u16::try_from(v.max(1)).unwrap_or(u16::MAX);
        decoder.scale(clamp(w), clamp(h)).map_err(from_jpeg)?;
    }
    let pixels = decoder.decode().map_err(from_jpeg)?;
    let info = decoder
        .info()
        .ok_or_else(|| FormatError::Corrupt("the JPEG decoder gave no frame".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let short = || FormatError::Corrupt("the JPEG decoder returned too few pixels".into());
    Ok(match info.pixel_format {
        PixelFormat::L8 => GrayImage::from_raw(w, h, pixels).ok_or_else(short)?.into(),
        PixelFormat::L16 => {
            let samples = pixels
                .chunks_exact(2)
                .map(|b| b.try_into().map_or(0, u16::from_ne_bytes))
                .collect();
            DynamicImage::ImageLuma16(
                ImageBuffer::<Luma<u16>, _>::from_raw(w, h, samples).ok_or_else(short)?,
            )
        }
        PixelFormat::RGB24 => RgbImage::from_raw(w, h, pixels).ok_or_else(short)?.into(),
        PixelFormat::CMYK32 => RgbImage::from_raw(w, h, cmyk_to_rgb(&pixels))
            .ok_or_else(short)?
            .into(),
    })
}

/// CMYK samples (0 = no ink) to RGB: each channel is what its ink and black leave of white.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let &[c, m, y, k] = px else { continue };
        let white = 255 - u16::from(k);
        for ink in [c, m, y] {
            let v = (255 - u16::from(ink)) * white;
            // Rounded division by 255; the value is at most 255.
            rgb.push(u8::try_from((v + 127) / 255).unwrap_or(u8::MAX));
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_red_green_and_black_become_rgb() {
        let cmyk = [0, 255, 255, 0, 255, 0, 255, 0, 0, 0, 0, 255, 0, 0, 0, 0];
        assert_eq!(
            cmyk_to_rgb(&cmyk),
            [255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255]
        );
    }

    fn jpeg_of(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&picture)
            .unwrap();
        out
    }

    fn header_of(bytes: &[u8]) -> Header {
        let mut r = std::io::Cursor::new(bytes);
        super::super::jpeg::read_header(&mut r, &Limits::default()).unwrap()
    }

    #[test]
    fn a_jpeg_is_scaled_while_decoding_to_the_smallest_size_covering_the_target() {
        let bytes = jpeg_of(2000, 1000);
        let header = header_of(&bytes);
        let decode_at = |target| {
            let r = std::io::Cursor::new(&bytes);
            let picture = decode(FileType::Jpeg, r, &header, target, &Limits::default()).unwrap();
            (picture.width(), picture.height())
        };
        assert_eq!(decode_at(Some((240, 120))), (250, 125));
        assert_eq!(decode_at(Some((256, 128))), (500, 250));
        assert_eq!(decode_at(Some((600, 300))), (1000, 500));
        assert_eq!(decode_at(Some((1500, 750))), (2000, 1000));
        assert_eq!(decode_at(None), (2000, 1000));
    }

    #[test]
    fn the_decoders_own_limits_hold_when_the_header_check_is_bypassed() {
        let mut png = Vec::new();
        DynamicImage::new_rgb8(300, 20)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let limits = Limits {
            max_image_width: 100,
            ..Limits::default()
        };
        let header = Header::new(300, 20, super::super::ColorType::Rgb, 8);
        let r = std::io::Cursor::new(&png);
        let err = decode(FileType::Png, r, &header, None, &limits).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
    }

    #[test]
    fn a_png_whose_zlib_stream_is_broken_is_corrupt() {
        let mut png = Vec::new();
        DynamicImage::new_rgb8(40, 40)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // Break the IDAT's zlib header (an invalid compression method) and fix its CRC, so
        // only the inflater can object.
        let at = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[at - 4..at].try_into().unwrap()) as usize;
        png[at + 4] = 0x7F;
        let mut crc = flate2::Crc::new();
        crc.update(&png[at..at + 4 + len]);
        png[at + 4 + len..at + 8 + len].copy_from_slice(&crc.sum().to_be_bytes());
        let header = Header::new(40, 40, super::super::ColorType::Rgb, 8);
        let r = std::io::Cursor::new(&png);
        let err = decode(FileType::Png, r, &header, None, &Limits::default()).unwrap_err();
        assert_eq!(err.code(), "corrupt_file", "{err:?}");
    }

    #[test]
    fn half_ink_is_half_light() {
        assert_eq!(cmyk_to_rgb(&[128, 0, 0, 128]), [63, 127, 127]);
    }
}
