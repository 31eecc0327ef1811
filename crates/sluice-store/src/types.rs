//! Query and row types shared by every backend.

use ulid::Ulid;

/// A page request for [`crate::Store::list_events`].
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events with exactly this name.
    pub name: Option<String>,
    /// Return events strictly older than this id.
    pub cursor: Option<Ulid>,
    /// Page size; backends clamp it to 1..=1000.
    pub limit: usize,
}

impl EventQuery {
    pub fn clamped_limit(&self) -> usize {
        self.limit.clamp(1, 1000)
    }
}

/// An event row before its text columns are checked, so a corrupt row is an error, not a panic.
pub(crate) struct EventRow {
    pub id: String,
    pub name: String,
    pub data: String,
    pub user: Option<String>,
    pub external_id: Option<String>,
    pub ts: i64,
    pub v: Option<String>,
    pub received_at: i64,
}

impl EventRow {
    pub fn into_event(self) -> crate::Result<sluice_core::event::Event> {
        use crate::Error;
        use serde_json::value::RawValue;
        let raw = |s: String| {
            RawValue::from_string(s).map_err(|e| Error::Corrupt(format!("event json: {e}")))
        };
        Ok(sluice_core::event::Event {
            id: Ulid::from_string(&self.id)
                .map_err(|e| Error::Corrupt(format!("event id: {e}")))?,
            name: self.name,
            data: raw(self.data)?,
            user: self.user.map(raw).transpose()?,
            external_id: self.external_id,
            ts: self.ts,
            v: self.v,
            received_at: self.received_at,
        })
    }
}
