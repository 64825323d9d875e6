//! The blob store: the files' bytes and the artefacts of processing, behind `object_store`
//! (`DESIGN.md` section 1): the local file system, or S3 and S3-compatible servers (MinIO).
//! Keys are laid out per file, under the day the file id was made (ids are UUID v7, which carry
//! their creation time), so that deleting a file is deleting a prefix and no key is ever a
//! user-chosen path:
//!
//! ```text
//! [prefix/]files/YYYY/MM/DD/{file_id}/original        the uploaded bytes
//! [prefix/]files/YYYY/MM/DD/{file_id}/records.ndjson  the typed records (see `records`)
//! [prefix/]files/YYYY/MM/DD/{file_id}/thumbnail-256.jpeg  a thumbnail: size, format
//! [prefix/]files/YYYY/MM/DD/{file_id}/converted.webp   the original converted to WebP
//! [prefix/]files/YYYY/MM/DD/{file_id}/optimized.png    the lossless optimised variant
//! [prefix/]files/YYYY/MM/DD/{file_id}/upload/00003-{uuid}  a part of an upload in progress
//! ```
//!
//! With `storage.encryption` on, every object is sealed as it is written and opened as it is
//! read ([`crypt`]: AES-256-GCM in the STREAM construction, chunk by chunk), so callers see
//! plaintext only: a byte range opens just the chunks under it, [`BlobStore::size`] is the
//! plaintext size, and objects stored before encryption was on (no header) read as they are.

use bytes::Bytes;
use fileproc_formats::ImageFormat;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use secrecy::ExposeSecret;
use std::sync::Arc;

use crate::config::{StorageProvider, StorageSettings};

pub mod compress;
pub mod crypt;
mod read;

pub use compress::OriginalUpload;
pub use crypt::{CryptError, Keyring};

/// A stream of an object's bytes.
pub type ByteStream = futures::stream::BoxStream<'static, Result<Bytes, StoreError>>;

/// Why a blob store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object.
    #[error("blob not found: {0}")]
    NotFound(String),
    /// The store failed.
    #[error("blob store error: {0}")]
    Store(#[source] object_store::Error),
    /// A local file failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A sealed object failed to open: altered, truncated, or sealed with a key not configured.
    #[error(transparent)]
    Integrity(#[from] CryptError),
    /// The settings cannot make a store (text that names no secret).
    #[error("invalid storage settings: {0}")]
    Config(String),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => StoreError::NotFound(path),
            other => StoreError::Store(other),
        }
    }
}

/// Size of the parts a streamed upload is cut into, in bytes. S3 needs at least 5 MiB per part
/// but the last; the same size bounds the memory an upload holds.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// The blob store, the name shown as `storage_info.bucket`, and the keys that seal and open
/// objects (none: plaintext).
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// For the local store, the directory keys are relative to (prefix included).
    local_dir: Option<std::path::PathBuf>,
    keys: Option<Arc<Keyring>>,
    /// How originals are compressed; `None`: never.
    codec: Option<compress::Codec>,
}

