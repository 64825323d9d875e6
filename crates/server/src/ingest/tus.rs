//! tus 1.0.0 uploads (<https://tus.io/protocols/resumable-upload>), the protocol's semantics
//! without its HTTP headers (those are in `api::tus`): creation (also with a deferred length),
//! appending bytes at an offset under the upload's lock, checksums, completion.
//!
//! Each PATCH body becomes one segment (a piece numbered in order, see [`super::resumable`]);
//! the offset is the sum of the committed segments. A body cut off mid-way keeps what arrived, so
//! HEAD then reports the offset the client resumes from; a body whose checksum fails is dropped
//! whole. When the offset reaches the length the segments are assembled and the file is queued.

use base64::Engine;
use bytes::Bytes;
use futures::Stream;
use std::collections::BTreeMap;

use super::resumable::{self, ChecksumAlgorithm, PieceError, UploadLock};
use crate::api::error::ApiError;
use crate::blob::BlobStore;
use crate::catalog::{
    CatalogError, FileRecord, NewFile, NewUpload, UploadKind, UploadPart, UploadRecord, now_ms,
};
use crate::state::AppState;

/// The `Upload-Metadata` keys fileproc reads; every other key is kept in the file's `metadata`.
const KNOWN_KEYS: [&str; 6] = [
    "filename",
    "name",
    "filetype",
    "type",
    "auto_process",
    "purpose",
];

/// Decode `Upload-Metadata`: comma-separated pairs of a key and a Base64 value, the value
/// optional (tus 1.0.0, creation extension). Keys are unique; values must be UTF-8 here.
///
/// # Errors
/// 400 `invalid_metadata` for a malformed header.
pub fn parse_metadata(header: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_metadata", m);
    let mut pairs = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = pair.split(' ').filter(|s| !s.is_empty());
        let key = it.next().unwrap_or_default();
        let value = match it.next() {
            Some(v) => base64::engine::general_purpose::STANDARD
                .decode(v)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad(format!("the value of {key:?} is not Base64 of UTF-8 text")))?,
            None => String::new(),
        };
        if it.next().is_some() {
            return Err(bad(format!("{pair:?} is not a key and one Base64 value")));
        }
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(bad(format!("the key {key:?} appears twice")));
        }
    }
    Ok(pairs)
}

/// Create a tus upload for `owner`: `length` is `Upload-Length` (`None` for
/// `Upload-Defer-Length: 1`), `raw_metadata` the `Upload-Metadata` header.
///
/// # Errors
/// 400 `missing_filename` or `invalid_metadata`, 413 past `server.max_upload_size`, 415 for a
/// refused name.
pub async fn create(
    state: &AppState,
    owner: &str,
    length: Option<u64>,
    raw_metadata: Option<&str>,
) -> Result<UploadRecord, ApiError> {
    let limit = state.settings.server.max_upload_size;
    if length.is_some_and(|l| l > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let meta = parse_metadata(raw_metadata.unwrap_or_default())?;
    let name = meta
        .get("filename")
        .or_else(|| meta.get("name"))
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_filename",
                "Upload-Metadata needs a filename (its extension names the type)",
            )
        })?;
    let filename = super::clean_filename(
        Some(name),
        state.settings.security.max_filename_length as usize,
    )?;
    let file_type = super::claim(state, &filename)?;
    let auto_process = match meta.get("auto_process") {
        Some(v) => super::parse_bool(v)?,
        None => true,
    };
    let extra: serde_json::Map<String, serde_json::Value> = meta
        .iter()
        .filter(|(k, _)| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let file_id = uuid::Uuid::now_v7().to_string();
    let size = length.and_then(|l| i64::try_from(l).ok());
    let upload = NewUpload {
        id: uuid::Uuid::now_v7().to_string(),
        kind: UploadKind::Tus,
        file: NewFile {
            id: file_id.clone(),
            owner: owner.to_owned(),
            filename,
            file_type: file_type.as_str().to_owned(),
            content_type: file_type.content_type().to_owned(),
            size: size.unwrap_or(0),
            sha256: String::new(),
            purpose: meta.get("purpose").cloned(),
            metadata: serde_json::Value::Object(extra),
            storage_key: BlobStore::original_key(&file_id),
            compressed_size: None,
        },
        length: size,
        chunk_size: None,
        auto_process,
        upload_metadata: raw_metadata.map(str::to_owned),
        expires_at: resumable::expiry_from_now(state),
    };
    state.catalog.create_upload(&upload).await?;
    state
        .events
        .status_change(owner, &file_id, None, "uploading");
    tracing::info!(file.id = %file_id, upload.id = %upload.id, upload.length = ?length, "tus upload created");
    Ok(state.catalog.get_upload(owner, &upload.id).await?)
}

