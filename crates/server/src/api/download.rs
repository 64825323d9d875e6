//! `GET /api/v1/files/{id}/download`: the original bytes, streamed from the blob store, with
//! byte ranges (RFC 7233), a strong `ETag` (the SHA-256) and `Content-Disposition` (RFC 6266,
//! with an RFC 8187 `filename*` for names that are not plain ASCII). A quarantined file's bytes
//! are never served (403 `quarantined`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use super::openapi::Binary;
use crate::auth::Owner;
use crate::catalog::FileStatus;
use crate::state::AppState;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// The original bytes, whole or a byte range.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/download",
    tag = "content",
    params(
        ("file_id" = String, Path, description = "The file's id"),
        ("Range" = Option<String>, Header, description = "One byte range (RFC 7233), e.g. `bytes=0-1023`, `bytes=-500`; several ranges get the whole file", example = "bytes=0-1023"),
        ("If-Range" = Option<String>, Header, description = "The ETag: the range only if the file is still this one"),
        ("If-None-Match" = Option<String>, Header, description = "ETags; 304 when one matches"),
    ),
    responses(
        (status = 200, description = "The whole file, with the content type it was stored with \
            (text/csv, application/pdf, image/png...)", content((Binary = "*/*")), headers(
            ("etag" = String, description = "The quoted hex SHA-256"),
            ("content-disposition" = String, description = "attachment; filename=...; filename*=UTF-8''..."),
            ("accept-ranges" = String, description = "bytes"),
            ("content-length" = u64, description = "Bytes"),
        )),
        (status = 206, description = "The range asked for, with the file's content type",
         content((Binary = "*/*")), headers(
            ("content-range" = String, description = "bytes first-last/size"),
            ("etag" = String, description = "The quoted hex SHA-256"),
        )),
        (status = 304, description = "`If-None-Match` matched", headers(("etag" = String, description = "The quoted hex SHA-256"))),
        (status = 404, description = "No such file, or not the caller's (`not_found`)", body = ErrorBody),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 409, description = "Still uploading (`upload_in_progress`)", body = ErrorBody),
        (status = 416, description = "The range is outside the file (`range_not_satisfiable`)", body = ErrorBody,
         headers(("content-range" = String, description = "bytes */size"))),
        (status = 500, description = "A stored object failed to open (`integrity_error`, `key_unavailable`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn download(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file = state.catalog.get_file(&owner, &file_id).await?;
    if file.status == FileStatus::Quarantined.as_str() {
        return Err(ApiError::quarantined());
    }
    if file.status == "uploading" {
        return Err(ApiError::Conflict {
            code: "upload_in_progress",
            message: "the file is still being uploaded; download it once the upload completes"
                .into(),
        });
    }
    let size = u64::try_from(file.size).unwrap_or(0);
    let etag = format!("\"{}\"", file.sha256);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        // RFC 7232 section 3.2: If-None-Match uses the weak comparison, so W/"x" matches "x".
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let range = requested_range(&headers, &etag, size)?;
    let stream = state
        .blobs
        .get_stream(&file.storage_key, range.clone())
        .await?
        .inspect_err(move |e| {
            // The status is sent: the body breaks off, and the cause is logged here.
            tracing::error!(file.id = %file_id, error = %e, "a download broke off");
        });
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&file.content_type));
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&file.filename)),
    );
    match range {
        Some(r) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_LENGTH,
                header_value(&(r.end - r.start).to_string()),
            );
            h.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {}-{}/{size}", r.start, r.end - 1)),
            );
        }
        None => {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, header_value(&size.to_string()));
        }
    }
    Ok(response)
}

/// The one byte range to send (end exclusive), or `None` for the whole file.
///
/// Per RFC 7233: a `Range` that does not parse is ignored (section 3.1); an `If-Range` that does
/// not match the ETag means the whole file (section 3.2); several ranges are answered with the
/// whole file, which the RFC allows; a range wholly past the end is 416.
fn requested_range(
    headers: &HeaderMap,
    etag: &str,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, ApiError> {
    let Some(raw) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.trim() != etag
    {
        return Ok(None);
    }
    let Ok(parsed) = http_range_header::parse_range_header(raw) else {
        return Ok(None);
    };
    let ranges = parsed
        .validate(size)
        .map_err(|_| ApiError::RangeNotSatisfiable { size })?;
    match ranges.as_slice() {
        [one] => Ok(Some(*one.start()..one.end() + 1)),
        _ => Ok(None),
    }
}

fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == filename {
        format!("attachment; filename=\"{filename}\"")
    } else {
        let encoded = utf8_percent_encode(filename, NON_ALPHANUMERIC);
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str) -> Result<Option<std::ops::Range<u64>>, ApiError> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        requested_range(&h, "\"e\"", 100)
    }

    #[test]
    fn byte_ranges_follow_rfc_7233() {
        assert_eq!(range("bytes=0-9").unwrap(), Some(0..10));
        assert_eq!(range("bytes=90-").unwrap(), Some(90..100));
        assert_eq!(range("bytes=-5").unwrap(), Some(95..100));
        assert_eq!(range("bytes=0-1000").unwrap(), Some(0..100));
        assert_eq!(range("bytes=0-1,5-6").unwrap(), None);
        assert_eq!(range("pages=1").unwrap(), None);
        assert!(matches!(
            range("bytes=200-300"),
            Err(ApiError::RangeNotSatisfiable { size: 100 })
        ));
    }

    #[test]
    fn content_disposition_keeps_ascii_and_encodes_the_rest() {
        assert_eq!(
            content_disposition("a b.csv"),
            "attachment; filename=\"a b.csv\""
        );
        assert_eq!(
            content_disposition("中国.csv"),
            "attachment; filename=\"__.csv\"; filename*=UTF-8''%E4%B8%AD%E5%9B%BD%2Ecsv"
        );
    }
}
