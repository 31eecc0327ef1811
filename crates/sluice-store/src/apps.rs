//! Apps and their functions, as the SDKs sync them, plus the history of syncs.
//!
//! A sync replaces an app's whole function set atomically. Every sync, failed or not, is kept as
//! a [`SyncRecord`], and every run records the sync it ran against.
//!
//! Repeats are folded into the row they repeat. `sluice dev` re-syncs every app every few
//! seconds, so a row per re-sync would bury the history that matters (what changed, what failed)
//! under thousands of identical rows a day:
//! - a successful sync identical to the app's current one (same function-set hash, URL, SDK,
//!   framework and app version, and the app's last attempt succeeded) adds no row; it refreshes
//!   the app's `synced_at_ms` and returns the current `sync_id` with `modified: false`;
//! - a failed sync with the same error as the app's (or, for no app, the URL's) latest failed
//!   attempt adds no row either; it refreshes `last_attempt_at_ms` and returns that attempt's id.

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
    /// Records a successful sync: upserts the app, replaces its function set, appends a sync row
    /// (unless it repeats the current one; see the module docs) and clears `last_error`.
    ///
    /// One serve URL serves one app, so other apps at the same URL are removed with their
    /// functions: an app renamed in code replaces its old self instead of leaving the old
    /// functions behind to trigger runs that nothing answers.
    ///
    /// A function id held by another app is a constraint error; callers check first.
    async fn record_sync(&self, sync: NewSync) -> Result<SyncOutcome>;

    /// Records a failed sync attempt and returns its id. The attempt is attached to the app
    /// `app_id` names if it is known, else to the app known at `url`; that app's `last_error` is
    /// set and its functions are left as they were. When neither is known and `app_id` is given,
    /// an app with no functions is created to carry the error, so a first sync that fails is
    /// shown, not lost. With neither, the row stands alone (readable with [`Self::get_sync`]).
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

/// A new sync id. Ids come from one monotonic generator so that, within a process, a later sync
/// always sorts after an earlier one even in the same millisecond: history is listed by id.
pub(crate) fn new_sync_id() -> Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // `generate` fails only when the random part would overflow within one millisecond.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

pub(crate) fn parse_ulid(text: &str) -> Result<Ulid> {
    Ulid::from_string(text).map_err(|e| crate::Error::Corrupt(format!("sync id {text:?}: {e}")))
}

/// A JSON column's text.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Fills a function record's JSON columns in from their stored text.
pub(crate) fn decode_function(
    record: FunctionRecord,
    triggers: &str,
    config: &str,
    unenforced: &str,
) -> Result<FunctionRecord> {
    let decode = |text: &str| -> Result<serde_json::Value> {
        serde_json::from_str(text)
            .map_err(|e| crate::Error::Corrupt(format!("function {}: stored JSON: {e}", record.id)))
    };
    let unenforced = serde_json::from_value(decode(unenforced)?)
        .map_err(|e| crate::Error::Corrupt(format!("function {}: unenforced: {e}", record.id)))?;
    Ok(FunctionRecord {
        triggers: decode(triggers)?,
        config: decode(config)?,
        unenforced,
        ..record
    })
}
