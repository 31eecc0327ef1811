//! Opcodes: what an Inngest SDK asks of the server in a `206 Partial Content` response.
//!
//! A 206 body is a JSON array of opcode objects (old SDKs send one bare object; `[]` means "nothing
//! to do"). Each object is `{op, id, name, displayName, opts, data, error, userland}`. This module
//! turns that body into [`Opcode`]s without interpreting them; the run state machine
//! ([`crate::run`]) decides what each one means.
//!
//! Facts checked against the public sources:
//! - op names are strings (inngest-js `StepOpCode`, inngest-py `Opcode`, the Go `enums.Opcode`);
//!   `"Step"` is the legacy spelling of `"StepRun"`, whose `data` the server stores unwrapped;
//! - the JS SDK puts a sleep's duration or ISO date, and a wait's event name, in `name`, while the
//!   spec puts them in `opts.duration` / `opts.event` ([`Opcode::sleep_target`],
//!   [`Opcode::wait_event_name`] read both);
//! - payloads (`data`, `opts`, `error`) stay raw JSON so step outputs keep key order, big integers
//!   and escapes byte for byte.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// The kind of an opcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The SDK ran a step inline and reports its output (`"StepRun"`).
    StepRun,
    /// Legacy `"Step"`: like `StepRun`, but `data` is stored as sent (it may already be wrapped).
    Step,
    /// The SDK found a step and wants it run in its own request.
    StepPlanned,
    /// A step threw and retries remain.
    StepError,
    /// A step threw for the last time; its error is memoized for user code to catch.
    StepFailed,
    Sleep,
    WaitForEvent,
    InvokeFunction,
    /// The function finished, reported inside a 206 (checkpointing and sync modes).
    RunComplete,
    /// The SDK asks for another discovery call (checkpointing runtime exceeded).
    DiscoveryRequest,
    /// The SDK could not find the step it was asked to run.
    StepNotFound,
    /// `step.fetch`: the server is to make an HTTP request.
    Gateway,
    /// `step.ai.infer`.
    AIGateway,
    WaitForSignal,
    DeferAdd,
    DeferAbort,
    /// Sync-endpoint completion (`"SyncRunComplete"`), only sent in checkpointing sync mode.
    SyncRunComplete,
    /// Anything this build does not know, kept verbatim for the error message.
    Unknown(String),
}

impl Op {
    /// The wire name, as the SDKs spell it.
    pub fn as_str(&self) -> &str {
        match self {
            Op::StepRun => "StepRun",
            Op::Step => "Step",
            Op::StepPlanned => "StepPlanned",
            Op::StepError => "StepError",
            Op::StepFailed => "StepFailed",
            Op::Sleep => "Sleep",
            Op::WaitForEvent => "WaitForEvent",
            Op::InvokeFunction => "InvokeFunction",
            Op::RunComplete => "RunComplete",
            Op::DiscoveryRequest => "DiscoveryRequest",
            Op::StepNotFound => "StepNotFound",
            Op::Gateway => "Gateway",
            Op::AIGateway => "AIGateway",
            Op::WaitForSignal => "WaitForSignal",
            Op::DeferAdd => "DeferAdd",
            Op::DeferAbort => "DeferAbort",
            Op::SyncRunComplete => "SyncRunComplete",
            Op::Unknown(name) => name,
        }
    }

    fn from_wire(name: &str) -> Op {
        match name {
            "StepRun" => Op::StepRun,
            "Step" => Op::Step,
            "StepPlanned" => Op::StepPlanned,
            "StepError" => Op::StepError,
            "StepFailed" => Op::StepFailed,
            "Sleep" => Op::Sleep,
            "WaitForEvent" => Op::WaitForEvent,
            "InvokeFunction" => Op::InvokeFunction,
            "RunComplete" => Op::RunComplete,
            "DiscoveryRequest" => Op::DiscoveryRequest,
            "StepNotFound" => Op::StepNotFound,
            "Gateway" => Op::Gateway,
            // The spec writes "AiGateway"; the SDKs and the Go server send "AIGateway".
            "AIGateway" | "AiGateway" => Op::AIGateway,
            "WaitForSignal" => Op::WaitForSignal,
            "DeferAdd" => Op::DeferAdd,
            "DeferAbort" => Op::DeferAbort,
            "SyncRunComplete" => Op::SyncRunComplete,
            other => Op::Unknown(other.to_owned()),
        }
    }

