//! Configuration: one tree of settings, read once at start-up and validated before anything runs.
//!
//! Layers, later wins (DESIGN.md section 3): the defaults written below, then a YAML file (the one
//! `CONFIG_PATH` names, which must exist, else `configs/config.yaml` if present), then environment
//! variables: the replaced service's names (`SERVER_PORT`, `DB_HOST`, `S3_BUCKET`...; see
//! [`env::ENV_NAMES`]) and `FILEPROC_<SECTION>__<KEY>` for any key (`FILEPROC_WEBSOCKET__PING_INTERVAL`).
//!
//! Units: durations are seconds when written as a bare number, or carry a unit (`500ms`, `90s`, `5m`,
//! `1h30m`); sizes are bytes when a bare number, or carry a unit where `KB`/`MB`/`GB` are powers of
//! 1000 and `KiB`/`MiB`/`GiB` powers of 1024 (`10MB` = 10 000 000 bytes, `10MiB` = 10 485 760).
//!
//! Secrets (passwords, keys, URLs that may hold a password) are `SecretString`: `Debug` prints
//! `[REDACTED]`, and error messages mask them.

mod access;
mod encryption;
mod env;
mod error;
mod formats;
mod load;
mod units;
mod urls;
mod validate;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

pub use access::{AuthSettings, CorsSettings, JwtSettings, RateLimitSettings};
pub use encryption::{
    BadKey, CHUNK_SIZE_RANGE, EncryptionSettings, KEY_LEN, Key, MAX_KEY_ID_LEN, valid_key_id,
};
pub use env::{CONFIG_PATH_VAR, ENV_NAMES, ENV_PREFIX, key_for};
pub use error::ConfigError;
pub use formats::{ArchiveSettings, CsvSettings, ImageSettings, PdfSettings};
pub use load::DEFAULT_CONFIG_PATH;
pub use units::{format_duration, parse_byte_size, parse_duration};
pub use urls::CatalogUrl;
pub(crate) use urls::redact_url;

/// All settings of the service, one section per part (the replaced service's eight sections).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The HTTP listener and request limits.
    pub server: ServerSettings,
    /// The catalog: SQLite (default) or PostgreSQL.
    pub database: DatabaseSettings,
    /// The cache and progress bus: Redis when configured, in-process otherwise.
    pub redis: RedisSettings,
    /// The blob store: local disk (default), S3 or MinIO.
    pub storage: StorageSettings,
    /// The worker pool and its jobs.
    pub processing: ProcessingSettings,
    /// Upload checks: virus scan, extensions, file names.
    pub security: SecuritySettings,
    /// Logs, metrics, profiles, traces.
    pub monitoring: MonitoringSettings,
    /// WebSocket progress connections.
    pub websocket: WebSocketSettings,
}

/// `server` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address to listen on (`SERVER_HOST`). Default `0.0.0.0`.
    #[serde(deserialize_with = "units::string")]
    pub host: String,
    /// TCP port to listen on (`SERVER_PORT`); 0 picks a free port. Default 8080.
    #[serde(deserialize_with = "units::port")]
    pub port: u16,
    /// Largest accepted upload, in bytes (`SERVER_MAX_UPLOAD_SIZE`, e.g. `104857600`, `100MiB`,
    /// `1GB`). Default 100 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_upload_size: u64,
    /// Time allowed to receive a request's headers (duration). Default 30 s.
    #[serde(deserialize_with = "units::duration")]
    pub read_timeout: Duration,
    /// Time allowed to answer a request, uploads and downloads excepted (duration). Default 30 s.
    #[serde(deserialize_with = "units::duration")]
    pub write_timeout: Duration,
    /// Time an idle keep-alive connection stays open (duration). Default 120 s.
    #[serde(deserialize_with = "units::duration")]
    pub idle_timeout: Duration,
    /// Time given to requests and jobs in flight to finish on shutdown (duration). Default 30 s.
    #[serde(deserialize_with = "units::duration")]
    pub shutdown_timeout: Duration,
    /// The URL clients reach this service at (`SERVER_PUBLIC_URL`, e.g. `https://files.example.com`),
    /// used to build `websocket_url`; unset, it is derived from each request's `Host`.
    #[serde(deserialize_with = "units::opt_string")]
    pub public_url: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "0.0.0.0".into(),
            port: 8080,
            max_upload_size: 100 * 1024 * 1024,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(30),
            public_url: None,
        }
    }
}

