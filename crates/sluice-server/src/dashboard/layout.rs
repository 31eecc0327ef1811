//! The page frame (head, navigation, footer) and the small pieces every page uses: timestamps,
//! status badges, durations, JSON blocks with truncation, empty states, errors.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::asset_url;
use crate::auth::Viewer;
use crate::{ApiError, Mode, SharedState};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Runs,
    Events,
    Functions,
    Apps,
    Webhooks,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Runs, "/", "Runs"),
    (Nav::Events, "/events", "Events"),
    (Nav::Functions, "/functions", "Functions"),
    (Nav::Apps, "/apps", "Apps"),
    (Nav::Webhooks, "/sources", "Webhooks"),
];

/// What a page wants to be refreshed on: nothing, any run change, or one run's changes; each
/// with the fingerprint ([`super::stream::fingerprint`]) the page was rendered at.
pub enum Live {
    Off,
    Runs(Option<u64>),
    Run(String, Option<u64>),
}

/// A whole HTML page.
pub fn frame(
    state: &SharedState,
    viewer: &Viewer,
    title: &str,
    nav: Nav,
    live: Live,
    body: Markup,
) -> Response {
    let live_attr = match &live {
        Live::Off => None,
        Live::Runs(since) => Some(format!("/dashboard/stream?since={:x}", since.unwrap_or(0))),
        Live::Run(id, since) => Some(format!(
            "/dashboard/stream?run={id}&since={:x}",
            since.unwrap_or(0)
        )),
    };
    let mode = state.config.mode;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Sluice" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(asset_url("app.css"));
                script src=(asset_url("app.js")) defer {}
            }
            body data-csrf=(viewer.csrf) data-live=[live_attr] {
                header.top {
                    a.brand href="/" { span.logo aria-hidden="true" { "≋" } " Sluice" }
                    nav aria-label="Main" {
                        @for (item, href, label) in NAV {
                            a href=(href) aria-current=[(item == nav).then_some("page")] { (label) }
                        }
                    }
                    span.mode title=(match mode { Mode::Dev => "sluice dev: open, local", Mode::Cloud => "sluice start: authenticated" }) {
                        (mode.as_str())
                    }
                    @if viewer.logged_in {
                        button.link type="button" data-action="/dashboard/logout" data-method="POST" data-then="reload" { "Log out" }
                    }
                }
                div #flash role="status" aria-live="polite" {}
                main #main {
                    (body)
                }
            }
        }
    };
    let mut resp = markup.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An error page: the store failed, or the thing asked for does not exist.
pub fn error_page(state: &SharedState, viewer: &Viewer, nav: Nav, err: ApiError) -> Response {
    let status = err.status;
    let mut resp = frame(
        state,
        viewer,
        "Error",
        nav,
        Live::Off,
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.flash.error { (err.message) }
            p { a href="/" { "Back to runs" } }
        },
    );
    *resp.status_mut() = status;
    resp
}

pub fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, what)
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A timestamp: rendered in UTC, turned into local time by the script, with the absolute UTC
/// time on hover.
pub fn time(ms: i64) -> Markup {
    let iso = iso(ms);
    let shown = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    html! { time datetime=(iso) title=(iso) { (shown) } }
}

pub fn opt_time(ms: Option<i64>) -> Markup {
    match ms {
        Some(ms) => time(ms),
        None => html! { span.muted { "—" } },
    }
}

/// A human duration: `840 ms`, `1.25 s`, `3 m 02 s`, `2 h 05 m`, `3 d 4 h`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.2} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} m {:02} s", ms / 60_000, ms / 1000 % 60),
        3_600_000..86_400_000 => format!("{} h {:02} m", ms / 3_600_000, ms / 60_000 % 60),
        _ => format!("{} d {} h", ms / 86_400_000, ms / 3_600_000 % 24),
    }
}

pub fn status_badge(status: &str) -> Markup {
    let class = format!("badge s-{}", status.to_ascii_lowercase());
    html! { span class=(class) { (status) } }
}

/// The first and last characters of a long id, whole on hover.
pub fn short_id(id: &str) -> Markup {
    let shown = if id.len() > 12 {
        format!("{}…{}", &id[..4], &id[id.len() - 6..])
    } else {
        id.to_owned()
    };
    html! { code.id title=(id) { (shown) } }
}

/// Largest JSON shown inline; bigger values are cut and linked to their raw form.
pub const INLINE_LIMIT: usize = 24 * 1024;

