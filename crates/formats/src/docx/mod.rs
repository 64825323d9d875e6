//! DOCX (ECMA-376 WordprocessingML): text, counts, tables, headings, images and core properties.
//!
//! # Design
//! The package is opened through [`crate::ooxml::Package`] (limits on the ZIP container, content
//! types, OLE2 refusals). The main document part (named by `[Content_Types].xml`) is walked once
//! with a streaming XML reader (`body.rs`), then the headers, footers, footnotes and endnotes it
//! relates to, in that order, each in its relationship order. Paragraph styles come from the styles
//! part first (`styles.rs`), so a paragraph's heading level is known when its text arrives.
//!
//! # Definitions
//! - `text`: the first `limits.text_chars` characters of the document's text: main document (tables
//!   and text boxes in place), then headers, footers, footnotes, endnotes; paragraphs end with `\n`,
//!   table cells with `\t` (the last of a row with `\n`).
//! - `paragraph_count`: paragraphs directly in the body (python-docx's `Document.paragraphs`);
//!   `all_paragraph_count` adds those in tables, text boxes, headers, footers and notes.
//! - `word_count`, `character_count`: over all the text, not only the part kept (see `text.rs`).
//! - `table_count`: top-level tables of the main document; `tables` lists them within caps
//!   (`tables.rs`).
//! - `image_count`: distinct image parts that the main document, its headers, footers or notes
//!   point to through an image relationship and that exist in the package; `image_references`:
//!   the pictures placed (`a:blip`, `v:imagedata`), one image part may be placed several times.
//! - `headings`: body paragraphs whose style is a heading (`styles.rs`) or that set an outline
//!   level directly, with non-empty text, in document order.
//!
//! # Measured
//! `fileproc_bench_inputs::docx`, release build: 2,000 paragraphs (520 KB of XML) in 5-13 ms at 4.0 MB
//! peak RSS; 200,000 paragraphs (50 MB of XML) in 0.30 s of CPU at 4.1 MB: memory does not grow
//! with the document.
//!
//! # Hostile input
//! A DOCTYPE is never processed: entities are neither fetched nor expanded, and a reference to a
//! declared entity is left out of the text (a warning says how many were). So the XXE test file
//! `ExternalEntityInText.docx` succeeds, its text without the entity.

mod body;
mod styles;
mod tables;
mod text;

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use serde::{Deserialize, Serialize};

use crate::ooxml::{CoreProperties, Package, PackageKind};
use crate::{Access, Analysis, Analyzer, Context, FormatError, Input, Section};
use body::{Role, Walk};
use styles::StyleLevels;

/// The `docx` section of a result (`DESIGN.md` section 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocxSummary {
    /// The first `limits.text_chars` characters of the text (see the module documentation).
    pub text: String,
    /// Whether `text` was cut at `limits.text_chars`.
    pub text_truncated: bool,
    /// Paragraphs directly in the document body.
    pub paragraph_count: u64,
    /// Paragraphs anywhere: body, tables, text boxes, headers, footers, footnotes, endnotes.
    pub all_paragraph_count: u64,
    /// Words (maximal runs of non-whitespace characters within a paragraph) in all the text.
    pub word_count: u64,
    /// Characters (Unicode scalar values, spaces included) in all the text, separators excluded.
    pub character_count: u64,
    /// Top-level tables in the main document.
    pub table_count: u64,
    /// The tables listed: table → rows → cell texts (a cell's paragraphs on separate lines).
    pub tables: Vec<Vec<Vec<String>>>,
    /// Whether tables, rows, cells or cell text were left out of `tables` by the caps.
    pub tables_truncated: bool,
    /// Distinct image parts the document points to.
    pub image_count: u64,
    /// Pictures placed in the document (an image part may be placed several times).
    pub image_references: u64,
    /// The heading outline, in document order.
    pub headings: Vec<Heading>,
    /// Whether headings were left out (more than 1000).
    pub headings_truncated: bool,
    /// The package's core properties (`docProps/core.xml`); boxed to keep [`Section`] small.
    pub core_properties: Box<CoreProperties>,
}

/// One entry of the heading outline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heading {
    /// 0 for a `Title` paragraph, N for `Heading N` (1..=9).
    pub level: u8,
    /// The heading's text, trimmed, at most 500 characters.
    pub text: String,
}

/// The DOCX analyzer.
pub struct DocxAnalyzer;

