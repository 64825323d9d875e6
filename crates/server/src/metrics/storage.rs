//! Storage metrics: an [`ObjectStore`] decorator around the blob store's backend (below
//! [`crate::blob::BlobStore`], above `object_store`'s local or S3 store) that counts each call
//! by operation and outcome and times it. A read is timed until its answer arrives; its body
//! streams afterwards and is not part of the time.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use metrics::{Counter, Histogram, Label};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

use super::{Metrics, names};

/// The `operation` label values.
pub const OPERATIONS: [&str; 11] = [
    "put",
    "get",
    "get_range",
    "head",
    "delete",
    "list",
    "copy",
    "multipart_start",
    "multipart_part",
    "multipart_complete",
    "multipart_abort",
];

#[derive(Clone, Copy)]
enum Op {
    Put,
    Get,
    GetRange,
    Head,
    Delete,
    List,
    Copy,
    MultipartStart,
    MultipartPart,
    MultipartComplete,
    MultipartAbort,
}

/// One operation's handles.
struct OpMetrics {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

/// The handles of one backend, by [`Op`].
struct Handles {
    ops: Vec<OpMetrics>,
}

impl Handles {
    /// Count and time one call of `op` that ended with `result`.
    fn record<T>(&self, op: Op, started: Instant, result: &object_store::Result<T>) {
        self.record_outcome(op, started, answered(result));
    }

    fn record_outcome(&self, op: Op, started: Instant, ok: bool) {
        if let Some(m) = self.ops.get(op as usize) {
            m.duration.record(started.elapsed().as_secs_f64());
            if ok {
                m.ok.increment(1);
            } else {
                m.error.increment(1);
            }
        }
    }
}

/// Whether the store answered: success, or an answer about the object (not found, a failed
/// precondition, not modified, already there), which callers expect (`/ready` heads an object
/// that does not exist) and which is no failure of the store. `error` is left for failures:
/// I/O, network, permissions, a bad response.
fn answered<T>(result: &object_store::Result<T>) -> bool {
    use object_store::Error;
    matches!(
        result,
        Ok(_)
            | Err(Error::NotFound { .. }
                | Error::Precondition { .. }
                | Error::NotModified { .. }
                | Error::AlreadyExists { .. })
    )
}

/// The blob store's backend, counted and timed; `backend` is `local` or `s3`.
#[derive(Clone)]
pub struct ObservedStore {
    inner: Arc<dyn ObjectStore>,
    handles: Arc<Handles>,
}

impl ObservedStore {
    /// Wrap `inner`, recording to `metrics` under `backend` (`local` | `s3`).
    pub fn new(inner: Arc<dyn ObjectStore>, backend: &'static str, metrics: &Metrics) -> Self {
        let ops = OPERATIONS
            .iter()
            .map(|operation| {
                let labels = |outcome: &'static str| {
                    vec![
                        Label::new("backend", backend),
                        Label::new("operation", *operation),
                        Label::new("outcome", outcome),
                    ]
                };
                OpMetrics {
                    ok: metrics.counter(names::STORAGE_OPERATIONS, labels("ok")),
                    error: metrics.counter(names::STORAGE_OPERATIONS, labels("error")),
                    duration: metrics.histogram(
                        names::STORAGE_OPERATION_DURATION,
                        vec![
                            Label::new("backend", backend),
                            Label::new("operation", *operation),
                        ],
                    ),
                }
            })
            .collect();
        ObservedStore {
            inner,
            handles: Arc::new(Handles { ops }),
        }
    }
}

impl std::fmt::Debug for ObservedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObservedStore({:?})", self.inner)
    }
}

impl std::fmt::Display for ObservedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observed({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for ObservedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let started = Instant::now();
        let r = self.inner.put_opts(location, payload, opts).await;
        self.handles.record(Op::Put, started, &r);
        r
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let started = Instant::now();
        let r = self.inner.put_multipart_opts(location, opts).await;
        self.handles.record(Op::MultipartStart, started, &r);
        r.map(|upload| {
            Box::new(ObservedUpload {
                inner: upload,
                handles: Arc::clone(&self.handles),
            }) as Box<dyn MultipartUpload>
        })
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let op = if options.head {
            Op::Head
        } else if options.range.is_some() {
            Op::GetRange
        } else {
            Op::Get
        };
        let started = Instant::now();
        let r = self.inner.get_opts(location, options).await;
        self.handles.record(op, started, &r);
        r
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let started = Instant::now();
        let r = self.inner.get_ranges(location, ranges).await;
        self.handles.record(Op::GetRange, started, &r);
        r
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        // One count per object: the stream answers object by object, each timed from the
        // previous answer (or the start).
        let handles = Arc::clone(&self.handles);
        let mut last = Instant::now();
        self.inner
            .delete_stream(locations)
            .map(move |r| {
                handles.record(Op::Delete, last, &r);
                last = Instant::now();
                r
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        // One count per listing, when it ends (an error ends it too).
        ListCounted {
            inner: self.inner.list(prefix),
            done: Some((Arc::clone(&self.handles), Instant::now())),
        }
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let started = Instant::now();
        let r = self.inner.list_with_delimiter(prefix).await;
        self.handles.record(Op::List, started, &r);
        r
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let started = Instant::now();
        let r = self.inner.copy_opts(from, to, options).await;
        self.handles.record(Op::Copy, started, &r);
        r
    }
}

/// A listing that records itself once, when it ends or fails.
struct ListCounted {
    inner: BoxStream<'static, object_store::Result<ObjectMeta>>,
    done: Option<(Arc<Handles>, Instant)>,
}

impl futures::Stream for ListCounted {
    type Item = object_store::Result<ObjectMeta>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        let ended_ok = match &polled {
            std::task::Poll::Ready(None) => Some(true),
            std::task::Poll::Ready(Some(Err(e))) => {
                Some(matches!(e, object_store::Error::NotFound { .. }))
            }
            _ => None,
        };
        if let Some(ok) = ended_ok
            && let Some((handles, started)) = self.done.take()
        {
            handles.record_outcome(Op::List, started, ok);
        }
        polled
    }
}

/// A multipart upload whose parts, completion and abort are counted.
#[derive(Debug)]
struct ObservedUpload {
    inner: Box<dyn MultipartUpload>,
    handles: Arc<Handles>,
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handles")
    }
}

#[async_trait]
impl MultipartUpload for ObservedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let part = self.inner.put_part(data);
        let handles = Arc::clone(&self.handles);
        let started = Instant::now();
        Box::pin(async move {
            let r = part.await;
            handles.record(Op::MultipartPart, started, &r);
            r
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let started = Instant::now();
        let r = self.inner.complete().await;
        self.handles.record(Op::MultipartComplete, started, &r);
        r
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let started = Instant::now();
        let r = self.inner.abort().await;
        self.handles.record(Op::MultipartAbort, started, &r);
        r
    }
}
