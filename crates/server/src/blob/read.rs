//! Reading objects, whole or by byte range. Two layers: the stored bytes
//! ([`BlobStore::get_stored`]): a sealed object (one that starts with the encryption header)
//! is opened chunk by chunk as it streams ([`crypt`]), any other is served as stored; then,
//! for an original stored compressed, its frames decoded ([`compress`]). Callers of
//! [`BlobStore::get_stream`] see the original bytes either way.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt};

use super::compress::{self, FrameDecoder, SeekTable, Stored};
use super::crypt::{self, CryptError, HEADER_LEN, Header, Layout, MAGIC, Opener};
use super::{BlobStore, ByteStream, StoreError};

/// Stored bytes read from the end of a compressed object to find its seek table in one read
/// (a table of up to 5,400 frames of 12 bytes: 5.4 GB of plaintext; a larger one takes a second
/// read).
const TAIL_READ: u64 = 64 * 1024;

impl BlobStore {
    /// The object's bytes as they were written (the original bytes of a compressed original,
    /// the plaintext of a sealed object) as a stream, optionally only `range` (bytes, end
    /// exclusive, clamped to the object's end).
    ///
    /// A whole read of a plain object is one GET; a range is two (its start, then the bytes
    /// under the range); a read of a compressed original reads its start, size and seek table
    /// (from its end) first, then only the frames under the range (all of them for a whole
    /// read). A damaged sealed chunk or compressed frame ends the stream with
    /// [`StoreError::Integrity`], never with its bytes; a damaged start is an error of the
    /// call.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Integrity`] or a store failure.
    #[tracing::instrument(name = "storage.get", skip(self), fields(otel.kind = "client"))]
    pub async fn get_stream(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        self.get_original(key, Stored::Unknown, range).await
    }

    /// [`BlobStore::get_stream`] of a file's original, checked against what the catalog says
    /// of it (`stored`): an original the catalog says is compressed must be (else
    /// [`CryptError::Compressed`]: replaced or damaged at its start), and a whole read of one
    /// it says is not must not start with the compression header.
    ///
    /// # Errors
    /// As [`BlobStore::get_stream`].
    pub async fn get_original(
        &self,
        key: &str,
        stored: Stored,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        if !compress::may_be_compressed(key) {
            return self.get_stored(key, range).await;
        }
        let table = match (stored, &range) {
            (Stored::AsIs, Some(_)) => return self.get_stored(key, range).await,
            (Stored::AsIs | Stored::Unknown, None) => {
                let whole = self.get_stored(key, None).await?;
                let (first, rest) = peek(whole, compress::HEADER_LEN).await?;
                if !compress::is_compressed(&first) {
                    return Ok(prepend(first, rest));
                }
                if stored == Stored::AsIs {
                    return Err(mismatch("compressed, though it was stored as it came"));
                }
                // The frames are read below, after the seek table.
                drop(rest);
                self.seek_table(key).await?
            }
            (Stored::Unknown, Some(_)) => self.seek_table(key).await?,
            (Stored::Zstd, _) => match self.seek_table(key).await? {
                Some(table) => Some(table),
                None => return Err(mismatch("not compressed, though it was stored compressed")),
            },
        };
        let range = range.unwrap_or(0..u64::MAX);
        let Some(table) = table else {
            return self.get_stored(key, Some(range)).await;
        };
        let Some(located) = table.locate(range) else {
            return Ok(futures::stream::empty().boxed());
        };
        let stored = self.get_stored(key, Some(located.stored)).await?;
        let decoded = compress::decode_stream(stored, FrameDecoder::frames(located.frames));
        // The first frame decodes now: a damaged one is an error of the call.
        let sliced = compress::slice_stream(decoded, located.skip, located.take);
        let (first, rest) = peek(sliced, 1).await?;
        Ok(prepend(first, rest))
    }

    /// The stored zstd stream of a compressed original (opened if sealed, not decoded), for a
    /// client that accepts `Content-Encoding: zstd`, each part checked against the seek table
    /// as it goes ([`compress::checked_stream`]); `None` when the object is not compressed.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Integrity`] or a store failure.
    pub async fn get_encoded(&self, key: &str) -> Result<Option<ByteStream>, StoreError> {
        if !compress::may_be_compressed(key) {
            return Ok(None);
        }
        let Some(table) = self.seek_table(key).await? else {
            return Ok(None);
        };
        let stored = self.get_stored(key, None).await?;
        // The header is checked now: a damaged start is an error of the call.
        let (first, rest) = peek(compress::checked_stream(stored, table), 1).await?;
        Ok(Some(prepend(first, rest)))
    }

