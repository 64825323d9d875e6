//! One streaming pass over a WordprocessingML part (ECMA-376 Part 1, §17: the main document,
//! headers, footers, footnotes, endnotes), feeding the text, tables, headings and counts.
//!
//! Memory is a stack of open paragraphs (text boxes nest paragraphs inside runs) and the bounded
//! outputs; no tree is built. What is read, in document order:
//! - text of `w:t`, plus `w:tab`/`w:ptab` (`\t`), `w:br`/`w:cr` (`\n`) and `w:noBreakHyphen`
//!   (`-`) inside runs; deleted (`w:delText`), moved-away (`w:moveFrom`) and field-code
//!   (`w:instrText`) text is not document text, nor is equation text (`m:t`);
//! - of `mc:AlternateContent`, the `mc:Choice` branch only (the `mc:Fallback` repeats it, e.g. a
//!   text box as VML);
//! - footnote and endnote separators (`w:footnote w:type="separator"`...) are skipped.

use std::io::{BufReader, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::Heading;
use super::styles::StyleLevels;
use super::tables::Tables;
use super::text::TextOut;
use crate::ooxml::{PartReader, xml};
use crate::{Context, FormatError};

/// WordprocessingML namespaces: Transitional and Strict.
const W_NS: [&str; 2] = [
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
];
/// Markup compatibility (ECMA-376 Part 3).
const MC_NS: &str = "http://schemas.openxmlformats.org/markup-compatibility/2006";
/// Most headings listed.
pub(crate) const MAX_HEADINGS: usize = 1_000;
/// Most characters kept of a heading's text.
pub(crate) const MAX_HEADING_CHARS: usize = 500;
/// Cancellation is checked and progress reported every this many XML events.
const CHECK_EVERY: u64 = 8_192;

/// The namespace of an element, as far as the walk cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    W,
    Mc,
    Other,
}

fn ns_of(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(ns) if W_NS.contains(&ns.0) => Ns::W,
        ResolveResult::Bound(ns) if ns.0 == MC_NS => Ns::Mc,
        _ => Ns::Other,
    }
}

/// Which part is walked: the main document gives everything, the others (headers, footers,
/// notes) only text and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Body,
    Aux,
}

/// An open paragraph.
#[derive(Debug, Default)]
struct Frame {
    body_level: bool,
    runs: usize,
    style_seen: bool,
    outline_seen: bool,
    heading: Option<u8>,
    heading_text: String,
    heading_chars: usize,
}

/// Where the walk is inside the current part.
#[derive(Debug, Default)]
struct Position {
    depth: usize,
    body_depth: Option<usize>,
    skip_depth: usize,
    paragraphs: Vec<Frame>,
    table_depth: usize,
    in_t: bool,
}

/// What the walk over all parts gathers.
pub(crate) struct Walk<'s> {
    styles: &'s StyleLevels,
    pub(crate) text: TextOut,
    pub(crate) tables: Tables,
    pub(crate) headings: Vec<Heading>,
    pub(crate) headings_truncated: bool,
    /// Paragraphs directly in `w:body` (python-docx's `Document.paragraphs`).
    pub(crate) paragraph_count: u64,
    /// Paragraphs anywhere in the parts walked (tables, text boxes, headers, notes...).
    pub(crate) all_paragraph_count: u64,
    /// `a:blip` and `v:imagedata` elements pointing at an image.
    pub(crate) image_references: u64,
    /// Entity references dropped because they were neither predefined nor character references.
    pub(crate) dropped_entities: u64,
    /// Parts that declared a DOCTYPE.
    pub(crate) doctype_parts: Vec<String>,
    role: Role,
    at: Position,
}

impl<'s> Walk<'s> {
    /// A walk keeping `text_chars` characters of text.
    pub(crate) fn new(styles: &'s StyleLevels, text_chars: usize) -> Self {
        Walk {
            styles,
            text: TextOut::new(text_chars),
            tables: Tables::default(),
            headings: Vec::new(),
            headings_truncated: false,
            paragraph_count: 0,
            all_paragraph_count: 0,
            image_references: 0,
            dropped_entities: 0,
            doctype_parts: Vec::new(),
            role: Role::Body,
            at: Position::default(),
        }
    }

