//! `GET /api/v1/files/{id}/download`: the original bytes, streamed from the blob store, with
//! byte ranges (RFC 7233), a strong `ETag` (the SHA-256) and `Content-Disposition` (RFC 6266,
//! with an RFC 8187 `filename*` for names that are not plain ASCII). A quarantined file's bytes
//! are never served (403 `quarantined`).
//!
//! An original stored zstd-compressed (`storage.compression`) is decoded on the way out, so the
//! bytes are the original's whatever the storage; a client that accepts `zstd` (RFC 9110
//! section 12.5.3 `Accept-Encoding`, RFC 8878 section 7.2 for the coding) gets the stored frames
//! as they are, with `Content-Encoding: zstd`, no work for either side. Byte ranges are always
//! of the original bytes (identity), decoded from the frames under them.

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
use crate::blob::compress::Stored;
use crate::blob::{ByteStream, CryptError, StoreError};
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
        ("Accept-Encoding" = Option<String>, Header, description = "`zstd` to get a file stored compressed as its stored zstd stream (RFC 9110 section 12.5.3)"),
    ),
    responses(
        (status = 200, description = "The whole file, with the content type it was stored with \
            (text/csv, application/pdf, image/png...); for a file stored compressed and a client \
            that accepts `zstd`, the zstd stream of it with `Content-Encoding: zstd`", content((Binary = "*/*")), headers(
            ("etag" = String, description = "The quoted hex SHA-256 (with `-zstd` for the zstd stream)"),
            ("content-encoding" = String, description = "`zstd` when the stored zstd stream is served"),
            ("vary" = String, description = "`accept-encoding` for a file stored compressed"),
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
    let zstd_etag = format!("\"{}-zstd\"", file.sha256);
    let compressed = file.compressed_size.and_then(|c| u64::try_from(c).ok());
    let wants_zstd = compressed.is_some() && accepts(&headers, "zstd");
    if let Some(matched) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| none_match(v, &etag, &zstd_etag, wants_zstd))
    {
        let mut response = (StatusCode::NOT_MODIFIED, [(header::ETAG, matched)]).into_response();
        vary(&mut response, compressed.is_some());
        return Ok(response);
    }
    let range = requested_range(&headers, &etag, size)?;
    let encoded = match (&range, wants_zstd) {
        (None, true) => state.blobs.get_encoded(&file.storage_key).await?,
        _ => None,
    };
    let (stream, length, etag) = match (encoded, compressed) {
        (Some(stream), Some(stored)) => (stream, Some(stored), zstd_etag),
        _ => {
            let stored = Stored::from_compressed_size(file.compressed_size);
            let stream = state
                .blobs
                .get_original(&file.storage_key, stored, range.clone())
                .await?;
            (stream, None, etag)
        }
    };
    let encoded = length.is_some();
    // A whole original read is checked against its SHA-256 on the way; the last bytes wait
    // for the digest, so a body that differs breaks off instead of completing.
    let stream = if range.is_none() && !encoded {
        verify_digest(stream, file.sha256.clone())
    } else {
        stream
    };
    let stream = stream.inspect_err(move |e| {
        // The status is sent: the body breaks off, and the cause is logged here.
        tracing::error!(file.id = %file_id, error = %e, "a download broke off");
    });
    let mut response = Response::new(Body::from_stream(stream));
    vary(&mut response, compressed.is_some());
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&file.content_type));
    h.insert(header::ETAG, header_value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&file.filename)),
    );
    if encoded {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("zstd"));
    }
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
            let length = length.unwrap_or(size);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, header_value(&length.to_string()));
        }
    }
    Ok(response)
}

/// `stream` passed on with its SHA-256 computed on the way, one chunk held back: the last
/// chunk goes out only once the digest of all the bytes equals `sha256` (lowercase hex), else
/// the stream ends with [`CryptError::Digest`] (`integrity_error`) and the body breaks off.
fn verify_digest(stream: ByteStream, sha256: String) -> ByteStream {
    use futures::StreamExt;
    use sha2::Digest;
    let state = (stream, sha2::Sha256::new(), None::<bytes::Bytes>, false);
    futures::stream::try_unfold(state, move |(mut stream, mut hasher, mut held, done)| {
        let sha256 = sha256.clone();
        async move {
            if done {
                return Ok(None);
            }
            loop {
                match stream.next().await.transpose()? {
                    Some(bytes) if bytes.is_empty() => {}
                    Some(bytes) => {
                        hasher.update(&bytes);
                        if let Some(out) = held.replace(bytes) {
                            return Ok(Some((out, (stream, hasher, held, false))));
                        }
                    }
                    None => {
                        let digest = hex::encode(hasher.finalize_reset());
                        if digest != sha256 {
                            return Err(StoreError::Integrity(CryptError::Digest(format!(
                                "SHA-256 {digest}, the file's is {sha256}"
                            ))));
                        }
                        return Ok(held.take().map(|out| (out, (stream, hasher, None, true))));
                    }
                }
            }
        }
    })
    .boxed()
}

/// The ETag to answer 304 with when `if_none_match` holds the ETag of the representation this
/// request would get (`zstd_etag` when `wants_zstd`), or of the other one: both name the same
/// bytes. RFC 9110 section 13.1.2: the weak comparison, so `W/"x"` matches `"x"`.
fn none_match(
    if_none_match: &str,
    etag: &str,
    zstd_etag: &str,
    wants_zstd: bool,
) -> Option<String> {
    let chosen = if wants_zstd { zstd_etag } else { etag };
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == zstd_etag || t == "*")
        .then(|| chosen.to_owned())
}

/// Whether `Accept-Encoding` names `coding` with a non-zero weight (RFC 9110 section 12.5.3).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            // RFC 9110 section 12.4.2: `q` in any case; a weight that does not parse is 0.
            let weight = parts
                .map(str::trim)
                .find(|p| p.len() >= 2 && p[..2].eq_ignore_ascii_case("q="))
                .map_or(1.0, |q| q[2..].trim().parse::<f32>().unwrap_or(0.0));
            name.eq_ignore_ascii_case(coding) && weight > 0.0
        })
}

/// `Vary: accept-encoding` on the responses about a file stored compressed, whose body depends
/// on it.
fn vary(response: &mut Response, compressed: bool) {
    if compressed {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
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
    fn accept_encoding_names_zstd_with_a_non_zero_weight() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts(&h, "zstd")
        };
        assert!(with("zstd"));
        assert!(with("gzip, deflate, br, ZSTD;q=0.5"));
        assert!(!with("gzip, br"));
        assert!(!with("zstd;q=0"));
        assert!(!with("zstd;Q=0"));
        assert!(!with("zstd;q="));
        assert!(with("zstd; Q=0.1"));
        assert!(!with("*"));
        assert!(!accepts(&HeaderMap::new(), "zstd"));
    }

    #[test]
    fn if_none_match_takes_either_representation_and_answers_with_the_chosen_one() {
        let (e, z) = ("\"e\"", "\"e-zstd\"");
        assert_eq!(none_match("\"e\"", e, z, true).as_deref(), Some(z));
        assert_eq!(none_match("W/\"e-zstd\"", e, z, false).as_deref(), Some(e));
        assert_eq!(none_match("\"x\", *", e, z, false).as_deref(), Some(e));
        assert_eq!(none_match("\"x\"", e, z, false), None);
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
