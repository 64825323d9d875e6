//! Starting the service for a test: its own temporary data directory, port 0, real HTTP.

use fileproc::app::Application;
use fileproc::config::Settings;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running service and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: Option<Application>,
}

/// Where one test's service keeps its state: a temporary directory, and, when the suite runs on
/// the production stack, a fresh PostgreSQL database and its own key prefix in the S3 bucket.
///
/// The stack is chosen by the environment of the test run:
/// - `TEST_DATABASE_URL`: an admin URL (`postgres://postgres@127.0.0.1:5432/postgres`); each
///   stack creates its own database `fileproc_test_<id>` there.
/// - `TEST_REDIS_URL`: the cache is Redis (keys hold unique file ids, so stacks do not collide).
/// - `TEST_S3_ENDPOINT` and `TEST_S3_BUCKET`: an S3-compatible server and an existing bucket;
///   each stack stores under its own prefix.
///
/// Unset, the stack is the embedded default: SQLite and local files in the directory.
pub struct TestStack {
    /// Held so the directory lives as long as the stack.
    _dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl TestStack {
    pub async fn new() -> TestStack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut env = vec![
            ("SERVER_HOST".to_owned(), "127.0.0.1".to_owned()),
            ("SERVER_PORT".to_owned(), "0".to_owned()),
            ("PROCESSING_WORKER_COUNT".to_owned(), "2".to_owned()),
            ("LOG_LEVEL".to_owned(), "warn".to_owned()),
            (
                "LOCAL_STORAGE_PATH".to_owned(),
                dir.path().join("files").display().to_string(),
            ),
        ];
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let url = create_database(&admin, &format!("fileproc_test_{id}")).await;
                env.push(("DATABASE_URL".to_owned(), url));
            }
            _ => env.push((
                "DATABASE_URL".to_owned(),
                format!("sqlite:{}", dir.path().join("fileproc.db").display()),
            )),
        }
        if let Ok(redis) = std::env::var("TEST_REDIS_URL")
            && !redis.is_empty()
        {
            env.push(("REDIS_URL".to_owned(), redis));
        }
        if let (Ok(endpoint), Ok(bucket)) = (
            std::env::var("TEST_S3_ENDPOINT"),
            std::env::var("TEST_S3_BUCKET"),
        ) {
            env.extend([
                ("STORAGE_PROVIDER".to_owned(), "s3".to_owned()),
                ("S3_ENDPOINT".to_owned(), endpoint),
                ("S3_BUCKET".to_owned(), bucket),
                ("STORAGE_PREFIX".to_owned(), format!("test-{id}")),
                (
                    "AWS_ACCESS_KEY_ID".to_owned(),
                    std::env::var("TEST_S3_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".to_owned(),
                    std::env::var("TEST_S3_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
                ),
            ]);
        }
        TestStack { _dir: dir, env }
    }

    /// The service's environment with `extra` on top.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        env
    }

    pub fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        Settings::from_sources(None, self.env(extra)).expect("test settings")
    }

    /// The local storage directory (the embedded stack's `LOCAL_STORAGE_PATH`).
    pub fn local_files_dir(&self) -> PathBuf {
        self._dir.path().join("files")
    }

    /// The object store as the service writes to it, without the blob layer's encryption: for
    /// reading and altering objects as stored.
    pub fn raw_store(&self) -> std::sync::Arc<dyn object_store::ObjectStore> {
        let blobs = fileproc::blob::BlobStore::from_settings(&self.settings(&[]).storage)
            .expect("blob store");
        blobs.inner().clone()
    }

    /// The bytes of the object at `key` as stored.
    pub async fn raw_object(&self, key: &str) -> Vec<u8> {
        use object_store::ObjectStoreExt;
        let path = object_store::path::Path::from(key);
        let result = self.raw_store().get(&path).await.expect("stored object");
        result.bytes().await.expect("object bytes").to_vec()
    }

    /// Replace the object at `key` with `bytes`, as stored.
    pub async fn put_raw_object(&self, key: &str, bytes: Vec<u8>) {
        use object_store::ObjectStoreExt;
        let path = object_store::path::Path::from(key);
        self.raw_store()
            .put(&path, bytes.into())
            .await
            .expect("replacing an object");
    }

    /// Every object key the service has stored.
    pub async fn stored_keys(&self) -> Vec<String> {
        let blobs = fileproc::blob::BlobStore::from_settings(&self.settings(&[]).storage)
            .expect("blob store");
        blobs.list_keys().await.expect("listing the blob store")
    }
}

/// The clamd of the test run (`TEST_CLAMAV_HOST`, `TEST_CLAMAV_PORT`, started by
/// `scripts/with-clamd.sh`).
pub struct Clamd {
    pub host: String,
    pub port: String,
    /// clamd's `StreamMaxLength` in bytes, when the script says it
    /// (`TEST_CLAMAV_STREAM_MAX_LENGTH`).
    pub stream_max_length: Option<usize>,
}

