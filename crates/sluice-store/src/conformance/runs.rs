//! Conformance checks for runs, the queue, waits and history ([`crate::RunStore`]).
//!
//! Times are small fixed numbers: the store takes time as an argument, so no check sleeps or
//! reads a clock. Ids come from one [`Generator`] per check, so creation order is id order.

use std::sync::Arc;

use serde_json::value::RawValue;
use sluice_core::event::Event;
use ulid::{Generator, Ulid};

use crate::{
    CommitResult, HistoryEntry, NewQueueItem, NewRun, RunQuery, RunRecord, ScheduleBatch, Store,
    Transition, Wait,
};

mod race;
pub use race::*;

struct Ids(Generator);

impl Ids {
    fn new() -> Self {
        Self(Generator::new())
    }

    fn next(&mut self) -> Ulid {
        self.0.generate().expect("ulid")
    }
}

fn event(id: Ulid, name: &str) -> Event {
    Event {
        id,
        name: name.to_owned(),
        data: RawValue::from_string(r#"{"n":1}"#.into()).expect("json"),
        user: None,
        external_id: None,
        ts: 1,
        v: None,
        received_at: 1,
    }
}

fn run(id: Ulid, function_id: &str, created_at_ms: i64) -> NewRun {
    NewRun {
        id,
        function_id: function_id.to_owned(),
        app_id: "app".into(),
        sync_id: None,
        event_id: None,
        event_name: None,
        events: "[]".into(),
        state: r#"{"steps":{}}"#.into(),
        created_at_ms,
        parent: None,
        dedupe: None,
        enqueue: Vec::new(),
    }
}

fn item(id: Ulid, run_id: Ulid, due_at_ms: i64) -> NewQueueItem {
    NewQueueItem {
        id,
        run_id,
        payload: format!(r#"{{"call":"{id}"}}"#),
        due_at_ms,
    }
}

fn wait(id: Ulid, run_id: Ulid, event_name: &str) -> Wait {
    Wait {
        id,
        run_id,
        step_id: format!("wait-{id}"),
        event_name: event_name.to_owned(),
        expression: Some("async.data.id == event.data.id".into()),
        trigger: r#"{"name":"app/start","data":{"id":1}}"#.into(),
        expires_at_ms: 90_000,
    }
}

fn history(id: Ulid, run_id: Ulid, attempt: u32) -> HistoryEntry {
    HistoryEntry {
        id,
        run_id,
        step_id: Some("step-1".into()),
        name: Some("Step one".into()),
        kind: "run".into(),
        attempt,
        status: "error".into(),
        queued_at_ms: Some(90),
        started_at_ms: 100,
        ended_at_ms: 120,
        input: Some("[1]".into()),
        output: None,
        error: Some(r#"{"message":"boom"}"#.into()),
        retry_at_ms: Some(5_000),
        sync_id: Some(Ulid::from_parts(1, 1)),
    }
}

/// A transition from `version` that sets the run `Running`, consuming nothing.
fn step(run_id: Ulid, version: i64, now_ms: i64) -> Transition {
    Transition {
        run_id,
        expected_version: version,
        state: format!(r#"{{"v":{}}}"#, version + 1),
        status: "Running".into(),
        now_ms,
        ..Transition::default()
    }
}

async fn create(store: &Arc<dyn Store>, runs: Vec<NewRun>) {
    let want: Vec<Ulid> = runs.iter().map(|r| r.id).collect();
    let batch = ScheduleBatch {
        runs,
        ..ScheduleBatch::default()
    };
    assert_eq!(store.schedule(batch).await.expect("schedule"), want);
}

/// Claims everything due at `now_ms` for `owner`, with a lease of 1000 ms; returns the ids.
async fn claim(store: &Arc<dyn Store>, owner: &str, now_ms: i64) -> Vec<Ulid> {
    let items = store
        .claim_due(owner, now_ms, 1_000, 100)
        .await
        .expect("claim");
    items.iter().map(|i| i.id).collect()
}

async fn commit(store: &Arc<dyn Store>, t: Transition) -> CommitResult {
    store.commit(t).await.expect("commit")
}

async fn get(store: &Arc<dyn Store>, id: Ulid) -> RunRecord {
    store
        .get_run(id)
        .await
        .expect("get run")
        .expect("run exists")
}

async fn unscheduled(store: &Arc<dyn Store>) -> Vec<Ulid> {
    let evs = store.unscheduled_events(100).await.expect("unscheduled");
    evs.iter().map(|e| e.id).collect()
}

/// `schedule` creates runs with their first queue items and skips a run whose dedupe key is
/// live for its function; an expired key lets the next run through.
pub async fn schedule_creates_runs_and_dedupes(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let ev = event(ids.next(), "app/signup");
    store.append_events(vec![ev.clone()]).await.unwrap();
    let (parent, sync) = (ids.next(), ids.next());
    let mut a = run(ids.next(), "fn", 1_000);
    a.sync_id = Some(sync);
    a.event_id = Some(ev.id);
    a.event_name = Some(ev.name.clone());
    a.events = r#"[{"name":"app/signup","data":{"n":1}}]"#.into();
    a.parent = Some((parent, "invoke-1".into()));
    a.dedupe = Some(("k".into(), 5_000));
    a.enqueue = vec![item(ids.next(), a.id, 1_000)];
    let mut live = run(ids.next(), "fn", 2_000);
    live.dedupe = Some(("k".into(), 9_000));
    live.enqueue = vec![item(ids.next(), live.id, 2_000)];
    let mut other_fn = run(ids.next(), "other-fn", 2_000);
    other_fn.dedupe = Some(("k".into(), 9_000));
    let batch = ScheduleBatch {
        event_ids: vec![ev.id],
        runs: vec![a.clone(), live.clone(), other_fn.clone()],
        ..ScheduleBatch::default()
    };
    let created = store.schedule(batch).await.unwrap();
    assert_eq!(created, vec![a.id, other_fn.id], "a live key skips the run");
    let want = RunRecord {
        id: a.id,
        function_id: "fn".into(),
        app_id: "app".into(),
        sync_id: Some(sync),
        event_id: Some(ev.id),
        event_name: Some("app/signup".into()),
        events: a.events.clone(),
        status: "Queued".into(),
        state: a.state.clone(),
        version: 0,
        output: None,
        error: None,
        created_at_ms: 1_000,
        started_at_ms: None,
        ended_at_ms: None,
        parent_run_id: Some(parent),
        parent_step_id: Some("invoke-1".into()),
    };
    assert_eq!(get(&store, a.id).await, want);
    assert!(store.get_run(live.id).await.unwrap().is_none());
    assert_eq!(
        claim(&store, "w", 10_000).await,
        vec![a.enqueue[0].id],
        "a skipped run enqueues nothing"
    );
    assert!(unscheduled(&store).await.is_empty());

    // At its expiry time the key is free again; the new holder's key then blocks the next one.
    let mut expired = run(ids.next(), "fn", 5_000);
    expired.dedupe = Some(("k".into(), 8_000));
    store.create_run(expired.clone()).await.unwrap();
    assert_eq!(get(&store, expired.id).await.created_at_ms, 5_000);
    let mut blocked = run(ids.next(), "fn", 7_999);
    blocked.dedupe = Some(("k".into(), 20_000));
    store.create_run(blocked.clone()).await.unwrap();
    assert!(store.get_run(blocked.id).await.unwrap().is_none());
    let runs = store.runs_for_event(ev.id).await.unwrap();
    assert_eq!(runs, vec![want]);
}

/// Unscheduled events come in the order they were stored until `schedule` marks them (a prefix
/// at a time, as the scheduler does); the scheduler's own events (`new_events`) are stored
/// already scheduled; events appended later come after the marked ones.
pub async fn unscheduled_events_until_marked(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let evs: Vec<Event> = (0..3).map(|_| event(ids.next(), "app/e")).collect();
    store.append_events(evs.clone()).await.unwrap();
    let all: Vec<Ulid> = evs.iter().map(|e| e.id).collect();
    assert_eq!(unscheduled(&store).await, all);
    let two = store.unscheduled_events(2).await.unwrap();
    assert_eq!(two.iter().map(|e| e.id).collect::<Vec<_>>(), all[..2]);
    let cron = event(ids.next(), "inngest/scheduled.timer");
    let batch = ScheduleBatch {
        event_ids: vec![all[0], all[1]],
        new_events: vec![cron.clone()],
        ..ScheduleBatch::default()
    };
    assert!(store.schedule(batch).await.unwrap().is_empty());
    assert_eq!(unscheduled(&store).await, vec![all[2]]);
    // An event with an older id stored after the mark is still seen.
    let late = event(Ulid::from_parts(1, 7), "app/e");
    store.append_events(vec![late.clone()]).await.unwrap();
    let mut left = unscheduled(&store).await;
    left.sort();
    assert_eq!(left, vec![late.id, all[2]]);
    let stored = store.get_event(cron.id).await.unwrap().expect("cron event");
    assert_eq!(stored.name, cron.name);
    assert_eq!(stored.data.get(), cron.data.get());
}

/// Only due, unleased items are claimed, earliest first, up to the limit; a lease keeps others
/// off an item until it expires.
pub async fn claim_due_respects_due_time_and_leases(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    create(&store, vec![run(r, "fn", 0)]).await;
    let q: Vec<NewQueueItem> = [300, 100, 200]
        .into_iter()
        .map(|due| item(ids.next(), r, due))
        .collect();
    store.enqueue(q.clone()).await.unwrap();
    let (q300, q100, q200) = (q[0].id, q[1].id, q[2].id);
    assert!(claim(&store, "a", 99).await.is_empty(), "nothing is due");
    let got = store.claim_due("a", 150, 1_000, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].id, got[0].run_id, got[0].due_at_ms), (q100, r, 100));
    assert_eq!(got[0].payload, q[1].payload);
    assert_eq!(
        (got[0].lease_owner.as_str(), got[0].lease_until_ms),
        ("a", 1_150)
    );
    assert_eq!(
        claim(&store, "b", 250).await,
        vec![q200],
        "q100 is leased to a"
    );
    assert_eq!(claim(&store, "b", 1_149).await, vec![q300]);
    assert!(claim(&store, "c", 1_149).await.is_empty(), "all leased");
    assert_eq!(
        claim(&store, "b", 1_150).await,
        vec![q100],
        "a's lease expired"
    );
    let early: Vec<NewQueueItem> = [30, 10, 20]
        .into_iter()
        .map(|due| item(ids.next(), r, due))
        .collect();
    store.enqueue(early.clone()).await.unwrap();
    let got = store.claim_due("c", 50_000, 1_000, 2).await.unwrap();
    let got: Vec<Ulid> = got.iter().map(|i| i.id).collect();
    assert_eq!(got, vec![early[1].id, early[2].id], "earliest due first");
}

/// `next_due_at` is the earliest time any item can be claimed: its due time, or its lease's end.
pub async fn next_due_at_tracks_queue_and_leases(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let r = ids.next();
    create(&store, vec![run(r, "fn", 0)]).await;
    let (a, b) = (item(ids.next(), r, 500), item(ids.next(), r, 300));
    store.enqueue(vec![a, b]).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(300));
    claim(&store, "w", 300).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(500));
    store.claim_due("w", 500, 100, 10).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(600));
    store.release_leases("w").await.unwrap();
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(300),
        "released items are due again"
    );
}

