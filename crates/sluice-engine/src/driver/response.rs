//! Reading an SDK's HTTP answer into an [`Outcome`].
//!
//! | answer | outcome |
//! |---|---|
//! | no `X-Inngest-SDK` header, any status | [`Outcome::NotSdk`]: a proxy, a 404 page, another app |
//! | `201` | a streamed envelope `{status, headers, body}` after whitespace keep-alives; read again |
//! | `206` | [`Outcome::Ops`] (or [`Outcome::Invalid`] if the opcodes cannot be read) |
//! | other `2xx` | [`Outcome::Complete`] with the body (JSON as is; other text as a JSON string) |
//! | anything else | [`Outcome::Error`] with `X-Inngest-No-Retry` and `Retry-After` |
//!
//! The envelope's `body` is the inner response text, JSON-encoded as a string by both SDKs
//! (inngest-js `helpers/stream.ts`, inngest-py `comm_lib/models.py`); the Go server also accepts it
//! unencoded. Its headers override the outer ones.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_core::backoff;
use sluice_core::opcode::{self, ErrorBody};
use sluice_core::run::Outcome;

const H_SDK: &str = "x-inngest-sdk";
const H_REQ_VERSION: &str = "x-inngest-req-version";
const H_NO_RETRY: &str = "x-inngest-no-retry";
const H_RETRY_AFTER: &str = "retry-after";
/// How much of a non-SDK body to quote in the error.
const BODY_PREFIX_CHARS: usize = 200;

/// What one call to an SDK produced.
#[derive(Debug, Clone)]
pub struct Response {
    pub outcome: Outcome,
    /// The HTTP status that decided the outcome (the inner one for a streamed answer); `None`
    /// when nothing answered.
    pub status: Option<u16>,
    /// `X-Inngest-Req-Version`: the execution version the SDK used.
    pub request_version: Option<i32>,
    /// `X-Inngest-SDK`, e.g. `inngest-js:v3.54.0`.
    pub sdk: Option<String>,
    /// Time from sending the request to having read the whole answer.
    pub duration_ms: u64,
}

impl Response {
    pub(crate) fn transport(message: String, duration_ms: u64) -> Self {
        Response {
            outcome: Outcome::Transport { message },
            status: None,
            request_version: None,
            sdk: None,
            duration_ms,
        }
    }
}

/// Interprets a complete HTTP answer. `now_ms` resolves a `Retry-After` given as a date.
pub fn interpret(status: u16, headers: &HeaderMap, body: &[u8], now_ms: i64) -> Response {
    let mut headers = headers.clone();
    let mut status = status;
    let mut body = String::from_utf8_lossy(body).into_owned();

    if status == 201 {
        match read_envelope(&body) {
            Ok(envelope) => {
                status = envelope.status;
                body = envelope.body;
                for (name, value) in envelope.headers {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(&value),
                    ) {
                        headers.insert(name, value);
                    }
                }
            }
            Err(message) if header(&headers, H_SDK).is_some() => {
                return finish(
                    Outcome::Invalid {
                        message: format!("could not read the SDK's streamed response: {message}"),
                    },
                    Some(201),
                    &headers,
                );
            }
            // Not from an SDK: fall through to the NotSdk answer below.
            Err(_) => {}
        }
    }

    let Some(_) = header(&headers, H_SDK) else {
        return finish(
            Outcome::NotSdk {
                status,
                body_prefix: prefix(body.trim(), BODY_PREFIX_CHARS),
            },
            Some(status),
            &headers,
        );
    };
    let no_retry = header(&headers, H_NO_RETRY).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let retry_after_ms =
        header(&headers, H_RETRY_AFTER).and_then(|v| backoff::parse_retry_after(v, now_ms));

    let outcome = match status {
        206 => match opcode::parse(&body) {
            Ok(ops) => Outcome::Ops {
                ops,
                no_retry,
                retry_after_ms,
            },
            Err(e) => Outcome::Invalid {
                message: e.to_string(),
            },
        },
        200..=299 => Outcome::Complete {
            output: json_or_string(&body),
        },
        _ => Outcome::Error {
            status,
            error: error_body(status, &body),
            no_retry,
            retry_after_ms,
        },
    };
    finish(outcome, Some(status), &headers)
}

