//! Runs, queue, waits and history in PostgreSQL.
//!
//! Each write is one transaction on a pooled connection. Several nodes may share the database:
//! `claim_due` leases with `FOR UPDATE SKIP LOCKED`, so two nodes never claim one item, and a
//! commit locks its run row before any of the run's queue rows, so concurrent commits of one run
//! queue up behind each other instead of deadlocking.

use deadpool_postgres::Transaction;
use sluice_core::event::Event;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use ulid::Ulid;

use super::{events, PgStore};
use crate::{
    CommitResult, Error, HistoryEntry, NewQueueItem, NewRun, QueueItem, Result, RunQuery,
    RunRecord, RunStore, ScheduleBatch, Transition, Wait,
};

/// Migration step 4. Ids are ULID text in the "C" collation, so their order is byte order, which
/// is time order; times are ms since the epoch.
pub const SCHEMA: &str = "
CREATE TABLE leaders (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
CREATE TABLE runs (
    id TEXT COLLATE \"C\" PRIMARY KEY,
    function_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    sync_id TEXT COLLATE \"C\",
    event_id TEXT COLLATE \"C\",
    event_name TEXT,
    events TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    output TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    parent_run_id TEXT COLLATE \"C\",
    parent_step_id TEXT
);
CREATE INDEX runs_status ON runs(status, id);
CREATE INDEX runs_function ON runs(function_id, id);
CREATE INDEX runs_app ON runs(app_id, id);
CREATE INDEX runs_event ON runs(event_id);
CREATE INDEX runs_event_name ON runs(event_name, id);
CREATE TABLE run_dedupe (
    function_id TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id TEXT COLLATE \"C\" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (function_id, key)
);
CREATE TABLE queue (
    id TEXT COLLATE \"C\" PRIMARY KEY,
    run_id TEXT COLLATE \"C\" NOT NULL,
    payload TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queue_due ON queue(due_at);
CREATE INDEX queue_run ON queue(run_id);
CREATE TABLE waits (
    id TEXT COLLATE \"C\" PRIMARY KEY,
    run_id TEXT COLLATE \"C\" NOT NULL,
    step_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    expression TEXT,
    trigger TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX waits_event ON waits(event_name, id);
CREATE INDEX waits_run ON waits(run_id);
CREATE TABLE history (
    id TEXT COLLATE \"C\" PRIMARY KEY,
    run_id TEXT COLLATE \"C\" NOT NULL,
    step_id TEXT,
    name TEXT,
    kind TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL,
    queued_at BIGINT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    retry_at BIGINT,
    sync_id TEXT COLLATE \"C\"
);
CREATE INDEX history_run ON history(run_id, id);
";

/// Migration step 5. An item can be claimed at the later of its `due_at` and `lease_until`.
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

const QUEUE_COLUMNS: &str = "id, run_id, payload, due_at, lease_owner, lease_until";

fn ulid(r: &Row, i: usize) -> Result<Ulid> {
    let s: &str = r.try_get(i)?;
    Ulid::from_string(s).map_err(|e| Error::Corrupt(format!("id {s:?}: {e}")))
}

fn opt_ulid(r: &Row, i: usize) -> Result<Option<Ulid>> {
    let s: Option<&str> = r.try_get(i)?;
    s.map(|s| Ulid::from_string(s).map_err(|e| Error::Corrupt(format!("id {s:?}: {e}"))))
        .transpose()
}

fn run_row(r: &Row) -> Result<RunRecord> {
    Ok(RunRecord {
        id: ulid(r, 0)?,
        function_id: r.try_get(1)?,
        app_id: r.try_get(2)?,
        sync_id: opt_ulid(r, 3)?,
        event_id: opt_ulid(r, 4)?,
        event_name: r.try_get(5)?,
        events: r.try_get(6)?,
        status: r.try_get(7)?,
        state: r.try_get(8)?,
        version: r.try_get(9)?,
        output: r.try_get(10)?,
        error: r.try_get(11)?,
        created_at_ms: r.try_get(12)?,
        started_at_ms: r.try_get(13)?,
        ended_at_ms: r.try_get(14)?,
        parent_run_id: opt_ulid(r, 15)?,
        parent_step_id: r.try_get(16)?,
    })
}

fn history_row(r: &Row) -> Result<HistoryEntry> {
    let attempt: i64 = r.try_get(5)?;
    Ok(HistoryEntry {
        id: ulid(r, 0)?,
        run_id: ulid(r, 1)?,
        step_id: r.try_get(2)?,
        name: r.try_get(3)?,
        kind: r.try_get(4)?,
        attempt: u32::try_from(attempt)
            .map_err(|_| Error::Corrupt(format!("history attempt {attempt}")))?,
        status: r.try_get(6)?,
        queued_at_ms: r.try_get(7)?,
        started_at_ms: r.try_get(8)?,
        ended_at_ms: r.try_get(9)?,
        input: r.try_get(10)?,
        output: r.try_get(11)?,
        error: r.try_get(12)?,
        retry_at_ms: r.try_get(13)?,
        sync_id: opt_ulid(r, 14)?,
    })
}

fn wait_row(r: &Row) -> Result<Wait> {
    Ok(Wait {
        id: ulid(r, 0)?,
        run_id: ulid(r, 1)?,
        step_id: r.try_get(2)?,
        event_name: r.try_get(3)?,
        expression: r.try_get(4)?,
        trigger: r.try_get(5)?,
        expires_at_ms: r.try_get(6)?,
    })
}

fn queue_row(r: &Row) -> Result<QueueItem> {
    Ok(QueueItem {
        id: ulid(r, 0)?,
        run_id: ulid(r, 1)?,
        payload: r.try_get(2)?,
        due_at_ms: r.try_get(3)?,
        lease_owner: r.try_get(4)?,
        lease_until_ms: r.try_get(5)?,
    })
}

/// The first id of millisecond `ms`: a time bound as an id bound, so the id index does the work.
fn id_at(ms: i64) -> String {
    Ulid::from_parts(ms.max(0) as u64, 0).to_string()
}

async fn insert_queue(tx: &Transaction<'_>, items: &[NewQueueItem]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = items.iter().map(|q| q.id.to_string()).collect();
    let runs: Vec<String> = items.iter().map(|q| q.run_id.to_string()).collect();
    let payloads: Vec<&str> = items.iter().map(|q| q.payload.as_str()).collect();
    let due: Vec<i64> = items.iter().map(|q| q.due_at_ms).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO queue (id, run_id, payload, due_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])",
        )
        .await?;
    tx.execute(&stmt, &[&ids, &runs, &payloads, &due]).await?;
    Ok(())
}

/// Inserts a run unless its dedupe key is live; returns whether it was created.
async fn insert_run(tx: &Transaction<'_>, run: &NewRun) -> Result<bool> {
    if let Some((key, expires_at)) = &run.dedupe {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO run_dedupe (function_id, key, run_id, expires_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (function_id, key) DO UPDATE
                   SET run_id = EXCLUDED.run_id, expires_at = EXCLUDED.expires_at
                   WHERE run_dedupe.expires_at <= $5",
            )
            .await?;
        let taken = tx
            .execute(
                &stmt,
                &[
                    &run.function_id,
                    key,
                    &run.id.to_string(),
                    expires_at,
                    &run.created_at_ms,
                ],
            )
            .await?;
        if taken == 0 {
            return Ok(false);
        }
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO runs (id, function_id, app_id, sync_id, event_id, event_name, events,
                               status, state, created_at, parent_run_id, parent_step_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'Queued', $8, $9, $10, $11)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &run.id.to_string(),
            &run.function_id,
            &run.app_id,
            &run.sync_id.map(|u| u.to_string()),
            &run.event_id.map(|u| u.to_string()),
            &run.event_name,
            &run.events,
            &run.state,
            &run.created_at_ms,
            &run.parent.as_ref().map(|p| p.0.to_string()),
            &run.parent.as_ref().map(|p| p.1.as_str()),
        ],
    )
    .await?;
    insert_queue(tx, &run.enqueue).await?;
    Ok(true)
}