impl ServerSettings {
    /// `host:port` to bind, with an IPv6 host in brackets.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The WebSocket URL for one file's progress (`wss://host/ws?file_id=...`), from `public_url`;
    /// `None` when `public_url` is unset, and the caller derives it from the request.
    pub fn websocket_url(&self, file_id: &str) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        let base = match base.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => format!("ws://{base}"),
        };
        Some(format!("{base}/ws?file_id={file_id}"))
    }
}

/// `database` section. See [`DatabaseSettings::connection_url`] for how the backend is chosen.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Full connection URL (`DATABASE_URL`): `postgres://`, `postgresql://` or `sqlite:PATH`. Wins
    /// over every other key of this section but the pool sizes.
    #[serde(deserialize_with = "units::opt_secret")]
    pub url: Option<SecretString>,
    /// `sqlite` or `postgres` (`DB_DRIVER`); unset, it follows `url`, else `host` (PostgreSQL when set),
    /// else SQLite.
    pub driver: Option<DatabaseDriver>,
    /// PostgreSQL host (`DB_HOST`); setting it selects PostgreSQL. Default unset.
    #[serde(deserialize_with = "units::opt_string")]
    pub host: Option<String>,
    /// PostgreSQL port (`DB_PORT`). Default 5432.
    #[serde(deserialize_with = "units::port")]
    pub port: u16,
    /// PostgreSQL database name (`DB_NAME`). Default `fileproc`.
    #[serde(deserialize_with = "units::string")]
    pub name: String,
    /// PostgreSQL user (`DB_USER`). Default `postgres`.
    #[serde(deserialize_with = "units::string")]
    pub user: String,
    /// PostgreSQL password (`DB_PASSWORD`). Default unset.
    #[serde(deserialize_with = "units::opt_secret")]
    pub password: Option<SecretString>,
    /// PostgreSQL TLS mode (`DB_SSLMODE`): disable, allow, prefer, require, verify-ca, verify-full.
    /// Default `prefer`.
    #[serde(deserialize_with = "units::string")]
    pub sslmode: String,
    /// Most connections in the pool. Default 10.
    pub max_connections: u32,
    /// Connections kept open while idle. Default 0.
    pub min_connections: u32,
    /// Time to wait for a connection from the pool (duration). Default 10 s.
    #[serde(deserialize_with = "units::duration")]
    pub acquire_timeout: Duration,
    /// SQLite database file, used when no PostgreSQL is configured. Default `./data/fileproc.db`.
    pub sqlite_path: PathBuf,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            driver: None,
            host: None,
            port: 5432,
            name: "fileproc".into(),
            user: "postgres".into(),
            password: None,
            sslmode: "prefer".into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(10),
            sqlite_path: PathBuf::from("./data/fileproc.db"),
        }
    }
}

/// `redis` section. See [`RedisSettings::connection_url`].
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// Full connection URL (`REDIS_URL`): `redis://`, `rediss://` (TLS) or `redis+unix://`. Wins over
    /// the other keys.
    #[serde(deserialize_with = "units::opt_secret")]
    pub url: Option<SecretString>,
    /// Redis host (`REDIS_HOST`); setting it (or `url`) turns Redis on. Default unset: in-process
    /// cache and progress bus.
    #[serde(deserialize_with = "units::opt_string")]
    pub host: Option<String>,
    /// Redis port (`REDIS_PORT`). Default 6379.
    #[serde(deserialize_with = "units::port")]
    pub port: u16,
    /// Redis ACL user name (Redis 6+). Default unset.
    #[serde(deserialize_with = "units::opt_string")]
    pub username: Option<String>,
    /// Redis password (`REDIS_PASSWORD`). Default unset.
    #[serde(deserialize_with = "units::opt_secret")]
    pub password: Option<SecretString>,
    /// Database number (`REDIS_DB`). Default 0.
    pub db: u32,
    /// Time to live of cached results and metadata (duration). Default 1 h.
    #[serde(deserialize_with = "units::duration")]
    pub cache_ttl: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            host: None,
            port: 6379,
            username: None,
            password: None,
            db: 0,
            cache_ttl: Duration::from_secs(3600),
        }
    }
}

