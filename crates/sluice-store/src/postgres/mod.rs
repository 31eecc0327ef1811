//! The PostgreSQL backend.
//!
//! Event appends go through a group-commit task like SQLite's writer: concurrent appends share one
//! transaction and one multi-row insert, with a few such inserts in flight at once. Reads use the
//! pool directly.

mod apps;
mod events;
mod migrations;
mod runs;
mod webhooks;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use parking_lot::Mutex;
use sluice_core::event::Event;
use tokio::sync::{mpsc, oneshot, Semaphore};
use ulid::Ulid;

use crate::{Error, EventQuery, EventStore, Result, Store};

const MAX_BATCH: usize = 256;
/// Event inserts in flight at once.
const MAX_INSERTS: usize = 4;

type AppendJob = (Vec<Event>, oneshot::Sender<Result<Vec<Ulid>>>);

pub struct PgStore {
    pool: Pool,
    appender: Mutex<Option<mpsc::UnboundedSender<AppendJob>>>,
    appender_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| Error::Postgres(format!("bad database url: {e}")))?;
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| Error::Postgres(format!("pool: {e}")))?;
        {
            let mut client = pool.get().await?;
            migrations::run(&mut client).await?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(append_loop(pool.clone(), rx));
        Ok(Self {
            pool,
            appender: Mutex::new(Some(tx)),
            appender_task: Mutex::new(Some(task)),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Gathers waiting appends into one insert, with up to [`MAX_INSERTS`] inserts in flight: each
/// PostgreSQL backend runs one statement on one core, so a single insert at a time would leave
/// the server's other cores idle while the next batch waits.
async fn append_loop(pool: Pool, mut rx: mpsc::UnboundedReceiver<AppendJob>) {
    let permits = Arc::new(Semaphore::new(MAX_INSERTS));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        // Jobs that arrived while waiting for a free insert join this batch.
        let mut batch: Vec<AppendJob> = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            insert_and_reply(&pool, batch).await;
            drop(permit);
        });
    }
    // Closing: wait for the inserts in flight, so every acknowledged append is committed.
    let _ = permits.acquire_many(MAX_INSERTS as u32).await;
}

async fn insert_and_reply(pool: &Pool, batch: Vec<AppendJob>) {
    let all: Vec<&Event> = batch.iter().flat_map(|(evs, _)| evs.iter()).collect();
    match events::insert_batch(pool, &all).await {
        Ok(inserted) => {
            let inserted: HashSet<Ulid> = inserted.into_iter().collect();
            for (evs, reply) in batch {
                let mine = evs
                    .iter()
                    .map(|e| e.id)
                    .filter(|id| inserted.contains(id))
                    .collect();
                let _ = reply.send(Ok(mine));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(Error::Postgres(msg.clone())));
            }
        }
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append_events(&self, events: Vec<Event>) -> Result<Vec<Ulid>> {
        let (tx, rx) = oneshot::channel();
        let sender = self.appender.lock().clone().ok_or(Error::Closed)?;
        sender.send((events, tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    async fn get_event(&self, id: Ulid) -> Result<Option<Event>> {
        events::get(&self.pool.get().await?, id).await
    }

    async fn list_events(&self, query: EventQuery) -> Result<Vec<Event>> {
        events::list(&self.pool.get().await?, &query).await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn schema_version(&self) -> Result<i64> {
        migrations::current_version(&self.pool.get().await?).await
    }

    async fn close(&self) {
        drop(self.appender.lock().take());
        let task = self.appender_task.lock().take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}
