//! The event log: append, read, list.

use async_trait::async_trait;
use sluice_core::event::Event;
use ulid::Ulid;

use crate::{EventQuery, Result};

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends events durably (fsync'd before returning). Events whose id already exists are left
    /// as they are, so a retried send with seeded ids stores nothing twice. Returns the ids that
    /// were newly inserted.
    async fn append_events(&self, events: Vec<Event>) -> Result<Vec<Ulid>>;

    /// Reads one event by its ULID.
    async fn get_event(&self, id: Ulid) -> Result<Option<Event>>;

    /// Lists events newest first. `cursor` is the id of the last event of the previous page.
    async fn list_events(&self, query: EventQuery) -> Result<Vec<Event>>;
}
