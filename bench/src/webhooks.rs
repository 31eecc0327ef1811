//! Webhook intake benchmark: signed Clerk `user.created` deliveries posted to the release
//! `sluice dev` binary (SQLite, fsync on) in its own process, from 64 concurrent senders over
//! loopback HTTP.
//!
//! Each request is signed at send time like Svix does (`svix-id`, `svix-timestamp`,
//! `svix-signature`) with a fresh id, so every one is verified, deduplicated against the store,
//! mapped, and stored with its event before the 200. Two sources are measured: the `clerk`
//! preset, and a JS transform doing the same mapping in the QuickJS sandbox.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::load::{self, post_json};
use crate::process::SluiceProcess;
use crate::report::{cores, load_average, median, table};

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
    /// Deliveries refused because the transform overran its CPU-time limit.
    timeouts: u64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Tags the answers the benchmark must tell apart: a transform over its limit, and a
/// delivery taken for a duplicate (which would mean it was not processed).
fn classify(status: u16, body: &[u8]) -> &'static str {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    match status {
        422 if has(b"transform_timeout") => "transform_timeout",
        200..=299 if has(br#""duplicate":true"#) => "duplicate",
        _ => "",
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let server = SluiceProcess::start_dev()?;
    let base = format!("http://{}", server.addr);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(create_sources(&base))?;
    println!(
        "webhooks benchmark: {} cores, load average {}, release `sluice dev` in its own process \
         (SQLite, fsync on: synchronous=FULL, WAL), {} senders, {} s x {} rounds",
        cores(),
        load_average(),
        args.senders,
        args.secs,
        args.rounds
    );
    let key = base64::engine::general_purpose::STANDARD.decode(&SECRET["whsec_".len()..])?;

    let mut rows = Vec::new();
    for (label, source) in [("clerk preset", "clerk"), ("JS transform", "clerk-js")] {
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let (key, path) = (key.clone(), format!("/webhooks/{source}"));
            let out = load::run(
                server.addr,
                args.senders,
                Duration::from_secs(args.secs),
                classify,
                move |sender, n| {
                    // Unique per source, round, sender and request, so none is a duplicate.
                    let id = format!("msg_{}_{round}_{sender}_{n}", path.len());
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .expect("after 1970")
                        .as_secs()
                        .to_string();
                    let signature = svix_signature(&key, &id, &now);
                    let headers = [
                        ("svix-id", id.as_str()),
                        ("svix-timestamp", now.as_str()),
                        ("svix-signature", signature.as_str()),
                    ];
                    post_json(&path, &headers, BODY.as_bytes())
                },
            )?;
            out.ensure_only(&[(422, "transform_timeout")])?;
            rounds.push(Round {
                per_sec: out.ok_per_sec(),
                timeouts: out.count(422, "transform_timeout"),
                p50_ms: out.p50_ms(),
                p99_ms: out.p99_ms(),
            });
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
    Ok(())
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
fn svix_signature(key: &[u8], id: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(BODY.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}
