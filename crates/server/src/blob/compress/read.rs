//! Reading a compressed object: its stored bytes are cut into frames as they stream (skippable
//! frames by their length, zstd frames by their block headers), each frame is checked against
//! what the reader expects and decoded on the blocking pool, one frame (at most 1 MiB of
//! plaintext as written) at a time.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;

use super::{Entry, HEADER_LEN, MAX_FRAME_PLAIN, SeekTable, damaged, is_compressed, le32};
use crate::blob::{ByteStream, CryptError, StoreError};

/// Magic of a zstd frame (RFC 8878 section 3.1.1), as a little-endian u32.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// Largest skippable frame read (a seek table of 8 million frames).
const MAX_SKIPPABLE: usize = 64 << 20;
/// Largest stored zstd frame read when its size is not known in advance.
const MAX_FRAME_STORED: usize = (MAX_FRAME_PLAIN as usize) + (1 << 20);

/// What a reader expects of the frames it is given, and what it has seen.
pub struct FrameDecoder {
    expect: Expect,
    buf: BytesMut,
}

enum Expect {
    /// The whole object: the header, data frames, then the seek table, which must list exactly
    /// the frames seen.
    Whole { seen: Vec<Entry>, table: bool },
    /// Only these data frames, in order (a range located in the seek table).
    Frames(VecDeque<Entry>),
}

/// One frame cut from the stream.
enum Unit {
    /// A skippable frame, whole (its magic is checked by what it must be: header or table).
    Skippable(Bytes),
    /// A zstd frame and the plaintext bytes its header declares.
    Data(Bytes, u64),
}

impl FrameDecoder {
    /// A decoder of a whole object.
    pub fn whole() -> Self {
        FrameDecoder {
            expect: Expect::Whole {
                seen: Vec::new(),
                table: false,
            },
            buf: BytesMut::new(),
        }
    }

    /// A decoder of exactly `frames`, in order.
    pub fn frames(frames: Vec<Entry>) -> Self {
        FrameDecoder {
            expect: Expect::Frames(frames.into()),
            buf: BytesMut::new(),
        }
    }

    /// The next complete frame in the buffer, or `None` if more bytes are needed.
    fn next_unit(&mut self) -> Result<Option<Unit>, CryptError> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let magic = le32(&self.buf[..4]);
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let len = 8 + le32(&self.buf[4..8]) as usize;
            if len > MAX_SKIPPABLE {
                return Err(damaged(
                    "a skippable frame is larger than any this service writes",
                ));
            }
            if self.buf.len() < len {
                return Ok(None);
            }
            return Ok(Some(Unit::Skippable(self.buf.split_to(len).freeze())));
        }
        if magic != ZSTD_MAGIC {
            return Err(damaged("the stored bytes are not a zstd frame"));
        }
        let known = match &self.expect {
            Expect::Frames(frames) => frames.front().map(|e| e.compressed as usize),
            Expect::Whole { .. } => None,
        };
        let len = match known {
            Some(len) if self.buf.len() < len => return Ok(None),
            Some(len) => len,
            None => match zstd::zstd_safe::find_frame_compressed_size(&self.buf) {
                Ok(len) => len,
                Err(_) if self.buf.len() <= MAX_FRAME_STORED => return Ok(None),
                Err(_) => return Err(damaged("a zstd frame does not end")),
            },
        };
        let frame = self.buf.split_to(len).freeze();
        let plain = match zstd::zstd_safe::get_frame_content_size(&frame) {
            Ok(Some(plain)) if plain <= MAX_FRAME_PLAIN => plain,
            _ => return Err(damaged("a zstd frame lacks a valid content size")),
        };
        Ok(Some(Unit::Data(frame, plain)))
    }

    /// Check `unit` against what is expected; the data frame to decode, if it is one.
    fn accept(&mut self, unit: Unit) -> Result<Option<(Bytes, u64)>, CryptError> {
        match (&mut self.expect, unit) {
            (Expect::Whole { seen, table: false }, Unit::Skippable(bytes)) if seen.is_empty() => {
                if bytes.len() != HEADER_LEN || !is_compressed(&bytes) {
                    return Err(damaged("the object does not start with its header"));
                }
                seen.push(entry(bytes.len(), 0));
                Ok(None)
            }
            (Expect::Whole { seen, table: false }, Unit::Data(frame, plain))
                if !seen.is_empty() =>
            {
                seen.push(entry(frame.len(), plain as usize));
                Ok(Some((frame, plain)))
            }
            (Expect::Whole { seen, table }, Unit::Skippable(bytes)) if !*table => {
                if SeekTable::parse(&bytes)?.entries != *seen {
                    return Err(damaged("the seek table does not list the object's frames"));
                }
                *table = true;
                Ok(None)
            }
            (Expect::Frames(frames), Unit::Data(frame, plain)) => match frames.pop_front() {
                Some(e) if e.compressed as usize == frame.len() && u64::from(e.plain) == plain => {
                    Ok(Some((frame, plain)))
                }
                _ => Err(damaged("a frame does not match the seek table")),
            },
            _ => Err(damaged("the object's frames are out of order")),
        }
    }

    /// Check that nothing more was expected when the stored bytes end.
    fn finish(&self) -> Result<(), CryptError> {
        let complete = match &self.expect {
            Expect::Whole { table, .. } => *table,
            Expect::Frames(frames) => frames.is_empty(),
        };
        if complete && self.buf.is_empty() {
            Ok(())
        } else {
            Err(damaged("the object is truncated"))
        }
    }
}

