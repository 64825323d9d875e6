//! Environment variables as a figment provider.
//!
//! The names are the replaced service's (`SERVER_PORT`, `DB_HOST`, `S3_BUCKET`...; DESIGN.md section 3),
//! mapped one by one to keys of the settings tree, plus `FILEPROC_<SECTION>__<KEY>` for every key.
//! figment's own `Env` reads only the process environment and names a bad value by its key path
//! (`SERVER.PORT`); this provider reads a given list, so tests need not touch the process, and names
//! the variable that was actually set (`SERVER_PORT`) in errors. Values go through figment's own
//! parsing (`"8080"` is a number, `"true"` a bool), except for keys that hold text such as passwords,
//! which stay exactly as written (`DB_PASSWORD=007` stays `"007"`).

use std::collections::HashMap;
use std::sync::Arc;

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

/// The replaced service's variable names and the keys they set, lowest precedence first: when two
/// variables set the same key, the later one in this list wins, and `FILEPROC_*` wins over all.
pub const ENV_NAMES: &[(&str, &str)] = &[
    ("SERVER_HOST", "server.host"),
    ("SERVER_PORT", "server.port"),
    ("SERVER_MAX_UPLOAD_SIZE", "server.max_upload_size"),
    ("SERVER_PUBLIC_URL", "server.public_url"),
    ("DB_DRIVER", "database.driver"),
    ("DB_HOST", "database.host"),
    ("DB_PORT", "database.port"),
    ("DB_NAME", "database.name"),
    ("DB_USER", "database.user"),
    ("DB_PASSWORD", "database.password"),
    ("DB_SSLMODE", "database.sslmode"),
    ("DB_SSL_MODE", "database.sslmode"),
    ("DATABASE_URL", "database.url"),
    ("REDIS_HOST", "redis.host"),
    ("REDIS_PORT", "redis.port"),
    ("REDIS_PASSWORD", "redis.password"),
    ("REDIS_DB", "redis.db"),
    ("REDIS_URL", "redis.url"),
    ("REDIS_CACHE_TTL", "redis.cache_ttl"),
    ("STORAGE_PROVIDER", "storage.provider"),
    ("LOCAL_STORAGE_PATH", "storage.local_path"),
    ("STORAGE_PREFIX", "storage.prefix"),
    ("UPLOAD_EXPIRY", "storage.upload_expiry"),
    ("S3_BUCKET", "storage.bucket"),
    ("S3_ENDPOINT", "storage.endpoint"),
    ("MINIO_ENDPOINT", "storage.endpoint"),
    ("AWS_REGION", "storage.region"),
    ("AWS_ACCESS_KEY_ID", "storage.access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "storage.secret_access_key"),
    ("MINIO_BUCKET", "storage.bucket"),
    ("MINIO_ACCESS_KEY", "storage.access_key_id"),
    ("MINIO_SECRET_KEY", "storage.secret_access_key"),
    ("S3_FORCE_PATH_STYLE", "storage.force_path_style"),
    ("MINIO_USE_SSL", "storage.use_ssl"),
    ("STORAGE_ENCRYPTION_ENABLED", "storage.encryption.enabled"),
    ("STORAGE_ENCRYPTION_KEY_ID", "storage.encryption.key_id"),
    ("STORAGE_ENCRYPTION_KEY", "storage.encryption.keys.default"),
    ("STORAGE_COMPRESSION", "storage.compression.algorithm"),
    ("STORAGE_COMPRESSION_LEVEL", "storage.compression.level"),
    ("PROCESSING_WORKER_COUNT", "processing.worker_count"),
    ("PROCESSING_TIMEOUT", "processing.timeout"),
    ("PROCESSING_MEMORY_LIMIT", "processing.memory_limit"),
    ("PROCESSING_MAX_RETRIES", "processing.max_retries"),
    ("SECURITY_VIRUS_SCANNING", "security.virus_scanning"),
    ("AUTH_MODE", "security.auth.mode"),
    ("API_KEYS", "security.auth.api_keys"),
    ("JWT_SECRET", "security.auth.jwt.secret"),
    ("JWT_PUBLIC_KEY_FILE", "security.auth.jwt.public_key_file"),
    ("JWT_JWKS_FILE", "security.auth.jwt.jwks_file"),
    ("JWT_ISSUER", "security.auth.jwt.issuer"),
    ("JWT_AUDIENCE", "security.auth.jwt.audience"),
    ("RATE_LIMIT_PER_IP", "security.rate_limit.per_ip"),
    ("RATE_LIMIT_PER_OWNER", "security.rate_limit.per_owner"),
    ("CORS_ALLOWED_ORIGINS", "security.cors.allowed_origins"),
    ("CLAMAV_HOST", "security.clamav_host"),
    ("CLAMAV_PORT", "security.clamav_port"),
    ("CLAMAV_TIMEOUT", "security.clamav_timeout"),
    ("SECURITY_SCAN_OVERSIZE", "security.scan_oversize"),
    ("LOG_LEVEL", "monitoring.log_level"),
    ("LOG_FORMAT", "monitoring.log_format"),
    ("METRICS_PORT", "monitoring.metrics_port"),
    ("MONITORING_PPROF_ENABLED", "monitoring.pprof_enabled"),
    ("TRACING_ENABLED", "monitoring.tracing_enabled"),
    ("TRACING_ENDPOINT", "monitoring.tracing_endpoint"),
    ("TRACING_SAMPLE_RATE", "monitoring.tracing_sample_rate"),
];

/// The prefix of the generic names: `FILEPROC_SERVER__PORT` sets `server.port`.
pub const ENV_PREFIX: &str = "FILEPROC_";

/// The variable that names the YAML file; read by `Settings::load`, not mapped to a key.
pub const CONFIG_PATH_VAR: &str = "CONFIG_PATH";

/// The sections a `FILEPROC_` name may address.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "redis",
    "storage",
    "processing",
    "security",
    "monitoring",
    "websocket",
];