    /// The seek table of a compressed original, or `None` when the object is not compressed.
    async fn seek_table(&self, key: &str) -> Result<Option<SeekTable>, StoreError> {
        let start: Vec<Bytes> = self
            .get_stored(key, Some(0..compress::HEADER_LEN as u64))
            .await?
            .try_collect()
            .await?;
        if !compress::is_compressed(&start.concat()) {
            return Ok(None);
        }
        let stored_len = self.stored_size(key).await?;
        let tail = self
            .stored_bytes(key, stored_len.saturating_sub(TAIL_READ)..stored_len)
            .await?;
        let (_, table_len) = SeekTable::footer(&tail)?;
        let table_len = table_len as u64;
        if table_len > stored_len {
            return Err(
                CryptError::Compressed("the seek table is longer than the object".into()).into(),
            );
        }
        let table = if table_len <= tail.len() as u64 {
            SeekTable::parse(&tail[tail.len() - table_len as usize..])?
        } else {
            SeekTable::parse(
                &self
                    .stored_bytes(key, stored_len - table_len..stored_len)
                    .await?,
            )?
        };
        if table.stored_len() != stored_len {
            return Err(
                CryptError::Compressed("the seek table does not cover the object".into()).into(),
            );
        }
        Ok(Some(table))
    }

