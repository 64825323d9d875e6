//! Checks on values that parse but cannot work, done at start-up rather than at first use.

use figment::Figment;
use secrecy::ExposeSecret;

use super::error::{origin_of, show_figment_value, show_value};
use super::urls::parse_database_url;
use super::{
    BadKey, CHUNK_SIZE_RANGE, ConfigError, EncryptionSettings, MonitoringSettings, Settings,
    StorageProvider, format_duration,
};

const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// Log levels, with the replaced service's spellings mapped to `tracing`'s.
fn log_level(word: &str) -> Option<&'static str> {
    Some(match word.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "fatal" | "panic" => "error",
        "off" => "off",
        _ => return None,
    })
}

impl MonitoringSettings {
    /// `log_level` as a `tracing_subscriber::EnvFilter` directive string (`warning` becomes `warn`,
    /// `fatal` and `panic` become `error`). `None` only if `validate` would refuse it.
    pub fn log_filter(&self) -> Option<String> {
        let directives = self
            .log_level
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let mut out = Vec::new();
        for directive in directives {
            match directive.rsplit_once('=') {
                Some((target, level)) if !target.trim().is_empty() => {
                    out.push(format!("{}={}", target.trim(), log_level(level)?));
                }
                Some(_) => return None,
                None => out.push(log_level(directive)?.to_owned()),
            }
        }
        (!out.is_empty()).then(|| out.join(","))
    }
}

impl Settings {
    /// Lower-cases extensions and drops a leading dot, so `.PDF` in a file means `pdf`.
    pub(super) fn normalize(&mut self) {
        for list in [
            &mut self.security.allowed_extensions,
            &mut self.security.blocked_extensions,
        ] {
            for ext in list.iter_mut() {
                *ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
            }
        }
    }

    /// The first problem found, with its origin looked up in `figment` when there is one.
    pub(super) fn check(&self, figment: Option<&Figment>) -> Result<(), ConfigError> {
        match self.first_problem() {
            None => Ok(()),
            Some(Problem {
                key,
                value,
                expected,
            }) => {
                // Show the value as it was written ("0s", not "0ns") when it was written somewhere.
                let written = figment.and_then(|f| f.find_value(&key).ok());
                Err(ConfigError::Invalid {
                    origin: figment.and_then(|f| origin_of(f, &key)),
                    value: written.map_or(value, |v| show_figment_value(&key, &v)),
                    key,
                    expected,
                })
            }
        }
    }

    fn first_problem(&self) -> Option<Problem> {
        let (server, db, redis, storage) =
            (&self.server, &self.database, &self.redis, &self.storage);
        let (processing, security, monitoring, ws) = (
            &self.processing,
            &self.security,
            &self.monitoring,
            &self.websocket,
        );

        let durations = [
            ("server.read_timeout", server.read_timeout),
            ("server.write_timeout", server.write_timeout),
            ("server.idle_timeout", server.idle_timeout),
            ("server.shutdown_timeout", server.shutdown_timeout),
            ("database.acquire_timeout", db.acquire_timeout),
            ("redis.cache_ttl", redis.cache_ttl),
            ("storage.upload_expiry", storage.upload_expiry),
            (
                "storage.upload_cleanup_interval",
                storage.upload_cleanup_interval,
            ),
            ("processing.timeout", processing.timeout),
            ("processing.retry_backoff", processing.retry_backoff),
            ("processing.lease_duration", processing.lease_duration),
            ("processing.poll_interval", processing.poll_interval),
            ("security.clamav_timeout", security.clamav_timeout),
            ("websocket.ping_period", ws.ping_period),
            ("websocket.write_timeout", ws.write_timeout),
            ("websocket.pong_timeout", ws.pong_timeout),
        ];
        if let Some((key, d)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return Some(Problem::new(
                key,
                format_duration(*d),
                "a duration greater than zero",
            ));
        }
        let counts = [
            ("server.max_upload_size", server.max_upload_size),
            ("storage.chunk_size", storage.chunk_size),
            ("websocket.event_backlog", u64::from(ws.event_backlog)),
            ("database.max_connections", u64::from(db.max_connections)),
            ("processing.memory_limit", processing.memory_limit),
            (
                "security.max_filename_length",
                u64::from(security.max_filename_length),
            ),
            ("websocket.max_connections", u64::from(ws.max_connections)),
            ("websocket.max_message_size", ws.max_message_size),
            ("websocket.read_buffer_size", ws.read_buffer_size),
            ("websocket.write_buffer_size", ws.write_buffer_size),
        ];
        if let Some((key, n)) = counts.iter().find(|(_, n)| *n == 0) {
            return Some(Problem::new(key, n.to_string(), "at least 1"));
        }

        if let Some(url) = &server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Some(Problem::text(
                "server.public_url",
                url,
                "an http:// or https:// URL",
            ));
        }