/// A commit writes state, status, version, times, queue items, waits, history, events and new
/// runs, and consumes the claimed item.
pub async fn commit_applies_the_whole_transition(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    let mut new = run(r, "fn", 50);
    let q0 = item(ids.next(), r, 100);
    new.enqueue = vec![q0.clone()];
    create(&store, vec![new]).await;
    assert_eq!(claim(&store, "w", 100).await, vec![q0.id]);

    let (q1, w1, h1) = (
        item(ids.next(), r, 2_000),
        wait(ids.next(), r, "app/approved"),
        history(ids.next(), r, 0),
    );
    let (finished, invoked) = (
        event(ids.next(), "inngest/function.finished"),
        event(ids.next(), "inngest/function.invoked"),
    );
    let mut child = run(ids.next(), "child-fn", 150);
    child.event_id = Some(invoked.id);
    child.parent = Some((r, "invoke-1".into()));
    let qc = item(ids.next(), child.id, 150);
    child.enqueue = vec![qc.clone()];
    let t = Transition {
        consume: Some((q0.id, "w".into())),
        enqueue: vec![q1.clone()],
        add_waits: vec![w1.clone()],
        history: vec![h1.clone()],
        events: vec![finished.clone()],
        direct_events: vec![invoked.clone()],
        runs: vec![child.clone()],
        ..step(r, 0, 150)
    };
    let state = t.state.clone();
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let got = get(&store, r).await;
    assert_eq!((got.status.as_str(), got.version), ("Running", 1));
    assert_eq!(got.state, state);
    assert_eq!((got.started_at_ms, got.ended_at_ms), (Some(150), None));
    assert_eq!((got.output, got.error), (None, None));
    assert_eq!(store.history(r).await.unwrap(), vec![h1.clone()]);
    let waits = store.waits_for(vec!["app/approved".into()]).await.unwrap();
    assert_eq!(waits, vec![w1]);
    assert_eq!(claim(&store, "w", 2_000).await, vec![qc.id, q1.id]);
    assert!(store.get_event(finished.id).await.unwrap().is_some());
    assert!(store.get_event(invoked.id).await.unwrap().is_some());
    assert_eq!(
        unscheduled(&store).await,
        vec![finished.id],
        "emitted events are unscheduled, direct ones are not"
    );
    let got_child = get(&store, child.id).await;
    assert_eq!(got_child.status, "Queued");
    assert_eq!(got_child.parent_run_id, Some(r));
    assert_eq!(
        store.runs_for_event(invoked.id).await.unwrap(),
        vec![got_child]
    );

    // Back to Queued (a retry's back-off): the run keeps the time it first started.
    let h2 = history(ids.next(), r, 1);
    let t = Transition {
        consume: Some((q1.id, "w".into())),
        status: "Queued".into(),
        error: Some(r#"{"message":"boom"}"#.into()),
        history: vec![h2.clone()],
        ..step(r, 1, 2_500)
    };
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let got = get(&store, r).await;
    assert_eq!((got.status.as_str(), got.version), ("Queued", 2));
    assert_eq!(got.started_at_ms, Some(150));

    let t = Transition {
        status: "Completed".into(),
        output: Some(r#"{"ok":true}"#.into()),
        ..step(r, 2, 3_000)
    };
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let got = get(&store, r).await;
    assert_eq!((got.status.as_str(), got.version), ("Completed", 3));
    assert_eq!(
        (got.started_at_ms, got.ended_at_ms),
        (Some(150), Some(3_000))
    );
    assert_eq!(got.output.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(
        got.error.as_deref(),
        Some(r#"{"message":"boom"}"#),
        "a commit without an error keeps the last one"
    );
    assert_eq!(store.history(r).await.unwrap(), vec![h1, h2]);
}

/// A full transition whose every part must be absent after it is refused.
fn everything(ids: &mut Ids, base: Transition) -> Transition {
    let r = base.run_id;
    Transition {
        status: "Completed".into(),
        output: Some("1".into()),
        enqueue: vec![item(ids.next(), r, 0)],
        add_waits: vec![wait(ids.next(), r, "app/refused")],
        history: vec![history(ids.next(), r, 0)],
        events: vec![event(ids.next(), "app/refused")],
        direct_events: vec![event(ids.next(), "app/refused.direct")],
        runs: vec![run(ids.next(), "child", 0)],
        clear_pending: true,
        ..base
    }
}

/// Asserts that none of `t`'s writes are in the store.
async fn assert_not_applied(store: &Arc<dyn Store>, t: &Transition) {
    assert!(store.history(t.run_id).await.unwrap().is_empty());
    let names = vec!["app/refused".to_owned()];
    assert!(store.waits_for(names).await.unwrap().is_empty());
    for e in t.events.iter().chain(&t.direct_events) {
        assert!(store.get_event(e.id).await.unwrap().is_none());
    }
    for run in &t.runs {
        assert!(store.get_run(run.id).await.unwrap().is_none());
    }
}

/// A commit from a stale version changes nothing, not even the queue item it consumes.
pub async fn stale_version_conflicts_and_changes_nothing(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    let mut new = run(r, "fn", 0);
    new.enqueue = vec![item(ids.next(), r, 100), item(ids.next(), r, 100)];
    let (q1, q2) = (new.enqueue[0].id, new.enqueue[1].id);
    create(&store, vec![new]).await;
    assert_eq!(claim(&store, "w", 100).await.len(), 2);
    let first = Transition {
        consume: Some((q1, "w".into())),
        ..step(r, 0, 200)
    };
    let first_state = first.state.clone();
    assert_eq!(commit(&store, first).await, CommitResult::Committed);

    let stale = Transition {
        consume: Some((q2, "w".into())),
        state: "stale".into(),
        ..step(r, 0, 300)
    };
    let stale = everything(&mut ids, stale);
    assert_eq!(commit(&store, stale.clone()).await, CommitResult::Conflict);
    let got = get(&store, r).await;
    assert_eq!((got.version, got.state), (1, first_state));
    assert_eq!(
        (got.status.as_str(), got.output, got.ended_at_ms),
        ("Running", None, None)
    );
    assert_not_applied(&store, &stale).await;
    assert!(
        claim(&store, "x", 1_099).await.is_empty(),
        "q2 is still leased"
    );
    assert_eq!(
        claim(&store, "x", 1_100).await,
        vec![q2],
        "q2 is still queued and nothing was enqueued"
    );
    let retry = Transition {
        consume: Some((q2, "x".into())),
        ..step(r, 1, 1_200)
    };
    assert_eq!(commit(&store, retry).await, CommitResult::Committed);
}

/// A commit whose consumed item is leased to another owner, or gone, changes nothing.
pub async fn lost_lease_changes_nothing(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    let mut new = run(r, "fn", 0);
    new.enqueue = vec![item(ids.next(), r, 100)];
    let q = new.enqueue[0].id;
    create(&store, vec![new]).await;
    assert_eq!(claim(&store, "a", 100).await, vec![q]);

    let foreign = everything(
        &mut ids,
        Transition {
            consume: Some((q, "b".into())),
            ..step(r, 0, 200)
        },
    );
    assert_eq!(
        commit(&store, foreign.clone()).await,
        CommitResult::LeaseLost
    );
    let missing = ids.next();
    let gone = everything(
        &mut ids,
        Transition {
            consume: Some((missing, "a".into())),
            ..step(r, 0, 200)
        },
    );
    assert_eq!(commit(&store, gone.clone()).await, CommitResult::LeaseLost);
    assert_eq!(get(&store, r).await.version, 0);
    assert_not_applied(&store, &foreign).await;
    assert_not_applied(&store, &gone).await;

    assert!(
        claim(&store, "b", 1_099).await.is_empty(),
        "still leased to a"
    );
    assert_eq!(
        claim(&store, "b", 1_100).await,
        vec![q],
        "a's lease expired"
    );
    let late = Transition {
        consume: Some((q, "a".into())),
        ..step(r, 0, 1_200)
    };
    assert_eq!(commit(&store, late).await, CommitResult::LeaseLost);
    let owner = Transition {
        consume: Some((q, "b".into())),
        ..step(r, 0, 1_200)
    };
    assert_eq!(commit(&store, owner.clone()).await, CommitResult::Committed);
    // Stale and consumed both: the lost lease is what the caller hears.
    assert_eq!(commit(&store, owner).await, CommitResult::LeaseLost);
    assert_eq!(get(&store, r).await.version, 1);
}

/// `clear_pending` drops every queue item and wait of the run, and only of that run.
pub async fn clear_pending_drops_the_runs_queue_and_waits(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let (r, o) = (ids.next(), ids.next());
    let mut a = run(r, "fn", 0);
    a.enqueue = vec![item(ids.next(), r, 100), item(ids.next(), r, 5_000)];
    let mut b = run(o, "fn", 0);
    b.enqueue = vec![item(ids.next(), o, 101)];
    let (q1, qo) = (a.enqueue[0].id, b.enqueue[0].id);
    create(&store, vec![a, b]).await;
    assert_eq!(claim(&store, "w", 101).await, vec![q1, qo]);
    let (wr, wo) = (wait(ids.next(), r, "app/ev"), wait(ids.next(), o, "app/ev"));
    let t = Transition {
        consume: Some((q1, "w".into())),
        add_waits: vec![wr],
        ..step(r, 0, 200)
    };
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let t = Transition {
        add_waits: vec![wo.clone()],
        ..step(o, 0, 200)
    };
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let cancel = Transition {
        status: "Cancelled".into(),
        clear_pending: true,
        ..step(r, 1, 300)
    };
    assert_eq!(commit(&store, cancel).await, CommitResult::Committed);
    let waits = store.waits_for(vec!["app/ev".into()]).await.unwrap();
    assert_eq!(waits, vec![wo]);
    assert_eq!(claim(&store, "z", 10_000).await, vec![qo]);
    let got = get(&store, r).await;
    assert_eq!(
        (got.status.as_str(), got.ended_at_ms),
        ("Cancelled", Some(300))
    );
}

/// Runs are listed newest first, filtered by status, function, app, event name and time range,
/// and paged by cursor without gaps or repeats.
pub async fn list_runs_filters_and_pages(store: Arc<dyn Store>) {
    let ts = |i: usize| 1_000_000 + i as i64 * 1_000;
    let runs: Vec<NewRun> = (0..30)
        .map(|i| {
            let id = Ulid::from_parts(ts(i) as u64, 7);
            let mut r = run(id, ["f1", "f2", "f3"][i % 3], ts(i));
            r.app_id = if i < 15 { "app-a" } else { "app-b" }.into();
            r.event_name = Some(if i % 2 == 0 { "ev/even" } else { "ev/odd" }.into());
            r
        })
        .collect();
    create(&store, runs.clone()).await;
    for i in (0..30).step_by(5) {
        let t = step(runs[i].id, 0, ts(i));
        assert_eq!(commit(&store, t).await, CommitResult::Committed);
    }
    let newest_first = |keep: &dyn Fn(usize) -> bool| -> Vec<Ulid> {
        (0..30)
            .rev()
            .filter(|&i| keep(i))
            .map(|i| runs[i].id)
            .collect()
    };
    let pages = |q: RunQuery| {
        let store = store.clone();
        async move {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .list_runs(RunQuery {
                        cursor,
                        ..q.clone()
                    })
                    .await
                    .unwrap();
                assert!(page.len() <= q.limit);
                let Some(last) = page.last() else { break };
                cursor = Some(last.id);
                seen.extend(page.iter().map(|r| r.id));
            }
            seen
        }
    };
    let q = |f: fn(&mut RunQuery)| {
        let mut q = RunQuery {
            limit: 7,
            ..RunQuery::default()
        };
        f(&mut q);
        q
    };
    assert_eq!(pages(q(|_| {})).await, newest_first(&|_| true));
    let running = pages(q(|q| q.status = Some("Running".into()))).await;
    assert_eq!(running, newest_first(&|i| i % 5 == 0));
    let queued = pages(q(|q| q.status = Some("Queued".into()))).await;
    assert_eq!(queued, newest_first(&|i| i % 5 != 0));
    let f2 = pages(q(|q| q.function_id = Some("f2".into()))).await;
    assert_eq!(f2, newest_first(&|i| i % 3 == 1));
    let app_b = pages(q(|q| q.app_id = Some("app-b".into()))).await;
    assert_eq!(app_b, newest_first(&|i| i >= 15));
    let even = pages(q(|q| q.event_name = Some("ev/even".into()))).await;
    assert_eq!(even, newest_first(&|i| i % 2 == 0));
    let range = pages(q(|q| {
        q.from_ms = Some(1_010_000);
        q.to_ms = Some(1_020_000);
    }))
    .await;
    assert_eq!(range, newest_first(&|i| (10..20).contains(&i)));
    let combined = pages(q(|q| {
        q.function_id = Some("f1".into());
        q.app_id = Some("app-a".into());
        q.from_ms = Some(1_003_000);
        q.limit = 1;
    }))
    .await;
    assert_eq!(
        combined,
        newest_first(&|i| i % 3 == 0 && (3..15).contains(&i))
    );
    let one = store.list_runs(q(|q| q.limit = 1)).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], get(&store, runs[29].id).await);
}

/// Runs of one event come in id order; stats count a function's runs per status since a time.
pub async fn runs_for_event_and_function_stats(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let (e1, e2) = (ids.next(), ids.next());
    let at = |ms: u64, n: u128| Ulid::from_parts(ms, n);
    let mut rs = vec![
        run(at(1_000, 1), "f", 1_000),
        run(at(2_000, 1), "f", 2_000),
        run(at(3_000, 1), "f", 3_000),
        run(at(3_000, 2), "g", 3_000),
    ];
    for (r, e) in rs.iter_mut().zip([e1, e1, e2, e1]) {
        r.event_id = Some(e);
    }
    create(&store, rs.clone()).await;
    let of = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let for_e1 = of(store.runs_for_event(e1).await.unwrap());
    assert_eq!(for_e1, vec![rs[0].id, rs[1].id, rs[3].id]);
    assert_eq!(of(store.runs_for_event(e2).await.unwrap()), vec![rs[2].id]);
    assert!(store.runs_for_event(ids.next()).await.unwrap().is_empty());

    for (r, status) in [(&rs[0], "Completed"), (&rs[1], "Failed")] {
        let t = Transition {
            status: status.into(),
            ..step(r.id, 0, 4_000)
        };
        assert_eq!(commit(&store, t).await, CommitResult::Committed);
    }
    let stats = |f: &'static str, since: i64| {
        let store = store.clone();
        async move {
            let mut s = store.function_stats(f, since).await.unwrap();
            s.sort();
            s
        }
    };
    let counts = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    let all = counts(&[("Completed", 1), ("Failed", 1), ("Queued", 1)]);
    assert_eq!(stats("f", 0).await, all);
    assert_eq!(
        stats("f", 2_000).await,
        counts(&[("Failed", 1), ("Queued", 1)])
    );
    assert!(stats("f", 3_001).await.is_empty());
    assert_eq!(stats("g", 0).await, counts(&[("Queued", 1)]));
    assert!(stats("none", 0).await.is_empty());
}

