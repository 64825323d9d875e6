//! The catalog's contract, queue semantics included, run against every backend.

use fileproc::catalog::{
    Catalog, CatalogError, FileFilter, JobFailure, NewFile, SqliteCatalog, StoredResult,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("c.db")).await.unwrap();
    catalog.migrate().await.unwrap();
    (dir, Arc::new(catalog))
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

#[tokio::test]
async fn sqlite_claims_each_job_once_and_completes_it() {
    let (_dir, c) = sqlite().await;
    claims_each_job_once_and_completes_it(c).await;
}

#[tokio::test]
async fn sqlite_takes_over_a_job_whose_lease_expired() {
    let (_dir, c) = sqlite().await;
    takes_over_a_job_whose_lease_expired(c).await;
}

#[tokio::test]
async fn sqlite_retries_after_backoff_and_fails_for_good() {
    let (_dir, c) = sqlite().await;
    retries_after_backoff_and_fails_for_good(c).await;
}

#[tokio::test]
async fn sqlite_hides_other_owners_files_and_refuses_double_enqueue() {
    let (_dir, c) = sqlite().await;
    hides_other_owners_files_and_refuses_double_enqueue(c).await;
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
