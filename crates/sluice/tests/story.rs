//! The story Sluice was built for, end to end: the example app `examples/clerk-user-sync`
//! (Express, the real `inngest` v4 package, a SQLite users table, real SMTP to a local sink) runs
//! against the real `sluice` binary. The first insert fails on purpose (`FAIL_INSERT_ONCE=1`), and
//! the run must still complete with exactly one retry of that one step and exactly one email.
//!
//! The first test sends `clerk/user.created` through the event API; the second goes through the
//! front door, a Clerk delivery signed with the real `svix` package and posted to
//! `/webhooks/clerk`, then follows the user through `user.updated`, `user.deleted` and a
//! redelivery of `user.created`.

mod sdk;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sdk::*;
use serde_json::{json, Value};

const APP: &str = "clerk-user-sync";
const USER: &str = "user_29w83sxmDNGwOuEthce5gg56FcC";
const EMAIL: &str = "example@example.org";
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// Sluice and the example app, synced; drops in field order.
struct Story {
    sluice: Sluice,
    app: App,
    mail_log: PathBuf,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Story {
    fn start() -> Option<Story> {
        let project = node_project("examples/clerk-user-sync", "better-sqlite3")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mail_log = dir.path().join("mail.jsonl");
        let app = start_app(
            APP,
            &project,
            "node",
            &["src/server.js"],
            &[
                ("INNGEST_DEV", format!("http://127.0.0.1:{port}")),
                ("SMTP_PORT", free_port().to_string()),
                (
                    "DATABASE_PATH",
                    dir.path().join("users.db").display().to_string(),
                ),
                ("MAIL_LOG", mail_log.display().to_string()),
                ("FAIL_INSERT_ONCE", "1".to_owned()),
            ],
            dir.path(),
        );
        let sluice = Sluice::start(dir.path(), port, &[app.serve_url()], &[]);
        sluice.wait_synced(APP, 3);
        Some(Story {
            sluice,
            app,
            mail_log,
            http: http_client(),
            _dir: dir,
        })
    }

    /// The app's own view of a user row: `GET /users/{id}` (None on 404).
    fn user(&self, id: &str) -> Option<Value> {
        let resp = self
            .http
            .get(format!("http://127.0.0.1:{}/users/{id}", self.app.port))
            .send()
            .unwrap();
        match resp.status().as_u16() {
            200 => Some(resp.json().unwrap()),
            404 => None,
            other => panic!("GET /users/{id} answered {other}"),
        }
    }

    /// Every message the SMTP sink received.
    fn mails(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.mail_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The create-user run completed as the story says: `insert-user` failed once and then
    /// succeeded, `send-welcome-email` ran once, the mail arrived, the output is `{userId}`.
    fn check_created(&self, run_id: &str) {
        let run = self.sluice.finished(run_id, RUN_DEADLINE);
        assert_status(&run, "Completed");
        assert_eq!(run["output"], json!({"userId": USER}), "{}", pretty(&run));

        let insert = step_entries(&run, "insert-user");
        let statuses: Vec<&str> = insert
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["error", "ok"],
            "insert-user ran twice, failing first:\n{}",
            pretty(&run)
        );
        assert_eq!(
            insert
                .iter()
                .map(|e| e["attempt"].clone())
                .collect::<Vec<_>>(),
            [json!(0), json!(1)],
            "{}",
            pretty(&run)
        );
        assert!(
            insert[0]["error"].to_string().contains("FAIL_INSERT_ONCE"),
            "the failed attempt keeps the app's error:\n{}",
            pretty(&run)
        );
        let email = step_entries(&run, "send-welcome-email");
        assert_eq!(
            email.len(),
            1,
            "send-welcome-email ran once:\n{}",
            pretty(&run)
        );
        assert_eq!(email[0]["status"], "ok", "{}", pretty(&run));

        let mails = self.mails();
        assert_eq!(mails.len(), 1, "one welcome email: {mails:?}");
        assert_eq!(mails[0]["to"], json!([EMAIL]), "{mails:?}");
        assert!(
            mails[0]["raw"]
                .as_str()
                .unwrap()
                .contains("Subject: Welcome!"),
            "{mails:?}"
        );

        let user = self.user(USER).expect("the user is in the app's database");
        assert_eq!(user["email"], EMAIL, "{user}");
        assert_eq!(user["first_name"], "Example", "{user}");
    }
}

/// A sample Clerk delivery body from examples/clerk-user-sync/fixtures.
fn fixture(name: &str) -> Value {
    let path = repo_root()
        .join("examples/clerk-user-sync/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn user_created_through_the_event_api_retries_the_failed_insert_and_sends_one_email() {
    let Some(story) = Story::start() else {
        return;
    };
    let created = fixture("clerk-user.created.json");
    let event_id = story
        .sluice
        .send(json!({"name": "clerk/user.created", "data": created["data"]}));
    let run = story
        .sluice
        .run_for(&event_id, &format!("{APP}-create-user"));
    story.check_created(&run);
}

/// Signs `body` as Svix (and so Clerk) does, with the real `svix` package, through
/// crates/sluice-webhooks/tests/js/sign.mjs.
fn svix_headers(signer: &Path, secret: &str, id: &str, body: &str) -> Vec<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = json!([{
        "scheme": "svix", "id": id, "timestamp": now, "secret": secret, "body": body,
    }]);
    let mut child = Command::new("node")
        .arg("sign.mjs")
        .current_dir(signer)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    signed[0]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn signed_clerk_webhooks_keep_the_users_table_in_sync() {
    let Some(signer) = node_project("crates/sluice-webhooks/tests/js", "svix") else {
        return;
    };
    let Some(story) = Story::start() else {
        return;
    };
    let s = &story.sluice;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (status, body) = s.post(
        "/v1/webhooks",
        &json!({"name": "clerk", "preset": "clerk", "secrets": [secret]}),
    );
    assert_eq!(status, 201, "create the clerk source: {body}");

    let deliver = |svix_id: &str, envelope: &Value| -> Value {
        let body = serde_json::to_string(envelope).unwrap();
        let mut request = story
            .http
            .post(s.url("/webhooks/clerk"))
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in svix_headers(&signer, secret, svix_id, &body) {
            request = request.header(k, v);
        }
        let resp = request.send().unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().unwrap();
        assert_eq!(status, 200, "delivery {svix_id}: {answer}");
        answer
    };
    let only_event = |answer: &Value| -> String {
        let ids = answer["ids"]
            .as_array()
            .expect("the answer lists the events");
        assert_eq!(ids.len(), 1, "{answer}");
        ids[0].as_str().unwrap().to_owned()
    };

    // 1–3: user.created becomes clerk/user.created, and the story runs.
    let answer = deliver("msg_story_created", &fixture("clerk-user.created.json"));
    let event_id = only_event(&answer);
    let (_, stored) = s.get(&format!("/v1/events/{event_id}"));
    assert_eq!(stored["data"]["name"], "clerk/user.created", "{stored}");
    let created = s.run_for(&event_id, &format!("{APP}-create-user"));
    story.check_created(&created);

    // 4: user.updated updates the row.
    let answer = deliver("msg_story_updated", &fixture("clerk-user.updated.json"));
    let run = s.run_for(&only_event(&answer), &format!("{APP}-update-user"));
    let run = s.finished(&run, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"userId": USER, "updated": true}),
        "{}",
        pretty(&run)
    );
    assert_eq!(story.user(USER).unwrap()["first_name"], "Changed");

