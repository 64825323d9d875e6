//! The `storage.encryption` section: the keys that seal every stored object at rest
//! (`crate::blob::crypt` holds the construction).
//!
//! Keys are named, so they can rotate: `keys` maps a key id to a base64 32-byte key, and `key_id`
//! names the one new objects are sealed with; each object records its key id, so the others
//! still open what they sealed. `STORAGE_ENCRYPTION_KEY` sets the key `default` (the default
//! `key_id`), `FILEPROC_STORAGE__ENCRYPTION__KEYS__<ID>` any other.

use std::collections::BTreeMap;

use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;

use super::units;

/// Bytes of an AES-256 key.
pub const KEY_LEN: usize = 32;

/// Longest key id, in bytes (it is stored in each object's header).
pub const MAX_KEY_ID_LEN: usize = 32;

/// Smallest and largest plaintext chunk, in bytes: a reader holds one chunk per stream, and a
/// header is read before its chunk size can be trusted.
pub const CHUNK_SIZE_RANGE: std::ops::RangeInclusive<u64> = 1024..=16 * 1024 * 1024;

/// `storage.encryption` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct EncryptionSettings {
    /// Seal new objects (`STORAGE_ENCRYPTION_ENABLED`). Unset: on exactly when `keys` holds a key.
    /// `false` with keys stores new objects in plaintext and still opens sealed ones.
    #[serde(deserialize_with = "super::opt_boolean")]
    pub enabled: Option<bool>,
    /// The id of the key new objects are sealed with (`STORAGE_ENCRYPTION_KEY_ID`): 1 to 32
    /// characters of `a-z 0-9 _ -`. Default `default`.
    #[serde(deserialize_with = "units::string")]
    pub key_id: String,
    /// Key id → key, 32 bytes in standard base64 (`openssl rand -base64 32`); older keys stay
    /// here to open what they sealed. `STORAGE_ENCRYPTION_KEY` sets `keys.default`. Secret.
    pub keys: BTreeMap<String, SecretString>,
    /// Plaintext bytes per sealed chunk (size, 1 KiB to 16 MiB); each costs 16 bytes of tag.
    /// Default 64 KiB.
    #[serde(deserialize_with = "units::byte_size")]
    pub chunk_size: u64,
}

impl Default for EncryptionSettings {
    fn default() -> Self {
        EncryptionSettings {
            enabled: None,
            key_id: "default".into(),
            keys: BTreeMap::new(),
            chunk_size: 64 * 1024,
        }
    }
}

/// A decoded key, wiped from memory when dropped.
pub type Key = SecretBox<[u8; KEY_LEN]>;

/// Why a configured key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKey {
    /// The key's id.
    pub key_id: String,
    /// What is wrong, never the key itself.
    pub reason: &'static str,
}

impl EncryptionSettings {
    /// Whether new objects are sealed: `enabled`, or, unset, whether a key is configured.
    pub fn seals(&self) -> bool {
        self.enabled.unwrap_or(!self.keys.is_empty())
    }

    /// The keys, decoded.
    ///
    /// # Errors
    /// The first key whose id or value is unusable.
    pub fn decoded_keys(&self) -> Result<BTreeMap<String, Key>, BadKey> {
        let mut out = BTreeMap::new();
        for (id, encoded) in &self.keys {
            let bad = |reason| BadKey {
                key_id: id.clone(),
                reason,
            };
            if !valid_key_id(id) {
                return Err(bad("a key id of 1 to 32 characters a-z, 0-9, '_', '-'"));
            }
            let mut bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.expose_secret().trim())
                .map_err(|_| bad("32 bytes in standard base64 (openssl rand -base64 32)"))?;
            let key = <[u8; KEY_LEN]>::try_from(bytes.as_slice());
            secrecy::zeroize::Zeroize::zeroize(&mut bytes);
            let key =
                key.map_err(|_| bad("32 bytes in standard base64 (openssl rand -base64 32)"))?;
            out.insert(id.clone(), SecretBox::new(Box::new(key)));
        }
        Ok(out)
    }
}

/// Whether `id` can name a key: 1 to [`MAX_KEY_ID_LEN`] bytes of `a-z 0-9 _ -` (lower case, as
/// `FILEPROC_STORAGE__ENCRYPTION__KEYS__<ID>` gives it; no dot, which would split the key path).
pub fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}
