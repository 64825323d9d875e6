//! Loading from defaults, YAML and environment, without touching the process environment.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn from_env(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_sources(None, vars(pairs))
}

/// A YAML file in the temporary directory, removed on drop.
struct YamlFile(PathBuf);

impl YamlFile {
    fn new(text: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "fileproc-config-{}-{}.yaml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).expect("write temporary YAML");
        YamlFile(path)
    }
}

impl Drop for YamlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn err(result: Result<Settings, ConfigError>) -> String {
    result
        .expect_err("configuration should be refused")
        .to_string()
}

#[test]
fn defaults_are_the_documented_values() {
    let s = from_env(&[]).unwrap();
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.server.max_upload_size, 104_857_600);
    assert_eq!(s.server.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(s.database.port, 5432);
    assert_eq!(s.database.name, "fileproc");
    assert_eq!(s.redis.port, 6379);
    assert_eq!(s.storage.provider, StorageProvider::Local);
    assert_eq!(s.storage.local_path, Path::new("./data/files"));
    assert_eq!(s.storage.region, "us-east-1");
    assert_eq!(s.processing.worker_count, 4);
    assert_eq!(s.processing.timeout, Duration::from_secs(300));
    assert_eq!(s.processing.retry_backoff, Duration::from_secs(2));
    assert_eq!(s.processing.preview_records, 100);
    assert!(!s.security.virus_scanning);
    assert_eq!(s.security.clamav_port, 3310);
    assert_eq!(s.security.clamav_timeout, Duration::from_secs(60));
    assert_eq!(s.security.scan_oversize, OversizePolicy::Refuse);
    assert!(s.security.allowed_extensions.iter().any(|e| e == "xlsx"));
    assert!(s.security.blocked_extensions.iter().any(|e| e == "exe"));
    assert_eq!(s.monitoring.log_level, "info");
    assert_eq!(s.monitoring.log_format, LogFormat::Json);
    assert!(s.monitoring.metrics_enabled);
    assert_eq!(s.websocket.ping_period, Duration::from_secs(54));
    assert_eq!(s.websocket.write_timeout, Duration::from_secs(10));
    assert_eq!(s.websocket.max_connections, 1000);
    s.validate().unwrap();
}

#[test]
fn with_nothing_configured_the_catalog_is_sqlite_under_data_and_the_cache_in_process() {
    let s = from_env(&[]).unwrap();
    match s.database.connection_url() {
        CatalogUrl::Sqlite(path) => assert_eq!(path, Path::new("./data/fileproc.db")),
        other => panic!("expected SQLite, got {other:?}"),
    }
    assert!(s.redis.connection_url().is_none());
}

#[test]
fn the_sample_config_file_gives_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/config.yaml");
    let from_file = Settings::from_sources(Some(&path), Vec::new()).unwrap();
    assert_eq!(
        format!("{from_file:?}"),
        format!("{:?}", Settings::default())
    );
}

#[test]
fn yaml_overrides_defaults_and_keeps_the_rest() {
    let file = YamlFile::new(
        "server:\n  port: 9000\n  max_upload_size: 1GiB\nprocessing:\n  timeout: 5m\n",
    );
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    assert_eq!(s.server.port, 9000);
    assert_eq!(s.server.max_upload_size, 1 << 30);
    assert_eq!(s.processing.timeout, Duration::from_secs(300));
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.processing.worker_count, 4);
}

#[test]
fn environment_overrides_yaml() {
    let file = YamlFile::new("server:\n  port: 9000\nprocessing:\n  worker_count: 2\n");
    let s = Settings::from_sources(Some(&file.0), vars(&[("SERVER_PORT", "9100")])).unwrap();
    assert_eq!(s.server.port, 9100);
    assert_eq!(s.processing.worker_count, 2);
}

#[test]
fn generic_fileproc_names_reach_every_key_and_win_over_legacy_names() {
    let s = from_env(&[
        ("SERVER_PORT", "9000"),
        ("FILEPROC_SERVER__PORT", "9001"),
        ("FILEPROC_WEBSOCKET__PING_INTERVAL", "15s"),
        ("FILEPROC_PROCESSING__LEASE_DURATION", "45"),
        ("FILEPROC_NOT_A_SECTION__X", "1"),
        ("UNRELATED", "x"),
    ])
    .unwrap();
    assert_eq!(s.server.port, 9001);
    assert_eq!(s.websocket.ping_period, Duration::from_secs(15));
    assert_eq!(s.processing.lease_duration, Duration::from_secs(45));
}

