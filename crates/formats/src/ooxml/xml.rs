//! Streaming XML helpers shared by the OOXML readers (quick-xml).
//!
//! # Entities
//! No DTD is ever processed: quick-xml reports a `<!DOCTYPE ...>` as one event, which is ignored,
//! and it neither fetches nor expands entities. An entity reference in text is kept only when it is
//! one of the five predefined entities or a character reference; any other (`&xxe;`, the `&lol9;` of
//! a billion-laughs DTD) is dropped from the text. So a SYSTEM entity is never fetched and no
//! expansion can grow the output.

use std::io::BufRead;

use quick_xml::events::{BytesRef, BytesStart};
use quick_xml::{NsReader, XmlVersion};

use super::container::limit_from_io;
use crate::FormatError;

/// A namespace-aware reader over a part's bytes, configured for OOXML parts.
pub(crate) fn reader<B: BufRead>(inner: B) -> NsReader<B> {
    let mut reader = NsReader::from_reader(inner);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    reader
}

/// The text an entity reference stands for, if it is predefined or a character reference; `None`
/// for any other entity (never expanded).
pub(crate) fn resolve_ref(r: &BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c);
    }
    match &**r {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// The value of the attribute whose local name is `local` (any prefix), unescaped (the raw value
/// when it holds an unknown entity).
pub(crate) fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local).then(|| {
            match a.normalized_value(XmlVersion::Implicit1_0) {
                Ok(v) => v.into_owned(),
                Err(_) => a.value.clone().into_owned(),
            }
        })
    })
}

/// A quick-xml error in `part` as a [`FormatError`]: a limit passed while inflating stays
/// `LimitExceeded`, anything else is `Corrupt`.
pub(crate) fn error(part: &str, e: &quick_xml::Error) -> FormatError {
    if let quick_xml::Error::Io(io) = e
        && let Some(msg) = limit_from_io(io)
    {
        return FormatError::LimitExceeded(msg);
    }
    FormatError::Corrupt(format!("{part} could not be read as XML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    /// All text of a document, with entity references resolved as the readers do.
    fn text_of(xml: &str) -> String {
        let mut r = reader(xml.as_bytes());
        let mut buf = Vec::new();
        let mut out = String::new();
        loop {
            match r.read_event_into(&mut buf) {
                Ok(Event::Text(t)) => out.push_str(&t.xml10_content()),
                Ok(Event::GeneralRef(g)) => out.extend(resolve_ref(&g)),
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
            buf.clear();
        }
        out
    }

    #[test]
    fn predefined_and_character_references_are_resolved() {
        assert_eq!(text_of("<a>x &amp; &lt;&#65;&#x42;&quot;</a>"), "x & <AB\"");
    }

    #[test]
    fn declared_entities_are_dropped_not_expanded() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "http://example.invalid/">
            <!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;">]><a>[&e;][&l2;]</a>"#;
        assert_eq!(text_of(xml), "[][]");
    }
}
