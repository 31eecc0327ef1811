//! Functions (`/functions`, `/functions/{id}`): each function's triggers, retries and flow
//! control as synced, settings Sluice does not enforce (loudly), success and failure counts over
//! the last 24 hours, recent runs, and invoking it with a payload.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use sluice_store::{FunctionRecord, RunQuery};

use super::layout::{
    connect_help, empty, error_page, frame, json_block, status_badge, time, Live, Nav,
};
use super::seg;
use crate::auth::Viewer;
use crate::{now_ms, ApiError, SharedState};

const DAY_MS: i64 = 86_400_000;

/// Configuration keys that are flow control, in the SDKs' spelling.
const FLOW_CONTROL: [&str; 11] = [
    "concurrency",
    "throttle",
    "rateLimit",
    "debounce",
    "batchEvents",
    "priority",
    "singleton",
    "idempotency",
    "cancel",
    "timeouts",
    "optimizeParallelism",
];

#[derive(Default)]
struct Counts {
    completed: u64,
    failed: u64,
    running: u64,
    other: u64,
}

async fn counts(state: &SharedState, id: &str) -> Result<Counts, ApiError> {
    let mut c = Counts::default();
    for (status, n) in state.store.function_stats(id, now_ms() - DAY_MS).await? {
        match status.as_str() {
            "Completed" => c.completed += n,
            "Failed" => c.failed += n,
            "Running" | "Queued" => c.running += n,
            _ => c.other += n,
        }
    }
    Ok(c)
}

/// `GET /functions`.
pub async fn list(State(state): State<SharedState>, viewer: Viewer) -> Response {
    let result = async {
        let functions = state.store.list_functions().await?;
        let mut stats = Vec::with_capacity(functions.len());
        for f in &functions {
            stats.push(counts(&state, &f.id).await?);
        }
        Ok::<_, ApiError>((functions, stats))
    }
    .await;
    match result {
        Ok((functions, stats)) => {
            let body = html! {
                div.page-head { h1 { "Functions" } }
                @if functions.is_empty() {
                    (empty("No functions synced yet", connect_help(&state)))
                } @else {
                    table.functions {
                        thead { tr { th { "Function" } th { "App" } th { "Triggers" } th { "Retries" } th { "Last 24 h" } } }
                        tbody {
                            @for (f, c) in functions.iter().zip(&stats) {
                                tr {
                                    td data-label="Function" {
                                        a href=(format!("/functions/{}", seg(&f.id))) { (f.name) }
                                        div.sub { code { (f.id) } }
                                        @if !f.unenforced.is_empty() {
                                            div.warning.small { "Not enforced: " (f.unenforced.join(", ")) }
                                        }
                                    }
                                    td data-label="App" { (f.app_id) }
                                    td data-label="Triggers" { (triggers(f)) }
                                    td data-label="Retries" { (f.retries) }
                                    td data-label="Last 24 h" { (count_badges(c)) }
                                }
                            }
                        }
                    }
                }
            };
            frame(
                &state,
                &viewer,
                "Functions",
                Nav::Functions,
                Live::Off,
                body,
            )
        }
        Err(e) => error_page(&state, &viewer, Nav::Functions, e),
    }
}

fn count_badges(c: &Counts) -> Markup {
    html! {
        span.counts {
            span.badge.s-completed title="Completed in the last 24 hours" { (c.completed) " ok" }
            " " span.badge.s-failed title="Failed in the last 24 hours" { (c.failed) " failed" }
            @if c.running > 0 { " " span.badge.s-running { (c.running) " running" } }
            @if c.other > 0 { " " span.badge.s-cancelled { (c.other) " cancelled" } }
        }
    }
}

pub fn triggers(f: &FunctionRecord) -> Markup {
    let list = f.triggers.as_array().cloned().unwrap_or_default();
    html! {
        ul.triggers {
            @for t in &list {
                li {
                    @if let Some(e) = t.get("event").and_then(|v| v.as_str()) {
                        "event " code { (e) }
                        @if let Some(x) = t.get("expression").and_then(|v| v.as_str()).filter(|x| !x.is_empty()) {
                            " if " code { (x) }
                        }
                    } @else if let Some(c) = t.get("cron").and_then(|v| v.as_str()) {
                        "cron " code { (c) }
                    } @else {
                        code { (t.to_string()) }
                    }
                }
            }
        }
    }
}

/// `GET /functions/{id}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let f = state
            .store
            .get_function(&id)
            .await?
            .ok_or_else(|| super::layout::not_found(format!("no function {id}")))?;
        let c = counts(&state, &f.id).await?;
        let recent = state
            .store
            .list_runs(RunQuery {
                function_id: Some(f.id.clone()),
                limit: 10,
                ..RunQuery::default()
            })
            .await?;
        Ok::<_, ApiError>((f, c, recent))
    }
    .await;
    match result {
        Ok((f, c, recent)) => {
            let title = f.name.clone();
            let body = render(&f, &c, &recent);
            frame(&state, &viewer, &title, Nav::Functions, Live::Off, body)
        }
        Err(e) => error_page(&state, &viewer, Nav::Functions, e),
    }
}

fn render(f: &FunctionRecord, c: &Counts, recent: &[sluice_store::RunRecord]) -> Markup {
    let flow: Vec<(&str, &serde_json::Value)> = FLOW_CONTROL
        .iter()
        .filter_map(|k| f.config.get(*k).map(|v| (*k, v)))
        .collect();
    html! {
        div.page-head { h1 { (f.name) } }
        @if !f.unenforced.is_empty() {
            div.warning.loud role="alert" {
                strong { "Sluice does not enforce these settings yet: " (f.unenforced.join(", ")) "." }
                " The app was synced with " code { "--allow-unenforced" } ", so this function runs as if they were not set. "
                "Do not rely on them to protect an API or a database."
            }
        }
        dl.facts {
            dt { "Id" } dd { code { (f.id) } }
            dt { "App" } dd { a href="/apps" { (f.app_id) } }
            dt { "URL" } dd { code { (f.url) } }
            dt { "Triggers" } dd { (triggers(f)) }
            dt { "Retries" } dd { (f.retries) " (" (f.retries + 1) " attempts per step)" }
            dt { "Flow control" } dd {
                @if flow.is_empty() { span.muted { "none" } }
                @for (k, v) in &flow {
                    div { code { (k) } ": " code { (v.to_string()) }
                        @if f.unenforced.iter().any(|u| u == k) { " " span.badge.s-failed { "not enforced" } }
                    }
                }
            }
            dt { "Last 24 h" } dd { (count_badges(c)) }
        }
        section {
            h2 { "Invoke" }
            form.stack data-action=(format!("/dashboard/actions/functions/{}/invoke", seg(&f.id))) data-then="goto:/runs/{data.run_id}" data-json-form {
                label { span { "Event data (JSON object), sent as " code { "inngest/function.invoked" } }
                    textarea name="data" rows="5" spellcheck="false" data-json="object" { "{}" }
                }
                p.json-error role="alert" hidden {}
                button type="submit" { "Invoke " (f.name) }
            }
        }
        section {
            h2 { "Recent runs" }
            @if recent.is_empty() { p.muted { "No runs yet." } }
            @else {
                ul.run-list {
                    @for r in recent {
                        li { a href=(format!("/runs/{}", r.id)) { code.id { (r.id) } } " " (status_badge(&r.status)) " " (time(r.created_at_ms)) }
                    }
                }
                p { a href=(format!("/?function={}", seg(&f.id))) { "All runs of this function →" } }
            }
        }
        details {
            summary { "Configuration as synced" }
            (json_block(&f.config.to_string(), None))
        }
    }
}
