//! The `processing.image`, `processing.pdf`, `processing.archive` and `processing.csv` sections: what the format
//! analyzers make (thumbnail sizes, WebP conversion, text length) and the limits that protect the
//! service from hostile files (`DESIGN.md` section 6). [`ProcessingSettings::limits`] hands them
//! to `fileproc_formats` as its [`Limits`].

use fileproc_formats::Limits;
use serde::Deserialize;

use super::ProcessingSettings;
use super::units;

/// `processing.image`: thumbnails, conversion and decompression-bomb limits of JPEG, PNG and WebP
/// (and the page-1 thumbnail of PDFs).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ImageSettings {
    /// Thumbnail sizes, the longest side in pixels; `?size=` picks one. Default `[256]`.
    pub thumbnail_sizes: Vec<u32>,
    /// Also store the original converted to WebP. Default false.
    #[serde(deserialize_with = "units::boolean")]
    pub enable_webp: bool,
    /// Quality of the WebP conversion, 0..=100. Default 80.
    pub webp_quality: u8,
    /// Also store a lossless optimised variant beside the original (`optimized` in the result,
    /// `/optimized`): a PNG recompressed by oxipng; a JPEG or WebP only with `strip_metadata`.
    /// Kept only when smaller. Default false.
    #[serde(deserialize_with = "units::boolean")]
    pub optimize: bool,
    /// oxipng preset of the PNG variant, 0 (fastest) to 6 (smallest). Default 2.
    pub optimize_level: u8,
    /// The optimised variant also leaves out metadata (EXIF but its orientation, XMP, text
    /// chunks, comments); the ICC profile and colour chunks stay. Default false.
    #[serde(deserialize_with = "units::boolean")]
    pub strip_metadata: bool,
    /// Widest image processed, in pixels, read from the header before decoding. Default 16384.
    pub max_width: u32,
    /// Tallest image processed, in pixels. Default 16384.
    pub max_height: u32,
    /// Most pixels (width × height) of an image. Default 100 000 000.
    pub max_pixels: u64,
    /// Most frames of an animated PNG or WebP. Default 1000.
    pub max_frames: u32,
}

/// `processing.pdf`: text kept and structural limits of PDFs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PdfSettings {
    /// Characters of text a PDF or DOCX result carries; the counts cover all of it. Default 10000.
    pub text_chars: usize,
    /// Most pages processed. Default 10000.
    pub max_pages: u32,
    /// Deepest nesting of objects (arrays, dictionaries, page tree levels). Default 64.
    pub max_depth: u32,
    /// Most bytes the compressed streams of one PDF may inflate to together (size); they are held
    /// in memory while it is read. Default 256 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_inflated_size: u64,
}

/// `processing.csv`: the size limits of one CSV record.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CsvSettings {
    /// Largest field (size). Default 1 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_field_size: u64,
    /// Largest record, all fields together (size). Default 8 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_record_size: u64,
    /// Most columns of a record. Default 4096.
    pub max_columns: usize,
}

impl Default for CsvSettings {
    fn default() -> Self {
        let limits = Limits::default();
        CsvSettings {
            max_field_size: limits.max_field_bytes as u64,
            max_record_size: limits.max_record_bytes as u64,
            max_columns: limits.max_columns,
        }
    }
}

/// `processing.archive`: limits of the ZIP containers of DOCX and XLSX (zip bombs).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ArchiveSettings {
    /// Most entries. Default 10000.
    pub max_entries: usize,
    /// Most bytes all entries may inflate to together (size). Default 1 GiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_expanded_size: u64,
    /// Highest ratio of an entry's inflated to compressed size. Default 200.
    pub max_expansion_ratio: u64,
    /// Largest XLSX shared-strings table once inflated (size); it is loaded whole. Default 256 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_shared_strings_size: u64,
}

impl Default for ImageSettings {
    fn default() -> Self {
        let limits = Limits::default();
        ImageSettings {
            thumbnail_sizes: limits.thumbnail_sizes,
            enable_webp: limits.enable_webp,
            webp_quality: limits.webp_quality,
            optimize: limits.optimize_images,
            optimize_level: limits.optimize_level,
            strip_metadata: limits.strip_metadata,
            max_width: limits.max_image_width,
            max_height: limits.max_image_height,
            max_pixels: limits.max_image_pixels,
            max_frames: limits.max_frames,
        }
    }
}

impl Default for PdfSettings {
    fn default() -> Self {
        let limits = Limits::default();
        PdfSettings {
            text_chars: limits.text_chars,
            max_pages: limits.max_pdf_pages,
            max_depth: limits.max_pdf_depth,
            max_inflated_size: limits.max_pdf_inflated_bytes,
        }
    }
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        let limits = Limits::default();
        ArchiveSettings {
            max_entries: limits.max_zip_entries,
            max_expanded_size: limits.max_expanded_bytes,
            max_expansion_ratio: limits.max_expansion_ratio,
            max_shared_strings_size: limits.max_shared_strings_bytes,
        }
    }
}

impl ProcessingSettings {
    /// The analyzers' limits and options from these settings.
    pub fn limits(&self) -> Limits {
        let (image, pdf, archive, csv) = (&self.image, &self.pdf, &self.archive, &self.csv);
        let bytes = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Limits {
            preview_records: self.preview_records as usize,
            max_field_bytes: bytes(csv.max_field_size),
            max_record_bytes: bytes(csv.max_record_size),
            max_columns: csv.max_columns,
            max_pdf_inflated_bytes: pdf.max_inflated_size,
            max_memory_bytes: self.memory_limit,
            thumbnail_sizes: image.thumbnail_sizes.clone(),
            enable_webp: image.enable_webp,
            webp_quality: image.webp_quality,
            optimize_images: image.optimize,
            optimize_level: image.optimize_level,
            strip_metadata: image.strip_metadata,
            max_image_width: image.max_width,
            max_image_height: image.max_height,
            max_image_pixels: image.max_pixels,
            max_frames: image.max_frames,
            text_chars: pdf.text_chars,
            max_pdf_pages: pdf.max_pages,
            max_pdf_depth: pdf.max_depth,
            max_zip_entries: archive.max_entries,
            max_expanded_bytes: archive.max_expanded_size,
            max_expansion_ratio: archive.max_expansion_ratio,
            max_shared_strings_bytes: archive.max_shared_strings_size,
        }
    }
}
