//! The JPEG, PNG and WebP analyzers against every corpus file in `tests/data/{jpeg,png,webp}/`
//! (sources in each `SOURCES.md`, facts from `shared/corpus/MANIFEST.tsv`), and against hostile
//! inputs made here (`image_corpus/hostile.rs`); the outputs' sizes and the WebP conversion in
//! `image_corpus/outputs.rs`.

mod common;
#[path = "image_corpus/hostile.rs"]
mod hostile;
#[path = "image_corpus/outputs.rs"]
mod outputs;

use common::{analyze_path, analyze_path_with};
use fileproc_formats::images::{ColorType, ImageSummary, JPEG, PNG, WEBP};
use fileproc_formats::{Analysis, Analyzer, ImageFormat, Limits, Section};
use image::{DynamicImage, GenericImageView};

/// The summary and analysis of a file that must analyze.
fn analyzed(analyzer: &dyn Analyzer, path: &str) -> (ImageSummary, Analysis) {
    analyzed_with(analyzer, path, Limits::default())
}

fn analyzed_with(analyzer: &dyn Analyzer, path: &str, limits: Limits) -> (ImageSummary, Analysis) {
    let (analysis, _) =
        analyze_path_with(analyzer, path, limits).unwrap_or_else(|e| panic!("{path} failed: {e}"));
    let summary = match &analysis.section {
        Section::Jpeg(s) | Section::Png(s) | Section::Webp(s) => s.clone(),
        _ => panic!("{path}: not an image section"),
    };
    (summary, analysis)
}

/// The error code of a file that must fail.
fn error_code(analyzer: &dyn Analyzer, path: &str) -> (&'static str, String) {
    match analyze_path(analyzer, path) {
        Ok(_) => panic!("{path} was expected to fail"),
        Err(e) => (e.code(), e.to_string()),
    }
}

/// The one thumbnail (default sizes: 256), decoded, with its encoding.
fn thumbnail(analysis: &Analysis) -> (DynamicImage, ImageFormat) {
    assert_eq!(
        analysis.thumbnails.len(),
        1,
        "one thumbnail per default size"
    );
    let t = &analysis.thumbnails[0];
    assert_eq!(t.size, 256);
    let decoded = image::load_from_memory(&t.image.bytes).expect("the thumbnail decodes");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (t.image.width, t.image.height)
    );
    (decoded, t.image.format)
}

/// Shape facts every image is checked for.
#[allow(clippy::too_many_arguments)]
fn assert_shape(
    s: &ImageSummary,
    (width, height): (u32, u32),
    color_type: ColorType,
    bit_depth: u8,
    has_alpha: bool,
    frame_count: u32,
) {
    assert_eq!((s.width, s.height), (width, height), "dimensions");
    assert_eq!(s.color_type, color_type, "color_type");
    assert_eq!(s.bit_depth, bit_depth, "bit_depth");
    assert_eq!(s.has_alpha, has_alpha, "has_alpha");
    assert_eq!(s.frame_count, frame_count, "frame_count");
    assert_eq!(s.animated, frame_count > 1, "animated");
}

