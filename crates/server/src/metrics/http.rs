//! The HTTP side of the metrics: the middleware that counts and times every request by its
//! matched route (in front of every route, see [`crate::api::router`]), and `GET /metrics`, served
//! on the main port or, with `monitoring.metrics_port` (`METRICS_PORT`), on that port alone.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::Label;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::names;
use crate::state::AppState;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the catalog's count of queued jobs before it shows the last one.
const QUEUE_DEPTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The `route` of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Count and time one request: `fileproc_http_requests_total`, `..._duration_seconds` (until
/// the response head) and `..._in_flight`.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let metrics = &state.metrics;
    let started = Instant::now();
    let _in_flight = InFlight::enter(metrics.in_flight());
    let response = next.run(request).await;
    let labels = vec![
        Label::new("route", route),
        Label::new("method", method),
        Label::new("status", response.status().as_u16().to_string()),
    ];
    metrics
        .histogram(names::HTTP_REQUEST_DURATION, labels.clone())
        .record(started.elapsed().as_secs_f64());
    metrics.counter(names::HTTP_REQUESTS, labels).increment(1);
    response
}

/// The `method` label (and span attribute) of a request: one of the methods of RFC 9110
/// (and PATCH), or `_OTHER` for any other token a client sends (the OpenTelemetry HTTP
/// conventions' value), so that clients cannot add series at will.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// One request in flight; leaves on drop (also when the client goes away mid-request).
struct InFlight<'a>(&'a metrics::Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a metrics::Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// `GET /metrics`: every series in the Prometheus text format, the queue depth read from the
/// catalog first (a failed read leaves the last value, logged).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((
        status = 200,
        description = "Every series in the Prometheus text exposition format 0.0.4: the \
                       fileproc_* metrics (HTTP, uploads, processing, queue, workers, storage, \
                       caches, WebSocket, virus scans, readiness) and the process_* collector. \
                       Served on `METRICS_PORT` instead when that is set.",
        content_type = "text/plain; version=0.0.4; charset=utf-8",
        body = String,
        example = "# TYPE fileproc_queue_depth gauge\nfileproc_queue_depth 0\n",
    )),
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(QUEUE_DEPTH_TIMEOUT, state.catalog.queued_jobs()).await {
        Ok(Ok(jobs)) => state.metrics.set_queue_depth(jobs),
        Ok(Err(e)) => tracing::warn!(error = %e, "counting queued jobs for /metrics failed"),
        Err(_) => tracing::warn!("counting queued jobs for /metrics timed out"),
    }
    let body = state.metrics.render();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response()
}

/// `/metrics` alone: the route added to the main router (and its document), or the whole app
/// of the metrics port.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}
