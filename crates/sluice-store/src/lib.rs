//! Durable storage for Sluice, behind one trait with two backends.
//!
//! - [`sqlite`]: embedded, the default. One writer thread does group commit: concurrent writes share
//!   one transaction and one fsync.
//! - [`postgres`]: for production and for several nodes sharing one database.
//!
//! Both pass the same [`conformance`] suite. Migrations are versioned per backend.

mod apps;
pub mod conformance;
mod error;
mod events;
pub mod postgres;
mod runs;
pub mod sqlite;
pub mod testing;
mod types;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;

pub use apps::*;
pub use error::{Error, Result};
pub use events::EventStore;
pub use runs::*;
pub use types::*;
pub use webhooks::{
    Delivery, DeliveryCounts, DeliveryQuery, DeliverySummary, NewDelivery, Outcome, Recorded,
    WebhookSource, WebhookStore, REJECTED_KEPT_PER_SOURCE,
};

/// Everything Sluice persists, as one object. Each part is its own trait in its own module, with
/// one implementation file per backend (`sqlite/<part>.rs`, `postgres/<part>.rs`). Every write is
/// durable when it returns `Ok`.
#[async_trait]
pub trait Store: EventStore + WebhookStore + RunStore + AppStore + Send + Sync + 'static {
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
            std::fs::create_dir_all(path)
                .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
            path.join("sluice.db")
        };
        Ok(Arc::new(sqlite::SqliteStore::open(&file)?))
    }
}
