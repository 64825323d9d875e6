//! `[Content_Types].xml` (ECMA-376 Part 2, §10.1.2): what each part is, and from that, what kind of
//! document the package is and which part is its main one.

use std::io::BufRead;

use quick_xml::events::Event;

use super::xml;
use crate::FormatError;

/// The kind of document an OOXML package holds, from its main part's content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackageKind {
    /// WordprocessingML (.docx, .docm, .dotx, .dotm).
    Word,
    /// SpreadsheetML (.xlsx, .xlsm, .xltx, .xltm).
    Excel,
    /// PresentationML (.pptx and relatives).
    PowerPoint,
}

impl PackageKind {
    /// How the kind is named in messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            PackageKind::Word => "a Word document (WordprocessingML)",
            PackageKind::Excel => "an Excel workbook (SpreadsheetML)",
            PackageKind::PowerPoint => "a PowerPoint presentation (PresentationML)",
        }
    }

    /// The kind whose main part has `content_type`, if any. Transitional and Strict packages share
    /// these content types; macro-enabled and template variants are included.
    fn of_main_content_type(content_type: &str) -> Option<PackageKind> {
        let ct = content_type.trim().to_ascii_lowercase();
        let word = [
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
            "application/vnd.ms-word.document.macroenabled.main+xml",
            "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
        ];
        let excel = [
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
            "application/vnd.ms-excel.sheet.macroenabled.main+xml",
            "application/vnd.ms-excel.template.macroenabled.main+xml",
        ];
        if word.contains(&ct.as_str()) {
            Some(PackageKind::Word)
        } else if excel.contains(&ct.as_str()) {
            Some(PackageKind::Excel)
        } else if ct.starts_with("application/vnd.openxmlformats-officedocument.presentationml.")
            || ct.starts_with("application/vnd.ms-powerpoint.")
        {
            ct.ends_with(".main+xml").then_some(PackageKind::PowerPoint)
        } else {
            None
        }
    }
}

/// The parsed content types: the overrides, by part name (lowercased). Defaults by extension are
/// not needed: a main part always has an override.
#[derive(Debug, Default)]
pub(crate) struct ContentTypes {
    overrides: Vec<(String, String)>,
}

impl ContentTypes {
    /// Parses `[Content_Types].xml`.
    ///
    /// # Errors
    /// `Corrupt` when it is not well-formed, `LimitExceeded` when inflating it passes a limit.
    pub(crate) fn parse<B: BufRead>(input: B) -> Result<Self, FormatError> {
        const PART: &str = "[Content_Types].xml";
        let mut reader = xml::reader(input);
        let mut buf = Vec::new();
        let mut types = ContentTypes::default();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Override" => {
                    if let (Some(part), Some(ct)) =
                        (xml::attr(&e, "PartName"), xml::attr(&e, "ContentType"))
                    {
                        types.overrides.push((part_name(&part).to_lowercase(), ct));
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml::error(PART, &e)),
            }
            buf.clear();
        }
        Ok(types)
    }

    /// The main part (its ZIP entry name, without the leading `/`) and the package's kind: the
    /// first override whose content type is a main document's.
    pub(crate) fn main_part(&self) -> Option<(String, PackageKind)> {
        self.overrides.iter().find_map(|(part, ct)| {
            PackageKind::of_main_content_type(ct).map(|kind| (part.clone(), kind))
        })
    }
}

/// A part name as a ZIP entry name: without the leading `/`.
pub(crate) fn part_name(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &str = r#"<?xml version="1.0"?>
        <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
        <Default Extension="PNG" ContentType="image/png"/>
        <Override PartName="/docProps/core.xml"
            ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
        <Override PartName="/word/Document.xml"
            ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>
        </Types>"#;

    #[test]
    fn the_main_part_and_kind_come_from_the_overrides() {
        let types = ContentTypes::parse(TYPES.as_bytes()).unwrap();
        assert_eq!(
            types.main_part(),
            Some(("word/document.xml".into(), PackageKind::Word))
        );
    }
}
