//! Webhook intake benchmark: signed Clerk `user.created` deliveries posted to a real Sluice
//! server (SQLite, fsync on) in this process, from 64 concurrent senders over loopback HTTP.
//!
//! Each request is signed at send time like Svix does (`svix-id`, `svix-timestamp`,
//! `svix-signature`) with a fresh id, so every one is verified, deduplicated against the store,
//! mapped, and stored with its event before the 200. Two sources are measured: the `clerk`
//! preset, and a JS transform doing the same mapping in the QuickJS sandbox.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sluice_server::{AppState, ServerConfig};

use crate::report::{cores, median, new_histogram, table};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The mapping of the `clerk` preset, written as a user would.
const TRANSFORM: &str = "function transform(evt, headers, queryParams, raw) {
  return { name: `clerk/${evt.type}`, data: evt.data, ts: evt.timestamp };
}";

/// A Clerk `user.created` delivery as Clerk sends it (about 1.2 KB).
const BODY: &str = r#"{"data":{"birthday":"","created_at":1654012591514,"email_addresses":[{"email_address":"example@example.org","id":"idn_29w83yL7CwVlJXylYLxcslromF1","linked_to":[],"object":"email_address","verification":{"status":"verified","strategy":"ticket"}}],"external_accounts":[],"external_id":"567772","first_name":"Example","gender":"","id":"user_29w83sxmDNGwOuEthce5gg56FcC","image_url":"https://img.clerk.com/xxxxxx","last_name":"Example","last_sign_in_at":1654012591514,"object":"user","password_enabled":true,"phone_numbers":[],"primary_email_address_id":"idn_29w83yL7CwVlJXylYLxcslromF1","primary_phone_number_id":null,"primary_web3_wallet_id":null,"private_metadata":{},"profile_image_url":"https://www.gravatar.com/avatar?d=mp","public_metadata":{},"two_factor_enabled":false,"unsafe_metadata":{},"updated_at":1654012591835,"username":null,"web3_wallets":[]},"event_attributes":{"http_request":{"client_ip":"192.0.2.1","user_agent":"Mozilla/5.0"}},"instance_id":"ins_123","object":"event","timestamp":1654012591835,"type":"user.created"}"#;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Rounds per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent senders, each on its own connection.
    #[arg(long, default_value_t = 64)]
    senders: usize,
}

struct Round {
    per_sec: f64,
    /// Deliveries refused because the transform overran its wall-clock limit.
    timeouts: u64,
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
    let base = format!("http://{addr}");
    client_rt.block_on(create_sources(&base))?;
    println!(
        "webhooks benchmark: {} cores, load average {}, SQLite with fsync (synchronous=FULL, WAL), \
         {} senders, {} s x {} rounds",
        cores(),
        load_average(),
        args.senders,
        args.secs,
        args.rounds
    );

    let mut rows = Vec::new();
    for (label, source) in [("clerk preset", "clerk"), ("JS transform", "clerk-js")] {
        let url = format!("{base}/webhooks/{source}");
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let dur = Duration::from_secs(args.secs);
            rounds.push(client_rt.block_on(load(&url, round, args.senders, dur))?);
        }
        rows.push(vec![
            label.to_string(),
            args.senders.to_string(),
            format!("{:.0}", median(rounds.iter().map(|r| r.per_sec).collect())),
            format!("{:.2}", median(rounds.iter().map(|r| r.p50_ms).collect())),
            format!("{:.2}", median(rounds.iter().map(|r| r.p99_ms).collect())),
            rounds.iter().map(|r| r.timeouts).sum::<u64>().to_string(),
        ]);
    }
    table(
        &[
            "scenario",
            "senders",
            "deliveries/s (median)",
            "p50 ms",
            "p99 ms",
            "422 timeouts (all rounds)",
        ],
        &rows,
    );
    println!("load average after: {}", load_average());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The 1, 5 and 15 minute load averages, to judge how shared the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

async fn create_sources(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for source in [
        serde_json::json!({"name": "clerk", "preset": "clerk", "secrets": [SECRET]}),
        serde_json::json!({"name": "clerk-js", "scheme": "standard-webhooks",
                           "secrets": [SECRET], "transform": TRANSFORM}),
    ] {
        let resp = client
            .post(format!("{base}/v1/webhooks"))
            .json(&source)
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "creating a source: {}",
            resp.text().await?
        );
    }
    Ok(())
}

/// `svix-signature` for one delivery: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
fn svix_signature(key: &[u8], id: &str, timestamp: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(BODY.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

async fn load(url: &str, round: usize, senders: usize, dur: Duration) -> anyhow::Result<Round> {
    let key = base64::engine::general_purpose::STANDARD.decode(&SECRET["whsec_".len()..])?;
    let key = Arc::new(key);
    let stop = Arc::new(AtomicBool::new(false));
    let duplicates = Arc::new(AtomicU64::new(0));
    let timeouts = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let (url, key, stop, duplicates, timeouts) = (
            url.to_owned(),
            key.clone(),
            stop.clone(),
            duplicates.clone(),
            timeouts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut failures = 0u64;
            let mut why = None;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // Unique per round, sender and request, so none is a duplicate.
                let id = format!("msg_{}_{round}_{sender}_{n}", url.len());
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("svix-id", &id)
                    .header("svix-timestamp", now.to_string())
                    .header("svix-signature", svix_signature(&key, &id, now))
                    .body(BODY)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        hist.record(t.elapsed().as_micros().max(1) as u64).ok();
                        if body.windows(9).any(|w| w == b"duplicate") {
                            duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(r) if r.status() == 422 => {
                        let text = r.text().await.unwrap_or_default();
                        if text.contains("transform_timeout") {
                            timeouts.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures += 1;
                            why = Some(format!("422: {text}"));
                        }
                    }
                    Ok(r) => {
                        failures += 1;
                        why = Some(format!(
                            "{}: {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ));
                    }
                    Err(e) => {
                        failures += 1;
                        why = Some(e.to_string());
                    }
                }
            }
            (hist, failures, why)
        }));
    }
    tokio::time::sleep(dur).await;
    stop.store(true, Ordering::Relaxed);
    let mut hist = new_histogram();
    let mut failures = 0;
    let mut why = None;
    for t in tasks {
        let (h, f, w) = t.await?;
        hist.add(h)?;
        failures += f;
        why = why.or(w);
    }
    let elapsed = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        failures == 0,
        "{failures} deliveries failed, e.g. {}",
        why.unwrap_or_default()
    );
    anyhow::ensure!(
        duplicates.load(Ordering::Relaxed) == 0,
        "unique deliveries were taken for duplicates"
    );
    Ok(Round {
        per_sec: hist.len() as f64 / elapsed,
        timeouts: timeouts.load(Ordering::Relaxed),
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
    })
}
