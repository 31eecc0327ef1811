//! Durable functions written with the real `inngest` npm package, v4 and v3, run by the real
//! `sluice` binary. The apps are `tests/sdk/js-v4` and `tests/sdk/js-v3`, which serve the same
//! functions (`tests/sdk/js-common/functions.js`); every scenario below runs against both.
//!
//! Each test starts its own Sluice and app on free ports with their own temporary directory, and
//! triggers several independent functions at once, then checks each run through the REST API.

mod sdk;

use std::time::{Duration, Instant};

use sdk::*;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Sdk {
    V4,
    V3,
}

impl Sdk {
    fn dir(self) -> &'static str {
        match self {
            Sdk::V4 => "tests/sdk/js-v4",
            Sdk::V3 => "tests/sdk/js-v3",
        }
    }

    fn app_id(self) -> &'static str {
        match self {
            Sdk::V4 => "sdk-v4",
            Sdk::V3 => "sdk-v3",
        }
    }

    /// How each major version is pointed at a dev server: v4 takes the URL in `INNGEST_DEV`; v3
    /// takes `INNGEST_DEV=1` plus `INNGEST_BASE_URL`.
    fn env(self, sluice_url: &str) -> Vec<(&'static str, String)> {
        match self {
            Sdk::V4 => vec![("INNGEST_DEV", sluice_url.to_owned())],
            Sdk::V3 => vec![
                ("INNGEST_DEV", "1".to_owned()),
                ("INNGEST_BASE_URL", sluice_url.to_owned()),
            ],
        }
    }
}

/// The functions in tests/sdk/js-common/functions.js, plus the generated onFailure handler.
const FUNCTIONS: u64 = 21;

/// Sluice and one JS app, synced. Fields drop in order: Sluice, the app, then the directory.
struct Env {
    sluice: Sluice,
    app: App,
    app_id: &'static str,
    _dir: tempfile::TempDir,
}

impl Env {
    fn start(sdk: Sdk, sluice_args: &[&str]) -> Option<Env> {
        let project = node_project(sdk.dir(), "inngest")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let sluice_url = format!("http://127.0.0.1:{port}");
        let app = start_app(
            sdk.app_id(),
            &project,
            "node",
            &["server.js"],
            &sdk.env(&sluice_url),
            dir.path(),
        );
        let sluice = Sluice::start(dir.path(), port, &[app.serve_url()], sluice_args);
        sluice.wait_synced(sdk.app_id(), FUNCTIONS);
        Some(Env {
            sluice,
            app,
            app_id: sdk.app_id(),
            _dir: dir,
        })
    }

    /// The composite id Sluice knows a function by: app id, `-`, function id.
    fn fid(&self, slug: &str) -> String {
        format!("{}-{slug}", self.app_id)
    }

    fn trigger(&self, name: &str, data: Value, slug: &str) -> String {
        let event_id = self.sluice.send(event(name, data));
        self.sluice.run_for(&event_id, &self.fid(slug))
    }
}