    /// Stored bytes `range` gathered in memory (small reads only).
    async fn stored_bytes(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>, StoreError> {
        let parts: Vec<Bytes> = self
            .get_stored(key, Some(range))
            .await?
            .try_collect()
            .await?;
        Ok(parts.concat())
    }

    /// The object's bytes as stored, opened if sealed (a compressed original stays
    /// compressed), optionally only `range` (bytes, end exclusive, clamped to the end).
    ///
    /// A whole read is one GET; a range is two (the header, then the chunks or bytes under the
    /// range, on the same version of the object). The first chunk of a sealed object is opened
    /// before this returns, so a damaged header or first chunk is an error of the call; a later
    /// damaged chunk ends the stream with [`StoreError::Integrity`], never with its bytes.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Integrity`] or a store failure.
    pub async fn get_stored(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        let path = ObjectPath::from(key);
        let opened = match range {
            None => self.open_whole(&path).await?,
            Some(range) => self.open_range(&path, range).await?,
        };
        match opened {
            Opened::AsStored(stream) => Ok(stream),
            Opened::Sealed(stream) => {
                // Open the first chunk now (see above).
                let (first, rest) = peek(stream, 1).await?;
                Ok(prepend(first, rest))
            }
        }
    }

    /// The whole object in one GET: as stored, or opened if its first bytes are a header.
    async fn open_whole(&self, path: &ObjectPath) -> Result<Opened, StoreError> {
        let result = self.store.get_opts(path, GetOptions::default()).await?;
        let size = result.meta.size;
        let (first, rest) = peek(payload_stream(result), HEADER_LEN).await?;
        if !Header::is_sealed(&first) {
            return Ok(Opened::AsStored(prepend(first, rest)));
        }
        let header = Header::parse(&first)?;
        let layout = Layout::new(header.chunk_size, size)?;
        let opener = Opener::whole(self.object_key(&header)?, layout);
        Ok(Opened::Sealed(open_stream(
            first.slice(HEADER_LEN..),
            rest,
            opener,
        )))
    }

    /// Bytes `range` of the object: its start first (is it sealed, and how?), then the bytes or
    /// chunks under the range, on the same version of the object (`If-Match` its ETag).
    async fn open_range(
        &self,
        path: &ObjectPath,
        range: std::ops::Range<u64>,
    ) -> Result<Opened, StoreError> {
        let (start, meta) = self.object_start(path).await?;
        let (fetch, opener) = if Header::is_sealed(&start) {
            let header = Header::parse(&start)?;
            let layout = Layout::new(header.chunk_size, meta.size)?;
            match Opener::new(self.object_key(&header)?, layout, range) {
                Some((opener, bytes)) => (bytes, Some(opener)),
                None => return Ok(Opened::AsStored(futures::stream::empty().boxed())),
            }
        } else if range.start >= range.end.min(meta.size) {
            return Ok(Opened::AsStored(futures::stream::empty().boxed()));
        } else {
            (range.start..range.end.min(meta.size), None)
        };
        let options = GetOptions {
            range: Some(fetch.into()),
            if_match: meta.e_tag,
            ..Default::default()
        };
        let raw = payload_stream(self.store.get_opts(path, options).await?);
        Ok(match opener {
            Some(opener) => Opened::Sealed(open_stream(Bytes::new(), raw, opener)),
            None => Opened::AsStored(raw),
        })
    }

    /// The object's first bytes (up to the header's length) and its metadata, in one ranged GET.
    async fn object_start(&self, path: &ObjectPath) -> Result<(Bytes, ObjectMeta), StoreError> {
        let options = GetOptions {
            range: Some((0..HEADER_LEN as u64).into()),
            ..Default::default()
        };
        let result = self.store.get_opts(path, options).await?;
        let meta = result.meta.clone();
        Ok((result.bytes().await?, meta))
    }

    /// The key that opens the object `header` describes.
    fn object_key(&self, header: &Header) -> Result<crypt::ObjectKey, CryptError> {
        match &self.keys {
            Some(keys) => keys.object_key(header),
            None => Err(CryptError::UnknownKey(header.key_id.clone())),
        }
    }

    /// The object's size in bytes as written: the original size of a compressed original (from
    /// its seek table), the plaintext size of a sealed object (from the chunk layout).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Integrity`] for a sealed object whose size fits
    /// no layout or a damaged seek table, or a store failure.
    #[tracing::instrument(name = "storage.head", skip(self), fields(otel.kind = "client"))]
    pub async fn size(&self, key: &str) -> Result<u64, StoreError> {
        if compress::may_be_compressed(key)
            && let Some(table) = self.seek_table(key).await?
        {
            return Ok(table.plain_len());
        }
        self.stored_size(key).await
    }

    /// The object's size as stored, opened if sealed: its plaintext size if it is sealed (from
    /// the chunk layout).
    async fn stored_size(&self, key: &str) -> Result<u64, StoreError> {
        let path = ObjectPath::from(key);
        let meta = self.store.head(&path).await?;
        if meta.size < MAGIC.len() as u64 {
            return Ok(meta.size);
        }
        let (start, meta) = self.object_start(&path).await?;
        if !Header::is_sealed(&start) {
            return Ok(meta.size);
        }
        let header = Header::parse(&start)?;
        Ok(Layout::new(header.chunk_size, meta.size)?.plain_len)
    }
}

/// An original whose object disagrees with the catalog.
fn mismatch(what: &str) -> StoreError {
    CryptError::Compressed(format!("the stored original is {what}")).into()
}

/// An object's bytes (or a range of them): as stored, or the plaintext of a sealed object.
enum Opened {
    AsStored(ByteStream),
    Sealed(ByteStream),
}

/// `first`, unless empty, then `rest`.
fn prepend(first: Bytes, rest: ByteStream) -> ByteStream {
    let first = (!first.is_empty()).then_some(Ok(first));
    futures::stream::iter(first).chain(rest).boxed()
}

/// The stream of a GET's payload.
fn payload_stream(result: object_store::GetResult) -> ByteStream {
    let range = result.range.clone();
    match result.payload {
        // object_store reads local files 8 KiB at a time, each read a trip to the blocking
        // pool; larger reads make assembling and downloading several times faster.
        GetResultPayload::File(file, _) => file_stream(file, range),
        GetResultPayload::Stream(stream) => stream.map_err(StoreError::from).boxed(),
    }
}

/// At least `len` bytes from the front of `stream` (fewer if it ends first), and the rest.
async fn peek(mut stream: ByteStream, len: usize) -> Result<(Bytes, ByteStream), StoreError> {
    let mut first = match stream.next().await {
        Some(bytes) => bytes?,
        None => Bytes::new(),
    };
    if first.len() < len {
        let mut joined = bytes::BytesMut::from(first);
        while joined.len() < len {
            match stream.next().await {
                Some(bytes) => joined.extend_from_slice(&bytes?),
                None => break,
            }
        }
        first = joined.freeze();
    }
    Ok((first, stream))
}

/// The plaintext of the chunks `opener` opens, from `first` then `rest` (their ciphertext).
fn open_stream(first: Bytes, rest: ByteStream, mut opener: Opener) -> ByteStream {
    opener.feed(&first);
    futures::stream::try_unfold((rest, opener), |(mut rest, mut opener)| async move {
        loop {
            if let Some(plain) = opener.next_chunk()? {
                if plain.is_empty() {
                    continue;
                }
                return Ok(Some((plain, (rest, opener))));
            }
            match rest.next().await.transpose()? {
                Some(sealed) => opener.feed(&sealed),
                None => {
                    opener.finish()?;
                    return Ok(None);
                }
            }
        }
    })
    .boxed()
}

/// Bytes read from a local file per step of [`BlobStore::get_stream`].
const LOCAL_READ_CHUNK: u64 = 512 * 1024;

/// `range` of a local file as a stream of chunks of [`LOCAL_READ_CHUNK`] bytes, each read on
/// the blocking pool.
fn file_stream(file: std::fs::File, range: std::ops::Range<u64>) -> ByteStream {
    let state = (file, range.start, range.end);
    futures::stream::try_unfold(state, |(mut file, at, end)| async move {
        if at >= end {
            return Ok(None);
        }
        let want = (end - at).min(LOCAL_READ_CHUNK);
        let read = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(at))?;
            let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
            (&mut file).take(want).read_to_end(&mut buf)?;
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let (file, buf) = read;
        if buf.is_empty() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ended at byte {at}, before {end}"),
            )));
        }
        let next = at + buf.len() as u64;
        Ok(Some((Bytes::from(buf), (file, next, end))))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StorageSettings;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// A local store in `dir`, sealing in 1 KiB chunks when `sealed`.
    fn store(dir: &std::path::Path, sealed: bool) -> BlobStore {
        let mut settings = StorageSettings {
            local_path: dir.to_owned(),
            ..StorageSettings::default()
        };
        settings
            .encryption
            .keys
            .insert("default".into(), KEY.to_owned().into());
        settings.encryption.enabled = Some(sealed);
        settings.encryption.chunk_size = 1024;
        BlobStore::from_settings(&settings).expect("store")
    }

    async fn read(blobs: &BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
        let stream = blobs.get_stream(key, range).await.expect("opens");
        let parts: Vec<Bytes> = stream.try_collect().await.expect("reads");
        parts.concat()
    }

    #[tokio::test]
    async fn sealed_and_plain_objects_read_alike_whole_by_range_and_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let sealing = store(dir.path(), true);
        let plain = store(dir.path(), false);
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        sealing
            .put("a/put", Bytes::from(data.clone()))
            .await
            .unwrap();
        let mut upload = sealing.start_upload("a/upload").await.unwrap();
        for piece in data.chunks(777) {
            upload.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        upload.finish().await.unwrap();
        plain
            .put("a/plain", Bytes::from(data.clone()))
            .await
            .unwrap();
        sealing.put("a/empty", Bytes::new()).await.unwrap();
        plain.put("a/plain-empty", Bytes::new()).await.unwrap();

        for key in ["a/put", "a/upload", "a/plain"] {
            // Either store reads either kind: sealing only changes what is written.
            for blobs in [&sealing, &plain] {
                assert_eq!(blobs.size(key).await.unwrap(), 5000, "{key}");
                assert_eq!(read(blobs, key, None).await, data, "{key}");
                for (start, end) in [(0, 1), (1023, 1025), (1024, 2048), (4999, 5000), (10, 9000)] {
                    let got = read(blobs, key, Some(start..end)).await;
                    assert_eq!(
                        got,
                        &data[start as usize..end.min(5000) as usize],
                        "{key} {start}..{end}"
                    );
                }
            }
        }
        let raw = std::fs::read(dir.path().join("a/upload")).unwrap();
        assert_eq!(raw.len(), HEADER_LEN + 5000 + 5 * crypt::TAG_LEN);
        for key in ["a/empty", "a/plain-empty"] {
            assert_eq!(sealing.size(key).await.unwrap(), 0);
            assert!(read(&sealing, key, None).await.is_empty());
        }
    }

    #[tokio::test]
    async fn a_damaged_chunk_ends_the_stream_after_the_chunks_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        let data = vec![7u8; 5000];
        blobs.put("b", Bytes::from(data)).await.unwrap();
        let path = dir.path().join("b");
        let mut raw = std::fs::read(&path).unwrap();
        raw[HEADER_LEN + 3 * (1024 + crypt::TAG_LEN) + 5] ^= 1;
        std::fs::write(&path, raw).unwrap();
        let mut stream = blobs.get_stream("b", None).await.expect("chunk 0 opens");
        let mut good = 0;
        let error = loop {
            match stream.next().await {
                Some(Ok(bytes)) => good += bytes.len(),
                Some(Err(e)) => break e,
                None => panic!("the stream ended without an error"),
            }
        };
        assert_eq!(good, 3 * 1024);
        assert!(matches!(
            error,
            StoreError::Integrity(CryptError::Tampered { index: 3 })
        ));
        // Without the key, a sealed object is refused, never served as stored.
        let keyless = BlobStore::from_settings(&StorageSettings {
            local_path: dir.path().to_owned(),
            ..StorageSettings::default()
        })
        .unwrap();
        assert!(matches!(
            keyless.get_stream("b", Some(0..10)).await.err(),
            Some(StoreError::Integrity(CryptError::UnknownKey(_)))
        ));
    }
}
