//! The object as a sequence of sealed chunks: [`Sealer`] seals them as the bytes arrive,
//! [`Layout`] says where each one is in an object of a given size, and [`Opener`] opens those
//! under a plaintext range, one at a time.

use bytes::{Bytes, BytesMut};
use secrecy::zeroize::Zeroize;
use std::ops::Range;

use super::{CryptError, HEADER_LEN, ObjectKey, TAG_LEN};

/// Seals one object as its bytes arrive: [`Sealer::push`] returns the chunks that are complete
/// and known not to be the last, [`Sealer::finish`] the final one. Holds at most one chunk.
pub struct Sealer {
    key: ObjectKey,
    next: u64,
    pending: Vec<u8>,
    chunk: usize,
    started: bool,
}

impl Sealer {
    /// A sealer of a new object under `key`, in chunks of `chunk` plaintext bytes.
    pub(super) fn new(key: ObjectKey, chunk: usize) -> Sealer {
        Sealer {
            key,
            next: 0,
            pending: Vec::with_capacity(chunk),
            chunk,
            started: false,
        }
    }

    /// Seal `data`: the header (first call only) and every chunk completed by it, but the last
    /// `chunk_size` bytes or fewer, which may be the final chunk.
    ///
    /// # Errors
    /// The object passed 2^32 chunks.
    pub fn push(&mut self, data: &[u8]) -> std::io::Result<Bytes> {
        let mut out = Vec::with_capacity(self.capacity_for(data.len()));
        self.push_into(data, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// Seal a whole object at once (header, every chunk, the final one): `data` is all of it.
    ///
    /// # Errors
    /// The object passed 2^32 chunks.
    pub fn seal_whole(mut self, data: &[u8]) -> std::io::Result<Bytes> {
        let mut out = Vec::with_capacity(self.capacity_for(data.len()));
        self.push_into(data, &mut out)?;
        self.finish_into(&mut out)?;
        Ok(Bytes::from(out))
    }

    fn push_into(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        self.start(out);
        while !data.is_empty() {
            if self.pending.len() == self.chunk {
                self.key.seal_into(self.next, false, &self.pending, out)?;
                self.next += 1;
                self.pending.clear();
            }
            if self.pending.is_empty() {
                while data.len() > self.chunk {
                    self.key
                        .seal_into(self.next, false, &data[..self.chunk], out)?;
                    self.next += 1;
                    data = &data[self.chunk..];
                }
            }
            let take = (self.chunk - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Seal what is left as the final chunk: 1 to `chunk_size` bytes, or none for an empty
    /// object; with the header if nothing was pushed.
    ///
    /// # Errors
    /// The object passed 2^32 chunks.
    pub fn finish(mut self) -> std::io::Result<Bytes> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.pending.len() + TAG_LEN);
        self.finish_into(&mut out)?;
        Ok(Bytes::from(out))
    }

    fn finish_into(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.start(out);
        self.key.seal_into(self.next, true, &self.pending, out)?;
        self.pending.zeroize();
        Ok(())
    }

    /// Room for the sealed form of `len` more bytes: the header, the bytes, a tag per chunk.
    fn capacity_for(&self, len: usize) -> usize {
        HEADER_LEN + len + (len / self.chunk + 1) * TAG_LEN
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            out.extend_from_slice(&self.key.header_bytes);
            self.started = true;
        }
    }

    /// The sealed size of `plain_len` plaintext bytes in chunks of `chunk` bytes.
    pub fn sealed_len(plain_len: u64, chunk: u32) -> u64 {
        let chunks = plain_len.div_ceil(u64::from(chunk)).max(1);
        HEADER_LEN as u64 + plain_len + chunks * TAG_LEN as u64
    }
}

/// Where things are in a sealed object of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Plaintext bytes per chunk.
    pub chunk: u64,
    /// Chunks in the object, at least 1.
    pub chunks: u64,
    /// Plaintext bytes in the object.
    pub plain_len: u64,
}

impl Layout {
    /// The layout of a sealed object of `object_len` bytes with chunks of `chunk` bytes.
    ///
    /// # Errors
    /// [`CryptError::Truncated`] when no whole number of chunks fits: the object ends inside a
    /// chunk's tag, or holds no chunk at all.
    pub fn new(chunk: u32, object_len: u64) -> Result<Layout, CryptError> {
        let chunk = u64::from(chunk);
        let sealed = chunk + TAG_LEN as u64;
        let body = object_len
            .checked_sub(HEADER_LEN as u64)
            .filter(|b| *b >= TAG_LEN as u64)
            .ok_or_else(|| CryptError::Truncated("no final chunk".into()))?;
        let chunks = body.div_ceil(sealed);
        let last = body - (chunks - 1) * sealed;
        if last < TAG_LEN as u64 {
            return Err(CryptError::Truncated(
                "the object ends inside a chunk".into(),
            ));
        }
        Ok(Layout {
            chunk,
            chunks,
            plain_len: body - chunks * TAG_LEN as u64,
        })
    }