/// `storage` section: where blobs (originals, thumbnails, parts) live.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    /// `local`, `s3` or `minio` (`STORAGE_PROVIDER`). Default `local`.
    pub provider: StorageProvider,
    /// Directory for `local` (`LOCAL_STORAGE_PATH`). Default `./data/files`.
    pub local_path: PathBuf,
    /// Bucket for `s3` and `minio` (`S3_BUCKET`); required for them.
    #[serde(deserialize_with = "units::opt_string")]
    pub bucket: Option<String>,
    /// Endpoint URL for MinIO or another S3-compatible server (`S3_ENDPOINT`, `MINIO_ENDPOINT`);
    /// unset for AWS itself. Required for `minio`.
    #[serde(deserialize_with = "units::opt_string")]
    pub endpoint: Option<String>,
    /// Region (`AWS_REGION`). Default `us-east-1`.
    #[serde(deserialize_with = "units::string")]
    pub region: String,
    /// Access key id (`AWS_ACCESS_KEY_ID`); unset, the AWS default credential chain applies.
    #[serde(deserialize_with = "units::opt_string")]
    pub access_key_id: Option<String>,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`).
    #[serde(deserialize_with = "units::opt_secret")]
    pub secret_access_key: Option<SecretString>,
    /// Allow plain-HTTP endpoints. Unset, it is true exactly when `endpoint` starts with `http://`;
    /// see [`StorageSettings::allow_http`].
    #[serde(deserialize_with = "opt_boolean")]
    pub allow_http: Option<bool>,
    /// Address buckets path-style (`https://host/bucket/key`) rather than virtual-hosted-style
    /// (`https://bucket.host/key`) (`S3_FORCE_PATH_STYLE`). Unset, path-style exactly when an
    /// `endpoint` is set (MinIO and most S3-compatible servers need it; AWS prefers the other).
    #[serde(deserialize_with = "opt_boolean")]
    pub force_path_style: Option<bool>,
    /// For an `endpoint` written without a scheme (`minio:9000`, as `MINIO_ENDPOINT` often is):
    /// reach it over HTTPS (`MINIO_USE_SSL=true`) or plain HTTP (false, the default). An endpoint
    /// with a scheme keeps it.
    #[serde(deserialize_with = "opt_boolean")]
    pub use_ssl: Option<bool>,
    /// Key prefix under which every object is stored, for sharing one bucket between
    /// deployments (`STORAGE_PREFIX`), e.g. `staging`. Default: none.
    #[serde(deserialize_with = "units::opt_string")]
    pub prefix: Option<String>,
    /// Part size a chunked upload gets when its init names none (`chunk_size`), in bytes.
    /// Default 5 MiB, S3's smallest part but the last.
    #[serde(deserialize_with = "units::byte_size")]
    pub chunk_size: u64,
    /// How long an unfinished chunked or tus upload lives after its last part or PATCH before
    /// it and its parts are removed (duration, `UPLOAD_EXPIRY`). Default 24 h.
    #[serde(deserialize_with = "units::duration")]
    pub upload_expiry: Duration,
    /// How often expired uploads are looked for and removed (duration). Default 5 min.
    #[serde(deserialize_with = "units::duration")]
    pub upload_cleanup_interval: Duration,
    /// Encryption at rest of every object (`storage.encryption`): keys, the key to seal with,
    /// chunk size. Off by default.
    pub encryption: EncryptionSettings,
    /// Compression at rest of originals (`storage.compression`): algorithm, level, the ratio a
    /// file's sample must reach. zstd at level 1 by default.
    pub compression: CompressionSettings,
}

/// `storage.compression` section: originals stored zstd-compressed when their first frame
/// shrinks enough (see `crate::blob::compress`); downloads and processing see the original
/// bytes.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CompressionSettings {
    /// `zstd` or `none` (`STORAGE_COMPRESSION`). Default `zstd`.
    pub algorithm: CompressionAlgorithm,
    /// zstd level, 1 (fastest) to 19 (`STORAGE_COMPRESSION_LEVEL`). Default 1: on the 100 MB
    /// benchmark CSV it stores 3.12 times less, level 3 (zstd's own default) 3.26 times, for
    /// a fifth more upload CPU (BENCHMARKS.md).
    pub level: i32,
    /// Smallest ratio of original to stored bytes, measured on the file's first frame (1 MiB),
    /// for which the file is stored compressed; below it the file is stored as it is. Default
    /// 1.2 (a saving of a sixth). Must be at least 1.
    pub min_ratio: f64,
}

