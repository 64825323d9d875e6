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

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber, span};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, fmt};

use crate::config::{LogFormat, MonitoringSettings};

/// A library target whose warnings are noise at the default levels.
const NOISY_TARGET: &str = "pdf_extract";

/// The log layer the settings ask for (unfiltered: [`Filter`] decides for every layer).
pub fn layer<S>(settings: &MonitoringSettings) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use std::io::IsTerminal as _;
    let base = fmt::layer().with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
        // Colours only for a terminal, not for a file or a pipe.
        LogFormat::Text => base.with_ansi(std::io::stderr().is_terminal()).boxed(),
    }
}

/// What is recorded at all, for logs and traces alike: what `monitoring.log_level` (or
/// `RUST_LOG`) enables, and this crate's spans at `info` and above whatever the level. The
/// spans write no line of their own; their fields reach every line written inside them, and
/// they are what traces are made of.
///
/// One filter for the whole stack, not one per layer: per-layer filters lose spans when there
/// are two of them (seen here on the production stack; see also
/// https://github.com/tokio-rs/tracing/issues/2929).
pub struct Filter {
    env: EnvFilter,
    /// Why `RUST_LOG` was set but not used, to be logged once logging works.
    pub rejected_rust_log: Option<String>,
}

impl Filter {
    /// The filter of `settings` (`RUST_LOG` wins over `monitoring.log_level` when set and
    /// valid; an invalid one is set aside and said so in [`Filter::rejected_rust_log`]).
    pub fn new(settings: &MonitoringSettings) -> Filter {
        let from_settings =
            || EnvFilter::new(settings.log_filter().unwrap_or_else(|| "info".into()));
        let (mut env, rejected_rust_log) = match std::env::var(EnvFilter::DEFAULT_ENV) {
            Ok(text) if !text.trim().is_empty() => match EnvFilter::try_new(&text) {
                Ok(filter) => (filter, None),
                Err(e) => (
                    from_settings(),
                    Some(format!(
                        "RUST_LOG = {text:?} is not a filter ({e}); using LOG_LEVEL"
                    )),
                ),
            },
            _ => (from_settings(), None),
        };
        // pdf-extract warns once per unknown glyph (hundreds of lines for one PDF); only its
        // errors are worth a log line, unless the filter asks for it by name.
        if !env.to_string().contains(NOISY_TARGET)
            && let Ok(directive) = format!("{NOISY_TARGET}=error").parse()
        {
            env = env.add_directive(directive);
        }
        Filter {
            env,
            rejected_rust_log,
        }
    }
}

/// One of this crate's spans at `info` or above.
fn own_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("fileproc") && *meta.level() <= tracing::Level::INFO
}

impl<S> Layer<S> for Filter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if own_span(meta) {
            Interest::always()
        } else {
            <EnvFilter as Layer<S>>::register_callsite(&self.env, meta)
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        own_span(meta) || self.env.enabled(meta, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.env
            .max_level_hint()
            .map(|hint| hint.max(LevelFilter::INFO))
    }

    // The span hooks keep the filter's span-scoped directives (`[span{field=value}]=debug`)
    // working.
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        self.env.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        self.env.on_record(id, values, ctx);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.env.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.env.on_exit(id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.env.on_close(id, ctx);
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
