//! One run (`/runs/{id}`): what triggered it, which app sync it ran against (and whether the app
//! has moved on since), a timeline of every attempt of every step, the final output or error,
//! and the actions cancel, rerun and rerun from a step.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::json;
use sluice_core::run::RunState;
use sluice_store::{AppRecord, FunctionRecord, HistoryEntry, RunRecord, SyncRecord};
use ulid::Ulid;

use super::layout::{
    action_button, duration, error_block, error_page, frame, json_block, opt_time, short_id,
    status_badge, time, Live, Nav,
};
use super::runs::{function_link, trigger};
use super::seg;
use crate::auth::Viewer;
use crate::{now_ms, ApiError, SharedState};

/// Everything the page shows, loaded up front.
struct Loaded {
    run: RunRecord,
    history: Vec<HistoryEntry>,
    function: Option<FunctionRecord>,
    app: Option<AppRecord>,
    sync: Option<SyncRecord>,
    /// The app's current sync, when it differs from the run's.
    current_sync: Option<SyncRecord>,
}

async fn load(state: &SharedState, id: &str) -> Result<Loaded, ApiError> {
    let missing = || super::layout::not_found(format!("no run {id}"));
    let id = Ulid::from_string(id).map_err(|_| missing())?;
    let run = state.store.get_run(id).await?.ok_or_else(missing)?;
    let history = state.store.history(id).await?;
    let function = state.store.get_function(&run.function_id).await?;
    let app = state.store.get_app(&run.app_id).await?;
    let sync = match run.sync_id {
        Some(s) => state.store.get_sync(s).await?,
        None => None,
    };
    let current_sync = match app.as_ref().and_then(|a| a.sync_id) {
        Some(s) if Some(s) != run.sync_id => state.store.get_sync(s).await?,
        _ => None,
    };
    Ok(Loaded {
        run,
        history,
        function,
        app,
        sync,
        current_sync,
    })
}

/// `GET /runs/{id}`.
pub async fn page(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match load(&state, &id).await {
        Ok(l) => {
            let live = if is_terminal(&l.run.status) {
                Live::Off
            } else {
                let since = super::stream::fingerprint(&state, Some(l.run.id)).await;
                Live::Run(l.run.id.to_string(), since)
            };
            let title = format!("Run {}", l.run.id);
            frame(&state, &viewer, &title, Nav::Runs, live, render(&l))
        }
        Err(e) => error_page(&state, &viewer, Nav::Runs, e),
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "Completed" | "Failed" | "Cancelled")
}

fn render(l: &Loaded) -> Markup {
    let run = &l.run;
    let name = l
        .function
        .as_ref()
        .map(|f| f.name.clone())
        .unwrap_or_else(|| run.function_id.clone());
    let now = now_ms();
    html! {
        div.page-head {
            h1 { (function_link(&run.function_id, &name)) " " (status_badge(&run.status)) }
            div.actions { (actions(l)) }
        }
        (stale_warning(l))
        dl.facts {
            dt { "Run" } dd { code.id { (run.id) } }
            dt { "Trigger" } dd { (trigger(run)) }
            dt { "Queued" } dd { (time(run.created_at_ms)) }
            dt { "Started" } dd { (opt_time(run.started_at_ms)) }
            dt { "Ended" } dd { (opt_time(run.ended_at_ms)) }
            dt { "Duration" } dd {
                @match (run.started_at_ms, run.ended_at_ms) {
                    (Some(s), Some(e)) => (duration(e - s)),
                    (Some(s), None) => { (duration(now - s)) " so far" },
                    _ => span.muted { "not started" },
                }
            }
            dt { "App" } dd { a href="/apps" { (run.app_id) } }
            dt { "Sync" } dd { (sync_facts(l.sync.as_ref(), run.sync_id)) }
            @if let Some(parent) = run.parent_run_id {
                dt { "Invoked by" } dd { a href=(format!("/runs/{parent}")) { (short_id(&parent.to_string())) } }
            }
        }
        (result(run))
        section {
            h2 { "Timeline" }
            (timeline(l, now))
        }
        section {
            h2 { "Trigger events" }
            (events(run))
        }
    }
}

fn sync_facts(sync: Option<&SyncRecord>, id: Option<Ulid>) -> Markup {
    match (sync, id) {
        (Some(s), _) => html! {
            span { "synced " (time(s.at_ms)) }
            " · SDK " code { (s.sdk.as_deref().unwrap_or("unknown")) }
            " · functions " code title=(s.function_hash.as_deref().unwrap_or("")) {
                (s.function_hash.as_deref().map(|h| h.chars().take(12).collect::<String>()).unwrap_or_else(|| "—".into()))
            }
        },
        (None, Some(id)) => html! { code.id { (id) } " (no longer in the sync history)" },
        (None, None) => html! { span.muted { "unknown (the run was created without a sync)" } },
    }
}

