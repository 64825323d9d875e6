//! Writes the deterministic benchmark images for the image analyzers:
//! `cargo run --release -p fileproc-formats --example gen_images -- [DIR]` (default
//! `/tmp/fileproc-images`) writes
//!
//! - `photo-12mp.jpg`: 4000×3000 JPEG (quality 90) with an EXIF APP1 segment inserted by hand
//!   (Make, Model, Orientation 6: displays 3000×4000);
//! - `rgba-3000x2000.png`: 3000×2000 RGBA PNG with a transparent gradient;
//! - `photo-2000x1500.webp`: 2000×1500 lossless WebP (the `image` crate encodes lossless only).
//!
//! The pictures are smooth gradients and shapes with seeded noise, so they compress like photos
//! rather than like flat colour; the same bytes come out on every run.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

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
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let rest = jpeg.strip_prefix(&[0xFF, 0xD8]).ok_or("not a JPEG")?;
    let len = u16::try_from(2 + 6 + tiff.len())?;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(len.to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(rest);
    Ok(out)
}

fn write_jpeg(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let picture = photo(4000, 3000, 0x5EED_0001);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&picture)?;
    let jpeg = with_exif(&jpeg, &exif_block(6))?;
    std::fs::write(dir.join("photo-12mp.jpg"), &jpeg)?;
    println!(
        "photo-12mp.jpg: 4000x3000, EXIF orientation 6, {} bytes",
        jpeg.len()
    );
    Ok(())
}

fn write_png(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let rgb = photo(3000, 2000, 0x5EED_0002);
    let picture = RgbaImage::from_fn(3000, 2000, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, (x * 255 / 2999) as u8])
    });
    let path = dir.join("rgba-3000x2000.png");
    picture.save(&path)?;
    println!(
        "rgba-3000x2000.png: {} bytes",
        std::fs::metadata(&path)?.len()
    );
    Ok(())
}

fn write_webp(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let picture = photo(2000, 1500, 0x5EED_0003);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).write_image(
        picture.as_raw(),
        2000,
        1500,
        image::ExtendedColorType::Rgb8,
    )?;
    std::fs::write(dir.join("photo-2000x1500.webp"), &webp)?;
    println!("photo-2000x1500.webp: lossless, {} bytes", webp.len());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/fileproc-images".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    write_jpeg(dir)?;
    write_png(dir)?;
    write_webp(dir)?;
    Ok(())
}
