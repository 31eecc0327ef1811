//! Conformance checks for apps, functions and sync history.

use std::sync::Arc;

use serde_json::json;
use ulid::Ulid;

use crate::{FunctionRecord, NewSync, Store};

fn function(app: &str, slug: &str, event: &str) -> FunctionRecord {
    let id = format!("{app}-{slug}");
    let url = format!("http://localhost:3000/api/inngest?fnId={id}&stepId=step");
    FunctionRecord {
        id: id.clone(),
        app_id: app.to_owned(),
        slug: slug.to_owned(),
        name: format!("{slug} (name)"),
        url: url.clone(),
        retries: 4,
        triggers: json!([{ "event": event }]),
        config: json!({
            "id": id, "name": slug, "triggers": [{ "event": event }],
            "steps": { "step": { "id": "step", "name": "step",
                "runtime": { "type": "http", "url": url } } },
        }),
        unenforced: Vec::new(),
    }
}

fn sync(app: &str, hash: &str, functions: Vec<FunctionRecord>, at_ms: i64) -> NewSync {
    NewSync {
        app_id: app.to_owned(),
        url: format!("http://localhost:3000/{app}/api/inngest"),
        sdk: "js:v3.54.0".to_owned(),
        framework: Some("express".to_owned()),
        app_version: None,
        function_hash: hash.to_owned(),
        functions,
        at_ms,
    }
}

/// A sync stores the app, its functions byte for byte and a history row; reads agree.
pub async fn app_sync_round_trip(store: Arc<dyn Store>) {
    let mut send = function("shop", "send", "shop/order.paid");
    send.retries = 20;
    send.unenforced = vec!["concurrency".into(), "throttle".into()];
    send.triggers = json!([{ "event": "shop/*", "expression": "event.data.total > 100" },
                           { "cron": "TZ=Europe/Paris 0 3 * * *" }]);
    send.config["concurrency"] = json!({ "limit": 5, "key": "event.data.id" });
    send.config["big"] = json!(123456789012345678901234567890_u128);
    let fns = vec![send.clone(), function("shop", "audit", "shop/*")];
    let mut s = sync("shop", "h1", fns, 1_000);
    s.app_version = Some("2024.06.01".into());
    let out = store.record_sync(s.clone()).await.expect("record");
    assert!(
        out.modified,
        "the first sync of a new app is a modification"
    );

    let app = store.get_app("shop").await.unwrap().expect("app");
    assert_eq!(app.url, s.url);
    assert_eq!(app.sdk.as_deref(), Some("js:v3.54.0"));
    assert_eq!(app.framework.as_deref(), Some("express"));
    assert_eq!(app.app_version.as_deref(), Some("2024.06.01"));
    assert_eq!(app.function_hash.as_deref(), Some("h1"));
    assert_eq!(app.function_count, 2);
    assert_eq!(app.sync_id, Some(out.sync_id));
    assert_eq!(app.synced_at_ms, Some(1_000));
    assert_eq!(app.last_attempt_at_ms, 1_000);
    assert_eq!(app.last_error, None);
    assert_eq!(app.created_at_ms, 1_000);
    assert_eq!(store.list_apps().await.unwrap(), vec![app]);

    let got = store.get_function("shop-send").await.unwrap().expect("fn");
    assert_eq!(got, send);
    assert_eq!(
        got.config["big"].to_string(),
        "123456789012345678901234567890"
    );
    let all = store.list_functions().await.unwrap();
    let ids: Vec<&str> = all.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["shop-audit", "shop-send"], "ordered by app, then id");
    assert!(store.get_function("shop-nope").await.unwrap().is_none());
    assert!(store.get_app("nope").await.unwrap().is_none());

    let history = store.list_syncs("shop", 10).await.unwrap();
    assert_eq!(history.len(), 1);
    let row = &history[0];
    assert_eq!(row.id, out.sync_id);
    assert_eq!(row.app_id.as_deref(), Some("shop"));
    assert_eq!(row.url, s.url);
    assert_eq!(row.at_ms, 1_000);
    assert_eq!(row.error, None);
    assert_eq!(row.function_hash.as_deref(), Some("h1"));
    assert_eq!(row.sdk.as_deref(), Some("js:v3.54.0"));
    assert!(row.modified);
    assert_eq!(
        store.get_sync(out.sync_id).await.unwrap().as_ref(),
        Some(row)
    );
    assert!(store.get_sync(Ulid::new()).await.unwrap().is_none());
}

