//! Reading the bytes and opening the document: header check, the nesting pre-scan, hayro-syntax
//! (which repairs a broken cross-reference table by reading the objects themselves), decryption
//! with the empty user password, and the mapping of every failure to a [`FormatError`].

use std::sync::Arc;

use hayro::hayro_syntax::object::{ObjectIdentifier, Stream};
use hayro::hayro_syntax::{DecryptionError, LoadPdfError, Pdf, PdfData};

use super::scan::{self, ScanError};
use crate::{FormatError, Input, Limits};

/// How far into the file the `%PDF-` header may start (ISO 32000-2 §7.5.2 puts it at byte 0;
/// readers accept leading junk, Acrobat within the first 1024 bytes).
const HEADER_WINDOW: usize = 1024;

/// A password no document has: opening with it tells an encrypted document (it fails) from a
/// plain one (the password is never read).
const PROBE_PASSWORD: &str = "\u{1}fileproc-probe\u{1}";

/// An opened document.
pub(crate) struct Opened {
    /// The parsed document; it owns the bytes (`pdf.data()`).
    pub pdf: Pdf,
    /// Whether the document is encrypted (and was opened with the empty user password).
    pub encrypted: bool,
}

/// Reads the whole input (a PDF is read from its end, through the cross-reference table).
///
/// # Errors
/// `Io`, `Empty` for no bytes, `Corrupt` without a `%PDF-` header.
pub(crate) fn read_all(mut input: Input<'_>, size: Option<u64>) -> Result<Vec<u8>, FormatError> {
    let capacity = size
        .and_then(|s| usize::try_from(s).ok())
        .unwrap_or(0)
        .min(64 << 20);
    let mut data = Vec::with_capacity(capacity);
    input.reader().read_to_end(&mut data)?;
    if data.is_empty() {
        return Err(FormatError::Empty);
    }
    let head = data
        .get(..HEADER_WINDOW.min(data.len()))
        .unwrap_or_default();
    if memchr::memmem::find(head, b"%PDF-").is_none() {
        return Err(FormatError::Corrupt(format!(
            "no %PDF- header in the first {HEADER_WINDOW} bytes"
        )));
    }
    Ok(data)
}

/// Checks nesting and inflated sizes, then opens the document with hayro-syntax.
///
/// # Errors
/// `LimitExceeded` for nesting deeper than `max_pdf_depth` or flate streams inflating to more
/// than `max_pdf_inflated_bytes` together; `Encrypted` when a user password is
/// needed or the security handler is not one hayro-syntax knows (ISO 32000-2 §7.6: the standard
/// handler with RC4 or AES); `Corrupt` when no catalog and page tree can be found, even by
/// reading every object of the file.
pub(crate) fn open(data: Vec<u8>, limits: &Limits) -> Result<Opened, FormatError> {
    let report = scan::scan(&data, limits.max_pdf_depth, limits.max_pdf_inflated_bytes)
        .map_err(|e| scan_error(&e, limits, "file"))?;
    let encrypted_hint = memchr::memmem::find(&data, b"/Encrypt").is_some();
    let data = PdfData::from(Arc::new(data));
    let pdf = Pdf::new(data.clone()).map_err(load_error)?;
    let encrypted = encrypted_hint
        && matches!(
            Pdf::new_with_password(data, PROBE_PASSWORD),
            Err(LoadPdfError::Decryption(DecryptionError::PasswordProtected))
        );
    for &(number, generation) in &report.object_streams {
        let id = ObjectIdentifier::new(number, generation);
        let Some(stream) = pdf.xref().get::<Stream<'_>>(id) else {
            continue;
        };
        if let Ok(decoded) = stream.decoded() {
            scan::scan(
                &decoded,
                limits.max_pdf_depth,
                limits.max_pdf_inflated_bytes,
            )
            .map_err(|e| scan_error(&e, limits, "object stream"))?;
        }
    }
    Ok(Opened { pdf, encrypted })
}

fn scan_error(e: &ScanError, limits: &Limits, place: &str) -> FormatError {
    FormatError::LimitExceeded(match e {
        ScanError::TooDeep { depth, offset } => format!(
            "arrays and dictionaries nest {depth} deep at byte {offset} of the {place}, over the \
             limit of {} (processing.pdf.max_depth)",
            limits.max_pdf_depth
        ),
        ScanError::Inflates { budget } => format!(
            "its compressed streams inflate to more than {budget} bytes (processing.pdf.max_inflated_size)"
        ),
    })
}

fn load_error(e: LoadPdfError) -> FormatError {
    match e {
        LoadPdfError::Decryption(DecryptionError::PasswordProtected) => FormatError::Encrypted(
            "a user password is needed to open it (the empty password does not work)".into(),
        ),
        LoadPdfError::Decryption(DecryptionError::UnsupportedAlgorithm) => {
            FormatError::Encrypted("its encryption method is not supported".into())
        }
        LoadPdfError::Decryption(
            DecryptionError::InvalidEncryption | DecryptionError::MissingIDEntry,
        ) => FormatError::Corrupt("its encryption dictionary is invalid".into()),
        LoadPdfError::Invalid => FormatError::Corrupt(
            "no catalog and page tree could be found, not even by reading every object".into(),
        ),
    }
}
