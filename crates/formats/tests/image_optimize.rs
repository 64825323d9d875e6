//! The optimised variant (`Limits::optimize_images`, `Limits::strip_metadata`) on the corpus
//! files of `tests/data/{png,jpeg,webp}/` and on files made from them here: the variant decodes
//! to the very same pixels, is smaller, and keeps or drops exactly the metadata it should.

use std::io::Cursor;

use ::exif::experimental::Writer;
use ::exif::{Field, In, Rational, Tag, Value};
use fileproc_formats::images::ImageSummary;
use fileproc_formats::{
    Analysis, DiscardRecords, FileType, ImageFormat, Limits, Optimized, Section, analyze_whole,
};
use image::AnimationDecoder;

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn optimizing(strip: bool) -> Limits {
    Limits {
        optimize_images: true,
        strip_metadata: strip,
        ..Limits::default()
    }
}

fn analyze(file_type: FileType, bytes: &[u8], limits: Limits) -> (ImageSummary, Analysis) {
    let analysis = analyze_whole(
        file_type,
        &mut Cursor::new(bytes),
        Some(bytes.len() as u64),
        limits,
        &mut DiscardRecords,
    )
    .unwrap_or_else(|e| panic!("analysis failed: {e}"));
    let summary = match &analysis.section {
        Section::Jpeg(s) | Section::Png(s) | Section::Webp(s) => s.clone(),
        _ => panic!("not an image section"),
    };
    (summary, analysis)
}

/// The variant of `bytes`, which must be made.
fn variant(file_type: FileType, bytes: &[u8], limits: Limits) -> Optimized {
    let (summary, analysis) = analyze(file_type, bytes, limits);
    let optimized = analysis.optimized.expect("a variant");
    assert_eq!(optimized.original_bytes, bytes.len() as u64);
    assert!(optimized.image.bytes.len() < bytes.len(), "smaller");
    assert_eq!(
        optimized.saving_bytes(),
        (bytes.len() - optimized.image.bytes.len()) as u64
    );
    assert_eq!(
        (optimized.image.width, optimized.image.height),
        (summary.width, summary.height)
    );
    optimized
}

/// Both decode to the same samples, compared at 16 bits per channel with alpha.
fn assert_same_pixels(a: &[u8], b: &[u8]) {
    let (a, b) = (
        image::load_from_memory(a).unwrap(),
        image::load_from_memory(b).unwrap(),
    );
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    assert!(a.to_rgba16() == b.to_rgba16(), "the pixels differ");
}

/// The chunk types of a PNG, in order.
fn png_chunks(png: &[u8]) -> Vec<String> {
    let mut at = 8;
    let mut out = Vec::new();
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    out
}

/// The data of the first PNG chunk of type `kind`.
fn png_chunk<'a>(png: &'a [u8], kind: &str) -> Option<&'a [u8]> {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        if &png[at + 4..at + 8] == kind.as_bytes() {
            return Some(&png[at + 8..at + 8 + len]);
        }
        at += 12 + len;
    }
    None
}

/// An `iCCP` chunk's profile, inflated.
fn icc_of_png(png: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let chunk = png_chunk(png, "iCCP").expect("iCCP");
    let name_end = chunk.iter().position(|&b| b == 0).unwrap();
    let mut profile = Vec::new();
    flate2::read::ZlibDecoder::new(&chunk[name_end + 2..])
        .read_to_end(&mut profile)
        .unwrap();
    profile
}

/// The (tag, IFD) of every EXIF field in a JPEG, PNG or WebP (through kamadak-exif's container
/// reader, which handles all three), with the orientation.
fn exif_fields(bytes: &[u8]) -> (Vec<Tag>, Option<u32>) {
    let Ok(exif) = ::exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return (Vec::new(), None);
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0));
    (exif.fields().map(|f| f.tag).collect(), orientation)
}

