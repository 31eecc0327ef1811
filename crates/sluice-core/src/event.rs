//! Events: the input that triggers functions.
//!
//! Payloads are carried as raw JSON text (`Box<RawValue>`) from the moment they are parsed until
//! they are sent back out, so empty objects, key order, big integers and escapes survive intact.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use ulid::Ulid;

/// An event as it is stored: the server-assigned ULID plus exactly what the sender gave us.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Server-assigned id, unique per stored event.
    pub id: Ulid,
    pub name: String,
    /// The event's `data`, byte for byte as sent (`{}` when the sender omitted it).
    pub data: Box<RawValue>,
    /// The sender's `user` object, raw; `None` when absent.
    pub user: Option<Box<RawValue>>,
    /// The sender's own `id`, used to de-duplicate triggering.
    pub external_id: Option<String>,
    /// Event time in milliseconds since the Unix epoch (the sender's `ts`, or receive time).
    pub ts: i64,
    /// The sender's `v` (schema version), if any.
    pub v: Option<String>,
    /// Time Sluice received it, ms since the epoch.
    pub received_at: i64,
}

impl Event {
    /// The event in the Inngest wire shape `{name, data, user, id, ts, v}` as raw JSON, the form
    /// both the REST API and the SDK calls use. `id` is the sender's id when there was one,
    /// otherwise the ULID, which is what the SDKs expect to see.
    pub fn to_wire_json(&self) -> String {
        let mut out = String::with_capacity(self.data.get().len() + 128);
        out.push_str("{\"name\":");
        out.push_str(&serde_json::to_string(&self.name).expect("string serializes"));
        out.push_str(",\"data\":");
        out.push_str(self.data.get());
        out.push_str(",\"user\":");
        out.push_str(self.user.as_deref().map(RawValue::get).unwrap_or("{}"));
        out.push_str(",\"id\":");
        let id = self
            .external_id
            .clone()
            .unwrap_or_else(|| self.id.to_string());
        out.push_str(&serde_json::to_string(&id).expect("string serializes"));
        out.push_str(",\"ts\":");
        out.push_str(&self.ts.to_string());
        if let Some(v) = &self.v {
            out.push_str(",\"v\":");
            out.push_str(&serde_json::to_string(v).expect("string serializes"));
        }
        out.push('}');
        out
    }
}

/// Returns a `RawValue` holding `{}`.
pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("valid json")
}

/// Limits applied to an incoming batch of events.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Largest single event, in bytes of JSON as sent.
    pub max_event_bytes: usize,
    /// Most events in one request.
    pub max_events: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 512 * 1024,
            max_events: 5000,
        }
    }
}

/// Why an incoming batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the body must be an event object or an array of events")]
    NotEventShape,
    #[error("event {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error("event {index} is {size} bytes, over the limit of {limit} bytes")]
    EventTooLarge {
        index: usize,
        size: usize,
        limit: usize,
    },
    #[error("{count} events in one request, over the limit of {limit}")]
    TooManyEvents { count: usize, limit: usize },
    #[error("the request holds no events")]
    Empty,
}

/// The shape of one incoming event; `data` and `user` stay raw.
#[derive(Deserialize)]
struct Incoming {
    name: Option<serde_json::Value>,
    data: Option<Box<RawValue>>,
    user: Option<Box<RawValue>>,
    id: Option<serde_json::Value>,
    ts: Option<serde_json::Value>,
    v: Option<serde_json::Value>,
}

/// Where new event ids come from: fresh ULIDs, or the SDK's `x-inngest-event-id-seed`
/// (`<millis>,<base64 of 10 bytes>`), which makes a retried send produce the same ids.
#[derive(Debug, Clone, Copy)]
pub enum IdSource {
    Fresh,
    Seeded { millis: u64, entropy: u128 },
}

