//! Deciding a file's type from its first bytes, and checking it against the name's extension
//! (`DESIGN.md` section 2: "decided from the bytes, checked against the name's extension").

use fileproc_formats::FileType;

/// How many leading bytes the decision looks at.
pub const SNIFF_LEN: usize = 8192;

/// Why a file's type was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SniffError {
    /// The extension is on the blocked list, or missing from the allowed list (code
    /// `blocked_extension`); empty for a name without one.
    #[error("{}", blocked_message(.0))]
    Blocked(String),
    /// The bytes are a type fileproc does not take (code `unsupported_type`).
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    /// The bytes are a program (PE, ELF, Mach-O, a script with a shebang), refused whatever its
    /// name says (code `executable_blocked`).
    #[error("executables are not accepted: the file's bytes are {0}")]
    Executable(&'static str),
    /// The bytes and the extension disagree (code `type_mismatch`).
    #[error("the file's bytes are {detected} but its name says {claimed}")]
    Mismatch { detected: String, claimed: String },
}

impl SniffError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SniffError::Blocked(_) => "blocked_extension",
            SniffError::Unsupported(_) => "unsupported_type",
            SniffError::Executable(_) => "executable_blocked",
            SniffError::Mismatch { .. } => "type_mismatch",
        }
    }
}

fn blocked_message(extension: &str) -> String {
    if extension.is_empty() {
        "files need an extension naming their type (.csv, .pdf, .docx, .xlsx, .jpg, .png, .webp)"
            .to_owned()
    } else {
        format!("files ending in .{extension} are not accepted")
    }
}

/// The signature of an OLE2 compound file (MS-CFB section 2.2).
const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Which extensions a file name may end in.
#[derive(Debug, Clone, Copy)]
pub struct ExtensionPolicy<'a> {
    /// Extensions accepted (lowercase, no dot); empty accepts every extension not blocked.
    pub allowed: &'a [String],
    /// Extensions refused whatever the bytes.
    pub blocked: &'a [String],
}

impl ExtensionPolicy<'_> {
    /// No restriction beyond the bytes (the `process FILE` command).
    pub const ANY: ExtensionPolicy<'static> = ExtensionPolicy {
        allowed: &[],
        blocked: &[],
    };
}

/// The type a file named `filename` claims before any of its bytes arrive (a chunked or tus
/// upload is checked by name at its start, and by its bytes at its completion with [`detect`]).
///
/// # Errors
/// [`SniffError::Blocked`] for an extension the policy refuses, [`SniffError::Unsupported`] for
/// one that names no type fileproc takes.
pub fn claim(filename: &str, policy: ExtensionPolicy<'_>) -> Result<FileType, SniffError> {
    check_extension(filename, policy)?;
    FileType::from_extension(filename).ok_or_else(|| {
        SniffError::Unsupported(format!(
            "{filename:?} names no type fileproc takes (.csv, .tsv, .txt, .pdf, .docx, .xlsx, \
             .jpg, .png, .webp)"
        ))
    })
}

fn check_extension(filename: &str, policy: ExtensionPolicy<'_>) -> Result<(), SniffError> {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let listed = |list: &[String]| list.iter().any(|e| e.eq_ignore_ascii_case(&extension));
    if listed(policy.blocked) || !(policy.allowed.is_empty() || listed(policy.allowed)) {
        return Err(SniffError::Blocked(extension));
    }
    Ok(())
}

