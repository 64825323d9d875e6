//! A client's file name made safe to keep and show: it is only ever data (stored in the catalog,
//! sent back in `Content-Disposition` with RFC 6266 / RFC 5987 encoding), never part of a
//! storage key, but it still reaches people's screens and file systems.
//!
//! The last path component is kept (both `/` and `\` separate), normalised to Unicode NFC
//! (UAX #15), without control characters (NUL included), bidirectional overrides and
//! isolates (the "Trojan Source" spoofing of `invoice\u{202E}fdp.exe`, Unicode TR #9) or
//! zero-width characters; trailing dots and spaces go (Windows drops them); a Windows reserved
//! device name (`CON`, `NUL`, `COM1`...) gets a `_` in front; and the name is cut to the byte
//! limit at a character boundary, keeping its extension.

use unicode_normalization::UnicodeNormalization;

/// Why a name cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilename(pub &'static str);

/// Windows device names, reserved with any extension (Win32 "Naming Files, Paths, and
/// Namespaces").
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Characters that change how text around them is displayed without showing themselves.
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'                  // Arabic letter mark
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // LRE, RLE, PDF, LRO, RLO
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // LRI, RLI, FSI, PDI
            | '\u{FEFF}'                // zero-width no-break space (BOM)
        )
}

/// The safe form of `raw`, at most `max_bytes` bytes of UTF-8.
///
/// # Errors
/// [`InvalidFilename`] when nothing usable is left (an empty name, `.`, `..`, only controls).
pub fn sanitize(raw: &str, max_bytes: usize) -> Result<String, InvalidFilename> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.nfc().filter(|c| !is_invisible_control(*c)).collect();
    let trimmed = cleaned.trim().trim_end_matches(['.', ' ']);
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        return Err(InvalidFilename(
            "the upload needs a file name (the file field's filename, or filename)",
        ));
    }
    let stem = trimmed.split('.').next().unwrap_or_default().trim_end();
    let mut name = if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    };
    if name.len() > max_bytes {
        name = shorten(&name, max_bytes);
    }
    Ok(name)
}

/// `name` cut to `max_bytes`, keeping a short extension (up to 16 bytes) whole.
fn shorten(name: &str, max_bytes: usize) -> String {
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() < 16 && ext.len() + 2 <= max_bytes => {
            (stem, Some(ext))
        }
        _ => (name, None),
    };
    let room = max_bytes - extension.map_or(0, |e| e.len() + 1);
    let mut end = room.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    match extension {
        Some(ext) => format!("{}.{ext}", &stem[..end]),
        None => stem[..end].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        sanitize(raw, 255).unwrap()
    }

    #[test]
    fn paths_and_traversal_leave_only_the_last_component() {
        assert_eq!(ok("../../etc/passwd.csv"), "passwd.csv");
        assert_eq!(ok(r"C:\Users\me\report.pdf"), "report.pdf");
        assert!(sanitize("a/b/", 255).is_err(), "a directory, not a file");
        assert!(sanitize("..", 255).is_err());
        assert!(sanitize("dir/..", 255).is_err());
        assert!(sanitize("", 255).is_err());
        assert!(sanitize(" . ", 255).is_err());
    }

    #[test]
    fn controls_bidi_overrides_and_zero_width_characters_are_removed() {
        assert_eq!(ok("in\u{0}voice.csv"), "invoice.csv");
        assert_eq!(ok("a\tb\r\n.csv"), "ab.csv");
        // "invoice[RLO]fdp.exe" displays as "invoiceexe.pdf".
        assert_eq!(ok("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(ok("\u{2067}x\u{2069}\u{200B}.png"), "x.png");
        assert!(sanitize("\u{202E}\u{0}", 255).is_err());
    }

    #[test]
    fn names_are_nfc_and_windows_safe() {
        // "é" as e + combining acute becomes the one precomposed character.
        assert_eq!(ok("caf\u{0065}\u{0301}.csv"), "caf\u{00E9}.csv");
        assert_eq!(ok("CON.csv"), "_CON.csv");
        assert_eq!(ok("lpt1"), "_lpt1");
        assert_eq!(ok("console.csv"), "console.csv");
        assert_eq!(ok("notes.csv. . "), "notes.csv");
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.xlsx", "é".repeat(200));
        let cut = sanitize(&long, 255).unwrap();
        assert!(cut.len() <= 255, "{}", cut.len());
        assert!(cut.ends_with("é.xlsx"));
        assert_eq!(cut.len(), 255); // 125 two-byte letters and ".xlsx"
        let no_ext = "x".repeat(300);
        assert_eq!(sanitize(&no_ext, 255).unwrap().len(), 255);
    }
}
