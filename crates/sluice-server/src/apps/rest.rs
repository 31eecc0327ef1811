//! The apps and functions REST API: what is synced, from where, when, and what went wrong.
//!
//! Failures are part of the shape, not an afterthought: every app carries its last attempt's
//! result and error, and every function that uses a setting Sluice ignores carries a warning.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sluice_store::{AppRecord, FunctionRecord, SyncRecord};

use super::ping::{self, PingError, Pinged, PING_TIMEOUT};
use super::register::unenforced_text;
use crate::{now_ms, ApiError, SharedState};

/// Sync history rows shown with one app.
const RECENT_SYNCS: usize = 20;

#[derive(Serialize)]
pub struct AppOut {
    id: String,
    url: String,
    sdk: Option<String>,
    framework: Option<String>,
    app_version: Option<String>,
    function_hash: Option<String>,
    function_count: u32,
    /// The last successful sync.
    sync_id: Option<String>,
    synced_at: Option<String>,
    /// `"ok"` or `"failed"`: how the last attempt went.
    last_sync: &'static str,
    last_attempt_at: Option<String>,
    last_error: Option<String>,
    created_at: Option<String>,
    /// Settings in use that Sluice ignores, one line per function.
    warnings: Vec<String>,
    functions: Vec<FunctionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    syncs: Option<Vec<SyncOut>>,
}

#[derive(Serialize)]
pub struct FunctionOut {
    id: String,
    app_id: String,
    slug: String,
    name: String,
    url: String,
    retries: u32,
    max_attempts: u32,
    triggers: Value,
    config: Value,
    unenforced: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

#[derive(Serialize)]
pub struct SyncOut {
    id: String,
    url: String,
    at: Option<String>,
    ok: bool,
    error: Option<String>,
    function_hash: Option<String>,
    sdk: Option<String>,
    modified: bool,
}

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn function_out(f: FunctionRecord) -> FunctionOut {
    let warning = (!f.unenforced.is_empty()).then(|| {
        format!(
            "{}; it was accepted with --allow-unenforced and is ignored",
            unenforced_text(&f.id, &f.unenforced)
        )
    });
    FunctionOut {
        max_attempts: f.retries + 1,
        id: f.id,
        app_id: f.app_id,
        slug: f.slug,
        name: f.name,
        url: f.url,
        retries: f.retries,
        triggers: f.triggers,
        config: f.config,
        unenforced: f.unenforced,
        warning,
    }
}

fn app_out(app: AppRecord, functions: Vec<FunctionRecord>) -> AppOut {
    let functions: Vec<FunctionOut> = functions.into_iter().map(function_out).collect();
    AppOut {
        warnings: functions.iter().filter_map(|f| f.warning.clone()).collect(),
        functions,
        id: app.id,
        url: app.url,
        sdk: app.sdk,
        framework: app.framework,
        app_version: app.app_version,
        function_hash: app.function_hash,
        function_count: app.function_count,
        sync_id: app.sync_id.map(|s| s.to_string()),
        synced_at: app.synced_at_ms.and_then(rfc3339),
        last_sync: if app.last_error.is_some() {
            "failed"
        } else {
            "ok"
        },
        last_attempt_at: rfc3339(app.last_attempt_at_ms),
        last_error: app.last_error,
        created_at: rfc3339(app.created_at_ms),
        syncs: None,
    }
}

fn sync_out(s: SyncRecord) -> SyncOut {
    SyncOut {
        id: s.id.to_string(),
        url: s.url,
        at: rfc3339(s.at_ms),
        ok: s.error.is_none(),
        error: s.error,
        function_hash: s.function_hash,
        sdk: s.sdk,
        modified: s.modified,
    }
}

/// Every app with its functions.
async fn all_apps(state: &SharedState) -> Result<Vec<AppOut>, ApiError> {
    let apps = state.store.list_apps().await?;
    let mut functions = state.store.list_functions().await?;
    Ok(apps
        .into_iter()
        .map(|app| {
            let (mine, rest) = functions.drain(..).partition(|f| f.app_id == app.id);
            functions = rest;
            app_out(app, mine)
        })
        .collect())
}

async fn one_app(state: &SharedState, id: &str) -> Result<Option<AppOut>, ApiError> {
    let Some(app) = state.store.get_app(id).await? else {
        return Ok(None);
    };
    let functions = state
        .store
        .list_functions()
        .await?
        .into_iter()
        .filter(|f| f.app_id == app.id)
        .collect();
    let syncs = state.store.list_syncs(&app.id, RECENT_SYNCS).await?;
    let mut out = app_out(app, functions);
    out.syncs = Some(syncs.into_iter().map(sync_out).collect());
    Ok(Some(out))
}

/// `GET /v1/apps`.
pub async fn list_apps(State(state): State<SharedState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "data": all_apps(&state).await? })))
}