/// The warning the product promises: the app was re-synced with a different function set after
/// this run's sync, so the code that ran here is not the code that would run now.
fn stale_warning(l: &Loaded) -> Markup {
    let (Some(app), Some(current)) = (l.app.as_ref(), l.current_sync.as_ref()) else {
        return html! {};
    };
    let then_hash = l.sync.as_ref().and_then(|s| s.function_hash.as_deref());
    let now_hash = app.function_hash.as_deref();
    if then_hash.is_some() && then_hash == now_hash {
        return html! {};
    }
    let short = |h: Option<&str>| {
        h.map(|h| h.chars().take(12).collect::<String>())
            .unwrap_or_else(|| "unknown".into())
    };
    html! {
        div.warning.loud role="alert" {
            strong { "This run used an older version of the app." }
            " App " code { (app.id) } " has been re-synced with a different function set since: this run ran against functions "
            code { (short(then_hash)) } ", the app now serves " code { (short(now_hash)) }
            " (synced " (time(current.at_ms)) ", SDK " (current.sdk.as_deref().unwrap_or("unknown")) "). "
            "If you fixed a bug since, rerun to use the new code."
        }
    }
}

fn result(run: &RunRecord) -> Markup {
    html! {
        @if let Some(error) = &run.error {
            section.result.failed {
                h2 { "Error" }
                (error_block(error))
            }
        } @else if let Some(output) = &run.output {
            section.result {
                h2 { "Output" }
                (json_block(output, Some(&format!("/dashboard/raw/runs/{}/output", run.id))))
            }
        }
    }
}

fn actions(l: &Loaded) -> Markup {
    let run = &l.run;
    let base = format!("/dashboard/actions/v1/runs/{}", run.id);
    // Completed steps in memo order, named from the history: the choices for "rerun from".
    let names: HashMap<&str, &str> = l
        .history
        .iter()
        .filter_map(|h| Some((h.step_id.as_deref()?, h.name.as_deref()?)))
        .collect();
    let stack = serde_json::from_str::<RunState>(&run.state)
        .map(|s| s.stack)
        .unwrap_or_default();
    html! {
        @if !is_terminal(&run.status) {
            (action_button("Cancel", &format!("{base}/cancel"), "POST", None,
                Some("Cancel this run? Steps in flight finish, nothing else runs."), "reload", "danger"))
        }
        (action_button("Rerun", &format!("{base}/rerun"), "POST", Some(json!({})), None, "goto:/runs/{data.run_id}", ""))
        @if !stack.is_empty() {
            form.inline data-action=(format!("{base}/rerun")) data-then="goto:/runs/{data.run_id}" {
                select name="from_step" aria-label="Step to rerun from" {
                    @for (i, id) in stack.iter().enumerate() {
                        option value=(id) { "from " (names.get(id.as_str()).copied().unwrap_or(id.as_str())) " (keeps " (i) " earlier results)" }
                    }
                }
                button type="submit" { "Rerun from step" }
            }
        }
    }
}

/// Attempt labels: `insert-user`, `function code`, with the kind marked.
fn label(h: &HistoryEntry) -> (String, &'static str) {
    let kind = match h.kind.as_str() {
        "function" => "function",
        "run" => "step",
        "sleep" => "sleep",
        "wait_for_event" => "wait",
        "invoke" => "invoke",
        _ => "other",
    };
    let name = match (&h.name, h.kind.as_str()) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, "function") => "function code".into(),
        _ => h.step_id.clone().unwrap_or_else(|| "step".into()),
    };
    (name, kind)
}

fn pct(x: i64, t0: i64, span: i64) -> f64 {
    ((x - t0) as f64 / span as f64 * 100.0).clamp(0.0, 100.0)
}

fn bar(class: &str, from: i64, to: i64, t0: i64, span: i64, title: &str) -> Markup {
    let left = pct(from, t0, span);
    let width = (pct(to, t0, span) - left).max(0.4);
    let style = format!("left:{left:.3}%;width:{width:.3}%");
    html! { span class=(class) style=(style) title=(title) {} }
}

fn timeline(l: &Loaded, now: i64) -> Markup {
    let run = &l.run;
    if l.history.is_empty() {
        return html! {
            p.muted { @if is_terminal(&run.status) { "No attempts were recorded." } @else { "Waiting for the first call to the app…" } }
        };
    }
    let t0 = l
        .history
        .iter()
        .filter_map(|h| h.queued_at_ms)
        .chain([run.created_at_ms])
        .min()
        .unwrap_or(run.created_at_ms);
    let mut t1 = run.ended_at_ms.unwrap_or(now);
    for h in &l.history {
        t1 = t1.max(h.ended_at_ms);
        if let Some(r) = h.retry_at_ms {
            // A future wake-up stretches the axis only up to now, unless the run ended.
            t1 = t1.max(r.min(run.ended_at_ms.unwrap_or(now).max(h.ended_at_ms)));
        }
    }
    let span = (t1 - t0).max(1);
    let step_attempts = attempts_per_step(&l.history);
    html! {
        div.timeline {
            div.axis aria-hidden="true" {
                @for q in [0, 25, 50, 75, 100] {
                    span style=(format!("left:{q}%")) { "+" (duration(span * q / 100)) }
                }
            }
            @for h in &l.history { (attempt(run, h, t0, span, &step_attempts)) }
        }
        p.legend {
            span.key.queue {} " queued " span.key.exec {} " running " span.key.err {} " failed "
            span.key.wait {} " sleeping, waiting or retry scheduled"
        }
    }
}

