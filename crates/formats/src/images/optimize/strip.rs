//! Metadata left out of a JPEG, PNG or WebP container without touching its coded image data:
//! each walk copies the segments or chunks that decide how the picture is decoded and shown, byte
//! for byte, drops the others, and puts back a minimal EXIF block (see [`orientation_exif`]) when
//! the picture must be turned for display.
//!
//! These walks are written here rather than with img-parts: img-parts leaves everything after a
//! JPEG's first scan as one opaque block (so a trailer after EOI, such as a Multi-Picture
//! Format's second image, would stay) and keeps a WebP's `VP8X` XMP flag when the `XMP ` chunk
//! goes. Each walk is a few dozen lines over a slice, bounds-checked, and fails with a message
//! (the caller's warning) on a container it cannot follow to its end.

use ::exif::experimental::Writer;
use ::exif::{Field, In, Tag, Value};

/// The EXIF block (a TIFF structure, Exif 2.32 section 4.5) holding only the `Orientation` tag
/// (0x0112), big-endian; `None` for orientation 1 (as stored) or a value outside 2..=8, which
/// need no block at all.
///
/// # Errors
/// The writer's message (it does not fail for one SHORT field).
pub(crate) fn orientation_exif(orientation: u16) -> Result<Option<Vec<u8>>, String> {
    if !(2..=8).contains(&orientation) {
        return Ok(None);
    }
    let field = Field {
        tag: Tag::Orientation,
        ifd_num: In::PRIMARY,
        value: Value::Short(vec![orientation]),
    };
    let mut writer = Writer::new();
    writer.push_field(&field);
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer
        .write(&mut tiff, false)
        .map_err(|e| format!("no optimised variant: writing the orientation EXIF failed: {e}"))?;
    Ok(Some(tiff.into_inner()))
}

