//! Webhook sources and deliveries in PostgreSQL.

use super::PgStore;
use crate::WebhookStore;

/// Migration step 2.
pub const SCHEMA: &str = "SELECT 1";

impl WebhookStore for PgStore {}