#[test]
fn optimised_pngs_decode_to_identical_pixels_and_are_smaller() {
    // (file, its size, the variant's size from oxipng 10.2.1 at preset 2). 16-bit with alpha,
    // palette with tRNS, interlaced (oxipng writes it non-interlaced), photo, screenshot.
    let cases = [
        ("png/kodim23.png", 557_596, 547_344),
        ("png/basn6a16.png", 3_435, 2_269),
        ("png/tbbn3p08.png", 1_499, 1_441),
        ("png/lorem_ipsum_screenshot.png", 171_016, 51_137),
        ("png/basi2c08.png", 315, 138),
    ];
    for (path, original_bytes, optimized_bytes) in cases {
        let original = data(path);
        let optimized = variant(FileType::Png, &original, optimizing(false));
        assert_eq!(
            (optimized.original_bytes, optimized.image.bytes.len()),
            (original_bytes, optimized_bytes),
            "{path}"
        );
        assert_eq!(optimized.image.format, ImageFormat::Png);
        assert!(!optimized.metadata_stripped);
        assert_same_pixels(&original, &optimized.image.bytes);
    }
}

#[test]
fn without_stripping_the_png_keeps_its_text_chunks() {
    let original = data("png/kodim23.png");
    let optimized = variant(FileType::Png, &original, optimizing(false));
    assert_eq!(
        png_chunks(&optimized.image.bytes),
        ["IHDR", "gAMA", "sRGB", "tEXt", "IDAT", "IEND"]
    );
}

#[test]
fn stripping_a_png_drops_text_but_keeps_gamma_and_srgb() {
    let original = data("png/kodim23.png");
    let optimized = variant(FileType::Png, &original, optimizing(true));
    assert!(optimized.metadata_stripped);
    assert_eq!(
        png_chunks(&optimized.image.bytes),
        ["IHDR", "gAMA", "sRGB", "IDAT", "IEND"]
    );
    assert_same_pixels(&original, &optimized.image.bytes);
}

#[test]
fn stripping_a_png_keeps_its_icc_profile_and_only_the_orientation_of_its_exif() {
    let original = data("png/F-exif-chunk-early.png");
    let (before, _) = analyze(FileType::Png, &original, Limits::default());
    let optimized = variant(FileType::Png, &original, optimizing(true));
    let bytes = &optimized.image.bytes;
    assert_eq!(
        png_chunks(bytes),
        // The 8-bit RGB picture has few colours: oxipng made it a palette, every pixel kept.
        ["IHDR", "eXIf", "iCCP", "pHYs", "PLTE", "IDAT", "IEND"]
    );
    assert_eq!(icc_of_png(bytes), icc_of_png(&original));
    assert_eq!(before.exif.unwrap().orientation, Some(6));
    assert_eq!(exif_fields(bytes), (vec![Tag::Orientation], Some(6)));
    let (after, _) = analyze(FileType::Png, bytes, Limits::default());
    assert_eq!(
        (after.display_width, after.display_height),
        (before.display_width, before.display_height)
    );
    assert_same_pixels(&original, bytes);
}

#[test]
fn an_apng_keeps_every_frame() {
    let original = data("png/basic_f20.png");
    let (_, analysis) = analyze(FileType::Png, &original, optimizing(true));
    let Some(optimized) = analysis.optimized else {
        panic!("no variant: {:?}", analysis.warnings)
    };
    let frames = |png: &[u8]| -> Vec<Vec<u8>> {
        image::codecs::png::PngDecoder::new(Cursor::new(png))
            .unwrap()
            .apng()
            .unwrap()
            .into_frames()
            .map(|f| f.unwrap().into_buffer().into_raw())
            .collect()
    };
    let (before, after) = (frames(&original), frames(&optimized.image.bytes));
    assert_eq!(after.len(), 20);
    assert!(before == after, "the frames differ");
    let (summary, _) = analyze(FileType::Png, &optimized.image.bytes, Limits::default());
    assert_eq!(summary.frame_count, 20);
}

