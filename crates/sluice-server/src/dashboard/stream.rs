//! Live updates: `GET /dashboard/stream` is a server-sent event stream that sends `tick` whenever
//! the runs change (or, with `?run=<id>`, whenever that run changes). The page's script then
//! fetches itself again and swaps its content in. Pages pass the fingerprint they were rendered
//! at (`since`), so a change that lands between rendering and connecting is not missed.
//!
//! Each stream polls the store once a second with cheap indexed reads: the newest run, and the
//! runs that are queued or running (their versions change on every step). Polling keeps this
//! correct on several nodes sharing one database, where an in-process signal would miss the
//! other nodes' work.

use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use sluice_store::RunQuery;
use tokio_stream::wrappers::ReceiverStream;
use ulid::Ulid;

use crate::SharedState;

const POLL: Duration = Duration::from_secs(1);
/// Active runs whose versions are watched; beyond this many, new ones still show through the
/// newest run's id.
const WATCHED: usize = 200;

#[derive(Debug, Deserialize)]
pub struct Params {
    run: Option<String>,
    /// The fingerprint the page was rendered at, so a change between rendering and connecting
    /// still ticks.
    since: Option<String>,
}

/// A fingerprint of what the page shows; a change means "refresh".
pub(super) async fn fingerprint(state: &SharedState, run: Option<Ulid>) -> Option<u64> {
    let mut h = DefaultHasher::new();
    match run {
        Some(id) => {
            let r = state.store.get_run(id).await.ok()??;
            (r.version, r.status).hash(&mut h);
        }
        None => {
            let newest = state
                .store
                .list_runs(RunQuery {
                    limit: 1,
                    ..RunQuery::default()
                })
                .await
                .ok()?;
            for r in &newest {
                (r.id, r.version).hash(&mut h);
            }
            for status in ["Queued", "Running"] {
                let active = state
                    .store
                    .list_runs(RunQuery {
                        status: Some(status.into()),
                        limit: WATCHED,
                        ..RunQuery::default()
                    })
                    .await
                    .ok()?;
                for r in &active {
                    (r.id, r.version).hash(&mut h);
                }
            }
        }
    }
    Some(h.finish())
}

/// `GET /dashboard/stream[?run=<id>]`.
pub async fn stream(
    State(state): State<SharedState>,
    Query(p): Query<Params>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let run = p.run.as_deref().and_then(|r| Ulid::from_string(r).ok());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = match p
            .since
            .as_deref()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
        {
            Some(since) => Some(since),
            None => fingerprint(&state, run).await,
        };
        let mut interval = tokio::time::interval(POLL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                // The page went away: stop polling for it.
                _ = tx.closed() => return,
            }
            let now = fingerprint(&state, run).await;
            if now.is_some() && now != last {
                last = now;
                let event = Event::default()
                    .event("tick")
                    .data(format!("{:x}", now.unwrap_or_default()));
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}
