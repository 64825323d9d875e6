//! The page tree (ISO 32000-2 §7.7.3): checked for cycles, depth and page count, then read for
//! page sizes and images.
//!
//! hayro-syntax builds its own page list (it skips a node it has seen, so a circular tree does
//! not loop there); this walk is the one that decides whether the tree is acceptable: a `Kids`
//! entry that points at one of its own ancestors is a circular tree (`corrupt_file`), more levels
//! than `max_pdf_depth` or more pages than `max_pdf_pages` are `limit_exceeded`. The walk keeps an
//! explicit stack, so no tree can overflow the call stack.

use std::collections::HashSet;

use hayro::hayro_syntax::Pdf;
use hayro::hayro_syntax::content::UntypedIter;
use hayro::hayro_syntax::object::dict::keys::{
    CONTENTS, FORM, IMAGE, KIDS, PAGES, RESOURCES, SUBTYPE, TYPE, XOBJECT,
};
use hayro::hayro_syntax::object::{Array, Dict, MaybeRef, Name, Object, ObjectIdentifier, Stream};
use hayro::hayro_syntax::page::{Page, Rotation};

use super::PageSize;
use crate::{FormatError, Limits};

/// Distinct page sizes kept in a summary; more are dropped with a warning.
pub(crate) const MAX_DISTINCT_SIZES: usize = 100;

/// Most Form XObjects looked into for images, per document.
const MAX_FORMS_VISITED: usize = 10_000;

/// Walks the page tree from the catalog's `/Pages`.
///
/// # Errors
/// `Corrupt` for a circular tree, `LimitExceeded` for a tree deeper than `max_pdf_depth` or with
/// more leaves than `max_pdf_pages`. A tree that cannot be reached at all passes: hayro-syntax
/// then finds pages by scanning the objects, and the page count is checked after that.
pub(crate) fn check_tree(pdf: &Pdf, limits: &Limits) -> Result<(), FormatError> {
    let xref = pdf.xref();
    let Some(catalog) = xref.get::<Dict<'_>>(xref.root_id()) else {
        return Ok(());
    };
    let Some(root) = catalog.get::<Dict<'_>>(PAGES) else {
        return Ok(());
    };
    let Some(kids) = root.get::<Array<'_>>(KIDS) else {
        return Ok(());
    };
    let mut stack = vec![(root.obj_id(), kids.raw_iter())];
    let mut seen: HashSet<ObjectIdentifier> = root.obj_id().into_iter().collect();
    let mut leaves: u64 = 0;
    while let Some((_, kids)) = stack.last_mut() {
        let Some(kid) = kids.next() else {
            stack.pop();
            continue;
        };
        let node = match kid {
            MaybeRef::Ref(r) => {
                let id: ObjectIdentifier = r.into();
                if stack.iter().any(|(ancestor, _)| *ancestor == Some(id)) {
                    return Err(FormatError::Corrupt(format!(
                        "the page tree is circular: object {} {} is among its own kids",
                        id.obj_number, id.gen_number
                    )));
                }
                if !seen.insert(id) {
                    continue; // shared, not circular: read once, as hayro-syntax does
                }
                xref.get::<Dict<'_>>(id)
            }
            MaybeRef::NotRef(object) => object.into_dict(),
        };
        let Some(node) = node else { continue };
        let is_pages = node.get::<Name<'_>>(TYPE).as_deref() == Some(PAGES);
        match node.get::<Array<'_>>(KIDS) {
            Some(kids) if is_pages => {
                let depth = stack.len() + 1;
                if depth > limits.max_pdf_depth as usize {
                    return Err(FormatError::LimitExceeded(format!(
                        "the page tree is more than {} levels deep (processing.pdf.max_depth)",
                        limits.max_pdf_depth
                    )));
                }
                stack.push((node.obj_id(), kids.raw_iter()));
            }
            _ => {
                leaves += 1;
                check_page_count(leaves, limits)?;
            }
        }
    }
    Ok(())
}

