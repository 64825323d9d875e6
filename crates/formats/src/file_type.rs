//! The file types fileproc knows, decided from the bytes and checked against the name.

use serde::{Deserialize, Serialize};

/// A file type of `DESIGN.md` section 2 (`file_type` in the file object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Csv,
    Pdf,
    Docx,
    Xlsx,
    Jpeg,
    Png,
    Webp,
}

impl FileType {
    /// Every type, in the order of `DESIGN.md`.
    pub const ALL: [FileType; 7] = [
        FileType::Csv,
        FileType::Pdf,
        FileType::Docx,
        FileType::Xlsx,
        FileType::Jpeg,
        FileType::Png,
        FileType::Webp,
    ];

    /// The lowercase name used in the API, e.g. `"csv"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Csv => "csv",
            FileType::Pdf => "pdf",
            FileType::Docx => "docx",
            FileType::Xlsx => "xlsx",
            FileType::Jpeg => "jpeg",
            FileType::Png => "png",
            FileType::Webp => "webp",
        }
    }

    /// Parse the API name (`"csv"`, ...).
    pub fn parse(s: &str) -> Option<FileType> {
        FileType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The canonical content type (IANA media type).
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Csv => "text/csv",
            FileType::Pdf => "application/pdf",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Webp => "image/webp",
        }
    }

    /// The type a file name's extension claims, if any (case-insensitive; `.tsv` and `.txt` are
    /// delimited text, `.jpg` is JPEG).
    pub fn from_extension(name: &str) -> Option<FileType> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" | "tab" => Some(FileType::Csv),
            "pdf" => Some(FileType::Pdf),
            "docx" => Some(FileType::Docx),
            "xlsx" => Some(FileType::Xlsx),
            "jpg" | "jpeg" => Some(FileType::Jpeg),
            "png" => Some(FileType::Png),
            "webp" => Some(FileType::Webp),
            _ => None,
        }
    }
}
