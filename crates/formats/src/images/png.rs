//! PNG header: a walk over the chunks (PNG spec, 3rd edition, section 5) that reads only the
//! small ones it needs and seeks over the rest, image data included. `IHDR` gives the dimensions
//! (checked against the limits before anything else is read), colour type, bit depth and
//! interlace method; `tRNS` transparency; `acTL` and the `fcTL` chunks the APNG animation and its
//! frame count; `iCCP` the ICC profile (inflated only to count its bytes); `eXIf` the EXIF block.

use std::io::{BufRead, Read, Seek};

use crate::{Context, FileType, FormatError, Limits};

use super::header::{
    Header, MAX_EXIF_BYTES, at_end, bad_signature, check_dimensions, check_frames, icc_color_space,
    read_array, read_bytes, skip, strip_exif_prefix,
};
use super::{ColorType, IccProfile};

/// The PNG signature (section 5.2).
const SIGNATURE: [u8; 8] = *b"\x89PNG\r\n\x1a\n";
/// The largest chunk length the spec allows (section 5.3).
const MAX_CHUNK_LEN: u32 = 0x7FFF_FFFF;
/// The largest compressed `iCCP` chunk read.
const MAX_ICCP_BYTES: u64 = 16 << 20;
/// The most inflated ICC bytes counted: a profile past this is reported at this size.
const MAX_ICC_BYTES: u64 = 64 << 20;

/// What the chunks said so far.
#[derive(Default)]
struct Scan {
    header: Option<Header>,
    declared_frames: Option<u32>,
    frame_controls: u64,
    transparency: bool,
    image_data: bool,
}

/// Walks the chunks of a PNG up to `IEND`.
///
/// # Errors
/// `Corrupt` for a wrong signature, a first chunk other than a valid `IHDR`, a chunk length
/// past 2^31-1, or a file that ends before its image data; `LimitExceeded` from the image or
/// frame limits; `Cancelled`; `Io`.
pub(crate) fn read_header<R: BufRead + Seek>(
    r: &mut R,
    ctx: &Context<'_>,
) -> Result<Header, FormatError> {
    let signature: [u8; 8] = read_array(r, "PNG signature")?;
    if signature != SIGNATURE {
        return Err(bad_signature(&signature, FileType::Png));
    }
    let mut scan = Scan::default();
    let mut chunks: u64 = 0;
    loop {
        if chunks.is_multiple_of(1024) {
            ctx.check_cancelled()?;
        }
        chunks += 1;
        if at_end(r)? && scan.image_data {
            if let Some(h) = scan.header.as_mut() {
                h.warnings.push("the PNG ends without an IEND chunk".into());
            }
            break;
        }
        let head: [u8; 8] = read_array(r, "PNG chunk header")?;
        let [l3, l2, l1, l0, k0, k1, k2, k3] = head;
        let len = u32::from_be_bytes([l3, l2, l1, l0]);
        let kind = [k0, k1, k2, k3];
        if len > MAX_CHUNK_LEN {
            return Err(FormatError::Corrupt(format!(
                "a PNG chunk length of {len} bytes"
            )));
        }
        if scan.header.is_none() && &kind != b"IHDR" {
            return Err(FormatError::Corrupt(
                "the first PNG chunk is not IHDR".into(),
            ));
        }
        if &kind == b"IEND" {
            break;
        }
        read_chunk(r, kind, u64::from(len), &mut scan, &ctx.limits)?;
        skip(r, 4)?; // the CRC: the decoder checks the chunks it uses
    }
    finish(scan)
}

