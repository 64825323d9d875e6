//! A lexical pass over PDF bytes that measures how deeply arrays and dictionaries nest, before
//! any parser sees them, and finds the object streams whose contents need the same check once
//! they are decoded.
//!
//! The tokens follow ISO 32000-2 §7.2 (lexical conventions): comments run to the end of the
//! line, literal strings nest balanced parentheses and escape with a backslash, hex strings run
//! to `>`, `[`/`]` open and close arrays, `<<`/`>>` dictionaries. Stream data (§7.3.8) is skipped
//! from the `stream` keyword to the next `endstream`, so binary data cannot count as brackets.
//! The depth starts again at 0 at each `obj` and `endobj`, so one unbalanced broken object does
//! not add up with the next.
//!
//! The pass is linear, allocates nothing per token and stops at the first nesting deeper than the
//! limit. Nesting inside compressed object streams (§7.5.7) is invisible here: the object numbers
//! of streams whose dictionary says `/ObjStm` are returned so that their decoded data can be
//! scanned the same way.
//!
//! The same pass inflates every `/FlateDecode` stream (§7.4.4) into a counting sink, in 64 KiB
//! steps, and stops once all of them together pass a byte budget: neither hayro-syntax nor lopdf
//! bounds what a stream inflates to, so a few kilobytes of deflated zeros would otherwise become
//! gigabytes in their buffers. Encrypted streams cannot be inflated before decryption and are
//! not counted.

use std::io::Read;

use flate2::read::{DeflateDecoder, ZlibDecoder};
use memchr::memmem;

/// What a pass found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ScanReport {
    /// The deepest nesting of arrays and dictionaries seen.
    pub max_depth: u32,
    /// Object number and generation of each stream whose dictionary names `/ObjStm`.
    pub object_streams: Vec<(u32, i32)>,
    /// Bytes all the `/FlateDecode` streams inflate to together (as far as counted).
    pub inflated_bytes: u64,
}

/// Why a pass stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// Nesting deeper than the limit: the depth reached (limit + 1) and where.
    TooDeep { depth: u32, offset: usize },
    /// The flate streams inflate to more than the budget, in bytes.
    Inflates { budget: u64 },
}

/// Scans `data` (a whole file or a decoded object stream); fails at the first nesting deeper
/// than `max_depth`, or once flate streams have inflated to more than `inflate_budget` bytes.
pub(crate) fn scan(
    data: &[u8],
    max_depth: u32,
    inflate_budget: u64,
) -> Result<ScanReport, ScanError> {
    let mut lexer = Lexer {
        data,
        pos: 0,
        depth: 0,
        report: ScanReport::default(),
        last_obj: None,
        dict_start: 0,
        inflate_budget,
    };
    lexer.run(max_depth)?;
    Ok(lexer.report)
}

struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    depth: u32,
    report: ScanReport,
    /// The number and generation of the last `N G obj` header, and where its body starts.
    last_obj: Option<(u32, i32)>,
    dict_start: usize,
    inflate_budget: u64,
}

