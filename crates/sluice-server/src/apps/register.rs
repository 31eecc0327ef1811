//! `POST /fn/register`, where an SDK declares its app and functions, and `GET /dev`, which the JS
//! SDK v3 probes to find a dev server.
//!
//! Every refusal after authentication is stored as a failed sync with its reason, so the app
//! shows it; the app's previous functions stay in force.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use sluice_core::function::{function_set_hash, AppSync, FunctionDef, Trigger};
use sluice_store::{FunctionRecord, NewSync};

use crate::{now_ms, ApiError, Mode, SharedState};

/// Register bodies carry every function's full config; big apps send a few hundred KiB.
const MAX_REGISTER_BYTES: usize = 16 * 1024 * 1024;

/// `GET /dev`: any JSON answer tells JS SDK v3 a dev server is here.
pub async fn dev_info(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({
        "server": "sluice",
        "version": env!("CARGO_PKG_VERSION"),
        "kind": state.config.mode.as_str(),
        "authed": false,
    }))
}

/// `POST /fn/register`.
pub async fn register(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let bytes = axum::body::to_bytes(body, MAX_REGISTER_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("register body is over the limit of {MAX_REGISTER_BYTES} bytes"),
            )
        })?;
    let text = String::from_utf8_lossy(&bytes);

    if let Some(expected) = headers
        .get("x-inngest-expected-server-kind")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        let ours = state.config.mode.as_str();
        if !expected.eq_ignore_ascii_case(ours) {
            let how = match state.config.mode {
                Mode::Dev => "this is `sluice dev`",
                Mode::Cloud => "this is `sluice start`",
            };
            let message = format!(
                "the SDK expected a {expected:?} server, but this Sluice is a {ours:?} server \
                 ({how}); the request that asked the app to sync came from another server"
            );
            return Err(refuse(
                &state,
                guess(&text, "appName"),
                guess(&text, "url"),
                message,
            )
            .await);
        }
    }

    let app = match AppSync::parse(&text) {
        Ok(app) => app,
        Err(e) => {
            return Err(refuse(
                &state,
                guess(&text, "appName"),
                guess(&text, "url"),
                e.to_string(),
            )
            .await)
        }
    };
    let id = Some(app.app_name.clone());
    let url = Some(app.url.clone());

    let unenforced: Vec<&FunctionDef> = app
        .functions
        .iter()
        .filter(|f| !f.unenforced.is_empty())
        .collect();
    if !unenforced.is_empty() && !state.config.allow_unenforced {
        let remedy = match state.config.mode {
            Mode::Dev => "remove it, or run sluice dev --allow-unenforced",
            Mode::Cloud => {
                "remove it; Sluice refuses it in production until it enforces it \
                 (sluice dev --allow-unenforced accepts it for local development)"
            }
        };
        let each: Vec<String> = unenforced.iter().map(|f| unenforced_phrase(f)).collect();
        let message = format!("{}; {remedy}", each.join("; "));
        return Err(refuse(&state, id, url, message).await);
    }

    let owners = state.store.list_functions().await?;
    for f in &app.functions {
        if let Some(other) = owners
            .iter()
            .find(|o| o.id == f.id && o.app_id != app.app_name)
        {
            let message = format!(
                "function id {:?} already belongs to app {:?}; remove that app first \
                 (sluice apps remove {})",
                f.id, other.app_id, other.app_id
            );
            return Err(refuse(&state, id, url, message).await);
        }
    }

    let sync = NewSync {
        app_id: app.app_name.clone(),
        url: app.url.clone(),
        sdk: app.sdk.clone(),
        framework: app.framework.clone(),
        app_version: app.app_version.clone(),
        function_hash: function_set_hash(&app),
        functions: app
            .functions
            .iter()
            .map(|f| function_record(&app.app_name, f))
            .collect(),
        at_ms: now_ms(),
    };
    let outcome = state.store.record_sync(sync).await?;
    if outcome.modified {
        state.engine.functions_changed();
        let n = app.functions.len();
        tracing::info!(
            app = %app.app_name,
            url = %app.url,
            sdk = %app.sdk,
            "synced app {} ({n} function{}, modified)",
            app.app_name,
            if n == 1 { "" } else { "s" }
        );
        for f in unenforced {
            tracing::warn!(
                app = %app.app_name,
                "{}; accepted because of --allow-unenforced",
                unenforced_phrase(f)
            );
        }
    }
    Ok(Json(json!({
        "ok": true,
        "modified": outcome.modified,
        "app_id": app.app_name,
        "sync_id": outcome.sync_id.to_string(),
    })))
}