fn finish(outcome: Outcome, status: Option<u16>, headers: &HeaderMap) -> Response {
    Response {
        outcome,
        status,
        request_version: header(headers, H_REQ_VERSION).and_then(|v| v.trim().parse().ok()),
        sdk: header(headers, H_SDK).map(str::to_owned),
        duration_ms: 0,
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

struct Envelope {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn read_envelope(text: &str) -> Result<Envelope, String> {
    #[derive(Deserialize)]
    struct Wire {
        status: Option<u16>,
        #[serde(default)]
        headers: Option<serde_json::Map<String, serde_json::Value>>,
        body: Option<Box<RawValue>>,
        error: Option<String>,
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the stream ended before the SDK sent its result".to_owned());
    }
    let wire: Wire = serde_json::from_str(trimmed)
        .map_err(|e| format!("{e}; stream ends with {}", suffix(trimmed, 120)))?;
    if let Some(error) = wire.error {
        return Err(error);
    }
    let status = wire
        .status
        .ok_or_else(|| "the envelope has no \"status\"".to_owned())?;
    let body = match wire.body {
        None => String::new(),
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(inner) => inner,
            Err(_) => raw.get().to_owned(),
        },
    };
    let headers = wire
        .headers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect();
    Ok(Envelope {
        status,
        headers,
        body,
    })
}

/// A 200 body as JSON: as sent when it is JSON, `null` when empty, otherwise a JSON string.
fn json_or_string(body: &str) -> Box<RawValue> {
    let trimmed = body.trim();
    let text = if trimmed.is_empty() {
        "null".to_owned()
    } else if serde_json::from_str::<&RawValue>(trimmed).is_ok() {
        trimmed.to_owned()
    } else {
        serde_json::to_string(body).expect("strings serialize")
    };
    RawValue::from_string(text).expect("valid JSON")
}

fn error_body(status: u16, body: &str) -> ErrorBody {
    let mut error = if body.trim().is_empty() {
        ErrorBody::new(
            "Error",
            format!("your app answered HTTP {status} with an empty body"),
        )
    } else {
        ErrorBody::from_json(body)
    };
    if status == 401 {
        error.message = format!(
            "your app rejected Sluice's request signature (HTTP 401); check that the app and Sluice \
             use the same signing key: {}",
            error.message
        );
    }
    error
}

fn prefix(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn suffix(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        return text.to_owned();
    }
    let start = text
        .char_indices()
        .nth(count - max_chars)
        .map_or(0, |(i, _)| i);
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    const SDK: (&str, &str) = ("x-inngest-sdk", "inngest-js:v3.54.0");

    #[test]
    fn statuses() {
        let r = interpret(
            200,
            &headers(&[SDK, ("x-inngest-req-version", "1")]),
            br#"{"ok":true}"#,
            NOW,
        );
        assert!(
            matches!(&r.outcome, Outcome::Complete { output } if output.get() == r#"{"ok":true}"#)
        );
        assert_eq!(
            (r.request_version, r.sdk.as_deref(), r.status),
            (Some(1), Some("inngest-js:v3.54.0"), Some(200))
        );

        let r = interpret(200, &headers(&[SDK]), b"", NOW);
        assert!(matches!(&r.outcome, Outcome::Complete { output } if output.get() == "null"));
        let r = interpret(200, &headers(&[SDK]), b"plain text", NOW);
        assert!(
            matches!(&r.outcome, Outcome::Complete { output } if output.get() == r#""plain text""#)
        );

        let r = interpret(
            206,
            &headers(&[SDK, ("x-inngest-no-retry", "true"), ("retry-after", "30")]),
            br#"[{"op":"StepError","id":"a","error":{"message":"m"}}]"#,
            NOW,
        );
        match r.outcome {
            Outcome::Ops {
                ops,
                no_retry,
                retry_after_ms,
            } => {
                assert_eq!(ops.len(), 1);
                assert!(no_retry);
                assert_eq!(retry_after_ms, Some(30_000));
            }
            other => panic!("{other:?}"),
        }

        let r = interpret(206, &headers(&[SDK]), b"[{\"op\":\"StepPlanned\"}]", NOW);
        assert!(
            matches!(&r.outcome, Outcome::Invalid { message } if message.contains("StepPlanned has no \"id\""))
        );

        let r = interpret(
            500,
            &headers(&[SDK, ("x-inngest-no-retry", "false")]),
            br#"{"name":"Error","message":"boom","stack":"at f"}"#,
            NOW,
        );
        match r.outcome {
            Outcome::Error {
                status,
                error,
                no_retry,
                retry_after_ms,
            } => {
                assert_eq!(
                    (status, error.message.as_str(), no_retry, retry_after_ms),
                    (500, "boom", false, None)
                );
                assert_eq!(error.stack.as_deref(), Some("at f"));
            }
            other => panic!("{other:?}"),
        }

        let r = interpret(
            400,
            &headers(&[SDK, ("x-inngest-no-retry", "true")]),
            br#"{"name":"NonRetriableError","message":"no"}"#,
            NOW,
        );
        assert!(matches!(r.outcome, Outcome::Error { no_retry: true, .. }));

        let r = interpret(
            401,
            &headers(&[SDK]),
            br#"{"message":"Invalid signature"}"#,
            NOW,
        );
        assert!(
            matches!(&r.outcome, Outcome::Error { error, .. } if error.message.contains("same signing key") && error.message.ends_with("Invalid signature"))
        );

        let r = interpret(502, &headers(&[SDK]), b"", NOW);
        assert!(
            matches!(&r.outcome, Outcome::Error { error, .. } if error.message.contains("HTTP 502 with an empty body"))
        );
    }

    #[test]
    fn missing_sdk_header_is_not_an_sdk_whatever_the_status() {
        for status in [200, 206, 404, 502] {
            let r = interpret(
                status,
                &headers(&[("content-type", "text/html")]),
                b"  <html><body>Not Found</body></html>",
                NOW,
            );
            match r.outcome {
                Outcome::NotSdk {
                    status: s,
                    body_prefix,
                } => {
                    assert_eq!(s, status);
                    assert_eq!(body_prefix, "<html><body>Not Found</body></html>");
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        let long = "x".repeat(1000);
        let r = interpret(404, &HeaderMap::new(), long.as_bytes(), NOW);
        assert!(
            matches!(&r.outcome, Outcome::NotSdk { body_prefix, .. } if body_prefix.chars().count() == BODY_PREFIX_CHARS + 1)
        );
    }

    #[test]
    fn streamed_envelopes() {
        // inngest-js and inngest-py: whitespace keep-alives, then the envelope with a string body.
        let body = format!(
            "   \n {}",
            serde_json::json!({
                "status": 206,
                "headers": {"X-Inngest-SDK": "inngest-py:v0.5.0", "X-Inngest-Req-Version": "2", "Retry-After": "5"},
                "body": r#"[{"op":"StepPlanned","id":"a"}]"#,
                "version": 2
            })
        );
        let r = interpret(
            201,
            &headers(&[("x-inngest-sdk", "inngest-py:v0.5.0")]),
            body.as_bytes(),
            NOW,
        );
        assert_eq!((r.status, r.request_version), (Some(206), Some(2)));
        assert!(
            matches!(&r.outcome, Outcome::Ops { ops, retry_after_ms: Some(5000), .. } if ops[0].id == "a")
        );

        // A 200 inside, with the body unencoded (accepted by the Go server too).
        let r = interpret(
            201,
            &headers(&[SDK]),
            br#"  {"status":200,"headers":{},"body":{"n":1}}"#,
            NOW,
        );
        assert!(matches!(&r.outcome, Outcome::Complete { output } if output.get() == r#"{"n":1}"#));

        // A string return value stays a string.
        let r = interpret(
            201,
            &headers(&[SDK]),
            br#"{"status":200,"body":"\"hello\""}"#,
            NOW,
        );
        assert!(matches!(&r.outcome, Outcome::Complete { output } if output.get() == r#""hello""#));

        let r = interpret(201, &headers(&[SDK]), b"     ", NOW);
        assert!(
            matches!(&r.outcome, Outcome::Invalid { message } if message.contains("stream ended"))
        );
        let r = interpret(
            201,
            &headers(&[SDK]),
            br#"{"error":"handler crashed"}"#,
            NOW,
        );
        assert!(
            matches!(&r.outcome, Outcome::Invalid { message } if message.contains("handler crashed"))
        );

        let r = interpret(201, &HeaderMap::new(), b"created!", NOW);
        assert!(matches!(r.outcome, Outcome::NotSdk { status: 201, .. }));
    }

    #[test]
    fn retry_after_forms() {
        for (value, want) in [
            ("120", Some(120_000)),
            ("1.5", Some(1_500)),
            ("2023-11-14T22:13:30Z", Some(10_000)),
            ("Tue, 14 Nov 2023 22:13:30 GMT", Some(10_000)),
            ("soon", None),
        ] {
            let r = interpret(500, &headers(&[SDK, ("retry-after", value)]), b"{}", NOW);
            assert!(
                matches!(r.outcome, Outcome::Error { retry_after_ms, .. } if retry_after_ms == want),
                "{value}"
            );
        }
    }
}
