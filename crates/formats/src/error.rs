//! The errors an analysis can end in, each with the stable `code` the API reports.

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file has no bytes, or no content the format can hold (code `empty_file`).
    #[error("the file is empty")]
    Empty,
    /// The bytes are not a valid file of the format (code `corrupt_file`).
    #[error("corrupt file: {0}")]
    Corrupt(String),
    /// The file needs a password (code `encrypted_file`).
    #[error("the file is encrypted: {0}")]
    Encrypted(String),
    /// A protective limit was passed: field or row size, entry count, pixel count... (code
    /// `limit_exceeded`).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The bytes are another type than the one the file was taken as, e.g. a Word document
    /// named `.xlsx` whose content types part says so (code `type_mismatch`).
    #[error("type mismatch: {0}")]
    TypeMismatch(String),
    /// The format is recognised but this feature of it is not (code `unsupported_format`).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The caller cancelled the analysis, usually on timeout (code `cancelled`).
    #[error("the analysis was cancelled")]
    Cancelled,
    /// Reading the input failed (code `io_error`).
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl FormatError {
    /// The stable snake_case code for the API's error shape.
    pub fn code(&self) -> &'static str {
        match self {
            FormatError::Empty => "empty_file",
            FormatError::Corrupt(_) => "corrupt_file",
            FormatError::Encrypted(_) => "encrypted_file",
            FormatError::LimitExceeded(_) => "limit_exceeded",
            FormatError::TypeMismatch(_) => "type_mismatch",
            FormatError::Unsupported(_) => "unsupported_format",
            FormatError::Cancelled => "cancelled",
            FormatError::Io(_) => "io_error",
        }
    }
}
