//! What one client sees (a WebSocket or an SSE stream): the events of one file of its owner, or
//! of all its owner's files, in order, each file's progress never going back, no status change
//! that changes nothing; and when it has fallen behind and lost events, the current status of
//! every file it follows, read from the catalog, so its last frame agrees with the status
//! endpoint and a terminal `completed` or `error` is never lost.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast;

use super::{Envelope, Event, EventType};
use crate::catalog::{CatalogError, FileRecord};
use crate::state::AppState;

/// Files a connection watching all of its owner's files keeps state for.
const FOLLOWED_LIMIT: usize = 1000;

/// The status of a file as the status endpoint shows it: status, progress (0..1 of the current
/// status's work) and step. An `uploading` file's progress is its upload's offset over its
/// length.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub status: String,
    pub progress: f64,
    pub step: Option<String>,
}

/// The snapshot of `file`.
///
/// # Errors
/// The catalog failed.
pub async fn snapshot(state: &AppState, file: &FileRecord) -> Result<Snapshot, CatalogError> {
    if file.status == "uploading" {
        let progress = match state
            .catalog
            .get_upload_by_file(&file.owner, &file.id)
            .await
        {
            Ok(u) => match u.length {
                Some(len) if len > 0 => u.offset as f64 / len as f64,
                _ => 0.0,
            },
            Err(CatalogError::NotFound) => 0.0,
            Err(e) => return Err(e),
        };
        return Ok(Snapshot {
            status: file.status.clone(),
            progress,
            step: Some("upload".to_owned()),
        });
    }
    let progress = if file.status == "completed" {
        1.0
    } else {
        file.progress
    };
    Ok(Snapshot {
        status: file.status.clone(),
        progress,
        step: file.step.clone(),
    })
}

/// Where a status sits in a file's life; a change may go back (a retry, a re-process) only
/// from where the client is.
fn rank(status: &str) -> u8 {
    match status {
        "uploading" => 0,
        "pending" => 1,
        "queued" => 2,
        "processing" => 3,
        _ => 4, // completed, failed, quarantined
    }
}

/// Whether nothing more happens to a file in `status` (until it is processed again).
fn is_done(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "quarantined")
}

/// Whether a change from `old` describes a step the client is already past: events published
/// by two instances (the upload's and the worker's) can cross on the way, and the later one
/// must not move the client back.
fn is_stale(old: &str, known: &str) -> bool {
    !known.is_empty() && old != known && rank(old) < rank(known)
}

/// What a connection knows of a file it follows.
#[derive(Debug, Clone)]
struct Followed {
    status: String,
    progress: f64,
}

/// One client's view of the event stream.
pub struct Watch {
    state: AppState,
    owner: String,
    /// `None`: every file of the owner.
    file_id: Option<String>,
    events: broadcast::Receiver<Arc<Envelope>>,
    followed: HashMap<String, Followed>,
    pending: VecDeque<Event>,
}

impl Watch {
    /// Start following `file_id` (or every file) of `owner`: subscribed at once, so that nothing
    /// that happens after [`Watch::opening`] reads the status is missed.
    pub fn subscribe(state: &AppState, owner: &str, file_id: Option<&str>) -> Watch {
        Watch {
            events: state.events.subscribe(),
            state: state.clone(),
            owner: owner.to_owned(),
            file_id: file_id.map(str::to_owned),
            followed: HashMap::new(),
            pending: VecDeque::new(),
        }
    }

    /// The file followed, or `None` for every file of the owner.
    pub fn file_id(&self) -> Option<&str> {
        self.file_id.as_deref()
    }

