//! The web dashboard: server-rendered pages (maud) over the [`sluice_store::Store`] traits, a
//! small script of our own for actions and live refresh, and an SSE stream that ticks when runs
//! change. Everything is embedded in the binary; there is no Node build step.
//!
//! | path | page |
//! |---|---|
//! | `/` | runs, filtered and cursor-paged ([`runs`]) |
//! | `/runs/{id}` | one run: timeline, steps, trigger, sync, actions ([`run`]) |
//! | `/events`, `/events/{id}` | events, payloads as stored, their runs, replay, send ([`events`]) |
//! | `/functions`, `/functions/{id}` | triggers, config, recent counts, invoke ([`functions`]) |
//! | `/apps` | apps and their syncs, resync, remove, add ([`apps`]) |
//! | `/sources`, `/sources/{name}`, … | webhook sources, deliveries, replay, transforms ([`webhooks`]) |
//! | `/dashboard/stream` | server-sent events for live refresh ([`stream`]) |
//! | `/dashboard/actions/*` | what the buttons do ([`actions`]) |
//! | `/dashboard/raw/*` | full values behind truncated views ([`raw`]) |
//!
//! Actions reuse the REST API's code paths: most are forwarded to the `/v1` route itself
//! (`/dashboard/actions/v1/...`), so the dashboard can never do something the API does
//! differently. Who may see and do what is [`crate::auth`]'s job.

mod actions;
mod apps;
mod events;
mod functions;
mod layout;
mod raw;
mod run;
mod runs;
mod stream;
mod webhooks;

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::SharedState;

/// The dashboard's routes. Auth is applied around the whole app by [`crate::auth::guard`].
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/", get(runs::page))
        .route("/runs/{id}", get(run::page))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::show))
        .route("/functions", get(functions::list))
        .route("/functions/{id}", get(functions::show))
        .route("/apps", get(apps::page))
        .route("/sources", get(webhooks::list))
        .route("/sources/{name}", get(webhooks::show))
        .route("/sources/{name}/deliveries/{id}", get(webhooks::delivery))
        .route("/dashboard/stream", get(stream::stream))
        .route("/dashboard/assets/{file}", get(asset))
        .route(
            "/dashboard/login",
            get(crate::auth::login_form).post(crate::auth::login),
        )
        .route("/dashboard/logout", post(crate::auth::logout))
        .route("/dashboard/raw/runs/{id}/{field}", get(raw::run_value))
        .route(
            "/dashboard/raw/runs/{id}/history/{entry}/{field}",
            get(raw::history_value),
        )
        .route("/dashboard/raw/events/{id}", get(raw::event))
        .route(
            "/dashboard/raw/sources/{name}/deliveries/{id}",
            get(raw::delivery_body),
        )
        .route("/dashboard/actions/v1/{*rest}", any(actions::forward))
        .route("/dashboard/actions/events/send", post(actions::send_event))
        .route(
            "/dashboard/actions/events/{id}/replay",
            post(actions::replay_event),
        )
        .route(
            "/dashboard/actions/functions/{id}/invoke",
            post(actions::invoke),
        )
}

struct Asset {
    body: &'static str,
    content_type: &'static str,
    version: String,
}

fn asset_named(name: &str) -> Option<&'static Asset> {
    static CSS: LazyLock<Asset> =
        LazyLock::new(|| Asset::new(include_str!("assets/app.css"), "text/css; charset=utf-8"));
    static JS: LazyLock<Asset> = LazyLock::new(|| {
        Asset::new(
            include_str!("assets/app.js"),
            "text/javascript; charset=utf-8",
        )
    });
    match name {
        "app.css" => Some(&CSS),
        "app.js" => Some(&JS),
        _ => None,
    }
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let version = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
        Asset {
            body,
            content_type,
            version,
        }
    }
}

/// The URL of an embedded asset, versioned by its content so browsers may cache it for good.
pub(crate) fn asset_url(name: &str) -> String {
    let version = asset_named(name).map(|a| a.version.as_str()).unwrap_or("0");
    format!("/dashboard/assets/{name}?v={version}")
}

async fn asset(Path(file): Path<String>) -> Response {
    match asset_named(&file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// Percent-encodes one URL path segment (function ids and source names may hold anything).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value.
pub(crate) fn qv(s: &str) -> String {
    seg(s)
}
