//! The `sluice` binary: the server (`dev`, `start`) and the commands that talk to a running one.
//!
//! Configuration comes from flags, then environment variables, then a `.env` file in the working
//! directory (dotenv never overrides a variable that is already set, which gives that order).

mod apps;
mod cli;
mod client;
mod discovery;
mod runs;
mod server;
mod webhooks;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Load .env before clap reads the environment; existing variables win.
    let dotenv = dotenvy::dotenv();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Dev(args) => server::run_dev(args, dotenv.ok()).await,
            cli::Command::Start(args) => server::run_start(args, dotenv.ok()).await,
            cli::Command::Send(args) => client::send(args).await,
            cli::Command::Webhooks(args) => webhooks::run(args).await,
            cli::Command::Apps(args) => apps::run(args).await,
            cli::Command::Runs(args) => runs::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
