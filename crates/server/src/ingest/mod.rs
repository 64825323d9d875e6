//! Ingest: turns an upload into a stored blob plus a catalog row (`DESIGN.md` section 1).
//!
//! A multipart upload is streamed: each chunk of the `file` field is hashed (SHA-256), counted
//! against the size limit and handed to the blob store's multipart writer, so memory holds at
//! most a part or two whatever the file's size. The type is decided from the first
//! [`sniff::SNIFF_LEN`] bytes before anything is stored. Past the limit the upload is aborted
//! (nothing partial stays in the store) and the request ends with 413 at once.
//!
//! With virus scanning on, bytes refused by type (`type_mismatch`, `unsupported_type`) are
//! stored all the same and scanned before the refusal is answered: infected, the file is kept
//! `quarantined` (201, `virus_scan` naming the threats); otherwise it is removed and refused as
//! it would have been. A name refused by itself (`blocked_extension`) is refused at once.

pub mod chunked;
pub mod container;
pub mod filename;
pub mod resumable;
pub mod sniff;
pub mod tus;

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use fileproc_formats::FileType;
use sha2::{Digest, Sha256};

use crate::api::error::ApiError;
use crate::blob::{BlobStore, OriginalUpload};
use crate::catalog::{FileRecord, NewFile};
use crate::metrics::UploadKind;
use crate::state::AppState;

/// Most bytes accepted in a non-file form field (`purpose`, `metadata`...).
const MAX_TEXT_FIELD: usize = 64 * 1024;

/// What a client sent besides the bytes.
struct UploadForm {
    purpose: Option<String>,
    auto_process: bool,
    metadata: serde_json::Value,
}

/// The stored bytes of an upload.
struct StoredBlob {
    filename: String,
    file_type: FileType,
    size: u64,
    sha256: String,
    /// Bytes stored when compressed (`storage_info.compressed_size`).
    compressed_size: Option<u64>,
    /// The refusal of the bytes' type, kept for after the virus scan (see the module doc).
    refused: Option<ApiError>,
}

/// What the first bytes of an upload say: its type, or, with virus scanning on, the type its
/// name claims and the refusal that waits for the scan.
pub(crate) struct Sniffed {
    pub file_type: FileType,
    pub refused: Option<ApiError>,
}

/// Store a multipart upload for `owner` and insert its row (queued when `auto_process`).
///
/// # Errors
/// 400 for a malformed form, 413 past the size limit, 415 for a refused type, 500 on a store
/// or catalog failure.
pub async fn multipart_upload(
    state: &AppState,
    owner: &str,
    mut multipart: Multipart,
) -> Result<FileRecord, ApiError> {
    let file_id = uuid::Uuid::now_v7().to_string();
    let key = BlobStore::original_key(&file_id);
    let mut form = UploadForm {
        purpose: None,
        auto_process: true,
        metadata: serde_json::json!({}),
    };
    let mut stored: Option<StoredBlob> = None;
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            match field.name().unwrap_or_default() {
                "file" if stored.is_some() => {
                    return Err(ApiError::bad_request(
                        "invalid_form",
                        "more than one file field",
                    ));
                }
                "file" => stored = Some(store_file(state, &key, field).await?),
                "purpose" => form.purpose = Some(text_field(field).await?),
                "auto_process" => form.auto_process = parse_bool(&text_field(field).await?)?,
                "metadata" => form.metadata = parse_metadata(&text_field(field).await?)?,
                _ => {} // unknown fields are ignored, as browsers send extras
            }
        }
        stored.ok_or_else(|| ApiError::bad_request("missing_file", "the form has no file field"))
    }
    .await;
    let blob = match result {
        Ok(blob) => blob,
        Err(e) => {
            // A file field stored before a later field failed must not stay behind.
            if let Err(cleanup) = state.blobs.delete_file_objects(&file_id).await {
                tracing::warn!(file.id = %file_id, error = %cleanup, "cleanup after a failed upload");
            }
            return Err(e);
        }
    };
    let refused = match blob.refused {
        Some(refusal) => Some(refusal),
        None => container_refusal(state, &key, blob.file_type, blob.size).await,
    };
    let new = NewFile {
        id: file_id.clone(),
        owner: owner.to_owned(),
        filename: blob.filename,
        file_type: blob.file_type.as_str().to_owned(),
        content_type: blob.file_type.content_type().to_owned(),
        size: i64::try_from(blob.size).unwrap_or(i64::MAX),
        sha256: blob.sha256,
        purpose: form.purpose,
        metadata: form.metadata,
        storage_key: key,
        compressed_size: blob.compressed_size.and_then(|c| i64::try_from(c).ok()),
    };
    if let Some(refusal) = refused {
        return quarantine_or_refuse(state, &new, refusal).await;
    }
    let enqueue = form
        .auto_process
        .then_some(state.settings.processing.max_retries + 1);
    state.catalog.insert_file(&new, enqueue).await?;
    // Published before the workers are woken, so that it goes out before their "processing".
    let status = if enqueue.is_some() {
        "queued"
    } else {
        "pending"
    };
    state
        .events
        .status_change(owner, &file_id, Some("uploading"), status);
    if enqueue.is_some() {
        state.queue.wake();
    }
    tracing::info!(file.id = %file_id, file.size = blob.size, file.type = new.file_type, "file stored");
    Ok(state.catalog.get_file(owner, &file_id).await?)
}

