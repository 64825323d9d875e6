//! The pipeline of one job: read the stored bytes, run the format's analyzer off the async
//! executor, keep its records, and build the result JSON (`DESIGN.md` section 4).
//!
//! With `security.virus_scanning`, the first step is the virus scan ([`crate::scan`]): an
//! infected file ends the job as [`JobOutcome::Quarantined`] before any analyzer sees a byte.
//! A sequential analyzer (CSV) reads the blob as a stream, so nothing is spooled; a random-access
//! one gets a local temporary copy. The analyzer runs in `spawn_blocking`; a panic there fails
//! the job with `processor_panic` and nothing else.

use fileproc_formats::{Access, Analysis, Analyzer, Context, FileType, FormatError, Input, Limits};
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::blob::compress::Stored;
use crate::blob::{BlobStore, CryptError, StoreError};
use crate::catalog::{FileRecord, StoredResult};
use crate::config::OversizePolicy;
use crate::events::{ProgressReport, Step};
use crate::records::RecordWriter;
use crate::scan::{ScanError, ScanStatus, Scanner, VirusScan};
use crate::state::AppState;

/// How far a job is: its step, and how much of its input the analyzer has read (or the virus
/// scan has sent); shared by the analyzer's thread, the pipeline and the lease keeper (which
/// reports it).
#[derive(Debug)]
pub struct JobProgress {
    /// Bytes of the input consumed.
    pub bytes_done: AtomicU64,
    /// The input's size in bytes, once the pipeline knows it (0 before).
    pub bytes_total: AtomicU64,
    /// The step, as an index into [`STEPS`].
    step: AtomicU8,
    /// The analyzer's count of its own units (rows, pages, sheets), when it gives one.
    pub items: std::sync::Mutex<Option<fileproc_formats::Items>>,
}

/// The steps of processing, in order (`DESIGN.md` section 5), with the share of the whole job
/// done when each starts: extraction takes the job from 0 to 0.9 as the input is read.
const STEPS: [(Step, f64); 5] = [
    (Step::VirusScan, 0.0),
    (Step::Validation, 0.0),
    (Step::Extraction, 0.0),
    (Step::Thumbnail, 0.92),
    (Step::Storage, 0.96),
];

impl Default for JobProgress {
    /// A job that starts with validation (no virus scan).
    fn default() -> Self {
        JobProgress::starting_at(Step::Validation)
    }
}

impl JobProgress {
    /// A job whose first step is `step` (`virus_scan` when scanning is on, else `validation`).
    pub fn starting_at(step: Step) -> Self {
        let index = STEPS.iter().position(|(s, _)| *s == step).unwrap_or(0);
        JobProgress {
            bytes_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            step: AtomicU8::new(u8::try_from(index).unwrap_or(0)),
            items: std::sync::Mutex::new(None),
        }
    }

    /// The fraction of the input read, 0..1, or `None` while the size is unknown.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.bytes_total.load(Ordering::Relaxed);
        (total > 0).then(|| self.bytes_done.load(Ordering::Relaxed) as f64 / total as f64)
    }

    /// Move on to `step` (never back).
    pub fn enter(&self, step: Step) {
        if let Some(i) = STEPS.iter().position(|(s, _)| *s == step) {
            self.step
                .fetch_max(u8::try_from(i).unwrap_or(0), Ordering::Relaxed);
        }
    }

    /// The step and the job's progress, 0..1 (below 1 until the job completes).
    pub fn report(&self) -> ProgressReport {
        let i = usize::from(self.step.load(Ordering::Relaxed)).min(STEPS.len() - 1);
        let (step, start) = STEPS[i];
        let read = self.fraction().unwrap_or(0.0).clamp(0.0, 1.0);
        let progress = match step {
            Step::Extraction => read * 0.9,
            _ => start,
        };
        let total = self.bytes_total.load(Ordering::Relaxed);
        let items = match step {
            Step::Extraction => self.items.lock().ok().and_then(|i| *i),
            _ => None,
        };
        let message = items.map(|i| match i.total {
            Some(total) => format!("{} of {total} {}", i.done, i.unit),
            None => format!("{} {}", i.done, i.unit),
        });
        ProgressReport {
            step,
            progress: Some(progress.min(0.99)),
            message,
            bytes_done: self.bytes_done.load(Ordering::Relaxed).min(total.max(1)),
            bytes_total: (total > 0).then_some(total),
        }
    }
}

