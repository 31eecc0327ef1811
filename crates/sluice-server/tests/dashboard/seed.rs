//! Seeds a store through its public API with what the dashboard must show: an app synced twice
//! (so older runs are stale), a completed run, a failed run whose first step failed once and was
//! retried, a run still running (sleeping), a queued one, events, and a webhook source with
//! deliveries.

use std::sync::Arc;

use serde_json::json;
use serde_json::value::RawValue;
use sluice_core::event::Event;
use sluice_core::run::RunState;
use sluice_store::{
    FunctionRecord, HistoryEntry, NewDelivery, NewSync, Outcome, RunRecord, ScheduleBatch, Store,
    Transition,
};
use ulid::Ulid;

pub struct Seeded {
    pub completed: Ulid,
    pub failed: Ulid,
    pub running: Ulid,
    pub event: Ulid,
    pub function_id: String,
}

pub fn function(app: &str, slug: &str, name: &str, url: &str, event: &str) -> FunctionRecord {
    FunctionRecord {
        id: format!("{app}-{slug}"),
        app_id: app.into(),
        slug: slug.into(),
        name: name.into(),
        url: format!("{url}?fnId={app}-{slug}&step=step"),
        retries: 3,
        triggers: json!([{ "event": event }]),
        config: json!({ "retries": 3, "concurrency": [{ "limit": 5 }] }),
        unenforced: vec!["concurrency".into()],
    }
}