const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// step.run chains, parallel steps, a retried step, NonRetriableError, onFailure, invoke,
/// step.sendEvent and dedupe by event id, all in flight together.
fn steps_retries_and_failures(sdk: Sdk) {
    let Some(env) = Env::start(sdk, &[]) else {
        return;
    };
    let s = &env.sluice;
    let chain = env.trigger("test/chain", json!({"start": 4}), "step-chain");
    let parallel = env.trigger("test/parallel", json!({}), "parallel");
    let retry = env.trigger("test/retry", json!({}), "retry-once");
    let doomed = env.trigger("test/non-retriable", json!({}), "non-retriable");
    let failing = env.trigger("test/fail", json!({}), "fails-with-handler");
    let invoker = env.trigger("test/invoke", json!({"n": 21}), "invoker");
    let fan_out = env.trigger("test/fan-out", json!({"tag": "t1"}), "fan-out");

    // Dedupe: two sends with the same event `id` trigger one run. A third event without an id
    // comes after them, so once its run exists the duplicate has been scheduled too.
    let dedupe_id = unique("order");
    let first = s.send(json!({"name": "test/dedupe", "id": dedupe_id, "data": {"seq": 1}}));
    let duplicate = s.send(json!({"name": "test/dedupe", "id": dedupe_id, "data": {"seq": 2}}));
    let barrier = s.send(event("test/dedupe", json!({"seq": 3})));

    let run = s.finished(&chain, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"a": 4, "b": 5, "c": 10}),
        "{}",
        pretty(&run)
    );
    for name in ["first", "second", "third"] {
        let entries = step_entries(&run, name);
        assert_eq!(entries.len(), 1, "step {name} ran once:\n{}", pretty(&run));
        assert_eq!(entries[0]["status"], "ok", "{}", pretty(&run));
    }

    let run = s.finished(&parallel, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"parts": [10, 20, 30], "total": 60}),
        "{}",
        pretty(&run)
    );
    for name in ["p1", "p2", "p3", "sum"] {
        assert_eq!(
            step_entries(&run, name).len(),
            1,
            "{name}:\n{}",
            pretty(&run)
        );
    }

    // Retry: the step throws once, then succeeds on the next attempt (after the backoff).
    let run = s.finished(&retry, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(run["output"], json!({"calls": 2}), "{}", pretty(&run));
    let flaky = step_entries(&run, "flaky");
    let statuses: Vec<&str> = flaky
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "ok"], "{}", pretty(&run));
    assert_eq!(flaky[0]["attempt"], 0, "{}", pretty(&run));
    assert_eq!(flaky[1]["attempt"], 1, "{}", pretty(&run));
    assert!(
        flaky[0]["error"]
            .to_string()
            .contains("the first attempt fails"),
        "the failed attempt keeps its error:\n{}",
        pretty(&run)
    );

    // NonRetriableError: one attempt, then the run fails at once.
    let run = s.finished(&doomed, RUN_DEADLINE);
    assert_status(&run, "Failed");
    assert_eq!(step_entries(&run, "doomed").len(), 1, "{}", pretty(&run));
    assert!(
        error_text(&run).contains("this cannot work"),
        "the run's error is the step's:\n{}",
        pretty(&run)
    );

    // onFailure: the failure emits inngest/function.failed, which runs the handler.
    let run = s.finished(&failing, RUN_DEADLINE);
    assert_status(&run, "Failed");
    assert!(
        error_text(&run).contains("boom for onFailure"),
        "{}",
        pretty(&run)
    );
    let failed_event = poll(
        "an inngest/function.failed event for the failed run",
        Duration::from_secs(30),
        || {
            s.events_named("inngest/function.failed")
                .into_iter()
                .find(|e| e["data"]["run_id"] == failing.as_str())
        },
    );
    assert_eq!(
        failed_event["data"]["function_id"],
        env.fid("fails-with-handler"),
        "{}",
        pretty(&failed_event)
    );
    let event_id = failed_event["internal_id"]
        .as_str()
        .or(failed_event["id"].as_str())
        .unwrap();
    let handler = s.run_for(event_id, &env.fid("fails-with-handler-failure"));
    let run = s.finished(&handler, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"]["failedRunId"],
        failing.as_str(),
        "{}",
        pretty(&run)
    );
    assert!(
        run["output"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("boom for onFailure")),
        "{}",
        pretty(&run)
    );

    // step.sendEvent: the sent event triggers another function.
    let run = s.finished(&fan_out, RUN_DEADLINE);
    assert_status(&run, "Completed");
    let sent = run["output"]["ids"][0].as_str().unwrap_or_else(|| {
        panic!("sendEvent returns the ids:\n{}", pretty(&run));
    });
    let fanned = s.run_for(sent, &env.fid("fanned"));
    let run = s.finished(&fanned, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"]["received"],
        json!({"fromRun": fan_out, "tag": "t1"}),
        "{}",
        pretty(&run)
    );

    // Dedupe.
    let barrier_run = s.run_for(&barrier, &env.fid("dedupe-target"));
    s.finished(&barrier_run, RUN_DEADLINE);
    let first_run = s.run_for(&first, &env.fid("dedupe-target"));
    assert_eq!(
        s.finished(&first_run, RUN_DEADLINE)["output"],
        json!({"seq": 1})
    );
    assert_eq!(
        s.event_runs(&duplicate),
        Vec::<Value>::new(),
        "an event whose id was seen triggers nothing"
    );
    assert_eq!(s.runs_of(&env.fid("dedupe-target")).len(), 2);

    // invoke: the child's return value comes back as the step's result.
    let run = s.finished(&invoker, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"child": {"doubled": 42}}),
        "{}",
        pretty(&run)
    );
    let child_runs = s.runs_of(&env.fid("invoke-child"));
    assert_eq!(child_runs.len(), 1, "{child_runs:?}");
    assert_eq!(child_runs[0]["status"], "Completed", "{child_runs:?}");
}

