//! EXIF: the camera facts of an image's EXIF block (Exif 2.32, CIPA DC-008-2019), parsed by
//! kamadak-exif. A malformed block never fails the analysis: what can be read is kept and the
//! rest becomes a warning.

use ::exif::{DateTime, Exif, In, Tag, Value};
use serde::{Deserialize, Serialize};

/// The `exif` object of an image section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifSummary {
    /// Camera maker (tag `Make`, 0x010F), e.g. `Canon`.
    pub make: Option<String>,
    /// Camera model (tag `Model`, 0x0110), e.g. `Canon EOS 40D`.
    pub model: Option<String>,
    /// The program that last wrote the file (tag `Software`, 0x0131).
    pub software: Option<String>,
    /// When the picture was taken (tag `DateTimeOriginal`, 0x9003, with `SubSecTimeOriginal` and
    /// `OffsetTimeOriginal` when present): RFC 3339 when the offset is known, e.g.
    /// `2009-08-11T09:09:45+02:00`, else the same without the offset (camera local time).
    pub datetime_original: Option<String>,
    /// Exposure settings, when any is recorded.
    pub exposure: Option<Exposure>,
    /// Lens focal length in millimetres (tag `FocalLength`, 0x920A).
    pub focal_length: Option<f64>,
    /// How the stored pixels are to be turned for display (tag `Orientation`, 0x0112): 1 as
    /// stored, 2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 rotated 90° clockwise,
    /// 7 transversed, 8 rotated 90° counter-clockwise. `None` when absent or out of range.
    pub orientation: Option<u16>,
    /// Where the picture was taken, when the GPS IFD has a latitude and a longitude.
    pub gps: Option<Gps>,
}

/// Exposure settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Exposure time in seconds (tag `ExposureTime`, 0x829A), e.g. 0.000625 for 1/1600 s.
    pub exposure_time: Option<f64>,
    /// The f-number (tag `FNumber`, 0x829D), e.g. 5.6.
    pub f_number: Option<f64>,
    /// ISO speed (tag `PhotographicSensitivity`, 0x8827, formerly `ISOSpeedRatings`).
    pub iso: Option<u32>,
}

/// A GPS position (Exif 2.32 section 4.6.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gps {
    /// Degrees north (negative south), WGS-84 unless `GPSMapDatum` says otherwise.
    pub latitude: f64,
    /// Degrees east (negative west).
    pub longitude: f64,
    /// Metres above sea level (negative below), when recorded.
    pub altitude: Option<f64>,
}

/// Parses a raw EXIF block (starting at its TIFF header). Problems become `warnings`: a block
/// with no readable field gives `None`, a partly broken one the fields that could be read.
pub(crate) fn parse(raw: Vec<u8>, warnings: &mut Vec<String>) -> Option<ExifSummary> {
    let exif = match ::exif::Reader::new().continue_on_error(true).read_raw(raw) {
        Ok(exif) => exif,
        Err(::exif::Error::PartialResult(partial)) => {
            let (exif, errors) = partial.into_inner();
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            warnings.push(format!(
                "the EXIF block is partly malformed ({} errors, the first: {first}); the fields \
                 that could be read are kept",
                errors.len()
            ));
            if exif.fields().len() == 0 {
                return None;
            }
            exif
        }
        Err(e) => {
            warnings.push(format!("the EXIF block is malformed and was ignored: {e}"));
            return None;
        }
    };
    Some(summary(&exif, warnings))
}

fn summary(exif: &Exif, warnings: &mut Vec<String>) -> ExifSummary {
    let exposure = Exposure {
        exposure_time: rational(exif, Tag::ExposureTime),
        f_number: rational(exif, Tag::FNumber),
        iso: uint(exif, Tag::PhotographicSensitivity),
    };
    let orientation = uint(exif, Tag::Orientation);
    let valid_orientation = orientation
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    if let (Some(o), None) = (orientation, valid_orientation) {
        warnings.push(format!(
            "the EXIF orientation {o} is out of range (1-8) and was ignored"
        ));
    }
    ExifSummary {
        make: text(exif, Tag::Make),
        model: text(exif, Tag::Model),
        software: text(exif, Tag::Software),
        datetime_original: datetime_original(exif),
        exposure: (exposure != Exposure::default()).then_some(exposure),
        focal_length: rational(exif, Tag::FocalLength),
        orientation: valid_orientation,
        gps: gps(exif),
    }
}

/// An ASCII field, trimmed of padding; `None` when absent, not ASCII-typed or blank.
fn text(exif: &Exif, tag: Tag) -> Option<String> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => {
            let s = String::from_utf8_lossy(parts.first()?);
            let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            (!s.is_empty()).then(|| s.to_owned())
        }
        _ => None,
    }
}

fn ascii_bytes(exif: &Exif, tag: Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => parts.first().map(Vec::as_slice),
        _ => None,
    }
}

/// The first value of an integer field (BYTE, SHORT or LONG).
fn uint(exif: &Exif, tag: Tag) -> Option<u32> {
    exif.get_field(tag, In::PRIMARY)?.value.get_uint(0)
}

/// The `index`th value of a RATIONAL (or SRATIONAL) field; `None` on a zero denominator.
fn rational_at(exif: &Exif, tag: Tag, index: usize) -> Option<f64> {
    let v = match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Rational(v) => v.get(index).filter(|r| r.denom != 0)?.to_f64(),
        Value::SRational(v) => v.get(index).filter(|r| r.denom != 0)?.to_f64(),
        _ => return None,
    };
    v.is_finite().then_some(v)
}

