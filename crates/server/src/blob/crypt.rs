//! Encryption at rest: how one object is sealed and opened, in fixed-size chunks, so that a
//! stream never holds more than a chunk and a byte range opens only the chunks under it.
//!
//! The construction is STREAM (Hoang, Reyhanitabar, Rogaway and Vizár, "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), with AES-256-GCM
//! and a key per object derived as in Tink's `AesGcmHkdfStreaming`: the plaintext is cut into
//! chunks of `C` bytes (the last one 0 to `C` bytes, never absent), and chunk `i` is sealed with
//!
//! ```text
//! object key       = HKDF-SHA256(ikm = master key[key id], salt, info = "fileproc blob v1")
//! nonce (12 bytes) = nonce prefix (7) ‖ i (u32, big-endian) ‖ last (1 byte: 1 on the final chunk)
//! associated data  = header (85 bytes) ‖ i (u64, big-endian) ‖ last
//! ```
//!
//! so a chunk cannot move (its index), the object cannot be cut at a chunk boundary (the new
//! last chunk was not sealed as last), and no chunk, header field or key id can come from another
//! object (its key, nonce and associated data differ). The object is the header, then each
//! chunk's ciphertext followed by its 16-byte tag:
//!
//! ```text
//! offset  bytes  header field
//!  0      8      magic 89 46 50 45 0D 0A 1A 0A ("\x89FPE\r\n\x1a\n")
//!  8      1      version, 1
//!  9      1      key id length L, 1 to 32
//! 10      32     key id (L bytes of a-z 0-9 _ -, then zeros)
//! 42      4      chunk size C in plaintext bytes, u32 big-endian, 1 KiB to 16 MiB
//! 46      32     HKDF salt, random
//! 78      7      nonce prefix, random
//! 85      ...    chunk 0 (C + 16 bytes), chunk 1, ..., the final chunk (0 to C bytes + 16)
//! ```
//!
//! The layout is fixed by `C` and the object's size, so the plaintext size and the place of any
//! plaintext byte follow from them ([`Layout`]). An object that does not start with the magic
//! was stored before encryption was on and is read as it is.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use bytes::BytesMut;
use secrecy::ExposeSecret;
use secrecy::zeroize::Zeroize;
use std::collections::BTreeMap;

use crate::config::{CHUNK_SIZE_RANGE, EncryptionSettings, KEY_LEN, Key, MAX_KEY_ID_LEN};

/// The first bytes of every sealed object (PNG-like: a non-ASCII byte, CR LF, EOF, LF).
pub const MAGIC: [u8; 8] = *b"\x89FPE\r\n\x1a\n";
/// The version of the layout this module writes and reads.
pub const VERSION: u8 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 85;
/// Bytes of an AES-GCM tag, after each chunk.
pub const TAG_LEN: usize = 16;
const SALT_LEN: usize = 32;
const PREFIX_LEN: usize = 7;
const HKDF_INFO: &[u8] = b"fileproc blob v1";

mod chunks;

pub use chunks::{Layout, Opener, Sealer};

/// Why a stored object could not be opened. Never yields bytes that did not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// A chunk failed authentication: changed, moved, from another object, or the object was cut
    /// short at a chunk boundary.
    #[error(
        "the stored object failed its integrity check at chunk {index} (altered, reordered or truncated)"
    )]
    Tampered {
        /// The chunk's index, from 0.
        index: u64,
    },
    /// The object ends inside a chunk or lacks its final chunk.
    #[error("the stored object is truncated: {0}")]
    Truncated(String),
    /// The header starts with the magic but cannot be read, or the chunks do not fit it.
    #[error("the stored object is malformed: {0}")]
    Malformed(String),
    /// The object was sealed with a key this service does not have.
    #[error("the stored object is sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    /// A compressed object's frames or seek table do not decode or do not agree
    /// (`super::compress`): damaged, cut or reordered.
    #[error("the stored object's compressed data is damaged: {0}")]
    Compressed(String),
    /// An original read whole does not have the digest recorded when it was stored.
    #[error("the stored original is not the file stored: {0}")]
    Digest(String),
}