/// waitForEvent matched (`match`, then `if`) and timed out, sleep, and cancellation.
fn waits_sleeps_and_cancellation(sdk: Sdk) {
    let Some(env) = Env::start(sdk, &[]) else {
        return;
    };
    let s = &env.sluice;
    let order = unique("order");
    let wait_match = env.trigger("test/wait.match", json!({"orderId": order}), "wait-match");
    let wait_if = env.trigger("test/wait.if", json!({"orderId": order}), "wait-if");
    let started = Instant::now();
    let timeout = env.trigger("test/wait.timeout", json!({}), "wait-timeout");
    let sleep = env.trigger("test/sleep", json!({"duration": "2s"}), "sleeper");
    let cancel = env.trigger("test/sleep", json!({"duration": "1h"}), "sleeper");

    let waiting = |run: &str| {
        s.wait_history(run, "the wait started", |e| {
            e["kind"] == "wait_for_event" && e["status"] == "scheduled"
        });
    };
    // Each non-matching event goes first: had it matched, the run would hold it instead.
    waiting(&wait_match);
    s.send(event("test/approval", json!({"orderId": "someone-else"})));
    s.send(event(
        "test/approval",
        json!({"orderId": order, "ok": true}),
    ));
    waiting(&wait_if);
    s.send(event(
        "test/payment",
        json!({"orderId": order, "amount": 5}),
    ));
    s.send(event(
        "test/payment",
        json!({"orderId": "someone-else", "amount": 500}),
    ));
    s.send(event(
        "test/payment",
        json!({"orderId": order, "amount": 150}),
    ));

    let run = s.finished(&timeout, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"timedOut": true, "value": null}),
        "{}",
        pretty(&run)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the 2s timeout was waited out"
    );

    let run = s.finished(&sleep, RUN_DEADLINE);
    assert_status(&run, "Completed");
    let slept = run["output"]["sleptMs"].as_i64().unwrap_or_default();
    assert!(
        slept >= 2000,
        "slept {slept} ms for a 2s sleep:\n{}",
        pretty(&run)
    );

    s.wait_history(&cancel, "the 1h sleep started", |e| {
        e["kind"] == "sleep" && e["status"] == "scheduled"
    });
    let (status, body) = s.delete(&format!("/v1/runs/{cancel}"));
    assert!(
        status == 200 || status == 202,
        "DELETE /v1/runs/{cancel}: {status} {body}"
    );
    let run = s.finished(&cancel, Duration::from_secs(30));
    assert_status(&run, "Cancelled");
    assert!(
        step_entries(&run, "after").is_empty(),
        "nothing runs after a cancel:\n{}",
        pretty(&run)
    );

    // The matched waits are checked last: they take longest to go wrong (a 60 s timeout).
    let run = s.finished(&wait_match, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"approval": {"orderId": order, "ok": true}}),
        "{}",
        pretty(&run)
    );
    let run = s.finished(&wait_if, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"payment": {"orderId": order, "amount": 150}}),
        "{}",
        pretty(&run)
    );
}