    /// The chunks holding plaintext `range` (clamped to the object; end exclusive), and the
    /// ciphertext byte range that holds them; `None` for an empty range.
    pub fn locate(&self, range: &Range<u64>) -> Option<(Range<u64>, Range<u64>)> {
        let end = range.end.min(self.plain_len);
        if range.start >= end {
            return None;
        }
        let first = range.start / self.chunk;
        let last = (end - 1) / self.chunk;
        let sealed = self.chunk + TAG_LEN as u64;
        let object_len = HEADER_LEN as u64 + self.plain_len + self.chunks * TAG_LEN as u64;
        let bytes = HEADER_LEN as u64 + first * sealed
            ..(HEADER_LEN as u64 + (last + 1) * sealed).min(object_len);
        Some((first..last + 1, bytes))
    }

    /// Sealed bytes of chunk `index` (its plaintext and tag).
    fn sealed_len(&self, index: u64) -> u64 {
        let plain = if index + 1 == self.chunks {
            self.plain_len - index * self.chunk
        } else {
            self.chunk
        };
        plain + TAG_LEN as u64
    }
}

/// Opens the chunks of one plaintext range, in order, from the ciphertext bytes that hold them
/// ([`Layout::locate`]), fed as they arrive. Holds what was fed and not yet opened: a chunk and
/// one fed piece at most, when fed only as chunks are needed.
pub struct Opener {
    key: ObjectKey,
    layout: Layout,
    /// The next chunk to open, and one past the last.
    next: u64,
    end: u64,
    /// Plaintext bytes to drop from the front of the next chunk, and to yield in all.
    skip: u64,
    remaining: u64,
    buf: BytesMut,
}

impl Opener {
    /// An opener of plaintext `range` of the object `key` opens, laid out as `layout`; `None`
    /// when the range is empty (nothing to fetch).
    pub fn new(key: ObjectKey, layout: Layout, range: Range<u64>) -> Option<(Opener, Range<u64>)> {
        let (chunks, bytes) = layout.locate(&range)?;
        let end = range.end.min(layout.plain_len);
        let opener = Opener {
            key,
            layout,
            next: chunks.start,
            end: chunks.end,
            skip: range.start - chunks.start * layout.chunk,
            remaining: end - range.start,
            buf: BytesMut::new(),
        };
        Some((opener, bytes))
    }

    /// An opener of the whole object, fed every byte after the header. Unlike a range, it opens
    /// every chunk, so an empty object's final chunk is checked too.
    pub fn whole(key: ObjectKey, layout: Layout) -> Opener {
        Opener {
            key,
            layout,
            next: 0,
            end: layout.chunks,
            skip: 0,
            remaining: layout.plain_len,
            buf: BytesMut::new(),
        }
    }

    /// Take ciphertext bytes, kept until [`Opener::next_chunk`] opens them.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Open the next chunk if all its bytes were fed: its plaintext within the range (empty for
    /// an empty object), or `None` when more bytes are needed or every chunk is open. One chunk
    /// per call, so a consumer gets each chunk's bytes before the next is touched.
    ///
    /// # Errors
    /// The chunk fails authentication.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, CryptError> {
        if self.is_done() {
            return Ok(None);
        }
        let need = usize::try_from(self.layout.sealed_len(self.next)).unwrap_or(usize::MAX);
        if self.buf.len() < need {
            return Ok(None);
        }
        let mut chunk = self.buf.split_to(need);
        let last = self.next + 1 == self.layout.chunks;
        self.key.open_in_place(self.next, last, &mut chunk)?;
        self.next += 1;
        let mut plain = chunk.freeze();
        let skip = usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .min(plain.len());
        plain = plain.slice(skip..);
        self.skip = 0;
        let keep = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(plain.len());
        plain.truncate(keep);
        self.remaining -= keep as u64;
        Ok(Some(plain))
    }

    /// Whether every chunk of the range was opened.
    pub fn is_done(&self) -> bool {
        self.next >= self.end
    }

    /// Check, once the ciphertext has ended, that it ended where the chunks do.
    ///
    /// # Errors
    /// [`CryptError::Truncated`] when a chunk is missing or incomplete,
    /// [`CryptError::Malformed`] when bytes follow the last chunk.
    pub fn finish(&self) -> Result<(), CryptError> {
        if !self.is_done() {
            return Err(CryptError::Truncated(format!(
                "the object ended in chunk {}",
                self.next
            )));
        }
        if !self.buf.is_empty() {
            return Err(CryptError::Malformed(
                "more bytes than its chunks hold".into(),
            ));
        }
        Ok(())
    }
}
