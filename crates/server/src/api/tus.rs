//! `/api/v1/tus/`: the tus 1.0.0 resumable upload protocol
//! (<https://tus.io/protocols/resumable-upload>): core (HEAD, PATCH, OPTIONS) and the creation,
//! creation-with-upload, creation-defer-length, termination, checksum and expiration extensions.
//! An upload's URL is `/api/v1/tus/{file_id}`: the id is the file's, for the rest of the API.
//! The headers are read and written here; the semantics are in `ingest::tus`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::time::{Duration, UNIX_EPOCH};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use super::openapi::Binary;
use crate::auth::Owner;
use crate::catalog::UploadRecord;
use crate::ingest::resumable;
use crate::ingest::resumable::ChecksumAlgorithm;
use crate::ingest::tus::{self, Patch};
use crate::state::AppState;

/// The protocol version spoken, the only one (`Tus-Resumable`, `Tus-Version`).
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions supported (`Tus-Extension`).
pub const TUS_EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";
/// Longest `Upload-Metadata` accepted, in bytes (it is echoed on every HEAD).
const MAX_METADATA_BYTES: usize = 4096;
/// The content type of a PATCH body (tus 1.0.0 core).
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const TUS_VERSION_H: HeaderName = HeaderName::from_static("tus-version");
const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, options))
        .routes(routes!(create_slash, options_slash))
        .routes(routes!(head, patch, terminate, options_upload))
        .layer(middleware::from_fn(tus_resumable))
}

/// Before routing: a POST to an upload with `X-HTTP-Method-Override` is the method it names
/// (tus 1.0.0 core, for environments that cannot send PATCH or DELETE).
pub async fn method_override(mut request: Request, next: Next) -> Response {
    if request.method() == Method::POST
        && request.uri().path().starts_with("/api/v1/tus/")
        && let Some(method) = request
            .headers()
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Method::from_bytes(v.trim().to_ascii_uppercase().as_bytes()).ok())
            .filter(|m| [Method::PATCH, Method::DELETE, Method::HEAD].contains(m))
    {
        *request.method_mut() = method;
    }
    next.run(request).await
}

/// Every answer carries `Tus-Resumable`; every request but OPTIONS must carry it with the
/// version spoken, or gets 412 with `Tus-Version` (tus 1.0.0 core, "Tus-Resumable").
async fn tus_resumable(request: Request, next: Next) -> Response {
    let speaks = request
        .headers()
        .get(&TUS_RESUMABLE)
        .is_some_and(|v| v.as_bytes() == TUS_VERSION.as_bytes());
    let mut response = if request.method() == Method::OPTIONS || speaks {
        next.run(request).await
    } else {
        let mut r = ApiError::TusVersion.into_response();
        r.headers_mut()
            .insert(TUS_VERSION_H, HeaderValue::from_static(TUS_VERSION));
        r
    };
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// The server's tus capabilities (tus 1.0.0 core, OPTIONS); no `Tus-Resumable` needed.
#[utoipa::path(
    options,
    path = "/api/v1/tus",
    tag = "tus",
    responses(
        (status = 204, description = "The capabilities", headers(
            ("tus-resumable" = String, description = "1.0.0"),
            ("tus-version" = String, description = "1.0.0"),
            ("tus-extension" = String, description = "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration"),
            ("tus-max-size" = u64, description = "`server.max_upload_size`, bytes"),
            ("tus-checksum-algorithm" = String, description = "sha1,sha256,md5 as supported"),
        )),
    ),
)]
async fn options(State(state): State<AppState>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(TUS_VERSION_H, HeaderValue::from_static(TUS_VERSION));
    headers.insert(TUS_EXTENSION, HeaderValue::from_static(TUS_EXTENSIONS));
    headers.insert(TUS_MAX_SIZE, number(state.settings.server.max_upload_size));
    headers.insert(
        TUS_CHECKSUM_ALGORITHM,
        HeaderValue::from_static(ChecksumAlgorithm::ADVERTISED),
    );
    (StatusCode::NO_CONTENT, headers).into_response()
}

