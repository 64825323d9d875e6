//! Records from the decoded byte stream, in batches, on a thread of their own.
//!
//! The parser is `csv_core` driven directly (not `csv::Reader`) so that a record's size is bounded
//! while it is read: a field or record past its limit fails before it is buffered whole. Records
//! are packed into [`Batch`]es (one byte buffer and offsets, no allocation per record or field);
//! a producer thread parses while the caller analyses the previous batch, and emptied batches go
//! back to the producer to be refilled.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use csv_core::ReadRecordResult;

use crate::{FormatError, Limits};

/// A batch is handed over once it holds this many bytes of fields...
const BATCH_BYTES: usize = 256 << 10;
/// ...or this many records.
const BATCH_RECORDS: usize = 2048;
/// Batches parsed ahead of the analysis.
const BATCHES_AHEAD: usize = 2;

/// Parsed records: all fields in one buffer.
#[derive(Default)]
pub(super) struct Batch {
    /// Field bytes while the batch is filled; only `..used` is meaningful.
    buf: Vec<u8>,
    used: usize,
    /// The same bytes once the batch is sealed, when they are valid UTF-8 (the usual case): the
    /// producer validates the whole batch at once, so the consumer gets `&str` fields for the
    /// price of two char-boundary checks each.
    text: Option<String>,
    /// Whether the sealed batch is all ASCII (characters are bytes).
    ascii: bool,
    /// End offsets in `buf` of every field; only `..nends` is meaningful.
    ends: Vec<usize>,
    nends: usize,
    /// For each record, one past the index of its last field in `ends`.
    records: Vec<usize>,
    /// Each record's start offset in `buf`.
    starts: Vec<usize>,
}

/// One record of a batch.
#[derive(Clone, Copy)]
pub(super) struct Record<'a> {
    bytes: &'a [u8],
    text: Option<&'a str>,
    ends: &'a [usize],
    start: usize,
    /// Whether every field is ASCII.
    pub ascii: bool,
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The fields' bytes, with their text when the batch was valid UTF-8.
    pub(super) fn fields(self) -> impl Iterator<Item = (&'a [u8], Option<&'a str>)> {
        let starts = std::iter::once(self.start).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(move |(s, e)| {
            (
                self.bytes.get(s..e).unwrap_or_default(),
                self.text.and_then(|t| t.get(s..e)),
            )
        })
    }
}

impl Batch {
    fn clear(&mut self) {
        if let Some(text) = self.text.take() {
            self.buf = text.into_bytes();
        }
        self.used = 0;
        self.nends = 0;
        self.records.clear();
        self.starts.clear();
    }

    /// Validates the filled batch as UTF-8 (on the producer thread).
    fn seal(&mut self) {
        self.buf.truncate(self.used);
        self.ascii = self.buf.is_ascii();
        match String::from_utf8(std::mem::take(&mut self.buf)) {
            Ok(text) => self.text = Some(text),
            Err(e) => self.buf = e.into_bytes(),
        }
    }

    /// The records, in order.
    pub(super) fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let bytes = self
            .text
            .as_ref()
            .map_or(self.buf.as_slice(), String::as_bytes);
        let text = self.text.as_deref();
        let firsts = std::iter::once(0).chain(self.records.iter().copied());
        firsts
            .zip(self.records.iter().copied())
            .zip(self.starts.iter().copied())
            .map(move |((a, b), start)| Record {
                bytes,
                text,
                ends: self.ends.get(a..b).unwrap_or_default(),
                start,
                ascii: self.ascii,
            })
    }
}

/// A streaming record parser with limits.
pub(super) struct RecordReader<R> {
    core: csv_core::Reader,
    input: R,
    limits: Limits,
    /// Records read so far (for error messages).
    record_no: u64,
    done: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub(super) fn new(input: R, delimiter: u8, limits: Limits) -> Self {
        let core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        RecordReader {
            core,
            input,
            limits,
            record_no: 0,
            done: false,
        }
    }

    fn too_big(&self, what: &str, size: usize, limit: usize) -> FormatError {
        let (unit, key) = match what {
            "a column count" => ("columns", "max_columns"),
            "a field" => ("bytes", "max_field_size"),
            _ => ("bytes", "max_record_size"),
        };
        FormatError::LimitExceeded(format!(
            "record {} (line {}) has {what} of more than {limit} {unit} (processing.csv.{key})",
            self.record_no + 1,
            self.core.line(),
        ))
        .with_size(size)
    }

