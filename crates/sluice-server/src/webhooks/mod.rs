//! Webhooks: intake of signed deliveries from third-party senders (`POST /webhooks/{source}`) and
//! the REST API that manages sources and their delivery history (`/v1/webhooks`).
//!
//! The pure work (signatures, delivery ids, body parsing, presets, JS transforms) is
//! `sluice_webhooks::process`; this module adds the I/O around it:
//!
//! - [`intake`]: read the body under a limit, run `process` on a blocking thread (a transform may
//!   take its whole time budget), store the delivery and its events in one durable write, answer;
//! - [`api`]: create, show, change and remove sources; list, show, replay deliveries; test a
//!   transform against a stored delivery;
//! - [`source`]: the request and response shapes of a source, and the rules for saving one.
//!
//! Events made from deliveries are ordinary events: they land in the same `events` table as
//! `/e/{key}` sends, unscheduled, and the engine matches them against triggers from there.

mod api;
mod intake;
mod source;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use sluice_core::event::Event;
use sluice_webhooks::{EventDraft, Limits, Source};
use tokio::sync::Semaphore;

use crate::{ApiError, SharedState};

/// Webhook settings, part of [`crate::ServerConfig`].
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Largest delivery body, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
    /// Deliveries being processed at once. One more gets 503 with `Retry-After`, which every
    /// sender treats as "try again later", rather than queueing until the sender times out.
    pub max_in_flight: usize,
    /// Seconds sent in `Retry-After` with a 503.
    pub retry_after_secs: u64,
    /// Allows sources with the `none` scheme (no signature) outside dev mode.
    pub allow_unsigned: bool,
    /// Time and memory given to each run of a JS transform.
    pub transform_limits: Limits,
    /// Transforms running at once; more wait their turn before their time limit starts.
    /// Default: the number of cores.
    pub max_concurrent_transforms: usize,
    /// Base of the intake URL shown for a source, such as `https://hooks.example.com`, when
    /// Sluice sits behind a proxy. By default it is built from the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 3 * 1024 * 1024,
            max_in_flight: 256,
            retry_after_secs: 5,
            allow_unsigned: false,
            transform_limits: Limits::default(),
            max_concurrent_transforms: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            public_url: None,
        }
    }
}

/// How long the intake trusts a source it has read. Changes made through this server's API
/// apply at once; changes made elsewhere (another node on the same PostgreSQL) within this.
const SOURCE_TTL: Duration = Duration::from_secs(1);

/// State of the webhook routes, beside the app state.
struct Intake {
    /// One permit per delivery being processed.
    permits: Arc<Semaphore>,
    /// One permit per transform running; see [`Intake::run_transform`].
    transforms: Semaphore,
    /// Sources recently read, so a busy source costs no store read per delivery.
    sources: Mutex<HashMap<String, (Instant, Arc<Source>)>>,
}

impl Intake {
    /// The source named `name`, from the cache when fresh.
    async fn source(
        &self,
        state: &SharedState,
        name: &str,
    ) -> Result<Option<Arc<Source>>, WebhookError> {
        if let Some((at, source)) = self.lock().get(name) {
            if at.elapsed() < SOURCE_TTL {
                return Ok(Some(source.clone()));
            }
        }
        let Some(row) = state.store.get_webhook_source(name).await? else {
            self.forget(name);
            return Ok(None);
        };
        let source = Arc::new(source::parse_stored(&row)?);
        self.lock()
            .insert(name.to_owned(), (Instant::now(), source.clone()));
        Ok(Some(source))
    }

    /// Runs `f`, which runs a transform, on a blocking thread once a transform slot is free.
    ///
    /// A transform's time limit is wall-clock time from its start. Run more of them at once than
    /// there are cores and they share the CPU, so a quick transform can overrun its 50 ms for
    /// want of a core; that would refuse good deliveries under load. Waiting for a slot happens
    /// before the transform's clock starts.
    async fn run_transform<T, F>(&self, f: F) -> Result<T, WebhookError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _slot = self
            .transforms
            .acquire()
            .await
            .map_err(|e| WebhookError::internal(format!("transform slots: {e}")))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| WebhookError::internal(format!("webhook processing task: {e}")))
    }

    /// Drops a source from the cache after it changed.
    fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Source>)>> {
        // The map holds no invariant a panic could break, so a poisoned lock is still usable.
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The webhook routes. The intake's concurrency limit is built from `config` here.
pub fn router(config: &WebhookConfig) -> Router<SharedState> {
    let intake = Arc::new(Intake {
        permits: Arc::new(Semaphore::new(config.max_in_flight)),
        transforms: Semaphore::new(config.max_concurrent_transforms.max(1)),
        sources: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route(
            "/webhooks/{source}",
            post(intake::receive).fallback(intake_method_not_allowed),
        )
        .route(
            "/v1/webhooks",
            get(api::list)
                .post(api::create)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/webhooks/{name}",
            get(api::show)
                .put(api::update)
                .delete(api::remove)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/webhooks/{name}/deliveries",
            get(api::deliveries).fallback(method_not_allowed),
        )
        .route(
            "/v1/webhooks/{name}/deliveries/{id}",
            get(api::delivery).fallback(method_not_allowed),
        )
        .route(
            "/v1/webhooks/{name}/deliveries/{id}/replay",
            post(api::replay).fallback(method_not_allowed),
        )
        .route(
            "/v1/webhooks/{name}/test",
            post(api::test).fallback(method_not_allowed),
        )
        .layer(Extension(intake))
}

async fn method_not_allowed() -> WebhookError {
    WebhookError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here",
    )
}

/// Senders sometimes probe the URL with GET; tell them plainly that deliveries are POSTs.
async fn intake_method_not_allowed() -> Response {
    let mut resp = WebhookError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "webhook deliveries must be sent with POST",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// An [`ApiError`] with a stable machine-readable `code`: `{"error", "status", "code"}`.
#[derive(Debug)]
pub(crate) struct WebhookError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The id of the delivery record, when one was stored.
    delivery: Option<ulid::Ulid>,
}

impl WebhookError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            delivery: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal(detail: impl std::fmt::Display) -> Self {
        let api = ApiError::internal(detail);
        Self::new(api.status, "internal", api.message)
    }

    fn with_delivery(mut self, id: ulid::Ulid) -> Self {
        self.delivery = Some(id);
        self
    }
}

impl From<ApiError> for WebhookError {
    fn from(e: ApiError) -> Self {
        let code = match e.status {
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ if e.status.is_server_error() => "internal",
            _ => "error",
        };
        Self::new(e.status, code, e.message)
    }
}

impl From<sluice_store::Error> for WebhookError {
    fn from(e: sluice_store::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": self.message,
            "status": self.status.as_u16(),
            "code": self.code,
        });
        if let Some(id) = self.delivery {
            body["delivery"] = id.to_string().into();
        }
        (self.status, Json(body)).into_response()
    }
}

/// Turns what a preset or transform produced into events with server ULIDs. Without a provider
/// timestamp, an event's time is when the delivery arrived.
fn to_events(drafts: Vec<EventDraft>, received_at: i64) -> Vec<Event> {
    let mut ids = ulid::Generator::new();
    drafts
        .into_iter()
        .map(|d| Event {
            id: ids.generate().unwrap_or_else(|_| ulid::Ulid::new()),
            name: d.name,
            data: d.data,
            user: None,
            external_id: d.id,
            ts: d.ts.unwrap_or(received_at),
            v: None,
            received_at,
        })
        .collect()
}

/// `Retry-After` on a 503, so senders back off instead of giving up.
fn unavailable(mut resp: Response, retry_after_secs: u64) -> Response {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    resp
}