        if let Some(url) = &db.url {
            let url = url.expose_secret();
            match parse_database_url(url) {
                None => {
                    return Some(Problem::text(
                        "database.url",
                        url,
                        "a postgres://, postgresql:// or sqlite:PATH URL (sqlite without ?options)",
                    ));
                }
                Some(catalog) if db.driver.is_some_and(|d| d != catalog.driver()) => {
                    let driver = db.driver.map(|d| d.as_str()).unwrap_or_default();
                    return Some(Problem::text(
                        "database.driver",
                        driver,
                        &format!("{} or unset, to match database.url", catalog.driver()),
                    ));
                }
                Some(_) => {}
            }
        }
        if !SSL_MODES.contains(&db.sslmode.as_str()) {
            return Some(Problem::text(
                "database.sslmode",
                &db.sslmode,
                &SSL_MODES.join(", "),
            ));
        }
        if db.min_connections > db.max_connections {
            let expected = format!("at most database.max_connections ({})", db.max_connections);
            return Some(Problem::new(
                "database.min_connections",
                db.min_connections.to_string(),
                &expected,
            ));
        }

        if let Some(url) = &redis.url {
            let url = url.expose_secret();
            let schemes = ["redis://", "rediss://", "redis+unix://", "unix://"];
            if !schemes
                .iter()
                .any(|s| url.to_ascii_lowercase().starts_with(s))
            {
                return Some(Problem::text(
                    "redis.url",
                    url,
                    "a redis://, rediss:// or redis+unix:// URL",
                ));
            }
        }

        if storage.provider != StorageProvider::Local && storage.bucket.is_none() {
            let expected = format!(
                "a bucket name, since storage.provider is {}",
                storage.provider
            );
            return Some(Problem::new("storage.bucket", "(unset)".into(), &expected));
        }
        if storage.provider == StorageProvider::Minio && storage.endpoint.is_none() {
            let expected =
                "the MinIO server's URL (MINIO_ENDPOINT), since storage.provider is minio";
            return Some(Problem::new("storage.endpoint", "(unset)".into(), expected));
        }
        if let Some(endpoint) = &storage.endpoint {
            let scheme = endpoint.split_once("://").map(|(scheme, _)| scheme);
            if !matches!(scheme, None | Some("http" | "https")) || endpoint.trim().is_empty() {
                return Some(Problem::text(
                    "storage.endpoint",
                    endpoint,
                    "an http:// or https:// URL, or host:port (the scheme then from storage.use_ssl)",
                ));
            }
            let with_tls = scheme.map(|s| s == "https");
            if let (Some(with_tls), Some(use_ssl)) = (with_tls, storage.use_ssl)
                && with_tls != use_ssl
            {
                return Some(Problem::text(
                    "storage.use_ssl",
                    &use_ssl.to_string(),
                    &format!("unset or {with_tls}, since storage.endpoint is {endpoint}"),
                ));
            }
        }
        if storage.provider == StorageProvider::Local && storage.local_path.as_os_str().is_empty() {
            return Some(Problem::text("storage.local_path", "", "a directory"));
        }
        if let Some(problem) = encryption_problem(&storage.encryption) {
            return Some(problem);
        }
        let compression = &storage.compression;
        if !(1..=19).contains(&compression.level) {
            return Some(Problem::new(
                "storage.compression.level",
                compression.level.to_string(),
                "a zstd level from 1 to 19",
            ));
        }
        if !(compression.min_ratio >= 1.0 && compression.min_ratio.is_finite()) {
            return Some(Problem::new(
                "storage.compression.min_ratio",
                compression.min_ratio.to_string(),
                "a ratio of at least 1, such as 1.2",
            ));
        }

        if let Some(size) = processing
            .image
            .thumbnail_sizes
            .iter()
            .find(|w| !(16..=4096).contains(*w))
        {
            return Some(Problem::new(
                "processing.image.thumbnail_sizes",
                size.to_string(),
                "sizes from 16 to 4096 pixels",
            ));
        }
        if processing.image.thumbnail_sizes.is_empty() {
            return Some(Problem::text(
                "processing.image.thumbnail_sizes",
                "[]",
                "at least one size",
            ));
        }
        if processing.image.optimize_level > 6 {
            return Some(Problem::new(
                "processing.image.optimize_level",
                processing.image.optimize_level.to_string(),
                "an oxipng preset from 0 to 6",
            ));
        }
        if processing.image.webp_quality > 100 {
            return Some(Problem::new(
                "processing.image.webp_quality",
                processing.image.webp_quality.to_string(),
                "a quality from 0 to 100",
            ));
        }
        if security.virus_scanning && security.clamav_host.trim().is_empty() {
            return Some(Problem::text(
                "security.clamav_host",
                "",
                "a host name, since virus_scanning is on",
            ));
        }
        if let Some(ext) = (security
            .allowed_extensions
            .iter()
            .chain(&security.blocked_extensions))
        .find(|e| e.is_empty() || e.contains(['.', '/', '\\', ' ']))
        {
            let key = if security.allowed_extensions.contains(ext) {
                "security.allowed_extensions"
            } else {
                "security.blocked_extensions"
            };
            return Some(Problem::text(
                key,
                ext,
                "extensions such as pdf, without dots or spaces",
            ));
        }