/// `modified` is true only when the hash changes; an identical re-sync adds no history row but
/// refreshes the sync time; a new SDK version with the same functions is a row, not a change.
pub async fn app_modified_only_when_hash_changes(store: Arc<dyn Store>) {
    let fns = || vec![function("a", "f", "e")];
    let first = store.record_sync(sync("a", "h1", fns(), 1)).await.unwrap();
    assert!(first.modified);

    let again = store.record_sync(sync("a", "h1", fns(), 2)).await.unwrap();
    assert!(!again.modified);
    assert_eq!(
        again.sync_id, first.sync_id,
        "a repeat folds into the current sync"
    );
    let app = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(app.synced_at_ms, Some(2));
    assert_eq!(app.last_attempt_at_ms, 2);
    assert_eq!(store.list_syncs("a", 10).await.unwrap().len(), 1);

    let mut upgraded = sync("a", "h1", fns(), 3);
    upgraded.sdk = "js:v4.0.0".into();
    let up = store.record_sync(upgraded).await.unwrap();
    assert!(!up.modified, "same functions, new SDK: not modified");
    assert_ne!(up.sync_id, first.sync_id, "but recorded");

    let changed = store
        .record_sync(sync("a", "h2", vec![function("a", "f", "e2")], 4))
        .await
        .unwrap();
    assert!(changed.modified);
    let history = store.list_syncs("a", 10).await.unwrap();
    let ids: Vec<Ulid> = history.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [changed.sync_id, up.sync_id, first.sync_id],
        "newest first"
    );
    assert_eq!(store.list_syncs("a", 2).await.unwrap().len(), 2);
    let f = store.get_function("a-f").await.unwrap().unwrap();
    assert_eq!(f.triggers, json!([{ "event": "e2" }]));
}

/// A sync replaces the whole function set: functions it no longer has are gone.
pub async fn app_sync_replaces_function_set(store: Arc<dyn Store>) {
    let two = vec![function("a", "f", "e"), function("a", "g", "e")];
    store.record_sync(sync("a", "h1", two, 1)).await.unwrap();
    store
        .record_sync(sync("b", "hb", vec![function("b", "x", "e")], 1))
        .await
        .unwrap();
    store
        .record_sync(sync("a", "h2", vec![function("a", "g", "e")], 2))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .list_functions()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["a-g", "b-x"], "other apps untouched");
    assert_eq!(store.get_app("a").await.unwrap().unwrap().function_count, 1);

    store.record_sync(sync("a", "h0", vec![], 3)).await.unwrap();
    let app = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(app.function_count, 0);
    assert_eq!(store.list_functions().await.unwrap().len(), 1);
}

/// A failed sync is stored with its reason, marks the app, and leaves its functions; the next
/// good sync clears the error. Identical failures in a row fold into one row.
pub async fn app_failed_sync_keeps_functions(store: Arc<dyn Store>) {
    let ok = store
        .record_sync(sync("a", "h1", vec![function("a", "f", "e")], 1))
        .await
        .unwrap();
    let url = store.get_app("a").await.unwrap().unwrap().url;
    let failed = store
        .record_failed_sync(Some("a".into()), url.clone(), "bad cron".into(), 2)
        .await
        .unwrap();
    let app = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(app.last_error.as_deref(), Some("bad cron"));
    assert_eq!(app.last_attempt_at_ms, 2);
    assert_eq!(app.sync_id, Some(ok.sync_id), "the last good sync stays");
    assert_eq!(app.synced_at_ms, Some(1));
    assert_eq!(app.function_hash.as_deref(), Some("h1"));
    assert!(store.get_function("a-f").await.unwrap().is_some());
    let row = store.get_sync(failed).await.unwrap().unwrap();
    assert_eq!(row.error.as_deref(), Some("bad cron"));
    assert_eq!(row.app_id.as_deref(), Some("a"));
    assert_eq!(row.at_ms, 2);
    assert!(!row.modified);

    let repeat = store
        .record_failed_sync(Some("a".into()), url.clone(), "bad cron".into(), 3)
        .await
        .unwrap();
    assert_eq!(repeat, failed, "the same failure again folds");
    assert_eq!(
        store
            .get_app("a")
            .await
            .unwrap()
            .unwrap()
            .last_attempt_at_ms,
        3
    );
    // Found by URL when the body did not say which app it was.
    let other = store
        .record_failed_sync(None, url.clone(), "not JSON".into(), 4)
        .await
        .unwrap();
    assert_ne!(other, failed);
    assert_eq!(
        store
            .get_app("a")
            .await
            .unwrap()
            .unwrap()
            .last_error
            .as_deref(),
        Some("not JSON")
    );
    assert_eq!(store.list_syncs("a", 10).await.unwrap().len(), 3);

    let back = store
        .record_sync(sync("a", "h1", vec![function("a", "f", "e")], 5))
        .await
        .unwrap();
    assert!(!back.modified, "the same functions as before the failures");
    assert_ne!(back.sync_id, ok.sync_id, "recovery is recorded");
    let app = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(app.last_error, None);
    assert_eq!(app.sync_id, Some(back.sync_id));
}

