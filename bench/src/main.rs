//! Sluice's benchmarks. One command runs one benchmark and prints a table:
//!
//! ```text
//! cargo run --release -p sluice-bench -- ingest
//! ```
//!
//! Figures depend on the machine; each run prints the core count. Medians of several rounds are
//! reported because shared machines are noisy.

mod dashboard;
mod ingest;
mod load;
mod process;
mod report;
mod runs;
mod webhooks;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Sluice benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The dashboard's runs list over 100,000 seeded runs: server time per page, median and p95.
    Dashboard(dashboard::Args),
    /// Event API throughput and latency: single events from 64 connections, and batches of 100.
    Ingest(ingest::Args),
    /// Signed Clerk deliveries to /webhooks/{source} from 64 senders: the clerk preset and a JS
    /// transform; deliveries/s, p50, p99.
    Webhooks(webhooks::Args),
    /// A 3-step function in a real Node app, triggered by 10,000 events: runs/s and latency.
    Runs(runs::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().bench {
        Bench::Dashboard(args) => dashboard::run(args),
        Bench::Ingest(args) => ingest::run(args),
        Bench::Webhooks(args) => webhooks::run(args),
        Bench::Runs(args) => runs::run(args),
    }
}