/// Mean absolute difference of two same-sized pictures' RGB samples, 0..=255.
fn mean_difference(a: &DynamicImage, b: &DynamicImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn every_landscape_orientation_displays_landscape_and_its_thumbnail_matches_orientation_1() {
    let (_, upright) = analyzed(&JPEG, "jpeg/Landscape_1.jpg");
    let (reference, _) = thumbnail(&upright);
    for n in [1u16, 2, 3, 5, 6, 8] {
        let (s, analysis) = analyzed(&JPEG, &format!("jpeg/Landscape_{n}.jpg"));
        let stored = if n >= 5 { (1200, 1800) } else { (1800, 1200) };
        assert_shape(&s, stored, ColorType::Ycbcr, 8, false, 1);
        let exif = s.exif.as_ref().expect("EXIF");
        assert_eq!(exif.orientation, Some(n));
        assert_eq!(
            (s.display_width, s.display_height),
            (1800, 1200),
            "display_landscape"
        );
        let (thumb, format) = thumbnail(&analysis);
        assert_eq!(
            (thumb.width(), thumb.height(), format),
            (256, 171, ImageFormat::Jpeg)
        );
        // The same picture stored turned: once the orientation is applied, nearly identical.
        let diff = mean_difference(&thumb, &reference);
        assert!(
            diff < 4.0,
            "Landscape_{n}: mean difference {diff} from Landscape_1"
        );
    }
}

#[test]
fn orientation_applied_differs_from_the_stored_pixels() {
    // Guards the test above: without the turn, Landscape_3 would not match Landscape_1.
    let (_, upright) = analyzed(&JPEG, "jpeg/Landscape_1.jpg");
    let (reference, _) = thumbnail(&upright);
    let stored = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/jpeg/Landscape_3.jpg"
    ))
    .unwrap()
    .resize_exact(256, 171, image::imageops::FilterType::Triangle);
    assert!(mean_difference(&stored, &reference) > 20.0);
}

#[test]
fn canon_eos_40d_exif_is_read_with_exposure_and_focal_length() {
    let (s, analysis) = analyzed(&JPEG, "jpeg/testJPEG_EXIF.jpg");
    // The EXIF says 3888x2592; the JPEG frame is what counts.
    assert_shape(&s, (100, 68), ColorType::Ycbcr, 8, false, 1);
    let exif = s.exif.expect("EXIF");
    assert_eq!(exif.make.as_deref(), Some("Canon"));
    assert_eq!(exif.model.as_deref(), Some("Canon EOS 40D"));
    assert_eq!(
        exif.software.as_deref(),
        Some("Adobe Photoshop CS3 Macintosh")
    );
    assert_eq!(
        exif.datetime_original.as_deref(),
        Some("2009-08-11T09:09:45.49")
    );
    let exposure = exif.exposure.expect("exposure");
    assert_eq!(exposure.exposure_time, Some(1.0 / 1600.0));
    assert_eq!(exposure.f_number, Some(5.6));
    assert_eq!(exposure.iso, Some(400));
    assert_eq!(exif.focal_length, Some(194.0));
    assert_eq!(exif.orientation, None, "no Orientation tag");
    assert_eq!(exif.gps, None);
    assert_eq!((s.display_width, s.display_height), (100, 68));
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
}

#[test]
fn malformed_exif_is_a_warning_and_the_image_still_processes() {
    let (s, analysis) = analyzed(&JPEG, "jpeg/invalid-exif.jpg");
    assert_shape(&s, (200, 200), ColorType::Ycbcr, 8, false, 1);
    assert_eq!(s.exif, None);
    assert_eq!(analysis.warnings.len(), 1, "{:?}", analysis.warnings);
    assert!(
        analysis.warnings[0].contains("EXIF"),
        "{:?}",
        analysis.warnings
    );
    let (thumb, _) = thumbnail(&analysis);
    assert_eq!(
        thumb.dimensions(),
        (200, 200),
        "smaller than 256: not enlarged"
    );
}

#[test]
fn adobe_cmyk_jpeg_thumbnail_is_red_in_the_upper_left_and_black_in_the_lower_right() {
    let (s, analysis) = analyzed(&JPEG, "jpeg/pil_sample_cmyk.jpg");
    assert_shape(&s, (100, 100), ColorType::Cmyk, 8, false, 1);
    let (thumb, format) = thumbnail(&analysis);
    assert_eq!(format, ImageFormat::Jpeg);
    let rgb = thumb.to_rgb8();
    let [r, g, b] = rgb.get_pixel(0, 0).0;
    assert!(r > 200 && g < 60 && b < 60, "upper-left is {r},{g},{b}");
    let [r, g, b] = rgb.get_pixel(99, 99).0;
    assert!(r < 30 && g < 30 && b < 30, "lower-right is {r},{g},{b}");
    // Scaled while decoding (a 32 px thumbnail decodes at 1/2): the CMYK conversion still holds.
    let limits = Limits {
        thumbnail_sizes: vec![32],
        ..Limits::default()
    };
    let (_, analysis) = analyzed_with(&JPEG, "jpeg/pil_sample_cmyk.jpg", limits);
    let small = image::load_from_memory(&analysis.thumbnails[0].image.bytes).unwrap();
    assert_eq!(small.dimensions(), (32, 32));
    let [r, g, b] = small.to_rgb8().get_pixel(0, 0).0;
    assert!(
        r > 200 && g < 60 && b < 60,
        "scaled upper-left is {r},{g},{b}"
    );
}

