//! Apps and their functions: the SDK's sync call, and the REST API over what it stored.
//!
//! | route | what |
//! |---|---|
//! | `POST /fn/register` | an SDK syncs its app (signing key as bearer in cloud mode) |
//! | `GET /dev` | server info; JS SDK v3 probes it in dev mode |
//! | `GET /v1/apps` | every app: URL, SDK, hash, last sync and its error, warnings, functions |
//! | `POST /v1/apps` `{url}` | ask the app at `url` to sync (`PUT url`), report how it went |
//! | `GET /v1/apps/{id}` | one app, its functions and its recent syncs |
//! | `POST /v1/apps/{id}/resync` | ask the app to sync again |
//! | `DELETE /v1/apps/{id}` | remove the app and its functions (history stays) |
//! | `GET /v1/functions`, `GET /v1/functions/{id}` | triggers, retries, config, ignored settings |
//!
//! `/fn/register` checks the SDK's bearer token itself (cloud mode). The REST routes are guarded
//! with the rest of `/v1` by [`crate::auth::guard`]: in cloud mode they need the signing key as a
//! bearer token or a dashboard session, since they reveal the apps' URLs and `POST /v1/apps` makes
//! the server send requests.
//!
//! When a sync changes the function set, or an app is removed, the engine is told through
//! [`crate::EngineHooks::functions_changed`], so its trigger index follows at once.

pub mod ping;
mod register;
mod rest;

use axum::routing::{get, post};
use axum::Router;

use crate::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/fn/register", post(register::register))
        .route("/dev", get(register::dev_info))
        .route("/v1/apps", get(rest::list_apps).post(rest::add_app))
        .route("/v1/apps/{id}", get(rest::get_app).delete(rest::delete_app))
        .route("/v1/apps/{id}/resync", post(rest::resync_app))
        .route("/v1/functions", get(rest::list_functions))
        .route("/v1/functions/{id}", get(rest::get_function))
}
