//! Who may use the dashboard and the REST API.
//!
//! `sluice dev` is open: it binds to 127.0.0.1 and has no keys. In `sluice start` (cloud mode)
//! one middleware, [`guard`], sits in front of every route:
//!
//! - **Public** routes keep their own authentication and pass straight through: the event API
//!   (`/e/{key}`, checked against the event keys), SDK sync (`/fn/*`, signed), webhook intake
//!   (`/webhooks/*`, signed by the sender), the SDK's dev probe (`/dev`), health checks, the login
//!   page and the dashboard's static assets.
//! - **REST** (`/v0/*`, `/v1/*`) accepts `Authorization: Bearer <signing key>`, plain or hashed
//!   (as Inngest's REST API does), or a dashboard session. Without either: 401 JSON.
//! - **Everything else** is the dashboard: it needs a session cookie. Without one a page answers
//!   401 with the login form in the body (no redirect, so a script or a proxy sees the status).
//!
//! A session is a cookie, `HttpOnly; SameSite=Strict` (and `Secure` behind a TLS proxy), holding
//! an expiry, a random nonce and an HMAC-SHA256 of both under a key derived from the signing key
//! and the password. Nothing is stored server-side, so sessions survive a restart and work on
//! every node sharing the key, and changing the password or the key logs everyone out.
//!
//! **CSRF.** Besides `SameSite=Strict`, a request that changes something (any method but GET,
//! HEAD, OPTIONS) made with a session cookie must carry `X-CSRF-Token`, an HMAC of the session's
//! nonce that only pages rendered for that session contain. The dashboard's own actions
//! (`/dashboard/actions/*`) need the token in dev mode too (a per-process token there), so another
//! site open in the same browser cannot drive a local `sluice dev` through them. Bearer requests
//! carry no ambient credentials and need no token.
//!
//! The password is `dashboard_password` when configured, else a token derived from the signing
//! key ([`derived_password`]), which `sluice start` prints at boot.

use std::sync::LazyLock;

use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{now_ms, Mode, SharedState};

/// Cookie that carries the dashboard session.
pub const SESSION_COOKIE: &str = "sluice_session";
/// Header that carries the CSRF token on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a login lasts.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

type HmacSha256 = Hmac<Sha256>;

/// What the guard learned about the caller, for the handlers behind it: the CSRF token to put in
/// the pages it renders, and whether there is a session to log out of.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub csrf: String,
    pub logged_in: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Viewer>().cloned().unwrap_or(Viewer {
            csrf: String::new(),
            logged_in: false,
        }))
    }
}

/// The dashboard password that `sluice start` uses when none is configured: hex SHA-256 of
/// `"sluice-dashboard:" + signing key`. Whoever holds the signing key can compute it.
pub fn derived_password(signing_key: &str) -> String {
    hex::encode(Sha256::digest(format!("sluice-dashboard:{signing_key}")))
}

/// The password the login form expects, in cloud mode.
fn password(state: &SharedState) -> Option<String> {
    state
        .config
        .dashboard_password
        .clone()
        .filter(|p| !p.is_empty())
        .or_else(|| state.config.signing_key.as_deref().map(derived_password))
}

/// The key sessions and CSRF tokens are signed with.
fn session_key(state: &SharedState) -> Vec<u8> {
    match state.config.mode {
        // A dev server has no secret of its own; a per-process random key still keeps other
        // sites from guessing the token.
        Mode::Dev => DEV_KEY.to_vec(),
        Mode::Cloud => {
            let key = state.config.signing_key.as_deref().unwrap_or_default();
            let password = password(state).unwrap_or_default();
            Sha256::digest(format!("sluice-session:{key}\0{password}")).to_vec()
        }
    }
}

static DEV_KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

