//! JPEG header: the marker segments up to the first scan (ITU-T T.81 annex B), read without
//! decoding any entropy-coded data. Gives the frame's dimensions, precision and components (SOFn),
//! the EXIF block (APP1 `Exif\0\0`, Exif 2.32 section 4.5.4), the ICC profile (APP2
//! `ICC_PROFILE\0` chunks, ICC.1 annex B.4), the JFIF marker (APP0) and the Adobe colour transform
//! (APP14, Adobe TN 5116).

use std::io::{BufRead, Seek};

use crate::{FileType, FormatError, Limits};

use super::header::{
    Header, JpegLayout, bad_signature, check_dimensions, icc_color_space, read_array, read_bytes,
    skip,
};
use super::{ColorType, IccProfile};

/// Adobe APP14 `transform` value for untransformed samples (RGB or CMYK as stored).
const ADOBE_NONE: u8 = 0;

/// What the segments before the first scan said.
#[derive(Default)]
struct Segments {
    frame: Option<Frame>,
    jfif: bool,
    adobe_transform: Option<u8>,
    exif: Option<Vec<u8>>,
    icc_bytes: u64,
    icc_head: Option<Vec<u8>>,
}

/// A frame header (SOFn, T.81 B.2.2).
struct Frame {
    progressive: bool,
    precision: u8,
    width: u32,
    height: u32,
    component_ids: Vec<u8>,
}

/// Reads the marker segments of a JPEG up to its first scan (SOS) and checks the image limits as
/// soon as the frame header gives the dimensions.
///
/// # Errors
/// `Corrupt` for a wrong signature, a malformed or truncated segment, or no frame header before
/// the scan; `Unsupported` for a component count other than 1, 3 or 4 or a height left to a DNL
/// marker; `LimitExceeded` from the image limits; `Io`.
pub(crate) fn read_header<R: BufRead + Seek>(
    r: &mut R,
    limits: &Limits,
) -> Result<Header, FormatError> {
    let soi: [u8; 2] = read_array(r, "JPEG signature")?;
    if soi != [0xFF, 0xD8] {
        return Err(bad_signature(&soi, FileType::Jpeg));
    }
    let mut seg = Segments::default();
    loop {
        let marker = next_marker(r)?;
        match marker {
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 | 0xD9 => {
                return Err(FormatError::Corrupt(
                    "the JPEG has no image data: it ends before its first scan".into(),
                ));
            }
            _ => {}
        }
        let len = u16::from_be_bytes(read_array(r, "JPEG segment length")?);
        let body = u64::from(len.checked_sub(2).ok_or_else(|| {
            FormatError::Corrupt(format!("a JPEG segment length of {len} bytes"))
        })?);
        if marker == 0xDA {
            break;
        }
        read_segment(r, marker, body, &mut seg, limits)?;
    }
    let frame = seg.frame.take().ok_or_else(|| {
        FormatError::Corrupt("the JPEG has no frame header (SOF) before its first scan".into())
    })?;
    Ok(into_header(frame, seg))
}

/// Reads one marker segment's body of `len` bytes into `seg`.
fn read_segment<R: BufRead + Seek>(
    r: &mut R,
    marker: u8,
    len: u64,
    seg: &mut Segments,
    limits: &Limits,
) -> Result<(), FormatError> {
    match marker {
        0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
            let body = read_bytes(r, len, "JPEG frame header")?;
            if seg.frame.is_none() {
                let frame = parse_frame(marker, &body)?;
                check_dimensions(frame.width, frame.height, limits)?;
                seg.frame = Some(frame);
            }
        }
        0xE0 => {
            let body = read_bytes(r, len, "JPEG APP0 segment")?;
            seg.jfif |= body.starts_with(b"JFIF\0");
        }
        0xE1 => {
            let body = read_bytes(r, len, "JPEG APP1 segment")?;
            if seg.exif.is_none() {
                seg.exif = body.strip_prefix(b"Exif\0\0").map(<[u8]>::to_vec);
            }
        }
        0xE2 => {
            let body = read_bytes(r, len, "JPEG APP2 segment")?;
            if let Some(chunk) = body.strip_prefix(b"ICC_PROFILE\0") {
                // Each chunk: sequence number, chunk count, then the profile's bytes.
                let data = chunk.get(2..).unwrap_or_default();
                seg.icc_bytes += data.len() as u64;
                if chunk.first() == Some(&1) || seg.icc_head.is_none() {
                    seg.icc_head = Some(data.iter().copied().take(20).collect());
                }
            }
        }
        0xEE => {
            let body = read_bytes(r, len, "JPEG APP14 segment")?;
            if body.starts_with(b"Adobe") {
                seg.adobe_transform = body.get(11).copied();
            }
        }
        _ => skip(r, len)?,
    }
    Ok(())
}

/// The next marker code: `0xFF` (with any fill `0xFF` bytes) then a code (T.81 B.1.1.2).
fn next_marker(r: &mut impl BufRead) -> Result<u8, FormatError> {
    let [first] = read_array(r, "JPEG marker")?;
    if first != 0xFF {
        return Err(FormatError::Corrupt(format!(
            "a JPEG marker was expected, found the byte 0x{first:02X}"
        )));
    }
    loop {
        let [code] = read_array(r, "JPEG marker")?;
        match code {
            0xFF => continue,
            0x00 => {
                return Err(FormatError::Corrupt(
                    "a JPEG marker was expected, found stuffed data".into(),
                ));
            }
            code => return Ok(code),
        }
    }
}

