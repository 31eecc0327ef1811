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
        let id = self.external_id.clone().unwrap_or_else(|| self.id.to_string());
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
