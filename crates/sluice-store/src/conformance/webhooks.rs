//! Conformance checks for webhook sources and deliveries.

use std::sync::Arc;

use serde_json::value::RawValue;
use sluice_core::event::Event;
use ulid::Ulid;

use crate::{DeliveryQuery, NewDelivery, Outcome, Recorded, Store};

fn event(name: &str, data: &str) -> Event {
    Event {
        id: Ulid::new(),
        name: name.to_owned(),
        data: RawValue::from_string(data.to_owned()).expect("test json"),
        user: None,
        external_id: None,
        ts: 1_654_012_591_835,
        v: None,
        received_at: 1_700_000_000_000,
    }
}

fn delivery(source: &str, delivery_id: Option<&str>, outcome: Outcome) -> NewDelivery {
    NewDelivery {
        id: Ulid::new(),
        source: source.to_owned(),
        delivery_id: delivery_id.map(str::to_owned),
        received_at: 1_700_000_000_000,
        outcome,
        code: None,
        reason: None,
        headers: vec![
            ("svix-id".into(), delivery_id.unwrap_or_default().into()),
            ("svix-signature".into(), "[redacted]".into()),
        ],
        query: "a=1&a=2".into(),
        content_type: Some("application/json".into()),
        body: br#"{"type":"user.created","data":{"public_metadata":{}}}"#.to_vec(),
        replay_of: None,
    }
}

fn stored_ids(r: Recorded) -> Vec<Ulid> {
    match r {
        Recorded::Stored { event_ids } => event_ids,
        Recorded::Duplicate { original } => panic!("unexpected duplicate of {}", original.id),
    }
}

