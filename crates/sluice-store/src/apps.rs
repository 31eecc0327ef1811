//! Apps and their functions, as the SDKs sync them, plus the history of syncs.
//!
//! A sync replaces an app's whole function set atomically. Every sync, failed or not, is kept as
//! a [`SyncRecord`], and every run records the sync it ran against.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::Result;

/// One function as stored. `triggers` uses the wire shape:
/// `[{"event": "...", "expression": "..."} | {"cron": "..."}]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    /// Composite id: app id, `-`, function slug.
    pub id: String,
    pub app_id: String,
    pub slug: String,
    pub name: String,
    pub url: String,
    pub retries: u32,
    pub triggers: serde_json::Value,
    /// The function's configuration exactly as the SDK sent it.
    pub config: serde_json::Value,
    /// Settings present but not enforced by Sluice yet (synced with `--allow-unenforced`).
    pub unenforced: Vec<String>,
}

/// A successful sync to record.
#[derive(Debug, Clone)]
pub struct NewSync {
    pub app_id: String,
    pub url: String,
    pub sdk: String,
    pub framework: Option<String>,
    pub app_version: Option<String>,
    /// [`sluice_core::function::function_set_hash`] of the function set.
    pub function_hash: String,
    pub functions: Vec<FunctionRecord>,
    pub at_ms: i64,
}

/// The result of recording a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub sync_id: Ulid,
    /// True only when the function set's hash differs from the app's previous one.
    pub modified: bool,
}

/// One row of sync history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub id: Ulid,
    /// `None` when a sync failed before the app said who it is.
    pub app_id: Option<String>,
    pub url: String,
    pub at_ms: i64,
    /// `None` on success; the reason on failure.
    pub error: Option<String>,
    pub function_hash: Option<String>,
    pub sdk: Option<String>,
    pub modified: bool,
}

/// An app as the dashboard and the REST API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    pub id: String,
    pub url: String,
    pub sdk: Option<String>,
    pub framework: Option<String>,
    pub app_version: Option<String>,
    pub function_hash: Option<String>,
    pub function_count: u32,
    /// The last successful sync.
    pub sync_id: Option<Ulid>,
    pub synced_at_ms: Option<i64>,
    /// The last sync attempt, successful or not, and its error if it failed.
    pub last_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

#[async_trait]
pub trait AppStore: Send + Sync {
    /// Records a successful sync: upserts the app, replaces its function set, appends a sync row.
    async fn record_sync(&self, sync: NewSync) -> Result<SyncOutcome>;

    /// Records a failed sync attempt. When `app_id` names a known app (or an app is known at
    /// `url`), that app's `last_error` is set; its functions are left as they were.
    async fn record_failed_sync(
        &self,
        app_id: Option<String>,
        url: String,
        error: String,
        at_ms: i64,
    ) -> Result<Ulid>;

    async fn list_apps(&self) -> Result<Vec<AppRecord>>;
    async fn get_app(&self, id: &str) -> Result<Option<AppRecord>>;
    /// Removes an app and its functions (runs and sync history stay). Returns whether it existed.
    async fn delete_app(&self, id: &str) -> Result<bool>;
    /// Sync history of one app, newest first.
    async fn list_syncs(&self, app_id: &str, limit: usize) -> Result<Vec<SyncRecord>>;
    async fn get_sync(&self, id: Ulid) -> Result<Option<SyncRecord>>;

    /// Every function of every app: the input of the trigger index.
    async fn list_functions(&self) -> Result<Vec<FunctionRecord>>;
    async fn get_function(&self, id: &str) -> Result<Option<FunctionRecord>>;
}
