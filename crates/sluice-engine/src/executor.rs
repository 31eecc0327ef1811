//! The executor: claims due queue items, calls the SDK or resolves a timer, feeds the result to the
//! run state machine, and commits what it decided in one transaction.

use std::sync::Arc;

use serde_json::value::RawValue;
use sluice_core::event::Event;
use sluice_core::opcode::ErrorBody;
use sluice_core::run::{apply, Action, AttemptResult, Input, Outcome, RunState, Status, StepKind};
use sluice_store::{CommitResult, HistoryEntry, QueueItem, RunRecord, Transition, Wait};
use ulid::Ulid;

use crate::driver::{build_request_body, Call, RequestCtx};
use crate::payload::{continuation_due, Payload};
use crate::scheduler::new_run;
use crate::{EngineStore, Shared};

/// How many times a commit is retried after losing an optimistic-concurrency race.
const MAX_CONFLICTS: usize = 20;

/// Processes one claimed queue item to the end. Errors are logged; the item's lease then expires
/// and another attempt picks it up.
pub async fn process<S: EngineStore + ?Sized>(shared: Arc<Shared<S>>, item: QueueItem) {
    if let Err(e) = process_inner(&shared, &item).await {
        tracing::warn!(run = %item.run_id, item = %item.id, error = %e, "queue item failed; it will be retried when its lease expires");
    }
}

async fn process_inner<S: EngineStore + ?Sized>(
    shared: &Shared<S>,
    item: &QueueItem,
) -> crate::Result<()> {
    let payload: Payload = serde_json::from_str(&item.payload)
        .map_err(|e| crate::Error::Corrupt(format!("queue payload of {}: {e}", item.id)))?;
    let Some(run) = shared.store.get_run(item.run_id).await? else {
        return Err(crate::Error::Corrupt(format!(
            "queue item {} names a missing run",
            item.id
        )));
    };
    let started_ms = shared.clock.now_ms();
    let input = match payload {
        Payload::Call { work, attempt } => {
            let state: RunState = parse_state(&run)?;
            if state.is_terminal() {
                Input::Cancel // ignored by a terminal state; the commit just drops the item
            } else {
                let outcome = call(shared, &run, &state, &work, attempt).await?;
                Input::CallResult {
                    work,
                    attempt,
                    outcome: outcome.outcome,
                    request_version: outcome.request_version,
                }
            }
        }
        other => other.into_input().expect("non-call payload has an input"),
    };
    let mut run = run;
    for _ in 0..MAX_CONFLICTS {
        let t = transition(shared, &run, item, input.clone(), started_ms)?;
        match shared.store.commit(t).await? {
            CommitResult::Committed => {
                shared.wake.notify_one();
                return Ok(());
            }
            CommitResult::LeaseLost => {
                tracing::info!(run = %run.id, item = %item.id, "lease lost; result dropped");
                return Ok(());
            }
            CommitResult::Conflict => {
                run = shared
                    .store
                    .get_run(item.run_id)
                    .await?
                    .ok_or_else(|| crate::Error::Corrupt("run vanished".into()))?;
            }
        }
    }
    Err(crate::Error::Corrupt(format!(
        "run {} kept changing; giving up this item",
        run.id
    )))
}

fn parse_state(run: &RunRecord) -> crate::Result<RunState> {
    serde_json::from_str(&run.state)
        .map_err(|e| crate::Error::Corrupt(format!("state of run {}: {e}", run.id)))
}

struct CallOutcome {
    outcome: Outcome,
    request_version: Option<i32>,
}

async fn call<S: EngineStore + ?Sized>(
    shared: &Shared<S>,
    run: &RunRecord,
    state: &RunState,
    work: &sluice_core::run::Work,
    attempt: u32,
) -> crate::Result<CallOutcome> {
    let index = shared.index().await?;
    let Some(function) = index.function(&run.function_id) else {
        return Ok(CallOutcome {
            outcome: Outcome::Transport {
                message: format!(
                    "function {} is not synced any more (its app was removed or no longer serves it)",
                    run.function_id
                ),
            },
            request_version: None,
        });
    };
    let events: Vec<&RawValue> = serde_json::from_str(&run.events)
        .map_err(|e| crate::Error::Corrupt(format!("events of run {}: {e}", run.id)))?;
    let event = events.first().map(|e| e.get()).unwrap_or("{}");
    let ctx = RequestCtx::for_run(state, attempt);
    let steps = state.steps.iter().map(|(k, v)| (k.as_str(), v.as_ref()));
    let wire: Vec<&str> = events.iter().map(|e| e.get()).collect();
    let body = build_request_body(event, &wire, steps, &ctx, state.request_version);
    let run_id = run.id.to_string();
    tracing::debug!(run = %run_id, function = %run.function_id, step = work.step_param(), attempt, "calling the app");
    let signer = shared
        .signer
        .as_ref()
        .map(|s| s.as_ref() as &dyn crate::driver::Sign);
    let response = shared
        .driver
        .call(Call {
            url: &function.url,
            step: work.step_param(),
            run_id: &run_id,
            request_version: state.request_version,
            body,
            signer,
        })
        .await;
    Ok(CallOutcome {
        outcome: response.outcome,
        request_version: response.request_version,
    })
}

