//! The catalog's contract, queue semantics included, run against every backend.
//!
//! SQLite always runs. PostgreSQL runs when `TEST_DATABASE_URL` names an admin connection (for
//! example `postgres://postgres@127.0.0.1:5432/postgres`): each test creates a database of its
//! own and drops it afterwards, so tests run in parallel. Without it the `postgres_*` tests print
//! that they are skipped and return. With `TEST_REDIS_URL` as well, every contract test also
//! runs through the Redis file cache ([`CachedCatalog`] over SQLite), each under its own key
//! prefix.

use fileproc::catalog::{
    CachedCatalog, Catalog, CatalogError, FileCache, FileFilter, FinishedUpload, JobFailure,
    NewFile, NewUpload, PostgresCatalog, Quarantine, SqliteCatalog, StoredResult, UploadKind,
    UploadPart, now_ms,
};
use serde_json::json;
use sqlx::Connection;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("c.db")).await.unwrap();
    catalog.migrate().await.unwrap();
    (dir, Arc::new(catalog))
}

/// A database created for one test; dropped (best effort) when this is.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// A fresh database, or `None` (with a note on stderr) when `TEST_DATABASE_URL` is unset.
    async fn create(test: &str) -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("{test}: SKIPPED, set TEST_DATABASE_URL (an admin PostgreSQL URL) to run it");
            return None;
        };
        let name = format!("fileproc_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connecting to TEST_DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }

    async fn catalog(&self) -> Arc<dyn Catalog> {
        let catalog = PostgresCatalog::connect(&self.url, 10, std::time::Duration::from_secs(10))
            .await
            .unwrap();
        catalog.migrate().await.unwrap();
        Arc::new(catalog)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, so the clean-up gets a thread and runtime of its
        // own. FORCE ends the connections still open (PostgreSQL 13+).
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// `url` with its database (path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// SQLite behind the Redis file cache under a prefix of its own, or `None` (with a note) when
/// `TEST_REDIS_URL` is unset.
async fn cached_sqlite(test: &str) -> Option<(tempfile::TempDir, FileCache, Arc<dyn Catalog>)> {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("{test}: SKIPPED, set TEST_REDIS_URL (a Redis URL) to run it");
        return None;
    };
    let (dir, inner) = sqlite().await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let files = FileCache::with_prefix(&url, Duration::from_secs(60), &prefix).unwrap();
    let cached: Arc<dyn Catalog> = Arc::new(CachedCatalog::new(inner, files.clone()));
    Some((dir, files, cached))
}

/// A SQLite test and a PostgreSQL test running one conformance function, and a test
/// `<function>::through_the_redis_file_cache`.
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident => $check:ident) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn through_the_redis_file_cache() {
                let Some((_dir, _files, c)) = super::cached_sqlite(stringify!($check)).await else {
                    return;
                };
                super::$check(c).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $sqlite() {
            let (_dir, c) = sqlite().await;
            $check(c).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $postgres() {
            let Some(db) = PgDatabase::create(stringify!($postgres)).await else {
                return;
            };
            let c = db.catalog().await;
            $check(c).await;
        }
    };
}

fn new_file(id: &str, owner: &str) -> NewFile {
    NewFile {
        id: id.to_owned(),
        owner: owner.to_owned(),
        filename: "a.csv".into(),
        file_type: "csv".into(),
        content_type: "text/csv".into(),
        size: 10,
        sha256: "00".repeat(32),
        purpose: None,
        metadata: json!({}),
        storage_key: format!("files/{id}/original"),
        compressed_size: None,
    }
}

