//! Events (`/events`, `/events/{id}`): the log with a name filter, each payload exactly as
//! stored, the runs each event triggered, replay, and a form to send a test event (its JSON is
//! checked in the browser before it is sent).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use sluice_core::event::Event;
use sluice_store::EventQuery;
use ulid::Ulid;

use super::layout::{
    action_button, empty, error_page, frame, json_block, raw_block, short_id, status_badge, time,
    Live, Nav,
};
use super::qv;
use crate::auth::Viewer;
use crate::{ApiError, SharedState};

const PAGE: usize = 30;
/// How much of a payload the list shows before "…".
const PREVIEW: usize = 160;

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    name: Option<String>,
    cursor: Option<String>,
}

/// `GET /events`.
pub async fn list(
    State(state): State<SharedState>,
    viewer: Viewer,
    Query(p): Query<Params>,
) -> Response {
    match render_list(&state, &p).await {
        Ok(body) => frame(&state, &viewer, "Events", Nav::Events, Live::Off, body),
        Err(e) => error_page(&state, &viewer, Nav::Events, e),
    }
}

async fn render_list(state: &SharedState, p: &Params) -> Result<Markup, ApiError> {
    let name = p.name.clone().filter(|n| !n.trim().is_empty());
    let cursor = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| Ulid::from_string(c).map_err(|_| ApiError::bad_request("bad cursor")))
        .transpose()?;
    let mut events = state
        .store
        .list_events(EventQuery {
            name: name.clone(),
            cursor,
            limit: PAGE + 1,
        })
        .await?;
    let more = events.len() > PAGE;
    events.truncate(PAGE);
    let mut counts = Vec::with_capacity(events.len());
    for e in &events {
        counts.push(state.store.runs_for_event(e.id).await?.len());
    }
    let link = |cursor: Option<&str>| {
        let mut q = Vec::new();
        if let Some(n) = &name {
            q.push(format!("name={}", qv(n)));
        }
        if let Some(c) = cursor {
            q.push(format!("cursor={c}"));
        }
        if q.is_empty() {
            "/events".to_owned()
        } else {
            format!("/events?{}", q.join("&"))
        }
    };
    Ok(html! {
        div.page-head { h1 { "Events" } }
        (send_form(name.as_deref()))
        form.filters method="get" action="/events" {
            label { "Event name"
                input type="text" name="name" value=(name.clone().unwrap_or_default()) placeholder="exact name, e.g. clerk/user.created";
            }
            div.filter-buttons {
                button type="submit" { "Filter" }
                @if name.is_some() { a.button.secondary href="/events" { "Clear" } }
            }
        }
        @if events.is_empty() {
            @if name.is_some() || cursor.is_some() {
                (empty("No events match", html! { p { a href="/events" { "Show all events" } } }))
            } @else {
                (empty("No events yet", html! {
                    p { "Send one with the form above, with " code { "sluice send" } ", or from your code:" }
                    pre { code { "curl -X POST http://127.0.0.1:8288/e/<event key> -d '{\"name\":\"app/hello\",\"data\":{}}'" } }
                }))
            }
        } @else {
            table.events {
                thead { tr { th { "Name" } th { "Payload" } th { "Runs" } th { "Received" } } }
                tbody {
                    @for (e, n) in events.iter().zip(&counts) {
                        tr {
                            td data-label="Name" {
                                a href=(format!("/events/{}", e.id)) { code { (e.name) } }
                                div.sub { (short_id(&e.id.to_string())) }
                            }
                            td.payload data-label="Payload" { code { (preview(e.data.get())) } }
                            td data-label="Runs" { (n) }
                            td data-label="Received" { (time(e.received_at)) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if cursor.is_some() { a href=(link(None)) { "← Newest" } }
            @if more { @if let Some(last) = events.last() {
                a href=(link(Some(&last.id.to_string()))) rel="next" { "Older →" }
            } }
        }
    })
}

fn preview(text: &str) -> String {
    if text.len() <= PREVIEW {
        return text.to_owned();
    }
    let mut cut = PREVIEW;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// The test-event form. The script checks the JSON as it is typed and before sending.
fn send_form(name: Option<&str>) -> Markup {
    html! {
        details.panel #send-event {
            summary { "Send a test event" }
            form.stack data-action="/dashboard/actions/events/send" data-then="goto:/events/{ids.0}" data-json-form {
                label { "Name"
                    input type="text" name="name" required value=(name.unwrap_or("")) placeholder="app/user.created";
                }
                label { "Data (JSON object)"
                    textarea name="data" rows="6" spellcheck="false" data-json="object" { "{\n  \n}" }
                }
                p.json-error role="alert" hidden {}
                button type="submit" { "Send event" }
            }
        }
    }
}

/// `GET /events/{id}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let missing = || super::layout::not_found(format!("no event {id}"));
        let id = Ulid::from_string(&id).map_err(|_| missing())?;
        let event = state.store.get_event(id).await?.ok_or_else(missing)?;
        let runs = state.store.runs_for_event(id).await?;
        Ok::<_, ApiError>((event, runs))
    }
    .await;
    match result {
        Ok((event, runs)) => {
            let title = format!("Event {}", event.name);
            frame(
                &state,
                &viewer,
                &title,
                Nav::Events,
                Live::Off,
                render_event(&event, &runs),
            )
        }
        Err(e) => error_page(&state, &viewer, Nav::Events, e),
    }
}

fn render_event(e: &Event, runs: &[sluice_store::RunRecord]) -> Markup {
    let raw_url = format!("/dashboard/raw/events/{}", e.id);
    html! {
        div.page-head {
            h1 { code { (e.name) } }
            div.actions {
                (action_button("Replay", &format!("/dashboard/actions/events/{}/replay", e.id), "POST", None,
                    Some("Send this event again? Every function it triggers runs again."), "goto:/events/{ids.0}", ""))
            }
        }
        dl.facts {
            dt { "Id" } dd { code.id { (e.id) } }
            @if let Some(x) = &e.external_id { dt { "Sender's id" } dd { code { (x) } } }
            dt { "Time (ts)" } dd { (time(e.ts)) }
            dt { "Received" } dd { (time(e.received_at)) }
            @if let Some(v) = &e.v { dt { "Version" } dd { code { (v) } } }
        }
        section {
            h2 { "Runs it triggered" }
            @if runs.is_empty() {
                p.muted { "None. No synced function listens to " code { (e.name) } ", or its expression did not match." }
            } @else {
                ul.run-list {
                    @for r in runs {
                        li { a href=(format!("/runs/{}", r.id)) { (r.function_id) } " " (status_badge(&r.status)) " " (time(r.created_at_ms)) }
                    }
                }
            }
        }
        section {
            h2 { "Data, exactly as stored" }
            (raw_block(e.data.get(), Some(&raw_url)))
            details {
                summary { "Pretty-printed" }
                (json_block(e.data.get(), Some(&raw_url)))
            }
            @if let Some(user) = &e.user {
                h2 { "User" }
                (raw_block(user.get(), None))
            }
        }
    }
}