fn mac(key: &[u8], message: &str) -> String {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(message.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn csrf_for(key: &[u8], nonce: &str) -> String {
    mac(key, &format!("csrf.{nonce}"))[..32].to_owned()
}

fn eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new session cookie's value, valid until `expires_ms`.
fn new_session(key: &[u8], expires_ms: i64) -> (String, String) {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let body = format!("v1.{expires_ms}.{nonce}");
    let value = format!("{body}.{}", mac(key, &body));
    (value, csrf_for(key, &nonce))
}

/// The nonce of a valid, unexpired session cookie value.
fn check_session(key: &[u8], value: &str, now_ms: i64) -> Option<String> {
    let (body, sig) = value.rsplit_once('.')?;
    if !eq(&mac(key, body), sig) {
        return None;
    }
    let mut parts = body.splitn(3, '.');
    let (Some("v1"), Some(expires), Some(nonce)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (expires.parse::<i64>().ok()? > now_ms).then(|| nonce.to_owned())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// How a path is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Public,
    Rest,
    Dashboard,
}

fn area(path: &str) -> Area {
    const PUBLIC_PREFIXES: [&str; 4] = ["/e/", "/fn/", "/webhooks/", "/dashboard/assets/"];
    const PUBLIC_PATHS: [&str; 6] = [
        "/dev",
        "/health",
        "/healthz",
        "/ready",
        "/favicon.ico",
        "/dashboard/login",
    ];
    if PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p)) || PUBLIC_PATHS.contains(&path) {
        Area::Public
    } else if path.starts_with("/v1/") || path == "/v1" || path.starts_with("/v0/") || path == "/v0"
    {
        Area::Rest
    } else {
        Area::Dashboard
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn json_401(message: &str) -> Response {
    let body = serde_json::json!({ "error": message, "status": 401, "code": "unauthorized" });
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

fn csrf_refused() -> Response {
    let body = serde_json::json!({
        "error": "missing or wrong CSRF token; reload the page and try again",
        "status": 403,
        "code": "csrf",
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// The middleware described in the module docs.
pub async fn guard(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let zone = area(&path);
    let key = session_key(&state);
    let write = is_write(req.method());
    let given_csrf = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let own_action = path.starts_with("/dashboard/actions/") || path == "/dashboard/logout";

    if state.config.mode == Mode::Dev {
        let csrf = csrf_for(&key, "dev");
        if own_action && write && !eq(&given_csrf, &csrf) {
            return csrf_refused();
        }
        req.extensions_mut().insert(Viewer {
            csrf,
            logged_in: false,
        });
        return next.run(req).await;
    }
    if zone == Area::Public {
        return next.run(req).await;
    }
    if zone == Area::Rest {
        let bearer_ok = match (
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
            state.config.signing_key.as_deref(),
        ) {
            (Some(given), Some(key)) => sluice_core::sign::key_matches_bearer(key, given),
            _ => false,
        };
        if bearer_ok {
            return next.run(req).await;
        }
    }
    let nonce = cookie(req.headers(), SESSION_COOKIE)
        .and_then(|value| check_session(&key, &value, now_ms()));
    let Some(nonce) = nonce else {
        return match zone {
            Area::Rest => json_401(
                "authentication required: send `Authorization: Bearer <signing key>` \
                 (plain or hashed), or log in to the dashboard",
            ),
            _ if write => json_401("your dashboard session has expired; log in again"),
            _ => login_page(&path, None, StatusCode::UNAUTHORIZED),
        };
    };
    let csrf = csrf_for(&key, &nonce);
    if write && !eq(&given_csrf, &csrf) {
        return csrf_refused();
    }
    req.extensions_mut().insert(Viewer {
        csrf,
        logged_in: true,
    });
    next.run(req).await
}

/// Where to go after logging in: a local path only, never another site.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// The login form, answered with `status` (401 when it stands in for a protected page).
pub fn login_page(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let next = if next == "/dashboard/login" {
        "/"
    } else {
        safe_next(next)
    };
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · Sluice" }
                link rel="stylesheet" href=(crate::dashboard::asset_url("app.css"));
            }
            body.login {
                main.login-box {
                    h1 { "Sluice" }
                    p { "This Sluice runs in production mode. Log in to see its runs, events and apps." }
                    @if let Some(error) = error {
                        p.flash.error role="alert" { (error) }
                    }
                    form method="post" action="/dashboard/login" {
                        input type="hidden" name="next" value=(next);
                        label {
                            "Password"
                            input type="password" name="password" autocomplete="current-password" autofocus required;
                        }
                        button type="submit" { "Log in" }
                    }
                    p.hint {
                        "The password is the configured " code { "--dashboard-password" }
                        " (" code { "SLUICE_DASHBOARD_PASSWORD" } "), or else the token "
                        code { "sluice start" } " printed at boot, derived from the signing key."
                    }
                }
            }
        }
    };
    let mut resp = (status, page).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    password: String,
    #[serde(default)]
    next: String,
}

/// `GET /dashboard/login`.
pub async fn login_form(State(state): State<SharedState>) -> Response {
    if state.config.mode == Mode::Dev {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    }
    login_page("/", None, StatusCode::OK)
}

/// `POST /dashboard/login`: checks the password and sets the session cookie.
pub async fn login(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(expected) = password(&state).filter(|_| state.config.mode == Mode::Cloud) else {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    };
    // Compare digests so the comparison takes the same time whatever the lengths.
    let ok = bool::from(
        Sha256::digest(form.password.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes())),
    );
    if !ok {
        // Slows guessing down a little without holding a lock or a thread.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        return login_page(
            &form.next,
            Some("That password is not right."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let key = session_key(&state);
    let (value, _) = new_session(&key, now_ms() + SESSION_TTL_MS);
    let mut cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL_MS / 1000
    );
    if behind_https(&headers) {
        cookie.push_str("; Secure");
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, safe_next(&form.next).to_owned()),
        ],
    )
        .into_response()
}

/// Whether the browser reached Sluice over HTTPS through a proxy that terminates TLS
/// (`X-Forwarded-Proto: https` or `Forwarded: …proto=https`). Sluice itself serves plain HTTP, so
/// only then may the session cookie be `Secure`: a browser drops `Secure` cookies sent over
/// plain HTTP to anything but localhost.
fn behind_https(headers: &HeaderMap) -> bool {
    let has = |name: &str, pred: &dyn Fn(&str) -> bool| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(pred)
    };
    has("x-forwarded-proto", &|v| {
        v.split(',')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }) || has("forwarded", &|v| {
        v.split([';', ','])
            .filter_map(|pair| pair.split_once('='))
            .any(|(k, p)| {
                k.trim().eq_ignore_ascii_case("proto")
                    && p.trim().trim_matches('"').eq_ignore_ascii_case("https")
            })
    })
}

/// `POST /dashboard/logout`: clears the cookie (the guard checked the CSRF token).
pub async fn logout() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::OK,
        [(header::SET_COOKIE, cookie)],
        axum::Json(serde_json::json!({ "ok": true })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_verify_and_expire() {
        let key = b"k".to_vec();
        let (value, csrf) = new_session(&key, 2_000);
        let nonce = check_session(&key, &value, 1_000).expect("valid");
        assert_eq!(csrf_for(&key, &nonce), csrf);
        assert!(check_session(&key, &value, 2_000).is_none(), "expired");
        assert!(
            check_session(b"other", &value, 1_000).is_none(),
            "other key"
        );
        let forged = value.replacen("v1.2000", "v1.9999", 1);
        assert!(check_session(&key, &forged, 1_000).is_none(), "tampered");
    }

    #[test]
    fn areas() {
        assert_eq!(area("/e/key"), Area::Public);
        assert_eq!(area("/webhooks/clerk"), Area::Public);
        assert_eq!(area("/fn/register"), Area::Public);
        assert_eq!(area("/v1/runs"), Area::Rest);
        assert_eq!(area("/"), Area::Dashboard);
        assert_eq!(area("/runs/x"), Area::Dashboard);
        assert_eq!(area("/dashboard/stream"), Area::Dashboard);
        assert_eq!(area("/v1x"), Area::Dashboard);
    }

    #[test]
    fn next_stays_local() {
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/runs?status=Failed"), "/runs?status=Failed");
    }
}
