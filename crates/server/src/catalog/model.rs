//! The catalog's rows as Rust types.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A file's lifecycle (`DESIGN.md` section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Uploading,
    Pending,
    Queued,
    Processing,
    Completed,
    Failed,
    Quarantined,
}

impl FileStatus {
    /// The name stored and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Uploading => "uploading",
            FileStatus::Pending => "pending",
            FileStatus::Queued => "queued",
            FileStatus::Processing => "processing",
            FileStatus::Completed => "completed",
            FileStatus::Failed => "failed",
            FileStatus::Quarantined => "quarantined",
        }
    }

    /// Parse a stored or requested name.
    pub fn parse(s: &str) -> Option<FileStatus> {
        [
            FileStatus::Uploading,
            FileStatus::Pending,
            FileStatus::Queued,
            FileStatus::Processing,
            FileStatus::Completed,
            FileStatus::Failed,
            FileStatus::Quarantined,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A file to insert, once its bytes are stored.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub id: String,
    pub owner: String,
    pub filename: String,
    pub file_type: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub purpose: Option<String>,
    /// A JSON object given by the client.
    pub metadata: serde_json::Value,
    pub storage_key: String,
}

/// A file row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRecord {
    pub id: String,
    pub owner: String,
    pub filename: String,
    pub file_type: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub status: String,
    pub progress: f64,
    pub step: Option<String>,
    pub message: Option<String>,
    pub purpose: Option<String>,
    /// JSON text.
    pub metadata: String,
    pub storage_key: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub uploaded_at: i64,
    pub processed_at: Option<i64>,
    pub updated_at: i64,
}

/// Filters and page of a file listing.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    pub status: Option<String>,
    pub file_type: Option<String>,
    /// Only files with an id below this one (the previous page's last id).
    pub cursor: Option<String>,
    pub limit: i64,
}

/// A job a worker holds a lease on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: String,
    pub file_id: String,
    /// This attempt's number, from 1.
    pub attempts: i64,
    pub max_attempts: i64,
    /// JSON text of the processing options.
    pub options: String,
}

/// Why an attempt failed, and whether to try again.
#[derive(Debug, Clone)]
pub struct JobFailure {
    /// Stable error code (`corrupt_file`, `timeout`...).
    pub code: String,
    pub message: String,
    /// `Some(delay)` to try again after the delay, `None` to give up.
    pub retry_in: Option<Duration>,
}

/// A result to store.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub result: serde_json::Value,
    pub records_key: Option<String>,
    /// Byte offset of every [`crate::records::INDEX_STRIDE`]th record.
    pub records_index: Vec<u64>,
    pub records_count: i64,
}

/// A result row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResultRecord {
    pub file_id: String,
    /// JSON text.
    pub result: String,
    pub records_key: Option<String>,
    /// JSON text: array of byte offsets.
    pub records_index: Option<String>,
    pub records_count: i64,
    pub created_at: i64,
}
