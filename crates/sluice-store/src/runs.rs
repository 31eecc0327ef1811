//! Runs, their queue items, waits and history.
//!
//! The store knows nothing of the protocol: run state and queue payloads are opaque JSON text that
//! the engine writes and reads. What the store guarantees:
//! - **One transaction per transition** ([`RunStore::commit`]): state, queue, waits, history and
//!   emitted events change together or not at all.
//! - **Optimistic concurrency on the run**: a commit names the run version it started from and
//!   fails with [`CommitResult::Conflict`] if another commit came first.
//! - **Fencing by lease**: a commit that consumes a queue item must still hold that item's lease;
//!   otherwise it returns [`CommitResult::LeaseLost`] and changes nothing.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sluice_core::event::Event;
use ulid::Ulid;

use crate::Result;

/// Run status as stored and filtered on: `Queued`, `Running`, `Completed`, `Failed`, `Cancelled`.
pub const RUN_STATUSES: [&str; 5] = ["Queued", "Running", "Completed", "Failed", "Cancelled"];

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: Ulid,
    pub function_id: String,
    pub app_id: String,
    /// The app sync whose function definition this run uses.
    pub sync_id: Option<Ulid>,
    /// The triggering event (the first, for batches).
    pub event_id: Option<Ulid>,
    pub event_name: Option<String>,
    /// The triggering events in the SDK's wire shape, a JSON array.
    pub events: String,
    /// The engine's run state (opaque JSON).
    pub state: String,
    pub created_at_ms: i64,
    /// For `step.invoke`: the run and step waiting for this run's result.
    pub parent: Option<(Ulid, String)>,
    /// De-duplicates triggering: one run per `(function_id, key)` while the key is live.
    pub dedupe: Option<(String, i64)>,
    /// Queue items to create with the run (its first call).
    pub enqueue: Vec<NewQueueItem>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: Ulid,
    pub function_id: String,
    pub app_id: String,
    pub sync_id: Option<Ulid>,
    pub event_id: Option<Ulid>,
    pub event_name: Option<String>,
    pub events: String,
    pub status: String,
    pub state: String,
    /// Incremented by every commit; see [`Transition::expected_version`].
    pub version: i64,
    pub output: Option<String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub parent_run_id: Option<Ulid>,
    pub parent_step_id: Option<String>,
}

/// Work for the executor, due at `due_at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewQueueItem {
    pub id: Ulid,
    pub run_id: Ulid,
    /// Opaque to the store; the engine's input to apply.
    pub payload: String,
    pub due_at_ms: i64,
}

/// A claimed queue item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: Ulid,
    pub run_id: Ulid,
    pub payload: String,
    pub due_at_ms: i64,
    pub lease_owner: String,
    pub lease_until_ms: i64,
}

/// A run waiting for an event (`step.waitForEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub id: Ulid,
    pub run_id: Ulid,
    pub step_id: String,
    pub event_name: String,
    /// CEL over `event` (the run's trigger) and `async` (the candidate).
    pub expression: Option<String>,
    /// The run's trigger event, wire JSON, for evaluating `expression`.
    pub trigger: String,
    pub expires_at_ms: i64,
}

/// One attempt of one step (or of the function itself), for the run's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: Ulid,
    pub run_id: Ulid,
    pub step_id: Option<String>,
    pub name: Option<String>,
    /// `function`, `run`, `sleep`, `wait_for_event`, `invoke`.
    pub kind: String,
    pub attempt: u32,
    /// `ok`, `error`, `scheduled` (a sleep, wait or invoke that started).
    pub status: String,
    /// When the queue item was due, when the call started, when it ended.
    pub queued_at_ms: Option<i64>,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    /// Input (for invokes and waits), output or error, JSON text.
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    /// When the next attempt is due, if one is.
    pub retry_at_ms: Option<i64>,
    pub sync_id: Option<Ulid>,
}

