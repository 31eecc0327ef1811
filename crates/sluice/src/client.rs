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

/// A running Sluice's REST API, as the CLI commands call it.
pub struct Api {
    base: String,
    /// Sent as a Bearer token; `sluice start` requires it on `/v1`.
    signing_key: Option<String>,
    client: reqwest::Client,
}

impl Api {
    pub fn new(url: &str, signing_key: Option<String>) -> Self {
        Api {
            base: url.trim_end_matches('/').to_owned(),
            signing_key,
            client: reqwest::Client::new(),
        }
    }

    /// Calls `path` and returns the JSON answer; a non-2xx answer is an error carrying the
    /// server's reason and the status.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.signing_key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach Sluice at {} (is it running? set --url or SLUICE_URL)",
                self.base
            )
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            let reason = value["error"].as_str().unwrap_or(text.as_str());
            bail!("{reason} ({status})");
        }
        Ok(value)
    }
}
