//! Webhook sources and their deliveries.
//!
//! A source's configuration is opaque JSON to the store (the server owns its shape, secrets
//! included). A delivery is every request that reached a known source, kept with its raw body
//! and redacted headers, whatever its outcome, so a user can see why one was refused and replay
//! one that was not.
//!
//! Deduplication is the store's job: [`WebhookStore::record_delivery`] checks (source, delivery
//! id) against earlier accepted deliveries in the same transaction that inserts the delivery and
//! its events, so two concurrent retries of one delivery create its events once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sluice_core::event::Event;
use ulid::Ulid;

use crate::{Error, Result};

/// How many rejected deliveries a source keeps. Enough to see what a misconfigured sender (or a
/// prober) has been sending; the bound keeps a public URL from filling the disk.
pub const REJECTED_KEPT_PER_SOURCE: usize = 1000;

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates the source `name` or replaces its config; `created_at` survives a replace.
    async fn upsert_webhook_source(
        &self,
        name: &str,
        config: String,
        now_ms: i64,
    ) -> Result<WebhookSource>;

    async fn get_webhook_source(&self, name: &str) -> Result<Option<WebhookSource>>;

    /// Every source, by name.
    async fn list_webhook_sources(&self) -> Result<Vec<WebhookSource>>;

    /// Deletes the source and its delivery history (not the events it produced). Returns whether
    /// it existed.
    async fn delete_webhook_source(&self, name: &str) -> Result<bool>;

    /// Stores a delivery and, when it is accepted, its events, in one durable transaction.
    ///
    /// A delivery whose outcome is [`Outcome::Accepted`] or [`Outcome::Failed`] and whose
    /// `delivery_id` matches an earlier accepted delivery of the same source is stored as
    /// [`Outcome::Duplicate`] instead, without its events, and the original is returned. A
    /// rejected delivery (bad signature) is never matched: an unverified request must not learn
    /// that an id exists. `events` are ignored unless the delivery is accepted.
    ///
    /// Rejected deliveries come from anyone who knows the source's URL, so only the newest
    /// [`REJECTED_KEPT_PER_SOURCE`] of a source are kept: recording one more drops the oldest.
    /// (Rejections committing at the same moment each prune what they see, so a burst may leave
    /// a few more until the next one.)
    async fn record_delivery(&self, delivery: NewDelivery, events: Vec<Event>) -> Result<Recorded>;

    /// One page of a source's deliveries, newest first, without bodies.
    async fn list_deliveries(&self, query: DeliveryQuery) -> Result<Vec<DeliverySummary>>;

    /// One delivery with its body and headers.
    async fn get_delivery(&self, source: &str, id: Ulid) -> Result<Option<Delivery>>;

    /// How many deliveries of the source ended each way.
    async fn delivery_counts(&self, source: &str) -> Result<DeliveryCounts>;
}

/// A stored source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSource {
    pub name: String,
    /// The server's JSON config, secrets included; never send it out as is.
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Verified and turned into events.
    Accepted,
    /// Refused before its body was looked at: missing, stale or wrong signature.
    Rejected,
    /// A retry of an accepted delivery; answered 200 with no new events.
    Duplicate,
    /// Verified, but the body or the transform failed; the sender got a 4xx or 5xx.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Duplicate,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Duplicate => "duplicate",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A delivery to store. `headers` must already be redacted.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Ulid,
    pub source: String,
    /// The sender's id for the delivery, the same across its retries.
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub outcome: Outcome,
    /// Machine-readable reason for a refusal (`no_signature_matched`, `transform_timeout`, …).
    pub code: Option<String>,
    /// Human-readable reason.
    pub reason: Option<String>,
    pub headers: Vec<(String, String)>,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Set when this delivery is a replay of a stored one.
    pub replay_of: Option<Ulid>,
}

