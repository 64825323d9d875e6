//! WebP header: the RIFF container (WebP Container Specification, RFC 9649 section 2) walked
//! chunk by chunk, seeking over image data. A simple file is one `VP8 ` (lossy, RFC 6386 section
//! 9.1 frame header) or `VP8L` (lossless, RFC 9649 section 3.2 header) chunk; an extended file
//! starts with `VP8X` (canvas size and feature flags) and may hold `ICCP`, `ANIM`, `ANMF` (one per
//! animation frame), `ALPH`, `EXIF` and `XMP ` chunks.

use std::io::{BufRead, Seek};

use crate::{Context, FileType, FormatError, Limits};

use super::header::{
    Header, MAX_EXIF_BYTES, at_end, bad_signature, check_dimensions, check_frames, icc_color_space,
    read_array, read_bytes, skip, strip_exif_prefix,
};
use super::{ColorType, IccProfile};

/// `VP8X` flag: some pixels may be transparent.
const FLAG_ALPHA: u8 = 0x10;
/// `VP8X` flag: the file is an animation.
const FLAG_ANIMATION: u8 = 0x02;

/// Walks the chunks of a WebP file.
///
/// # Errors
/// `Corrupt` for a wrong RIFF signature, a first chunk that is not `VP8 `, `VP8L` or `VP8X`, or
/// a malformed bitstream header; `LimitExceeded` from the image or frame limits; `Cancelled`;
/// `Io`.
pub(crate) fn read_header<R: BufRead + Seek>(
    r: &mut R,
    ctx: &Context<'_>,
) -> Result<Header, FormatError> {
    let riff: [u8; 12] = read_array(r, "WebP RIFF header")?;
    if !riff.starts_with(b"RIFF") || riff.get(8..) != Some(b"WEBP") {
        return Err(bad_signature(&riff, FileType::Webp));
    }
    let (kind, len) = chunk_header(r)?;
    let limits = &ctx.limits;
    let mut header = match &kind {
        b"VP8 " => lossy_header(
            &read_bytes(r, len.min(10), "WebP VP8 frame header")?,
            limits,
        )?,
        b"VP8L" => lossless_header(&read_bytes(r, len.min(5), "WebP VP8L header")?, limits)?,
        b"VP8X" => {
            let body = read_bytes(r, len.min(10), "WebP VP8X chunk")?;
            let header = extended_header(&body, limits)?;
            skip(r, padded(len) - body.len() as u64)?;
            return read_extended(r, header, ctx);
        }
        _ => {
            return Err(FormatError::Corrupt(format!(
                "the first WebP chunk is {:?}, not VP8, VP8L or VP8X",
                String::from_utf8_lossy(&kind)
            )));
        }
    };
    header.bit_depth = 8;
    Ok(header)
}

/// The chunks after `VP8X`: frames, ICC profile, EXIF, alpha.
fn read_extended<R: BufRead + Seek>(
    r: &mut R,
    mut header: Header,
    ctx: &Context<'_>,
) -> Result<Header, FormatError> {
    let animated = header.frame_count == 0;
    let mut frames: u64 = 0;
    let mut chunks: u64 = 0;
    while !at_end(r)? {
        if chunks.is_multiple_of(256) {
            ctx.check_cancelled()?;
        }
        chunks += 1;
        let (kind, len) = chunk_header(r)?;
        let mut consumed = 0;
        match &kind {
            b"ANMF" => {
                frames += 1;
                check_frames(frames, &ctx.limits)?;
            }
            b"ICCP" => {
                let head = read_bytes(r, len.min(20), "WebP ICCP chunk")?;
                consumed = head.len() as u64;
                header.icc_profile = Some(IccProfile {
                    size: len,
                    color_space: icc_color_space(&head),
                });
            }
            b"EXIF" if len <= MAX_EXIF_BYTES && header.exif.is_none() => {
                let body = read_bytes(r, len, "WebP EXIF chunk")?;
                consumed = len;
                header.exif = Some(strip_exif_prefix(body));
            }
            b"EXIF" => header
                .warnings
                .push(format!("the {len}-byte EXIF chunk was skipped")),
            b"ALPH" => header.has_alpha = true,
            _ => {}
        }
        skip(r, padded(len) - consumed)?;
    }
    header.frame_count = if animated {
        u32::try_from(frames.max(1)).unwrap_or(u32::MAX)
    } else {
        1
    };
    Ok(header)
}

/// A chunk's FourCC and payload size.
fn chunk_header(r: &mut impl BufRead) -> Result<([u8; 4], u64), FormatError> {
    let [k0, k1, k2, k3, s0, s1, s2, s3] = read_array(r, "WebP chunk header")?;
    Ok((
        [k0, k1, k2, k3],
        u64::from(u32::from_le_bytes([s0, s1, s2, s3])),
    ))
}

/// A payload's size with the pad byte RIFF adds after odd sizes.
fn padded(len: u64) -> u64 {
    len + (len & 1)
}

