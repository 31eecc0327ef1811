//! Durable functions written with the real `inngest` PyPI package (`tests/sdk/python/app.py`,
//! served by Flask), run by the real `sluice` binary: a step chain, a retried step, a sleep,
//! waitForEvent matched and timed out, and invoke.

mod sdk;

use std::time::{Duration, Instant};

use sdk::*;
use serde_json::{json, Value};

const APP: &str = "sdk-py";
const FUNCTIONS: u64 = 7;
const RUN_DEADLINE: Duration = Duration::from_secs(60);

struct Env {
    sluice: Sluice,
    _app: App,
    _dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Option<Env> {
        if !python_packages() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let app = start_app(
            APP,
            &repo_root().join("tests/sdk/python"),
            "python3",
            &["app.py"],
            &[
                ("INNGEST_DEV", "1".to_owned()),
                ("INNGEST_BASE_URL", url.clone()),
                ("INNGEST_API_BASE_URL", url.clone()),
                ("INNGEST_EVENT_API_BASE_URL", url),
                ("PYTHONUNBUFFERED", "1".to_owned()),
            ],
            dir.path(),
        );
        let sluice = Sluice::start(dir.path(), port, &[app.serve_url()], &[]);
        sluice.wait_synced(APP, FUNCTIONS);
        Some(Env {
            sluice,
            _app: app,
            _dir: dir,
        })
    }

    fn trigger(&self, name: &str, data: Value, slug: &str) -> String {
        let event_id = self.sluice.send(event(name, data));
        self.sluice.run_for(&event_id, &format!("{APP}-{slug}"))
    }
}

#[test]
fn steps_retry_and_invoke() {
    let Some(env) = Env::start() else {
        return;
    };
    let s = &env.sluice;
    let chain = env.trigger("test/py.chain", json!({"start": 4}), "chain");
    let retry = env.trigger("test/py.retry", json!({}), "retry-once");
    let invoker = env.trigger("test/py.invoke", json!({"n": 21}), "invoker");

    let run = s.finished(&chain, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"a": 4, "b": 5, "c": 10}),
        "{}",
        pretty(&run)
    );
    for name in ["first", "second", "third"] {
        assert_eq!(
            step_entries(&run, name).len(),
            1,
            "{name}:\n{}",
            pretty(&run)
        );
    }

    let run = s.finished(&retry, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"calls": 2, "attempt": 1}),
        "the step succeeds on its second attempt, and ctx.attempt says so:\n{}",
        pretty(&run)
    );
    let flaky = step_entries(&run, "flaky");
    let statuses: Vec<&str> = flaky
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "ok"], "{}", pretty(&run));

    let run = s.finished(&invoker, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"child": {"doubled": 42}}),
        "{}",
        pretty(&run)
    );
}

#[test]
fn sleep_and_waits() {
    let Some(env) = Env::start() else {
        return;
    };
    let s = &env.sluice;
    let order = unique("order");
    let started = Instant::now();
    let sleep = env.trigger("test/py.sleep", json!({}), "sleeper");
    let wait = env.trigger("test/py.wait", json!({"orderId": order}), "wait");
    let timeout = env.trigger("test/py.wait-timeout", json!({}), "wait-timeout");

    s.wait_history(&wait, "the wait started", |e| {
        e["kind"] == "wait_for_event" && e["status"] == "scheduled"
    });
    s.send(event(
        "test/py.approval",
        json!({"orderId": "someone-else"}),
    ));
    s.send(event(
        "test/py.approval",
        json!({"orderId": order, "ok": true}),
    ));

    let run = s.finished(&timeout, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(run["output"], json!({"timedOut": true}), "{}", pretty(&run));

    let run = s.finished(&sleep, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(run["output"], json!({"slept": true}), "{}", pretty(&run));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        run["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["kind"] == "sleep")),
        "the sleep is in the history:\n{}",
        pretty(&run)
    );
    assert_eq!(step_entries(&run, "after").len(), 1, "{}", pretty(&run));

    let run = s.finished(&wait, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"approval": {"orderId": order, "ok": true}}),
        "{}",
        pretty(&run)
    );
}
