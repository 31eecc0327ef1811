//! `sluice dev` and `sluice start`: build the configuration, open the store, serve, shut down
//! cleanly.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use sluice_core::event::IngestLimits;
use sluice_server::{AppState, Mode, ServerConfig, WebhookConfig};

use crate::cli::{flag_or_env, DevArgs, ServeArgs, StartArgs};
use crate::discovery::DiscoveryArgs;

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

fn base_config(mode: Mode, serve: &ServeArgs) -> ServerConfig {
    ServerConfig {
        mode,
        max_body_bytes: serve.max_body_bytes,
        ingest: IngestLimits {
            max_event_bytes: serve.max_event_bytes,
            ..IngestLimits::default()
        },
        webhooks: WebhookConfig {
            max_body_bytes: serve.webhook_max_body_bytes,
            max_in_flight: serve.webhook_max_in_flight,
            public_url: serve.webhook_public_url.clone(),
            allow_unsigned: serve.allow_unsigned_webhooks,
            ..WebhookConfig::default()
        },
        ..ServerConfig::default()
    }
}

pub async fn run_dev(args: DevArgs, dotenv: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging(&args.serve.log);
    // Refuse a bad -u before anything starts.
    crate::discovery::check_urls(&args.discovery.sdk_urls)?;
    let mut config = base_config(Mode::Dev, &args.serve);
    config.allow_unenforced = args.allow_unenforced;
    let store_url = args.serve.data_dir.to_string_lossy().into_owned();
    run(
        config,
        &store_url,
        &args.host,
        &args.serve,
        dotenv,
        Some(args.discovery),
    )
    .await
}

pub async fn run_start(args: StartArgs, dotenv: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging(&args.serve.log);
    let Some(event_key) = flag_or_env(args.event_key, &["INNGEST_EVENT_KEY"]) else {
        bail!("an event key is required: pass --event-key or set SLUICE_EVENT_KEY (or INNGEST_EVENT_KEY)");
    };
    let Some(signing_key) = flag_or_env(args.signing_key, &["INNGEST_SIGNING_KEY"]) else {
        bail!("a signing key is required: pass --signing-key or set SLUICE_SIGNING_KEY (or INNGEST_SIGNING_KEY)");
    };
    let mut config = base_config(Mode::Cloud, &args.serve);
    config.event_keys = event_key
        .split(',')
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    config.signing_key = Some(signing_key);
    config.dashboard_password = args.dashboard_password.filter(|p| !p.is_empty());
    let store_url = args
        .database_url
        .unwrap_or_else(|| args.serve.data_dir.to_string_lossy().into_owned());
    run(config, &store_url, &args.host, &args.serve, dotenv, None).await
}

async fn run(
    config: ServerConfig,
    store_url: &str,
    host: &str,
    serve: &ServeArgs,
    dotenv: Option<PathBuf>,
    discovery: Option<DiscoveryArgs>,
) -> anyhow::Result<()> {
    let store = sluice_store::open(store_url)
        .await
        .with_context(|| format!("cannot open the store at {}", redact_url(store_url)))?;
    let port = serve.port;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| {
            format!("cannot listen on {host}:{port} (is another server using it? try --port)")
        })?;
    let addr = listener.local_addr()?;
    let mode = config.mode;
    let engine_config = sluice_engine::Config {
        driver: sluice_engine::driver::Config {
            request_timeout: std::time::Duration::from_secs(serve.request_timeout),
            server_kind: mode.as_str().to_owned(),
            ..sluice_engine::driver::Config::default()
        },
        signing_key: config.signing_key.clone(),
        node_id: node_id(store_url),
        shutdown_timeout: std::time::Duration::from_secs(serve.shutdown_timeout),
        max_in_flight: serve.max_in_flight as usize,
        limits: sluice_core::run::Limits {
            max_step_output_bytes: serve.max_step_output_bytes,
            max_state_bytes: serve.max_run_state_bytes,
            max_steps: serve.max_steps,
        },
        ..sluice_engine::Config::default()
    };
    let engine = Arc::new(
        sluice_engine::Engine::start(
            store.clone(),
            engine_config,
            Arc::new(sluice_engine::SystemClock),
        )
        .context("cannot start the engine")?,
    );
    let login = match (&config.dashboard_password, &config.signing_key) {
        _ if mode == Mode::Dev => None,
        (Some(_), _) => Some("the configured dashboard password".to_owned()),
        (None, Some(key)) => Some(format!(
            "password {} (derived from the signing key; set --dashboard-password to choose one)",
            sluice_server::auth::derived_password(key)
        )),
        (None, None) => None,
    };
    let state = Arc::new(AppState::new(config, store.clone()).with_engine(engine.clone()));
    let shutdown = shutdown_signal();
    let shown_host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    println!(
        "Sluice {} ({} mode) listening on {addr}",
        env!("CARGO_PKG_VERSION"),
        mode.as_str()
    );
    println!("  dashboard:  http://{shown_host}:{}/", addr.port());
    if let Some(login) = login {
        println!("  log in:     {login}");
    }
    println!(
        "  event API:  http://{shown_host}:{}/e/{{eventKey}}",
        addr.port()
    );
    println!(
        "  webhooks:   http://{shown_host}:{}/webhooks/{{source}}",
        addr.port()
    );
    println!("  store:      {}", redact_url(store_url));
    if let Some(path) = dotenv {
        println!("  read:       {}", path.display());
    }
    let discovery = match discovery {
        Some(args) => {
            let (task, banner) = crate::discovery::start(args, store.clone(), addr.port())?;
            println!("  apps:       {banner}");
            Some(task)
        }
        None => None,
    };
    sluice_server::serve(listener, state, shutdown).await?;
    if let Some(task) = discovery {
        task.abort();
    }
    tracing::info!("stopped accepting; stopping the engine and flushing the store");
    engine.shutdown().await;
    store.close().await;
    println!("Sluice stopped cleanly.");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
}

/// Hides a password in a database URL before it is printed.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// This node's lease owner name. SQLite has exactly one node per data directory, so its id is
/// fixed and a restart after a crash reclaims the work the crashed process held at once. Nodes
/// sharing PostgreSQL each need their own: `SLUICE_NODE_ID`, or host name and a random suffix.
fn node_id(store_url: &str) -> String {
    if let Ok(id) = std::env::var("SLUICE_NODE_ID") {
        if !id.is_empty() {
            return id;
        }
    }
    if store_url.starts_with("postgres://") || store_url.starts_with("postgresql://") {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
        format!("{host}-{}", ulid::Ulid::new())
    } else {
        "local".into()
    }
}