    /// Whether a response may carry this opcode without an `id` (the SDKs send a dummy one, but
    /// nothing needs it).
    fn id_optional(&self) -> bool {
        matches!(
            self,
            Op::RunComplete | Op::SyncRunComplete | Op::DiscoveryRequest
        )
    }
}

/// One opcode from a 206 response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Opcode {
    pub op: Op,
    /// The hashed step id (hex SHA-1 of the user's id); empty only for id-less ops.
    pub id: String,
    /// The step's name; for JS sleeps the duration, for JS waits the event name.
    pub name: Option<String>,
    /// The user's label for the step, shown in the dashboard.
    pub display_name: Option<String>,
    /// Op-specific options, raw.
    pub opts: Option<Box<RawValue>>,
    /// Step output (`StepRun`), or the result (`RunComplete`), raw. `null` and absent both read
    /// as `None`; the SDKs turn `undefined` into `null` anyway.
    pub data: Option<Box<RawValue>>,
    /// The step's error (`StepError`, `StepFailed`).
    pub error: Option<ErrorBody>,
    /// The user's own step id and repeat index, when the SDK sends them.
    pub userland: Option<Userland>,
}

/// The un-hashed step id the user wrote, and its repeat index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Userland {
    pub id: String,
    #[serde(default)]
    pub index: Option<u32>,
}

impl Opcode {
    /// The label to show: the display name, else the name, else the hashed id (the order the Go
    /// server uses).
    pub fn label(&self) -> &str {
        self.display_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.name.as_deref().filter(|s| !s.is_empty()))
            .unwrap_or(&self.id)
    }

    /// A string option from `opts`, if `opts` is an object holding a string under `key`.
    pub fn opt_str(&self, key: &str) -> Option<String> {
        self.opt_value(key).and_then(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// A raw option from `opts`, if `opts` is an object holding `key` (and it is not `null`).
    pub fn opt_raw(&self, key: &str) -> Option<Box<RawValue>> {
        let opts = self.opts.as_ref()?;
        let map: Vec<(String, Box<RawValue>)> =
            serde_json::from_str::<RawPairs>(opts.get()).ok()?.0;
        map.into_iter()
            .find(|(k, v)| k == key && v.get() != "null")
            .map(|(_, v)| v)
    }

    fn opt_value(&self, key: &str) -> Option<Value> {
        let opts = self.opts.as_ref()?;
        let value: Value = serde_json::from_str(opts.get()).ok()?;
        match value {
            Value::Object(mut map) => map.remove(key),
            _ => None,
        }
    }

    /// A sleep's duration (`"1h30m"`) or ISO date: `opts.duration` (spec) or `name` (JS, Python).
    pub fn sleep_target(&self) -> Option<String> {
        self.opt_str("duration")
            .filter(|s| !s.is_empty())
            .or_else(|| self.name.clone().filter(|s| !s.is_empty()))
    }

    /// The event a `WaitForEvent` waits for: `opts.event` (spec) or `name` (JS, Python).
    pub fn wait_event_name(&self) -> Option<String> {
        self.opt_str("event")
            .filter(|s| !s.is_empty())
            .or_else(|| self.name.clone().filter(|s| !s.is_empty()))
    }

    /// `opts.parallelMode == "race"`: the run continues after each of these parallel steps
    /// rather than after all of them (inngest-js `group.parallel({mode: "race"})`).
    pub fn is_race(&self) -> bool {
        self.opt_str("parallelMode").as_deref() == Some("race")
    }
}

/// An error as the SDKs serialize it: `{name, message, stack?, cause?}`, read leniently.
///
/// `raw` keeps the object exactly as sent, so the dashboard can show every field and a memoized
/// step error goes back to the SDK in the SDK's own shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub name: String,
    pub message: String,
    pub stack: Option<String>,
    pub cause: Option<Box<RawValue>>,
    /// The error as received, when it came from an SDK.
    pub raw: Option<Box<RawValue>>,
}

