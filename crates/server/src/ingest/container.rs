//! Which Office document a ZIP container is, from the names in its central directory (at the end
//! of the file, so read once the bytes are stored): ECMA-376 Part 2 (Open Packaging Conventions)
//! puts a WordprocessingML package's main part at `word/document.xml` and a SpreadsheetML one's
//! at `xl/workbook.xml` in the files Office and LibreOffice write (the part names the package's
//! `[Content_Types].xml` lists). The first bytes alone often show only "a ZIP", since
//! `[Content_Types].xml` usually comes first.
//!
//! ZIP layout from the PKWARE APPNOTE (4.3.16 end of central directory record, 4.3.12 central
//! directory file header).

use fileproc_formats::FileType;

/// The end of central directory record's signature.
const EOCD: [u8; 4] = [0x50, 0x4B, 0x05, 0x06];
/// A central directory file header's signature.
const CENTRAL: [u8; 4] = [0x50, 0x4B, 0x01, 0x02];
/// Bytes read from a container's end: the record (22 bytes), a comment of up to 64 KiB, and the
/// central directory of any ordinary document.
pub const TAIL_LEN: u64 = 1024 * 1024;

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 4)
        .map(|s| u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
}

/// The entry names of the central directory found in `tail`, the last bytes of a file of
/// `size` bytes; `None` when the tail holds no readable directory.
pub fn entry_names(tail: &[u8], size: u64) -> Option<Vec<String>> {
    let eocd = (0..=tail.len().checked_sub(22)?)
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)?;
    let entries = u16_at(tail, eocd + 10)?;
    let cd_size = u32_at(tail, eocd + 12)?;
    let cd_offset = u32_at(tail, eocd + 16)?;
    // Where the directory starts within `tail`.
    let tail_start = size.checked_sub(tail.len() as u64)?;
    let mut at = usize::try_from(cd_offset.checked_sub(tail_start)?).ok()?;
    let end = at.checked_add(usize::try_from(cd_size).ok()?)?.min(eocd);
    let mut names = Vec::with_capacity(entries.min(4096));
    while at + 46 <= end && names.len() < entries {
        if tail[at..at + 4] != CENTRAL {
            return None;
        }
        let name_len = u16_at(tail, at + 28)?;
        let extra_len = u16_at(tail, at + 30)?;
        let comment_len = u16_at(tail, at + 32)?;
        let name = tail.get(at + 46..at + 46 + name_len)?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

/// The Office type the names show, if any.
pub fn office_type(names: &[String]) -> Option<FileType> {
    let has = |part: &str| names.iter().any(|n| n.eq_ignore_ascii_case(part));
    if has("word/document.xml") {
        Some(FileType::Docx)
    } else if has("xl/workbook.xml") {
        Some(FileType::Xlsx)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ZIP of empty stored entries named `names`, as a ZIP writer lays it out.
    fn zip(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for name in names {
            let offset = out.len() as u32;
            out.extend_from_slice(&[0x50, 0x4B, 0x03, 0x04]);
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            central.extend_from_slice(&CENTRAL);
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&EOCD);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn the_central_directory_tells_a_document_from_a_workbook() {
        let docx = zip(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"]);
        let names = entry_names(&docx, docx.len() as u64).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(office_type(&names), Some(FileType::Docx));
        let xlsx = zip(&[
            "[Content_Types].xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml",
        ]);
        assert_eq!(
            office_type(&entry_names(&xlsx, xlsx.len() as u64).unwrap()),
            Some(FileType::Xlsx)
        );
        let plain = zip(&["readme.txt"]);
        assert_eq!(
            office_type(&entry_names(&plain, plain.len() as u64).unwrap()),
            None
        );
        // Only the tail of a larger file: offsets are relative to the whole file.
        let shifted = zip_at(&docx, 5000);
        let tail = &shifted[shifted.len() - 400..];
        assert_eq!(
            office_type(&entry_names(tail, shifted.len() as u64).unwrap()),
            Some(FileType::Docx)
        );
        assert!(entry_names(b"not a zip at all, nothing here", 30).is_none());
        assert!(entry_names(&docx[..docx.len() - 5], docx.len() as u64 - 5).is_none());
    }

    /// `zip` preceded by `pad` bytes, its central directory offset moved accordingly.
    fn zip_at(zip: &[u8], pad: usize) -> Vec<u8> {
        let mut out = vec![0u8; pad];
        out.extend_from_slice(zip);
        let eocd = out.len() - 22;
        let offset = u32::from_le_bytes(out[eocd + 16..eocd + 20].try_into().unwrap());
        out[eocd + 16..eocd + 20].copy_from_slice(&(offset + pad as u32).to_le_bytes());
        out
    }
}
