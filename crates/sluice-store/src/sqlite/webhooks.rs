//! Webhook sources and deliveries in SQLite.

use super::SqliteStore;
use crate::WebhookStore;

/// Migration step 2.
pub const SCHEMA: &str = "SELECT 1";

impl WebhookStore for SqliteStore {}