/// Pretty-printed JSON (key order, big numbers and empty objects survive: `serde_json` here keeps
/// order and arbitrary precision). Text that is not JSON is shown as it is. Past
/// [`INLINE_LIMIT`] the view is cut and `raw_url`, when given, offers the whole value.
pub fn json_block(text: &str, raw_url: Option<&str>) -> Markup {
    let pretty = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned());
    truncated_pre(&pretty, text.len(), raw_url, "json")
}

/// Text exactly as stored, cut past [`INLINE_LIMIT`].
pub fn raw_block(text: &str, raw_url: Option<&str>) -> Markup {
    truncated_pre(text, text.len(), raw_url, "raw")
}

fn truncated_pre(shown: &str, stored_len: usize, raw_url: Option<&str>, class: &str) -> Markup {
    if shown.len() <= INLINE_LIMIT {
        return html! { pre class=(class) { code { (shown) } } };
    }
    let mut cut = INLINE_LIMIT;
    while !shown.is_char_boundary(cut) {
        cut -= 1;
    }
    html! {
        pre class=(class) { code { (&shown[..cut]) "\n…" } }
        p.truncated {
            "Truncated: showing " (cut) " of " (shown.len()) " characters (" (stored_len) " bytes stored). "
            @if let Some(url) = raw_url {
                a href=(url) download { "Download the full value" }
            }
        }
    }
}

/// An `{name, message, stack}` error, or any other error JSON as it is.
pub fn error_block(text: &str) -> Markup {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    match (field("name"), field("message")) {
        (name, Some(message)) => html! {
            div.error-box {
                p { strong { (name.unwrap_or_else(|| "Error".into())) } ": " (message) }
                @if let Some(stack) = field("stack").filter(|s| !s.is_empty()) {
                    details open {
                        summary { "Stack" }
                        pre.stack { code { (stack) } }
                    }
                }
            }
        },
        _ => html! { div.error-box { (json_block(text, None)) } },
    }
}

/// An empty state: what is missing and what to do next.
pub fn empty(title: &str, next: Markup) -> Markup {
    html! {
        div.empty {
            h2 { (title) }
            (next)
        }
    }
}

/// How to point an app at Sluice, for the empty states of runs, functions and apps.
pub fn connect_help(state: &SharedState) -> Markup {
    let dev = state.config.mode == Mode::Dev;
    html! {
        ol.steps {
            @if dev {
                li { "Run your app with the Inngest SDK, pointed at this server: "
                    pre { code { "INNGEST_DEV=http://127.0.0.1:8288 node server.js" } } }
                li { "Tell Sluice where the app serves its functions (or let it find apps on the usual local ports): "
                    pre { code { "sluice dev -u http://127.0.0.1:3000/api/inngest" } }
                    "or add the URL on the " a href="/apps" { "Apps" } " page." }
            } @else {
                li { "Give your app the same signing key and point it at this server: "
                    pre { code { "INNGEST_BASE_URL=https://<this host> INNGEST_SIGNING_KEY=signkey-… INNGEST_EVENT_KEY=… node server.js" } } }
                li { "Sync it: add its serve URL (such as " code { "https://app.example.com/api/inngest" } ") on the "
                    a href="/apps" { "Apps" } " page." }
            }
            li { "Send an event that one of its functions listens to, from your code or from the "
                a href="/events" { "Events" } " page. Its runs appear here as they happen." }
        }
    }
}

/// Inline JSON for a `data-body` attribute.
pub fn json_attr(v: &serde_json::Value) -> String {
    v.to_string()
}

/// A button that performs an action through the script (`fetch`), confirming first when asked.
pub fn action_button(
    label: &str,
    url: &str,
    method: &str,
    body: Option<serde_json::Value>,
    confirm: Option<&str>,
    then: &str,
    class: &str,
) -> Markup {
    html! {
        button type="button" class=(class) data-action=(url) data-method=(method)
            data-body=[body.as_ref().map(json_attr)] data-confirm=[confirm] data-then=(then) {
            (label)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(840), "840 ms");
        assert_eq!(duration(1250), "1.25 s");
        assert_eq!(duration(182_000), "3 m 02 s");
        assert_eq!(duration(7_500_000), "2 h 05 m");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
    }

    #[test]
    fn big_json_is_cut_with_a_link() {
        let big = format!("\"{}\"", "x".repeat(INLINE_LIMIT * 2));
        let html = json_block(&big, Some("/raw")).into_string();
        assert!(html.contains("Truncated"), "{}", &html[..100]);
        assert!(html.contains("href=\"/raw\""));
        let small = json_block(r#"{"a":{},"big":123456789012345678901}"#, None).into_string();
        assert!(small.contains("123456789012345678901") && small.contains("{}"));
    }
}
