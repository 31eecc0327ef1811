//! `sluice webhooks` as a user runs it, against a real `sluice dev`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sluice");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A running `sluice dev`, killed on drop.
struct Sluice {
    child: Child,
    url: String,
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sluice(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn start_dev(dir: &Path) -> Sluice {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = sluice(dir)
        .args(["dev", "--port", &port.to_string()])
        .spawn()
        .expect("spawn sluice");
    let stdout = child.stdout.take().unwrap();
    // Owned by the guard from here, so a failed start still kills and reaps the child.
    let server = Sluice {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "sluice did not start");
        let line = lines.next().expect("sluice exited early").unwrap();
        if line.contains("listening on ") {
            std::thread::spawn(move || for _ in lines {});
            return server;
        }
    }
}

/// Runs `sluice webhooks <args>` against `server` (through SLUICE_URL).
fn webhooks(dir: &Path, server: &Sluice, args: &[&str]) -> Output {
    sluice(dir)
        .env("SLUICE_URL", &server.url)
        .arg("webhooks")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn sources_are_managed_and_deliveries_inspected_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_dev(dir.path());
    let d = dir.path();

    let out = ok(webhooks(
        d,
        &server,
        &["add", "clerk", "--preset", "clerk", "--secret", SECRET],
    ));
    assert!(
        out.contains(&format!("URL:        {}/webhooks/clerk", server.url)),
        "{out}"
    );
    assert!(
        out.contains("whsec_********") && !out.contains(&SECRET[6..]),
        "{out}"
    );
    assert!(out.contains("preset clerk, standard_webhooks"), "{out}");

    let refused = webhooks(
        d,
        &server,
        &["add", "bad", "--preset", "clerk", "--secret", "not-a-whsec"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("secret #0"));

    ok(webhooks(
        d,
        &server,
        &["add", "open", "--preset", "generic"],
    ));
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/webhooks/open", server.url))
        .header("content-type", "application/json")
        .body(r#"{"type":"ping","n":1}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().unwrap();
    let delivery = v["delivery"].as_str().unwrap().to_owned();

    let list = ok(webhooks(d, &server, &["list"]));
    assert!(list.contains("clerk") && list.contains("open"), "{list}");
    assert!(list.contains("1 accepted"), "{list}");
    let history = ok(webhooks(d, &server, &["deliveries", "open"]));
    assert!(
        history.contains(&delivery) && history.contains("accepted"),
        "{history}"
    );
    let full = ok(webhooks(d, &server, &["delivery", "open", &delivery]));
    assert!(full.contains(r#"{"type":"ping","n":1}"#), "{full}");

    let transform = d.join("t.js");
    std::fs::write(
        &transform,
        "function transform(evt) { return { name: `ping/${evt.type}`, data: { n: evt.n } }; }",
    )
    .unwrap();
    let tried = ok(webhooks(
        d,
        &server,
        &[
            "test",
            "open",
            "--transform-file",
            transform.to_str().unwrap(),
            "--delivery",
            &delivery,
        ],
    ));
    assert!(tried.contains("\"ping/ping\""), "{tried}");
    let replayed = ok(webhooks(d, &server, &["replay", "open", &delivery]));
    assert!(replayed.contains("1 event(s)"), "{replayed}");

    ok(webhooks(
        d,
        &server,
        &["update", "clerk", "--tolerance-secs", "60"],
    ));
    let shown = ok(webhooks(d, &server, &["show", "clerk"]));
    assert!(shown.contains("tolerance:  60 s"), "{shown}");
    ok(webhooks(d, &server, &["remove", "clerk"]));
    let gone = webhooks(d, &server, &["show", "clerk"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no webhook source"));
}
