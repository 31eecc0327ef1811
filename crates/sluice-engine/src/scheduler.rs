//! The scheduler: turns stored events into runs, resolves waits, and fires cron triggers.
//!
//! It reads events the store marks unscheduled, so an event acknowledged just before a crash is
//! still scheduled after the restart. Runs, resolved waits and the scheduled marks are written in
//! one transaction.

use serde_json::value::RawValue;
use sluice_core::cron::Schedule;
use sluice_core::event::Event;
use sluice_core::expr::Expr;
use sluice_core::run::{apply, Action, Input, RunState};
use sluice_store::{FunctionRecord, NewRun, ScheduleBatch};
use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use ulid::Ulid;

use crate::index::event_value;
use crate::payload::{continuation_due, Payload};
use crate::{EngineStore, Shared};

/// How long an event's own `id` de-duplicates triggering.
const DEDUPE_MS: i64 = 24 * 60 * 60 * 1000;
const BATCH: usize = 500;

/// A new run for `function`, with the state machine's first actions already applied.
pub fn new_run(
    function: &FunctionRecord,
    sync_id: Option<Ulid>,
    events: &[&Event],
    now_ms: i64,
    parent: Option<(Ulid, String)>,
) -> NewRun {
    let id = Ulid::new();
    let mut state = RunState::new(id.to_string(), function.retries + 1);
    let mut enqueue = Vec::new();
    for action in apply(&mut state, Input::Start, now_ms, 0.0) {
        if let Action::Enqueue {
            work,
            attempt,
            at_ms,
        } = action
        {
            enqueue.push(Payload::Call { work, attempt }.item(id, at_ms));
        }
    }
    let wire: Vec<String> = events.iter().map(|e| e.to_wire_json()).collect();
    let first = events.first();
    NewRun {
        id,
        function_id: function.id.clone(),
        app_id: function.app_id.clone(),
        sync_id,
        event_id: first.map(|e| e.id),
        event_name: first.map(|e| e.name.clone()),
        events: format!("[{}]", wire.join(",")),
        state: serde_json::to_string(&state).expect("state serializes"),
        created_at_ms: now_ms,
        parent,
        dedupe: first
            .and_then(|e| e.external_id.clone())
            .map(|k| (k, now_ms + DEDUPE_MS)),
        enqueue,
    }
}

/// Applies this node's configured limits to a new run's state.
pub fn set_limits(run: &mut NewRun, limits: &sluice_core::run::Limits) {
    if let Ok(mut state) = serde_json::from_str::<RunState>(&run.state) {
        state.limits = limits.clone();
        run.state = serde_json::to_string(&state).expect("state serializes");
    }
}

/// One pass over unscheduled events. Returns how many it scheduled.
pub async fn schedule_pending<S: EngineStore + ?Sized>(shared: &Shared<S>) -> crate::Result<usize> {
    let events = shared.store.unscheduled_events(BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let now = shared.clock.now_ms();
    let index = shared.index().await?;
    let mut batch = ScheduleBatch::default();
    // Parsed only for events an expression looks at: most events trigger by name alone.
    let parsed: Vec<OnceCell<serde_json::Value>> = events.iter().map(|_| OnceCell::new()).collect();
    for (event, json) in events.iter().zip(&parsed) {
        batch.event_ids.push(event.id);
        for f in index.matches(event, json) {
            batch
                .runs
                .push(new_run(&f, index.sync_of(&f.app_id), &[event], now, None));
            if let Some(run) = batch.runs.last_mut() {
                set_limits(run, &shared.config.limits);
            }
        }
    }
    let names: BTreeSet<String> = events.iter().map(|e| e.name.clone()).collect();
    let waits = shared.store.waits_for(names.into_iter().collect()).await?;
    for wait in waits.into_iter().filter(|w| w.expires_at_ms > now) {
        let trigger: serde_json::Value = serde_json::from_str(&wait.trigger).unwrap_or_default();
        let expr = wait.expression.as_deref().map(Expr::compile).transpose();
        let Ok(expr) = expr else {
            tracing::warn!(run = %wait.run_id, "waitForEvent expression does not compile; it can only time out");
            continue;
        };
        let found = events.iter().zip(&parsed).find(|(e, json)| {
            e.name == wait.event_name
                && expr.as_ref().is_none_or(|x| {
                    x.eval_bool(&[("event", &trigger), ("async", event_value(e, json))])
                        .unwrap_or(false)
                })
        });
        if let Some((event, _)) = found {
            let item = Payload::WaitResolved {
                step_id: wait.step_id.clone(),
                event: event.to_wire_json(),
            }
            .item(wait.run_id, continuation_due(now, now, wait.run_id));
            batch.resolved_waits.push((wait.id, item));
        }
    }
    let n = batch.event_ids.len();
    let created = shared.store.schedule(batch).await?;
    if !created.is_empty() {
        tracing::debug!(runs = created.len(), "scheduled runs");
        shared.wake.notify_one();
    }
    Ok(n)
}

/// Fires due cron triggers. `next` remembers each trigger's next fire time; a trigger seen for the
/// first time fires at its next slot after now, so a restart does not replay missed ticks.
pub async fn fire_crons<S: EngineStore + ?Sized>(
    shared: &Shared<S>,
    next: &mut HashMap<(String, String), i64>,
) -> crate::Result<Option<i64>> {
    let now = shared.clock.now_ms();
    let index = shared.index().await?;
    let mut batch = ScheduleBatch::default();
    let mut soonest: Option<i64> = None;
    let live: BTreeSet<(String, String)> = index
        .crons
        .iter()
        .map(|c| (c.function.id.clone(), c.spec.clone()))
        .collect();
    next.retain(|k, _| live.contains(k));
    for cron in &index.crons {
        let key = (cron.function.id.clone(), cron.spec.clone());
        let Ok(schedule) = Schedule::parse(&cron.spec) else {
            continue;
        };
        let due = match next.get(&key) {
            Some(t) => *t,
            None => match schedule.next_after(now) {
                Ok(t) => {
                    next.insert(key.clone(), t);
                    t
                }
                Err(_) => continue,
            },
        };
        if due <= now {
            let data = serde_json::json!({ "cron": cron.spec }).to_string();
            let event = Event {
                id: Ulid::new(),
                name: "inngest/scheduled.timer".into(),
                data: RawValue::from_string(data).expect("json"),
                user: None,
                external_id: None,
                ts: due,
                v: None,
                received_at: now,
            };
            let mut run = new_run(
                &cron.function,
                index.sync_of(&cron.function.app_id),
                &[&event],
                now,
                None,
            );
            set_limits(&mut run, &shared.config.limits);
            // Several nodes may tick the same slot; the key lets exactly one run through.
            run.dedupe = Some((format!("cron:{}:{due}", cron.spec), now + DEDUPE_MS));
            batch.new_events.push(event);
            batch.runs.push(run);
            if let Ok(t) = schedule.next_after(due.max(now)) {
                next.insert(key.clone(), t);
            }
        }
        if let Some(t) = next.get(&key) {
            soonest = Some(soonest.map_or(*t, |s| s.min(*t)));
        }
    }
    if !batch.runs.is_empty() {
        shared.store.schedule(batch).await?;
        shared.wake.notify_one();
    }
    Ok(soonest)
}
