//! The web page at `/`: served from the binary (no Node.js at run time) with its own
//! `Content-Security-Policy` and ETags; then driven in a real headless Chromium by the
//! Playwright tests of `web/e2e/` (`playwright-core`, Debian's `/usr/bin/chromium`), against a
//! service this test starts on the suite's stack.
//!
//! The browser tests need `node`, `npm` and Chromium; `web/node_modules` is installed from
//! `web/package-lock.json` on first use (`npm ci`). Without Chromium they say `SKIPPED`, unless
//! `FILEPROC_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs it) makes that a failure.
//! Screenshots of each state go to `target/web-e2e/<stack>/` in the repository.

use std::path::{Path, PathBuf};

use crate::helpers::{TestApp, TestStack, npm_ci};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_etags_and_their_own_policy() {
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(headers["cache-control"], "no-cache");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = page.text().await.unwrap();
    let on_disk = std::fs::read_to_string(repository().join("web/dist/index.html")).unwrap();
    assert_eq!(html, on_disk, "the embedded page is web/dist/index.html");
    assert!(html.contains(r#"src="/assets/app.js""#), "{html}");
    assert!(html.contains(r#"href="/assets/index.css""#), "{html}");

    for (path, file, content_type) in [
        (
            "/assets/app.js",
            "web/dist/assets/app.js",
            "text/javascript",
        ),
        ("/assets/index.css", "web/dist/assets/index.css", "text/css"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let bytes = response.bytes().await.unwrap();
        let expected = std::fs::read(repository().join(file)).unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice(), "{path}");
        use sha2::Digest as _;
        assert_eq!(
            etag,
            format!("\"{}\"", hex::encode(sha2::Sha256::digest(&expected)))
        );

        // Revalidation: the same ETag is a 304 without a body; another is the file again.
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", format!("W/\"x\", {etag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());
        let other = app
            .client
            .get(app.url(path))
            .header("if-none-match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}");
    }

    for missing in ["/assets/nothing.js", "/assets/..%2Fdist%2Findex.html"] {
        let response = app.client.get(app.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{missing}");
    }
    // The page is outside auth: it asks for the key itself.
    let locked = TestApp::start(
        &stack,
        &[
            ("AUTH_MODE", "api_key"),
            ("API_KEYS", &format!("a:{}", fileproc::auth::hash_key("k"))),
        ],
    )
    .await;
    let page = locked.client.get(locked.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let api = locked
        .client
        .get(locked.url("/api/v1/files"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    locked.stop().await;
    app.stop().await;
}

/// `web/` with its packages installed, or `None` (the test says SKIPPED) without Chromium.
async fn browser_tests(test: &str) -> Option<PathBuf> {
    static INSTALL: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    let chromium =
        std::env::var("FILEPROC_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        assert!(
            std::env::var("FILEPROC_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{test}: {chromium} is missing and FILEPROC_REQUIRE_BROWSER=1 (scripts/ensure-chromium.sh installs it)"
        );
        eprintln!(
            "{test}: SKIPPED, no Chromium at {chromium} (install Debian's chromium, or set \
             FILEPROC_CHROMIUM; scripts/ensure-chromium.sh does it)"
        );
        return None;
    }
    // Both browser tests share one install; the second waits for the first.
    let dir = INSTALL
        .get_or_init(|| async {
            let dir = repository().join("web");
            npm_ci(&dir, "playwright-core").await;
            dir
        })
        .await;
    Some(dir.clone())
}

/// Run the Playwright test file `web/e2e/<file>` against `app`; panics with its report when any
/// of its tests fails.
async fn run_browser_tests(dir: &Path, file: &str, app: &TestApp, env: &[(&str, &str)]) {
    let stack = if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "production"
    } else {
        "embedded"
    };
    let name = file.trim_end_matches(".test.mjs");
    let shots = repository().join("target/web-e2e").join(stack).join(name);
    let output = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-concurrency=1"])
        .arg(format!("e2e/{file}"))
        .current_dir(dir)
        .env("FILEPROC_URL", &app.base)
        .env("FILEPROC_SCREENSHOTS", &shots)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("the browser tests need node (Node.js 20 or later) on the PATH");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "web/e2e/{file} failed:\n{report}");
    assert!(report.contains("ℹ fail 0"), "{report}");
    println!("{report}\nscreenshots: {}", shots.display());
}

#[tokio::test]
async fn browser_drops_a_csv_a_jpeg_and_broken_files_reloads_filters_and_deletes() {
    let Some(dir) = browser_tests("browser_drops_a_csv_a_jpeg_and_broken_files").await else {
        return;
    };
    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    run_browser_tests(&dir, "page.test.mjs", &app, &[]).await;
    app.stop().await;
}

#[tokio::test]
async fn browser_asks_for_the_api_key_and_uses_it_for_http_and_the_websocket() {
    let Some(dir) = browser_tests("browser_asks_for_the_api_key").await else {
        return;
    };
    let stack = TestStack::new().await;
    let key = "page-test-key-0123456789";
    let app = TestApp::start(
        &stack,
        &[
            ("AUTH_MODE", "api_key"),
            (
                "API_KEYS",
                &format!("alice:{}", fileproc::auth::hash_key(key)),
            ),
        ],
    )
    .await;
    run_browser_tests(&dir, "auth.test.mjs", &app, &[("FILEPROC_API_KEY", key)]).await;
    app.stop().await;
}
