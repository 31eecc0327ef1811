//! `sluice apps`: list, inspect, sync and remove the apps a running Sluice knows.
//!
//! Everything goes through the REST API (`/v1/apps`). Failures and ignored settings are printed
//! where they cannot be missed: next to the app they belong to, marked `!`.

use crate::client::Api;
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct AppsArgs {
    #[command(subcommand)]
    pub command: AppsCommand,
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
pub enum AppsCommand {
    /// Every app: its functions, SDK, last sync and URL.
    List,
    /// One app: URL, SDK, hash, functions and their triggers, warnings, recent syncs.
    Show { id: String },
    /// Sync the app served at APP_URL (e.g. http://localhost:3000/api/inngest): Sluice sends it
    /// a PUT and the app registers its functions.
    Add {
        /// The app's Inngest endpoint. (Named apart from `--url`, which is Sluice's.)
        #[arg(value_name = "APP_URL")]
        app_url: String,
    },
    /// Ask an app to sync again.
    Resync { id: String },
    /// Remove an app and its functions (its sync history and runs stay).
    Remove { id: String },
}

pub async fn run(args: AppsArgs) -> anyhow::Result<()> {
    let signing_key = crate::cli::flag_or_env(args.signing_key, &["INNGEST_SIGNING_KEY"]);
    let api = Api::new(&args.url, signing_key);
    match args.command {
        AppsCommand::List => list(&api).await,
        AppsCommand::Show { id } => show(&api, &id).await,
        AppsCommand::Add { app_url } => {
            let body = serde_json::json!({ "url": app_url });
            synced(
                api.call(reqwest::Method::POST, "/v1/apps", Some(body))
                    .await?,
            )
        }
        AppsCommand::Resync { id } => {
            let path = format!("/v1/apps/{}/resync", encode(&id));
            synced(api.call(reqwest::Method::POST, &path, None).await?)
        }
        AppsCommand::Remove { id } => {
            let path = format!("/v1/apps/{}", encode(&id));
            api.call(reqwest::Method::DELETE, &path, None).await?;
            println!("removed app {id}");
            println!(
                "(against `sluice dev`, discovery adds it back while the app is running; stop \
                 it first, or start sluice dev with --no-discovery)"
            );
            Ok(())
        }
    }
}

/// Path segments are app ids, which the SDKs limit to URL-safe characters; encode anyway.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn synced(v: Value) -> anyhow::Result<()> {
    let app = &v["data"];
    if app.is_null() {
        println!(
            "the app answered and synced, but under another URL than the one asked; see \
             `sluice apps list`"
        );
        return Ok(());
    }
    let n = app["function_count"].as_u64().unwrap_or(0);
    let change = match v["modified"].as_bool() {
        Some(true) => "modified",
        Some(false) => "unchanged",
        None => "synced",
    };
    println!(
        "synced app {} ({n} function{}, {change})",
        text(&app["id"]),
        plural(n)
    );
    print_warnings(app, "  ");
    Ok(())
}

async fn list(api: &Api) -> anyhow::Result<()> {
    let v = api.call(reqwest::Method::GET, "/v1/apps", None).await?;
    let apps = v["data"].as_array().cloned().unwrap_or_default();
    if apps.is_empty() {
        println!("No apps yet. Serve your functions with an Inngest SDK, then run");
        println!("  sluice apps add http://localhost:3000/api/inngest");
        println!("(`sluice dev` finds apps on the usual localhost ports by itself.)");
        return Ok(());
    }
    let mut rows = vec![vec![
        "APP".to_owned(),
        "FUNCTIONS".to_owned(),
        "SDK".to_owned(),
        "LAST SYNC".to_owned(),
        "URL".to_owned(),
    ]];
    for app in &apps {
        rows.push(vec![
            text(&app["id"]),
            app["function_count"].to_string(),
            text(&app["sdk"]),
            last_sync(app),
            text(&app["url"]),
        ]);
    }
    let lines = table(&rows);
    println!("{}", lines[0]);
    for (app, line) in apps.iter().zip(&lines[1..]) {
        println!("{line}");
        if app["last_sync"] == "failed" {
            println!("  ! last sync failed: {}", text(&app["last_error"]));
        }
        print_warnings(app, "  ");
    }
    Ok(())
}

