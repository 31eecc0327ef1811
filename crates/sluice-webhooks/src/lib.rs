//! Webhook intake for Sluice: turns an HTTP delivery from a third-party sender into events.
//!
//! A pure library: no network, no database, no async. The server calls [`process`] with the
//! request's headers and raw body and gets back the delivery id and the events to insert, or an
//! error that maps to one HTTP status.
//!
//! The pipeline is `verify` (signature over the raw bytes) → `body` (parse by content type) →
//! `preset` (a built-in mapping) or `transform` (user JavaScript in a sandbox).
//!
//! Module map:
//! - [`mod@verify`]: signature schemes and [`verify()`](verify::verify);
//! - [`dedupe`]: delivery ids that stay the same across a sender's retries;
//! - [`body`]: JSON / form / multipart bodies to JSON values;
//! - [`preset`]: `clerk`, `stripe`, `github`, `shopify`, `generic`;
//! - [`transform`]: Inngest-shaped JS transforms in QuickJS;
//! - [`redact`]: masking secrets in headers kept for delivery history;
//! - [`source`]: a source's config and [`process`].

pub mod body;
pub mod dedupe;
mod headers;
pub mod preset;
pub mod redact;
pub mod source;
pub mod transform;
pub mod verify;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use body::{BodyError, BodyKind, ParsedBody};
pub use dedupe::{delivery_id, resolve_delivery_id, DedupeKey};
pub use headers::canonical_name;
pub use preset::Preset;
pub use redact::{redact_headers, redact_headers_for};
pub use source::{process, process_with_limits, ConfigError, ProcessError, Processed, Source};
pub use transform::{compile_check, Limits, TransformError};
pub use verify::{verify, Encoding, Rejection, RejectionCode, Scheme, Verified};

/// An event about to be sent into the engine: what a preset or transform produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDraft {
    pub name: String,
    /// The event's `data` object as JSON text, kept exactly as produced.
    pub data: Box<RawValue>,
    /// Event id for idempotency, when the transform set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Provider timestamp in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
}
