//! The dashboard through the real router on a real socket: every page with seeded data, filters
//! and cursor paging, empty states, actions, and authentication (login, session cookie, CSRF,
//! Bearer keys) in cloud mode. `browser_*` drives the same pages in headless Chromium.

#[path = "dashboard/seed.rs"]
mod seed;

use std::sync::Arc;

use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sluice_server::{AppState, Mode, ServerConfig};
use sluice_store::Store;

const SIGNING_KEY: &str = "signkey-test-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";

struct TestApp {
    base: String,
    store: Arc<dyn Store>,
    client: reqwest::Client,
}

fn now() -> i64 {
    sluice_server::now_ms()
}

fn cloud() -> ServerConfig {
    ServerConfig {
        mode: Mode::Cloud,
        event_keys: vec!["ek".into()],
        signing_key: Some(SIGNING_KEY.into()),
        dashboard_password: Some(PASSWORD.into()),
        ..ServerConfig::default()
    }
}

async fn spawn_app(config: ServerConfig, engine: bool) -> TestApp {
    let dir = std::env::temp_dir().join(format!("sluice-dash-{}", ulid::Ulid::new()));
    let store = sluice_store::open(dir.to_str().unwrap()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut state = AppState::new(config.clone(), store.clone());
    if engine {
        let engine_config = sluice_engine::Config {
            signing_key: config.signing_key.clone(),
            poll: std::time::Duration::from_millis(50),
            ..sluice_engine::Config::default()
        };
        let engine = sluice_engine::Engine::start(
            store.clone(),
            engine_config,
            Arc::new(sluice_engine::SystemClock),
        )
        .unwrap();
        state = state.with_engine(Arc::new(engine));
    }
    tokio::spawn(sluice_server::serve(
        listener,
        Arc::new(state),
        std::future::pending(),
    ));
    TestApp {
        base: format!("http://{addr}"),
        store,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// A stand-in for an SDK app: every call completes the run with `{"done": true}`.
async fn fake_sdk_app() -> String {
    use axum::routing::any;
    let app = axum::Router::new().route(
        "/api/inngest",
        any(|| async {
            (
                [
                    ("x-inngest-sdk", "js:v3.54.0"),
                    ("content-type", "application/json"),
                ],
                r#"{"done":true}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api/inngest")
}

impl TestApp {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.get_with(path, |r| r).await
    }
    async fn get_with(
        &self,
        path: &str,
        f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> (StatusCode, String) {
        let resp = f(self.client.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }
    async fn ok(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
    async fn post(
        &self,
        path: &str,
        f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> (StatusCode, Value) {
        let resp = f(self.client.post(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn csrf_of(html: &str) -> String {
    let start = html
        .find("data-csrf=\"")
        .expect("page carries a CSRF token")
        + 11;
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn every_page_renders_the_seeded_data() {
    let app = spawn_app(ServerConfig::default(), false).await;
    let s = seed::seed(&app.store, "http://127.0.0.1:9/api/inngest", now()).await;

    let runs = app.ok("/").await;
    for text in [
        "Create user",
        "Sync CRM",
        "clerk/user.created",
        "Failed",
        "Completed",
        "Running",
        "Queued",
    ] {
        assert!(runs.contains(text), "runs list lacks {text:?}");
    }
    assert!(
        runs.contains("data-live=\"/dashboard/stream?since="),
        "the first page is live"
    );

    let failed = app.ok(&format!("/runs/{}", s.failed)).await;
    for text in [
        "SMTP 554: relay access denied",
        "connect ECONNREFUSED 127.0.0.1:5432",
        "at insertUser (/app/src/db.js:42:11)",
        "retry 1",
        "retry 3",
        "insert-user",
        "seg queue",
        "This run used an older version of the app.",
        "js:v3.54.0",
        "Rerun from step",
        "user_2",
    ] {
        assert!(failed.contains(text), "failed run page lacks {text:?}");
    }
    assert!(
        !failed.contains(">Cancel<"),
        "an ended run cannot be cancelled"
    );

    let completed = app.ok(&format!("/runs/{}", s.completed)).await;
    assert!(completed.contains("userId") && completed.contains("Output"));
    let running = app.ok(&format!("/runs/{}", s.running)).await;
    assert!(running.contains("k-sleep") && running.contains(">Cancel<"));
    assert!(
        !running.contains("older version"),
        "this run used the current sync"
    );
    assert!(running.contains(&format!(
        "data-live=\"/dashboard/stream?run={}&amp;since=",
        s.running
    )));

    let events = app.ok("/events").await;
    assert!(events.contains("clerk/user.created") && events.contains("Send a test event"));
    let event = app.ok(&format!("/events/{}", s.event)).await;
    // Exactly as stored: `{}` and key order survive.
    assert!(
        event.contains(r#"&quot;public_metadata&quot;:{}"#),
        "{event}"
    );
    assert!(event.contains(&format!("/runs/{}", s.completed)));

    let functions = app.ok("/functions").await;
    assert!(functions.contains("Not enforced: concurrency"));
    assert!(
        functions.contains("1 ok") && functions.contains("1 failed"),
        "24 h counts"
    );
    let function = app.ok(&format!("/functions/{}", s.function_id)).await;
    assert!(function.contains("Invoke Create user") && function.contains("not enforced"));

    let apps = app.ok("/apps").await;
    for text in [
        "http://127.0.0.1:9/api/inngest",
        "js:v3.54.0",
        "express",
        "ffee00112233aabb",
        "does not enforce",
    ] {
        assert!(apps.contains(text), "apps page lacks {text:?}");
    }

    let sources = app.ok("/sources").await;
    assert!(sources.contains("/webhooks/clerk") && sources.contains("1 accepted"));
    assert!(
        !sources.contains("c2VjcmV0"),
        "secrets never reach the page"
    );
    let source = app.ok("/sources/clerk").await;
    assert!(source.contains("no signature matched") && source.contains("Test against delivery"));
    let first = source.split("/sources/clerk/deliveries/").nth(1).unwrap();
    let delivery_id = &first[..26];
    let delivery = app
        .ok(&format!("/sources/clerk/deliveries/{delivery_id}"))
        .await;
    assert!(delivery.contains("user.created") && delivery.contains("svix-signature"));

    let (status, body) = app.get("/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no run"));
}

#[tokio::test]
async fn runs_filter_and_page_by_cursor() {
    let app = spawn_app(ServerConfig::default(), false).await;
    let t = now();
    let s = seed::seed(&app.store, "http://127.0.0.1:9/api/inngest", t).await;
    // 120 more queued runs, so the list has three pages.
    let f = app
        .store
        .get_function("shop-sync-crm")
        .await
        .unwrap()
        .unwrap();
    let sync = app.store.get_app("shop").await.unwrap().unwrap().sync_id;
    let mut batch = sluice_store::ScheduleBatch::default();
    for i in 0..120 {
        let e = seed::event("app/crm.sync", json!({ "i": i }), t - 500_000 + i);
        let mut run = sluice_engine::new_run(&f, sync, &[&e], t - 500_000 + i, None);
        run.enqueue.clear();
        batch.new_events.push(e);
        batch.runs.push(run);
    }
    app.store.schedule(batch).await.unwrap();

    let failed = app.ok("/?status=Failed").await;
    assert!(failed.contains(&s.failed.to_string()));
    assert!(!failed.contains(&s.completed.to_string()));
    let by_event = app.ok("/?event=clerk%2Fuser.created&function=&app=").await;
    assert!(by_event.contains(&s.completed.to_string()) && !by_event.contains("Sync CRM</a>"));
    let by_function = app.ok("/?function=shop-create-user").await;
    assert_eq!(by_function.matches("<tr data-href").count(), 2);
    // Run ids carry their creation time, so a time range is an id range.
    let recent = app.ok("/?range=15m&function=shop-create-user").await;
    assert!(recent.contains(&s.failed.to_string()));
    let future = app.ok(&format!("/?from={}", t + 60_000)).await;
    assert!(future.contains("No runs match these filters"));
    let (status, _) = app.get("/?status=Nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let mut seen = std::collections::HashSet::new();
    let mut path = "/".to_owned();
    let mut pages = 0;
    loop {
        let page = app.ok(&path).await;
        pages += 1;
        for row in page.split("<tr data-href=\"/runs/").skip(1) {
            assert!(seen.insert(row[..26].to_owned()), "a run shown twice");
        }
        let Some(pos) = page.find(" rel=\"next\"") else {
            break;
        };
        let href = page[..pos].rsplit("href=\"").next().unwrap();
        path = href.trim_end_matches('"').replace("&amp;", "&");
        assert!(path.contains("cursor=") && pages < 10, "{path}");
    }
    assert_eq!(seen.len(), 124, "every run once, over {pages} pages");
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn empty_states_say_what_to_do() {
    let app = spawn_app(ServerConfig::default(), false).await;
    let runs = app.ok("/").await;
    assert!(runs.contains("No runs yet") && runs.contains("INNGEST_DEV=http://127.0.0.1:8288"));
    assert!(runs.contains("sluice dev -u"));
    assert!(app.ok("/apps").await.contains("No apps synced yet"));
    assert!(app
        .ok("/functions")
        .await
        .contains("No functions synced yet"));
    assert!(app.ok("/events").await.contains("No events yet"));
    assert!(app
        .ok("/sources")
        .await
        .contains("sluice webhooks add clerk"));
    let (status, css) = app.get("/dashboard/assets/app.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn actions_go_through_the_api_and_need_the_csrf_token() {
    let app = spawn_app(ServerConfig::default(), false).await;
    let s = seed::seed(&app.store, "http://127.0.0.1:9/api/inngest", now()).await;
    let csrf = csrf_of(&app.ok("/").await);

    // Without the token another site could drive a local dev server through the dashboard.
    let send = |token: Option<String>| {
        move |r: reqwest::RequestBuilder| {
            let r = r.json(&json!({ "name": "app/test", "data": { "a": {}, "n": 1 } }));
            match token {
                Some(t) => r.header("x-csrf-token", t),
                None => r,
            }
        }
    };
    let (status, _) = app.post("/dashboard/actions/events/send", send(None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = app
        .post("/dashboard/actions/events/send", send(Some(csrf.clone())))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["ids"][0].as_str().unwrap().to_owned();
    assert!(app
        .ok(&format!("/events/{id}"))
        .await
        .contains(r#"{&quot;a&quot;:{},&quot;n&quot;:1}"#));

    let with = |body: Value| {
        let csrf = csrf.clone();
        move |r: reqwest::RequestBuilder| r.header("x-csrf-token", csrf).json(&body)
    };
    let (status, v) = app
        .post(
            &format!("/dashboard/actions/events/{}/replay", s.event),
            with(json!(null)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let replayed = app
        .store
        .get_event(v["ids"][0].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let original = app.store.get_event(s.event).await.unwrap().unwrap();
    assert_eq!(
        replayed.data.get(),
        original.data.get(),
        "replayed byte for byte"
    );

    let (status, v) = app
        .post(
            &format!("/dashboard/actions/functions/{}/invoke", s.function_id),
            with(json!({ "data": { "x": 1 } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let run_id = v["data"]["run_id"].as_str().unwrap();
    let run = app
        .store
        .get_run(run_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.event_name.as_deref(), Some("inngest/function.invoked"));

    // Webhook transforms: tested against a stored delivery, then saved, through /v1/webhooks.
    let accepted = app
        .store
        .list_deliveries(sluice_store::DeliveryQuery {
            source: "clerk".into(),
            outcome: Some(sluice_store::Outcome::Accepted),
            cursor: None,
            limit: 1,
        })
        .await
        .unwrap();
    let transform =
        "function transform(evt) { return { name: 'crm/contact.added', data: evt.data }; }";
    let (status, v) = app
        .post(
            "/dashboard/actions/v1/webhooks/clerk/test",
            with(json!({ "transform": transform, "delivery_id": accepted[0].id.to_string() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["events"][0]["name"], "crm/contact.added", "{v}");
    let resp = app
        .client
        .put(format!("{}/dashboard/actions/v1/webhooks/clerk", app.base))
        .header("x-csrf-token", csrf.clone())
        .json(&json!({ "transform": transform }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(app.ok("/sources/clerk").await.contains("crm/contact.added"));

    // Forwarded to the REST API: cancel and rerun.
    let (status, v) = app
        .post(
            &format!("/dashboard/actions/v1/runs/{}/cancel", s.running),
            with(json!(null)),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let (status, v) = app
        .post(
            &format!("/dashboard/actions/v1/runs/{}/rerun", s.failed),
            with(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = app
        .post(
            &format!("/dashboard/actions/v1/runs/{}/cancel", s.completed),
            with(json!(null)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
}

#[tokio::test]
async fn cloud_mode_requires_a_login_or_the_signing_key() {
    let app = spawn_app(cloud(), false).await;
    let s = seed::seed(&app.store, "http://127.0.0.1:9/api/inngest", now()).await;

    // Pages answer 401 with the login form, not a redirect; the REST API answers 401 JSON.
    let (status, body) = app.get("/").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("name=\"password\"") && !body.contains("Create user"));
    let (status, body) = app.get(&format!("/runs/{}", s.failed)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains(&format!("value=\"/runs/{}\"", s.failed)),
        "the form returns to the page"
    );
    let (status, body) = app.get("/v1/runs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["status"], 401);
    let (status, _) = app.get("/dashboard/stream").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Bearer: the signing key, plain or hashed; nothing else.
    let hashed = sluice_core::sign::hashed_signing_key(SIGNING_KEY).unwrap();
    for key in [SIGNING_KEY.to_owned(), hashed] {
        let (status, body) = app.get_with("/v1/runs", |r| r.bearer_auth(&key)).await;
        assert_eq!(status, StatusCode::OK, "{key}: {body}");
    }
    let (status, _) = app
        .get_with("/v1/runs", |r| r.bearer_auth("signkey-test-00"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get_with("/", |r| r.bearer_auth(SIGNING_KEY)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "pages need a session");

    // Routes with their own auth stay reachable.
    let (status, _) = app.post("/e/ek", |r| r.json(&json!({ "name": "a" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/dashboard/login").await;
    assert_eq!(status, StatusCode::OK);

    // Log in: a wrong password is refused, the right one sets a strict, HttpOnly cookie.
    let (status, _) = app
        .post("/dashboard/login", |r| {
            r.form(&[("password", "nope"), ("next", "/")])
        })
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = app
        .client
        .post(format!("{}/dashboard/login", app.base))
        .form(&[("password", PASSWORD), ("next", "/apps")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/apps");
    let cookie = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Behind a proxy that terminates TLS the cookie is Secure.
    for (name, value) in [
        ("x-forwarded-proto", "https"),
        (
            "forwarded",
            "for=10.0.0.1;proto=https;host=sluice.example.com",
        ),
    ] {
        let resp = app
            .client
            .post(format!("{}/dashboard/login", app.base))
            .header(name, value)
            .form(&[("password", PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        let set = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(set.ends_with("; Secure"), "{name}: {value} gives {set}");
    }
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |r: reqwest::RequestBuilder| r.header(header::COOKIE, cookie.clone());

    let (status, page) = app.get_with("/", with_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Create user") && page.contains("Log out"));
    let csrf = csrf_of(&page);
    let (status, _) = app.get_with("/v1/runs", with_cookie).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session works on the REST API too"
    );
    let (status, _) = app
        .get_with("/", |r| r.header(header::COOKIE, format!("{cookie}x")))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a tampered cookie");

    // Writes need the CSRF token on top of the cookie.
    let cancel = format!("/dashboard/actions/v1/runs/{}/cancel", s.running);
    let (status, _) = app.post(&cancel, with_cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&cancel, |r| {
            with_cookie(r).header("x-csrf-token", "0".repeat(32))
        })
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = app
        .post(&cancel, |r| {
            with_cookie(r).header("x-csrf-token", csrf.clone())
        })
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let (status, _) = app
        .post(&format!("/v1/runs/{}/rerun", s.failed), with_cookie)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "REST writes by cookie need the token too"
    );
    let (status, v) = app
        .post("/dashboard/actions/events/send", |r| {
            with_cookie(r)
                .header("x-csrf-token", csrf.clone())
                .json(&json!({ "name": "a/b", "data": {} }))
        })
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the dashboard sends with the server's event key: {v}"
    );
    // The webhooks API has its own Bearer check; the dashboard passes it as the server.
    let (status, v) = app
        .get_with("/v1/webhooks", |r| r.bearer_auth(SIGNING_KEY))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn the_stream_ticks_when_a_run_changes() {
    let app = spawn_app(ServerConfig::default(), false).await;
    let mut resp = app
        .client
        .get(format!("{}/dashboard/stream", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let store = app.store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        seed::seed(&store, "http://127.0.0.1:9/api/inngest", now()).await;
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = String::new();
    while !got.contains("event: tick") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("a tick within 10 s");
        got.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
    }
}

/// The dashboard in real headless Chromium (`tests/browser/run.mjs`, playwright-core): every
/// page in light and dark, laptop and phone widths, with screenshots in `target/screenshots/`;
/// log in, open a failed step's error, cancel a run, rerun one, send an event; no console errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_dashboard() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let browser_dir = root.join("tests/browser");
    let chromium = std::process::Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let missing = match (
        &chromium,
        browser_dir.join("node_modules/playwright-core").exists(),
    ) {
        (None, _) => Some("chromium is not installed (apt-get install -y chromium)"),
        (_, false) => Some("tests/browser/node_modules is missing (cd tests/browser && npm ci)"),
        _ => None,
    };
    if let Some(reason) = missing {
        assert!(
            std::env::var_os("CI").is_none(),
            "browser test cannot run in CI: {reason}"
        );
        eprintln!("skipping browser_dashboard: {reason}");
        return;
    }
    let app_url = fake_sdk_app().await;
    let app = spawn_app(cloud(), true).await;
    let s = seed::seed(&app.store, &app_url, now()).await;
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let ids = json!({
        "failed": s.failed.to_string(),
        "completed": s.completed.to_string(),
        "running": s.running.to_string(),
        "event": s.event.to_string(),
        "function": s.function_id,
    });
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("run.mjs"))
        .arg(&app.base)
        .env("CHROMIUM", chromium.unwrap())
        .env("SLUICE_PASSWORD", PASSWORD)
        .env("SEEDED", ids.to_string())
        .env("SCREENSHOTS", &shots)
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
}
