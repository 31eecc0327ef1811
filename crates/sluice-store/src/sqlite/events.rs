//! Event rows in SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::value::RawValue;
use sluice_core::event::Event;
use ulid::Ulid;

use crate::types::EventRow as RawEvent;
use crate::{EventQuery, Result};

const COLUMNS: &str = "id, name, data, user, external_id, ts, v, received_at";

/// Migration 5. Events the scheduler must still see carry `seq`, their place in commit order
/// (one writer, so the next number is always the largest so far plus one); the scheduler's
/// progress is one row, `scheduler_cursor`. Marking a batch scheduled is then one update, where
/// a per-row flag rewrote every event row and kept an index of its own.
pub const SCHEDULE_BY_SEQUENCE: &str = "
    ALTER TABLE events ADD COLUMN seq INTEGER;
    UPDATE events SET seq = pending.n
      FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM events WHERE scheduled = 0)
           AS pending
     WHERE events.id = pending.id;
    DROP INDEX events_unscheduled;
    ALTER TABLE events DROP COLUMN scheduled;
    CREATE INDEX events_seq ON events(seq);
    CREATE TABLE scheduler_cursor (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        seq INTEGER NOT NULL
    );
    INSERT INTO scheduler_cursor (one, seq) VALUES (1, 0);";

/// Appends events for the scheduler to match. Returns the ids that were new.
pub fn insert(conn: &Connection, events: &[Event]) -> Result<Vec<Ulid>> {
    insert_with(conn, events, true)
}

/// Appends events the scheduler has already dealt with (cron ticks, invocations): they get no
/// sequence number, so it never reads them.
pub fn insert_scheduled(conn: &Connection, events: &[Event]) -> Result<Vec<Ulid>> {
    insert_with(conn, events, false)
}

fn insert_with(conn: &Connection, events: &[Event], for_scheduler: bool) -> Result<Vec<Ulid>> {
    let mut stmt = conn.prepare_cached(if for_scheduler {
        "INSERT INTO events (id, name, data, user, external_id, ts, v, received_at, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                 (SELECT coalesce(max(seq), 0) + 1 FROM events))
         ON CONFLICT(id) DO NOTHING"
    } else {
        "INSERT INTO events (id, name, data, user, external_id, ts, v, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING"
    })?;
    let mut inserted = Vec::with_capacity(events.len());
    for e in events {
        let n = stmt.execute(params![
            e.id.to_string(),
            e.name,
            e.data.get(),
            e.user.as_deref().map(RawValue::get),
            e.external_id,
            e.ts,
            e.v,
            e.received_at,
        ])?;
        if n == 1 {
            inserted.push(e.id);
        }
    }
    Ok(inserted)
}

pub fn get(conn: &Connection, id: Ulid) -> Result<Option<Event>> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let row = stmt.query_row([id.to_string()], raw_row).optional()?;
    row.map(RawEvent::into_event).transpose()
}

pub fn list(conn: &Connection, q: &EventQuery) -> Result<Vec<Event>> {
    let cursor = q
        .cursor
        .map(|c| c.to_string())
        .unwrap_or_else(|| "~".into());
    let limit = q.clamped_limit() as i64;
    let rows = match &q.name {
        Some(name) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM events WHERE name = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![name, cursor, limit], raw_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM events WHERE id < ?1 ORDER BY id DESC LIMIT ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![cursor, limit], raw_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
    };
    rows.into_iter().map(RawEvent::into_event).collect()
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        id: r.get(0)?,
        name: r.get(1)?,
        data: r.get(2)?,
        user: r.get(3)?,
        external_id: r.get(4)?,
        ts: r.get(5)?,
        v: r.get(6)?,
        received_at: r.get(7)?,
    })
}

/// Events the scheduler has not matched yet, in commit order.
pub fn unscheduled(conn: &Connection, limit: usize) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events
         WHERE seq > (SELECT seq FROM scheduler_cursor WHERE one = 1) ORDER BY seq LIMIT ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit as i64], raw_row)?;
    rows.collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(RawEvent::into_event)
        .collect()
}

/// Moves the scheduler's cursor past `ids`, which must be a prefix of [`unscheduled`]'s answer.
pub fn mark_scheduled(conn: &Connection, ids: &[Ulid]) -> Result<()> {
    let mut seq_of = conn.prepare_cached("SELECT seq FROM events WHERE id = ?1")?;
    let mut last: Option<i64> = None;
    for id in ids {
        let seq: Option<i64> = seq_of
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?
            .flatten();
        last = last.max(seq);
    }
    if let Some(seq) = last {
        conn.prepare_cached("UPDATE scheduler_cursor SET seq = max(seq, ?1) WHERE one = 1")?
            .execute([seq])?;
    }
    Ok(())
}