/// Appends events; `scheduled` ones are stored as already matched against triggers.
async fn insert_events(tx: &Transaction<'_>, evs: &[Event], scheduled: bool) -> Result<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Event> = evs.iter().collect();
    events::insert_with(&**tx, &refs).await?;
    if scheduled {
        let ids: Vec<Ulid> = evs.iter().map(|e| e.id).collect();
        events::mark_scheduled(&**tx, &ids).await?;
    }
    Ok(())
}

async fn insert_waits(tx: &Transaction<'_>, waits: &[Wait]) -> Result<()> {
    if waits.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = waits.iter().map(|w| w.id.to_string()).collect();
    let runs: Vec<String> = waits.iter().map(|w| w.run_id.to_string()).collect();
    let steps: Vec<&str> = waits.iter().map(|w| w.step_id.as_str()).collect();
    let names: Vec<&str> = waits.iter().map(|w| w.event_name.as_str()).collect();
    let exprs: Vec<Option<&str>> = waits.iter().map(|w| w.expression.as_deref()).collect();
    let triggers: Vec<&str> = waits.iter().map(|w| w.trigger.as_str()).collect();
    let expires: Vec<i64> = waits.iter().map(|w| w.expires_at_ms).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO waits (id, run_id, step_id, event_name, expression, trigger, expires_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::bigint[])",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&ids, &runs, &steps, &names, &exprs, &triggers, &expires],
    )
    .await?;
    Ok(())
}

