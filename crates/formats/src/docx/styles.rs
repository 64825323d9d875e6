//! Paragraph styles (ECMA-376 Part 1, §17.7: `word/styles.xml`) reduced to what the outline needs:
//! the heading level of each paragraph style id.
//!
//! A style is a heading when its name (`w:name`, which Word always writes in English, whatever the
//! UI language or the style id) is `heading N` (level N, 1..=9) or `Title` (level 0); otherwise
//! when it sets an outline level (`w:outlineLvl` 0..=8 → level 1..=9); otherwise when the style it
//! is based on is one (followed at most [`MAX_BASED_ON`] steps, so cycles end).

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use crate::FormatError;
use crate::ooxml::xml;

/// Longest `w:basedOn` chain followed.
const MAX_BASED_ON: usize = 16;

/// Heading level by paragraph style id.
#[derive(Debug, Default)]
pub(crate) struct StyleLevels {
    levels: HashMap<String, u8>,
}

impl StyleLevels {
    /// The heading level of a style id: from `styles.xml` when it defines the style, else from the
    /// id itself read as a name (`Heading2` → 2, `Title` → 0), which covers documents without
    /// a styles part.
    pub(crate) fn level(&self, style_id: &str) -> Option<u8> {
        match self.levels.get(style_id) {
            Some(level) => Some(*level),
            None => level_from_name(style_id),
        }
    }
}

/// One `w:style` of type paragraph, as read.
#[derive(Debug, Default)]
struct StyleDef {
    name: Option<String>,
    based_on: Option<String>,
    outline: Option<u8>,
}

/// Parses the styles part.
///
/// # Errors
/// `Corrupt` when it is not well-formed, `LimitExceeded` when inflating it passes a limit.
pub(crate) fn parse<B: BufRead>(part: &str, input: B) -> Result<StyleLevels, FormatError> {
    let mut reader = xml::reader(input);
    let mut buf = Vec::new();
    let mut defs: HashMap<String, StyleDef> = HashMap::new();
    let mut current: Option<(String, StyleDef)> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "style" => {
                current = paragraph_style(&e).map(|id| (id, StyleDef::default()));
            }
            Ok(Event::Empty(e)) => {
                if let Some((_, def)) = current.as_mut() {
                    property(def, &e);
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "style" => {
                if let Some((id, def)) = current.take() {
                    defs.insert(id, def);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml::error(part, &e)),
        }
        buf.clear();
    }
    let levels = defs
        .keys()
        .filter_map(|id| resolve(&defs, id).map(|level| (id.clone(), level)))
        .collect();
    Ok(StyleLevels { levels })
}

/// The style id of a `w:style` start tag of type paragraph.
fn paragraph_style(e: &BytesStart<'_>) -> Option<String> {
    let is_paragraph = xml::attr(e, "type").is_none_or(|t| t == "paragraph");
    is_paragraph.then(|| xml::attr(e, "styleId")).flatten()
}

/// Records a style's name, base or outline level.
fn property(def: &mut StyleDef, e: &BytesStart<'_>) {
    let value = || xml::attr(e, "val");
    match e.local_name().as_ref() {
        "name" => def.name = value(),
        "basedOn" => def.based_on = value(),
        "outlineLvl" => {
            def.outline = value()
                .and_then(|v| v.trim().parse::<u8>().ok())
                .filter(|v| *v <= 8);
        }
        _ => {}
    }
}

/// The heading level of `id`, following `basedOn`.
fn resolve(defs: &HashMap<String, StyleDef>, id: &str) -> Option<u8> {
    let mut id = id;
    for _ in 0..MAX_BASED_ON {
        let def = defs.get(id)?;
        if let Some(level) = def.name.as_deref().and_then(level_from_name) {
            return Some(level);
        }
        if let Some(outline) = def.outline {
            return Some(outline + 1);
        }
        id = def.based_on.as_deref()?;
    }
    None
}

/// `heading N` / `HeadingN` (1..=9) → N, `Title` → 0, case-insensitive.
pub(crate) fn level_from_name(name: &str) -> Option<u8> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "title" {
        return Some(0);
    }
    let digits = lower.strip_prefix("heading")?.trim_start();
    digits
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=9).contains(n) && digits.len() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLES: &str = r#"<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
        <w:style w:type="paragraph" w:styleId="Titre1"><w:name w:val="heading 1"/></w:style>
        <w:style w:type="paragraph" w:styleId="Heading"><w:name w:val="Heading"/></w:style>
        <w:style w:type="paragraph" w:styleId="Mine"><w:name w:val="Mine"/><w:basedOn w:val="Titre1"/></w:style>
        <w:style w:type="paragraph" w:styleId="Out"><w:name w:val="Out"/><w:pPr><w:outlineLvl w:val="3"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Loop"><w:name w:val="Loop"/><w:basedOn w:val="Loop"/></w:style>
        <w:style w:type="character" w:styleId="Heading1Char"><w:name w:val="heading 1 char"/></w:style>
        </w:styles>"#;

    #[test]
    fn levels_come_from_names_outline_levels_and_bases() {
        let s = parse("word/styles.xml", STYLES.as_bytes()).unwrap();
        assert_eq!(s.level("Titre1"), Some(1));
        assert_eq!(s.level("Heading"), None);
        assert_eq!(s.level("Mine"), Some(1));
        assert_eq!(s.level("Out"), Some(4));
        assert_eq!(s.level("Loop"), None);
        assert_eq!(
            s.level("Heading1Char"),
            None,
            "character styles are not read"
        );
        assert_eq!(
            s.level("Heading2"),
            Some(2),
            "an unknown id is read as a name"
        );
        assert_eq!(s.level("Title"), Some(0));
    }

    #[test]
    fn only_heading_one_to_nine_are_headings() {
        assert_eq!(level_from_name("Heading 9"), Some(9));
        assert_eq!(level_from_name("heading 10"), None);
        assert_eq!(level_from_name("heading 0"), None);
        assert_eq!(level_from_name("Headings"), None);
    }
}
