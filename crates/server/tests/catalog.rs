//! The catalog's contract, queue semantics included, run against every backend.
//!
//! SQLite always runs. PostgreSQL runs when `TEST_DATABASE_URL` names an admin connection (for
//! example `postgres://postgres@127.0.0.1:5432/postgres`): each test creates a database of its
//! own and drops it afterwards, so tests run in parallel. Without it the `postgres_*` tests print
//! that they are skipped and return.

use fileproc::catalog::{
    Catalog, CatalogError, FileFilter, JobFailure, NewFile, PostgresCatalog, SqliteCatalog,
    StoredResult,
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

/// A SQLite test and a PostgreSQL test running one conformance function.
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident => $check:ident) => {
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
    let job = c.claim_job("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(
        (job.id.as_str(), job.file_id.as_str(), job.attempts),
        (job_id.as_str(), "f1", 1)
    );
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
    let second = c.claim_job("alive", LEASE).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
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
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = c.claim_job("w", LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
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
    c.insert_file(&new_file("f2", "bob"), None).await.unwrap();
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
