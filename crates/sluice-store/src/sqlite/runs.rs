//! Runs, queue, waits and history in SQLite. Every write goes through the group-commit writer.

use rusqlite::{params, Connection, OptionalExtension, Row};
use sluice_core::event::Event;
use ulid::Ulid;

use super::{events, SqliteStore};
use crate::{
    CommitResult, Error, HistoryEntry, NewQueueItem, NewRun, QueueItem, Result, RunQuery,
    RunRecord, RunStore, ScheduleBatch, Transition, Wait,
};

/// Migration step 4.
pub const SCHEMA: &str = "
CREATE TABLE leaders (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    sync_id TEXT,
    event_id TEXT,
    event_name TEXT,
    events TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    output TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    parent_run_id TEXT,
    parent_step_id TEXT
) WITHOUT ROWID;
CREATE INDEX runs_status ON runs(status, id);
CREATE INDEX runs_function ON runs(function_id, id);
CREATE INDEX runs_app ON runs(app_id, id);
CREATE INDEX runs_event ON runs(event_id);
CREATE INDEX runs_event_name ON runs(event_name, id);
CREATE TABLE run_dedupe (
    function_id TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (function_id, key)
) WITHOUT ROWID;
CREATE TABLE queue (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX queue_due ON queue(due_at);
CREATE INDEX queue_run ON queue(run_id);
CREATE TABLE waits (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    expression TEXT,
    trigger TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX waits_event ON waits(event_name);
CREATE INDEX waits_run ON waits(run_id);
CREATE TABLE history (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    step_id TEXT,
    name TEXT,
    kind TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    queued_at INTEGER,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    retry_at INTEGER,
    sync_id TEXT
) WITHOUT ROWID;
CREATE INDEX history_run ON history(run_id, id);
";

/// Migration step 6. An item can be claimed at the later of its `due_at` and `lease_until`.
/// `queue_due` carries `lease_until`, so claiming walks past the leased items at the head of the
/// queue (at most the nodes' in-flight limit) without reading their rows. A leased item
/// (`lease_until > due_at`) is also in the partial `queue_leased`, so the next wake-up is two
/// index probes instead of a scan of the whole queue.
pub const LEASED_INDEX: &str = "
    DROP INDEX queue_due;
    CREATE INDEX queue_due ON queue(due_at, lease_until);
    CREATE INDEX queue_leased ON queue(lease_until) WHERE lease_until > due_at;";

const RUN_COLUMNS: &str =
    "id, function_id, app_id, sync_id, event_id, event_name, events, status, \
    state, version, output, error, created_at, started_at, ended_at, parent_run_id, parent_step_id";

fn ulid(s: String) -> rusqlite::Result<Ulid> {
    Ulid::from_string(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn opt_ulid(s: Option<String>) -> rusqlite::Result<Option<Ulid>> {
    s.map(ulid).transpose()
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: ulid(r.get(0)?)?,
        function_id: r.get(1)?,
        app_id: r.get(2)?,
        sync_id: opt_ulid(r.get(3)?)?,
        event_id: opt_ulid(r.get(4)?)?,
        event_name: r.get(5)?,
        events: r.get(6)?,
        status: r.get(7)?,
        state: r.get(8)?,
        version: r.get(9)?,
        output: r.get(10)?,
        error: r.get(11)?,
        created_at_ms: r.get(12)?,
        started_at_ms: r.get(13)?,
        ended_at_ms: r.get(14)?,
        parent_run_id: opt_ulid(r.get(15)?)?,
        parent_step_id: r.get(16)?,
    })
}

fn history_row(r: &Row<'_>) -> rusqlite::Result<HistoryEntry> {
    Ok(HistoryEntry {
        id: ulid(r.get(0)?)?,
        run_id: ulid(r.get(1)?)?,
        step_id: r.get(2)?,
        name: r.get(3)?,
        kind: r.get(4)?,
        attempt: r.get(5)?,
        status: r.get(6)?,
        queued_at_ms: r.get(7)?,
        started_at_ms: r.get(8)?,
        ended_at_ms: r.get(9)?,
        input: r.get(10)?,
        output: r.get(11)?,
        error: r.get(12)?,
        retry_at_ms: r.get(13)?,
        sync_id: opt_ulid(r.get(14)?)?,
    })
}

fn wait_row(r: &Row<'_>) -> rusqlite::Result<Wait> {
    Ok(Wait {
        id: ulid(r.get(0)?)?,
        run_id: ulid(r.get(1)?)?,
        step_id: r.get(2)?,
        event_name: r.get(3)?,
        expression: r.get(4)?,
        trigger: r.get(5)?,
        expires_at_ms: r.get(6)?,
    })
}

fn insert_queue(conn: &Connection, items: &[NewQueueItem]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO queue (id, run_id, payload, due_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for q in items {
        stmt.execute(params![
            q.id.to_string(),
            q.run_id.to_string(),
            q.payload,
            q.due_at_ms
        ])?;
    }
    Ok(())
}

/// Inserts a run unless its dedupe key is live; returns whether it was created.
fn insert_run(conn: &Connection, run: &NewRun) -> Result<bool> {
    if let Some((key, expires_at)) = &run.dedupe {
        let taken = conn
            .prepare_cached(
                "INSERT INTO run_dedupe (function_id, key, run_id, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (function_id, key) DO UPDATE
                   SET run_id = excluded.run_id, expires_at = excluded.expires_at
                   WHERE run_dedupe.expires_at <= ?5",
            )?
            .execute(params![run.function_id, key, run.id.to_string(), expires_at, run.created_at_ms])?;
        if taken == 0 {
            return Ok(false);
        }
    }
    conn.prepare_cached(
        "INSERT INTO runs (id, function_id, app_id, sync_id, event_id, event_name, events, status,
                           state, created_at, parent_run_id, parent_step_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'Queued', ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        run.id.to_string(),
        run.function_id,
        run.app_id,
        run.sync_id.map(|u| u.to_string()),
        run.event_id.map(|u| u.to_string()),
        run.event_name,
        run.events,
        run.state,
        run.created_at_ms,
        run.parent.as_ref().map(|p| p.0.to_string()),
        run.parent.as_ref().map(|p| p.1.clone()),
    ])?;
    insert_queue(conn, &run.enqueue)?;
    Ok(true)
}

fn insert_events_scheduled(conn: &Connection, evs: &[Event]) -> Result<()> {
    events::insert_scheduled(conn, evs)?;
    Ok(())
}

fn commit(conn: &Connection, t: &Transition) -> Result<CommitResult> {
    if let Some((item, owner)) = &t.consume {
        let n = conn
            .prepare_cached("DELETE FROM queue WHERE id = ?1 AND lease_owner = ?2")?
            .execute(params![item.to_string(), owner])?;
        if n == 0 {
            return Ok(CommitResult::LeaseLost);
        }
    }
    let terminal = matches!(t.status.as_str(), "Completed" | "Failed" | "Cancelled");
    let n = conn
        .prepare_cached(
            "UPDATE runs SET state = ?1, status = ?2, version = version + 1,
                output = COALESCE(?3, output), error = COALESCE(?4, error),
                started_at = CASE WHEN ?2 <> 'Queued' THEN COALESCE(started_at, ?5)
                                  ELSE started_at END,
                ended_at = CASE WHEN ?6 THEN ?5 ELSE ended_at END
             WHERE id = ?7 AND version = ?8",
        )?
        .execute(params![
            t.state,
            t.status,
            t.output,
            t.error,
            t.now_ms,
            terminal,
            t.run_id.to_string(),
            t.expected_version
        ])?;
    if n == 0 {
        // Undo the queue delete: the caller's savepoint rolls back on Err, not on Ok.
        return Err(Error::Conflict);
    }
    if t.clear_pending {
        conn.prepare_cached("DELETE FROM queue WHERE run_id = ?1")?
            .execute([t.run_id.to_string()])?;
        conn.prepare_cached("DELETE FROM waits WHERE run_id = ?1")?
            .execute([t.run_id.to_string()])?;
    }
    insert_queue(conn, &t.enqueue)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO waits (id, run_id, step_id, event_name, expression, trigger, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for w in &t.add_waits {
        stmt.execute(params![
            w.id.to_string(),
            w.run_id.to_string(),
            w.step_id,
            w.event_name,
            w.expression,
            w.trigger,
            w.expires_at_ms
        ])?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO history (id, run_id, step_id, name, kind, attempt, status, queued_at,
            started_at, ended_at, input, output, error, retry_at, sync_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    for h in &t.history {
        stmt.execute(params![
            h.id.to_string(),
            h.run_id.to_string(),
            h.step_id,
            h.name,
            h.kind,
            h.attempt,
            h.status,
            h.queued_at_ms,
            h.started_at_ms,
            h.ended_at_ms,
            h.input,
            h.output,
            h.error,
            h.retry_at_ms,
            h.sync_id.map(|u| u.to_string()),
        ])?;
    }
    events::insert(conn, &t.events)?;
    insert_events_scheduled(conn, &t.direct_events)?;
    for run in &t.runs {
        insert_run(conn, run)?;
    }
    Ok(CommitResult::Committed)
}

fn list_runs(conn: &Connection, q: &RunQuery) -> Result<Vec<RunRecord>> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id < ?1");
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(
        q.cursor
            .map(|c| c.to_string())
            .unwrap_or_else(|| "~".into()),
    )];
    let mut add = |clause: &str, v: Box<dyn rusqlite::ToSql>| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(s) = &q.status {
        add("status =", Box::new(s.clone()));
    }
    if let Some(f) = &q.function_id {
        add("function_id =", Box::new(f.clone()));
    }
    if let Some(a) = &q.app_id {
        add("app_id =", Box::new(a.clone()));
    }
    if let Some(e) = &q.event_name {
        add("event_name =", Box::new(e.clone()));
    }
    // ULIDs sort by time, so a time range is an id range: the index does the work.
    if let Some(from) = q.from_ms {
        add(
            "id >=",
            Box::new(Ulid::from_parts(from.max(0) as u64, 0).to_string()),
        );
    }
    if let Some(to) = q.to_ms {
        add(
            "id <",
            Box::new(Ulid::from_parts(to.max(0) as u64, 0).to_string()),
        );
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        q.limit.clamp(1, 1000)
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), run_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[async_trait::async_trait]
impl RunStore for SqliteStore {
    async fn unscheduled_events(&self, limit: usize) -> Result<Vec<Event>> {
        self.read(move |conn| events::unscheduled(conn, limit))
            .await
    }

    async fn schedule(&self, batch: ScheduleBatch) -> Result<Vec<Ulid>> {
        self.write(move |conn| {
            insert_events_scheduled(conn, &batch.new_events)?;
            let mut created = Vec::new();
            for run in &batch.runs {
                if insert_run(conn, run)? {
                    created.push(run.id);
                }
            }
            let mut del = conn.prepare_cached("DELETE FROM waits WHERE id = ?1")?;
            for (wait, item) in &batch.resolved_waits {
                if del.execute([wait.to_string()])? == 1 {
                    insert_queue(conn, std::slice::from_ref(item))?;
                }
            }
            events::mark_scheduled(conn, &batch.event_ids)?;
            Ok(created)
        })
        .await
    }

    async fn claim_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<QueueItem>> {
        let owner = owner.to_owned();
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE queue SET lease_owner = ?1, lease_until = ?2
                 WHERE id IN (SELECT id FROM queue WHERE due_at <= ?3 AND lease_until <= ?3
                              ORDER BY due_at LIMIT ?4)
                 RETURNING id, run_id, payload, due_at, lease_owner, lease_until",
            )?;
            let rows = stmt.query_map(
                params![owner, now_ms + lease_ms, now_ms, limit as i64],
                |r| {
                    Ok(QueueItem {
                        id: ulid(r.get(0)?)?,
                        run_id: ulid(r.get(1)?)?,
                        payload: r.get(2)?,
                        due_at_ms: r.get(3)?,
                        lease_owner: r.get(4)?,
                        lease_until_ms: r.get(5)?,
                    })
                },
            )?;
            let mut items = rows.collect::<Result<Vec<_>, _>>()?;
            items.sort_by_key(|i| i.due_at_ms);
            Ok(items)
        })
        .await
    }

    async fn next_due_at(&self) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    // The aggregate, because the two-argument min() is NULL when either is.
                    "SELECT min(t) FROM (
                        SELECT (SELECT due_at FROM queue WHERE lease_until <= due_at
                                 ORDER BY due_at LIMIT 1) AS t
                        UNION ALL
                        SELECT (SELECT lease_until FROM queue WHERE lease_until > due_at
                                 ORDER BY lease_until LIMIT 1))",
                )?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    async fn enqueue(&self, items: Vec<NewQueueItem>) -> Result<()> {
        self.write(move |conn| insert_queue(conn, &items)).await
    }

    async fn commit(&self, t: Transition) -> Result<CommitResult> {
        match self.write(move |conn| commit(conn, &t)).await {
            Err(Error::Conflict) => Ok(CommitResult::Conflict),
            other => other,
        }
    }

    async fn get_run(&self, id: Ulid) -> Result<Option<RunRecord>> {
        self.read(move |conn| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id.to_string()], run_row)
                .optional()?)
        })
        .await
    }

    async fn list_runs(&self, q: RunQuery) -> Result<Vec<RunRecord>> {
        self.read(move |conn| list_runs(conn, &q)).await
    }

    async fn runs_for_event(&self, event_id: Ulid) -> Result<Vec<RunRecord>> {
        self.read(move |conn| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE event_id = ?1 ORDER BY id");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([event_id.to_string()], run_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn history(&self, run_id: Ulid) -> Result<Vec<HistoryEntry>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, run_id, step_id, name, kind, attempt, status, queued_at, started_at,
                        ended_at, input, output, error, retry_at, sync_id
                 FROM history WHERE run_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([run_id.to_string()], history_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn function_stats(&self, function_id: &str, since_ms: i64) -> Result<Vec<(String, u64)>> {
        let function_id = function_id.to_owned();
        self.read(move |conn| {
            let since = Ulid::from_parts(since_ms.max(0) as u64, 0).to_string();
            let mut stmt = conn.prepare_cached(
                "SELECT status, COUNT(*) FROM runs WHERE function_id = ?1 AND id >= ?2 GROUP BY status",
            )?;
            let rows = stmt.query_map(params![function_id, since], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn waits_for(&self, event_names: Vec<String>) -> Result<Vec<Wait>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, run_id, step_id, event_name, expression, trigger, expires_at
                 FROM waits WHERE event_name = ?1 ORDER BY id",
            )?;
            let mut out = Vec::new();
            for name in &event_names {
                let rows = stmt.query_map([name], wait_row)?;
                out.extend(rows.collect::<Result<Vec<_>, _>>()?);
            }
            Ok(out)
        })
        .await
    }

    async fn create_run(&self, run: NewRun) -> Result<()> {
        self.write(move |conn| insert_run(conn, &run).map(|_| ()))
            .await
    }

    async fn lead(&self, name: &str, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO leaders (name, owner, until_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
                     WHERE leaders.owner = excluded.owner OR leaders.until_ms <= ?4",
                )?
                .execute(params![name, owner, now_ms + ttl_ms, now_ms])?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let owner = owner.to_owned();
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?1",
                )?
                .execute([owner])?;
            Ok(n as u64)
        })
        .await
    }
}
