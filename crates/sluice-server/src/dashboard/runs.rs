//! The runs list (`/`): newest first, filtered by status, function, app, event name and time
//! range, paged by cursor (the last run id of the page) so page N costs what page 1 costs.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use sluice_store::{RunQuery, RunRecord, RUN_STATUSES};
use ulid::Ulid;

use super::layout::{
    connect_help, duration, empty, error_page, frame, short_id, status_badge, time, Live, Nav,
};
use super::{qv, seg};
use crate::auth::Viewer;
use crate::{now_ms, ApiError, SharedState};

/// Rows per page.
pub const PAGE: usize = 50;

/// Time-range presets: `(value, label, milliseconds back from now)`.
const RANGES: [(&str, &str, i64); 5] = [
    ("15m", "Last 15 minutes", 15 * 60_000),
    ("1h", "Last hour", 3_600_000),
    ("24h", "Last 24 hours", 86_400_000),
    ("7d", "Last 7 days", 7 * 86_400_000),
    ("30d", "Last 30 days", 30 * 86_400_000),
];

/// Query parameters, all optional text: an empty form field means "any".
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    status: Option<String>,
    function: Option<String>,
    app: Option<String>,
    event: Option<String>,
    range: Option<String>,
    /// Custom range bounds, epoch milliseconds (the script fills them from local date inputs).
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Params {
    fn query(&self, now: i64) -> Result<RunQuery, ApiError> {
        let status = some(&self.status);
        if let Some(s) = &status {
            if !RUN_STATUSES.contains(&s.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "status must be one of {}",
                    RUN_STATUSES.join(", ")
                )));
            }
        }
        let ms = |v: &Option<String>, what: &str| {
            some(v)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| ApiError::bad_request(format!("`{what}` is not a time")))
                })
                .transpose()
        };
        let mut from_ms = ms(&self.from, "from")?;
        if let Some(range) = some(&self.range) {
            let Some((_, _, back)) = RANGES.iter().find(|(v, _, _)| *v == range) else {
                return Err(ApiError::bad_request(format!("unknown range {range:?}")));
            };
            from_ms = Some(now - back);
        }
        let cursor = some(&self.cursor)
            .map(|c| Ulid::from_string(&c).map_err(|_| ApiError::bad_request("bad cursor")))
            .transpose()?;
        Ok(RunQuery {
            status,
            function_id: some(&self.function),
            app_id: some(&self.app),
            event_name: some(&self.event),
            from_ms,
            to_ms: ms(&self.to, "to")?,
            cursor,
            // One more than shown, to know whether there is a next page.
            limit: PAGE + 1,
        })
    }

    fn filtered(&self) -> bool {
        [
            &self.status,
            &self.function,
            &self.app,
            &self.event,
            &self.range,
            &self.from,
            &self.to,
        ]
        .iter()
        .any(|v| some(v).is_some())
    }

    /// The query string of these filters with another cursor.
    fn with_cursor(&self, cursor: Option<&str>) -> String {
        let pairs = [
            ("status", some(&self.status)),
            ("function", some(&self.function)),
            ("app", some(&self.app)),
            ("event", some(&self.event)),
            ("range", some(&self.range)),
            ("from", some(&self.from)),
            ("to", some(&self.to)),
            ("cursor", cursor.map(str::to_owned)),
        ];
        let parts: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", qv(v))))
            .collect();
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

/// `GET /`.
pub async fn page(
    State(state): State<SharedState>,
    viewer: Viewer,
    Query(params): Query<Params>,
) -> Response {
    // Taken before the list is read: a change after it ticks the stream, none is lost.
    let since = super::stream::fingerprint(&state, None).await;
    match render(&state, &params).await {
        Ok((body, live)) => page_frame(&state, &viewer, body, live.then_some(since)),
        Err(e) => error_page(&state, &viewer, Nav::Runs, e),
    }
}

fn page_frame(
    state: &SharedState,
    viewer: &Viewer,
    body: Markup,
    live: Option<Option<u64>>,
) -> Response {
    let live = match live {
        Some(since) => Live::Runs(since),
        None => Live::Off,
    };
    frame(state, viewer, "Runs", Nav::Runs, live, body)
}

async fn render(state: &SharedState, params: &Params) -> Result<(Markup, bool), ApiError> {
    let now = now_ms();
    let query = params.query(now)?;
    let first_page = query.cursor.is_none();
    let mut runs = state.store.list_runs(query).await?;
    let more = runs.len() > PAGE;
    runs.truncate(PAGE);
    let functions = state.store.list_functions().await?;
    let apps = state.store.list_apps().await?;
    let names: HashMap<&str, &str> = functions
        .iter()
        .map(|f| (f.id.as_str(), f.name.as_str()))
        .collect();

    let body = html! {
        div.page-head {
            h1 { "Runs" }
            @if first_page { span.live-dot title="Updates live" { "live" } }
        }
        (filters(params, &functions, &apps))
        @if runs.is_empty() {
            @if params.filtered() || !first_page {
                (empty("No runs match these filters", html! {
                    p { "Widen the time range or " a href="/" { "clear the filters" } "." }
                }))
            } @else if functions.is_empty() {
                (empty("No runs yet, and no apps synced", connect_help(state)))
            } @else {
                (empty("No runs yet", html! {
                    p { (functions.len()) " functions are synced. Send an event that one of them listens to from the "
                        a href="/events" { "Events" } " page, or invoke one from the "
                        a href="/functions" { "Functions" } " page." }
                }))
            }
        } @else {
            table.runs {
                thead { tr { th { "Function" } th { "Trigger" } th { "Status" } th { "Duration" } th { "Started" } } }
                tbody {
                    @for run in &runs { (row(run, &names, now)) }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if !first_page { a href=(params.with_cursor(None)) { "← Newest" } }
            @if more {
                @if let Some(last) = runs.last() {
                    a href=(params.with_cursor(Some(&last.id.to_string()))) rel="next" { "Older →" }
                }
            }
        }
    };
    Ok((body, first_page))
}

fn row(run: &RunRecord, names: &HashMap<&str, &str>, now: i64) -> Markup {
    let href = format!("/runs/{}", run.id);
    let name = names
        .get(run.function_id.as_str())
        .copied()
        .unwrap_or(run.function_id.as_str());
    let took = match (run.started_at_ms, run.ended_at_ms) {
        (Some(s), Some(e)) => Some(duration(e - s)),
        (Some(s), None) => Some(format!("{} so far", duration(now - s))),
        (None, Some(e)) => Some(duration(e - run.created_at_ms)),
        (None, None) => None,
    };
    html! {
        tr data-href=(href) {
            td.fn data-label="Function" {
                a href=(href) { (name) }
                div.sub { (short_id(&run.id.to_string())) }
            }
            td data-label="Trigger" { (trigger(run)) }
            td data-label="Status" { (status_badge(&run.status)) }
            td data-label="Duration" {
                @match took { Some(t) => (t), None => span.muted { "—" } }
            }
            td data-label="Started" { (time(run.created_at_ms)) }
        }
    }
}

/// What started a run: its event, an invoke by a parent run, or a cron tick.
pub fn trigger(run: &RunRecord) -> Markup {
    match (&run.event_name, run.event_id, run.parent_run_id) {
        (_, _, Some(parent)) => html! {
            span.trigger { "invoked by " a href=(format!("/runs/{parent}")) { (short_id(&parent.to_string())) } }
        },
        (Some(name), Some(id), None) if name == "inngest/scheduled.timer" => html! {
            a.trigger href=(format!("/events/{id}")) { "cron" }
        },
        (Some(name), Some(id), None) => {
            html! { a.trigger href=(format!("/events/{id}")) { code { (name) } } }
        }
        (Some(name), None, None) => html! { code { (name) } },
        _ => html! { span.muted { "—" } },
    }
}

fn filters(
    params: &Params,
    functions: &[sluice_store::FunctionRecord],
    apps: &[sluice_store::AppRecord],
) -> Markup {
    let cur = |v: &Option<String>| some(v).unwrap_or_default();
    let (status, function, app, event, range) = (
        cur(&params.status),
        cur(&params.function),
        cur(&params.app),
        cur(&params.event),
        cur(&params.range),
    );
    html! {
        form.filters method="get" action="/" data-time-range {
            label { "Status"
                select name="status" {
                    option value="" { "Any" }
                    @for s in RUN_STATUSES { option value=(s) selected[status == s] { (s) } }
                }
            }
            label { "Function"
                select name="function" {
                    option value="" { "Any" }
                    @for f in functions { option value=(f.id) selected[function == f.id] { (f.name) } }
                }
            }
            label { "App"
                select name="app" {
                    option value="" { "Any" }
                    @for a in apps { option value=(a.id) selected[app == a.id] { (a.id) } }
                }
            }
            label { "Event name"
                input type="text" name="event" value=(event) placeholder="e.g. clerk/user.created";
            }
            label { "Time"
                select name="range" {
                    option value="" { "Any time" }
                    @for (v, l, _) in RANGES { option value=(v) selected[range == v] { (l) } }
                }
            }
            label.custom-range { "From"
                input type="datetime-local" data-ms-for="from";
            }
            label.custom-range { "To"
                input type="datetime-local" data-ms-for="to";
            }
            input type="hidden" name="from" value=(cur(&params.from));
            input type="hidden" name="to" value=(cur(&params.to));
            div.filter-buttons {
                button type="submit" { "Filter" }
                @if params.filtered() { a.button.secondary href="/" { "Clear" } }
            }
        }
    }
}

/// A function's page link.
pub fn function_link(id: &str, name: &str) -> Markup {
    html! { a href=(format!("/functions/{}", seg(id))) { (name) } }
}
