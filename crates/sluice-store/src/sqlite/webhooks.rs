//! Webhook sources and deliveries in SQLite.
//!
//! A delivery and its events are written by one job on the writer thread, so the dedupe check,
//! the delivery row and the event rows share one transaction (and one group-committed fsync).
//! The single writer makes check-then-insert race-free; the partial unique index is the backstop.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use sluice_core::event::Event;
use ulid::Ulid;

use super::SqliteStore;
use crate::webhooks::{
    headers_json, ids_json, parse_headers, SummaryRow, REJECTED_KEPT_PER_SOURCE,
};
use crate::{
    Delivery, DeliveryCounts, DeliveryQuery, DeliverySummary, NewDelivery, Outcome, Recorded,
    Result, WebhookSource, WebhookStore,
};

/// Migration step 2.
pub const SCHEMA: &str = "CREATE TABLE webhook_sources (
        name TEXT PRIMARY KEY,
        -- The server's JSON config, secrets included.
        config TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- A rowid table: rows carry whole bodies, too large for WITHOUT ROWID to pay off.
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        delivery_id TEXT,
        received_at INTEGER NOT NULL,
        -- accepted | rejected | duplicate | failed
        outcome TEXT NOT NULL,
        code TEXT,
        reason TEXT,
        -- JSON array of the ULIDs of the events this delivery produced.
        event_ids TEXT NOT NULL,
        duplicate_of TEXT,
        replay_of TEXT,
        -- JSON array of [name, value], signatures and credentials redacted.
        headers TEXT NOT NULL,
        query TEXT NOT NULL,
        content_type TEXT,
        body BLOB NOT NULL
    );
    -- A sender's delivery id is accepted once per source; retries become duplicates.
    CREATE UNIQUE INDEX webhook_deliveries_dedupe ON webhook_deliveries(source, delivery_id)
        WHERE outcome = 'accepted' AND delivery_id IS NOT NULL;
    CREATE INDEX webhook_deliveries_source ON webhook_deliveries(source, id);
    CREATE INDEX webhook_deliveries_outcome ON webhook_deliveries(source, outcome, id);";

const SUMMARY: &str = "id, source, delivery_id, received_at, outcome, code, reason, event_ids, \
                       duplicate_of, replay_of, length(body)";

fn summary_row(r: &Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(0)?,
        source: r.get(1)?,
        delivery_id: r.get(2)?,
        received_at: r.get(3)?,
        outcome: r.get(4)?,
        code: r.get(5)?,
        reason: r.get(6)?,
        event_ids: r.get(7)?,
        duplicate_of: r.get(8)?,
        replay_of: r.get(9)?,
        body_bytes: r.get(10)?,
    })
}