        if monitoring.log_filter().is_none() {
            return Some(Problem::text(
                "monitoring.log_level",
                &monitoring.log_level,
                "trace, debug, info, warn, error, off, or directives such as info,fileproc=debug",
            ));
        }
        // Port 0 picks a free port for each listener, so only a fixed port can clash.
        if let Some(port) = monitoring.metrics_port
            && port != 0
            && port == server.port
        {
            return Some(Problem::new(
                "monitoring.metrics_port",
                port.to_string(),
                "a port other than server.port (unset serves /metrics on server.port)",
            ));
        }
        if !(0.0..=1.0).contains(&monitoring.tracing_sample_rate) {
            return Some(Problem::new(
                "monitoring.tracing_sample_rate",
                monitoring.tracing_sample_rate.to_string(),
                "a share from 0 to 1, such as 0.1",
            ));
        }
        if let Some(endpoint) = &monitoring.tracing_endpoint {
            let plain = endpoint
                .strip_prefix("http://")
                .or_else(|| endpoint.strip_prefix("https://"));
            let usable = plain.is_some_and(|rest| {
                let host = rest.split('/').next().unwrap_or_default();
                !host.is_empty() && !rest.contains(char::is_whitespace)
            });
            let parsed = endpoint.parse::<axum::http::Uri>().ok();
            // A port must be 1 to 65535 (the URI parser takes any digits).
            let port_ok = parsed
                .as_ref()
                .and_then(|uri| uri.authority())
                .and_then(|a| a.as_str().rsplit_once(':'))
                .filter(|(_, port)| !port.contains(']'))
                .is_none_or(|(_, port)| port.parse::<u16>().is_ok_and(|p| p > 0));
            if !usable || parsed.is_none() || !port_ok {
                return Some(Problem::text(
                    "monitoring.tracing_endpoint",
                    endpoint,
                    "an http:// or https:// URL of an OTLP/HTTP collector, such as http://localhost:4318",
                ));
            }
        }
        if ws.pong_timeout <= ws.ping_period {
            let expected = format!(
                "more than websocket.ping_period ({})",
                format_duration(ws.ping_period)
            );
            return Some(Problem::new(
                "websocket.pong_timeout",
                format_duration(ws.pong_timeout),
                &expected,
            ));
        }
        None
    }
}

/// The first problem of `storage.encryption`; key values are never shown.
fn encryption_problem(enc: &EncryptionSettings) -> Option<Problem> {
    if let Err(BadKey { key_id, reason }) = enc.decoded_keys() {
        let key = format!("storage.encryption.keys.{key_id}");
        return Some(Problem::new(&key, "<redacted>".into(), reason));
    }
    if !CHUNK_SIZE_RANGE.contains(&enc.chunk_size) {
        return Some(Problem::new(
            "storage.encryption.chunk_size",
            enc.chunk_size.to_string(),
            "a size from 1KiB to 16MiB",
        ));
    }
    if enc.seals() && !enc.keys.contains_key(&enc.key_id) {
        let expected = if enc.keys.is_empty() {
            "a key in storage.encryption.keys (or STORAGE_ENCRYPTION_KEY), since encryption is on"
                .to_owned()
        } else {
            let ids: Vec<&str> = enc.keys.keys().map(String::as_str).collect();
            format!("the id of a configured key ({})", ids.join(", "))
        };
        return Some(Problem::text(
            "storage.encryption.key_id",
            &enc.key_id,
            &expected,
        ));
    }
    None
}

/// One failed check: the key, the value as shown, what was expected.
struct Problem {
    key: String,
    value: String,
    expected: String,
}

impl Problem {
    fn new(key: &str, value: String, expected: &str) -> Self {
        Problem {
            key: key.to_owned(),
            value,
            expected: expected.to_owned(),
        }
    }

    /// A text value, shown quoted with secrets and URL passwords masked.
    fn text(key: &str, value: &str, expected: &str) -> Self {
        Problem::new(key, show_value(key, value, true), expected)
    }
}
