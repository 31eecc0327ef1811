//! The body of a call request, in the shape both SDKs parse.
//!
//! ```text
//! {"event":{…},"events":[…],"steps":{"<hash>":{"data":…}|{"error":…}|null|<event>},
//!  "ctx":{"run_id":"…","attempt":0,"max_attempts":5,"stack":{"stack":["<hash>",…],"current":n},
//!         "disable_immediate_execution":false,"use_api":false},
//!  "version":-1,"use_api":false}
//! ```
//!
//! Checked against the readers:
//! - inngest-js `helpers/functions.ts` `parseFnData` (v3 and v4): `event` object, `events` array,
//!   `steps` record, `ctx.{run_id, attempt, max_attempts, disable_immediate_execution, use_api,
//!   stack.{stack, current}}`, `version` one of -1, 0, 1, 2 (-1 lets the SDK choose). `ctx.fn_id`
//!   is deliberately absent: its presence turns on v4 checkpointing, which calls
//!   `/v1/checkpoint` APIs Sluice does not serve.
//! - inngest-py `server_lib/execution_request.py`: pydantic in strict mode requires top-level
//!   `use_api`, `steps`, `ctx.attempt` (an integer), `ctx.disable_immediate_execution`,
//!   `ctx.run_id` and `ctx.stack`; an event needs `name` and reads `data`, `id`, `ts` (integer).
//! - The Go server sends `event.user = {}` when the event has none; both SDKs expose `user`.
//!
//! Payloads are copied as raw text, never re-encoded, so what the user sent is what the SDK sees.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_core::run::RunState;

/// The `ctx` object of a call request.
#[derive(Debug, Clone, Copy)]
pub struct RequestCtx<'a> {
    pub run_id: &'a str,
    /// The queue item's attempt, from 0. The SDK compares it with `max_attempts` to decide
    /// whether a failing step reports `StepError` (retry) or `StepFailed` (last attempt).
    pub attempt: u32,
    pub max_attempts: u32,
    /// Hashed step ids in the order they were memoized.
    pub stack: &'a [String],
    pub disable_immediate_execution: bool,
    /// Tells the SDK to fetch events and steps from `/v0/runs/{id}/…`. Always false for now.
    pub use_api: bool,
}

impl<'a> RequestCtx<'a> {
    /// The context for calling `state`'s run at `attempt`.
    pub fn for_run(state: &'a RunState, attempt: u32) -> Self {
        RequestCtx {
            run_id: &state.run_id,
            attempt,
            max_attempts: state.max_attempts,
            stack: &state.stack,
            disable_immediate_execution: state.disable_immediate_execution,
            use_api: false,
        }
    }
}

/// Builds the JSON body of a call request.
///
/// `event` is the triggering event and `events` the whole batch (for a single event, just it),
/// each as wire JSON (`Event::to_wire_json`). `steps` are the memoized results by hashed id;
/// `version` is the run's request version (-1 until the SDK has chosen).
pub fn build_request_body<'s, E: AsRef<str>>(
    event: &str,
    events: &[E],
    steps: impl IntoIterator<Item = (&'s str, &'s RawValue)>,
    ctx: &RequestCtx<'_>,
    version: i32,
) -> String {
    let mut out = String::with_capacity(
        256 + event.len() * 2 + events.iter().map(|e| e.as_ref().len() + 1).sum::<usize>(),
    );
    out.push_str("{\"event\":");
    out.push_str(&with_user(event));
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&with_user(e.as_ref()));
    }
    out.push_str("],\"steps\":{");
    for (i, (id, memo)) in steps.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, id);
        out.push(':');
        out.push_str(memo.get());
    }
    out.push_str("},\"ctx\":{\"run_id\":");
    push_string(&mut out, ctx.run_id);
    let _ = write!(
        out,
        ",\"attempt\":{},\"max_attempts\":{},\"stack\":{{\"stack\":[",
        ctx.attempt, ctx.max_attempts
    );
    for (i, id) in ctx.stack.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, id);
    }
    let _ = write!(
        out,
        "],\"current\":{}}},\"disable_immediate_execution\":{},\"use_api\":{}}},\"version\":{},\"use_api\":{}}}",
        ctx.stack.len(),
        ctx.disable_immediate_execution,
        ctx.use_api,
        version,
        ctx.use_api
    );
    out
}

fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialize"));
}

/// The event with `"user":{}` when it has no `user` or a `null` one; otherwise untouched.
fn with_user(event: &str) -> Cow<'_, str> {
    let Ok(pairs) = serde_json::from_str::<Pairs<'_>>(event) else {
        return Cow::Borrowed(event);
    };
    match pairs.0.iter().find(|(k, _)| k == "user") {
        Some((_, v)) if v.get().trim() != "null" => Cow::Borrowed(event),
        _ => {
            let mut out = String::with_capacity(event.len() + 10);
            out.push('{');
            for (k, v) in pairs.0.iter().filter(|(k, _)| k != "user") {
                push_string(&mut out, k);
                out.push(':');
                out.push_str(v.get());
                out.push(',');
            }
            out.push_str("\"user\":{}}");
            Cow::Owned(out)
        }
    }
}

/// A JSON object as ordered `(key, raw value)` pairs, borrowing from the input.
struct Pairs<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> de::Visitor<'de> for Visit {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn exact_shape() {
        let event = r#"{"name":"clerk/user.created","data":{"id":"u1","public_metadata":{}},"user":{},"id":"01J","ts":1700000000000}"#;
        let mut steps = BTreeMap::new();
        steps.insert("a1".to_owned(), raw(r#"{"data":{"n":1}}"#));
        steps.insert("b2".to_owned(), raw("null"));
        let stack = vec!["a1".to_owned(), "b2".to_owned()];
        let ctx = RequestCtx {
            run_id: "01RUN",
            attempt: 2,
            max_attempts: 5,
            stack: &stack,
            disable_immediate_execution: true,
            use_api: false,
        };
        let body = build_request_body(
            event,
            &[event],
            steps.iter().map(|(k, v)| (k.as_str(), v.as_ref())),
            &ctx,
            2,
        );
        assert_eq!(
            body,
            format!(
                r#"{{"event":{event},"events":[{event}],"steps":{{"a1":{{"data":{{"n":1}}}},"b2":null}},"ctx":{{"run_id":"01RUN","attempt":2,"max_attempts":5,"stack":{{"stack":["a1","b2"],"current":2}},"disable_immediate_execution":true,"use_api":false}},"version":2,"use_api":false}}"#
            )
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert!(
            parsed["ctx"].get("fn_id").is_none(),
            "fn_id would turn on JS v4 checkpointing"
        );
    }

    #[test]
    fn user_is_supplied_when_absent_or_null() {
        assert_eq!(
            with_user(r#"{"name":"a","data":{"big":12345678901234567890123},"ts":1}"#),
            r#"{"name":"a","data":{"big":12345678901234567890123},"ts":1,"user":{}}"#
        );
        assert_eq!(
            with_user(r#"{"name":"a","user":null,"data":{}}"#),
            r#"{"name":"a","data":{},"user":{}}"#
        );
        let kept = r#"{"name":"a","user":{"email":"x@y"}}"#;
        assert!(matches!(with_user(kept), Cow::Borrowed(s) if s == kept));
        assert_eq!(
            with_user(r#"{"name":"a\"b","data":{}}"#),
            r#"{"name":"a\"b","data":{},"user":{}}"#
        );
    }

    #[test]
    fn first_call_lets_the_sdk_choose() {
        let state = RunState::new("01RUN", 4);
        let ctx = RequestCtx::for_run(&state, 0);
        let body = build_request_body(
            r#"{"name":"e","data":{}}"#,
            &[r#"{"name":"e","data":{}}"#],
            [],
            &ctx,
            state.request_version,
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["version"], -1);
        assert_eq!(parsed["steps"], serde_json::json!({}));
        assert_eq!(parsed["ctx"]["max_attempts"], 4);
        assert_eq!(
            parsed["ctx"]["stack"],
            serde_json::json!({"stack": [], "current": 0})
        );
        assert_eq!(parsed["event"]["user"], serde_json::json!({}));
        assert_eq!(parsed["use_api"], false);
    }
}
