//! What DOCX and XLSX share: the OOXML package (ECMA-376 Part 2, Open Packaging Conventions).
//!
//! [`Package::open`] decides what the bytes are before anything else is read:
//! - no bytes → `Empty`;
//! - an OLE2 compound file → `Encrypted` when it holds an `EncryptedPackage` stream (a
//!   password-protected Office file), `TypeMismatch` for a legacy .doc/.xls/.ppt (see `ole.rs`);
//! - anything but a ZIP signature → `Corrupt`;
//! - a ZIP whose central directory passes the limits (`container.rs`; a damaged one is `Corrupt`)
//!   but has no `[Content_Types].xml` → `TypeMismatch`: it is a plain ZIP archive, not a package;
//! - a package whose main part is another kind of document (a DOCX analysed as XLSX, a PPTX...)
//!   → `TypeMismatch`.
//!
//! Parts are then read through guarded readers that count inflated bytes against the limits. XML
//! entities are never expanded or fetched (`xml.rs`).

mod container;
mod content_types;
mod core_props;
mod ole;
mod rels;
pub(crate) mod xml;

use std::io::{BufReader, Read, Seek, SeekFrom};

pub use core_props::CoreProperties;

pub(crate) use container::{PartReader, limit_from_message};
pub(crate) use content_types::PackageKind;
pub(crate) use rels::Relationship;

use container::Container;
use content_types::ContentTypes;

use crate::{FormatError, Limits};

/// The content types part.
const CONTENT_TYPES: &str = "[Content_Types].xml";

/// An opened OOXML package of the expected kind.
pub(crate) struct Package<R> {
    container: Container<R>,
    main_part: String,
}

impl<R: Read + Seek> Package<R> {
    /// Opens the package in `reader` and checks that it is a `expected` document.
    ///
    /// # Errors
    /// See the module documentation; `LimitExceeded` from the container's limits.
    pub(crate) fn open(
        mut reader: R,
        limits: &Limits,
        expected: PackageKind,
    ) -> Result<Self, FormatError> {
        sniff(&mut reader)?;
        let mut container = Container::open(reader, limits.into())?;
        let content_types = match container.open_entry(CONTENT_TYPES)? {
            Some(part) => ContentTypes::parse(BufReader::new(part))?,
            None => {
                return Err(FormatError::TypeMismatch(
                    "a plain ZIP archive: it has no [Content_Types].xml, so it is not an OOXML \
                     package"
                        .into(),
                ));
            }
        };
        let Some((main_part, kind)) = content_types.main_part() else {
            return Err(FormatError::Corrupt(
                "[Content_Types].xml names no main document part (ECMA-376 Part 2, 10.1.2)".into(),
            ));
        };
        if kind != expected {
            return Err(FormatError::TypeMismatch(format!(
                "the file is {}, not {}",
                kind.describe(),
                expected.describe()
            )));
        }
        if !container.contains(&main_part) {
            return Err(FormatError::Corrupt(format!(
                "the main part {main_part} is missing from the package"
            )));
        }
        Ok(Package {
            container,
            main_part,
        })
    }

    /// The main part's ZIP entry name (`word/document.xml`, `xl/workbook.xml`), lowercased.
    pub(crate) fn main_part(&self) -> &str {
        &self.main_part
    }

    /// Whether the package has a part named `name` (case-insensitive).
    pub(crate) fn has_part(&self, name: &str) -> bool {
        self.container.contains(name)
    }

    /// How many parts have a name starting with `prefix` (case-insensitive), e.g. `xl/media/`.
    pub(crate) fn count_parts_under(&self, prefix: &str) -> usize {
        self.container.count_under(prefix)
    }

    /// The declared inflated and compressed sizes of a part, in bytes.
    pub(crate) fn part_sizes(&self, name: &str) -> Option<(u64, u64)> {
        self.container.sizes(name)
    }

    /// A buffered, guarded reader over a part's bytes; `None` when there is no such part.
    ///
    /// # Errors
    /// `Corrupt` or `Encrypted` when the entry cannot be opened.
    pub(crate) fn open_part(
        &mut self,
        name: &str,
    ) -> Result<Option<BufReader<PartReader<'_, R>>>, FormatError> {
        Ok(self
            .container
            .open_entry(name)?
            .map(|p| BufReader::with_capacity(64 << 10, p)))
    }

    /// The relationships of `source` (`""` for the package's own), targets inside the package
    /// only; empty when it has no relationship part.
    ///
    /// # Errors
    /// `Corrupt` when the relationship part is not well-formed; limits.
    pub(crate) fn relationships(&mut self, source: &str) -> Result<Vec<Relationship>, FormatError> {
        match self.open_part(&rels::rels_part_of(source))? {
            Some(part) => rels::parse(source, part),
            None => Ok(Vec::new()),
        }
    }

    /// The core properties: the part the package's `core-properties` relationship points to (or
    /// `docProps/core.xml`); all `null` when there is none. Bad dates add to `warnings`.
    ///
    /// # Errors
    /// `Corrupt` when the part is not well-formed; limits.
    pub(crate) fn core_properties(
        &mut self,
        warnings: &mut Vec<String>,
    ) -> Result<CoreProperties, FormatError> {
        let target = self
            .relationships("")?
            .into_iter()
            .find(|r| r.is("core-properties"))
            .map_or_else(|| "docProps/core.xml".to_owned(), |r| r.target);
        match self.open_part(&target)? {
            Some(part) => core_props::parse(&target, part, warnings),
            None => Ok(CoreProperties::default()),
        }
    }
}

/// Looks at the first bytes: `Empty`, an OLE2 refusal, or `Corrupt` for anything but a ZIP.
fn sniff<R: Read + Seek>(reader: &mut R) -> Result<(), FormatError> {
    reader.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 8];
    let mut filled = 0;
    while filled < magic.len() {
        let Some(rest) = magic.get_mut(filled..) else {
            break;
        };
        match reader.read(rest)? {
            0 => break,
            n => filled += n,
        }
    }
    reader.seek(SeekFrom::Start(0))?;
    if filled == 0 {
        return Err(FormatError::Empty);
    }
    if filled == magic.len() && magic == ole::OLE2_MAGIC {
        return Err(ole::refuse(reader));
    }
    if !magic.starts_with(b"PK") {
        return Err(FormatError::Corrupt(
            "not an OOXML package: the file does not start with a ZIP signature".into(),
        ));
    }
    Ok(())
}
