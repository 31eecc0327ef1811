//! Shared by the end-to-end tests (`story`, `sdk_js`, `sdk_python`): the real `sluice` binary and
//! real apps written with the real SDKs, each on a free port with its own temporary directory,
//! all killed on drop. Waiting is polling the REST API with a deadline, never a bare sleep.
//!
//! Every child writes its output to a log file in the test's directory; when a test fails, the
//! tail of each log is printed, so a failure in CI says what Sluice and the app were doing.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod fake;

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// The repository root (`crates/sluice` is two levels down).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a test that needs `what` may run. Outside CI, a missing dependency skips the test with
/// a printed reason; in CI (`CI` set) it fails, so a broken install never passes silently.
pub fn available(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing, and CI is set: run `bash .ci/run` to install it");
    }
    eprintln!("skipping: {what} is missing (run `bash .ci/run` to install test dependencies)");
    false
}

fn command_works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Node and the npm packages of the project at `dir` (relative to the repo root).
pub fn node_project(dir: &str, package: &str) -> Option<PathBuf> {
    let path = repo_root().join(dir);
    let ok =
        command_works("node", &["--version"]) && path.join("node_modules").join(package).exists();
    available(
        &format!("node, or `npm ci` in {dir} (the {package} package)"),
        ok,
    )
    .then_some(path)
}

/// Python 3 with the packages of requirements-test.txt.
pub fn python_packages() -> bool {
    let ok = command_works("python3", &["-c", "import inngest, flask"]);
    available(
        "python3 with `pip install -r requirements-test.txt` (inngest, flask)",
        ok,
    )
}