#[test]
fn progressive_jpeg_reports_its_icc_profile() {
    let (s, analysis) = analyzed(&JPEG, "jpeg/cat.jpg");
    assert_shape(&s, (320, 240), ColorType::Ycbcr, 8, false, 1);
    assert!(s.interlaced, "progressive");
    let icc = s.icc_profile.expect("ICC profile");
    assert_eq!((icc.size, icc.color_space.as_deref()), (3048, Some("RGB")));
    assert_eq!(thumbnail(&analysis).0.dimensions(), (256, 192));
}

#[test]
fn truncated_jpeg_whose_header_reads_fails_as_corrupt() {
    let (code, message) = error_code(&JPEG, "jpeg/truncated_jpeg.jpg");
    assert_eq!(code, "corrupt_file", "{message}");
}

#[test]
fn jpeg_with_a_corrupt_header_fails_as_corrupt() {
    let (code, message) = error_code(&JPEG, "jpeg/corrupt-header.jpg");
    assert_eq!(code, "corrupt_file", "{message}");
}

#[test]
fn sixteen_bit_rgba_png_keeps_alpha_in_a_png_thumbnail() {
    let (s, analysis) = analyzed(&PNG, "png/basn6a16.png");
    assert_shape(&s, (32, 32), ColorType::Rgba, 16, true, 1);
    let (thumb, format) = thumbnail(&analysis);
    assert_eq!((thumb.dimensions(), format), ((32, 32), ImageFormat::Png));
    assert!(thumb.color().has_alpha());
}

#[test]
fn palette_png_with_trns_has_alpha() {
    let (s, analysis) = analyzed(&PNG, "png/tbbn3p08.png");
    assert_shape(&s, (32, 32), ColorType::Palette, 8, true, 1);
    assert_eq!(thumbnail(&analysis).1, ImageFormat::Png);
}

#[test]
fn interlaced_rgb_png_is_opaque_with_a_jpeg_thumbnail() {
    let (s, analysis) = analyzed(&PNG, "png/basi2c08.png");
    assert_shape(&s, (32, 32), ColorType::Rgb, 8, false, 1);
    assert!(s.interlaced);
    assert_eq!(thumbnail(&analysis).1, ImageFormat::Jpeg);
}

#[test]
fn apng_is_animated_with_twenty_frames_and_a_first_frame_thumbnail() {
    let (s, analysis) = analyzed(&PNG, "png/basic_f20.png");
    assert_shape(&s, (100, 100), ColorType::Rgba, 8, true, 20);
    let (thumb, format) = thumbnail(&analysis);
    assert_eq!((thumb.dimensions(), format), ((100, 100), ImageFormat::Png));
}

#[test]
fn real_world_pngs_give_their_dimensions_and_scaled_thumbnails() {
    let (s, analysis) = analyzed(&PNG, "png/kodim23.png");
    assert_shape(&s, (768, 512), ColorType::Rgb, 8, false, 1);
    assert_eq!(thumbnail(&analysis).0.dimensions(), (256, 171));
    let (s, analysis) = analyzed(&PNG, "png/lorem_ipsum_screenshot.png");
    assert_shape(&s, (935, 534), ColorType::Rgba, 8, true, 1);
    assert_eq!(thumbnail(&analysis).0.dimensions(), (256, 146));
}