impl Default for CompressionSettings {
    fn default() -> Self {
        CompressionSettings {
            algorithm: CompressionAlgorithm::Zstd,
            level: 1,
            min_ratio: 1.2,
        }
    }
}

impl CompressionSettings {
    /// Whether originals are compressed at all.
    pub fn enabled(&self) -> bool {
        self.algorithm != CompressionAlgorithm::None
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            provider: StorageProvider::Local,
            local_path: PathBuf::from("./data/files"),
            bucket: None,
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: None,
            force_path_style: None,
            use_ssl: None,
            prefix: None,
            chunk_size: 5 * 1024 * 1024,
            upload_expiry: Duration::from_secs(24 * 3600),
            upload_cleanup_interval: Duration::from_secs(300),
            encryption: EncryptionSettings::default(),
            compression: CompressionSettings::default(),
        }
    }
}

impl StorageSettings {
    /// Whether plain HTTP may be used to reach `endpoint`: the `allow_http` key if set, else whether
    /// the endpoint is an `http://` URL (a local MinIO usually is).
    pub fn allow_http(&self) -> bool {
        self.allow_http.unwrap_or_else(|| {
            self.endpoint_url()
                .is_some_and(|e| e.starts_with("http://"))
        })
    }

    /// The endpoint as a URL: as written when it has a scheme, else with `https://` or
    /// `http://` as `use_ssl` says.
    pub fn endpoint_url(&self) -> Option<String> {
        let endpoint = self.endpoint.as_deref()?;
        if endpoint.contains("://") {
            return Some(endpoint.to_owned());
        }
        let scheme = if self.use_ssl == Some(true) {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{endpoint}"))
    }

    /// Whether buckets are addressed path-style; see `force_path_style`.
    pub fn path_style(&self) -> bool {
        self.force_path_style.unwrap_or(self.endpoint.is_some())
    }
}

/// `processing` section: the worker pool and the jobs it runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ProcessingSettings {
    /// Workers per instance (`PROCESSING_WORKER_COUNT`). 0 makes an instance that serves the
    /// API and runs no jobs (others sharing the catalog run them). Default 4.
    pub worker_count: u32,
    /// Longest a job may run before it is failed (`PROCESSING_TIMEOUT`, duration). Default 300 s.
    #[serde(deserialize_with = "units::duration")]
    pub timeout: Duration,
    /// Retries of a failed job before it stays failed (`PROCESSING_MAX_RETRIES`). Default 3.
    pub max_retries: u32,
    /// First retry delay, doubled on each later retry (duration). Default 2 s.
    #[serde(deserialize_with = "units::duration")]
    pub retry_backoff: Duration,
    /// How long a claimed job stays a worker's without renewal; a dead worker's job is claimed again
    /// after it (duration). Default 30 s.
    #[serde(deserialize_with = "units::duration")]
    pub lease_duration: Duration,
    /// How often idle workers look for jobs when no wake-up arrives (duration). Default 1 s.
    #[serde(deserialize_with = "units::duration")]
    pub poll_interval: Duration,
    /// Memory one job may use for decoded data, in bytes (`PROCESSING_MEMORY_LIMIT`, e.g.
    /// `512MiB`): the image decoders refuse larger pixel buffers. Default 512 MiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub memory_limit: u64,
    /// Records (CSV rows, sheet rows) included in a result; all are at `/records`. Default 100.
    pub preview_records: u32,
    /// Thumbnails, WebP conversion and image limits.
    pub image: ImageSettings,
    /// PDF text and limits.
    pub pdf: PdfSettings,
    /// DOCX and XLSX container limits.
    pub archive: ArchiveSettings,
    /// CSV record limits.
    pub csv: CsvSettings,
    /// Scratch directory for jobs; unset, the system's temporary directory.
    pub temp_dir: Option<PathBuf>,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            worker_count: 4,
            timeout: Duration::from_secs(300),
            max_retries: 3,
            retry_backoff: Duration::from_secs(2),
            lease_duration: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            memory_limit: 512 * 1024 * 1024,
            preview_records: 100,
            image: ImageSettings::default(),
            pdf: PdfSettings::default(),
            archive: ArchiveSettings::default(),
            csv: CsvSettings::default(),
            temp_dir: None,
        }
    }
}