fn number(n: impl std::fmt::Display) -> HeaderValue {
    HeaderValue::from_str(&n.to_string()).unwrap_or(HeaderValue::from_static("0"))
}

/// A non-negative integer header; `None` when absent.
fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_header",
                        format!("{name} must be a non-negative integer"),
                    )
                })
        })
        .transpose()
}

/// `Upload-Expires` as an RFC 9110 HTTP date.
fn expires(upload: &UploadRecord) -> HeaderValue {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(upload.expires_at).unwrap_or(0));
    number(httpdate::fmt_http_date(at))
}

/// The headers that describe an upload's state (HEAD, and the ends of POST and PATCH).
fn upload_headers(upload: &UploadRecord) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(UPLOAD_OFFSET, number(upload.offset));
    match upload.length {
        Some(length) => headers.insert(UPLOAD_LENGTH, number(length)),
        None => headers.insert(UPLOAD_DEFER_LENGTH, HeaderValue::from_static("1")),
    };
    headers.insert(UPLOAD_EXPIRES, expires(upload));
    headers
}

fn is_offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// `Upload-Checksum: <algorithm> <Base64 digest>`.
fn checksum(headers: &HeaderMap) -> Result<Option<(ChecksumAlgorithm, Vec<u8>)>, ApiError> {
    let Some(value) = headers.get(&UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let bad = |m: &str| ApiError::bad_request("invalid_checksum", m.to_owned());
    let text = value
        .to_str()
        .map_err(|_| bad("Upload-Checksum is not text"))?;
    let (name, digest) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("Upload-Checksum must be an algorithm and a Base64 digest"))?;
    let algorithm = ChecksumAlgorithm::parse(name).ok_or_else(|| {
        bad(&format!(
            "checksum algorithm {name:?} is not supported; use one of {}",
            ChecksumAlgorithm::ADVERTISED
        ))
    })?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| bad("the Upload-Checksum digest is not Base64"))?;
    Ok(Some((algorithm, digest)))
}

