//! Full values behind the dashboard's truncated views, as downloads: a run's output, error,
//! events or state; one attempt's input, output or error; an event's data; a delivery's body.
//!
//! Always `Content-Disposition: attachment` with `nosniff`: a stored value may be anything a
//! sender or an app wrote, and must never be rendered as a page on the dashboard's origin.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use ulid::Ulid;

use crate::{ApiError, SharedState};

fn download(body: Vec<u8>, filename: &str, json: bool) -> Response {
    let content_type = if json {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn ulid(s: &str, what: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(s).map_err(|_| ApiError::not_found(format!("no {what} {s}")))
}

fn missing(what: &str) -> ApiError {
    ApiError::not_found(format!("this {what} has no such value"))
}

/// `GET /dashboard/raw/runs/{id}/{output|error|events|state}`.
pub async fn run_value(
    State(state): State<SharedState>,
    Path((id, field)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let run_id = ulid(&id, "run")?;
    let run = state
        .store
        .get_run(run_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
    let value = match field.as_str() {
        "output" => run.output,
        "error" => run.error,
        "events" => Some(run.events),
        "state" => Some(run.state),
        _ => None,
    }
    .ok_or_else(|| missing("run"))?;
    Ok(download(
        value.into_bytes(),
        &format!("run-{id}-{field}.json"),
        true,
    ))
}

/// `GET /dashboard/raw/runs/{id}/history/{entry}/{input|output|error}`.
pub async fn history_value(
    State(state): State<SharedState>,
    Path((id, entry, field)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let run_id = ulid(&id, "run")?;
    let entry_id = ulid(&entry, "attempt")?;
    let h = state
        .store
        .history(run_id)
        .await?
        .into_iter()
        .find(|h| h.id == entry_id)
        .ok_or_else(|| ApiError::not_found(format!("no attempt {entry} in run {id}")))?;
    let value = match field.as_str() {
        "input" => h.input,
        "output" => h.output,
        "error" => h.error,
        _ => None,
    }
    .ok_or_else(|| missing("attempt"))?;
    Ok(download(
        value.into_bytes(),
        &format!("attempt-{entry}-{field}.json"),
        true,
    ))
}

/// `GET /dashboard/raw/events/{id}`: the event's `data`, byte for byte.
pub async fn event(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let event_id = ulid(&id, "event")?;
    let e = state
        .store
        .get_event(event_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    Ok(download(
        e.data.get().as_bytes().to_vec(),
        &format!("event-{id}-data.json"),
        true,
    ))
}

/// `GET /dashboard/raw/sources/{name}/deliveries/{id}`: the body as received.
pub async fn delivery_body(
    State(state): State<SharedState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let delivery_id = ulid(&id, "delivery")?;
    let d = state
        .store
        .get_delivery(&name, delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no delivery {id}")))?;
    Ok(download(d.body, &format!("delivery-{id}.bin"), false))
}
