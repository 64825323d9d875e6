//! Wiring: build the parts from the settings, serve the API, run the workers, stop gracefully.

use anyhow::Context as _;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::blob::BlobStore;
use crate::cache::ResultCache;
use crate::catalog::{CachedCatalog, Catalog, FileCache, PostgresCatalog, SqliteCatalog};
use crate::config::{CatalogUrl, Settings, StorageProvider};
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::queue::{QueueHandle, WorkerPool};
use crate::ratelimit::RateLimits;
use crate::state::AppState;

/// Bytes of results the in-process cache holds.
const RESULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Open the catalog the settings name and apply its migrations.
///
/// # Errors
/// The database cannot be opened or migrated.
pub async fn open_catalog(settings: &Settings) -> anyhow::Result<Arc<dyn Catalog>> {
    open_observed_catalog(settings, None).await
}

/// [`open_catalog`], counting the Redis file cache's hits and misses in `metrics` when given.
///
/// # Errors
/// The database cannot be opened or migrated.
pub async fn open_observed_catalog(
    settings: &Settings,
    metrics: Option<&Metrics>,
) -> anyhow::Result<Arc<dyn Catalog>> {
    let catalog = connect_catalog(settings).await?;
    catalog
        .migrate()
        .await
        .context("applying catalog migrations")?;
    // Several instances share Redis: their file objects are cached there.
    if let Some(url) = settings.redis.connection_url() {
        let files = FileCache::redis(url.expose_secret(), settings.redis.cache_ttl)
            .context("opening the Redis file cache")?;
        let cached = CachedCatalog::new(catalog, files);
        return Ok(Arc::new(match metrics {
            Some(metrics) => cached.observed(metrics),
            None => cached,
        }));
    }
    Ok(catalog)
}

/// Connect to the catalog the settings name, without migrating it.
///
/// # Errors
/// The database cannot be opened or reached.
pub async fn connect_catalog(settings: &Settings) -> anyhow::Result<Arc<dyn Catalog>> {
    let catalog: Arc<dyn Catalog> = match settings.database.connection_url() {
        CatalogUrl::Sqlite(path) => Arc::new(
            SqliteCatalog::open(&path)
                .await
                .with_context(|| format!("opening the SQLite catalog at {}", path.display()))?,
        ),
        CatalogUrl::Postgres(url) => Arc::new(
            PostgresCatalog::connect(
                url.expose_secret(),
                settings.database.max_connections,
                settings.database.acquire_timeout,
            )
            .await
            .context("connecting to the PostgreSQL catalog")?,
        ),
    };
    Ok(catalog)
}

/// Open the blob store the settings name.
///
/// # Errors
/// The store cannot be set up.
pub fn open_blob_store(settings: &Settings) -> anyhow::Result<BlobStore> {
    let storage = &settings.storage;
    BlobStore::from_settings(storage).with_context(|| match storage.provider {
        StorageProvider::Local => format!(
            "opening the local blob store at {}",
            storage.local_path.display()
        ),
        other => format!("opening the {} blob store", other.as_str()),
    })
}

/// Open the cache the settings name: Redis when a URL or host is set, else in process.
///
/// # Errors
/// The Redis URL is not valid.
pub fn open_cache(settings: &Settings) -> anyhow::Result<ResultCache> {
    match settings.redis.connection_url() {
        Some(url) => ResultCache::redis(url.expose_secret(), settings.redis.cache_ttl)
            .context("opening the Redis cache"),
        None => Ok(ResultCache::memory(RESULT_CACHE_BYTES)),
    }
}

/// Open the event bus: over Redis pub/sub when Redis is configured (so every instance's clients
/// see every instance's events), else in process.
///
/// # Errors
/// The Redis URL is not valid.
pub fn open_event_bus(settings: &Settings) -> anyhow::Result<EventBus> {
    let backlog = settings.websocket.event_backlog as usize;
    match settings.redis.connection_url() {
        Some(url) => {
            EventBus::redis(url.expose_secret(), backlog).context("opening the Redis event bus")
        }
        None => Ok(EventBus::in_process(backlog)),
    }
}

/// Wake this instance's workers when any instance signals work (PostgreSQL `LISTEN/NOTIFY`);
/// workers poll as well, so this only shortens the wait.
async fn forward_job_signals(state: &AppState) {
    match state.catalog.subscribe_jobs().await {
        Ok(Some(mut jobs)) => {
            let queue = state.queue.clone();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                while let Ok(()) | Err(RecvError::Lagged(_)) = jobs.recv().await {
                    queue.wake();
                }
            });
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "job notifications unavailable; workers poll only"),
    }
}

/// Connections the kernel queues before they are accepted (the default of 128 overflows when
/// a thousand clients connect at once, as WebSocket clients do after a restart).
const LISTEN_BACKLOG: u32 = 1024;

/// Bind `address` (host:port) with a [`LISTEN_BACKLOG`] queue.
async fn listen(address: &str) -> std::io::Result<TcpListener> {
    let addr = tokio::net::lookup_host(address)
        .await?
        .next()
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host resolves to no address",
            )
        })?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raise the soft open-file limit to the hard one: every WebSocket, upload and database