/// `security` section: checks on every upload.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SecuritySettings {
    /// Scan every file with ClamAV (clamd over TCP) before it is processed
    /// (`SECURITY_VIRUS_SCANNING`; also read as `enable_virus_scanning`). An infected file is
    /// quarantined: never processed, never served. See [`crate::scan`]. Default false.
    #[serde(deserialize_with = "units::boolean", alias = "enable_virus_scanning")]
    pub virus_scanning: bool,
    /// clamd host (`CLAMAV_HOST`). Default `localhost`.
    #[serde(deserialize_with = "units::string")]
    pub clamav_host: String,
    /// clamd TCP port (`CLAMAV_PORT`). Default 3310.
    #[serde(deserialize_with = "units::port")]
    pub clamav_port: u16,
    /// Longest one scan may take, connection included (duration, `CLAMAV_TIMEOUT`); past it
    /// clamd counts as unavailable and the job is retried. Default 60 s.
    #[serde(deserialize_with = "units::duration")]
    pub clamav_timeout: Duration,
    /// What to do with a file larger than clamd scans (its `StreamMaxLength`, or a limit it
    /// reports as `Heuristics.Limits.Exceeded`): `refuse` fails its processing with
    /// `not_scanned`, `process` processes it unscanned; either way its `virus_scan.status` is
    /// `not_scanned` (`SECURITY_SCAN_OVERSIZE`). Default `refuse`: scanning was asked for.
    pub scan_oversize: OversizePolicy,
    /// Extensions accepted, lower case without the dot (a list, or one comma-separated string).
    #[serde(deserialize_with = "units::string_list")]
    pub allowed_extensions: Vec<String>,
    /// Extensions always refused, even if also allowed.
    #[serde(deserialize_with = "units::string_list")]
    pub blocked_extensions: Vec<String>,
    /// Longest accepted file name, in bytes of UTF-8; longer names are cut (keeping the
    /// extension). Default 255.
    pub max_filename_length: u32,
    /// Who may call the API.
    pub auth: AuthSettings,
    /// Requests per client IP and per owner.
    pub rate_limit: RateLimitSettings,
    /// Cross-origin browser calls.
    pub cors: CorsSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        SecuritySettings {
            virus_scanning: false,
            clamav_host: "localhost".into(),
            clamav_port: 3310,
            clamav_timeout: Duration::from_secs(60),
            scan_oversize: OversizePolicy::Refuse,
            allowed_extensions: list(&[
                "csv", "tsv", "txt", "pdf", "docx", "xlsx", "jpg", "jpeg", "png", "webp",
            ]),
            blocked_extensions: list(&[
                "exe", "dll", "bat", "cmd", "sh", "js", "msi", "scr", "com",
            ]),
            max_filename_length: 255,
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            cors: CorsSettings::default(),
        }
    }
}

/// `monitoring` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MonitoringSettings {
    /// Log level or filter (`LOG_LEVEL`): trace, debug, info, warn, error, off, or directives such as
    /// `info,fileproc=debug`. `warning`, `fatal` and `panic` (the replaced service's) are accepted;
    /// see [`MonitoringSettings::log_filter`]. Default `info`.
    #[serde(deserialize_with = "units::string")]
    pub log_level: String,
    /// `json` (one object per line, for log collectors) or `text` (for people; `pretty` is the same)
    /// (`LOG_FORMAT`). Default `json`, since the service's logs are meant to be collected; set `text`
    /// for local runs.
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at `/metrics`. Default true.
    #[serde(deserialize_with = "units::boolean")]
    pub metrics_enabled: bool,
    /// Serve `/metrics` on this port alone (`METRICS_PORT`, on `server.host`), and no longer on
    /// the main port, so that it need not be exposed with the API. Unset (the default): on the
    /// main port. 0 picks a free port (tests).
    #[serde(deserialize_with = "units::opt_port")]
    pub metrics_port: Option<u16>,
    /// Serve CPU profiles at `/debug/pprof/profile` (`MONITORING_PPROF_ENABLED`). Default false.
    #[serde(deserialize_with = "units::boolean")]
    pub pprof_enabled: bool,
    /// Export traces over OTLP (`TRACING_ENABLED`). Default false.
    #[serde(deserialize_with = "units::boolean")]
    pub tracing_enabled: bool,
    /// OTLP/HTTP endpoint of a collector (`TRACING_ENDPOINT`): a base such as
    /// `http://localhost:4318` (spans go to `/v1/traces` under it) or the full traces URL. Unset:
    /// `http://localhost:4318`. OTLP over gRPC (port 4317) is not spoken.
    #[serde(deserialize_with = "units::opt_string")]
    pub tracing_endpoint: Option<String>,
    /// Share of new traces kept, 0 to 1 (`TRACING_SAMPLE_RATE`); a request whose `traceparent`
    /// says sampled is always kept, and its job with it. Default 1.
    pub tracing_sample_rate: f64,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            log_level: "info".into(),
            log_format: LogFormat::Json,
            metrics_enabled: true,
            metrics_port: None,
            pprof_enabled: false,
            tracing_enabled: false,
            tracing_endpoint: None,
            tracing_sample_rate: 1.0,
        }
    }
}