/// When a queue item became runnable, for the history: its due time, or, for an item queued
/// at its run's creation time (see [`continuation_due`]), the moment it was queued, which its
/// ULID records.
fn queued_at(item: &QueueItem) -> i64 {
    item.due_at_ms.max(item.id.timestamp_ms() as i64)
}

/// Applies `input` to the run and turns the actions into one store transition.
fn transition<S: EngineStore + ?Sized>(
    shared: &Shared<S>,
    run: &RunRecord,
    item: &QueueItem,
    input: Input,
    started_ms: i64,
) -> crate::Result<Transition> {
    let mut state = parse_state(run)?;
    let now = shared.clock.now_ms();
    let jitter = rand::random::<f64>();
    let actions = apply(&mut state, input, now, jitter);
    let mut t = Transition {
        run_id: run.id,
        expected_version: run.version,
        consume: Some((item.id, item.lease_owner.clone())),
        now_ms: now,
        ..Transition::default()
    };
    let trigger = first_event(run);
    for action in actions {
        match action {
            Action::Enqueue {
                work,
                attempt,
                at_ms,
            } => {
                t.enqueue.push(
                    Payload::Call { work, attempt }
                        .item(run.id, continuation_due(at_ms, now, run.id)),
                );
            }
            Action::Sleep {
                step_id,
                name,
                wake_at_ms,
            } => {
                t.history.push(scheduled(
                    run,
                    &step_id,
                    &name,
                    "sleep",
                    now,
                    Some(wake_at_ms),
                    None,
                ));
                t.enqueue
                    .push(Payload::SleepElapsed { step_id }.item(run.id, wake_at_ms));
            }
            Action::WaitForEvent {
                step_id,
                name,
                event_name,
                if_expr,
                timeout_at_ms,
            } => {
                let input = serde_json::json!({ "event": event_name, "if": if_expr }).to_string();
                t.history.push(scheduled(
                    run,
                    &step_id,
                    &name,
                    "wait_for_event",
                    now,
                    Some(timeout_at_ms),
                    Some(input),
                ));
                t.add_waits.push(Wait {
                    id: Ulid::new(),
                    run_id: run.id,
                    step_id: step_id.clone(),
                    event_name,
                    expression: if_expr,
                    trigger: trigger.clone(),
                    expires_at_ms: timeout_at_ms,
                });
                t.enqueue
                    .push(Payload::WaitTimeout { step_id }.item(run.id, timeout_at_ms));
            }
            Action::Invoke {
                step_id,
                name,
                function_id,
                payload,
                correlation_id: _,
                timeout_at_ms,
            } => {
                t.history.push(scheduled(
                    run,
                    &step_id,
                    &name,
                    "invoke",
                    now,
                    Some(timeout_at_ms),
                    Some(payload.get().to_owned()),
                ));
                invoke(
                    shared,
                    run,
                    &mut t,
                    step_id,
                    function_id,
                    &payload,
                    timeout_at_ms,
                    now,
                )?;
            }
            Action::Complete { output } => {
                t.output = Some(output.get().to_owned());
                finish(run, &mut t, now, &trigger, Ok(&output));
            }
            Action::Fail { error } => {
                t.error = Some(error.to_json());
                finish(run, &mut t, now, &trigger, Err(&error));
            }
            Action::Cancelled => {
                t.clear_pending = true;
                t.events.push(system_event(
                    "inngest/function.cancelled",
                    serde_json::json!({ "function_id": run.function_id, "run_id": run.id.to_string() }),
                    &trigger,
                    now,
                ));
            }
            Action::Record(rec) => {
                let (status, output, error, retry_at) = match &rec.result {
                    AttemptResult::Ok { output } => {
                        ("ok", Some(output.get().to_owned()), None, None)
                    }
                    AttemptResult::Err { error, retry_at_ms } => {
                        ("error", None, Some(error.to_json()), *retry_at_ms)
                    }
                };
                t.history.push(HistoryEntry {
                    id: Ulid::new(),
                    run_id: run.id,
                    step_id: rec.step_id.clone(),
                    name: rec.name.clone(),
                    kind: kind_name(rec.kind).into(),
                    attempt: rec.attempt,
                    status: status.into(),
                    queued_at_ms: Some(queued_at(item)),
                    started_at_ms: started_ms,
                    ended_at_ms: now,
                    input: None,
                    output,
                    error,
                    retry_at_ms: retry_at,
                    sync_id: run.sync_id,
                });
            }
            Action::Memoize { .. }
            | Action::SetRequestVersion { .. }
            | Action::SetImmediateExecution { .. } => {}
        }
    }
    t.status = match state.status {
        Status::Running => "Running",
        Status::Completed => "Completed",
        Status::Failed => "Failed",
        Status::Cancelled => "Cancelled",
    }
    .into();
    if state.is_terminal() {
        t.clear_pending = true;
    }
    t.state = serde_json::to_string(&state).expect("state serializes");
    Ok(t)
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Function => "function",
        StepKind::Run => "run",
        StepKind::Sleep => "sleep",
        StepKind::WaitForEvent => "wait_for_event",
        StepKind::Invoke => "invoke",
    }
}

