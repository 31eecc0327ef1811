//! `sluice runs`: list, show, cancel and rerun runs on a running Sluice.

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::cli::ClientArgs;
use crate::client::Api;

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: RunsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Queued, Running, Completed, Failed or Cancelled.
        #[arg(long)]
        status: Option<String>,
        /// A function id, e.g. `my-app-create-user`.
        #[arg(long)]
        function: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show one run: its status, output or error, and every step attempt.
    Show { id: String },
    /// Cancel a run that has not ended.
    Cancel { id: String },
    /// Run again with the same event; `--from-step` keeps the results of the steps before it.
    Rerun {
        id: String,
        /// Hashed id of the step to start from (see `sluice runs show`).
        #[arg(long)]
        from_step: Option<String>,
    },
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(args: RunsArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client.url, None);
    match args.command {
        RunsCommand::List {
            status,
            function,
            limit,
        } => {
            // A throwaway base only to build the query string with proper escaping.
            let mut url = reqwest::Url::parse("http://sluice/v1/runs")?;
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string());
            if let Some(s) = status {
                url.query_pairs_mut().append_pair("status", &s);
            }
            if let Some(f) = function {
                url.query_pairs_mut().append_pair("function_id", &f);
            }
            let path = format!("/v1/runs?{}", url.query().unwrap_or(""));
            let v = api.call(reqwest::Method::GET, &path, None).await?;
            let runs = v["data"].as_array().cloned().unwrap_or_default();
            if runs.is_empty() {
                println!(
                    "No runs yet. Send an event with `sluice send <name>` to trigger a function."
                );
                return Ok(());
            }
            println!(
                "{:<26}  {:<10}  {:<32}  {:<24}  STARTED",
                "RUN", "STATUS", "FUNCTION", "EVENT"
            );
            for r in runs {
                println!(
                    "{:<26}  {:<10}  {:<32}  {:<24}  {}",
                    text(&r["run_id"]),
                    text(&r["status"]),
                    text(&r["function_id"]),
                    text(&r["event_name"]),
                    text(&r["created_at"])
                );
            }
        }
        RunsCommand::Show { id } => {
            let v = api
                .call(reqwest::Method::GET, &format!("/v1/runs/{id}"), None)
                .await?;
            let r = &v["data"];
            println!("run       {}", text(&r["run_id"]));
            println!("function  {}", text(&r["function_id"]));
            println!("status    {}", text(&r["status"]));
            println!(
                "event     {} ({})",
                text(&r["event_name"]),
                text(&r["event_id"])
            );
            println!(
                "started   {}   ended {}",
                text(&r["run_started_at"]),
                text(&r["ended_at"])
            );
            if !r["output"].is_null() {
                println!("output    {}", r["output"]);
            }
            if !r["error"].is_null() {
                println!(
                    "error     {}: {}",
                    text(&r["error"]["name"]),
                    text(&r["error"]["message"])
                );
            }
            println!("\nSTEPS");
            for h in r["history"].as_array().into_iter().flatten() {
                let detail = if !h["error"].is_null() {
                    format!(
                        "{}: {}",
                        text(&h["error"]["name"]),
                        text(&h["error"]["message"])
                    )
                } else if !h["retry_at"].is_null() {
                    format!("until {}", text(&h["retry_at"]))
                } else {
                    String::new()
                };
                println!(
                    "  {:<14} {:<24} attempt {:<2} {:<9} {}  {}",
                    text(&h["kind"]),
                    text(&h["name"]),
                    text(&h["attempt"]),
                    text(&h["status"]),
                    text(&h["step_id"]),
                    detail
                );
            }
        }
        RunsCommand::Cancel { id } => {
            api.call(reqwest::Method::DELETE, &format!("/v1/runs/{id}"), None)
                .await?;
            println!("Cancelling run {id}.");
        }
        RunsCommand::Rerun { id, from_step } => {
            let body = serde_json::json!({ "from_step": from_step });
            let path = format!("/v1/runs/{id}/rerun");
            let v = api.call(reqwest::Method::POST, &path, Some(body)).await?;
            println!("Started run {}.", text(&v["data"]["run_id"]));
        }
    }
    Ok(())
}