async fn show(api: &Api, id: &str) -> anyhow::Result<()> {
    let path = format!("/v1/apps/{}", encode(id));
    let v = api.call(reqwest::Method::GET, &path, None).await?;
    let app = &v["data"];
    let field = |name: &str, value: String| println!("{name:<14}{value}");
    field("app", text(&app["id"]));
    field("url", text(&app["url"]));
    field("sdk", text(&app["sdk"]));
    field("framework", text(&app["framework"]));
    field("app version", text(&app["app_version"]));
    field("function hash", text(&app["function_hash"]));
    field("synced", when(&app["synced_at"]));
    field("last attempt", last_sync(app));
    if app["last_sync"] == "failed" {
        println!("! last sync failed: {}", text(&app["last_error"]));
    }
    print_warnings(app, "");

    let functions = app["functions"].as_array().cloned().unwrap_or_default();
    println!();
    if functions.is_empty() {
        println!("No functions.");
    } else {
        let mut rows = vec![vec![
            "FUNCTION".to_owned(),
            "TRIGGERS".to_owned(),
            "RETRIES".to_owned(),
            "IGNORED SETTINGS".to_owned(),
        ]];
        for f in &functions {
            let ignored: Vec<String> = f["unenforced"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            rows.push(vec![
                text(&f["slug"]),
                triggers(&f["triggers"]),
                f["retries"].to_string(),
                if ignored.is_empty() {
                    "-".to_owned()
                } else {
                    format!("! {}", ignored.join(", "))
                },
            ]);
        }
        for line in table(&rows) {
            println!("{line}");
        }
    }

    let syncs = app["syncs"].as_array().cloned().unwrap_or_default();
    if !syncs.is_empty() {
        println!();
        let mut rows = vec![vec![
            "SYNC".to_owned(),
            "WHEN".to_owned(),
            "RESULT".to_owned(),
            "HASH".to_owned(),
            "SDK".to_owned(),
        ]];
        let mut errors = Vec::new();
        for s in &syncs {
            let result = match (s["ok"].as_bool(), s["modified"].as_bool()) {
                (Some(true), Some(true)) => "ok, modified".to_owned(),
                (Some(true), _) => "ok".to_owned(),
                _ => {
                    errors.push((text(&s["id"]), text(&s["error"])));
                    "FAILED".to_owned()
                }
            };
            rows.push(vec![
                text(&s["id"]),
                when(&s["at"]),
                result,
                short_hash(&s["function_hash"]),
                text(&s["sdk"]),
            ]);
        }
        for line in table(&rows) {
            println!("{line}");
        }
        for (id, error) in errors {
            println!("! {id}: {error}");
        }
    }
    Ok(())
}

fn print_warnings(app: &Value, indent: &str) {
    for w in app["warnings"].as_array().into_iter().flatten() {
        println!("{indent}! {}", text(w));
    }
}

/// `2m ago, ok` or `5s ago, FAILED`.
fn last_sync(app: &Value) -> String {
    let result = if app["last_sync"] == "failed" {
        "FAILED"
    } else {
        "ok"
    };
    format!("{}, {result}", when(&app["last_attempt_at"]))
}

fn triggers(t: &Value) -> String {
    let parts: Vec<String> = t
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| match (t["event"].as_str(), t["cron"].as_str()) {
            (Some(e), _) => match t["expression"].as_str() {
                Some(x) => format!("{e} if {x}"),
                None => e.to_owned(),
            },
            (None, Some(c)) => format!("cron {c}"),
            _ => t.to_string(),
        })
        .collect();
    if parts.is_empty() {
        "(invoke only)".to_owned()
    } else {
        parts.join("; ")
    }
}

fn short_hash(v: &Value) -> String {
    match v.as_str() {
        Some(h) => h.chars().take(12).collect(),
        None => "-".to_owned(),
    }
}

/// A JSON string as is, anything else as JSON, null as `-`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time as how long ago it was.
fn when(v: &Value) -> String {
    let Some(t) = v
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    else {
        return "never".to_owned();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    ago(secs)
}

fn ago(secs: i64) -> String {
    match secs {
        i64::MIN..=1 => "just now".to_owned(),
        2..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[c] - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_do_not_pad_the_last_column() {
        let rows = vec![
            vec!["APP".into(), "N".into(), "URL".into()],
            vec!["clerk-user-sync".into(), "3".into(), "http://x".into()],
        ];
        assert_eq!(
            table(&rows),
            ["APP              N  URL", "clerk-user-sync  3  http://x"]
        );
    }

    #[test]
    fn triggers_read_as_text() {
        let t = json!([{ "event": "a/b", "expression": "event.data.x == 1" },
                       { "cron": "0 3 * * *" }]);
        assert_eq!(triggers(&t), "a/b if event.data.x == 1; cron 0 3 * * *");
        assert_eq!(triggers(&json!([])), "(invoke only)");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(42), "42s ago");
        assert_eq!(ago(125), "2m ago");
        assert_eq!(ago(7300), "2h ago");
        assert_eq!(ago(200_000), "2d ago");
        assert_eq!(when(&Value::Null), "never");
    }

    #[test]
    fn ids_are_encoded_in_paths() {
        assert_eq!(encode("my-app_1.x"), "my-app_1.x");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}

#[cfg(test)]
mod cli_tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(clap::Subcommand)]
    enum Top {
        Apps(super::AppsArgs),
    }

    #[test]
    fn the_app_url_and_sluice_url_do_not_clash() {
        let Top::Apps(args) = Cli::try_parse_from([
            "sluice",
            "apps",
            "add",
            "http://localhost:3000/api/inngest",
            "--url",
            "http://127.0.0.1:9999",
        ])
        .unwrap()
        .command;
        assert_eq!(args.url, "http://127.0.0.1:9999");
        match args.command {
            super::AppsCommand::Add { app_url } => {
                assert_eq!(app_url, "http://localhost:3000/api/inngest")
            }
            other => panic!("expected add, got {other:?}"),
        }
    }
}