/// Create an upload (tus creation, creation-with-upload, creation-defer-length): the body, if
/// any, is its first bytes.
#[utoipa::path(
    post,
    path = "/api/v1/tus",
    tag = "tus",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0", example = "1.0.0"),
        ("Upload-Length" = Option<u64>, Header, description = "The file's size in bytes; or send `Upload-Defer-Length: 1`"),
        ("Upload-Defer-Length" = Option<String>, Header, description = "`1`: the length comes with a later PATCH"),
        ("Upload-Metadata" = Option<String>, Header, description = "Comma-separated `key base64(value)` pairs: `filename`, `filetype`, `auto_process`, ..., at most 4096 bytes"),
        ("Upload-Checksum" = Option<String>, Header, description = "`<algorithm> <Base64 digest>` of the body"),
    ),
    request_body(content = Option<Binary>, content_type = "application/offset+octet-stream",
        description = "creation-with-upload: the first bytes"),
    responses(
        (status = 201, description = "Created", headers(
            ("location" = String, description = "The upload's URL, /api/v1/tus/{file_id}"),
            ("upload-offset" = u64, description = "Bytes received"),
            ("upload-length" = u64, description = "The declared length (absent when deferred)"),
            ("upload-defer-length" = String, description = "1 when the length is deferred"),
            ("upload-expires" = String, description = "HTTP date after which the upload is removed"),
            ("tus-resumable" = String, description = "1.0.0"),
        )),
        (status = 400, description = "Missing or bad tus headers (`invalid_header`, `invalid_metadata`, `invalid_checksum`, `unsupported_extension`)",
         body = ErrorBody, example = json!({"error": "send Upload-Length, or Upload-Defer-Length: 1 to give it later, not both", "code": "invalid_header"})),
        (status = 412, description = "`Tus-Resumable` is not 1.0.0 (`unsupported_version`)", body = ErrorBody,
         headers(("tus-version" = String, description = "1.0.0"))),
        (status = 413, description = "`Upload-Length` above `server.max_upload_size`, or the body past it", body = ErrorBody),
        (status = 415, description = "A body that is not application/offset+octet-stream (`invalid_content_type`), or a refused type", body = ErrorBody),
        (status = 460, description = "The body does not match `Upload-Checksum` (`checksum_mismatch`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Owner(owner): Owner,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let length = header_u64(&headers, &UPLOAD_LENGTH)?;
    let deferred = headers
        .get(&UPLOAD_DEFER_LENGTH)
        .map(|v| v.as_bytes() == b"1");
    let length = match (length, deferred) {
        (Some(l), None) => Some(l),
        (None, Some(true)) => None,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_header",
                "send Upload-Length, or Upload-Defer-Length: 1 to give it later, not both",
            ));
        }
    };
    if headers.contains_key("upload-concat") {
        return Err(ApiError::bad_request(
            "unsupported_extension",
            "the concatenation extension is not supported (see Tus-Extension)",
        ));
    }
    let metadata = headers
        .get(&UPLOAD_METADATA)
        .map(|v| {
            if v.len() > MAX_METADATA_BYTES {
                return Err(ApiError::bad_request(
                    "invalid_metadata",
                    format!("Upload-Metadata is longer than {MAX_METADATA_BYTES} bytes"),
                ));
            }
            v.to_str().map_err(|_| {
                ApiError::bad_request("invalid_metadata", "Upload-Metadata is not ASCII")
            })
        })
        .transpose()?;
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body && !is_offset_stream(&headers) {
        return Err(ApiError::UnsupportedType {
            code: "invalid_content_type",
            message: format!(
                "a creation with upload sends its bytes as Content-Type: {OFFSET_OCTET_STREAM}"
            ),
        });
    }
    let mut upload = tus::create(&state, &owner, length, metadata).await?;
    // creation-with-upload: the body, if any, is the first PATCH.
    if is_offset_stream(&headers) {
        let patch = Patch {
            offset: 0,
            length: None,
            checksum: checksum(&headers)?,
        };
        upload = timed_append(&state, &upload.id, patch, body).await?;
    } else {
        tus::complete_if_done(&state, &upload).await?;
    }
    let mut response_headers = upload_headers(&upload);
    let location = format!("/api/v1/tus/{}", upload.file_id);
    response_headers.insert(header::LOCATION, number(location));
    Ok((StatusCode::CREATED, response_headers).into_response())
}

/// The upload's offset (tus core HEAD), to resume.
#[utoipa::path(
    head,
    path = "/api/v1/tus/{file_id}",
    tag = "tus",
    params(
        ("file_id" = String, Path, description = "The upload's (and the file's) id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0", example = "1.0.0"),
    ),
    responses(
        (status = 200, description = "The upload's state (no body)", headers(
            ("upload-offset" = u64, description = "Bytes received"),
            ("upload-length" = u64, description = "The declared length (absent when deferred)"),
            ("upload-defer-length" = String, description = "1 when the length is deferred"),
            ("upload-expires" = String, description = "HTTP date after which the upload is removed"),
            ("upload-metadata" = String, description = "As sent at creation"),
            ("cache-control" = String, description = "no-store"),
            ("tus-resumable" = String, description = "1.0.0"),
        )),
        (status = 400, description = "Not an upload id (`invalid_path`)"),
        (status = 401, description = "No or bad credentials"),
        (status = 404, description = "No such upload"),
        (status = 412, description = "`Tus-Resumable` is not 1.0.0"),
        (status = 429, description = "Rate limited"),
    ),
)]
async fn head(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let mut headers = match tus::find(&state, &owner, &file_id).await? {
        Ok(upload) => {
            // Every byte is here but the completion did not happen (the instance stopped
            // between the last PATCH and the end of the assembly): finish it now.
            tus::complete_if_done(&state, &upload).await?;
            let mut headers = upload_headers(&upload);
            if let Some(meta) = upload
                .upload_metadata
                .as_deref()
                .and_then(|m| HeaderValue::from_str(m).ok())
            {
                headers.insert(UPLOAD_METADATA, meta);
            }
            headers
        }
        Err(finished) => {
            let mut headers = HeaderMap::new();
            headers.insert(UPLOAD_OFFSET, number(finished.size));
            headers.insert(UPLOAD_LENGTH, number(finished.size));
            headers
        }
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::OK, headers).into_response())
}