/// Keys whose values are text and must not be parsed into numbers, bools, lists or maps.
const TEXT_KEYS: &[&str] = &[
    "server.host",
    "server.public_url",
    "database.url",
    "database.host",
    "database.name",
    "database.user",
    "database.password",
    "database.sslmode",
    "database.sqlite_path",
    "redis.url",
    "redis.host",
    "redis.username",
    "redis.password",
    "storage.local_path",
    "storage.bucket",
    "storage.endpoint",
    "storage.region",
    "storage.access_key_id",
    "storage.secret_access_key",
    "storage.prefix",
    "storage.encryption.key_id",
    "processing.temp_dir",
    "security.clamav_host",
    "security.allowed_extensions",
    "security.blocked_extensions",
    "security.auth.api_keys",
    "security.auth.jwt.secret",
    "security.auth.jwt.public_key_file",
    "security.auth.jwt.jwks_file",
    "security.auth.jwt.issuer",
    "security.auth.jwt.audience",
    "security.cors.allowed_origins",
    "monitoring.log_level",
    "monitoring.tracing_endpoint",
];

/// Whether `key` holds text: one of [`TEXT_KEYS`], or an encryption key (base64, kept as written).
fn is_text_key(key: &str) -> bool {
    TEXT_KEYS.contains(&key) || key.starts_with("storage.encryption.keys.")
}

/// The key a variable sets, with its precedence rank (higher wins), or `None` if it sets none
/// (the loader ignores such a variable). A `FILEPROC_` name maps to a key under a known section
/// whether or not that key exists; serde ignores keys it does not know, so a caller checking
/// names (the deployment tests) also looks the key up in `configs/config.yaml`.
pub fn key_for(name: &str) -> Option<(String, usize)> {
    if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let mut parts = key.split('.');
        let section_known = parts.next().is_some_and(|s| SECTIONS.contains(&s));
        if section_known && key.contains('.') && key.split('.').all(|p| !p.is_empty()) {
            return Some((key, ENV_NAMES.len()));
        }
        return None;
    }
    ENV_NAMES
        .iter()
        .position(|(var, _)| *var == name)
        .map(|rank| (ENV_NAMES[rank].1.to_owned(), rank))
}

/// Settings from a list of environment variables. Variables that set no key, and empty values
/// (`DB_HOST=` means unset, as it did in the replaced service), are ignored.
#[derive(Clone, Debug)]
pub struct EnvProvider {
    /// `(variable, key, value)` in the order they apply: the last one for a key wins.
    entries: Vec<(String, String, String)>,
}

impl EnvProvider {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut ranked: Vec<(usize, String, String, String)> = vars
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .filter_map(|(var, value)| {
                let (key, rank) = key_for(&var)?;
                Some((rank, var, key, value))
            })
            .collect();
        // Ties (two FILEPROC_ spellings of one key) fall back to the name, so the result never
        // depends on the order the operating system lists variables in.
        ranked.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let entries = ranked
            .into_iter()
            .map(|(_, var, key, value)| (var, key, value))
            .collect();
        EnvProvider { entries }
    }
}

impl Provider for EnvProvider {
    fn metadata(&self) -> Metadata {
        let names: HashMap<String, String> = self
            .entries
            .iter()
            .map(|(var, key, _)| (key.clone(), var.clone()))
            .collect();
        let names = Arc::new(names);
        Metadata::named("environment variable").interpolater(move |_: &Profile, path: &[&str]| {
            let key = path.join(".");
            names
                .get(&key)
                .cloned()
                .unwrap_or_else(|| key.to_ascii_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut root = Dict::new();
        for (_, key, raw) in &self.entries {
            let value = if is_text_key(key) {
                Value::from(raw.clone())
            } else {
                raw.parse::<Value>()
                    .unwrap_or_else(|_| Value::from(raw.clone()))
            };
            let path: Vec<&str> = key.split('.').collect();
            insert(&mut root, &path, value);
        }
        Ok(Profile::Default.collect(root))
    }
}

/// Puts `value` at `path` in `dict`, making the dictionaries on the way.
fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