impl BlobStore {
    /// The store `settings` name: local files, or an S3 bucket (AWS, MinIO or another
    /// S3-compatible server at `endpoint`, addressed path-style unless `force_path_style` says
    /// otherwise).
    ///
    /// # Errors
    /// The local directory cannot be created, the S3 settings are incomplete, or an encryption
    /// key is unusable.
    pub fn from_settings(settings: &StorageSettings) -> Result<Self, StoreError> {
        let mut local_dir = None;
        let keys = Keyring::from_settings(&settings.encryption)
            .map_err(|e| StoreError::Config(format!("storage.encryption: {e}")))?
            .map(Arc::new);
        let (store, bucket): (Arc<dyn ObjectStore>, String) = match settings.provider {
            StorageProvider::Local => {
                std::fs::create_dir_all(&settings.local_path)?;
                let store = LocalFileSystem::new_with_prefix(&settings.local_path)?
                    .with_automatic_cleanup(true);
                local_dir = Some(std::fs::canonicalize(&settings.local_path)?);
                (Arc::new(store), "local".to_owned())
            }
            StorageProvider::S3 | StorageProvider::Minio => {
                let bucket = settings.bucket.clone().unwrap_or_default();
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&bucket)
                    .with_region(&settings.region)
                    .with_allow_http(settings.allow_http());
                if let Some(endpoint) = settings.endpoint_url() {
                    builder = builder.with_endpoint(if settings.path_style() {
                        endpoint
                    } else {
                        virtual_hosted(&endpoint, &bucket)
                    });
                }
                builder = builder.with_virtual_hosted_style_request(!settings.path_style());
                if let Some(key) = &settings.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &settings.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_secret());
                }
                (Arc::new(builder.build()?), bucket)
            }
        };
        let store = match settings.prefix.as_deref().map(|p| p.trim_matches('/')) {
            Some(prefix) if !prefix.is_empty() => {
                local_dir = local_dir.map(|d| d.join(prefix));
                Arc::new(PrefixStore::new(store, prefix)) as Arc<dyn ObjectStore>
            }
            _ => store,
        };
        Ok(BlobStore {
            store,
            bucket,
            local_dir,
            keys,
            codec: compress::Codec::from_settings(settings),
        })
    }

    /// The same store with every backend call counted and timed in `metrics`
    /// (`fileproc_storage_operations_total`, backend `local` or `s3`).
    pub fn observed(mut self, metrics: &crate::metrics::Metrics) -> Self {
        let backend = if self.local_dir.is_some() {
            "local"
        } else {
            "s3"
        };
        self.store = Arc::new(crate::metrics::storage::ObservedStore::new(
            self.store, backend, metrics,
        ));
        self
    }

    /// The name shown as `storage_info.bucket`.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object store itself: objects as stored, sealed or not (for tests and audits).
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix of every object of a file: `files/YYYY/MM/DD/{file_id}`, the day taken from
    /// the UUID v7 id (`files/undated/{file_id}` for an id that carries no time).
    pub fn file_prefix(file_id: &str) -> String {
        let day = uuid::Uuid::parse_str(file_id)
            .ok()
            .and_then(|id| id.get_timestamp())
            .and_then(|ts| {
                let (secs, _) = ts.to_unix();
                chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
            })
            .map(|t| t.format("%Y/%m/%d").to_string());
        match day {
            Some(day) => format!("files/{day}/{file_id}"),
            None => format!("files/undated/{file_id}"),
        }
    }

    /// Key of a file's original bytes.
    pub fn original_key(file_id: &str) -> String {
        format!("{}/original", Self::file_prefix(file_id))
    }

    /// Key of a file's records.
    pub fn records_key(file_id: &str) -> String {
        format!("{}/records.ndjson", Self::file_prefix(file_id))
    }

    /// Key of a file's thumbnail of `size` pixels (longest side) in `format`.
    pub fn thumbnail_key(file_id: &str, size: u32, format: ImageFormat) -> String {
        format!(
            "{}/thumbnail-{size}.{}",
            Self::file_prefix(file_id),
            format.as_str()
        )
    }

    /// Key of a file's lossless optimised variant, in its original's `format`.
    pub fn optimized_key(file_id: &str, format: ImageFormat) -> String {
        format!(
            "{}/optimized.{}",
            Self::file_prefix(file_id),
            format.as_str()
        )
    }

    /// Key of a file's original converted to `format`.
    pub fn converted_key(file_id: &str, format: ImageFormat) -> String {
        format!(
            "{}/converted.{}",
            Self::file_prefix(file_id),
            format.as_str()
        )
    }

    /// Key of a stored piece of an upload in progress: part (chunked) or segment (tus)
    /// `part_number`. Each attempt gets its own key (`attempt`, a fresh UUID), so a part sent
    /// again never overwrites the bytes a concurrent completion is reading.
    pub fn upload_part_key(file_id: &str, part_number: i64, attempt: &str) -> String {
        format!(
            "{}/upload/{part_number:05}-{attempt}",
            Self::file_prefix(file_id)
        )
    }

    /// Delete one object; a missing one is not an error.
    ///
    /// # Errors
    /// A store failure.
    #[tracing::instrument(name = "storage.delete", skip(self), fields(otel.kind = "client"))]
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Start a streamed upload to `key`; bytes become visible only on [`Upload::finish`].
    ///
    /// # Errors
    /// The store refuses to start the upload.
    #[tracing::instrument(name = "storage.start_upload", skip(self), fields(otel.kind = "client"))]
    pub async fn start_upload(&self, key: &str) -> Result<Upload, StoreError> {
        let sealer = self.sealer()?;
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
            sealer,
        })
    }

    /// Start writing a file's original to `key`: compressed when `compressible` (its type may
    /// shrink), compression is on and its first frame shrinks enough ([`compress`]).
    ///
    /// # Errors
    /// The store refuses to start the upload.
    pub async fn start_original(
        &self,
        key: &str,
        compressible: bool,
    ) -> Result<OriginalUpload, StoreError> {
        let upload = self.start_upload(key).await?;
        Ok(OriginalUpload::new(
            upload,
            self.codec.filter(|_| compressible),
        ))
    }

    /// A sealer for a new object, when encryption is on.
    fn sealer(&self) -> Result<Option<crypt::Sealer>, StoreError> {
        match &self.keys {
            Some(keys) => Ok(keys.sealer()?),
            None => Ok(None),
        }
    }

    /// Store a small object in one call (sealed in memory when encryption is on).
    ///
    /// # Errors
    /// The store fails.
    #[tracing::instrument(name = "storage.put", skip(self, bytes), fields(otel.kind = "client", size = bytes.len()))]
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let bytes = match self.sealer()? {
            Some(sealer) => sealer.seal_whole(&bytes)?,
            None => bytes,
        };
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Store a local file from its current position, streaming it in parts.
    ///
    /// # Errors
    /// Reading the file or the store fails.
    #[tracing::instrument(name = "storage.put_file", skip(self, file), fields(otel.kind = "client"))]
    pub async fn put_file(&self, key: &str, mut file: tokio::fs::File) -> Result<(), StoreError> {
        use tokio::io::AsyncReadExt;
        let mut upload = self.start_upload(key).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            upload.write(Bytes::copy_from_slice(&buf[..n])).await?;
        }
        upload.finish().await
    }

    /// Delete every object of a file ([`BlobStore::file_prefix`]); missing objects are not an
    /// error.
    ///
    /// # Errors
    /// A store failure.
    #[tracing::instrument(name = "storage.delete_file_objects", skip(self), fields(otel.kind = "client"))]
    pub async fn delete_file_objects(&self, file_id: &str) -> Result<(), StoreError> {
        let prefix = ObjectPath::from(Self::file_prefix(file_id));
        let keys: Vec<ObjectPath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // On local disk, also what a listing does not show: the temporary files of uploads a
        // crash interrupted (`name#n`) and the emptied directories.
        if let Some(dir) = self
            .local_dir
            .as_ref()
            .filter(|_| uuid::Uuid::parse_str(file_id).is_ok())
        {
            match tokio::fs::remove_dir_all(dir.join(Self::file_prefix(file_id))).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Every key under `files/`, for tests and audits (a listing: slow on big buckets).
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .store
            .list(Some(&ObjectPath::from("files")))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await?;
        Ok(keys)
    }

    /// A cheap call that proves the store answers, for `/ready`: a HEAD of a key that need not
    /// exist (not found is an answer).
    ///
    /// # Errors
    /// A store failure.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.store.head(&ObjectPath::from("files/.ready")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The endpoint of `bucket` on a server that addresses buckets by host name:
/// `https://s3.example.com` becomes `https://{bucket}.s3.example.com`.
fn virtual_hosted(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
        None => format!("{bucket}.{endpoint}"),
    }
}

