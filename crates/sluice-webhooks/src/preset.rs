//! Named presets: the mapping from a well-known sender's delivery to events, with no user code.
//!
//! | preset | event name | `data` | `ts` | default scheme |
//! |---|---|---|---|---|
//! | `clerk` | `clerk/<type>` | the envelope's `data`, byte for byte | envelope `timestamp` (ms) | Standard Webhooks |
//! | `stripe` | `stripe/<type>` | the whole body | `created` × 1000 | Stripe |
//! | `github` | `github/<X-GitHub-Event>.<action>` (or without `.<action>`) | the body | none | GitHub |
//! | `shopify` | `shopify/<X-Shopify-Topic>` | the body | `X-Shopify-Triggered-At` | Shopify |
//! | `generic` | `webhook/request.received` | the JSON body, or the parsed form | none | none |
//!
//! `data` is sliced out of the raw body as a [`RawValue`], so key order, empty metadata objects
//! and integers beyond 2^53 reach the event exactly as the sender wrote them. Inngest events need
//! an object as `data`; a JSON body that is not an object is wrapped as `{"body": <value>}`.
//! No preset sets an event id: the server deduplicates on the delivery id instead.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::body::{BodyError, BodyKind, ParsedBody};
use crate::headers;
use crate::verify::Scheme;
use crate::EventDraft;

/// A built-in mapping from a delivery to events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Clerk,
    Stripe,
    Github,
    Shopify,
    Generic,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Clerk,
        Preset::Stripe,
        Preset::Github,
        Preset::Shopify,
        Preset::Generic,
    ];

    /// The name used in source config.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Clerk => "clerk",
            Preset::Stripe => "stripe",
            Preset::Github => "github",
            Preset::Shopify => "shopify",
            Preset::Generic => "generic",
        }
    }

    /// Looks a preset up by its config name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The scheme a new source with this preset should start with.
    pub fn default_scheme(self) -> Scheme {
        match self {
            Preset::Clerk => Scheme::StandardWebhooks,
            Preset::Stripe => Scheme::Stripe,
            Preset::Github => Scheme::Github,
            Preset::Shopify => Scheme::Shopify,
            Preset::Generic => Scheme::None,
        }
    }

    /// Turns one delivery into events. `body` is the raw body and `parsed` its parse.
    pub fn events<N, V>(
        self,
        headers: &[(N, V)],
        body: &[u8],
        parsed: &ParsedBody,
    ) -> Result<Vec<EventDraft>, BodyError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let event = match self {
            Preset::Clerk => clerk(body, parsed)?,
            Preset::Stripe => stripe(body, parsed)?,
            Preset::Github => github(headers, body, parsed)?,
            Preset::Shopify => shopify(headers, body, parsed)?,
            Preset::Generic => EventDraft {
                name: "webhook/request.received".into(),
                data: body_data(body, parsed)?,
                id: None,
                ts: None,
            },
        };
        Ok(vec![event])
    }
}

impl std::str::FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::from_name(s).ok_or_else(|| {
            let known: Vec<_> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown preset {s:?}; known presets: {}", known.join(", "))
        })
    }
}

fn clerk(body: &[u8], parsed: &ParsedBody) -> Result<EventDraft, BodyError> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: Option<String>,
        data: Option<Box<RawValue>>,
        timestamp: Option<Value>,
    }
    require_json("clerk", parsed)?;
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| shape_or_json("clerk", &e))?;
    let kind = envelope
        .kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| BodyError::Shape("Clerk envelope has no string \"type\"".into()))?;
    let data = envelope
        .data
        .ok_or_else(|| BodyError::Shape("Clerk envelope has no \"data\"".into()))?;
    Ok(EventDraft {
        name: format!("clerk/{kind}"),
        data: as_object(data),
        id: None,
        ts: envelope.timestamp.as_ref().and_then(integer),
    })
}

fn stripe(body: &[u8], parsed: &ParsedBody) -> Result<EventDraft, BodyError> {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: Option<String>,
        created: Option<Value>,
    }
    require_json("stripe", parsed)?;
    let event: Event = serde_json::from_slice(body).map_err(|e| shape_or_json("stripe", &e))?;
    let kind = event
        .kind
        .filter(|k| !k.is_empty())
        .ok_or_else(|| BodyError::Shape("Stripe event has no string \"type\"".into()))?;
    Ok(EventDraft {
        name: format!("stripe/{kind}"),
        data: body_data(body, parsed)?,
        id: None,
        ts: event
            .created
            .as_ref()
            .and_then(integer)
            .and_then(|s| s.checked_mul(1000)),
    })
}