impl IdSource {
    /// Parses the seed header; a malformed seed falls back to fresh ids, because the seed only
    /// makes retries idempotent and must never make a send fail.
    pub fn from_seed_header(value: Option<&str>) -> Self {
        use base64::Engine;
        let Some((ms, ent)) = value.and_then(|v| v.split_once(',')) else {
            return IdSource::Fresh;
        };
        let (Ok(millis), Ok(bytes)) = (
            ms.trim().parse::<u64>(),
            base64::engine::general_purpose::STANDARD.decode(ent.trim()),
        ) else {
            return IdSource::Fresh;
        };
        if bytes.len() != 10 || millis >= 1 << 48 {
            return IdSource::Fresh;
        }
        let entropy = bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        IdSource::Seeded { millis, entropy }
    }

    /// The id of the `index`th event of the request.
    pub fn id(&self, index: usize, generator: &mut ulid::Generator, now_ms: u64) -> Ulid {
        match *self {
            IdSource::Seeded { millis, entropy } => {
                let random = (entropy + index as u128) & ((1u128 << 80) - 1);
                Ulid::from_parts(millis, random)
            }
            IdSource::Fresh => {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(now_ms);
                generator
                    .generate_from_datetime(t)
                    .unwrap_or_else(|_| Ulid::from_datetime(t))
            }
        }
    }
}