    // 5: user.deleted removes it.
    let answer = deliver("msg_story_deleted", &fixture("clerk-user.deleted.json"));
    let run = s.run_for(&only_event(&answer), &format!("{APP}-delete-user"));
    let run = s.finished(&run, RUN_DEADLINE);
    assert_status(&run, "Completed");
    assert_eq!(
        run["output"],
        json!({"userId": USER, "deleted": true}),
        "{}",
        pretty(&run)
    );
    assert_eq!(story.user(USER), None, "the user row is gone");

    // 6: Svix redelivers user.created (same svix-id, fresh signature): 200, and nothing changes.
    let answer = deliver("msg_story_created", &fixture("clerk-user.created.json"));
    assert_eq!(answer["duplicate"], true, "{answer}");
    assert_eq!(
        only_event(&answer),
        event_id,
        "it points at the original event"
    );
    // A later event's run proves the scheduler has passed the redelivery.
    let barrier = s.send(json!({"name": "clerk/user.updated", "data": {"id": "user_barrier"}}));
    let barrier_run = s.run_for(&barrier, &format!("{APP}-update-user"));
    s.finished(&barrier_run, RUN_DEADLINE);
    let create_runs = s.runs_of(&format!("{APP}-create-user"));
    assert_eq!(
        create_runs.len(),
        1,
        "no second create-user run: {create_runs:?}"
    );
    assert_eq!(story.user(USER), None, "the deleted user stays deleted");
    assert_eq!(story.mails().len(), 1, "no second welcome email");
    let (_, deliveries) = s.get("/v1/webhooks/clerk/deliveries?outcome=duplicate");
    assert_eq!(
        deliveries["data"].as_array().map(Vec::len),
        Some(1),
        "the redelivery is recorded as a duplicate: {deliveries}"
    );
}
