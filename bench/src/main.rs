//! Sluice's benchmarks. One command runs one benchmark and prints a table:
//!
//! ```text
//! cargo run --release -p sluice-bench -- ingest
//! ```
//!
//! Figures depend on the machine; each run prints the core count. Medians of several rounds are
//! reported because shared machines are noisy.

mod ingest;
mod report;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Sluice benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Event API throughput and latency: single events from 64 connections, and batches of 100.
    Ingest(ingest::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().bench {
        Bench::Ingest(args) => ingest::run(args),
    }
}
