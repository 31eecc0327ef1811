//! Event rows in PostgreSQL.

use deadpool_postgres::{Object, Pool};
use sluice_core::event::Event;
use tokio_postgres::{GenericClient, Row};
use ulid::Ulid;

use crate::types::EventRow;
use crate::{EventQuery, Result};

const COLUMNS: &str = "id, name, data, \"user\", external_id, ts, v, received_at";

/// Inserts all events in one statement and one transaction; returns the ids that were new.
pub async fn insert_batch(pool: &Pool, events: &[&Event]) -> Result<Vec<Ulid>> {
    let client = pool.get().await?;
    let client: &tokio_postgres::Client = &client;
    insert_with(client, events).await
}

/// Inserts events on `client`, which may be a transaction (webhook deliveries insert their
/// events in the transaction that records the delivery).
pub(crate) async fn insert_with(
    client: &impl GenericClient,
    events: &[&Event],
) -> Result<Vec<Ulid>> {
    let mut ids = Vec::with_capacity(events.len());
    let mut names = Vec::with_capacity(events.len());
    let mut datas = Vec::with_capacity(events.len());
    let mut users = Vec::with_capacity(events.len());
    let mut external = Vec::with_capacity(events.len());
    let mut tss = Vec::with_capacity(events.len());
    let mut vs = Vec::with_capacity(events.len());
    let mut received = Vec::with_capacity(events.len());
    for e in events {
        ids.push(e.id.to_string());
        names.push(e.name.as_str());
        datas.push(e.data.get());
        users.push(e.user.as_deref().map(|u| u.get()));
        external.push(e.external_id.as_deref());
        tss.push(e.ts);
        vs.push(e.v.as_deref());
        received.push(e.received_at);
    }
    let rows = client
        .query(
            "INSERT INTO events (id, name, data, \"user\", external_id, ts, v, received_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::bigint[], $7::text[], $8::bigint[])
             ON CONFLICT (id) DO NOTHING RETURNING id",
            &[
                &ids, &names, &datas, &users, &external, &tss, &vs, &received,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Ulid::from_string(r.get::<_, &str>(0)).ok())
        .collect())
}

/// Marks events as matched against triggers.
pub async fn mark_scheduled(client: &impl GenericClient, ids: &[Ulid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = ids.iter().map(Ulid::to_string).collect();
    client
        .execute(
            "UPDATE events SET scheduled = 1 WHERE id = ANY($1::text[]) AND scheduled = 0",
            &[&ids],
        )
        .await?;
    Ok(())
}

/// Events the scheduler has not matched yet, oldest first.
pub async fn unscheduled(client: &Object, limit: usize) -> Result<Vec<Event>> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE scheduled = 0 ORDER BY id LIMIT $1");
    let rows = client.query(&sql, &[&(limit as i64)]).await?;
    rows.iter().map(|r| to_row(r).into_event()).collect()
}

pub async fn get(client: &Object, id: Ulid) -> Result<Option<Event>> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE id = $1");
    let row = client.query_opt(&sql, &[&id.to_string()]).await?;
    row.map(|r| to_row(&r).into_event()).transpose()
}

pub async fn list(client: &Object, q: &EventQuery) -> Result<Vec<Event>> {
    let cursor = q
        .cursor
        .map(|c| c.to_string())
        .unwrap_or_else(|| "~".into());
    let limit = q.clamped_limit() as i64;
    let rows = match &q.name {
        Some(name) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM events WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            );
            client.query(&sql, &[name, &cursor, &limit]).await?
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM events WHERE id < $1 ORDER BY id DESC LIMIT $2");
            client.query(&sql, &[&cursor, &limit]).await?
        }
    };
    rows.iter().map(|r| to_row(r).into_event()).collect()
}

fn to_row(r: &Row) -> EventRow {
    EventRow {
        id: r.get(0),
        name: r.get(1),
        data: r.get(2),
        user: r.get(3),
        external_id: r.get(4),
        ts: r.get(5),
        v: r.get(6),
        received_at: r.get(7),
    }
}
