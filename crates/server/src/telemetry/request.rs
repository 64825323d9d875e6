//! Every HTTP request's id and span, the outermost layers of the API ([`crate::api::router`]).
//!
//! - `x-request-id`: a client's id is kept when it is 1 to [`MAX_REQUEST_ID_LEN`] characters of
//!   `A-Z a-z 0-9 - _ . : / + =` (enough for UUIDs, ULIDs and the ids proxies make); otherwise,
//!   or when there is none, a UUID v4 is made. The response carries it back.
//! - The `request` span holds `request_id`, the method, the path (never the query, which may
//!   carry `?token=`), the matched route and, once answered, the status. It is a child of the
//!   trace in the request's `traceparent` header, if any. Its OpenTelemetry name is
//!   `METHOD route`, as the HTTP semantic conventions say.
//! - One `info` line per answered request (`request finished`, with status and `latency_ms`).

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Span;

/// The header that carries a request's id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client-sent request id kept, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Makes an id for requests that come without one.
pub fn set_request_id() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(X_REQUEST_ID.clone(), MakeRequestUuid)
}

/// Copies the request's id to its response.
pub fn propagate_request_id() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(X_REQUEST_ID.clone())
}

/// Drop a client's request id that is empty, too long or has characters outside the allowed
/// set, so a fresh one is made: ids end up in log lines and must not forge them.
pub async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request
        .headers()
        .get(&X_REQUEST_ID)
        .is_none_or(usable_request_id);
    if !usable {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// Whether a client's `x-request-id` may be kept (see the module's documentation).
pub fn usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
}

/// The span of one request (see the module's documentation).
pub fn make_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let method = crate::metrics::http::method_label(request.method());
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        request_id,
        http.request.method = method,
        url.path = request.uri().path(),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    );
    super::traces::adopt_from_headers(&span, request.headers());
    span
}

/// Record the status on the span and write the request's one `info` line.
pub fn on_response(response: &Response, latency: Duration, span: &Span) {
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::info!(
        status,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request finished"
    );
}

/// A 5xx or a failed body is worth a warning, not an error: a refused connection (503) is
/// expected under load.
pub fn on_failure(failure: ServerErrorsFailureClass, latency: Duration, _span: &Span) {
    tracing::warn!(
        failure = %failure,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request failed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_short_and_plain() {
        let ok = |s: &str| usable_request_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("3f2c1a9e-6b0d-4a43-9a53-2d6a3d1e7b10"));
        assert!(ok("01JD0Q7ZK9V1W3X5Y7Z9A1B3C5"));
        assert!(ok("lb-7:req/42+x=="));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!ok("quote\"d"));
        assert!(!ok("{\"forged\":1}"));
        assert!(ok(&"a".repeat(MAX_REQUEST_ID_LEN)));
        assert!(!ok(&"a".repeat(MAX_REQUEST_ID_LEN + 1)));
    }
}
