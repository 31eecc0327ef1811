//! Webhooks (`/sources`, `/sources/{name}`, `/sources/{name}/deliveries/{id}`): each source and
//! the URL to give its sender; its deliveries, accepted, rejected with the reason, duplicate or
//! failed; a delivery's raw body, headers and the events it produced; replay; and editing and
//! testing the source's transform against a stored delivery.
//!
//! The page reads the [`sluice_store::WebhookStore`]; every change goes through the webhooks
//! REST API (`/v1/webhooks/...`) via the dashboard's action forwarder. Secrets are never shown.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_store::{Delivery, DeliveryQuery, DeliverySummary, Outcome, WebhookSource};
use ulid::Ulid;

use super::layout::{
    action_button, empty, error_page, frame, json_block, raw_block, short_id, time, Live, Nav,
};
use super::{qv, seg};
use crate::auth::Viewer;
use crate::{ApiError, SharedState};

const PAGE: usize = 30;
const PRESETS: [&str; 5] = ["clerk", "stripe", "github", "shopify", "generic"];

/// The intake URL for a source, as its sender must be given it.
fn intake_url(state: &SharedState, headers: &HeaderMap, name: &str) -> String {
    let base = match &state.config.webhooks.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!(
            "http://{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8288")
        ),
    };
    format!("{base}/webhooks/{}", seg(name))
}

/// What the page shows of a source's config: never the secrets, only how many there are.
struct Shown {
    preset: Option<String>,
    scheme: String,
    secrets: usize,
    transform: Option<String>,
    tolerance_secs: Option<i64>,
}

fn shown(row: &WebhookSource) -> Shown {
    let v: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
    let scheme = match v.get("scheme") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("custom")
            .to_owned(),
        Some(other) => other.to_string(),
        None => "none".into(),
    };
    Shown {
        preset: v.get("preset").and_then(|p| p.as_str()).map(str::to_owned),
        scheme,
        secrets: v
            .get("secrets")
            .and_then(|s| s.as_array())
            .map_or(0, |a| a.len()),
        transform: v
            .get("transform")
            .and_then(|t| t.as_str())
            .map(str::to_owned),
        tolerance_secs: v.get("tolerance_secs").and_then(|t| t.as_i64()),
    }
}

fn outcome_badge(o: Outcome) -> Markup {
    let class = match o {
        Outcome::Accepted => "badge s-completed",
        Outcome::Rejected => "badge s-failed",
        Outcome::Duplicate => "badge s-cancelled",
        Outcome::Failed => "badge s-failed",
    };
    html! { span class=(class) { (o.as_str()) } }
}