/// An EXIF block (TIFF) with the orientation, a camera and a GPS position.
fn camera_exif(orientation: u16) -> Vec<u8> {
    let fields = [
        (
            Tag::Orientation,
            In::PRIMARY,
            Value::Short(vec![orientation]),
        ),
        (
            Tag::Make,
            In::PRIMARY,
            Value::Ascii(vec![b"Canon".to_vec()]),
        ),
        (
            Tag::Model,
            In::PRIMARY,
            Value::Ascii(vec![b"Canon EOS 40D".to_vec()]),
        ),
        (
            Tag::GPSLatitudeRef,
            In::PRIMARY,
            Value::Ascii(vec![b"N".to_vec()]),
        ),
        (
            Tag::GPSLatitude,
            In::PRIMARY,
            Value::Rational(vec![
                Rational::from((48, 1)),
                Rational::from((51, 1)),
                Rational::from((24, 1)),
            ]),
        ),
        (
            Tag::GPSLongitudeRef,
            In::PRIMARY,
            Value::Ascii(vec![b"E".to_vec()]),
        ),
        (
            Tag::GPSLongitude,
            In::PRIMARY,
            Value::Rational(vec![
                Rational::from((2, 1)),
                Rational::from((21, 1)),
                Rational::from((3, 1)),
            ]),
        ),
    ]
    .map(|(tag, ifd_num, value)| Field {
        tag,
        ifd_num,
        value,
    });
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, true).unwrap();
    tiff.into_inner()
}

/// The marker segments of a JPEG before its first scan: (marker, whole segment bytes).
fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut at = 2;
    let mut out = Vec::new();
    loop {
        let code = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        out.push((code, jpeg[at..at + 2 + len].to_vec()));
        at += 2 + len;
        if code == 0xDA {
            return out;
        }
    }
}

/// `jpeg` with its APP1 segments replaced by one holding `exif`, and `extra` segments (whole,
/// with their markers) after it, both after its first segment (APP0).
fn with_segments(jpeg: &[u8], exif: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let segments = jpeg_segments(jpeg);
    let scan_start = 2 + segments.iter().map(|(_, s)| s.len()).sum::<usize>();
    for (i, (code, segment)) in segments.into_iter().enumerate() {
        if code != 0xE1 {
            out.extend_from_slice(&segment);
        }
        if i == 0 {
            let payload = [b"Exif\0\0".as_slice(), exif].concat();
            out.extend_from_slice(&[0xFF, 0xE1]);
            out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
            out.extend_from_slice(&payload);
            out.extend_from_slice(&extra.concat());
        }
    }
    out.extend_from_slice(&jpeg[scan_start..]);
    out
}

#[test]
fn stripping_a_jpeg_drops_gps_and_camera_and_keeps_orientation_icc_and_image_data() {
    let icc: Vec<u8> = jpeg_segments(&data("jpeg/cat.jpg"))
        .into_iter()
        .find(|(code, _)| *code == 0xE2)
        .unwrap()
        .1;
    let comment = [&[0xFF, 0xFE, 0, 7][..], b"hello"].concat();
    let original = with_segments(
        &data("jpeg/Landscape_6.jpg"),
        &camera_exif(6),
        &[icc.clone(), comment],
    );
    let (summary, _) = analyze(FileType::Jpeg, &original, Limits::default());
    let exif = summary.exif.unwrap();
    assert_eq!(
        (exif.make.as_deref(), exif.orientation, exif.gps.is_some()),
        (Some("Canon"), Some(6), true)
    );

    let optimized = variant(FileType::Jpeg, &original, optimizing(true));
    assert_eq!(optimized.image.format, ImageFormat::Jpeg);
    assert!(optimized.metadata_stripped);
    let bytes = &optimized.image.bytes;
    assert_eq!(exif_fields(bytes), (vec![Tag::Orientation], Some(6)));
    let segments = jpeg_segments(bytes);
    let codes: Vec<u8> = segments.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        [
            0xE0, 0xE1, 0xE2, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA
        ]
    );
    assert_eq!(segments[2].1, icc, "the ICC profile, byte for byte");
    // The entropy-coded data is the original's, to the last byte.
    assert!(original.ends_with(&bytes[bytes.len() - 300_000..]));
    let (after, _) = analyze(FileType::Jpeg, bytes, Limits::default());
    assert_eq!((after.display_width, after.display_height), (1800, 1200));
    assert!(after.exif.unwrap().gps.is_none());
    assert_same_pixels(&original, bytes);
}

