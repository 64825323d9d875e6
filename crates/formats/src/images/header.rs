//! What the container of an image says before any pixel is decoded: dimensions, colour model,
//! frames, and the raw EXIF and ICC bytes. Each format's parser (`jpeg.rs`, `png.rs`, `webp.rs`)
//! fills a [`Header`] and checks the image limits as soon as it has read the dimensions, so a
//! decompression bomb fails after a few bytes without any pixel buffer being allocated.

use std::io::{self, BufRead, Read, Seek};

use crate::{FormatError, Limits};

use super::{ColorType, IccProfile};

/// The largest EXIF block read (Exif 2.32 caps an APP1 segment at 64 KiB; PNG `eXIf` and WebP
/// `EXIF` chunks have no cap, so one is set): a larger one is skipped with a warning.
pub(crate) const MAX_EXIF_BYTES: u64 = 4 << 20;

/// The facts of an image read from its container, no pixels decoded.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// Width as stored, in pixels (the canvas for animated WebP).
    pub width: u32,
    /// Height as stored, in pixels.
    pub height: u32,
    /// The colour model of the stored pixels.
    pub color_type: ColorType,
    /// Bits per sample (per palette index for palette PNGs).
    pub bit_depth: u8,
    /// Whether any pixel may be transparent (alpha channel, PNG `tRNS`, WebP alpha flag).
    pub has_alpha: bool,
    /// Frames: 1 for a still image.
    pub frame_count: u32,
    /// Progressive JPEG or Adam7-interlaced PNG.
    pub interlaced: bool,
    /// The raw EXIF block, starting at its TIFF header.
    pub exif: Option<Vec<u8>>,
    /// The embedded ICC profile, when there is one.
    pub icc_profile: Option<IccProfile>,
    /// What a JPEG decoder needs to know about the colour transform.
    pub jpeg: Option<JpegLayout>,
    /// Oddities of the container that did not stop the analysis.
    pub warnings: Vec<String>,
}

impl Header {
    /// A header for a `width` × `height` still image with no metadata yet.
    pub fn new(width: u32, height: u32, color_type: ColorType, bit_depth: u8) -> Self {
        Header {
            width,
            height,
            color_type,
            bit_depth,
            has_alpha: color_type.has_alpha(),
            frame_count: 1,
            interlaced: false,
            exif: None,
            icc_profile: None,
            jpeg: None,
            warnings: Vec::new(),
        }
    }
}

/// The JPEG facts that decide how its samples become RGB (ITU-T T.81, Adobe TN 5116 APP14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JpegLayout {
    /// Components in the frame: 1, 3 or 4.
    pub components: u8,
    /// The Adobe APP14 `transform` byte (0 none/CMYK, 1 YCbCr, 2 YCCK), when the marker is there.
    pub adobe_transform: Option<u8>,
}

/// Fails with `LimitExceeded` when a `width` × `height` image passes `max_image_pixels`,
/// `max_memory_bytes` (at 4 bytes a decoded pixel), `max_image_width` or `max_image_height`; the
/// message names the limit and the value.
///
/// # Errors
/// [`FormatError::LimitExceeded`].
pub(crate) fn check_dimensions(
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<(), FormatError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_image_pixels {
        return Err(FormatError::LimitExceeded(format!(
            "image is {width}x{height} = {pixels} pixels, over the limit of {} (processing.image.max_pixels)",
            limits.max_image_pixels
        )));
    }
    if width > limits.max_image_width {
        return Err(FormatError::LimitExceeded(format!(
            "image is {width} pixels wide, over the limit of {} (processing.image.max_width)",
            limits.max_image_width
        )));
    }
    if height > limits.max_image_height {
        return Err(FormatError::LimitExceeded(format!(
            "image is {height} pixels high, over the limit of {} (processing.image.max_height)",
            limits.max_image_height
        )));
    }
    // The decoded picture alone is at least 4 bytes a pixel (RGBA, 8 bits); copies for scaling
    // come on top, so a picture whose pixels do not fit the budget is refused before decoding.
    let decoded_bytes = pixels.saturating_mul(4);
    if decoded_bytes > limits.max_memory_bytes {
        return Err(FormatError::LimitExceeded(format!(
            "decoding the {width}x{height} image needs {decoded_bytes} bytes, over the limit of {} \
             (processing.memory_limit)",
            limits.max_memory_bytes
        )));
    }
    Ok(())
}

/// Fails with `LimitExceeded` when an animation has (or declares) more than `max_frames` frames.
///
/// # Errors
/// [`FormatError::LimitExceeded`].
pub(crate) fn check_frames(frames: u64, limits: &Limits) -> Result<(), FormatError> {
    if frames > u64::from(limits.max_frames) {
        return Err(FormatError::LimitExceeded(format!(
            "animation has {frames} frames, over the limit of {} (processing.image.max_frames)",
            limits.max_frames
        )));
    }
    Ok(())
}

/// Maps an I/O error while reading `what`: an early end of file means the file is truncated.
pub(crate) fn read_error(what: &str) -> impl FnOnce(io::Error) -> FormatError + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FormatError::Corrupt(format!("the file ends inside the {what}"))
        } else {
            FormatError::Io(e)
        }
    }
}