/// A child process whose output goes to `log`; killed on drop, its log tail printed if the test
/// is failing.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let err = out.try_clone().unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// SIGKILL, the way a crash or an OOM kill ends a process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "---- last {} lines of {} ({}) ----\n{}\n----",
                tail.len(),
                self.name,
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_port(port: u16, proc: &mut Proc, within: Duration) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + within;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!(
                "{} exited ({status}) before listening on {port}:\n{}",
                proc.name,
                proc.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {port} within {within:?}",
            proc.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `within`.
pub fn poll<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `sluice dev` or `sluice start` on a fixed port over a data directory that outlives
/// restarts.
pub struct Sluice {
    pub proc: Proc,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    http: reqwest::blocking::Client,
    /// The key in `/e/{key}`; any key works in dev mode.
    pub event_key: String,
    /// Sent as `Authorization: Bearer …` on every REST call (start mode's signing key).
    pub bearer: Option<String>,
}

pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Sluice {
    /// `sluice dev --port PORT --data-dir DIR --no-discovery --poll-interval 1 -u URL… ARGS…`.
    /// Discovery is off so that parallel tests never sync each other's apps. The port is chosen
    /// by the caller, because the apps must know it before Sluice starts.
    pub fn start(dir: &Path, port: u16, app_urls: &[String], extra: &[&str]) -> Sluice {
        let mut args = vec![
            "dev".to_owned(),
            "--data-dir".to_owned(),
            dir.join("sluice-data").display().to_string(),
            "--no-discovery".to_owned(),
            "--poll-interval".to_owned(),
            "1".to_owned(),
        ];
        for url in app_urls {
            args.push("-u".to_owned());
            args.push(url.clone());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(dir, port, args)
    }

    /// `sluice start --host 127.0.0.1 --data-dir DIR --event-key KEY --signing-key SIGNING ARGS…`,
    /// in production mode: REST calls carry the signing key, events go to `/e/KEY`.
    pub fn start_production(
        dir: &Path,
        port: u16,
        event_key: &str,
        signing_key: &str,
        extra: &[&str],
    ) -> Sluice {
        let mut args = vec![
            "start".to_owned(),
            "--host".to_owned(),
            "127.0.0.1".to_owned(),
            "--data-dir".to_owned(),
            dir.join("sluice-data").display().to_string(),
            "--event-key".to_owned(),
            event_key.to_owned(),
            "--signing-key".to_owned(),
            signing_key.to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut sluice = Self::spawn(dir, port, args);
        sluice.event_key = event_key.to_owned();
        sluice.bearer = Some(signing_key.to_owned());
        sluice
    }

    fn spawn(dir: &Path, port: u16, args: Vec<String>) -> Sluice {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLUICE_LOG", "info,sluice=debug")
            .args(&args)
            .args(["--port", &port.to_string()]);
        let mut proc = Proc::spawn("sluice", cmd, dir.join("sluice.log"));
        wait_port(port, &mut proc, Duration::from_secs(30));
        Sluice {
            proc,
            port,
            data_dir: dir.join("sluice-data"),
            args,
            http: http_client(),
            event_key: "test-key".to_owned(),
            bearer: None,
        }
    }

    /// SIGKILL, then the same command on the same port and data directory.
    pub fn kill_and_restart(&mut self) {
        self.proc.kill();
        let dir = self.proc.log.parent().unwrap().to_path_buf();
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLUICE_LOG", "info,sluice=debug")
            .args(&self.args)
            .args(["--port", &self.port.to_string()]);
        let log = self.proc.log.clone();
        let mut proc = Proc::spawn("sluice (restarted)", cmd, log);
        wait_port(self.port, &mut proc, Duration::from_secs(30));
        // The old Proc is already dead; replacing it must not print its log twice.
        let old = std::mem::replace(&mut self.proc, proc);
        std::mem::forget(old);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn authorized(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.bearer {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .authorized(self.http.get(self.url(path)))
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .authorized(self.http.post(self.url(path)).json(body))
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        let resp = self
            .authorized(self.http.delete(self.url(path)))
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends one event through the event API; returns its id.
    pub fn send(&self, event: Value) -> String {
        let (status, body) = self.post(&format!("/e/{}", self.event_key), &event);
        assert_eq!(status, 200, "event API refused {event}: {body}");
        body["ids"][0].as_str().unwrap().to_owned()
    }

    /// Waits until the app `app_id` is synced with at least `functions` functions.
    pub fn wait_synced(&self, app_id: &str, functions: u64) -> Value {
        poll(
            &format!("app {app_id} synced with {functions} functions"),
            Duration::from_secs(40),
            || {
                let (status, body) = self.get(&format!("/v1/apps/{app_id}"));
                let app = &body["data"];
                (status == 200 && app["function_count"].as_u64() >= Some(functions))
                    .then(|| app.clone())
            },
        )
    }

    /// The runs an event triggered.
    pub fn event_runs(&self, event_id: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/v1/events/{event_id}/runs"));
        assert_eq!(status, 200, "GET /v1/events/{event_id}/runs: {body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for the one run of `function_id` that `event_id` triggered; returns its id.
    pub fn run_for(&self, event_id: &str, function_id: &str) -> String {
        poll(
            &format!("a run of {function_id} for event {event_id}"),
            Duration::from_secs(30),
            || {
                self.event_runs(event_id)
                    .into_iter()
                    .find(|r| r["function_id"] == function_id)
                    .map(|r| r["run_id"].as_str().unwrap().to_owned())
            },
        )
    }

    /// `GET /v1/runs/{id}`'s `data`: the run with its history.
    pub fn run(&self, run_id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/runs/{run_id}"));
        assert_eq!(status, 200, "GET /v1/runs/{run_id}: {body}");
        body["data"].clone()
    }

    pub fn runs_of(&self, function_id: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/v1/runs?function_id={function_id}&limit=1000"));
        assert_eq!(
            status, 200,
            "GET /v1/runs?function_id={function_id}: {body}"
        );
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the run ends (Completed, Failed or Cancelled); returns it with its history.
    pub fn finished(&self, run_id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let last = self.run(run_id);
            if matches!(
                last["status"].as_str(),
                Some("Completed" | "Failed" | "Cancelled")
            ) {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} did not end within {within:?}; last seen:\n{}",
                pretty(&last)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Triggers `function_id` with `event` and waits for its run to end.
    pub fn trigger_and_finish(&self, event: Value, function_id: &str, within: Duration) -> Value {
        let id = self.send(event);
        let run = self.run_for(&id, function_id);
        self.finished(&run, within)
    }

    /// Waits until the run's history has an entry matching `pred` (e.g. a wait that started).
    pub fn wait_history(&self, run_id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        poll(
            &format!("run {run_id}: {what}"),
            Duration::from_secs(30),
            || {
                let run = self.run(run_id);
                run["history"]
                    .as_array()
                    .and_then(|h| h.iter().find(|e| pred(e)).cloned())
            },
        )
    }

    /// Events stored under `name`.
    pub fn events_named(&self, name: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/v1/events?name={name}&limit=100"));
        assert_eq!(status, 200, "GET /v1/events?name={name}: {body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The history entries of one step, by its name (as the user wrote it).
pub fn step_entries<'a>(run: &'a Value, name: &str) -> Vec<&'a Value> {
    run["history"]
        .as_array()
        .map(|h| h.iter().filter(|e| e["name"] == name).collect())
        .unwrap_or_default()
}

/// Asserts the run ended with `status`, printing the whole run when not.
pub fn assert_status(run: &Value, status: &str) {
    assert_eq!(
        run["status"],
        status,
        "run ended {} instead of {status}:\n{}",
        run["status"],
        pretty(run)
    );
}

/// A run's error as text, whatever shape it is stored in.
pub fn error_text(run: &Value) -> String {
    match &run["error"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A process running one of the test apps.
pub struct App {
    pub proc: Proc,
    pub port: u16,
}

impl App {
    pub fn serve_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/inngest", self.port)
    }
}

/// Starts `program args` in `cwd` with `env`, on a free port passed as `PORT`, and waits for it.
pub fn start_app(
    name: &str,
    cwd: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
    log_dir: &Path,
) -> App {
    let port = free_port();
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd)
        .args(args)
        .env("PORT", port.to_string());
    // The SDKs read these; only what the test passes may reach the app.
    for var in [
        "INNGEST_DEV",
        "INNGEST_BASE_URL",
        "INNGEST_API_BASE_URL",
        "INNGEST_EVENT_API_BASE_URL",
        "INNGEST_SIGNING_KEY",
        "INNGEST_EVENT_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut proc = Proc::spawn(name, cmd, log_dir.join(format!("{name}.log")));
    wait_port(port, &mut proc, Duration::from_secs(30));
    App { proc, port }
}

/// A unique suffix, so events and ids from one test never collide with another's.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// `{"name": name, "data": data}`.
pub fn event(name: &str, data: Value) -> Value {
    json!({ "name": name, "data": data })
}