/// `VP8X`: flags, then canvas width and height minus one, 24 bits each. An animated canvas is
/// marked by a frame count of 0 until its `ANMF` chunks are counted.
fn extended_header(body: &[u8], limits: &Limits) -> Result<Header, FormatError> {
    let fixed: &[u8; 10] = body
        .try_into()
        .map_err(|_| FormatError::Corrupt("the WebP VP8X chunk is too short".into()))?;
    let [flags, _, _, _, w0, w1, w2, h0, h1, h2] = *fixed;
    let width = u32::from_le_bytes([w0, w1, w2, 0]) + 1;
    let height = u32::from_le_bytes([h0, h1, h2, 0]) + 1;
    check_dimensions(width, height, limits)?;
    let alpha = flags & FLAG_ALPHA != 0;
    let color = if alpha {
        ColorType::Rgba
    } else {
        ColorType::Rgb
    };
    let mut header = Header::new(width, height, color, 8);
    if flags & FLAG_ANIMATION != 0 {
        header.frame_count = 0;
    }
    Ok(header)
}

/// `VP8 ` key frame header: a 3-byte frame tag, the start code `9d 01 2a`, then 14-bit width
/// and height (each with 2 scaling bits above).
fn lossy_header(body: &[u8], limits: &Limits) -> Result<Header, FormatError> {
    let bad = || FormatError::Corrupt("the WebP VP8 frame header is malformed".into());
    let fixed: &[u8; 10] = body.try_into().map_err(|_| bad())?;
    let [tag, _, _, s0, s1, s2, w0, w1, h0, h1] = *fixed;
    if tag & 1 != 0 || [s0, s1, s2] != [0x9d, 0x01, 0x2a] {
        return Err(bad());
    }
    let width = u32::from(u16::from_le_bytes([w0, w1]) & 0x3FFF);
    let height = u32::from(u16::from_le_bytes([h0, h1]) & 0x3FFF);
    if width == 0 || height == 0 {
        return Err(bad());
    }
    check_dimensions(width, height, limits)?;
    Ok(Header::new(width, height, ColorType::Rgb, 8))
}

/// `VP8L` header: the signature byte `0x2f`, then 14 bits width minus one, 14 bits height minus
/// one, the `alpha_is_used` bit and a 3-bit version (0).
fn lossless_header(body: &[u8], limits: &Limits) -> Result<Header, FormatError> {
    let bad = || FormatError::Corrupt("the WebP VP8L header is malformed".into());
    let fixed: &[u8; 5] = body.try_into().map_err(|_| bad())?;
    let [signature, b0, b1, b2, b3] = *fixed;
    let bits = u32::from_le_bytes([b0, b1, b2, b3]);
    if signature != 0x2f || bits >> 29 != 0 {
        return Err(bad());
    }
    let width = (bits & 0x3FFF) + 1;
    let height = ((bits >> 14) & 0x3FFF) + 1;
    check_dimensions(width, height, limits)?;
    let color = if bits & (1 << 28) != 0 {
        ColorType::Rgba
    } else {
        ColorType::Rgb
    };
    Ok(Header::new(width, height, color, 8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::atomic::AtomicBool;

    use crate::DiscardRecords;

    fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (kind, data) in chunks {
            body.extend(*kind);
            body.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
            body.extend(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend(u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend(body);
        out
    }

    fn vp8x(flags: u8, width: u32, height: u32) -> Vec<u8> {
        let mut data = vec![flags, 0, 0, 0];
        data.extend(&(width - 1).to_le_bytes()[..3]);
        data.extend(&(height - 1).to_le_bytes()[..3]);
        data
    }

    fn scan(bytes: Vec<u8>, limits: Limits) -> Result<Header, FormatError> {
        let cancel = AtomicBool::new(false);
        let (mut progress, mut sink) = (|_| {}, DiscardRecords);
        let ctx = Context {
            limits,
            size: None,
            progress: &mut progress,
            records: &mut sink,
            cancel: &cancel,
        };
        read_header(&mut Cursor::new(bytes), &ctx)
    }

    #[test]
    fn a_huge_canvas_fails_at_vp8x() {
        let bytes = riff(&[(b"VP8X", vp8x(0, 1 << 24, 1 << 24))]);
        let err = scan(bytes, Limits::default()).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains("16777216x16777216"), "{err}");
    }

    #[test]
    fn animation_frames_are_counted_against_the_limit() {
        let mut chunks = vec![(b"VP8X", vp8x(FLAG_ANIMATION, 10, 10))];
        chunks.extend((0..5).map(|_| (b"ANMF", vec![0; 16])));
        let header = scan(riff(&chunks), Limits::default()).unwrap();
        assert_eq!(header.frame_count, 5);
        let limits = Limits {
            max_frames: 4,
            ..Limits::default()
        };
        assert_eq!(
            scan(riff(&chunks), limits).unwrap_err().code(),
            "limit_exceeded"
        );
    }

    #[test]
    fn an_odd_sized_chunk_is_padded() {
        let chunks = [
            (b"VP8X", vp8x(0x20, 3, 2)),
            (b"ICCP", vec![7; 21]),
            (b"EXIF", b"MM\0*\0\0\0\x08\0\0".to_vec()),
        ];
        let header = scan(riff(&chunks), Limits::default()).unwrap();
        assert_eq!(header.icc_profile.map(|i| i.size), Some(21));
        assert_eq!(header.exif.map(|e| e.len()), Some(10));
    }

    #[test]
    fn an_unknown_first_chunk_is_corrupt() {
        let bytes = riff(&[(b"JUNK", vec![0; 4])]);
        assert_eq!(
            scan(bytes, Limits::default()).unwrap_err().code(),
            "corrupt_file"
        );
    }
}