/// The type of a file named `filename` whose first bytes are `prefix` (up to [`SNIFF_LEN`]).
///
/// # Errors
/// See [`SniffError`].
pub fn detect(
    prefix: &[u8],
    filename: &str,
    policy: ExtensionPolicy<'_>,
) -> Result<FileType, SniffError> {
    if let Some(kind) = executable(prefix) {
        return Err(SniffError::Executable(kind));
    }
    check_extension(filename, policy)?;
    let claimed = FileType::from_extension(filename);
    // An OLE2 compound file named .docx or .xlsx is most often a password-protected Office file
    // (MS-OFFCRYPTO: the encrypted OOXML package inside an OLE2 container), else a legacy
    // .doc/.xls; the name's analyzer tells which (`encrypted_file` or `type_mismatch`), since the
    // directory that shows it can lie past the first bytes.
    if prefix.starts_with(&OLE2_MAGIC)
        && let Some(t @ (FileType::Docx | FileType::Xlsx)) = claimed
    {
        return Ok(t);
    }
    // An empty file has no bytes to disagree with its name; its analyzer fails it (`empty_file`).
    if prefix.is_empty()
        && let Some(t) = claimed
    {
        return Ok(t);
    }
    let detected = match infer::get(prefix) {
        Some(kind) => from_magic(kind, claimed)?,
        None if looks_like_text(prefix) => FileType::Csv,
        None => return Err(SniffError::Unsupported("unrecognised binary data".into())),
    };
    match claimed {
        Some(claimed) if claimed != detected => Err(SniffError::Mismatch {
            detected: detected.as_str().to_owned(),
            claimed: claimed.as_str().to_owned(),
        }),
        None if detected == FileType::Csv => Err(SniffError::Unsupported(format!(
            "text files need a .csv, .tsv or .txt name, not {filename:?}"
        ))),
        _ => Ok(detected),
    }
}

fn from_magic(kind: infer::Type, claimed: Option<FileType>) -> Result<FileType, SniffError> {
    Ok(match kind.mime_type() {
        "application/pdf" => FileType::Pdf,
        "image/png" => FileType::Png,
        "image/jpeg" => FileType::Jpeg,
        "image/webp" => FileType::Webp,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => FileType::Docx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => FileType::Xlsx,
        // A DOCX or XLSX whose first entry does not give it away is a plain ZIP to the sniffer;
        // its analyzer checks the container.
        "application/zip" => match claimed {
            Some(t @ (FileType::Docx | FileType::Xlsx)) => t,
            _ => {
                return Err(SniffError::Mismatch {
                    detected: "a zip archive".into(),
                    claimed: claimed.map_or("no known type", FileType::as_str).to_owned(),
                });
            }
        },
        other => {
            return Err(match claimed {
                Some(claimed) => SniffError::Mismatch {
                    detected: other.to_owned(),
                    claimed: claimed.as_str().to_owned(),
                },
                None => SniffError::Unsupported(other.to_owned()),
            });
        }
    })
}

/// What kind of program `prefix` starts, if it is one: by the magic numbers of PE (`MZ`, the DOS
/// stub every PE file starts with), ELF (`\x7fELF`), Mach-O (`feedface`, `feedfacf` and their
/// byte-swapped forms, and `cafebabe` universal binaries), or a `#!` interpreter line.
fn executable(prefix: &[u8]) -> Option<&'static str> {
    const MACH_O: [[u8; 4]; 5] = [
        [0xFE, 0xED, 0xFA, 0xCE],
        [0xFE, 0xED, 0xFA, 0xCF],
        [0xCE, 0xFA, 0xED, 0xFE],
        [0xCF, 0xFA, 0xED, 0xFE],
        [0xCA, 0xFE, 0xBA, 0xBE],
    ];
    if prefix.starts_with(b"MZ") {
        Some("a Windows executable (PE)")
    } else if prefix.starts_with(b"\x7fELF") {
        Some("an ELF executable")
    } else if MACH_O.iter().any(|m| prefix.starts_with(m)) {
        Some("a Mach-O executable")
    } else if prefix.starts_with(b"#!") {
        Some("a script (#! interpreter line)")
    } else {
        None
    }
}

