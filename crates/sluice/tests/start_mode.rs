//! `sluice start` with the real `inngest` packages (npm v4 and v3, PyPI) in production mode:
//! every request between Sluice and the app is signed and checked by the SDK itself, the app
//! sends events with the event key, and REST calls need the signing key. Then two nodes on one
//! PostgreSQL database serving the same app: runs started through either node finish once, when
//! one node is killed with SIGKILL the other takes over its leased work, and a node stopped with
//! SIGTERM hands back the calls that outlive its shutdown timeout at once.

mod sdk;

use std::process::Command;
use std::time::{Duration, Instant};

use sdk::*;
use serde_json::{json, Value};

const APP_DIR: &str = "tests/sdk/js-v4";
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// A signing key in the shape the SDK expects (`signkey-<env>-<hex>`), fresh per test.
fn signing_key() -> String {
    let hex: String = ulid::Ulid::new()
        .to_bytes()
        .iter()
        .chain(ulid::Ulid::new().to_bytes().iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("signkey-prod-{hex}")
}

/// The v4 app in cloud mode (no `INNGEST_DEV`), pointed at `base_url` with both keys.
fn cloud_app(
    project: &std::path::Path,
    dir: &std::path::Path,
    app_id: &str,
    base_url: &str,
    signing: &str,
    event_key: &str,
) -> App {
    start_app(
        app_id,
        project,
        "node",
        &["server.js"],
        &[
            ("APP_ID", app_id.to_owned()),
            ("INNGEST_BASE_URL", base_url.to_owned()),
            ("INNGEST_SIGNING_KEY", signing.to_owned()),
            ("INNGEST_EVENT_KEY", event_key.to_owned()),
            // v3 picks its mode from the environment; v4 is in cloud mode without INNGEST_DEV.
            ("NODE_ENV", "production".to_owned()),
        ],
        dir,
    )
}

/// `sluice apps add APP_URL` against `sluice`, the way an operator syncs an app in production.
fn add_app(sluice: &Sluice, app_url: &str) {
    let out = Command::new(BIN)
        .args(["apps", "add", app_url, "--url", &sluice.url("")])
        .env("SLUICE_SIGNING_KEY", sluice.bearer.as_deref().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sluice apps add {app_url} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn completed_chain(sluice: &Sluice, run_id: &str, start: i64) -> Value {
    let run = sluice.finished(run_id, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"a": start, "b": start + 1, "c": (start + 1) * 2}),
        "{}",
        pretty(&run)
    );
    for name in ["first", "second", "third"] {
        let ok: Vec<_> = step_entries(&run, name)
            .into_iter()
            .filter(|e| e["status"] == "ok")
            .collect();
        assert_eq!(ok.len(), 1, "step {name} succeeded once:\n{}", pretty(&run));
    }
    run
}

#[test]
fn js_sdk_v4_in_cloud_mode_runs_against_sluice_start() {
    js_sdk_in_cloud_mode(APP_DIR, "prod-v4");
}

#[test]
fn js_sdk_v3_in_cloud_mode_runs_against_sluice_start() {
    js_sdk_in_cloud_mode("tests/sdk/js-v3", "prod-v3");
}

fn js_sdk_in_cloud_mode(app_dir: &str, app_id: &str) {
    let Some(project) = node_project(app_dir, "inngest") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let signing = signing_key();
    let event_key = unique("ek");
    let sluice = Sluice::start_production(dir.path(), port, &event_key, &signing, &[]);
    let app = cloud_app(
        &project,
        dir.path(),
        app_id,
        &sluice.url(""),
        &signing,
        &event_key,
    );

    // Production mode guards its doors.
    let anonymous = http_client();
    let status = anonymous
        .get(sluice.url("/v1/runs"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 401, "REST without the signing key");
    let status = anonymous
        .post(sluice.url("/e/not-the-key"))
        .json(&event("test/chain", json!({"start": 1})))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 401, "an unknown event key");

    add_app(&sluice, &app.serve_url());
    let synced = sluice.wait_synced(app_id, 21);
    assert_eq!(synced["function_count"], 21, "{}", pretty(&synced));

    // The SDK checks Sluice's signature over the canonical JSON it parses, so an integer beyond
    // 2^53 in the event must be signed the way JavaScript reads it.
    let chain_event = sluice.send(event(
        "test/chain",
        json!({"start": 4, "big": 12345678901234567890u64, "nested": {}}),
    ));
    let fan_out = sluice.send(event("test/fan-out", json!({"tag": "prod"})));
    let retry = sluice.send(event("test/retry", json!({})));
    let invoker = sluice.send(event("test/invoke", json!({"n": 21})));
    let fid = |slug: &str| format!("{app_id}-{slug}");

    completed_chain(
        &sluice,
        &sluice.run_for(&chain_event, &fid("step-chain")),
        4,
    );

    let run = sluice.finished(&sluice.run_for(&retry, &fid("retry-once")), RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(run["output"], json!({"calls": 2}), "{}", pretty(&run));

    let run = sluice.finished(&sluice.run_for(&invoker, &fid("invoker")), RUN_DEADLINE);
    assert_status(&run, "Completed");

    // step.sendEvent goes from the app to `/e/{INNGEST_EVENT_KEY}` and starts another run.
    let run = sluice.finished(&sluice.run_for(&fan_out, &fid("fan-out")), RUN_DEADLINE);
    assert_status(&run, "Completed");
    let sent = run["output"]["ids"][0]
        .as_str()
        .expect("the sent event's id")
        .to_owned();
    let fanned = sluice.finished(&sluice.run_for(&sent, &fid("fanned")), RUN_DEADLINE);
    assert_status(&fanned, "Completed");
    assert_eq!(
        fanned["output"]["received"]["tag"],
        "prod",
        "{}",
        pretty(&fanned)
    );
}

#[test]
fn python_sdk_in_production_mode_runs_against_sluice_start() {
    if !python_packages() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let signing = signing_key();
    let event_key = unique("ek");
    let sluice = Sluice::start_production(dir.path(), port, &event_key, &signing, &[]);
    let app_id = "prod-py";
    let url = sluice.url("");
    let app = start_app(
        app_id,
        &repo_root().join("tests/sdk/python"),
        "python3",
        &["app.py"],
        &[
            ("APP_ID", app_id.to_owned()),
            ("INNGEST_BASE_URL", url.clone()),
            ("INNGEST_API_BASE_URL", url.clone()),
            ("INNGEST_EVENT_API_BASE_URL", url),
            ("INNGEST_SIGNING_KEY", signing.clone()),
            ("INNGEST_EVENT_KEY", event_key.clone()),
            ("PYTHONUNBUFFERED", "1".to_owned()),
        ],
        dir.path(),
    );
    add_app(&sluice, &app.serve_url());
    sluice.wait_synced(app_id, 7);
    let fid = |slug: &str| format!("{app_id}-{slug}");

    // The SDK canonicalizes the body it receives and checks Sluice's HMAC over that, big
    // integers included.
    let chain = sluice.send(event(
        "test/py.chain",
        json!({"start": 4, "big": 12345678901234567890u64, "empty": {}}),
    ));
    let retry = sluice.send(event("test/py.retry", json!({})));
    let invoker = sluice.send(event("test/py.invoke", json!({"n": 20})));

    let run = sluice.finished(&sluice.run_for(&chain, &fid("chain")), RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"a": 4, "b": 5, "c": 10}),
        "{}",
        pretty(&run)
    );
    let run = sluice.finished(&sluice.run_for(&retry, &fid("retry-once")), RUN_DEADLINE);
    assert_status(&run, "Completed");
    let run = sluice.finished(&sluice.run_for(&invoker, &fid("invoker")), RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"child": {"doubled": 40}}),
        "{}",
        pretty(&run)
    );
}

