//! What chunked and tus uploads share (`DESIGN.md` section 2): an upload's state lives in the
//! catalog (an `uploads` row beside the file row, which stays `uploading`, and a row per stored
//! piece) and its bytes in the blob store (one object per piece under the file's `upload/`
//! prefix), never only in memory, so a client resumes after a restart of either side at the
//! offset or with the parts the catalog lists.
//!
//! A request body becomes a piece as it streams ([`receive_piece`]): counted against what may
//! still arrive, hashed (MD5 for the ETag, plus the tus checksum asked for), written through the
//! blob store's multipart writer, so memory holds a part or two whatever the size. On completion
//! ([`assemble`]) the pieces are streamed in order into the file's `original` object (an S3
//! multipart upload on S3), hashed with SHA-256 and type-checked on the way, and the file enters
//! the same pipeline as a multipart upload ([`finish`]).
//!
//! Requests that must be alone on an upload (a tus PATCH, a completion) hold its lock in the
//! catalog ([`UploadLock`]): a token with a lease, renewed while the bytes flow, so the lock of
//! an instance that died lapses by itself.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::Digest;
use std::time::{Duration, Instant};

use crate::api::error::ApiError;
use crate::blob::{BlobStore, OriginalUpload, Upload};
use crate::catalog::{CatalogError, FileRecord, FinishedUpload, UploadPart, UploadRecord, now_ms};
use crate::events::{Event, ProgressReport, Step};
use crate::state::AppState;

/// How long an upload's lock lasts without renewal. It is renewed every third of this while
/// bytes flow, so only a request that stalls this long (or an instance that died mid-request)
/// loses it; after a crash the client's retry succeeds once it has lapsed.
pub const LOCK_LEASE: Duration = Duration::from_secs(15);

/// A checksum algorithm a tus client may name in `Upload-Checksum` (tus 1.0 checksum
/// extension; the names are those of the IANA hash function textual names registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Md5,
    Sha256,
}

impl ChecksumAlgorithm {
    /// The algorithms supported, as advertised in `Tus-Checksum-Algorithm`.
    pub const ADVERTISED: &'static str = "sha1,md5,sha256";

    /// Parse a name from `Upload-Checksum`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "md5" => Some(Self::Md5),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// The hash of a piece computed for a tus checksum.
enum ChecksumHasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// A request body stored as a piece but not yet visible: [`ReceivedPiece::commit`] makes it so,
/// [`ReceivedPiece::discard`] removes it.
pub struct ReceivedPiece {
    upload: Upload,
    /// Its key in the blob store.
    pub key: String,
    /// Bytes received.
    pub size: u64,
    /// Lowercase hex MD5 of the bytes, when asked for.
    pub md5_hex: Option<String>,
    /// The raw digest named by the checksum asked for, if one was.
    pub checksum: Option<Vec<u8>>,
    /// The body ended early (the client went away or the connection broke); what arrived is
    /// still here.
    pub cut: bool,
}

impl ReceivedPiece {
    /// The S3-style ETag of the piece: its quoted hex MD5 (empty when MD5 was not asked for).
    pub fn etag(&self) -> String {
        self.md5_hex
            .as_ref()
            .map(|md5| format!("\"{md5}\""))
            .unwrap_or_default()
    }

    /// Make the bytes visible at [`ReceivedPiece::key`].
    ///
    /// # Errors
    /// The store failed to complete the object.
    pub async fn commit(self) -> Result<(), ApiError> {
        Ok(self.upload.finish().await?)
    }