async fn insert_history(tx: &Transaction<'_>, entries: &[HistoryEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&HistoryEntry) -> Option<&str>| -> Vec<Option<&str>> {
        entries.iter().map(f).collect()
    };
    let ids: Vec<String> = entries.iter().map(|h| h.id.to_string()).collect();
    let runs: Vec<String> = entries.iter().map(|h| h.run_id.to_string()).collect();
    let syncs: Vec<Option<String>> = entries
        .iter()
        .map(|h| h.sync_id.map(|u| u.to_string()))
        .collect();
    let steps = col(|h| h.step_id.as_deref());
    let names = col(|h| h.name.as_deref());
    let kinds = col(|h| Some(h.kind.as_str()));
    let statuses = col(|h| Some(h.status.as_str()));
    let inputs = col(|h| h.input.as_deref());
    let outputs = col(|h| h.output.as_deref());
    let errors = col(|h| h.error.as_deref());
    let attempts: Vec<i64> = entries.iter().map(|h| i64::from(h.attempt)).collect();
    let queued: Vec<Option<i64>> = entries.iter().map(|h| h.queued_at_ms).collect();
    let started: Vec<i64> = entries.iter().map(|h| h.started_at_ms).collect();
    let ended: Vec<i64> = entries.iter().map(|h| h.ended_at_ms).collect();
    let retry: Vec<Option<i64>> = entries.iter().map(|h| h.retry_at_ms).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO history (id, run_id, step_id, name, kind, attempt, status, queued_at,
                started_at, ended_at, input, output, error, retry_at, sync_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[],
                $12::text[], $13::text[], $14::bigint[], $15::text[])",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &ids, &runs, &steps, &names, &kinds, &attempts, &statuses, &queued, &started, &ended,
            &inputs, &outputs, &errors, &retry, &syncs,
        ],
    )
    .await?;
    Ok(())
}

