//! Starting the service for a test: its own temporary data directory, port 0, real HTTP.

use fileproc::app::Application;
use fileproc::config::Settings;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running service and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: Option<Application>,
}

/// The environment a test service runs with on `dir`, plus `extra`.
pub fn test_env(dir: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("SERVER_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("SERVER_PORT".to_owned(), "0".to_owned()),
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite:{}", dir.join("fileproc.db").display()),
        ),
        (
            "LOCAL_STORAGE_PATH".to_owned(),
            dir.join("files").display().to_string(),
        ),
        ("PROCESSING_WORKER_COUNT".to_owned(), "2".to_owned()),
        ("LOG_LEVEL".to_owned(), "warn".to_owned()),
    ];
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

impl TestApp {
    /// Start a service on `dir` with the test environment and `extra` variables.
    pub async fn start(dir: &Path, extra: &[(&str, &str)]) -> TestApp {
        let settings = Settings::from_sources(None, test_env(dir, extra)).expect("test settings");
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

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Poll the file's status until it is completed or failed (30 s at most).
    pub async fn wait_done(&self, file_id: &str) -> Value {
        wait_done(&self.client, &self.base, file_id, Duration::from_secs(60)).await
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

pub fn corpus_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/data/csv")
        .join(name)
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