/// Everything one state-machine step changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    pub run_id: Ulid,
    /// The run version this transition was computed from.
    pub expected_version: i64,
    /// The queue item this transition consumes, and the lease owner that must still hold it.
    pub consume: Option<(Ulid, String)>,
    pub state: String,
    /// New status; `Completed`, `Failed` and `Cancelled` are terminal and set `ended_at_ms`.
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub now_ms: i64,
    pub enqueue: Vec<NewQueueItem>,
    pub add_waits: Vec<Wait>,
    pub history: Vec<HistoryEntry>,
    /// Events the transition emits (`inngest/function.finished`, `…failed`), appended to the log
    /// unscheduled, so they trigger functions like any other event.
    pub events: Vec<Event>,
    /// Events stored already scheduled, with the runs they start (`inngest/function.invoked`
    /// starts exactly the invoked function).
    pub direct_events: Vec<Event>,
    pub runs: Vec<NewRun>,
    /// On a terminal status: drop the run's other queue items and waits.
    pub clear_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitResult {
    Committed,
    /// The run changed since `expected_version`: reload and apply again.
    Conflict,
    /// The consumed queue item is gone or leased to someone else: drop the result.
    LeaseLost,
}

/// Filters for [`RunStore::list_runs`]. Newest first; `cursor` is the last id of the previous page.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub status: Option<String>,
    pub function_id: Option<String>,
    pub app_id: Option<String>,
    pub event_name: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub cursor: Option<Ulid>,
    pub limit: usize,
}

/// What the scheduler decided for a batch of events, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ScheduleBatch {
    /// Events now matched against triggers (marked scheduled): a prefix of what
    /// [`RunStore::unscheduled_events`] returned. A store may keep only a cursor, so marking a
    /// later event may mark the ones before it too.
    pub event_ids: Vec<Ulid>,
    pub runs: Vec<NewRun>,
    /// Waits resolved by these events: the wait is removed and the queue item created, only if
    /// the wait still exists.
    pub resolved_waits: Vec<(Ulid, NewQueueItem)>,
    /// Events created by the scheduler itself (cron ticks), stored already scheduled: they
    /// trigger exactly the runs in `runs`, nothing else.
    pub new_events: Vec<Event>,
}

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Events not yet matched against triggers, in the order the store took them (commit order
    /// on SQLite, id order on PostgreSQL).
    async fn unscheduled_events(&self, limit: usize) -> Result<Vec<Event>>;
    /// Creates runs (skipping those whose dedupe key is live), resolves waits and marks events
    /// scheduled, atomically. Returns the ids of the runs created.
    async fn schedule(&self, batch: ScheduleBatch) -> Result<Vec<Ulid>>;

    /// Leases up to `limit` due queue items to `owner` until `now_ms + lease_ms`.
    async fn claim_due(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<QueueItem>>;
    /// The earliest time any item can be claimed (the later of its due time and its lease's
    /// end), to know how long to sleep. Found through indexes, not a scan: it runs whenever the
    /// executor runs out of work.
    async fn next_due_at(&self) -> Result<Option<i64>>;
    /// Adds queue items outside a transition (cancel requests, reruns).
    async fn enqueue(&self, items: Vec<NewQueueItem>) -> Result<()>;

    async fn commit(&self, t: Transition) -> Result<CommitResult>;

    async fn get_run(&self, id: Ulid) -> Result<Option<RunRecord>>;
    async fn list_runs(&self, q: RunQuery) -> Result<Vec<RunRecord>>;
    async fn runs_for_event(&self, event_id: Ulid) -> Result<Vec<RunRecord>>;
    async fn history(&self, run_id: Ulid) -> Result<Vec<HistoryEntry>>;
    /// Counts of runs per status for one function since `since_ms`.
    async fn function_stats(&self, function_id: &str, since_ms: i64) -> Result<Vec<(String, u64)>>;

    /// Waits on events with one of these names.
    async fn waits_for(&self, event_names: Vec<String>) -> Result<Vec<Wait>>;

    /// Creates a new run directly (reruns): same as one run of [`RunStore::schedule`].
    async fn create_run(&self, run: NewRun) -> Result<()>;

    /// Takes or renews the named leadership lease for `owner` until `now_ms + ttl_ms`. Returns
    /// whether `owner` holds it. Work that must run on one node at a time (the scheduler, cron)
    /// runs only while its node holds the lease. A `ttl_ms` of 0 steps down: the lease ends now,
    /// and another owner may take it at once.
    async fn lead(&self, name: &str, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<bool>;

    /// Frees every queue lease held by `owner`, so the items are claimable at once. A node calls
    /// it as it starts (leases under its name are left over from a crash of a previous process
    /// with the same id) and as it shuts down, for the calls that outlived its shutdown timeout.
    async fn release_leases(&self, owner: &str) -> Result<u64>;
}
