//! Core properties (ECMA-376 Part 2, §11: `docProps/core.xml`, Dublin Core elements and the `cp:`
//! extensions), with the W3CDTF dates turned into RFC 3339.

use std::io::BufRead;

use quick_xml::events::Event;
use serde::{Deserialize, Serialize};

use super::xml;
use crate::FormatError;

/// Longest value kept for one property, in characters; longer ones are cut.
const MAX_PROPERTY_CHARS: usize = 10_000;

/// The core properties of an OOXML package; `null` for the ones it does not set (or sets empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreProperties {
    /// `dc:title`.
    pub title: Option<String>,
    /// `dc:creator`: the author.
    pub creator: Option<String>,
    /// `dc:subject`.
    pub subject: Option<String>,
    /// `cp:keywords`, as written (often separated by `;` or spaces).
    pub keywords: Option<String>,
    /// `dc:description`: the comments.
    pub description: Option<String>,
    /// `cp:lastModifiedBy`.
    pub last_modified_by: Option<String>,
    /// `cp:revision`: the revision number, as written.
    pub revision: Option<String>,
    /// `cp:category`.
    pub category: Option<String>,
    /// `dcterms:created` as RFC 3339 (`2014-12-13T22:02:00Z`). W3CDTF allows less precision: a
    /// date alone becomes midnight UTC, a time without an offset is taken as UTC.
    pub created: Option<String>,
    /// `dcterms:modified` as RFC 3339, like `created`.
    pub modified: Option<String>,
}

impl CoreProperties {
    fn slot(&mut self, local: &str) -> Option<&mut Option<String>> {
        Some(match local {
            "title" => &mut self.title,
            "creator" => &mut self.creator,
            "subject" => &mut self.subject,
            "keywords" => &mut self.keywords,
            "description" => &mut self.description,
            "lastModifiedBy" => &mut self.last_modified_by,
            "revision" => &mut self.revision,
            "category" => &mut self.category,
            "created" => &mut self.created,
            "modified" => &mut self.modified,
            _ => return None,
        })
    }
}

/// Parses a core properties part; `warnings` gets a line for each date that is not W3CDTF (that
/// property is then `null`).
///
/// # Errors
/// `Corrupt` when it is not well-formed, `LimitExceeded` when inflating it passes a limit.
pub(crate) fn parse<B: BufRead>(
    part: &str,
    input: B,
    warnings: &mut Vec<String>,
) -> Result<CoreProperties, FormatError> {
    let mut reader = xml::reader(input);
    let mut buf = Vec::new();
    let mut props = CoreProperties::default();
    let mut depth = 0usize;
    // The property being read (a child of the root) and its text so far.
    let mut current: Option<Property> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth == 2 {
                    current = Some(Property {
                        name: e.local_name().as_ref().to_owned(),
                        text: String::new(),
                        chars: 0,
                    });
                }
            }
            Ok(Event::End(_)) => {
                if depth == 2
                    && let Some(p) = current.take()
                {
                    store(&mut props, &p.name, p.text, warnings);
                }
                depth = depth.saturating_sub(1);
            }
            Ok(Event::Text(t)) => push(&mut current, &t.xml10_content()),
            Ok(Event::CData(t)) => push(&mut current, &t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = xml::resolve_ref(&r) {
                    push(&mut current, c.encode_utf8(&mut [0; 4]));
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml::error(part, &e)),
        }
        buf.clear();
    }
    Ok(props)
}

/// A property being read.
struct Property {
    name: String,
    text: String,
    chars: usize,
}

fn push(current: &mut Option<Property>, s: &str) {
    if let Some(p) = current {
        for c in s.chars().take(MAX_PROPERTY_CHARS.saturating_sub(p.chars)) {
            p.text.push(c);
            p.chars += 1;
        }
    }
}

fn store(props: &mut CoreProperties, name: &str, text: String, warnings: &mut Vec<String>) {
    let text = text.trim().to_owned();
    let is_date = matches!(name, "created" | "modified");
    let Some(slot) = props.slot(name) else {
        return;
    };
    if text.is_empty() {
        return;
    }
    if !is_date {
        *slot = Some(text);
        return;
    }
    match w3cdtf_to_rfc3339(&text) {
        Some(date) => *slot = Some(date),
        None => warnings.push(format!(
            "core property {name} is not a W3CDTF date: {text:?}"
        )),
    }
}

