//! Asking an app to sync: `PUT <serve URL>`, as Inngest's servers do.
//!
//! The body is `{"url": "<serve URL>"}`, with `X-Inngest-Server-Kind` (and `X-Inngest-Signature`
//! when a signing key is set). The SDK answers by calling `POST /fn/register` itself, then replies
//! to the PUT with the outcome. The replies differ by SDK:
//! - JS: the register call's status, body `{"message", "modified"}`;
//! - Python: `200` with the register response's body as it came, even when that body is an error
//!   (`{"error", "status": 400}`), so a 2xx alone does not mean success;
//! - anything else (a 404 page, a framework's HTML, a proxy) has no `X-Inngest-SDK` header.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use serde_json::Value as Json;

use crate::Mode;

/// How long an app may take to answer a PUT. It includes the SDK's own register call back to
/// Sluice, so it is generous.
pub const PING_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting is cheap on a running app; a port with nothing behind it fails at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How much of a non-SDK answer an error message quotes.
const QUOTED_BYTES: usize = 200;

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        // A redirect usually means the wrong URL (a trailing slash, http vs https); say so
        // rather than follow it with a method the target may not expect.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client's configuration is static")
});

/// A sync the app reports as done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pinged {
    /// Whether the function set changed, when the SDK passed it on.
    pub modified: Option<bool>,
    /// The app id and sync id, when the SDK passed Sluice's register answer through (Python).
    pub app_id: Option<String>,
    pub sync_id: Option<String>,
}

/// Why a sync by URL failed. The messages are meant for the person running the app.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PingError {
    #[error("{0:?} is not an http(s) URL")]
    InvalidUrl(String),
    #[error("cannot reach {url}: {reason}; is the app running and serving Inngest at that path?")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {secs} s")]
    TimedOut { url: String, secs: u64 },
    #[error(
        "{url} answered {status}, but not through an Inngest SDK (no X-Inngest-SDK header); \
         check the path{hint}. The body began: {body_start:?}"
    )]
    NotAnSdk {
        url: String,
        status: u16,
        hint: String,
        body_start: String,
    },
    /// The SDK answered, but its registration failed (Sluice refused it, or the SDK could not
    /// reach Sluice). `message` is the SDK's own words.
    #[error("the app at {url} answered {status} but did not sync: {message}")]
    SyncFailed {
        url: String,
        status: u16,
        message: String,
    },
}

impl PingError {
    /// The reason to store with the failed sync. For a failed registration it is the SDK's
    /// message alone, which is Sluice's own refusal when Sluice refused: the store then folds it
    /// into the failure the register call already recorded.
    pub fn reason(&self) -> String {
        match self {
            PingError::SyncFailed { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Checks that `url` is an absolute http(s) URL, adding `http://` when no scheme is given
/// (`localhost:3000/api/inngest`), as Inngest's dev server does.
pub fn normalize_url(url: &str) -> Result<String, PingError> {
    let url = url.trim();
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    match reqwest::Url::parse(&with_scheme) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(with_scheme)
        }
        _ => Err(PingError::InvalidUrl(url.to_owned())),
    }
}

/// Sends the sync request to the app at `url` and interprets the answer.
pub async fn ping(
    url: &str,
    mode: Mode,
    signing_key: Option<&str>,
    timeout: Duration,
) -> Result<Pinged, PingError> {
    let url = normalize_url(url)?;
    let body = serde_json::to_vec(&serde_json::json!({ "url": url }))
        .expect("a JSON object with one string serializes");
    let mut request = CLIENT
        .put(&url)
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/json")
        .header("x-inngest-server-kind", mode.as_str());
    if let Some(key) = signing_key {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        request = request.header(
            "x-inngest-signature",
            sluice_core::sign::sign_body(&body, key, now),
        );
    }
    let response = request.body(body).send().await.map_err(|e| {
        if e.is_timeout() {
            PingError::TimedOut {
                url: url.clone(),
                secs: timeout.as_secs(),
            }
        } else {
            PingError::Unreachable {
                url: url.clone(),
                reason: root_cause(&e),
            }
        }
    })?;

    let status = response.status();
    let from_sdk = response.headers().contains_key("x-inngest-sdk");
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            PingError::TimedOut {
                url: url.clone(),
                secs: timeout.as_secs(),
            }
        } else {
            PingError::Unreachable {
                url: url.clone(),
                reason: format!("the answer broke off: {}", root_cause(&e)),
            }
        }
    })?;
    let json: Option<serde_json::Map<String, Json>> = serde_json::from_slice(&bytes).ok();
    interpret(url, status.as_u16(), from_sdk, location, &bytes, json)
}

