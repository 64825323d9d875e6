//! What the caller hands an analyzer besides the bytes: limits, a progress callback, a sink for
//! records and a cancel flag.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::FormatError;

/// Protective limits and result sizes (`DESIGN.md` section 6).
#[derive(Debug, Clone)]
pub struct Limits {
    /// How many typed records the result itself carries (the rest are only in the record sink).
    pub preview_records: usize,
    /// Largest CSV field, in bytes; a larger one fails the job with `limit_exceeded`.
    pub max_field_bytes: usize,
    /// Largest CSV record (all fields together), in bytes.
    pub max_record_bytes: usize,
    /// Most columns a CSV record may have.
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            preview_records: 100,
            max_field_bytes: 1 << 20,
            max_record_bytes: 8 << 20,
            max_columns: 4096,
        }
    }
}

/// Progress through the input.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of the input consumed so far.
    pub bytes_done: u64,
    /// The input's size in bytes, when known.
    pub bytes_total: Option<u64>,
}

/// Receives every record of a tabular format, in order, as its raw (UTF-8 decoded) fields; `None`
/// is a null cell. The columns' final types are only known at the end, so typing is done by the
/// reader of the records (see [`crate::csv::typed_record`]).
pub trait RecordSink {
    /// One record.
    ///
    /// # Errors
    /// An I/O error from wherever the sink writes; the analysis stops with it.
    fn record(&mut self, fields: &[Option<&str>]) -> std::io::Result<()>;
}

/// A sink that drops records, for callers that only want the summary.
pub struct DiscardRecords;

impl RecordSink for DiscardRecords {
    fn record(&mut self, _fields: &[Option<&str>]) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything besides the input.
pub struct Context<'a> {
    /// Limits and result sizes.
    pub limits: Limits,
    /// The input's size in bytes, when known.
    pub size: Option<u64>,
    /// Called now and then with how far the analysis is; keep it cheap.
    pub progress: &'a mut dyn FnMut(Progress),
    /// Where records go.
    pub records: &'a mut dyn RecordSink,
    /// Set by the caller to stop the analysis (timeout, cancel); analyzers check it regularly.
    pub cancel: &'a AtomicBool,
}

impl Context<'_> {
    /// `Err(Cancelled)` once the caller has set the cancel flag.
    ///
    /// # Errors
    /// [`FormatError::Cancelled`].
    pub fn check_cancelled(&self) -> Result<(), FormatError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(FormatError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Report progress.
    pub fn report(&mut self, bytes_done: u64) {
        let bytes_total = self.size;
        (self.progress)(Progress {
            bytes_done,
            bytes_total,
        });
    }
}