impl Lexer<'_> {
    fn run(&mut self, limit: u32) -> Result<(), ScanError> {
        while let Some(&byte) = self.data.get(self.pos) {
            match byte {
                b'%' => self.skip_comment(),
                b'(' => self.skip_literal_string(),
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    self.open(limit)?;
                }
                b'<' => self.skip_past(b'>'),
                b'>' if self.data.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    self.depth = self.depth.saturating_sub(1);
                }
                b'[' => {
                    self.pos += 1;
                    self.open(limit)?;
                }
                b']' => {
                    self.pos += 1;
                    self.depth = self.depth.saturating_sub(1);
                }
                b'a'..=b'z' => self.keyword()?,
                _ => self.pos += 1,
            }
        }
        Ok(())
    }

    fn open(&mut self, limit: u32) -> Result<(), ScanError> {
        self.depth += 1;
        self.report.max_depth = self.report.max_depth.max(self.depth);
        if self.depth > limit {
            return Err(ScanError::TooDeep {
                depth: self.depth,
                offset: self.pos,
            });
        }
        Ok(())
    }

    /// A run of letters: `obj`, `endobj` and `stream` matter, the rest (`true`, `R`...) do not.
    fn keyword(&mut self) -> Result<(), ScanError> {
        let start = self.pos;
        while self.data.get(self.pos).is_some_and(u8::is_ascii_alphabetic) {
            self.pos += 1;
        }
        let word = self.data.get(start..self.pos).unwrap_or_default();
        if start > 0 && self.data.get(start - 1) == Some(&b'/') {
            return Ok(()); // a name such as `/stream`, not a keyword
        }
        match word {
            b"obj" => {
                self.depth = 0;
                self.last_obj = object_header_before(self.data, start);
                self.dict_start = self.pos;
            }
            b"endobj" => {
                self.depth = 0;
                self.last_obj = None;
            }
            b"stream" => self.skip_stream_data()?,
            _ => {}
        }
        Ok(())
    }

    fn skip_stream_data(&mut self) -> Result<(), ScanError> {
        let dict = self.data.get(self.dict_start..self.pos).unwrap_or_default();
        if let Some(id) = self.last_obj
            && memmem::find(dict, b"/ObjStm").is_some()
        {
            self.report.object_streams.push(id);
        }
        let flate = memmem::find(dict, b"/FlateDecode").is_some();
        let start = self.pos;
        let rest = self.data.get(start..).unwrap_or_default();
        let end = memmem::find(rest, b"endstream").map_or(self.data.len(), |at| start + at);
        self.pos = (end + b"endstream".len()).min(self.data.len());
        self.depth = 0;
        if flate {
            let body = self.data.get(start..end).unwrap_or_default();
            let body = body.strip_prefix(b"\r").unwrap_or(body);
            let body = body.strip_prefix(b"\n").unwrap_or(body);
            let left = self
                .inflate_budget
                .saturating_sub(self.report.inflated_bytes);
            self.report.inflated_bytes += inflated_size(body, left.saturating_add(1));
            if self.report.inflated_bytes > self.inflate_budget {
                return Err(ScanError::Inflates {
                    budget: self.inflate_budget,
                });
            }
        }
        Ok(())
    }

    fn skip_comment(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if b == b'\n' || b == b'\r' {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_past(&mut self, end: u8) {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        self.pos = match memchr::memchr(end, rest) {
            Some(at) => self.pos + at + 1,
            None => self.data.len(),
        };
    }

    /// `( ... )` with balanced inner parentheses and backslash escapes (§7.3.4.2).
    fn skip_literal_string(&mut self) {
        let mut open = 0usize;
        while let Some(&b) = self.data.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'(' => open += 1,
                b')' => {
                    open = open.saturating_sub(1);
                    if open == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

/// How many bytes `deflated` inflates to (zlib, else raw deflate, as readers accept both),
/// counting at most `cap`; a stream that breaks off counts what came out before.
fn inflated_size(deflated: &[u8], cap: u64) -> u64 {
    let zlib = matches!(deflated, [cmf, flg, ..]
        if cmf & 0x0F == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)).is_multiple_of(31));
    let reader: Box<dyn Read + '_> = if zlib {
        Box::new(ZlibDecoder::new(deflated))
    } else {
        Box::new(DeflateDecoder::new(deflated))
    };
    let mut limited = reader.take(cap);
    let mut buffer = vec![0u8; 64 << 10];
    let mut total = 0u64;
    while let Ok(n @ 1..) = limited.read(&mut buffer) {
        total += n as u64;
    }
    total
}

/// The `N G` before an `obj` keyword that starts at `at`, if there is one.
fn object_header_before(data: &[u8], at: usize) -> Option<(u32, i32)> {
    let head = data.get(at.saturating_sub(32)..at)?;
    let mut words = head
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .rev();
    let generation = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    let number = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    Some((number, generation))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const BUDGET: u64 = 1 << 30;

    fn flate_object(raw: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(raw).unwrap();
        let deflated = encoder.finish().unwrap();
        let mut object = b"1 0 obj << /Filter /FlateDecode >> stream\r\n".to_vec();
        object.extend(deflated);
        object.extend(b"\r\nendstream endobj");
        object
    }

    #[test]
    fn flate_streams_are_counted_as_they_inflate() {
        let report = scan(&flate_object(&[7u8; 100_000]), 8, BUDGET).unwrap();
        assert_eq!(report.inflated_bytes, 100_000);
    }

    #[test]
    fn a_flate_bomb_stops_the_scan_at_the_budget() {
        // 50 MB of zeros deflate to about 50 KB.
        let object = flate_object(&vec![0u8; 50 << 20]);
        assert!(object.len() < 100_000);
        let err = scan(&object, 8, 10 << 20).unwrap_err();
        assert_eq!(err, ScanError::Inflates { budget: 10 << 20 });
    }

    #[test]
    fn nesting_counts_arrays_and_dictionaries_together() {
        let report = scan(b"1 0 obj << /A [ [ << /B 1 >> ] ] >> endobj", 10, BUDGET).unwrap();
        assert_eq!(report.max_depth, 4);
    }

    #[test]
    fn strings_comments_and_hex_strings_hide_brackets() {
        let data = b"1 0 obj [ (a [ [ ( nested ) \\( [ ) <5B5B> % [[[[ \n ] endobj";
        assert_eq!(scan(data, 10, BUDGET).unwrap().max_depth, 1);
    }

    #[test]
    fn stream_data_is_skipped_and_object_streams_are_listed() {
        let data = b"7 0 obj << /Type /ObjStm /N 1 >> stream\n[[[[[[[[ endstream endobj \
                     8 0 obj << /Length 3 >> stream\n[[[ endstream endobj";
        let report = scan(data, 2, BUDGET).unwrap();
        assert_eq!(report.max_depth, 1);
        assert_eq!(report.object_streams, [(7, 0)]);
    }

    #[test]
    fn deep_nesting_stops_at_the_limit_without_recursion() {
        let mut data = b"1 0 obj ".to_vec();
        data.extend(std::iter::repeat_n(b'[', 100_000));
        data.extend(std::iter::repeat_n(b']', 100_000));
        let err = scan(&data, 64, BUDGET).unwrap_err();
        assert!(
            matches!(err, ScanError::TooDeep { depth: 65, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn each_object_starts_at_depth_zero() {
        let data = b"1 0 obj [ [ [ endobj 2 0 obj [ [ [ endobj";
        assert_eq!(scan(data, 3, BUDGET).unwrap().max_depth, 3);
    }
}
