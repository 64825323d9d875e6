//! The event bus: every instance's events reach every instance's clients.
//!
//! In process (the embedded default) an event goes straight to a `broadcast` channel that each
//! connection reads. With Redis, an event is published on the channel
//! `file-processing:events` by a background task, and each instance's subscriber task puts
//! what arrives into its own broadcast channel, its own events included; when Redis cannot be
//! reached the event is delivered locally instead, so the instance's own clients still see it.
//!
//! Publishing never blocks: it only queues. Progress events of a file are rate-limited here
//! (at most one per [`PROGRESS_INTERVAL`]), so neither Redis nor the clients see more.

use futures::StreamExt;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{Envelope, Event, ProgressReport};
use crate::cache::KEY_PREFIX;

/// Shortest time between two progress events of one file (so at most 10 a second).
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Events a connection may fall behind by before it loses some (and resyncs from the catalog).
pub const DEFAULT_BACKLOG: usize = 4096;
/// Files whose last progress time is remembered before old entries are dropped.
const RATE_TABLE_LIMIT: usize = 10_000;

/// The Redis channel events travel on.
pub fn channel() -> String {
    format!("{KEY_PREFIX}events")
}

/// Where events go; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<Envelope>>,
    /// To the Redis publisher task, when there is one.
    remote: Option<mpsc::UnboundedSender<Arc<Envelope>>>,
    /// When each file's last progress event went out.
    last_progress: Arc<Mutex<HashMap<String, Instant>>>,
    /// Stops the Redis tasks when the last clone is dropped.
    _tasks: Option<Arc<DropGuard>>,
}

impl EventBus {
    /// A bus within this process; a connection more than `backlog` events behind loses the
    /// oldest.
    pub fn in_process(backlog: usize) -> Self {
        EventBus {
            local: broadcast::channel(backlog.max(1)).0,
            remote: None,
            last_progress: Arc::default(),
            _tasks: None,
        }
    }

    /// A bus over Redis pub/sub at `url`. The connections are made in the background and
    /// re-made when lost; meanwhile events stay on this instance. `backlog` as for
    /// [`EventBus::in_process`].
    ///
    /// # Errors
    /// The URL is not a Redis URL.
    pub fn redis(url: &str, backlog: usize) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = client.get_connection_manager_lazy(config)?;
        let local = broadcast::channel(backlog.max(1)).0;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        tokio::spawn(publish_loop(conn, rx, local.clone()));
        tokio::spawn(subscribe_loop(client, local.clone(), stop.clone()));
        Ok(EventBus {
            local,
            remote: Some(tx),
            last_progress: Arc::default(),
            _tasks: Some(Arc::new(stop.drop_guard())),
        })
    }

    /// Every event from now on, from every instance. A receiver that falls more than a few
    /// thousand events behind gets `Lagged` and has lost the oldest ones.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.local.subscribe()
    }

    /// Send an event about a file of `owner`. Never waits.
    pub fn publish(&self, owner: &str, event: Event) {
        if event.is_terminal() {
            self.forget(&event.file_id);
        }
        let envelope = Arc::new(Envelope {
            owner: owner.to_owned(),
            event,
        });
        match &self.remote {
            Some(remote) => {
                if let Err(unsent) = remote.send(envelope) {
                    // The publisher task is gone (shutdown): deliver here.
                    let _ = self.local.send(unsent.0);
                }
            }
            None => {
                // No receiver is not an error: nobody is watching.
                let _ = self.local.send(envelope);
            }
        }
    }

    /// Send a progress event, unless the file had one less than [`PROGRESS_INTERVAL`] ago.
    /// Returns whether it was sent.
    pub fn progress(&self, owner: &str, file_id: &str, report: &ProgressReport) -> bool {
        if !self.progress_due(file_id) {
            return false;
        }
        self.publish(owner, Event::progress(file_id, report));
        true
    }

    /// `status_change` from `old` to `new`.
    pub fn status_change(&self, owner: &str, file_id: &str, old: Option<&str>, new: &str) {
        self.publish(owner, Event::status_change(file_id, old, new));
    }

    fn progress_due(&self, file_id: &str) -> bool {
        let now = Instant::now();
        let Ok(mut table) = self.last_progress.lock() else {
            return true;
        };
        if table
            .get(file_id)
            .is_some_and(|last| now.duration_since(*last) < PROGRESS_INTERVAL)
        {
            return false;
        }
        if table.len() >= RATE_TABLE_LIMIT {
            table.retain(|_, last| now.duration_since(*last) < PROGRESS_INTERVAL);
        }
        table.insert(file_id.to_owned(), now);
        true
    }

    fn forget(&self, file_id: &str) {
        if let Ok(mut table) = self.last_progress.lock() {
            table.remove(file_id);
        }
    }
}

/// Publish queued events on Redis, in order; an event Redis refuses is delivered locally.
async fn publish_loop(
    mut conn: redis::aio::ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Arc<Envelope>>,
    local: broadcast::Sender<Arc<Envelope>>,
) {
    let channel = channel();
    let mut warned: Option<Instant> = None;
    while let Some(envelope) = queue.recv().await {
        let payload = match serde_json::to_string(&*envelope) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "an event did not serialize");
                continue;
            }
        };
        let sent: redis::RedisResult<i64> = conn.publish(&channel, payload).await;
        if let Err(e) = sent {
            if warned.is_none_or(|w| w.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(error = %e, "publishing events on Redis failed; they reach this instance's clients only");
                warned = Some(Instant::now());
            }
            let _ = local.send(envelope);
        }
    }
}

/// Receive every instance's events from Redis into the local channel, reconnecting when the
/// connection drops, until `stop`.
async fn subscribe_loop(
    client: redis::Client,
    local: broadcast::Sender<Arc<Envelope>>,
    stop: CancellationToken,
) {
    let channel = channel();
    let mut delay = Duration::from_millis(100);
    while !stop.is_cancelled() {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            () = stop.cancelled() => return,
            r = tokio::time::timeout(Duration::from_secs(5), subscribed) => r,
        };
        match pubsub {
            Ok(Ok(pubsub)) => {
                delay = Duration::from_millis(100);
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        () = stop.cancelled() => return,
                        m = messages.next() => m,
                    };
                    let Some(message) = message else { break };
                    match serde_json::from_slice::<Envelope>(message.get_payload_bytes()) {
                        Ok(envelope) => {
                            let _ = local.send(Arc::new(envelope));
                        }
                        Err(e) => tracing::warn!(error = %e, "an event from Redis did not parse"),
                    }
                }
                tracing::warn!("the Redis event subscription dropped; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "subscribing to events on Redis failed"),
            Err(_) => tracing::warn!("subscribing to events on Redis timed out"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