/// What [`WebhookStore::record_delivery`] did.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// Stored as given; `event_ids` are the events inserted with it (empty unless accepted).
    Stored { event_ids: Vec<Ulid> },
    /// Stored as a duplicate of `original`, an earlier accepted delivery.
    Duplicate { original: DeliverySummary },
}

/// A stored delivery without its body and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySummary {
    pub id: Ulid,
    pub source: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub outcome: Outcome,
    pub code: Option<String>,
    pub reason: Option<String>,
    pub event_ids: Vec<Ulid>,
    /// For a duplicate, the accepted delivery it repeated.
    pub duplicate_of: Option<Ulid>,
    pub replay_of: Option<Ulid>,
    pub body_bytes: u64,
}

/// A stored delivery in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub summary: DeliverySummary,
    pub headers: Vec<(String, String)>,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A page request for [`WebhookStore::list_deliveries`].
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub source: String,
    pub outcome: Option<Outcome>,
    /// Return deliveries strictly older than this id.
    pub cursor: Option<Ulid>,
    /// Page size; backends clamp it to 1..=1000.
    pub limit: usize,
}

impl DeliveryQuery {
    pub fn clamped_limit(&self) -> usize {
        self.limit.clamp(1, 1000)
    }
}

/// Deliveries of one source by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    pub accepted: u64,
    pub rejected: u64,
    pub duplicate: u64,
    pub failed: u64,
}

impl DeliveryCounts {
    pub(crate) fn add(&mut self, outcome: &str, n: i64) -> Result<()> {
        let n = u64::try_from(n).unwrap_or(0);
        match Outcome::parse(outcome) {
            Some(Outcome::Accepted) => self.accepted += n,
            Some(Outcome::Rejected) => self.rejected += n,
            Some(Outcome::Duplicate) => self.duplicate += n,
            Some(Outcome::Failed) => self.failed += n,
            None => return Err(Error::Corrupt(format!("delivery outcome {outcome:?}"))),
        }
        Ok(())
    }
}

/// The text columns of a delivery row, shared by both backends' row mapping.
pub(crate) struct SummaryRow {
    pub id: String,
    pub source: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub outcome: String,
    pub code: Option<String>,
    pub reason: Option<String>,
    pub event_ids: String,
    pub duplicate_of: Option<String>,
    pub replay_of: Option<String>,
    pub body_bytes: i64,
}

fn ulid(s: &str, what: &str) -> Result<Ulid> {
    Ulid::from_string(s).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

impl SummaryRow {
    pub fn into_summary(self) -> Result<DeliverySummary> {
        let ids: Vec<String> = serde_json::from_str(&self.event_ids)
            .map_err(|e| Error::Corrupt(format!("delivery event ids: {e}")))?;
        Ok(DeliverySummary {
            id: ulid(&self.id, "delivery id")?,
            source: self.source,
            delivery_id: self.delivery_id,
            received_at: self.received_at,
            outcome: Outcome::parse(&self.outcome)
                .ok_or_else(|| Error::Corrupt(format!("delivery outcome {:?}", self.outcome)))?,
            code: self.code,
            reason: self.reason,
            event_ids: ids
                .iter()
                .map(|s| ulid(s, "delivery event id"))
                .collect::<Result<_>>()?,
            duplicate_of: self
                .duplicate_of
                .map(|s| ulid(&s, "duplicate_of"))
                .transpose()?,
            replay_of: self.replay_of.map(|s| ulid(&s, "replay_of")).transpose()?,
            body_bytes: u64::try_from(self.body_bytes).unwrap_or(0),
        })
    }
}

/// Encodes header pairs for the `headers` column.
pub(crate) fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).expect("string pairs serialize")
}

pub(crate) fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("delivery headers: {e}")))
}

pub(crate) fn ids_json(ids: &[Ulid]) -> String {
    let ids: Vec<String> = ids.iter().map(Ulid::to_string).collect();
    serde_json::to_string(&ids).expect("strings serialize")
}
