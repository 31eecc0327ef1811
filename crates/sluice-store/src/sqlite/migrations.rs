//! Versioned schema migrations for SQLite, tracked in `PRAGMA user_version`.
//!
//! Append new steps to [`STEPS`]; never edit a step that has shipped.

use rusqlite::Connection;

use crate::{Error, Result};

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
];

/// The event log. `id` is a ULID, so its order is time order.
const EVENTS: &str = "CREATE TABLE events (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        user TEXT,
        external_id TEXT,
        ts INTEGER NOT NULL,
        v TEXT,
        received_at INTEGER NOT NULL,
        -- 0 until the scheduler has matched the event against triggers.
        scheduled INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX events_name ON events(name, id);
    CREATE INDEX events_unscheduled ON events(id) WHERE scheduled = 0;";

pub fn run(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in STEPS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| Error::Migration(format!("sqlite step {version}: {e}")))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn current_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}
