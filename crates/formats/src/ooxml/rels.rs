//! Relationship parts (ECMA-376 Part 2, §9.3): which parts a part points to, and of what type.

use std::io::BufRead;

use quick_xml::events::Event;

use super::xml;
use crate::FormatError;

/// One relationship whose target is inside the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relationship {
    /// The id the source part refers to it by (`rId7`).
    pub(crate) id: String,
    /// The relationship type URI; compare with [`Relationship::is`].
    pub(crate) rel_type: String,
    /// The target as a ZIP entry name, resolved against the source part.
    pub(crate) target: String,
}

impl Relationship {
    /// Whether the type ends with `/{last}` (e.g. `"image"`), which covers both the Transitional
    /// (`http://schemas.openxmlformats.org/...`) and Strict (`http://purl.oclc.org/ooxml/...`) URIs.
    pub(crate) fn is(&self, last: &str) -> bool {
        self.rel_type
            .rsplit_once('/')
            .is_some_and(|(_, tail)| tail.eq_ignore_ascii_case(last))
    }
}

/// The relationship part of `source` (`word/document.xml` → `word/_rels/document.xml.rels`; the
/// package itself, `""` → `_rels/.rels`).
pub(crate) fn rels_part_of(source: &str) -> String {
    match source.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/_rels/{file}.rels"),
        None if source.is_empty() => "_rels/.rels".into(),
        None => format!("_rels/{source}.rels"),
    }
}

/// Parses the relationship part of `source`, skipping external targets (hyperlinks, linked files).
///
/// # Errors
/// `Corrupt` when it is not well-formed, `LimitExceeded` when inflating it passes a limit.
pub(crate) fn parse<B: BufRead>(source: &str, input: B) -> Result<Vec<Relationship>, FormatError> {
    let part = rels_part_of(source);
    let mut reader = xml::reader(input);
    let mut buf = Vec::new();
    let mut rels = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                let external =
                    xml::attr(&e, "TargetMode").is_some_and(|m| m.eq_ignore_ascii_case("external"));
                if let (false, Some(id), Some(rel_type), Some(target)) = (
                    external,
                    xml::attr(&e, "Id"),
                    xml::attr(&e, "Type"),
                    xml::attr(&e, "Target"),
                ) {
                    rels.push(Relationship {
                        id,
                        rel_type,
                        target: resolve(source, &target),
                    });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml::error(&part, &e)),
        }
        buf.clear();
    }
    Ok(rels)
}

/// A relationship target as a ZIP entry name: absolute targets (`/xl/workbook.xml`) from the root,
/// relative ones from the source part's folder, `.` and `..` applied, `%XX` decoded.
pub(crate) fn resolve(source: &str, target: &str) -> String {
    let target = percent_decode(target);
    let mut segments: Vec<&str> = Vec::new();
    if !target.starts_with('/')
        && let Some((dir, _)) = source.rsplit_once('/')
    {
        segments.extend(dir.split('/').filter(|s| !s.is_empty()));
    }
    for segment in target.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

/// `%XX` escapes decoded (invalid ones kept as they are); the result is UTF-8, lossy.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_against_the_source_folder() {
        assert_eq!(
            resolve("word/document.xml", "media/image1.png"),
            "word/media/image1.png"
        );
        assert_eq!(
            resolve("word/document.xml", "../customXml/item1.xml"),
            "customXml/item1.xml"
        );
        assert_eq!(
            resolve("xl/workbook.xml", "/xl/worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
        assert_eq!(
            resolve("word/document.xml", "media/my%20image.png"),
            "word/media/my image.png"
        );
        assert_eq!(resolve("a/b.xml", "../../../../x.xml"), "x.xml");
    }

    #[test]
    fn rels_parts_sit_in_the_sources_rels_folder() {
        assert_eq!(
            rels_part_of("word/document.xml"),
            "word/_rels/document.xml.rels"
        );
        assert_eq!(rels_part_of(""), "_rels/.rels");
    }

    #[test]
    fn external_targets_are_skipped_and_types_match_strict_and_transitional() {
        let xml = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/image" Target="media/a.png"/>
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="http://example.invalid/" TargetMode="External"/>
            </Relationships>"#;
        let rels = parse("word/document.xml", xml.as_bytes()).unwrap();
        assert_eq!(rels.len(), 1);
        assert!(rels[0].is("image"));
        assert_eq!(rels[0].target, "word/media/a.png");
    }
}
