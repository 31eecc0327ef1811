//! Sluice's HTTP surface: the event API, the REST API and (later) webhooks, SDK sync and the
//! dashboard. Each endpoint module owns its `router()`; this file assembles them and serves.

pub mod apps;
pub mod auth;
mod dashboard;
mod error;
mod events;
mod runs;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderName, HeaderValue};
use axum::Router;
use sluice_core::event::IngestLimits;
use sluice_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::ApiError;
pub use webhooks::WebhookConfig;

/// Which kind of server this is; the SDKs compare it with what they expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `sluice dev`: open, local, no keys.
    Dev,
    /// `sluice start`: keys required.
    Cloud,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Cloud => "cloud",
        }
    }
}

/// What the HTTP layer needs to know. Built by the binary from flags, environment and `.env`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub mode: Mode,
    /// Keys accepted on `/e/{key}` in cloud mode.
    pub event_keys: Vec<String>,
    pub signing_key: Option<String>,
    /// Largest request body on the event API, in bytes.
    pub max_body_bytes: usize,
    pub ingest: IngestLimits,
    /// Webhook intake: body limit, concurrency, unsigned sources, transform limits.
    pub webhooks: WebhookConfig,
    /// Accept syncs whose functions use settings Sluice does not enforce yet (concurrency,
    /// throttle, …), storing them with a warning, instead of refusing them with a 400.
    pub allow_unenforced: bool,
    /// The dashboard's login password in cloud mode. `None`: a token derived from the signing
    /// key ([`auth::derived_password`]), which `sluice start` prints at boot.
    pub dashboard_password: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Dev,
            event_keys: Vec::new(),
            signing_key: None,
            max_body_bytes: 3 * 1024 * 1024,
            ingest: IngestLimits::default(),
            webhooks: WebhookConfig::default(),
            allow_unenforced: false,
            dashboard_password: None,
        }
    }
}

/// How the HTTP layer tells the engine that something changed, so it need not wait for its next
/// poll. The engine polls anyway, so these are latency hints, never correctness.
pub trait EngineHooks: Send + Sync {
    fn events_stored(&self) {}
    fn functions_changed(&self) {}
    fn work_added(&self) {}
}

/// No engine attached (API tests that only store).
pub struct NoEngine;
impl EngineHooks for NoEngine {}

impl<S: sluice_engine::EngineStore + ?Sized> EngineHooks for sluice_engine::Engine<S> {
    fn events_stored(&self) {
        sluice_engine::Engine::events_stored(self)
    }
    fn functions_changed(&self) {
        sluice_engine::Engine::functions_changed(self)
    }
    fn work_added(&self) {
        sluice_engine::Engine::work_added(self)
    }
}

/// Shared by every handler. Build it with [`AppState::new`].
pub struct AppState {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub engine: Arc<dyn EngineHooks>,
}

impl AppState {
    pub fn new(config: ServerConfig, store: Arc<dyn Store>) -> Self {
        AppState {
            config,
            store,
            engine: Arc::new(NoEngine),
        }
    }

    pub fn with_engine(mut self, engine: Arc<dyn EngineHooks>) -> Self {
        self.engine = engine;
        self
    }
}

pub type SharedState = Arc<AppState>;

/// Milliseconds since the Unix epoch. The HTTP edge is where wall-clock time enters.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The whole application as a router, for `serve` and for tests.
pub fn router(state: SharedState) -> Router {
    let kind = HeaderValue::from_static(state.config.mode.as_str());
    Router::new()
        .merge(events::router())
        .merge(apps::router())
        .merge(runs::router())
        .merge(webhooks::router(&state.config.webhooks))
        .merge(dashboard::router())
        .route("/health", axum::routing::get(health))
        .route("/healthz", axum::routing::get(health))
        .route("/ready", axum::routing::get(ready))
        .fallback(error::not_found)
        // Inside the server-kind header, so a 401 still says which kind of server answered.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-inngest-server-kind"),
            kind,
        ))
        .with_state(state)
}

/// Liveness: the process is up and serving HTTP. Touches nothing else.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the store answers a read. 503 with the store's error when it does not.
async fn ready(
    axum::extract::State(state): axum::extract::State<SharedState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let version = state.store.schema_version().await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {e}"),
        )
    })?;
    Ok(axum::Json(
        serde_json::json!({ "status": "ok", "schema_version": version }),
    ))
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish, and
/// returns. The caller closes the store afterwards so every acknowledged write is flushed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SharedState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