/// What nodes sharing one PostgreSQL database have in common: the database, the keys, and the
/// v4 app's project. `None` (the test skips) when Node or PostgreSQL is missing outside CI.
struct Cluster {
    project: std::path::PathBuf,
    database_url: String,
    signing: String,
    event_key: String,
}

impl Cluster {
    fn new(prefix: &str) -> Option<Cluster> {
        let project = node_project(APP_DIR, "inngest")?;
        let rt = tokio::runtime::Runtime::new().unwrap();
        let database_url = rt.block_on(sluice_store::testing::fresh_postgres_url(prefix))?;
        Some(Cluster {
            project,
            database_url,
            signing: signing_key(),
            event_key: unique("ek"),
        })
    }

    /// A `sluice start` node on the shared database.
    fn node(&self, dir: &std::path::Path, extra: &[&str]) -> Sluice {
        let mut args = vec!["--database-url", self.database_url.as_str()];
        args.extend_from_slice(extra);
        Sluice::start_production(dir, free_port(), &self.event_key, &self.signing, &args)
    }

    /// The v4 app in cloud mode, talking to `node`, synced through `node`.
    fn app(&self, dir: &std::path::Path, app_id: &str, node: &Sluice) -> App {
        let app = cloud_app(
            &self.project,
            dir,
            app_id,
            &node.url(""),
            &self.signing,
            &self.event_key,
        );
        add_app(node, &app.serve_url());
        node.wait_synced(app_id, 21);
        app
    }
}