impl ErrorBody {
    /// An error made by Sluice itself.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            name: name.into(),
            message: message.into(),
            stack: None,
            cause: None,
            raw: None,
        }
    }

    /// Reads an error from any JSON the SDK (or a proxy) sent.
    ///
    /// An object gives its `name`, `message`, `stack` and `cause`; a message can also sit in an
    /// `error` string (inngest-js "step not found" bodies), and a wrapped error in an `error` or
    /// `body` object (the Go server accepts both). A bare string is the message. Anything else is
    /// kept as text in the message.
    pub fn from_json(text: &str) -> Self {
        let raw = RawValue::from_string(text.trim().to_owned()).ok();
        let value: Option<Value> = serde_json::from_str(text).ok();
        let mut body = match &value {
            Some(Value::Object(map)) => Self::from_object(map),
            Some(Value::String(s)) => ErrorBody::new("Error", s.clone()),
            Some(other) => ErrorBody::new("Error", other.to_string()),
            None => ErrorBody::new("Error", text.trim().to_owned()),
        };
        if value.is_some() {
            body.raw = raw;
        }
        body
    }

    fn from_object(map: &serde_json::Map<String, Value>) -> Self {
        let text = |key: &str| match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let has_own = text("message").is_some() || text("name").is_some();
        if !has_own {
            for key in ["error", "body"] {
                if let Some(Value::Object(inner)) = map.get(key) {
                    return Self::from_object(inner);
                }
            }
        }
        let message = text("message")
            .or_else(|| text("error"))
            .unwrap_or_else(|| {
                if map.is_empty() {
                    "Unknown error".to_owned()
                } else {
                    Value::Object(map.clone()).to_string()
                }
            });
        ErrorBody {
            name: text("name").unwrap_or_else(|| "Error".to_owned()),
            message,
            stack: text("stack"),
            cause: map
                .get("cause")
                .filter(|c| !c.is_null())
                .and_then(|c| RawValue::from_string(c.to_string()).ok()),
            raw: None,
        }
    }

    /// The error as JSON for memoizing (`{"error": <this>}`): what the SDK sent, or
    /// `{name, message, stack?}` for errors Sluice made.
    pub fn to_json(&self) -> String {
        if let Some(raw) = &self.raw {
            if raw.get().starts_with('{') {
                return raw.get().to_owned();
            }
        }
        let mut out = serde_json::Map::new();
        out.insert("name".into(), Value::String(self.name.clone()));
        out.insert("message".into(), Value::String(self.message.clone()));
        if let Some(stack) = &self.stack {
            out.insert("stack".into(), Value::String(stack.clone()));
        }
        let mut text = Value::Object(out).to_string();
        if let Some(cause) = &self.cause {
            text.pop();
            text.push_str(",\"cause\":");
            text.push_str(cause.get());
            text.push('}');
        }
        text
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Why a 206 body could not be read. The message names the opcode and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid opcode response from the SDK: {0}")]
pub struct ParseError(pub String);

/// Reads a 206 body: an array of opcodes, a single opcode object, or `[]`.
pub fn parse(body: &str) -> Result<Vec<Opcode>, ParseError> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Err(ParseError(
            "the body is empty; expected a JSON array of opcodes".to_owned(),
        ));
    }
    let items: Vec<Box<RawValue>> = match trimmed.as_bytes()[0] {
        b'[' => serde_json::from_str(trimmed).map_err(|e| {
            ParseError(format!(
                "the body is not a JSON array: {e}; body starts {}",
                prefix(trimmed)
            ))
        })?,
        b'{' => vec![RawValue::from_string(trimmed.to_owned()).map_err(|e| {
            ParseError(format!(
                "the body is not valid JSON: {e}; body starts {}",
                prefix(trimmed)
            ))
        })?],
        _ => {
            return Err(ParseError(format!(
                "expected a JSON array or object of opcodes, got {}",
                prefix(trimmed)
            )))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_one(index, item))
        .collect()
}

fn parse_one(index: usize, item: &RawValue) -> Result<Opcode, ParseError> {
    let at = |what: String| ParseError(format!("opcode #{index}: {what}"));
    if !item.get().starts_with('{') {
        return Err(at(format!(
            "expected an object, got {}",
            prefix(item.get())
        )));
    }
    let wire: WireOpcode = serde_json::from_str(item.get())
        .map_err(|e| at(format!("{e}; opcode is {}", prefix(item.get()))))?;
    let op_name = wire
        .op
        .ok_or_else(|| at(format!("it has no \"op\" field: {}", prefix(item.get()))))?;
    let op = Op::from_wire(&op_name);
    let id = wire.id.unwrap_or_default();
    if id.is_empty() && !op.id_optional() {
        return Err(at(format!("{} has no \"id\"", op.as_str())));
    }
    let error = wire
        .error
        .filter(|e| e.get() != "null")
        .map(|e| ErrorBody::from_json(e.get()));
    if matches!(op, Op::StepError | Op::StepFailed) && error.is_none() {
        return Err(at(format!(
            "{} for step {id} carries no \"error\"",
            op.as_str()
        )));
    }
    Ok(Opcode {
        op,
        id,
        name: wire.name,
        display_name: wire.display_name,
        opts: wire.opts.filter(|o| o.get() != "null"),
        data: wire.data,
        error,
        userland: wire.userland,
    })
}

