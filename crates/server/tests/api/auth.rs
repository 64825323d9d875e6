//! Auth over HTTP: API keys and JWTs, 401 with `WWW-Authenticate`, owner isolation on every
//! route (another owner's file is a 404, never a 403), rate limits (429 with `Retry-After`),
//! CORS and the security headers.

use futures::StreamExt;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::time::Duration;

use crate::helpers::{TestApp, TestStack, generated_csv};

/// A service with API keys for alice and bob.
async fn with_keys(stack: &TestStack, extra: &[(&str, &str)]) -> TestApp {
    let keys = format!(
        "alice:{},bob:{}",
        fileproc::auth::hash_key("key-alice"),
        fileproc::auth::hash_key("key-bob")
    );
    let mut env = vec![("AUTH_MODE", "api_key"), ("API_KEYS", keys.as_str())];
    env.extend_from_slice(extra);
    TestApp::start(stack, &env).await
}

/// A request as `key` (no key when `None`).
fn req(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let r = app.client.request(method, app.url(path));
    match key {
        Some(k) => r.header("X-API-Key", k),
        None => r,
    }
}

async fn status_and_code(r: reqwest::RequestBuilder) -> (u16, String) {
    let response = r.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn api_keys_are_required_and_each_owner_sees_only_its_own_files_everywhere() {
    let stack = TestStack::new().await;
    let app = with_keys(&stack, &[]).await;
    use reqwest::Method;

    // Without a key, or with a wrong one: 401 with a challenge, on every route.
    let r = req(&app, Method::GET, "/api/v1/files", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("X-API-Key")
    );
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unauthorized");
    let (code, _) = status_and_code(req(&app, Method::GET, "/api/v1/files", Some("nope"))).await;
    assert_eq!(code, 401);
    let (code, _) = status_and_code(req(&app, Method::POST, "/api/v1/tus/", None)).await;
    assert_eq!(code, 401);
    // Probes and tus discovery need none.
    assert_eq!(
        req(&app, Method::GET, "/health", None)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        req(&app, Method::GET, "/ready", None)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = req(&app, Method::OPTIONS, "/api/v1/tus/", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // Alice's processed file, her chunked upload and her tus upload.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(generated_csv(50)).file_name("alice.csv"),
    );
    let r = req(
        &app,
        Method::POST,
        "/api/v1/files/upload",
        Some("key-alice"),
    )
    .multipart(form)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let file: Value = r.json().await.unwrap();
    let id = file["file_id"].as_str().unwrap().to_owned();
    let done = loop {
        let s: Value = req(
            &app,
            Method::GET,
            &format!("/api/v1/files/{id}/status"),
            Some("key-alice"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if s["status"] == "completed" || s["status"] == "failed" {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "completed");
    let init: Value = req(
        &app,
        Method::POST,
        "/api/v1/files/upload/init",
        Some("key-alice"),
    )
    .json(&json!({"filename": "c.csv", "size": 10}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let (cid, uid) = (
        init["file_id"].as_str().unwrap().to_owned(),
        init["upload_id"].as_str().unwrap().to_owned(),
    );
    let r = req(&app, Method::POST, "/api/v1/tus/", Some("key-alice"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .header("Upload-Metadata", "filename dC5jc3Y=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let tus = r.headers()["location"].to_str().unwrap().to_owned();

    // Bob: every route answers as if the files did not exist.
    let bob = Some("key-bob");
    for (method, path) in [
        (Method::GET, format!("/api/v1/files/{id}")),
        (Method::GET, format!("/api/v1/files/{id}/status")),
        (Method::GET, format!("/api/v1/files/{id}/result")),
        (Method::GET, format!("/api/v1/files/{id}/records")),
        (Method::GET, format!("/api/v1/files/{id}/thumbnail")),
        (Method::GET, format!("/api/v1/files/{id}/converted")),
        (Method::GET, format!("/api/v1/files/{id}/download")),
        (Method::GET, format!("/api/v1/files/{id}/events")),
        (Method::POST, format!("/api/v1/files/{id}/process")),
        (Method::DELETE, format!("/api/v1/files/{id}")),
        (Method::GET, format!("/api/v1/files/{cid}")),
        (
            Method::GET,
            format!("/api/v1/files/upload/{cid}/parts?upload_id={uid}"),
        ),
        (
            Method::PUT,
            format!("/api/v1/files/upload/{cid}/chunk?upload_id={uid}&chunk_number=1"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/files/upload/{cid}?upload_id={uid}"),
        ),
    ] {
        let (status, code) = status_and_code(req(&app, method.clone(), &path, bob)).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "not_found"),
            "{method} {path}"
        );
    }
    let (status, _) = status_and_code(
        req(
            &app,
            Method::POST,
            &format!("/api/v1/files/upload/{cid}/complete"),
            bob,
        )
        .json(&json!({"upload_id": uid, "parts": []})),
    )
    .await;
    assert_eq!(status, 404);
    for method in [Method::HEAD, Method::PATCH, Method::DELETE] {
        let r = req(&app, method.clone(), &tus, bob)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", "0")
            .header("Content-Type", "application/offset+octet-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "tus {method}");
    }
    let list: Value = req(&app, Method::GET, "/api/v1/files", bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["files"], json!([]));
    // Bob's WebSocket on Alice's file: an error frame and a policy close.
    let ws_base = app.base.replacen("http://", "ws://", 1);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{ws_base}/ws?file_id={id}&token=key-bob"))
            .await
            .unwrap();
    let frame = ws.next().await.unwrap().unwrap();
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(frame["error"]["code"], "not_found");
    // No key on the WebSocket: refused before the upgrade.
    match tokio_tungstenite::connect_async(format!("{ws_base}/ws?file_id={id}")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("{:?}", other.map(|_| ())),
    }

    // Alice sees hers, also over the WebSocket with ?token= as a browser would.
    let list: Value = req(&app, Method::GET, "/api/v1/files", Some("key-alice"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["files"].as_array().unwrap().len(), 3);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{ws_base}/ws?file_id={id}&token=key-alice"))
            .await
            .unwrap();
    let frame = ws.next().await.unwrap().unwrap();
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(frame["data"]["status"], "completed");
    let r = req(
        &app,
        Method::GET,
        &format!("/api/v1/files/{id}/download"),
        Some("key-alice"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        generated_csv(50).as_slice()
    );
}

#[tokio::test]
async fn jwts_name_the_owner_and_bad_ones_are_refused() {
    let stack = TestStack::new().await;
    let app = TestApp::start(
        &stack,
        &[
            ("AUTH_MODE", "jwt"),
            ("JWT_SECRET", "a-long-shared-secret"),
            ("JWT_AUDIENCE", "fileproc"),
        ],
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = |claims: Value, secret: &[u8]| {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let good = token(
        json!({"sub": "carol", "exp": now + 300, "aud": "fileproc"}),
        b"a-long-shared-secret",
    );
    let get = |t: String| {
        app.client
            .get(app.url("/api/v1/files"))
            .bearer_auth(t)
            .send()
    };
    assert_eq!(get(good.clone()).await.unwrap().status(), 200);
    for bad in [
        token(
            json!({"sub": "carol", "exp": now - 300, "aud": "fileproc"}),
            b"a-long-shared-secret",
        ),
        token(
            json!({"sub": "carol", "exp": now + 300, "aud": "other"}),
            b"a-long-shared-secret",
        ),
        token(
            json!({"sub": "carol", "exp": now + 300, "aud": "fileproc"}),
            b"not-the-secret",
        ),
        "garbage".to_owned(),
    ] {
        let r = get(bad).await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // The token's subject owns what it uploads; another subject does not see it.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"a\n1\n".to_vec()).file_name("c.csv"),
    );
    let file: Value = app
        .client
        .post(app.url("/api/v1/files/upload"))
        .bearer_auth(&good)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = file["file_id"].as_str().unwrap();
    let dave = token(
        json!({"sub": "dave", "exp": now + 300, "aud": "fileproc"}),
        b"a-long-shared-secret",
    );
    let r = app
        .client
        .get(app.url(&format!("/api/v1/files/{id}")))
        .bearer_auth(dave)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(app.url(&format!("/api/v1/files/{id}")))
        .bearer_auth(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_owner() {
    let stack = TestStack::new().await;
    let app = with_keys(
        &stack,
        &[
            ("RATE_LIMIT_PER_OWNER", "1"),
            ("FILEPROC_SECURITY__RATE_LIMIT__BURST", "3"),
        ],
    )
    .await;
    let get = |key: &'static str| {
        app.client
            .get(app.url("/api/v1/files"))
            .header("X-API-Key", key)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get("key-alice").await.unwrap().status(), 200);
    }
    let r = get("key-alice").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    // Bob's bucket is his own.
    assert_eq!(get("key-bob").await.unwrap().status(), 200);
}

#[tokio::test]
async fn cors_allows_only_configured_origins_and_responses_carry_security_headers() {
    let stack = TestStack::new().await;
    let app = with_keys(&stack, &[("CORS_ALLOWED_ORIGINS", "https://app.example")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/tus/"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "x-api-key,upload-length,tus-resumable",
            )
            .send()
    };
    let r = preflight("https://app.example").await.unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        allowed.contains("x-api-key") && allowed.contains("upload-length"),
        "{allowed}"
    );
    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let r = app
        .client
        .get(app.url("/api/v1/files"))
        .header("X-API-Key", "key-alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    // "*" with auth on is refused at start-up.
    let stack = TestStack::new().await;
    let settings = stack.settings(&[
        ("AUTH_MODE", "api_key"),
        ("API_KEYS", &format!("a:{}", fileproc::auth::hash_key("k"))),
        ("CORS_ALLOWED_ORIGINS", "*"),
    ]);
    let Err(e) = fileproc::app::Application::start(settings).await else {
        panic!("started with CORS * and auth on");
    };
    assert!(
        e.to_string().contains("security.cors.allowed_origins"),
        "{e}"
    );
}

#[tokio::test]
async fn failed_logins_spend_the_address_budget_and_two_keys_are_one_too_many() {
    let stack = TestStack::new().await;
    let app = with_keys(
        &stack,
        &[
            ("RATE_LIMIT_PER_IP", "1"),
            ("FILEPROC_SECURITY__RATE_LIMIT__BURST", "3"),
        ],
    )
    .await;
    let guess = |key: &'static str| {
        app.client
            .get(app.url("/api/v1/files"))
            .header("X-API-Key", key)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(guess("guess").await.unwrap().status(), 401);
    }
    let r = guess("key-alice").await.unwrap();
    assert_eq!(r.status(), 429, "guessing spent the address's budget");
    assert!(r.headers().contains_key("retry-after"));

    let stack = TestStack::new().await;
    let app = with_keys(&stack, &[]).await;
    let r = app
        .client
        .get(app.url("/api/v1/files"))
        .header("X-API-Key", "key-alice")
        .header("X-API-Key", "key-bob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "two keys: whose request is it?");
    // An origin that could never match stops start-up.
    let settings = stack.settings(&[("CORS_ALLOWED_ORIGINS", "https://a.example/path")]);
    let Err(e) = fileproc::app::Application::start(settings).await else {
        panic!("started with an origin that has a path");
    };
    assert!(e.to_string().contains("no path"), "{e}");
}
