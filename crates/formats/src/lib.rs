//! # fileproc-formats: the per-format analysis
//!
//! This crate is the `formats` box of the data flow in `DESIGN.md` section 1: a worker (or the
//! `fileproc process FILE` command) hands it a reader over a file's bytes, and it returns a typed
//! [`Analysis`]: the format's section of the result, warnings, and (through a [`RecordSink`]) every
//! typed record of tabular formats. It is pure and synchronous: no tokio, no HTTP, no storage. The
//! caller runs it on a blocking thread and owns timeouts, which it signals through [`Context::cancel`].
//!
//! Each format is one module behind the one [`Analyzer`] trait; [`analyzer_for`] picks it.

pub mod context;
pub mod csv;
pub mod docx;
pub mod error;
pub mod file_type;
pub mod images;
pub mod ooxml;
pub mod pdf;
pub mod thumbnail;
pub mod xlsx;

pub use context::{Context, DiscardRecords, Items, Limits, Progress, RecordSink};
pub use error::FormatError;
pub use file_type::FileType;
pub use images::Optimized;
pub use thumbnail::{EncodedImage, ImageFormat, Thumbnail};

use serde::Serialize;
use std::io::{Read, Seek};

/// A reader with random access, for formats whose container needs it (ZIP for DOCX/XLSX, the PDF
/// cross-reference table).
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// How an analyzer needs to read its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// One forward pass; the caller may stream the bytes straight from the blob store.
    Sequential,
    /// Random access; the caller spools the bytes to a local file first.
    Random,
}

/// The input handed to an analyzer, matching its [`Access`].
pub enum Input<'a> {
    /// A forward-only reader.
    Stream(&'a mut (dyn Read + Send)),
    /// A reader with random access.
    Seekable(&'a mut dyn ReadSeek),
}

impl Input<'_> {
    /// The input as a forward-only reader, whatever it is.
    pub fn reader(&mut self) -> &mut dyn Read {
        match self {
            Input::Stream(r) => *r,
            Input::Seekable(r) => *r,
        }
    }
}

/// The format's section of a result (`DESIGN.md` section 4), serialized under the format's name,
/// e.g. `{"csv": {...}}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// A CSV (or TSV) file.
    Csv(csv::CsvSummary),
    /// A PDF document.
    Pdf(pdf::PdfSummary),
    /// A Word document (ECMA-376 WordprocessingML).
    Docx(docx::DocxSummary),
    /// An Excel workbook (ECMA-376 SpreadsheetML).
    Xlsx(xlsx::XlsxSummary),
    /// A JPEG image.
    Jpeg(images::ImageSummary),
    /// A PNG image (APNG included).
    Png(images::ImageSummary),
    /// A WebP image (animated included).
    Webp(images::ImageSummary),
}

/// What an analyzer returns.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The format's section of the result.
    #[serde(flatten)]
    pub section: Section,
    /// Things a user should know that did not fail the job (e.g. "2 malformed rows").
    pub warnings: Vec<String>,
    /// Thumbnails, one per size in [`Limits::thumbnail_sizes`] (page 1 of a PDF, the image of a
    /// JPEG, PNG or WebP); empty for formats without a picture. The caller stores them.
    #[serde(skip)]
    pub thumbnails: Vec<Thumbnail>,
    /// The original converted to another format (WebP, when [`Limits::enable_webp`]), for the
    /// caller to store beside it.
    #[serde(skip)]
    pub converted: Option<EncodedImage>,
    /// A lossless, smaller variant of the original image (when [`Limits::optimize_images`] and
    /// it came out smaller), for the caller to store beside it.
    #[serde(skip)]
    pub optimized: Option<Optimized>,
}

impl Analysis {
    /// An analysis with only a section: no warnings, thumbnails, conversion or variant.
    pub fn new(section: Section) -> Self {
        Analysis {
            section,
            warnings: Vec::new(),
            thumbnails: Vec::new(),
            converted: None,
            optimized: None,
        }
    }
}

/// One format's analysis.
pub trait Analyzer: Send + Sync {
    /// The processor's name as it appears in the result's `processor.name`, e.g. `"csv"`.
    fn name(&self) -> &'static str;
    /// The processor's version as it appears in the result's `processor.version`.
    fn version(&self) -> &'static str;
    /// How the analyzer reads its input.
    fn access(&self) -> Access;
    /// Analyze the input.
    ///
    /// # Errors
    /// A [`FormatError`] whose [`FormatError::code`] is the stable code the API reports
    /// (`corrupt_file`, `empty_file`, `limit_exceeded`, `cancelled`...).
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError>;
}

/// The analyzer for a file type (every [`FileType`] has one; the `Option` leaves room for types
/// that are only stored).
pub fn analyzer_for(file_type: FileType) -> Option<&'static dyn Analyzer> {
    match file_type {
        FileType::Csv => Some(&csv::CsvAnalyzer),
        FileType::Pdf => Some(&pdf::PdfAnalyzer),
        FileType::Docx => Some(&docx::DocxAnalyzer),
        FileType::Xlsx => Some(&xlsx::XlsxAnalyzer),
        FileType::Jpeg => Some(&images::JPEG),
        FileType::Png => Some(&images::PNG),
        FileType::Webp => Some(&images::WEBP),
    }
}

/// Analyzes a whole file from its start in one call, for callers outside the server's pipeline
/// (the benchmarks, `examples/analyze.rs`, tests): the type's analyzer, `limits`, every record
/// to `records`, no progress reports and no cancelling. `reader` is given as a stream or as
/// seekable, as the analyzer's [`Access`] asks; `size` is its length in bytes when known.
///
/// # Errors
/// [`FormatError::Unsupported`] for a type without an analyzer, else the analyzer's errors.
pub fn analyze_whole<R: ReadSeek>(
    file_type: FileType,
    reader: &mut R,
    size: Option<u64>,
    limits: Limits,
    records: &mut dyn RecordSink,
) -> Result<Analysis, FormatError> {
    let analyzer = analyzer_for(file_type)
        .ok_or_else(|| FormatError::Unsupported(format!("no analyzer for {file_type:?}")))?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut progress = |_| {};
    let mut ctx = Context {
        limits,
        size,
        progress: &mut progress,
        records,
        cancel: &cancel,
    };
    let input = match analyzer.access() {
        Access::Sequential => Input::Stream(reader),
        Access::Random => Input::Seekable(reader),
    };
    analyzer.analyze(input, &mut ctx)
}
