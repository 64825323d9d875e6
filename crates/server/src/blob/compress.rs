//! Compression at rest: how an original is stored zstd-compressed so that it still streams in
//! and out, a byte range decodes only the frames under it, and any zstd decoder reads the
//! object as it is stored.
//!
//! The object is one zstd stream (RFC 8878: one or more frames, skippable frames ignored by
//! decoders) laid out in the seekable format of zstd's `contrib/seekable_format` (v0.1):
//!
//! ```text
//! skippable frame, magic 0x184D2A50, 16 bytes of content:   the header (24 bytes in all)
//!     "fileproc" (8), version 1 (1), zeros (7)
//! zstd frame: plaintext bytes 0 .. 1 MiB                     content size and XXH64 checksum
//! zstd frame: plaintext bytes 1 MiB .. 2 MiB                 in each frame header / trailer
//! ...
//! zstd frame: the rest (1 byte to 1 MiB; no frame for an empty file)
//! skippable frame, magic 0x184D2A5E:                         the seek table
//!     per frame, the header first: compressed size (u32 LE), plaintext size (u32 LE),
//!         checksum (u32 LE: the low 32 bits of the XXH64 of the frame's plaintext, as in the
//!         frame's own trailer; 0 for the header)
//!     footer: frame count (u32 LE), descriptor (1 byte, 0x80: checksums present),
//!             seekable magic 0x8F92EAB1 (u32 LE)
//! ```
//!
//! Frames are independent (each compressed alone), so a range needs only the frames under it,
//! found through the seek table at the end; a whole read reads the table first too. Every frame
//! carries its content size and checksum, zstd checks the content against the checksum as it
//! decodes, and a reader checks each frame's sizes and checksum against the table entry at its
//! place, so a damaged, cut or reordered object is an error ([`CryptError::Compressed`]), never
//! wrong bytes. The object starts with the header
//! so that a reader knows from its first bytes, as with encryption's header, whether it is
//! compressed; only originals are ever compressed ([`may_be_compressed`]).
//!
//! With encryption on, the compressed object is what is sealed: compression first, since sealed
//! bytes do not compress.

use bytes::{BufMut, Bytes, BytesMut};

use super::crypt::CryptError;
use crate::config::{CompressionSettings, StorageSettings};

mod read;
mod write;

pub use read::{FrameDecoder, checked_stream, decode_stream, slice_stream};

/// What the catalog says of how an original is stored (its `compressed_size`), checked against
/// the object when it is read: an object that disagrees is damaged or replaced, never served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Compressed, in the layout above.
    Zstd,
    /// As it came.
    AsIs,
    /// Not known (not an original, or a caller without the catalog): told by the header.
    Unknown,
}

impl Stored {
    /// From a file row's `compressed_size`.
    pub fn from_compressed_size(compressed_size: Option<i64>) -> Stored {
        match compressed_size {
            Some(_) => Stored::Zstd,
            None => Stored::AsIs,
        }
    }
}
pub use write::OriginalUpload;

/// Plaintext bytes per frame: the sample a file's ratio is measured on, and the most a byte
/// range decodes beyond what it asks for on each side.
pub const FRAME_LEN: usize = 1 << 20;

/// Largest plaintext a frame may declare when read (a damaged or foreign object cannot make a
/// reader allocate more).
const MAX_FRAME_PLAIN: u64 = 16 << 20;

/// Bytes of the header frame.
pub const HEADER_LEN: usize = 24;

/// The magic of the header's skippable frame (RFC 8878 section 3.1.2: 0x184D2A50 to 0x184D2A5F).
const HEADER_MAGIC: u32 = 0x184D_2A50;
/// The magic of the seek table's skippable frame (the seekable format).
const TABLE_MAGIC: u32 = 0x184D_2A5E;
/// The last four bytes of a seekable object.
const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;
/// Bytes of the seek table's footer.
const FOOTER_LEN: usize = 9;
/// Bytes of one seek table entry (with its checksum).
const ENTRY_LEN: usize = 12;
/// The seek table descriptor: checksums present, nothing else.
const DESCRIPTOR: u8 = 0x80;
const MARKER: &[u8; 8] = b"fileproc";
const VERSION: u8 = 1;

/// Whether the object at `key` may be stored compressed: only originals are.
pub fn may_be_compressed(key: &str) -> bool {
    key.ends_with("/original")
}

/// The header every compressed object starts with.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&HEADER_MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&16u32.to_le_bytes());
    h[8..16].copy_from_slice(MARKER);
    h[16] = VERSION;
    h
}

