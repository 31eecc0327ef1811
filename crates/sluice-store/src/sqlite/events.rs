//! Event rows in SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::value::RawValue;
use sluice_core::event::Event;
use ulid::Ulid;

use crate::types::EventRow as RawEvent;
use crate::{EventQuery, Result};

const COLUMNS: &str = "id, name, data, user, external_id, ts, v, received_at";

pub fn insert(conn: &Connection, events: &[Event]) -> Result<Vec<Ulid>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (id, name, data, user, external_id, ts, v, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
    )?;
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

/// Events the scheduler has not matched yet, oldest first.
pub fn unscheduled(conn: &Connection, limit: usize) -> Result<Vec<Event>> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE scheduled = 0 ORDER BY id LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit as i64], raw_row)?;
    rows.collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(RawEvent::into_event)
        .collect()
}
