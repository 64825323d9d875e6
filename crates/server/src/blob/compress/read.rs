//! Reading a compressed object: the stored bytes of the frames a read needs are cut into frames
//! by the sizes the seek table gives, each frame is checked against its entry (sizes, checksum:
//! its place) and decoded on the blocking pool (zstd checks its content against the checksum),
//! one frame (at most 1 MiB of plaintext as written) at a time.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;

use super::{Entry, MAX_FRAME_PLAIN, SeekTable, damaged, header, le32};
use crate::blob::{ByteStream, CryptError, StoreError};

/// Magic of a zstd frame (RFC 8878 section 3.1.1), as a little-endian u32.
const ZSTD_MAGIC: u32 = 0xFD2F_B528;

/// The frames a reader expects, in order (located in the seek table), and the stored bytes
/// not yet cut into frames.
pub struct FrameDecoder {
    frames: VecDeque<Entry>,
    buf: BytesMut,
}

impl FrameDecoder {
    /// A decoder of exactly `frames`, in order.
    pub fn frames(frames: Vec<Entry>) -> Self {
        FrameDecoder {
            frames: frames.into(),
            buf: BytesMut::new(),
        }
    }

    /// The next expected frame, once the buffer holds it whole and it matches its seek table
    /// entry (stored size, plaintext size, checksum): its bytes and plaintext size. `None` if
    /// more bytes are needed.
    fn next_frame(&mut self) -> Result<Option<(Bytes, u64)>, CryptError> {
        let Some(entry) = self.frames.front().copied() else {
            return if self.buf.is_empty() {
                Ok(None)
            } else {
                Err(damaged("the object holds more than its seek table lists"))
            };
        };
        let len = entry.compressed as usize;
        if self.buf.len() < len.max(4) {
            return Ok(None);
        }
        if le32(&self.buf[..4]) != ZSTD_MAGIC {
            return Err(damaged("the stored bytes are not a zstd frame"));
        }
        let frame = self.buf.split_to(len).freeze();
        let plain = match zstd::zstd_safe::get_frame_content_size(&frame) {
            Ok(Some(plain)) if plain <= MAX_FRAME_PLAIN => plain,
            _ => return Err(damaged("a zstd frame lacks a valid content size")),
        };
        if Entry::of_frame(&frame, plain as usize) != entry
            || zstd::zstd_safe::find_frame_compressed_size(&frame) != Ok(len)
        {
            return Err(damaged("a frame does not match its seek table entry"));
        }
        self.frames.pop_front();
        Ok(Some((frame, plain)))
    }

    /// Check that every expected frame came when the stored bytes end.
    fn finish(&self) -> Result<(), CryptError> {
        if self.frames.is_empty() && self.buf.is_empty() {
            Ok(())
        } else {
            Err(damaged("the object is truncated"))
        }
    }
}

/// The plaintext of the stored bytes `raw`, frame by frame, checked by `decoder`. A frame that
/// fails ends the stream with [`StoreError::Integrity`], never with its bytes.
pub fn decode_stream(raw: ByteStream, decoder: FrameDecoder) -> ByteStream {
    futures::stream::try_unfold(
        (raw, decoder, false),
        |(mut raw, mut decoder, mut ended)| async move {
            loop {
                if let Some((frame, plain)) = decoder.next_frame()? {
                    let bytes = decompress(frame, plain).await?;
                    if !bytes.is_empty() {
                        return Ok(Some((bytes, (raw, decoder, ended))));
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

/// The stored bytes of a whole compressed object (`raw`), passed on as they are once each part
/// is checked against `table`: the header, every frame's sizes and checksum at its place, then
/// the table itself. For a client that decodes the zstd stream itself (which checks each
/// frame's content against its checksum): a reordered, cut or lengthened object ends the stream
/// with [`StoreError::Integrity`] before the part that differs.
pub fn checked_stream(raw: ByteStream, table: SeekTable) -> ByteStream {
    let encoded = table.encode();
    let parts: VecDeque<Entry> = table.entries.into();
    futures::stream::try_unfold(
        (raw, parts, BytesMut::new(), Some(encoded)),
        |(mut raw, mut parts, mut buf, mut tail)| async move {
            loop {
                let want = match (parts.front(), &tail) {
                    (Some(e), _) => e.compressed as usize,
                    (None, Some(t)) => t.len(),
                    (None, None) if buf.is_empty() => return Ok(None),
                    (None, None) => {
                        return Err(damaged("the object holds more than its seek table").into());
                    }
                };
                if buf.len() >= want {
                    let part = buf.split_to(want).freeze();
                    match parts.pop_front() {
                        Some(e) if e.plain == 0 => {
                            if part[..] != header()[..] {
                                return Err(
                                    damaged("the object does not start with its header").into()
                                );
                            }
                        }
                        Some(e) => {
                            let plain = zstd::zstd_safe::get_frame_content_size(&part)
                                .ok()
                                .flatten()
                                .unwrap_or(u64::MAX);
                            if le32(&part[..4]) != ZSTD_MAGIC
                                || Entry::of_frame(&part, plain as usize) != e
                            {
                                return Err(
                                    damaged("a frame does not match its seek table entry").into()
                                );
                            }
                        }
                        None => {
                            if tail.take().is_some_and(|t| t != part) {
                                return Err(damaged("the seek table differs").into());
                            }
                        }
                    }
                    return Ok(Some((part, (raw, parts, buf, tail))));
                }
                match raw.next().await.transpose()? {
                    Some(bytes) => buf.extend_from_slice(&bytes),
                    None => return Err(damaged("the object is truncated").into()),
                }
            }
        },
    )
    .boxed()
}