fn raw(v: serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

pub fn event(name: &str, data: serde_json::Value, at: i64) -> Event {
    Event {
        id: Ulid::from_parts(at as u64, rand::random()),
        name: name.into(),
        data: raw(data),
        user: None,
        external_id: None,
        ts: at,
        v: None,
        received_at: at,
    }
}

fn attempt(
    run: Ulid,
    name: &str,
    attempt: u32,
    times: (i64, i64, i64),
    result: Result<serde_json::Value, serde_json::Value>,
    retry_at: Option<i64>,
) -> HistoryEntry {
    let (queued, started, ended) = times;
    let (status, output, error) = match result {
        Ok(o) => ("ok", Some(o.to_string()), None),
        Err(e) => ("error", None, Some(e.to_string())),
    };
    HistoryEntry {
        id: Ulid::from_parts(started as u64, rand::random()),
        run_id: run,
        step_id: Some(format!("{:040x}", name.len() as u64 * 7919)),
        name: Some(name.into()),
        kind: "run".into(),
        attempt,
        status: status.into(),
        queued_at_ms: Some(queued),
        started_at_ms: started,
        ended_at_ms: ended,
        input: None,
        output,
        error,
        retry_at_ms: retry_at,
        sync_id: None,
    }
}

fn stack_error(message: &str) -> serde_json::Value {
    json!({
        "name": "Error",
        "message": message,
        "stack": format!("Error: {message}\n    at insertUser (/app/src/db.js:42:11)\n    at async step (/app/node_modules/inngest/components/execution/v1.js:812:20)"),
    })
}

/// Creates one run of `f` for `ev` at `at`, with no queue items (the seed decides its fate).
async fn create(
    store: &Arc<dyn Store>,
    f: &FunctionRecord,
    sync: Ulid,
    ev: &Event,
    at: i64,
) -> RunRecord {
    let mut run = sluice_engine::new_run(f, Some(sync), &[ev], at, None);
    run.enqueue.clear();
    let id = run.id;
    store
        .schedule(ScheduleBatch {
            new_events: vec![ev.clone()],
            runs: vec![run],
            ..ScheduleBatch::default()
        })
        .await
        .unwrap();
    store.get_run(id).await.unwrap().unwrap()
}

async fn commit(store: &Arc<dyn Store>, run: &RunRecord, t: Transition) -> RunRecord {
    let t = Transition {
        run_id: run.id,
        expected_version: run.version,
        ..t
    };
    let r = store.commit(t).await.unwrap();
    assert_eq!(r, sluice_store::CommitResult::Committed);
    store.get_run(run.id).await.unwrap().unwrap()
}

fn state_with(run: &RunRecord, steps: &[(&str, serde_json::Value)]) -> String {
    let mut s: RunState = serde_json::from_str(&run.state).unwrap();
    for (name, v) in steps {
        let id = format!("{:040x}", name.len() as u64 * 7919);
        s.steps.insert(id.clone(), raw(v.clone()));
        s.stack.push(id);
    }
    serde_json::to_string(&s).unwrap()
}

/// Seeds the store. `app_url` is where the app's functions are served (a fake SDK in tests).
pub async fn seed(store: &Arc<dyn Store>, app_url: &str, now: i64) -> Seeded {
    let app = "shop";
    let f1 = function(
        app,
        "create-user",
        "Create user",
        app_url,
        "clerk/user.created",
    );
    let mut f2 = function(app, "sync-crm", "Sync CRM", app_url, "app/crm.sync");
    f2.unenforced.clear();
    f2.config = json!({ "retries": 3 });
    let sync = |hash: &str, at: i64| NewSync {
        app_id: app.into(),
        url: app_url.into(),
        sdk: "js:v3.54.0".into(),
        framework: Some("express".into()),
        app_version: None,
        function_hash: hash.into(),
        functions: vec![f1.clone(), f2.clone()],
        at_ms: at,
    };
    let old_sync = store
        .record_sync(sync("a1b2c3d4e5f6a7b8", now - 3_600_000))
        .await
        .unwrap()
        .sync_id;

    // Completed: two steps, each once.
    let t = now - 3_000_000;
    let ev = event(
        "clerk/user.created",
        json!({"id": "user_1", "email_addresses": [{"email_address": "ada@example.com"}], "public_metadata": {}}),
        t,
    );
    let event_id = ev.id;
    let run = create(store, &f1, old_sync, &ev, t).await;
    let run = commit(
        store,
        &run,
        Transition {
            state: run.state.clone(),
            status: "Running".into(),
            now_ms: t + 5,
            ..Transition::default()
        },
    )
    .await;
    let completed = run.id;
    commit(
        store,
        &run,
        Transition {
            state: state_with(
                &run,
                &[
                    ("insert-user", json!({"data": {"id": 42}})),
                    ("send-welcome-email", json!({"data": null})),
                ],
            ),
            status: "Completed".into(),
            output: Some(r#"{"userId":42}"#.into()),
            now_ms: t + 420,
            history: vec![
                attempt(
                    run.id,
                    "insert-user",
                    0,
                    (t, t + 8, t + 130),
                    Ok(json!({"id": 42, "email": "ada@example.com"})),
                    None,
                ),
                attempt(
                    run.id,
                    "send-welcome-email",
                    0,
                    (t + 131, t + 140, t + 410),
                    Ok(json!(null)),
                    None,
                ),
            ],
            ..Transition::default()
        },
    )
    .await;

    // Failed: insert-user failed once and was retried; send-welcome-email failed every attempt.
    let t = now - 2_000_000;
    let ev = event(
        "clerk/user.created",
        json!({"id": "user_2", "public_metadata": {}}),
        t,
    );
    let run = create(store, &f1, old_sync, &ev, t).await;
    let run = commit(
        store,
        &run,
        Transition {
            state: run.state.clone(),
            status: "Running".into(),
            now_ms: t + 5,
            ..Transition::default()
        },
    )
    .await;
    let failed = run.id;
    let mut history = vec![
        attempt(
            run.id,
            "insert-user",
            0,
            (t, t + 10, t + 90),
            Err(stack_error("connect ECONNREFUSED 127.0.0.1:5432")),
            Some(t + 10_090),
        ),
        attempt(
            run.id,
            "insert-user",
            1,
            (t + 10_090, t + 10_100, t + 10_180),
            Ok(json!({"id": 43})),
            None,
        ),
    ];
    let mut at = t + 10_200;
    for n in 0..4u32 {
        let retry = (n < 3).then_some(at + 20_000 * (n as i64 + 1));
        history.push(attempt(
            run.id,
            "send-welcome-email",
            n,
            (at, at + 15, at + 120),
            Err(stack_error("SMTP 554: relay access denied")),
            retry,
        ));
        at = retry.unwrap_or(at + 120);
    }
    commit(
        store,
        &run,
        Transition {
            state: state_with(&run, &[("insert-user", json!({"data": {"id": 43}}))]),
            status: "Failed".into(),
            error: Some(stack_error("SMTP 554: relay access denied").to_string()),
            now_ms: at + 130,
            history,
            ..Transition::default()
        },
    )
    .await;

    // The app is re-synced with a different function set: the runs above are now stale.
    store
        .record_sync(sync("ffee00112233aabb", now - 600_000))
        .await
        .unwrap();
    let new_sync = store.get_app(app).await.unwrap().unwrap().sync_id.unwrap();

    // Running: one step done, now sleeping for an hour.
    let t = now - 60_000;
    let ev = event("app/crm.sync", json!({"account": "acme"}), t);
    let run = create(store, &f2, new_sync, &ev, t).await;
    let running = run.id;
    let mut sleep = attempt(
        run.id,
        "wait-an-hour",
        0,
        (t, t + 300, t + 300),
        Ok(json!(null)),
        Some(t + 3_600_000),
    );
    sleep.kind = "sleep".into();
    sleep.status = "scheduled".into();
    sleep.output = None;
    sleep.queued_at_ms = None;
    commit(
        store,
        &run,
        Transition {
            state: state_with(&run, &[("fetch-account", json!({"data": {"plan": "pro"}}))]),
            status: "Running".into(),
            now_ms: t + 10,
            history: vec![
                attempt(
                    run.id,
                    "fetch-account",
                    0,
                    (t, t + 20, t + 290),
                    Ok(json!({"plan": "pro"})),
                    None,
                ),
                sleep,
            ],
            ..Transition::default()
        },
    )
    .await;

    // Queued: nothing has happened yet.
    let ev = event("app/crm.sync", json!({"account": "globex"}), now - 1_000);
    create(store, &f2, new_sync, &ev, now - 1_000).await;

    // A webhook source with an accepted and a rejected delivery.
    let mut source =
        sluice_webhooks::Source::new("clerk", sluice_webhooks::Scheme::StandardWebhooks);
    source.preset = Some("clerk".into());
    source.secrets = vec!["whsec_c2VjcmV0".into()];
    store
        .upsert_webhook_source("clerk", serde_json::to_string(&source).unwrap(), now)
        .await
        .unwrap();
    let body = br#"{"type":"user.created","data":{"id":"user_9","public_metadata":{}}}"#.to_vec();
    let delivery = |outcome: Outcome, code: Option<&str>, reason: Option<&str>| NewDelivery {
        id: Ulid::new(),
        source: "clerk".into(),
        delivery_id: Some(format!("msg_{}", Ulid::new())),
        received_at: now - 5_000,
        outcome,
        code: code.map(str::to_owned),
        reason: reason.map(str::to_owned),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("svix-signature".into(), "[redacted]".into()),
        ],
        query: String::new(),
        content_type: Some("application/json".into()),
        body: body.clone(),
        replay_of: None,
    };
    let produced = event(
        "clerk/user.created",
        json!({"id": "user_9", "public_metadata": {}}),
        now - 5_000,
    );
    store
        .record_delivery(delivery(Outcome::Accepted, None, None), vec![produced])
        .await
        .unwrap();
    store
        .record_delivery(
            delivery(
                Outcome::Rejected,
                Some("no_signature_matched"),
                Some("no signature matched"),
            ),
            vec![],
        )
        .await
        .unwrap();

    Seeded {
        completed,
        failed,
        running,
        event: event_id,
        function_id: f1.id,
    }
}