    /// Drop the bytes; a failure is logged, since nothing refers to them.
    pub async fn discard(self) {
        if let Err(e) = self.upload.abort().await {
            tracing::warn!(key = %self.key, error = %e, "discarding an upload piece");
        }
    }
}

/// Why a body did not become a piece.
pub enum PieceError {
    /// More bytes arrived than `max` allowed; nothing is kept.
    TooLarge,
    /// The store or the lock failed.
    Api(ApiError),
}

impl From<ApiError> for PieceError {
    fn from(e: ApiError) -> Self {
        PieceError::Api(e)
    }
}

impl From<crate::blob::StoreError> for PieceError {
    fn from(e: crate::blob::StoreError) -> Self {
        PieceError::Api(e.into())
    }
}

/// Stream `body` into a new object at `key`: at most `max` bytes, MD5 when `etag` (a chunked
/// part's ETag), `checksum` when asked, renewing `lock` as the bytes flow. A body that breaks off is kept up to where it broke
/// ([`ReceivedPiece::cut`]), for tus resumes from there.
///
/// # Errors
/// [`PieceError::TooLarge`] past `max` (the piece is removed), [`PieceError::Api`] when the store
/// fails or the lock is lost.
pub async fn receive_piece<S, E>(
    state: &AppState,
    key: String,
    body: S,
    max: u64,
    etag: bool,
    checksum: Option<ChecksumAlgorithm>,
    mut lock: Option<&mut UploadLock>,
) -> Result<ReceivedPiece, PieceError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut upload = state.blobs.start_upload(&key).await?;
    let mut md5 = (etag || checksum == Some(ChecksumAlgorithm::Md5)).then(md5::Md5::new);
    let mut hasher = match checksum {
        Some(ChecksumAlgorithm::Sha1) => Some(ChecksumHasher::Sha1(sha1::Sha1::new())),
        Some(ChecksumAlgorithm::Sha256) => Some(ChecksumHasher::Sha256(sha2::Sha256::new())),
        Some(ChecksumAlgorithm::Md5) | None => None,
    };
    let mut size: u64 = 0;
    let mut cut = false;
    let mut body = std::pin::pin!(body);
    let outcome: Result<(), PieceError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::info!(key = %key, received = size, error = %e, "upload body cut off");
                    cut = true;
                    break;
                }
            };
            size += chunk.len() as u64;
            if size > max {
                return Err(PieceError::TooLarge);
            }
            if let Some(md5) = md5.as_mut() {
                md5.update(&chunk);
            }
            match hasher.as_mut() {
                Some(ChecksumHasher::Sha1(h)) => h.update(&chunk),
                Some(ChecksumHasher::Sha256(h)) => h.update(&chunk),
                None => {}
            }
            upload.write(chunk).await?;
            if let Some(lock) = lock.as_deref_mut() {
                lock.keep(state).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        if let Err(abort) = upload.abort().await {
            tracing::warn!(key = %key, error = %abort, "aborting a refused upload piece");
        }
        return Err(e);
    }
    let md5 = md5.map(|h| h.finalize().to_vec());
    let checksum = match (checksum, hasher) {
        (Some(ChecksumAlgorithm::Md5), _) => md5.clone(),
        (_, Some(ChecksumHasher::Sha1(h))) => Some(h.finalize().to_vec()),
        (_, Some(ChecksumHasher::Sha256(h))) => Some(h.finalize().to_vec()),
        _ => None,
    };
    Ok(ReceivedPiece {
        upload,
        key,
        size,
        md5_hex: md5.map(hex::encode),
        checksum,
        cut,
    })
}

/// An upload's lock, held by one request: taken with [`UploadLock::take`], renewed by
/// [`UploadLock::keep`] as work goes on, released by [`UploadLock::release`] (or by the
/// catalog call that ends the request's change).
pub struct UploadLock {
    pub upload_id: String,
    pub token: String,
    renewed: Instant,
}

impl UploadLock {
    /// Take the lock of `upload_id`; returns it with the upload as it is under the lock.
    ///
    /// # Errors
    /// 409 `upload_locked` while another request holds it, 404 when the upload is gone.
    pub async fn take(
        state: &AppState,
        upload_id: &str,
    ) -> Result<(UploadLock, UploadRecord), ApiError> {
        let token = uuid::Uuid::new_v4().to_string();
        let upload = state
            .catalog
            .lock_upload(upload_id, &token, LOCK_LEASE)
            .await
            .map_err(|e| match e {
                CatalogError::Conflict(_) => locked(),
                CatalogError::NotFound => ApiError::NotFound("upload"),
                other => other.into(),
            })?;
        let lock = UploadLock {
            upload_id: upload_id.to_owned(),
            token,
            renewed: Instant::now(),
        };
        Ok((lock, upload))
    }