/// Append bytes at `Upload-Offset` (tus core PATCH); the last bytes complete the file.
#[utoipa::path(
    patch,
    path = "/api/v1/tus/{file_id}",
    tag = "tus",
    params(
        ("file_id" = String, Path, description = "The upload's (and the file's) id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0", example = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the offset HEAD gave"),
        ("Upload-Length" = Option<u64>, Header, description = "The length, once, for a deferred upload"),
        ("Upload-Checksum" = Option<String>, Header, description = "`<algorithm> <Base64 digest>` of the body"),
    ),
    request_body(content = Binary, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored", headers(
            ("upload-offset" = u64, description = "The new offset"),
            ("upload-expires" = String, description = "HTTP date after which the upload is removed"),
            ("tus-resumable" = String, description = "1.0.0"),
        )),
        (status = 400, description = "Missing or bad headers (`invalid_header`, `invalid_checksum`, `invalid_length`)", body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "`Upload-Offset` is not the upload's, or the upload is locked or complete (`offset_mismatch`, `upload_locked`)", body = ErrorBody),
        (status = 412, description = "`Tus-Resumable` is not 1.0.0 (`unsupported_version`)", body = ErrorBody),
        (status = 413, description = "Bytes past `Upload-Length` (`length_exceeded`)", body = ErrorBody),
        (status = 415, description = "Not application/offset+octet-stream (`invalid_content_type`), or a refused type", body = ErrorBody),
        (status = 460, description = "The body does not match `Upload-Checksum` (`checksum_mismatch`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn patch(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !is_offset_stream(&headers) {
        return Err(ApiError::UnsupportedType {
            code: "invalid_content_type",
            message: format!("a PATCH body must be sent as Content-Type: {OFFSET_OCTET_STREAM}"),
        });
    }
    let offset = header_u64(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::bad_request("invalid_header", "Upload-Offset is required"))?;
    let patch = Patch {
        offset,
        length: header_u64(&headers, &UPLOAD_LENGTH)?,
        checksum: checksum(&headers)?,
    };
    let upload = match tus::find(&state, &owner, &file_id).await? {
        Ok(upload) => upload,
        Err(finished) => {
            return Err(ApiError::Conflict {
                code: "offset_mismatch",
                message: format!(
                    "the upload is complete: all {} bytes are here",
                    finished.size
                ),
            });
        }
    };
    let after = timed_append(&state, &upload.id, patch, body).await?;
    Ok((StatusCode::NO_CONTENT, upload_headers(&after)).into_response())
}

/// [`tus::append`], timed in `fileproc_upload_duration_seconds{kind="tus"}` (one PATCH, or
/// the body of a creation-with-upload).
async fn timed_append(
    state: &AppState,
    upload_id: &str,
    patch: Patch,
    body: Body,
) -> Result<UploadRecord, ApiError> {
    let started = std::time::Instant::now();
    let appended = tus::append(state, upload_id, patch, body.into_data_stream()).await;
    state
        .metrics
        .upload(crate::metrics::UploadKind::Tus)
        .duration
        .record(started.elapsed().as_secs_f64());
    appended
}