/// A first sync that fails still shows: with an app id it creates an app without functions;
/// without one, the row stands alone.
pub async fn app_failed_first_sync_is_kept(store: Arc<dyn Store>) {
    let id = store
        .record_failed_sync(
            Some("new".into()),
            "http://localhost:3000/api/inngest".into(),
            "function \"new-f\" uses \"concurrency\"".into(),
            10,
        )
        .await
        .unwrap();
    let app = store
        .get_app("new")
        .await
        .unwrap()
        .expect("placeholder app");
    assert_eq!(app.url, "http://localhost:3000/api/inngest");
    assert_eq!(app.function_count, 0);
    assert_eq!(app.sync_id, None);
    assert_eq!(app.synced_at_ms, None);
    assert_eq!(app.function_hash, None);
    assert_eq!(app.created_at_ms, 10);
    assert!(app.last_error.unwrap().contains("concurrency"));
    assert_eq!(store.list_syncs("new", 10).await.unwrap()[0].id, id);

    let lone = store
        .record_failed_sync(None, "http://localhost:9/x".into(), "refused".into(), 11)
        .await
        .unwrap();
    let row = store.get_sync(lone).await.unwrap().unwrap();
    assert_eq!(row.app_id, None);
    assert_eq!(row.error.as_deref(), Some("refused"));
    assert_eq!(store.list_apps().await.unwrap().len(), 1);
    let again = store
        .record_failed_sync(None, "http://localhost:9/x".into(), "refused".into(), 12)
        .await
        .unwrap();
    assert_eq!(again, lone, "repeats fold");
    let changed = store
        .record_failed_sync(None, "http://localhost:9/x".into(), "timed out".into(), 13)
        .await
        .unwrap();
    assert_ne!(changed, lone);

    // The app then syncs: it is modified (it had no functions) and the error clears.
    let mut s = sync("new", "h", vec![function("new", "f", "e")], 20);
    s.url = "http://localhost:3000/api/inngest".into();
    let out = store.record_sync(s).await.unwrap();
    assert!(out.modified);
    let app = store.get_app("new").await.unwrap().unwrap();
    assert_eq!(app.last_error, None);
    assert_eq!(app.created_at_ms, 10);
}

/// Removing an app removes its functions; its history stays.
pub async fn app_delete_keeps_history(store: Arc<dyn Store>) {
    let out = store
        .record_sync(sync("a", "h", vec![function("a", "f", "e")], 1))
        .await
        .unwrap();
    assert!(store.delete_app("a").await.unwrap());
    assert!(store.get_app("a").await.unwrap().is_none());
    assert!(store.list_functions().await.unwrap().is_empty());
    assert!(store.get_sync(out.sync_id).await.unwrap().is_some());
    assert!(!store.delete_app("a").await.unwrap());
    // Syncing again starts afresh.
    let again = store
        .record_sync(sync("a", "h", vec![function("a", "f", "e")], 2))
        .await
        .unwrap();
    assert!(again.modified, "a removed app that comes back is new");
}

/// An app renamed in code syncs from the same URL under a new id; the old app goes.
pub async fn app_rename_at_same_url_replaces_old_app(store: Arc<dyn Store>) {
    let mut old = sync("old", "h", vec![function("old", "f", "e")], 1);
    old.url = "http://localhost:3000/api/inngest".into();
    store.record_sync(old).await.unwrap();
    let mut other = sync("other", "h", vec![function("other", "f", "e")], 1);
    other.url = "http://localhost:3001/api/inngest".into();
    store.record_sync(other).await.unwrap();

    let mut renamed = sync("new", "h", vec![function("new", "f", "e")], 2);
    renamed.url = "http://localhost:3000/api/inngest".into();
    store.record_sync(renamed).await.unwrap();
    let apps: Vec<String> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(apps, ["new", "other"]);
    let fns: Vec<String> = store
        .list_functions()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(fns, ["new-f", "other-f"]);
}

/// Concurrent identical syncs of a new app: exactly one reports a modification, one history
/// row is written, and the function set is whole.
pub async fn app_concurrent_syncs_modify_once(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let fns = vec![function("c", "f", "e"), function("c", "g", "e")];
            store.record_sync(sync("c", "h", fns, 100 + i)).await
        }));
    }
    let mut modified = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let out = t.await.unwrap().expect("sync");
        modified += usize::from(out.modified);
        ids.insert(out.sync_id);
    }
    assert_eq!(modified, 1);
    assert_eq!(ids.len(), 1, "the repeats fold into the first sync");
    assert_eq!(store.list_syncs("c", 100).await.unwrap().len(), 1);
    assert_eq!(store.list_functions().await.unwrap().len(), 2);
}