/// A streamed upload in progress, sealed on the way when encryption is on. Dropping it without
/// [`Upload::finish`] aborts it.
pub struct Upload {
    writer: Option<WriteMultipart>,
    sealer: Option<crypt::Sealer>,
}

impl Upload {
    /// Append bytes (without copying them); waits while too many parts are in flight, so memory
    /// stays bounded.
    ///
    /// # Errors
    /// A part upload failed.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        let bytes = match self.sealer.as_mut() {
            Some(sealer) => sealer.push(&bytes)?,
            None => bytes,
        };
        if let Some(w) = self.writer.as_mut()
            && !bytes.is_empty()
        {
            w.wait_for_capacity(2).await?;
            w.put(bytes);
        }
        Ok(())
    }

    /// Complete the upload: the object becomes visible.
    ///
    /// # Errors
    /// Completing failed; the object is not stored.
    #[tracing::instrument(name = "storage.finish_upload", skip_all, fields(otel.kind = "client"))]
    pub async fn finish(mut self) -> Result<(), StoreError> {
        if let Some(mut w) = self.writer.take() {
            if let Some(sealer) = self.sealer.take() {
                w.put(sealer.finish()?);
            }
            w.finish().await?;
        }
        Ok(())
    }

    /// Abort the upload and remove what was written.
    ///
    /// # Errors
    /// The store failed to abort.
    #[tracing::instrument(name = "storage.abort_upload", skip_all, fields(otel.kind = "client"))]
    pub async fn abort(mut self) -> Result<(), StoreError> {
        if let Some(w) = self.writer.take() {
            w.abort().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_hosted_endpoint_puts_the_bucket_in_the_host() {
        assert_eq!(
            virtual_hosted("https://s3.example.com", "media"),
            "https://media.s3.example.com"
        );
        assert_eq!(
            virtual_hosted("http://minio:9000/", "b"),
            "http://b.minio:9000/"
        );
    }

    #[test]
    fn keys_sit_under_the_day_of_the_uuid_v7_and_never_a_client_name() {
        let id = "019acb3e-1f40-7000-8000-000000000000";
        let prefix = BlobStore::file_prefix(id);
        assert_eq!(prefix, format!("files/2025/11/28/{id}"));
        assert_eq!(
            BlobStore::upload_part_key(id, 3, "a"),
            format!("{prefix}/upload/00003-a")
        );
    }
}
