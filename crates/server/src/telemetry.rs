//! Logs: `tracing` to stderr, JSON or text as `monitoring.log_format` says, filtered by
//! `monitoring.log_level` (or `RUST_LOG`). Panics are logged through it too: a parser that panics
//! on a hostile file (caught, failing only that job) leaves one structured line, not a raw
//! message in the middle of JSON logs.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, MonitoringSettings};

/// A library target whose warnings are noise at the default levels.
const NOISY_TARGET: &str = "pdf_extract";

/// Install the global subscriber; a second call does nothing.
pub fn init(settings: &MonitoringSettings) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter().unwrap_or_else(|| "info".into())));
    // pdf-extract warns once per unknown glyph (hundreds of lines for one PDF); only its errors
    // are worth a log line, unless the filter asks for it by name.
    if !filter.to_string().contains(NOISY_TARGET)
        && let Ok(directive) = format!("{NOISY_TARGET}=error").parse()
    {
        filter = filter.add_directive(directive);
    }
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