    /// Renew the lease once a third of it has gone by.
    ///
    /// # Errors
    /// 409 `upload_locked` when the lease lapsed and another request took the lock.
    pub async fn keep(&mut self, state: &AppState) -> Result<(), ApiError> {
        if self.renewed.elapsed() < LOCK_LEASE / 3 {
            return Ok(());
        }
        let held = state
            .catalog
            .renew_upload_lock(&self.upload_id, &self.token, LOCK_LEASE)
            .await?;
        if !held {
            return Err(locked());
        }
        self.renewed = Instant::now();
        Ok(())
    }

    /// Give the lock back; a failure is logged (the lease lapses by itself).
    pub async fn release(self, state: &AppState) {
        if let Err(e) = state
            .catalog
            .unlock_upload(&self.upload_id, &self.token)
            .await
        {
            tracing::warn!(upload.id = %self.upload_id, error = %e, "releasing an upload lock");
        }
    }
}

/// 409 for an upload another request is working on.
pub fn locked() -> ApiError {
    ApiError::Conflict {
        code: "upload_locked",
        message: "another request is writing or completing this upload; retry when it is done"
            .into(),
    }
}

/// When an upload touched now expires, in Unix ms.
pub fn expiry_from_now(state: &AppState) -> i64 {
    let expiry =
        i64::try_from(state.settings.storage.upload_expiry.as_millis()).unwrap_or(i64::MAX);
    now_ms().saturating_add(expiry)
}

/// Whether an upload has outlived its expiry (the cleanup task may not have removed it yet).
pub fn is_expired(upload: &UploadRecord) -> bool {
    upload.expires_at <= now_ms()
}

/// Tell the upload's watchers how many bytes have arrived (`progress`, step `upload`): the
/// committed offset over the declared length, as the status endpoint shows it.
pub fn publish_received(state: &AppState, upload: &UploadRecord) {
    let done = u64::try_from(upload.offset).unwrap_or(0);
    let total = upload.length.and_then(|l| u64::try_from(l).ok());
    let report = ProgressReport {
        step: Step::Upload,
        progress: total.map(|t| if t == 0 { 1.0 } else { done as f64 / t as f64 }),
        message: None,
        bytes_done: done,
        bytes_total: total,
    };
    state
        .events
        .publish(&upload.owner, Event::progress(&upload.file_id, &report));
}

