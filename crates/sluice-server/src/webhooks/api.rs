//! The webhooks REST API: sources, their delivery history, replay, and transform tests.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/webhooks` | every source, secrets masked, with delivery counts |
//! | `POST /v1/webhooks` | create a source (409 if the name is taken) |
//! | `GET/PUT/DELETE /v1/webhooks/{name}` | show, change (absent fields are kept), delete |
//! | `GET /v1/webhooks/{name}/deliveries?cursor&limit&outcome` | history, newest first |
//! | `GET /v1/webhooks/{name}/deliveries/{id}` | one delivery: raw body, redacted headers, reason |
//! | `POST /v1/webhooks/{name}/deliveries/{id}/replay` | map the stored body again, emit again |
//! | `POST /v1/webhooks/{name}/test` | `{transform?, delivery_id}`: the events it would make |
//!
//! Who may call these routes is decided in front of them, by the server's REST guard (in cloud
//! mode, the signing key as a bearer token or a dashboard session), as for every `/v1` route.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sluice_store::{Delivery, DeliveryQuery, DeliverySummary, NewDelivery, Outcome, WebhookSource};
use sluice_webhooks::{process_with_limits, EventDraft, Processed, Scheme, Source};
use ulid::Ulid;

use super::intake::{notify_engine, recorded_response, Refusal};
use super::source::{
    check_allowed, intake_url, parse_stored, rfc3339, to_stored, SourceIn, SourceOut,
};
use super::{to_events, Intake, WebhookError};
use crate::{now_ms, SharedState};

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body)
        .map_err(|e| WebhookError::bad_request(format!("invalid request body: {e}")))
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => WebhookError::internal(e).into_response(),
    }
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

async fn load(state: &SharedState, name: &str) -> Result<(WebhookSource, Source), WebhookError> {
    let row = state
        .store
        .get_webhook_source(name)
        .await?
        .ok_or_else(|| WebhookError::not_found(format!("no webhook source named {name:?}")))?;
    let source = parse_stored(&row)?;
    Ok((row, source))
}

async fn source_response(
    state: &SharedState,
    headers: &HeaderMap,
    status: StatusCode,
    row: &WebhookSource,
    source: &Source,
) -> Result<Response, WebhookError> {
    let counts = state.store.delivery_counts(&source.name).await?;
    let url = intake_url(&state.config, headers, &source.name);
    Ok(json(
        status,
        &Data {
            data: SourceOut::new(source, row, url, counts),
        },
    ))
}

pub(super) async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebhookError> {
    let rows = state.store.list_webhook_sources().await?;
    let mut sources = Vec::with_capacity(rows.len());
    for row in &rows {
        let counts = state.store.delivery_counts(&row.name).await?;
        sources.push((parse_stored(row)?, counts));
    }
    let data: Vec<SourceOut> = rows
        .iter()
        .zip(&sources)
        .map(|(row, (source, counts))| {
            let url = intake_url(&state.config, &headers, &source.name);
            SourceOut::new(source, row, url, *counts)
        })
        .collect();
    Ok(json(StatusCode::OK, &Data { data }))
}

pub(super) async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebhookError> {
    let source = parse_json::<SourceIn>(&body)?.create()?;
    check_allowed(&state.config, &source)?;
    if state
        .store
        .get_webhook_source(&source.name)
        .await?
        .is_some()
    {
        return Err(WebhookError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "a source named {:?} exists; change it with PUT /v1/webhooks/{}",
                source.name, source.name
            ),
        ));
    }
    let row = state
        .store
        .upsert_webhook_source(&source.name, to_stored(&source)?, now_ms())
        .await?;
    source_response(&state, &headers, StatusCode::CREATED, &row, &source).await
}

pub(super) async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebhookError> {
    let (row, source) = load(&state, &name).await?;
    source_response(&state, &headers, StatusCode::OK, &row, &source).await
}