fn prefix(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[derive(Deserialize)]
struct WireOpcode {
    op: Option<String>,
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(rename = "displayName", default, deserialize_with = "lenient_string")]
    display_name: Option<String>,
    opts: Option<Box<RawValue>>,
    data: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "lenient_userland")]
    userland: Option<Userland>,
}

/// Names are informational; a non-string one should not sink the whole response.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
    Ok(raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok()))
}

fn lenient_userland<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Userland>, D::Error> {
    let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
    Ok(raw.and_then(|r| serde_json::from_str::<Userland>(r.get()).ok()))
}

/// A JSON object read as ordered `(key, raw value)` pairs.
pub(crate) struct RawPairs(pub Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> de::Visitor<'de> for Visit {
            type Value = RawPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawPairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(RawPairs(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_array_single_object_and_empty() {
        let ops = parse(
            r#"[{"op":"StepPlanned","id":"a","name":"one"},{"op":"Step","id":"b","data":{"x":1}}]"#,
        )
        .unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].op, Op::StepPlanned);
        assert_eq!(ops[0].label(), "one");
        assert_eq!(ops[1].op, Op::Step);
        assert_eq!(ops[1].data.as_ref().unwrap().get(), r#"{"x":1}"#);

        let single = parse(r#" {"op":"StepRun","id":"a","data":"hi"} "#).unwrap();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].op, Op::StepRun);

        assert!(parse("[]").unwrap().is_empty());
        assert!(parse("  [ ] \n").unwrap().is_empty());
    }

    #[test]
    fn keeps_payloads_byte_for_byte() {
        let body = r#"[{"op":"StepRun","id":"a","data":{"z":1,"a":{},"big":123456789012345678901234567890,"s":"\u00e9"}}]"#;
        let ops = parse(body).unwrap();
        assert_eq!(
            ops[0].data.as_ref().unwrap().get(),
            r#"{"z":1,"a":{},"big":123456789012345678901234567890,"s":"\u00e9"}"#
        );
    }

    #[test]
    fn null_data_and_opts_read_as_none() {
        let ops = parse(r#"[{"op":"StepRun","id":"a","data":null,"opts":null}]"#).unwrap();
        assert!(ops[0].data.is_none());
        assert!(ops[0].opts.is_none());
    }

    #[test]
    fn every_known_op_name() {
        for (name, op) in [
            ("StepRun", Op::StepRun),
            ("Step", Op::Step),
            ("StepPlanned", Op::StepPlanned),
            ("StepError", Op::StepError),
            ("StepFailed", Op::StepFailed),
            ("Sleep", Op::Sleep),
            ("WaitForEvent", Op::WaitForEvent),
            ("InvokeFunction", Op::InvokeFunction),
            ("RunComplete", Op::RunComplete),
            ("DiscoveryRequest", Op::DiscoveryRequest),
            ("StepNotFound", Op::StepNotFound),
            ("Gateway", Op::Gateway),
            ("AIGateway", Op::AIGateway),
            ("AiGateway", Op::AIGateway),
            ("WaitForSignal", Op::WaitForSignal),
            ("DeferAdd", Op::DeferAdd),
            ("DeferAbort", Op::DeferAbort),
            ("SyncRunComplete", Op::SyncRunComplete),
            ("Teleport", Op::Unknown("Teleport".into())),
        ] {
            let needs_error = matches!(op, Op::StepError | Op::StepFailed);
            let body = if needs_error {
                format!(r#"{{"op":"{name}","id":"x","error":{{"name":"E","message":"m"}}}}"#)
            } else {
                format!(r#"{{"op":"{name}","id":"x"}}"#)
            };
            assert_eq!(parse(&body).unwrap()[0].op, op, "{name}");
        }
        assert_eq!(Op::Unknown("Teleport".into()).as_str(), "Teleport");
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("hello", "expected a JSON array or object"),
            ("[1,2", "not a JSON array"),
            ("[1]", "opcode #0: expected an object, got 1"),
            (r#"[{"id":"a"}]"#, "opcode #0: it has no \"op\" field"),
            (
                r#"[{"op":"StepPlanned","id":"a"},{"op":"StepPlanned"}]"#,
                "opcode #1: StepPlanned has no \"id\"",
            ),
            (
                r#"[{"op":"StepError","id":"a"}]"#,
                "StepError for step a carries no \"error\"",
            ),
            (r#"[{"op":7,"id":"a"}]"#, "opcode #0: invalid type"),
        ];
        for (body, want) in cases {
            let err = parse(body).unwrap_err().to_string();
            assert!(err.contains(want), "{body:?}: {err}");
        }
    }

    #[test]
    fn id_is_optional_for_run_complete_and_discovery_request() {
        let ops = parse(r#"[{"op":"RunComplete","data":{"ok":true}},{"op":"DiscoveryRequest"}]"#)
            .unwrap();
        assert_eq!(ops[0].id, "");
        assert_eq!(ops[1].op, Op::DiscoveryRequest);
    }

    #[test]
    fn sleep_and_wait_read_name_or_opts() {
        let js = &parse(r#"[{"op":"Sleep","id":"a","name":"1h30m"}]"#).unwrap()[0];
        assert_eq!(js.sleep_target().as_deref(), Some("1h30m"));
        let spec = &parse(r#"[{"op":"Sleep","id":"a","name":"nap","opts":{"duration":"5s"}}]"#)
            .unwrap()[0];
        assert_eq!(spec.sleep_target().as_deref(), Some("5s"));

        let js =
            &parse(r#"[{"op":"WaitForEvent","id":"a","name":"app/paid","opts":{"timeout":"1d"}}]"#)
                .unwrap()[0];
        assert_eq!(js.wait_event_name().as_deref(), Some("app/paid"));
        assert_eq!(js.opt_str("timeout").as_deref(), Some("1d"));
        let spec =
            &parse(r#"[{"op":"WaitForEvent","id":"a","opts":{"event":"app/x","timeout":"1d"}}]"#)
                .unwrap()[0];
        assert_eq!(spec.wait_event_name().as_deref(), Some("app/x"));
    }

    #[test]
    fn race_mode_and_raw_options() {
        let op = &parse(r#"[{"op":"StepPlanned","id":"a","opts":{"parallelMode":"race","payload":{"data":{"n":1}}}}]"#).unwrap()[0];
        assert!(op.is_race());
        assert_eq!(op.opt_raw("payload").unwrap().get(), r#"{"data":{"n":1}}"#);
        assert!(op.opt_raw("missing").is_none());
    }

    #[test]
    fn step_errors_parse_leniently() {
        let op = &parse(r#"[{"op":"StepError","id":"a","error":{"name":"TypeError","message":"boom","stack":"at x","cause":{"message":"root"},"__serialized":true}}]"#).unwrap()[0];
        let err = op.error.as_ref().unwrap();
        assert_eq!(err.name, "TypeError");
        assert_eq!(err.message, "boom");
        assert_eq!(err.stack.as_deref(), Some("at x"));
        assert_eq!(err.cause.as_ref().unwrap().get(), r#"{"message":"root"}"#);
        assert!(err.to_json().contains("__serialized"));
    }

    #[test]
    fn error_bodies_of_every_shape() {
        let e = ErrorBody::from_json(r#"{"error":"Could not find step \"x\""}"#);
        assert_eq!(
            (e.name.as_str(), e.message.as_str()),
            ("Error", "Could not find step \"x\"")
        );

        let e = ErrorBody::from_json(r#"{"code":"unknown","message":"boom","name":"ValueError"}"#);
        assert_eq!(
            (e.name.as_str(), e.message.as_str()),
            ("ValueError", "boom")
        );

        let e = ErrorBody::from_json(r#"{"error":{"name":"E","message":"inner"}}"#);
        assert_eq!(e.message, "inner");

        let e = ErrorBody::from_json(r#""just text""#);
        assert_eq!(e.message, "just text");

        let e = ErrorBody::from_json("<html>Bad Gateway</html>");
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        assert!(e.raw.is_none());

        let e = ErrorBody::from_json("{}");
        assert_eq!(e.message, "Unknown error");
    }

    #[test]
    fn own_errors_serialize_to_the_sdk_shape() {
        let e = ErrorBody::new("InngestInvokeTimeoutError", "Timed out");
        assert_eq!(
            e.to_json(),
            r#"{"name":"InngestInvokeTimeoutError","message":"Timed out"}"#
        );
        let parsed = ErrorBody::from_json(&e.to_json());
        assert_eq!(parsed.name, "InngestInvokeTimeoutError");
    }
}