/// Stream the pieces, in order, into the file's `original` object: the first bytes decide the
/// type (as for a multipart upload), SHA-256 is computed on the way, `lock` is renewed. With
/// virus scanning on, a refusal of the bytes' type is returned beside the facts instead, for
/// after the scan (see [`super`]).
///
/// # Errors
/// 415 when the bytes are not a type accepted under the file's name, 503 when the store fails,
/// 409 when the lock is lost.
pub async fn assemble(
    state: &AppState,
    file: &FileRecord,
    pieces: &[UploadPart],
    lock: &mut UploadLock,
) -> Result<(FinishedUpload, Option<ApiError>), ApiError> {
    let key = BlobStore::original_key(&file.id);
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(super::sniff::SNIFF_LEN);
    let mut started: Option<(OriginalUpload, super::Sniffed)> = None;
    let outcome: Result<(), ApiError> = async {
        for piece in pieces {
            let mut stream = state.blobs.get_stream(&piece.storage_key, None).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                hasher.update(&chunk);
                match started.as_mut() {
                    Some((up, _)) => up.write(chunk).await?,
                    None => {
                        head.extend_from_slice(&chunk);
                        if head.len() >= super::sniff::SNIFF_LEN {
                            started = Some(super::start(state, &key, &head, &file.filename).await?);
                        }
                    }
                }
                lock.keep(state).await?;
            }
        }
        Ok(())
    }
    .await;
    let (upload, sniffed) = match (outcome, started) {
        (Ok(()), Some(started)) => started,
        (Ok(()), None) => super::start(state, &key, &head, &file.filename).await?,
        (Err(e), Some((up, _))) => {
            if let Err(abort) = up.abort().await {
                tracing::warn!(file.id = %file.id, error = %abort, "aborting an assembly");
            }
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    let stored = upload.finish().await?;
    let file_type = sniffed.file_type;
    let facts = FinishedUpload {
        file_type: file_type.as_str().to_owned(),
        content_type: file_type.content_type().to_owned(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256: hex::encode(hasher.finalize()),
        compressed_size: stored.compressed_size.and_then(|c| i64::try_from(c).ok()),
    };
    Ok((facts, sniffed.refused))
}

/// Complete an upload whose pieces are all here, under `lock`: assemble them, write the file's
/// facts, queue processing when the upload asked for it, and remove the pieces. A type the
/// bytes refuse removes the whole upload (as a refused multipart upload leaves nothing).
///
/// # Errors
/// As [`assemble`]; the lock is released on every error but the type refusal, which leaves no
/// upload to lock.
pub async fn finish(
    state: &AppState,
    upload: &UploadRecord,
    pieces: &[UploadPart],
    lock: UploadLock,
) -> Result<FileRecord, ApiError> {
    let finished = finish_locked(state, upload, pieces, lock).await;
    if finished.is_ok() {
        let kind = crate::metrics::UploadKind::of_stored(&upload.kind);
        state.metrics.upload(kind).completed.increment(1);
    }
    finished
}

/// [`finish`], uncounted.
async fn finish_locked(
    state: &AppState,
    upload: &UploadRecord,
    pieces: &[UploadPart],
    mut lock: UploadLock,
) -> Result<FileRecord, ApiError> {
    let file = state
        .catalog
        .get_file(&upload.owner, &upload.file_id)
        .await?;
    let facts = match assemble(state, &file, pieces, &mut lock).await {
        Ok((facts, None)) => {
            let key = BlobStore::original_key(&upload.file_id);
            let size = u64::try_from(facts.size).unwrap_or(0);
            let claimed = fileproc_formats::FileType::parse(&facts.file_type);
            let refusal = match claimed {
                Some(t) => super::container_refusal(state, &key, t, size).await,
                None => None,
            };
            if let Some(refusal) = refusal {
                return quarantine_or_refuse(state, upload, pieces, &facts, lock, refusal).await;
            }
            facts
        }
        Ok((facts, Some(refusal))) => {
            return quarantine_or_refuse(state, upload, pieces, &facts, lock, refusal).await;
        }
        Err(e @ ApiError::UnsupportedType { .. }) => {
            remove_locked(state, upload, e.code(), &e.to_string()).await?;
            return Err(e);
        }
        Err(e) => {
            lock.release(state).await;
            return Err(e);
        }
    };
    let enqueue = upload
        .auto_process
        .then_some(state.settings.processing.max_retries + 1);
    let finished = state
        .catalog
        .finish_upload(&upload.id, &lock.token, &facts, enqueue)
        .await;
    if let Err(e) = finished {
        lock.release(state).await;
        return Err(match e {
            CatalogError::Conflict(_) => locked(),
            CatalogError::NotFound => ApiError::NotFound("upload"),
            other => other.into(),
        });
    }
    // Published before the workers are woken, so that it goes out before their "processing".
    let status = if enqueue.is_some() {
        "queued"
    } else {
        "pending"
    };
    state
        .events
        .status_change(&upload.owner, &upload.file_id, Some("uploading"), status);
    if enqueue.is_some() {
        state.queue.wake();
    }
    for piece in pieces {
        if let Err(e) = state.blobs.delete(&piece.storage_key).await {
            // Left under the file's prefix: removed with the file.
            tracing::warn!(file.id = %upload.file_id, key = %piece.storage_key, error = %e, "removing a completed upload's piece");
        }
    }
    tracing::info!(file.id = %upload.file_id, upload.kind = %upload.kind, file.size = facts.size, file.type = %facts.file_type, "upload completed");
    Ok(state
        .catalog
        .get_file(&upload.owner, &upload.file_id)
        .await?)
}

/// An upload whose assembled bytes were refused by type, kept because scanning is on: kept as
/// a quarantined file when infected, else removed whole and refused with `refusal` (as without
/// scanning).
async fn quarantine_or_refuse(
    state: &AppState,
    upload: &UploadRecord,
    pieces: &[UploadPart],
    facts: &FinishedUpload,
    lock: UploadLock,
    refusal: ApiError,
) -> Result<FileRecord, ApiError> {
    let key = BlobStore::original_key(&upload.file_id);
    let Some(scan) = crate::scan::infected(state, &key).await else {
        remove_locked(state, upload, refusal.code(), &refusal.to_string()).await?;
        return Err(refusal);
    };
    let quarantine = scan.quarantine();
    if let Err(e) = state
        .catalog
        .quarantine_upload(upload, &lock.token, facts, &quarantine)
        .await
    {
        lock.release(state).await;
        return Err(match e {
            CatalogError::Conflict(_) => locked(),
            CatalogError::NotFound => ApiError::NotFound("upload"),
            other => other.into(),
        });
    }
    crate::queue::publish_quarantined(
        state,
        &upload.owner,
        &upload.file_id,
        Some("uploading"),
        &quarantine,
    );
    for piece in pieces {
        if let Err(e) = state.blobs.delete(&piece.storage_key).await {
            tracing::warn!(file.id = %upload.file_id, key = %piece.storage_key, error = %e, "removing a quarantined upload's piece");
        }
    }
    tracing::warn!(file.id = %upload.file_id, threats = ?scan.threats, refused = refusal.code(), "an upload refused by type is infected; quarantined");
    Ok(state
        .catalog
        .get_file(&upload.owner, &upload.file_id)
        .await?)
}

/// Remove an upload (abort, termination, expiry) under its lock, so that it never pulls the
/// pieces from under a PATCH or a completion in progress: its objects first (if the store
/// fails, the rows stay and a retry or the expiry task finishes the job), then its rows, file
/// row included. Its watchers get an `error` frame with `code` (`upload_aborted`,
/// `upload_expired`...) and `message`.
///
/// # Errors
/// 409 `upload_locked` while another request works on it, 503 when the store fails, 404 when
/// the upload is already gone.
pub async fn remove(
    state: &AppState,
    upload: &UploadRecord,
    code: &str,
    message: &str,
) -> Result<(), ApiError> {
    let (lock, upload) = UploadLock::take(state, &upload.id).await?;
    let removed = remove_locked(state, &upload, code, message).await;
    if removed.is_err() {
        lock.release(state).await;
    }
    removed
}

/// [`remove`] by a request that already holds the upload's lock.
async fn remove_locked(
    state: &AppState,
    upload: &UploadRecord,
    code: &str,
    message: &str,
) -> Result<(), ApiError> {
    state.blobs.delete_file_objects(&upload.file_id).await?;
    state
        .catalog
        .delete_upload(&upload.id)
        .await
        .map_err(|e| match e {
            CatalogError::NotFound => ApiError::NotFound("upload"),
            other => other.into(),
        })?;
    state
        .events
        .publish(&upload.owner, Event::error(&upload.file_id, code, message));
    // Aborted, expired or refused: an upload that ends without a file.
    let kind = crate::metrics::UploadKind::of_stored(&upload.kind);
    state.metrics.upload(kind).failed.increment(1);
    tracing::info!(file.id = %upload.file_id, upload.id = %upload.id, upload.kind = %upload.kind, reason = code, "upload removed");
    Ok(())
}

/// Remove expired uploads every `storage.upload_cleanup_interval` until `shutdown` fires. Every
/// instance runs it; two removing the same upload is harmless.
pub async fn expire_uploads(state: AppState, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(state.settings.storage.upload_cleanup_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match remove_expired(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "expired uploads removed"),
            Err(e) => tracing::warn!(error = %e, "removing expired uploads"),
        }
    }
}

/// One pass of the expiry task; the number of uploads removed.
///
/// # Errors
/// The catalog failed to list them (a failure to remove one is logged and left for next time).
pub async fn remove_expired(state: &AppState) -> Result<usize, CatalogError> {
    let mut removed = 0;
    loop {
        let batch = state.catalog.expired_uploads(now_ms(), 100).await?;
        if batch.is_empty() {
            return Ok(removed);
        }
        let mut progressed = false;
        for upload in &batch {
            let expired = "the upload expired: no part arrived for storage.upload_expiry";
            match remove(state, upload, "upload_expired", expired).await {
                Ok(()) => {
                    removed += 1;
                    progressed = true;
                }
                Err(ApiError::NotFound(_)) => progressed = true,
                // A PATCH took it since the listing; it is alive after all.
                Err(ApiError::Conflict { .. }) => {}
                Err(e) => {
                    tracing::warn!(upload.id = %upload.id, error = %e, "removing an expired upload")
                }
            }
        }
        if !progressed {
            return Ok(removed);
        }
    }
}