fn scheduled(
    run: &RunRecord,
    step_id: &str,
    name: &str,
    kind: &str,
    now: i64,
    until: Option<i64>,
    input: Option<String>,
) -> HistoryEntry {
    HistoryEntry {
        id: Ulid::new(),
        run_id: run.id,
        step_id: Some(step_id.to_owned()),
        name: Some(name.to_owned()),
        kind: kind.into(),
        attempt: 0,
        status: "scheduled".into(),
        queued_at_ms: None,
        started_at_ms: now,
        ended_at_ms: now,
        input,
        output: None,
        error: None,
        retry_at_ms: until,
        sync_id: run.sync_id,
    }
}

fn first_event(run: &RunRecord) -> String {
    serde_json::from_str::<Vec<&RawValue>>(&run.events)
        .ok()
        .and_then(|v| v.first().map(|e| e.get().to_owned()))
        .unwrap_or_else(|| "{}".into())
}

/// A system event with the run's trigger under `data.event`.
fn system_event(name: &str, mut data: serde_json::Value, trigger: &str, now: i64) -> Event {
    let trigger: serde_json::Value = serde_json::from_str(trigger).unwrap_or_default();
    data["event"] = trigger;
    Event {
        id: Ulid::new(),
        name: name.into(),
        data: RawValue::from_string(data.to_string()).expect("json"),
        user: None,
        external_id: None,
        ts: now,
        v: None,
        received_at: now,
    }
}

/// Emits the finished (and failed) events and hands the result to an invoking parent.
fn finish(
    run: &RunRecord,
    t: &mut Transition,
    now: i64,
    trigger: &str,
    result: Result<&RawValue, &ErrorBody>,
) {
    t.clear_pending = true;
    let run_id = run.id.to_string();
    let error_json =
        |e: &ErrorBody| serde_json::from_str::<serde_json::Value>(&e.to_json()).unwrap_or_default();
    match result {
        Ok(output) => {
            let output: serde_json::Value = serde_json::from_str(output.get()).unwrap_or_default();
            t.events.push(system_event(
                "inngest/function.finished",
                serde_json::json!({ "function_id": run.function_id, "run_id": run_id, "result": output }),
                trigger,
                now,
            ));
        }
        Err(e) => {
            // An onFailure handler's own failure must not trigger handlers again.
            if run.event_name.as_deref() != Some("inngest/function.failed") {
                t.events.push(system_event(
                    "inngest/function.failed",
                    serde_json::json!({ "function_id": run.function_id, "run_id": run_id, "error": error_json(e) }),
                    trigger,
                    now,
                ));
            }
            t.events.push(system_event(
                "inngest/function.finished",
                serde_json::json!({ "function_id": run.function_id, "run_id": run_id, "error": error_json(e) }),
                trigger,
                now,
            ));
        }
    }
    if let (Some(parent), Some(step_id)) = (run.parent_run_id, run.parent_step_id.clone()) {
        t.enqueue.push(
            Payload::invoke_finished(step_id, result)
                .item(parent, continuation_due(now, now, parent)),
        );
    }
}

/// Starts the invoked function as a child run, or resolves the step at once with an error when
/// there is no such function.
#[allow(clippy::too_many_arguments)]
fn invoke<S: EngineStore + ?Sized>(
    shared: &Shared<S>,
    run: &RunRecord,
    t: &mut Transition,
    step_id: String,
    function_id: String,
    payload: &RawValue,
    timeout_at_ms: i64,
    now: i64,
) -> crate::Result<()> {
    let index = shared.cached_index();
    let Some(function) = index.as_ref().and_then(|i| i.function(&function_id)) else {
        let error = ErrorBody::new(
            "Error",
            format!("step.invoke: no synced function has the id {function_id:?}"),
        );
        t.enqueue
            .push(Payload::invoke_finished(step_id, Err(&error)).item(run.id, now));
        return Ok(());
    };
    let payload: serde_json::Value = serde_json::from_str(payload.get()).unwrap_or_default();
    let data = payload
        .get("data")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let event = Event {
        id: Ulid::new(),
        name: "inngest/function.invoked".into(),
        data: RawValue::from_string(data.to_string()).expect("json"),
        user: payload
            .get("user")
            .map(|u| RawValue::from_string(u.to_string()).expect("json")),
        external_id: None,
        ts: now,
        v: payload.get("v").and_then(|v| v.as_str()).map(str::to_owned),
        received_at: now,
    };
    let sync = index.as_ref().and_then(|i| i.sync_of(&function.app_id));
    let mut child = new_run(
        &function,
        sync,
        &[&event],
        now,
        Some((run.id, step_id.clone())),
    );
    crate::scheduler::set_limits(&mut child, &shared.config.limits);
    t.runs.push(child);
    t.direct_events.push(event);
    t.enqueue
        .push(Payload::InvokeTimeout { step_id }.item(run.id, timeout_at_ms));
    Ok(())
}
