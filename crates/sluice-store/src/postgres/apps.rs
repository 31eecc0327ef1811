//! Apps, their functions and sync history in PostgreSQL.
//!
//! Each write is one transaction. A sync first makes sure the app's row exists and then locks it
//! (`FOR UPDATE`), so concurrent syncs of one app, from one node or several, take turns and each
//! compares its hash with the one the previous sync left.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use ulid::Ulid;

use super::PgStore;
use crate::apps::{decode_function, new_sync_id, parse_ulid, to_json};
use crate::{AppRecord, AppStore, FunctionRecord, NewSync, Result, SyncOutcome, SyncRecord};

/// Migration step 3.
pub const SCHEMA: &str = "CREATE TABLE apps (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        url TEXT NOT NULL,
        sdk TEXT,
        framework TEXT,
        app_version TEXT,
        function_hash TEXT,
        function_count INTEGER NOT NULL DEFAULT 0,
        -- The last successful sync; NULL until the app has synced once.
        sync_id TEXT,
        synced_at BIGINT,
        -- The last attempt, successful or not.
        last_attempt_id TEXT NOT NULL,
        last_attempt_at BIGINT NOT NULL,
        last_error TEXT,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX apps_url ON apps(url);
    CREATE TABLE functions (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        app_id TEXT COLLATE \"C\" NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        retries INTEGER NOT NULL,
        triggers TEXT NOT NULL,
        config TEXT NOT NULL,
        unenforced TEXT NOT NULL
    );
    CREATE INDEX functions_app ON functions(app_id);
    -- History outlives the app it belongs to, so no foreign key.
    CREATE TABLE app_syncs (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        app_id TEXT COLLATE \"C\",
        url TEXT NOT NULL,
        at BIGINT NOT NULL,
        error TEXT,
        function_hash TEXT,
        sdk TEXT,
        modified BOOLEAN NOT NULL
    );
    CREATE INDEX app_syncs_app ON app_syncs(app_id, id);
    CREATE INDEX app_syncs_url ON app_syncs(url, id);";

const APP_COLUMNS: &str = "id, url, sdk, framework, app_version, function_hash, function_count, \
     sync_id, synced_at, last_attempt_at, last_error, created_at";
const FUNCTION_COLUMNS: &str = "id, app_id, slug, name, url, retries, triggers, config, unenforced";
const SYNC_COLUMNS: &str = "id, app_id, url, at, error, function_hash, sdk, modified";

#[async_trait]
impl AppStore for PgStore {
    async fn record_sync(&self, sync: NewSync) -> Result<SyncOutcome> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let outcome = record_sync(&tx, &sync, new_sync_id()).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn record_failed_sync(
        &self,
        app_id: Option<String>,
        url: String,
        error: String,
        at_ms: i64,
    ) -> Result<Ulid> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let id = record_failed_sync(&tx, app_id, &url, &error, at_ms, new_sync_id()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY id");
        client.query(&sql, &[]).await?.iter().map(app_row).collect()
    }

    async fn get_app(&self, id: &str) -> Result<Option<AppRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1");
        client
            .query_opt(&sql, &[&id])
            .await?
            .as_ref()
            .map(app_row)
            .transpose()
    }

    async fn delete_app(&self, id: &str) -> Result<bool> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM functions WHERE app_id = $1", &[&id])
            .await?;
        let deleted = tx.execute("DELETE FROM apps WHERE id = $1", &[&id]).await? == 1;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn list_syncs(&self, app_id: &str, limit: usize) -> Result<Vec<SyncRecord>> {
        let client = self.pool().get().await?;
        let sql = format!(
            "SELECT {SYNC_COLUMNS} FROM app_syncs WHERE app_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = client.query(&sql, &[&app_id, &(limit as i64)]).await?;
        rows.iter().map(sync_row).collect()
    }

    async fn get_sync(&self, id: Ulid) -> Result<Option<SyncRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {SYNC_COLUMNS} FROM app_syncs WHERE id = $1");
        client
            .query_opt(&sql, &[&id.to_string()])
            .await?
            .as_ref()
            .map(sync_row)
            .transpose()
    }

    async fn list_functions(&self) -> Result<Vec<FunctionRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions ORDER BY app_id, id");
        client
            .query(&sql, &[])
            .await?
            .iter()
            .map(function_row)
            .collect()
    }

    async fn get_function(&self, id: &str) -> Result<Option<FunctionRecord>> {
        let client = self.pool().get().await?;
        let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE id = $1");
        client
            .query_opt(&sql, &[&id])
            .await?
            .as_ref()
            .map(function_row)
            .transpose()
    }
}