/// `websocket` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WebSocketSettings {
    /// How often the server pings each client (duration; also read as `ping_interval`, the
    /// replaced service's name). Default 54 s, nine tenths of `pong_timeout`.
    #[serde(deserialize_with = "units::duration", alias = "ping_interval")]
    pub ping_period: Duration,
    /// The read deadline: a client not heard from (pong or message) for this long is dropped
    /// (duration). Default 60 s.
    #[serde(deserialize_with = "units::duration")]
    pub pong_timeout: Duration,
    /// The write deadline: a client that does not take a frame within this long is dropped
    /// (duration). Default 10 s.
    #[serde(deserialize_with = "units::duration")]
    pub write_timeout: Duration,
    /// Most open WebSocket and SSE connections per instance; beyond it the upgrade is refused
    /// with 503. Default 1000.
    pub max_connections: u32,
    /// Events a connection may fall behind by before it loses intermediate ones and catches up
    /// from the catalog (its last frame still agrees with the status). Default 4096.
    pub event_backlog: u32,
    /// Largest message accepted from a client, in bytes. Default 64 KiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub max_message_size: u64,
    /// Read buffer per connection, in bytes: allocated for every open connection, so small
    /// (clients send little). Default 8 KiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub read_buffer_size: u64,
    /// Write buffer per connection, in bytes. Default 128 KiB (the WebSocket library's default).
    #[serde(deserialize_with = "units::byte_size")]
    pub write_buffer_size: u64,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        WebSocketSettings {
            ping_period: Duration::from_secs(54),
            pong_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            max_connections: 1000,
            event_backlog: 4096,
            max_message_size: 64 * 1024,
            read_buffer_size: 8 * 1024,
            write_buffer_size: 128 * 1024,
        }
    }
}

/// Defines a unit enum read from a case-insensitive string, with aliases.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = [$($text:literal),+]),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The accepted spellings; the first of each variant is its name.
            pub const NAMES: &'static [&'static str] = &[$($($text),+),+];

            /// The canonical name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => [$($text),+][0]),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                let text = text.trim().to_ascii_lowercase();
                $(if [$($text),+].contains(&text.as_str()) { return Ok($name::$variant); })+
                Err(())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = units::string(d)?;
                text.parse().map_err(|()| serde::de::Error::unknown_variant(&text, $name::NAMES))
            }
        }
    };
}

string_enum! {
    /// The catalog's database.
    DatabaseDriver { Sqlite = ["sqlite", "sqlite3"], Postgres = ["postgres", "postgresql", "pg"] }
}

string_enum! {
    /// Where blobs are stored.
    StorageProvider { Local = ["local", "filesystem"], S3 = ["s3"], Minio = ["minio"] }
}

string_enum! {
    /// How originals are compressed at rest (`storage.compression.algorithm`).
    CompressionAlgorithm { None = ["none", "off"], Zstd = ["zstd"] }
}

string_enum! {
    /// How callers authenticate (`security.auth.mode`).
    AuthMode { None = ["none", "off"], ApiKey = ["api_key", "apikey", "api-key"], Jwt = ["jwt", "bearer"] }
}

string_enum! {
    /// What happens to a file too large for the virus scanner.
    OversizePolicy { Refuse = ["refuse"], Process = ["process"] }
}

string_enum! {
    /// How log lines are written.
    LogFormat { Json = ["json"], Text = ["text", "pretty", "console"] }
}

/// An optional bool with the lenient spellings of [`units::boolean`].
fn opt_boolean<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[serde(deserialize_with = "units::boolean")] bool);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}
