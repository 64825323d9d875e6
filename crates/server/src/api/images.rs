//! `GET /api/v1/files/{id}/thumbnail?size=`, `GET /api/v1/files/{id}/converted` and
//! `GET /api/v1/files/{id}/optimized`: the pictures processing made (a thumbnail of each
//! configured size, the optional WebP conversion, the optional lossless optimised variant),
//! streamed from the blob store with their content type. Which exist, and their formats, is read
//! from the file's result (`thumbnails[]`, `converted`, `optimized`), so a request never guesses
//! a key.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use fileproc_formats::ImageFormat;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::files::completed_result;
use super::openapi::Binary;
use crate::auth::Owner;
use crate::blob::BlobStore;
use crate::state::AppState;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(thumbnail))
        .routes(routes!(converted))
        .routes(routes!(optimized))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ThumbnailQuery {
    /// One of the sizes the result lists; unset, the first of them (the largest).
    size: Option<u32>,
}

/// A picture of the result: its size (for thumbnails) and format.
#[derive(Deserialize)]
struct Picture {
    size: Option<u32>,
    format: String,
}

/// A thumbnail of a processed picture or PDF (its first page).
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/thumbnail",
    tag = "content",
    params(("file_id" = String, Path, description = "The file's id"), ThumbnailQuery),
    responses(
        (status = 200, description = "The picture",
         content((Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp")),
         headers(("cache-control" = String, description = "private, max-age=86400"))),
        (status = 400, description = "Not one of the sizes made (`invalid_size`), or a bad query", body = ErrorBody),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 404, description = "No such file, or no thumbnail (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not completed (`not_completed`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn thumbnail(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ThumbnailQuery>,
) -> Result<Response, ApiError> {
    let result = completed_result(&state, &owner, &file_id).await?;
    let listed: Vec<Picture> = result
        .get("thumbnails")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?
        .unwrap_or_default();
    if listed.is_empty() {
        return Err(ApiError::NotFound("thumbnail"));
    }
    let picked = match q.size {
        None => listed.first(),
        Some(size) => listed.iter().find(|p| p.size == Some(size)),
    };
    let Some(Picture {
        size: Some(size),
        format,
    }) = picked
    else {
        let sizes: Vec<String> = listed
            .iter()
            .filter_map(|p| p.size.map(|s| s.to_string()))
            .collect();
        return Err(ApiError::bad_request(
            "invalid_size",
            format!("size must be one of {}", sizes.join(", ")),
        ));
    };
    let format = image_format(format)?;
    let key = BlobStore::thumbnail_key(&file_id, *size, format);
    stream_picture(&state, &key, format).await
}

/// The WebP conversion of a processed picture, when `processing.image` asked for one.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/converted",
    tag = "content",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The picture", content((Binary = "image/webp"), (Binary = "image/jpeg"), (Binary = "image/png")),
         headers(("cache-control" = String, description = "private, max-age=86400"))),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 404, description = "No such file, or no conversion (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not completed (`not_completed`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn converted(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let found: ResultPicture = ("converted", "converted image", BlobStore::converted_key);
    result_picture(&state, &owner, &file_id, found).await
}

/// The lossless optimised variant of a processed picture, when `processing.image.optimize`
/// made one: a PNG recompressed to identical pixels, or a JPEG or WebP with its metadata left
/// out; the original stays as it was.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/optimized",
    tag = "content",
    params(("file_id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The picture, in the original's format", content((Binary = "image/png"), (Binary = "image/jpeg"), (Binary = "image/webp")),
         headers(("cache-control" = String, description = "private, max-age=86400"))),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 404, description = "No such file, or no optimised variant (`not_found`)", body = ErrorBody),
        (status = 409, description = "Not completed (`not_completed`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn optimized(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let found: ResultPicture = ("optimized", "optimized image", BlobStore::optimized_key);
    result_picture(&state, &owner, &file_id, found).await
}

/// Where a picture of the result is: its field, what a 404 names, its key from the file id and
/// its format.
type ResultPicture = (&'static str, &'static str, fn(&str, ImageFormat) -> String);

/// The picture the result's `field` describes (its format there), streamed from its key; 404
/// when the result has none.
async fn result_picture(
    state: &AppState,
    owner: &str,
    file_id: &str,
    (field, missing, key): ResultPicture,
) -> Result<Response, ApiError> {
    let result = completed_result(state, owner, file_id).await?;
    let Some(described) = result.get(field).cloned() else {
        return Err(ApiError::NotFound(missing));
    };
    let picture: Picture =
        serde_json::from_value(described).map_err(|e| ApiError::Internal(e.into()))?;
    let format = image_format(&picture.format)?;
    stream_picture(state, &key(file_id, format), format).await
}

fn image_format(name: &str) -> Result<ImageFormat, ApiError> {
    ImageFormat::parse(name).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("stored result names image format {name:?}"))
    })
}

/// The object at `key` as the body, with its content type; a processed file's pictures never
/// change, so clients may cache them for a day.
async fn stream_picture(
    state: &AppState,
    key: &str,
    format: ImageFormat,
) -> Result<Response, ApiError> {
    let size = state.blobs.size(key).await?;
    let stream = state.blobs.get_stream(key, None).await?;
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(response)
}