#[test]
fn png_exif_chunk_before_idat_gives_orientation_6_and_the_icc_profile() {
    let (s, analysis) = analyzed(&PNG, "png/F-exif-chunk-early.png");
    assert_shape(&s, (400, 400), ColorType::Rgb, 8, false, 1);
    assert_eq!(s.exif.and_then(|e| e.orientation), Some(6));
    let icc = s.icc_profile.expect("iCCP");
    assert_eq!(icc.size, 672);
    let (thumb, _) = thumbnail(&analysis);
    let stored = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/png/F-exif-chunk-early.png"
    ))
    .unwrap()
    .resize_exact(256, 256, image::imageops::FilterType::Triangle);
    let turned = mean_difference(&thumb, &stored.rotate90());
    let unturned = mean_difference(&thumb, &stored);
    assert!(
        turned < 2.0 && unturned > 10.0 * turned,
        "turned 90° clockwise: {turned}, not turned: {unturned}"
    );
}

#[test]
fn png_declaring_65536_squared_pixels_fails_on_the_pixel_limit() {
    let (code, message) = error_code(&PNG, "png/65536-uint32-limit.png");
    assert_eq!(code, "limit_exceeded");
    assert!(
        message.contains("65536x65536 = 4294967296 pixels"),
        "{message}"
    );
    assert!(
        message.contains("(processing.image.max_pixels)"),
        "{message}"
    );
}

#[test]
fn truncated_png_and_png_with_a_bad_signature_fail_as_corrupt() {
    assert_eq!(
        error_code(&PNG, "png/x_unexpected_eof.png").0,
        "corrupt_file"
    );
    assert_eq!(error_code(&PNG, "png/xs1n0g01.png").0, "corrupt_file");
}

#[test]
fn lossy_webp_is_opaque_rgb() {
    let (s, analysis) = analyzed(&WEBP, "webp/1.webp");
    assert_shape(&s, (550, 368), ColorType::Rgb, 8, false, 1);
    assert_eq!(thumbnail(&analysis).1, ImageFormat::Jpeg);
    let (s, _) = analyzed(&WEBP, "webp/dark.webp");
    assert_shape(&s, (1, 1), ColorType::Rgb, 8, false, 1);
}

#[test]
fn webp_with_alpha_lossless_or_lossy_keeps_alpha_in_a_png_thumbnail() {
    for path in [
        "webp/1_webp_ll.webp",
        "webp/1_webp_a.webp",
        "webp/testWebp_Alpha_Lossy.webp",
    ] {
        let (s, analysis) = analyzed(&WEBP, path);
        assert_shape(&s, (400, 301), ColorType::Rgba, 8, true, 1);
        let (thumb, format) = thumbnail(&analysis);
        assert_eq!(
            (thumb.dimensions(), format),
            ((256, 193), ImageFormat::Png),
            "{path}"
        );
        assert!(thumb.color().has_alpha());
    }
}

#[test]
fn animated_webps_count_their_frames() {
    let (s, analysis) = analyzed(&WEBP, "webp/random_lossy.webp");
    assert_shape(&s, (99, 87), ColorType::Rgb, 8, false, 4);
    assert_eq!(thumbnail(&analysis).0.dimensions(), (99, 87));
    let (s, analysis) = analyzed(&WEBP, "webp/anim.webp");
    assert_shape(&s, (200, 200), ColorType::Rgba, 8, true, 6);
    assert_eq!(thumbnail(&analysis).1, ImageFormat::Png);
}

#[test]
fn webp_orientation_6_is_applied_to_the_thumbnail() {
    let (s, analysis) = analyzed(&WEBP, "webp/hopper_orientation_6.webp");
    assert_shape(&s, (128, 128), ColorType::Rgb, 8, false, 1);
    assert_eq!(s.exif.and_then(|e| e.orientation), Some(6));
    let (thumb, _) = thumbnail(&analysis);
    let stored = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/webp/hopper_orientation_6.webp"
    ))
    .unwrap();
    let turned = mean_difference(&thumb, &stored.rotate90());
    let unturned = mean_difference(&thumb, &stored);
    assert!(
        turned < 5.0 && unturned > 10.0 * turned,
        "turned {turned}, unturned {unturned}"
    );
}
