//! Dev-mode discovery: find apps on localhost and keep every app's functions current.
//!
//! Every round (default every 5 s) sends the sync request (`PUT`) to:
//! - each URL given with `-u`;
//! - each app already known to the store (added with `sluice apps add`, or found before);
//! - unless `--no-discovery`, each SDK found on localhost: the ports and paths Inngest's dev
//!   server scans. A port is probed with a TCP connect first, so closed ports cost nothing; an
//!   open one is asked `GET <path>` and counts only if the answer carries `X-Inngest-SDK`.
//!
//! Re-syncing is what keeps the function set current: the SDK registers again on each PUT, and
//! the register handler stores a change (and logs "synced app X (N functions, modified)") only
//! when the function set's hash differs. This module logs only what the register call cannot:
//! a newly found app, and a URL that stopped (or started) answering. It logs each once, when it
//! changes, not every round.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use sluice_server::apps::ping::{self, PingError};
use sluice_server::Mode;
use sluice_store::Store;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// The ports Inngest's dev server scans: Express, Next.js and Rails (3000–3010), Django/Flask
/// (5000), Vite (5173), the usual 8000s, Redwood (8910–8915), plus 80.
const PORTS: &[u16] = &[
    80, 3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008, 3009, 3010, 5000, 5173, 8000, 8080,
    8081, 8888, 8910, 8911, 8912, 8913, 8914, 8915,
];
/// Where the SDKs' `serve()` handlers usually live.
const PATHS: &[&str] = &[
    "/api/inngest",
    "/x/inngest",
    "/.netlify/functions/inngest",
    "/.redwood/functions/inngest",
];
/// Connecting to a local port succeeds or is refused at once; this bounds odd cases.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `sluice dev` flags for finding apps.
#[derive(Args, Debug, Clone)]
pub struct DiscoveryArgs {
    /// URL of an app's Inngest endpoint to sync, e.g. http://localhost:3000/api/inngest.
    /// Repeatable; comma-separated in the environment variable.
    #[arg(
        short = 'u',
        long = "sdk-url",
        env = "SLUICE_SDK_URL",
        value_delimiter = ','
    )]
    pub sdk_urls: Vec<String>,
    /// Do not scan localhost for apps; sync only the -u URLs and apps already known.
    #[arg(long, env = "SLUICE_NO_DISCOVERY")]
    pub no_discovery: bool,
    /// Seconds between sync rounds.
    #[arg(long, env = "SLUICE_POLL_INTERVAL", default_value_t = 5)]
    pub poll_interval: u64,
}

/// What discovery needs to run.
pub struct Config {
    /// The `-u` URLs, checked with [`check_urls`].
    pub urls: Vec<String>,
    pub scan: bool,
    pub interval: Duration,
    /// Sluice's own port, never scanned.
    pub own_port: u16,
}

/// Adds `http://` where missing and refuses what is not an http(s) URL, before start-up.
pub fn check_urls(urls: &[String]) -> anyhow::Result<Vec<String>> {
    urls.iter()
        .filter(|u| !u.trim().is_empty())
        .map(|u| ping::normalize_url(u).map_err(|e| anyhow::anyhow!("-u {u}: {e}")))
        .collect()
}

/// Checks the flags and starts discovery in the background. Returns the task (abort it on
/// shutdown) and a line for the start-up banner.
pub fn start(
    args: DiscoveryArgs,
    store: Arc<dyn Store>,
    own_port: u16,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, String)> {
    let urls = check_urls(&args.sdk_urls)?;
    let secs = args.poll_interval.max(1);
    let mut banner = if args.no_discovery {
        format!("syncing known apps every {secs} s (scanning is off)")
    } else {
        format!("scanning localhost for apps every {secs} s (--no-discovery to stop)")
    };
    if !urls.is_empty() {
        banner.push_str(&format!("; -u {}", urls.join(", ")));
    }
    let config = Config {
        urls,
        scan: !args.no_discovery,
        interval: Duration::from_secs(secs),
        own_port,
    };
    Ok((tokio::spawn(run(store, config)), banner))
}

