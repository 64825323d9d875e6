//! The blob store: the files' bytes and the artefacts of processing, behind `object_store`
//! (`DESIGN.md` section 1). Keys are laid out per file so that deleting a file is deleting a
//! prefix:
//!
//! ```text
//! files/{file_id}/original        the uploaded bytes
//! files/{file_id}/records.ndjson  the typed records of a CSV or sheet (see `records`)
//! ```

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::path::Path;
use std::sync::Arc;

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

/// The blob store and the name shown as `storage_info.bucket`.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    bucket: String,
}

impl BlobStore {
    /// A store on the local file system under `root` (created if missing).
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn local(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(store),
            bucket: "local".to_owned(),
        })
    }

    /// The name shown as `storage_info.bucket`.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object store itself.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Key of a file's original bytes.
    pub fn original_key(file_id: &str) -> String {
        format!("files/{file_id}/original")
    }

    /// Key of a file's records.
    pub fn records_key(file_id: &str) -> String {
        format!("files/{file_id}/records.ndjson")
    }

    /// Start a streamed upload to `key`; bytes become visible only on [`Upload::finish`].
    ///
    /// # Errors
    /// The store refuses to start the upload.
    pub async fn start_upload(&self, key: &str) -> Result<Upload, StoreError> {
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
        })
    }

    /// Store a small object in one call.
    ///
    /// # Errors
    /// The store fails.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Store a local file from its current position, streaming it in parts.
    ///
    /// # Errors
    /// Reading the file or the store fails.
    pub async fn put_file(&self, key: &str, mut file: tokio::fs::File) -> Result<(), StoreError> {
        use tokio::io::AsyncReadExt;
        let mut upload = self.start_upload(key).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            upload.write(&buf[..n]).await?;
        }
        upload.finish().await
    }

    /// The object's bytes as a stream, optionally only `range` (bytes, end exclusive).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or a store failure.
    pub async fn get_stream(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let options = object_store::GetOptions {
            range: range.map(Into::into),
            ..Default::default()
        };
        let result = self.store.get_opts(&ObjectPath::from(key), options).await?;
        Ok(result.into_stream().map_err(StoreError::from).boxed())
    }

    /// The object's size in bytes.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or a store failure.
    pub async fn size(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self.store.head(&ObjectPath::from(key)).await?.size)
    }

    /// Delete every object under `files/{file_id}/`; missing objects are not an error.
    ///
    /// # Errors
    /// A store failure.
    pub async fn delete_file_objects(&self, file_id: &str) -> Result<(), StoreError> {
        let prefix = ObjectPath::from(format!("files/{file_id}"));
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
        Ok(())
    }

    /// A cheap call that proves the store answers, for `/ready`.
    ///
    /// # Errors
    /// A store failure.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut listing = self.store.list(Some(&ObjectPath::from("files")));
        match listing.next().await {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// A streamed upload in progress. Dropping it without [`Upload::finish`] aborts it.
pub struct Upload {
    writer: Option<WriteMultipart>,
}

impl Upload {
    /// Append bytes; waits while too many parts are in flight, so memory stays bounded.
    ///
    /// # Errors
    /// A part upload failed.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(w) = self.writer.as_mut() {
            w.wait_for_capacity(2).await?;
            w.write(bytes);
        }
        Ok(())
    }

    /// Complete the upload: the object becomes visible.
    ///
    /// # Errors
    /// Completing failed; the object is not stored.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        if let Some(w) = self.writer.take() {
            w.finish().await?;
        }
        Ok(())
    }

    /// Abort the upload and remove what was written.
    ///
    /// # Errors
    /// The store failed to abort.
    pub async fn abort(mut self) -> Result<(), StoreError> {
        if let Some(w) = self.writer.take() {
            w.abort().await?;
        }
        Ok(())
    }
}
