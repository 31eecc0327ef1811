//! The runs REST API: list, show (with the step timeline), cancel, rerun, and an event's runs.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_core::run::RunState;
use sluice_engine::Payload;
use sluice_store::{HistoryEntry, NewRun, RunQuery, RunRecord, RUN_STATUSES};
use ulid::Ulid;

use crate::{now_ms, ApiError, SharedState};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/v1/runs", get(list))
        .route("/v1/runs/{id}", get(show).delete(cancel))
        .route("/v1/runs/{id}/cancel", post(cancel))
        .route("/v1/runs/{id}/rerun", post(rerun))
        .route("/v1/events/{id}/runs", get(event_runs))
}

fn parse_id(id: &str, what: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found(format!("no {what} {id}")))
}

fn rfc3339(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

fn raw_json(text: &Option<String>) -> Value {
    text.as_deref()
        .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())))
        .unwrap_or(Value::Null)
}

/// A run in the REST v1 shape (`run_id`, `status`, `output`, timestamps), plus Sluice's extras.
pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "run_id": r.id.to_string(),
        "function_id": r.function_id,
        "app_id": r.app_id,
        "status": r.status,
        "output": raw_json(&r.output),
        "error": raw_json(&r.error),
        "event_id": r.event_id.map(|e| e.to_string()),
        "event_name": r.event_name,
        "sync_id": r.sync_id.map(|s| s.to_string()),
        "created_at": rfc3339(Some(r.created_at_ms)),
        "run_started_at": rfc3339(r.started_at_ms),
        "ended_at": rfc3339(r.ended_at_ms),
        "parent_run_id": r.parent_run_id.map(|p| p.to_string()),
    })
}

pub fn history_json(h: &HistoryEntry) -> Value {
    json!({
        "id": h.id.to_string(),
        "step_id": h.step_id,
        "name": h.name,
        "kind": h.kind,
        "attempt": h.attempt,
        "status": h.status,
        "queued_at": rfc3339(h.queued_at_ms),
        "started_at": rfc3339(Some(h.started_at_ms)),
        "ended_at": rfc3339(Some(h.ended_at_ms)),
        "input": raw_json(&h.input),
        "output": raw_json(&h.output),
        "error": raw_json(&h.error),
        "retry_at": rfc3339(h.retry_at_ms),
        "sync_id": h.sync_id.map(|s| s.to_string()),
    })
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    function_id: Option<String>,
    app_id: Option<String>,
    event_name: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(state): State<SharedState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = &p.status {
        if !RUN_STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!(
                "`status` must be one of {}",
                RUN_STATUSES.join(", ")
            )));
        }
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let cursor = p
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| parse_id(&c, "run"))
        .transpose()?;
    let runs = state
        .store
        .list_runs(RunQuery {
            status: p.status,
            function_id: p.function_id,
            app_id: p.app_id,
            event_name: p.event_name,
            from_ms: p.from,
            to_ms: p.to,
            cursor,
            limit,
        })
        .await?;
    let next = (runs.len() == limit)
        .then(|| runs.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(
        json!({ "data": runs.iter().map(run_json).collect::<Vec<_>>(), "cursor": next }),
    ))
}

async fn load(state: &SharedState, id: &str) -> Result<RunRecord, ApiError> {
    let id = parse_id(id, "run")?;
    state
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
}

async fn show(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = load(&state, &id).await?;
    let history = state.store.history(run.id).await?;
    let mut data = run_json(&run);
    data["history"] = Value::Array(history.iter().map(history_json).collect());
    data["events"] = serde_json::from_str(&run.events).unwrap_or(Value::Null);
    Ok(Json(json!({ "data": data })))
}

async fn cancel(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let run = load(&state, &id).await?;
    if matches!(run.status.as_str(), "Completed" | "Failed" | "Cancelled") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("run {} already ended ({})", run.id, run.status),
        ));
    }
    state
        .store
        .enqueue(vec![Payload::Cancel.item(run.id, now_ms())])
        .await?;
    state.engine.work_added();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "data": { "run_id": run.id.to_string(), "status": "Cancelling" } })),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
struct RerunBody {
    /// Hashed id of the step to rerun from: results memoized before it are kept.
    from_step: Option<String>,
}

async fn rerun(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    body: Option<Json<RerunBody>>,
) -> Result<Response, ApiError> {
    let old = load(&state, &id).await?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let function = state
        .store
        .get_function(&old.function_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("function {} is not synced any more", old.function_id),
            )
        })?;
    let sync_id = state
        .store
        .get_app(&function.app_id)
        .await?
        .and_then(|a| a.sync_id);
    let now = now_ms();
    let events: Vec<sluice_core::event::Event> = Vec::new();
    let mut run: NewRun = sluice_engine::new_run(
        &function,
        sync_id,
        &events.iter().collect::<Vec<_>>(),
        now,
        None,
    );
    run.events = old.events.clone();
    run.event_id = old.event_id;
    run.event_name = old.event_name.clone();
    let old_state: RunState = serde_json::from_str(&old.state).map_err(ApiError::internal)?;
    sluice_engine::set_limits(&mut run, &old_state.limits);
    if let Some(step) = body.from_step {
        let Some(pos) = old_state.stack.iter().position(|s| *s == step) else {
            return Err(ApiError::bad_request(format!(
                "run {} has no completed step {step}",
                old.id
            )));
        };
        let mut state_new: RunState =
            serde_json::from_str(&run.state).map_err(ApiError::internal)?;
        for id in &old_state.stack[..pos] {
            if let Some(memo) = old_state.steps.get(id) {
                state_new.state_bytes += memo.get().len();
                state_new.steps.insert(id.clone(), memo.clone());
                state_new.stack.push(id.clone());
            }
        }
        run.state = serde_json::to_string(&state_new).map_err(ApiError::internal)?;
    }
    let new_id = run.id;
    state.store.create_run(run).await?;
    state.engine.work_added();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": { "run_id": new_id.to_string(), "rerun_of": old.id.to_string() } })),
    )
        .into_response())
}

async fn event_runs(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id, "event")?;
    let runs = state.store.runs_for_event(id).await?;
    Ok(Json(
        json!({ "data": runs.iter().map(run_json).collect::<Vec<_>>() }),
    ))
}