/// `GET /sources`.
pub async fn list(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let rows = state.store.list_webhook_sources().await?;
        let mut counts = Vec::with_capacity(rows.len());
        for r in &rows {
            counts.push(state.store.delivery_counts(&r.name).await?);
        }
        Ok::<_, ApiError>((rows, counts))
    }
    .await;
    match result {
        Ok((rows, counts)) => {
            let body = html! {
                div.page-head { h1 { "Webhooks" } }
                (create_form())
                @if rows.is_empty() {
                    (empty("No webhook sources yet", html! {
                        p { "A source gives a sender such as Clerk, Stripe or GitHub a URL to deliver to. Sluice verifies each delivery's signature, stores it, and turns it into events that trigger your functions." }
                        p { "Create one with the form above, or from a terminal:" }
                        pre { code { "sluice webhooks add clerk --preset clerk --secret whsec_…" } }
                    }))
                } @else {
                    table.sources {
                        thead { tr { th { "Source" } th { "URL to give the sender" } th { "Verifier" } th { "Deliveries" } } }
                        tbody {
                            @for (row, c) in rows.iter().zip(&counts) {
                                @let s = shown(row);
                                tr {
                                    td data-label="Source" { a href=(format!("/sources/{}", seg(&row.name))) { (row.name) } }
                                    td data-label="URL" { code.copy { (intake_url(&state, &headers, &row.name)) } }
                                    td data-label="Verifier" { (s.preset.as_deref().unwrap_or("custom")) " · " (s.scheme) }
                                    td data-label="Deliveries" {
                                        span.counts {
                                            span.badge.s-completed { (c.accepted) " accepted" } " "
                                            span.badge.s-failed { (c.rejected + c.failed) " refused" } " "
                                            span.badge.s-cancelled { (c.duplicate) " duplicate" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            frame(&state, &viewer, "Webhooks", Nav::Webhooks, Live::Off, body)
        }
        Err(e) => error_page(&state, &viewer, Nav::Webhooks, e),
    }
}

fn create_form() -> Markup {
    html! {
        details.panel {
            summary { "Add a source" }
            form.stack data-action="/dashboard/actions/v1/webhooks" data-then="goto:/sources/{data.name}" data-shape="webhook-source" {
                label { "Name (the last part of its URL)" input type="text" name="name" required pattern="[A-Za-z0-9._-]+" placeholder="clerk"; }
                label { "Preset"
                    select name="preset" { @for p in PRESETS { option value=(p) { (p) } } }
                }
                label { "Signing secret (from the sender's dashboard)" input type="password" name="secret" autocomplete="off" placeholder="whsec_…"; }
                button type="submit" { "Create source" }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveryParams {
    outcome: Option<String>,
    cursor: Option<String>,
}

/// `GET /sources/{name}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(p): Query<DeliveryParams>,
) -> Response {
    let result = async {
        let row = state
            .store
            .get_webhook_source(&name)
            .await?
            .ok_or_else(|| super::layout::not_found(format!("no webhook source {name:?}")))?;
        let outcome = p.outcome.as_deref().filter(|o| !o.is_empty()).map(|o| {
            Outcome::parse(o).ok_or_else(|| ApiError::bad_request(format!("unknown outcome {o:?}")))
        });
        let outcome = outcome.transpose()?;
        let cursor = p
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| Ulid::from_string(c).map_err(|_| ApiError::bad_request("bad cursor")))
            .transpose()?;
        let mut page = state
            .store
            .list_deliveries(DeliveryQuery {
                source: name.clone(),
                outcome,
                cursor,
                limit: PAGE + 1,
            })
            .await?;
        let more = page.len() > PAGE;
        page.truncate(PAGE);
        let counts = state.store.delivery_counts(&name).await?;
        Ok::<_, ApiError>((row, page, more, counts, outcome, cursor.is_some()))
    }
    .await;
    match result {
        Ok((row, deliveries, more, counts, outcome, paged)) => {
            let url = intake_url(&state, &headers, &row.name);
            let s = shown(&row);
            let link = |cursor: Option<&str>| {
                let mut q = Vec::new();
                if let Some(o) = outcome {
                    q.push(format!("outcome={}", o.as_str()));
                }
                if let Some(c) = cursor {
                    q.push(format!("cursor={}", qv(c)));
                }
                format!("/sources/{}?{}", seg(&row.name), q.join("&"))
            };
            let body = html! {
                div.page-head {
                    h1 { "Source " code { (row.name) } }
                    div.actions {
                        (action_button("Delete source", &format!("/dashboard/actions/v1/webhooks/{}", seg(&row.name)), "DELETE", None,
                            Some("Delete this source and its delivery history? Events it produced stay."), "goto:/sources", "danger"))
                    }
                }
                dl.facts {
                    dt { "URL for the sender" } dd { code.copy { (url) } }
                    dt { "Preset" } dd { (s.preset.as_deref().unwrap_or("none (transform)")) }
                    dt { "Verifier" } dd { (s.scheme) " · " (s.secrets) " secret(s)"
                        @if let Some(t) = s.tolerance_secs { " · timestamps within " (t) " s" } }
                    dt { "Deliveries" } dd {
                        a href=(format!("/sources/{}?outcome=accepted", seg(&row.name))) { (counts.accepted) " accepted" } " · "
                        a href=(format!("/sources/{}?outcome=rejected", seg(&row.name))) { (counts.rejected) " rejected" } " · "
                        a href=(format!("/sources/{}?outcome=failed", seg(&row.name))) { (counts.failed) " failed" } " · "
                        a href=(format!("/sources/{}?outcome=duplicate", seg(&row.name))) { (counts.duplicate) " duplicate" }
                    }
                }
                (transform_editor(&row.name, &s, &deliveries))
                section {
                    h2 { "Deliveries" @if let Some(o) = outcome { " (" (o.as_str()) ", " a href=(format!("/sources/{}", seg(&row.name))) { "show all" } ")" } }
                    @if deliveries.is_empty() {
                        p.muted { "No deliveries yet. Give the sender this URL: " code { (url) } }
                    } @else {
                        table.deliveries {
                            thead { tr { th { "Received" } th { "Outcome" } th { "Reason" } th { "Events" } th { "Size" } } }
                            tbody { @for d in &deliveries { (delivery_row(&row.name, d)) } }
                        }
                    }
                    nav.pager {
                        @if paged { a href=(link(None)) { "← Newest" } }
                        @if more { @if let Some(last) = deliveries.last() { a href=(link(Some(&last.id.to_string()))) rel="next" { "Older →" } } }
                    }
                }
            };
            frame(
                &state,
                &viewer,
                &format!("Source {}", row.name),
                Nav::Webhooks,
                Live::Off,
                body,
            )
        }
        Err(e) => error_page(&state, &viewer, Nav::Webhooks, e),
    }
}

fn delivery_row(source: &str, d: &DeliverySummary) -> Markup {
    html! {
        tr {
            td data-label="Received" {
                a href=(format!("/sources/{}/deliveries/{}", seg(source), d.id)) { (time(d.received_at)) }
                @if d.replay_of.is_some() { " " span.badge { "replay" } }
            }
            td data-label="Outcome" { (outcome_badge(d.outcome)) }
            td data-label="Reason" {
                @if let Some(r) = &d.reason { (r) } @else if let Some(c) = &d.code { code { (c) } }
                @if let Some(orig) = d.duplicate_of { "duplicate of " (short_id(&orig.to_string())) }
            }
            td data-label="Events" {
                @for id in &d.event_ids { a href=(format!("/events/{id}")) { (short_id(&id.to_string())) } " " }
            }
            td data-label="Size" { (d.body_bytes) " B" }
        }
    }
}

fn transform_editor(name: &str, s: &Shown, deliveries: &[DeliverySummary]) -> Markup {
    let default = "function transform(evt, headers, queryParams, raw) {\n  return { name: \"webhook/request.received\", data: evt };\n}\n";
    let testable: Vec<&DeliverySummary> = deliveries
        .iter()
        .filter(|d| d.outcome != Outcome::Rejected)
        .collect();
    html! {
        details.panel #transform open[s.transform.is_some()] {
            summary { "Transform" @if s.transform.is_none() { " (none: the preset maps deliveries)" } }
            form.stack #transform-form data-action=(format!("/dashboard/actions/v1/webhooks/{}", seg(name))) data-method="PUT" data-then="reload" data-shape="transform" {
                label { span { "JavaScript: " code { "function transform(evt, headers, queryParams, raw)" } " returns " code { "{name, data, id?, ts?}" } " or an array" }
                    textarea name="transform" rows="8" spellcheck="false" { (s.transform.as_deref().unwrap_or(default)) }
                }
                div.row {
                    button type="submit" { "Save transform" }
                    @if testable.is_empty() {
                        span.muted { "Test it once a delivery has arrived." }
                    } @else {
                        select #test-delivery aria-label="Delivery to test against" {
                            @for d in &testable { option value=(d.id) { (d.id) } }
                        }
                        button.secondary type="button" data-test-transform=(format!("/dashboard/actions/v1/webhooks/{}/test", seg(name))) { "Test against delivery" }
                    }
                }
                pre.test-result hidden {}
            }
        }
    }
}

/// `GET /sources/{name}/deliveries/{id}`.
pub async fn delivery(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let missing = || super::layout::not_found(format!("no delivery {id} for source {name:?}"));
        let did = Ulid::from_string(&id).map_err(|_| missing())?;
        state
            .store
            .get_delivery(&name, did)
            .await?
            .ok_or_else(missing)
    }
    .await;
    match result {
        Ok(d) => {
            let body = render_delivery(&name, &d);
            frame(&state, &viewer, "Delivery", Nav::Webhooks, Live::Off, body)
        }
        Err(e) => error_page(&state, &viewer, Nav::Webhooks, e),
    }
}

fn render_delivery(name: &str, d: &Delivery) -> Markup {
    let s = &d.summary;
    let raw_url = format!("/dashboard/raw/sources/{}/deliveries/{}", seg(name), s.id);
    let text = String::from_utf8_lossy(&d.body);
    let is_json = d
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("json"));
    html! {
        div.page-head {
            h1 { "Delivery " (short_id(&s.id.to_string())) " " (outcome_badge(s.outcome)) }
            div.actions {
                @if s.outcome != Outcome::Rejected {
                    (action_button("Replay", &format!("/dashboard/actions/v1/webhooks/{}/deliveries/{}/replay", seg(name), s.id), "POST", Some(json!({})),
                        Some("Map this delivery again with the source's current preset or transform, and emit its events again?"), &format!("goto:/sources/{}/deliveries/{{delivery}}", seg(name)), ""))
                }
            }
        }
        p { a href=(format!("/sources/{}", seg(name))) { "← " (name) } }
        dl.facts {
            dt { "Received" } dd { (time(s.received_at)) }
            @if let Some(x) = &s.delivery_id { dt { "Sender's id" } dd { code { (x) } } }
            @if let Some(r) = &s.reason { dt { "Reason" } dd { (r) @if let Some(c) = &s.code { " (" code { (c) } ")" } } }
            @if let Some(o) = s.duplicate_of { dt { "Duplicate of" } dd { a href=(format!("/sources/{}/deliveries/{o}", seg(name))) { (short_id(&o.to_string())) } } }
            @if let Some(o) = s.replay_of { dt { "Replay of" } dd { a href=(format!("/sources/{}/deliveries/{o}", seg(name))) { (short_id(&o.to_string())) } } }
            dt { "Events produced" } dd {
                @if s.event_ids.is_empty() { span.muted { "none" } }
                @for id in &s.event_ids { a href=(format!("/events/{id}")) { (short_id(&id.to_string())) } " " }
            }
            dt { "Content type" } dd { code { (d.content_type.as_deref().unwrap_or("none")) } }
            @if !d.query.is_empty() { dt { "Query" } dd { code { (d.query) } } }
        }
        section {
            h2 { "Body, as received" }
            (raw_block(&text, Some(&raw_url)))
            @if is_json { details { summary { "Pretty-printed" } (json_block(&text, Some(&raw_url))) } }
        }
        section {
            h2 { "Headers (secrets redacted)" }
            table.headers { tbody { @for (k, v) in &d.headers { tr { th { (k) } td { code { (v) } } } } } }
        }
    }
}
