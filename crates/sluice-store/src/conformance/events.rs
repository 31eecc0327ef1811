//! Conformance checks for the event log.

use std::sync::Arc;

use serde_json::value::RawValue;
use sluice_core::event::Event;
use ulid::Ulid;

use crate::{EventQuery, Store};

fn event(name: &str, data: &str, ts: i64) -> Event {
    Event {
        id: Ulid::new(),
        name: name.to_owned(),
        data: RawValue::from_string(data.to_owned()).expect("test json"),
        user: None,
        external_id: None,
        ts,
        v: None,
        received_at: ts,
    }
}

/// Payload bytes come back exactly as stored: empty objects, key order, big integers, unicode.
pub async fn payload_round_trip(store: Arc<dyn Store>) {
    let data = r#"{"z":1,"a":{},"public_metadata":{},"list":[],"big":123456789012345678901234567890,"u":"h\u00e9llo \ud83d\ude00 é","esc":"a\"b\\c\n"}"#;
    let mut e = event("app/user.created", data, 1_700_000_000_000);
    e.user = Some(RawValue::from_string(r#"{"id":"u1"}"#.into()).unwrap());
    e.external_id = Some("ext-1".into());
    e.v = Some("2024-01-01.1".into());
    let ids = store.append_events(vec![e.clone()]).await.expect("append");
    assert_eq!(ids, vec![e.id]);
    let got = store.get_event(e.id).await.expect("get").expect("present");
    assert_eq!(got.data.get(), data);
    assert_eq!(
        got.user.as_deref().map(RawValue::get),
        Some(r#"{"id":"u1"}"#)
    );
    assert_eq!(got.external_id.as_deref(), Some("ext-1"));
    assert_eq!(got.v.as_deref(), Some("2024-01-01.1"));
    assert_eq!(got.ts, e.ts);
    assert_eq!(got.name, e.name);
    assert!(store.get_event(Ulid::new()).await.expect("get").is_none());
}

/// Appending an id that exists stores nothing and leaves the first copy untouched.
pub async fn duplicate_ids_are_ignored(store: Arc<dyn Store>) {
    let first = event("a", r#"{"n":1}"#, 1);
    let mut again = first.clone();
    again.data = RawValue::from_string(r#"{"n":2}"#.into()).unwrap();
    assert_eq!(
        store.append_events(vec![first.clone()]).await.unwrap(),
        vec![first.id]
    );
    assert!(store.append_events(vec![again]).await.unwrap().is_empty());
    let got = store.get_event(first.id).await.unwrap().unwrap();
    assert_eq!(got.data.get(), r#"{"n":1}"#);
}

/// Listing is newest first, filters by name, and pages with a cursor without gaps or repeats.
pub async fn list_pages_newest_first(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    let mut gen = ulid::Generator::new();
    for i in 0..25 {
        let mut e = event(if i % 2 == 0 { "even" } else { "odd" }, "{}", i);
        e.id = gen.generate().expect("ulid");
        all.push(e);
    }
    store.append_events(all.clone()).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_events(EventQuery {
                name: None,
                cursor,
                limit: 10,
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|e| e.id);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let expected: Vec<Ulid> = all.iter().rev().map(|e| e.id).collect();
    assert_eq!(seen, expected);
    let odd = store
        .list_events(EventQuery {
            name: Some("odd".into()),
            cursor: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(odd.len(), 12);
    assert!(odd.iter().all(|e| e.name == "odd"));
    assert!(odd.windows(2).all(|w| w[0].id > w[1].id));
}

/// Many concurrent appends all land (they are group-committed together).
pub async fn concurrent_appends_all_land(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let e = event("c", &format!(r#"{{"i":{i}}}"#), i);
            store
                .append_events(vec![e.clone(), event("c", "{}", i)])
                .await
                .unwrap();
            e.id
        }));
    }
    for t in tasks {
        let id = t.await.unwrap();
        assert!(store.get_event(id).await.unwrap().is_some());
    }
    let listed = store
        .list_events(EventQuery {
            name: Some("c".into()),
            cursor: None,
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 400);
}

/// Migrations leave the schema at a version > 0.
pub async fn schema_is_migrated(store: Arc<dyn Store>) {
    assert!(store.schema_version().await.unwrap() >= 1);
}