/// An upload whose bytes were refused by type, stored because scanning is on: kept as a
/// quarantined file when infected, else removed and refused with `refusal`.
async fn quarantine_or_refuse(
    state: &AppState,
    new: &NewFile,
    refusal: ApiError,
) -> Result<FileRecord, ApiError> {
    let Some(scan) = crate::scan::infected(state, &new.storage_key).await else {
        if let Err(cleanup) = state.blobs.delete_file_objects(&new.id).await {
            tracing::warn!(file.id = %new.id, error = %cleanup, "cleanup after a refused upload");
        }
        return Err(refusal);
    };
    let quarantine = scan.quarantine();
    state.catalog.insert_quarantined(new, &quarantine).await?;
    crate::queue::publish_quarantined(state, &new.owner, &new.id, Some("uploading"), &quarantine);
    tracing::warn!(file.id = %new.id, threats = ?scan.threats, refused = refusal.code(), "an upload refused by type is infected; quarantined");
    Ok(state.catalog.get_file(&new.owner, &new.id).await?)
}

/// Stream the `file` field to the blob store at `key`.
async fn store_file(
    state: &AppState,
    key: &str,
    mut field: Field<'_>,
) -> Result<StoredBlob, ApiError> {
    let filename = clean_filename(
        field.file_name(),
        state.settings.security.max_filename_length as usize,
    )?;
    let limit = state.settings.server.max_upload_size;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(sniff::SNIFF_LEN);
    // The open upload and what its first bytes showed.
    let mut upload: Option<(OriginalUpload, Sniffed)> = None;
    let outcome: Result<(), ApiError> = async {
        let received = &state.metrics.upload(UploadKind::Multipart).bytes;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            received.increment(chunk.len() as u64);
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::TooLarge { limit });
            }
            hasher.update(&chunk);
            match upload.as_mut() {
                Some((up, _)) => up.write(chunk).await?,
                None => {
                    head.extend_from_slice(&chunk);
                    if head.len() >= sniff::SNIFF_LEN {
                        upload = Some(start(state, key, &head, &filename).await?);
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    let (upload, sniffed) = match (outcome, upload) {
        (Ok(()), Some(started)) => started,
        (Ok(()), None) => start(state, key, &head, &filename).await?,
        (Err(e), Some((up, _))) => {
            if let Err(abort) = up.abort().await {
                tracing::warn!(error = %abort, "aborting a refused upload");
            }
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    let stored = upload.finish().await?;
    Ok(StoredBlob {
        filename,
        file_type: sniffed.file_type,
        size,
        sha256: hex::encode(hasher.finalize()),
        compressed_size: stored.compressed_size,
        refused: sniffed.refused,
    })
}

/// Check the type on the first bytes, then open the upload of the original (compressed when
/// its type may shrink and its first frame does) and write them; the upload and what the bytes
/// showed.
pub(crate) async fn start(
    state: &AppState,
    key: &str,
    head: &[u8],
    filename: &str,
) -> Result<(OriginalUpload, Sniffed), ApiError> {
    let sniffed = detect(state, head, filename)?;
    let mut upload = state
        .blobs
        .start_original(key, compressible(sniffed.file_type))
        .await?;
    upload.write(bytes::Bytes::copy_from_slice(head)).await?;
    Ok((upload, sniffed))
}

/// Whether files of `file_type` are worth a compression sample: text (CSV) and PDF, whose
/// streams may or may not be compressed already (the sample decides). JPEG, PNG and WebP are
/// compressed pictures, DOCX and XLSX deflated ZIP containers: zstd would not shrink them.
fn compressible(file_type: FileType) -> bool {
    matches!(file_type, FileType::Csv | FileType::Pdf)
}

/// The type of the first bytes. With virus scanning on, a refusal of the bytes (not of the
/// name) waits for the scan: the upload goes on under the type its name claims.
fn detect(state: &AppState, head: &[u8], filename: &str) -> Result<Sniffed, ApiError> {
    let prefix = &head[..head.len().min(sniff::SNIFF_LEN)];
    match sniff::detect(prefix, filename, policy(state)) {
        Ok(file_type) => Ok(Sniffed {
            file_type,
            refused: None,
        }),
        Err(e @ (sniff::SniffError::Mismatch { .. } | sniff::SniffError::Unsupported(_)))
            if state.settings.security.virus_scanning =>
        {
            match FileType::from_extension(filename) {
                Some(file_type) => Ok(Sniffed {
                    file_type,
                    refused: Some(refused(e)),
                }),
                None => Err(refused(e)),
            }
        }
        Err(e) => Err(refused(e)),
    }
}

/// For a stored DOCX or XLSX, the refusal its ZIP central directory gives: another Office type,
/// or no Office document at all (415 `type_mismatch`). `None` when it agrees, or when it cannot
/// be read (a broken container is its analyzer's to judge, as `corrupt_file`).
pub(crate) async fn container_refusal(
    state: &AppState,
    key: &str,
    file_type: FileType,
    size: u64,
) -> Option<ApiError> {
    use futures::TryStreamExt;
    if !matches!(file_type, FileType::Docx | FileType::Xlsx) || size < 22 {
        return None;
    }
    let start = size.saturating_sub(container::TAIL_LEN);
    let stream = state.blobs.get_stream(key, Some(start..size)).await.ok()?;
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.ok()?;
    let tail = chunks.concat();
    let names = container::entry_names(&tail, size)?;
    let found = container::office_type(&names);
    if found == Some(file_type) {
        return None;
    }
    Some(ApiError::UnsupportedType {
        code: "type_mismatch",
        message: format!(
            "the file's bytes are {} but its name says {}",
            found.map_or("a zip archive", FileType::as_str),
            file_type.as_str()
        ),
    })
}

/// The type `filename` claims, checked against the extension policy before any byte arrives.
///
/// # Errors
/// 415 `blocked_extension` or `unsupported_type`.
pub(crate) fn claim(state: &AppState, filename: &str) -> Result<FileType, ApiError> {
    sniff::claim(filename, policy(state)).map_err(refused)
}

fn policy(state: &AppState) -> sniff::ExtensionPolicy<'_> {
    let security = &state.settings.security;
    sniff::ExtensionPolicy {
        allowed: &security.allowed_extensions,
        blocked: &security.blocked_extensions,
    }
}

fn refused(e: sniff::SniffError) -> ApiError {
    ApiError::UnsupportedType {
        code: e.code(),
        message: e.to_string(),
    }
}

/// A client's file name made safe to keep ([`filename::sanitize`]).
///
/// # Errors
/// 400 `invalid_filename` when nothing usable is left of it.
pub(crate) fn clean_filename(raw: Option<&str>, max_len: usize) -> Result<String, ApiError> {
    filename::sanitize(raw.unwrap_or_default(), max_len)
        .map_err(|e| ApiError::bad_request("invalid_filename", e.0))
}

async fn text_field(mut field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(
                "invalid_form",
                format!("the {name} field is larger than {MAX_TEXT_FIELD} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::bad_request("invalid_form", format!("the {name} field is not UTF-8"))
    })
}

pub(crate) fn parse_bool(s: &str) -> Result<bool, ApiError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ApiError::bad_request(
            "invalid_form",
            format!("auto_process must be true or false, not {other:?}"),
        )),
    }
}

pub(crate) fn parse_metadata(s: &str) -> Result<serde_json::Value, ApiError> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(ApiError::bad_request(
            "invalid_form",
            "metadata must be a JSON object",
        )),
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::BodyTooLarge;
    }
    ApiError::bad_request("invalid_form", e.body_text())
}
