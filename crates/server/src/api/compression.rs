//! Compression of responses on the way out (tower-http's `CompressionLayer`): JSON, NDJSON,
//! the page's HTML, CSS and JavaScript, and `/metrics` text, in zstd or gzip as the client's
//! `Accept-Encoding` prefers, at the fastest level (these bodies are small or streamed).
//!
//! Never downloads: they carry `Content-Disposition: attachment` and are served as stored (a
//! compressed original goes out as its own zstd stream, see `download`); nor byte ranges,
//! pictures, or server-sent events, which must reach the client frame by frame.

use axum::http::{HeaderMap, StatusCode, Version, header};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};

/// Bodies smaller than this (bytes) are not worth a compressor.
const MIN_BYTES: u64 = 1024;

/// The layer, with [`compressible`] and a minimum size as its predicate.
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(MIN_BYTES).and(
            |_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions| {
                compressible(headers)
            },
        ))
}

/// Whether a response with `headers` may be compressed: a text type named above, not a
/// download, not a range, not already encoded.
pub fn compressible(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if headers.contains_key(header::CONTENT_RANGE)
        || headers.contains_key(header::CONTENT_ENCODING)
        || text(header::CONTENT_DISPOSITION).is_some_and(|d| d.starts_with("attachment"))
    {
        return false;
    }
    let Some(content_type) = text(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json"
            | "application/problem+json"
            | "application/x-ndjson"
            | "application/javascript"
            | "text/javascript"
            | "text/html"
            | "text/css"
            | "text/plain"
            | "image/svg+xml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn json_and_page_text_compress_and_downloads_ranges_and_events_do_not() {
        use header::{
            CONTENT_DISPOSITION as CD, CONTENT_ENCODING as CE, CONTENT_RANGE as CR,
            CONTENT_TYPE as CT,
        };
        assert!(compressible(&headers(&[(CT, "application/json")])));
        assert!(compressible(&headers(&[(CT, "text/html; charset=utf-8")])));
        assert!(compressible(&headers(&[(CT, "application/x-ndjson")])));
        assert!(!compressible(&headers(&[
            (CT, "text/csv"),
            (CD, "attachment; filename=\"a.csv\"")
        ])));
        assert!(!compressible(&headers(&[
            (CT, "text/plain"),
            (CR, "bytes 0-9/100")
        ])));
        assert!(!compressible(&headers(&[
            (CT, "application/json"),
            (CE, "zstd")
        ])));
        assert!(!compressible(&headers(&[(CT, "text/event-stream")])));
        assert!(!compressible(&headers(&[(CT, "image/jpeg")])));
        assert!(!compressible(&HeaderMap::new()));
    }
}
