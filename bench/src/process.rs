//! The release `sluice` binary as a separate process, so that a benchmark measures the server a
//! user runs, and the load generator does not share its runtime.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SluiceProcess {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

impl SluiceProcess {
    /// Builds the release binary (a no-op when it is fresh), then starts `sluice dev` on a free
    /// port with a new data directory, and waits until it answers.
    pub fn start_dev() -> anyhow::Result<Self> {
        Self::start(&["dev", "--no-discovery"])
    }

    /// `sluice start` on the PostgreSQL database at `database_url`, with event key `bench`.
    pub fn start_postgres(database_url: &str) -> anyhow::Result<Self> {
        Self::start(&[
            "start",
            "--host",
            "127.0.0.1",
            "--event-key",
            "bench",
            "--signing-key",
            "signkey-bench-00",
            "--database-url",
            database_url,
        ])
    }

    fn start(mode_args: &[&str]) -> anyhow::Result<Self> {
        let binary = build_release_binary()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("sluice-bench-{}", ulid::Ulid::new()));
        let child = Command::new(&binary)
            .args(mode_args)
            .args(["--log", "warn", "--port"])
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary.display()))?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut process = SluiceProcess { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = process.child.try_wait()? {
                anyhow::bail!("sluice exited at start-up: {status}");
            }
            anyhow::ensure!(Instant::now() < deadline, "sluice did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's user + system CPU time so far, in seconds, from `/proc` (Linux only).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / clock_ticks())
    }
}

/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux this runs on.
fn clock_ticks() -> f64 {
    100.0
}

impl Drop for SluiceProcess {
    fn drop(&mut self) {
        // SIGTERM lets it drain and checkpoint; kill if it does not exit in time.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `cargo build --release -p sluice --bin sluice`, and the path of the binary it made.
fn build_release_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "sluice", "--bin", "sluice"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    anyhow::ensure!(status.success(), "building the sluice binary failed");
    let exe = std::env::current_exe()?;
    let binary = exe
        .parent()
        .map(|d| d.join("sluice"))
        .filter(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("no sluice binary beside {}", exe.display()))?;
    Ok(binary)
}
