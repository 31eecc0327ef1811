//! The engine: runs functions. It schedules stored events into runs ([`scheduler`]), executes
//! queue items by calling the SDK and feeding the answers to the pure run state machine
//! ([`executor`]), and fires timers and cron triggers.
//!
//! Everything it decides is persisted through the [`sluice_store`] traits before it acts on it,
//! so a crash loses nothing: leases expire and another pass (or another node) picks the work up.

pub mod driver;
mod executor;
mod index;
pub mod payload;
mod scheduler;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use sluice_store::{AppStore, EventStore, RunStore};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

pub use index::Index;
pub use payload::Payload;
pub use scheduler::{new_run, set_limits};

/// The parts of the store the engine uses.
pub trait EngineStore: EventStore + RunStore + AppStore + Send + Sync + 'static {}
impl<T: ?Sized + EventStore + RunStore + AppStore + Send + Sync + 'static> EngineStore for T {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Driver(#[from] driver::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the engine reads time. Injected so tests can control it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub driver: driver::Config,
    /// Signs calls to apps when set (`sluice start`).
    pub signing_key: Option<String>,
    /// Most queue items processed at once.
    pub max_in_flight: usize,
    /// Longest the loops sleep without a wake-up.
    pub poll: Duration,
    /// Step output, run state and step count limits given to new runs.
    pub limits: sluice_core::run::Limits,
    /// Names this node's leases. Keep it stable across restarts of one node (the SQLite store has
    /// one node), so a restarted process frees the leases its crashed predecessor held; give each
    /// node on a shared PostgreSQL its own.
    pub node_id: String,
    /// How long [`Engine::shutdown`] waits for calls in flight before handing their queue items
    /// back.
    pub shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            driver: driver::Config {
                request_timeout: Duration::from_secs(120),
                ..driver::Config::default()
            },
            signing_key: None,
            limits: sluice_core::run::Limits::default(),
            max_in_flight: 64,
            poll: Duration::from_millis(100),
            node_id: format!("node-{}", ulid::Ulid::new()),
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// State shared by the engine's loops and tasks.
pub struct Shared<S: ?Sized> {
    pub store: Arc<S>,
    driver: driver::HttpDriver,
    signer: Option<Box<dyn driver::Sign>>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the executor: new queue items may be due.
    wake: Notify,
    /// Wakes the scheduler: new events may be stored.
    wake_scheduler: Notify,
    index: RwLock<Option<(Arc<Index>, Instant)>>,
    config: Config,
}

/// How long a loaded trigger index is trusted before it is rebuilt from the store.
const INDEX_TTL: Duration = Duration::from_millis(500);

impl<S: EngineStore + ?Sized> Shared<S> {
    /// The trigger index, rebuilt from the store when older than [`INDEX_TTL`] or invalidated.
    pub async fn index(&self) -> Result<Arc<Index>> {
        if let Some((index, at)) = self.index.read().as_ref() {
            if at.elapsed() < INDEX_TTL {
                return Ok(index.clone());
            }
        }
        let functions = self.store.list_functions().await?;
        let syncs: HashMap<String, ulid::Ulid> = self
            .store
            .list_apps()
            .await?
            .into_iter()
            .filter_map(|a| a.sync_id.map(|s| (a.id, s)))
            .collect();
        let index = Arc::new(Index::build(functions, syncs));
        *self.index.write() = Some((index.clone(), Instant::now()));
        Ok(index)
    }

    /// The last index loaded, without touching the store.
    pub fn cached_index(&self) -> Option<Arc<Index>> {
        self.index.read().as_ref().map(|(i, _)| i.clone())
    }
}

/// A running engine. Dropping it does not stop it; call [`Engine::shutdown`].
pub struct Engine<S: ?Sized> {
    shared: Arc<Shared<S>>,
    stop: watch::Sender<bool>,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
}

impl<S: EngineStore + ?Sized> Engine<S> {
    pub fn start(store: Arc<S>, config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        let driver = driver::HttpDriver::new(config.driver.clone())?;
        let signer: Option<Box<dyn driver::Sign>> = config.signing_key.clone().map(|key| {
            let clock = clock.clone();
            Box::new(move |body: &str| {
                let canonical =
                    sluice_core::sign::canonical_json(body).unwrap_or_else(|_| body.to_owned());
                sluice_core::sign::sign_body(canonical.as_bytes(), &key, clock.now_ms() / 1000)
            }) as Box<dyn driver::Sign>
        });
        let shared = Arc::new(Shared {
            store,
            driver,
            signer,
            clock,
            wake: Notify::new(),
            wake_scheduler: Notify::new(),
            index: RwLock::new(None),
            config,
        });
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(scheduler_loop(shared.clone(), stopped.clone())),
            tokio::spawn(executor_loop(shared.clone(), stopped)),
        ];
        Ok(Engine {
            shared,
            stop,
            tasks: parking_lot::Mutex::new(tasks),
        })
    }

    /// Tells the engine new events were stored, so it need not wait for its next poll.
    pub fn events_stored(&self) {
        self.shared.wake_scheduler.notify_one();
    }

    /// Tells the engine that apps or functions changed.
    pub fn functions_changed(&self) {
        *self.shared.index.write() = None;
        self.shared.wake_scheduler.notify_one();
    }

    /// Tells the engine new queue items exist (cancellations, reruns).
    pub fn work_added(&self) {
        self.shared.wake.notify_one();
    }

    pub fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    /// Stops taking new work and waits for the loops to end. Calls in flight get
    /// [`Config::shutdown_timeout`] to finish; the queue items of those still running are then
    /// released, so another node (or the next process) takes them at once instead of after
    /// their leases.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// How long the scheduler's leadership lasts without renewal; a dead leader is replaced after it.