    /// The first frames: `connected` with the file's current status, and for a file already
    /// done its `completed` (with the result summary) or `error`; for all files, `connected`
    /// alone (its `file_id` empty).
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] when the file is not the owner's (or does not exist).
    pub async fn opening(&mut self) -> Result<Vec<Event>, CatalogError> {
        let Some(file_id) = self.file_id.clone() else {
            return Ok(vec![Event::connected("", "watching", 0.0, None)]);
        };
        let file = self.state.catalog.get_file(&self.owner, &file_id).await?;
        let now = snapshot(&self.state, &file).await?;
        let mut frames = vec![Event::connected(
            &file_id,
            &now.status,
            now.progress,
            now.step.as_deref(),
        )];
        frames.extend(self.terminal_frames(&file).await);
        self.followed.insert(
            file_id,
            Followed {
                status: now.status,
                progress: now.progress,
            },
        );
        Ok(frames)
    }

    /// The next frame for this client; `None` when the bus is gone (the service is stopping).
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            match self.events.recv().await {
                Ok(envelope) => {
                    if envelope.owner != self.owner
                        || self
                            .file_id
                            .as_ref()
                            .is_some_and(|id| *id != envelope.event.file_id)
                    {
                        continue;
                    }
                    if self.admit(&envelope.event) {
                        return Some(envelope.event.clone());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(lost)) => {
                    tracing::debug!(lost, "a progress client fell behind; resyncing");
                    self.resync().await;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Whether `event` moves its file on for this client; updates what the client knows.
    fn admit(&mut self, event: &Event) -> bool {
        if self.file_id.is_none()
            && !self.followed.contains_key(&event.file_id)
            && self.followed.len() >= FOLLOWED_LIMIT
        {
            // Forget the files that are done first.
            self.followed.retain(|_, f| !is_done(&f.status));
            if self.followed.len() >= FOLLOWED_LIMIT {
                self.followed.clear();
            }
        }
        let followed = self
            .followed
            .entry(event.file_id.clone())
            .or_insert_with(|| Followed {
                status: String::new(),
                progress: 0.0,
            });
        match event.kind {
            EventType::StatusChange => {
                let status = |key: &str| {
                    event
                        .data
                        .as_ref()
                        .and_then(|d| d[key].as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                let (old, new) = (status("old_status"), status("new_status"));
                if new == followed.status || is_stale(&old, &followed.status) {
                    return false;
                }
                followed.status = new;
                followed.progress = 0.0;
                true
            }
            EventType::Progress => {
                if is_done(&followed.status) {
                    return false;
                }
                match event.progress {
                    Some(p) if p < followed.progress => false,
                    Some(p) => {
                        followed.progress = p;
                        true
                    }
                    None => true,
                }
            }
            EventType::Completed => {
                followed.status = "completed".to_owned();
                followed.progress = 1.0;
                true
            }
            EventType::Error => {
                // A quarantined file's `error` follows its status change; it stays quarantined.
                if followed.status != "quarantined" {
                    followed.status = "failed".to_owned();
                }
                true
            }
            EventType::Connected => false,
        }
    }

    /// After lost events: compare every followed file with the catalog and queue what changed.
    async fn resync(&mut self) {
        let ids: Vec<String> = self.followed.keys().cloned().collect();
        for id in ids {
            let file = match self.state.catalog.get_file(&self.owner, &id).await {
                Ok(file) => file,
                Err(CatalogError::NotFound) => {
                    self.followed.remove(&id);
                    self.pending.push_back(Event::error(
                        &id,
                        "file_deleted",
                        "the file was deleted",
                    ));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "resyncing a progress client failed");
                    continue;
                }
            };
            let known = self.followed.get(&id).map(|f| f.status.clone());
            if known.as_deref() == Some(file.status.as_str()) {
                continue;
            }
            self.pending.push_back(Event::status_change(
                &id,
                known.as_deref().filter(|s| !s.is_empty()),
                &file.status,
            ));
            let terminal = self.terminal_frames(&file).await;
            self.pending.extend(terminal);
            if let Some(f) = self.followed.get_mut(&id) {
                f.status = file.status.clone();
                f.progress = if file.status == "completed" { 1.0 } else { 0.0 };
            }
        }
    }

    /// `completed` or `error` for a file that is done; nothing otherwise.
    async fn terminal_frames(&self, file: &FileRecord) -> Option<Event> {
        match file.status.as_str() {
            "completed" => {
                let result = self.state.catalog.get_result(&file.id).await.ok()?;
                let value = serde_json::from_str(&result.result).ok()?;
                Some(Event::completed(&file.id, &value))
            }
            "failed" | "quarantined" => Some(Event::error(
                &file.id,
                file.error_code.as_deref().unwrap_or(file.status.as_str()),
                file.error_message.as_deref().unwrap_or_default(),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, NewFile, SqliteCatalog, StoredResult};
    use crate::events::{EventBus, ProgressReport, Step};
    use serde_json::json;

    /// A state on a temporary SQLite catalog and directory, its bus holding `backlog` events.
    async fn state(backlog: usize) -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = SqliteCatalog::open(&dir.path().join("c.db")).await.unwrap();
        catalog.migrate().await.unwrap();
        let mut settings = crate::config::Settings::default();
        settings.storage.local_path = dir.path().join("files");
        let blobs = crate::blob::BlobStore::from_settings(&settings.storage).unwrap();
        let state = AppState {
            settings: Arc::new(settings),
            catalog: Arc::new(catalog),
            blobs,
            cache: crate::cache::ResultCache::memory(1 << 20),
            queue: crate::queue::QueueHandle::default(),
            events: EventBus::in_process(backlog),
            connections: Arc::new(tokio::sync::Semaphore::new(10)),
            auth: Arc::new(crate::auth::Authenticator::from_settings(&Default::default()).unwrap()),
            rate_limits: Arc::new(crate::ratelimit::RateLimits::from_settings(
                &Default::default(),
            )),
            metrics: crate::metrics::Metrics::new(),
        };
        (dir, state)
    }

    #[tokio::test]
    async fn a_client_that_lost_events_still_gets_the_outcome_from_the_catalog() {
        let (_dir, state) = state(4).await;
        let id = uuid::Uuid::now_v7().to_string();
        let file = NewFile {
            id: id.clone(),
            owner: "o".into(),
            filename: "a.csv".into(),
            file_type: "csv".into(),
            content_type: "text/csv".into(),
            size: 3,
            sha256: String::new(),
            purpose: None,
            metadata: json!({}),
            storage_key: "k".into(),
            compressed_size: None,
        };
        state.catalog.insert_file(&file, Some(1)).await.unwrap();
        let mut watch = Watch::subscribe(&state, "o", Some(&id));
        let opening = watch.opening().await.unwrap();
        assert_eq!(opening.len(), 1);
        assert_eq!(opening[0].data.as_ref().unwrap()["status"], "queued");

        // Far more events than the backlog while the client does not read: it lags...
        for i in 0u32..20 {
            let report = ProgressReport {
                step: Step::Extraction,
                progress: Some(f64::from(i) / 20.0),
                message: None,
                bytes_done: u64::from(i),
                bytes_total: Some(20),
            };
            state.events.publish("o", Event::progress(&id, &report));
        }
        // ...and the job completes without its events reaching it.
        let job = state
            .catalog
            .claim_job("w", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let result = StoredResult {
            result: json!({"file_type": "csv", "csv": {"row_count": 7, "columns": []}}),
            records_key: None,
            records_index: Vec::new(),
            records_count: 0,
        };
        assert!(
            state
                .catalog
                .complete_job(&job, "w", &result)
                .await
                .unwrap()
        );

        let change = watch.next().await.unwrap();
        assert_eq!(change.kind, EventType::StatusChange);
        assert_eq!(
            change.data.unwrap(),
            json!({"old_status": "queued", "new_status": "completed"})
        );
        let done = watch.next().await.unwrap();
        assert_eq!(done.kind, EventType::Completed);
        assert_eq!(done.data.unwrap()["csv"], json!({"row_count": 7}));
        // Events of another owner or file never reach it.
        state
            .events
            .status_change("other", &id, Some("completed"), "queued");
        state
            .events
            .publish("o", Event::error("another-file", "x", "y"));
        state
            .events
            .publish("o", Event::error(&id, "file_deleted", "gone"));
        assert_eq!(
            watch.next().await.unwrap().error.unwrap().code,
            "file_deleted"
        );
    }

    #[test]
    fn a_change_from_a_status_already_left_behind_is_stale() {
        // The upload's "uploading → queued" arriving after the worker's "queued → processing".
        assert!(is_stale("uploading", "processing"));
        // A retry and a re-process start where the client is.
        assert!(!is_stale("processing", "processing"));
        assert!(!is_stale("completed", "completed"));
        // Events the client missed move it forward.
        assert!(!is_stale("queued", "uploading"));
        assert!(!is_stale("uploading", ""));
    }
}
