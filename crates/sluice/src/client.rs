//! Commands that talk to a running Sluice over HTTP.

use anyhow::{bail, Context};

use crate::cli::SendArgs;

pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    let data: serde_json::Value = serde_json::from_str(&args.data)
        .with_context(|| format!("--data is not valid JSON: {}", args.data))?;
    if !data.is_object() {
        bail!("--data must be a JSON object, like '{{\"userId\": 1}}'");
    }
    let mut event = serde_json::json!({ "name": args.name, "data": data });
    if let Some(id) = args.id {
        event["id"] = id.into();
    }
    let url = format!("{}/e/{}", args.client.url.trim_end_matches('/'), args.key);
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&event)
        .send()
        .await
        .with_context(|| {
            format!(
                "cannot reach Sluice at {} (is it running? set --url or SLUICE_URL)",
                args.client.url
            )
        })?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "Sluice refused the event ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    for id in body["ids"].as_array().into_iter().flatten() {
        println!("{}", id.as_str().unwrap_or_default());
    }
    Ok(())
}
