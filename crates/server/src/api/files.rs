//! `/api/v1/files`: upload, list, show, (re)process, status, result, delete.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::error::ApiError;
use super::extract::{ApiMultipart, ApiPath, ApiQuery};
use super::view::{FileView, StatusView, websocket_url};
use crate::auth::Owner;
use crate::catalog::{FileFilter, FileRecord, FileStatus};
use crate::metrics::UploadKind;
use crate::state::AppState;
use fileproc_formats::FileType;

/// Bytes allowed in a multipart body besides the file itself (the other fields, boundaries).
const FORM_OVERHEAD: u64 = 1024 * 1024;

/// The routes of this group.
pub fn router(state: &AppState) -> Router<AppState> {
    let body_limit = state
        .settings
        .server
        .max_upload_size
        .saturating_add(FORM_OVERHEAD);
    Router::new()
        .route(
            "/api/v1/files/upload",
            post(upload).layer(DefaultBodyLimit::max(
                usize::try_from(body_limit).unwrap_or(usize::MAX),
            )),
        )
        .route("/api/v1/files", get(list))
        .route("/api/v1/files/{file_id}", get(show).delete(remove))
        .route("/api/v1/files/{file_id}/process", post(process))
        .route("/api/v1/files/{file_id}/status", get(status))
        .route("/api/v1/files/{file_id}/result", get(result))
}

fn view(state: &AppState, headers: &HeaderMap, f: FileRecord) -> FileView {
    let url = websocket_url(&state.settings.server, headers, &f.id);
    FileView::new(f, state.blobs.bucket(), url)
}

async fn upload(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    ApiMultipart(multipart): ApiMultipart,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let started = std::time::Instant::now();
    let stored = crate::ingest::multipart_upload(&state, &owner, multipart).await;
    let counts = state.metrics.upload(UploadKind::Multipart);
    counts.duration.record(started.elapsed().as_secs_f64());
    match &stored {
        Ok(_) => counts.completed.increment(1),
        Err(_) => counts.failed.increment(1),
    }
    Ok((StatusCode::CREATED, Json(view(&state, &headers, stored?))))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    file_type: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct FileList {
    files: Vec<FileView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
    has_more: bool,
}

async fn list(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<FileList>, ApiError> {
    if let Some(s) = q
        .status
        .as_deref()
        .filter(|s| FileStatus::parse(s).is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown status {s:?}"),
        ));
    }
    if let Some(t) = q
        .file_type
        .as_deref()
        .filter(|t| FileType::parse(t).is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown file_type {t:?}"),
        ));
    }
    if let Some(c) = q
        .cursor
        .as_deref()
        .filter(|c| uuid::Uuid::parse_str(c).is_err())
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("cursor {c:?} is not a file id from a previous page"),
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 100",
        ));
    }
    let filter = FileFilter {
        status: q.status,
        file_type: q.file_type,
        cursor: q.cursor,
        limit: limit + 1,
    };
    let mut rows = state.catalog.list_files(&owner, &filter).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = has_more
        .then(|| rows.last().map(|f| f.id.clone()))
        .flatten();
    let files = rows
        .into_iter()
        .map(|f| view(&state, &headers, f))
        .collect();
    Ok(Json(FileList {
        files,
        next_cursor,
        has_more,
    }))
}

async fn show(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Json<FileView>, ApiError> {
    let file = state.catalog.get_file(&owner, &file_id).await?;
    Ok(Json(view(&state, &headers, file)))
}

#[derive(Serialize)]
struct Queued {
    file_id: String,
    job_id: String,
    status: &'static str,
}

async fn process(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::bad_request("invalid_json", r.body_text()),
    })?;
    // The options body is optional: no body means the defaults.
    let options = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return Err(ApiError::bad_request(
                    "invalid_json",
                    "the options must be a JSON object",
                ));
            }
            Err(e) => return Err(ApiError::bad_request("invalid_json", e.to_string())),
        }
    };
    let before = state.catalog.get_file(&owner, &file_id).await?;
    if before.status == FileStatus::Quarantined.as_str() {
        return Err(ApiError::quarantined());
    }
    let max_attempts = state.settings.processing.max_retries + 1;
    let job_id = state
        .catalog
        .enqueue(&owner, &file_id, max_attempts, &options)
        .await
        .map_err(|e| match e {
            crate::catalog::CatalogError::Conflict(message) => ApiError::Conflict {
                code: "already_processing",
                message,
            },
            other => other.into(),
        })?;
    // Published right after the commit, before the cache call and the wake-up, so that it goes
    // out before a worker's "processing" (as for uploads).
    state
        .events
        .status_change(&owner, &file_id, Some(&before.status), "queued");
    state.cache.invalidate(&file_id).await;
    state.queue.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            file_id,
            job_id,
            status: "queued",
        }),
    ))
}

async fn status(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Json<StatusView>, ApiError> {
    let file = state.catalog.get_file(&owner, &file_id).await?;
    let now = crate::events::watch::snapshot(&state, &file).await?;
    let mut view = StatusView::new(file);
    // An upload's progress is its own (the bytes received), as its events say.
    view.progress = now.progress;
    view.step = now.step;
    Ok(Json(view))
}

/// `Ok` when the caller's file exists and is completed.
///
/// # Errors
/// 404 unknown file, 403 `quarantined` for a quarantined file (it never will be), 409 while not
/// completed.
pub async fn ensure_completed(
    state: &AppState,
    owner: &str,
    file_id: &str,
) -> Result<(), ApiError> {
    let file = state.catalog.get_file(owner, file_id).await?;
    if file.status == FileStatus::Quarantined.as_str() {
        return Err(ApiError::quarantined());
    }
    if file.status != FileStatus::Completed.as_str() {
        return Err(ApiError::Conflict {
            code: "not_completed",
            message: format!("the file is {}, not completed", file.status),
        });
    }
    Ok(())
}

/// The stored result of a completed file (cached).
///
/// # Errors
/// 404 unknown file, 409 while not completed.
pub(crate) async fn completed_result(
    state: &AppState,
    owner: &str,
    file_id: &str,
) -> Result<Arc<serde_json::Value>, ApiError> {
    ensure_completed(state, owner, file_id).await?;
    let cached = state.cache.get(file_id).await;
    state
        .metrics
        .cache_lookup(crate::metrics::CacheName::Result, cached.is_some());
    if let Some(hit) = cached {
        return Ok(hit);
    }
    let row = state.catalog.get_result(file_id).await?;
    let value =
        Arc::new(serde_json::from_str(&row.result).map_err(|e| ApiError::Internal(e.into()))?);
    state.cache.put(file_id, Arc::clone(&value)).await;
    Ok(value)
}

async fn result(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let value = completed_result(&state, &owner, &file_id).await?;
    let body = serde_json::to_vec(&*value).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    // Objects first: if the store fails, the row stays and a retried DELETE finishes the job.
    // (A job still writing is cleaned up by its worker once the row is gone.)
    state.catalog.get_file(&owner, &file_id).await?;
    state.blobs.delete_file_objects(&file_id).await?;
    state.catalog.delete_file(&owner, &file_id).await?;
    state.cache.invalidate(&file_id).await;
    state.events.publish(
        &owner,
        crate::events::Event::error(&file_id, "file_deleted", "the file was deleted"),
    );
    tracing::info!(file.id = %file_id, "file deleted");
    Ok(StatusCode::NO_CONTENT)
}
