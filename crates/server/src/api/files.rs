//! `/api/v1/files`: upload, list, show, (re)process, status, result, delete.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiMultipart, ApiPath, ApiQuery};
use super::schemas::FileResult;
use super::view::{FileView, StatusView, websocket_url};
use crate::auth::Owner;
use crate::catalog::{FileFilter, FileRecord, FileStatus};
use crate::metrics::UploadKind;
use crate::state::AppState;
use fileproc_formats::FileType;

/// Bytes allowed in a multipart body besides the file itself (the other fields, boundaries).
const FORM_OVERHEAD: u64 = 1024 * 1024;

/// The routes of this group.
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let body_limit = state
        .settings
        .server
        .max_upload_size
        .saturating_add(FORM_OVERHEAD);
    let (schemas, paths, upload_route) = routes!(upload);
    let upload_route = upload_route.layer(DefaultBodyLimit::max(
        usize::try_from(body_limit).unwrap_or(usize::MAX),
    ));
    OpenApiRouter::new()
        .routes((schemas, paths, upload_route))
        .routes(routes!(list))
        .routes(routes!(show, remove))
        .routes(routes!(process))
        .routes(routes!(status))
        .routes(routes!(result))
}

/// The form of a multipart upload (`DESIGN.md` section 2).
#[derive(ToSchema)]
#[allow(dead_code)] // Read field by field by `ingest::multipart_upload`; here for the document.
struct UploadForm {
    /// The file, with its name in the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What the file is for; kept with it.
    purpose: Option<String>,
    /// Queue processing at once (default true); false leaves the file `pending`.
    auto_process: Option<bool>,
    /// A JSON object kept with the file.
    #[schema(value_type = Option<String>, example = "{\"project\": \"q3\"}")]
    metadata: Option<String>,
}

fn view(state: &AppState, headers: &HeaderMap, f: FileRecord) -> FileView {
    let url = websocket_url(&state.settings.server, headers, &f.id);
    FileView::new(f, state.blobs.bucket(), url)
}

/// `f` with the progress clients are shown: for an `uploading` file its upload's offset over
/// its length, as the status endpoint and the WebSocket give it (the row keeps the processing
/// progress, 0 until then). One catalog read per uploading file.
///
/// # Errors
/// The catalog failed.
async fn with_upload_progress(state: &AppState, mut f: FileRecord) -> Result<FileRecord, ApiError> {
    if f.status == "uploading" {
        f.progress = crate::events::watch::snapshot(state, &f).await?.progress;
    }
    Ok(f)
}

/// Upload a file as a multipart form; it is stored, typed from its bytes, and (by default)
/// queued for processing.
#[utoipa::path(
    post,
    path = "/api/v1/files/upload",
    tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 400, description = "Not a valid form, no `file` part, a bad name or metadata \
            (`invalid_form`, `missing_file`, `invalid_filename`, `invalid_metadata`...)",
         body = ErrorBody, example = json!({"error": "the form has no file part", "code": "missing_file"})),
        (status = 413, description = "Larger than `server.max_upload_size` (`file_too_large`)",
         body = ErrorBody),
        (status = 415, description = "A type not accepted, or not what the name says \
            (`type_mismatch`...)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only files in this status (`uploading`, `pending`, `queued`, `processing`, `completed`,
    /// `failed`, `quarantined`).
    status: Option<String>,
    /// Only files of this type (`csv`, `pdf`, `docx`, `xlsx`, `jpeg`, `png`, `webp`).
    file_type: Option<String>,
    /// Files per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of the caller's files, newest first.
#[derive(Serialize, ToSchema)]
struct FileList {
    files: Vec<FileView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
    has_more: bool,
}

/// List the caller's files, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/files",
    tag = "files",
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = FileList),
        (status = 400, description = "A bad filter, limit or cursor (`invalid_query`)",
         body = ErrorBody, example = json!({"error": "limit must be between 1 and 100", "code": "invalid_query"})),
    ),
)]
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
    let mut files = Vec::with_capacity(rows.len());
    for f in rows {
        files.push(view(
            &state,
            &headers,
            with_upload_progress(&state, f).await?,
        ));
    }
    Ok(Json(FileList {
        files,
        next_cursor,
        has_more,
    }))
}

/// The file object.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}",
    tag = "files",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file", body = FileView),
        (status = 404, description = "No such file, or not the caller's (`not_found`)",
         body = ErrorBody, example = json!({"error": "file not found", "code": "not_found"})),
    ),
)]
async fn show(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Json<FileView>, ApiError> {
    let file = state.catalog.get_file(&owner, &file_id).await?;
    Ok(Json(view(
        &state,
        &headers,
        with_upload_progress(&state, file).await?,
    )))
}

/// The answer to `process`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"file_id": "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90",
    "job_id": "0192f0c4-2a3b-7c3b-9a1d-6f0e2b7c8d91", "status": "queued"}))]
struct Queued {
    file_id: String,
    job_id: String,
    status: &'static str,
}

/// Queue (again) the processing of a stored file; the optional JSON object body holds the
/// job's options.
#[utoipa::path(
    post,
    path = "/api/v1/files/{file_id}/process",
    tag = "files",
    params(("file_id" = String, Path, description = "The file's id")),
    request_body(content = Option<Object>, content_type = "application/json",
        description = "Options for the job (a JSON object); no body means the defaults"),
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 400, description = "The body is not a JSON object (`invalid_json`)", body = ErrorBody),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 404, description = "No such file (`not_found`)", body = ErrorBody),
        (status = 409, description = "Already queued or processing, or still uploading \
            (`already_processing`, `invalid_state`)", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    ),
)]
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

/// The file's status and progress.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/status",
    tag = "files",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "Its status", body = StatusView),
        (status = 404, description = "No such file (`not_found`)", body = ErrorBody),
    ),
)]
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

/// The result of a completed file (`DESIGN.md` section 4).
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/result",
    tag = "files",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The result", body = FileResult),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 404, description = "No such file (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not completed (`not_completed`)", body = ErrorBody,
         example = json!({"error": "the file is queued, not completed", "code": "not_completed"})),
        (status = 500, description = "A stored object failed to open (`integrity_error`)", body = ErrorBody),
    ),
)]
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

/// Delete the file: its bytes, records, pictures, result and row.
#[utoipa::path(
    delete,
    path = "/api/v1/files/{file_id}",
    tag = "files",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such file (`not_found`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable; retry", body = ErrorBody),
    ),
)]
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