/// The caller's live tus upload of file `file_id`; `Ok(None)` when the upload finished (the file
/// exists and has left `uploading`).
///
/// # Errors
/// 404 for an unknown, expired or another owner's upload.
pub async fn find(
    state: &AppState,
    owner: &str,
    file_id: &str,
) -> Result<Result<UploadRecord, FileRecord>, ApiError> {
    match state.catalog.get_upload_by_file(owner, file_id).await {
        Ok(u) if u.kind == UploadKind::Tus.as_str() && !resumable::is_expired(&u) => Ok(Ok(u)),
        Ok(_) => Err(ApiError::NotFound("upload")),
        Err(CatalogError::NotFound) => match state.catalog.get_file(owner, file_id).await {
            Ok(f) if f.status != "uploading" => Ok(Err(f)),
            Ok(_) | Err(CatalogError::NotFound) => Err(ApiError::NotFound("upload")),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// A PATCH: bytes for `offset`, maybe the length of a deferred upload, maybe a checksum.
pub struct Patch {
    /// `Upload-Offset`.
    pub offset: u64,
    /// `Upload-Length`, sent once by a client that deferred it.
    pub length: Option<u64>,
    /// `Upload-Checksum`: the algorithm and the digest the body must have.
    pub checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
}

/// Append a PATCH body to `upload` (tus core): under the upload's lock, at exactly its offset,
/// at most up to its length (or `server.max_upload_size` while deferred). Completes the upload
/// when the offset reaches the length. Returns the upload after the change.
///
/// # Errors
/// 409 `offset_mismatch`, 409 `upload_locked` (a concurrent PATCH holds the lock), 400
/// `invalid_length`, 413 past the length or the limit, 460 `checksum_mismatch` (nothing kept),
/// 415 when the completed bytes are not the type the name claims, 503 store failures.
pub async fn append<S, E>(
    state: &AppState,
    upload_id: &str,
    patch: Patch,
    body: S,
) -> Result<UploadRecord, ApiError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let (mut lock, upload) = UploadLock::take(state, upload_id).await?;
    let prepared = prepare(state, &upload, &patch).await;
    let (max, number) = match prepared {
        Ok(p) => p,
        Err(e) => {
            lock.release(state).await;
            return Err(e);
        }
    };
    let key =
        BlobStore::upload_part_key(&upload.file_id, number, &uuid::Uuid::new_v4().to_string());
    let algorithm = patch.checksum.as_ref().map(|(a, _)| *a);
    let received =
        resumable::receive_piece(state, key, body, max, false, algorithm, Some(&mut lock)).await;
    let piece = match received {
        Ok(piece) => {
            let received = &state.metrics.upload(crate::metrics::UploadKind::Tus);
            received.bytes.increment(piece.size);
            piece
        }
        Err(e) => {
            lock.release(state).await;
            return Err(match e {
                PieceError::TooLarge => too_large(state, &upload, &patch),
                PieceError::Api(e) => e,
            });
        }
    };
    if let Some((_, expected)) = &patch.checksum
        && piece.checksum.as_deref() != Some(expected.as_slice())
    {
        let cut = piece.cut;
        piece.discard().await;
        lock.release(state).await;
        return Err(ApiError::ChecksumMismatch {
            message: if cut {
                "the body broke off, so its checksum cannot match; nothing was kept".into()
            } else {
                "the body does not match Upload-Checksum; nothing was kept".into()
            },
        });
    }
    let segment = if piece.size == 0 {
        piece.discard().await;
        None
    } else {
        let part = UploadPart {
            upload_id: upload.id.clone(),
            part_number: number,
            size: i64::try_from(piece.size).unwrap_or(i64::MAX),
            etag: piece.etag(),
            storage_key: piece.key.clone(),
            created_at: now_ms(),
        };
        if let Err(e) = piece.commit().await {
            lock.release(state).await;
            return Err(e);
        }
        Some(part)
    };
    let length = patch.length.and_then(|l| i64::try_from(l).ok());
    let appended = state
        .catalog
        .append_upload_segment(
            &upload.id,
            &lock.token,
            segment.as_ref(),
            length.filter(|_| upload.length.is_none()),
            resumable::expiry_from_now(state),
        )
        .await;
    let after = match appended {
        Ok(after) => after,
        Err(e) => {
            if let Some(part) = &segment
                && let Err(del) = state.blobs.delete(&part.storage_key).await
            {
                tracing::warn!(key = %part.storage_key, error = %del, "removing an orphaned segment");
            }
            lock.release(state).await;
            return Err(match e {
                CatalogError::Conflict(_) => resumable::locked(),
                CatalogError::NotFound => ApiError::NotFound("upload"),
                other => other.into(),
            });
        }
    };
    if segment.is_some() {
        resumable::publish_received(state, &after);
    }
    complete_if_done(state, &after).await?;
    Ok(after)
}

/// Check a PATCH against the upload under its lock; the most bytes its body may carry and the
/// number of its segment.
async fn prepare(
    state: &AppState,
    upload: &UploadRecord,
    patch: &Patch,
) -> Result<(u64, i64), ApiError> {
    let offset = u64::try_from(upload.offset).unwrap_or(0);
    if patch.offset != offset {
        return Err(ApiError::Conflict {
            code: "offset_mismatch",
            message: format!(
                "Upload-Offset is {} but the upload holds {offset} bytes; resume from {offset}",
                patch.offset
            ),
        });
    }
    let limit = state.settings.server.max_upload_size;
    let stored = upload.length.and_then(|l| u64::try_from(l).ok());
    let length = match (stored, patch.length) {
        (Some(s), Some(p)) if s != p => {
            return Err(ApiError::bad_request(
                "invalid_length",
                format!("Upload-Length is already {s}; it cannot change to {p}"),
            ));
        }
        (None, Some(p)) if p > limit => return Err(ApiError::TooLarge { limit }),
        (None, Some(p)) if p < offset => {
            return Err(ApiError::bad_request(
                "invalid_length",
                format!("Upload-Length {p} is below the {offset} bytes already received"),
            ));
        }
        (s, p) => s.or(p),
    };
    let max = length.unwrap_or(limit).saturating_sub(offset);
    let parts = state.catalog.list_upload_parts(&upload.id).await?;
    let number = parts.last().map_or(1, |p| p.part_number + 1);
    Ok((max, number))
}

fn too_large(state: &AppState, upload: &UploadRecord, patch: &Patch) -> ApiError {
    match upload
        .length
        .or_else(|| patch.length.and_then(|l| i64::try_from(l).ok()))
    {
        Some(length) => ApiError::LengthExceeded { length },
        None => ApiError::TooLarge {
            limit: state.settings.server.max_upload_size,
        },
    }
}

/// If every byte of `upload` is here, complete it (assemble, queue). A completion already
/// under way elsewhere is left to finish.
///
/// # Errors
/// As [`resumable::finish`].
pub async fn complete_if_done(
    state: &AppState,
    upload: &UploadRecord,
) -> Result<Option<FileRecord>, ApiError> {
    if upload.length != Some(upload.offset) {
        return Ok(None);
    }
    let (lock, upload) = match UploadLock::take(state, &upload.id).await {
        Ok(taken) => taken,
        Err(ApiError::Conflict { .. } | ApiError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if upload.length != Some(upload.offset) {
        lock.release(state).await;
        return Ok(None);
    }
    let parts = match state.catalog.list_upload_parts(&upload.id).await {
        Ok(parts) => parts,
        Err(e) => {
            lock.release(state).await;
            return Err(e.into());
        }
    };
    resumable::finish(state, &upload, &parts, lock)
        .await
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_from_base64() {
        // The example of the tus 1.0.0 creation extension, plus a key without a value.
        let m = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")
            .unwrap();
        assert_eq!(m["filename"], "world_domination_plan.pdf");
        assert_eq!(m["is_confidential"], "");
        assert_eq!(m.len(), 2);
        assert!(parse_metadata("").unwrap().is_empty());
        assert!(parse_metadata("filename !!!").is_err());
        assert!(parse_metadata("a YQ==,a Yg==").is_err());
        assert!(parse_metadata("a YQ== Yg==").is_err());
    }
}