const LEADER_TTL_MS: i64 = 10_000;

async fn scheduler_loop<S: EngineStore + ?Sized>(
    shared: Arc<Shared<S>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut crons = HashMap::new();
    // Scheduling runs on one node at a time: two schedulers reading the same unscheduled events
    // would start duplicate runs. Leadership is renewed well before it lapses.
    let mut leader_until = 0i64;
    loop {
        let now = shared.clock.now_ms();
        if now + LEADER_TTL_MS / 2 >= leader_until {
            match shared
                .store
                .lead("scheduler", &shared.config.node_id, now, LEADER_TTL_MS)
                .await
            {
                Ok(true) => leader_until = now + LEADER_TTL_MS,
                Ok(false) => leader_until = 0,
                Err(e) => tracing::warn!(error = %e, "scheduler leadership check failed"),
            }
        }
        if leader_until > now {
            loop {
                match scheduler::schedule_pending(&shared).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduling failed; retrying");
                        break;
                    }
                }
            }
            if let Err(e) = scheduler::fire_crons(&shared, &mut crons).await {
                tracing::warn!(error = %e, "cron tick failed; retrying");
            }
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = shared.wake_scheduler.notified() => {}
            _ = tokio::time::sleep(shared.config.poll) => {}
        }
    }
    // Step down, so another node schedules at once instead of after the lease's TTL.
    if leader_until > shared.clock.now_ms() {
        let now = shared.clock.now_ms();
        match shared
            .store
            .lead("scheduler", &shared.config.node_id, now, 0)
            .await
        {
            Ok(true) => tracing::info!("stepped down as scheduler"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not step down as scheduler"),
        }
    }
}

async fn executor_loop<S: EngineStore + ?Sized>(
    shared: Arc<Shared<S>>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.config.max_in_flight));
    claim_loop(&shared, &mut stopped, &permits).await;
    drain(&shared, &permits).await;
}

/// After a stop: waits for the calls in flight, at most the shutdown timeout, then frees the
/// leases of the ones still running. A result that arrives after that is refused by the store's
/// lease check, and the new owner calls the step again.
async fn drain<S: EngineStore + ?Sized>(shared: &Shared<S>, permits: &Semaphore) {
    let all = shared.config.max_in_flight as u32;
    let in_flight = all as usize - permits.available_permits();
    if in_flight > 0 {
        tracing::info!(
            calls = in_flight,
            timeout_s = shared.config.shutdown_timeout.as_secs(),
            "waiting for calls in flight"
        );
    }
    if tokio::time::timeout(shared.config.shutdown_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            calls = all as usize - permits.available_permits(),
            "calls still in flight at the shutdown timeout; handing their work back"
        );
    }
    match shared.store.release_leases(&shared.config.node_id).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(items = n, "queue items handed back for another node"),
        Err(e) => tracing::warn!(error = %e, "could not hand back leased queue items"),
    }
}

/// Claims due queue items and runs each in its own task, until `stopped`.
async fn claim_loop<S: EngineStore + ?Sized>(
    shared: &Arc<Shared<S>>,
    stopped: &mut watch::Receiver<bool>,
    permits: &Arc<Semaphore>,
) {
    // A lease outlives the longest call, so a live node never loses work it is still doing.
    let lease_ms = shared.config.driver.request_timeout.as_millis() as i64 + 30_000;
    match shared.store.release_leases(&shared.config.node_id).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            items = n,
            "resuming work left in flight by a previous process"
        ),
        Err(e) => tracing::warn!(error = %e, "could not release leftover leases"),
    }
    loop {
        if *stopped.borrow() {
            return;
        }
        let free = permits.available_permits();
        if free == 0 {
            // Every slot is busy; each finished item wakes this loop, so there is nothing to
            // ask the store until then.
            tokio::select! {
                _ = stopped.changed() => return,
                _ = shared.wake.notified() => {}
            }
            continue;
        }
        let claimed = {
            let now = shared.clock.now_ms();
            match shared
                .store
                .claim_due(&shared.config.node_id, now, lease_ms, free)
                .await
            {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming queue items failed; retrying");
                    Vec::new()
                }
            }
        };
        // Fewer items than free slots means nothing else is due yet.
        let maybe_more = claimed.len() == free;
        for item in claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                executor::process(shared.clone(), item).await;
                drop(permit);
                shared.wake_scheduler.notify_one();
                shared.wake.notify_one();
            });
        }
        if maybe_more {
            continue;
        }
        let wait = match shared.store.next_due_at().await {
            Ok(Some(due)) => {
                Duration::from_millis((due - shared.clock.now_ms()).clamp(0, 1000) as u64)
            }
            _ => shared.config.poll.max(Duration::from_millis(500)),
        };
        tokio::select! {
            _ = stopped.changed() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
