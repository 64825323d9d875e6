//! The queue's workers (`DESIGN.md` section 1). Jobs live in the catalog's jobs table; each of
//! `processing.worker_count` workers claims one with a lease, renews the lease while the job runs,
//! and records the outcome. A job whose lease expires (its process died) is claimed again by any
//! worker. Failures that may pass (storage, timeout) are retried with exponential backoff up to
//! `processing.max_retries`; a bad file fails at once. A panic in a processor fails that job only.
//!
//! Workers wake on a [`Notify`] when this instance enqueues, and poll every
//! `processing.poll_interval` for work enqueued elsewhere or due after a backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::catalog::{ClaimedJob, JobFailure};
use crate::events::Event;
use crate::metrics::JobEnd;
use crate::pipeline::{self, JobError, JobOutcome, JobProgress};
use crate::state::AppState;

/// How often a running job's progress is recorded and published.
const PROGRESS_PERIOD: Duration = Duration::from_millis(250);

/// Wakes workers and tells how many are alive.
#[derive(Clone, Default)]
pub struct QueueHandle {
    notify: Arc<Notify>,
    alive: Arc<AtomicUsize>,
}

impl QueueHandle {
    /// Tell a sleeping worker there is work.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Workers currently running their loop.
    pub fn alive(&self) -> usize {
        self.alive.load(Ordering::Relaxed)
    }
}

/// The running workers.
pub struct WorkerPool {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl WorkerPool {
    /// Start `state.settings.processing.worker_count` workers.
    pub fn start(state: &AppState) -> Self {
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let instance = uuid::Uuid::new_v4().simple().to_string();
        for n in 0..state.settings.processing.worker_count {
            let worker = format!("{}-{n}", &instance[..12]);
            let span = tracing::info_span!("worker", worker.id = %worker);
            tasks.spawn(worker_loop(state.clone(), worker, shutdown.clone()).instrument(span));
        }
        WorkerPool { tasks, shutdown }
    }