/// Runs rounds until the task is dropped or aborted.
pub async fn run(store: Arc<dyn Store>, config: Config) {
    let mut interval = tokio::time::interval(config.interval.max(Duration::from_millis(200)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: HashMap<String, Result<(), String>> = HashMap::new();
    let mut found: HashSet<String> = HashSet::new();
    let probe = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the probe client's configuration is static");
    loop {
        interval.tick().await;
        round(&store, &config, &probe, &mut last, &mut found).await;
    }
}

/// Where a URL to sync came from; it decides what a failure means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `-u`: the user asked for it, so failures are reported and stored.
    Explicit,
    /// An app in the store: failures are stored, so the app shows it is not answering.
    Known,
    /// Found by scanning this round.
    Scanned,
}

async fn round(
    store: &Arc<dyn Store>,
    config: &Config,
    probe: &reqwest::Client,
    last: &mut HashMap<String, Result<(), String>>,
    found: &mut HashSet<String>,
) {
    let mut targets: Vec<(String, Origin)> = config
        .urls
        .iter()
        .map(|u| (u.clone(), Origin::Explicit))
        .collect();
    match store.list_apps().await {
        Ok(apps) => {
            for app in apps {
                if !targets.iter().any(|(u, _)| same_endpoint(u, &app.url)) {
                    targets.push((app.url, Origin::Known));
                }
            }
        }
        Err(e) => tracing::warn!("discovery: cannot list apps: {e}"),
    }
    if config.scan {
        for url in scan(probe, config.own_port).await {
            if !targets.iter().any(|(u, _)| same_endpoint(u, &url)) {
                if found.insert(url.clone()) {
                    tracing::info!("found an Inngest app at {url}");
                }
                targets.push((url, Origin::Scanned));
            }
        }
    }

    let mut pings = JoinSet::new();
    for (url, origin) in targets {
        pings.spawn(async move {
            let outcome = ping::ping(&url, Mode::Dev, None, ping::PING_TIMEOUT).await;
            (url, origin, outcome)
        });
    }
    while let Some(joined) = pings.join_next().await {
        let Ok((url, origin, outcome)) = joined else {
            continue;
        };
        let now = outcome.as_ref().map(|_| ()).map_err(PingError::reason);
        let before = last.insert(url.clone(), now.clone());
        if before.as_ref() == Some(&now) {
            continue;
        }
        match (&outcome, origin) {
            (Ok(_), _) => {
                if matches!(before, Some(Err(_))) {
                    tracing::info!("{url} is answering again");
                }
            }
            // The register handler already said why it refused the sync.
            (Err(PingError::SyncFailed { .. }), Origin::Scanned) => {}
            (Err(e), Origin::Scanned) => tracing::debug!("{e}"),
            (Err(e), origin) => {
                let loud = origin == Origin::Explicit || matches!(before, Some(Ok(())));
                if loud && !refusal_already_logged(store, e).await {
                    tracing::warn!("cannot sync: {e}");
                }
                let at = sluice_server::now_ms();
                if let Err(err) = store
                    .record_failed_sync(None, url.clone(), e.reason(), at)
                    .await
                {
                    tracing::warn!("discovery: cannot record the failed sync of {url}: {err}");
                }
            }
        }
    }
}

/// Whether `e` is Sluice's own refusal, which the register handler stored (on the app, as its
/// last error) and logged already. A refusal Sluice never saw (the SDK could not reach it) is not.
async fn refusal_already_logged(store: &Arc<dyn Store>, e: &PingError) -> bool {
    let PingError::SyncFailed { message, .. } = e else {
        return false;
    };
    store.list_apps().await.is_ok_and(|apps| {
        apps.iter()
            .any(|a| a.last_error.as_deref() == Some(message.as_str()))
    })
}

/// The URLs on localhost where an Inngest SDK answers.
async fn scan(probe: &reqwest::Client, own_port: u16) -> Vec<String> {
    let mut ports: Vec<u16> = PORTS.to_vec();
    // Inngest's dev server also scans $PORT, the port many frameworks read.
    if let Some(port) = std::env::var("PORT").ok().and_then(|p| p.parse().ok()) {
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports.retain(|p| *p != own_port);
    scan_ports(probe, ports).await
}

async fn scan_ports(probe: &reqwest::Client, ports: Vec<u16>) -> Vec<String> {
    let mut open = JoinSet::new();
    for port in ports {
        open.spawn(async move {
            for host in ["127.0.0.1", "::1"] {
                let connect = TcpStream::connect((host, port));
                if let Ok(Ok(_)) = tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                    return Some((host, port));
                }
            }
            None
        });
    }
    let mut hosts = Vec::new();
    while let Some(joined) = open.join_next().await {
        if let Ok(Some(found)) = joined {
            hosts.push(found);
        }
    }
    hosts.sort();

    let mut urls = Vec::new();
    for (host, port) in hosts {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        for path in PATHS {
            let url = format!("http://{authority}{path}");
            let is_sdk = probe
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.headers().contains_key("x-inngest-sdk"));
            if is_sdk {
                urls.push(url);
            }
        }
    }
    urls
}