fn result() -> StoredResult {
    StoredResult {
        result: json!({"csv": {"row_count": 1}}),
        records_key: Some("k".into()),
        records_index: vec![0],
        records_count: 1,
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// A lease short enough to lapse during a test's sleep of [`LAPSE`].
const SHORT_LEASE: Duration = Duration::from_millis(250);
const LAPSE: Duration = Duration::from_millis(400);

/// An hour from now, in Unix ms.
fn in_an_hour() -> i64 {
    now_ms() + 3_600_000
}

/// A chunked upload of 25 bytes in parts of 10, its file `f-{id}`.
fn chunked_upload(id: &str, owner: &str, expires_at: i64) -> NewUpload {
    let mut file = new_file(&format!("f-{id}"), owner);
    file.size = 25;
    file.sha256 = String::new();
    NewUpload {
        id: id.to_owned(),
        kind: UploadKind::Chunked,
        file,
        length: Some(25),
        chunk_size: Some(10),
        auto_process: true,
        upload_metadata: None,
        expires_at,
    }
}

/// A tus upload with a deferred length, its file `f-{id}`.
fn tus_upload(id: &str, owner: &str, expires_at: i64) -> NewUpload {
    let mut file = new_file(&format!("f-{id}"), owner);
    file.size = 0;
    file.sha256 = String::new();
    NewUpload {
        id: id.to_owned(),
        kind: UploadKind::Tus,
        file,
        length: None,
        chunk_size: None,
        auto_process: false,
        upload_metadata: Some("filename YS5jc3Y=".into()),
        expires_at,
    }
}

fn part(upload_id: &str, part_number: i64, size: i64, storage_key: &str) -> UploadPart {
    UploadPart {
        upload_id: upload_id.to_owned(),
        part_number,
        size,
        etag: format!("\"{storage_key}\""),
        storage_key: storage_key.to_owned(),
        created_at: now_ms(),
    }
}

fn facts(size: i64) -> FinishedUpload {
    FinishedUpload {
        file_type: "tsv".into(),
        content_type: "text/tab-separated-values".into(),
        size,
        sha256: "ab".repeat(32),
        compressed_size: Some(size / 3),
    }
}

fn part_keys(parts: &[UploadPart]) -> Vec<(i64, i64, &str)> {
    parts
        .iter()
        .map(|p| (p.part_number, p.size, p.storage_key.as_str()))
        .collect()
}

#[track_caller]
fn expect_not_found<T: std::fmt::Debug>(r: Result<T, CatalogError>) {
    match r {
        Err(CatalogError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(r: Result<T, CatalogError>) {
    match r {
        Err(CatalogError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

// The migrations belong to the backends: not run through the file cache, which knows nothing
// of tables dropped under it (`fileproc migrate --down` runs without it).
#[tokio::test]
async fn sqlite_migrations_revert_one_at_a_time_and_reapply() {
    let (_dir, c) = sqlite().await;
    migrations_revert_one_at_a_time_and_reapply(c).await;
}

#[tokio::test]
async fn postgres_migrations_revert_one_at_a_time_and_reapply() {
    let Some(db) = PgDatabase::create("postgres_migrations_revert_one_at_a_time_and_reapply").await
    else {
        return;
    };
    migrations_revert_one_at_a_time_and_reapply(db.catalog().await).await;
}

on_both_backends!(
    sqlite_claims_each_job_once_and_completes_it,
    postgres_claims_each_job_once_and_completes_it => claims_each_job_once_and_completes_it
);
on_both_backends!(
    sqlite_takes_over_a_job_whose_lease_expired,
    postgres_takes_over_a_job_whose_lease_expired => takes_over_a_job_whose_lease_expired
);
on_both_backends!(
    sqlite_retries_after_backoff_and_fails_for_good,
    postgres_retries_after_backoff_and_fails_for_good => retries_after_backoff_and_fails_for_good
);
on_both_backends!(
    sqlite_hides_other_owners_files_and_refuses_double_enqueue,
    postgres_hides_other_owners_files_and_refuses_double_enqueue =>
        hides_other_owners_files_and_refuses_double_enqueue
);
on_both_backends!(
    sqlite_lists_pages_newest_first_with_filters,
    postgres_lists_pages_newest_first_with_filters => lists_pages_newest_first_with_filters
);
on_both_backends!(
    sqlite_concurrent_claimers_never_share_a_job,
    postgres_concurrent_claimers_never_share_a_job => concurrent_claimers_never_share_a_job
);
on_both_backends!(
    sqlite_creates_uploads_hidden_from_other_owners,
    postgres_creates_uploads_hidden_from_other_owners => creates_uploads_hidden_from_other_owners
);
on_both_backends!(
    sqlite_stores_parts_replacing_one_of_the_same_number,
    postgres_stores_parts_replacing_one_of_the_same_number =>
        stores_parts_replacing_one_of_the_same_number
);
on_both_backends!(
    sqlite_upload_locks_exclude_other_tokens_until_they_lapse,
    postgres_upload_locks_exclude_other_tokens_until_they_lapse =>
        upload_locks_exclude_other_tokens_until_they_lapse
);
on_both_backends!(
    sqlite_appends_tus_segments_under_the_lock,
    postgres_appends_tus_segments_under_the_lock => appends_tus_segments_under_the_lock
);
on_both_backends!(
    sqlite_finishing_an_upload_makes_its_file_ready,
    postgres_finishing_an_upload_makes_its_file_ready => finishing_an_upload_makes_its_file_ready
);
on_both_backends!(
    sqlite_deletes_uploads_with_their_files,
    postgres_deletes_uploads_with_their_files => deletes_uploads_with_their_files
);
on_both_backends!(
    sqlite_lists_expired_unlocked_uploads_oldest_first,
    postgres_lists_expired_unlocked_uploads_oldest_first =>
        lists_expired_unlocked_uploads_oldest_first
);
on_both_backends!(
    sqlite_an_upload_finishing_while_its_file_is_deleted,
    postgres_an_upload_finishing_while_its_file_is_deleted =>
        an_upload_finishing_while_its_file_is_deleted
);
on_both_backends!(
    sqlite_concurrent_puts_of_a_part_leak_no_key,
    postgres_concurrent_puts_of_a_part_leak_no_key => concurrent_puts_of_a_part_leak_no_key
);
on_both_backends!(
    sqlite_records_virus_scans_and_quarantines_files,
    postgres_records_virus_scans_and_quarantines_files =>
        records_virus_scans_and_quarantines_files
);

// SQLite: `enqueue` reads before it writes; in a deferred transaction a concurrent writer made
// it fail at once with SQLITE_BUSY instead of waiting. It now begins with BEGIN IMMEDIATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_enqueues_of_a_file_create_one_job() {
    let (_dir, c) = sqlite().await;
    concurrent_enqueues_of_a_file_create_one_job(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_enqueues_of_a_file_create_one_job() {
    let Some(db) =
        PgDatabase::create("postgres_concurrent_enqueues_of_a_file_create_one_job").await
    else {
        return;
    };
    concurrent_enqueues_of_a_file_create_one_job(db.catalog().await).await;
}

#[tokio::test]
async fn sqlite_sends_no_job_notifications() {
    let (_dir, c) = sqlite().await;
    assert!(c.subscribe_jobs().await.unwrap().is_none());
}

/// Another instance's insert, enqueue and hand-back wake this instance's subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_notifies_subscribers_of_runnable_jobs() {
    let Some(db) = PgDatabase::create("postgres_notifies_subscribers_of_runnable_jobs").await
    else {
        return;
    };
    let here = db.catalog().await;
    let there = db.catalog().await;
    let mut jobs = here.subscribe_jobs().await.unwrap().unwrap();
    let wait = Duration::from_secs(5);
    let no_signal = Duration::from_millis(300);

    there.insert_file(&new_file("f1", "o"), None).await.unwrap();
    assert!(
        tokio::time::timeout(no_signal, jobs.recv()).await.is_err(),
        "a file without a job is no work"
    );
    there
        .insert_file(&new_file("f2", "o"), Some(1))
        .await
        .unwrap();
    tokio::time::timeout(wait, jobs.recv())
        .await
        .expect("signalled on insert with a job")
        .unwrap();
    there.enqueue("o", "f1", 1, &json!({})).await.unwrap();
    tokio::time::timeout(wait, jobs.recv())
        .await
        .expect("signalled on enqueue")
        .unwrap();
    let job = there.claim_job("w", LEASE).await.unwrap().unwrap();
    there.release_job(&job, "w").await.unwrap();
    tokio::time::timeout(wait, jobs.recv())
        .await
        .expect("signalled on hand-back")
        .unwrap();
    // A second subscriber shares the one listener.
    let mut also = here.subscribe_jobs().await.unwrap().unwrap();
    there
        .insert_file(&new_file("f3", "o"), Some(1))
        .await
        .unwrap();
    tokio::time::timeout(wait, also.recv())
        .await
        .expect("second subscriber signalled")
        .unwrap();
    // The listener stops with its catalog.
    drop(here);
    let closed = tokio::time::timeout(wait, async {
        loop {
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = jobs.recv().await {
                break;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the listener stops when the catalog is dropped"
    );
}

async fn claims_each_job_once_and_completes_it(c: Arc<dyn Catalog>) {
    let job_id = c
        .insert_file(&new_file("f1", "o"), Some(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.get_file("o", "f1").await.unwrap().status, "queued");
    assert_eq!(c.queued_jobs().await.unwrap(), 1);
    let job = c.claim_job("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(
        (job.id.as_str(), job.file_id.as_str(), job.attempts),
        (job_id.as_str(), "f1", 1)
    );
    assert!(!job.lease_expired, "claimed from the queue");
    assert_eq!(c.queued_jobs().await.unwrap(), 0);
    assert_eq!(c.get_file("o", "f1").await.unwrap().status, "processing");
    assert!(c.claim_job("w2", LEASE).await.unwrap().is_none());
    assert!(c.renew_lease(&job.id, "w1", LEASE).await.unwrap());
    assert!(!c.renew_lease(&job.id, "w2", LEASE).await.unwrap());
    assert!(!c.complete_job(&job, "w2", &result()).await.unwrap());
    assert!(c.complete_job(&job, "w1", &result()).await.unwrap());
    let file = c.get_file("o", "f1").await.unwrap();
    assert_eq!((file.status.as_str(), file.progress), ("completed", 1.0));
    assert!(file.processed_at.is_some());
    let stored = c.get_result("f1").await.unwrap();
    assert_eq!(stored.records_count, 1);
    assert_eq!(stored.records_index.as_deref(), Some("[0]"));
    assert!(c.claim_job("w1", LEASE).await.unwrap().is_none());
}

async fn takes_over_a_job_whose_lease_expired(c: Arc<dyn Catalog>) {
    c.insert_file(&new_file("f1", "o"), Some(3)).await.unwrap();
    let first = c
        .claim_job("dead", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(!first.lease_expired);
    // A job whose lease lapsed is running, not waiting.
    assert_eq!(c.queued_jobs().await.unwrap(), 0);
    let second = c.claim_job("alive", LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    assert!(second.lease_expired, "taken over from the dead worker");
    // The dead worker's late outcome is ignored.
    assert!(!c.complete_job(&first, "dead", &result()).await.unwrap());
    assert!(c.complete_job(&second, "alive", &result()).await.unwrap());
}

async fn retries_after_backoff_and_fails_for_good(c: Arc<dyn Catalog>) {
    c.insert_file(&new_file("f1", "o"), Some(2)).await.unwrap();
    let job = c.claim_job("w", LEASE).await.unwrap().unwrap();
    let retry = JobFailure {
        code: "storage_error".into(),
        message: "the store hiccuped".into(),
        retry_in: Some(Duration::from_millis(150)),
    };
    c.fail_job(&job, "w", &retry).await.unwrap();
    let file = c.get_file("o", "f1").await.unwrap();
    assert_eq!(file.status, "queued");
    assert_eq!(file.error_code.as_deref(), Some("storage_error"));
    assert!(
        c.claim_job("w", LEASE).await.unwrap().is_none(),
        "not before the backoff"
    );
    // Waiting out its backoff, it is in the queue.
    assert_eq!(c.queued_jobs().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert!(!again.lease_expired, "a retry is claimed from the queue");
    let fatal = JobFailure {
        code: "corrupt_file".into(),
        message: "not a CSV".into(),
        retry_in: None,
    };
    c.fail_job(&again, "w", &fatal).await.unwrap();
    let file = c.get_file("o", "f1").await.unwrap();
    assert_eq!(file.status, "failed");
    assert_eq!(file.error_code.as_deref(), Some("corrupt_file"));
    assert_eq!(file.error_message.as_deref(), Some("not a CSV"));
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
    // Re-processing a failed file clears the error.
    c.enqueue("o", "f1", 2, &json!({})).await.unwrap();
    let file = c.get_file("o", "f1").await.unwrap();
    assert_eq!((file.status.as_str(), file.error_code), ("queued", None));
}

async fn hides_other_owners_files_and_refuses_double_enqueue(c: Arc<dyn Catalog>) {
    c.insert_file(&new_file("f1", "alice"), None).await.unwrap();
    let compressed = NewFile {
        compressed_size: Some(1234),
        ..new_file("f2", "bob")
    };
    c.insert_file(&compressed, None).await.unwrap();
    assert_eq!(
        c.get_file("bob", "f2").await.unwrap().compressed_size,
        Some(1234)
    );
    assert_eq!(
        c.get_file("alice", "f1").await.unwrap().compressed_size,
        None
    );
    assert!(matches!(
        c.get_file("bob", "f1").await,
        Err(CatalogError::NotFound)
    ));
    assert!(matches!(
        c.delete_file("bob", "f1").await,
        Err(CatalogError::NotFound)
    ));
    assert!(matches!(
        c.enqueue("bob", "f1", 1, &json!({})).await,
        Err(CatalogError::NotFound)
    ));
    let filter = FileFilter {
        limit: 10,
        ..FileFilter::default()
    };
    let alice: Vec<String> = c
        .list_files("alice", &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(alice, ["f1"]);
    assert_eq!(c.get_file("alice", "f1").await.unwrap().status, "pending");
    c.enqueue("alice", "f1", 1, &json!({"x": 1})).await.unwrap();
    assert!(matches!(
        c.enqueue("alice", "f1", 1, &json!({})).await,
        Err(CatalogError::Conflict(_))
    ));
    let job = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(job.options, r#"{"x":1}"#);
    c.release_job(&job, "w").await.unwrap();
    let again = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(
        again.attempts, 1,
        "a job handed back at shutdown keeps its attempts"
    );
    c.delete_file("alice", "f1").await.unwrap();
    assert!(matches!(
        c.get_file("alice", "f1").await,
        Err(CatalogError::NotFound)
    ));
}

async fn lists_pages_newest_first_with_filters(c: Arc<dyn Catalog>) {
    for id in ["f1", "f2", "f3", "f4"] {
        c.insert_file(&new_file(id, "o"), None).await.unwrap();
    }
    let mut tsv = new_file("f5", "o");
    tsv.file_type = "tsv".into();
    c.insert_file(&tsv, None).await.unwrap();
    c.insert_file(&new_file("x1", "other"), None).await.unwrap();
    c.enqueue("o", "f2", 1, &json!({})).await.unwrap();
    let ids = |files: Vec<fileproc::catalog::FileRecord>| -> Vec<String> {
        files.into_iter().map(|f| f.id).collect()
    };
    let page = FileFilter {
        limit: 2,
        ..FileFilter::default()
    };
    assert_eq!(ids(c.list_files("o", &page).await.unwrap()), ["f5", "f4"]);
    let next = FileFilter {
        cursor: Some("f4".into()),
        ..page.clone()
    };
    assert_eq!(ids(c.list_files("o", &next).await.unwrap()), ["f3", "f2"]);
    let queued = FileFilter {
        status: Some("queued".into()),
        limit: 10,
        ..FileFilter::default()
    };
    assert_eq!(ids(c.list_files("o", &queued).await.unwrap()), ["f2"]);
    let tsv_only = FileFilter {
        file_type: Some("tsv".into()),
        limit: 10,
        ..FileFilter::default()
    };
    assert_eq!(ids(c.list_files("o", &tsv_only).await.unwrap()), ["f5"]);
    // UUID v7 ids order bytewise, like their creation time.
    let a = uuid::Uuid::now_v7().to_string();
    let b = uuid::Uuid::now_v7().to_string();
    c.insert_file(&new_file(&a, "u"), None).await.unwrap();
    c.insert_file(&new_file(&b, "u"), None).await.unwrap();
    let all = FileFilter {
        limit: 10,
        ..FileFilter::default()
    };
    assert_eq!(ids(c.list_files("u", &all).await.unwrap()), [b, a]);
    // Progress only moves a file being processed.
    c.set_progress("f1", 0.5, "parsing").await.unwrap();
    assert_eq!(c.get_file_by_id("f1").await.unwrap().progress, 0.0);
    let job = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(job.file_id, "f2");
    c.set_progress("f2", 0.5, "parsing").await.unwrap();
    let file = c.get_file_by_id("f2").await.unwrap();
    assert_eq!(
        (file.progress, file.step.as_deref()),
        (0.5, Some("parsing"))
    );
    let deleted = c.delete_file("o", "f2").await.unwrap();
    assert_eq!(deleted.storage_key, "files/f2/original");
    assert!(matches!(
        c.get_result("f2").await,
        Err(CatalogError::NotFound)
    ));
    assert!(
        c.claim_job("w", LEASE).await.unwrap().is_none(),
        "its job went with it"
    );
}

/// 20 jobs, 8 workers claiming in a loop at once: every job is claimed exactly once.
async fn concurrent_claimers_never_share_a_job(c: Arc<dyn Catalog>) {
    let mut expected = HashSet::new();
    for n in 0..20 {
        let job = c
            .insert_file(&new_file(&format!("f{n:02}"), "o"), Some(3))
            .await
            .unwrap()
            .unwrap();
        expected.insert(job);
    }
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let c = Arc::clone(&c);
        workers.spawn(async move {
            let worker = format!("w{w}");
            let mut claimed = Vec::new();
            while let Some(job) = c.claim_job(&worker, LEASE).await.unwrap() {
                assert_eq!(job.attempts, 1, "{} claimed twice", job.id);
                assert!(c.complete_job(&job, &worker, &result()).await.unwrap());
                claimed.push(job.id);
                tokio::task::yield_now().await;
            }
            claimed
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(claimed) = workers.join_next().await {
        for id in claimed.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "job {id} claimed twice");
        }
    }
    assert_eq!(total, 20);
    assert_eq!(seen, expected);
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
    let all = FileFilter {
        limit: 100,
        ..FileFilter::default()
    };
    let files = c.list_files("o", &all).await.unwrap();
    assert_eq!(files.len(), 20);
    assert!(files.iter().all(|f| f.status == "completed"));
}

/// Requests to process one file at once: one job, the other requests refused with a conflict.
async fn concurrent_enqueues_of_a_file_create_one_job(c: Arc<dyn Catalog>) {
    c.insert_file(&new_file("f1", "o"), None).await.unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = Arc::clone(&c);
        requests.spawn(async move { c.enqueue("o", "f1", 1, &json!({})).await });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(outcome) = requests.join_next().await {
        match outcome.unwrap() {
            Ok(_) => created += 1,
            Err(CatalogError::Conflict(_)) => refused += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((created, refused), (1, 7));
    assert!(c.claim_job("w", LEASE).await.unwrap().is_some());
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
}

/// A finished upload that queues its file wakes other instances' workers; one that does not
/// queue it sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_notifies_when_a_finished_upload_queues_its_file() {
    let Some(db) =
        PgDatabase::create("postgres_notifies_when_a_finished_upload_queues_its_file").await
    else {
        return;
    };
    let here = db.catalog().await;
    let there = db.catalog().await;
    let mut jobs = here.subscribe_jobs().await.unwrap().unwrap();
    for id in ["u1", "u2"] {
        there
            .create_upload(&chunked_upload(id, "o", in_an_hour()))
            .await
            .unwrap();
        there.lock_upload(id, "t", LEASE).await.unwrap();
    }
    assert_eq!(
        there
            .finish_upload("u1", "t", &facts(25), None)
            .await
            .unwrap(),
        None
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), jobs.recv())
            .await
            .is_err(),
        "a finished upload without a job is no work"
    );
    assert!(
        there
            .finish_upload("u2", "t", &facts(25), Some(1))
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::timeout(Duration::from_secs(5), jobs.recv())
        .await
        .expect("signalled when a finished upload queues its file")
        .unwrap();
}

async fn creates_uploads_hidden_from_other_owners(c: Arc<dyn Catalog>) {
    let expires_at = in_an_hour();
    let before = now_ms();
    c.create_upload(&chunked_upload("u1", "alice", expires_at))
        .await
        .unwrap();
    let u = c.get_upload("alice", "u1").await.unwrap();
    assert_eq!(
        (
            u.id.as_str(),
            u.file_id.as_str(),
            u.owner.as_str(),
            u.kind.as_str()
        ),
        ("u1", "f-u1", "alice", "chunked")
    );
    assert_eq!((u.length, u.chunk_size, u.offset), (Some(25), Some(10), 0));
    assert!(u.auto_process);
    assert_eq!(u.upload_metadata, None);
    assert_eq!((u.lock_token, u.lock_expires_at), (None, None));
    assert_eq!(u.expires_at, expires_at);
    assert!(u.created_at >= before && u.created_at <= now_ms());
    assert_eq!(u.updated_at, u.created_at);
    let by_file = c.get_upload_by_file("alice", "f-u1").await.unwrap();
    assert_eq!(by_file.id, "u1");
    // The file row waits, `uploading`, with what the upload declared.
    let file = c.get_file("alice", "f-u1").await.unwrap();
    assert_eq!(
        (file.status.as_str(), file.size, file.sha256.as_str()),
        ("uploading", 25, "")
    );
    assert_eq!(file.storage_key, "files/f-u1/original");
    // Another owner cannot tell it exists.
    expect_not_found(c.get_upload("bob", "u1").await);
    expect_not_found(c.get_upload_by_file("bob", "f-u1").await);
    expect_not_found(c.get_upload("alice", "f-u1").await);
    expect_not_found(c.get_upload_by_file("alice", "u1").await);
    expect_not_found(c.get_upload("alice", "nope").await);
    // An uploading file cannot be processed yet.
    expect_conflict(c.enqueue("alice", "f-u1", 1, &json!({})).await);
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());

    c.create_upload(&tus_upload("u2", "alice", expires_at))
        .await
        .unwrap();
    let u = c.get_upload_by_file("alice", "f-u2").await.unwrap();
    assert_eq!(
        (u.id.as_str(), u.kind.as_str(), u.length, u.chunk_size),
        ("u2", "tus", None, None)
    );
    assert!(!u.auto_process);
    assert_eq!(u.upload_metadata.as_deref(), Some("filename YS5jc3Y="));
    assert_eq!(c.get_file("alice", "f-u2").await.unwrap().size, 0);

    // One transaction: a clash on either row leaves neither.
    let mut same_file = chunked_upload("u3", "alice", expires_at);
    same_file.file.id = "f-u1".into();
    assert!(c.create_upload(&same_file).await.is_err());
    expect_not_found(c.get_upload("alice", "u3").await);
    let mut same_id = chunked_upload("u1", "alice", expires_at);
    same_id.file.id = "f-new".into();
    assert!(c.create_upload(&same_id).await.is_err());
    expect_not_found(c.get_file("alice", "f-new").await);
    assert_eq!(
        c.get_upload("alice", "u1").await.unwrap().file_id,
        "f-u1",
        "the first upload is untouched"
    );
}

async fn stores_parts_replacing_one_of_the_same_number(c: Arc<dyn Catalog>) {
    c.create_upload(&chunked_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    let created = c.get_upload("o", "u1").await.unwrap();
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());
    // Parts arrive in any order.
    for (n, size, key, expires_at) in [
        (2, 10, "p2a", 1_000),
        (3, 5, "p3", 2_000),
        (1, 10, "p1", 3_000),
    ] {
        let replaced = c
            .put_upload_part(&part("u1", n, size, key), expires_at)
            .await
            .unwrap();
        assert_eq!(replaced, None, "part {n} is new");
    }
    let u = c.get_upload("o", "u1").await.unwrap();
    assert_eq!((u.offset, u.expires_at), (25, 3_000));
    assert!(u.updated_at >= created.updated_at);
    let parts = c.list_upload_parts("u1").await.unwrap();
    assert_eq!(
        part_keys(&parts),
        [(1, 10, "p1"), (2, 10, "p2a"), (3, 5, "p3")]
    );
    assert_eq!(
        parts[0],
        part_with_time("u1", 1, 10, "p1", parts[0].created_at)
    );

    // Part 2 again: it replaces the first one, whose key comes back for deletion.
    let again = part("u1", 2, 8, "p2b");
    assert_eq!(
        c.put_upload_part(&again, 4_000).await.unwrap().as_deref(),
        Some("p2a")
    );
    let u = c.get_upload("o", "u1").await.unwrap();
    assert_eq!((u.offset, u.expires_at), (23, 4_000));
    let parts = c.list_upload_parts("u1").await.unwrap();
    assert_eq!(
        part_keys(&parts),
        [(1, 10, "p1"), (2, 8, "p2b"), (3, 5, "p3")]
    );
    assert_eq!(parts[1], again, "every column of the part is replaced");
    // Stored again under the same key: no other blob to delete.
    assert_eq!(
        c.put_upload_part(&part("u1", 2, 10, "p2b"), 5_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.get_upload("o", "u1").await.unwrap().offset, 25);

    // Parts of another upload stay apart.
    c.create_upload(&chunked_upload("u2", "o", in_an_hour()))
        .await
        .unwrap();
    assert_eq!(
        c.put_upload_part(&part("u2", 1, 7, "q1"), 6_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.get_upload("o", "u2").await.unwrap().offset, 7);
    assert_eq!(c.get_upload("o", "u1").await.unwrap().offset, 25);
    assert_eq!(c.list_upload_parts("u1").await.unwrap().len(), 3);

    expect_not_found(c.put_upload_part(&part("gone", 1, 1, "x"), 1).await);
    assert!(c.list_upload_parts("gone").await.unwrap().is_empty());
}

fn part_with_time(
    upload_id: &str,
    part_number: i64,
    size: i64,
    key: &str,
    created_at: i64,
) -> UploadPart {
    UploadPart {
        created_at,
        ..part(upload_id, part_number, size, key)
    }
}

async fn upload_locks_exclude_other_tokens_until_they_lapse(c: Arc<dyn Catalog>) {
    c.create_upload(&chunked_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    let before = now_ms();
    let locked = c.lock_upload("u1", "a", LEASE).await.unwrap();
    assert_eq!(locked.lock_token.as_deref(), Some("a"));
    let until = locked.lock_expires_at.unwrap();
    assert!(until >= before + 30_000 && until <= now_ms() + 30_000);
    assert_eq!((locked.id.as_str(), locked.offset), ("u1", 0));
    // Another token waits; the holder may take it again (and extends it).
    expect_conflict(c.lock_upload("u1", "b", LEASE).await);
    let again = c.lock_upload("u1", "a", LEASE).await.unwrap();
    assert_eq!(again.lock_token.as_deref(), Some("a"));
    assert!(again.lock_expires_at.unwrap() >= until);
    // No part while a completion holds the lock.
    expect_conflict(c.put_upload_part(&part("u1", 1, 10, "p1"), 1).await);
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());
    assert_eq!(c.get_upload("o", "u1").await.unwrap().offset, 0);

    assert!(!c.renew_upload_lock("u1", "b", LEASE).await.unwrap());
    assert!(c.renew_upload_lock("u1", "a", LEASE).await.unwrap());
    // Another token's unlock changes nothing.
    c.unlock_upload("u1", "b").await.unwrap();
    let u = c.get_upload("o", "u1").await.unwrap();
    assert_eq!(u.lock_token.as_deref(), Some("a"));
    assert!(u.lock_expires_at.is_some());
    c.unlock_upload("u1", "a").await.unwrap();
    let u = c.get_upload("o", "u1").await.unwrap();
    assert_eq!((u.lock_token, u.lock_expires_at), (None, None));
    assert_eq!(
        c.put_upload_part(&part("u1", 1, 10, "p1"), 1)
            .await
            .unwrap(),
        None
    );
    assert!(
        !c.renew_upload_lock("u1", "a", LEASE).await.unwrap(),
        "nobody holds it"
    );

    // A lock that lapsed (its holder crashed) no longer refuses parts, and another token
    // takes it over; the former holder has lost it.
    c.lock_upload("u1", "a", SHORT_LEASE).await.unwrap();
    expect_conflict(c.lock_upload("u1", "b", LEASE).await);
    tokio::time::sleep(LAPSE).await;
    assert_eq!(
        c.put_upload_part(&part("u1", 2, 10, "p2"), 1)
            .await
            .unwrap(),
        None
    );
    let taken = c.lock_upload("u1", "b", LEASE).await.unwrap();
    assert_eq!((taken.lock_token.as_deref(), taken.offset), (Some("b"), 20));
    expect_conflict(c.lock_upload("u1", "a", LEASE).await);
    assert!(!c.renew_upload_lock("u1", "a", LEASE).await.unwrap());
    expect_conflict(c.append_upload_segment("u1", "a", None, None, 1).await);
    expect_conflict(c.finish_upload("u1", "a", &facts(20), None).await);
    assert_eq!(
        c.get_upload("o", "u1").await.unwrap().lock_token.as_deref(),
        Some("b")
    );
    assert_eq!(c.get_file("o", "f-u1").await.unwrap().status, "uploading");

    expect_not_found(c.lock_upload("gone", "a", LEASE).await);
    assert!(!c.renew_upload_lock("gone", "a", LEASE).await.unwrap());
    c.unlock_upload("gone", "a").await.unwrap();
}

async fn appends_tus_segments_under_the_lock(c: Arc<dyn Catalog>) {
    c.create_upload(&tus_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    // Not without the lock.
    expect_conflict(
        c.append_upload_segment("u1", "a", Some(&part("u1", 1, 5, "s1")), None, 1)
            .await,
    );
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());

    c.lock_upload("u1", "a", LEASE).await.unwrap();
    let u = c
        .append_upload_segment("u1", "a", Some(&part("u1", 1, 5, "s1")), None, 1_000)
        .await
        .unwrap();
    assert_eq!((u.offset, u.length, u.expires_at), (5, None, 1_000));
    assert_eq!(
        (u.lock_token, u.lock_expires_at),
        (None, None),
        "the append releases the lock"
    );
    // The deferred length, once known, is set...
    c.lock_upload("u1", "a", LEASE).await.unwrap();
    let u = c
        .append_upload_segment("u1", "a", Some(&part("u1", 2, 7, "s2")), Some(20), 2_000)
        .await
        .unwrap();
    assert_eq!((u.offset, u.length, u.expires_at), (12, Some(20), 2_000));
    // ...and then kept.
    c.lock_upload("u1", "b", LEASE).await.unwrap();
    let u = c
        .append_upload_segment("u1", "b", Some(&part("u1", 3, 3, "s3")), Some(99), 3_000)
        .await
        .unwrap();
    assert_eq!((u.offset, u.length), (15, Some(20)));
    // The lock went with the append.
    expect_conflict(
        c.append_upload_segment("u1", "b", Some(&part("u1", 4, 1, "s4")), None, 1)
            .await,
    );
    // Another token's append is refused and changes nothing.
    c.lock_upload("u1", "a", LEASE).await.unwrap();
    expect_conflict(
        c.append_upload_segment("u1", "b", Some(&part("u1", 4, 1, "s4")), Some(30), 1)
            .await,
    );
    let u = c.get_upload("o", "u1").await.unwrap();
    assert_eq!(
        (u.offset, u.length, u.expires_at, u.lock_token.as_deref()),
        (15, Some(20), 3_000, Some("a"))
    );
    // An empty PATCH: no segment, still moves the expiry and releases the lock.
    let u = c
        .append_upload_segment("u1", "a", None, None, 4_000)
        .await
        .unwrap();
    assert_eq!(
        (u.offset, u.length, u.expires_at, u.lock_token),
        (15, Some(20), 4_000, None)
    );
    let parts = c.list_upload_parts("u1").await.unwrap();
    assert_eq!(
        part_keys(&parts),
        [(1, 5, "s1"), (2, 7, "s2"), (3, 3, "s3")]
    );
    // A lapsed lock still counts for its token while nobody else took it.
    c.lock_upload("u1", "a", SHORT_LEASE).await.unwrap();
    tokio::time::sleep(LAPSE).await;
    let u = c
        .append_upload_segment("u1", "a", Some(&part("u1", 4, 5, "s4")), None, 5_000)
        .await
        .unwrap();
    assert_eq!((u.offset, u.lock_token), (20, None));

    expect_not_found(c.append_upload_segment("gone", "a", None, None, 1).await);
}

async fn finishing_an_upload_makes_its_file_ready(c: Arc<dyn Catalog>) {
    for id in ["u1", "u2"] {
        c.create_upload(&chunked_upload(id, "o", in_an_hour()))
            .await
            .unwrap();
        for (n, size) in [(1, 10), (2, 10), (3, 5)] {
            c.put_upload_part(&part(id, n, size, &format!("{id}/{n}")), in_an_hour())
                .await
                .unwrap();
        }
    }
    // Only under the lock, and only its holder's.
    expect_conflict(c.finish_upload("u1", "t", &facts(25), None).await);
    c.lock_upload("u1", "t", LEASE).await.unwrap();
    expect_conflict(c.finish_upload("u1", "x", &facts(25), None).await);
    assert_eq!(c.get_file("o", "f-u1").await.unwrap().status, "uploading");

    let before = now_ms();
    assert_eq!(
        c.finish_upload("u1", "t", &facts(25), None).await.unwrap(),
        None
    );
    let file = c.get_file("o", "f-u1").await.unwrap();
    assert_eq!(
        file.compressed_size,
        Some(8),
        "the stored size of a compressed original"
    );
    assert_eq!(
        (
            file.status.as_str(),
            file.size,
            file.sha256.as_str(),
            file.file_type.as_str(),
            file.content_type.as_str()
        ),
        (
            "pending",
            25,
            "ab".repeat(32).as_str(),
            "tsv",
            "text/tab-separated-values"
        )
    );
    assert!(file.updated_at >= before);
    assert_eq!(file.filename, "a.csv");
    expect_not_found(c.get_upload("o", "u1").await);
    expect_not_found(c.get_upload_by_file("o", "f-u1").await);
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
    expect_not_found(c.finish_upload("u1", "t", &facts(25), None).await);
    expect_not_found(c.lock_upload("u1", "t", LEASE).await);

    // With `enqueue`, the file is queued and its job claimable.
    c.lock_upload("u2", "t", LEASE).await.unwrap();
    let job_id = c
        .finish_upload("u2", "t", &facts(25), Some(3))
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(c.get_file("o", "f-u2").await.unwrap().status, "queued");
    expect_not_found(c.get_upload("o", "u2").await);
    assert!(c.list_upload_parts("u2").await.unwrap().is_empty());
    let job = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(
        (
            job.id.as_str(),
            job.file_id.as_str(),
            job.attempts,
            job.max_attempts,
            job.options.as_str()
        ),
        (job_id.as_str(), "f-u2", 1, 3, "{}")
    );
    assert_eq!(c.get_file("o", "f-u2").await.unwrap().status, "processing");
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());

    expect_not_found(c.finish_upload("gone", "t", &facts(1), None).await);
}

async fn deletes_uploads_with_their_files(c: Arc<dyn Catalog>) {
    c.create_upload(&chunked_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    c.put_upload_part(&part("u1", 1, 10, "p1"), 1_000)
        .await
        .unwrap();
    c.put_upload_part(&part("u1", 2, 10, "p2"), 2_000)
        .await
        .unwrap();
    c.lock_upload("u1", "t", LEASE).await.unwrap();
    // Returned as it was, for its parts' blobs.
    let deleted = c.delete_upload("u1").await.unwrap();
    assert_eq!(
        (
            deleted.id.as_str(),
            deleted.file_id.as_str(),
            deleted.offset,
            deleted.expires_at,
            deleted.lock_token.as_deref()
        ),
        ("u1", "f-u1", 20, 2_000, Some("t"))
    );
    expect_not_found(c.get_upload("o", "u1").await);
    expect_not_found(c.get_file("o", "f-u1").await);
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());
    expect_not_found(c.delete_upload("u1").await);

    // Deleting an uploading file deletes its upload and parts.
    c.create_upload(&tus_upload("u2", "o", 1)).await.unwrap();
    c.lock_upload("u2", "t", LEASE).await.unwrap();
    c.append_upload_segment("u2", "t", Some(&part("u2", 1, 4, "s1")), None, 1)
        .await
        .unwrap();
    expect_not_found(c.delete_file("other", "f-u2").await);
    let file = c.delete_file("o", "f-u2").await.unwrap();
    assert_eq!(
        (file.id.as_str(), file.status.as_str()),
        ("f-u2", "uploading")
    );
    expect_not_found(c.get_upload("o", "u2").await);
    expect_not_found(c.get_upload_by_file("o", "f-u2").await);
    assert!(c.list_upload_parts("u2").await.unwrap().is_empty());
    assert!(c.expired_uploads(now_ms(), 10).await.unwrap().is_empty());
    expect_not_found(c.delete_upload("u2").await);
    expect_not_found(c.put_upload_part(&part("u2", 2, 1, "x"), 1).await);
    expect_not_found(c.lock_upload("u2", "t", LEASE).await);
}

async fn lists_expired_unlocked_uploads_oldest_first(c: Arc<dyn Catalog>) {
    let now = now_ms();
    for (id, expires_at) in [
        ("u1", now - 3_000),
        ("u2", now - 1_000),
        ("u3", now - 2_000),
        ("u4", now + 3_600_000),
        ("locked", now - 4_000),
        ("lapsed", now - 5_000),
    ] {
        c.create_upload(&chunked_upload(id, "o", expires_at))
            .await
            .unwrap();
    }
    c.lock_upload("locked", "t", LEASE).await.unwrap();
    c.lock_upload("lapsed", "t", SHORT_LEASE).await.unwrap();
    let ids = |uploads: Vec<fileproc::catalog::UploadRecord>| -> Vec<String> {
        uploads.into_iter().map(|u| u.id).collect()
    };
    assert_eq!(
        ids(c.expired_uploads(now_ms(), 10).await.unwrap()),
        ["u1", "u3", "u2"]
    );
    tokio::time::sleep(LAPSE).await;
    let at = now_ms();
    assert_eq!(
        ids(c.expired_uploads(at, 10).await.unwrap()),
        ["lapsed", "u1", "u3", "u2"]
    );
    assert_eq!(
        ids(c.expired_uploads(at, 2).await.unwrap()),
        ["lapsed", "u1"]
    );
    c.unlock_upload("locked", "t").await.unwrap();
    assert_eq!(
        ids(c.expired_uploads(at, 10).await.unwrap()),
        ["lapsed", "locked", "u1", "u3", "u2"]
    );
    // `expires_at` must be before `now` (u1's is not), and a lock counts as of `now` (the lapsed
    // one was held then).
    assert_eq!(
        ids(c.expired_uploads(now - 3_000, 10).await.unwrap()),
        ["locked"]
    );
}

/// 16 requests store part 1 of an upload at once, each under its own key: each replaced key is
/// returned to exactly one of them, and the keys returned plus the one stored are all the keys
/// put, so no blob is left behind.
async fn concurrent_puts_of_a_part_leak_no_key(c: Arc<dyn Catalog>) {
    c.create_upload(&chunked_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    c.put_upload_part(&part("u1", 2, 3, "other"), in_an_hour())
        .await
        .unwrap();
    let mut puts = tokio::task::JoinSet::new();
    for n in 0..16_i64 {
        let c = Arc::clone(&c);
        puts.spawn(async move {
            let key = format!("k{n:02}");
            c.put_upload_part(&part("u1", 1, 100 + n, &key), in_an_hour())
                .await
                .unwrap()
        });
    }
    let mut returned = Vec::new();
    while let Some(replaced) = puts.join_next().await {
        returned.extend(replaced.unwrap());
    }
    let parts = c.list_upload_parts("u1").await.unwrap();
    assert_eq!(parts.len(), 2);
    let stored = &parts[0];
    assert_eq!(stored.part_number, 1);
    assert_eq!(returned.len(), 15, "every put but the first replaced one");
    let mut all: Vec<String> = returned.clone();
    all.push(stored.storage_key.clone());
    all.sort();
    let expected: Vec<String> = (0..16).map(|n| format!("k{n:02}")).collect();
    assert_eq!(all, expected, "each key returned or stored, exactly once");
    assert!(!returned.contains(&stored.storage_key));
    // The row is one put's, whole.
    let n: i64 = stored.storage_key[1..].parse().unwrap();
    assert_eq!(stored.size, 100 + n);
    assert_eq!(stored.etag, format!("\"{}\"", stored.storage_key));
    assert_eq!(
        c.get_upload("o", "u1").await.unwrap().offset,
        stored.size + 3
    );
}

/// A completion and a deletion of the file at once (each touches the file and the upload row):
/// one goes first, the other sees its outcome; neither fails otherwise (no deadlock).
async fn an_upload_finishing_while_its_file_is_deleted(c: Arc<dyn Catalog>) {
    for n in 0..10 {
        let id = format!("u{n}");
        c.create_upload(&chunked_upload(&id, "o", in_an_hour()))
            .await
            .unwrap();
        c.put_upload_part(&part(&id, 1, 25, "p1"), in_an_hour())
            .await
            .unwrap();
        c.lock_upload(&id, "t", LEASE).await.unwrap();
        let finish = {
            let (c, id) = (Arc::clone(&c), id.clone());
            tokio::spawn(async move { c.finish_upload(&id, "t", &facts(25), Some(1)).await })
        };
        let delete = {
            let (c, file_id) = (Arc::clone(&c), format!("f-{id}"));
            tokio::spawn(async move { c.delete_file("o", &file_id).await })
        };
        let deleted = delete.await.unwrap().unwrap();
        match finish.await.unwrap() {
            // Finished first: the deletion took the file as it was then.
            Ok(job) => {
                assert!(job.is_some());
                assert_eq!(deleted.status, "queued");
            }
            Err(CatalogError::NotFound) => assert_eq!(deleted.status, "uploading"),
            Err(other) => panic!("unexpected error: {other}"),
        }
        expect_not_found(c.get_upload("o", &id).await);
        assert!(c.list_upload_parts(&id).await.unwrap().is_empty());
    }
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
}

/// `migrate_down` reverts the latest migration only: after reverting 0005 files cannot be read
/// (this code reads `compressed_size`), after 0004 jobs cannot be claimed, after 0002 the uploads
/// are gone and the files stay; after 0001 nothing is left; `migrate` brings them all back.
async fn migrations_revert_one_at_a_time_and_reapply(c: Arc<dyn Catalog>) {
    c.insert_file(&new_file("f-kept", "o"), None).await.unwrap();
    c.record_virus_scan("f-kept", &json!({"status": "clean"}))
        .await
        .unwrap();
    let upload = chunked_upload("dropped", "o", in_an_hour());
    c.create_upload(&upload).await.unwrap();

    // 0005 takes the files' compressed size (this code reads it)...
    assert_eq!(c.migrate_down().await.unwrap(), Some(5));
    assert!(
        c.get_file("o", "f-kept").await.is_err(),
        "the compressed_size column is gone"
    );
    // ... 0004 the jobs' trace context (a claim reads it, so none can be made without it)...
    assert_eq!(c.migrate_down().await.unwrap(), Some(4));
    assert!(
        c.claim_job("w", LEASE).await.is_err(),
        "the trace_context column is gone"
    );
    // ... 0003 the scan column (this code reads it, so it cannot read files without it)...
    assert_eq!(c.migrate_down().await.unwrap(), Some(3));
    assert!(
        c.get_file("o", "f-kept").await.is_err(),
        "the virus_scan column is gone"
    );
    // ... and 0002 the uploads, with their files; applied again, both start empty.
    assert_eq!(c.migrate_down().await.unwrap(), Some(2));
    c.migrate().await.unwrap();
    expect_not_found(c.get_upload("o", "dropped").await);
    expect_not_found(c.get_file("o", "f-dropped").await);
    let kept = c.get_file("o", "f-kept").await.unwrap();
    assert_eq!((kept.status.as_str(), kept.virus_scan), ("pending", None));

    assert_eq!(c.migrate_down().await.unwrap(), Some(5));
    assert_eq!(c.migrate_down().await.unwrap(), Some(4));
    assert_eq!(c.migrate_down().await.unwrap(), Some(3));
    assert_eq!(c.migrate_down().await.unwrap(), Some(2));
    assert_eq!(c.migrate_down().await.unwrap(), Some(1));
    assert!(
        c.get_upload("o", "dropped").await.is_err(),
        "the uploads table is gone"
    );
    assert_eq!(c.migrate_down().await.unwrap(), None);

    c.migrate().await.unwrap();
    c.insert_file(&new_file("f-again", "o"), None)
        .await
        .unwrap();
    c.create_upload(&upload).await.unwrap();
    assert_eq!(
        c.get_upload("o", "dropped").await.unwrap().file_id,
        "f-dropped"
    );
}

fn quarantine(threat: &str) -> Quarantine {
    Quarantine {
        virus_scan: json!({"status": "infected", "clean": false, "threats": [threat]}),
        message: format!("the file is infected ({threat})"),
    }
}

#[track_caller]
fn scan_of(file: &fileproc::catalog::FileRecord) -> serde_json::Value {
    serde_json::from_str(file.virus_scan.as_deref().expect("a virus_scan")).unwrap()
}

async fn records_virus_scans_and_quarantines_files(c: Arc<dyn Catalog>) {
    // A scan is recorded on any file, replacing the previous one.
    c.insert_file(&new_file("f1", "o"), Some(3)).await.unwrap();
    assert_eq!(c.get_file("o", "f1").await.unwrap().virus_scan, None);
    let job = c.claim_job("w", LEASE).await.unwrap().unwrap();
    let clean = json!({"status": "clean", "clean": true, "threats": []});
    c.record_virus_scan("f1", &clean).await.unwrap();
    assert_eq!(scan_of(&c.get_file("o", "f1").await.unwrap()), clean);
    expect_not_found(c.record_virus_scan("gone", &clean).await);

    // A job's scan that found threats quarantines the file, under the lease only.
    let infected = quarantine("Eicar-Test-Signature");
    assert!(!c.quarantine_job(&job, "other", &infected).await.unwrap());
    assert_eq!(c.get_file("o", "f1").await.unwrap().status, "processing");
    assert!(c.quarantine_job(&job, "w", &infected).await.unwrap());
    let file = c.get_file("o", "f1").await.unwrap();
    assert_eq!(
        (
            file.status.as_str(),
            file.error_code.as_deref(),
            file.error_message.as_deref()
        ),
        (
            "quarantined",
            Some("quarantined"),
            Some("the file is infected (Eicar-Test-Signature)")
        )
    );
    assert_eq!(scan_of(&file), infected.virus_scan);
    assert!(file.processed_at.is_some());
    // It is never retried nor processed again.
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
    assert!(!c.renew_lease(&job.id, "w", LEASE).await.unwrap());
    expect_conflict(c.enqueue("o", "f1", 3, &json!({})).await);
    assert!(!c.complete_job(&job, "w", &result()).await.unwrap());
    assert_eq!(c.get_file("o", "f1").await.unwrap().status, "quarantined");

    // An upload refused by type and found infected is inserted quarantined, with no job.
    c.insert_quarantined(&new_file("f2", "o"), &quarantine("Evil"))
        .await
        .unwrap();
    let file = c.get_file("o", "f2").await.unwrap();
    assert_eq!(
        (file.status.as_str(), file.error_code.as_deref()),
        ("quarantined", Some("quarantined"))
    );
    assert_eq!(scan_of(&file)["threats"], json!(["Evil"]));
    expect_not_found(c.get_file("other", "f2").await);

    // A resumable upload's file is quarantined under the upload's lock, its rows dropped.
    c.create_upload(&chunked_upload("u1", "o", in_an_hour()))
        .await
        .unwrap();
    c.put_upload_part(&part("u1", 1, 25, "u1/1"), in_an_hour())
        .await
        .unwrap();
    let upload = c.get_upload("o", "u1").await.unwrap();
    expect_conflict(
        c.quarantine_upload(&upload, "t", &facts(25), &quarantine("Evil"))
            .await,
    );
    c.lock_upload("u1", "t", LEASE).await.unwrap();
    expect_conflict(
        c.quarantine_upload(&upload, "x", &facts(25), &quarantine("Evil"))
            .await,
    );
    assert_eq!(c.get_file("o", "f-u1").await.unwrap().status, "uploading");
    c.quarantine_upload(&upload, "t", &facts(25), &quarantine("Evil"))
        .await
        .unwrap();
    let file = c.get_file("o", "f-u1").await.unwrap();
    assert_eq!(
        (
            file.status.as_str(),
            file.size,
            file.file_type.as_str(),
            file.error_code.as_deref()
        ),
        ("quarantined", 25, "tsv", Some("quarantined"))
    );
    assert_eq!(scan_of(&file)["threats"], json!(["Evil"]));
    expect_not_found(c.get_upload("o", "u1").await);
    assert!(c.list_upload_parts("u1").await.unwrap().is_empty());
    assert!(c.claim_job("w", LEASE).await.unwrap().is_none());
    expect_not_found(
        c.quarantine_upload(&upload, "t", &facts(25), &quarantine("Evil"))
            .await,
    );

    // Quarantined files list under their status, and are deleted like any other.
    let filter = FileFilter {
        status: Some("quarantined".into()),
        limit: 10,
        ..FileFilter::default()
    };
    let ids: Vec<String> = c
        .list_files("o", &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["f2", "f1", "f-u1"]);
    c.delete_file("o", "f2").await.unwrap();
    expect_not_found(c.get_file("o", "f2").await);
}

/// The Redis file cache serves rows at rest, is fenced against a reader that read before a
/// change, keeps owners apart, never holds a file in flight, and a change made through it is
/// seen at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_file_cache_serves_rows_at_rest_and_never_one_a_change_left_behind() {
    let test = "the_file_cache_serves_rows_at_rest_and_never_one_a_change_left_behind";
    let Some((_dir, files, cached)) = cached_sqlite(test).await else {
        return;
    };
    let id = uuid::Uuid::now_v7().to_string();
    cached.insert_file(&new_file(&id, "o"), None).await.unwrap();
    let first = cached.get_file("o", &id).await.unwrap();
    assert_eq!(first.status, "pending");
    // Filled: the cache answers with the row.
    assert!(matches!(files.lookup(&id).await, Some(Ok(ref f)) if *f == first));
    assert!(matches!(
        cached.get_file("someone-else", &id).await,
        Err(CatalogError::NotFound)
    ));

    // A reader that saw the generation before a change cannot put its old row back.
    let Some(Ok(_)) = files.lookup(&id).await else {
        panic!("cached")
    };
    files.invalidate(&id).await;
    let Some(Err(generation)) = files.lookup(&id).await else {
        panic!("a miss after the invalidation")
    };
    files.invalidate(&id).await;
    assert!(
        !files.fill(&first, &generation).await,
        "a stale fill was refused"
    );
    let Some(Err(current)) = files.lookup(&id).await else {
        panic!("still a miss")
    };
    assert!(files.fill(&first, &current).await);

    // A change through the catalog is seen by the next read: queued, then in flight (never
    // cached), then completed.
    cached.enqueue("o", &id, 1, &json!({})).await.unwrap();
    assert_eq!(cached.get_file("o", &id).await.unwrap().status, "queued");
    assert!(
        matches!(files.lookup(&id).await, Some(Err(_))),
        "queued is not cached"
    );
    let job = cached
        .claim_job("w", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cached.get_file("o", &id).await.unwrap().status,
        "processing"
    );
    cached.set_progress(&id, 0.5, "extraction").await.unwrap();
    assert_eq!(cached.get_file("o", &id).await.unwrap().progress, 0.5);
    assert!(cached.complete_job(&job, "w", &result()).await.unwrap());
    assert_eq!(cached.get_file("o", &id).await.unwrap().status, "completed");
    assert!(matches!(files.lookup(&id).await, Some(Ok(ref f)) if f.status == "completed"));
    cached.delete_file("o", &id).await.unwrap();
    assert!(matches!(
        cached.get_file("o", &id).await,
        Err(CatalogError::NotFound)
    ));
}

/// With Redis unreachable the cache is skipped: every read comes from the catalog and is right.
#[tokio::test]
async fn the_file_cache_without_redis_reads_the_catalog() {
    let (_dir, inner) = sqlite().await;
    let files =
        FileCache::with_prefix("redis://127.0.0.1:1", Duration::from_secs(60), "down:").unwrap();
    let cached = CachedCatalog::new(inner, files);
    let id = uuid::Uuid::now_v7().to_string();
    cached.insert_file(&new_file(&id, "o"), None).await.unwrap();
    assert_eq!(cached.get_file("o", &id).await.unwrap().status, "pending");
    cached.enqueue("o", &id, 1, &json!({})).await.unwrap();
    assert_eq!(cached.get_file("o", &id).await.unwrap().status, "queued");
}