/// Waits are found by event name; resolving one in `schedule` removes it and queues the run
/// once, however many times it is resolved.
pub async fn waits_resolve_once(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let (r1, r2) = (ids.next(), ids.next());
    create(&store, vec![run(r1, "fn", 0), run(r2, "fn", 0)]).await;
    let (w1, w2, w3) = (
        wait(ids.next(), r1, "app/approved"),
        wait(ids.next(), r1, "app/rejected"),
        wait(ids.next(), r2, "app/approved"),
    );
    let t = Transition {
        add_waits: vec![w1.clone(), w2.clone()],
        ..step(r1, 0, 10)
    };
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let mut t = step(r2, 0, 10);
    t.add_waits = vec![w3.clone()];
    assert_eq!(commit(&store, t).await, CommitResult::Committed);
    let approved = vec!["app/approved".to_owned()];
    let found = store.waits_for(approved.clone()).await.unwrap();
    assert_eq!(found, vec![w1.clone(), w3.clone()]);
    let both = vec!["app/approved".into(), "app/rejected".into()];
    let mut found = store.waits_for(both).await.unwrap();
    found.sort_by_key(|w| w.id);
    assert_eq!(found, vec![w1.clone(), w2, w3.clone()]);
    assert!(store.waits_for(vec!["x".into()]).await.unwrap().is_empty());

    let resolve = |wait: Ulid, item: NewQueueItem| ScheduleBatch {
        resolved_waits: vec![(wait, item)],
        ..ScheduleBatch::default()
    };
    let qa = item(ids.next(), r1, 100);
    store.schedule(resolve(w1.id, qa.clone())).await.unwrap();
    assert_eq!(claim(&store, "w", 100).await, vec![qa.id]);
    assert_eq!(
        store.waits_for(approved.clone()).await.unwrap(),
        vec![w3.clone()]
    );
    let qb = item(ids.next(), r1, 100);
    store.schedule(resolve(w1.id, qb)).await.unwrap();
    assert!(
        claim(&store, "w", 200).await.is_empty(),
        "a resolved wait queues nothing"
    );

    let twice = ScheduleBatch {
        resolved_waits: vec![
            (w3.id, item(ids.next(), r2, 300)),
            (w3.id, item(ids.next(), r2, 300)),
        ],
        ..ScheduleBatch::default()
    };
    store.schedule(twice).await.unwrap();
    assert_eq!(claim(&store, "w", 300).await.len(), 1);
    assert!(store.waits_for(approved).await.unwrap().is_empty());
}