#[test]
fn stripping_a_camera_jpeg_without_orientation_leaves_no_exif_at_all() {
    let original = data("jpeg/testJPEG_EXIF.jpg");
    let optimized = variant(FileType::Jpeg, &original, optimizing(true));
    let codes: Vec<u8> = jpeg_segments(&optimized.image.bytes)
        .iter()
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(
        codes,
        [0xE0, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA]
    );
    assert_eq!(exif_fields(&optimized.image.bytes), (vec![], None));
    assert_same_pixels(&original, &optimized.image.bytes);
}

#[test]
fn stripping_a_progressive_jpeg_keeps_its_icc_profile() {
    let original = data("jpeg/cat.jpg");
    let optimized = variant(FileType::Jpeg, &original, optimizing(true));
    let before = jpeg_segments(&original);
    let after = jpeg_segments(&optimized.image.bytes);
    let icc = |s: &[(u8, Vec<u8>)]| s.iter().find(|(c, _)| *c == 0xE2).unwrap().1.clone();
    assert_eq!(icc(&after), icc(&before));
    assert!(!after.iter().any(|(c, _)| matches!(c, 0xE1 | 0xFE)));
    assert_same_pixels(&original, &optimized.image.bytes);
}

/// A RIFF chunk, padded to an even size.
fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// A WebP's chunks: (FourCC, whole chunk bytes).
fn webp_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut at = 12;
    let mut out = Vec::new();
    while at + 8 <= webp.len() {
        let len = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
        let whole = 8 + len + (len & 1);
        out.push((
            webp[at..at + 4].try_into().unwrap(),
            webp[at..at + whole].to_vec(),
        ));
        at += whole;
    }
    out
}

#[test]
fn stripping_a_webp_leaves_a_valid_webp_with_the_same_pixels_and_only_the_orientation() {
    // hopper_orientation_6.webp with a camera EXIF and an XMP packet in place of its EXIF.
    let hopper = data("webp/hopper_orientation_6.webp");
    let mut chunks: Vec<Vec<u8>> = webp_chunks(&hopper)
        .into_iter()
        .filter(|(kind, _)| kind != b"EXIF")
        .map(|(_, chunk)| chunk)
        .collect();
    chunks[0][8] |= 0x08 | 0x04; // VP8X: EXIF and XMP
    chunks.push(riff_chunk(b"EXIF", &camera_exif(6)));
    chunks.push(riff_chunk(
        b"XMP ",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>",
    ));
    let body = chunks.concat();
    let original = [
        b"RIFF".as_slice(),
        &u32::try_from(body.len() + 4).unwrap().to_le_bytes(),
        b"WEBP",
        &body,
    ]
    .concat();
    assert_eq!(exif_fields(&original).1, Some(6));

    let optimized = variant(FileType::Webp, &original, optimizing(true));
    let bytes = &optimized.image.bytes;
    assert_eq!(optimized.image.format, ImageFormat::Webp);
    let kinds: Vec<[u8; 4]> = webp_chunks(bytes).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, [*b"VP8X", *b"VP8 ", *b"EXIF"]);
    assert_eq!(bytes[20], 0x08, "VP8X flags: EXIF only");
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize,
        bytes.len() - 8
    );
    assert_eq!(exif_fields(bytes), (vec![Tag::Orientation], Some(6)));
    let (after, _) = analyze(FileType::Webp, bytes, Limits::default());
    assert_eq!(after.exif.unwrap().orientation, Some(6));
    assert_same_pixels(&original, bytes);
    assert_same_pixels(&hopper, bytes);
}

#[test]
fn no_variant_without_optimize_or_for_a_jpeg_or_webp_without_strip() {
    for (file_type, path) in [
        (FileType::Png, "png/kodim23.png"),
        (FileType::Jpeg, "jpeg/cat.jpg"),
        (FileType::Webp, "webp/hopper_orientation_6.webp"),
    ] {
        let bytes = data(path);
        let off = Limits {
            strip_metadata: true,
            ..Limits::default()
        };
        assert!(
            analyze(file_type, &bytes, off).1.optimized.is_none(),
            "{path}"
        );
        if file_type != FileType::Png {
            let (_, analysis) = analyze(file_type, &bytes, optimizing(false));
            assert!(analysis.optimized.is_none(), "{path}");
            assert!(analysis.warnings.is_empty(), "{path}");
        }
    }
}

