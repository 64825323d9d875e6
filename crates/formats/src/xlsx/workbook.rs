//! Opening the workbook with calamine, after the checks calamine does not make.
//!
//! calamine loads the shared-strings table whole when it opens a workbook, and reserves room for
//! as many strings as `<sst uniqueCount>` claims. So before it runs, the table's inflated size is
//! held to `limits.max_shared_strings_bytes` and its claimed count to what that many bytes can hold
//! (an `<si/>` takes at least 5 bytes).
//!
//! calamine 0.38 does unchecked arithmetic on some cell references (`B2:A1` subtracts past zero),
//! which panics in builds with overflow checks; every call into it runs under [`guard`], which
//! turns a panic into `Corrupt`.

use std::io::{BufRead, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Reader, Xlsx, XlsxError};
use quick_xml::events::Event;

use crate::ooxml::{Package, limit_from_message, xml};
use crate::{FormatError, Limits};

/// Fewest bytes one shared string takes in the part (`<si/>`).
const MIN_SHARED_STRING_BYTES: u64 = 5;

/// The shared-strings part calamine reads: `sharedStrings.xml` beside the workbook part.
pub(crate) fn shared_strings_part(workbook_part: &str) -> String {
    match workbook_part.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/sharedStrings.xml"),
        None => "sharedStrings.xml".into(),
    }
}

/// The folder of the workbook's media parts (`xl/media/`).
pub(crate) fn media_folder(workbook_part: &str) -> String {
    match workbook_part.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/media/"),
        None => "media/".into(),
    }
}

/// Checks the shared-strings part against the limits before calamine loads it.
///
/// # Errors
/// `LimitExceeded` when it inflates past `max_shared_strings_bytes`; `Corrupt` when it claims
/// more strings than its size can hold or its start is not XML.
pub(crate) fn check_shared_strings<R: Read + Seek>(
    package: &mut Package<R>,
    limits: &Limits,
) -> Result<(), FormatError> {
    let part = shared_strings_part(package.main_part());
    let Some((size, _)) = package.part_sizes(&part) else {
        return Ok(());
    };
    if size > limits.max_shared_strings_bytes {
        return Err(FormatError::LimitExceeded(format!(
            "{part} inflates to {size} bytes, over the limit of {} (processing.archive.max_shared_strings_size)",
            limits.max_shared_strings_bytes
        )));
    }
    let Some(input) = package.open_part(&part)? else {
        return Ok(());
    };
    let claimed = unique_count(&part, input)?;
    if claimed > size / MIN_SHARED_STRING_BYTES {
        return Err(FormatError::Corrupt(format!(
            "{part} claims {claimed} unique strings, more than its {size} bytes can hold"
        )));
    }
    Ok(())
}

/// The `uniqueCount` of the `sst` element (0 when absent), reading only up to its start tag.
fn unique_count<B: BufRead>(part: &str, input: B) -> Result<u64, FormatError> {
    let mut reader = xml::reader(input);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(xml::attr(&e, "uniqueCount")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0));
            }
            Ok(Event::Eof) => return Ok(0),
            Ok(_) => {}
            Err(e) => return Err(xml::error(part, &e)),
        }
        buf.clear();
    }
}

/// Opens the workbook in `reader` (rewound first) with calamine.
///
/// # Errors
/// `Corrupt` (or `LimitExceeded`, `Encrypted`) from [`calamine_error`].
pub(crate) fn open<RS: Read + Seek>(mut reader: RS) -> Result<Xlsx<RS>, FormatError> {
    reader.seek(std::io::SeekFrom::Start(0))?;
    guard("opening the workbook", || {
        Xlsx::new(reader).map_err(|e| calamine_error("the workbook", &e))
    })
}

/// Runs `f`, turning a panic inside it (calamine on malformed input) into `Corrupt`.
///
/// # Errors
/// `f`'s own, or `Corrupt` when it panicked.
pub(crate) fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, FormatError>,
) -> Result<T, FormatError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(FormatError::Corrupt(format!(
            "{what}: the spreadsheet reader failed on malformed input"
        )))
    })
}

/// A calamine error as a [`FormatError`]: a ZIP entry inflating past its declared size is
/// `LimitExceeded`, a password is `Encrypted`, anything else `Corrupt`.
pub(crate) fn calamine_error(what: &str, e: &XlsxError) -> FormatError {
    let text = e.to_string();
    if let Some(msg) = limit_from_message(&text) {
        return FormatError::LimitExceeded(msg);
    }
    if matches!(e, XlsxError::Password) {
        return FormatError::Encrypted("the workbook is password-protected".into());
    }
    FormatError::Corrupt(format!("{what}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_strings_sit_beside_the_workbook() {
        assert_eq!(
            shared_strings_part("xl/workbook.xml"),
            "xl/sharedStrings.xml"
        );
        assert_eq!(shared_strings_part("workbook.xml"), "sharedStrings.xml");
    }

    #[test]
    fn the_unique_count_is_read_from_the_sst_start_tag() {
        let xml = r#"<?xml version="1.0"?><sst xmlns="x" count="9" uniqueCount="7"><si/></sst>"#;
        assert_eq!(unique_count("s.xml", xml.as_bytes()).unwrap(), 7);
        assert_eq!(unique_count("s.xml", &b"<sst/>"[..]).unwrap(), 0);
    }

    #[test]
    fn a_panic_becomes_a_corrupt_file() {
        let err = guard::<()>("reading", || panic!("overflow")).unwrap_err();
        assert_eq!(err.code(), "corrupt_file");
    }
}