impl Clamd {
    /// The test run's clamd, or `None` with a note on stderr when `TEST_CLAMAV_HOST` is unset
    /// (the test then returns: the pattern of the PostgreSQL-only tests).
    pub fn from_env(test: &str) -> Option<Clamd> {
        match std::env::var("TEST_CLAMAV_HOST") {
            Ok(host) if !host.is_empty() => Some(Clamd {
                host,
                port: std::env::var("TEST_CLAMAV_PORT").unwrap_or_else(|_| "3310".into()),
                stream_max_length: std::env::var("TEST_CLAMAV_STREAM_MAX_LENGTH")
                    .ok()
                    .and_then(|v| v.parse().ok()),
            }),
            _ => {
                eprintln!(
                    "{test}: SKIPPED, set TEST_CLAMAV_HOST (and TEST_CLAMAV_PORT) to a clamd, \
                     or run it under scripts/with-clamd.sh"
                );
                None
            }
        }
    }

    /// The service's variables that turn scanning on against this clamd.
    pub fn env(&self) -> [(&str, &str); 3] {
        [
            ("SECURITY_VIRUS_SCANNING", "true"),
            ("CLAMAV_HOST", &self.host),
            ("CLAMAV_PORT", &self.port),
        ]
    }
}

async fn create_database(admin_url: &str, name: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connecting to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

impl TestApp {
    /// Start a service on `stack` with `extra` variables.
    pub async fn start(stack: &TestStack, extra: &[(&str, &str)]) -> TestApp {
        let settings = stack.settings(extra);
        let app = Application::start(settings).await.expect("service starts");
        TestApp {
            base: format!("http://{}", app.addr()),
            client: reqwest::Client::new(),
            app: Some(app),
        }
    }

    /// Stop the service gracefully.
    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("service stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Upload `bytes` as `filename` with the multipart API; the raw response.
    pub async fn upload_bytes(
        &self,
        filename: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        self.client
            .post(self.url("/api/v1/files/upload"))
            .multipart(form)
            .send()
            .await
            .expect("upload request")
    }

    /// Upload a file and return its file object (asserting 201).
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> Value {
        let response = self.upload_bytes(filename, bytes, &[]).await;
        assert_eq!(response.status(), 201, "upload of {filename}");
        response.json().await.expect("file object")
    }

    /// Upload `bytes` as `filename` without processing (`auto_process=false`); its file object
    /// (asserting 201).
    pub async fn upload_pending(&self, filename: &str, bytes: Vec<u8>) -> Value {
        let response = self
            .upload_bytes(filename, bytes, &[("auto_process", "false")])
            .await;
        assert_eq!(response.status(), 201, "upload of {filename}");
        response.json().await.expect("file object")
    }

    /// Upload `bytes` as `filename` through tus 1.0 (a creation, then two PATCHes, the second
    /// of which finishes it); the file id.
    pub async fn upload_tus(&self, filename: &str, bytes: &[u8]) -> String {
        use base64::Engine;
        let name = base64::engine::general_purpose::STANDARD.encode(filename);
        let r = self
            .client
            .post(self.url("/api/v1/tus/"))
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len().to_string())
            .header("Upload-Metadata", format!("filename {name}"))
            .send()
            .await
            .expect("tus creation");
        assert_eq!(r.status(), 201);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let half = bytes.len() / 2;
        for (offset, piece) in [(0, &bytes[..half]), (half, &bytes[half..])] {
            let r = self
                .client
                .patch(self.url(&location))
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", offset.to_string())
                .body(piece.to_vec())
                .send()
                .await
                .expect("tus PATCH");
            assert_eq!(r.status(), 204);
        }
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// `DELETE path`; the raw response.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE")
    }

    /// `POST path` with no body; the raw response.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.expect("POST")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Poll the file's status until it is completed or failed (30 s at most).
    pub async fn wait_done(&self, file_id: &str) -> Value {
        wait_done(&self.client, &self.base, file_id, Duration::from_secs(60)).await
    }

    /// Upload, wait, and return the status of a file that must fail.
    pub async fn process_failing(&self, filename: &str, bytes: Vec<u8>) -> Value {
        let file = self.upload(filename, bytes).await;
        let id = file["file_id"].as_str().expect("file_id").to_owned();
        let status = self.wait_done(&id).await;
        assert_eq!(status["status"], "failed", "{filename}: {status}");
        status
    }

    /// GET a path and return the status, content type and body bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.expect("body").to_vec();
        (status, content_type, body)
    }

    /// Upload, wait, and return the result of a file that must complete.
    pub async fn process(&self, filename: &str, bytes: Vec<u8>) -> (String, Value) {
        let file = self.upload(filename, bytes).await;
        let id = file["file_id"].as_str().expect("file_id").to_owned();
        let status = self.wait_done(&id).await;
        assert_eq!(status["status"], "completed", "{filename}: {status}");
        let (code, result) = self.get_json(&format!("/api/v1/files/{id}/result")).await;
        assert_eq!(code, 200);
        (id, result)
    }
}

