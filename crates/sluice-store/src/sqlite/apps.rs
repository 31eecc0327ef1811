//! Apps, their functions and sync history in SQLite.
//!
//! Every write runs in the writer thread inside one savepoint, so a sync's app row, function set
//! and history row change together or not at all.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use ulid::Ulid;

use super::SqliteStore;
use crate::apps::{decode_function, new_sync_id, parse_ulid, to_json};
use crate::{AppRecord, AppStore, FunctionRecord, NewSync, Result, SyncOutcome, SyncRecord};

/// Migration step 3.
pub const SCHEMA: &str = "CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        sdk TEXT,
        framework TEXT,
        app_version TEXT,
        function_hash TEXT,
        function_count INTEGER NOT NULL DEFAULT 0,
        -- The last successful sync; NULL until the app has synced once.
        sync_id TEXT,
        synced_at INTEGER,
        -- The last attempt, successful or not.
        last_attempt_id TEXT NOT NULL,
        last_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX apps_url ON apps(url);
    CREATE TABLE functions (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        retries INTEGER NOT NULL,
        triggers TEXT NOT NULL,
        config TEXT NOT NULL,
        unenforced TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX functions_app ON functions(app_id);
    -- History outlives the app it belongs to, so no foreign key.
    CREATE TABLE app_syncs (
        id TEXT PRIMARY KEY,
        app_id TEXT,
        url TEXT NOT NULL,
        at INTEGER NOT NULL,
        error TEXT,
        function_hash TEXT,
        sdk TEXT,
        modified INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX app_syncs_app ON app_syncs(app_id, id);
    CREATE INDEX app_syncs_url ON app_syncs(url, id);";

const APP_COLUMNS: &str = "id, url, sdk, framework, app_version, function_hash, function_count, \
     sync_id, synced_at, last_attempt_at, last_error, created_at";
const FUNCTION_COLUMNS: &str = "id, app_id, slug, name, url, retries, triggers, config, unenforced";
const SYNC_COLUMNS: &str = "id, app_id, url, at, error, function_hash, sdk, modified";

#[async_trait]
impl AppStore for SqliteStore {
    async fn record_sync(&self, sync: NewSync) -> Result<SyncOutcome> {
        let id = new_sync_id();
        self.write(move |conn| record_sync(conn, &sync, id)).await
    }

    async fn record_failed_sync(
        &self,
        app_id: Option<String>,
        url: String,
        error: String,
        at_ms: i64,
    ) -> Result<Ulid> {
        let id = new_sync_id();
        self.write(move |conn| record_failed_sync(conn, app_id, &url, &error, at_ms, id))
            .await
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        self.read(|conn| {
            let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY id");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], app_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn get_app(&self, id: &str) -> Result<Option<AppRecord>> {
        let id = id.to_owned();
        self.read(move |conn| get_app(conn, &id)).await
    }

    async fn delete_app(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.execute("DELETE FROM functions WHERE app_id = ?1", [&id])?;
            Ok(conn.execute("DELETE FROM apps WHERE id = ?1", [&id])? == 1)
        })
        .await
    }

    async fn list_syncs(&self, app_id: &str, limit: usize) -> Result<Vec<SyncRecord>> {
        let app_id = app_id.to_owned();
        let limit = limit as i64;
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SYNC_COLUMNS} FROM app_syncs WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![app_id, limit], sync_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn get_sync(&self, id: Ulid) -> Result<Option<SyncRecord>> {
        self.read(move |conn| {
            let sql = format!("SELECT {SYNC_COLUMNS} FROM app_syncs WHERE id = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_row([id.to_string()], sync_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn list_functions(&self) -> Result<Vec<FunctionRecord>> {
        self.read(|conn| {
            let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions ORDER BY app_id, id");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], function_row)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn get_function(&self, id: &str) -> Result<Option<FunctionRecord>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {FUNCTION_COLUMNS} FROM functions WHERE id = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_row([id], function_row).optional()?.transpose()
        })
        .await
    }
}

/// What a sync is compared with: the app as it stands.
struct Current {
    function_hash: Option<String>,
    url: String,
    sdk: Option<String>,
    framework: Option<String>,
    app_version: Option<String>,
    sync_id: Option<String>,
    last_error: Option<String>,
}

fn record_sync(conn: &Connection, s: &NewSync, new_id: Ulid) -> Result<SyncOutcome> {
    let current = conn
        .query_row(
            "SELECT function_hash, url, sdk, framework, app_version, sync_id, last_error
             FROM apps WHERE id = ?1",
            [&s.app_id],
            |r| {
                Ok(Current {
                    function_hash: r.get(0)?,
                    url: r.get(1)?,
                    sdk: r.get(2)?,
                    framework: r.get(3)?,
                    app_version: r.get(4)?,
                    sync_id: r.get(5)?,
                    last_error: r.get(6)?,
                })
            },
        )
        .optional()?;
    let modified =
        current.as_ref().and_then(|c| c.function_hash.as_deref()) != Some(s.function_hash.as_str());

    if let Some(c) = &current {
        let repeat = !modified
            && c.last_error.is_none()
            && c.url == s.url
            && c.sdk.as_deref() == Some(s.sdk.as_str())
            && c.framework == s.framework
            && c.app_version == s.app_version;
        if let (true, Some(sync_id)) = (repeat, &c.sync_id) {
            conn.execute(
                "UPDATE apps SET synced_at = ?2, last_attempt_at = ?2, last_attempt_id = ?3
                 WHERE id = ?1",
                params![s.app_id, s.at_ms, sync_id],
            )?;
            return Ok(SyncOutcome {
                sync_id: parse_ulid(sync_id)?,
                modified: false,
            });
        }
    }

    let id = new_id.to_string();
    conn.execute(
        "DELETE FROM functions WHERE app_id IN (SELECT id FROM apps WHERE url = ?1 AND id <> ?2)",
        params![s.url, s.app_id],
    )?;
    conn.execute(
        "DELETE FROM apps WHERE url = ?1 AND id <> ?2",
        params![s.url, s.app_id],
    )?;
    conn.execute(
        "INSERT INTO app_syncs (id, app_id, url, at, error, function_hash, sdk, modified)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7)",
        params![
            id,
            s.app_id,
            s.url,
            s.at_ms,
            s.function_hash,
            s.sdk,
            modified
        ],
    )?;
    conn.execute(
        "INSERT INTO apps (id, url, sdk, framework, app_version, function_hash, function_count,
                           sync_id, synced_at, last_attempt_id, last_attempt_at, last_error,
                           created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?9, NULL, ?9)
         ON CONFLICT(id) DO UPDATE SET
            url = excluded.url, sdk = excluded.sdk, framework = excluded.framework,
            app_version = excluded.app_version, function_hash = excluded.function_hash,
            function_count = excluded.function_count, sync_id = excluded.sync_id,
            synced_at = excluded.synced_at, last_attempt_id = excluded.last_attempt_id,
            last_attempt_at = excluded.last_attempt_at, last_error = NULL",
        params![
            s.app_id,
            s.url,
            s.sdk,
            s.framework,
            s.app_version,
            s.function_hash,
            s.functions.len() as i64,
            id,
            s.at_ms,
        ],
    )?;
    conn.execute("DELETE FROM functions WHERE app_id = ?1", [&s.app_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO functions (id, app_id, slug, name, url, retries, triggers, config, unenforced)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for f in &s.functions {
        insert.execute(params![
            f.id,
            s.app_id,
            f.slug,
            f.name,
            f.url,
            f.retries,
            f.triggers.to_string(),
            f.config.to_string(),
            to_json(&f.unenforced),
        ])?;
    }
    Ok(SyncOutcome {
        sync_id: new_id,
        modified,
    })
}

fn record_failed_sync(
    conn: &Connection,
    app_id: Option<String>,
    url: &str,
    error: &str,
    at_ms: i64,
    new_id: Ulid,
) -> Result<Ulid> {
    let known = |sql: &str, key: &str| -> Result<Option<(String, Option<String>, String)>> {
        Ok(conn
            .query_row(sql, [key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    };
    let by_id = match &app_id {
        Some(id) => known(
            "SELECT id, last_error, last_attempt_id FROM apps WHERE id = ?1",
            id,
        )?,
        None => None,
    };
    let app = match by_id {
        Some(app) => Some(app),
        None => known(
            "SELECT id, last_error, last_attempt_id FROM apps WHERE url = ?1
             ORDER BY last_attempt_at DESC LIMIT 1",
            url,
        )?,
    };

    match app {
        Some((id, last_error, last_attempt_id)) => {
            if last_error.as_deref() == Some(error) {
                conn.execute(
                    "UPDATE apps SET last_attempt_at = ?2 WHERE id = ?1",
                    params![id, at_ms],
                )?;
                return parse_ulid(&last_attempt_id);
            }
            insert_failure(conn, new_id, Some(&id), url, error, at_ms)?;
            conn.execute(
                "UPDATE apps SET last_error = ?2, last_attempt_at = ?3, last_attempt_id = ?4
                 WHERE id = ?1",
                params![id, error, at_ms, new_id.to_string()],
            )?;
        }
        None => {
            if let Some(id) = &app_id {
                insert_failure(conn, new_id, Some(id), url, error, at_ms)?;
                conn.execute(
                    "INSERT INTO apps (id, url, last_attempt_id, last_attempt_at, last_error,
                                       created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                    params![id, url, new_id.to_string(), at_ms, error],
                )?;
            } else {
                let latest: Option<(String, Option<String>)> = conn
                    .query_row(
                        "SELECT id, error FROM app_syncs WHERE url = ?1 AND app_id IS NULL
                         ORDER BY id DESC LIMIT 1",
                        [url],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((id, Some(e))) = latest {
                    if e == error {
                        return parse_ulid(&id);
                    }
                }
                insert_failure(conn, new_id, None, url, error, at_ms)?;
            }
        }
    }
    Ok(new_id)
}

fn insert_failure(
    conn: &Connection,
    id: Ulid,
    app_id: Option<&str>,
    url: &str,
    error: &str,
    at_ms: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO app_syncs (id, app_id, url, at, error, function_hash, sdk, modified)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, 0)",
        params![id.to_string(), app_id, url, at_ms, error],
    )?;
    Ok(())
}

fn get_app(conn: &Connection, id: &str) -> Result<Option<AppRecord>> {
    let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_row([id], app_row).optional()?.transpose()
}

fn app_row(r: &Row<'_>) -> rusqlite::Result<Result<AppRecord>> {
    let sync_id: Option<String> = r.get(7)?;
    let count: i64 = r.get(6)?;
    let record = AppRecord {
        id: r.get(0)?,
        url: r.get(1)?,
        sdk: r.get(2)?,
        framework: r.get(3)?,
        app_version: r.get(4)?,
        function_hash: r.get(5)?,
        function_count: count as u32,
        sync_id: None,
        synced_at_ms: r.get(8)?,
        last_attempt_at_ms: r.get(9)?,
        last_error: r.get(10)?,
        created_at_ms: r.get(11)?,
    };
    Ok(match sync_id.as_deref().map(parse_ulid).transpose() {
        Ok(sync_id) => Ok(AppRecord { sync_id, ..record }),
        Err(e) => Err(e),
    })
}

fn function_row(r: &Row<'_>) -> rusqlite::Result<Result<FunctionRecord>> {
    let triggers: String = r.get(6)?;
    let config: String = r.get(7)?;
    let unenforced: String = r.get(8)?;
    let retries: i64 = r.get(5)?;
    let record = FunctionRecord {
        id: r.get(0)?,
        app_id: r.get(1)?,
        slug: r.get(2)?,
        name: r.get(3)?,
        url: r.get(4)?,
        retries: retries as u32,
        triggers: serde_json::Value::Null,
        config: serde_json::Value::Null,
        unenforced: Vec::new(),
    };
    Ok(decode_function(record, &triggers, &config, &unenforced))
}

fn sync_row(r: &Row<'_>) -> rusqlite::Result<Result<SyncRecord>> {
    let id: String = r.get(0)?;
    let modified: bool = r.get(7)?;
    let record = |id: Ulid| -> rusqlite::Result<SyncRecord> {
        Ok(SyncRecord {
            id,
            app_id: r.get(1)?,
            url: r.get(2)?,
            at_ms: r.get(3)?,
            error: r.get(4)?,
            function_hash: r.get(5)?,
            sdk: r.get(6)?,
            modified,
        })
    };
    match parse_ulid(&id) {
        Ok(ulid) => record(ulid).map(Ok),
        Err(e) => Ok(Err(e)),
    }
}
