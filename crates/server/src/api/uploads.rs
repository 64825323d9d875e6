//! `/api/v1/files/upload/...`: the chunked upload API (`DESIGN.md` section 2); the work is in
//! `ingest::chunked`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery};
use super::view::{FileView, rfc3339, websocket_url};
use crate::auth::Owner;
use crate::ingest::chunked::{self, CompleteRequest, InitRequest, Layout, PartView};
use crate::ingest::resumable;
use crate::state::AppState;

/// The routes of this group.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/files/upload/init", post(init))
        .route("/api/v1/files/upload/{file_id}/chunk", put(put_chunk))
        .route("/api/v1/files/upload/{file_id}/parts", get(list_parts))
        .route("/api/v1/files/upload/{file_id}/complete", post(complete))
        .route("/api/v1/files/upload/{file_id}", delete(abort))
}

/// The answer to `init`.
#[derive(Serialize)]
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

#[derive(Deserialize)]
struct ChunkQuery {
    upload_id: String,
    chunk_number: i64,
}

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

#[derive(Deserialize)]
struct UploadQuery {
    upload_id: String,
}

/// The answer to `parts`: the upload's layout and what arrived.
#[derive(Serialize)]
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
