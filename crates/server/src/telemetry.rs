//! Logs: `tracing` to stdout, JSON or text as `monitoring.log_format` says, filtered by
//! `monitoring.log_level` (or `RUST_LOG`).

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, MonitoringSettings};

/// Install the global subscriber; a second call does nothing.
pub fn init(settings: &MonitoringSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter().unwrap_or_else(|| "info".into())));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        _ => builder.try_init(),
    };
}