fn github<N, V>(
    headers: &[(N, V)],
    body: &[u8],
    parsed: &ParsedBody,
) -> Result<EventDraft, BodyError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let event = required_header(headers, "X-GitHub-Event")?;
    // GitHub can be set to deliver `application/x-www-form-urlencoded` with the JSON in a
    // `payload` field; the event is the same either way.
    let data = match (parsed.kind, form_field(parsed, "payload")) {
        (BodyKind::Form, Some(payload)) => {
            serde_json::from_str::<Box<RawValue>>(payload).map_err(|e| BodyError::json(&e))?
        }
        _ => body_data(body, parsed)?,
    };
    let action = serde_json::from_str::<Value>(data.get())
        .ok()
        .and_then(|v| v.get("action")?.as_str().map(str::to_owned))
        .filter(|a| !a.is_empty());
    let name = match action {
        Some(action) => format!("github/{event}.{action}"),
        None => format!("github/{event}"),
    };
    Ok(EventDraft {
        name,
        data: as_object(data),
        id: None,
        ts: None,
    })
}

fn shopify<N, V>(
    headers: &[(N, V)],
    body: &[u8],
    parsed: &ParsedBody,
) -> Result<EventDraft, BodyError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let topic = required_header(headers, "X-Shopify-Topic")?;
    let ts = headers::get(headers, "X-Shopify-Triggered-At")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.timestamp_millis());
    Ok(EventDraft {
        name: format!("shopify/{topic}"),
        data: body_data(body, parsed)?,
        id: None,
        ts,
    })
}

/// The body as event data: the raw JSON for JSON bodies, the parsed arrays object for forms.
fn body_data(body: &[u8], parsed: &ParsedBody) -> Result<Box<RawValue>, BodyError> {
    let raw = match parsed.kind {
        BodyKind::Json => serde_json::from_slice(body).map_err(|e| BodyError::json(&e))?,
        BodyKind::Form | BodyKind::Multipart => serde_json::value::to_raw_value(&parsed.value)
            .map_err(|e| BodyError::Shape(e.to_string()))?,
    };
    Ok(as_object(raw))
}

/// Inngest event data must be an object; anything else is wrapped as `{"body": ...}`.
pub(crate) fn as_object(raw: Box<RawValue>) -> Box<RawValue> {
    if raw.get().trim_start().starts_with('{') {
        return raw;
    }
    let wrapped = format!("{{\"body\":{}}}", raw.get());
    RawValue::from_string(wrapped).expect("wrapping a valid JSON value stays valid JSON")
}

fn require_json(preset: &str, parsed: &ParsedBody) -> Result<(), BodyError> {
    if parsed.kind == BodyKind::Json {
        Ok(())
    } else {
        Err(BodyError::Shape(format!(
            "the {preset} preset expects a JSON body"
        )))
    }
}

fn required_header<'h, N, V>(headers: &'h [(N, V)], name: &str) -> Result<&'h str, BodyError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    headers::get(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| BodyError::Shape(format!("missing header {name}")))
}

fn form_field<'p>(parsed: &'p ParsedBody, name: &str) -> Option<&'p str> {
    parsed.value.get(name)?.get(0)?.as_str()
}

/// A type mismatch in the envelope is a shape problem; a syntax error is reported as JSON.
fn shape_or_json(preset: &str, e: &serde_json::Error) -> BodyError {
    if e.is_data() {
        BodyError::Shape(format!("{preset} payload: {e}"))
    } else {
        BodyError::json(e)
    }
}