/// Writes a transition. Anything but `Committed` means the caller must roll back.
async fn commit(tx: &Transaction<'_>, t: &Transition) -> Result<CommitResult> {
    let run_id = t.run_id.to_string();
    let terminal = matches!(t.status.as_str(), "Completed" | "Failed" | "Cancelled");
    // The run row first: it locks the run before any of its queue rows (the consumed item,
    // `clear_pending`), so two commits of one run wait for each other rather than deadlock.
    let stmt = tx
        .prepare_cached(
            "UPDATE runs SET state = $1, status = $2, version = version + 1,
                output = COALESCE($3, output), error = COALESCE($4, error),
                started_at = CASE WHEN $2 <> 'Queued' THEN COALESCE(started_at, $5)
                                  ELSE started_at END,
                ended_at = CASE WHEN $6 THEN $5 ELSE ended_at END
             WHERE id = $7 AND version = $8",
        )
        .await?;
    let updated = tx
        .execute(
            &stmt,
            &[
                &t.state,
                &t.status,
                &t.output,
                &t.error,
                &t.now_ms,
                &terminal,
                &run_id,
                &t.expected_version,
            ],
        )
        .await?;
    // A lost lease wins over a stale version, as in SQLite, which checks the lease first.
    if let Some((item, owner)) = &t.consume {
        let stmt = tx
            .prepare_cached("DELETE FROM queue WHERE id = $1 AND lease_owner = $2")
            .await?;
        if tx.execute(&stmt, &[&item.to_string(), owner]).await? == 0 {
            return Ok(CommitResult::LeaseLost);
        }
    }
    if updated == 0 {
        return Ok(CommitResult::Conflict);
    }
    if t.clear_pending {
        let stmt = tx
            .prepare_cached("DELETE FROM queue WHERE run_id = $1")
            .await?;
        tx.execute(&stmt, &[&run_id]).await?;
        let stmt = tx
            .prepare_cached("DELETE FROM waits WHERE run_id = $1")
            .await?;
        tx.execute(&stmt, &[&run_id]).await?;
    }
    insert_queue(tx, &t.enqueue).await?;
    insert_waits(tx, &t.add_waits).await?;
    insert_history(tx, &t.history).await?;
    insert_events(tx, &t.events, false).await?;
    insert_events(tx, &t.direct_events, true).await?;
    for run in &t.runs {
        insert_run(tx, run).await?;
    }
    Ok(CommitResult::Committed)
}

async fn schedule(tx: &Transaction<'_>, batch: &ScheduleBatch) -> Result<Vec<Ulid>> {
    insert_events(tx, &batch.new_events, true).await?;
    let mut created = Vec::new();
    for run in &batch.runs {
        if insert_run(tx, run).await? {
            created.push(run.id);
        }
    }
    // In id order, so two schedulers resolving the same waits lock them in the same order.
    let mut resolved: Vec<&(Ulid, NewQueueItem)> = batch.resolved_waits.iter().collect();
    resolved.sort_by_key(|(wait, _)| *wait);
    let del = tx.prepare_cached("DELETE FROM waits WHERE id = $1").await?;
    for (wait, item) in resolved {
        if tx.execute(&del, &[&wait.to_string()]).await? == 1 {
            insert_queue(tx, std::slice::from_ref(item)).await?;
        }
    }
    events::mark_scheduled(&**tx, &batch.event_ids).await?;
    Ok(created)
}

async fn list_runs(store: &PgStore, q: &RunQuery) -> Result<Vec<RunRecord>> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id < $1");
    let mut args: Vec<String> = vec![q
        .cursor
        .map(|c| c.to_string())
        .unwrap_or_else(|| "~".into())];
    let mut add = |clause: &str, v: String| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ${}", args.len()));
    };
    if let Some(s) = &q.status {
        add("status =", s.clone());
    }
    if let Some(f) = &q.function_id {
        add("function_id =", f.clone());
    }
    if let Some(a) = &q.app_id {
        add("app_id =", a.clone());
    }
    if let Some(e) = &q.event_name {
        add("event_name =", e.clone());
    }
    if let Some(from) = q.from_ms {
        add("id >=", id_at(from));
    }
    if let Some(to) = q.to_ms {
        add("id <", id_at(to));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        q.limit.clamp(1, 1000)
    ));
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    let client = store.pool().get().await?;
    let rows = client.query(&sql, &params).await?;
    rows.iter().map(run_row).collect()
}