#[test]
fn a_missing_config_path_is_an_error() {
    let missing = std::env::temp_dir().join("fileproc-no-such-config.yaml");
    let message = err(Settings::from_sources(Some(&missing), Vec::new()));
    assert!(
        message.contains("fileproc-no-such-config.yaml"),
        "{message}"
    );
    assert!(message.contains("no such file"), "{message}");
}

#[test]
fn a_yaml_syntax_error_names_the_file() {
    let file = YamlFile::new("server:\n  port: [unclosed\n");
    let message = err(Settings::from_sources(Some(&file.0), Vec::new()));
    assert!(message.starts_with("invalid configuration: "), "{message}");
    assert!(message.contains(&file.0.display().to_string()), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn a_non_numeric_port_names_the_key_value_variable_and_expectation() {
    let message = err(from_env(&[("SERVER_PORT", "abc")]));
    assert_eq!(
        message,
        r#"invalid configuration: server.port = "abc" (from env SERVER_PORT): expected a port number 0..65535"#
    );
    let message = err(from_env(&[("SERVER_PORT", "70000")]));
    assert!(message.contains("server.port = 70000"), "{message}");
}

#[test]
fn a_bad_value_in_yaml_names_the_file() {
    let file = YamlFile::new("processing:\n  worker_count: many\n");
    let message = err(Settings::from_sources(Some(&file.0), Vec::new()));
    assert!(
        message.contains(r#"processing.worker_count = "many""#),
        "{message}"
    );
    assert!(
        message.contains(&format!("(from {})", file.0.display())),
        "{message}"
    );
    assert!(message.contains("expected a whole number"), "{message}");
}

#[test]
fn sizes_take_decimal_and_binary_units() {
    let size = |v: &str| {
        from_env(&[("SERVER_MAX_UPLOAD_SIZE", v)])
            .unwrap()
            .server
            .max_upload_size
    };
    assert_eq!(size("10MB"), 10_000_000);
    assert_eq!(size("10MiB"), 10 * 1024 * 1024);
    assert_eq!(size("512KB"), 512_000);
    assert_eq!(size("1GiB"), 1 << 30);
    assert_eq!(size("1.5GB"), 1_500_000_000);
    assert_eq!(size("2048"), 2048);
    let memory = from_env(&[("PROCESSING_MEMORY_LIMIT", "512MB")])
        .unwrap()
        .processing
        .memory_limit;
    assert_eq!(memory, 512_000_000);
    let message = err(from_env(&[("SERVER_MAX_UPLOAD_SIZE", "10 parsecs")]));
    assert!(message.contains(r#"server.max_upload_size = "10 parsecs" (from env SERVER_MAX_UPLOAD_SIZE): expected a size"#), "{message}");
}

#[test]
fn durations_take_seconds_or_units() {
    let timeout = |v: &str| {
        from_env(&[("PROCESSING_TIMEOUT", v)])
            .unwrap()
            .processing
            .timeout
    };
    assert_eq!(timeout("90s"), Duration::from_secs(90));
    assert_eq!(timeout("90"), Duration::from_secs(90));
    assert_eq!(timeout("1.5"), Duration::from_millis(1500));
    assert_eq!(timeout("5m"), Duration::from_secs(300));
    assert_eq!(timeout("1h30m"), Duration::from_secs(5400));
    assert_eq!(timeout("500ms"), Duration::from_millis(500));
    let message = err(from_env(&[("PROCESSING_TIMEOUT", "soon")]));
    assert!(
        message.contains(
            r#"processing.timeout = "soon" (from env PROCESSING_TIMEOUT): expected a duration"#
        ),
        "{message}"
    );
}

#[test]
fn unit_parsers_refuse_nonsense() {
    for bad in ["", "s", "5x", "-5s", "1..2s", "5m3"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
    }
    for bad in ["", "MB", "5XB", "-1", "99999999999999999999999TB"] {
        assert!(parse_byte_size(bad).is_err(), "{bad:?} parsed");
    }
    assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
    assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
}

#[test]
fn database_url_selects_postgres_or_sqlite() {
    let s = from_env(&[("DATABASE_URL", "postgres://app:pw@db.internal:5433/files")]).unwrap();
    match s.database.connection_url() {
        CatalogUrl::Postgres(url) => assert_eq!(
            url.expose_secret(),
            "postgres://app:pw@db.internal:5433/files"
        ),
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
    let s = from_env(&[("DATABASE_URL", "sqlite:///var/lib/fileproc/catalog.db")]).unwrap();
    match s.database.connection_url() {
        CatalogUrl::Sqlite(path) => assert_eq!(path, Path::new("/var/lib/fileproc/catalog.db")),
        other => panic!("expected SQLite, got {other:?}"),
    }
}

#[test]
fn db_host_builds_a_postgres_url_from_its_parts() {
    let s = from_env(&[
        ("DB_HOST", "db.internal"),
        ("DB_PORT", "6543"),
        ("DB_NAME", "files"),
        ("DB_USER", "app"),
        ("DB_PASSWORD", "p@ss:w/rd"),
        ("DB_SSLMODE", "require"),
    ])
    .unwrap();
    match s.database.connection_url() {
        CatalogUrl::Postgres(url) => assert_eq!(
            url.expose_secret(),
            "postgres://app:p%40ss%3Aw%2Frd@db.internal:6543/files?sslmode=require"
        ),
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
}

#[test]
fn text_values_stay_text_even_when_they_look_like_numbers() {
    let s = from_env(&[
        ("DB_HOST", "db"),
        ("DB_PASSWORD", "007"),
        ("DB_NAME", "2024"),
    ])
    .unwrap();
    assert_eq!(s.database.password.as_ref().unwrap().expose_secret(), "007");
    assert_eq!(s.database.name, "2024");
    let file = YamlFile::new("database:\n  password: 123456\n");
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    assert_eq!(s.database.password.unwrap().expose_secret(), "123456");
}

#[test]
fn a_bad_database_url_is_refused_without_showing_its_password() {
    let message = err(from_env(&[(
        "DATABASE_URL",
        "mysql://app:hunter2@db/files",
    )]));
    assert!(message.contains("database.url"), "{message}");
    assert!(message.contains("(from env DATABASE_URL)"), "{message}");
    assert!(message.contains("mysql://app:***@db/files"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn redis_url_comes_from_url_or_host() {
    let s = from_env(&[("REDIS_URL", "redis://cache:6380/2")]).unwrap();
    assert_eq!(
        s.redis.connection_url().unwrap().expose_secret(),
        "redis://cache:6380/2"
    );
    let s = from_env(&[
        ("REDIS_HOST", "cache"),
        ("REDIS_PASSWORD", "s3cret"),
        ("REDIS_DB", "1"),
    ])
    .unwrap();
    assert_eq!(
        s.redis.connection_url().unwrap().expose_secret(),
        "redis://:s3cret@cache:6379/1"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let s = from_env(&[
        ("DATABASE_URL", "postgres://app:dbsecret1@db/files"),
        ("DB_PASSWORD", "dbsecret2"),
        ("REDIS_URL", "redis://:redissecret@cache:6379/0"),
        ("AWS_SECRET_ACCESS_KEY", "awssecret"),
    ])
    .unwrap();
    let debug = format!("{s:?}");
    for secret in ["dbsecret1", "dbsecret2", "redissecret", "awssecret"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}

#[test]
fn storage_variables_map_and_minio_endpoint_allows_http() {
    let s = from_env(&[
        ("STORAGE_PROVIDER", "minio"),
        ("S3_BUCKET", "uploads"),
        ("MINIO_ENDPOINT", "http://minio:9000"),
        ("AWS_ACCESS_KEY_ID", "minioadmin"),
    ])
    .unwrap();
    assert_eq!(s.storage.provider, StorageProvider::Minio);
    assert_eq!(s.storage.bucket.as_deref(), Some("uploads"));
    assert_eq!(s.storage.endpoint.as_deref(), Some("http://minio:9000"));
    assert!(s.storage.allow_http());
}

#[test]
fn minio_and_seed_variable_names_reach_their_keys() {
    use secrecy::ExposeSecret;
    let s = from_env(&[
        ("STORAGE_PROVIDER", "minio"),
        ("MINIO_ENDPOINT", "http://minio:9000"),
        ("MINIO_BUCKET", "files"),
        ("MINIO_ACCESS_KEY", "ak"),
        ("MINIO_SECRET_KEY", "sk"),
        ("REDIS_CACHE_TTL", "10m"),
        ("DB_SSL_MODE", "require"),
    ])
    .unwrap();
    assert_eq!(s.storage.bucket.as_deref(), Some("files"));
    assert_eq!(s.storage.access_key_id.as_deref(), Some("ak"));
    assert_eq!(
        s.storage
            .secret_access_key
            .as_ref()
            .map(|k| k.expose_secret()),
        Some("sk")
    );
    assert_eq!(s.redis.cache_ttl, std::time::Duration::from_secs(600));
    assert_eq!(s.database.sslmode, "require");
}

#[test]
fn semantic_checks_name_the_key_and_where_the_value_came_from() {
    let message = err(from_env(&[("FILEPROC_DATABASE__MAX_CONNECTIONS", "0")]));
    assert_eq!(
        message,
        "invalid configuration: database.max_connections = 0 (from env FILEPROC_DATABASE__MAX_CONNECTIONS): expected at least 1"
    );
    // No workers is a valid instance: it serves the API and leaves the jobs to others.
    assert_eq!(
        from_env(&[("PROCESSING_WORKER_COUNT", "0")])
            .unwrap()
            .processing
            .worker_count,
        0
    );
    let message = err(from_env(&[("STORAGE_PROVIDER", "s3")]));
    assert!(
        message.contains(
            "storage.bucket = (unset): expected a bucket name, since storage.provider is s3"
        ),
        "{message}"
    );
    let message = err(from_env(&[("LOG_FORMAT", "xml")]));
    assert!(
        message.contains(
            r#"monitoring.log_format = "xml" (from env LOG_FORMAT): expected one of json, text"#
        ),
        "{message}"
    );
    let message = err(from_env(&[("LOG_LEVEL", "loud")]));
    assert!(
        message.contains(r#"monitoring.log_level = "loud" (from env LOG_LEVEL)"#),
        "{message}"
    );
    let message = err(from_env(&[("SERVER_MAX_UPLOAD_SIZE", "0")]));
    assert!(message.contains("server.max_upload_size = 0"), "{message}");
    let message = err(from_env(&[("PROCESSING_TIMEOUT", "0s")]));
    assert!(message.contains(r#"processing.timeout = "0s" (from env PROCESSING_TIMEOUT): expected a duration greater than zero"#), "{message}");
    let message = err(from_env(&[("STORAGE_PROVIDER", "ftp")]));
    assert!(
        message.contains("expected one of local, filesystem, s3, minio"),
        "{message}"
    );
}

#[test]
fn log_levels_of_the_replaced_service_are_translated() {
    let s = from_env(&[("LOG_LEVEL", "WARNING"), ("LOG_FORMAT", "pretty")]).unwrap();
    assert_eq!(s.monitoring.log_filter().as_deref(), Some("warn"));
    assert_eq!(s.monitoring.log_format, LogFormat::Text);
    let s = from_env(&[("LOG_LEVEL", "info,fileproc=debug")]).unwrap();
    assert_eq!(
        s.monitoring.log_filter().as_deref(),
        Some("info,fileproc=debug")
    );
}

#[test]
fn extension_lists_take_a_comma_separated_variable() {
    let s = from_env(&[("FILEPROC_SECURITY__ALLOWED_EXTENSIONS", "csv, .PDF,png")]).unwrap();
    assert_eq!(s.security.allowed_extensions, ["csv", "pdf", "png"]);
}

#[test]
fn empty_variables_count_as_unset() {
    let s = from_env(&[("DB_HOST", ""), ("SERVER_PORT", " ")]).unwrap();
    assert!(matches!(s.database.connection_url(), CatalogUrl::Sqlite(_)));
    assert_eq!(s.server.port, 8080);
}

#[test]
fn websocket_url_is_built_from_public_url() {
    let s = from_env(&[("SERVER_PUBLIC_URL", "https://files.example.com/")]).unwrap();
    assert_eq!(
        s.server.websocket_url("f1").as_deref(),
        Some("wss://files.example.com/ws?file_id=f1")
    );
    assert_eq!(from_env(&[]).unwrap().server.websocket_url("f1"), None);
}

/// A configuration file as the replaced Go service shipped it, keys it had that fileproc does not
/// use included: it loads, and its values land where they should.
#[test]
fn a_config_file_of_the_replaced_service_loads() {
    let file = YamlFile::new(
        r#"
server:
  port: 8080
  host: "0.0.0.0"
  read_timeout: 30s
  write_timeout: 30s
  max_upload_size: 104857600
database:
  host: localhost
  port: 5432
  name: fileprocessor
  user: postgres
  password: postgres
  sslmode: disable
  max_connections: 25
  max_idle_connections: 5
  conn_max_lifetime: 5m
redis:
  host: localhost
  port: 6379
  password: ""
  db: 0
  pool_size: 10
storage:
  provider: minio
  bucket: file-uploads
  endpoint: http://localhost:9000
  region: us-east-1
  access_key_id: minioadmin
  secret_access_key: minioadmin
  use_ssl: false
  local_path: ./uploads
processing:
  worker_count: 8
  timeout: 300s
  max_retries: 3
  memory_limit: 512MB
  temp_dir: /tmp/fileprocessor
security:
  virus_scanning: true
  clamav_host: clamav
  clamav_port: 3310
  allowed_extensions: [".csv", ".pdf", ".docx", ".xlsx", ".jpg", ".png"]
  max_filename_length: 255
monitoring:
  log_level: debug
  log_format: json
  metrics_enabled: true
  metrics_port: 9090
  pprof_enabled: true
  tracing_enabled: false
  tracing_endpoint: http://localhost:14268/api/traces
websocket:
  ping_interval: 30s
  pong_timeout: 60s
  max_message_size: 512KB
  read_buffer_size: 1024
  write_buffer_size: 1024
  max_connections: 500
"#,
    );
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    assert_eq!(s.processing.worker_count, 8);
    assert_eq!(s.processing.memory_limit, 512_000_000);
    assert_eq!(s.storage.provider, StorageProvider::Minio);
    assert!(s.storage.allow_http());
    assert!(s.redis.password.is_none());
    assert!(s.redis.connection_url().is_some());
    assert_eq!(
        s.security.allowed_extensions,
        ["csv", "pdf", "docx", "xlsx", "jpg", "png"]
    );
    assert_eq!(s.websocket.max_message_size, 512_000);
    assert_eq!(s.websocket.max_connections, 500);
    match s.database.connection_url() {
        CatalogUrl::Postgres(url) => assert_eq!(
            url.expose_secret(),
            "postgres://postgres:postgres@localhost:5432/fileprocessor?sslmode=disable"
        ),
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
}

#[test]
fn format_limits_come_from_yaml_and_environment() {
    let yaml = YamlFile::new(
        "processing:\n  memory_limit: 256MiB\n  image:\n    thumbnail_sizes: [64, 512]\n    max_pixels: 1000000\n  archive:\n    max_expanded_size: 64MiB\n",
    );
    let settings = Settings::from_sources(
        Some(&yaml.0),
        vars(&[
            ("FILEPROC_PROCESSING__PDF__MAX_PAGES", "50"),
            ("FILEPROC_PROCESSING__CSV__MAX_FIELD_SIZE", "2KiB"),
        ]),
    )
    .expect("valid settings");
    let limits = settings.processing.limits();
    assert_eq!(limits.thumbnail_sizes, [64, 512]);
    assert_eq!(limits.max_image_pixels, 1_000_000);
    assert_eq!(limits.max_expanded_bytes, 64 << 20);
    assert_eq!(limits.max_pdf_pages, 50);
    assert_eq!(limits.max_field_bytes, 2048);
    assert_eq!(limits.max_memory_bytes, 256 << 20);
    // Untouched keys keep the analyzers' defaults.
    let defaults = fileproc_formats::Limits::default();
    assert_eq!(limits.max_pdf_depth, defaults.max_pdf_depth);
    assert_eq!(limits.max_zip_entries, defaults.max_zip_entries);
    assert!(!limits.enable_webp);
}

#[test]
fn thumbnail_sizes_out_of_range_stop_start_up_naming_the_key() {
    let err = from_env(&[("FILEPROC_PROCESSING__IMAGE__THUMBNAIL_SIZES", "[8]")])
        .expect_err("8 px is refused");
    let message = err.to_string();
    assert!(
        message.contains("processing.image.thumbnail_sizes") && message.contains('8'),
        "{message}"
    );
}

#[test]
fn s3_addressing_and_minio_tls_follow_their_variables() {
    let s = from_env(&[("STORAGE_PROVIDER", "s3"), ("S3_BUCKET", "b")]).unwrap();
    assert_eq!(s.storage.endpoint_url(), None);
    assert!(!s.storage.path_style(), "AWS itself: virtual-hosted");
    let s = from_env(&[
        ("STORAGE_PROVIDER", "s3"),
        ("S3_BUCKET", "b"),
        ("S3_ENDPOINT", "https://s3.example.com"),
        ("S3_FORCE_PATH_STYLE", "false"),
    ])
    .unwrap();
    assert!(!s.storage.path_style());
    assert!(!s.storage.allow_http());
    let s = from_env(&[
        ("STORAGE_PROVIDER", "minio"),
        ("MINIO_BUCKET", "b"),
        ("MINIO_ENDPOINT", "minio:9000"),
        ("MINIO_USE_SSL", "false"),
    ])
    .unwrap();
    assert_eq!(
        s.storage.endpoint_url().as_deref(),
        Some("http://minio:9000")
    );
    assert!(s.storage.path_style());
    assert!(s.storage.allow_http());
    let s = from_env(&[
        ("STORAGE_PROVIDER", "minio"),
        ("MINIO_BUCKET", "b"),
        ("MINIO_ENDPOINT", "minio:9000"),
        ("MINIO_USE_SSL", "true"),
    ])
    .unwrap();
    assert_eq!(
        s.storage.endpoint_url().as_deref(),
        Some("https://minio:9000")
    );
    assert!(!s.storage.allow_http());
    let message = err(from_env(&[
        ("STORAGE_PROVIDER", "minio"),
        ("MINIO_BUCKET", "b"),
        ("MINIO_ENDPOINT", "http://minio:9000"),
        ("MINIO_USE_SSL", "true"),
    ]));
    assert!(message.contains("storage.use_ssl"), "{message}");
    let message = err(from_env(&[
        ("STORAGE_PROVIDER", "s3"),
        ("S3_BUCKET", "b"),
        ("S3_ENDPOINT", "ftp://x"),
    ]));
    assert!(message.contains("storage.endpoint"), "{message}");
}

#[test]
fn virus_scanning_is_set_by_its_variables_and_by_either_yaml_name() {
    let s = from_env(&[
        ("SECURITY_VIRUS_SCANNING", "true"),
        ("CLAMAV_HOST", "clamav.internal"),
        ("CLAMAV_PORT", "3311"),
        ("CLAMAV_TIMEOUT", "15s"),
        ("SECURITY_SCAN_OVERSIZE", "process"),
    ])
    .unwrap();
    let security = &s.security;
    assert!(security.virus_scanning);
    assert_eq!(
        (security.clamav_host.as_str(), security.clamav_port),
        ("clamav.internal", 3311)
    );
    assert_eq!(security.clamav_timeout, Duration::from_secs(15));
    assert_eq!(security.scan_oversize, OversizePolicy::Process);
    let file = YamlFile::new("security:\n  enable_virus_scanning: true\n  scan_oversize: refuse\n");
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    assert!(s.security.virus_scanning);
    assert_eq!(s.security.scan_oversize, OversizePolicy::Refuse);
    let err = from_env(&[("SECURITY_SCAN_OVERSIZE", "maybe")]).unwrap_err();
    assert!(err.to_string().contains("SECURITY_SCAN_OVERSIZE"), "{err}");
}

/// A base64 32-byte key for the tests (not a real secret).
const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=";

#[test]
fn encryption_is_off_by_default_and_one_variable_turns_it_on() {
    let s = from_env(&[]).unwrap();
    assert!(!s.storage.encryption.seals());
    assert_eq!(s.storage.encryption.key_id, "default");
    assert_eq!(s.storage.encryption.chunk_size, 64 * 1024);
    let s = from_env(&[("STORAGE_ENCRYPTION_KEY", KEY_A)]).unwrap();
    let enc = &s.storage.encryption;
    assert!(enc.seals());
    let keys = enc.decoded_keys().unwrap();
    assert_eq!(keys["default"].expose_secret()[..3], [0, 1, 2]);
    let debug = format!("{s:?}");
    assert!(!debug.contains(KEY_A), "the key leaked in {debug}");
}

#[test]
fn keys_rotate_by_id_from_yaml_or_the_environment() {
    let file = YamlFile::new(&format!(
        "storage:\n  encryption:\n    key_id: v2\n    chunk_size: 256KiB\n    keys:\n      v1: {KEY_A}\n      v2: {KEY_B}\n"
    ));
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    let enc = &s.storage.encryption;
    assert_eq!((enc.key_id.as_str(), enc.chunk_size), ("v2", 256 * 1024));
    assert_eq!(enc.decoded_keys().unwrap().len(), 2);
    let s = from_env(&[
        ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V1", KEY_A),
        ("FILEPROC_STORAGE__ENCRYPTION__KEYS__V2", KEY_B),
        ("STORAGE_ENCRYPTION_KEY_ID", "v2"),
    ])
    .unwrap();
    let enc = &s.storage.encryption;
    assert_eq!(enc.key_id, "v2");
    assert_eq!(
        enc.decoded_keys().unwrap().keys().collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    // Keys kept, sealing off: new objects in plaintext, old ones still open.
    let s = from_env(&[
        ("STORAGE_ENCRYPTION_KEY", KEY_A),
        ("STORAGE_ENCRYPTION_ENABLED", "false"),
    ])
    .unwrap();
    assert!(!s.storage.encryption.seals());
}

#[test]
fn unusable_encryption_settings_stop_start_up_without_showing_a_key() {
    let message = err(from_env(&[("STORAGE_ENCRYPTION_KEY", "c2hvcnQ=")]));
    assert_eq!(
        message,
        "invalid configuration: storage.encryption.keys.default = <redacted> (from env STORAGE_ENCRYPTION_KEY): expected 32 bytes in standard base64 (openssl rand -base64 32)"
    );
    let message = err(from_env(&[
        ("STORAGE_ENCRYPTION_KEY", KEY_A),
        ("STORAGE_ENCRYPTION_KEY_ID", "v9"),
    ]));
    assert!(
        message.contains(r#"storage.encryption.key_id = "v9" (from env STORAGE_ENCRYPTION_KEY_ID): expected the id of a configured key (default)"#),
        "{message}"
    );
    assert!(!message.contains(KEY_A));
    let message = err(from_env(&[("STORAGE_ENCRYPTION_ENABLED", "true")]));
    assert!(
        message.contains("expected a key in storage.encryption.keys"),
        "{message}"
    );
    let message = err(from_env(&[
        ("STORAGE_ENCRYPTION_KEY", KEY_A),
        ("FILEPROC_STORAGE__ENCRYPTION__CHUNK_SIZE", "100"),
    ]));
    assert!(
        message.contains("storage.encryption.chunk_size = 100"),
        "{message}"
    );
    let file = YamlFile::new(&format!(
        "storage:\n  encryption:\n    keys:\n      Prod: {KEY_A}\n"
    ));
    let message = err(Settings::from_sources(Some(&file.0), Vec::new()));
    assert!(
        message.contains("storage.encryption.keys.Prod = <redacted>")
            && message.contains("a key id of 1 to 32 characters"),
        "{message}"
    );
}

#[test]
fn the_metrics_port_is_unset_by_default_and_read_from_metrics_port() {
    let s = Settings::from_sources(None, Vec::new()).unwrap();
    assert_eq!(s.monitoring.metrics_port, None);
    let s = Settings::from_sources(None, vars(&[("METRICS_PORT", "9091")])).unwrap();
    assert_eq!(s.monitoring.metrics_port, Some(9091));
    let file = YamlFile::new("monitoring:\n  metrics_port: 9092\n");
    let s = Settings::from_sources(Some(&file.0), Vec::new()).unwrap();
    assert_eq!(s.monitoring.metrics_port, Some(9092));
    let message = err(from_env(&[("METRICS_PORT", "70000")]));
    assert!(
        message.contains("monitoring.metrics_port = 70000"),
        "{message}"
    );
    let message = err(from_env(&[
        ("METRICS_PORT", "8080"),
        ("SERVER_PORT", "8080"),
    ]));
    assert!(
        message.contains("monitoring.metrics_port = 8080")
            && message.contains("a port other than server.port"),
        "{message}"
    );
}

#[test]
fn tracing_settings_come_from_env_and_are_checked() {
    let s = from_env(&[
        ("TRACING_ENABLED", "true"),
        ("TRACING_ENDPOINT", "http://otel-collector:4318"),
        ("TRACING_SAMPLE_RATE", "0.25"),
    ])
    .unwrap();
    assert!(s.monitoring.tracing_enabled);
    assert_eq!(
        s.monitoring.tracing_endpoint.as_deref(),
        Some("http://otel-collector:4318")
    );
    assert!((s.monitoring.tracing_sample_rate - 0.25).abs() < f64::EPSILON);
    assert!((from_env(&[]).unwrap().monitoring.tracing_sample_rate - 1.0).abs() < f64::EPSILON);

    let message = err(from_env(&[("TRACING_SAMPLE_RATE", "1.5")]));
    assert!(
        message.contains("monitoring.tracing_sample_rate = 1.5 (from env TRACING_SAMPLE_RATE): expected a share from 0 to 1"),
        "{message}"
    );
    for bad in [
        "otel-collector:4318",
        "grpc://collector:4317",
        "http://",
        "http://a b",
        "http://localhost:99999",
        "http://localhost:0",
    ] {
        let message = err(from_env(&[("TRACING_ENDPOINT", bad)]));
        assert!(
            message.contains("monitoring.tracing_endpoint") && message.contains("OTLP/HTTP"),
            "{bad}: {message}"
        );
    }
    // A credential in the endpoint is not shown.
    let message = err(from_env(&[(
        "TRACING_ENDPOINT",
        "https://user:s3cr3t@collector:70000",
    )]));
    assert!(message.contains("user:***@collector"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    let s = from_env(&[("TRACING_ENDPOINT", "http://[::1]:4318")]).unwrap();
    assert_eq!(
        s.monitoring.tracing_endpoint.as_deref(),
        Some("http://[::1]:4318")
    );
}

#[test]
fn compression_is_zstd_level_1_by_default_and_its_variables_set_it() {
    let s = from_env(&[]).unwrap();
    let c = &s.storage.compression;
    assert_eq!(
        (c.algorithm, c.level, c.min_ratio),
        (CompressionAlgorithm::Zstd, 1, 1.2)
    );
    let s = from_env(&[
        ("STORAGE_COMPRESSION", "none"),
        ("STORAGE_COMPRESSION_LEVEL", "9"),
        ("FILEPROC_STORAGE__COMPRESSION__MIN_RATIO", "2.5"),
    ])
    .unwrap();
    let c = &s.storage.compression;
    assert_eq!(
        (c.algorithm, c.level, c.min_ratio),
        (CompressionAlgorithm::None, 9, 2.5)
    );
    assert!(!c.enabled());
    for (key, value, named) in [
        (
            "STORAGE_COMPRESSION_LEVEL",
            "20",
            "storage.compression.level",
        ),
        (
            "STORAGE_COMPRESSION_LEVEL",
            "0",
            "storage.compression.level",
        ),
        (
            "FILEPROC_STORAGE__COMPRESSION__MIN_RATIO",
            "0.5",
            "storage.compression.min_ratio",
        ),
        (
            "STORAGE_COMPRESSION",
            "brotli",
            "storage.compression.algorithm",
        ),
    ] {
        let message = err(from_env(&[(key, value)]));
        assert!(
            message.contains(named) && message.contains(value),
            "{message}"
        );
    }
}
