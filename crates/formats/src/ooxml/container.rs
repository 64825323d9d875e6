//! The guarded ZIP container of an OOXML package (ECMA-376 Part 2, Open Packaging Conventions,
//! annex C: the ZIP appnote subset).
//!
//! Every limit is checked twice. Before anything is inflated, from the central directory: the entry
//! count (`max_zip_entries`), the sum of the declared inflated sizes (`max_expanded_bytes`) and each
//! entry's declared ratio of inflated to compressed size (`max_expansion_ratio`). While inflating,
//! [`PartReader`] counts the bytes that really come out, against the same total and ratio, and the
//! zip crate (9.x) refuses to inflate an entry past its declared size, which turns a lying size into
//! [`FormatError::LimitExceeded`] after at most that many bytes.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read, Seek};

use zip::ZipArchive;
use zip::read::ZipFile;

use crate::{FormatError, Limits};

/// Entries that inflate to less than this are not held to the ratio limit: small XML parts of
/// repeated markup legitimately compress better than 200:1 (Apache POI uses the same kind of grace).
pub(crate) const RATIO_GRACE_BYTES: u64 = 100 << 10;

/// The zip crate's message for an entry that inflates past its declared size (zip 9.x,
/// `Crc32Reader`); tested by the lying-bomb tests so an upgrade that changes it is caught.
const DECLARED_SIZE_OVERRUN: &str = "larger than its declared uncompressed size";

/// The limits of [`Limits`] that concern a ZIP container.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZipLimits {
    pub(crate) max_entries: usize,
    pub(crate) max_expanded_bytes: u64,
    pub(crate) max_ratio: u64,
}

impl From<&Limits> for ZipLimits {
    fn from(l: &Limits) -> Self {
        ZipLimits {
            max_entries: l.max_zip_entries,
            max_expanded_bytes: l.max_expanded_bytes,
            max_ratio: l.max_expansion_ratio,
        }
    }
}

/// A ZIP archive whose central directory passed the limits, with a running count of the bytes
/// inflated from it.
pub(crate) struct Container<R> {
    archive: ZipArchive<R>,
    /// Lowercased entry name → index: OPC part names compare case-insensitively.
    names: HashMap<String, usize>,
    limits: ZipLimits,
    inflated: Cell<u64>,
}

impl<R: Read + Seek> Container<R> {
    /// Reads the central directory and checks the limits on it; nothing is inflated.
    ///
    /// # Errors
    /// `Corrupt` when the central directory cannot be read, `LimitExceeded` for too many entries,
    /// too many declared bytes or an entry whose declared ratio is too high.
    pub(crate) fn open(reader: R, limits: ZipLimits) -> Result<Self, FormatError> {
        let archive = ZipArchive::new(reader)
            .map_err(|e| FormatError::Corrupt(format!("the ZIP container is damaged: {e}")))?;
        if archive.len() > limits.max_entries {
            return Err(FormatError::LimitExceeded(format!(
                "the ZIP container has {} entries, over the limit of {} (processing.archive.max_entries)",
                archive.len(),
                limits.max_entries
            )));
        }
        let mut names = HashMap::with_capacity(archive.len());
        let mut total: u64 = 0;
        for index in 0..archive.len() {
            let entry = archive
                .by_index_data(index)
                .map_err(|e| FormatError::Corrupt(format!("ZIP entry {index}: {e}")))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            check_ratio(
                &name,
                entry.size(),
                entry.compressed_size(),
                limits.max_ratio,
            )?;
            total = total.saturating_add(entry.size());
            names.insert(name.to_lowercase(), index);
        }
        if total > limits.max_expanded_bytes {
            return Err(FormatError::LimitExceeded(format!(
                "the ZIP entries declare {total} bytes once inflated, over the limit of {} \
                 (processing.archive.max_expanded_size)",
                limits.max_expanded_bytes
            )));
        }
        Ok(Container {
            archive,
            names,
            limits,
            inflated: Cell::new(0),
        })
    }

    /// The index of the entry named `name` (exact, then case-insensitive).
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.archive
            .index_for_name(name)
            .or_else(|| self.names.get(&name.to_lowercase()).copied())
    }

    /// Whether an entry named `name` exists (case-insensitive).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// How many entries (folders excepted) have a name starting with `prefix`, case-insensitively.
    pub(crate) fn count_under(&self, prefix: &str) -> usize {
        let prefix = prefix.to_lowercase();
        self.names
            .keys()
            .filter(|n| n.starts_with(&prefix) && !n.ends_with('/'))
            .count()
    }

    /// The declared inflated and compressed sizes of the entry named `name`.
    pub(crate) fn sizes(&self, name: &str) -> Option<(u64, u64)> {
        let entry = self.archive.by_index_data(self.index_of(name)?).ok()?;
        Some((entry.size(), entry.compressed_size()))
    }

    /// A guarded reader over the inflated bytes of the entry named `name`, `None` when there is none.
    ///
    /// # Errors
    /// `Corrupt` when the entry's local header is damaged or its compression method unsupported,
    /// `Encrypted` for a ZIP-encrypted entry.
    pub(crate) fn open_entry(
        &mut self,
        name: &str,
    ) -> Result<Option<PartReader<'_, R>>, FormatError> {
        let Some(index) = self.index_of(name) else {
            return Ok(None);
        };
        let file = self.archive.by_index(index).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(msg)
                if msg == zip::result::ZipError::PASSWORD_REQUIRED =>
            {
                FormatError::Encrypted(format!("ZIP entry {name} is encrypted"))
            }
            other => FormatError::Corrupt(format!("ZIP entry {name}: {other}")),
        })?;
        Ok(Some(PartReader {
            declared: file.size(),
            compressed: file.compressed_size(),
            inner: file,
            name: name.to_owned(),
            read: 0,
            total: &self.inflated,
            limits: self.limits,
        }))
    }
}

