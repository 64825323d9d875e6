//! The chunked upload API (`DESIGN.md` section 2), S3-multipart style: `init` declares the file
//! and its size and gets an upload id and a part size; each part (1-based `chunk_number`) is sent
//! on its own, in any order, any number of times (the last one sent counts), and answered with its
//! ETag, the quoted hex MD5 of its bytes as S3 gives it; `complete` names the parts with their
//! ETags, which are checked, and the file is assembled; `abort` removes it all. The state lives in
//! the catalog and the blob store (see [`super::resumable`]), so `parts` lists what survived any
//! restart.

use serde::{Deserialize, Serialize};

use super::resumable::{self, PieceError, UploadLock};
use crate::api::error::ApiError;
use crate::blob::BlobStore;
use crate::catalog::{
    CatalogError, FileRecord, NewFile, NewUpload, UploadKind, UploadPart, UploadRecord, now_ms,
};
use crate::state::AppState;

/// Smallest part size a client may ask for, in bytes (the last part may be smaller).
pub const MIN_CHUNK_SIZE: u64 = 64 * 1024;
/// Largest part size, in bytes (S3's largest part).
pub const MAX_CHUNK_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts an upload may have (S3's limit).
pub const MAX_PARTS: u64 = 10_000;

/// `POST /api/v1/files/upload/init`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"filename": "big.csv", "size": 12582912, "content_type": "text/csv",
    "chunk_size": 5242880}))]
pub struct InitRequest {
    /// The file's name; its extension must name an accepted type.
    pub filename: String,
    /// The file's total size in bytes.
    pub size: u64,
    /// The client's idea of the type; informative (the bytes decide).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Bytes per part (every part but the last); default `storage.chunk_size`.
    #[serde(default)]
    pub chunk_size: Option<u64>,
    /// Queue processing on completion (default true).
    #[serde(default)]
    pub auto_process: Option<bool>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// A JSON object kept with the file.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// A part as a client names it at `complete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompletedPart {
    pub part_number: i64,
    pub etag: String,
}

/// `POST /api/v1/files/upload/{file_id}/complete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompleteRequest {
    pub upload_id: String,
    pub parts: Vec<CompletedPart>,
}

/// A stored part as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartView {
    pub part_number: i64,
    /// The quoted hex MD5 of the part.
    pub etag: String,
    /// Bytes.
    pub size: i64,
}

impl From<&UploadPart> for PartView {
    fn from(p: &UploadPart) -> Self {
        PartView {
            part_number: p.part_number,
            etag: p.etag.clone(),
            size: p.size,
        }
    }
}

/// The part layout of a chunked upload.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Declared size, bytes.
    pub size: u64,
    /// Bytes per part but the last.
    pub chunk_size: u64,
    /// Number of parts: `ceil(size / chunk_size)` (0 for an empty file).
    pub total_chunks: u64,
}

impl Layout {
    fn new(size: u64, chunk_size: u64) -> Self {
        Layout {
            size,
            chunk_size,
            total_chunks: size.div_ceil(chunk_size),
        }
    }

    /// The layout of a stored upload.
    pub fn of(upload: &UploadRecord) -> Self {
        let size = upload
            .length
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        let chunk = upload
            .chunk_size
            .and_then(|c| u64::try_from(c).ok())
            .filter(|c| *c > 0)
            .unwrap_or(MIN_CHUNK_SIZE);
        Layout::new(size, chunk)
    }

    /// The exact size part `n` (1-based) must have.
    pub fn part_size(&self, n: u64) -> u64 {
        if n < self.total_chunks {
            self.chunk_size
        } else {
            self.size - (self.total_chunks - 1) * self.chunk_size
        }
    }
}