/// `GET /v1/apps/{id}`: the app, its functions and its recent syncs, newest first.
pub async fn get_app(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let app = one_app(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no app {id:?}")))?;
    Ok(Json(json!({ "data": app })))
}

#[derive(Deserialize)]
pub struct AddApp {
    url: String,
}

/// `POST /v1/apps` `{url}`: asks the app at `url` to sync, and reports how that went.
pub async fn add_app(
    State(state): State<SharedState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let AddApp { url } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected a JSON body like {{\"url\": \"http://localhost:3000/api/inngest\"}}: {e}"
        ))
    })?;
    let url = ping::normalize_url(&url).map_err(|e| ApiError::bad_request(e.to_string()))?;
    sync_by_url(&state, None, url).await
}

/// `POST /v1/apps/{id}/resync`.
pub async fn resync_app(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = state
        .store
        .get_app(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no app {id:?}")))?;
    sync_by_url(&state, Some(app.id), app.url).await
}

/// `DELETE /v1/apps/{id}`: the app and its functions go; its sync history and runs stay.
pub async fn delete_app(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.store.delete_app(&id).await? {
        return Err(ApiError::not_found(format!("no app {id:?}")));
    }
    state.engine.functions_changed();
    tracing::info!(app = %id, "removed app {id}");
    Ok(Json(json!({ "ok": true, "id": id })))
}

/// `GET /v1/functions`.
pub async fn list_functions(State(state): State<SharedState>) -> Result<Json<Value>, ApiError> {
    let functions: Vec<FunctionOut> = state
        .store
        .list_functions()
        .await?
        .into_iter()
        .map(function_out)
        .collect();
    Ok(Json(json!({ "data": functions })))
}

/// `GET /v1/functions/{id}`.
pub async fn get_function(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let f = state
        .store
        .get_function(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no function {id:?}")))?;
    Ok(Json(json!({ "data": function_out(f) })))
}

/// Sends the PUT and answers with the app as it now stands, or stores the failure and answers
/// with it: 502 when the app could not be reached or is not an Inngest SDK, 422 when it answered
/// but its sync failed.
async fn sync_by_url(
    state: &SharedState,
    app_id: Option<String>,
    url: String,
) -> Result<Response, ApiError> {
    let started = now_ms();
    let signing_key = state.config.signing_key.as_deref();
    match ping::ping(&url, state.config.mode, signing_key, PING_TIMEOUT).await {
        Ok(pinged) => {
            let app = synced_app(state, &pinged, &url, started).await?;
            let body = json!({
                "ok": true,
                "modified": pinged.modified,
                "app_id": app.as_ref().map(|a| a.id.clone()),
                "sync_id": app.as_ref().and_then(|a| a.sync_id.clone()),
                "data": app,
            });
            Ok(Json(body).into_response())
        }
        Err(e) => {
            let status = match e {
                PingError::InvalidUrl(_) => StatusCode::BAD_REQUEST,
                PingError::SyncFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_GATEWAY,
            };
            let sync_id = state
                .store
                .record_failed_sync(app_id, url, e.reason(), now_ms())
                .await?;
            let body = json!({
                "error": e.to_string(),
                "status": status.as_u16(),
                "sync_id": sync_id.to_string(),
            });
            Ok((status, Json(body)).into_response())
        }
    }
}

/// The app a successful PUT synced: named in the answer (Python passes Sluice's answer through),
/// or else the app at that URL that synced since the PUT went out.
async fn synced_app(
    state: &SharedState,
    pinged: &Pinged,
    url: &str,
    since_ms: i64,
) -> Result<Option<AppOut>, ApiError> {
    if let Some(id) = &pinged.app_id {
        return one_app(state, id).await;
    }
    let trimmed = url.trim_end_matches('/');
    let app = state
        .store
        .list_apps()
        .await?
        .into_iter()
        .filter(|a| a.url.trim_end_matches('/') == trimmed && a.last_attempt_at_ms >= since_ms)
        .max_by_key(|a| a.last_attempt_at_ms);
    match app {
        Some(app) => one_app(state, &app.id).await,
        None => Ok(None),
    }
}