async fn record_sync(tx: &Transaction<'_>, s: &NewSync, new_id: Ulid) -> Result<SyncOutcome> {
    let id = new_id.to_string();
    // Make sure a row exists to lock; a new app's row is filled in below.
    tx.execute(
        "INSERT INTO apps (id, url, last_attempt_id, last_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
        &[&s.app_id, &s.url, &id, &s.at_ms],
    )
    .await?;
    let current = tx
        .query_one(
            "SELECT function_hash, url, sdk, framework, app_version, sync_id, last_error
             FROM apps WHERE id = $1 FOR UPDATE",
            &[&s.app_id],
        )
        .await?;
    let function_hash: Option<String> = current.get(0);
    let modified = function_hash.as_deref() != Some(s.function_hash.as_str());
    let sync_id: Option<String> = current.get(5);
    let last_error: Option<String> = current.get(6);
    let repeat = !modified
        && last_error.is_none()
        && current.get::<_, String>(1) == s.url
        && current.get::<_, Option<String>>(2).as_deref() == Some(s.sdk.as_str())
        && current.get::<_, Option<String>>(3) == s.framework
        && current.get::<_, Option<String>>(4) == s.app_version;
    if let (true, Some(sync_id)) = (repeat, sync_id) {
        tx.execute(
            "UPDATE apps SET synced_at = $2, last_attempt_at = $2, last_attempt_id = $3
             WHERE id = $1",
            &[&s.app_id, &s.at_ms, &sync_id],
        )
        .await?;
        return Ok(SyncOutcome {
            sync_id: parse_ulid(&sync_id)?,
            modified: false,
        });
    }

    tx.execute(
        "DELETE FROM functions WHERE app_id IN (SELECT id FROM apps WHERE url = $1 AND id <> $2)",
        &[&s.url, &s.app_id],
    )
    .await?;
    tx.execute(
        "DELETE FROM apps WHERE url = $1 AND id <> $2",
        &[&s.url, &s.app_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO app_syncs (id, app_id, url, at, error, function_hash, sdk, modified)
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)",
        &[
            &id,
            &s.app_id,
            &s.url,
            &s.at_ms,
            &s.function_hash,
            &s.sdk,
            &modified,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE apps SET url = $2, sdk = $3, framework = $4, app_version = $5,
            function_hash = $6, function_count = $7, sync_id = $8, synced_at = $9,
            last_attempt_id = $8, last_attempt_at = $9, last_error = NULL
         WHERE id = $1",
        &[
            &s.app_id,
            &s.url,
            &s.sdk,
            &s.framework,
            &s.app_version,
            &s.function_hash,
            &(s.functions.len() as i32),
            &id,
            &s.at_ms,
        ],
    )
    .await?;
    tx.execute("DELETE FROM functions WHERE app_id = $1", &[&s.app_id])
        .await?;
    let insert = tx
        .prepare(
            "INSERT INTO functions (id, app_id, slug, name, url, retries, triggers, config,
                                    unenforced)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    for f in &s.functions {
        tx.execute(
            &insert,
            &[
                &f.id,
                &s.app_id,
                &f.slug,
                &f.name,
                &f.url,
                &(f.retries as i32),
                &f.triggers.to_string(),
                &f.config.to_string(),
                &to_json(&f.unenforced),
            ],
        )
        .await?;
    }
    Ok(SyncOutcome {
        sync_id: new_id,
        modified,
    })
}

async fn record_failed_sync(
    tx: &Transaction<'_>,
    app_id: Option<String>,
    url: &str,
    error: &str,
    at_ms: i64,
    new_id: Ulid,
) -> Result<Ulid> {
    let mut app = None;
    if let Some(id) = &app_id {
        app = tx
            .query_opt(
                "SELECT id, last_error, last_attempt_id FROM apps WHERE id = $1 FOR UPDATE",
                &[id],
            )
            .await?;
    }
    if app.is_none() {
        app = tx
            .query_opt(
                "SELECT id, last_error, last_attempt_id FROM apps WHERE url = $1
                 ORDER BY last_attempt_at DESC LIMIT 1 FOR UPDATE",
                &[&url],
            )
            .await?;
    }
    let id = new_id.to_string();

    if let Some(app) = app {
        let app_id: String = app.get(0);
        let last_error: Option<String> = app.get(1);
        if last_error.as_deref() == Some(error) {
            tx.execute(
                "UPDATE apps SET last_attempt_at = $2 WHERE id = $1",
                &[&app_id, &at_ms],
            )
            .await?;
            return parse_ulid(app.get(2));
        }
        insert_failure(tx, &id, Some(&app_id), url, error, at_ms).await?;
        tx.execute(
            "UPDATE apps SET last_error = $2, last_attempt_at = $3, last_attempt_id = $4
             WHERE id = $1",
            &[&app_id, &error, &at_ms, &id],
        )
        .await?;
        return Ok(new_id);
    }

    match &app_id {
        Some(app_id) => {
            insert_failure(tx, &id, Some(app_id), url, error, at_ms).await?;
            tx.execute(
                "INSERT INTO apps (id, url, last_attempt_id, last_attempt_at, last_error,
                                   created_at)
                 VALUES ($1, $2, $3, $4, $5, $4)",
                &[app_id, &url, &id, &at_ms, &error],
            )
            .await?;
        }
        None => {
            let latest = tx
                .query_opt(
                    "SELECT id, error FROM app_syncs WHERE url = $1 AND app_id IS NULL
                     ORDER BY id DESC LIMIT 1",
                    &[&url],
                )
                .await?;
            if let Some(row) = latest {
                if row.get::<_, Option<&str>>(1) == Some(error) {
                    return parse_ulid(row.get(0));
                }
            }
            insert_failure(tx, &id, None, url, error, at_ms).await?;
        }
    }
    Ok(new_id)
}