impl CryptError {
    /// The stable code for the API and for failed jobs: `key_unavailable` for a key this service
    /// lacks (a configuration problem), `integrity_error` for the rest.
    pub fn code(&self) -> &'static str {
        match self {
            CryptError::UnknownKey(_) => "key_unavailable",
            _ => "integrity_error",
        }
    }
}

/// The keys of this service: every configured key opens what it sealed; one of them, if
/// encryption is on, seals new objects. `Debug` shows key ids only.
pub struct Keyring {
    keys: BTreeMap<String, Key>,
    /// The key id and chunk size new objects are sealed with; `None` writes plaintext.
    seal: Option<(String, u32)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("seal", &self.seal)
            .finish()
    }
}

impl Keyring {
    /// The keyring `settings` describe, or `None` when no key is configured (objects are then
    /// written in plaintext, and a sealed one fails to open with [`CryptError::UnknownKey`]).
    ///
    /// # Errors
    /// A key does not decode, or `key_id` names no key while sealing is on (validation at
    /// start-up catches both first), as text that never holds a key.
    pub fn from_settings(settings: &EncryptionSettings) -> Result<Option<Keyring>, String> {
        let keys = settings
            .decoded_keys()
            .map_err(|bad| format!("key `{}`: expected {}", bad.key_id, bad.reason))?;
        if keys.is_empty() && !settings.seals() {
            return Ok(None);
        }
        let seal = if settings.seals() {
            if !keys.contains_key(&settings.key_id) {
                return Err(format!("no key `{}` to seal with", settings.key_id));
            }
            let chunk = u32::try_from(settings.chunk_size)
                .ok()
                .filter(|c| CHUNK_SIZE_RANGE.contains(&u64::from(*c)))
                .ok_or_else(|| format!("chunk size {} out of range", settings.chunk_size))?;
            Some((settings.key_id.clone(), chunk))
        } else {
            None
        };
        Ok(Some(Keyring { keys, seal }))
    }

    /// A keyring of `keys` that seals with `seal` (key id, chunk size in bytes), for tests.
    pub fn new(keys: BTreeMap<String, Key>, seal: Option<(String, u32)>) -> Keyring {
        Keyring { keys, seal }
    }

    /// Whether new objects are sealed.
    pub fn seals(&self) -> bool {
        self.seal.is_some()
    }

    /// A sealer for a new object (a fresh salt and nonce prefix), or `None` when sealing is off.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn sealer(&self) -> std::io::Result<Option<Sealer>> {
        let Some((key_id, chunk)) = &self.seal else {
            return Ok(None);
        };
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        getrandom::fill(&mut salt).map_err(std::io::Error::other)?;
        getrandom::fill(&mut prefix).map_err(std::io::Error::other)?;
        let header = Header {
            key_id: key_id.clone(),
            chunk_size: *chunk,
            salt,
            prefix,
        };
        let key = self
            .object_key(&header)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Some(Sealer::new(key, *chunk as usize)))
    }

    /// The key that opens the object `header` describes.
    ///
    /// # Errors
    /// [`CryptError::UnknownKey`] when its key id is not configured.
    pub fn object_key(&self, header: &Header) -> Result<ObjectKey, CryptError> {
        let master = self
            .keys
            .get(&header.key_id)
            .ok_or_else(|| CryptError::UnknownKey(header.key_id.clone()))?;
        ObjectKey::derive(master.expose_secret(), header)
    }
}

/// The header of a sealed object (see the module's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The id of the master key.
    pub key_id: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    salt: [u8; SALT_LEN],
    prefix: [u8; PREFIX_LEN],
}

impl Header {
    /// Whether `bytes` (the start of an object) begin with the magic.
    pub fn is_sealed(bytes: &[u8]) -> bool {
        bytes.starts_with(&MAGIC)
    }