fn integer(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;

    const NO_HEADERS: &[(&str, &str)] = &[];

    fn run(preset: Preset, headers: &[(&str, &str)], ct: &str, body: &[u8]) -> Vec<EventDraft> {
        let parsed = body::parse(Some(ct), body).unwrap();
        preset.events(headers, body, &parsed).unwrap()
    }

    fn run_err(preset: Preset, headers: &[(&str, &str)], body: &[u8]) -> BodyError {
        let parsed = body::parse(Some("application/json"), body).unwrap();
        preset.events(headers, body, &parsed).unwrap_err()
    }

    #[test]
    fn names_and_lookup() {
        for p in Preset::ALL {
            assert_eq!(Preset::from_name(p.name()), Some(p));
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
        }
        assert_eq!(Preset::from_name("Clerk"), Some(Preset::Clerk));
        assert!("nope".parse::<Preset>().unwrap_err().contains("clerk"));
        assert_eq!(Preset::Clerk.default_scheme(), Scheme::StandardWebhooks);
    }

    #[test]
    fn clerk_unknown_type_accepted_and_big_ints_kept() {
        let body = br#"{"type":"brandNew.thing","timestamp":1700000000000,"data":{"n":123456789012345678901234567890,"m":{}}}"#;
        let e = &run(Preset::Clerk, NO_HEADERS, "application/json", body)[0];
        assert_eq!(e.name, "clerk/brandNew.thing");
        assert_eq!(
            e.data.get(),
            r#"{"n":123456789012345678901234567890,"m":{}}"#
        );
        assert_eq!(e.ts, Some(1_700_000_000_000));
        assert_eq!(e.id, None);
    }

    #[test]
    fn clerk_bad_envelopes() {
        assert!(matches!(
            run_err(Preset::Clerk, NO_HEADERS, br#"{"data":{}}"#),
            BodyError::Shape(m) if m.contains("type")
        ));
        assert!(matches!(
            run_err(Preset::Clerk, NO_HEADERS, br#"{"type":"user.created"}"#),
            BodyError::Shape(m) if m.contains("data")
        ));
        assert!(matches!(
            run_err(Preset::Clerk, NO_HEADERS, br#"{"type":5,"data":{}}"#),
            BodyError::Shape(_)
        ));
        let parsed = body::parse(Some("application/x-www-form-urlencoded"), b"a=1").unwrap();
        assert!(Preset::Clerk.events(NO_HEADERS, b"a=1", &parsed).is_err());
    }

    #[test]
    fn stripe_event() {
        let body = b"{\"id\":\"evt_1\",\"type\":\"invoice.paid\",\"created\":1614556800,\n \"data\":{\"object\":{}}}";
        let e = &run(Preset::Stripe, NO_HEADERS, "application/json", body)[0];
        assert_eq!(e.name, "stripe/invoice.paid");
        assert_eq!(e.data.get().as_bytes(), body);
        assert_eq!(e.ts, Some(1_614_556_800_000));
        assert!(run_err(Preset::Stripe, NO_HEADERS, br#"{"id":"evt_1"}"#)
            .to_string()
            .contains("type"));
    }

    #[test]
    fn github_event_and_action() {
        let h = [("X-GitHub-Event", "issues")];
        let body = br#"{"action":"opened","issue":{"number":1}}"#;
        let e = &run(Preset::Github, &h, "application/json", body)[0];
        assert_eq!(e.name, "github/issues.opened");
        assert_eq!(e.data.get().as_bytes(), body);

        let ping = &run(
            Preset::Github,
            &[("x-github-event", "ping")],
            "application/json",
            br#"{"zen":"x"}"#,
        )[0];
        assert_eq!(ping.name, "github/ping");

        let form = b"payload=%7B%22action%22%3A%22closed%22%2C%22n%22%3A1%7D";
        let e = &run(
            Preset::Github,
            &h,
            "application/x-www-form-urlencoded",
            form,
        )[0];
        assert_eq!(e.name, "github/issues.closed");
        assert_eq!(e.data.get(), r#"{"action":"closed","n":1}"#);

        assert!(run_err(Preset::Github, NO_HEADERS, b"{}")
            .to_string()
            .contains("X-GitHub-Event"));
    }

    #[test]
    fn shopify_topic_and_time() {
        let h = [
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Triggered-At", "2023-03-29T18:00:27.877041743Z"),
        ];
        let body = br#"{"id":820982911946154508}"#;
        let e = &run(Preset::Shopify, &h, "application/json", body)[0];
        assert_eq!(e.name, "shopify/orders/create");
        assert_eq!(e.data.get(), r#"{"id":820982911946154508}"#);
        assert_eq!(e.ts, Some(1_680_112_827_877));
        assert!(run_err(Preset::Shopify, NO_HEADERS, b"{}")
            .to_string()
            .contains("X-Shopify-Topic"));
    }

    #[test]
    fn generic_bodies() {
        let e = &run(
            Preset::Generic,
            NO_HEADERS,
            "application/json",
            b" {\"a\": 1} ",
        )[0];
        assert_eq!(e.name, "webhook/request.received");
        assert_eq!(e.data.get(), "{\"a\": 1}");

        let e = &run(Preset::Generic, NO_HEADERS, "application/json", b"[1,2]")[0];
        assert_eq!(e.data.get(), r#"{"body":[1,2]}"#);

        let e = &run(
            Preset::Generic,
            NO_HEADERS,
            "application/x-www-form-urlencoded",
            b"a=1&a=2&b=x",
        )[0];
        assert_eq!(e.data.get(), r#"{"a":["1","2"],"b":["x"]}"#);
    }
}