/// A 5 s sleep survives `kill -9` of Sluice: the restarted server wakes the run on time.
fn sleep_survives_restart(sdk: Sdk) {
    let Some(mut env) = Env::start(sdk, &[]) else {
        return;
    };
    let run_id = env.trigger("test/sleep", json!({"duration": "5s"}), "sleeper");
    env.sluice
        .wait_history(&run_id, "the 5s sleep started", |e| {
            e["kind"] == "sleep" && e["status"] == "scheduled"
        });
    env.sluice.kill_and_restart();
    let run = env.sluice.finished(&run_id, RUN_DEADLINE);
    assert_status(&run, "Completed");
    let slept = run["output"]["sleptMs"].as_i64().unwrap_or_default();
    assert!(
        slept >= 5000,
        "slept {slept} ms for a 5s sleep:\n{}",
        pretty(&run)
    );
    assert_eq!(step_entries(&run, "after").len(), 1, "{}", pretty(&run));
}

/// Limits and a dead app: each ends in a clear, stored run error, never a stuck run.
fn faults(sdk: Sdk) {
    // The step limit is lowered to 25 (default 1,000) so the over-limit run takes seconds.
    let Some(mut env) = Env::start(sdk, &["--request-timeout", "3", "--max-steps", "25"]) else {
        return;
    };
    let s = &env.sluice;
    let big = env.trigger("test/big-output", json!({}), "big-output");
    let many = env.trigger("test/many-steps", json!({"steps": 26}), "many-steps");
    let slow = env.trigger("test/slow", json!({"ms": 8000}), "slow");

    let run = s.finished(&big, RUN_DEADLINE);
    assert_status(&run, "Failed");
    let error = error_text(&run);
    assert!(
        error.contains("MiB"),
        "a 5 MB step output names the limit: {error}"
    );

    let run = s.finished(&slow, RUN_DEADLINE);
    assert_status(&run, "Failed");
    let error = error_text(&run);
    assert!(
        error.contains("within 3s") || error.contains("timed out"),
        "the error names the 3 s request timeout: {error}"
    );

    let run = s.finished(&many, RUN_DEADLINE);
    assert_status(&run, "Failed");
    let error = error_text(&run);
    assert!(
        error.contains("step") && error.contains("25"),
        "a 26th step names the limit of 25: {error}"
    );
    assert_eq!(
        step_entries(&run, "s24").len(),
        1,
        "25 steps ran:\n{}",
        pretty(&run)
    );

    // The app goes away: connection refused. `no-retry` has `retries: 0`, so it fails at once.
    env.app.proc.kill();
    let s = &env.sluice;
    let run = s.trigger_and_finish(
        event("test/no-retry", json!({})),
        &env.fid("no-retry"),
        RUN_DEADLINE,
    );
    assert_status(&run, "Failed");
    let error = error_text(&run).to_lowercase();
    assert!(
        error.contains("refused") || error.contains("connect"),
        "the error says the app could not be reached: {error}"
    );
}

macro_rules! js_tests {
    ($module:ident, $sdk:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn steps_retries_and_failures() {
                super::steps_retries_and_failures($sdk);
            }

            #[test]
            fn waits_sleeps_and_cancellation() {
                super::waits_sleeps_and_cancellation($sdk);
            }

            #[test]
            fn sleep_survives_restart() {
                super::sleep_survives_restart($sdk);
            }

            #[test]
            fn faults() {
                super::faults($sdk);
            }
        }
    };
}

js_tests!(v4, Sdk::V4);
js_tests!(v3, Sdk::V3);

/// The `* * * * *` function runs from a `inngest/scheduled.timer` within about a minute. The one
/// test that has to wait for the clock, so only v4 does.
#[test]
fn cron_function_runs_on_schedule() {
    let Some(env) = Env::start(Sdk::V4, &[]) else {
        return;
    };
    let function = env.fid("every-minute");
    let run = poll(
        "a run of the every-minute cron function",
        Duration::from_secs(75),
        || env.sluice.runs_of(&function).into_iter().next(),
    );
    let run = env
        .sluice
        .finished(run["run_id"].as_str().unwrap(), RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"]["trigger"],
        "inngest/scheduled.timer",
        "{}",
        pretty(&run)
    );
}

