//! What the service tells the people who run it, besides its answers: logs ([`logs`]), traces
//! exported over OTLP ([`traces`]) and the request id and span of every HTTP request
//! ([`request`]). [`init`] installs them once per process, before anything logs.
//!
//! Every span of this crate is recorded whatever the log level, so a log line written inside a
//! request carries that request's `request_id` (and a job's line its `job.id` and `file.id`)
//! even when only warnings are logged.

pub mod logs;
pub mod request;
pub mod traces;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::MonitoringSettings;

pub use traces::{adopt_trace_context, current_trace_context};

/// Keeps the trace exporter alive; dropping it flushes the spans not yet sent (waiting at most
/// the exporter's timeout) and stops the exporter.
#[must_use = "dropping it stops trace export"]
pub struct Telemetry {
    traces: Option<traces::Exporter>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(exporter) = self.traces.take() {
            exporter.shutdown();
        }
    }
}

/// Install the global subscriber: logs as `monitoring.log_format` and `log_level` (or
/// `RUST_LOG`) say, and, with `monitoring.tracing_enabled`, spans exported over OTLP/HTTP to
/// `monitoring.tracing_endpoint`. A second call installs nothing (the first one's subscriber
/// stays) and returns a guard that exports nothing.
///
/// A trace exporter that cannot be built is logged as an error and left out: the service runs
/// without trace export rather than not at all.
pub fn init(settings: &MonitoringSettings) -> Telemetry {
    let (exporter, export_failed) = if settings.tracing_enabled {
        match traces::Exporter::start(settings) {
            Ok(started) => (Some(started), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    // One filter in front of every layer (see `logs::Filter`); an absent trace layer is `None`.
    let trace_layer = exporter
        .as_ref()
        .map(|started| tracing_opentelemetry::layer().with_tracer(started.tracer()));
    let filter = logs::Filter::new(settings);
    let rejected_rust_log = filter.rejected_rust_log.clone();
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs::layer(settings))
        .with(trace_layer)
        .try_init()
        .is_ok();
    if !installed {
        return Telemetry { traces: None };
    }
    logs::log_panics();
    if let Some(why) = rejected_rust_log {
        tracing::warn!("{why}");
    }
    if let Some(e) = export_failed {
        tracing::error!(error = %e, "traces will not be exported");
    } else if let Some(started) = &exporter {
        tracing::info!(
            endpoint = %crate::config::redact_url(started.endpoint()),
            sample_rate = settings.tracing_sample_rate,
            "exporting traces over OTLP/HTTP"
        );
    }
    Telemetry { traces: exporter }
}