fn entry(compressed: usize, plain: usize) -> Entry {
    Entry {
        compressed: u32::try_from(compressed).unwrap_or(u32::MAX),
        plain: u32::try_from(plain).unwrap_or(u32::MAX),
    }
}

/// The plaintext of the stored bytes `raw`, frame by frame, checked by `decoder`. A frame that
/// fails ends the stream with [`StoreError::Integrity`], never with its bytes.
pub fn decode_stream(raw: ByteStream, decoder: FrameDecoder) -> ByteStream {
    futures::stream::try_unfold(
        (raw, decoder, false),
        |(mut raw, mut decoder, mut ended)| async move {
            loop {
                if let Some(unit) = decoder.next_unit()? {
                    if let Some((frame, plain)) = decoder.accept(unit)? {
                        let bytes = decompress(frame, plain).await?;
                        if !bytes.is_empty() {
                            return Ok(Some((bytes, (raw, decoder, ended))));
                        }
                    }
                    continue;
                }
                if ended {
                    decoder.finish()?;
                    return Ok(None);
                }
                match raw.next().await.transpose()? {
                    Some(bytes) => decoder.buf.extend_from_slice(&bytes),
                    None => ended = true,
                }
            }
        },
    )
    .boxed()
}

/// Decode one frame of `plain` declared bytes on the blocking pool.
async fn decompress(frame: Bytes, plain: u64) -> Result<Bytes, StoreError> {
    let capacity = usize::try_from(plain).unwrap_or(usize::MAX);
    let decoded = tokio::task::spawn_blocking(move || zstd::bulk::decompress(&frame, capacity))
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        .map_err(|e| damaged(format!("a zstd frame does not decode: {e}")))?;
    if decoded.len() as u64 != plain {
        return Err(damaged("a zstd frame decodes to another size than it declares").into());
    }
    Ok(Bytes::from(decoded))
}

/// `stream` without its first `skip` bytes, and at most `take` bytes of the rest.
pub fn slice_stream(stream: ByteStream, skip: u64, take: u64) -> ByteStream {
    futures::stream::try_unfold(
        (stream, skip, take),
        |(mut stream, mut skip, mut take)| async move {
            while take > 0 {
                let Some(mut bytes) = stream.next().await.transpose()? else {
                    break;
                };
                let dropped = skip.min(bytes.len() as u64);
                bytes.advance(usize::try_from(dropped).unwrap_or(bytes.len()));
                skip -= dropped;
                if bytes.is_empty() {
                    continue;
                }
                bytes.truncate(usize::try_from(take).unwrap_or(usize::MAX).min(bytes.len()));
                take -= bytes.len() as u64;
                return Ok(Some((bytes, (stream, skip, take))));
            }
            Ok(None)
        },
    )
    .boxed()
}
