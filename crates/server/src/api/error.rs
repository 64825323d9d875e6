//! The API's one error type and its one JSON shape: `{"error": "<message>", "code": "<code>"}`
//! (`DESIGN.md` section 2). A 5xx tells the client little; its cause is logged once, here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::blob::{CryptError, StoreError};
use crate::catalog::CatalogError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials, or bad ones; `challenge` goes in `WWW-Authenticate`.
    #[error("{message}")]
    Unauthorized {
        message: String,
        challenge: &'static str,
    },
    /// 429: the caller's (or its address's) rate limit is spent; `Retry-After` says when to
    /// come back, in seconds.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// 403: the file may not be used, e.g. it is quarantined (code `quarantined`): it will never
    /// be, so unlike a 409 there is nothing to wait for.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: no such file (or not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405: the route exists, not with this method.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// 409: the file is not in a state that allows this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: the upload is larger than the limit.
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// 413: the request body as a whole is larger than the server accepts.
    #[error("the request body is larger than the server accepts")]
    BodyTooLarge,
    /// 415: the type is not allowed, or not what the bytes say.
    #[error("{message}")]
    UnsupportedType { code: &'static str, message: String },
    /// 413: a tus PATCH carries bytes past the upload's declared length.
    #[error("the body goes past Upload-Length ({length} bytes); nothing of it was kept")]
    LengthExceeded { length: i64 },
    /// 412: the client speaks a tus version this server does not (tus 1.0.0, core protocol).
    #[error("Tus-Resumable must be 1.0.0, the version this server speaks")]
    TusVersion,
    /// 460: the body does not match its `Upload-Checksum` (tus 1.0.0, checksum extension).
    #[error("{message}")]
    ChecksumMismatch { message: String },
    /// 416: the Range cannot be satisfied.
    #[error("the range is not satisfiable for a {size}-byte file")]
    RangeNotSatisfiable { size: u64 },
    /// 503: the blob store failed; the cause is logged, not shown. Retrying later may work.
    #[error("the file store is unavailable; try again later")]
    StorageUnavailable(#[source] StoreError),
    /// 500: a stored object failed to open: altered or truncated (`integrity_error`), or sealed
    /// with a key this service lacks (`key_unavailable`). Its bytes are never served.
    #[error("{0}")]
    Integrity(#[source] CryptError),
    /// 503: a dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// 500: anything else; the cause is logged, not shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The one JSON error shape every failure of the API has (`DESIGN.md` section 2).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "file not found", "code": "not_found"}))]
pub struct ErrorBody {
    /// A message for people; it may change between versions.
    pub error: String,
    /// A stable snake_case code for programs, one of: `invalid_json`, `invalid_query`,
    /// `invalid_path`, `invalid_form`, `invalid_header`, `invalid_file_id`, `invalid_filename`,
    /// `missing_filename`, `missing_file`, `invalid_metadata`, `invalid_length`,
    /// `invalid_chunk_size`, `invalid_chunk_number`, `invalid_part`, `invalid_part_order`,
    /// `invalid_checksum`, `invalid_size`, `incomplete_body`, `size_mismatch`, `no_records`,
    /// `unknown_sheet`, `unsupported_extension`, `websocket_upgrade_required` (400);
    /// `unauthorized` (401); `quarantined` (403); `not_found` (404); `method_not_allowed`
    /// (405); `invalid_state`, `already_processing`, `not_completed`, `offset_mismatch`,
    /// `upload_finished`, `upload_in_progress`, `upload_locked`, `attempts_exhausted`,
    /// `profile_in_progress` (409);
    /// `unsupported_version` (412); `file_too_large`, `length_exceeded` (413);
    /// `invalid_content_type`, `type_mismatch` and the other type refusals (415);
    /// `range_not_satisfiable` (416); `rate_limited` (429); `checksum_mismatch` (460);
    /// `internal_error`, `integrity_error`, `key_unavailable` (500); `not_ready`,
    /// `storage_unavailable` (503).
    pub code: String,
}

impl ApiError {
    /// A 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge { .. }
            | ApiError::BodyTooLarge
            | ApiError::LengthExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TusVersion => StatusCode::PRECONDITION_FAILED,
            // The status the tus checksum extension defines; not in the IANA registry.
            ApiError::ChecksumMismatch { .. } => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::Unavailable(_) | ApiError::StorageUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) | ApiError::Integrity(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::UnsupportedType { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::TooLarge { .. } | ApiError::BodyTooLarge => "file_too_large",
            ApiError::LengthExceeded { .. } => "length_exceeded",
            ApiError::TusVersion => "unsupported_version",
            ApiError::ChecksumMismatch { .. } => "checksum_mismatch",
            ApiError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            ApiError::Unavailable(_) => "not_ready",
            ApiError::StorageUnavailable(_) => "storage_unavailable",
            ApiError::Internal(_) => "internal_error",
            ApiError::Integrity(e) => e.code(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
            }
            ApiError::StorageUnavailable(cause) => {
                tracing::error!(error = %cause, "blob store failed");
            }
            ApiError::Integrity(cause) => {
                tracing::error!(error = %cause, error.code = cause.code(), "a stored object failed to open");
            }
            _ => {}
        }
        let status = self.status();
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code().to_owned(),
        };
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::Unauthorized { challenge, .. } => {
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static(challenge),
                );
            }
            ApiError::RateLimited { retry_after } => {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, (*retry_after).into());
            }
            _ => {}
        }
        if let ApiError::RangeNotSatisfiable { size } = self
            && let Ok(v) = format!("bytes */{size}").parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_RANGE, v);
        }
        response
    }
}

impl ApiError {
    /// 403 `quarantined`: what every use of a quarantined file's bytes or results gets.
    pub fn quarantined() -> Self {
        ApiError::Forbidden {
            code: "quarantined",
            message: "the file is quarantined: its virus scan found threats (see virus_scan); \
                      it is not processed or served"
                .to_owned(),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => ApiError::NotFound("file"),
            CatalogError::Conflict(message) => ApiError::Conflict {
                code: "invalid_state",
                message,
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Integrity(e) => ApiError::Integrity(e),
            other => ApiError::StorageUnavailable(other),
        }
    }
}
