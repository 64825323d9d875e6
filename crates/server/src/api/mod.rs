//! The HTTP API (`DESIGN.md` section 2): one module per route group, each with its `router()`.

pub mod compression;
pub mod download;
pub mod error;
pub mod extract;
pub mod files;
pub mod health;
pub mod images;
pub mod openapi;
pub mod page;
pub mod pprof;
pub mod progress;
pub mod records;
pub mod schemas;
pub mod tus;
pub mod uploads;
pub mod view;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use crate::telemetry::request;

/// Every route of the API with its entry in the OpenAPI document ([`openapi`]): the protected
/// groups behind authentication and rate limits, the probes and the document outside. Routes
/// are added here and only here, each through `routes!`, so that none escapes the document.
pub fn api_router(state: &AppState) -> OpenApiRouter<AppState> {
    let mut protected = OpenApiRouter::new()
        .merge(files::router(state))
        .merge(uploads::router())
        .merge(tus::router())
        .merge(download::router())
        .merge(records::router())
        .merge(images::router())
        .merge(progress::router());
    if state.settings.monitoring.pprof_enabled {
        protected = protected.merge(pprof::router());
    }
    let mut protected = protected.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::authenticate,
    ));
    openapi::behind_auth(protected.get_openapi_mut());
    let mut api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(protected)
        .merge(health::router())
        .merge(openapi::router())
        .merge(page::router());
    // Outside auth, like the probes; with its own port it is served there only.
    let monitoring = &state.settings.monitoring;
    if monitoring.metrics_enabled && monitoring.metrics_port.is_none() {
        api = api.merge(crate::metrics::http::router());
    }
    api
}

/// The whole API over `state`: every route but the health probes, the document and `/metrics`
/// behind authentication and rate limits ([`crate::auth::authenticate`]), CORS as configured,
/// security headers on every response, every request counted
/// ([`crate::metrics::http::track`]).
///
/// # Errors
/// `security.cors.allowed_origins` holds `*` while auth is on, or an origin that is not a
/// valid header value.
pub fn router(state: AppState) -> Result<Router, String> {
    let cors = cors(&state)?;
    let mut app: Router<AppState> = openapi::finish(api_router(&state))
        .fallback(|| async { error::ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed });
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    // JSON and text compressed for clients that accept it; downloads never (see the module).
    app = app.layer(compression::layer());
    // Every request, the refused and the unmatched too, counted by the route it matched.
    let app = app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::metrics::http::track,
    ));
    Ok(app
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            // Nothing the API serves (JSON, downloads, thumbnails) may run or load anything
            // when opened in a browser.
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request::make_span)
                .on_request(())
                .on_response(request::on_response)
                .on_failure(request::on_failure),
        )
        // Outermost: the request id exists before the span is made, and goes back on every
        // response, errors included.
        .layer(request::propagate_request_id())
        .layer(request::set_request_id())
        .layer(axum::middleware::map_request(
            request::drop_unusable_request_id,
        ))
        .with_state(state))
}

/// The CORS layer `security.cors.allowed_origins` asks for; `None` for no cross-origin calls.
fn cors(state: &AppState) -> Result<Option<CorsLayer>, String> {
    let origins = &state.settings.security.cors.allowed_origins;
    if origins.is_empty() {
        return Ok(None);
    }
    let any = origins.iter().any(|o| o == "*");
    let auth_on = state.settings.security.auth.mode != crate::config::AuthMode::None;
    if any && auth_on {
        return Err("security.cors.allowed_origins = *: expected a list of origins, since security.auth.mode is on (any site could then use a logged-in browser)"
            .into());
    }
    let allow = if any {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| {
                let origin = o.trim_end_matches('/');
                let bad = || {
                    format!(
                        "security.cors.allowed_origins = {o:?}: expected an origin such as \
                         https://app.example or http://localhost:3000 (scheme, host, port; no path)"
                    )
                };
                let host = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"))
                    .ok_or_else(bad)?;
                if host.is_empty() || host.contains(['/', ' ', '?', '#', '@']) {
                    return Err(bad());
                }
                HeaderValue::from_str(origin).map_err(|_| bad())
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let names = |list: &[&'static str]| -> Vec<HeaderName> {
        list.iter().map(|n| HeaderName::from_static(n)).collect()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(names(&[
                "content-type",
                "authorization",
                "x-api-key",
                "range",
                "tus-resumable",
                "upload-length",
                "upload-defer-length",
                "upload-offset",
                "upload-metadata",
                "upload-checksum",
            ]))
            .expose_headers(names(&[
                "location",
                "etag",
                "content-disposition",
                "content-range",
                "retry-after",
                "www-authenticate",
                "tus-resumable",
                "tus-version",
                "tus-extension",
                "tus-max-size",
                "tus-checksum-algorithm",
                "upload-offset",
                "upload-length",
                "upload-defer-length",
                "upload-expires",
                "upload-metadata",
            ]))
            .max_age(std::time::Duration::from_secs(600)),
    ))
}