/// A W3CDTF date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss[.s+]]TZD`) as RFC 3339;
/// `None` when it is not one.
pub(crate) fn w3cdtf_to_rfc3339(s: &str) -> Option<String> {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let year = number(parts.next()?, 4, 0, 9999)?;
    let month = parts.next().map_or(Some(1), |m| number(m, 2, 1, 12))?;
    let day = parts.next().map_or(Some(1), |d| number(d, 2, 1, 31))?;
    if parts.next().is_some() {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    let Some(time) = time else {
        return Some(format!("{date}T00:00:00Z"));
    };
    let (clock, offset) = split_offset(time)?;
    let mut hms = clock.split(':');
    let hour = number(hms.next()?, 2, 0, 23)?;
    let minute = number(hms.next()?, 2, 0, 59)?;
    let (second, fraction) = match hms.next() {
        None => (0, ""),
        Some(sec) => match sec.split_once('.') {
            Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
                (number(whole, 2, 0, 60)?, frac)
            }
            Some(_) => return None,
            None => (number(sec, 2, 0, 60)?, ""),
        },
    };
    if hms.next().is_some() {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
    ))
}

/// The clock part and the offset (`Z`, `+hh:mm`, `-hh:mm`; `Z` when there is none).
fn split_offset(time: &str) -> Option<(&str, String)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, "Z".into()));
    }
    match time.rfind(['+', '-']) {
        Some(at) => {
            let (clock, offset) = time.split_at(at);
            let (sign, hm) = offset.split_at(1);
            let (h, m) = hm.split_once(':')?;
            let (h, m) = (number(h, 2, 0, 23)?, number(m, 2, 0, 59)?);
            Some((clock, format!("{sign}{h:02}:{m:02}")))
        }
        None => Some((time, "Z".into())),
    }
}

/// A decimal field of exactly `width` digits within `min..=max`.
fn number(s: &str, width: usize, min: u32, max: u32) -> Option<u32> {
    if s.len() != width || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|v| (min..=max).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3cdtf_dates_become_rfc_3339() {
        let cases = [
            ("2014-12-13T22:02:00Z", "2014-12-13T22:02:00Z"),
            ("2014-12-13T22:02Z", "2014-12-13T22:02:00Z"),
            (
                "2014-12-13T22:02:00.25+01:00",
                "2014-12-13T22:02:00.25+01:00",
            ),
            ("2005-05-26T13:57:00.00Z", "2005-05-26T13:57:00Z"),
            ("2014-12-13T22:02:00", "2014-12-13T22:02:00Z"),
            ("2014-12-13", "2014-12-13T00:00:00Z"),
            ("2014", "2014-01-01T00:00:00Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                w3cdtf_to_rfc3339(input).as_deref(),
                Some(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "yesterday",
            "2014-13-01",
            "2014-12-13T25:00Z",
            "14-12-13",
            "2014-12-13T22",
        ] {
            assert_eq!(w3cdtf_to_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn properties_are_read_by_local_name_and_bad_dates_warn() {
        let xml = r#"<cp:coreProperties xmlns:cp="c" xmlns:dc="d" xmlns:dcterms="t">
            <dc:title>A &amp; B</dc:title><dc:creator> Ann </dc:creator><cp:revision>2</cp:revision>
            <dcterms:created>2014-12-13T22:02:00Z</dcterms:created><dcterms:modified>soon</dcterms:modified>
            <dc:subject></dc:subject></cp:coreProperties>"#;
        let mut warnings = Vec::new();
        let p = parse("docProps/core.xml", xml.as_bytes(), &mut warnings).unwrap();
        assert_eq!(p.title.as_deref(), Some("A & B"));
        assert_eq!(p.creator.as_deref(), Some("Ann"));
        assert_eq!(p.revision.as_deref(), Some("2"));
        assert_eq!(p.created.as_deref(), Some("2014-12-13T22:02:00Z"));
        assert_eq!((p.modified, p.subject), (None, None));
        assert_eq!(warnings.len(), 1);
    }
}
