//! The bytes before the CSV: refusing binary files, detecting the text encoding from a prefix, and
//! the decoded stream the parser reads.

use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::FormatError;

/// How many bytes encoding detection and dialect sniffing look at.
pub(super) const PREFIX_BYTES: usize = 64 << 10;

/// The start of a known binary format, with its name for the error message.
const BINARY_MAGIC: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xFF\xD8\xFF", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1F\x8B", "a gzip stream"),
    (b"\xD0\xCF\x11\xE0", "an OLE compound file"),
    (b"7z\xBC\xAF", "a 7-Zip archive"),
];

/// A reader that counts the bytes read through it, for progress reports from another thread.
pub(super) struct Counting<'a, R> {
    pub inner: R,
    pub count: &'a AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads up to [`PREFIX_BYTES`]; the flag says whether the input ended within them.
pub(super) fn read_prefix(reader: &mut impl Read) -> Result<(Vec<u8>, bool), FormatError> {
    let mut prefix = Vec::with_capacity(PREFIX_BYTES);
    reader.take(PREFIX_BYTES as u64).read_to_end(&mut prefix)?;
    let complete = if prefix.len() < PREFIX_BYTES {
        true
    } else {
        // One more byte tells a file of exactly PREFIX_BYTES from a longer one.
        let mut one = [0u8; 1];
        let n = loop {
            match reader.read(&mut one) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        prefix.extend_from_slice(one.get(..n).unwrap_or_default());
        n == 0
    };
    Ok((prefix, complete))
}

/// The detected encoding of a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Detected {
    pub encoding: &'static Encoding,
    /// Length of the byte-order mark to skip.
    pub bom_len: usize,
}

/// Detects the encoding from the prefix (`complete` when the prefix is the whole file).
///
/// # Errors
/// [`FormatError::Corrupt`] when the prefix holds NUL bytes or starts with a binary format's magic.
pub(super) fn detect(prefix: &[u8], complete: bool) -> Result<Detected, FormatError> {
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        return Ok(Detected {
            encoding: UTF_8,
            bom_len: 3,
        });
    }
    if prefix.starts_with(b"\xFF\xFE") {
        return Ok(Detected {
            encoding: UTF_16LE,
            bom_len: 2,
        });
    }
    if prefix.starts_with(b"\xFE\xFF") {
        return Ok(Detected {
            encoding: UTF_16BE,
            bom_len: 2,
        });
    }
    if let Some((_, what)) = BINARY_MAGIC
        .iter()
        .find(|(magic, _)| prefix.starts_with(magic))
    {
        return Err(FormatError::Corrupt(format!(
            "this is binary data ({what}), not CSV text"
        )));
    }
    if prefix.contains(&0) {
        return Err(FormatError::Corrupt(
            "this is binary data (it contains NUL bytes), not CSV text".into(),
        ));
    }
    let utf8 = match std::str::from_utf8(prefix) {
        Ok(_) => true,
        // Only an incomplete character at the very end: the prefix cut it.
        Err(e) => e.error_len().is_none(),
    };
    if utf8 {
        return Ok(Detected {
            encoding: UTF_8,
            bom_len: 0,
        });
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(prefix, complete);
    Ok(Detected {
        encoding: detector.guess(None, false),
        bom_len: 0,
    })
}

/// The prefix decoded to text, for sniffing (invalid sequences replaced).
pub(super) fn decode_sample(prefix: &[u8], detected: Detected) -> String {
    let body = prefix.get(detected.bom_len..).unwrap_or_default();
    let (text, _) = detected.encoding.decode_without_bom_handling(body);
    text.into_owned()
}

/// The whole input as UTF-8 bytes: the prefix (without its BOM) followed by the rest. UTF-8 input
/// passes through untouched (invalid bytes are dealt with per field); anything else is transcoded
/// as it streams.
pub(super) fn utf8_stream<'a>(
    prefix: Vec<u8>,
    rest: impl Read + Send + 'a,
    detected: Detected,
) -> Box<dyn Read + Send + 'a> {
    let mut head = Cursor::new(prefix);
    head.set_position(detected.bom_len as u64);
    let raw = head.chain(rest);
    if detected.encoding == UTF_8 {
        Box::new(raw)
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(detected.encoding))
                .bom_sniffing(false)
                .build(raw),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_cut_by_the_prefix_end_is_still_utf8() {
        let d = detect("abc,é".as_bytes().get(..5).unwrap_or_default(), false)
            .map_err(|e| e.to_string());
        assert_eq!(d.map(|d| d.encoding.name()), Ok("UTF-8"));
    }

    #[test]
    fn latin1_bytes_are_guessed_as_windows_1252() {
        let d = detect(b"name,city\nRen\xE9,Z\xFCrich\nJos\xE9,M\xFCnchen\n", true)
            .map_err(|e| e.to_string());
        assert_eq!(d.map(|d| d.encoding.name()), Ok("windows-1252"));
    }

    #[test]
    fn binary_magic_and_nul_bytes_are_corrupt() {
        assert!(
            matches!(detect(b"%PDF-1.7\n", true), Err(FormatError::Corrupt(m)) if m.contains("binary"))
        );
        assert!(
            matches!(detect(b"a,b\n1,\x002\n", true), Err(FormatError::Corrupt(m)) if m.contains("NUL"))
        );
    }
}