/// `LimitExceeded` when `pages` is over `max_pdf_pages`.
pub(crate) fn check_page_count(pages: u64, limits: &Limits) -> Result<(), FormatError> {
    if pages > u64::from(limits.max_pdf_pages) {
        return Err(FormatError::LimitExceeded(format!(
            "the document has more than {} pages (processing.pdf.max_pages)",
            limits.max_pdf_pages
        )));
    }
    Ok(())
}

/// Adds a page's size to the distinct sizes, in order of first appearance; `false` when the
/// size is new and the list is already full.
pub(crate) fn add_size(sizes: &mut Vec<PageSize>, page: &Page<'_>) -> bool {
    let (width, height) = page.base_dimensions();
    let rotation = match page.rotation() {
        Rotation::None => 0,
        Rotation::Horizontal => 90,
        Rotation::Flipped => 180,
        Rotation::FlippedHorizontal => 270,
    };
    let round = |v: f32| (f64::from(v) * 100.0).round() / 100.0;
    let (width, height) = (round(width), round(height));
    if let Some(size) = sizes
        .iter_mut()
        .find(|s| s.width == width && s.height == height && s.rotation == rotation)
    {
        size.pages += 1;
        return true;
    }
    if sizes.len() >= MAX_DISTINCT_SIZES {
        return false;
    }
    sizes.push(PageSize {
        width,
        height,
        rotation,
        pages: 1,
    });
    true
}

/// Whether a page draws an image: an Image XObject in its resources or in the resources of a
/// Form XObject they hold (ISO 32000-2 §8.9.5, §8.10), or an inline image (`BI`, §8.9.7) in its
/// content stream. `forms` remembers the forms already looked into, across pages.
pub(crate) fn has_images(page: &Page<'_>, forms: &mut HashSet<ObjectIdentifier>) -> bool {
    let mut x_objects = vec![page.resources().x_objects.clone()];
    while let Some(dict) = x_objects.pop() {
        for (_, entry) in dict.entries() {
            let stream = match entry {
                MaybeRef::Ref(r) => {
                    let id: ObjectIdentifier = r.into();
                    if forms.len() >= MAX_FORMS_VISITED || !forms.insert(id) {
                        continue;
                    }
                    page.xref().get::<Stream<'_>>(id)
                }
                MaybeRef::NotRef(object) => object.into_stream(),
            };
            let Some(stream) = stream else { continue };
            match stream.dict().get::<Name<'_>>(SUBTYPE).as_deref() {
                Some(IMAGE) => return true,
                Some(FORM) => {
                    if let Some(inner) = stream
                        .dict()
                        .get::<Dict<'_>>(RESOURCES)
                        .and_then(|r| r.get::<Dict<'_>>(XOBJECT))
                    {
                        x_objects.push(inner);
                    }
                }
                _ => {}
            }
        }
    }
    has_inline_image(page)
}

/// Whether the page's content holds a `BI` operator, read without keeping the decoded content
/// (hayro-syntax caches what `Page::page_stream` decodes for the life of the document).
fn has_inline_image(page: &Page<'_>) -> bool {
    let raw = page.raw();
    let streams: Vec<Stream<'_>> = if let Some(stream) = raw.get::<Stream<'_>>(CONTENTS) {
        vec![stream]
    } else if let Some(array) = raw.get::<Array<'_>>(CONTENTS) {
        array
            .iter::<Object<'_>>()
            .filter_map(Object::into_stream)
            .collect()
    } else {
        Vec::new()
    };
    streams
        .iter()
        .filter_map(|s| s.decoded().ok())
        .any(|content| has_operator(&content, b"BI"))
}

/// Whether a content stream holds the operator `op`.
fn has_operator(content: &[u8], op: &[u8]) -> bool {
    if memchr::memmem::find(content, op).is_none() {
        return false; // the usual case, without parsing
    }
    let mut ops = UntypedIter::new(content);
    while let Some(instruction) = ops.next() {
        if &**instruction.operator == op {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_operator;

    #[test]
    fn inline_images_are_found_as_operators_not_as_text() {
        assert!(has_operator(
            b"q BI /W 1 /H 1 /BPC 8 /CS /G ID x EI Q",
            b"BI"
        ));
        assert!(!has_operator(b"/BIG 1 Tf (BI) Tj [(OBIT)] TJ", b"BI"));
    }
}
