//! What the caller hands an analyzer besides the bytes: limits, a progress callback, a sink for
//! records and a cancel flag.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::FormatError;

/// Protective limits and result sizes (`DESIGN.md` section 6).
#[derive(Debug, Clone)]
pub struct Limits {
    /// How many typed records the result itself carries (the rest are only in the record sink).
    pub preview_records: usize,
    /// Largest CSV field, in bytes; a larger one fails the job with `limit_exceeded`.
    pub max_field_bytes: usize,
    /// Largest CSV record (all fields together), in bytes.
    pub max_record_bytes: usize,
    /// Most columns a CSV record may have.
    pub max_columns: usize,
    /// Thumbnail sizes: the longest side of each thumbnail, in pixels.
    pub thumbnail_sizes: Vec<u32>,
    /// Also convert the original image to WebP ([`crate::Analysis::converted`]).
    pub enable_webp: bool,
    /// WebP quality, 0..=100, for the conversion.
    pub webp_quality: u8,
    /// Also make a lossless optimised variant of the original image
    /// ([`crate::Analysis::optimized`]): a PNG recompressed by oxipng; a JPEG or WebP only when
    /// [`Limits::strip_metadata`] is on too (the same image data, metadata left out).
    pub optimize_images: bool,
    /// oxipng's preset for the PNG variant, 0 (fastest) ..= 6 (smallest); above 6 acts as 6.
    pub optimize_level: u8,
    /// The optimised variant also leaves out metadata (text, time, EXIF but its orientation,
    /// XMP, IPTC, comments); what changes how the picture looks (ICC profile, gamma, colour
    /// chunks, physical pixel size) is kept.
    pub strip_metadata: bool,
    /// Widest image accepted, in pixels (checked from the header, before decoding).
    pub max_image_width: u32,
    /// Tallest image accepted, in pixels.
    pub max_image_height: u32,
    /// Most pixels (width × height) an image may have: the decompression-bomb guard.
    pub max_image_pixels: u64,
    /// Most frames of an animated PNG or WebP.
    pub max_frames: u32,
    /// Characters of text a result carries (PDF, DOCX); the counts cover all of it.
    pub text_chars: usize,
    /// Most pages a PDF may have.
    pub max_pdf_pages: u32,
    /// Deepest nesting of PDF objects (arrays, dictionaries, page tree levels).
    pub max_pdf_depth: u32,
    /// Most bytes the flate streams of a PDF may inflate to together (they are held in memory,
    /// about twice over, while the document is read).
    pub max_pdf_inflated_bytes: u64,
    /// Memory one analysis may allocate for decoded pixels, in bytes: the image decoders refuse
    /// larger buffers (the caller's `processing.memory_limit`).
    pub max_memory_bytes: u64,
    /// Most entries a ZIP container (DOCX, XLSX) may have.
    pub max_zip_entries: usize,
    /// Most bytes all the entries of a ZIP container may inflate to together.
    pub max_expanded_bytes: u64,
    /// Highest ratio of an entry's inflated to compressed size (ZIP bombs run in the thousands).
    pub max_expansion_ratio: u64,
    /// Largest XLSX shared-strings table, in bytes once inflated (it is loaded whole).
    pub max_shared_strings_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            preview_records: 100,
            max_field_bytes: 1 << 20,
            max_record_bytes: 8 << 20,
            max_columns: 4096,
            thumbnail_sizes: vec![256],
            enable_webp: false,
            webp_quality: 80,
            optimize_images: false,
            optimize_level: 2,
            strip_metadata: false,
            max_image_width: 16_384,
            max_image_height: 16_384,
            max_image_pixels: 100_000_000,
            max_frames: 1_000,
            text_chars: 10_000,
            max_pdf_pages: 10_000,
            max_pdf_depth: 64,
            max_pdf_inflated_bytes: 256 << 20,
            max_memory_bytes: 512 << 20,
            max_zip_entries: 10_000,
            max_expanded_bytes: 1 << 30,
            max_expansion_ratio: 200,
            max_shared_strings_bytes: 256 << 20,
        }
    }
}

/// Progress through the input.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of the input consumed so far.
    pub bytes_done: u64,
    /// The input's size in bytes, when known.
    pub bytes_total: Option<u64>,
    /// The format's own units done, when it counts some (rows, pages, sheets).
    pub items: Option<Items>,
}

/// A count of a format's own units: `done` of `total` (when known) `unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Items {
    pub done: u64,
    pub total: Option<u64>,
    /// Plural noun: `rows`, `pages`, `sheets`.
    pub unit: &'static str,
}

/// Receives every record of a tabular format, in order, as its raw (UTF-8 decoded) fields; `None`
/// is a null cell. The columns' final types are only known at the end, so typing is done by the
/// reader of the records (see [`crate::csv::typed_record`]).
///
/// Formats whose cells carry their own types (XLSX) send [`RecordSink::typed_record`] instead:
/// header → JSON value, already typed. An XLSX sends its sheets one after another, in the order of
/// its summary's `sheets`, each sheet's record count in that summary; a reader finds sheet `n`'s
/// records after the counts of the sheets before it.
pub trait RecordSink {
    /// One record.
    ///
    /// # Errors
    /// An I/O error from wherever the sink writes; the analysis stops with it.
    fn record(&mut self, fields: &[Option<&str>]) -> std::io::Result<()>;

    /// One record whose values are already typed (header → value).
    ///
    /// # Errors
    /// An I/O error from wherever the sink writes; the analysis stops with it.
    fn typed_record(
        &mut self,
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> std::io::Result<()>;
}

/// A sink that drops records, for callers that only want the summary.
pub struct DiscardRecords;

impl RecordSink for DiscardRecords {
    fn record(&mut self, _fields: &[Option<&str>]) -> std::io::Result<()> {
        Ok(())
    }

    fn typed_record(
        &mut self,
        _record: &serde_json::Map<String, serde_json::Value>,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything besides the input.
pub struct Context<'a> {
    /// Limits and result sizes.
    pub limits: Limits,
    /// The input's size in bytes, when known.
    pub size: Option<u64>,
    /// Called now and then with how far the analysis is; keep it cheap.
    pub progress: &'a mut dyn FnMut(Progress),
    /// Where records go.
    pub records: &'a mut dyn RecordSink,
    /// Set by the caller to stop the analysis (timeout, cancel); analyzers check it regularly.
    pub cancel: &'a AtomicBool,
}

impl Context<'_> {
    /// `Err(Cancelled)` once the caller has set the cancel flag.
    ///
    /// # Errors
    /// [`FormatError::Cancelled`].
    pub fn check_cancelled(&self) -> Result<(), FormatError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(FormatError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Report progress.
    pub fn report(&mut self, bytes_done: u64) {
        let bytes_total = self.size;
        (self.progress)(Progress {
            bytes_done,
            bytes_total,
            items: None,
        });
    }

    /// Report progress with a count of the format's own units (rows read, pages done...).
    pub fn report_items(&mut self, bytes_done: u64, items: Items) {
        let bytes_total = self.size;
        (self.progress)(Progress {
            bytes_done,
            bytes_total,
            items: Some(items),
        });
    }
}