/// The PNG signature (PNG spec, 3rd edition, section 5.2).
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The ancillary PNG chunks kept: those that change how the pixels are shown (colour space:
/// `cICP`, `mDCV`, `cLLI`, `iCCP`, `sRGB`, `gAMA`, `cHRM`; pixel aspect: `pHYs`; background:
/// `bKGD`; transparency: `tRNS`) and the APNG animation (`acTL`, `fcTL`, `fdAT`). Critical chunks
/// (`IHDR`, `PLTE`, `IDAT`, `IEND`, and unknown ones, which a decoder must not skip) are always
/// kept. Dropped: `tEXt`, `zTXt`, `iTXt` (XMP included), `tIME`, `eXIf` (replaced), and whatever
/// only describes the data (`sBIT`, `hIST`, `sPLT`, `oFFs`, `sCAL`, `pCAL`) or is private.
const PNG_KEPT: [&[u8; 4]; 13] = [
    b"cICP", b"mDCV", b"cLLI", b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"pHYs", b"bKGD", b"tRNS",
    b"acTL", b"fcTL", b"fdAT",
];

/// `png` without its metadata chunks; the first `eXIf` chunk's place takes `exif` (when given),
/// in an `eXIf` chunk of its own. Bytes after `IEND` are dropped.
///
/// # Errors
/// A warning when the chunks cannot be followed to `IEND`.
pub(crate) fn png(png: &[u8], exif: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let broken = || "no optimised variant: the PNG's chunks could not be followed".to_owned();
    let mut body = png.strip_prefix(PNG_SIGNATURE).ok_or_else(broken)?;
    let mut out = Vec::with_capacity(png.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut exif = exif;
    loop {
        let (len, kind) = match body {
            [l0, l1, l2, l3, k0, k1, k2, k3, ..] => (
                u32::from_be_bytes([*l0, *l1, *l2, *l3]),
                [*k0, *k1, *k2, *k3],
            ),
            _ => return Err(broken()),
        };
        let total = usize::try_from(len).map_err(|_| broken())?.checked_add(12);
        let chunk = total.and_then(|t| body.get(..t)).ok_or_else(broken)?;
        body = &body[chunk.len()..];
        let critical = kind[0].is_ascii_uppercase();
        if &kind == b"eXIf" {
            if let Some(exif) = exif.take() {
                push_png_chunk(&mut out, b"eXIf", exif);
            }
        } else if critical || PNG_KEPT.contains(&&kind) {
            out.extend_from_slice(chunk);
        }
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// Adds a chunk to a PNG: length, type, data, CRC-32 of type and data (section 5.3).
pub(super) fn push_png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// The prefix of an EXIF APP1 segment (Exif 2.32 section 4.5.4).
const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// `jpeg` without its metadata segments, and with `exif` (when given) in an APP1 segment after
/// the leading APP0 ones. Kept: APP0 `JFIF\0` (pixel density), APP2 `ICC_PROFILE\0` (the
/// colours), APP14 `Adobe` (the colour transform), and every segment of the coding (tables,
/// frame, scans, restart intervals: ITU-T T.81 annex B) with the entropy-coded data between
/// them. Dropped: APP1 (EXIF, XMP, extended XMP), APP13 (Photoshop IRB, IPTC), COM, every other
/// APPn (MPF, FlashPix, JFXX thumbnails, maker data), and anything after EOI.
///
/// # Errors
/// A warning when the segments cannot be followed to EOI.
pub(crate) fn jpeg(jpeg: &[u8], exif: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let broken = || "no optimised variant: the JPEG's segments could not be followed".to_owned();
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(broken());
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut exif = exif;
    let mut at = 2;
    loop {
        // A marker: 0xFF, any fill 0xFF bytes, then its code (T.81 B.1.1.2).
        if jpeg.get(at) != Some(&0xFF) {
            return Err(broken());
        }
        while jpeg.get(at) == Some(&0xFF) {
            at += 1;
        }
        let code = *jpeg.get(at).ok_or_else(broken)?;
        at += 1;
        if code == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        if matches!(code, 0x01 | 0xD0..=0xD7) {
            out.extend_from_slice(&[0xFF, code]);
            continue;
        }
        // The segment: its 2-byte length (which counts itself), then its body.
        let len = match jpeg.get(at..at + 2) {
            Some(&[hi, lo]) if u16::from_be_bytes([hi, lo]) >= 2 => {
                usize::from(u16::from_be_bytes([hi, lo]))
            }
            _ => return Err(broken()),
        };
        let segment = jpeg.get(at..at + len).ok_or_else(broken)?;
        at += len;
        if code != 0xE0
            && let Some(exif) = exif.take()
        {
            push_exif_segment(&mut out, exif)?;
        }
        let body = &segment[2..];
        let kept = match code {
            0xE0 => body.starts_with(b"JFIF\0"),
            0xE2 => body.starts_with(b"ICC_PROFILE\0"),
            0xEE => body.starts_with(b"Adobe"),
            0xE1..=0xEF | 0xFE => false,
            _ => true,
        };
        if kept {
            out.extend_from_slice(&[0xFF, code]);
            out.extend_from_slice(segment);
        }
        if code == 0xDA {
            let end = entropy_end(jpeg, at);
            out.extend_from_slice(&jpeg[at..end]);
            at = end;
        }
    }
}

/// Where the entropy-coded data starting at `from` ends: at the first 0xFF that begins a marker,
/// that is not followed by 0x00 (a stuffed byte) or a restart marker RST0-7 (T.81 B.1.1.5);
/// the slice's end when there is none.
fn entropy_end(jpeg: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(offset) = jpeg.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) {
        let ff = at + offset;
        match jpeg.get(ff + 1) {
            Some(0x00 | 0xD0..=0xD7) => at = ff + 2,
            _ => return ff,
        }
    }
    jpeg.len()
}

/// Adds an APP1 segment holding `exif` (a TIFF structure) after the `Exif\0\0` prefix.
fn push_exif_segment(out: &mut Vec<u8>, exif: &[u8]) -> Result<(), String> {
    let len = u16::try_from(2 + EXIF_PREFIX.len() + exif.len())
        .map_err(|_| "no optimised variant: the EXIF block is past 64 KiB".to_owned())?;
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(EXIF_PREFIX);
    out.extend_from_slice(exif);
    Ok(())
}

/// `VP8X` flags (WebP container specification, RFC 9649 section 2.7).
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

/// The WebP chunks kept: the image and what decides how it looks (RFC 9649 section 2.7).
const WEBP_KEPT: [&[u8; 4]; 7] = [
    b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L",
];

/// `webp` without its `EXIF`, `XMP ` and unknown chunks, with `exif` (when given) in an `EXIF`
/// chunk after the image data, the `VP8X` EXIF and XMP flags set to match, and the RIFF size
/// recomputed. A simple file (no `VP8X`) has no metadata chunks and comes back as it is.
///
/// # Errors
/// A warning when the chunks cannot be followed to the end of the RIFF payload.
pub(crate) fn webp(webp: &[u8], exif: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let broken = || "no optimised variant: the WebP's chunks could not be followed".to_owned();
    let riff_size = match webp.get(..12) {
        Some(
            [
                b'R',
                b'I',
                b'F',
                b'F',
                s0,
                s1,
                s2,
                s3,
                b'W',
                b'E',
                b'B',
                b'P',
            ],
        ) => u32::from_le_bytes([*s0, *s1, *s2, *s3]),
        _ => return Err(broken()),
    };
    let end = usize::try_from(riff_size)
        .ok()
        .and_then(|s| s.checked_add(8))
        .filter(|&end| end <= webp.len())
        .ok_or_else(broken)?;
    let mut out = Vec::with_capacity(webp.len());
    out.extend_from_slice(&webp[..12]);
    let mut vp8x_flags = None;
    let mut at = 12;
    while at < end {
        let (kind, len) = match webp.get(at..at + 8) {
            Some(&[k0, k1, k2, k3, s0, s1, s2, s3]) => {
                ([k0, k1, k2, k3], u32::from_le_bytes([s0, s1, s2, s3]))
            }
            _ => return Err(broken()),
        };
        let padded = usize::try_from(len).map_err(|_| broken())? + (len as usize & 1);
        let chunk = webp.get(at..at + 8 + padded).ok_or_else(broken)?;
        at += chunk.len();
        if WEBP_KEPT.contains(&&kind) {
            if &kind == b"VP8X" && vp8x_flags.is_none() && chunk.len() > 8 {
                vp8x_flags = Some(out.len() + 8);
            }
            out.extend_from_slice(chunk);
        }
    }
    let Some(flags) = vp8x_flags else {
        return Ok(webp[..end].to_vec());
    };
    out[flags] &= !(VP8X_EXIF | VP8X_XMP);
    if let Some(exif) = exif {
        out[flags] |= VP8X_EXIF;
        let len = u32::try_from(exif.len()).map_err(|_| broken())?;
        out.extend_from_slice(b"EXIF");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(exif);
        if exif.len() % 2 == 1 {
            out.push(0);
        }
    }
    let size = u32::try_from(out.len() - 8).map_err(|_| broken())?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(out)
}
