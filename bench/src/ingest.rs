//! Event API benchmark: the release `sluice dev` binary (SQLite, fsync on) in its own process,
//! driven over loopback by the lean load generator in [`crate::load`].
//!
//! A peer row, `GET /health` on the same server, shows what plain HTTP costs on this machine at
//! this moment, so the event rows can be read as a ratio to it as well as in absolute figures.

use std::time::Duration;

use crate::load::{self, post_json};
use crate::process::SluiceProcess;
use crate::report::{cores, load_average, median, table};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Rounds per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent connections for single events and the HTTP peer.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent connections for batches of 100.
    #[arg(long, default_value_t = 8)]
    batch_connections: usize,
    /// Run `sluice start` on a fresh PostgreSQL database (on SLUICE_TEST_DATABASE_URL's server,
    /// default postgres://postgres@127.0.0.1:5432) instead of `sluice dev` on SQLite.
    #[arg(long)]
    postgres: bool,
}

struct Scenario {
    label: &'static str,
    conns: usize,
    events_per_request: usize,
    request: Vec<u8>,
}

struct Round {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cores: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (server, store) = if args.postgres {
        let url = tokio::runtime::Runtime::new()?
            .block_on(sluice_store::testing::fresh_postgres_url("bench"))
            .ok_or_else(|| anyhow::anyhow!("PostgreSQL is unreachable"))?;
        (
            SluiceProcess::start_postgres(&url)?,
            "`sluice start` on PostgreSQL",
        )
    } else {
        (
            SluiceProcess::start_dev()?,
            "`sluice dev` on SQLite (fsync on: synchronous=FULL, WAL)",
        )
    };
    println!(
        "ingest benchmark: {} cores, load average {}, release {store} in its own process, \
         {} s x {} rounds, medians",
        cores(),
        load_average(),
        args.secs,
        args.rounds
    );
    let single = br#"{"name":"bench/single","data":{"user":{"id":"u_123","email":"a@example.com","public_metadata":{}}}}"#;
    let batch: Vec<serde_json::Value> = (0..100)
        .map(
            |i| serde_json::json!({"name": "bench/batch", "data": {"i": i, "public_metadata": {}}}),
        )
        .collect();
    let scenarios = [
        Scenario {
            label: "peer: GET /health",
            conns: args.connections,
            events_per_request: 0,
            request: b"GET /health HTTP/1.1\r\nhost: bench\r\n\r\n".to_vec(),
        },
        Scenario {
            label: "single events",
            conns: args.connections,
            events_per_request: 1,
            request: post_json("/e/bench", &[], single),
        },
        Scenario {
            label: "batches of 100",
            conns: args.batch_connections,
            events_per_request: 100,
            request: post_json("/e/bench", &[], &serde_json::to_vec(&batch)?),
        },
    ];

    let mut rows = Vec::new();
    let mut peer_rps = None;
    for s in &scenarios {
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            let cpu_before = server.cpu_seconds();
            let request = s.request.clone();
            let out = load::run(
                server.addr,
                s.conns,
                Duration::from_secs(args.secs),
                load::by_status,
                move |_, _| request.clone(),
            )?;
            out.ensure_only(&[])?;
            let server_cores = match (cpu_before, server.cpu_seconds()) {
                (Some(a), Some(b)) => (b - a) / out.elapsed.as_secs_f64(),
                _ => f64::NAN,
            };
            rounds.push(Round {
                requests_per_sec: out.ok_per_sec(),
                p50_ms: out.p50_ms(),
                p99_ms: out.p99_ms(),
                server_cores,
            });
        }
        let rps = median(rounds.iter().map(|r| r.requests_per_sec).collect());
        let peer = *peer_rps.get_or_insert(rps);
        rows.push(vec![
            s.label.to_string(),
            s.conns.to_string(),
            format!("{rps:.0}"),
            if s.events_per_request == 0 {
                "-".into()
            } else {
                format!("{:.0}", rps * s.events_per_request as f64)
            },
            format!("{:.2}", rps / peer),
            format!("{:.2}", median(rounds.iter().map(|r| r.p50_ms).collect())),
            format!("{:.2}", median(rounds.iter().map(|r| r.p99_ms).collect())),
            format!(
                "{:.2}",
                median(rounds.iter().map(|r| r.server_cores).collect())
            ),
        ]);
    }
    table(
        &[
            "scenario",
            "connections",
            "requests/s",
            "events/s",
            "requests vs peer",
            "p50 ms",
            "p99 ms",
            "server CPU (cores)",
        ],
        &rows,
    );
    println!("load average after: {}", load_average());
    Ok(())
}
