//! `GET /debug/pprof/profile?seconds=N`: a CPU profile of the whole process in pprof's protobuf
//! format (`profile.proto` of github.com/google/pprof), read by `go tool pprof` and `pprof -top`.
//! Only routed when `monitoring.pprof_enabled` (`MONITORING_PPROF_ENABLED`); behind
//! authentication like the rest of the API.
//!
//! Samples are taken 100 times a second by `SIGPROF` (the pprof crate), stacks unwound from
//! DWARF unwind tables (framehop), for `seconds` (default 30, as Go's handler; 1 to 300).
//! One profile runs at a time: the sampling timer is process-wide. A request that goes away (the
//! client gave up, or the server is stopping) ends its profile within 100 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use pprof::protos::Message as _;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::ApiQuery;
use crate::state::AppState;

/// Samples per second (Go's runtime/pprof rate).
const SAMPLE_HZ: i32 = 100;
/// `seconds` when the query leaves it out (Go's default).
const DEFAULT_SECONDS: u64 = 30;
/// The longest profile one request may ask for, in seconds.
const MAX_SECONDS: u64 = 300;
/// Frames from these libraries are dropped from stacks: sampling inside them (the signal
/// trampoline, the vDSO) gives no useful frames and unwinding there is where profilers fail.
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// Set while a profile is being taken.
static PROFILING: AtomicBool = AtomicBool::new(false);

/// The routes of this group (routed only when profiling is enabled).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(profile))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ProfileQuery {
    /// How long to sample, in seconds: 1 to 300. Default 30.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 300, example = 1)]
    seconds: Option<String>,
}

/// How often a running profile checks whether its request is gone.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Releases [`PROFILING`] when the profile ends, however it ends.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        PROFILING.store(false, Ordering::Release);
    }
}

/// Held by the request: when the request is dropped (the client went away, or the server is
/// stopping), the sampling thread stops within [`CANCEL_CHECK`] and frees the profile slot,
/// instead of sampling for the whole `seconds` (which would also hold up the process's exit).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A CPU profile of the whole process, sampled at 100 Hz for `seconds`, in pprof's protobuf
/// format (read by `go tool pprof` and `pprof`). Only in the document and served when
/// `MONITORING_PPROF_ENABLED=true`.
#[utoipa::path(
    get,
    path = "/debug/pprof/profile",
    tag = "operations",
    params(ProfileQuery),
    responses(
        (status = 200, description = "The profile (`profile.proto`, uncompressed)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "`seconds` is not 1 to 300 (`invalid_query`)", body = ErrorBody),
        (status = 409, description = "Another profile is being taken (`profile_in_progress`)", body = ErrorBody),
    ),
)]
async fn profile(ApiQuery(query): ApiQuery<ProfileQuery>) -> Result<Response, ApiError> {
    let seconds = match query.seconds.as_deref() {
        None => DEFAULT_SECONDS,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=MAX_SECONDS).contains(s))
            .ok_or_else(|| ApiError::BadRequest {
                code: "invalid_query",
                message: format!(
                    "seconds = {text:?}: expected a whole number from 1 to {MAX_SECONDS}"
                ),
            })?,
    };
    if PROFILING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(ApiError::Conflict {
            code: "profile_in_progress",
            message: "a CPU profile is already being taken; try again when it ends".into(),
        });
    }
    let running = Running;
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(Arc::clone(&cancelled));
    let bytes = tokio::task::spawn_blocking(move || {
        let _running = running;
        take_profile(Duration::from_secs(seconds), &cancelled)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the profiling task failed: {e}")))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the CPU profile: {e}")))?;
    tracing::info!(seconds, bytes = bytes.len(), "CPU profile taken");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"profile.pb\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Sample the process for `length` and encode the profile (uncompressed protobuf; the pprof
/// tools read it as they read the gzipped form).
fn take_profile(length: Duration, cancelled: &AtomicBool) -> Result<Vec<u8>, pprof::Error> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(SAMPLE_HZ)
        .blocklist(&BLOCKLIST)
        .build()?;
    let until = std::time::Instant::now() + length;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || cancelled.load(Ordering::Acquire) {
            break;
        }
        std::thread::sleep(left.min(CANCEL_CHECK));
    }
    let profile = guard.report().build()?.pprof()?;
    Ok(profile.encode_to_vec())
}