/// Start a chunked upload for `owner`: checks the name and the size, inserts the file row
/// (`uploading`) and the upload row.
///
/// # Errors
/// 413 over `server.max_upload_size`, 415 for a refused name, 400 for a bad part size or
/// request.
pub async fn init(
    state: &AppState,
    owner: &str,
    req: InitRequest,
) -> Result<(UploadRecord, Layout), ApiError> {
    let limit = state.settings.server.max_upload_size;
    if req.size > limit {
        return Err(ApiError::TooLarge { limit });
    }
    let filename = super::clean_filename(
        Some(&req.filename),
        state.settings.security.max_filename_length as usize,
    )?;
    let file_type = super::claim(state, &filename)?;
    let chunk_size = req.chunk_size.unwrap_or(state.settings.storage.chunk_size);
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(ApiError::bad_request(
            "invalid_chunk_size",
            format!("chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes"),
        ));
    }
    let layout = Layout::new(req.size, chunk_size);
    if layout.total_chunks > MAX_PARTS {
        return Err(ApiError::bad_request(
            "invalid_chunk_size",
            format!(
                "{} bytes in parts of {chunk_size} would make {} parts; at most {MAX_PARTS} are \
                 allowed, so chunk_size must be at least {}",
                req.size,
                layout.total_chunks,
                req.size.div_ceil(MAX_PARTS)
            ),
        ));
    }
    let metadata = match req.metadata {
        None => serde_json::json!({}),
        Some(v @ serde_json::Value::Object(_)) => v,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_json",
                "metadata must be a JSON object",
            ));
        }
    };
    let file_id = uuid::Uuid::now_v7().to_string();
    let upload = NewUpload {
        id: uuid::Uuid::now_v7().to_string(),
        kind: UploadKind::Chunked,
        file: NewFile {
            id: file_id.clone(),
            owner: owner.to_owned(),
            filename,
            file_type: file_type.as_str().to_owned(),
            content_type: file_type.content_type().to_owned(),
            size: i64::try_from(req.size).unwrap_or(i64::MAX),
            sha256: String::new(),
            purpose: req.purpose,
            metadata,
            storage_key: BlobStore::original_key(&file_id),
            compressed_size: None,
        },
        length: i64::try_from(req.size).ok(),
        chunk_size: i64::try_from(chunk_size).ok(),
        auto_process: req.auto_process.unwrap_or(true),
        upload_metadata: None,
        expires_at: resumable::expiry_from_now(state),
    };
    state.catalog.create_upload(&upload).await?;
    state
        .events
        .status_change(owner, &file_id, None, "uploading");
    tracing::info!(file.id = %file_id, upload.id = %upload.id, file.size = req.size, chunk_size, "chunked upload started");
    let record = state.catalog.get_upload(owner, &upload.id).await?;
    Ok((record, layout))
}

