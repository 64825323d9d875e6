//! Live progress (`DESIGN.md` section 5): `GET /ws?file_id=` (WebSocket; without `file_id`,
//! every file of the caller) and `GET /api/v1/files/{file_id}/events` (Server-Sent Events, the
//! same JSON in `data:` lines, for clients and proxies without WebSocket, and `curl -N`).
//!
//! A connection takes one of `websocket.max_connections` permits or is refused with 503 before
//! the upgrade. The WebSocket is pinged every `websocket.ping_period` and dropped when nothing
//! was heard from it for `websocket.pong_timeout` (the read deadline) or when a frame waits
//! longer than `websocket.write_timeout` to go out (the write deadline): a client that stops
//! reading never holds anything up, since events reach it through its own subscription
//! (see [`crate::events::watch`]).

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::schemas::SseEvent;
use crate::auth::Owner;
use crate::catalog::CatalogError;
use crate::events::Event;
use crate::events::watch::Watch;
use crate::metrics::Metrics;
use crate::state::AppState;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(websocket))
        .routes(routes!(server_sent_events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WsQuery {
    /// Only this file's events; unset, every file of the caller.
    file_id: Option<String>,
}

/// A file id from a query or path: a UUID, or 400 before any upgrade.
fn parse_file_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::bad_request("invalid_file_id", format!("{id:?} is not a file id")))
}

/// One of the connection permits, or 503 `too_many_connections`.
fn permit(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    state.connections.clone().try_acquire_owned().map_err(|_| {
        ApiError::Unavailable(format!(
            "this instance holds its maximum of {} progress connections; try another or later",
            state.settings.websocket.max_connections
        ))
    })
}

/// `WebSocketUpgrade` with the API's error shape for a request that is not an upgrade.
struct Upgrade(WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Upgrade)
            .map_err(|r| {
                ApiError::bad_request(
                    "websocket_upgrade_required",
                    format!("{}: connect with a WebSocket client", r.body_text()),
                )
            })
    }
}

/// Live progress over a WebSocket: one JSON frame per event (`DESIGN.md` section 5).
#[utoipa::path(
    get,
    path = "/ws",
    tag = "progress",
    params(
        WsQuery,
        ("token" = Option<String>, Query, description = "The credential (API key or JWT) for clients that cannot set headers"),
        ("Upgrade" = String, Header, description = "websocket"),
        ("Connection" = String, Header, description = "Upgrade"),
        ("Sec-WebSocket-Key" = String, Header, description = "RFC 6455"),
        ("Sec-WebSocket-Version" = String, Header, description = "13"),
    ),
    responses(
        (status = 101, description = "Switched to WebSocket; then frames of `ProgressEvent`"),
        (status = 400, description = "Not a WebSocket upgrade (`websocket_upgrade_required`) or a bad file id (`invalid_file_id`)", body = ErrorBody,
         example = json!({"error": "Connection header did not include 'upgrade': connect with a WebSocket client", "code": "websocket_upgrade_required"})),
        (status = 503, description = "`websocket.max_connections` reached (`not_ready`)", body = ErrorBody),
    ),
)]
async fn websocket(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiQuery(q): ApiQuery<WsQuery>,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    let file_id = q.file_id.as_deref().map(parse_file_id).transpose()?;
    let permit = permit(&state)?;
    let ws = &state.settings.websocket;
    let watch = Watch::subscribe(&state, &owner, file_id.as_deref());
    Ok(upgrade
        .max_message_size(usize::try_from(ws.max_message_size).unwrap_or(usize::MAX))
        .read_buffer_size(usize::try_from(ws.read_buffer_size).unwrap_or(128 * 1024))
        .write_buffer_size(usize::try_from(ws.write_buffer_size).unwrap_or(128 * 1024))
        .on_upgrade(move |socket| async move {
            let open = OpenSocket::new(state.metrics.clone());
            session(state, socket, watch).await;
            drop(open);
            drop(permit);
        }))
}

/// One open WebSocket in `fileproc_websocket_connections`, until dropped.
struct OpenSocket(Metrics);

impl OpenSocket {
    fn new(metrics: Metrics) -> Self {
        metrics.websocket_open(true);
        OpenSocket(metrics)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.websocket_open(false);
    }
}

/// Why a session ended.
enum End {
    /// The client closed, went away, or missed a deadline.
    Client,
    /// The file is not the caller's.
    UnknownFile,
    /// The service is stopping.
    Shutdown,
}