/// connection is a descriptor, and the usual soft limit (1024) is below
/// `websocket.max_connections` plus the rest.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(open_files = limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "the open-file limit could not be raised"),
    }
}

/// With `monitoring.metrics_port` (and `monitoring.metrics_enabled`), bind that port on
/// `server.host` and serve `/metrics` there alone until `shutdown`.
///
/// # Errors
/// The port cannot be bound.
async fn serve_metrics_port(
    state: &AppState,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<(SocketAddr, tokio::task::JoinHandle<anyhow::Result<()>>)>> {
    let monitoring = &state.settings.monitoring;
    let Some(port) = monitoring
        .metrics_port
        .filter(|_| monitoring.metrics_enabled)
    else {
        return Ok(None);
    };
    let host = &state.settings.server.host;
    let address = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let listener = listen(&address)
        .await
        .with_context(|| format!("binding the metrics port {address}"))?;
    let addr = listener.local_addr()?;
    // The same route as in the main router's document; this port serves nothing else.
    let app = axum::Router::from(crate::metrics::http::router())
        .fallback(|| async { crate::api::error::ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { crate::api::error::ApiError::MethodNotAllowed })
        .with_state(state.clone());
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .context("serving the metrics port")
    });
    tracing::info!(address = %addr, "metrics served on their own port");
    Ok(Some((addr, server)))
}

/// A running service: its address and the handle to stop it.
pub struct Application {
    addr: SocketAddr,
    /// The metrics port's address and server, when `monitoring.metrics_port` is set.
    metrics_server: Option<(SocketAddr, tokio::task::JoinHandle<anyhow::Result<()>>)>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    workers: WorkerPool,
    /// How long open requests get to finish on stop (`server.shutdown_timeout`).
    grace: std::time::Duration,
}

impl Application {
    /// Build every part, bind the port (0 picks a free one) and start serving and processing.
    ///
    /// # Errors
    /// A part cannot be opened or the port cannot be bound.
    pub async fn start(settings: Settings) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        let metrics = Metrics::new();
        let catalog = open_observed_catalog(&settings, Some(&metrics)).await?;
        let blobs = open_blob_store(&settings)?.observed(&metrics);
        let state = AppState {
            settings: Arc::clone(&settings),
            catalog,
            blobs,
            cache: open_cache(&settings)?,
            queue: QueueHandle::default(),
            events: open_event_bus(&settings)?,
            connections: Arc::new(tokio::sync::Semaphore::new(
                settings.websocket.max_connections as usize,
            )),
            auth: Arc::new(
                Authenticator::from_settings(&settings.security.auth)
                    .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?,
            ),
            rate_limits: Arc::new(RateLimits::from_settings(&settings.security.rate_limit)),
            metrics,
        };
        raise_open_file_limit();
        let listener = listen(&settings.server.bind_address())
            .await
            .with_context(|| format!("binding {}", settings.server.bind_address()))?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        state.metrics.spawn_upkeep(shutdown.clone());
        let metrics_server = serve_metrics_port(&state, &shutdown).await?;
        forward_job_signals(&state).await;
        let workers = WorkerPool::start(&state);
        tokio::spawn(crate::ingest::resumable::expire_uploads(
            state.clone(),
            shutdown.clone(),
        ));
        let app =
            crate::api::router(state).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            // The method override must act before routing picks a handler by method.
            let app = tower::Layer::layer(
                &axum::middleware::from_fn(crate::api::tus::method_override),
                app,
            );
            axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                    SocketAddr,
                >(app),
            )
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .context("serving HTTP")
        });
        let encryption = &settings.storage.encryption;
        tracing::info!(
            address = %addr,
            storage.encryption.sealing = encryption.seals(),
            storage.encryption.key_id = encryption.seals().then_some(encryption.key_id.as_str()),
            storage.encryption.keys = encryption.keys.len(),
            "fileproc is serving"
        );
        Ok(Application {
            addr,
            metrics_server,
            shutdown,
            server,
            workers,
            grace: settings.server.shutdown_timeout,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the metrics port (`monitoring.metrics_port`), when one is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(addr, _)| *addr)
    }

    /// Stop accepting, hand running jobs back to the queue, give open requests
    /// `server.shutdown_timeout` to finish (then drop them), and return.
    ///
    /// # Errors
    /// Serving had failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.workers.shutdown().await;
        if let Some((_, metrics)) = self.metrics_server {
            // It has no long requests: it stops at once with the token.
            match metrics.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "the metrics port failed"),
                Err(e) => tracing::warn!(error = %e, "the metrics port's task failed"),
                Ok(Ok(())) => {}
            }
        }
        let mut server = self.server;
        match tokio::time::timeout(self.grace, &mut server).await {
            Ok(served) => served?,
            Err(_) => {
                tracing::warn!(
                    grace_ms = self.grace.as_millis() as u64,
                    "open requests did not finish in time; dropping them"
                );
                server.abort();
                Ok(())
            }
        }
    }

    /// Serve until SIGINT or SIGTERM, then stop gracefully.
    ///
    /// # Errors
    /// Serving failed.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "listening for ctrl-c failed");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