fn rational(exif: &Exif, tag: Tag) -> Option<f64> {
    rational_at(exif, tag, 0)
}

/// `DateTimeOriginal` (`YYYY:MM:DD HH:MM:SS`) as RFC 3339, with sub-seconds and offset when the
/// companion tags give them; `None` when blank or out of range.
fn datetime_original(exif: &Exif) -> Option<String> {
    let mut dt = DateTime::from_ascii(ascii_bytes(exif, Tag::DateTimeOriginal)?).ok()?;
    let in_range = (1..=12).contains(&dt.month)
        && (1..=31).contains(&dt.day)
        && dt.hour < 24
        && dt.minute < 60
        && dt.second <= 60;
    if !in_range {
        return None;
    }
    if let Some(sub) = ascii_bytes(exif, Tag::SubSecTimeOriginal) {
        let _ = dt.parse_subsec(sub);
    }
    if let Some(offset) = ascii_bytes(exif, Tag::OffsetTimeOriginal) {
        let _ = dt.parse_offset(offset);
    }
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    );
    if let Some(ns) = dt.nanosecond.filter(|&ns| ns > 0) {
        let frac = format!("{ns:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if let Some(minutes) = dt.offset {
        let sign = if minutes < 0 { '-' } else { '+' };
        let m = minutes.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    Some(out)
}

/// Degrees from a GPS degrees/minutes/seconds triple and its `N`/`S` or `E`/`W` reference.
fn coordinate(exif: &Exif, tag: Tag, reference: Tag, negative: u8) -> Option<f64> {
    let degrees = rational_at(exif, tag, 0)?;
    let minutes = rational_at(exif, tag, 1).unwrap_or(0.0);
    let seconds = rational_at(exif, tag, 2).unwrap_or(0.0);
    let value = degrees + minutes / 60.0 + seconds / 3600.0;
    let sign = match ascii_bytes(exif, reference).and_then(|r| r.first()) {
        Some(r) if r.eq_ignore_ascii_case(&negative) => -1.0,
        _ => 1.0,
    };
    Some(sign * value)
}

fn gps(exif: &Exif) -> Option<Gps> {
    let latitude = coordinate(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let longitude = coordinate(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    let below_sea = uint(exif, Tag::GPSAltitudeRef) == Some(1);
    let altitude = rational(exif, Tag::GPSAltitude).map(|a| if below_sea { -a } else { a });
    Some(Gps {
        latitude,
        longitude,
        altitude,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::exif::experimental::Writer;
    use ::exif::{Field, Rational};

    fn field(tag: Tag, value: Value) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        }
    }

    fn block(fields: &[Field]) -> Vec<u8> {
        let mut writer = Writer::new();
        for f in fields {
            writer.push_field(f);
        }
        let mut out = std::io::Cursor::new(Vec::new());
        writer.write(&mut out, false).unwrap();
        out.into_inner()
    }

    fn ascii(s: &str) -> Value {
        Value::Ascii(vec![s.as_bytes().to_vec()])
    }

    fn r(num: u32, denom: u32) -> Rational {
        Rational { num, denom }
    }

    #[test]
    fn gps_south_west_and_below_sea_level_are_negative() {
        let raw = block(&[
            field(
                Tag::GPSLatitude,
                Value::Rational(vec![r(33, 1), r(30, 1), r(0, 1)]),
            ),
            field(Tag::GPSLatitudeRef, ascii("S")),
            field(
                Tag::GPSLongitude,
                Value::Rational(vec![r(70, 1), r(15, 1), r(36, 1)]),
            ),
            field(Tag::GPSLongitudeRef, ascii("W")),
            field(Tag::GPSAltitude, Value::Rational(vec![r(125, 10)])),
            field(Tag::GPSAltitudeRef, Value::Byte(vec![1])),
        ]);
        let gps = parse(raw, &mut Vec::new()).unwrap().gps.unwrap();
        assert_eq!(gps.latitude, -33.5);
        assert_eq!(gps.longitude, -70.26);
        assert_eq!(gps.altitude, Some(-12.5));
    }

    #[test]
    fn datetime_carries_subseconds_and_offset() {
        let raw = block(&[
            field(Tag::DateTimeOriginal, ascii("2021:03:04 05:06:07")),
            field(Tag::SubSecTimeOriginal, ascii("250")),
            field(Tag::OffsetTimeOriginal, ascii("-03:30")),
        ]);
        let s = parse(raw, &mut Vec::new()).unwrap();
        assert_eq!(
            s.datetime_original.as_deref(),
            Some("2021-03-04T05:06:07.25-03:30")
        );
    }

    #[test]
    fn an_out_of_range_orientation_is_dropped_with_a_warning() {
        let raw = block(&[field(Tag::Orientation, Value::Short(vec![9]))]);
        let mut warnings = Vec::new();
        let s = parse(raw, &mut warnings).unwrap();
        assert_eq!(s.orientation, None);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn garbage_is_a_warning_not_an_error() {
        let mut warnings = Vec::new();
        assert_eq!(
            parse(b"II*\0\xff\xff\xff\xff".to_vec(), &mut warnings),
            None
        );
        assert_eq!(warnings.len(), 1);
    }
}
