//! Dashboard benchmark: how long the server takes to answer the runs list with 100,000 runs in a
//! SQLite store. Runs are seeded through the store API (`schedule` in batches of 1,000, then
//! commits ending the newest thousand), and each page is fetched over loopback HTTP many times; the
//! table shows the median and p95 time to the last byte of the HTML.

use std::sync::Arc;
use std::time::Instant;

use serde_json::value::RawValue;
use sluice_core::event::Event;
use sluice_server::{AppState, ServerConfig};
use sluice_store::{NewRun, ScheduleBatch, Store, Transition};
use ulid::Ulid;

use crate::report::{cores, median, table};

#[derive(clap::Args)]
pub struct Args {
    /// Runs to seed.
    #[arg(long, default_value_t = 100_000)]
    runs: usize,
    /// Requests per page; the median and p95 are reported.
    #[arg(long, default_value_t = 50)]
    rounds: usize,
}

const FUNCTIONS: [&str; 4] = ["create-user", "sync-crm", "send-digest", "charge-card"];
const EVENTS: [&str; 4] = [
    "clerk/user.created",
    "app/crm.sync",
    "app/digest.due",
    "stripe/invoice.paid",
];
const BATCH: usize = 1_000;

fn raw(s: String) -> Box<RawValue> {
    RawValue::from_string(s).expect("seed JSON is valid")
}

/// Seeds `n` runs spread over four functions; returns the id of a run in the middle.
async fn seed(store: &Arc<dyn Store>, n: usize) -> anyhow::Result<Ulid> {
    let start = sluice_server::now_ms() - n as i64 * 10;
    let mut middle = Ulid::nil();
    let mut ids = ulid::Generator::new();
    for chunk in 0..n.div_ceil(BATCH) {
        let mut batch = ScheduleBatch::default();
        for i in chunk * BATCH..((chunk + 1) * BATCH).min(n) {
            let at = start + i as i64 * 10;
            let k = i % FUNCTIONS.len();
            let event = Event {
                id: ids.generate()?,
                name: EVENTS[k].into(),
                data: raw(format!(r#"{{"n":{i},"public_metadata":{{}}}}"#)),
                user: None,
                external_id: None,
                ts: at,
                v: None,
                received_at: at,
            };
            let run_id = ids.generate()?;
            if i == n / 2 {
                middle = run_id;
            }
            batch.runs.push(NewRun {
                id: run_id,
                function_id: format!("shop-{}", FUNCTIONS[k]),
                app_id: "shop".into(),
                sync_id: None,
                event_id: Some(event.id),
                event_name: Some(event.name.clone()),
                events: format!("[{}]", event.to_wire_json()),
                state: "{}".into(),
                created_at_ms: at,
                parent: None,
                dedupe: None,
                enqueue: Vec::new(),
            });
            batch.new_events.push(event);
        }
        store.schedule(batch).await?;
    }
    // End the newest thousand, so status filters have something to find.
    let newest = store
        .list_runs(sluice_store::RunQuery {
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, run) in newest.into_iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            let status = if i % 5 == 0 { "Failed" } else { "Completed" };
            store
                .commit(Transition {
                    run_id: run.id,
                    expected_version: run.version,
                    state: run.state,
                    status: status.into(),
                    output: Some(r#"{"ok":true}"#.into()),
                    now_ms: run.created_at_ms + 250,
                    ..Transition::default()
                })
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(middle)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("sluice-bench-dash-{}", Ulid::new()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = sluice_store::open(dir.to_str().unwrap()).await?;
        let t = Instant::now();
        let middle = seed(&store, args.runs).await?;
        println!(
            "dashboard benchmark: {} cores, SQLite, {} runs seeded in {:.1} s, {} requests per page",
            cores(),
            args.runs,
            t.elapsed().as_secs_f64(),
            args.rounds
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(ServerConfig::default(), store.clone()));
        tokio::spawn(sluice_server::serve(listener, state, std::future::pending()));
        let client = reqwest::Client::new();
        let base = format!("http://{addr}");
        let pages = [
            ("runs list, newest page", "/".to_owned()),
            ("runs list, a page mid-way (cursor)", format!("/?cursor={middle}")),
            ("runs list, status=Failed", "/?status=Failed".to_owned()),
            ("runs list, one function", "/?function=shop-sync-crm".to_owned()),
            ("runs list, one event name", "/?event=stripe%2Finvoice.paid".to_owned()),
            ("runs list, last 24 hours", "/?range=24h".to_owned()),
            ("one run", format!("/runs/{middle}")),
        ];
        let mut rows = Vec::new();
        for (name, path) in &pages {
            let url = format!("{base}{path}");
            let mut times = Vec::with_capacity(args.rounds);
            let mut bytes = 0;
            for round in 0..args.rounds + 3 {
                let t = Instant::now();
                let resp = client.get(&url).send().await?;
                anyhow::ensure!(resp.status().is_success(), "{path}: {}", resp.status());
                bytes = resp.bytes().await?.len();
                // The first requests warm the connection and SQLite's page cache.
                if round >= 3 {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            let mut sorted = times.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
            rows.push(vec![
                name.to_string(),
                format!("{:.2}", median(times)),
                format!("{p95:.2}"),
                format!("{:.1}", bytes as f64 / 1024.0),
            ]);
        }
        table(&["page", "median ms", "p95 ms", "KiB"], &rows);
        store.close().await;
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
