//! The file object and status shapes shown to clients (`DESIGN.md` section 2).

use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::FileRecord;

/// A Unix-epoch-milliseconds time as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where a file's bytes are.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StorageInfo {
    pub bucket: String,
    pub key: String,
    /// Bytes of the original.
    pub size: i64,
    pub content_type: String,
    /// Bytes actually stored when the original is stored zstd-compressed (`storage.compression`;
    /// before encryption's overhead, if any); absent when it is stored as it came. Downloads
    /// return the original bytes either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressed_size: Option<i64>,
    /// `zstd` when the stored object is compressed; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "zstd")]
    pub encoding: Option<&'static str>,
}

/// A failure shown on a file.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FileErrorView {
    pub code: String,
    pub message: String,
}

/// The file object.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "file_id": "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90", "filename": "people.csv",
    "file_type": "csv", "content_type": "text/csv", "size": 33,
    "sha256": "4f2b8e1c0d9a7b6e5f4a3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
    "status": "queued", "progress": 0.0, "purpose": null, "metadata": {},
    "uploaded_at": "2026-01-01T00:00:00.000Z", "processed_at": null,
    "storage_info": {"bucket": "local", "key": "files/2026/01/01/0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90/original",
                     "size": 33, "content_type": "text/csv"},
    "error": null, "virus_scan": null,
    "websocket_url": "ws://localhost:8080/ws?file_id=0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90"
}))]
pub struct FileView {
    pub file_id: String,
    pub filename: String,
    /// `csv`, `pdf`, `docx`, `xlsx`, `jpeg`, `png` or `webp` (decided from the bytes); empty
    /// while a resumable upload is still `uploading`.
    pub file_type: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes (empty while `uploading`).
    pub sha256: String,
    /// `uploading`, `pending`, `queued`, `processing`, `completed`, `failed` or `quarantined`.
    pub status: String,
    /// 0..1.
    pub progress: f64,
    pub purpose: Option<String>,
    /// The JSON object the client gave at upload (null if none could be read).
    #[schema(value_type = Object, nullable = true)]
    pub metadata: Value,
    pub uploaded_at: String,
    pub processed_at: Option<String>,
    pub storage_info: StorageInfo,
    pub error: Option<FileErrorView>,
    /// The outcome of the file's virus scan (`scan::VirusScan`: `status`, `clean`, `threats`,
    /// `scanned_at`, `scanner`, `reason`); null when it was never scanned.
    #[schema(value_type = Option<Object>)]
    pub virus_scan: Option<Value>,
    /// Where to watch its progress (`GET /ws?file_id=`).
    pub websocket_url: String,
}

/// A file's processing status.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusView {
    pub file_id: String,
    /// As the file object's `status`.
    pub status: String,
    /// 0..1.
    pub progress: f64,
    pub step: Option<String>,
    pub message: Option<String>,
    pub error: Option<FileErrorView>,
    /// RFC 3339.
    pub updated_at: String,
}

fn error_of(f: &FileRecord) -> Option<FileErrorView> {
    f.error_code.as_ref().map(|code| FileErrorView {
        code: code.clone(),
        message: f.error_message.clone().unwrap_or_default(),
    })
}

impl FileView {
    /// The view of a row, with its progress WebSocket URL.
    pub fn new(f: FileRecord, bucket: &str, websocket_url: String) -> Self {
        let error = error_of(&f);
        FileView {
            websocket_url,
            storage_info: StorageInfo {
                bucket: bucket.to_owned(),
                key: f.storage_key.clone(),
                size: f.size,
                content_type: f.content_type.clone(),
                compressed_size: f.compressed_size,
                encoding: f.compressed_size.map(|_| "zstd"),
            },
            metadata: serde_json::from_str(&f.metadata).unwrap_or(Value::Null),
            virus_scan: f
                .virus_scan
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            uploaded_at: rfc3339(f.uploaded_at),
            processed_at: f.processed_at.map(rfc3339),
            error,
            file_id: f.id,
            filename: f.filename,
            file_type: f.file_type,
            content_type: f.content_type,
            size: f.size,
            sha256: f.sha256,
            status: f.status,
            progress: f.progress,
            purpose: f.purpose,
        }
    }
}

impl StatusView {
    /// The status of a row.
    pub fn new(f: FileRecord) -> Self {
        StatusView {
            error: error_of(&f),
            updated_at: rfc3339(f.updated_at),
            file_id: f.id,
            status: f.status,
            progress: f.progress,
            step: f.step,
            message: f.message,
        }
    }
}

/// The progress WebSocket URL of a file: from `server.public_url` when set
/// ([`crate::config::ServerSettings::websocket_url`]), else from the request's `Host`.
pub fn websocket_url(
    server: &crate::config::ServerSettings,
    headers: &HeaderMap,
    id: &str,
) -> String {
    server.websocket_url(id).unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("ws://{host}/ws?file_id={id}")
    })
}