impl Analyzer for DocxAnalyzer {
    fn name(&self) -> &'static str {
        "docx"
    }
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
    fn access(&self) -> Access {
        Access::Random
    }
    /// # Errors
    /// `Empty` for no bytes; `Encrypted` for a password-protected file; `TypeMismatch` for another
    /// Office type (XLSX, legacy .doc) or a plain ZIP; `Corrupt` for a damaged container or XML;
    /// `LimitExceeded` for the ZIP limits; `Cancelled`; `Unsupported` for a forward-only input.
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
        let Input::Seekable(reader) = input else {
            return Err(FormatError::Unsupported(
                "DOCX needs random access to its ZIP container".into(),
            ));
        };
        analyze(reader, ctx)
    }
}

/// Part kinds read after the main document, in order (relationship type names).
const AUX_PARTS: [&str; 4] = ["header", "footer", "footnotes", "endnotes"];

fn analyze<R: Read + Seek>(reader: R, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
    ctx.check_cancelled()?;
    let mut package = Package::open(reader, &ctx.limits, PackageKind::Word)?;
    let mut warnings = Vec::new();
    let core_properties = package.core_properties(&mut warnings)?;
    let main = package.main_part().to_owned();
    let rels = package.relationships(&main)?;
    let styles = match rels.iter().find(|r| r.is("styles")) {
        Some(r) => match package.open_part(&r.target)? {
            Some(part) => styles::parse(&r.target, part)?,
            None => StyleLevels::default(),
        },
        None => StyleLevels::default(),
    };
    let mut walk = Walk::new(&styles, ctx.limits.text_chars);
    let mut images: BTreeSet<String> = image_targets(&rels);
    let mut done = 0;
    walk_part(&mut package, &mut walk, &main, Role::Body, ctx, &mut done)?;
    let mut walked = BTreeSet::from([main]);
    for kind in AUX_PARTS {
        for rel in rels.iter().filter(|r| r.is(kind)) {
            if !walked.insert(rel.target.clone()) {
                continue;
            }
            images.extend(image_targets(&package.relationships(&rel.target)?));
            walk_part(
                &mut package,
                &mut walk,
                &rel.target,
                Role::Aux,
                ctx,
                &mut done,
            )?;
        }
    }
    ctx.report(ctx.size.unwrap_or(done));
    let image_count = images.iter().filter(|t| package.has_part(t)).count() as u64;
    warnings.extend(entity_warning(&walk));
    let summary = summarize(walk, image_count, core_properties);
    let mut analysis = Analysis::new(Section::Docx(summary));
    analysis.warnings = warnings;
    Ok(analysis)
}

/// Walks `name` if the package has it; adds its compressed size to `done`.
fn walk_part<R: Read + Seek>(
    package: &mut Package<R>,
    walk: &mut Walk<'_>,
    name: &str,
    role: Role,
    ctx: &mut Context<'_>,
    done: &mut u64,
) -> Result<(), FormatError> {
    ctx.check_cancelled()?;
    let compressed = package.part_sizes(name).map_or(0, |(_, c)| c);
    if let Some(part) = package.open_part(name)? {
        walk.part(name, role, part, ctx, *done)?;
    }
    *done = done.saturating_add(compressed);
    ctx.report(*done);
    Ok(())
}

fn image_targets(rels: &[crate::ooxml::Relationship]) -> BTreeSet<String> {
    rels.iter()
        .filter(|r| r.is("image"))
        .map(|r| r.target.to_lowercase())
        .collect()
}

/// The warning for entity references left out, if any.
fn entity_warning(walk: &Walk<'_>) -> Option<String> {
    if walk.doctype_parts.is_empty() && walk.dropped_entities == 0 {
        return None;
    }
    let declared = if walk.doctype_parts.is_empty() {
        String::new()
    } else {
        format!(
            "a DOCTYPE is declared in {}; ",
            walk.doctype_parts.join(", ")
        )
    };
    Some(format!(
        "{declared}XML entities are never expanded or fetched: {} entity reference(s) were left \
         out of the text",
        walk.dropped_entities
    ))
}

fn summarize(walk: Walk<'_>, image_count: u64, core_properties: CoreProperties) -> DocxSummary {
    let text_truncated = walk.text.truncated();
    let word_count = walk.text.words();
    let character_count = walk.text.characters();
    let table_count = walk.tables.count();
    let (tables, tables_truncated) = walk.tables.finish();
    DocxSummary {
        text: walk.text.into_text(),
        text_truncated,
        paragraph_count: walk.paragraph_count,
        all_paragraph_count: walk.all_paragraph_count,
        word_count,
        character_count,
        table_count,
        tables,
        tables_truncated,
        image_count,
        image_references: walk.image_references,
        headings: walk.headings,
        headings_truncated: walk.headings_truncated,
        core_properties: Box::new(core_properties),
    }
}