/// The caller's live chunked upload `upload_id` of file `file_id`.
///
/// # Errors
/// 404 `upload_not_found` for an unknown, expired or another owner's upload, or one of another
/// file.
pub async fn find(
    state: &AppState,
    owner: &str,
    file_id: &str,
    upload_id: &str,
) -> Result<UploadRecord, ApiError> {
    let not_found = || ApiError::NotFound("upload");
    let upload = match state.catalog.get_upload(owner, upload_id).await {
        Ok(u) => u,
        // A completed upload leaves its file: say so, so that a client whose `complete`
        // answer was lost can tell success from failure.
        Err(CatalogError::NotFound) => {
            return match state.catalog.get_file(owner, file_id).await {
                Ok(file) if file.status != "uploading" => Err(ApiError::Conflict {
                    code: "upload_finished",
                    message: format!(
                        "the upload is complete: the file is {}; see GET /api/v1/files/{file_id}",
                        file.status
                    ),
                }),
                _ => Err(not_found()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    if upload.file_id != file_id
        || upload.kind != UploadKind::Chunked.as_str()
        || resumable::is_expired(&upload)
    {
        return Err(not_found());
    }
    Ok(upload)
}

/// Store part `part_number` of an upload from `body`, replacing an earlier one of that number.
/// `declared_len` is the request's `Content-Length`, checked before any byte is read.
///
/// # Errors
/// 400 `invalid_chunk_number` outside `1..=total_chunks`, 400 `invalid_chunk_size` when the
/// part is not exactly its size (`chunk_size` but for the last), 400 `incomplete_body` when the
/// body breaks off, 409 `upload_locked` while the upload completes, 404 when it is gone.
pub async fn put_part<S, E>(
    state: &AppState,
    upload: &UploadRecord,
    part_number: i64,
    declared_len: Option<u64>,
    body: S,
) -> Result<PartView, ApiError>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>>,
    E: std::fmt::Display,
{
    let layout = Layout::of(upload);
    let n = u64::try_from(part_number).unwrap_or(0);
    if layout.total_chunks == 0 {
        return Err(ApiError::bad_request(
            "invalid_chunk_number",
            "an empty file has no parts: complete it with an empty parts list",
        ));
    }
    if n == 0 || n > layout.total_chunks {
        return Err(ApiError::bad_request(
            "invalid_chunk_number",
            format!(
                "chunk_number must be between 1 and {} (total_chunks)",
                layout.total_chunks
            ),
        ));
    }
    let expected = layout.part_size(n);
    let wrong_size = |got: u64| {
        ApiError::bad_request(
            "invalid_chunk_size",
            format!("part {n} must be {expected} bytes, not {got}"),
        )
    };
    if let Some(len) = declared_len.filter(|len| *len != expected) {
        return Err(wrong_size(len));
    }
    let attempt = uuid::Uuid::new_v4().to_string();
    let key = BlobStore::upload_part_key(&upload.file_id, part_number, &attempt);
    let piece = match resumable::receive_piece(state, key, body, expected, true, None, None).await {
        Ok(piece) => {
            let received = &state.metrics.upload(crate::metrics::UploadKind::Chunked);
            received.bytes.increment(piece.size);
            piece
        }
        Err(PieceError::TooLarge) => return Err(wrong_size(expected + 1)),
        Err(PieceError::Api(e)) => return Err(e),
    };
    if piece.cut || piece.size != expected {
        let (cut, size) = (piece.cut, piece.size);
        piece.discard().await;
        return Err(if cut {
            ApiError::bad_request(
                "incomplete_body",
                format!("the body broke off after {size} of {expected} bytes; send the part again"),
            )
        } else {
            wrong_size(size)
        });
    }
    let part = UploadPart {
        upload_id: upload.id.clone(),
        part_number,
        size: i64::try_from(piece.size).unwrap_or(i64::MAX),
        etag: piece.etag(),
        storage_key: piece.key.clone(),
        created_at: now_ms(),
    };
    piece.commit().await?;
    let replaced = state
        .catalog
        .put_upload_part(&part, resumable::expiry_from_now(state))
        .await;
    let replaced = match replaced {
        Ok(replaced) => replaced,
        Err(e) => {
            delete_quietly(state, &part.storage_key).await;
            return Err(match e {
                CatalogError::Conflict(_) => resumable::locked(),
                CatalogError::NotFound => ApiError::NotFound("upload"),
                other => other.into(),
            });
        }
    };
    if let Some(old) = replaced {
        delete_quietly(state, &old).await;
    }
    if let Ok(now) = state.catalog.get_upload(&upload.owner, &upload.id).await {
        resumable::publish_received(state, &now);
    }
    Ok(PartView::from(&part))
}

/// Complete an upload from the parts the client names: each must be stored with that ETag,
/// numbered 1 to `total_chunks` in order, adding up to the declared size. Then as
/// [`resumable::finish`].
///
/// # Errors
/// 400 `invalid_part` (unknown part or ETag mismatch), `invalid_part_order` (not exactly
/// `1..=total_chunks` ascending), `size_mismatch`; 409 `upload_locked` while another request
/// works on it; 415 when the bytes are not the type the name claims; 503 store failures.
pub async fn complete(
    state: &AppState,
    upload: &UploadRecord,
    req: &CompleteRequest,
) -> Result<FileRecord, ApiError> {
    let (lock, upload) = UploadLock::take(state, &upload.id).await?;
    let checked = async {
        let stored = state.catalog.list_upload_parts(&upload.id).await?;
        let layout = Layout::of(&upload);
        check_parts(&layout, &stored, &req.parts)?;
        Ok::<_, ApiError>(stored)
    }
    .await;
    match checked {
        Ok(stored) => resumable::finish(state, &upload, &stored, lock).await,
        Err(e) => {
            lock.release(state).await;
            Err(e)
        }
    }
}

fn check_parts(
    layout: &Layout,
    stored: &[UploadPart],
    named: &[CompletedPart],
) -> Result<(), ApiError> {
    let expected = usize::try_from(layout.total_chunks).unwrap_or(usize::MAX);
    if named.len() != expected || named.iter().zip(1..).any(|(p, n)| p.part_number != n) {
        return Err(ApiError::bad_request(
            "invalid_part_order",
            format!(
                "parts must list part_number 1 to {} in ascending order, each once",
                layout.total_chunks
            ),
        ));
    }
    for part in named {
        let found = stored.iter().find(|s| s.part_number == part.part_number);
        let Some(found) = found else {
            return Err(ApiError::bad_request(
                "invalid_part",
                format!("part {} has not been uploaded", part.part_number),
            ));
        };
        if found.etag.trim_matches('"') != part.etag.trim_matches('"') {
            return Err(ApiError::bad_request(
                "invalid_part",
                format!(
                    "part {} has ETag {}, not {}; send it again or name the stored one",
                    part.part_number, found.etag, part.etag
                ),
            ));
        }
    }
    let total: i64 = stored.iter().map(|p| p.size).sum();
    if u64::try_from(total).ok() != Some(layout.size) {
        return Err(ApiError::bad_request(
            "size_mismatch",
            format!(
                "the parts hold {total} bytes, not the {} declared",
                layout.size
            ),
        ));
    }
    Ok(())
}

async fn delete_quietly(state: &AppState, key: &str) {
    if let Err(e) = state.blobs.delete(key).await {
        tracing::warn!(key, error = %e, "removing an unused upload part");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_chunk_size_but_the_last() {
        let l = Layout::new(10 * 1024 * 1024 + 5, 5 * 1024 * 1024);
        assert_eq!(l.total_chunks, 3);
        assert_eq!(l.part_size(1), 5 * 1024 * 1024);
        assert_eq!(l.part_size(2), 5 * 1024 * 1024);
        assert_eq!(l.part_size(3), 5);
        let exact = Layout::new(10 * 1024 * 1024, 5 * 1024 * 1024);
        assert_eq!(exact.total_chunks, 2);
        assert_eq!(exact.part_size(2), 5 * 1024 * 1024);
        assert_eq!(Layout::new(0, MIN_CHUNK_SIZE).total_chunks, 0);
    }
}
