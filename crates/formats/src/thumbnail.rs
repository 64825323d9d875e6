//! Thumbnails: a decoded picture (an image, or page 1 of a PDF) scaled to each configured size
//! and encoded, for the caller to store beside the original.
//!
//! A thumbnail keeps the picture's aspect ratio; `size` is its longest side in pixels, and a
//! picture smaller than that is not enlarged. Pictures with alpha become PNG (alpha kept), the
//! others JPEG.

use image::{DynamicImage, ImageEncoder};

use crate::FormatError;

/// JPEG quality of opaque thumbnails, 1..=100.
const JPEG_QUALITY: u8 = 85;

/// The encoding of a thumbnail or converted image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    /// The name used in results and storage keys: `jpeg`, `png`, `webp`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }

    /// The IANA media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// Parse [`ImageFormat::as_str`]'s names.
    pub fn parse(s: &str) -> Option<ImageFormat> {
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// An encoded picture.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The encoding of `bytes`.
    pub format: ImageFormat,
    /// The encoded file.
    pub bytes: Vec<u8>,
}

/// One thumbnail.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// The configured size it was made for: its longest side at most, in pixels.
    pub size: u32,
    /// The thumbnail itself.
    pub image: EncodedImage,
}

/// The dimensions of a `width` × `height` picture scaled so its longest side is at most `size`,
/// each at least 1 pixel.
pub fn fit(width: u32, height: u32, size: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= size || long == 0 {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(size) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(size).max(1)
    };
    (scale(width), scale(height))
}

/// Thumbnails of `picture`, one per entry of `sizes` (duplicates made once), largest first.
///
/// # Errors
/// `Corrupt` when encoding fails (it does not on a well-formed picture).
pub fn thumbnails(picture: &DynamicImage, sizes: &[u32]) -> Result<Vec<Thumbnail>, FormatError> {
    let mut sizes: Vec<u32> = sizes.iter().copied().filter(|&s| s > 0).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    let mut out = Vec::with_capacity(sizes.len());
    // Each smaller size is scaled from the previous one: less work than from the original.
    let mut source = std::borrow::Cow::Borrowed(picture);
    for size in sizes {
        let (w, h) = fit(source.width(), source.height(), size);
        let scaled = if (w, h) == (source.width(), source.height()) {
            source.clone().into_owned()
        } else {
            resize(&source, w, h)
        };
        out.push(Thumbnail {
            size,
            image: encode(&scaled)?,
        });
        source = std::borrow::Cow::Owned(scaled);
    }
    Ok(out)
}

/// `picture` scaled to exactly `width` × `height`: Lanczos-3 convolution by fast_image_resize
/// (SIMD, alpha premultiplied while filtering so transparent pixels do not darken the edges),
/// or the `image` crate's triangle filter for a pixel layout fast_image_resize does not take.
fn resize(picture: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    let mut scaled = DynamicImage::new(width, height, picture.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    match Resizer::new().resize(picture, &mut scaled, &options) {
        Ok(()) => scaled,
        Err(_) => picture.resize_exact(width, height, image::imageops::FilterType::Triangle),
    }
}

/// `picture` as PNG when it has alpha, else JPEG.
///
/// # Errors
/// `Corrupt` when the encoder fails.
pub fn encode(picture: &DynamicImage) -> Result<EncodedImage, FormatError> {
    let mut bytes = Vec::new();
    let (width, height) = (picture.width(), picture.height());
    let failed = |e: image::ImageError| FormatError::Corrupt(format!("encoding a thumbnail: {e}"));
    let format = if picture.color().has_alpha() {
        let rgba = picture.to_rgba8();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)
            .map_err(failed)?;
        ImageFormat::Png
    } else {
        let rgb = picture.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
            .map_err(failed)?;
        ImageFormat::Jpeg
    };
    Ok(EncodedImage {
        width,
        height,
        format,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio_and_never_enlarges() {
        assert_eq!(fit(4000, 3000, 256), (256, 192));
        assert_eq!(fit(3000, 4000, 256), (192, 256));
        assert_eq!(fit(100, 50, 256), (100, 50));
        assert_eq!(fit(10_000, 1, 256), (256, 1));
    }

    #[test]
    fn thumbnails_are_made_per_size_largest_first() {
        let picture = DynamicImage::new_rgb8(1000, 500);
        let thumbs = thumbnails(&picture, &[128, 256, 256]).unwrap();
        let dims: Vec<_> = thumbs
            .iter()
            .map(|t| (t.size, t.image.width, t.image.height, t.image.format))
            .collect();
        assert_eq!(
            dims,
            [
                (256, 256, 128, ImageFormat::Jpeg),
                (128, 128, 64, ImageFormat::Jpeg)
            ]
        );
        let decoded = image::load_from_memory(&thumbs[0].image.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }

    #[test]
    fn transparent_pixels_do_not_bleed_into_opaque_ones() {
        // Left half transparent white, right half opaque black: filtering with alpha
        // premultiplied keeps every visible pixel black, not grey.
        let picture = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(400, 100, |x, _| {
            if x < 200 {
                image::Rgba([255, 255, 255, 0])
            } else {
                image::Rgba([0, 0, 0, 255])
            }
        }));
        let scaled = resize(&picture, 100, 25).to_rgba8();
        for px in scaled.pixels().filter(|p| p[3] > 32) {
            assert!(px[0] < 16 && px[1] < 16 && px[2] < 16, "{px:?}");
        }
    }

    #[test]
    fn sixteen_bit_pictures_are_scaled_and_encoded() {
        let picture = DynamicImage::new_rgba16(600, 300);
        let thumbs = thumbnails(&picture, &[256]).unwrap();
        let decoded = image::load_from_memory(&thumbs[0].image.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }

    #[test]
    fn alpha_is_kept_as_png() {
        let picture = DynamicImage::new_rgba8(300, 300);
        let thumbs = thumbnails(&picture, &[256]).unwrap();
        assert_eq!(thumbs[0].image.format, ImageFormat::Png);
        let decoded = image::load_from_memory(&thumbs[0].image.bytes).unwrap();
        assert!(decoded.color().has_alpha());
    }
}