/// Serve one WebSocket until the client leaves, misses a deadline, or the service stops.
async fn session(state: AppState, mut socket: WebSocket, mut watch: Watch) {
    let ws = state.settings.websocket.clone();
    let metrics = &state.metrics;
    let end = async {
        let opening = match watch.opening().await {
            Ok(frames) => frames,
            Err(CatalogError::NotFound) => return End::UnknownFile,
            Err(e) => {
                tracing::warn!(error = %e, "reading a file's status for a progress client");
                return End::Client;
            }
        };
        for frame in opening {
            if !send(&mut socket, &frame, ws.write_timeout, metrics).await {
                return End::Client;
            }
        }
        let mut ping = tokio::time::interval(ws.ping_period);
        ping.tick().await;
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                frame = watch.next() => match frame {
                    Some(frame) => if !send(&mut socket, &frame, ws.write_timeout, metrics).await {
                        return End::Client;
                    },
                    None => return End::Shutdown,
                },
                message = socket.recv() => match message {
                    Some(Ok(Message::Close(_))) => {
                        metrics.websocket_received();
                        return End::Client;
                    }
                    None | Some(Err(_)) => return End::Client,
                    Some(Ok(_)) => {
                        metrics.websocket_received();
                        heard = Instant::now();
                    }
                },
                _ = ping.tick() => {
                    if heard.elapsed() > ws.pong_timeout {
                        tracing::debug!("a progress client missed its read deadline");
                        return End::Client;
                    }
                    let sent = tokio::time::timeout(
                        ws.write_timeout,
                        socket.send(Message::Ping(Vec::new().into())),
                    ).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return End::Client;
                    }
                    metrics.websocket_sent();
                }
            }
        }
    }
    .await;
    let (code, reason) = match end {
        End::Client => return,
        End::UnknownFile => {
            let frame = Event::error(
                watch_file(&watch),
                "not_found",
                "no such file (or not yours)",
            );
            let _ = send(&mut socket, &frame, ws.write_timeout, metrics).await;
            (close_code::POLICY, "unknown file")
        }
        End::Shutdown => (close_code::AWAY, "the service is stopping"),
    };
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(ws.write_timeout, socket.send(close)).await;
}

fn watch_file(watch: &Watch) -> &str {
    watch.file_id().unwrap_or_default()
}

/// Send a frame within the write deadline (counted when sent); `false` if the client did not
/// take it.
async fn send(
    socket: &mut WebSocket,
    frame: &Event,
    deadline: Duration,
    metrics: &Metrics,
) -> bool {
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    let sent = matches!(
        tokio::time::timeout(deadline, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    );
    if sent {
        metrics.websocket_sent();
    }
    sent
}

/// One file's progress as Server-Sent Events: each event is named by its `type`, its data the
/// JSON frame (`ProgressEvent`).
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/events",
    tag = "progress",
    params(
        ("file_id" = String, Path, description = "The file's id"),
        ("token" = Option<String>, Query, description = "The credential (API key or JWT) for clients that cannot set headers"),
    ),
    responses(
        (status = 200, description = "An event stream (open until the client leaves); each \
            event is named by its type, its `data:` a `ProgressEvent`",
         content_type = "text/event-stream", body = SseEvent),
        (status = 400, description = "Not a file id (`invalid_file_id`)", body = ErrorBody),
        (status = 404, description = "No such file, or not the caller's (`not_found`)", body = ErrorBody),
        (status = 503, description = "`websocket.max_connections` reached (`not_ready`)", body = ErrorBody),
    ),
)]
async fn server_sent_events(
    State(state): State<AppState>,
    Owner(owner): Owner,
    ApiPath(file_id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let file_id = parse_file_id(&file_id)?;
    let permit = permit(&state)?;
    let mut watch = Watch::subscribe(&state, &owner, Some(&file_id));
    let opening = watch.opening().await?;
    Ok(Sse::new(sse_stream(opening, watch, permit)).keep_alive(
        KeepAlive::new().interval(
            state
                .settings
                .websocket
                .ping_period
                .min(Duration::from_secs(15)),
        ),
    ))
}

/// The opening frames, then every frame, as SSE events named by their type.
fn sse_stream(
    opening: Vec<Event>,
    watch: Watch,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<axum::response::sse::Event, Infallible>> {
    let opening = futures::stream::iter(opening);
    let live = futures::stream::unfold((watch, permit), |(mut watch, permit)| async move {
        watch.next().await.map(|frame| (frame, (watch, permit)))
    });
    futures::StreamExt::map(futures::StreamExt::chain(opening, live), |frame| {
        let name = serde_json::to_value(frame.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let data = serde_json::to_string(&frame).unwrap_or_default();
        Ok(axum::response::sse::Event::default().event(name).data(data))
    })
}
