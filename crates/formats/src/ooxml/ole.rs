//! OLE2 compound files ([MS-CFB]) where an OOXML package was expected: a password-protected Office
//! file (its package encrypted inside an `EncryptedPackage` stream, [MS-OFFCRYPTO] 2.3.4) or a legacy
//! binary document (.doc, .xls, .ppt).

use std::io::{Read, Seek};

use crate::FormatError;

/// The signature every compound file starts with ([MS-CFB] 2.2, `Header Signature`).
pub(crate) const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Why a compound file is not analysed: always an error.
///
/// `Encrypted` when it holds an `EncryptedPackage` stream, `TypeMismatch` for a legacy binary
/// Office document or any other compound file, `Corrupt` when its directory cannot be read.
pub(crate) fn refuse<R: Read + Seek>(reader: R) -> FormatError {
    let file = match cfb::CompoundFile::open(reader) {
        Ok(file) => file,
        Err(e) => {
            return FormatError::Corrupt(format!(
                "the file has the OLE2 compound-file signature but its directory is damaged: {e}"
            ));
        }
    };
    let has = |name: &str| file.is_stream(name);
    if has("/EncryptedPackage") {
        FormatError::Encrypted(
            "password-protected Office file: the OOXML package is encrypted inside an OLE2 \
             compound file (EncryptedPackage stream)"
                .into(),
        )
    } else if has("/WordDocument") {
        FormatError::TypeMismatch("a legacy Word 97-2003 document (.doc), not a DOCX".into())
    } else if has("/Workbook") || has("/Book") {
        FormatError::TypeMismatch("a legacy Excel 97-2003 workbook (.xls), not an XLSX".into())
    } else if has("/PowerPoint Document") {
        FormatError::TypeMismatch("a legacy PowerPoint presentation (.ppt)".into())
    } else {
        FormatError::TypeMismatch("an OLE2 compound file, not an OOXML package".into())
    }
}
