//! Logs: `tracing` to stderr, JSON or text as `monitoring.log_format` says, filtered by
//! `monitoring.log_level` (or `RUST_LOG`). Panics are logged through it too: a parser that panics
//! on a hostile file (caught, failing only that job) leaves one structured line, not a raw
//! message in the middle of JSON logs.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, MonitoringSettings};

/// Install the global subscriber; a second call does nothing.
pub fn init(settings: &MonitoringSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter().unwrap_or_else(|| "info".into())));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let already_set = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        _ => builder.try_init(),
    };
    if already_set.is_ok() {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned();
            tracing::error!(panic.message = %payload, panic.location = %location, thread, "panic");
        }));
    }
}
