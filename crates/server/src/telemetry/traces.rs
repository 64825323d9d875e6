//! Traces: this crate's spans (requests, jobs, storage calls) exported over OTLP/HTTP with
//! protobuf bodies (the OpenTelemetry protocol, `POST {endpoint}/v1/traces`; a collector's port
//! 4318) when `monitoring.tracing_enabled`, sampled at `monitoring.tracing_sample_rate` (parent
//! based: a request that arrives with a sampled W3C `traceparent` is always kept). Log lines
//! written inside a span (at `monitoring.log_level`) go with it as span events.
//!
//! A job runs long after the request that queued it, often on another instance. The queueing
//! request's trace context travels with the job through the catalog as a W3C `traceparent`
//! ([`current_trace_context`] when the job row is written, [`adopt_trace_context`] when a worker
//! starts it), so one trace shows the upload and the processing it caused.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::MonitoringSettings;

/// Where spans go when `monitoring.tracing_endpoint` is unset: a collector on this machine.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
/// The OTLP/HTTP path of traces, added to an endpoint given without a path.
const TRACES_PATH: &str = "/v1/traces";
/// How long one export may take before it is abandoned (the spans are dropped, not retried
/// forever).
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The W3C trace-context header (https://www.w3.org/TR/trace-context/).
const TRACEPARENT: &str = "traceparent";

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("building the OTLP exporter for {endpoint}: {message}")]
pub struct ExporterError {
    endpoint: String,
    message: String,
}

/// A running OTLP exporter: spans are batched and sent from its own thread.
pub struct Exporter {
    provider: SdkTracerProvider,
    endpoint: String,
}

impl Exporter {
    /// Start exporting to the configured endpoint.
    ///
    /// # Errors
    /// The HTTP client cannot be built (the endpoint was checked when the settings loaded).
    pub fn start(settings: &MonitoringSettings) -> Result<Exporter, ExporterError> {
        let endpoint = traces_url(
            settings
                .tracing_endpoint
                .as_deref()
                .unwrap_or(DEFAULT_ENDPOINT),
        );
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| ExporterError {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("fileproc")
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                settings.tracing_sample_rate,
            ))))
            .with_resource(resource)
            .build();
        Ok(Exporter { provider, endpoint })
    }

    /// The URL spans are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The tracer for the `tracing` layer that turns this crate's spans into OpenTelemetry
    /// spans.
    pub fn tracer(&self) -> opentelemetry_sdk::trace::SdkTracer {
        self.provider.tracer("fileproc")
    }

    /// Send what is still batched and stop.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            // The subscriber may be gone by now: stderr is what is left.
            eprintln!("fileproc: flushing traces on shutdown failed: {e}");
        }
    }
}

/// The OTLP/HTTP traces URL of `endpoint`: as given when it has a path, else with
/// `/v1/traces` added (what the OTLP exporter specification does with a base endpoint).
pub fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    let has_path = trimmed
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        endpoint.to_owned()
    } else {
        format!("{trimmed}{TRACES_PATH}")
    }
}

/// The W3C `traceparent` of the current span, for a job it queues; `None` when traces are not
/// exported (there is no trace to join).
pub fn current_trace_context() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Make `span` a child of the trace `traceparent` names (stored with a job, or sent by a client).
/// A missing or malformed value leaves `span` the root of a new trace.
pub fn adopt_trace_context(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    adopt(span, &carrier);
}

/// Make `span` a child of the trace a request's `traceparent` header names, if any.
pub fn adopt_from_headers(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if headers.contains_key(TRACEPARENT) {
        adopt(span, &opentelemetry_http::HeaderExtractor(headers));
    }
}

fn adopt(span: &tracing::Span, carrier: &dyn opentelemetry::propagation::Extractor) {
    let parent = TraceContextPropagator::new().extract(carrier);
    if parent.span().span_context().is_valid() {
        // Fails only when no trace layer is installed, and then there is nothing to join.
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_adds_the_signal_path_to_a_base_endpoint_only() {
        assert_eq!(
            traces_url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/custom/traces"),
            "https://otel.example/custom/traces"
        );
    }

    #[test]
    fn without_a_trace_layer_there_is_no_context_to_carry() {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        assert_eq!(current_trace_context(), None);
    }
}