/// Reads (or skips) one chunk's data of `len` bytes.
fn read_chunk<R: BufRead + Seek>(
    r: &mut R,
    kind: [u8; 4],
    len: u64,
    scan: &mut Scan,
    limits: &Limits,
) -> Result<(), FormatError> {
    match &kind {
        b"IHDR" if scan.header.is_none() => {
            let body = read_bytes(r, len, "PNG IHDR chunk")?;
            scan.header = Some(parse_ihdr(&body, limits)?);
        }
        b"acTL" => {
            let body = read_bytes(r, len, "PNG acTL chunk")?;
            let frames = body
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| FormatError::Corrupt("the PNG acTL chunk is too short".into()))?;
            check_frames(u64::from(frames), limits)?;
            scan.declared_frames.get_or_insert(frames);
        }
        b"fcTL" => {
            scan.frame_controls += 1;
            check_frames(scan.frame_controls, limits)?;
            skip(r, len)?;
        }
        b"tRNS" => {
            scan.transparency = true;
            skip(r, len)?;
        }
        b"IDAT" => {
            scan.image_data = true;
            skip(r, len)?;
        }
        b"iCCP" if len <= MAX_ICCP_BYTES => {
            let body = read_bytes(r, len, "PNG iCCP chunk")?;
            let icc = parse_iccp(&body);
            if let Some(h) = scan.header.as_mut() {
                match icc {
                    Some(icc) => h.icc_profile = Some(icc),
                    None => h
                        .warnings
                        .push("the PNG ICC profile is not valid zlib data".into()),
                }
            }
        }
        b"eXIf" if len <= MAX_EXIF_BYTES => {
            let body = read_bytes(r, len, "PNG eXIf chunk")?;
            if let Some(h) = scan.header.as_mut() {
                h.exif.get_or_insert(strip_exif_prefix(body));
            }
        }
        b"iCCP" | b"eXIf" => {
            if let Some(h) = scan.header.as_mut() {
                let name = String::from_utf8_lossy(&kind);
                h.warnings.push(format!(
                    "the {len}-byte {name} chunk is too large and was skipped"
                ));
            }
            skip(r, len)?;
        }
        _ => skip(r, len)?,
    }
    Ok(())
}

/// Parses `IHDR` (section 11.2.1) and checks the image limits.
fn parse_ihdr(body: &[u8], limits: &Limits) -> Result<Header, FormatError> {
    let fixed: &[u8; 13] = body
        .try_into()
        .map_err(|_| FormatError::Corrupt("the PNG IHDR chunk is not 13 bytes".into()))?;
    let [
        w3,
        w2,
        w1,
        w0,
        h3,
        h2,
        h1,
        h0,
        depth,
        color,
        compression,
        filter,
        interlace,
    ] = *fixed;
    let width = u32::from_be_bytes([w3, w2, w1, w0]);
    let height = u32::from_be_bytes([h3, h2, h1, h0]);
    if width == 0 || height == 0 || width > MAX_CHUNK_LEN || height > MAX_CHUNK_LEN {
        return Err(FormatError::Corrupt(format!(
            "a PNG of {width}x{height} pixels"
        )));
    }
    check_dimensions(width, height, limits)?;
    let color_type = match (color, depth) {
        (0, 1 | 2 | 4 | 8 | 16) => ColorType::Gray,
        (2, 8 | 16) => ColorType::Rgb,
        (3, 1 | 2 | 4 | 8) => ColorType::Palette,
        (4, 8 | 16) => ColorType::GrayAlpha,
        (6, 8 | 16) => ColorType::Rgba,
        _ => {
            return Err(FormatError::Corrupt(format!(
                "PNG colour type {color} with bit depth {depth} is not allowed"
            )));
        }
    };
    if compression != 0 || filter != 0 || interlace > 1 {
        return Err(FormatError::Corrupt(
            "the PNG IHDR has an unknown compression, filter or interlace method".into(),
        ));
    }
    let mut header = Header::new(width, height, color_type, depth);
    header.interlaced = interlace == 1;
    Ok(header)
}

/// The size and colour space of an `iCCP` profile (section 11.3.2.3): a name, a NUL, the
/// compression method, then the zlib stream, inflated here only to count its bytes.
fn parse_iccp(body: &[u8]) -> Option<IccProfile> {
    let nul = body.iter().position(|&b| b == 0)?;
    let stream = body.get(nul + 2..)?;
    let mut inflater = flate2::read::ZlibDecoder::new(stream).take(MAX_ICC_BYTES);
    let mut head = [0u8; 20];
    let mut filled = 0;
    while filled < head.len() {
        match inflater.read(head.get_mut(filled..)?).ok()? {
            0 => break,
            n => filled += n,
        }
    }
    let rest = std::io::copy(&mut inflater, &mut std::io::sink()).ok()?;
    Some(IccProfile {
        size: filled as u64 + rest,
        color_space: icc_color_space(head.get(..filled)?),
    })
}

