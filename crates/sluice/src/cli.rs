//! Command-line flags. Every flag has an environment variable; `.env` fills what neither sets.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "Durable functions and webhooks, self-hosted. Speaks the Inngest SDK protocol.",
    long_about = "Sluice receives events (the event API, signed webhooks, cron) and runs durable \
functions in reaction, calling your app over the Inngest SDK protocol.\n\n\
Start locally with `sluice dev`; run in production with `sluice start`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a local development server: embedded SQLite under ./.sluice, no keys, app discovery.
    Dev(DevArgs),
    /// Run in production: event and signing keys required; SQLite or PostgreSQL.
    Start(StartArgs),
    /// Send an event to a running Sluice.
    Send(SendArgs),
    /// List, inspect, sync and remove apps on a running Sluice.
    Apps(crate::apps::AppsArgs),
    /// Create and manage webhook sources; read, replay and test their deliveries.
    Webhooks(crate::webhooks::WebhooksArgs),
    /// List, show, cancel and rerun runs on a running Sluice.
    Runs(crate::runs::RunsArgs),
}

/// Flags shared by `dev` and `start`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, short = 'p', env = "SLUICE_PORT", default_value_t = 8288)]
    pub port: u16,
    /// Directory for the embedded SQLite database.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".sluice")]
    pub data_dir: PathBuf,
    /// Largest request body on the event API, in bytes.
    #[arg(long, env = "SLUICE_MAX_BODY_BYTES", default_value_t = 3 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest single event, in bytes.
    #[arg(long, env = "SLUICE_MAX_EVENT_BYTES", default_value_t = 512 * 1024)]
    pub max_event_bytes: usize,
    /// Longest a call to an app may take, in seconds.
    #[arg(long, env = "SLUICE_REQUEST_TIMEOUT", default_value_t = 120)]
    pub request_timeout: u64,
    /// Most calls to apps this node makes at once; more due steps wait in the queue, oldest
    /// run first.
    #[arg(long, env = "SLUICE_MAX_IN_FLIGHT", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_in_flight: u32,
    /// On SIGTERM or Ctrl-C, how long calls in flight may take to finish, in seconds; the work
    /// of those still running is then handed back to the queue for the next node or process.
    #[arg(long, env = "SLUICE_SHUTDOWN_TIMEOUT", default_value_t = 20)]
    pub shutdown_timeout: u64,
    /// Largest webhook delivery body, in bytes.
    #[arg(long, env = "SLUICE_WEBHOOK_MAX_BODY_BYTES", default_value_t = 3 * 1024 * 1024)]
    pub webhook_max_body_bytes: usize,
    /// Webhook deliveries processed at once; past it senders get 503 with Retry-After.
    #[arg(long, env = "SLUICE_WEBHOOK_MAX_IN_FLIGHT", default_value_t = 256)]
    pub webhook_max_in_flight: usize,
    /// Public base URL shown for webhook sources (e.g. https://hooks.example.com) when Sluice is
    /// behind a proxy or tunnel.
    #[arg(long, env = "SLUICE_WEBHOOK_PUBLIC_URL")]
    pub webhook_public_url: Option<String>,
    /// Allow webhook sources with the `none` scheme (no signature check) outside dev mode.
    #[arg(long, env = "SLUICE_ALLOW_UNSIGNED_WEBHOOKS")]
    pub allow_unsigned_webhooks: bool,
    /// Largest output of one step, in bytes; a bigger one fails the run.
    #[arg(long, env = "SLUICE_MAX_STEP_OUTPUT_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_step_output_bytes: usize,
    /// Largest total of a run's step results, in bytes.
    #[arg(long, env = "SLUICE_MAX_RUN_STATE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_run_state_bytes: usize,
    /// Most steps one run may have.
    #[arg(long, env = "SLUICE_MAX_STEPS", default_value_t = 1000)]
    pub max_steps: usize,
    /// Log filter, e.g. `info` or `sluice=debug`.
    #[arg(long, env = "SLUICE_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Args, Debug)]
pub struct DevArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Address to bind. Dev mode is open, so it binds to loopback unless told otherwise.
    #[arg(long, env = "SLUICE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[command(flatten)]
    pub discovery: crate::discovery::DiscoveryArgs,
    /// Accept apps whose functions use settings Sluice does not enforce yet (concurrency,
    /// throttle, rate limits, …). They are stored with a loud warning and ignored.
    #[arg(long, env = "SLUICE_ALLOW_UNENFORCED")]
    pub allow_unenforced: bool,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Address to bind.
    #[arg(long, env = "SLUICE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Key senders put in `/e/{key}`. Several may be given, comma-separated.
    /// Also read from INNGEST_EVENT_KEY.
    #[arg(long, env = "SLUICE_EVENT_KEY")]
    pub event_key: Option<String>,
    /// Key that signs requests between Sluice and your apps (`signkey-<env>-<hex>`).
    /// Also read from INNGEST_SIGNING_KEY.
    #[arg(long, env = "SLUICE_SIGNING_KEY")]
    pub signing_key: Option<String>,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite store.
    #[arg(long, env = "SLUICE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Password of the dashboard's login page. Without it the password is a token derived from
    /// the signing key, printed at start-up.
    #[arg(long, env = "SLUICE_DASHBOARD_PASSWORD", hide_env_values = true)]
    pub dashboard_password: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// URL of the running Sluice.
    #[arg(
        long,
        env = "SLUICE_URL",
        default_value = "http://127.0.0.1:8288",
        global = true
    )]
    pub url: String,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// Event name, e.g. `app/user.created`.
    pub name: String,
    /// Event data, a JSON object.
    #[arg(long, short = 'd', default_value = "{}")]
    pub data: String,
    /// Event key (any key works against `sluice dev`).
    #[arg(long, short = 'k', env = "SLUICE_EVENT_KEY", default_value = "dev")]
    pub key: String,
    /// The event's own id, which de-duplicates triggering.
    #[arg(long)]
    pub id: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The first non-empty value among `flag` and the given environment variables.
pub fn flag_or_env(flag: Option<String>, vars: &[&str]) -> Option<String> {
    flag.filter(|v| !v.is_empty()).or_else(|| {
        vars.iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    })
}
