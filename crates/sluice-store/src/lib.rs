//! Durable storage for Sluice, behind one trait with two backends.
//!
//! - [`sqlite`]: embedded, the default. One writer thread does group commit: concurrent writes share
//!   one transaction and one fsync.
//! - [`postgres`]: for production and for several nodes sharing one database.
//!
//! Both pass the same [`conformance`] suite. Migrations are versioned per backend.

pub mod conformance;
mod error;
pub mod postgres;
pub mod sqlite;
pub mod testing;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use sluice_core::event::Event;
use ulid::Ulid;

pub use error::{Error, Result};
pub use types::*;

/// Everything Sluice persists. Every method is durable when it returns `Ok`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends events durably (fsync'd before returning). Events whose id already exists are left
    /// as they are, so a retried send with seeded ids stores nothing twice. Returns the ids that
    /// were newly inserted.
    async fn append_events(&self, events: Vec<Event>) -> Result<Vec<Ulid>>;

    /// Reads one event by its ULID.
    async fn get_event(&self, id: Ulid) -> Result<Option<Event>>;

    /// Lists events newest first. `cursor` is the id of the last event of the previous page.
    async fn list_events(&self, query: EventQuery) -> Result<Vec<Event>>;

    /// The schema version the database is at after migrations.
    async fn schema_version(&self) -> Result<i64>;

    /// Flushes and stops background writers. Writes after this fail.
    async fn close(&self);
}

/// Opens the store named by `url`: `postgres://…` for PostgreSQL, anything else is a SQLite path
/// (a directory gets `sluice.db` inside it).
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        let path = std::path::Path::new(url);
        let file = if path.extension().is_some_and(|e| e == "db") {
            path.to_path_buf()
        } else {
            std::fs::create_dir_all(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
            path.join("sluice.db")
        };
        Ok(Arc::new(sqlite::SqliteStore::open(&file)?))
    }
}
