//! The OpenAPI 3.1 document (`GET /api-docs/openapi.json`) and its browsable page (`GET /docs`).
//!
//! The document is not written by hand: every route is registered through
//! [`utoipa_axum::router::OpenApiRouter`] with `routes!`, so a handler's `#[utoipa::path]` is at
//! once its route and its entry in the document; [`ApiDoc`] adds what no handler says (title,
//! tags, the security schemes, the shared schemas). `tests/api/openapi.rs` keeps the two from
//! drifting: a route added with plain axum (`.route(...)`) fails it, so a new route (`/metrics`,
//! `/debug/pprof/profile`...) gets a `#[utoipa::path]` and goes through `routes!` like the rest.

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api-docs/openapi.json";

/// The parts of the document no handler declares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fileproc",
        description = "Upload, store, process and serve files: multipart, chunked and tus uploads; \
            CSV, PDF, DOCX, XLSX, JPEG, PNG and WebP analysis; records, thumbnails, downloads; \
            live progress over WebSocket or Server-Sent Events.\n\n\
            Every error is JSON of one shape (`ErrorBody`). With `security.auth.mode: none` no \
            credentials are needed; with `api_key` send `X-API-Key`, with `jwt` \
            `Authorization: Bearer <token>`."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
    tags(
        (name = "files", description = "Upload, list, show, process and delete files; results."),
        (name = "chunked", description = "The chunked upload API: init, parts, complete, abort."),
        (name = "tus", description = "tus 1.0.0 resumable uploads (core, creation, \
            creation-with-upload, creation-defer-length, termination, checksum, expiration)."),
        (name = "content", description = "A processed file's bytes, records and pictures."),
        (name = "progress", description = "Live progress events (WebSocket, Server-Sent Events)."),
        (name = "operations", description = "Probes and this document."),
        (name = "page", description = "The web page for people (drop files, watch progress, \
            look at results) and its files."),
    )
)]
pub struct ApiDoc;

/// The auth modes of `security.auth` as security schemes (`api_key`, `bearer`).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "security.auth.mode: api_key - one of the configured keys",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "security.auth.mode: jwt - a JWT whose `sub` is the owner of the files",
                    ))
                    .build(),
            ),
        );
    }
}

/// Any bytes: a body or a response that is not JSON (a download, a picture, a chunk).
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
            .description(Some("bytes"))
            .into()
    }
}

impl ToSchema for Binary {}

/// The document as served, built once.
#[derive(Clone)]
struct Document(Arc<Vec<u8>>);

/// The routes of this group: the document and the Swagger UI page with its files.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_redirect))
        .routes(routes!(docs_index))
        .routes(routes!(docs_file))
}

/// Document what the authentication layer does to every operation of `api` (the routes it
/// guards): both security schemes, and its 401 and the rate limit's 429 in the one error shape.
/// tus `OPTIONS` (discovery) passes without credentials and is left as it is. Responses an
/// operation documents itself are kept.
pub fn behind_auth(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build(),
                )
                .build(),
        )
    };
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.head,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security.get_or_insert_with(|| {
                vec![
                    SecurityRequirement::new("api_key", Vec::<String>::new()),
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                ]
            });
            let responses = &mut operation.responses.responses;
            responses
                .entry("401".to_owned())
                .or_insert_with(|| error("No or bad credentials (`unauthorized`)"));
            responses
                .entry("429".to_owned())
                .or_insert_with(|| error("Rate limited (`rate_limited`), see Retry-After"));
        }
    }
}

/// The whole API as one router and its document, the document served at [`DOCUMENT_PATH`].
pub fn finish(api: OpenApiRouter<AppState>) -> axum::Router<AppState> {
    let (router, document) = api.split_for_parts();
    let json = serde_json::to_vec_pretty(&served(document)).unwrap_or_default();
    router.layer(Extension(Document(Arc::new(json))))
}

/// The document as served: the one the routes built, with the hand-written schemas of
/// [`super::schemas`].
fn served(document: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(document).unwrap_or_default();
    super::schemas::insert(&mut value);
    value
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api-docs/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of every route this server serves",
         content_type = "application/json", body = Object),
    )
)]
async fn openapi_json(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_ref().clone(),
    )
        .into_response()
}

/// `/docs` is the page at `/docs/` (its files are relative to it).
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    responses(
        (status = 303, description = "The page is at /docs/",
         headers(("location" = String, description = "/docs/"))),
    )
)]
async fn docs_redirect() -> Redirect {
    Redirect::to("/docs/")
}

/// The Swagger UI page over the document.
#[utoipa::path(
    get,
    path = "/docs/",
    tag = "operations",
    responses(
        (status = 200, description = "The Swagger UI page", content_type = "text/html",
         body = Binary),
    )
)]
async fn docs_index() -> Response {
    swagger_file("index.html")
}

/// A file of the Swagger UI page (scripts, style sheets, icons).
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "operations",
    params(("file" = String, Path, description = "A file of the page, e.g. swagger-ui.css",
            example = "swagger-ui.css")),
    responses(
        (status = 200, description = "The file, with its content type (text/css, \
            application/javascript, image/png...)", content((Binary = "*/*"))),
        (status = 404, description = "No such file (code `not_found`)", body = ErrorBody),
    )
)]
async fn docs_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    swagger_file(&file)
}

/// One file of the vendored Swagger UI, its initializer pointed at [`DOCUMENT_PATH`]. The page
/// runs scripts and styles of its own origin, so it has its own `Content-Security-Policy`
/// (the API's forbids everything).
fn swagger_file(name: &str) -> Response {
    let config = Arc::new(utoipa_swagger_ui::Config::from(DOCUMENT_PATH));
    match utoipa_swagger_ui::serve(name, config) {
        Ok(Some(file)) => {
            let content_type = HeaderValue::from_str(&file.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut response = (StatusCode::OK, file.bytes.into_owned()).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, content_type);
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                     frame-ancestors 'none'",
                ),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(None) => ApiError::NotFound("file").into_response(),
        Err(e) => {
            ApiError::Internal(anyhow::anyhow!("serving the Swagger UI: {e}")).into_response()
        }
    }
}
