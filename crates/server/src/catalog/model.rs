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
    /// Bytes of the original as stored compressed; `None` when stored as it came.
    pub compressed_size: Option<i64>,
}

/// A file row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
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
    /// JSON text of the file's virus scan (`scan::VirusScan`); `None` when never scanned.
    /// Defaulted so that file objects cached before the column existed still read.
    #[serde(default)]
    pub virus_scan: Option<String>,
    /// Bytes of the original as stored zstd-compressed (`blob::compress`); `None` when stored
    /// as it came. Defaulted as `virus_scan` is.
    #[serde(default)]
    pub compressed_size: Option<i64>,
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
    /// The job was taken over from a worker whose lease expired (its file was still
    /// `processing`), not claimed from the queue.
    #[sqlx(default)]
    pub lease_expired: bool,
    /// The W3C `traceparent` of the request that queued the job, when traces are exported.
    pub trace_context: Option<String>,
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

/// How an upload's bytes arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// The chunked API (`DESIGN.md` section 2): numbered parts in any order, S3-multipart style.
    Chunked,
    /// tus 1.0 (<https://tus.io/protocols/resumable-upload>): bytes appended at an offset.
    Tus,
}

impl UploadKind {
    /// The name stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Chunked => "chunked",
            UploadKind::Tus => "tus",
        }
    }
}

/// An upload to start: its file row (inserted with status `uploading`) and its own state.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The upload id (UUID v7), distinct from the file id.
    pub id: String,
    pub kind: UploadKind,
    /// The file row. Until the upload completes, `file_type` and `content_type` are what the
    /// name's extension claims, `size` is the declared length (0 while deferred) and `sha256` is
    /// empty.
    pub file: NewFile,
    /// Declared total length in bytes; `None` while deferred (tus `Upload-Defer-Length`).
    pub length: Option<i64>,
    /// Bytes per part for [`UploadKind::Chunked`] (every part but the last has exactly this
    /// size); `None` for tus.
    pub chunk_size: Option<i64>,
    /// Queue processing when the upload completes.
    pub auto_process: bool,
    /// The tus `Upload-Metadata` header as received, echoed back by HEAD; `None` for chunked.
    pub upload_metadata: Option<String>,
    /// Unix ms after which an unfinished upload is removed.
    pub expires_at: i64,
}

/// An upload row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRecord {
    pub id: String,
    pub file_id: String,
    pub owner: String,
    /// `chunked` or `tus` ([`UploadKind::as_str`]).
    pub kind: String,
    /// Declared total length in bytes; `None` while deferred.
    pub length: Option<i64>,
    pub chunk_size: Option<i64>,
    /// Bytes received and committed so far, in order (tus: the `Upload-Offset`; chunked: the sum
    /// of the stored parts' sizes).
    pub offset: i64,
    pub auto_process: bool,
    pub upload_metadata: Option<String>,
    /// Token of the request holding the upload's lock (a tus PATCH, a completion), if any.
    pub lock_token: Option<String>,
    /// Unix ms when that lock lapses; an expired lock is free.
    pub lock_expires_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored piece of an upload: a numbered part (chunked) or an appended segment (tus, numbered
/// from 1 in the order they were appended). Its bytes are the blob at `storage_key`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UploadPart {
    pub upload_id: String,
    /// From 1.
    pub part_number: i64,
    /// Bytes.
    pub size: i64,
    /// The quoted hex MD5 of the bytes, as S3 gives a part's ETag (`"9e10...c1"`); empty for a
    /// tus segment, which has no ETag.
    pub etag: String,
    pub storage_key: String,
    pub created_at: i64,
}

/// What the bytes of a completed upload turned out to be, written to its file row.
#[derive(Debug, Clone)]
pub struct FinishedUpload {
    pub file_type: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Bytes of the original as stored compressed; `None` when stored as it came.
    pub compressed_size: Option<i64>,
}

/// Why a file is quarantined: its virus scan found threats. A quarantined file is never
/// processed and never served; its `error_code` is `quarantined`.
#[derive(Debug, Clone)]
pub struct Quarantine {
    /// The scan that found the threats (`scan::VirusScan` as JSON), stored as `virus_scan`.
    pub virus_scan: serde_json::Value,
    /// The file's `error_message`, naming the threats.
    pub message: String,
}
