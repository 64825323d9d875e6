//! Hostile and broken inputs made in the test: bombs declared in headers, frame floods,
//! truncations, wrong types, cancellation, and deterministic corruption of every small corpus file.

use std::io::Cursor;
use std::sync::atomic::AtomicBool;

use fileproc_formats::images::{JPEG, PNG, WEBP};
use fileproc_formats::{Analysis, Analyzer, Context, DiscardRecords, FormatError, Input, Limits};

fn run(
    analyzer: &dyn Analyzer,
    bytes: Vec<u8>,
    limits: Limits,
    cancelled: bool,
) -> Result<Analysis, FormatError> {
    let cancel = AtomicBool::new(cancelled);
    let (mut progress, mut sink) = (|_| {}, DiscardRecords);
    let mut ctx = Context {
        limits,
        size: Some(bytes.len() as u64),
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let mut file = Cursor::new(bytes);
    analyzer.analyze(Input::Seekable(&mut file), &mut ctx)
}

fn code(analyzer: &dyn Analyzer, bytes: Vec<u8>, limits: Limits) -> (&'static str, String) {
    match run(analyzer, bytes, limits, false) {
        Ok(_) => panic!("expected a failure"),
        Err(e) => (e.code(), e.to_string()),
    }
}

fn corpus(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A PNG of one `IHDR` declaring `width` × `height`, an empty `IDAT` and `IEND` (CRCs zero: the
/// header walk does not need them).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        png.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        png.extend(kind);
        png.extend(data);
        png.extend([0; 4]);
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[]);
    chunk(b"IEND", &[]);
    png
}

#[test]
fn a_tiny_png_declaring_20000_squared_fails_on_pixels_then_width() {
    let (code_, message) = code(&PNG, png_declaring(20_000, 20_000), Limits::default());
    assert_eq!(code_, "limit_exceeded");
    assert_eq!(
        message,
        "limit exceeded: image is 20000x20000 = 400000000 pixels, over the limit of 100000000 \
         (processing.image.max_pixels)"
    );
    let limits = Limits {
        max_image_pixels: 1 << 40,
        ..Limits::default()
    };
    let (code_, message) = code(&PNG, png_declaring(20_000, 20_000), limits);
    assert_eq!(code_, "limit_exceeded");
    assert!(
        message.contains("20000 pixels wide") && message.contains("(processing.image.max_width)")
    );
}

#[test]
fn a_jpeg_frame_of_65535_squared_fails_before_decoding() {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xFF, 0xFF, 0xFF, 3];
    jpeg.extend([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    jpeg.extend([0xFF, 0xDA, 0, 2]);
    let (code_, message) = code(&JPEG, jpeg, Limits::default());
    assert_eq!(code_, "limit_exceeded");
    assert!(message.contains("65535x65535"), "{message}");
}

#[test]
fn animations_past_max_frames_fail_with_the_frame_count() {
    let limits = Limits {
        max_frames: 10,
        ..Limits::default()
    };
    let (code_, message) = code(&PNG, corpus("png/basic_f20.png"), limits.clone());
    assert_eq!(code_, "limit_exceeded");
    assert!(
        message.contains("20 frames") && message.contains("(processing.image.max_frames)"),
        "{message}"
    );
    let limits = Limits {
        max_frames: 3,
        ..limits
    };
    let (code_, message) = code(&WEBP, corpus("webp/random_lossy.webp"), limits);
    assert_eq!(code_, "limit_exceeded");
    assert!(message.contains("4 frames"), "{message}");
}

#[test]
fn images_cut_in_half_fail_as_corrupt() {
    for (analyzer, path) in [
        (&PNG, "png/kodim23.png"),
        (&WEBP, "webp/1.webp"),
        (&WEBP, "webp/1_webp_ll.webp"),
        (&JPEG, "jpeg/cat.jpg"),
        (&JPEG, "jpeg/testJPEG_EXIF.jpg"),
    ] {
        let mut bytes = corpus(path);
        bytes.truncate(bytes.len() / 2);
        assert_eq!(
            code(analyzer, bytes, Limits::default()).0,
            "corrupt_file",
            "{path}"
        );
    }
}

#[test]
fn empty_files_and_other_image_types_are_refused_with_their_codes() {
    for analyzer in [&JPEG, &PNG, &WEBP] {
        assert_eq!(
            code(analyzer, Vec::new(), Limits::default()).0,
            "empty_file"
        );
    }
    let (code_, message) = code(&JPEG, corpus("png/basi2c08.png"), Limits::default());
    assert_eq!(
        (code_, message.as_str()),
        (
            "type_mismatch",
            "type mismatch: the bytes are a PNG image, not JPEG"
        )
    );
    assert_eq!(
        code(&WEBP, b"GIF89a....".to_vec(), Limits::default()).0,
        "corrupt_file"
    );
}

#[test]
fn a_cancelled_analysis_stops_with_cancelled() {
    let result = run(&PNG, corpus("png/kodim23.png"), Limits::default(), true);
    assert_eq!(result.err().map(|e| e.code()), Some("cancelled"));
}

#[test]
fn a_forward_only_input_is_refused() {
    let cancel = AtomicBool::new(false);
    let (mut progress, mut sink) = (|_| {}, DiscardRecords);
    let mut ctx = Context {
        limits: Limits::default(),
        size: None,
        progress: &mut progress,
        records: &mut sink,
        cancel: &cancel,
    };
    let mut bytes: &[u8] = b"\xFF\xD8\xFF";
    let err = JPEG
        .analyze(Input::Stream(&mut bytes), &mut ctx)
        .unwrap_err();
    assert_eq!(err.code(), "unsupported_format");
}

/// A deterministic xorshift generator, so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn corrupted_corpus_files_never_panic_and_fail_with_a_known_code() {
    let known = [
        "corrupt_file",
        "limit_exceeded",
        "unsupported_format",
        "type_mismatch",
        "empty_file",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (analyzer, dir) in [(&JPEG, "jpeg"), (&PNG, "png"), (&WEBP, "webp")] {
        let dir_path = format!("{}/tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir_path).unwrap() {
            let path = entry.unwrap().path();
            let original = std::fs::read(&path).unwrap();
            if original.len() > 64 << 10 || path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            for round in 0..24 {
                let mut bytes = original.clone();
                for _ in 0..1 + round % 4 {
                    let at = rng.below(bytes.len().min(2048));
                    if let Some(b) = bytes.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
                if round % 3 == 0 {
                    bytes.truncate(rng.below(bytes.len()));
                }
                if let Err(e) = run(analyzer, bytes, Limits::default(), false) {
                    assert!(known.contains(&e.code()), "{}: {e}", path.display());
                }
            }
        }
    }
}

#[test]
fn a_picture_whose_pixels_exceed_the_memory_budget_is_refused_before_decoding() {
    // 5000 x 5000 RGB is 75 MB of pixels: within the pixel limit, over a 16 MiB budget.
    let limits = Limits {
        max_memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let (code_, message) = code(&PNG, png_declaring(5_000, 5_000), limits);
    assert_eq!(code_, "limit_exceeded", "{message}");
    assert_eq!(
        message,
        "limit exceeded: decoding the 5000x5000 image needs 100000000 bytes, over the limit of \
         16777216 (processing.memory_limit)"
    );
}