/// `function "app-send" uses "concurrency" and "throttle", which Sluice does not enforce yet`.
pub fn unenforced_phrase(f: &FunctionDef) -> String {
    unenforced_text(&f.id, &f.unenforced)
}

pub fn unenforced_text(function_id: &str, settings: &[String]) -> String {
    let quoted: Vec<String> = settings.iter().map(|s| format!("{s:?}")).collect();
    let list = match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    format!("function {function_id:?} uses {list}, which Sluice does not enforce yet")
}

/// In cloud mode the SDK sends the signing key, plain or hashed, as a bearer token.
fn authorize(state: &SharedState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.config.mode == Mode::Dev {
        return Ok(());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(key) = state.config.signing_key.as_deref() else {
        return Err(ApiError::unauthorized(
            "this server has no signing key configured, so it accepts no syncs",
        ));
    };
    if sluice_core::sign::key_matches_bearer(key, bearer) {
        Ok(())
    } else if bearer.is_empty() {
        Err(ApiError::unauthorized(
            "missing Authorization header; set INNGEST_SIGNING_KEY in the app to this \
             server's signing key",
        ))
    } else {
        Err(ApiError::unauthorized(
            "the Authorization header does not carry this server's signing key; check the \
             app's INNGEST_SIGNING_KEY",
        ))
    }
}

/// Stores a refused sync and turns it into the 400 the SDK relays to whoever asked it to sync.
async fn refuse(
    state: &SharedState,
    app_id: Option<String>,
    url: Option<String>,
    message: String,
) -> ApiError {
    let known_error = match &app_id {
        Some(id) => state
            .store
            .get_app(id)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.last_error),
        None => None,
    };
    // The dev server re-syncs every few seconds; say it once, not every time.
    if known_error.as_deref() != Some(message.as_str()) {
        tracing::warn!(
            app = app_id.as_deref().unwrap_or("?"),
            url = url.as_deref().unwrap_or("?"),
            "sync refused: {message}"
        );
    }
    let url = url.unwrap_or_default();
    if let Err(e) = state
        .store
        .record_failed_sync(app_id, url, message.clone(), now_ms())
        .await
    {
        return e.into();
    }
    ApiError::bad_request(message)
}

/// Reads one string field of a body that failed validation, to attach the failure to its app.
fn guess(body: &str, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let obj = value.as_object()?;
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A function as the store keeps it; triggers in the wire shape.
pub fn function_record(app_id: &str, f: &FunctionDef) -> FunctionRecord {
    let triggers = f
        .triggers
        .iter()
        .map(|t| match t {
            Trigger::Event {
                name,
                expression: Some(expression),
            } => json!({ "event": name, "expression": expression }),
            Trigger::Event { name, .. } => json!({ "event": name }),
            Trigger::Cron { spec } => json!({ "cron": spec }),
        })
        .collect();
    FunctionRecord {
        id: f.id.clone(),
        app_id: app_id.to_owned(),
        slug: f.slug.clone(),
        name: f.name.clone(),
        url: f.url.clone(),
        retries: f.retries,
        triggers: Value::Array(triggers),
        config: f.config.clone(),
        unenforced: f.unenforced.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_name_the_function_and_settings() {
        assert_eq!(
            unenforced_text("app-send", &["concurrency".into()]),
            r#"function "app-send" uses "concurrency", which Sluice does not enforce yet"#
        );
        assert_eq!(
            unenforced_text(
                "f",
                &["concurrency".into(), "throttle".into(), "debounce".into()]
            ),
            r#"function "f" uses "concurrency", "throttle" and "debounce", which Sluice does not enforce yet"#
        );
    }

    #[test]
    fn guesses_ignore_case_and_blanks() {
        assert_eq!(
            guess(r#"{"appname":"py"}"#, "appName").as_deref(),
            Some("py")
        );
        assert_eq!(guess(r#"{"appName":" "}"#, "appName"), None);
        assert_eq!(guess("not json", "appName"), None);
    }
}