/// Sources are created, replaced (keeping `created_at`), listed by name and deleted.
pub async fn webhook_sources_round_trip(store: Arc<dyn Store>) {
    let a = store
        .upsert_webhook_source("clerk", r#"{"v":1}"#.into(), 10)
        .await
        .unwrap();
    assert_eq!((a.created_at, a.updated_at), (10, 10));
    store
        .upsert_webhook_source("a-first", "{}".into(), 11)
        .await
        .unwrap();
    let b = store
        .upsert_webhook_source("clerk", r#"{"v":2}"#.into(), 20)
        .await
        .unwrap();
    assert_eq!((b.created_at, b.updated_at), (10, 20));
    let got = store.get_webhook_source("clerk").await.unwrap().unwrap();
    assert_eq!(got.config, r#"{"v":2}"#);
    assert!(store.get_webhook_source("nope").await.unwrap().is_none());
    let names: Vec<String> = store
        .list_webhook_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a-first", "clerk"]);
    assert!(store.delete_webhook_source("clerk").await.unwrap());
    assert!(!store.delete_webhook_source("clerk").await.unwrap());
    assert!(store.get_webhook_source("clerk").await.unwrap().is_none());
}

/// An accepted delivery stores its events with it; its body, headers and query come back whole.
pub async fn accepted_delivery_stores_events(store: Arc<dyn Store>) {
    let data = r#"{"id":"user_1","public_metadata":{},"big":123456789012345678901}"#;
    let events = vec![event("clerk/user.created", data), event("x/two", "{}")];
    let expected: Vec<Ulid> = events.iter().map(|e| e.id).collect();
    let mut d = delivery("clerk", Some("msg_1"), Outcome::Accepted);
    d.body = vec![0, 159, 146, 150, b'{'];
    let id = d.id;
    let ids = stored_ids(store.record_delivery(d.clone(), events).await.unwrap());
    assert_eq!(ids, expected);
    let got = store.get_event(ids[0]).await.unwrap().unwrap();
    assert_eq!(got.data.get(), data);
    assert_eq!(got.ts, 1_654_012_591_835);

    let full = store.get_delivery("clerk", id).await.unwrap().unwrap();
    assert_eq!(full.body, d.body);
    assert_eq!(full.headers, d.headers);
    assert_eq!(full.query, "a=1&a=2");
    assert_eq!(full.content_type.as_deref(), Some("application/json"));
    assert_eq!(full.summary.outcome, Outcome::Accepted);
    assert_eq!(full.summary.event_ids, expected);
    assert_eq!(full.summary.delivery_id.as_deref(), Some("msg_1"));
    assert_eq!(full.summary.body_bytes, 5);
    assert!(store.get_delivery("other", id).await.unwrap().is_none());
}

/// A retried delivery id becomes a duplicate with no events; a new id is accepted again.
pub async fn duplicate_delivery_creates_no_events(store: Arc<dyn Store>) {
    let first = delivery("clerk", Some("msg_dup"), Outcome::Accepted);
    let first_id = first.id;
    let ids = stored_ids(
        store
            .record_delivery(first, vec![event("clerk/user.created", "{}")])
            .await
            .unwrap(),
    );
    let retry = delivery("clerk", Some("msg_dup"), Outcome::Accepted);
    let retry_id = retry.id;
    let retry_event = event("clerk/user.created", "{}");
    let retry_event_id = retry_event.id;
    match store
        .record_delivery(retry, vec![retry_event])
        .await
        .unwrap()
    {
        Recorded::Duplicate { original } => {
            assert_eq!(original.id, first_id);
            assert_eq!(original.event_ids, ids);
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert!(store.get_event(retry_event_id).await.unwrap().is_none());
    let dup = store
        .get_delivery("clerk", retry_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dup.summary.outcome, Outcome::Duplicate);
    assert_eq!(dup.summary.duplicate_of, Some(first_id));
    assert!(dup.summary.event_ids.is_empty());

    // A failed retry of an accepted delivery is a duplicate too: it was verified.
    let failed = delivery("clerk", Some("msg_dup"), Outcome::Failed);
    assert!(matches!(
        store.record_delivery(failed, vec![]).await.unwrap(),
        Recorded::Duplicate { .. }
    ));
    // A rejected one never is, and neither source nor id leaks across sources.
    let rejected = delivery("clerk", Some("msg_dup"), Outcome::Rejected);
    assert!(matches!(
        store.record_delivery(rejected, vec![]).await.unwrap(),
        Recorded::Stored { .. }
    ));
    let elsewhere = delivery("stripe", Some("msg_dup"), Outcome::Accepted);
    assert_eq!(
        stored_ids(
            store
                .record_delivery(elsewhere, vec![event("s", "{}")])
                .await
                .unwrap()
        )
        .len(),
        1
    );
    // Deliveries without an id are never deduplicated.
    for _ in 0..2 {
        let d = delivery("clerk", None, Outcome::Accepted);
        let ids = stored_ids(
            store
                .record_delivery(d, vec![event("n", "{}")])
                .await
                .unwrap(),
        );
        assert_eq!(ids.len(), 1);
    }
    let counts = store.delivery_counts("clerk").await.unwrap();
    assert_eq!(
        (
            counts.accepted,
            counts.duplicate,
            counts.rejected,
            counts.failed
        ),
        (3, 2, 1, 0)
    );
}

/// Concurrent deliveries of one id create its events exactly once.
pub async fn concurrent_duplicates_create_events_once(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let d = delivery("race", Some("msg_race"), Outcome::Accepted);
            store
                .record_delivery(d, vec![event("race/e", "{}")])
                .await
                .unwrap()
        }));
    }
    let mut stored = 0;
    for t in tasks {
        if let Recorded::Stored { event_ids } = t.await.unwrap() {
            assert_eq!(event_ids.len(), 1);
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    let counts = store.delivery_counts("race").await.unwrap();
    assert_eq!((counts.accepted, counts.duplicate), (1, 15));
    let events = store
        .list_events(crate::EventQuery {
            name: Some("race/e".into()),
            cursor: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

/// Rejected and failed deliveries are kept with their reason and produce no events.
pub async fn refused_deliveries_are_recorded(store: Arc<dyn Store>) {
    let mut d = delivery("clerk", Some("msg_bad"), Outcome::Rejected);
    d.code = Some("no_signature_matched".into());
    d.reason = Some("no signature in svix-signature matched".into());
    let e = event("clerk/user.created", "{}");
    let event_id = e.id;
    let id = d.id;
    assert!(stored_ids(store.record_delivery(d, vec![e]).await.unwrap()).is_empty());
    assert!(store.get_event(event_id).await.unwrap().is_none());
    let got = store.get_delivery("clerk", id).await.unwrap().unwrap();
    assert_eq!(got.summary.outcome, Outcome::Rejected);
    assert_eq!(got.summary.code.as_deref(), Some("no_signature_matched"));
    assert!(got.summary.reason.unwrap().contains("svix-signature"));

    // A rejected attempt does not stop the real delivery with the same id later.
    let ok = delivery("clerk", Some("msg_bad"), Outcome::Accepted);
    let ids = stored_ids(
        store
            .record_delivery(ok, vec![event("a", "{}")])
            .await
            .unwrap(),
    );
    assert_eq!(ids.len(), 1);
}

/// Deliveries list newest first, page with a cursor, filter by outcome, and go with the source.
pub async fn deliveries_page_and_filter(store: Arc<dyn Store>) {
    let mut gen = ulid::Generator::new();
    let mut all = Vec::new();
    for i in 0..25 {
        let outcome = if i % 5 == 0 {
            Outcome::Rejected
        } else {
            Outcome::Accepted
        };
        let mut d = delivery("src", Some(&format!("msg_{i}")), outcome);
        d.id = gen.generate().unwrap();
        d.replay_of = (i == 3).then(|| all[0]);
        all.push(d.id);
        store.record_delivery(d, vec![]).await.unwrap();
    }
    store
        .record_delivery(delivery("other", None, Outcome::Accepted), vec![])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_deliveries(DeliveryQuery {
                source: "src".into(),
                outcome: None,
                cursor,
                limit: 10,
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|d| d.id);
        seen.extend(page.into_iter().map(|d| d.id));
    }
    let expected: Vec<Ulid> = all.iter().rev().copied().collect();
    assert_eq!(seen, expected);
    let rejected = store
        .list_deliveries(DeliveryQuery {
            source: "src".into(),
            outcome: Some(Outcome::Rejected),
            cursor: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(rejected.len(), 5);
    assert!(rejected.iter().all(|d| d.outcome == Outcome::Rejected));
    let replay = store.get_delivery("src", all[3]).await.unwrap().unwrap();
    assert_eq!(replay.summary.replay_of, Some(all[0]));

    store
        .upsert_webhook_source("src", "{}".into(), 1)
        .await
        .unwrap();
    assert!(store.delete_webhook_source("src").await.unwrap());
    assert_eq!(store.delivery_counts("src").await.unwrap().rejected, 0);
    assert_eq!(store.delivery_counts("other").await.unwrap().accepted, 1);
}

/// A source keeps only its newest rejected deliveries, whatever order they commit in; other
/// outcomes and other sources are untouched.
pub async fn rejected_deliveries_are_capped_per_source(store: Arc<dyn Store>) {
    let kept = crate::REJECTED_KEPT_PER_SOURCE;
    let mut gen = ulid::Generator::new();
    let ids: Vec<Ulid> = (0..kept + 5).map(|_| gen.generate().unwrap()).collect();
    for chunk in ids.chunks(100) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|id| {
                let store = store.clone();
                let mut d = delivery("probe", None, Outcome::Rejected);
                d.id = *id;
                tokio::spawn(async move { store.record_delivery(d, vec![]).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
    // Concurrent writers each prune what they see, so a burst may briefly leave a few more;
    // the next rejection after it settles brings the source back to the bound.
    let mut last = delivery("probe", None, Outcome::Rejected);
    last.id = gen.generate().unwrap();
    let last_id = last.id;
    store.record_delivery(last, vec![]).await.unwrap();
    for i in 0..3 {
        let d = delivery("probe", Some(&format!("msg_{i}")), Outcome::Accepted);
        store.record_delivery(d, vec![]).await.unwrap();
    }
    for _ in 0..2 {
        let d = delivery("other", None, Outcome::Rejected);
        store.record_delivery(d, vec![]).await.unwrap();
    }
    let counts = store.delivery_counts("probe").await.unwrap();
    assert_eq!(counts.rejected, kept as u64);
    assert_eq!(counts.accepted, 3);
    assert_eq!(store.delivery_counts("other").await.unwrap().rejected, 2);
    for gone in &ids[..6] {
        assert!(store.get_delivery("probe", *gone).await.unwrap().is_none());
    }
    for id in [ids[6], ids[kept + 4], last_id] {
        assert!(store.get_delivery("probe", id).await.unwrap().is_some());
    }
}
