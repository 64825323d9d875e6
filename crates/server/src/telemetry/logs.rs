//! Logs: `tracing` to stderr, one JSON object per line (`monitoring.log_format: json`, the
//! default) or text for people (`text`, also `pretty`), filtered by `monitoring.log_level` (or
//! `RUST_LOG`). A JSON line carries the fields of the spans it was written in (`spans`: the
//! request's `request_id`, method and route; a job's id, file and attempt).
//!
//! Panics are logged through it too: a parser that panics on a hostile file (caught, failing only
//! that job) leaves one structured line, not a raw message in the middle of JSON logs.
//!
//! What must not reach a log: secrets (credentials are never fields; the request span holds the
//! path without its query, since `?token=` may carry a credential) and file contents.

use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::{Layer, fmt};

use crate::config::{LogFormat, MonitoringSettings};

/// A library target whose warnings are noise at the default levels.
const NOISY_TARGET: &str = "pdf_extract";

/// The log layer the settings ask for, with its filter.
pub fn layer(settings: &MonitoringSettings) -> Box<dyn Layer<Registry> + Send + Sync> {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log_filter().unwrap_or_else(|| "info".into())));
    // pdf-extract warns once per unknown glyph (hundreds of lines for one PDF); only its errors
    // are worth a log line, unless the filter asks for it by name.
    if !filter.to_string().contains(NOISY_TARGET)
        && let Ok(directive) = format!("{NOISY_TARGET}=error").parse()
    {
        filter = filter.add_directive(directive);
    }
    // This crate's spans are always recorded (they write no line of their own), so their
    // fields reach every line written inside them at any level.
    let own_spans = filter_fn(|meta| meta.is_span() && meta.target().starts_with("fileproc"));
    let filter = filter.or(own_spans);
    let base = fmt::layer().with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => base.with_filter(filter).boxed(),
    }
}

/// Log panics as one `error` line with their message, location and thread.
pub fn log_panics() {
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