/// Parses a frame header body: precision, height, width and the component identifiers.
fn parse_frame(marker: u8, body: &[u8]) -> Result<Frame, FormatError> {
    let short = || FormatError::Corrupt("the JPEG frame header is too short".into());
    let fixed: &[u8; 6] = body
        .get(..6)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(short)?;
    let [precision, h1, h0, w1, w0, count] = *fixed;
    let height = u32::from(u16::from_be_bytes([h1, h0]));
    let width = u32::from(u16::from_be_bytes([w1, w0]));
    if !matches!(count, 1 | 3 | 4) {
        return Err(FormatError::Unsupported(format!(
            "JPEG with {count} colour components (1, 3 and 4 are supported)"
        )));
    }
    let component_ids: Vec<u8> = (0..usize::from(count))
        .map(|i| body.get(6 + 3 * i).copied().ok_or_else(short))
        .collect::<Result<_, _>>()?;
    if width == 0 {
        return Err(FormatError::Corrupt(
            "the JPEG frame is 0 pixels wide".into(),
        ));
    }
    if height == 0 {
        return Err(FormatError::Unsupported(
            "JPEG whose height is given later by a DNL marker".into(),
        ));
    }
    Ok(Frame {
        progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
        precision,
        width,
        height,
        component_ids,
    })
}

/// The colour model libjpeg would infer (`jdapimin.c`, `default_decompress_parms`): JFIF means
/// YCbCr, an Adobe marker's transform decides, else component identifiers `R`,`G`,`B` mean RGB;
/// four components are CMYK.
fn color_type(frame: &Frame, jfif: bool, adobe: Option<u8>) -> ColorType {
    match frame.component_ids.len() {
        1 => ColorType::Gray,
        3 if jfif => ColorType::Ycbcr,
        3 => match adobe {
            Some(ADOBE_NONE) => ColorType::Rgb,
            Some(_) => ColorType::Ycbcr,
            None if frame.component_ids == b"RGB" => ColorType::Rgb,
            None => ColorType::Ycbcr,
        },
        // YCCK (Adobe transform 2) is CMYK coded for compression: still a CMYK image.
        _ => ColorType::Cmyk,
    }
}

fn into_header(frame: Frame, seg: Segments) -> Header {
    let color = color_type(&frame, seg.jfif, seg.adobe_transform);
    let mut header = Header::new(frame.width, frame.height, color, frame.precision);
    header.interlaced = frame.progressive;
    header.exif = seg.exif;
    header.icc_profile = seg.icc_head.map(|head| IccProfile {
        size: seg.icc_bytes,
        color_space: icc_color_space(&head),
    });
    header.jpeg = Some(JpegLayout {
        components: u8::try_from(frame.component_ids.len()).unwrap_or(u8::MAX),
        adobe_transform: seg.adobe_transform,
    });
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sof(width: u16, height: u16, components: u8) -> Vec<u8> {
        let mut body = vec![8];
        body.extend(height.to_be_bytes());
        body.extend(width.to_be_bytes());
        body.push(components);
        for id in 1..=components {
            body.extend([id, 0x11, 0]);
        }
        let mut seg = vec![0xFF, 0xC0];
        seg.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        seg.extend(body);
        seg
    }

    fn header_of(bytes: Vec<u8>) -> Result<Header, FormatError> {
        read_header(&mut Cursor::new(bytes), &Limits::default())
    }

    #[test]
    fn a_frame_over_the_pixel_limit_fails_at_its_header() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(sof(65_535, 65_535, 3));
        let err = header_of(jpeg).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains("65535x65535"), "{err}");
    }

    #[test]
    fn two_component_frames_are_unsupported() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(sof(10, 10, 2));
        assert_eq!(header_of(jpeg).unwrap_err().code(), "unsupported_format");
    }

    #[test]
    fn segments_after_the_frame_up_to_the_scan_are_read() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(sof(10, 20, 4));
        jpeg.extend([0xFF, 0xEE, 0, 14]);
        jpeg.extend(b"Adobe\0\x64\0\0\0\0\x02");
        jpeg.extend([0xFF, 0xFF, 0xDA, 0, 2]);
        let header = header_of(jpeg).unwrap();
        assert_eq!((header.width, header.height), (10, 20));
        assert_eq!(header.color_type, ColorType::Cmyk);
        assert_eq!(header.jpeg.and_then(|j| j.adobe_transform), Some(2));
    }

    #[test]
    fn a_file_ending_before_the_scan_is_corrupt() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(sof(10, 20, 3));
        assert_eq!(header_of(jpeg.clone()).unwrap_err().code(), "corrupt_file");
        jpeg.extend([0xFF, 0xD9]);
        assert_eq!(header_of(jpeg).unwrap_err().code(), "corrupt_file");
        assert_eq!(
            header_of(vec![0xFF, 0xD8, 0xFF, 0xDA, 0, 2])
                .unwrap_err()
                .code(),
            "corrupt_file"
        );
    }
}
