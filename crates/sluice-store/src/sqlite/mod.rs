//! The embedded SQLite backend.
//!
//! One dedicated writer thread owns the only writing connection. Writers hand it jobs over a
//! channel; it takes every job that is waiting (up to [`MAX_BATCH`]), runs them in one
//! transaction, each inside its own savepoint so one failing job cannot spoil the others, commits
//! once (one fsync, `synchronous=FULL` in WAL mode) and only then answers every job. Under load this
//! turns N commits into one; with no load a job commits alone and at once, so there is no added
//! latency to wait out.
//!
//! Reads go to a small pool of read-only connections on blocking threads; WAL lets them run
//! beside the writer.

mod apps;
mod events;
mod migrations;
mod runs;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::Connection;
use sluice_core::event::Event;
use tokio::sync::oneshot;
use ulid::Ulid;

use crate::{Error, EventQuery, EventStore, Result, Store};

/// The most jobs one transaction takes. Bounds the latency a large batch adds to the jobs in it.
const MAX_BATCH: usize = 512;

/// A unit of work for the writer thread: runs its SQL, then returns the function that answers the
/// caller once the commit outcome is known.
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Result<()>) + Send>;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<crossbeam_channel::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL makes every commit fsync the WAL: a 2xx after commit means the data is on disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = open_connection(path)?;
        migrations::run(&mut conn)?;
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("sluice-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| Error::Io(format!("spawn writer: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` inside the next group commit and returns its value once the commit is durable.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, f);
            Box::new(move |commit: Result<()>| {
                let _ = tx.send(commit.and(outcome));
            })
        });
        let sender = self.writer.lock().clone().ok_or(Error::Closed)?;
        sender.send(job).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Runs `f` on a pooled read connection on a blocking thread.
    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let pool = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = pool.lock().pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&path)?,
            };
            let out = f(&conn);
            let mut pool = pool.lock();
            if pool.len() < 8 {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| Error::Io(format!("read task: {e}")))?
    }
}

/// Runs `f` inside its own savepoint, so a failing job leaves the rest of the batch intact. The
/// three statements are prepared once per connection: this runs for every write.
fn in_savepoint<R>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(conn) {
        Ok(v) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Err(e)
        }
    }
}

fn writer_loop(conn: Connection, rx: crossbeam_channel::Receiver<Job>) {
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        let begin = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = begin {
            let msg = e.to_string();
            first(&conn)(Err(Error::Io(format!("begin: {msg}"))));
            continue;
        }
        replies.push(first(&conn));
        while replies.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => replies.push(job(&conn)),
                Err(_) => break,
            }
        }
        let commit = conn.execute_batch("COMMIT");
        let failed = commit.as_ref().err().map(|e| e.to_string());
        if failed.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies.drain(..) {
            reply(match &failed {
                None => Ok(()),
                Some(msg) => Err(Error::Io(format!("commit: {msg}"))),
            });
        }
    }
    // The channel closed: every sender is gone, every job answered. Checkpoint so the database
    // file is whole without its WAL.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_events(&self, events: Vec<Event>) -> Result<Vec<Ulid>> {
        self.write(move |conn| events::insert(conn, &events)).await
    }

    async fn get_event(&self, id: Ulid) -> Result<Option<Event>> {
        self.read(move |conn| events::get(conn, id)).await
    }

    async fn list_events(&self, query: EventQuery) -> Result<Vec<Event>> {
        self.read(move |conn| events::list(conn, &query)).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn schema_version(&self) -> Result<i64> {
        self.read(migrations::current_version).await
    }

    async fn close(&self) {
        let sender = self.writer.lock().take();
        drop(sender);
        let handle = self.writer_thread.lock().take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}
