//! `/api/v1/files/upload/...`: the chunked upload API (`DESIGN.md` section 2); the work is in
//! `ingest::chunked`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::openapi::Binary;
use super::view::{FileView, rfc3339, websocket_url};
use crate::auth::Owner;
use crate::ingest::chunked::{self, CompleteRequest, InitRequest, Layout, PartView};
use crate::ingest::resumable;
use crate::state::AppState;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(init))
        .routes(routes!(put_chunk))
        .routes(routes!(list_parts))
        .routes(routes!(complete))
        .routes(routes!(abort))
}

/// The answer to `init`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"file_id": "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90",
    "upload_id": "0192f0c4-1d2f-7c3b-9a1d-6f0e2b7c8d92", "chunk_size": 5242880, "total_chunks": 3,
    "expires_at": "2026-01-02T00:00:00.000Z",
    "websocket_url": "ws://localhost:8080/ws?file_id=0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90"}))]
struct InitResponse {
    file_id: String,
    upload_id: String,
    /// Bytes per part but the last.
    chunk_size: u64,
    total_chunks: u64,
    /// RFC 3339; the upload is removed if no part arrives before then.
    expires_at: String,
    websocket_url: String,
}

/// Parse a small JSON body with the API's error shape.
fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::bad_request("invalid_json", r.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

/// Start a chunked upload: the file row is `uploading` until `complete`.
#[utoipa::path(
    post,
    path = "/api/v1/files/upload/init",
    tag = "chunked",
    request_body(content = InitRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Started", body = InitResponse),
        (status = 400, description = "Not the JSON asked for, a bad name, size or chunk size \
            (`invalid_json`, `invalid_filename`, `invalid_chunk_size`, `invalid_metadata`...)",
         body = ErrorBody, example = json!({"error": "missing field `size`", "code": "invalid_json"})),
        (status = 413, description = "`size` is above `server.max_upload_size` (`file_too_large`)",
         body = ErrorBody),
        (status = 415, description = "The name's type is not accepted", body = ErrorBody),
    ),
)]
async fn init(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<InitResponse>), ApiError> {
    let req: InitRequest = json_body(body)?;
    let (upload, layout) = chunked::init(&state, &owner, req).await?;
    let websocket_url = websocket_url(&state.settings.server, &headers, &upload.file_id);
    Ok((
        StatusCode::CREATED,
        Json(InitResponse {
            file_id: upload.file_id,
            upload_id: upload.id,
            chunk_size: layout.chunk_size,
            total_chunks: layout.total_chunks,
            expires_at: rfc3339(upload.expires_at),
            websocket_url,
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChunkQuery {
    /// The `upload_id` from `init`.
    upload_id: String,
    /// 1-based; re-sending a part replaces it.
    chunk_number: i64,
}

/// Store one part (raw bytes); every part but the last is `chunk_size` bytes.
#[utoipa::path(
    put,
    path = "/api/v1/files/upload/{file_id}/chunk",
    tag = "chunked",
    params(("file_id" = String, Path, description = "The file's id from `init`"), ChunkQuery),
    request_body(content = Binary, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored", body = PartView,
         headers(("etag" = String, description = "The part's ETag, as in the body"))),
        (status = 400, description = "A bad query, part number or part size \
            (`invalid_query`, `invalid_chunk_number`, `size_mismatch`, `incomplete_body`)",
         body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "The upload is locked or finished (`upload_locked`...)",
         body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn put_chunk(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let started = std::time::Instant::now();
    let upload = chunked::find(&state, &owner, &file_id, &q.upload_id).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let part = chunked::put_part(
        &state,
        &upload,
        q.chunk_number,
        declared,
        body.into_data_stream(),
    )
    .await;
    state
        .metrics
        .upload(crate::metrics::UploadKind::Chunked)
        .duration
        .record(started.elapsed().as_secs_f64());
    let part = part?;
    Ok(([(header::ETAG, part.etag.clone())], Json(part)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The `upload_id` from `init`.
    upload_id: String,
}

/// The answer to `parts`: the upload's layout and what arrived.
#[derive(Serialize, ToSchema)]
struct PartsResponse {
    file_id: String,
    upload_id: String,
    /// Declared size, bytes.
    size: u64,
    chunk_size: u64,
    total_chunks: u64,
    /// Bytes stored so far.
    received: i64,
    expires_at: String,
    parts: Vec<PartView>,
}

/// The upload's layout and the parts received so far, to resume.
#[utoipa::path(
    get,
    path = "/api/v1/files/upload/{file_id}/parts",
    tag = "chunked",
    params(("file_id" = String, Path, description = "The file's id from `init`"), UploadQuery),
    responses(
        (status = 200, description = "The parts", body = PartsResponse),
        (status = 400, description = "No `upload_id` (`invalid_query`)", body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "The upload is complete: the file is stored \
            (`upload_finished`)", body = ErrorBody),
    ),
)]
async fn list_parts(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
) -> Result<Json<PartsResponse>, ApiError> {
    let upload = chunked::find(&state, &owner, &file_id, &q.upload_id).await?;
    let parts = state.catalog.list_upload_parts(&upload.id).await?;
    let layout = Layout::of(&upload);
    Ok(Json(PartsResponse {
        file_id: upload.file_id,
        upload_id: upload.id,
        size: layout.size,
        chunk_size: layout.chunk_size,
        total_chunks: layout.total_chunks,
        received: upload.offset,
        expires_at: rfc3339(upload.expires_at),
        parts: parts.iter().map(PartView::from).collect(),
    }))
}

/// Assemble the parts into the file (ETags and sizes checked) and queue it.
#[utoipa::path(
    post,
    path = "/api/v1/files/upload/{file_id}/complete",
    tag = "chunked",
    params(("file_id" = String, Path, description = "The file's id from `init`")),
    request_body(content = CompleteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The file", body = FileView),
        (status = 400, description = "Bad JSON, or parts missing, out of order or with other \
            ETags (`invalid_json`, `invalid_part`, `invalid_part_order`, `size_mismatch`)",
         body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "The upload is locked (`upload_locked`)", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The bytes are not an accepted type, or not the name's \
            (`type_mismatch`...)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn complete(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<FileView>, ApiError> {
    let req: CompleteRequest = json_body(body)?;
    let upload = chunked::find(&state, &owner, &file_id, &req.upload_id).await?;
    let file = chunked::complete(&state, &upload, &req).await?;
    let url = websocket_url(&state.settings.server, &headers, &file.id);
    Ok(Json(FileView::new(file, state.blobs.bucket(), url)))
}

/// Abort the upload; its parts are removed.
#[utoipa::path(
    delete,
    path = "/api/v1/files/upload/{file_id}",
    tag = "chunked",
    params(("file_id" = String, Path, description = "The file's id from `init`"), UploadQuery),
    responses(
        (status = 204, description = "Aborted"),
        (status = 400, description = "No `upload_id` (`invalid_query`)", body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "The upload is locked (`upload_locked`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn abort(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
) -> Result<StatusCode, ApiError> {
    let upload = chunked::find(&state, &owner, &file_id, &q.upload_id).await?;
    resumable::remove(
        &state,
        &upload,
        "upload_aborted",
        "the upload was aborted by its client",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
