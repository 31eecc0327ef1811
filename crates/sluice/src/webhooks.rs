//! `sluice webhooks`: create and manage webhook sources on a running Sluice, read their delivery
//! history, replay a delivery and try a transform on one.
//!
//! Everything goes through the REST API (`/v1/webhooks`). Secrets go in and never come back out:
//! the server shows them masked.

use crate::client::Api;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub command: WebhooksCommand,
    /// URL of the running Sluice.
    #[arg(
        long,
        env = "SLUICE_URL",
        default_value = "http://127.0.0.1:8288",
        global = true
    )]
    pub url: String,
    /// Signing key; `sluice start` requires it on the REST API. Also read from
    /// INNGEST_SIGNING_KEY.
    #[arg(
        long,
        env = "SLUICE_SIGNING_KEY",
        global = true,
        hide_env_values = true
    )]
    pub signing_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Create a source and print the URL to paste into the sender's dashboard.
    ///
    /// Example: sluice webhooks add clerk --preset clerk --secret whsec_…
    Add(SourceArgs),
    /// Change a source; what is not given is kept. `--secret` replaces all secrets (give the old
    /// and the new one while rotating).
    Update(SourceArgs),
    /// Every source with its URL and delivery counts.
    List,
    /// One source: URL, scheme, mapping, masked secrets, delivery counts.
    Show { name: String },
    /// Delete a source and its delivery history (the events it produced stay).
    Remove { name: String },
    /// A source's deliveries, newest first, with the reason for each refusal.
    Deliveries {
        name: String,
        /// Only accepted, rejected, duplicate or failed ones.
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Continue after this delivery id (printed at the end of a full page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One delivery in full: headers (signatures redacted), query and raw body.
    Delivery { name: String, id: String },
    /// Run a stored delivery through the source's current preset or transform again and emit
    /// its events again. The signature is not checked again.
    Replay { name: String, id: String },
    /// Show the events a transform would make from a stored delivery. Nothing is stored.
    Test {
        name: String,
        /// File with `function transform(evt, headers, queryParams, raw) { … }`. Without it the
        /// source's own preset or transform is used.
        #[arg(long)]
        transform_file: Option<std::path::PathBuf>,
        /// The delivery's id, as printed by `sluice webhooks deliveries`.
        #[arg(long)]
        delivery: String,
    },
}

#[derive(Args, Debug)]
pub struct SourceArgs {
    /// Source name; the URL is /webhooks/<name>.
    pub name: String,
    /// clerk, stripe, github, shopify or generic. Chooses the scheme too, unless --scheme is
    /// given.
    #[arg(long)]
    pub preset: Option<String>,
    /// standard-webhooks (Svix, Clerk, Resend…), stripe, github, shopify, none, or a generic
    /// HMAC as JSON: '{"type":"hmac","header":"X-Signature","encoding":"hex","prefix":"sha256="}'.
    #[arg(long)]
    pub scheme: Option<String>,
    /// Signing secret from the sender's dashboard (whsec_… for Clerk). Repeat for rotation.
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// JavaScript file defining `transform(evt, headers, queryParams, raw)`; replaces the
    /// preset's mapping.
    #[arg(long)]
    pub transform_file: Option<std::path::PathBuf>,
    /// Allowed clock skew of signed timestamps, in seconds (default 300).
    #[arg(long)]
    pub tolerance_secs: Option<i64>,
    /// Take the delivery id from this header instead of the scheme's own.
    #[arg(long, conflicts_with = "dedupe_json_path")]
    pub dedupe_header: Option<String>,
    /// Take the delivery id from this dotted path in the JSON body, e.g. data.id.
    #[arg(long)]
    pub dedupe_json_path: Option<String>,
}

pub async fn run(args: WebhooksArgs) -> anyhow::Result<()> {
    let api = Api::new(
        &args.url,
        crate::cli::flag_or_env(args.signing_key, &["INNGEST_SIGNING_KEY"]),
    );
    use reqwest::Method;
    match args.command {
        WebhooksCommand::Add(source) => {
            let body = source_body(source, true)?;
            let v = api.call(Method::POST, "/v1/webhooks", Some(body)).await?;
            print_source(&v["data"]);
            println!();
            println!(
                "Paste the URL into the sender's webhook settings (Clerk: Configure → Webhooks"
            );
            println!(
                "→ Add Endpoint). It must be reachable from the sender: behind a proxy or tunnel,"
            );
            println!("use its public address with the same path, or start Sluice with");
            println!("--webhook-public-url.");
            Ok(())
        }
        WebhooksCommand::Update(source) => {
            let path = format!("/v1/webhooks/{}", source.name);
            let body = source_body(source, false)?;
            let v = api.call(Method::PUT, &path, Some(body)).await?;
            print_source(&v["data"]);
            Ok(())
        }
        WebhooksCommand::List => {
            let v = api.call(Method::GET, "/v1/webhooks", None).await?;
            let sources = v["data"].as_array().cloned().unwrap_or_default();
            if sources.is_empty() {
                println!("no webhook sources yet; create one with `sluice webhooks add`");
            }
            for s in &sources {
                let c = &s["deliveries"];
                println!(
                    "{:<20} {:<32} {} accepted, {} rejected, {} duplicate, {} failed",
                    s["name"].as_str().unwrap_or_default(),
                    mapping(s),
                    c["accepted"],
                    c["rejected"],
                    c["duplicate"],
                    c["failed"],
                );
                println!("{:<20} {}", "", s["url"].as_str().unwrap_or_default());
            }
            Ok(())
        }
        WebhooksCommand::Show { name } => {
            let v = api
                .call(Method::GET, &format!("/v1/webhooks/{name}"), None)
                .await?;
            print_source(&v["data"]);
            Ok(())
        }
        WebhooksCommand::Remove { name } => {
            api.call(Method::DELETE, &format!("/v1/webhooks/{name}"), None)
                .await?;
            println!("removed webhook source {name} and its delivery history");
            Ok(())
        }
        WebhooksCommand::Deliveries {
            name,
            outcome,
            limit,
            cursor,
        } => {
            let mut path = format!("/v1/webhooks/{name}/deliveries?limit={limit}");
            if let Some(o) = outcome {
                path.push_str(&format!("&outcome={o}"));
            }
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let v = api.call(Method::GET, &path, None).await?;
            print_deliveries(&v);
            Ok(())
        }
        WebhooksCommand::Delivery { name, id } => {
            let v = api
                .call(
                    Method::GET,
                    &format!("/v1/webhooks/{name}/deliveries/{id}"),
                    None,
                )
                .await?;
            print_delivery(&v["data"]);
            Ok(())
        }
        WebhooksCommand::Replay { name, id } => {
            let path = format!("/v1/webhooks/{name}/deliveries/{id}/replay");
            let v = api.call(Method::POST, &path, Some(json!({}))).await?;
            let ids: Vec<&str> = v["ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "replayed {id} as delivery {}: {} event(s)",
                v["delivery"].as_str().unwrap_or_default(),
                ids.len()
            );
            for id in ids {
                println!("  {id}");
            }
            Ok(())
        }
        WebhooksCommand::Test {
            name,
            transform_file,
            delivery,
        } => {
            let mut body = json!({ "delivery_id": delivery });
            if let Some(file) = transform_file {
                body["transform"] = read_file(&file)?.into();
            }
            let path = format!("/v1/webhooks/{name}/test");
            let v = api.call(Method::POST, &path, Some(body)).await?;
            let events = v["events"].as_array().cloned().unwrap_or_default();
            println!(
                "{} event(s) would be sent (nothing was stored):",
                events.len()
            );
            println!("{}", serde_json::to_string_pretty(&events)?);
            Ok(())
        }
    }
}

fn read_file(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The JSON body of a create (`full`) or update request.
fn source_body(args: SourceArgs, full: bool) -> anyhow::Result<Value> {
    let mut body = json!({});
    if full {
        body["name"] = args.name.clone().into();
    }
    if let Some(preset) = args.preset {
        body["preset"] = preset.into();
    }
    if let Some(scheme) = args.scheme {
        body["scheme"] = if scheme.trim_start().starts_with('{') {
            serde_json::from_str(&scheme).context("--scheme is not valid JSON")?
        } else {
            scheme.into()
        };
    }
    if !args.secrets.is_empty() {
        body["secrets"] = args.secrets.into();
    }
    if let Some(file) = args.transform_file {
        body["transform"] = read_file(&file)?.into();
    }
    if let Some(t) = args.tolerance_secs {
        body["tolerance_secs"] = t.into();
    }
    match (args.dedupe_header, args.dedupe_json_path) {
        (Some(h), _) => body["dedupe"] = json!({ "header": h }),
        (None, Some(p)) => body["dedupe"] = json!({ "json_path": p }),
        (None, None) => {}
    }
    if full && body.get("preset").is_none() && body.get("scheme").is_none() {
        bail!("give --preset (clerk, stripe, github, shopify, generic) or --scheme");
    }
    Ok(body)
}

/// `preset clerk`, `transform`, or `generic`, with the scheme.
fn mapping(s: &Value) -> String {
    let how = match (s["preset"].as_str(), s["transform"].is_string()) {
        (_, true) => "transform".to_owned(),
        (Some(p), false) => format!("preset {p}"),
        (None, false) => "generic".to_owned(),
    };
    format!("{how}, {}", s["scheme"]["type"].as_str().unwrap_or("?"))
}

fn print_source(s: &Value) {
    let secrets: Vec<&str> = s["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    println!("webhook source {}", s["name"].as_str().unwrap_or_default());
    println!("  URL:        {}", s["url"].as_str().unwrap_or_default());
    println!("  mapping:    {}", mapping(s));
    println!(
        "  secrets:    {} ({})",
        secrets.len(),
        if secrets.is_empty() {
            "none: deliveries are not verified".to_owned()
        } else {
            secrets.join(", ")
        }
    );
    println!("  tolerance:  {} s", s["tolerance_secs"]);
    if !s["dedupe"].is_null() {
        println!("  dedupe on:  {}", s["dedupe"]);
    }
    let c = &s["deliveries"];
    println!(
        "  deliveries: {} accepted, {} rejected, {} duplicate, {} failed",
        c["accepted"], c["rejected"], c["duplicate"], c["failed"]
    );
    if let Some(t) = s["transform"].as_str() {
        println!("  transform:");
        for line in t.lines() {
            println!("    {line}");
        }
    }
}

fn print_deliveries(v: &Value) {
    let list = v["data"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no deliveries");
    }
    for d in &list {
        let events = d["event_ids"].as_array().map_or(0, Vec::len);
        println!(
            "{}  {}  {:<9}  {:<28}  {} event(s)",
            d["id"].as_str().unwrap_or_default(),
            d["received_at"].as_str().unwrap_or_default(),
            d["outcome"].as_str().unwrap_or_default(),
            d["delivery_id"].as_str().unwrap_or("-"),
            events,
        );
        if let Some(reason) = d["reason"].as_str() {
            println!("    ! {}: {reason}", d["code"].as_str().unwrap_or("error"));
        }
        if let Some(of) = d["replay_of"].as_str() {
            println!("    replay of {of}");
        }
    }
    if let Some(cursor) = v["cursor"].as_str() {
        println!("more: --cursor {cursor}");
    }
}

fn print_delivery(d: &Value) {
    println!("delivery {}", d["id"].as_str().unwrap_or_default());
    println!(
        "  received:    {}",
        d["received_at"].as_str().unwrap_or_default()
    );
    println!(
        "  outcome:     {}",
        d["outcome"].as_str().unwrap_or_default()
    );
    if let Some(reason) = d["reason"].as_str() {
        println!(
            "  reason:      {} ({})",
            reason,
            d["code"].as_str().unwrap_or("-")
        );
    }
    println!(
        "  delivery id: {}",
        d["delivery_id"].as_str().unwrap_or("-")
    );
    for id in d["event_ids"].as_array().into_iter().flatten() {
        println!("  event:       {}", id.as_str().unwrap_or_default());
    }
    println!("  headers:");
    for pair in d["headers"].as_array().into_iter().flatten() {
        println!(
            "    {}: {}",
            pair[0].as_str().unwrap_or_default(),
            pair[1].as_str().unwrap_or_default()
        );
    }
    if let Some(q) = d["query"].as_str().filter(|q| !q.is_empty()) {
        println!("  query:       {q}");
    }
    match (d["body"].as_str(), d["body_base64"].as_str()) {
        (Some(body), _) => println!("  body:\n{body}"),
        (None, Some(b64)) => println!("  body (base64, not UTF-8):\n{b64}"),
        _ => {}
    }
}