fn attempts_per_step(history: &[HistoryEntry]) -> HashMap<String, u32> {
    let mut n = HashMap::new();
    for h in history {
        *n.entry(h.step_id.clone().unwrap_or_default()).or_insert(0) += 1;
    }
    n
}

fn attempt(
    run: &RunRecord,
    h: &HistoryEntry,
    t0: i64,
    span: i64,
    attempts: &HashMap<String, u32>,
) -> Markup {
    let (name, kind) = label(h);
    let exec_class = match h.status.as_str() {
        "error" => "seg err",
        "scheduled" => "seg wait",
        _ => "seg exec",
    };
    let queued = h.queued_at_ms.filter(|q| *q < h.started_at_ms);
    let ran = h.ended_at_ms - h.started_at_ms;
    let raw = |field: &str| format!("/dashboard/raw/runs/{}/history/{}/{field}", run.id, h.id);
    let retried = attempts
        .get(h.step_id.as_deref().unwrap_or_default())
        .copied()
        .unwrap_or(0)
        > 1;
    html! {
        details.attempt id=(format!("h-{}", h.id)) data-status=(h.status) {
            summary {
                span.label {
                    span class=(format!("kind k-{kind}")) { (kind) }
                    " " span.name { (name) }
                    @if h.attempt > 0 { " " span.badge.retry { "retry " (h.attempt) } }
                    @else if retried && h.status == "error" { " " span.badge.retry { "attempt 1" } }
                }
                span.track {
                    @if let Some(q) = queued {
                        (bar("seg queue", q, h.started_at_ms, t0, span, &format!("queued {}", duration(h.started_at_ms - q))))
                    }
                    @if h.status == "scheduled" {
                        (bar("seg wait", h.started_at_ms, h.retry_at_ms.unwrap_or(h.ended_at_ms).min(t0 + span), t0, span, &format!("{kind} until {}", h.retry_at_ms.map(iso).unwrap_or_default())))
                    } @else {
                        (bar(exec_class, h.started_at_ms, h.ended_at_ms, t0, span, &format!("ran {}", duration(ran))))
                        @if let Some(r) = h.retry_at_ms {
                            (bar("seg wait", h.ended_at_ms, r.min(t0 + span), t0, span, &format!("retry at {}", iso(r))))
                        }
                    }
                }
                span.timing {
                    @if let Some(q) = queued { "queued " (duration(h.started_at_ms - q)) " · " }
                    @if h.status == "scheduled" { "until " } @else { "ran " (duration(ran)) }
                    @if h.status == "scheduled" { @if let Some(r) = h.retry_at_ms { (time(r)) } }
                }
            }
            div.attempt-body {
                dl.facts {
                    dt { "Kind" } dd { (h.kind) @if let Some(s) = &h.step_id { " · step id " code.id { (s) } } }
                    dt { "Attempt" } dd { (h.attempt + 1) }
                    @if let Some(q) = h.queued_at_ms { dt { "Due" } dd { (time(q)) } }
                    dt { "Started" } dd { (time(h.started_at_ms)) }
                    dt { "Ended" } dd { (time(h.ended_at_ms)) }
                    @if let Some(r) = h.retry_at_ms {
                        dt { @if h.status == "scheduled" { "Resolves by" } @else { "Next attempt" } }
                        dd { (time(r)) }
                    }
                }
                @if let Some(input) = &h.input { h3 { "Input" } (json_block(input, Some(&raw("input")))) }
                @if let Some(output) = &h.output { h3 { "Output" } (json_block(output, Some(&raw("output")))) }
                @if let Some(error) = &h.error { h3 { "Error" } (error_block(error)) }
            }
        }
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn events(run: &RunRecord) -> Markup {
    let list: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_str(&run.events).unwrap_or_default();
    html! {
        @if list.is_empty() { p.muted { "No trigger events." } }
        @for (i, e) in list.iter().enumerate() {
            @if i == 0 { @if let Some(id) = run.event_id {
                p { a href=(format!("/events/{id}")) { "Event " (short_id(&id.to_string())) } }
            } }
            (json_block(e.get(), Some(&format!("/dashboard/raw/runs/{}/events", seg(&run.id.to_string())))))
        }
    }
}