fn interpret(
    url: String,
    status: u16,
    from_sdk: bool,
    location: Option<String>,
    bytes: &[u8],
    json: Option<serde_json::Map<String, Json>>,
) -> Result<Pinged, PingError> {
    let text = |key: &str| {
        json.as_ref()
            .and_then(|o| o.get(key))
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    // An SDK's answer: the header, or a JSON body with the fields SDKs send (a proxy may strip
    // headers, but it will not invent these).
    let sdk_shaped = json.as_ref().is_some_and(|o| {
        ["modified", "message", "ok", "error", "app_id"]
            .iter()
            .any(|k| o.contains_key(*k))
    });
    if !from_sdk && !sdk_shaped {
        let hint = match (status, location) {
            (300..=399, Some(to)) => format!(" (it redirects to {to}; use that URL)"),
            (404, _) => " (nothing is served there)".to_owned(),
            _ => String::new(),
        };
        return Err(PingError::NotAnSdk {
            url,
            status,
            hint,
            body_start: quote(bytes),
        });
    }
    // Python relays Sluice's own refusal with a 200; its body still says what happened.
    let relayed_status = json
        .as_ref()
        .and_then(|o| o.get("status"))
        .and_then(Json::as_u64)
        .filter(|s| *s >= 400);
    let failed =
        !(200..300).contains(&status) || relayed_status.is_some() || text("error").is_some();
    if failed {
        let message = text("error")
            .or_else(|| text("message"))
            .unwrap_or_else(|| quote(bytes));
        return Err(PingError::SyncFailed {
            url,
            status: relayed_status.map(|s| s as u16).unwrap_or(status),
            message,
        });
    }
    Ok(Pinged {
        modified: json
            .as_ref()
            .and_then(|o| o.get("modified"))
            .and_then(Json::as_bool),
        app_id: text("app_id"),
        sync_id: text("sync_id"),
    })
}

/// The innermost error's message: "Connection refused (os error 111)" rather than "error sending
/// request for url (…)".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.to_ascii_lowercase().contains("connection refused") {
        "connection refused".to_owned()
    } else {
        text
    }
}

/// The first bytes of a body, as one line.
fn quote(bytes: &[u8]) -> String {
    let end = bytes.len().min(QUOTED_BYTES);
    let text = String::from_utf8_lossy(&bytes[..end]);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if bytes.len() > QUOTED_BYTES {
        format!("{line}…")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(text: &str) -> Option<serde_json::Map<String, Json>> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn urls_get_a_scheme_and_must_be_http() {
        assert_eq!(
            normalize_url("localhost:3000/api/inngest").unwrap(),
            "http://localhost:3000/api/inngest"
        );
        assert_eq!(
            normalize_url(" https://x.test/api/inngest ").unwrap(),
            "https://x.test/api/inngest"
        );
        assert!(normalize_url("ftp://x/api").is_err());
        assert!(normalize_url("").is_err());
        assert!(normalize_url("http://").is_err());
    }

    #[test]
    fn answers_are_read_per_sdk() {
        let u = || "http://a/api/inngest".to_owned();
        // JS: status and {message, modified}.
        let ok = interpret(
            u(),
            200,
            true,
            None,
            b"",
            obj(r#"{"message":"Successfully registered","modified":true}"#),
        );
        assert_eq!(ok.unwrap().modified, Some(true));
        let refused = interpret(
            u(),
            400,
            true,
            None,
            b"",
            obj(r#"{"message":"function \"a-f\" uses \"concurrency\"","modified":false}"#),
        )
        .unwrap_err();
        assert!(matches!(
            &refused,
            PingError::SyncFailed { status: 400, .. }
        ));
        assert_eq!(refused.reason(), "function \"a-f\" uses \"concurrency\"");
        // Python: Sluice's body passed through, even an error with a 200.
        let py = interpret(
            u(),
            200,
            true,
            None,
            b"",
            obj(r#"{"ok":true,"modified":false,"app_id":"a","sync_id":"01J"}"#),
        )
        .unwrap();
        assert_eq!(py.app_id.as_deref(), Some("a"));
        assert_eq!(py.modified, Some(false));
        let py_refused = interpret(
            u(),
            200,
            true,
            None,
            b"",
            obj(r#"{"error":"register body: appName is missing","status":400}"#),
        )
        .unwrap_err();
        assert!(matches!(
            py_refused,
            PingError::SyncFailed { status: 400, .. }
        ));
    }

    #[test]
    fn non_sdk_answers_say_so_and_quote_the_body() {
        let html = b"<!DOCTYPE html>\n<html>\n  <body>Cannot PUT /api/inngest</body></html>";
        let err = interpret("http://a/x".into(), 404, false, None, html, None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("answered 404"), "{text}");
        assert!(text.contains("not through an Inngest SDK"), "{text}");
        assert!(
            text.contains("<!DOCTYPE html> <html> <body>Cannot PUT"),
            "{text}"
        );
        let moved = interpret(
            "http://a/x".into(),
            308,
            false,
            Some("http://a/x/".into()),
            b"",
            None,
        )
        .unwrap_err();
        assert!(
            moved.to_string().contains("redirects to http://a/x/"),
            "{moved}"
        );
        // A 200 that is not an SDK (a catch-all page) is not a sync either.
        let page = interpret("http://a/x".into(), 200, false, None, b"<html>", None);
        assert!(matches!(page, Err(PingError::NotAnSdk { status: 200, .. })));
        let long = vec![b'a'; 500];
        let err = interpret("http://a/x".into(), 500, false, None, &long, None).unwrap_err();
        assert!(err.to_string().contains(&format!("{}…", "a".repeat(200))));
    }
}
