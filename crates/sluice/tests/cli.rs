//! The `sluice` binary as a user runs it: configuration precedence, start-up errors, graceful
//! shutdown, and durability across `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// A running `sluice` child, killed on drop.
struct Sluice {
    child: Child,
    port: u16,
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Spawns and waits for the "listening on" line; returns the port it printed.
// The child moves into `Sluice`, whose `Drop` kills and waits for it; only a failed start-up
// (which panics the test) could leave it, and the test process exits right after.
#[allow(clippy::zombie_processes)]
fn start(mut cmd: Command) -> Sluice {
    let mut child = cmd.spawn().expect("spawn sluice");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "sluice did not start");
        let line = lines
            .next()
            .expect("sluice exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            let port = rest.rsplit(':').next().unwrap().trim().parse().unwrap();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Sluice { child, port };
        }
    }
}

async fn post_event(client: &reqwest::Client, port: u16, i: usize) -> Option<String> {
    let resp = client
        .post(format!("http://127.0.0.1:{port}/e/key"))
        .json(&serde_json::json!({"name": "test/durable", "data": {"i": i, "empty": {}}}))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let v: serde_json::Value = resp.json().await.ok()?;
    Some(v["ids"][0].as_str()?.to_owned())
}

#[test]
fn start_requires_both_keys_and_names_the_flag_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice(dir.path())
        .args(["start", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--event-key") && err.contains("SLUICE_EVENT_KEY"),
        "{err}"
    );

    let out = sluice(dir.path())
        .args(["start", "--port", "0", "--event-key", "k"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--signing-key") && err.contains("SLUICE_SIGNING_KEY"),
        "{err}"
    );
}

#[test]
fn flags_beat_environment_beat_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (free_port(), free_port(), free_port());
    std::fs::write(
        dir.path().join(".env"),
        format!("SLUICE_PORT={a}\nSLUICE_DATA_DIR=from-dotenv\n"),
    )
    .unwrap();

    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.arg("dev");
        cmd
    });
    assert_eq!(s.port, a, ".env applies when nothing else is set");
    drop(s);
    assert!(dir.path().join("from-dotenv/sluice.db").exists());

    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.arg("dev").env("SLUICE_PORT", b.to_string());
        cmd
    });
    assert_eq!(s.port, b, "environment beats .env");
    drop(s);

    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["dev", "--port", &c.to_string()])
            .env("SLUICE_PORT", b.to_string());
        cmd
    });
    assert_eq!(s.port, c, "flag beats environment");
}

#[test]
fn inngest_key_variables_are_accepted_by_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["start", "--port", "0", "--host", "127.0.0.1"])
            .env("INNGEST_EVENT_KEY", "ek")
            .env("INNGEST_SIGNING_KEY", "signkey-test-abcd");
        cmd
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/e/", s.port);
        let bad = client
            .post(format!("{url}nope"))
            .json(&serde_json::json!({"name":"a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        let ok = client
            .post(format!("{url}ek"))
            .json(&serde_json::json!({"name":"a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    });
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["dev", "--port", "0"]);
        cmd
    });
    // `kill` from the shell: the crate forbids unsafe code, and libc's kill(2) would need it.
    let status = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "sluice did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["dev", "--port", "0"]);
        cmd
    });
    let port = s.port;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    // First a wave that is all acknowledged, then a second wave cut by the kill, so some writes
    // are in flight when the process dies.
    let acked: Vec<String> = rt.block_on(async {
        let wave = |from: usize| {
            (from..from + 200)
                .map(|i| {
                    let client = client.clone();
                    tokio::spawn(async move { post_event(&client, port, i).await })
                })
                .collect::<Vec<_>>()
        };
        let mut ids = Vec::new();
        for t in wave(0) {
            ids.push(
                t.await
                    .unwrap()
                    .expect("sluice is up: every send is acknowledged"),
            );
        }
        let second = wave(200);
        tokio::time::sleep(Duration::from_millis(15)).await;
        let pid = s.child.id().to_string();
        Command::new("kill").args(["-KILL", &pid]).status().unwrap();
        for t in second {
            if let Some(id) = t.await.unwrap() {
                ids.push(id);
            }
        }
        ids
    });
    drop(s);
    assert!(acked.len() >= 200);

    let s2 = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["dev", "--port", "0"]);
        cmd
    });
    rt.block_on(async {
        for id in &acked {
            let resp = client
                .get(format!("http://127.0.0.1:{}/v1/events/{id}", s2.port))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "acknowledged event {id} was lost");
            let text = resp.text().await.unwrap();
            assert!(text.contains(r#""empty":{}"#));
        }
    });
}

#[test]
fn send_command_delivers_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = start({
        let mut cmd = sluice(dir.path());
        cmd.args(["dev", "--port", "0"]);
        cmd
    });
    let url = format!("http://127.0.0.1:{}", s.port);
    let out = sluice(dir.path())
        .args(["send", "app/hello", "--data", r#"{"who":"world","m":{}}"#])
        .env("SLUICE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let text = reqwest::blocking::get(format!("{url}/v1/events/{id}"))
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains(r#""data":{"who":"world","m":{}}"#), "{text}");

    let out = sluice(dir.path())
        .args(["send", "x", "--data", "{oops", "--url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data is not valid JSON"));
}