async fn insert_failure(
    tx: &Transaction<'_>,
    id: &str,
    app_id: Option<&str>,
    url: &str,
    error: &str,
    at_ms: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO app_syncs (id, app_id, url, at, error, function_hash, sdk, modified)
         VALUES ($1, $2, $3, $4, $5, NULL, NULL, FALSE)",
        &[&id, &app_id, &url, &at_ms, &error],
    )
    .await?;
    Ok(())
}

fn app_row(r: &Row) -> Result<AppRecord> {
    let sync_id: Option<&str> = r.get(7);
    Ok(AppRecord {
        id: r.get(0),
        url: r.get(1),
        sdk: r.get(2),
        framework: r.get(3),
        app_version: r.get(4),
        function_hash: r.get(5),
        function_count: r.get::<_, i32>(6) as u32,
        sync_id: sync_id.map(parse_ulid).transpose()?,
        synced_at_ms: r.get(8),
        last_attempt_at_ms: r.get(9),
        last_error: r.get(10),
        created_at_ms: r.get(11),
    })
}

fn function_row(r: &Row) -> Result<FunctionRecord> {
    let record = FunctionRecord {
        id: r.get(0),
        app_id: r.get(1),
        slug: r.get(2),
        name: r.get(3),
        url: r.get(4),
        retries: r.get::<_, i32>(5) as u32,
        triggers: serde_json::Value::Null,
        config: serde_json::Value::Null,
        unenforced: Vec::new(),
    };
    decode_function(record, r.get(6), r.get(7), r.get(8))
}

fn sync_row(r: &Row) -> Result<SyncRecord> {
    Ok(SyncRecord {
        id: parse_ulid(r.get(0))?,
        app_id: r.get(1),
        url: r.get(2),
        at_ms: r.get(3),
        error: r.get(4),
        function_hash: r.get(5),
        sdk: r.get(6),
        modified: r.get(7),
    })
}
