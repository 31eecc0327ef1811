//! Run benchmark: a 3-step function in a real Node app (the `inngest` npm package, bench/app),
//! triggered by N events, against an in-process Sluice (server + engine, SQLite with fsync).
//! Reports completed runs/s and event-to-completion latency.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_server::{AppState, ServerConfig};
use sluice_store::RunQuery;

use crate::report::{cores, table};

#[derive(clap::Args)]
pub struct Args {
    /// Events to send (one run each).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let app_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app");
    if !app_dir.join("node_modules/inngest").exists() {
        eprintln!(
            "installing the bench app's packages (npm ci in {})",
            app_dir.display()
        );
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&app_dir)
            .status()
            .map_err(|e| anyhow::anyhow!("could not run npm (is Node.js installed?): {e}"))?;
        anyhow::ensure!(status.success(), "`npm ci` in {} failed", app_dir.display());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let dir = std::env::temp_dir().join(format!("sluice-bench-runs-{}", ulid::Ulid::new()));
        let store = sluice_store::open(dir.to_str().unwrap()).await?;
        let engine = Arc::new(sluice_engine::Engine::start(
            store.clone(),
            sluice_engine::Config::default(),
            Arc::new(sluice_engine::SystemClock),
        )?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(ServerConfig::default(), store.clone()).with_engine(engine.clone()));
        tokio::spawn(sluice_server::serve(listener, state, std::future::pending()));

        let app_port = free_port()?;
        let _app = KillOnDrop(
            Command::new("node")
                .arg("server.mjs")
                .current_dir(&app_dir)
                .env("PORT", app_port.to_string())
                .env("INNGEST_DEV", format!("http://{addr}"))
                .stdout(Stdio::null())
                .spawn()?,
        );
        let client = reqwest::Client::new();
        let app_url = format!("http://127.0.0.1:{app_port}/api/inngest");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let synced = client.put(&app_url).send().await.map(|r| r.status().is_success()).unwrap_or(false);
            if synced {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the bench app did not sync");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        println!(
            "run benchmark: {} cores, {} events -> 3-step function in Node (inngest 4.24.0), SQLite with fsync",
            cores(),
            args.events
        );
        let started = Instant::now();
        let url = format!("http://{addr}/e/bench");
        for chunk in (0..args.events).collect::<Vec<_>>().chunks(args.batch) {
            let evs: Vec<serde_json::Value> =
                chunk.iter().map(|i| serde_json::json!({"name": "bench/run", "data": {"i": i}})).collect();
            let resp = client.post(&url).json(&evs).send().await?;
            anyhow::ensure!(resp.status().is_success(), "send failed: {}", resp.status());
        }
        let sent = started.elapsed();
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let stats = store.function_stats("bench-three-steps", 0).await?;
            let done: u64 = stats.iter().filter(|(s, _)| s == "Completed").map(|(_, n)| n).sum();
            let failed: u64 = stats.iter().filter(|(s, _)| s == "Failed").map(|(_, n)| n).sum();
            anyhow::ensure!(failed == 0, "{failed} runs failed");
            if done as usize >= args.events {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "runs did not complete: {done}/{}", args.events);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();

        let mut latencies = Vec::with_capacity(args.events);
        let mut cursor = None;
        loop {
            let page = store
                .list_runs(RunQuery { cursor, limit: 1000, ..RunQuery::default() })
                .await?;
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(|r| r.id);
            for r in page {
                if let (Some(end), Some(ev)) = (r.ended_at_ms, r.event_id) {
                    latencies.push((end - ev.timestamp_ms() as i64) as f64);
                }
            }
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
        table(
            &["events", "send time s", "total s", "completed runs/s", "p50 event→done ms", "p99 event→done ms"],
            &[vec![
                args.events.to_string(),
                format!("{:.1}", sent.as_secs_f64()),
                format!("{:.1}", elapsed.as_secs_f64()),
                format!("{:.0}", args.events as f64 / elapsed.as_secs_f64()),
                format!("{:.0}", pct(0.5)),
                format!("{:.0}", pct(0.99)),
            ]],
        );
        engine.shutdown().await;
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        anyhow::Ok(())
    })
}