/// Whether `start` (an object's first bytes) is a compressed object's header.
pub fn is_compressed(start: &[u8]) -> bool {
    start.len() >= 17 && start[..16] == header()[..16]
}

/// How originals are compressed: the zstd level and the ratio the first frame must reach.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    /// zstd level (1..=19).
    pub level: i32,
    /// Smallest plaintext / stored ratio, measured on the first frame with the header and a
    /// one-frame seek table counted.
    pub min_ratio: f64,
}

impl Codec {
    /// The codec `storage.compression` describes, or `None` when it is off.
    pub fn from_settings(settings: &StorageSettings) -> Option<Codec> {
        let CompressionSettings {
            level, min_ratio, ..
        } = settings.compression;
        settings
            .compression
            .enabled()
            .then_some(Codec { level, min_ratio })
    }

    /// Whether `plain` bytes that compress to `compressed` are worth storing compressed.
    pub fn worth_it(&self, plain: usize, compressed: usize) -> bool {
        let stored = compressed + HEADER_LEN + table_len(2);
        plain as f64 >= self.min_ratio * stored as f64
    }
}

/// One frame of the seek table: its stored and plaintext bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Bytes of the frame as stored.
    pub compressed: u32,
    /// Plaintext bytes it decodes to (0 for the header).
    pub plain: u32,
    /// The low 32 bits of the XXH64 of its plaintext (the frame's own trailer); 0 for the
    /// header.
    pub checksum: u32,
}

impl Entry {
    /// The entry of a zstd frame as stored (`frame`, written with its checksum) that decodes to
    /// `plain` bytes; of the header when `plain` is 0.
    pub fn of_frame(frame: &[u8], plain: usize) -> Entry {
        let checksum = match frame.len().checked_sub(4) {
            Some(at) if plain > 0 => le32(&frame[at..]),
            _ => 0,
        };
        Entry {
            compressed: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            plain: u32::try_from(plain).unwrap_or(u32::MAX),
            checksum,
        }
    }
}

/// Bytes of a seek table of `frames` entries, its skippable frame header included.
pub fn table_len(frames: usize) -> usize {
    8 + frames * ENTRY_LEN + FOOTER_LEN
}

/// The seek table: every frame in order, the header first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeekTable {
    /// The frames in order.
    pub entries: Vec<Entry>,
}

impl SeekTable {
    /// The table as stored: a skippable frame holding the entries and the footer.
    pub fn encode(&self) -> Bytes {
        let content = self.entries.len() * ENTRY_LEN + FOOTER_LEN;
        let mut out = BytesMut::with_capacity(8 + content);
        out.put_u32_le(TABLE_MAGIC);
        out.put_u32_le(u32::try_from(content).unwrap_or(u32::MAX));
        for e in &self.entries {
            out.put_u32_le(e.compressed);
            out.put_u32_le(e.plain);
            out.put_u32_le(e.checksum);
        }
        out.put_u32_le(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        out.put_u8(DESCRIPTOR);
        out.put_u32_le(SEEKABLE_MAGIC);
        out.freeze()
    }

    /// The number of entries the footer at the end of `tail` announces, and the table's length
    /// in bytes (skippable frame header included).
    ///
    /// # Errors
    /// [`CryptError::Compressed`] when `tail` does not end with a seek table footer.
    pub fn footer(tail: &[u8]) -> Result<(usize, usize), CryptError> {
        let at = tail
            .len()
            .checked_sub(FOOTER_LEN)
            .ok_or_else(|| damaged("the object is shorter than a seek table"))?;
        let footer = &tail[at..];
        if le32(&footer[5..9]) != SEEKABLE_MAGIC {
            return Err(damaged("the object does not end with a seek table"));
        }
        if footer[4] != DESCRIPTOR {
            return Err(damaged(
                "the seek table's descriptor is not one this service writes",
            ));
        }
        let frames = le32(&footer[..4]) as usize;
        Ok((frames, table_len(frames)))
    }

    /// Parse a whole table (its skippable frame, as stored).
    ///
    /// # Errors
    /// [`CryptError::Compressed`] when it is malformed.
    pub fn parse(bytes: &[u8]) -> Result<SeekTable, CryptError> {
        let (frames, len) = Self::footer(bytes)?;
        if bytes.len() != len
            || le32(&bytes[..4]) != TABLE_MAGIC
            || le32(&bytes[4..8]) as usize != len - 8
        {
            return Err(damaged("the seek table's frame does not match its footer"));
        }
        let entries = bytes[8..8 + frames * ENTRY_LEN]
            .chunks_exact(ENTRY_LEN)
            .map(|e| Entry {
                compressed: le32(&e[..4]),
                plain: le32(&e[4..8]),
                checksum: le32(&e[8..]),
            })
            .collect();
        Ok(SeekTable { entries })
    }

    /// Plaintext bytes of the whole object.
    pub fn plain_len(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.plain)).sum()
    }

    /// Stored bytes of the object, the table included.
    pub fn stored_len(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| u64::from(e.compressed))
            .sum::<u64>()
            + table_len(self.entries.len()) as u64
    }

    /// What reading plaintext `range` (end exclusive, clamped to the end) takes: the stored
    /// bytes of the frames under it, those frames, and how many decoded bytes to skip before
    /// the range starts. `None` for an empty range.
    pub fn locate(&self, range: std::ops::Range<u64>) -> Option<Located> {
        let end = range.end.min(self.plain_len());
        if range.start >= end {
            return None;
        }
        let (mut stored_at, mut plain_at) = (0u64, 0u64);
        let mut located: Option<Located> = None;
        for e in &self.entries {
            let (plain_end, stored_end) = (
                plain_at + u64::from(e.plain),
                stored_at + u64::from(e.compressed),
            );
            if e.plain > 0 && plain_end > range.start && plain_at < end {
                let l = located.get_or_insert_with(|| Located {
                    stored: stored_at..stored_at,
                    frames: Vec::new(),
                    skip: range.start - plain_at,
                    take: end - range.start,
                });
                l.stored.end = stored_end;
                l.frames.push(*e);
            }
            (plain_at, stored_at) = (plain_end, stored_end);
        }
        located
    }
}

