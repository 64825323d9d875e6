//! The document information dictionary (ISO 32000-2 §14.3.3): its text strings decoded to
//! Unicode and its dates turned into RFC 3339.

use hayro::hayro_syntax::metadata::Metadata;
use hayro::hayro_syntax::object::DateTime;

use super::PdfInfo;

/// The `info` section from the metadata hayro-syntax read from the trailer's `/Info`.
pub(crate) fn info(metadata: &Metadata) -> PdfInfo {
    let text = |field: &Option<Box<[u8]>>| field.as_deref().and_then(text_string);
    PdfInfo {
        title: text(&metadata.title),
        author: text(&metadata.author),
        subject: text(&metadata.subject),
        keywords: text(&metadata.keywords),
        creator: text(&metadata.creator),
        producer: text(&metadata.producer),
        created: metadata.creation_date.as_ref().and_then(rfc3339),
        modified: metadata.modification_date.as_ref().and_then(rfc3339),
    }
}

/// A PDF text string (§7.9.2.2) as Unicode: UTF-16BE after a `FE FF` byte order mark, UTF-8
/// after `EF BB BF` (PDF 2.0), PDFDocEncoding otherwise. Language escapes (§7.9.2.2.1, `ESC` ...
/// `ESC` inside UTF-16) and NUL characters are dropped; the result is trimmed, and an empty
/// string is `None`.
pub(crate) fn text_string(bytes: &[u8]) -> Option<String> {
    let decoded = if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
        without_language_escapes(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')))
    } else if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(utf8).into_owned()
    } else {
        bytes.iter().copied().filter_map(pdf_doc_char).collect()
    };
    let cleaned: String = decoded.chars().filter(|&c| c != '\0').collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Drops `ESC lang ESC` sequences from decoded UTF-16 text.
fn without_language_escapes(chars: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    let mut in_escape = false;
    for c in chars {
        if c == '\u{1B}' {
            in_escape = !in_escape;
        } else if !in_escape {
            out.push(c);
        }
    }
    out
}

/// One byte of PDFDocEncoding (Annex D.2): Latin-1 except for the ranges below; undefined codes
/// are dropped.
fn pdf_doc_char(byte: u8) -> Option<char> {
    const LOW: [char; 8] = ['˘', 'ˇ', 'ˆ', '˙', '˝', '˛', '˚', '˜'];
    const HIGH: [char; 33] = [
        '•', '†', '‡', '…', '—', '–', 'ƒ', '⁄', '‹', '›', '−', '‰', '„', '“', '”', '‘', '’', '‚',
        '™', 'ﬁ', 'ﬂ', 'Ł', 'Œ', 'Š', 'Ÿ', 'Ž', 'ı', 'ł', 'œ', 'š', 'ž', '\u{FFFD}', '€',
    ];
    match byte {
        0x18..=0x1F => LOW.get(usize::from(byte - 0x18)).copied(),
        0x9F | 0xAD => None,
        0x80..=0xA0 => HIGH.get(usize::from(byte - 0x80)).copied(),
        _ => Some(char::from(byte)),
    }
}

/// A date (§7.9.4, `D:YYYYMMDDHHmmSSOHH'mm'`) as RFC 3339, e.g. `2009-04-01T16:39:25-07:00`.
/// hayro-syntax has already read it, tolerating partial dates (missing fields default to January,
/// the 1st, 00:00:00, UTC, as §7.9.4 says); a date that names no real day (February 30th) is
/// `None`. A date without a time zone, which §7.9.4 leaves unrelated to UTC, is given as UTC.
pub(crate) fn rfc3339(date: &DateTime) -> Option<String> {
    let valid = (1..=12).contains(&date.month)
        && date.day >= 1
        && date.day <= days_in_month(date.year, date.month)
        && date.hour <= 23
        && date.minute <= 59
        && date.second <= 59
        && date.utc_offset_hour.unsigned_abs() <= 23
        && date.utc_offset_minute <= 59;
    if !valid {
        return None;
    }
    let zone = if date.utc_offset_hour == 0 && date.utc_offset_minute == 0 {
        "Z".to_owned()
    } else {
        let sign = if date.utc_offset_hour < 0 { '-' } else { '+' };
        format!(
            "{sign}{:02}:{:02}",
            date.utc_offset_hour.unsigned_abs(),
            date.utc_offset_minute
        )
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        date.year, date.month, date.day, date.hour, date.minute, date.second
    ))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(parts: (u16, u8, u8, u8, u8, u8), offset: (i8, u8)) -> DateTime {
        DateTime {
            year: parts.0,
            month: parts.1,
            day: parts.2,
            hour: parts.3,
            minute: parts.4,
            second: parts.5,
            utc_offset_hour: offset.0,
            utc_offset_minute: offset.1,
        }
    }

    #[test]
    fn utf16_strings_with_a_byte_order_mark_are_decoded() {
        let bytes = b"\xFE\xFF\0B\0e\0r\0t\0r\0a\0n\0d\0 \0D\0e\0l\0a\0c\0r\0\xE9\0t\0a\0z";
        assert_eq!(text_string(bytes).as_deref(), Some("Bertrand Delacrétaz"));
    }

    #[test]
    fn language_escapes_are_dropped_from_utf16() {
        let bytes = b"\xFE\xFF\0\x1B\0e\0n\0\x1B\0H\0i";
        assert_eq!(text_string(bytes).as_deref(), Some("Hi"));
    }

    #[test]
    fn pdf_doc_encoding_differs_from_latin1_in_its_upper_range() {
        assert_eq!(
            text_string(b"\x93le \x84 caf\xE9 \xA0").as_deref(),
            Some("ﬁle — café €")
        );
        assert_eq!(
            text_string(b"\xEF\xBB\xBFna\xC3\xAFve").as_deref(),
            Some("naïve")
        );
    }

    #[test]
    fn empty_and_blank_strings_are_none() {
        assert_eq!(text_string(b""), None);
        assert_eq!(text_string(b"\xFE\xFF\0 \0\0"), None);
    }

    #[test]
    fn dates_become_rfc3339_with_their_offset() {
        let d = date((2009, 4, 1, 16, 39, 25), (-7, 0));
        assert_eq!(rfc3339(&d).as_deref(), Some("2009-04-01T16:39:25-07:00"));
        let d = date((2024, 2, 23, 21, 38, 22), (5, 30));
        assert_eq!(rfc3339(&d).as_deref(), Some("2024-02-23T21:38:22+05:30"));
        let d = date((2023, 1, 1, 0, 0, 0), (0, 0));
        assert_eq!(rfc3339(&d).as_deref(), Some("2023-01-01T00:00:00Z"));
    }

    #[test]
    fn days_that_do_not_exist_are_dropped() {
        assert_eq!(rfc3339(&date((2023, 2, 29, 0, 0, 0), (0, 0))), None);
        assert!(rfc3339(&date((2024, 2, 29, 0, 0, 0), (0, 0))).is_some());
        assert_eq!(rfc3339(&date((2023, 4, 31, 0, 0, 0), (0, 0))), None);
    }
}