    /// Walks one part. `done_before` is the compressed bytes of the parts walked before, for
    /// progress.
    ///
    /// # Errors
    /// `Corrupt` for XML that is not well-formed, `LimitExceeded` from the container, `Cancelled`.
    pub(crate) fn part<R: Read>(
        &mut self,
        name: &str,
        role: Role,
        input: BufReader<PartReader<'_, R>>,
        ctx: &mut Context<'_>,
        done_before: u64,
    ) -> Result<(), FormatError> {
        self.role = role;
        self.at = Position::default();
        let mut reader = xml::reader(input);
        let mut buf = Vec::new();
        let mut events: u64 = 0;
        loop {
            let (ns, event) = reader
                .read_resolved_event_into(&mut buf)
                .map_err(|e| xml::error(name, &e))?;
            let ns = ns_of(&ns);
            match event {
                Event::Start(e) => self.start(ns, &e),
                Event::Empty(e) => {
                    self.start(ns, &e);
                    self.end(ns, e.local_name().as_ref());
                }
                Event::End(e) => self.end(ns, e.local_name().as_ref()),
                Event::Text(t) => self.content_if_text(&t.xml10_content()),
                Event::CData(t) => self.content_if_text(&t.xml10_content()),
                Event::GeneralRef(r) => match xml::resolve_ref(&r) {
                    Some(c) => self.content_if_text(c.encode_utf8(&mut [0; 4])),
                    None => self.dropped_entities += 1,
                },
                Event::DocType(_) => self.doctype_parts.push(name.to_owned()),
                Event::Eof => break,
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
            buf.clear();
            events += 1;
            if events.is_multiple_of(CHECK_EVERY) {
                ctx.check_cancelled()?;
                let part = reader.get_ref().get_ref();
                let share = part
                    .compressed_size()
                    .saturating_mul(part.bytes_read())
                    .checked_div(part.declared_size())
                    .unwrap_or(0);
                ctx.report(done_before.saturating_add(share));
            }
        }
        Ok(())
    }

    fn start(&mut self, ns: Ns, e: &BytesStart<'_>) {
        self.at.depth += 1;
        if self.at.skip_depth > 0 {
            self.at.skip_depth += 1;
            return;
        }
        let local = e.local_name();
        match (ns, local.as_ref()) {
            (Ns::Mc, "Fallback") | (Ns::W, "moveFrom") => self.at.skip_depth = 1,
            (Ns::W, "footnote" | "endnote") if xml::attr(e, "type").is_some() => {
                // Only separators and continuation notices carry a type.
                self.at.skip_depth = 1;
            }
            (Ns::W, "body") => self.at.body_depth = Some(self.at.depth),
            (Ns::W, "p") => {
                let body_level = self.role == Role::Body
                    && self.at.body_depth.is_some_and(|d| d + 1 == self.at.depth);
                self.at.paragraphs.push(Frame {
                    body_level,
                    ..Frame::default()
                });
            }
            (Ns::W, "r") => {
                if let Some(f) = self.at.paragraphs.last_mut() {
                    f.runs += 1;
                }
            }
            (Ns::W, "t") => self.at.in_t = true,
            (Ns::W, "tab" | "ptab") if self.in_run() => self.content("\t"),
            (Ns::W, "br" | "cr") if self.in_run() => self.content("\n"),
            (Ns::W, "noBreakHyphen") if self.in_run() => self.content("-"),
            (Ns::W, "tbl") => {
                self.at.table_depth += 1;
                if self.in_top_table() {
                    self.tables.start_table();
                }
            }
            (Ns::W, "tr") if self.in_top_table() => self.tables.start_row(),
            (Ns::W, "tc") if self.in_top_table() => self.tables.start_cell(),
            (Ns::W, "pStyle" | "outlineLvl") => self.paragraph_property(local.as_ref(), e),
            (_, "blip")
                if xml::attr(e, "embed")
                    .or_else(|| xml::attr(e, "link"))
                    .is_some() =>
            {
                self.image_references += 1;
            }
            (_, "imagedata") if xml::attr(e, "id").is_some() => self.image_references += 1,
            _ => {}
        }
    }

    fn end(&mut self, ns: Ns, local: &str) {
        self.at.depth = self.at.depth.saturating_sub(1);
        if self.at.skip_depth > 0 {
            self.at.skip_depth -= 1;
            return;
        }
        match (ns, local) {
            (Ns::W, "p") => self.paragraph_end(),
            (Ns::W, "r") => {
                if let Some(f) = self.at.paragraphs.last_mut() {
                    f.runs = f.runs.saturating_sub(1);
                }
            }
            (Ns::W, "t") => self.at.in_t = false,
            (Ns::W, "tc") => {
                if self.in_top_table() {
                    self.tables.end_cell();
                }
                self.text.retag_last('\n', '\t');
            }
            (Ns::W, "tr") => self.text.retag_last('\t', '\n'),
            (Ns::W, "tbl") => self.at.table_depth = self.at.table_depth.saturating_sub(1),
            (Ns::W, "body") => self.at.body_depth = None,
            _ => {}
        }
    }

    /// A paragraph's style or direct outline level, the first of each (a tracked change's old
    /// properties come after).
    fn paragraph_property(&mut self, local: &str, e: &BytesStart<'_>) {
        let value = xml::attr(e, "val");
        let styles = self.styles;
        let Some(frame) = self.at.paragraphs.last_mut().filter(|f| f.runs == 0) else {
            return;
        };
        if local == "pStyle" && !frame.style_seen {
            frame.style_seen = true;
            if !frame.outline_seen {
                frame.heading = value.and_then(|id| styles.level(&id));
            }
        } else if local == "outlineLvl" && !frame.outline_seen {
            frame.outline_seen = true;
            frame.heading = value
                .and_then(|v| v.trim().parse::<u8>().ok())
                .filter(|v| *v <= 8)
                .map(|v| v + 1);
        }
    }

    fn paragraph_end(&mut self) {
        let frame = self.at.paragraphs.pop().unwrap_or_default();
        self.all_paragraph_count += 1;
        if frame.body_level {
            self.paragraph_count += 1;
        }
        self.text.separator('\n');
        if self.in_any_table() {
            self.tables.paragraph_end();
        }
        let (Role::Body, Some(level)) = (self.role, frame.heading) else {
            return;
        };
        let text = frame.heading_text.trim();
        if text.is_empty() {
            return;
        }
        if self.headings.len() < MAX_HEADINGS {
            self.headings.push(Heading {
                level,
                text: text.to_owned(),
            });
        } else {
            self.headings_truncated = true;
        }
    }

    fn in_run(&self) -> bool {
        self.at.paragraphs.last().is_some_and(|f| f.runs > 0)
    }

    fn in_top_table(&self) -> bool {
        self.role == Role::Body && self.at.table_depth == 1
    }

    fn in_any_table(&self) -> bool {
        self.role == Role::Body && self.at.table_depth >= 1
    }

    fn content_if_text(&mut self, s: &str) {
        if self.at.in_t && self.at.skip_depth == 0 {
            self.content(s);
        }
    }

    fn content(&mut self, s: &str) {
        self.text.content(s);
        if self.in_any_table() {
            self.tables.text(s);
        }
        if self.role == Role::Body
            && let Some(frame) = self.at.paragraphs.last_mut()
            && frame.heading.is_some()
        {
            for c in s.chars() {
                if frame.heading_chars >= MAX_HEADING_CHARS {
                    break;
                }
                frame.heading_text.push(c);
                frame.heading_chars += 1;
            }
        }
    }
}
