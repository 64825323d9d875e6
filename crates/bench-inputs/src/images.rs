//! The benchmark pictures. They are smooth gradients and shapes with seeded noise, so they
//! compress like photos rather than like flat colour; the same bytes come out on every run.

use std::io;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

use crate::other;

/// A seeded xorshift generator: the noise is the same on every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 56) as u8
    }
}

/// A photo-like RGB picture: diagonal gradients, a few discs and ±8 of noise.
fn photo(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut noise = Noise(seed);
    let discs = [(0.3, 0.4, 0.15), (0.7, 0.6, 0.2), (0.5, 0.2, 0.08)];
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
        let mut px = [255.0 * u, 255.0 * v, 255.0 * (1.0 - (u + v) / 2.0)];
        for (i, (cx, cy, r)) in discs.iter().enumerate() {
            if (u - cx).powi(2) + (v - cy).powi(2) < r * r {
                px[i] = 255.0 - px[i] * 0.5;
            }
        }
        let jitter = |c: f32, n: u8| (c + f32::from(n % 17) - 8.0).clamp(0.0, 255.0) as u8;
        Rgb([
            jitter(px[0], noise.next()),
            jitter(px[1], noise.next()),
            jitter(px[2], noise.next()),
        ])
    })
}

/// A little-endian TIFF block with IFD0 = Make, Model, Orientation (Exif 2.32 section 4.6.2).
fn exif_block(orientation: u16) -> Vec<u8> {
    let (make, model) = (b"fileproc\0", b"gen_images\0");
    let entries: u16 = 3;
    let data_start = 8 + 2 + 12 * u32::from(entries) + 4;
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(entries.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        tiff.extend(tag.to_le_bytes());
        tiff.extend(kind.to_le_bytes());
        tiff.extend(count.to_le_bytes());
        tiff.extend(value.to_le_bytes());
    };
    entry(0x010F, 2, make.len() as u32, data_start);
    entry(
        0x0110,
        2,
        model.len() as u32,
        data_start + make.len() as u32,
    );
    entry(0x0112, 3, 1, u32::from(orientation));
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(make);
    tiff.extend(model);
    tiff
}

/// `jpeg` with an APP1 `Exif\0\0` segment holding `tiff` inserted right after SOI.
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> io::Result<Vec<u8>> {
    let rest = jpeg
        .strip_prefix(&[0xFF, 0xD8])
        .ok_or_else(|| other("not a JPEG"))?;
    let len = u16::try_from(2 + 6 + tiff.len()).map_err(other)?;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(len.to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(rest);
    Ok(out)
}

/// The 12 MP photo: 4000×3000 JPEG (quality 90) with an EXIF APP1 segment (Make, Model,
/// Orientation 6: it displays as 3000×4000).
///
/// # Errors
/// The JPEG encoder's.
pub fn jpeg_12mp() -> io::Result<Vec<u8>> {
    let picture = photo(4000, 3000, 0x5EED_0001);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&picture)
        .map_err(other)?;
    with_exif(&jpeg, &exif_block(6))
}

/// 3000×2000 RGBA PNG: the photo pattern with alpha rising from left to right.
///
/// # Errors
/// The PNG encoder's.
pub fn png_rgba() -> io::Result<Vec<u8>> {
    let rgb = photo(3000, 2000, 0x5EED_0002);
    let picture = RgbaImage::from_fn(3000, 2000, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, (x * 255 / 2999) as u8])
    });
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(picture.as_raw(), 3000, 2000, ExtendedColorType::Rgba8)
        .map_err(other)?;
    Ok(png)
}

/// 2000×1500 lossy WebP at quality 80 (libwebp), as cameras and sites produce them.
///
/// # Errors
/// None in practice (libwebp takes any RGB buffer); kept for symmetry.
pub fn webp_photo() -> io::Result<Vec<u8>> {
    let picture = photo(2000, 1500, 0x5EED_0003);
    let encoded = webp::Encoder::from_rgb(picture.as_raw(), 2000, 1500).encode(80.0);
    Ok(encoded.to_vec())
}
