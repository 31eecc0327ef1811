//! Versioned schema migrations for PostgreSQL, tracked in `sluice_migrations`.
//!
//! An advisory lock serialises nodes that start together on one database.

use deadpool_postgres::Object;

use crate::{Error, Result};

/// Arbitrary constant naming Sluice's migration lock ("SLUICE" in ASCII).
const LOCK_KEY: i64 = 0x534C_5549_4345;

/// One entry per version, in order. Each part of the store owns its step's SQL.
const STEPS: &[&str] = &[
    // 1: the event log.
    EVENTS,
    // 2: webhook sources and deliveries.
    super::webhooks::SCHEMA,
    // 3: apps, functions and sync history.
    super::apps::SCHEMA,
    // 4: runs, queue, waits, history.
    super::runs::SCHEMA,
    // 5: queue indexes that let claims and the next wake-up skip leased items unread.
    super::runs::LEASED_INDEX,
];

/// The event log. `id` is a ULID, so its order is time order.
const EVENTS: &str = "CREATE TABLE events (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        \"user\" TEXT,
        external_id TEXT,
        ts BIGINT NOT NULL,
        v TEXT,
        received_at BIGINT NOT NULL,
        -- 0 until the scheduler has matched the event against triggers.
        scheduled SMALLINT NOT NULL DEFAULT 0
    );
    CREATE INDEX events_name ON events(name, id);
    CREATE INDEX events_unscheduled ON events(id) WHERE scheduled = 0;";

pub async fn run(client: &mut Object) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sluice_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM sluice_migrations",
            &[],
        )
        .await?
        .get(0);
    for (i, sql) in STEPS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| Error::Migration(format!("postgres step {version}: {e}")))?;
        tx.execute(
            "INSERT INTO sluice_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn current_version(client: &Object) -> Result<i64> {
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM sluice_migrations",
            &[],
        )
        .await?
        .get(0))
}