/// Function URLs that answer, but not through the protocol: a 404 page and an HTML 200 (not an
/// SDK at all), a cut-off 206, an unknown opcode and an unsupported one (`AIGateway`). Each run
/// fails at once with an error that says what was wrong.
#[test]
fn protocol_violations_fail_the_run_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let fake = sdk::fake::serve();
    let sluice = Sluice::start(dir.path(), free_port(), &[], &[]);
    let slugs = ["not-found", "html", "malformed", "unknown-op", "ai-gateway"];
    let functions: Vec<Value> = slugs
        .iter()
        .map(|slug| {
            let url = format!("http://127.0.0.1:{fake}/{slug}?fnId=fake-{slug}&stepId=step");
            json!({
                "id": format!("fake-{slug}"),
                "name": slug,
                "triggers": [{"event": format!("test/fake.{slug}")}],
                "steps": {"step": {
                    "id": "step",
                    "name": "step",
                    "runtime": {"type": "http", "url": url},
                    "retries": {"attempts": 0}
                }}
            })
        })
        .collect();
    let (status, body) = sluice.post(
        "/fn/register",
        &json!({
            "url": format!("http://127.0.0.1:{fake}/api/inngest"),
            "deployType": "ping",
            "framework": "none",
            "appName": "fake",
            "sdk": "js:v4.24.0",
            "v": "0.1",
            "functions": functions,
        }),
    );
    assert_eq!(status, 200, "register: {body}");

    let runs: Vec<(&str, String)> = slugs
        .iter()
        .map(|slug| {
            let id = sluice.send(event(&format!("test/fake.{slug}"), json!({})));
            (*slug, sluice.run_for(&id, &format!("fake-{slug}")))
        })
        .collect();
    for (slug, run_id) in runs {
        let run = sluice.finished(&run_id, RUN_DEADLINE);
        assert_status(&run, "Failed");
        let error = error_text(&run);
        let says = |s: &str| error.contains(s);
        let clear = match slug {
            "not-found" => says("404") && says("<html>") && says("SDK"),
            "html" => says("200") && says("<html>") && says("SDK"),
            "malformed" => {
                let lower = error.to_lowercase();
                lower.contains("206") || lower.contains("json") || lower.contains("opcode")
            }
            "unknown-op" => says("Teleport"),
            _ => says("AIGateway"),
        };
        assert!(clear, "{slug}: the run error says what went wrong: {error}");
    }
}

/// When a run's history entries started and ended, as milliseconds.
fn millis(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .timestamp_millis()
}

/// With one call at a time (`--max-in-flight 1`), the queue finishes a run that has started
/// before it begins a newer one: each run's first step starts only after the previous run ended.
#[test]
fn started_runs_finish_before_newer_runs_begin() {
    let Some(env) = Env::start(Sdk::V4, &["--max-in-flight", "1"]) else {
        return;
    };
    let s = &env.sluice;
    // Each trigger waits for its run to exist, so the runs are created while earlier ones are
    // still in their 500 ms steps.
    let ids: Vec<String> = (0..3)
        .map(|_| env.trigger("test/in-order", json!({"ms": 500}), "in-order"))
        .collect();
    let runs: Vec<Value> = ids.iter().map(|id| s.finished(id, RUN_DEADLINE)).collect();
    for run in &runs {
        assert_status(run, "Completed");
        assert_eq!(run["output"], 2, "{}", pretty(run));
    }
    for pair in runs.windows(2) {
        let ended = millis(&pair[0]["ended_at"]);
        let first_step = pair[1]["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["started_at"].is_null())
            .map(|e| millis(&e["started_at"]))
            .min()
            .expect("the run has history");
        assert!(
            first_step >= ended,
            "run {} began {} ms before run {} ended:\n{}\n{}",
            pair[1]["run_id"],
            ended - first_step,
            pair[0]["run_id"],
            pretty(&pair[0]),
            pretty(&pair[1])
        );
    }
}