/// The frames a byte range needs ([`SeekTable::locate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Stored bytes to fetch (end exclusive).
    pub stored: std::ops::Range<u64>,
    /// The frames in them, in order.
    pub frames: Vec<Entry>,
    /// Decoded bytes before the range.
    pub skip: u64,
    /// Bytes of the range.
    pub take: u64,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A damaged compressed object.
fn damaged(what: impl Into<String>) -> CryptError {
    CryptError::Compressed(what.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(plain: &[u32]) -> SeekTable {
        let mut entries = vec![Entry {
            compressed: HEADER_LEN as u32,
            plain: 0,
            checksum: 0,
        }];
        entries.extend(plain.iter().map(|&p| Entry {
            compressed: p / 4,
            plain: p,
            checksum: p ^ 0x5a5a,
        }));
        SeekTable { entries }
    }

    #[test]
    fn the_seek_table_round_trips_and_its_footer_gives_its_length() {
        let t = table(&[1 << 20, 1 << 20, 100]);
        let bytes = t.encode();
        assert_eq!(bytes.len(), table_len(4));
        assert_eq!(SeekTable::footer(&bytes).unwrap(), (4, 8 + 48 + 9));
        assert_eq!(SeekTable::parse(&bytes).unwrap(), t);
        assert_eq!(t.plain_len(), (2 << 20) + 100);
        assert_eq!(t.stored_len(), 24 + (1 << 19) + 25 + bytes.len() as u64);
        let mut cut = bytes.to_vec();
        cut[bytes.len() - 1] ^= 1;
        assert!(SeekTable::footer(&cut).is_err());
        assert!(SeekTable::parse(&bytes[1..]).is_err());
    }

    #[test]
    fn a_range_takes_only_the_frames_under_it() {
        let t = table(&[1000, 1000, 500]);
        // Frame stored offsets: header 0..24, 24..274, 274..524, 524..649.
        let l = t.locate(10..20).unwrap();
        assert_eq!((l.stored.clone(), l.skip, l.take), (24..274, 10, 10));
        let l = t.locate(999..1001).unwrap();
        assert_eq!(
            (l.stored.clone(), l.frames.len(), l.skip, l.take),
            (24..524, 2, 999, 2)
        );
        let l = t.locate(2000..u64::MAX).unwrap();
        assert_eq!((l.stored, l.skip, l.take), (524..649, 0, 500));
        assert_eq!(t.locate(2500..2600), None);
        assert_eq!(t.locate(5..5), None);
    }

    #[test]
    fn the_header_is_recognised_and_nothing_else() {
        assert!(is_compressed(&header()));
        assert!(!is_compressed(b"id,name\n1,a\n"));
        assert!(!is_compressed(&header()[..10]));
        assert!(may_be_compressed("files/2026/01/01/x/original"));
        assert!(!may_be_compressed("files/2026/01/01/x/records.ndjson"));
    }
}

#[cfg(test)]
mod store_tests {
    use bytes::Bytes;
    use futures::TryStreamExt;

    use super::*;
    use crate::blob::{BlobStore, StoreError};

    /// A local store in `dir`, compressing at the default level when `compressing`.
    fn store(dir: &std::path::Path, compressing: bool) -> BlobStore {
        let mut settings = StorageSettings {
            local_path: dir.to_owned(),
            ..StorageSettings::default()
        };
        if !compressing {
            settings.compression.algorithm = crate::config::CompressionAlgorithm::None;
        }
        BlobStore::from_settings(&settings).expect("store")
    }

    async fn read(blobs: &BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
        let parts: Vec<Bytes> = blobs
            .get_stream(key, range)
            .await
            .expect("opens")
            .try_collect()
            .await
            .expect("reads");
        parts.concat()
    }

    /// Text that compresses about 5 times, `len` bytes.
    fn text(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!("{i},{},row {i},{}\n", i * 7 % 1000, i.is_multiple_of(3)).as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    async fn write(blobs: &BlobStore, key: &str, data: &[u8], piece: usize) -> Option<u64> {
        let mut upload = blobs.start_original(key, true).await.unwrap();
        for p in data.chunks(piece.max(1)) {
            upload.write(Bytes::copy_from_slice(p)).await.unwrap();
        }
        upload.finish().await.unwrap().compressed_size
    }

    #[tokio::test]
    async fn originals_of_every_length_round_trip_whole_by_range_and_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        for len in [
            10_000,
            FRAME_LEN - 1,
            FRAME_LEN,
            FRAME_LEN + 1,
            3 * FRAME_LEN + FRAME_LEN / 2,
        ] {
            let data = text(len);
            let key = format!("f/{len}/original");
            let compressed = write(&blobs, &key, &data, 300_007)
                .await
                .expect("compressed");
            let raw = std::fs::read(dir.path().join(&key)).unwrap();
            assert_eq!(raw.len() as u64, compressed, "{len}");
            assert!(raw.len() * 3 < len, "{len}: {}", raw.len());
            assert_eq!(zstd::decode_all(&raw[..]).unwrap(), data, "{len}");
            assert_eq!(read(&blobs, &key, None).await, data, "{len}");
            assert_eq!(blobs.size(&key).await.unwrap(), len as u64);
            let n = len as u64;
            for (start, end) in [
                (0, 1),
                (n - 1, n),
                (0, n),
                (n / 2, n + 100),
                ((FRAME_LEN as u64).min(n - 1), (FRAME_LEN as u64 + 5).min(n)),
                (n + 1, n + 10),
            ] {
                let got = read(&blobs, &key, Some(start..end)).await;
                let want = &data[(start.min(n)) as usize..end.min(n) as usize];
                assert_eq!(got, want, "{len}: {start}..{end}");
            }
        }
    }

    #[tokio::test]
    async fn what_does_not_shrink_or_may_not_is_stored_as_it_came() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        // Random bytes: the sample does not reach the ratio.
        let mut noise = vec![0u8; 2 * FRAME_LEN + 17];
        getrandom::fill(&mut noise).unwrap();
        assert_eq!(write(&blobs, "n/original", &noise, 65_536).await, None);
        assert_eq!(std::fs::read(dir.path().join("n/original")).unwrap(), noise);
        assert_eq!(read(&blobs, "n/original", Some(5..10)).await, &noise[5..10]);
        // Empty.
        assert_eq!(write(&blobs, "e/original", b"", 1).await, None);
        assert!(read(&blobs, "e/original", None).await.is_empty());
        // A type that is not tried, and compression off.
        let data = text(FRAME_LEN);
        let mut upload = blobs.start_original("j/original", false).await.unwrap();
        upload.write(Bytes::from(data.clone())).await.unwrap();
        assert_eq!(upload.finish().await.unwrap().compressed_size, None);
        let off = store(dir.path(), false);
        assert_eq!(write(&off, "o/original", &data, 4096).await, None);
        assert_eq!(std::fs::read(dir.path().join("o/original")).unwrap(), data);
        // Objects written either way read with either store.
        assert!(write(&blobs, "c/original", &data, 4096).await.is_some());
        assert_eq!(read(&off, "c/original", None).await, data);
    }

    #[tokio::test]
    async fn swapped_frames_are_an_integrity_error_for_every_kind_of_read() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        // Frames 1 and 2 of the same length and different bytes, then a third.
        let mut data = text(FRAME_LEN);
        let mut second = text(2 * FRAME_LEN)[FRAME_LEN..].to_vec();
        second.truncate(FRAME_LEN);
        data.extend_from_slice(&second);
        data.extend_from_slice(&text(1000));
        write(&blobs, "s/original", &data, FRAME_LEN).await.unwrap();
        let path = dir.path().join("s/original");
        let raw = std::fs::read(&path).unwrap();
        let table = SeekTable::parse(&raw[raw.len() - table_len(4)..]).unwrap();
        let [h, a, b] = [0, 1, 2].map(|i| table.entries[i].compressed as usize);
        // Swapped, the seek table left as it was. (A table rewritten to match is another
        // valid object: only encryption's authentication tells that apart.)
        let mut kept = raw[..h].to_vec();
        kept.extend_from_slice(&raw[h + a..h + a + b]);
        kept.extend_from_slice(&raw[h..h + a]);
        kept.extend_from_slice(&raw[h + a + b..]);
        {
            std::fs::write(&path, &kept).unwrap();
            let whole = match blobs.get_stream("s/original", None).await {
                Err(e) => Err(e),
                Ok(s) => s.try_collect::<Vec<Bytes>>().await.map(|p| p.concat()),
            };
            assert!(
                whole.is_err(),
                "a whole read gave {} bytes",
                whole.map_or(0, |b| b.len())
            );
            assert!(blobs.get_stream("s/original", Some(0..10)).await.is_err());
            let encoded = match blobs.get_encoded("s/original").await {
                Err(e) => Err(e),
                Ok(s) => s
                    .unwrap()
                    .try_collect::<Vec<Bytes>>()
                    .await
                    .map(|p| p.concat()),
            };
            assert!(encoded.is_err(), "the zstd stream went out whole");
        }
        // Unharmed, the zstd stream is the object as stored.
        std::fs::write(&path, &raw).unwrap();
        let encoded: Vec<Bytes> = blobs
            .get_encoded("s/original")
            .await
            .unwrap()
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(encoded.concat(), raw);
    }

    #[tokio::test]
    async fn an_original_that_disagrees_with_the_catalog_is_never_served() {
        use crate::blob::compress::Stored;
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        let data = text(2 * FRAME_LEN);
        write(&blobs, "c/original", &data, FRAME_LEN).await.unwrap();
        let path = dir.path().join("c/original");
        let read_as = |stored, range| {
            let blobs = blobs.clone();
            async move {
                match blobs.get_original("c/original", stored, range).await {
                    Err(e) => Err(e),
                    Ok(s) => s.try_collect::<Vec<Bytes>>().await.map(|p| p.concat()),
                }
            }
        };
        assert_eq!(read_as(Stored::Zstd, None).await.unwrap(), data);
        assert!(
            read_as(Stored::AsIs, None).await.is_err(),
            "compressed, said plain"
        );
        // Replaced by the plain bytes, or its first byte changed: said compressed, refused.
        std::fs::write(&path, &data).unwrap();
        assert!(read_as(Stored::Zstd, None).await.is_err());
        assert!(read_as(Stored::Zstd, Some(0..10)).await.is_err());
        assert_eq!(
            read_as(Stored::AsIs, Some(0..10)).await.unwrap(),
            &data[..10]
        );
    }

    #[tokio::test]
    async fn a_cut_or_altered_object_is_an_integrity_error_never_short_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(dir.path(), true);
        let data = text(3 * FRAME_LEN);
        write(&blobs, "t/original", &data, FRAME_LEN).await.unwrap();
        let path = dir.path().join("t/original");
        let raw = std::fs::read(&path).unwrap();
        let table = SeekTable::parse(&raw[raw.len() - table_len(4)..]).unwrap();
        let first_two: usize = table.entries[..3]
            .iter()
            .map(|e| e.compressed as usize)
            .sum();

        let whole_fails = |blobs: BlobStore| async move {
            match blobs.get_stream("t/original", None).await {
                Err(e) => Some(e),
                Ok(s) => s.try_collect::<Vec<Bytes>>().await.err(),
            }
        };
        // Cut after the header and two frames: they decode, but the rest and the table are missing.
        std::fs::write(&path, &raw[..first_two]).unwrap();
        assert!(matches!(
            whole_fails(blobs.clone()).await,
            Some(StoreError::Integrity(CryptError::Compressed(_)))
        ));
        // A flipped byte inside the third data frame (plaintext 2 MiB to 3 MiB).
        let mut altered = raw.clone();
        altered[first_two + 50] ^= 1;
        std::fs::write(&path, &altered).unwrap();
        assert!(whole_fails(blobs.clone()).await.is_some());
        assert_eq!(
            read(&blobs, "t/original", Some(0..10)).await,
            &data[..10],
            "frame 1 still reads"
        );
        assert!(matches!(
            blobs
                .get_stream(
                    "t/original",
                    Some(2 * FRAME_LEN as u64..2 * FRAME_LEN as u64 + 9)
                )
                .await
                .err(),
            Some(StoreError::Integrity(_))
        ));
    }
}