/// Whether two URLs name the same endpoint on this machine: `localhost`, `127.0.0.1` and `[::1]`
/// are one host, and a trailing slash does not matter. Without this, an app added as
/// `localhost:3000` and found as `127.0.0.1:3000` would sync from both, and its function URLs
/// would flip between the two every round.
fn same_endpoint(a: &str, b: &str) -> bool {
    let key = |u: &str| {
        reqwest::Url::parse(u).ok().map(|u| {
            let host = match u.host_str() {
                Some("localhost" | "127.0.0.1" | "[::1]" | "::1" | "0.0.0.0") => "loopback",
                Some(h) => h,
                None => "",
            }
            .to_owned();
            (
                u.scheme().to_owned(),
                host,
                u.port_or_known_default(),
                u.path().trim_end_matches('/').to_owned(),
            )
        })
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_one_endpoint() {
        assert!(same_endpoint(
            "http://localhost:3000/api/inngest",
            "http://127.0.0.1:3000/api/inngest/"
        ));
        assert!(same_endpoint(
            "http://[::1]:3000/api/inngest",
            "http://localhost:3000/api/inngest"
        ));
        assert!(!same_endpoint(
            "http://localhost:3000/api/inngest",
            "http://localhost:3001/api/inngest"
        ));
        assert!(!same_endpoint(
            "http://localhost:3000/api/inngest",
            "http://localhost:3000/x/inngest"
        ));
        assert!(!same_endpoint(
            "http://example.test:3000/api/inngest",
            "http://localhost:3000/api/inngest"
        ));
    }

    #[test]
    fn urls_are_checked_before_start() {
        let urls = check_urls(&["localhost:3000/api/inngest".into(), " ".into()]).unwrap();
        assert_eq!(urls, ["http://localhost:3000/api/inngest"]);
        assert!(check_urls(&["ftp://x".into()]).is_err());
    }

    /// Answers every request on a fresh port with `status` (and `X-Inngest-SDK` on `sdk_path`).
    async fn serve_once_per_connection(sdk_path: &'static str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let answer = if head.starts_with(&format!("GET {sdk_path} ")) {
                    "HTTP/1.1 200 OK\r\nx-inngest-sdk: js:v3.54.0\r\ncontent-length: 2\r\n\
                     connection: close\r\n\r\n{}"
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    /// A port with an SDK behind it is found at its path; another server, or no server, is not.
    #[tokio::test]
    async fn scanning_finds_only_sdks() {
        let sdk = serve_once_per_connection("/x/inngest").await;
        let other = serve_once_per_connection("/nothing").await;
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let probe = reqwest::Client::new();
        let found = scan_ports(&probe, vec![sdk, other, closed]).await;
        assert_eq!(found, [format!("http://127.0.0.1:{sdk}/x/inngest")]);
    }
}