/// Text: no NUL byte (UTF-16 text, which has them, must start with its byte order mark).
fn looks_like_text(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0xFF, 0xFE]) || prefix.starts_with(&[0xFE, 0xFF]) || !prefix.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_with(prefix: &[u8], name: &str) -> Result<FileType, SniffError> {
        let allowed = ["csv", "tsv", "txt", "png", "pdf"].map(String::from);
        let blocked = ["exe", "sh"].map(String::from);
        let policy = ExtensionPolicy {
            allowed: &allowed,
            blocked: &blocked,
        };
        detect(prefix, name, policy)
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn csv_text_with_csv_name_is_csv() {
        assert_eq!(detect_with(b"id,name\n1,a\n", "a.csv"), Ok(FileType::Csv));
        assert_eq!(detect_with(b"", "empty.csv"), Ok(FileType::Csv));
        assert_eq!(detect_with(b"\xff\xfei\0d\0", "u16.tsv"), Ok(FileType::Csv));
    }

    #[test]
    fn executables_are_refused_whatever_their_name() {
        for (bytes, name) in [
            (&b"MZ\x90\0\x03\0\0\0"[..], "report.csv"),
            (&b"\x7fELF\x02\x01\x01"[..], "photo.png"),
            (&[0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1][..], "a.pdf"),
            (&b"#!/bin/sh\nrm -rf /\n"[..], "data.csv"),
        ] {
            let err = detect(bytes, name, ExtensionPolicy::ANY).unwrap_err();
            assert_eq!(err.code(), "executable_blocked", "{name}");
        }
        // Only the first bytes count: "MZ" further in is data.
        assert!(detect(b"id,name\n1,MZ\n", "a.csv", ExtensionPolicy::ANY).is_ok());
    }

    #[test]
    fn a_name_claims_its_type_before_the_bytes_arrive() {
        let blocked = ["exe"].map(String::from);
        let policy = ExtensionPolicy {
            allowed: &[],
            blocked: &blocked,
        };
        assert_eq!(claim("Report.PDF", policy), Ok(FileType::Pdf));
        assert_eq!(claim("a.tsv", policy), Ok(FileType::Csv));
        assert_eq!(
            claim("setup.exe", policy).unwrap_err().code(),
            "blocked_extension"
        );
        assert_eq!(
            claim("notes.md", policy).unwrap_err().code(),
            "unsupported_type"
        );
        assert_eq!(
            claim("README", policy).unwrap_err().code(),
            "unsupported_type"
        );
    }

    #[test]
    fn gzip_named_csv_is_a_mismatch() {
        let gzip = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
        let err = detect_with(gzip, "data.csv").unwrap_err();
        assert_eq!(err.code(), "type_mismatch");
        assert_eq!(
            detect(gzip, "data.gz", ExtensionPolicy::ANY)
                .unwrap_err()
                .code(),
            "unsupported_type"
        );
    }

    #[test]
    fn ole2_named_docx_or_xlsx_is_left_to_their_analyzers() {
        let mut ole2 = OLE2_MAGIC.to_vec();
        ole2.extend_from_slice(&[0; 504]);
        let any = ExtensionPolicy::ANY;
        assert_eq!(detect(&ole2, "secret.docx", any), Ok(FileType::Docx));
        assert_eq!(detect(&ole2, "secret.xlsx", any), Ok(FileType::Xlsx));
        assert!(detect(&ole2, "secret.pdf", any).is_err());
    }

    #[test]
    fn zip_named_csv_is_a_mismatch() {
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
        let err = detect_with(zip, "implicit-zip.csv").unwrap_err();
        assert_eq!(err.code(), "type_mismatch");
    }

    #[test]
    fn png_bytes_named_pdf_is_a_mismatch() {
        assert_eq!(detect_with(PNG, "x.png"), Ok(FileType::Png));
        assert_eq!(
            detect_with(PNG, "x.pdf").unwrap_err().code(),
            "type_mismatch"
        );
    }

    #[test]
    fn blocked_extension_is_refused_whatever_the_bytes() {
        assert_eq!(
            detect_with(b"a,b\n", "run.SH"),
            Err(SniffError::Blocked("sh".into()))
        );
    }

    #[test]
    fn an_extension_missing_from_the_allowed_list_is_refused() {
        assert_eq!(
            detect_with(PNG, "x.gif"),
            Err(SniffError::Blocked("gif".into()))
        );
        assert_eq!(
            detect(PNG, "x.gif", ExtensionPolicy::ANY),
            Ok(FileType::Png)
        );
    }

    #[test]
    fn text_without_a_text_extension_is_unsupported() {
        let err = detect(b"hello", "notes.md", ExtensionPolicy::ANY).unwrap_err();
        assert_eq!(err.code(), "unsupported_type");
    }
}
