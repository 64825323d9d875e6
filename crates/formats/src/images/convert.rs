//! The optional WebP conversion of the original ([`crate::Limits::enable_webp`]): lossy WebP at
//! [`crate::Limits::webp_quality`] through libwebp (the `webp` crate), alpha kept. The `image`
//! crate's own WebP encoder is lossless only, which makes photos several times larger.

use image::DynamicImage;

use crate::{EncodedImage, ImageFormat};

/// The longest side libwebp encodes (`WEBP_MAX_DIMENSION`).
const MAX_WEBP_SIDE: u32 = 16_383;

/// `picture` as lossy WebP at `quality` (0..=100, clamped). A failure is returned as the warning
/// to report: the conversion is optional and never fails the analysis.
pub(crate) fn to_webp(picture: &DynamicImage, quality: u8) -> Result<EncodedImage, String> {
    let (width, height) = (picture.width(), picture.height());
    if width > MAX_WEBP_SIDE || height > MAX_WEBP_SIDE {
        return Err(format!(
            "no WebP conversion: {width}x{height} is past WebP's largest side of {MAX_WEBP_SIDE}"
        ));
    }
    let quality = f32::from(quality.min(100));
    // Borrow 8-bit pictures as they are; convert the others (16-bit, gray) once.
    let encoded = if picture.color().has_alpha() {
        let converted;
        let rgba = match picture.as_rgba8() {
            Some(rgba) => rgba,
            None => {
                converted = picture.to_rgba8();
                &converted
            }
        };
        webp::Encoder::from_rgba(rgba, width, height).encode_simple(false, quality)
    } else {
        let converted;
        let rgb = match picture.as_rgb8() {
            Some(rgb) => rgb,
            None => {
                converted = picture.to_rgb8();
                &converted
            }
        };
        webp::Encoder::from_rgb(rgb, width, height).encode_simple(false, quality)
    };
    let memory = encoded.map_err(|e| format!("no WebP conversion: libwebp failed with {e:?}"))?;
    Ok(EncodedImage {
        width,
        height,
        format: ImageFormat::Webp,
        bytes: memory.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_like_picture_becomes_lossy_webp_that_decodes() {
        let picture = DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
        }));
        let out = to_webp(&picture, 80).unwrap();
        assert_eq!(
            (out.width, out.height, out.format),
            (64, 48, ImageFormat::Webp)
        );
        let decoded = image::load_from_memory(&out.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
        assert!(!decoded.color().has_alpha());
    }

    #[test]
    fn alpha_survives_the_conversion() {
        let picture = DynamicImage::new_rgba8(20, 10);
        let out = to_webp(&picture, 50).unwrap();
        assert!(
            image::load_from_memory(&out.bytes)
                .unwrap()
                .color()
                .has_alpha()
        );
    }
}
