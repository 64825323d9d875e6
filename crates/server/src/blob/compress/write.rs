//! Writing an original: its first frame is compressed as a sample, and the object is stored
//! compressed (see [`super`]) when the sample shrinks enough, else as it came. Frames are
//! compressed on the blocking pool while the next ones arrive, up to one per core at once (each
//! with its own compressor), and written in order: compression overlaps receiving and hashing,
//! and one upload can use every core. Memory: the frame being gathered plus those in flight,
//! 1 MiB each.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;

use super::{Codec, Entry, FRAME_LEN, SeekTable, header};
use crate::blob::{StoreError, Upload};

/// A frame compressed on the blocking pool: the compressor back, the frame's stored bytes and
/// its plaintext length.
type Compressed = (zstd::bulk::Compressor<'static>, Vec<u8>, usize);

/// An original being written, compressed or not (decided on its first frame). Dropping it
/// without [`OriginalUpload::finish`] aborts the upload.
pub struct OriginalUpload {
    upload: Upload,
    mode: Mode,
    /// Plaintext not yet in a frame (less than [`FRAME_LEN`] once a write returns).
    pending: BytesMut,
}

enum Mode {
    /// Stored as it comes.
    AsIs,
    /// The first frame is being gathered.
    Sampling(Codec),
    /// Stored compressed.
    Zstd(Frames),
}

/// The state of a compressed object being written.
struct Frames {
    level: i32,
    /// Compressors not in use.
    idle: Vec<zstd::bulk::Compressor<'static>>,
    /// The frames being compressed, oldest first.
    in_flight: VecDeque<JoinHandle<std::io::Result<Compressed>>>,
    /// Most frames compressed at once: the cores (at most 4).
    max_in_flight: usize,
    table: SeekTable,
}

/// What was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredOriginal {
    /// Bytes of the compressed object (what `Content-Encoding: zstd` serves, before any
    /// sealing), or `None` when stored as it came.
    pub compressed_size: Option<u64>,
}

impl OriginalUpload {
    /// An original written through `upload`, compressed with `codec` when it is worth it.
    pub(crate) fn new(upload: Upload, codec: Option<Codec>) -> Self {
        OriginalUpload {
            upload,
            mode: codec.map_or(Mode::AsIs, Mode::Sampling),
            pending: BytesMut::new(),
        }
    }

    /// Append plaintext bytes.
    ///
    /// # Errors
    /// The store failed, or compressing failed.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        if matches!(self.mode, Mode::AsIs) {
            return self.upload.write(bytes).await;
        }
        self.pending.extend_from_slice(&bytes);
        while self.pending.len() >= FRAME_LEN {
            let frame = self.pending.split_to(FRAME_LEN).freeze();
            self.push_frame(frame).await?;
            if matches!(self.mode, Mode::AsIs) {
                let rest = self.pending.split().freeze();
                return self.upload.write(rest).await;
            }
        }
        Ok(())
    }

    /// Complete the upload: the last frame, the seek table, and the object becomes visible.
    ///
    /// # Errors
    /// Completing failed; the object is not stored.
    pub async fn finish(mut self) -> Result<StoredOriginal, StoreError> {
        if !self.pending.is_empty() {
            let last = self.pending.split().freeze();
            self.push_frame(last).await?;
        }
        let compressed_size = match &mut self.mode {
            Mode::Zstd(frames) => {
                while let Some(bytes) = frames.land().await? {
                    self.upload.write(bytes).await?;
                }
                let table = frames.table.encode();
                let size = frames.table.stored_len();
                self.upload.write(table).await?;
                Some(size)
            }
            Mode::AsIs | Mode::Sampling(_) => None,
        };
        self.upload.finish().await?;
        Ok(StoredOriginal { compressed_size })
    }

    /// Abort the upload and remove what was written.
    ///
    /// # Errors
    /// The store failed to abort.
    pub async fn abort(self) -> Result<(), StoreError> {
        self.upload.abort().await
    }

    /// One frame of plaintext: the sample that decides, or the next frame to compress.
    async fn push_frame(&mut self, frame: Bytes) -> Result<(), StoreError> {
        match &mut self.mode {
            Mode::AsIs => self.upload.write(frame).await,
            Mode::Sampling(codec) => {
                let codec = *codec;
                let compressor = compressor(codec.level)?;
                let sample = frame.clone();
                let (compressor, bytes, plain) = joined(tokio::task::spawn_blocking(move || {
                    compress(compressor, &sample)
                }))
                .await?;
                if !codec.worth_it(plain, bytes.len()) {
                    self.mode = Mode::AsIs;
                    return self.upload.write(frame).await;
                }
                let mut frames = Frames {
                    level: codec.level,
                    idle: vec![compressor],
                    in_flight: VecDeque::new(),
                    max_in_flight: std::thread::available_parallelism()
                        .map_or(2, std::num::NonZero::get)
                        .clamp(1, 4),
                    table: SeekTable::default(),
                };
                frames.record(&header(), 0);
                frames.record(&bytes, plain);
                self.mode = Mode::Zstd(frames);
                self.upload.write(Bytes::copy_from_slice(&header())).await?;
                self.upload.write(Bytes::from(bytes)).await
            }
            Mode::Zstd(frames) => {
                while frames.in_flight.len() >= frames.max_in_flight {
                    if let Some(bytes) = frames.land().await? {
                        self.upload.write(bytes).await?;
                    }
                }
                let compressor = match frames.idle.pop() {
                    Some(c) => c,
                    None => compressor(frames.level)?,
                };
                frames
                    .in_flight
                    .push_back(tokio::task::spawn_blocking(move || {
                        compress(compressor, &frame)
                    }));
                Ok(())
            }
        }
    }
}

impl Frames {
    /// The oldest frame in flight, once compressed: its compressor back and the frame in the
    /// table; its stored bytes, to write next. `None` when no frame is in flight.
    async fn land(&mut self) -> Result<Option<Bytes>, StoreError> {
        let Some(done) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        let (compressor, bytes, plain) = joined(done).await?;
        self.idle.push(compressor);
        self.record(&bytes, plain);
        Ok(Some(Bytes::from(bytes)))
    }

    /// `frame`, as stored, decoding to `plain` bytes, in the seek table.
    fn record(&mut self, frame: &[u8], plain: usize) {
        self.table.entries.push(Entry::of_frame(frame, plain));
    }
}

/// A compressor at `level` whose frames carry their content size and an XXH64 checksum.
fn compressor(level: i32) -> Result<zstd::bulk::Compressor<'static>, StoreError> {
    let mut c = zstd::bulk::Compressor::new(level)?;
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
    c.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(true))?;
    Ok(c)
}

/// Compress one frame (on the blocking pool).
fn compress(
    mut compressor: zstd::bulk::Compressor<'static>,
    frame: &[u8],
) -> std::io::Result<Compressed> {
    let bytes = compressor.compress(frame)?;
    Ok((compressor, bytes, frame.len()))
}

/// The result of a blocking compression.
async fn joined(task: JoinHandle<std::io::Result<Compressed>>) -> Result<Compressed, StoreError> {
    task.await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        .map_err(StoreError::Io)
}