/// The header once every chunk is seen: frames and transparency settled.
fn finish(scan: Scan) -> Result<Header, FormatError> {
    let mut header = scan
        .header
        .ok_or_else(|| FormatError::Corrupt("the PNG has no IHDR chunk".into()))?;
    if !scan.image_data {
        return Err(FormatError::Corrupt(
            "the PNG has no image data (IDAT)".into(),
        ));
    }
    header.has_alpha |= scan.transparency;
    if let Some(declared) = scan.declared_frames {
        if u64::from(declared) != scan.frame_controls {
            header.warnings.push(format!(
                "the APNG declares {declared} frames but has {} frame control chunks",
                scan.frame_controls
            ));
        }
        header.frame_count = u32::try_from(scan.frame_controls.max(1)).unwrap_or(u32::MAX);
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use std::sync::atomic::AtomicBool;

    use crate::DiscardRecords;

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        out.extend(kind);
        out.extend(data);
        out.extend([0; 4]);
    }

    fn ihdr(width: u32, height: u32) -> Vec<u8> {
        let mut data = width.to_be_bytes().to_vec();
        data.extend(height.to_be_bytes());
        data.extend([8, 6, 0, 0, 0]);
        let mut png = SIGNATURE.to_vec();
        chunk(&mut png, b"IHDR", &data);
        png
    }

    fn scan(png: Vec<u8>, limits: crate::Limits) -> Result<Header, FormatError> {
        let cancel = AtomicBool::new(false);
        let (mut progress, mut sink) = (|_| {}, DiscardRecords);
        let ctx = Context {
            limits,
            size: None,
            progress: &mut progress,
            records: &mut sink,
            cancel: &cancel,
        };
        read_header(&mut Cursor::new(png), &ctx)
    }

    #[test]
    fn a_bomb_fails_at_ihdr_before_reading_on() {
        // Only the IHDR: nothing after it is needed to refuse 20000x20000.
        let err = scan(ihdr(20_000, 20_000), crate::Limits::default()).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains("400000000 pixels"), "{err}");
    }

    #[test]
    fn declared_frames_over_the_limit_fail_before_any_frame() {
        let mut png = ihdr(10, 10);
        chunk(&mut png, b"acTL", &[0, 0, 0x10, 0, 0, 0, 0, 0]);
        let err = scan(png, crate::Limits::default()).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains("4096 frames"), "{err}");
    }

    #[test]
    fn frame_controls_are_counted_against_the_limit_when_actl_lies() {
        let mut png = ihdr(10, 10);
        chunk(&mut png, b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]);
        for _ in 0..5 {
            chunk(&mut png, b"fcTL", &[0; 26]);
        }
        let limits = crate::Limits {
            max_frames: 3,
            ..crate::Limits::default()
        };
        assert_eq!(scan(png, limits).unwrap_err().code(), "limit_exceeded");
    }

    #[test]
    fn the_icc_profile_size_is_its_inflated_size() {
        let mut profile = vec![0u8; 3000];
        profile[16..20].copy_from_slice(b"GRAY");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&profile).unwrap();
        let mut data = b"icc\0\0".to_vec();
        data.extend(z.finish().unwrap());
        let mut png = ihdr(1, 1);
        chunk(&mut png, b"iCCP", &data);
        chunk(&mut png, b"IDAT", &[]);
        chunk(&mut png, b"IEND", &[]);
        let header = scan(png, crate::Limits::default()).unwrap();
        let icc = header.icc_profile.unwrap();
        assert_eq!((icc.size, icc.color_space.as_deref()), (3000, Some("GRAY")));
    }

    #[test]
    fn a_chunk_length_past_the_spec_maximum_is_corrupt() {
        let mut png = ihdr(1, 1);
        png.extend([0x80, 0, 0, 0]);
        png.extend(b"IDAT");
        assert_eq!(
            scan(png, crate::Limits::default()).unwrap_err().code(),
            "corrupt_file"
        );
    }
}
