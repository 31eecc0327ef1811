//! What the dashboard's buttons and forms do. The guard in [`crate::auth`] has already checked the
//! session and the CSRF token of every request that reaches here.
//!
//! Wherever the REST API has the action, the dashboard calls that very route, in process:
//! `/dashboard/actions/v1/<path>` is dispatched as `/v1/<path>` through the whole router (with the
//! server's own signing key as its credential in cloud mode), so cancel, rerun, app sync and
//! every webhook change behave exactly as they do over the API. Sending and replaying events go
//! through the event API route (`/e/{key}`), so they are validated and stored like any sent
//! event. Only invoking a function, which has no REST route yet, is done here, the way the
//! engine starts invoked runs.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_core::event::Event;
use sluice_store::ScheduleBatch;
use tower::ServiceExt;
use ulid::Ulid;

use crate::{now_ms, ApiError, Mode, SharedState};

/// Largest body an action forwards.
const MAX_ACTION_BYTES: usize = 4 * 1024 * 1024;

/// Runs `method uri` through the application's own router, as the server itself.
async fn dispatch(
    state: &SharedState,
    method: Method,
    uri: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let mut req = match Request::builder().method(method).uri(uri).body(body) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(format!("bad action path: {e}")).into_response(),
    };
    for name in [header::CONTENT_TYPE, header::HOST, header::ACCEPT] {
        if let Some(v) = headers.get(&name) {
            req.headers_mut().insert(name, v.clone());
        }
    }
    if state.config.mode == Mode::Cloud {
        if let Some(key) = &state.config.signing_key {
            if let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}")) {
                req.headers_mut().insert(header::AUTHORIZATION, v);
            }
        }
    }
    match crate::router(state.clone()).oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `ANY /dashboard/actions/v1/{*rest}` → `/v1/{rest}`.
pub async fn forward(
    State(state): State<SharedState>,
    Path(rest): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ACTION_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "action body is too large")
                .into_response()
        }
    };
    let mut uri = format!("/v1/{rest}");
    if let Some(q) = parts.uri.query() {
        uri.push('?');
        uri.push_str(q);
    }
    dispatch(
        &state,
        parts.method,
        &uri,
        &parts.headers,
        Body::from(bytes),
    )
    .await
}

/// The event key the dashboard sends with: any key is accepted in dev mode.
fn event_key(state: &SharedState) -> String {
    state
        .config
        .event_keys
        .first()
        .cloned()
        .unwrap_or_else(|| "dashboard".into())
}

async fn send(state: &SharedState, headers: &HeaderMap, body: String) -> Response {
    let mut headers = headers.clone();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let uri = format!("/e/{}", super::seg(&event_key(state)));
    dispatch(state, Method::POST, &uri, &headers, Body::from(body)).await
}

#[derive(Deserialize)]
pub struct SendIn {
    name: String,
    data: Box<RawValue>,
}

/// `POST /dashboard/actions/events/send` with `{name, data}`: through the event API.
pub async fn send_event(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(input): Json<SendIn>,
) -> Response {
    if input.name.trim().is_empty() {
        return ApiError::bad_request("the event needs a name").into_response();
    }
    if !input.data.get().trim_start().starts_with('{') {
        return ApiError::bad_request("`data` must be a JSON object").into_response();
    }
    let body = format!(
        r#"{{"name":{},"data":{}}}"#,
        serde_json::Value::String(input.name),
        input.data.get()
    );
    send(&state, &headers, body).await
}

/// `POST /dashboard/actions/events/{id}/replay`: the same name, data and user, sent again as a
/// new event (without the sender's id, which would de-duplicate it away).
pub async fn replay_event(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let event = match load_event(&state, &id).await {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let user = event
        .user
        .as_ref()
        .map(|u| format!(r#","user":{}"#, u.get()))
        .unwrap_or_default();
    let body = format!(
        r#"{{"name":{},"data":{}{user}}}"#,
        serde_json::Value::String(event.name.clone()),
        event.data.get()
    );
    send(&state, &headers, body).await
}

async fn load_event(state: &SharedState, id: &str) -> Result<Event, ApiError> {
    let missing = || ApiError::not_found(format!("no event {id}"));
    let id = Ulid::from_string(id).map_err(|_| missing())?;
    state.store.get_event(id).await?.ok_or_else(missing)
}

#[derive(Deserialize)]
pub struct InvokeIn {
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// `POST /dashboard/actions/functions/{id}/invoke` with `{data}`: starts one run of exactly this
/// function with an `inngest/function.invoked` event, as `step.invoke` does.
pub async fn invoke(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(input): Json<InvokeIn>,
) -> Result<Response, ApiError> {
    let function = state
        .store
        .get_function(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no function {id}")))?;
    let data = match input.data {
        Some(d) if d.get().trim_start().starts_with('{') => d,
        Some(_) => return Err(ApiError::bad_request("`data` must be a JSON object")),
        None => sluice_core::event::empty_object(),
    };
    let sync_id = state
        .store
        .get_app(&function.app_id)
        .await?
        .and_then(|a| a.sync_id);
    let now = now_ms();
    let event = Event {
        id: Ulid::new(),
        name: "inngest/function.invoked".into(),
        data,
        user: None,
        external_id: None,
        ts: now,
        v: None,
        received_at: now,
    };
    let run = sluice_engine::new_run(&function, sync_id, &[&event], now, None);
    let run_id = run.id;
    state
        .store
        .schedule(ScheduleBatch {
            runs: vec![run],
            new_events: vec![event],
            ..ScheduleBatch::default()
        })
        .await?;
    state.engine.work_added();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "data": { "run_id": run_id.to_string() } })),
    )
        .into_response())
}