pub(super) async fn update(
    State(state): State<SharedState>,
    Extension(intake): Extension<Arc<Intake>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, WebhookError> {
    let (_, current) = load(&state, &name).await?;
    let source = parse_json::<SourceIn>(&body)?.update(current)?;
    check_allowed(&state.config, &source)?;
    let row = state
        .store
        .upsert_webhook_source(&source.name, to_stored(&source)?, now_ms())
        .await?;
    intake.forget(&name);
    source_response(&state, &headers, StatusCode::OK, &row, &source).await
}

pub(super) async fn remove(
    State(state): State<SharedState>,
    Extension(intake): Extension<Arc<Intake>>,
    Path(name): Path<String>,
) -> Result<Response, WebhookError> {
    let existed = state.store.delete_webhook_source(&name).await?;
    intake.forget(&name);
    if !existed {
        return Err(WebhookError::not_found(format!(
            "no webhook source named {name:?}"
        )));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "ok": true })))
}

#[derive(Deserialize)]
pub(super) struct DeliveryParams {
    cursor: Option<String>,
    limit: Option<usize>,
    outcome: Option<String>,
}

/// A delivery in lists: no body, no headers.
#[derive(Serialize)]
struct SummaryOut<'a> {
    id: String,
    delivery_id: Option<&'a str>,
    received_at: String,
    outcome: Outcome,
    code: Option<&'a str>,
    reason: Option<&'a str>,
    event_ids: Vec<String>,
    duplicate_of: Option<String>,
    replay_of: Option<String>,
    body_bytes: u64,
}

impl<'a> SummaryOut<'a> {
    fn new(d: &'a DeliverySummary) -> Self {
        Self {
            id: d.id.to_string(),
            delivery_id: d.delivery_id.as_deref(),
            received_at: rfc3339(d.received_at),
            outcome: d.outcome,
            code: d.code.as_deref(),
            reason: d.reason.as_deref(),
            event_ids: d.event_ids.iter().map(Ulid::to_string).collect(),
            duplicate_of: d.duplicate_of.map(|u| u.to_string()),
            replay_of: d.replay_of.map(|u| u.to_string()),
            body_bytes: d.body_bytes,
        }
    }
}

/// A delivery in full. The body is text when it is UTF-8, otherwise `body_base64`.
#[derive(Serialize)]
struct DeliveryOut<'a> {
    #[serde(flatten)]
    summary: SummaryOut<'a>,
    headers: &'a [(String, String)],
    query: &'a str,
    content_type: Option<&'a str>,
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl<'a> DeliveryOut<'a> {
    fn new(d: &'a Delivery) -> Self {
        let text = std::str::from_utf8(&d.body).ok();
        Self {
            summary: SummaryOut::new(&d.summary),
            headers: &d.headers,
            query: &d.query,
            content_type: d.content_type.as_deref(),
            body: text,
            body_base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(&d.body)),
        }
    }
}

pub(super) async fn deliveries(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    Query(p): Query<DeliveryParams>,
) -> Result<Response, WebhookError> {
    load(&state, &name).await?;
    let cursor = p
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            Ulid::from_string(&c)
                .map_err(|_| WebhookError::bad_request("`cursor` is not a delivery id"))
        })
        .transpose()?;
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(WebhookError::bad_request(
            "`limit` must be between 1 and 1000",
        ));
    }
    let outcome = p
        .outcome
        .filter(|o| !o.is_empty())
        .map(|o| {
            Outcome::parse(&o).ok_or_else(|| {
                WebhookError::bad_request(
                    "`outcome` is one of accepted, rejected, duplicate, failed",
                )
            })
        })
        .transpose()?;
    let page = state
        .store
        .list_deliveries(DeliveryQuery {
            source: name,
            outcome,
            cursor,
            limit,
        })
        .await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|d| d.id.to_string()))
        .flatten();
    let data: Vec<SummaryOut> = page.iter().map(SummaryOut::new).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "data": data, "cursor": next }),
    ))
}

async fn load_delivery(
    state: &SharedState,
    name: &str,
    id: &str,
) -> Result<Delivery, WebhookError> {
    let missing = || WebhookError::not_found(format!("no delivery {id} for source {name:?}"));
    let id = Ulid::from_string(id).map_err(|_| missing())?;
    state
        .store
        .get_delivery(name, id)
        .await?
        .ok_or_else(missing)
}

