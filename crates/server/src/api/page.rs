//! `GET /` and `GET /assets/{file}`: the web page (`DESIGN.md` section 2) where people drop
//! files, watch their progress and look at the results. Its sources are in `web/` (TypeScript,
//! Preact, tus-js-client), built by Vite into `web/dist/`, which is committed and embedded in
//! the binary here, so the service serves it with no Node.js and no network at run time
//! (`scripts/web.sh check` rebuilds it in CI and refuses a `dist/` that differs).
//!
//! The files have fixed names; each answer carries an `ETag` (the SHA-256 of its bytes) with
//! `Cache-Control: no-cache`, so browsers revalidate (304) instead of keeping a stale page. The
//! page has its own `Content-Security-Policy`: scripts, styles and connections (HTTP and the
//! WebSocket) of its own origin only, pictures also from `blob:` (thumbnails fetched with the
//! API key).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::openapi::Binary;
use crate::state::AppState;

/// The built page, `web/dist/`.
#[derive(rust_embed::Embed)]
#[folder = "../../web/dist/"]
struct Dist;

/// What the page may load and run.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
    frame-ancestors 'none'";

/// The routes of the page: outside authentication (the page asks for the API key itself).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(index))
        .routes(routes!(asset))
}

/// The web page: drop files, watch their progress, look at the results.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    responses(
        (status = 200, description = "The page (HTML); it loads its script and style sheet \
            from /assets/", content_type = "text/html", body = Binary,
         headers(("etag" = String, description = "The SHA-256 of the page's bytes"))),
        (status = 304, description = "The page has not changed since the `If-None-Match` ETag"),
    )
)]
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// A file of the web page: its script (`app.js`) and style sheet (`index.css`).
#[utoipa::path(
    get,
    path = "/assets/{file}",
    tag = "page",
    params(("file" = String, Path, description = "A file of the page", example = "app.js")),
    responses(
        (status = 200, description = "The file, with its content type (text/javascript, \
            text/css)", content((Binary = "*/*")),
         headers(("etag" = String, description = "The SHA-256 of the file's bytes"))),
        (status = 304, description = "The file has not changed since the `If-None-Match` ETag"),
        (status = 404, description = "No such file (code `not_found`)", body = super::error::ErrorBody),
    )
)]
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file.contains('/') {
        return ApiError::NotFound("file").into_response();
    }
    serve(&format!("assets/{file}"), &headers)
}

/// One embedded file, or 304 when `headers` carry its ETag in `If-None-Match` (RFC 9110
/// section 13.1.2: weak comparison, `*` matches).
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Dist::get(name) else {
        return ApiError::NotFound("file").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let matched = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag);
    let mut response = if matched {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = file.data.into_owned().into_response();
        let content_type = HeaderValue::from_str(file.metadata.mimetype())
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        response
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_page_is_embedded_with_the_files_it_loads() {
        let index = Dist::get("index.html").expect("web/dist/index.html is embedded");
        let html = String::from_utf8(index.data.into_owned()).unwrap();
        let mut loaded = 0;
        for quoted in html.split('"') {
            if let Some(name) = quoted.strip_prefix("/assets/") {
                assert!(
                    Dist::get(&format!("assets/{name}")).is_some(),
                    "index.html loads /assets/{name}, which is not embedded"
                );
                loaded += 1;
            }
        }
        assert_eq!(loaded, 2, "one script and one style sheet: {html}");
    }
}