#[test]
fn two_nodes_on_one_postgres_share_the_runs_and_survive_a_killed_node() {
    let Some(cluster) = Cluster::new("nodes") else {
        return;
    };
    // A short call timeout keeps leases short (timeout + 30 s), so the takeover below is quick.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = cluster.node(dir_a.path(), &["--request-timeout", "2"]);
    let b = cluster.node(dir_b.path(), &["--request-timeout", "2"]);
    let app_id = "nodes-v4";
    // The app talks to node A and is synced through it; node B knows it from the database.
    let _app = cluster.app(dir_a.path(), app_id, &a);
    b.wait_synced(app_id, 21);
    let fid = format!("{app_id}-step-chain");

    // Events sent to either node start runs that finish once each, whichever node runs them.
    let mut runs = Vec::new();
    for i in 0..20 {
        let node = if i % 2 == 0 { &a } else { &b };
        let id = node.send(event("test/chain", json!({"start": i})));
        runs.push((id, i));
    }
    for (event_id, start) in &runs {
        completed_chain(&b, &b.run_for(event_id, &fid), *start);
    }
    assert_eq!(
        a.runs_of(&fid).len(),
        20,
        "one run per event, seen from node A"
    );

    // Kill node A while work is queued: node B finishes everything, including any step A had
    // leased when it died.
    let mut late = Vec::new();
    for i in 100..120 {
        let id = a.send(event("test/chain", json!({"start": i})));
        late.push((id, i));
    }
    a.proc.kill();
    for (event_id, start) in &late {
        let run = poll(
            &format!("a run for event {event_id}"),
            Duration::from_secs(60),
            || {
                b.event_runs(event_id)
                    .into_iter()
                    .find(|r| r["function_id"] == fid.as_str())
                    .map(|r| r["run_id"].as_str().unwrap().to_owned())
            },
        );
        let done = b.finished(&run, Duration::from_secs(90));
        assert_status(&done, "Completed");
        assert_eq!(done["output"]["a"], *start, "{}", pretty(&done));
    }
    assert_eq!(
        b.runs_of(&fid).len(),
        40,
        "one run per event after the takeover"
    );
}

#[test]
fn a_node_stopped_with_sigterm_hands_its_unfinished_calls_to_the_next_node() {
    let Some(cluster) = Cluster::new("drain") else {
        return;
    };
    // The default request timeout makes leases 150 s long, far beyond the deadlines below: the
    // run can only finish in time if node A hands its call back as it stops.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = cluster.node(dir_a.path(), &["--shutdown-timeout", "1"]);
    let app_id = "drain-v4";
    let _app = cluster.app(dir_a.path(), app_id, &a);

    let event_id = a.send(event("test/slow", json!({"ms": 5000})));
    let run_id = a.run_for(&event_id, &format!("{app_id}-slow"));
    poll(
        "node A calling the slow step",
        Duration::from_secs(30),
        || {
            a.proc
                .log_text()
                .lines()
                .any(|l| l.contains("calling the app") && l.contains(&run_id))
                .then_some(())
        },
    );
    let status = Command::new("kill")
        .args(["-TERM", &a.proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(code) = a.proc.child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "node A did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "node A exited with {code:?}");
    let log = a.proc.log_text();
    assert!(
        log.contains("queue items handed back"),
        "node A handed its call back:\n{log}"
    );
    assert!(
        log.contains("stepped down as scheduler"),
        "node A gave up scheduling:\n{log}"
    );

    let b = cluster.node(dir_b.path(), &["--shutdown-timeout", "1"]);
    let run = b.finished(&run_id, Duration::from_secs(60));
    assert_status(&run, "Completed");
    assert_eq!(run["output"], "late", "{}", pretty(&run));
}
