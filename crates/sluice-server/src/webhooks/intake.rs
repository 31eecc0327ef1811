//! `POST /webhooks/{source}`: one delivery from a sender, answered only once it is durable.
//!
//! Order of work: take an in-flight permit (or 503 with `Retry-After`), find the source (404),
//! read the body under the limit (413), then verify, parse and map it on a blocking thread, and
//! store the delivery with its events in one group-committed write. Every delivery that reached
//! a known source is recorded, refused ones included, so the source's history shows why.
//!
//! | answer | when |
//! |---|---|
//! | 200 `{"ok":true,"ids":[…]}` | verified and stored, events fsync'd |
//! | 200 `{"ok":true,"duplicate":true}` | a retry of a delivery already accepted; no new events |
//! | 401 | missing, stale or non-matching signature; the `code` says which |
//! | 403 | the source verifies nothing and this server does not allow that |
//! | 400 / 415 | a body that does not parse, or an unsupported content type |
//! | 422 | the transform threw, timed out, ran out of memory or returned no valid event |
//! | 404 / 413 / 503 | unknown source / body over the limit / overloaded or shutting down |

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sluice_store::{NewDelivery, Outcome, Recorded};
use sluice_webhooks::{
    process_with_limits, redact_headers_for, resolve_delivery_id, ProcessError, Processed, Source,
};
use ulid::Ulid;

use super::source::unsigned_allowed;
use super::{to_events, unavailable, Intake, WebhookError};
use crate::{now_ms, SharedState};

/// The most bytes of a rejected (unverified) delivery's body that are stored.
const REJECTED_BODY_KEPT: usize = 64 * 1024;

pub(super) async fn receive(
    State(state): State<SharedState>,
    Extension(intake): Extension<Arc<Intake>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let retry_after = state.config.webhooks.retry_after_secs;
    // Held until the answer is built, so the limit counts whole deliveries.
    let Ok(_permit) = intake.permits.clone().try_acquire_owned() else {
        let busy = WebhookError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many webhook deliveries in flight; retry later",
        );
        return unavailable(busy.into_response(), retry_after);
    };
    let query = query.unwrap_or_default();
    let resp = match receive_inner(&state, &intake, &name, query, headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    unavailable(resp, retry_after)
}

/// The request as it arrived, kept for the delivery record.
struct Request {
    received_at: i64,
    headers: Vec<(String, String)>,
    query: String,
    content_type: Option<String>,
    body: Bytes,
}

async fn receive_inner(
    state: &SharedState,
    intake: &Intake,
    name: &str,
    query: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebhookError> {
    let received_at = now_ms();
    let Some(source) = intake.source(state, name).await? else {
        return Err(WebhookError::not_found(format!(
            "no webhook source named {name:?}"
        )));
    };
    let has_transform = source.transform.is_some();
    let limit = state.config.webhooks.max_body_bytes;
    let body = read_limited(&headers, body, limit).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let request = Request {
        received_at,
        headers: header_pairs(&headers),
        query,
        content_type,
        body,
    };

    if matches!(source.scheme, sluice_webhooks::Scheme::None) && !unsigned_allowed(&state.config) {
        let refusal = Refusal {
            status: StatusCode::FORBIDDEN,
            outcome: Outcome::Rejected,
            code: "unsigned_not_allowed",
            message: "this source verifies no signature, which this server does not allow \
                      (start it with --allow-unsigned-webhooks)"
                .into(),
        };
        return refuse(state, &source, request, refusal).await;
    }

    let limits = state.config.webhooks.transform_limits;
    let run = move || {
        let result = process_with_limits(
            &source,
            &request.headers,
            &request.query,
            request.content_type.as_deref(),
            &request.body,
            request.received_at.div_euclid(1000),
            &limits,
        );
        (source, request, result)
    };
    // A transform may use its whole time budget, so it runs off the async workers; a preset
    // takes microseconds and runs in place.
    let (source, request, result) = if has_transform {
        intake.run_transform(run).await?
    } else {
        run()
    };

    match result {
        Ok(processed) => accept(state, &source, request, processed).await,
        Err(e) => refuse(state, &source, request, Refusal::from(e)).await,
    }
}

/// Reads the body, answering 413 past `limit`; a `Content-Length` over it is refused unread.
async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, WebhookError> {
    let too_large = || {
        WebhookError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Header pairs in arrival order; a value that is not UTF-8 is kept lossily.
pub(super) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn new_delivery(
    source: &Source,
    request: Request,
    delivery_id: Option<String>,
    outcome: Outcome,
) -> NewDelivery {
    NewDelivery {
        id: Ulid::new(),
        source: source.name.clone(),
        delivery_id,
        received_at: request.received_at,
        outcome,
        code: None,
        reason: None,
        headers: redact_headers_for(&source.scheme, &request.headers),
        query: request.query,
        content_type: request.content_type,
        body: request.body.to_vec(),
        replay_of: None,
    }
}

async fn accept(
    state: &SharedState,
    source: &Source,
    request: Request,
    processed: Processed,
) -> Result<Response, WebhookError> {
    let max = state.config.ingest.max_events;
    if processed.events.len() > max {
        let refusal = Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            outcome: Outcome::Failed,
            code: "too_many_events",
            message: format!(
                "the delivery produced {} events; at most {max} are allowed",
                processed.events.len()
            ),
        };
        return refuse(state, source, request, refusal).await;
    }
    // The event API's per-event limit holds here too: an event is run input, and every step
    // call of every run it starts carries it.
    let max_bytes = state.config.ingest.max_event_bytes;
    let oversized = processed
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e.name.len() + e.data.get().len()))
        .find(|(_, size)| *size > max_bytes);
    if let Some((index, size)) = oversized {
        let refusal = Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            outcome: Outcome::Failed,
            code: "event_too_large",
            message: format!(
                "event {index} of the delivery is {size} bytes, over the limit of {max_bytes} bytes"
            ),
        };
        return refuse(state, source, request, refusal).await;
    }
    let events = to_events(processed.events, request.received_at);
    let delivery = new_delivery(source, request, processed.delivery_id, Outcome::Accepted);
    let id = delivery.id;
    let recorded = state.store.record_delivery(delivery, events).await?;
    notify_engine(state, &recorded);
    Ok(recorded_response(id, recorded))
}

