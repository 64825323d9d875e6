//! The one-line configuration error: which key, which value, where it came from, what was expected.

use std::fmt;
use std::path::PathBuf;

use figment::Figment;
use figment::Source;
use figment::error::{Actual, Kind};
use figment::value::Value;

use super::urls::redact_url;

/// Why the settings could not be loaded. Display is one line, meant to be printed as the process's
/// last words, e.g. `invalid configuration: server.port = "abc" (from env SERVER_PORT): expected a
/// port number 0..65535`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key holds a value it cannot take.
    #[error(
        "invalid configuration: {key} = {value}{}: expected {expected}",
        Origin(origin)
    )]
    Invalid {
        /// The dotted key, e.g. `server.port`.
        key: String,
        /// The value as written, quoted if text; secrets masked.
        value: String,
        /// Where the value came from: `env SERVER_PORT`, `configs/config.yaml`; `None` if unknown or
        /// a default.
        origin: Option<String>,
        /// What the key takes.
        expected: String,
    },
    /// The YAML file could not be read or parsed.
    #[error("invalid configuration: {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// Anything else figment reports.
    #[error("invalid configuration: {0}")]
    Other(String),
}

struct Origin<'a>(&'a Option<String>);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(origin) => write!(f, " (from {origin})"),
            None => Ok(()),
        }
    }
}

/// Keys whose values are never shown.
fn is_secret(key: &str) -> bool {
    key.ends_with("password")
        || key.ends_with("secret_access_key")
        || key.starts_with("storage.encryption.keys")
}

/// How a value is shown in a message: text quoted, URLs with their password masked, secrets hidden.
pub(super) fn show_value(key: &str, text: &str, quoted: bool) -> String {
    if is_secret(key) {
        return "<redacted>".into();
    }
    let text = redact_url(text);
    if quoted { format!("{text:?}") } else { text }
}

/// Where the value at `key` came from, if from a file or the environment.
pub(super) fn origin_of(figment: &Figment, key: &str) -> Option<String> {
    let value = figment.find_value(key).ok()?;
    let metadata = figment.get_metadata(value.tag())?;
    describe_source(metadata, key)
}

fn describe_source(metadata: &figment::Metadata, key: &str) -> Option<String> {
    match &metadata.source {
        Some(Source::File(path)) => Some(path.display().to_string()),
        _ if metadata.name.starts_with("environment") => {
            let path: Vec<&str> = key.split('.').collect();
            Some(format!(
                "env {}",
                metadata.interpolate(&figment::Profile::Default, &path)
            ))
        }
        _ => None,
    }
}

impl ConfigError {
    /// One figment error (the first, if several) as one line.
    pub(super) fn from_figment(error: figment::Error, figment: &Figment) -> Self {
        let key = error.path.join(".");
        // A file that does not parse has no key; say which file and why.
        if key.is_empty() {
            if let Some(Source::File(path)) = error.metadata.as_ref().and_then(|m| m.source.clone())
            {
                return ConfigError::File {
                    path,
                    reason: first_line(&error.kind.to_string()),
                };
            }
            return ConfigError::Other(first_line(&error.to_string()));
        }
        let origin = error
            .metadata
            .as_ref()
            .and_then(|m| describe_source(m, &key));
        let written = figment
            .find_value(&key)
            .ok()
            .map(|v| show_figment_value(&key, &v));
        let (actual, expected) = match &error.kind {
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                (Some(show_actual(&key, actual)), friendly(expected))
            }
            Kind::UnknownVariant(actual, names) => (
                Some(show_value(&key, actual, true)),
                format!("one of {}", names.join(", ")),
            ),
            Kind::InvalidLength(len, expected) => {
                (Some(format!("{len} items")), friendly(expected))
            }
            other => (None, other.to_string()),
        };
        let value = written.or(actual).unwrap_or_else(|| "?".into());
        ConfigError::Invalid {
            key,
            value,
            origin,
            expected,
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// serde's names for primitive types, in words a user reads.
fn friendly(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" => "a list".into(),
        other if other.starts_with("struct ") => "a map of settings".into(),
        other => other.to_owned(),
    }
}

pub(super) fn show_figment_value(key: &str, value: &Value) -> String {
    match value {
        Value::String(_, s) => show_value(key, s, true),
        Value::Char(_, c) => show_value(key, &c.to_string(), true),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => match n.to_u128() {
            Some(u) => u.to_string(),
            None => n
                .to_i128()
                .map(|i| i.to_string())
                .or_else(|| n.to_f64().map(|f| f.to_string()))
                .unwrap_or_default(),
        },
        Value::Empty(..) => "null".into(),
        Value::Dict(..) => "a map".into(),
        Value::Array(_, items) => format!(
            "[{}]",
            items
                .iter()
                .map(|item| show_figment_value(key, item))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn show_actual(key: &str, actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => show_value(key, s, true),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}
