//! The analysis proper: sniff the prefix, then consume the parser's batches record by record.

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::encoding::{self, Counting};
use super::reader::{self, Batch, Record, RecordReader};
use super::sniff::{self, Layout};
use super::stats::ColumnStats;
use super::{CsvSummary, typed_record};
use crate::{Analysis, Context, FormatError, Input, ReadSeek, RecordSink, Section};

/// Progress is reported about this often, in input bytes.
const REPORT_EVERY: u64 = 1 << 20;
/// Buffer between the (decoded) input and the parser.
const READ_BUFFER: usize = 64 << 10;

/// A seekable input seen as a plain reader that can move to the parser thread.
struct SendRead<'a>(&'a mut dyn ReadSeek);

impl Read for SendRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

pub(super) fn analyze(input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
    ctx.check_cancelled()?;
    let raw: Box<dyn Read + Send + '_> = match input {
        Input::Stream(r) => Box::new(r),
        Input::Seekable(r) => Box::new(SendRead(r)),
    };
    let bytes_read = AtomicU64::new(0);
    let mut counted = Counting {
        inner: raw,
        count: &bytes_read,
    };
    let (prefix, complete) = encoding::read_prefix(&mut counted)?;
    if prefix.is_empty() {
        return Err(FormatError::Empty);
    }
    let detected = encoding::detect(&prefix, complete)?;
    let sample = encoding::decode_sample(&prefix, detected);
    if complete && sample.trim().is_empty() {
        return Err(FormatError::Empty);
    }
    let delimiter = sniff::delimiter(&sample, complete);
    let layout = sniff::layout(&sample, delimiter, complete);
    drop(sample);

    let stream = BufReader::with_capacity(
        READ_BUFFER,
        encoding::utf8_stream(prefix, counted, detected),
    );
    let parser = RecordReader::new(stream, delimiter, ctx.limits.clone());
    let mut pass = Pass::new(&layout, ctx.limits.preview_records);
    let cancel = ctx.cancel;
    reader::run(parser, cancel, |batch| pass.batch(batch, ctx, &bytes_read))?;
    ctx.check_cancelled()?;
    ctx.report(bytes_read.load(Ordering::Relaxed));
    pass.finish(detected.encoding.name(), delimiter, layout.has_header)
}

/// The state of the pass over the records.
struct Pass {
    /// The next record is the header.
    header_pending: bool,
    seen_any: bool,
    names: Vec<String>,
    column_count: usize,
    stats: Vec<ColumnStats>,
    row_count: u64,
    malformed: u64,
    lossy_fields: u64,
    preview: Vec<Vec<Option<String>>>,
    preview_limit: usize,
    last_report: u64,
}

impl Pass {
    fn new(layout: &Layout, preview_limit: usize) -> Self {
        let column_count = if layout.has_header {
            0
        } else {
            layout.modal_fields
        };
        Pass {
            header_pending: layout.has_header,
            seen_any: false,
            names: sniff::generated_names(column_count),
            column_count,
            stats: (0..column_count).map(|_| ColumnStats::default()).collect(),
            row_count: 0,
            malformed: 0,
            lossy_fields: 0,
            preview: Vec::new(),
            preview_limit,
            last_report: 0,
        }
    }

    fn take_header(&mut self, rec: Record<'_>) {
        let raw: Vec<String> = rec
            .fields()
            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
            .collect();
        self.names = sniff::unique_names(&raw);
        self.column_count = raw.len();
        self.stats = (0..raw.len()).map(|_| ColumnStats::default()).collect();
        self.header_pending = false;
    }

    fn batch(
        &mut self,
        batch: &Batch,
        ctx: &mut Context<'_>,
        bytes_read: &AtomicU64,
    ) -> Result<(), FormatError> {
        ctx.check_cancelled()?;
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(self.column_count);
        let mut invalid: Vec<usize> = Vec::new();
        for rec in batch.records() {
            self.seen_any = true;
            if self.header_pending {
                self.take_header(rec);
                continue;
            }
            self.row_count += 1;
            if rec.len() != self.column_count {
                self.malformed += 1;
            }
            fields.clear();
            invalid.clear();
            for (j, ((raw, text), stats)) in rec.fields().zip(self.stats.iter_mut()).enumerate() {
                if stats.observe_with(raw, rec.ascii) {
                    fields.push(None);
                } else if let Some(s) = text.or_else(|| std::str::from_utf8(raw).ok()) {
                    fields.push(Some(s));
                } else {
                    invalid.push(j);
                    fields.push(None);
                }
            }
            for stats in self.stats.iter_mut().skip(rec.len()) {
                stats.observe_missing();
                fields.push(None);
            }
            if invalid.is_empty() {
                self.emit(&fields, ctx.records)?;
            } else {
                // Rare: UTF-8 input with invalid bytes. Those fields are decoded lossily.
                self.lossy_fields += invalid.len() as u64;
                let lossy: Vec<String> = rec
                    .fields()
                    .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
                    .collect();
                let fixed: Vec<Option<&str>> = fields
                    .iter()
                    .enumerate()
                    .map(|(j, f)| {
                        if invalid.contains(&j) {
                            lossy.get(j).map(String::as_str)
                        } else {
                            *f
                        }
                    })
                    .collect();
                self.emit(&fixed, ctx.records)?;
            }
        }
        let done = bytes_read.load(Ordering::Relaxed);
        if done.saturating_sub(self.last_report) >= REPORT_EVERY {
            let items = crate::Items {
                done: self.row_count,
                total: None,
                unit: "rows",
            };
            ctx.report_items(done, items);
            self.last_report = done;
        }
        Ok(())
    }

    fn emit(
        &mut self,
        fields: &[Option<&str>],
        sink: &mut dyn RecordSink,
    ) -> Result<(), FormatError> {
        sink.record(fields)?;
        if self.preview.len() < self.preview_limit {
            self.preview
                .push(fields.iter().map(|f| f.map(str::to_owned)).collect());
        }
        Ok(())
    }

    fn finish(
        self,
        encoding: &str,
        delimiter: u8,
        has_header: bool,
    ) -> Result<Analysis, FormatError> {
        if !self.seen_any {
            return Err(FormatError::Empty);
        }
        let columns: Vec<_> = self
            .stats
            .iter()
            .zip(self.names)
            .map(|(s, name)| s.summary(name))
            .collect();
        let records: Vec<Map<String, Value>> = self
            .preview
            .iter()
            .map(|r| {
                typed_record(
                    &columns,
                    &r.iter().map(Option::as_deref).collect::<Vec<_>>(),
                )
            })
            .collect();
        let mut warnings = Vec::new();
        if self.malformed > 0 {
            warnings.push(format!(
                "{} malformed row{} (field count differs from {})",
                self.malformed,
                if self.malformed == 1 { "" } else { "s" },
                self.column_count
            ));
        }
        if self.lossy_fields > 0 {
            warnings.push(format!(
                "{} field{} not valid UTF-8; invalid bytes were replaced with U+FFFD",
                self.lossy_fields,
                if self.lossy_fields == 1 {
                    " was"
                } else {
                    "s were"
                }
            ));
        }
        let summary = CsvSummary {
            encoding: encoding.to_owned(),
            delimiter: char::from(delimiter).to_string(),
            quote: "\"".to_owned(),
            has_header,
            row_count: self.row_count,
            column_count: self.column_count,
            columns,
            malformed_rows: self.malformed,
            records_count: self.row_count,
            records,
        };
        Ok(Analysis {
            warnings,
            ..Analysis::new(Section::Csv(summary))
        })
    }
}