/// Wakes the scheduler for new events; it would find them on its next poll anyway.
pub(super) fn notify_engine(state: &SharedState, recorded: &Recorded) {
    if matches!(recorded, Recorded::Stored { event_ids } if !event_ids.is_empty()) {
        state.engine.events_stored();
    }
}

/// The 200 for a stored delivery, new or duplicate.
pub(super) fn recorded_response(delivery: Ulid, recorded: Recorded) -> Response {
    let body = match recorded {
        Recorded::Stored { event_ids } => serde_json::json!({
            "ok": true,
            "ids": event_ids.iter().map(Ulid::to_string).collect::<Vec<_>>(),
            "delivery": delivery.to_string(),
        }),
        Recorded::Duplicate { original } => serde_json::json!({
            "ok": true,
            "duplicate": true,
            "ids": original.event_ids.iter().map(Ulid::to_string).collect::<Vec<_>>(),
            "delivery": delivery.to_string(),
            "original": original.id.to_string(),
        }),
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// Why a delivery produced no events, as it is stored and answered.
pub(super) struct Refusal {
    pub status: StatusCode,
    pub outcome: Outcome,
    pub code: &'static str,
    pub message: String,
}

impl From<ProcessError> for Refusal {
    fn from(e: ProcessError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let outcome = match e {
            ProcessError::Rejected(_) => Outcome::Rejected,
            _ => Outcome::Failed,
        };
        Refusal {
            status,
            outcome,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Records a refused delivery and answers with its reason. A verified delivery whose id was
/// already accepted is answered as the duplicate it is, even if processing it failed this time.
async fn refuse(
    state: &SharedState,
    source: &Source,
    request: Request,
    refusal: Refusal,
) -> Result<Response, WebhookError> {
    let delivery_id = resolve_delivery_id(
        source.dedupe.as_ref(),
        &source.scheme,
        &request.headers,
        &request.body,
    );
    let mut delivery = new_delivery(source, request, delivery_id, refusal.outcome);
    delivery.code = Some(refusal.code.to_owned());
    delivery.reason = Some(refusal.message.clone());
    if refusal.outcome == Outcome::Rejected && delivery.body.len() > REJECTED_BODY_KEPT {
        // Anyone can post to a source's URL; an unverified body is kept only far enough to
        // show what was sent. It can never be replayed, so nothing is lost by cutting it.
        let whole = delivery.body.len();
        delivery.body.truncate(REJECTED_BODY_KEPT);
        delivery.reason = Some(format!(
            "{} (unverified, so only the first {REJECTED_BODY_KEPT} of its {whole} bytes are kept)",
            refusal.message
        ));
    }
    let id = delivery.id;
    match state.store.record_delivery(delivery, Vec::new()).await {
        Ok(recorded @ Recorded::Duplicate { .. }) => return Ok(recorded_response(id, recorded)),
        Ok(Recorded::Stored { .. }) => {}
        // The sender still deserves the real reason; the history misses one entry.
        Err(e) => {
            tracing::error!(source = %source.name, error = %e, "recording a refused delivery")
        }
    }
    let message = if refusal.status.is_server_error() {
        tracing::error!(source = %source.name, reason = %refusal.message, "webhook delivery failed");
        "the source could not process this delivery; see its delivery history".to_owned()
    } else {
        refusal.message
    };
    Err(WebhookError::new(refusal.status, refusal.code, message).with_delivery(id))
}
