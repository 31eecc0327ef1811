//! Webhook sources and their deliveries.

use async_trait::async_trait;

#[async_trait]
pub trait WebhookStore: Send + Sync {}