#[test]
fn a_file_with_nothing_to_strip_gets_no_variant() {
    let (_, analysis) = analyze(FileType::Webp, &data("webp/anim.webp"), optimizing(true));
    assert!(analysis.optimized.is_none());
    assert_eq!(analysis.warnings, Vec::<String>::new());
}

#[test]
fn a_png_whose_pixels_would_take_oxipng_past_the_memory_limit_gets_no_variant() {
    // 1000x1000 RGBA of zeros: a file of a few KiB whose 4 MB of pixels decode within an 8 MiB
    // budget, but which oxipng would hold about three times over.
    let mut bytes = Vec::new();
    image::RgbaImage::new(1000, 1000)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let limits = Limits {
        max_memory_bytes: 8 << 20,
        ..optimizing(false)
    };
    let (_, analysis) = analyze(FileType::Png, &bytes, limits);
    assert!(analysis.optimized.is_none());
    assert_eq!(
        analysis.warnings,
        [
            "no optimised PNG: recompressing its pixels would take about 12000000 bytes, over the \
          memory limit of 8388608 (processing.memory_limit)"
        ]
    );
}

#[test]
fn a_png_larger_than_the_memory_limit_gets_no_variant_and_a_warning() {
    // A 32x32 PNG carrying 256 KiB in a private chunk (which decoders skip without holding
    // it): its pixels fit a 64 KiB budget, its bytes do not.
    let original = data("png/basn6a16.png");
    let text_len = 256 << 10;
    let mut text = vec![b'a'; 12 + text_len];
    text[..4].copy_from_slice(&u32::try_from(text_len).unwrap().to_be_bytes());
    text[4..8].copy_from_slice(b"prVt");
    let crc = {
        let mut h = crc32fast::Hasher::new();
        h.update(&text[4..8 + text_len]);
        h.finalize()
    };
    text[8 + text_len..].copy_from_slice(&crc.to_be_bytes());
    let bytes = [&original[..33], &text, &original[33..]].concat();
    let limits = Limits {
        max_memory_bytes: 64 << 10,
        ..optimizing(false)
    };
    let (_, analysis) = analyze(FileType::Png, &bytes, limits);
    assert!(analysis.optimized.is_none());
    assert_eq!(
        analysis.warnings,
        [format!(
            "no optimised variant: the file's {} bytes are over the memory limit of 65536 \
             (processing.memory_limit)",
            bytes.len()
        )]
    );
}

/// Times oxipng at presets 1, 2 and 3 on the benchmark PNG (3000×2000 RGBA, 13.8 MB) and on
/// kodim23.png, once each, with the variant's options but no timeout; prints time and bytes
/// saved. A measurement for choosing `optimize_level`, not a check:
/// `cargo test -p fileproc-formats --test image_optimize -- --ignored --nocapture oxipng_presets`.
#[test]
#[ignore = "a measurement: several seconds a preset"]
fn oxipng_presets_timed() {
    let inputs = [
        (
            "bench 3000x2000 RGBA",
            fileproc_bench_inputs::images::png_rgba().unwrap(),
        ),
        ("kodim23 768x512 RGB", data("png/kodim23.png")),
    ];
    for (name, png) in &inputs {
        for preset in [1, 2, 3] {
            let mut options = oxipng::Options::from_preset(preset);
            options.strip = oxipng::StripChunks::None;
            let started = std::time::Instant::now();
            let out = oxipng::optimize_from_memory(png, &options).unwrap();
            let elapsed = started.elapsed();
            let saved = png.len() - out.len();
            println!(
                "{name}: preset {preset}: {:.2} s, {} -> {} bytes, {saved} saved ({:.1} %)",
                elapsed.as_secs_f64(),
                png.len(),
                out.len(),
                saved as f64 * 100.0 / png.len() as f64
            );
        }
    }
}
