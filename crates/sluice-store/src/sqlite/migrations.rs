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
    // 5: the scheduler reads the event log by commit sequence instead of a per-row flag.
    super::events::SCHEDULE_BY_SEQUENCE,
    // 6: queue indexes that let claims and the next wake-up skip leased items unread.
    super::runs::LEASED_INDEX,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database at version 4 keeps its unscheduled events through step 5, in id order, and
    /// its scheduled ones stay scheduled.
    #[test]
    fn step_5_carries_unscheduled_events_over() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &STEPS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        for (id, scheduled) in [("01B", 0), ("01A", 1), ("01C", 0), ("01D", 1)] {
            conn.execute(
                "INSERT INTO events (id, name, data, ts, received_at, scheduled)
                 VALUES (?1, 'a', '{}', 0, 0, ?2)",
                rusqlite::params![id, scheduled],
            )
            .unwrap();
        }
        run(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), STEPS.len() as i64);
        let pending: Vec<String> = conn
            .prepare(
                "SELECT id FROM events
                 WHERE seq > (SELECT seq FROM scheduler_cursor) ORDER BY seq",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(pending, ["01B", "01C"]);
    }
}