pub(super) async fn delivery(
    State(state): State<SharedState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebhookError> {
    let delivery = load_delivery(&state, &name, &id).await?;
    Ok(json(
        StatusCode::OK,
        &Data {
            data: DeliveryOut::new(&delivery),
        },
    ))
}

/// Maps a stored delivery with `source`'s current preset or transform. Its signature is not
/// checked again: it was checked on arrival, and its timestamp has gone stale since.
async fn remap(
    state: &SharedState,
    intake: &Intake,
    source: Source,
    delivery: Delivery,
) -> Result<(Delivery, Result<Processed, Refusal>), WebhookError> {
    let limits = state.config.webhooks.transform_limits;
    let max_events = state.config.ingest.max_events;
    let now_secs = now_ms().div_euclid(1000);
    intake
        .run_transform(move || {
            let source = Source {
                scheme: Scheme::None,
                ..source
            };
            let result = process_with_limits(
                &source,
                &delivery.headers,
                &delivery.query,
                delivery.content_type.as_deref(),
                &delivery.body,
                now_secs,
                &limits,
            )
            .map_err(Refusal::from)
            .and_then(|p| {
                if p.events.len() > max_events {
                    return Err(Refusal {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        outcome: Outcome::Failed,
                        code: "too_many_events",
                        message: format!(
                            "the delivery produced {} events; at most {max_events} are allowed",
                            p.events.len()
                        ),
                    });
                }
                Ok(p)
            });
            (delivery, result)
        })
        .await
}

pub(super) async fn replay(
    State(state): State<SharedState>,
    Extension(intake): Extension<Arc<Intake>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebhookError> {
    let (_, source) = load(&state, &name).await?;
    let original = load_delivery(&state, &name, &id).await?;
    if original.summary.outcome == Outcome::Rejected {
        return Err(WebhookError::new(
            StatusCode::CONFLICT,
            "not_verified",
            "a rejected delivery was never verified, so it cannot be replayed",
        ));
    }
    let (original, result) = remap(&state, &intake, source, original).await?;
    let received_at = now_ms();
    let mut delivery = NewDelivery {
        id: Ulid::new(),
        source: name,
        // A replay is meant to emit again, so it is never a duplicate of anything.
        delivery_id: None,
        received_at,
        outcome: Outcome::Accepted,
        code: None,
        reason: None,
        headers: original.headers,
        query: original.query,
        content_type: original.content_type,
        body: original.body,
        replay_of: Some(original.summary.id),
    };
    let id = delivery.id;
    match result {
        Ok(processed) => {
            let events = to_events(processed.events, received_at);
            let recorded = state.store.record_delivery(delivery, events).await?;
            notify_engine(&state, &recorded);
            Ok(recorded_response(id, recorded))
        }
        Err(refusal) => {
            delivery.outcome = Outcome::Failed;
            delivery.code = Some(refusal.code.to_owned());
            delivery.reason = Some(refusal.message.clone());
            state.store.record_delivery(delivery, Vec::new()).await?;
            Err(WebhookError::new(refusal.status, refusal.code, refusal.message).with_delivery(id))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestIn {
    /// A transform to try instead of the source's own mapping.
    transform: Option<String>,
    /// The stored delivery to run it on (its `id` in the history).
    #[serde(alias = "delivery")]
    delivery_id: String,
}

#[derive(Serialize)]
struct TestOut {
    events: Vec<EventDraft>,
    delivery_id: Option<String>,
}

pub(super) async fn test(
    State(state): State<SharedState>,
    Extension(intake): Extension<Arc<Intake>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, WebhookError> {
    let input: TestIn = parse_json(&body)?;
    let (_, mut source) = load(&state, &name).await?;
    if let Some(transform) = input.transform.filter(|t| !t.trim().is_empty()) {
        source.transform = Some(transform);
        source.preset = None;
    }
    let delivery = load_delivery(&state, &name, &input.delivery_id).await?;
    let (_, result) = remap(&state, &intake, source, delivery).await?;
    match result {
        Ok(processed) => Ok(json(
            StatusCode::OK,
            &TestOut {
                events: processed.events,
                delivery_id: processed.delivery_id,
            },
        )),
        Err(refusal) => Err(WebhookError::new(
            refusal.status,
            refusal.code,
            refusal.message,
        )),
    }
}