/// Reads exactly `N` bytes of `what`.
///
/// # Errors
/// `Corrupt` when the file ends first, `Io` otherwise.
pub(crate) fn read_array<const N: usize>(
    r: &mut impl Read,
    what: &str,
) -> Result<[u8; N], FormatError> {
    let mut buf = [0; N];
    r.read_exact(&mut buf).map_err(read_error(what))?;
    Ok(buf)
}

/// Reads `len` declared bytes of `what`. Memory grows with the bytes actually there, not with
/// the declared length, so a lying length costs nothing.
///
/// # Errors
/// `Corrupt` when the file ends before `len` bytes, `Io` otherwise.
pub(crate) fn read_bytes(r: &mut impl Read, len: u64, what: &str) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::with_capacity(usize::try_from(len.min(64 << 10)).unwrap_or(0));
    r.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(FormatError::Corrupt(format!(
            "the file ends inside the {what}"
        )));
    }
    Ok(buf)
}

/// Skips `len` bytes forward. Seeking past the end is not an error here: the next read finds it.
///
/// # Errors
/// `Io` when seeking fails.
pub(crate) fn skip<R: BufRead + Seek>(r: &mut R, len: u64) -> Result<(), FormatError> {
    let len = i64::try_from(len)
        .map_err(|_| FormatError::Corrupt(format!("a declared length of {len} bytes")))?;
    r.seek_relative(len)?;
    Ok(())
}

/// Whether the reader is at the end of its bytes.
///
/// # Errors
/// `Io` when reading fails.
pub(crate) fn at_end(r: &mut impl BufRead) -> Result<bool, FormatError> {
    Ok(r.fill_buf()?.is_empty())
}

/// Removes the `Exif\0\0` prefix some writers put before the TIFF header in PNG `eXIf` and WebP
/// `EXIF` chunks (the JPEG APP1 form, which those containers do not use).
pub(crate) fn strip_exif_prefix(mut raw: Vec<u8>) -> Vec<u8> {
    if raw.starts_with(b"Exif\0\0") {
        raw.drain(..6);
    }
    raw
}

/// The data colour space of an ICC profile (ICC.1:2022 section 7.2.6, bytes 16..20), trimmed,
/// e.g. `RGB`, `CMYK`, `GRAY`; `None` when the header is too short or not ASCII.
pub(crate) fn icc_color_space(head: &[u8]) -> Option<String> {
    let sig = head.get(16..20)?;
    if !sig.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return None;
    }
    let text = String::from_utf8_lossy(sig).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The image type a signature belongs to, for a clearer error when the bytes are another image
/// format than the one expected.
pub(crate) fn sniff(head: &[u8]) -> Option<crate::FileType> {
    use crate::FileType;
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileType::Jpeg)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileType::Png)
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some(FileType::Webp)
    } else {
        None
    }
}

/// The error for bytes that do not start with `expected`'s signature: `TypeMismatch` when they
/// are another image type, `Empty` when there are none, else `Corrupt`.
pub(crate) fn bad_signature(head: &[u8], expected: crate::FileType) -> FormatError {
    if head.is_empty() {
        return FormatError::Empty;
    }
    match sniff(head) {
        Some(other) if other != expected => FormatError::TypeMismatch(format!(
            "the bytes are a {} image, not {}",
            other.as_str().to_uppercase(),
            expected.as_str().to_uppercase()
        )),
        _ => FormatError::Corrupt(format!(
            "not a {} file: the signature is wrong",
            expected.as_str().to_uppercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_limit_is_checked_first_and_named_with_the_value() {
        let err = check_dimensions(20_000, 20_000, &Limits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "limit exceeded: image is 20000x20000 = 400000000 pixels, over the limit of \
             100000000 (processing.image.max_pixels)"
        );
        let err = check_dimensions(20_000, 10, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("20000 pixels wide"), "{err}");
        assert!(
            err.to_string().contains("(processing.image.max_width)"),
            "{err}"
        );
        let err = check_dimensions(10, 16_385, &Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains("(processing.image.max_height)"),
            "{err}"
        );
        assert!(check_dimensions(16_384, 6_000, &Limits::default()).is_ok());
    }

    #[test]
    fn a_lying_length_allocates_only_what_is_there() {
        let mut r: &[u8] = b"abc";
        let err = read_bytes(&mut r, u64::MAX, "chunk").unwrap_err();
        assert_eq!(err.code(), "corrupt_file");
    }

    #[test]
    fn icc_color_space_reads_the_header_signature() {
        let mut head = vec![0u8; 20];
        head[16..20].copy_from_slice(b"RGB ");
        assert_eq!(icc_color_space(&head).as_deref(), Some("RGB"));
        assert_eq!(icc_color_space(&head[..10]), None);
    }

    #[test]
    fn another_image_signature_is_a_type_mismatch() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(
            bad_signature(png, crate::FileType::Jpeg).code(),
            "type_mismatch"
        );
        assert_eq!(
            bad_signature(b"GIF89a", crate::FileType::Png).code(),
            "corrupt_file"
        );
        assert_eq!(
            bad_signature(b"", crate::FileType::Png).code(),
            "empty_file"
        );
    }
}