/// `LimitExceeded` when an entry's declared inflated size is over `max_ratio` times its compressed
/// size (entries under [`RATIO_GRACE_BYTES`] excepted).
pub(crate) fn check_ratio(
    name: &str,
    size: u64,
    compressed: u64,
    max_ratio: u64,
) -> Result<(), FormatError> {
    if size <= RATIO_GRACE_BYTES || size <= compressed.saturating_mul(max_ratio) {
        return Ok(());
    }
    let ratio = size.checked_div(compressed).unwrap_or(u64::MAX);
    Err(FormatError::LimitExceeded(format!(
        "ZIP entry {name} inflates from {compressed} to {size} bytes, a ratio of {ratio}:1, over the \
         limit of {max_ratio} (processing.archive.max_expansion_ratio)"
    )))
}

/// A limit passed while inflating, carried through `io::Error` (quick-xml and calamine only pass
/// I/O errors along) and turned back into [`FormatError::LimitExceeded`] by [`limit_from_io`].
#[derive(Debug)]
pub(crate) struct LimitSignal(pub(crate) String);

impl std::fmt::Display for LimitSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitSignal {}

/// The limit message an I/O error carries, if it is a [`LimitSignal`] or the zip crate's refusal to
/// inflate an entry past its declared size.
pub(crate) fn limit_from_io(e: &io::Error) -> Option<String> {
    if let Some(signal) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitSignal>())
    {
        return Some(signal.0.clone());
    }
    limit_from_message(&e.to_string())
}

/// The limit message for an error whose text (a chain printed by a library such as calamine) says
/// that a ZIP entry inflated past its declared size.
pub(crate) fn limit_from_message(text: &str) -> Option<String> {
    text.contains(DECLARED_SIZE_OVERRUN).then(|| {
        format!(
            "a ZIP entry inflates past its declared size (a ZIP bomb's lie); it was stopped there \
             (processing.archive.max_expanded_size): {text}"
        )
    })
}

/// Inflated bytes of one entry, counted against the container's limits as they come out.
pub(crate) struct PartReader<'a, R: Read> {
    inner: ZipFile<'a, R>,
    name: String,
    declared: u64,
    compressed: u64,
    read: u64,
    total: &'a Cell<u64>,
    limits: ZipLimits,
}

impl<R: Read> PartReader<'_, R> {
    /// The declared inflated size of the entry, in bytes.
    pub(crate) fn declared_size(&self) -> u64 {
        self.declared
    }

    /// The compressed size of the entry, in bytes.
    pub(crate) fn compressed_size(&self) -> u64 {
        self.compressed
    }

    /// Bytes inflated so far from this entry.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.read
    }

    fn signal(&self, msg: String) -> io::Error {
        io::Error::other(LimitSignal(msg))
    }

    fn check(&self) -> io::Result<()> {
        let total = self.total.get();
        if total > self.limits.max_expanded_bytes {
            return Err(self.signal(format!(
                "inflating the ZIP entries gave more than {} bytes, over the limit \
                 (processing.archive.max_expanded_size), while reading {}",
                self.limits.max_expanded_bytes, self.name
            )));
        }
        check_ratio(
            &self.name,
            self.read,
            self.compressed,
            self.limits.max_ratio,
        )
        .map_err(|e| self.signal(e.to_string()))
    }
}

impl<R: Read> Read for PartReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let grown = n as u64;
        self.read = self.read.saturating_add(grown);
        self.total.set(self.total.get().saturating_add(grown));
        self.check()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_entries_are_not_held_to_the_ratio() {
        assert!(check_ratio("a.xml", RATIO_GRACE_BYTES, 1, 200).is_ok());
        assert!(check_ratio("a.xml", RATIO_GRACE_BYTES + 1, 1, 200).is_err());
    }

    #[test]
    fn an_entry_with_no_compressed_bytes_has_an_unbounded_ratio() {
        let err = check_ratio("b.xml", 1 << 30, 0, 200).unwrap_err();
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains("max_expansion_ratio"), "{err}");
    }

    #[test]
    fn a_limit_signal_survives_the_trip_through_io_error() {
        let e = io::Error::other(LimitSignal(
            "over (processing.archive.max_expanded_size)".into(),
        ));
        assert_eq!(
            limit_from_io(&e).as_deref(),
            Some("over (processing.archive.max_expanded_size)")
        );
        let other = io::Error::new(io::ErrorKind::InvalidData, "Invalid checksum");
        assert_eq!(limit_from_io(&other), None);
    }
}