    /// The header at the start of `bytes`, which start with the magic.
    ///
    /// # Errors
    /// [`CryptError::Malformed`] for another version or a field out of range,
    /// [`CryptError::Truncated`] when fewer than [`HEADER_LEN`] bytes are given.
    pub fn parse(bytes: &[u8]) -> Result<Header, CryptError> {
        let bytes: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CryptError::Truncated("the header is incomplete".into()))?;
        if bytes[..8] != MAGIC {
            return Err(CryptError::Malformed("no magic".into()));
        }
        if bytes[8] != VERSION {
            return Err(CryptError::Malformed(format!(
                "unknown version {}",
                bytes[8]
            )));
        }
        let len = usize::from(bytes[9]);
        let key_id = std::str::from_utf8(&bytes[10..10 + len.min(MAX_KEY_ID_LEN)])
            .ok()
            .filter(|id| len <= MAX_KEY_ID_LEN && crate::config::valid_key_id(id))
            .ok_or_else(|| CryptError::Malformed("invalid key id".into()))?;
        let mut chunk = [0u8; 4];
        chunk.copy_from_slice(&bytes[42..46]);
        let chunk_size = u32::from_be_bytes(chunk);
        if !CHUNK_SIZE_RANGE.contains(&u64::from(chunk_size)) {
            return Err(CryptError::Malformed(format!(
                "chunk size {chunk_size} out of range"
            )));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[46..78]);
        let mut prefix = [0u8; PREFIX_LEN];
        prefix.copy_from_slice(&bytes[78..85]);
        Ok(Header {
            key_id: key_id.to_owned(),
            chunk_size,
            salt,
            prefix,
        })
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = VERSION;
        let id = self.key_id.as_bytes();
        let len = id.len().min(MAX_KEY_ID_LEN);
        out[9] = len as u8;
        out[10..10 + len].copy_from_slice(&id[..len]);
        out[42..46].copy_from_slice(&self.chunk_size.to_be_bytes());
        out[46..78].copy_from_slice(&self.salt);
        out[78..85].copy_from_slice(&self.prefix);
        out
    }
}

/// The per-object AES-256-GCM key with the header it is bound to.
pub struct ObjectKey {
    cipher: Aes256Gcm,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
}

impl ObjectKey {
    fn derive(master: &[u8; KEY_LEN], header: &Header) -> Result<ObjectKey, CryptError> {
        let mut okm = [0u8; KEY_LEN];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&header.salt), master)
            .expand(HKDF_INFO, &mut okm)
            .map_err(|_| CryptError::Malformed("key derivation failed".into()))?;
        let cipher = Aes256Gcm::new(&okm.into());
        okm.zeroize();
        Ok(ObjectKey {
            cipher,
            header: header.clone(),
            header_bytes: header.to_bytes(),
        })
    }

    /// The header of the object this key seals or opens.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn nonce_and_ad(
        &self,
        index: u64,
        last: bool,
    ) -> Option<(Nonce<Aes256Gcm>, [u8; HEADER_LEN + 9])> {
        let counter = u32::try_from(index).ok()?;
        let mut nonce = [0u8; 12];
        nonce[..PREFIX_LEN].copy_from_slice(&self.header.prefix);
        nonce[PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let mut ad = [0u8; HEADER_LEN + 9];
        ad[..HEADER_LEN].copy_from_slice(&self.header_bytes);
        ad[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&index.to_be_bytes());
        ad[HEADER_LEN + 8] = u8::from(last);
        Some((nonce.into(), ad))
    }

    /// Append chunk `index` (`plain`, at most the chunk size) sealed, with its tag, to `out`.
    fn seal_into(
        &self,
        index: u64,
        last: bool,
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        let too_long = || std::io::Error::other("object too long to seal (over 2^32 chunks)");
        let (nonce, ad) = self.nonce_and_ad(index, last).ok_or_else(too_long)?;
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, &ad, (&mut out[start..]).into())
            .map_err(|_| too_long())?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Open chunk `index` in place: `chunk` holds its ciphertext and tag, and is left holding its
    /// plaintext.
    fn open_in_place(
        &self,
        index: u64,
        last: bool,
        chunk: &mut BytesMut,
    ) -> Result<(), CryptError> {
        let tampered = CryptError::Tampered { index };
        let (nonce, ad) = self.nonce_and_ad(index, last).ok_or(tampered.clone())?;
        let body_len = chunk.len().checked_sub(TAG_LEN).ok_or(tampered.clone())?;
        let tag = Tag::<Aes256Gcm>::try_from(&chunk[body_len..]).map_err(|_| tampered.clone())?;
        self.cipher
            .decrypt_inout_detached(&nonce, &ad, (&mut chunk[..body_len]).into(), &tag)
            .map_err(|_| tampered)?;
        chunk.truncate(body_len);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
