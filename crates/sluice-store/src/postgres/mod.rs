//! The PostgreSQL backend.
//!
//! Event appends go through a group-commit task like SQLite's writer: concurrent appends share one
//! transaction and one multi-row insert. Reads use the pool directly.

mod apps;
mod events;
mod migrations;
mod runs;
mod webhooks;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use parking_lot::Mutex;
use sluice_core::event::Event;
use tokio::sync::{mpsc, oneshot};
use ulid::Ulid;

use crate::{Error, EventQuery, EventStore, Result, Store};

const MAX_BATCH: usize = 256;

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

async fn append_loop(pool: Pool, mut rx: mpsc::UnboundedReceiver<AppendJob>) {
    let mut batch: Vec<AppendJob> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let all: Vec<&Event> = batch.iter().flat_map(|(evs, _)| evs.iter()).collect();
        match events::insert_batch(&pool, &all).await {
            Ok(inserted) => {
                for (evs, reply) in batch.drain(..) {
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
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(Error::Postgres(msg.clone())));
                }
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