fn source_row(r: &Row<'_>) -> rusqlite::Result<WebhookSource> {
    Ok(WebhookSource {
        name: r.get(0)?,
        config: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

fn upsert_source(conn: &Connection, name: &str, config: &str, now: i64) -> Result<WebhookSource> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_sources (name, config, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at
         RETURNING name, config, created_at, updated_at",
    )?;
    Ok(stmt.query_row(params![name, config, now], source_row)?)
}

fn find_accepted(
    conn: &Connection,
    source: &str,
    delivery_id: &str,
) -> Result<Option<DeliverySummary>> {
    let sql = format!(
        "SELECT {SUMMARY} FROM webhook_deliveries
         WHERE source = ?1 AND delivery_id = ?2 AND outcome = 'accepted'"
    );
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![source, delivery_id], summary_row)
        .optional()?;
    row.map(SummaryRow::into_summary).transpose()
}

fn insert_delivery(
    conn: &Connection,
    d: &NewDelivery,
    outcome: Outcome,
    event_ids: &[Ulid],
    duplicate_of: Option<Ulid>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_deliveries (id, source, delivery_id, received_at, outcome, code,
             reason, event_ids, duplicate_of, replay_of, headers, query, content_type, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    stmt.execute(params![
        d.id.to_string(),
        d.source,
        d.delivery_id,
        d.received_at,
        outcome.as_str(),
        d.code,
        d.reason,
        ids_json(event_ids),
        duplicate_of.map(|u| u.to_string()),
        d.replay_of.map(|u| u.to_string()),
        headers_json(&d.headers),
        d.query,
        d.content_type,
        d.body,
    ])?;
    Ok(())
}

/// The whole of `record_delivery`, run inside one writer job.
fn record(conn: &Connection, d: &NewDelivery, events: &[Event]) -> Result<Recorded> {
    let dedupes = matches!(d.outcome, Outcome::Accepted | Outcome::Failed);
    if let (true, Some(delivery_id)) = (dedupes, &d.delivery_id) {
        if let Some(original) = find_accepted(conn, &d.source, delivery_id)? {
            insert_delivery(conn, d, Outcome::Duplicate, &[], Some(original.id))?;
            return Ok(Recorded::Duplicate { original });
        }
    }
    if d.outcome != Outcome::Accepted {
        insert_delivery(conn, d, d.outcome, &[], None)?;
        if d.outcome == Outcome::Rejected {
            prune_rejected(conn, &d.source)?;
        }
        return Ok(Recorded::Stored {
            event_ids: Vec::new(),
        });
    }
    let event_ids: Vec<Ulid> = events.iter().map(|e| e.id).collect();
    insert_delivery(conn, d, Outcome::Accepted, &event_ids, None)?;
    super::events::insert(conn, events)?;
    Ok(Recorded::Stored { event_ids })
}

/// Drops the source's rejected deliveries beyond the newest [`REJECTED_KEPT_PER_SOURCE`]. The
/// `(source, outcome, id)` index finds the cut-off without reading bodies.
fn prune_rejected(conn: &Connection, source: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM webhook_deliveries
          WHERE source = ?1 AND outcome = 'rejected' AND id <= (
                SELECT id FROM webhook_deliveries
                 WHERE source = ?1 AND outcome = 'rejected'
                 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![source, REJECTED_KEPT_PER_SOURCE as i64])?;
    Ok(())
}

fn list(conn: &Connection, q: &DeliveryQuery) -> Result<Vec<DeliverySummary>> {
    let cursor = q
        .cursor
        .map(|c| c.to_string())
        .unwrap_or_else(|| "~".into());
    let limit = q.clamped_limit() as i64;
    let outcome = q.outcome.map(Outcome::as_str);
    let sql = format!(
        "SELECT {SUMMARY} FROM webhook_deliveries
         WHERE source = ?1 AND id < ?2 AND (?3 IS NULL OR outcome = ?3)
         ORDER BY id DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![q.source, cursor, outcome, limit], summary_row)?;
    rows.map(|r| r?.into_summary()).collect()
}

fn get(conn: &Connection, source: &str, id: Ulid) -> Result<Option<Delivery>> {
    let sql = format!(
        "SELECT {SUMMARY}, headers, query, content_type, body FROM webhook_deliveries
         WHERE source = ?1 AND id = ?2"
    );
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![source, id.to_string()], |r| {
            Ok((
                summary_row(r)?,
                r.get::<_, String>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, Option<String>>(13)?,
                r.get::<_, Vec<u8>>(14)?,
            ))
        })
        .optional()?;
    row.map(|(summary, headers, query, content_type, body)| {
        Ok(Delivery {
            summary: summary.into_summary()?,
            headers: parse_headers(&headers)?,
            query,
            content_type,
            body,
        })
    })
    .transpose()
}

fn counts(conn: &Connection, source: &str) -> Result<DeliveryCounts> {
    let mut stmt = conn.prepare_cached(
        "SELECT outcome, COUNT(*) FROM webhook_deliveries WHERE source = ?1 GROUP BY outcome",
    )?;
    let rows = stmt.query_map([source], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut counts = DeliveryCounts::default();
    for row in rows {
        let (outcome, n) = row?;
        counts.add(&outcome, n)?;
    }
    Ok(counts)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn upsert_webhook_source(
        &self,
        name: &str,
        config: String,
        now_ms: i64,
    ) -> Result<WebhookSource> {
        let name = name.to_owned();
        self.write(move |conn| upsert_source(conn, &name, &config, now_ms))
            .await
    }

    async fn get_webhook_source(&self, name: &str) -> Result<Option<WebhookSource>> {
        let name = name.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, config, created_at, updated_at FROM webhook_sources WHERE name = ?1",
            )?;
            Ok(stmt.query_row([name], source_row).optional()?)
        })
        .await
    }

    async fn list_webhook_sources(&self) -> Result<Vec<WebhookSource>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, config, created_at, updated_at FROM webhook_sources ORDER BY name",
            )?;
            let rows = stmt.query_map([], source_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn delete_webhook_source(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.write(move |conn| {
            conn.execute("DELETE FROM webhook_deliveries WHERE source = ?1", [&name])?;
            let n = conn.execute("DELETE FROM webhook_sources WHERE name = ?1", [&name])?;
            Ok(n > 0)
        })
        .await
    }

    async fn record_delivery(&self, delivery: NewDelivery, events: Vec<Event>) -> Result<Recorded> {
        self.write(move |conn| record(conn, &delivery, &events))
            .await
    }

    async fn list_deliveries(&self, query: DeliveryQuery) -> Result<Vec<DeliverySummary>> {
        self.read(move |conn| list(conn, &query)).await
    }

    async fn get_delivery(&self, source: &str, id: Ulid) -> Result<Option<Delivery>> {
        let source = source.to_owned();
        self.read(move |conn| get(conn, &source, id)).await
    }

    async fn delivery_counts(&self, source: &str) -> Result<DeliveryCounts> {
        let source = source.to_owned();
        self.read(move |conn| counts(conn, &source)).await
    }
}