/// Why an attempt failed, and whether another may succeed.
#[derive(Debug)]
pub struct JobError {
    /// Stable code for the file's `error.code`.
    pub code: &'static str,
    pub message: String,
    /// Whether trying again may help (storage hiccup, timeout), unlike a bad file.
    pub retryable: bool,
}

impl JobError {
    /// A failure another attempt may not repeat.
    pub fn retryable(code: &'static str, message: impl Into<String>) -> Self {
        JobError {
            code,
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure another attempt would repeat.
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        JobError {
            code,
            message: message.into(),
            retryable: false,
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        JobError::retryable("internal_error", e.to_string())
    }
}

impl From<FormatError> for JobError {
    fn from(e: FormatError) -> Self {
        let retryable = matches!(e, FormatError::Io(_));
        JobError {
            code: e.code(),
            message: e.to_string(),
            retryable,
        }
    }
}

/// How a job that did not fail ended.
#[derive(Debug)]
pub enum JobOutcome {
    /// Processed: the result to store.
    Completed(StoredResult),
    /// The virus scan found threats: the file is to be quarantined, unprocessed.
    Quarantined(VirusScan),
}

/// Process `file` (the file of a claimed job): scan it first when scanning is on, then analyze
/// it; `progress` is advanced as the scan and the analyzer read, `cancel` stops the analyzer.
///
/// # Errors
/// A [`JobError`] saying what failed and whether to retry.
pub async fn process(
    state: &AppState,
    file: &FileRecord,
    cancel: Arc<AtomicBool>,
    progress: Arc<JobProgress>,
) -> Result<JobOutcome, JobError> {
    if let Some(scanner) = Scanner::from_settings(&state.settings.security)
        && let Some(infected) = virus_scan(state, &scanner, file, &progress).await?
    {
        return Ok(JobOutcome::Quarantined(infected));
    }
    analyze(state, file, cancel, progress)
        .await
        .map(JobOutcome::Completed)
}

/// The `virus_scan` step: scan the stored file and record the outcome. `Some(scan)` when the
/// file is infected (the caller quarantines it, recording the scan with it); `None` to go on.
///
/// # Errors
/// `scanner_unavailable` (retryable) when clamd cannot give a verdict; `storage_error` when the
/// store fails; `not_scanned` (permanent) for a file too large to scan under
/// `security.scan_oversize = refuse`.
async fn virus_scan(
    state: &AppState,
    scanner: &Scanner,
    file: &FileRecord,
    progress: &JobProgress,
) -> Result<Option<VirusScan>, JobError> {
    progress.enter(Step::VirusScan);
    let size = u64::try_from(file.size).unwrap_or(0);
    progress.bytes_total.store(size, Ordering::Relaxed);
    // Said at once, so that even a scan shorter than the progress period shows its step.
    state
        .events
        .progress(&file.owner, &file.id, &progress.report());
    let scan = scanner
        .scan_object(&state.blobs, &file.storage_key, &progress.bytes_done)
        .await;
    crate::scan::count(&state.metrics, &scan);
    let scan = scan.map_err(|e| match e {
        ScanError::Store(message) => storage_error(StoreError::Io(std::io::Error::other(message))),
        other => {
            // The cause (with clamd's address) is logged, not shown to clients.
            tracing::warn!(error = %other, "virus scan failed");
            let why = match other {
                ScanError::Timeout(_) => "did not answer in time",
                _ => "could not be reached or failed",
            };
            JobError::retryable(
                "scanner_unavailable",
                format!("the virus scanner {why}; the job will be retried"),
            )
        }
    })?;
    tracing::info!(scan.status = ?scan.status, scan.threats = ?scan.threats, "file scanned");
    if scan.status == ScanStatus::Infected {
        return Ok(Some(scan));
    }
    state
        .catalog
        .record_virus_scan(&file.id, &scan.to_json())
        .await
        .map_err(JobError::internal)?;
    if scan.status == ScanStatus::NotScanned
        && state.settings.security.scan_oversize == OversizePolicy::Refuse
    {
        return Err(JobError::permanent(
            "not_scanned",
            format!(
                "{}; files that cannot be scanned are not processed (security.scan_oversize = refuse)",
                scan.reason.as_deref().unwrap_or("the file was not scanned")
            ),
        ));
    }
    Ok(None)
}

/// Analyze `file` and store what the analysis made.
async fn analyze(
    state: &AppState,
    file: &FileRecord,
    cancel: Arc<AtomicBool>,
    progress: Arc<JobProgress>,
) -> Result<StoredResult, JobError> {
    let started = Instant::now();
    progress.enter(Step::Validation);
    // The scan counted the bytes it sent; the analyzer counts its own from 0.
    progress.bytes_done.store(0, Ordering::Relaxed);
    let file_type = FileType::parse(&file.file_type)
        .ok_or_else(|| JobError::permanent("unsupported_format", "unknown file type"))?;
    let analyzer = fileproc_formats::analyzer_for(file_type).ok_or_else(|| {
        JobError::permanent(
            "unsupported_format",
            format!("{} files cannot be processed yet", file_type.as_str()),
        )
    })?;
    let limits = state.settings.processing.limits();
    let (input, damage) = open_input(state, file, analyzer.access()).await?;
    progress.enter(Step::Extraction);
    let size = u64::try_from(file.size).ok();
    progress
        .bytes_total
        .store(size.unwrap_or(0), Ordering::Relaxed);
    let analyzed =
        analyze_off_executor(analyzer, input, limits, size, cancel, progress.clone()).await;
    // A stored chunk that failed to open reaches the analyzer as a read error, which it may
    // word its own way (or outlive): the stream's own record of it decides the outcome.
    if let Some(damage) = damage.get() {
        return Err(integrity_failure(damage));
    }
    let Analyzed {
        analysis,
        count,
        index,
        records_file,
    } = analyzed?;
    progress.enter(Step::Thumbnail);
    store_images(state, &file.id, &analysis).await?;
    progress.enter(Step::Storage);
    let records_key = if count > 0 {
        let key = BlobStore::records_key(&file.id);
        store_records(state, &key, records_file).await?;
        Some(key)
    } else {
        None
    };
    let elapsed = started.elapsed().as_millis() as u64;
    let result = result_json(
        Some(&file.id),
        file_type,
        analyzer,
        &analysis,
        elapsed,
        size.unwrap_or(0),
        &file.sha256,
    );
    Ok(StoredResult {
        result,
        records_key,
        records_index: index,
        records_count: i64::try_from(count).unwrap_or(i64::MAX),
    })
}

/// What an analysis leaves: the summary and the records in a local file.
struct Analyzed {
    analysis: Analysis,
    /// Records written.
    count: u64,
    /// Byte offset of every `INDEX_STRIDE`th record.
    index: Vec<u64>,
    /// The records as NDJSON.
    records_file: std::fs::File,
}

/// Run `analyzer` on a blocking thread, its records going to a temporary file. A panic inside
/// fails with `processor_panic`; it cannot reach the worker or the process.
async fn analyze_off_executor(
    analyzer: &'static dyn Analyzer,
    input: Source,
    limits: Limits,
    size: Option<u64>,
    cancel: Arc<AtomicBool>,
    job_progress: Arc<JobProgress>,
) -> Result<Analyzed, JobError> {
    let records_file = tempfile::tempfile().map_err(JobError::internal)?;
    let task = tokio::task::spawn_blocking(move || {
        let mut writer = RecordWriter::new(records_file.try_clone()?);
        let mut progress = |p: fileproc_formats::Progress| {
            job_progress
                .bytes_done
                .store(p.bytes_done, Ordering::Relaxed);
            if let (Some(items), Ok(mut slot)) = (p.items, job_progress.items.lock()) {
                *slot = Some(items);
            }
        };
        let analysis = run_analyzer(
            analyzer,
            input,
            limits,
            size,
            &mut progress,
            &mut writer,
            &cancel,
        )?;
        let (count, index) = writer.finish()?;
        Ok::<_, FormatError>(Analyzed {
            analysis,
            count,
            index,
            records_file,
        })
    });
    match task.await {
        Ok(r) => Ok(r?),
        Err(e) if e.is_panic() => Err(JobError::permanent(
            "processor_panic",
            format!("the {} processor crashed on this file", analyzer.name()),
        )),
        Err(e) => Err(JobError::internal(e)),
    }
}

/// The bytes of a stored file, as the analyzer needs them.
enum Source {
    Stream(Box<dyn Read + Send>),
    File(std::fs::File),
}

/// The stored file as the analyzer reads it, and where its stream records a chunk that failed
/// to open (see [`process`]).
async fn open_input(
    state: &AppState,
    file: &FileRecord,
    access: Access,
) -> Result<(Source, Arc<OnceLock<CryptError>>), JobError> {
    let damage = Arc::new(OnceLock::new());
    let noted = damage.clone();
    let stream = state
        .blobs
        .get_original(
            &file.storage_key,
            Stored::from_compressed_size(file.compressed_size),
            None,
        )
        .await
        .map_err(storage_error)?
        .inspect_err(move |e| {
            if let StoreError::Integrity(e) = e {
                let _ = noted.set(e.clone());
            }
        })
        .map_err(std::io::Error::other);
    match access {
        Access::Sequential => Ok((
            Source::Stream(Box::new(SyncIoBridge::new(StreamReader::new(stream)))),
            damage,
        )),
        Access::Random => {
            let temp = tempfile::tempfile().map_err(JobError::internal)?;
            let mut out = tokio::fs::File::from_std(temp.try_clone().map_err(JobError::internal)?);
            let mut reader = StreamReader::new(stream);
            if let Err(e) = tokio::io::copy(&mut reader, &mut out).await {
                return Err(match damage.get() {
                    Some(damage) => integrity_failure(damage),
                    None => storage_error(e),
                });
            }
            Ok((Source::File(temp), damage))
        }
    }
}

fn run_analyzer(
    analyzer: &dyn Analyzer,
    source: Source,
    limits: Limits,
    size: Option<u64>,
    progress: &mut dyn FnMut(fileproc_formats::Progress),
    records: &mut RecordWriter,
    cancel: &AtomicBool,
) -> Result<Analysis, FormatError> {
    let mut ctx = Context {
        limits,
        size,
        progress,
        records,
        cancel,
    };
    match source {
        Source::Stream(mut r) => analyzer.analyze(Input::Stream(&mut r), &mut ctx),
        Source::File(mut f) => {
            use std::io::Seek;
            f.rewind()?;
            analyzer.analyze(Input::Seekable(&mut f), &mut ctx)
        }
    }
}

async fn store_records(state: &AppState, key: &str, file: std::fs::File) -> Result<(), JobError> {
    use std::io::Seek;
    let mut file = file;
    file.rewind().map_err(JobError::internal)?;
    state
        .blobs
        .put_file(key, tokio::fs::File::from_std(file))
        .await
        .map_err(storage_error)
}

/// Store the thumbnails, the conversion and the optimised variant an analysis made, beside
/// the original.
async fn store_images(
    state: &AppState,
    file_id: &str,
    analysis: &Analysis,
) -> Result<(), JobError> {
    for thumb in &analysis.thumbnails {
        let key = BlobStore::thumbnail_key(file_id, thumb.size, thumb.image.format);
        let bytes = bytes::Bytes::from(thumb.image.bytes.clone());
        state.blobs.put(&key, bytes).await.map_err(storage_error)?;
    }
    if let Some(converted) = &analysis.converted {
        let key = BlobStore::converted_key(file_id, converted.format);
        let bytes = bytes::Bytes::from(converted.bytes.clone());
        state.blobs.put(&key, bytes).await.map_err(storage_error)?;
    }
    if let Some(optimized) = &analysis.optimized {
        let key = BlobStore::optimized_key(file_id, optimized.image.format);
        let bytes = bytes::Bytes::from(optimized.image.bytes.clone());
        state.blobs.put(&key, bytes).await.map_err(storage_error)?;
    }
    Ok(())
}

/// A blob store failure as a job error: retryable, its details logged rather than shown to
/// clients (they hold store URLs and retry internals); a stored object that failed to open is
/// [`integrity_failure`].
fn storage_error(e: impl Into<StoreError>) -> JobError {
    let e = e.into();
    if let StoreError::Integrity(damage) = &e {
        return integrity_failure(damage);
    }
    tracing::warn!(error = %e, "blob store failed during a job");
    JobError::retryable(
        "storage_error",
        "the file store could not be reached; the job will be retried",
    )
}

/// A stored object that failed to open as a job error: `integrity_error` (or `key_unavailable`),
/// not retried, since another read gives the same bytes.
fn integrity_failure(damage: &CryptError) -> JobError {
    tracing::error!(error = %damage, error.code = damage.code(), "the stored file failed to open");
    JobError::permanent(damage.code(), damage.to_string())
}

/// The result JSON of `DESIGN.md` section 4: the common fields and the format's section.
pub fn result_json(
    file_id: Option<&str>,
    file_type: FileType,
    analyzer: &dyn Analyzer,
    analysis: &Analysis,
    processing_ms: u64,
    size: u64,
    sha256: &str,
) -> Value {
    let mut result = json!({
        "file_id": file_id,
        "file_type": file_type.as_str(),
        "status": "completed",
        "processor": {"name": analyzer.name(), "version": analyzer.version()},
        "processing_ms": processing_ms,
        "size": size,
        "sha256": sha256,
        "warnings": analysis.warnings,
        "thumbnails": analysis.thumbnails.iter().map(|t| json!({
            "size": t.size,
            "width": t.image.width,
            "height": t.image.height,
            "format": t.image.format.as_str(),
            "bytes": t.image.bytes.len(),
            "url": file_id.map(|id| format!("/api/v1/files/{id}/thumbnail?size={}", t.size)),
        })).collect::<Vec<_>>(),
    });
    if let (Some(obj), Some(c)) = (result.as_object_mut(), &analysis.converted) {
        obj.insert(
            "converted".to_owned(),
            json!({
                "format": c.format.as_str(),
                "width": c.width,
                "height": c.height,
                "bytes": c.bytes.len(),
                "url": file_id.map(|id| format!("/api/v1/files/{id}/converted")),
            }),
        );
    }
    if let (Some(obj), Some(o)) = (result.as_object_mut(), &analysis.optimized) {
        obj.insert(
            "optimized".to_owned(),
            json!({
                "format": o.image.format.as_str(),
                "width": o.image.width,
                "height": o.image.height,
                "bytes": o.image.bytes.len(),
                "original_bytes": o.original_bytes,
                "saving_bytes": o.saving_bytes(),
                "saving_ratio": o.saving_ratio(),
                "lossless": true,
                "metadata_stripped": o.metadata_stripped,
                "url": file_id.map(|id| format!("/api/v1/files/{id}/optimized")),
            }),
        );
    }
    if let (Some(obj), Ok(Value::Object(section))) = (
        result.as_object_mut(),
        serde_json::to_value(&analysis.section),
    ) {
        obj.extend(section);
    }
    result
}

#[cfg(test)]
mod tests {
    use crate::events::Step;
    use fileproc_formats::Items;

    #[test]
    fn job_progress_goes_through_the_steps_and_counts_the_analyzers_units() {
        let p = JobProgress::default();
        p.bytes_total.store(1000, Ordering::Relaxed);
        p.bytes_done.store(500, Ordering::Relaxed);
        assert_eq!(p.report().step, Step::Validation);
        assert_eq!(p.report().progress, Some(0.0));
        p.enter(Step::Extraction);
        *p.items.lock().unwrap() = Some(Items {
            done: 3,
            total: Some(10),
            unit: "pages",
        });
        let r = p.report();
        assert_eq!((r.step, r.progress), (Step::Extraction, Some(0.45)));
        assert_eq!(r.message.as_deref(), Some("3 of 10 pages"));
        assert_eq!((r.bytes_done, r.bytes_total), (500, Some(1000)));
        p.enter(Step::Storage);
        p.enter(Step::Thumbnail);
        let r = p.report();
        assert_eq!(
            (r.step, r.progress, r.message),
            (Step::Storage, Some(0.96), None)
        );
    }

    use super::*;
    use fileproc_formats::{Access, Analyzer, Context, Input};

    /// An analyzer that panics midway, as a buggy parser would on a hostile file.
    struct Panicking;

    impl Analyzer for Panicking {
        fn name(&self) -> &'static str {
            "panicking"
        }
        fn version(&self) -> &'static str {
            "0"
        }
        fn access(&self) -> Access {
            Access::Sequential
        }
        fn analyze(
            &self,
            mut input: Input<'_>,
            _ctx: &mut Context<'_>,
        ) -> Result<Analysis, FormatError> {
            let mut first = [0u8; 1];
            input.reader().read_exact(&mut first)?;
            let empty: Vec<u8> = Vec::new();
            // An out-of-bounds index: the kind of bug a parser has on input it did not expect.
            let byte = empty[usize::from(first[0])];
            Err(FormatError::Corrupt(format!("unreachable {byte}")))
        }
    }

    #[tokio::test]
    async fn a_panic_in_an_analyzer_fails_the_job_with_processor_panic() {
        let input = Source::Stream(Box::new(std::io::Cursor::new(b"abc".to_vec())));
        let outcome = analyze_off_executor(
            &Panicking,
            input,
            Limits::default(),
            Some(3),
            Arc::new(AtomicBool::new(false)),
            Arc::new(JobProgress::default()),
        )
        .await;
        let err = outcome.err().expect("the panic is an error");
        assert_eq!(err.code, "processor_panic");
        assert!(!err.retryable);
        assert_eq!(err.message, "the panicking processor crashed on this file");
    }
}
