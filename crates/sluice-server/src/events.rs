//! The event API (`POST /e/{key}`) and the events REST API (`/v1/events`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sluice_core::event::{parse_batch, Event, IdSource, IngestError};
use sluice_store::EventQuery;
use ulid::Ulid;

use crate::{now_ms, ApiError, Mode, SharedState};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/e/{key}", post(send_events))
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}", get(get_event))
}

/// Reads a body up to `limit` bytes, answering 413 past it. Taking `Body` rather than `Bytes`
/// lets the limit come from configuration per request.
async fn read_limited(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is over the limit of {limit} bytes"),
        )
    })
}

/// JSON types pass, and so do `text/plain` and no type at all: a browser sending events with
/// `navigator.sendBeacon` or a CORS-simple `fetch` can only use those. Anything else (a form
/// post, XML, multipart) is refused with 415 before the body is read as JSON.
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime == "application/json"
        || mime.ends_with("+json")
        || mime == "text/plain"
        || mime.is_empty()
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content type {mime:?} is not supported; send application/json"),
        ))
    }
}

/// `POST /e/{key}`: validates, stores durably (fsync'd, group-committed), then answers.
async fn send_events(
    State(state): State<SharedState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    match accept_events(&state, &key, &headers, body).await {
        Ok(ids) => {
            let ids: Vec<String> = ids.iter().map(Ulid::to_string).collect();
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "ids": ids, "status": 200 })),
            )
                .into_response()
        }
        Err(e) => {
            let status = e.status.as_u16();
            let body = serde_json::json!({ "ids": [], "status": status, "error": e.message });
            (e.status, axum::Json(body)).into_response()
        }
    }
}

async fn accept_events(
    state: &SharedState,
    key: &str,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Vec<Ulid>, ApiError> {
    if state.config.mode == Mode::Cloud && !state.config.event_keys.iter().any(|k| k == key) {
        return Err(ApiError::unauthorized("event key not found"));
    }
    check_json_content_type(headers)?;
    let bytes = read_limited(body, state.config.max_body_bytes).await?;
    let seed = headers
        .get("x-inngest-event-id-seed")
        .and_then(|v| v.to_str().ok());
    let events = parse_batch(
        &bytes,
        state.config.ingest,
        IdSource::from_seed_header(seed),
        now_ms(),
    )
    .map_err(ingest_error)?;
    let ids: Vec<Ulid> = events.iter().map(|e| e.id).collect();
    state.store.append_events(events).await?;
    state.engine.events_stored();
    Ok(ids)
}

fn ingest_error(e: IngestError) -> ApiError {
    let status = match e {
        IngestError::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, e.to_string())
}

#[derive(Deserialize)]
struct ListParams {
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// The REST v1 shape of an event. `data` and `user` are written from their stored bytes, so
/// they come back exactly as sent.
#[derive(Serialize)]
pub struct EventOut<'a> {
    internal_id: String,
    id: String,
    name: &'a str,
    data: &'a RawValue,
    user: &'a RawValue,
    ts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<&'a str>,
    received_at: String,
}

impl<'a> EventOut<'a> {
    pub fn new(e: &'a Event) -> Self {
        Self {
            internal_id: e.id.to_string(),
            id: e.external_id.clone().unwrap_or_else(|| e.id.to_string()),
            name: &e.name,
            data: &e.data,
            user: e.user.as_deref().unwrap_or(&EMPTY),
            ts: e.ts,
            v: e.v.as_deref(),
            received_at: rfc3339(e.received_at),
        }
    }
}

static EMPTY: LazyLock<Box<RawValue>> = LazyLock::new(sluice_core::event::empty_object);

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

async fn list_events(
    State(state): State<SharedState>,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    let cursor = p
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            Ulid::from_string(&c).map_err(|_| ApiError::bad_request("`cursor` is not an event id"))
        })
        .transpose()?;
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
    }
    let events = state
        .store
        .list_events(EventQuery {
            name: p.name.filter(|n| !n.is_empty()),
            cursor,
            limit,
        })
        .await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    let data: Vec<EventOut> = events.iter().map(EventOut::new).collect();
    Ok(json_response(&Page { data, cursor: next }))
}

async fn get_event(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Ulid::from_string(&id).map_err(|_| ApiError::not_found(format!("no event {id}")))?;
    let event = state
        .store
        .get_event(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    Ok(json_response(&Single {
        data: EventOut::new(&event),
    }))
}

#[derive(Serialize)]
struct Page<T> {
    data: Vec<T>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Single<T> {
    data: T,
}

fn json_response<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