    /// Appends one record to the batch; `false` at the end of the input.
    fn read_record(&mut self, batch: &mut Batch) -> Result<bool, FormatError> {
        if self.done {
            return Ok(false);
        }
        let (rec_start, ends_start) = (batch.used, batch.nends);
        loop {
            if batch.used == batch.buf.len() {
                let grow = batch.buf.len().max(BATCH_BYTES);
                batch.buf.resize(batch.buf.len() + grow, 0);
            }
            if batch.nends == batch.ends.len() {
                let grow = batch.ends.len().max(1024);
                batch.ends.resize(batch.ends.len() + grow, 0);
            }
            let input = self.input.fill_buf()?;
            let output = batch.buf.get_mut(batch.used..).unwrap_or_default();
            let ends = batch.ends.get_mut(batch.nends..).unwrap_or_default();
            let (res, nin, nout, nend) = self.core.read_record(input, output, ends);
            self.input.consume(nin);
            batch.used += nout;
            batch.nends += nend;
            let rec_bytes = batch.used - rec_start;
            let nfields = batch.nends - ends_start;
            if rec_bytes > self.limits.max_record_bytes {
                return Err(self.too_big("a size", rec_bytes, self.limits.max_record_bytes));
            }
            if nfields > self.limits.max_columns {
                return Err(self.too_big("a column count", nfields, self.limits.max_columns));
            }
            // Ends written so far are relative to the record's start.
            let last_end = if nfields > 0 {
                batch.ends.get(batch.nends - 1).copied().unwrap_or(0)
            } else {
                0
            };
            let partial_field = rec_bytes.saturating_sub(last_end);
            if partial_field > self.limits.max_field_bytes {
                return Err(self.too_big("a field", partial_field, self.limits.max_field_bytes));
            }
            match res {
                ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull
                | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => {
                    let mut prev = 0;
                    for end in batch
                        .ends
                        .get_mut(ends_start..batch.nends)
                        .unwrap_or_default()
                    {
                        let size = end.saturating_sub(prev);
                        if size > self.limits.max_field_bytes {
                            return Err(self.too_big("a field", size, self.limits.max_field_bytes));
                        }
                        prev = *end;
                        *end += rec_start;
                    }
                    batch.records.push(batch.nends);
                    batch.starts.push(rec_start);
                    self.record_no += 1;
                    return Ok(true);
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(false);
                }
            }
        }
    }

    /// Refills a batch; `false` once the input is exhausted and the batch is empty.
    fn fill(&mut self, batch: &mut Batch) -> Result<bool, FormatError> {
        batch.clear();
        while batch.used < BATCH_BYTES && batch.records.len() < BATCH_RECORDS {
            if !self.read_record(batch)? {
                break;
            }
        }
        batch.seal();
        Ok(!batch.records.is_empty())
    }
}

trait WithSize {
    fn with_size(self, size: usize) -> Self;
}

impl WithSize for FormatError {
    /// Appends the size seen (at least) to a limit message.
    fn with_size(self, size: usize) -> Self {
        match self {
            FormatError::LimitExceeded(m) => {
                FormatError::LimitExceeded(format!("{m} (at least {size})"))
            }
            other => other,
        }
    }
}

/// Parses on a second thread and hands each batch, in order, to `consume` on this one. Stops at
/// the first error from either side, or when `cancel` is set.
pub(super) fn run<R: BufRead + Send>(
    mut reader: RecordReader<R>,
    cancel: &AtomicBool,
    mut consume: impl FnMut(&Batch) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Batch, FormatError>>(BATCHES_AHEAD);
        let (free_tx, free_rx) = mpsc::channel::<Batch>();
        let producer = scope.spawn(move || {
            loop {
                if cancel.load(Ordering::Relaxed) {
                    let _ = full_tx.send(Err(FormatError::Cancelled));
                    break;
                }
                let mut batch = free_rx.try_recv().unwrap_or_default();
                let (more, msg) = match reader.fill(&mut batch) {
                    Ok(true) => (true, Ok(batch)),
                    Ok(false) => break,
                    Err(e) => (false, Err(e)),
                };
                // A send fails when the consumer stopped; then so does the producer.
                if full_tx.send(msg).is_err() || !more {
                    break;
                }
            }
        });
        for msg in full_rx {
            let batch = msg?;
            consume(&batch)?;
            let _ = free_tx.send(batch);
        }
        producer
            .join()
            .map_err(|_| FormatError::Io(std::io::Error::other("the CSV parser thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &str, limits: Limits) -> Result<Vec<Vec<String>>, FormatError> {
        let mut out = Vec::new();
        let reader = RecordReader::new(data.as_bytes(), b',', limits);
        run(reader, &AtomicBool::new(false), |b| {
            for r in b.records() {
                out.push(
                    r.fields()
                        .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
                        .collect(),
                );
            }
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn records_keep_quoted_newlines_and_ragged_lengths() {
        let rows =
            read_all("a,b\n1,\"x\ny\"\n\n3\n4,5,6", Limits::default()).map_err(|e| e.to_string());
        let expected: Vec<Vec<&str>> = vec![
            vec!["a", "b"],
            vec!["1", "x\ny"],
            vec!["3"],
            vec!["4", "5", "6"],
        ];
        assert_eq!(
            rows,
            Ok(expected
                .iter()
                .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
                .collect())
        );
    }

    #[test]
    fn many_records_span_batches_in_order() {
        let data: String = (0..10_000)
            .map(|i| format!("{i},{}\n", "x".repeat(i % 300)))
            .collect();
        let rows = read_all(&data, Limits::default()).unwrap_or_default();
        assert_eq!(rows.len(), 10_000);
        assert_eq!(
            rows.get(9_999).map(|r| r.join(",")),
            Some(format!("9999,{}", "x".repeat(9_999 % 300)))
        );
    }

    #[test]
    fn limits_stop_the_parse() {
        let limits = Limits {
            max_field_bytes: 10,
            max_record_bytes: 25,
            max_columns: 3,
            ..Limits::default()
        };
        let long_field = read_all("a,b\n12345678901,2\n", limits.clone());
        assert!(
            matches!(long_field, Err(FormatError::LimitExceeded(m)) if m.contains("record 2") && m.contains("field"))
        );
        let long_record = read_all("1234567890,1234567890,1234567890\n", limits.clone());
        assert!(matches!(long_record, Err(FormatError::LimitExceeded(m)) if m.contains("size")));
        let wide = read_all("1,2,3,4\n", limits);
        assert!(matches!(wide, Err(FormatError::LimitExceeded(m)) if m.contains("column")));
    }
}
