//! Webhook sources and deliveries in PostgreSQL.
//!
//! A delivery and its events are written in one transaction on a pooled connection. An accepted
//! delivery is inserted with `ON CONFLICT DO NOTHING` against the partial unique index on
//! (source, delivery id): when a concurrent retry of the same delivery holds that key, PostgreSQL
//! waits for it to commit and then reports the conflict, so exactly one of them creates events.

use async_trait::async_trait;
use sluice_core::event::Event;
use tokio_postgres::{GenericClient, Row};
use ulid::Ulid;

use super::PgStore;
use crate::webhooks::{
    headers_json, ids_json, parse_headers, SummaryRow, REJECTED_KEPT_PER_SOURCE,
};
use crate::{
    Delivery, DeliveryCounts, DeliveryQuery, DeliverySummary, NewDelivery, Outcome, Recorded,
    Result, WebhookSource, WebhookStore,
};

/// Migration step 2.
pub const SCHEMA: &str = "CREATE TABLE webhook_sources (
        name TEXT COLLATE \"C\" PRIMARY KEY,
        -- The server's JSON config, secrets included.
        config TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        source TEXT COLLATE \"C\" NOT NULL,
        delivery_id TEXT,
        received_at BIGINT NOT NULL,
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
        body BYTEA NOT NULL
    );
    -- A sender's delivery id is accepted once per source; retries become duplicates.
    CREATE UNIQUE INDEX webhook_deliveries_dedupe ON webhook_deliveries(source, delivery_id)
        WHERE outcome = 'accepted' AND delivery_id IS NOT NULL;
    CREATE INDEX webhook_deliveries_source ON webhook_deliveries(source, id);
    CREATE INDEX webhook_deliveries_outcome ON webhook_deliveries(source, outcome, id);";

const SUMMARY: &str = "id, source, delivery_id, received_at, outcome, code, reason, event_ids, \
                       duplicate_of, replay_of, octet_length(body)::bigint";

const INSERT: &str = "INSERT INTO webhook_deliveries (id, source, delivery_id, received_at,
        outcome, code, reason, event_ids, duplicate_of, replay_of, headers, query, content_type,
        body)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

fn summary_row(r: &Row) -> SummaryRow {
    SummaryRow {
        id: r.get(0),
        source: r.get(1),
        delivery_id: r.get(2),
        received_at: r.get(3),
        outcome: r.get(4),
        code: r.get(5),
        reason: r.get(6),
        event_ids: r.get(7),
        duplicate_of: r.get(8),
        replay_of: r.get(9),
        body_bytes: r.get(10),
    }
}

fn source_row(r: &Row) -> WebhookSource {
    WebhookSource {
        name: r.get(0),
        config: r.get(1),
        created_at: r.get(2),
        updated_at: r.get(3),
    }
}

/// Inserts the delivery row; with `on_conflict`, a clash with an accepted delivery of the same
/// id inserts nothing and returns `false`.
async fn insert_delivery(
    client: &impl GenericClient,
    d: &NewDelivery,
    outcome: Outcome,
    event_ids: &[Ulid],
    duplicate_of: Option<Ulid>,
    on_conflict: bool,
) -> Result<bool> {
    let sql = if on_conflict {
        format!(
            "{INSERT} ON CONFLICT (source, delivery_id)
               WHERE outcome = 'accepted' AND delivery_id IS NOT NULL DO NOTHING"
        )
    } else {
        INSERT.to_owned()
    };
    let n = client
        .execute(
            &sql,
            &[
                &d.id.to_string(),
                &d.source,
                &d.delivery_id,
                &d.received_at,
                &outcome.as_str(),
                &d.code,
                &d.reason,
                &ids_json(event_ids),
                &duplicate_of.map(|u| u.to_string()),
                &d.replay_of.map(|u| u.to_string()),
                &headers_json(&d.headers),
                &d.query,
                &d.content_type,
                &d.body,
            ],
        )
        .await?;
    Ok(n == 1)
}

async fn find_accepted(
    client: &impl GenericClient,
    source: &str,
    delivery_id: &str,
) -> Result<Option<DeliverySummary>> {
    let sql = format!(
        "SELECT {SUMMARY} FROM webhook_deliveries
         WHERE source = $1 AND delivery_id = $2 AND outcome = 'accepted'"
    );
    let row = client.query_opt(&sql, &[&source, &delivery_id]).await?;
    row.map(|r| summary_row(&r).into_summary()).transpose()
}