#[async_trait::async_trait]
impl RunStore for PgStore {
    async fn unscheduled_events(&self, limit: usize) -> Result<Vec<Event>> {
        events::unscheduled(&self.pool().get().await?, limit).await
    }

    async fn schedule(&self, batch: ScheduleBatch) -> Result<Vec<Ulid>> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let created = schedule(&tx, &batch).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn claim_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<QueueItem>> {
        let client = self.pool().get().await?;
        // SKIP LOCKED: nodes claiming at once each take different items and never wait.
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE queue SET lease_owner = $1, lease_until = $2
                 WHERE id IN (SELECT id FROM queue WHERE due_at <= $3 AND lease_until <= $3
                              ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 RETURNING {QUEUE_COLUMNS}"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&owner, &(now_ms + lease_ms), &now_ms, &(limit as i64)],
            )
            .await?;
        let mut items = rows.iter().map(queue_row).collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|i| (i.due_at_ms, i.id));
        Ok(items)
    }

    async fn next_due_at(&self) -> Result<Option<i64>> {
        let client = self.pool().get().await?;
        let row = client
            .query_one(
                "SELECT LEAST(
                    (SELECT due_at FROM queue WHERE lease_until <= due_at
                      ORDER BY due_at LIMIT 1),
                    (SELECT lease_until FROM queue WHERE lease_until > due_at
                      ORDER BY lease_until LIMIT 1))",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn enqueue(&self, items: Vec<NewQueueItem>) -> Result<()> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        insert_queue(&tx, &items).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit(&self, t: Transition) -> Result<CommitResult> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let result = commit(&tx, &t).await?;
        if result == CommitResult::Committed {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(result)
    }

    async fn get_run(&self, id: Ulid) -> Result<Option<RunRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let row = client.query_opt(&sql, &[&id.to_string()]).await?;
        row.as_ref().map(run_row).transpose()
    }

    async fn list_runs(&self, q: RunQuery) -> Result<Vec<RunRecord>> {
        list_runs(self, &q).await
    }

    async fn runs_for_event(&self, event_id: Ulid) -> Result<Vec<RunRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE event_id = $1 ORDER BY id");
        let rows = client.query(&sql, &[&event_id.to_string()]).await?;
        rows.iter().map(run_row).collect()
    }

    async fn history(&self, run_id: Ulid) -> Result<Vec<HistoryEntry>> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT id, run_id, step_id, name, kind, attempt, status, queued_at, started_at,
                        ended_at, input, output, error, retry_at, sync_id
                 FROM history WHERE run_id = $1 ORDER BY id",
                &[&run_id.to_string()],
            )
            .await?;
        rows.iter().map(history_row).collect()
    }

    async fn function_stats(&self, function_id: &str, since_ms: i64) -> Result<Vec<(String, u64)>> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT status, COUNT(*) FROM runs WHERE function_id = $1 AND id >= $2
                 GROUP BY status ORDER BY status",
                &[&function_id, &id_at(since_ms)],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)? as u64)))
            .collect()
    }

    async fn waits_for(&self, event_names: Vec<String>) -> Result<Vec<Wait>> {
        let client = self.pool().get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, run_id, step_id, event_name, expression, trigger, expires_at
                 FROM waits WHERE event_name = $1 ORDER BY id",
            )
            .await?;
        let mut out = Vec::new();
        for name in &event_names {
            let rows = client.query(&stmt, &[name]).await?;
            out.extend(rows.iter().map(wait_row).collect::<Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    async fn create_run(&self, run: NewRun) -> Result<()> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        insert_run(&tx, &run).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn lead(&self, name: &str, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
        let client = self.pool().get().await?;
        let n = client
            .execute(
                "INSERT INTO leaders (name, owner, until_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
                 WHERE leaders.owner = excluded.owner OR leaders.until_ms <= $4",
                &[&name, &owner, &(now_ms + ttl_ms), &now_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let client = self.pool().get().await?;
        Ok(client
            .execute(
                "UPDATE queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
                &[&owner],
            )
            .await?)
    }
}