/// Parses an event-API body (one event or an array) into events ready to store.
///
/// All-or-nothing: any bad event refuses the whole batch, so a partial batch is never stored.
pub fn parse_batch(
    body: &[u8],
    limits: IngestLimits,
    ids: IdSource,
    now_ms: i64,
) -> Result<Vec<Event>, IngestError> {
    let json_err = |e: serde_json::Error| IngestError::Json {
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let items: Vec<&RawValue> = match first {
        Some(b'[') => serde_json::from_slice(body).map_err(json_err)?,
        Some(b'{') => vec![serde_json::from_slice(body).map_err(json_err)?],
        Some(_) => {
            // Report real syntax errors as such; valid JSON of the wrong type is a shape error.
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(json_err)?;
            return Err(IngestError::NotEventShape);
        }
        None => return Err(IngestError::Empty),
    };
    if items.is_empty() {
        return Err(IngestError::Empty);
    }
    if items.len() > limits.max_events {
        return Err(IngestError::TooManyEvents {
            count: items.len(),
            limit: limits.max_events,
        });
    }
    let mut generator = ulid::Generator::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, raw) in items.into_iter().enumerate() {
        let size = raw.get().len();
        if size > limits.max_event_bytes {
            return Err(IngestError::EventTooLarge {
                index,
                size,
                limit: limits.max_event_bytes,
            });
        }
        let invalid = |message: String| IngestError::Invalid { index, message };
        let inc: Incoming = serde_json::from_str(raw.get())
            .map_err(|e| invalid(format!("must be an object with a string `name` ({e})")))?;
        let name = match inc.name {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s,
            Some(serde_json::Value::String(_)) => return Err(invalid("`name` is empty".into())),
            Some(other) => {
                return Err(invalid(format!(
                    "`name` must be a string, not {}",
                    type_name(&other)
                )))
            }
            None => return Err(invalid("`name` is missing".into())),
        };
        let data = match inc.data {
            Some(d) if d.get() != "null" => {
                if !d.get().starts_with('{') {
                    return Err(invalid("`data` must be an object".into()));
                }
                d
            }
            _ => empty_object(),
        };
        let user = match inc.user {
            Some(u) if u.get() == "null" => None,
            Some(u) if !u.get().starts_with('{') => {
                return Err(invalid("`user` must be an object".into()))
            }
            other => other,
        };
        let external_id = match inc.id {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(invalid(format!(
                    "`id` must be a string, not {}",
                    type_name(&other)
                )))
            }
        };
        let ts = match inc.ts {
            None | Some(serde_json::Value::Null) => now_ms,
            Some(serde_json::Value::Number(n)) => match n.as_i64() {
                Some(0) => now_ms,
                Some(t) if t > 0 => t,
                _ => {
                    return Err(invalid(
                        "`ts` must be a positive integer of milliseconds".into(),
                    ))
                }
            },
            Some(other) => {
                return Err(invalid(format!(
                    "`ts` must be a number, not {}",
                    type_name(&other)
                )))
            }
        };
        let v = match inc.v {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(invalid(format!(
                    "`v` must be a string, not {}",
                    type_name(&other)
                )))
            }
        };
        out.push(Event {
            id: ids.id(index, &mut generator, now_ms.max(0) as u64),
            name,
            data,
            user,
            external_id,
            ts,
            v,
            received_at: now_ms,
        });
    }
    Ok(out)
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<Event>, IngestError> {
        parse_batch(
            body.as_bytes(),
            IngestLimits::default(),
            IdSource::Fresh,
            1_000,
        )
    }

    #[test]
    fn keeps_payload_bytes() {
        let data =
            r#"{"public_metadata":{},"b":1,"a":[],"big":18446744073709551617,"s":"\u00e9\n"}"#;
        let evs = parse(&format!(r#"{{"name":"x","data":{data}}}"#)).unwrap();
        assert_eq!(evs[0].data.get(), data);
        assert_eq!(evs[0].ts, 1_000);
        let wire = evs[0].to_wire_json();
        assert!(wire.contains(data));
    }

    #[test]
    fn array_and_defaults() {
        let evs =
            parse(r#"[{"name":"a"},{"name":"b","data":null,"id":"e1","ts":5,"v":"1"}]"#).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].data.get(), "{}");
        assert_eq!(evs[1].external_id.as_deref(), Some("e1"));
        assert_eq!(evs[1].ts, 5);
        assert!(evs[0].id < evs[1].id, "ids are monotonic within a batch");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            parse("{\"name\": "),
            Err(IngestError::Json { line: 1, .. })
        ));
        assert_eq!(
            parse(r#"[{"name":"a"},{"data":{}}]"#).unwrap_err(),
            IngestError::Invalid {
                index: 1,
                message: "`name` is missing".into()
            }
        );
        assert!(matches!(
            parse(r#"[{"name":5}]"#),
            Err(IngestError::Invalid { index: 0, .. })
        ));
        assert_eq!(parse("[]").unwrap_err(), IngestError::Empty);
        assert_eq!(parse("42").unwrap_err(), IngestError::NotEventShape);
        assert!(matches!(
            parse(r#"{"name":"a","data":[1]}"#),
            Err(IngestError::Invalid { .. })
        ));
    }

    #[test]
    fn limits() {
        let limits = IngestLimits {
            max_event_bytes: 50,
            max_events: 2,
        };
        let big = format!(r#"{{"name":"a","data":{{"x":"{}"}}}}"#, "y".repeat(60));
        let r = parse_batch(big.as_bytes(), limits, IdSource::Fresh, 0);
        assert!(matches!(
            r,
            Err(IngestError::EventTooLarge { index: 0, .. })
        ));
        let r = parse_batch(
            br#"[{"name":"a"},{"name":"a"},{"name":"a"}]"#,
            limits,
            IdSource::Fresh,
            0,
        );
        assert_eq!(
            r.unwrap_err(),
            IngestError::TooManyEvents { count: 3, limit: 2 }
        );
    }

    #[test]
    fn seeded_ids_repeat() {
        let seed = IdSource::from_seed_header(Some("1743130137367,eii2YKXRVTJPuA=="));
        let body = br#"[{"name":"a"},{"name":"b"}]"#;
        let a = parse_batch(body, IngestLimits::default(), seed, 9).unwrap();
        let b = parse_batch(body, IngestLimits::default(), seed, 99).unwrap();
        assert_eq!(a[0].id, b[0].id);
        assert_eq!(a[1].id, b[1].id);
        assert_ne!(a[0].id, a[1].id);
        assert_eq!(a[0].id.timestamp_ms(), 1743130137367);
        assert!(matches!(
            IdSource::from_seed_header(Some("bad")),
            IdSource::Fresh
        ));
    }
}