/// Stores `d` as a duplicate of the accepted delivery with its id.
async fn insert_duplicate(
    client: &impl GenericClient,
    d: &NewDelivery,
    delivery_id: &str,
) -> Result<Option<Recorded>> {
    let Some(original) = find_accepted(client, &d.source, delivery_id).await? else {
        return Ok(None);
    };
    insert_delivery(client, d, Outcome::Duplicate, &[], Some(original.id), false).await?;
    Ok(Some(Recorded::Duplicate { original }))
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn upsert_webhook_source(
        &self,
        name: &str,
        config: String,
        now_ms: i64,
    ) -> Result<WebhookSource> {
        let client = self.pool().get().await?;
        let row = client
            .query_one(
                "INSERT INTO webhook_sources (name, config, created_at, updated_at)
                 VALUES ($1, $2, $3, $3)
                 ON CONFLICT (name) DO UPDATE
                   SET config = excluded.config, updated_at = excluded.updated_at
                 RETURNING name, config, created_at, updated_at",
                &[&name, &config, &now_ms],
            )
            .await?;
        Ok(source_row(&row))
    }

    async fn get_webhook_source(&self, name: &str) -> Result<Option<WebhookSource>> {
        let client = self.pool().get().await?;
        let row = client
            .query_opt(
                "SELECT name, config, created_at, updated_at FROM webhook_sources WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(row.as_ref().map(source_row))
    }

    async fn list_webhook_sources(&self) -> Result<Vec<WebhookSource>> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT name, config, created_at, updated_at FROM webhook_sources ORDER BY name",
                &[],
            )
            .await?;
        Ok(rows.iter().map(source_row).collect())
    }

    async fn delete_webhook_source(&self, name: &str) -> Result<bool> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM webhook_deliveries WHERE source = $1", &[&name])
            .await?;
        let n = tx
            .execute("DELETE FROM webhook_sources WHERE name = $1", &[&name])
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn record_delivery(&self, d: NewDelivery, events: Vec<Event>) -> Result<Recorded> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let recorded = match (d.outcome, d.delivery_id.as_deref()) {
            (Outcome::Accepted, delivery_id) => {
                let event_ids: Vec<Ulid> = events.iter().map(|e| e.id).collect();
                let inserted =
                    insert_delivery(&*tx, &d, Outcome::Accepted, &event_ids, None, true).await?;
                if inserted {
                    let events: Vec<&Event> = events.iter().collect();
                    super::events::insert_with(&*tx, &events).await?;
                    Recorded::Stored { event_ids }
                } else {
                    // Only a delivery id can conflict, and the holder has committed by now.
                    let delivery_id = delivery_id.unwrap_or_default();
                    match insert_duplicate(&*tx, &d, delivery_id).await? {
                        Some(dup) => dup,
                        None => {
                            return Err(crate::Error::Postgres(
                                "delivery conflicted but no accepted original was found".into(),
                            ))
                        }
                    }
                }
            }
            (Outcome::Failed, Some(delivery_id)) => {
                match insert_duplicate(&*tx, &d, delivery_id).await? {
                    Some(dup) => dup,
                    None => {
                        insert_delivery(&*tx, &d, d.outcome, &[], None, false).await?;
                        Recorded::Stored {
                            event_ids: Vec::new(),
                        }
                    }
                }
            }
            (outcome, _) => {
                insert_delivery(&*tx, &d, outcome, &[], None, false).await?;
                if outcome == Outcome::Rejected {
                    prune_rejected(&*tx, &d.source).await?;
                }
                Recorded::Stored {
                    event_ids: Vec::new(),
                }
            }
        };
        tx.commit().await?;
        Ok(recorded)
    }

    async fn list_deliveries(&self, q: DeliveryQuery) -> Result<Vec<DeliverySummary>> {
        let client = self.pool().get().await?;
        let cursor = q
            .cursor
            .map(|c| c.to_string())
            .unwrap_or_else(|| "~".into());
        let limit = q.clamped_limit() as i64;
        let outcome = q.outcome.map(Outcome::as_str);
        let sql = format!(
            "SELECT {SUMMARY} FROM webhook_deliveries
             WHERE source = $1 AND id < $2 AND ($3::text IS NULL OR outcome = $3)
             ORDER BY id DESC LIMIT $4"
        );
        let rows = client
            .query(&sql, &[&q.source, &cursor, &outcome, &limit])
            .await?;
        rows.iter().map(|r| summary_row(r).into_summary()).collect()
    }

    async fn get_delivery(&self, source: &str, id: Ulid) -> Result<Option<Delivery>> {
        let client = self.pool().get().await?;
        let sql = format!(
            "SELECT {SUMMARY}, headers, query, content_type, body FROM webhook_deliveries
             WHERE source = $1 AND id = $2"
        );
        let Some(row) = client.query_opt(&sql, &[&source, &id.to_string()]).await? else {
            return Ok(None);
        };
        Ok(Some(Delivery {
            summary: summary_row(&row).into_summary()?,
            headers: parse_headers(row.get(11))?,
            query: row.get(12),
            content_type: row.get(13),
            body: row.get(14),
        }))
    }

    async fn delivery_counts(&self, source: &str) -> Result<DeliveryCounts> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT outcome, COUNT(*) FROM webhook_deliveries WHERE source = $1
                 GROUP BY outcome",
                &[&source],
            )
            .await?;
        let mut counts = DeliveryCounts::default();
        for r in &rows {
            counts.add(r.get(0), r.get(1))?;
        }
        Ok(counts)
    }
}

/// Drops the source's rejected deliveries beyond the newest [`REJECTED_KEPT_PER_SOURCE`]; the
/// `(source, outcome, id)` index finds the cut-off without reading bodies.
async fn prune_rejected(client: &impl GenericClient, source: &str) -> Result<()> {
    client
        .execute(
            "DELETE FROM webhook_deliveries
              WHERE source = $1 AND outcome = 'rejected' AND id <= (
                    SELECT id FROM webhook_deliveries
                     WHERE source = $1 AND outcome = 'rejected'
                     ORDER BY id DESC LIMIT 1 OFFSET $2)",
            &[&source, &(REJECTED_KEPT_PER_SOURCE as i64)],
        )
        .await?;
    Ok(())
}
