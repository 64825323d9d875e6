//! Records: every row of a CSV or of every sheet of an XLSX, kept beside the result, so
//! `/records` can page through all of them without re-parsing the file.
//!
//! While a job runs, [`RecordWriter`] (a [`RecordSink`]) appends each record as one NDJSON line
//! to a local temporary file: a CSV record as a JSON array of strings and nulls
//! (`["1","english",null]`), typed at read time; an XLSX record as the object of typed values its
//! analyzer made (sheets one after another). It notes the byte offset of every
//! [`INDEX_STRIDE`]th record. The file goes to the blob store and
//! the offsets to the catalog. [`read_page`] then seeks with a ranged read to the stride before
//! `offset`, skips at most `INDEX_STRIDE - 1` lines and types the page with the columns' final
//! types (`fileproc_formats::csv::typed_record`), since the types are only known at the end.

use fileproc_formats::RecordSink;
use futures::StreamExt;
use std::io::{BufWriter, Write};

use crate::blob::{BlobStore, StoreError};

/// A byte offset is kept for every this-many records.
pub const INDEX_STRIDE: u64 = 1024;

/// Writes records as NDJSON to a local file and indexes them.
pub struct RecordWriter {
    out: BufWriter<std::fs::File>,
    written: u64,
    count: u64,
    index: Vec<u64>,
    line: Vec<u8>,
}

impl RecordWriter {
    /// Write to `file` (a fresh temporary file).
    pub fn new(file: std::fs::File) -> Self {
        RecordWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            written: 0,
            count: 0,
            index: Vec::new(),
            line: Vec::with_capacity(1024),
        }
    }

    /// Flush and return the record count and the index.
    ///
    /// # Errors
    /// The final write failed.
    pub fn finish(mut self) -> std::io::Result<(u64, Vec<u64>)> {
        self.out.flush()?;
        Ok((self.count, self.index))
    }
}

impl RecordWriter {
    /// Append one record, serialized by `write`, as a line; index it every [`INDEX_STRIDE`].
    fn push(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> std::io::Result<()> {
        if self.count.is_multiple_of(INDEX_STRIDE) {
            self.index.push(self.written);
        }
        self.line.clear();
        write(&mut self.line)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.written += self.line.len() as u64;
        self.count += 1;
        Ok(())
    }
}

impl RecordSink for RecordWriter {
    fn record(&mut self, fields: &[Option<&str>]) -> std::io::Result<()> {
        self.push(|line| serde_json::to_writer(line, fields))
    }

    fn typed_record(
        &mut self,
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> std::io::Result<()> {
        self.push(|line| serde_json::to_writer(line, record))
    }
}

/// Read records `offset..offset + limit` of a stored records object, each as stored: an array
/// of raw fields (CSV) or an object of typed values (XLSX).
///
/// # Errors
/// The store fails, or a stored line is not JSON (a corrupted object).
pub async fn read_page(
    blobs: &BlobStore,
    key: &str,
    index: &[u64],
    offset: u64,
    limit: u64,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let stride = usize::try_from(offset / INDEX_STRIDE).unwrap_or(usize::MAX);
    let Some(&start) = index.get(stride) else {
        return Ok(Vec::new());
    };
    let mut skip = offset % INDEX_STRIDE;
    let mut stream = blobs.get_stream(key, Some(start..u64::MAX)).await?;
    let mut page = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    'outer: while let Some(chunk) = stream.next().await {
        pending.extend_from_slice(&chunk?);
        let mut consumed = 0;
        while let Some(nl) = pending[consumed..].iter().position(|&b| b == b'\n') {
            let line = &pending[consumed..consumed + nl];
            consumed += nl + 1;
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let record: serde_json::Value = serde_json::from_slice(line)
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
            page.push(record);
            if page.len() as u64 >= limit {
                break 'outer;
            }
        }
        pending.drain(..consumed);
    }
    Ok(page)
}
