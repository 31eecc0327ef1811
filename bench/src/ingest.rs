//! Event API benchmark: a real Sluice server (SQLite, fsync on) in this process on its own runtime,
//! driven over loopback HTTP by a client runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_server::{AppState, ServerConfig};

use crate::report::{cores, median, new_histogram, table};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Rounds per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
}

struct Round {
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sluice-bench-{}", ulid::Ulid::new()));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let addr = server_rt.block_on(async {
        let store = sluice_store::open(dir.to_str().unwrap()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(ServerConfig::default(), store));
        tokio::spawn(sluice_server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        anyhow::Ok(addr)
    })?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let url = format!("http://{addr}/e/bench");
    println!(
        "ingest benchmark: {} cores, SQLite with fsync (synchronous=FULL, WAL), {} s x {} rounds",
        cores(),
        args.secs,
        args.rounds
    );

    let mut rows = Vec::new();
    for (label, batch, conns) in [
        ("single events", 1usize, args.connections),
        ("batches of 100", 100, 8),
    ] {
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            rounds.push(client_rt.block_on(load(
                &url,
                batch,
                conns,
                Duration::from_secs(args.secs),
            ))?);
        }
        rows.push(vec![
            label.to_string(),
            conns.to_string(),
            format!(
                "{:.0}",
                median(rounds.iter().map(|r| r.events_per_sec).collect())
            ),
            format!("{:.2}", median(rounds.iter().map(|r| r.p50_ms).collect())),
            format!("{:.2}", median(rounds.iter().map(|r| r.p99_ms).collect())),
        ]);
    }
    table(
        &[
            "scenario",
            "connections",
            "events/s (median)",
            "p50 ms",
            "p99 ms",
        ],
        &rows,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn load(url: &str, batch: usize, conns: usize, dur: Duration) -> anyhow::Result<Round> {
    let body: Vec<u8> = if batch == 1 {
        br#"{"name":"bench/single","data":{"user":{"id":"u_123","email":"a@example.com","public_metadata":{}}}}"#.to_vec()
    } else {
        let evs: Vec<serde_json::Value> = (0..batch)
            .map(|i| serde_json::json!({"name": "bench/batch", "data": {"i": i, "public_metadata": {}}}))
            .collect();
        serde_json::to_vec(&evs)?
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let (url, body, stop) = (url.to_owned(), body.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut failures = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        hist.record(t.elapsed().as_micros().max(1) as u64).ok();
                    }
                    _ => failures += 1,
                }
            }
            (hist, failures)
        }));
    }
    tokio::time::sleep(dur).await;
    stop.store(true, Ordering::Relaxed);
    let mut hist = new_histogram();
    let mut failures = 0;
    for t in tasks {
        let (h, f) = t.await?;
        hist.add(h)?;
        failures += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(failures == 0, "{failures} requests failed");
    Ok(Round {
        events_per_sec: hist.len() as f64 * batch as f64 / elapsed,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
    })
}
