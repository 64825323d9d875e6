//! The outputs beside the summary: thumbnails at several sizes and the WebP conversion.

use fileproc_formats::images::{JPEG, WEBP};
use fileproc_formats::{ImageFormat, Limits};
use image::GenericImageView;

use super::{analyzed_with, thumbnail};

#[test]
fn several_thumbnail_sizes_are_made_largest_first_with_the_orientation_applied() {
    let limits = Limits {
        thumbnail_sizes: vec![64, 512, 256],
        ..Limits::default()
    };
    let (_, analysis) = analyzed_with(&JPEG, "jpeg/Landscape_6.jpg", limits);
    let dims: Vec<_> = analysis
        .thumbnails
        .iter()
        .map(|t| (t.size, t.image.width, t.image.height))
        .collect();
    assert_eq!(dims, [(512, 512, 341), (256, 256, 171), (64, 64, 43)]);
}

#[test]
fn webp_conversion_is_lossy_full_size_and_upright() {
    let limits = Limits {
        enable_webp: true,
        ..Limits::default()
    };
    let (_, analysis) = analyzed_with(&JPEG, "jpeg/Landscape_6.jpg", limits.clone());
    let webp = analysis.converted.clone().expect("converted");
    assert_eq!(
        (webp.format, webp.width, webp.height),
        (ImageFormat::Webp, 1800, 1200)
    );
    let decoded = image::load_from_memory(&webp.bytes).unwrap();
    assert_eq!(decoded.dimensions(), (1800, 1200));
    let original = std::fs::metadata(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/jpeg/Landscape_6.jpg"
    ))
    .unwrap();
    assert!(
        (webp.bytes.len() as u64) < original.len(),
        "lossy, smaller than the JPEG"
    );
    assert_eq!(thumbnail(&analysis).0.dimensions(), (256, 171));

    let (_, analysis) = analyzed_with(&WEBP, "webp/anim.webp", limits);
    let webp = analysis.converted.clone().expect("converted");
    assert!(
        image::load_from_memory(&webp.bytes)
            .unwrap()
            .color()
            .has_alpha()
    );
    assert!(
        analysis
            .warnings
            .iter()
            .any(|w| w.contains("first of 6 frames"))
    );
}