/// Remove an unfinished upload (tus termination).
#[utoipa::path(
    delete,
    path = "/api/v1/tus/{file_id}",
    tag = "tus",
    params(
        ("file_id" = String, Path, description = "The upload's (and the file's) id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0", example = "1.0.0"),
    ),
    responses(
        (status = 204, description = "Removed", headers(("tus-resumable" = String, description = "1.0.0"))),
        (status = 400, description = "Not an upload id (`invalid_path`)", body = ErrorBody),
        (status = 404, description = "No such upload (`not_found`)", body = ErrorBody),
        (status = 409, description = "The upload is complete (`upload_finished`) or locked (`upload_locked`)", body = ErrorBody),
        (status = 412, description = "`Tus-Resumable` is not 1.0.0 (`unsupported_version`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn terminate(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    match tus::find(&state, &owner, &file_id).await? {
        Ok(upload) => {
            resumable::remove(
                &state,
                &upload,
                "upload_terminated",
                "the upload was terminated by its client",
            )
            .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        // A finished upload is a file: removed with DELETE /api/v1/files/{id}.
        Err(_) => Err(ApiError::Conflict {
            code: "upload_finished",
            message: "the upload is complete; delete the file with DELETE /api/v1/files/{id}"
                .into(),
        }),
    }
}

/// `POST /api/v1/tus/`: as `POST /api/v1/tus` (clients differ on the trailing slash).
#[utoipa::path(
    post,
    path = "/api/v1/tus/",
    tag = "tus",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0", example = "1.0.0"),
        ("Upload-Length" = Option<u64>, Header, description = "The file's size in bytes; or send `Upload-Defer-Length: 1`"),
        ("Upload-Defer-Length" = Option<String>, Header, description = "`1`: the length comes with a later PATCH"),
        ("Upload-Metadata" = Option<String>, Header, description = "Comma-separated `key base64(value)` pairs"),
        ("Upload-Checksum" = Option<String>, Header, description = "`<algorithm> <Base64 digest>` of the body"),
    ),
    request_body(content = Option<Binary>, content_type = "application/offset+octet-stream",
        description = "creation-with-upload: the first bytes"),
    responses(
        (status = 201, description = "Created; as `POST /api/v1/tus`", headers(
            ("location" = String, description = "The upload's URL, /api/v1/tus/{file_id}"),
            ("upload-offset" = u64, description = "Bytes received"),
            ("tus-resumable" = String, description = "1.0.0"),
        )),
        (status = 400, description = "Missing or bad tus headers", body = ErrorBody),
        (status = 412, description = "`Tus-Resumable` is not 1.0.0 (`unsupported_version`)", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 415, description = "A body that is not application/offset+octet-stream", body = ErrorBody),
        (status = 460, description = "The body does not match `Upload-Checksum`", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn create_slash(
    state: State<AppState>,
    owner: Owner,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    create(state, owner, headers, body).await
}

/// `OPTIONS /api/v1/tus/`: as `OPTIONS /api/v1/tus`.
#[utoipa::path(
    options,
    path = "/api/v1/tus/",
    tag = "tus",
    responses((status = 204, description = "The capabilities, as `OPTIONS /api/v1/tus`", headers(
        ("tus-version" = String, description = "1.0.0"),
        ("tus-extension" = String, description = "The extensions supported"),
        ("tus-max-size" = u64, description = "Bytes"),
    ))),
)]
async fn options_slash(state: State<AppState>) -> Response {
    options(state).await
}

/// `OPTIONS /api/v1/tus/{file_id}`: as `OPTIONS /api/v1/tus`.
#[utoipa::path(
    options,
    path = "/api/v1/tus/{file_id}",
    tag = "tus",
    params(("file_id" = String, Path, description = "The upload's id")),
    responses((status = 204, description = "The capabilities, as `OPTIONS /api/v1/tus`", headers(
        ("tus-version" = String, description = "1.0.0"),
        ("tus-extension" = String, description = "The extensions supported"),
        ("tus-max-size" = u64, description = "Bytes"),
    ))),
)]
async fn options_upload(state: State<AppState>) -> Response {
    options(state).await
}