    /// Stop claiming, hand running jobs back to the queue, and wait for the workers.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn worker_loop(state: AppState, worker: String, shutdown: CancellationToken) {
    let queue = state.queue.clone();
    queue.alive.fetch_add(1, Ordering::Relaxed);
    state.metrics.worker_started();
    let settings = &state.settings.processing;
    while !shutdown.is_cancelled() {
        match state
            .catalog
            .claim_job(&worker, settings.lease_duration)
            .await
        {
            Ok(Some(job)) => {
                if job.lease_expired {
                    state.metrics.lease_expired();
                }
                state.metrics.worker_busy(true);
                // A job's span is not the worker's child (the worker runs for the life of the
                // process): it joins the trace of the request that queued it, if there is one.
                let span = tracing::info_span!(
                    parent: None,
                    "job",
                    otel.name = "process file",
                    otel.kind = "consumer",
                    job.id = %job.id,
                    file.id = %job.file_id,
                    job.attempt = job.attempts,
                    worker.id = %worker,
                );
                crate::telemetry::adopt_trace_context(&span, job.trace_context.as_deref());
                run_job(&state, &worker, job, &shutdown)
                    .instrument(span)
                    .await;
                state.metrics.worker_busy(false);
            }
            Ok(None) => {
                tokio::select! {
                    () = queue.notify.notified() => {}
                    () = tokio::time::sleep(settings.poll_interval) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                tokio::select! {
                    () = tokio::time::sleep(settings.poll_interval) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
    queue.alive.fetch_sub(1, Ordering::Relaxed);
    state.metrics.worker_stopped();
}

/// Run one claimed job to an outcome, renewing its lease meanwhile.
async fn run_job(state: &AppState, worker: &str, job: ClaimedJob, shutdown: &CancellationToken) {
    let settings = &state.settings.processing;
    if job.attempts > job.max_attempts {
        let failure = JobFailure {
            code: "attempts_exhausted".into(),
            message: format!(
                "gave up after {} attempts; the last one ended without an outcome (its worker stopped)",
                job.max_attempts
            ),
            retry_in: None,
        };
        let file = state.catalog.get_file_by_id(&job.file_id).await.ok();
        let ended = file.as_ref().map(|f| Ended {
            owner: &f.owner,
            file_type: &f.file_type,
            seconds: None,
        });
        record_failure(state, worker, &job, ended, &failure).await;
        return;
    }
    let file = match state.catalog.get_file_by_id(&job.file_id).await {
        Ok(file) => file,
        Err(e) => {
            let failure = JobFailure {
                code: "internal_error".into(),
                message: format!("reading the file's row failed: {e}"),
                retry_in: (job.attempts < job.max_attempts)
                    .then(|| backoff(settings.retry_backoff, job.attempts)),
            };
            record_failure(state, worker, &job, None, &failure).await;
            return;
        }
    };
    let owner = file.owner.clone();
    state
        .events
        .status_change(&owner, &job.file_id, Some("queued"), "processing");
    tracing::info!("job started");
    let started = Instant::now();
    let cancel = Arc::new(AtomicBool::new(false));
    let first_step = if state.settings.security.virus_scanning {
        crate::events::Step::VirusScan
    } else {
        crate::events::Step::Validation
    };
    let progress = Arc::new(JobProgress::starting_at(first_step));
    let lease_lost = CancellationToken::new();
    let keeper = tokio::spawn(keep_lease(
        state.clone(),
        worker.to_owned(),
        job.clone(),
        owner.clone(),
        progress.clone(),
        lease_lost.clone(),
    ));
    let work = pipeline::process(state, &file, cancel.clone(), progress);
    let outcome = tokio::select! {
        r = tokio::time::timeout(settings.timeout, work) => match r {
            Ok(r) => Some(r),
            Err(_) => Some(Err(JobError::retryable(
                "timeout",
                format!("processing took longer than {} s", settings.timeout.as_secs_f64()),
            ))),
        },
        () = lease_lost.cancelled() => None,
        () = shutdown.cancelled() => {
            cancel.store(true, Ordering::Relaxed);
            keeper.abort();
            match state.catalog.release_job(&job, worker).await {
                Ok(()) => state.events.status_change(&owner, &job.file_id, Some("processing"), "queued"),
                Err(e) => tracing::error!(error = %e, "handing the job back failed; its lease will expire"),
            }
            tracing::info!("job handed back to the queue at shutdown");
            return;
        }
    };
    cancel.store(true, Ordering::Relaxed);
    keeper.abort();
    let Some(outcome) = outcome else {
        tracing::warn!("lease lost; another worker owns the job now, or the file was deleted");
        remove_output_if_deleted(state, &job.file_id).await;
        return;
    };
    match outcome {
        Ok(JobOutcome::Quarantined(scan)) => {
            if quarantine(state, worker, &job, &owner, &scan).await {
                let metrics = &state.metrics;
                metrics.processing_time(&file.file_type, started.elapsed().as_secs_f64());
                metrics.job_ended(&file.file_type, JobEnd::Quarantined);
            }
        }
        Ok(JobOutcome::Completed(result)) => match state
            .catalog
            .complete_job(&job, worker, &result)
            .await
        {
            Ok(true) => {
                let metrics = &state.metrics;
                metrics.processing_time(&file.file_type, started.elapsed().as_secs_f64());
                metrics.job_ended(&file.file_type, JobEnd::Completed);
                state.cache.invalidate(&job.file_id).await;
                state
                    .events
                    .status_change(&owner, &job.file_id, Some("processing"), "completed");
                state
                    .events
                    .publish(&owner, Event::completed(&job.file_id, &result.result));
                tracing::info!(
                    job.ms = started.elapsed().as_millis() as u64,
                    "job completed"
                );
            }
            Ok(false) => {
                tracing::warn!("job finished after its lease was lost; result dropped");
                remove_output_if_deleted(state, &job.file_id).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "storing the result failed; the lease will expire and the job run again")
            }
        },
        Err(e) => {
            let retry_in = (e.retryable && job.attempts < job.max_attempts)
                .then(|| backoff(settings.retry_backoff, job.attempts));
            let failure = JobFailure {
                code: e.code.to_owned(),
                message: e.message,
                retry_in,
            };
            let ended = Ended {
                owner: &owner,
                file_type: &file.file_type,
                seconds: Some(started.elapsed().as_secs_f64()),
            };
            record_failure(state, worker, &job, Some(ended), &failure).await;
        }
    }
}

/// The scan found threats: quarantine the file (the job ends for good) and tell its watchers.
async fn quarantine(
    state: &AppState,
    worker: &str,
    job: &ClaimedJob,
    owner: &str,
    scan: &crate::scan::VirusScan,
) -> bool {
    let quarantine = scan.quarantine();
    match state.catalog.quarantine_job(job, worker, &quarantine).await {
        Ok(true) => {
            tracing::warn!(threats = ?scan.threats, "infected file quarantined");
            state.cache.invalidate(&job.file_id).await;
            publish_quarantined(state, owner, &job.file_id, Some("processing"), &quarantine);
            true
        }
        Ok(false) => {
            tracing::warn!("the scan ended after the lease was lost; the next attempt scans again");
            remove_output_if_deleted(state, &job.file_id).await;
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "quarantining the file failed; the lease will expire and the job run again");
            false
        }
    }
}

/// Tell a file's watchers it is quarantined: `status_change` to `quarantined`, then `error`
/// with the code `quarantined`.
pub fn publish_quarantined(
    state: &AppState,
    owner: &str,
    file_id: &str,
    old_status: Option<&str>,
    quarantine: &crate::catalog::Quarantine,
) {
    state
        .events
        .status_change(owner, file_id, old_status, "quarantined");
    state.events.publish(
        owner,
        Event::error(file_id, "quarantined", &quarantine.message),
    );
}

/// The file of a job that ended: whose, of which type, after how long (`None`: the pipeline
/// did not run).
struct Ended<'a> {
    owner: &'a str,
    file_type: &'a str,
    seconds: Option<f64>,
}

/// Record a failed attempt and tell the file's watchers: back to `queued` for a retry, or
/// `failed` with the error; count it (`fileproc_processing_errors_total`, retries, failures).
async fn record_failure(
    state: &AppState,
    worker: &str,
    job: &ClaimedJob,
    ended: Option<Ended<'_>>,
    failure: &JobFailure,
) {
    match failure.retry_in {
        Some(d) => {
            tracing::warn!(error.code = %failure.code, error = %failure.message, retry_in_ms = d.as_millis() as u64, "job attempt failed")
        }
        None => tracing::warn!(error.code = %failure.code, error = %failure.message, "job failed"),
    }
    if let Err(e) = state.catalog.fail_job(job, worker, failure).await {
        tracing::error!(error = %e, "recording the failure failed; the lease will expire and the job run again");
        return;
    }
    let metrics = &state.metrics;
    metrics.processing_error(&failure.code);
    let file_type = ended.as_ref().map_or("unknown", |e| e.file_type);
    if let Some(seconds) = ended.as_ref().and_then(|e| e.seconds) {
        metrics.processing_time(file_type, seconds);
    }
    match failure.retry_in {
        Some(_) => metrics.job_retried(),
        None => metrics.job_ended(file_type, JobEnd::Failed),
    }
    let Some(owner) = ended.map(|e| e.owner) else {
        return;
    };
    let file_id = &job.file_id;
    match failure.retry_in {
        Some(_) => state
            .events
            .status_change(owner, file_id, Some("processing"), "queued"),
        None => {
            state
                .events
                .status_change(owner, file_id, Some("processing"), "failed");
            state.events.publish(
                owner,
                Event::error(file_id, &failure.code, &failure.message),
            );
        }
    }
}

/// A file deleted while its job ran: remove what the job wrote (its records) after the delete.
async fn remove_output_if_deleted(state: &AppState, file_id: &str) {
    if let Err(crate::catalog::CatalogError::NotFound) = state.catalog.get_file_by_id(file_id).await
        && let Err(e) = state.blobs.delete_file_objects(file_id).await
    {
        tracing::warn!(error = %e, "removing the output of a deleted file failed");
    }
}

/// `base × 2^(attempt-1)`, capped at one hour.
fn backoff(base: Duration, attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    base.saturating_mul(1 << exp).min(Duration::from_secs(3600))
}

/// Renew the lease every third of its length and report progress (to the catalog, then as an
/// event, so the status endpoint and the last event agree); cancel `lost` if the lease is gone.
async fn keep_lease(
    state: AppState,
    worker: String,
    job: ClaimedJob,
    owner: String,
    progress: Arc<JobProgress>,
    lost: CancellationToken,
) {
    let lease = state.settings.processing.lease_duration;
    let mut renew = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
    let mut report = tokio::time::interval(PROGRESS_PERIOD);
    let mut last_reported: Option<(crate::events::Step, f64)> = None;
    loop {
        tokio::select! {
            _ = renew.tick() => match state.catalog.renew_lease(&job.id, &worker, lease).await {
                Ok(true) => {}
                Ok(false) => { lost.cancel(); return; }
                Err(e) => tracing::warn!(error = %e, "renewing the lease failed; trying again"),
            },
            _ = report.tick() => {
                let now = progress.report();
                let fraction = now.progress.unwrap_or_default();
                if last_reported == Some((now.step, fraction)) {
                    continue;
                }
                last_reported = Some((now.step, fraction));
                match state.catalog.set_progress(&job.file_id, fraction, now.step.as_str()).await {
                    Ok(()) => {
                        state.events.progress(&owner, &job.file_id, &now);
                    }
                    Err(e) => tracing::warn!(error = %e, "recording progress failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, 4), Duration::from_secs(16));
        assert_eq!(backoff(base, 40), Duration::from_secs(3600));
    }
}