/// GET `path` of a body expected to break off (a stored object that fails a check once the
/// status went out): `None` when the response broke off before its head reached the client,
/// else the bytes received before it broke off (asserting that it did, after a 200).
pub async fn broken_body(app: &TestApp, path: &str) -> Option<Vec<u8>> {
    let mut r = app.client.get(app.url(path)).send().await.ok()?;
    assert_eq!(r.status(), 200);
    let mut received = Vec::new();
    let broke = loop {
        match r.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        broke,
        "the body ended cleanly after {} bytes",
        received.len()
    );
    Some(received)
}

/// Poll `/status` until the file is in one of `statuses` (60 s at most); its status.
pub async fn wait_status(app: &TestApp, file_id: &str, statuses: &[&str]) -> Value {
    let started = Instant::now();
    loop {
        let (_, status) = app
            .get_json(&format!("/api/v1/files/{file_id}/status"))
            .await;
        if statuses.iter().any(|s| status["status"] == *s) {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "file {file_id} did not reach {statuses:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `/status` until the file is completed or failed.
pub async fn wait_done(
    client: &reqwest::Client,
    base: &str,
    file_id: &str,
    limit: Duration,
) -> Value {
    let started = Instant::now();
    loop {
        let response = client
            .get(format!("{base}/api/v1/files/{file_id}/status"))
            .send()
            .await;
        if let Ok(response) = response
            && let Ok(status) = response.json::<Value>().await
            && (status["status"] == "completed" || status["status"] == "failed")
        {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "file {file_id} did not finish in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A test data file of the formats crate (real files from public suites; see its SOURCES.md).
pub fn corpus(name: &str) -> Vec<u8> {
    let path = corpus_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A test data file of the formats crate by its path under `tests/data`, e.g. `pdf/testPDF.pdf`.
pub fn test_data(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

pub fn corpus_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/data/csv")
        .join(name)
}

/// A CSV of `rows` rows of mixed types, written by the test.
pub fn generated_csv(rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * 60);
    writeln!(out, "id,amount,day,label,flag").unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "{i},{}.{:02},2024-{:02}-{:02},item number {i},{}",
            i % 997,
            i % 100,
            i % 12 + 1,
            i % 28 + 1,
            i % 2 == 0
        )
        .unwrap();
    }
    out
}

/// The `fileproc serve` binary on `stack` (a process of its own, so a test can kill it), with a
/// short lease so a dead worker's job is taken over quickly.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(stack: &TestStack) -> Server {
        Server::start_with(stack, &[], None)
    }

    /// [`Server::start`] with `extra` variables on top, its stderr (the logs) written to
    /// `log` when given.
    pub fn start_with(stack: &TestStack, extra: &[(&str, &str)], log: Option<&Path>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let port_text = port.to_string();
        let mut vars = vec![
            ("SERVER_PORT", port_text.as_str()),
            ("PROCESSING_WORKER_COUNT", "1"),
            ("FILEPROC_PROCESSING__LEASE_DURATION", "2s"),
            ("FILEPROC_PROCESSING__POLL_INTERVAL", "200ms"),
        ];
        vars.extend_from_slice(extra);
        let env = stack.env(&vars);
        let stderr = match log {
            Some(path) => std::fs::File::create(path).expect("the log file").into(),
            None => std::process::Stdio::null(),
        };
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_fileproc"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("fileproc serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, base }
    }

    /// Upload `bytes` as `filename`; the file object.
    pub async fn upload(&self, client: &reqwest::Client, filename: &str, bytes: Vec<u8>) -> Value {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        let response = client
            .post(format!("{}/api/v1/files/upload", self.base))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201);
        response.json().await.expect("file object")
    }

    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> Value {
        client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    /// Kill the process at once (no graceful shutdown), as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll a file's status on `server` until it is `processing`; panics if it completes first.
pub async fn wait_processing(client: &reqwest::Client, server: &Server, id: &str) {
    let started = Instant::now();
    loop {
        let status = server
            .get_json(client, &format!("/api/v1/files/{id}/status"))
            .await;
        assert_ne!(
            status["status"], "completed",
            "the job finished before it could be interrupted"
        );
        if status["status"] == "processing" {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Install the npm packages of `dir` from its lock file (`npm ci`) unless `node_modules/<package>`
/// is there already.
///
/// # Panics
/// Without npm on the PATH, or when the install fails.
pub async fn npm_ci(dir: &Path, package: &str) {
    if dir.join("node_modules").join(package).is_dir() {
        return;
    }
    let status = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .await
        .expect("this test needs npm (Node.js 20 or later) on the PATH");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}
