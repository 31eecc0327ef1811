//! App sync through the real router on a real socket: `POST /fn/register` with bodies shaped as
//! the JS v3, JS v4 and Python SDKs send them (`tests/fixtures/`), the apps and functions REST
//! API, and sync by URL (`PUT` to the app).
//!
//! The sync-by-URL tests stand a tiny axum handler in for the app: it answers a PUT the way the
//! JS SDK does (register with Sluice, then relay the outcome), or like things that are not an
//! SDK at all. The real SDKs are exercised by the end-to-end tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sluice_server::{AppState, EngineHooks, Mode, ServerConfig};
use sluice_store::Store;

const JS_V3: &str = include_str!("fixtures/register_js_v3.json");
const JS_V4: &str = include_str!("fixtures/register_js_v4.json");
const PY: &str = include_str!("fixtures/register_py.json");

/// A signing key in the SDKs' format; its hashed form is what they send as a bearer token.
const SIGNING_KEY: &str =
    "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

/// Counts the engine notifications the HTTP layer sends.
#[derive(Default)]
struct Hooks {
    functions_changed: AtomicUsize,
}

impl EngineHooks for Hooks {
    fn functions_changed(&self) {
        self.functions_changed.fetch_add(1, Ordering::SeqCst);
    }
}

struct TestApp {
    base: String,
    client: reqwest::Client,
    store: Arc<dyn Store>,
    hooks: Arc<Hooks>,
    bearer: Option<String>,
}

async fn spawn_app(config: ServerConfig) -> TestApp {
    let dir = std::env::temp_dir().join(format!("sluice-apps-{}", ulid::Ulid::new()));
    let store = sluice_store::open(dir.to_str().unwrap()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hooks = Arc::new(Hooks::default());
    let state = Arc::new(AppState::new(config, store.clone()).with_engine(hooks.clone()));
    tokio::spawn(sluice_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        store,
        hooks,
        bearer: None,
    }
}

fn cloud() -> ServerConfig {
    ServerConfig {
        mode: Mode::Cloud,
        event_keys: vec!["ek".into()],
        signing_key: Some(SIGNING_KEY.into()),
        ..ServerConfig::default()
    }
}

impl TestApp {
    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let req = match &self.bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, v)
    }
    async fn register(&self, body: &str) -> (StatusCode, Value) {
        self.register_with(body, &[]).await
    }
    async fn register_with(&self, body: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/fn/register", self.base))
            .header("content-type", "application/json")
            .header("x-inngest-sync-kind", "out_of_band")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // The SDK's own bearer, not the REST caller's.
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }
    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(format!("{}{path}", self.base)))
            .await
    }
    fn changes(&self) -> usize {
        self.hooks.functions_changed.load(Ordering::SeqCst)
    }
}

/// `body` with `edit` applied to its JSON.
fn edited(body: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    edit(&mut v);
    v.to_string()
}

#[tokio::test]
async fn js_v3_v4_and_python_bodies_sync() {
    let app = spawn_app(ServerConfig::default()).await;
    for (body, id) in [(JS_V3, "clerk-user-sync"), (JS_V4, "shop"), (PY, "py-app")] {
        let (status, v) = app.register(body).await;
        assert_eq!(status, StatusCode::OK, "{id}: {v}");
        assert_eq!(v["ok"], true);
        assert_eq!(v["modified"], true, "a new app is a change");
        assert_eq!(v["app_id"], id);
        assert_eq!(v["sync_id"].as_str().unwrap().len(), 26);
    }
    assert_eq!(
        app.changes(),
        3,
        "the engine heard of each new function set"
    );

    let (status, v) = app.get("/v1/apps").await;
    assert_eq!(status, StatusCode::OK);
    let apps = v["data"].as_array().unwrap();
    let ids: Vec<&str> = apps.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["clerk-user-sync", "py-app", "shop"]);
    let js = &apps[0];
    assert_eq!(js["url"], "http://localhost:3000/api/inngest");
    assert_eq!(js["sdk"], "js:v3.54.0");
    assert_eq!(js["framework"], "express");
    assert_eq!(js["app_version"], Value::Null);
    assert_eq!(js["function_count"], 3);
    assert_eq!(js["function_hash"].as_str().unwrap().len(), 64);
    assert_eq!(js["last_sync"], "ok");
    assert_eq!(js["last_error"], Value::Null);
    assert!(js["synced_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(js["warnings"], json!([]));
    assert_eq!(js["functions"].as_array().unwrap().len(), 3);
    let py = &apps[1];
    assert_eq!(py["sdk"], "py:v0.5.18");
    assert_eq!(py["framework"], "fast_api");
    let shop = &apps[2];
    assert_eq!(shop["app_version"], "2026.12.01");
    assert_eq!(shop["sdk"], "js:v4.18.1");

    let (status, v) = app.get("/v1/functions/clerk-user-sync-create-user").await;
    assert_eq!(status, StatusCode::OK);
    let f = &v["data"];
    assert_eq!(f["app_id"], "clerk-user-sync");
    assert_eq!(f["slug"], "create-user");
    assert_eq!(f["name"], "Create user");
    assert_eq!(f["retries"], 3);
    assert_eq!(f["max_attempts"], 4);
    assert_eq!(f["triggers"], json!([{ "event": "clerk/user.created" }]));
    assert_eq!(
        f["url"],
        "http://localhost:3000/api/inngest?fnId=clerk-user-sync-create-user&stepId=step"
    );
    assert_eq!(f["config"]["steps"]["step"]["retries"]["attempts"], 3);
    assert_eq!(f["unenforced"], json!([]));

    let (_, v) = app
        .get("/v1/functions/clerk-user-sync-create-user-failure")
        .await;
    assert_eq!(
        v["data"]["triggers"],
        json!([{ "event": "inngest/function.failed",
                 "expression": "event.data.function_id == 'clerk-user-sync-create-user'" }])
    );
    let (_, v) = app
        .get("/v1/functions/clerk-user-sync-nightly-report")
        .await;
    assert_eq!(
        v["data"]["triggers"],
        json!([{ "cron": "TZ=Europe/Paris 0 3 * * *" }])
    );
    assert_eq!(v["data"]["retries"], 4, "the default");
    let (_, v) = app.get("/v1/functions/py-app-send-welcome").await;
    assert_eq!(v["data"]["retries"], 2);
    let (_, v) = app.get("/v1/functions/shop-order-paid").await;
    assert_eq!(v["data"]["retries"], 20);
    assert_eq!(
        v["data"]["triggers"][0]["expression"],
        "event.data.total > 100"
    );

    let (_, v) = app.get("/v1/functions").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 5);
    let (status, v) = app.get("/v1/functions/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, _) = app.get("/v1/apps/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn identical_resync_is_not_modified_and_a_change_is() {
    let app = spawn_app(ServerConfig::default()).await;
    let (_, first) = app.register(JS_V3).await;
    assert_eq!(first["modified"], true);

    let (_, again) = app.register(JS_V3).await;
    assert_eq!(again["modified"], false);
    assert_eq!(again["sync_id"], first["sync_id"]);
    // The same functions in another order, keys reordered: still the same set.
    let reordered = edited(JS_V3, |v| {
        v["functions"].as_array_mut().unwrap().reverse();
    });
    let (_, v) = app.register(&reordered).await;
    assert_eq!(v["modified"], false);
    assert_eq!(app.changes(), 1, "no notification without a change");

    let changed = edited(JS_V3, |v| {
        v["functions"][0]["triggers"][0]["event"] = json!("clerk/user.updated");
    });
    let (status, v) = app.register(&changed).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["modified"], true);
    assert_ne!(v["sync_id"], first["sync_id"]);
    assert_eq!(app.changes(), 2);
    let (_, f) = app.get("/v1/functions/clerk-user-sync-create-user").await;
    assert_eq!(f["data"]["triggers"][0]["event"], "clerk/user.updated");

    let (_, v) = app.get("/v1/apps/clerk-user-sync").await;
    let syncs = v["data"]["syncs"].as_array().unwrap();
    assert_eq!(syncs.len(), 2, "repeats fold: {syncs:?}");
    assert_eq!(syncs[0]["modified"], true);
    assert_eq!(syncs[0]["ok"], true);
    assert_eq!(syncs[0]["sdk"], "js:v3.54.0");
}

#[tokio::test]
async fn cloud_mode_takes_the_plain_or_hashed_signing_key() {
    let mut app = spawn_app(cloud()).await;
    let hashed = sluice_core::sign::hashed_signing_key(SIGNING_KEY).unwrap();
    assert_ne!(hashed, SIGNING_KEY);

    let (status, v) = app.register(JS_V3).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("INNGEST_SIGNING_KEY"),
        "{v}"
    );
    let wrong = "Bearer signkey-test-00";
    let (status, _) = app.register_with(JS_V3, &[("authorization", wrong)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = app
        .register_with(JS_V3, &[("authorization", &format!("Bearer {hashed}"))])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = app
        .register_with(PY, &[("authorization", &format!("Bearer {SIGNING_KEY}"))])
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(
        app.store
            .list_syncs("clerk-user-sync", 10)
            .await
            .unwrap()
            .len()
            == 1,
        "unauthenticated attempts are not recorded"
    );

    // The REST API needs the key too.
    let (status, _) = app.get("/v1/apps").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.bearer = Some(hashed);
    let (status, v) = app.get("/v1/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn expected_server_kind_must_match() {
    let app = spawn_app(ServerConfig::default()).await;
    let resp = app
        .client
        .post(format!("{}/fn/register", app.base))
        .header("x-inngest-expected-server-kind", "cloud")
        .body(JS_V3)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["x-inngest-server-kind"], "dev");
    let v: Value = resp.json().await.unwrap();
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("\"cloud\"") && error.contains("\"dev\""),
        "{error}"
    );
    assert_eq!(
        v["status"], 400,
        "the JS SDK reads the status from the body"
    );

    let (status, _) = app
        .register_with(JS_V3, &[("x-inngest-expected-server-kind", "dev")])
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, v) = app.get("/dev").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["kind"], "dev");
    assert!(v["version"].is_string());
}

fn with_concurrency(body: &str) -> String {
    edited(body, |v| {
        v["functions"][0]["concurrency"] = json!([{ "limit": 5, "key": "event.data.id" }]);
        v["functions"][2]["throttle"] = json!({ "limit": 1, "period": "1m" });
        v["functions"][2]["debounce"] = json!({ "period": "5s" });
    })
}

#[tokio::test]
async fn unenforced_settings_are_refused_naming_function_and_setting() {
    let app = spawn_app(ServerConfig::default()).await;
    let (_, ok) = app.register(JS_V3).await;

    let (status, v) = app.register(&with_concurrency(JS_V3)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let expected = "function \"clerk-user-sync-create-user\" uses \"concurrency\", which Sluice \
        does not enforce yet; function \"clerk-user-sync-nightly-report\" uses \"throttle\" and \
        \"debounce\", which Sluice does not enforce yet; remove it, or run sluice dev \
        --allow-unenforced";
    assert_eq!(v["error"], expected);

    // Stored and shown; the functions already synced stay in force.
    let (_, v) = app.get("/v1/apps/clerk-user-sync").await;
    let a = &v["data"];
    assert_eq!(a["last_sync"], "failed");
    assert_eq!(a["last_error"], expected);
    assert_eq!(a["sync_id"], ok["sync_id"]);
    assert_eq!(a["function_count"], 3);
    assert_eq!(a["syncs"][0]["ok"], false);
    assert_eq!(a["syncs"][0]["error"], expected);
    let (_, f) = app.get("/v1/functions/clerk-user-sync-create-user").await;
    assert_eq!(f["data"]["unenforced"], json!([]));

    // Refused again (the dev server re-syncs every few seconds): one row, not two.
    app.register(&with_concurrency(JS_V3)).await;
    let (_, v) = app.get("/v1/apps/clerk-user-sync").await;
    assert_eq!(v["data"]["syncs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn allow_unenforced_stores_the_settings_with_warnings() {
    let app = spawn_app(ServerConfig {
        allow_unenforced: true,
        ..ServerConfig::default()
    })
    .await;
    let (status, v) = app.register(&with_concurrency(JS_V3)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, f) = app
        .get("/v1/functions/clerk-user-sync-nightly-report")
        .await;
    assert_eq!(f["data"]["unenforced"], json!(["throttle", "debounce"]));
    let warning = f["data"]["warning"].as_str().unwrap();
    assert!(
        warning.contains("\"throttle\" and \"debounce\""),
        "{warning}"
    );
    assert!(warning.contains("ignored"), "{warning}");
    let (_, v) = app.get("/v1/apps/clerk-user-sync").await;
    assert_eq!(v["data"]["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"]["last_sync"], "ok");
}

#[tokio::test]
async fn invalid_bodies_are_refused_and_stored() {
    let app = spawn_app(ServerConfig::default()).await;
    let bad_cron = edited(JS_V3, |v| {
        v["functions"][2]["triggers"][0]["cron"] = json!("61 * * * *");
    });
    let (status, v) = app.register(&bad_cron).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = v["error"].as_str().unwrap();
    assert!(
        error.starts_with("function \"clerk-user-sync-nightly-report\": triggers[0].cron:"),
        "{error}"
    );
    // A first sync that fails still shows, as an app with no functions.
    let (status, v) = app.get("/v1/apps/clerk-user-sync").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["last_sync"], "failed");
    assert_eq!(v["data"]["last_error"], error);
    assert_eq!(v["data"]["function_count"], 0);
    assert_eq!(v["data"]["sync_id"], Value::Null);
    assert_eq!(app.changes(), 0);

    let (status, v) = app.register("{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("not valid JSON"),
        "{v}"
    );
    let (status, v) = app
        .register(r#"{"url":"http://x/api/inngest","functions":[]}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "register body: appName is missing");

    // A function id another app already holds is refused, not silently moved.
    app.register(JS_V4).await;
    let thief = edited(PY, |v| {
        v["functions"][0]["id"] = json!("shop-order-paid");
    });
    let (status, v) = app.register(&thief).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("already belongs to app \"shop\""),
        "{v}"
    );
}

#[tokio::test]
async fn removing_an_app_removes_its_functions() {
    let app = spawn_app(ServerConfig::default()).await;
    app.register(JS_V3).await;
    app.register(PY).await;
    let before = app.changes();
    let (status, v) = app.delete("/v1/apps/clerk-user-sync").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(app.changes(), before + 1);
    let (status, _) = app.get("/v1/apps/clerk-user-sync").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = app.get("/v1/functions").await;
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["py-app-send-welcome"]);
    let (status, _) = app.delete("/v1/apps/clerk-user-sync").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// What the stand-in app saw.
#[derive(Default)]
struct Seen {
    puts: Vec<(HeaderMap, String)>,
}

/// Serves `/api/inngest` like the JS SDK: on PUT, register `body` (with this server's URL) with
/// Sluice, then answer with the register call's status and `{message, modified}`.
async fn spawn_fake_sdk(
    sluice: &str,
    body: &str,
    bearer: Option<String>,
) -> (String, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/inngest", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let register_url = format!("{sluice}/fn/register");
    let body = body
        .replace("http://localhost:3000/api/inngest", &url)
        .replace("http://127.0.0.1:8000/api/inngest", &url);
    let handler = {
        let seen = seen.clone();
        move |headers: HeaderMap, put_body: String| async move {
            seen.lock().unwrap().puts.push((headers.clone(), put_body));
            let mut req = reqwest::Client::new()
                .post(&register_url)
                .header("x-inngest-sync-kind", "out_of_band")
                .body(body.clone());
            if let Some(kind) = headers.get("x-inngest-server-kind") {
                req = req.header("x-inngest-expected-server-kind", kind.to_str().unwrap());
            }
            if let Some(b) = &bearer {
                req = req.bearer_auth(b);
            }
            let answer: Value = req.send().await.unwrap().json().await.unwrap();
            let status = answer["status"].as_u64().unwrap_or(200) as u16;
            let message = answer["error"]
                .as_str()
                .unwrap_or("Successfully registered");
            (
                AxumStatus::from_u16(status).unwrap(),
                [
                    ("x-inngest-sdk", "js:v3.54.0"),
                    ("content-type", "application/json"),
                ],
                json!({ "message": message, "modified": answer["modified"] }).to_string(),
            )
                .into_response()
        }
    };
    let router = axum::Router::new().route("/api/inngest", axum::routing::put(handler));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[tokio::test]
async fn add_by_url_syncs_through_the_app() {
    let app = spawn_app(ServerConfig::default()).await;
    let (url, seen) = spawn_fake_sdk(&app.base, JS_V3, None).await;

    let (status, v) = app.post("/v1/apps", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["modified"], true);
    assert_eq!(v["app_id"], "clerk-user-sync");
    assert_eq!(v["data"]["url"], url.as_str());
    assert_eq!(v["data"]["function_count"], 3);
    assert_eq!(v["sync_id"], v["data"]["sync_id"]);
    {
        let seen = seen.lock().unwrap();
        let (headers, body) = &seen.puts[0];
        assert_eq!(headers["x-inngest-server-kind"], "dev");
        assert!(
            headers.get("x-inngest-signature").is_none(),
            "no key, no signature"
        );
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body, json!({ "url": url }));
    }

    let (status, v) = app.post("/v1/apps/clerk-user-sync/resync", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["modified"], false);
    let (status, _) = app.post("/v1/apps/nope/resync", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = app.post("/v1/apps", json!({ "nope": 1 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = app.post("/v1/apps", json!({ "url": "ftp://x/y" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn add_by_url_in_cloud_mode_signs_the_put() {
    let mut app = spawn_app(cloud()).await;
    app.bearer = Some(SIGNING_KEY.into());
    let hashed = sluice_core::sign::hashed_signing_key(SIGNING_KEY).unwrap();
    let (url, seen) = spawn_fake_sdk(&app.base, PY, Some(hashed)).await;
    let (status, v) = app.post("/v1/apps", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["app_id"], "py-app");
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen.puts[0];
    assert_eq!(headers["x-inngest-server-kind"], "cloud");
    let signature = headers["x-inngest-signature"].to_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    sluice_core::sign::verify_signature(signature, body.as_bytes(), SIGNING_KEY, now)
        .expect("the PUT is signed with the signing key");
}

#[tokio::test]
async fn add_by_url_reports_a_refused_sync_once() {
    let app = spawn_app(ServerConfig::default()).await;
    let (url, _) = spawn_fake_sdk(&app.base, &with_concurrency(JS_V3), None).await;
    let (status, v) = app.post("/v1/apps", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("did not sync"), "{error}");
    assert!(error.contains("uses \"concurrency\""), "{error}");
    // The register call stored the refusal; the PUT's report of it folds into the same row.
    let (_, a) = app.get("/v1/apps/clerk-user-sync").await;
    let syncs = a["data"]["syncs"].as_array().unwrap();
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(v["sync_id"], syncs[0]["id"]);
}

#[tokio::test]
async fn add_by_url_reports_connection_refused() {
    let app = spawn_app(ServerConfig::default()).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/inngest", closed.local_addr().unwrap());
    drop(closed);
    let (status, v) = app.post("/v1/apps", json!({ "url": url })).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("connection refused"), "{error}");
    assert!(error.contains(&url), "{error}");
    let id = ulid::Ulid::from_string(v["sync_id"].as_str().unwrap()).unwrap();
    let stored = app.store.get_sync(id).await.unwrap().expect("stored");
    assert_eq!(stored.url, url);
    assert_eq!(stored.app_id, None);
    assert!(stored.error.unwrap().contains("connection refused"));
}

#[tokio::test]
async fn add_by_url_reports_an_answer_that_is_not_an_sdk() {
    let app = spawn_app(ServerConfig::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(|| async {
        (
            AxumStatus::NOT_FOUND,
            [("content-type", "text/html")],
            "<!DOCTYPE html>\n<html><body><pre>Cannot PUT /api/inngest</pre></body></html>",
        )
    });
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (status, v) = app
        .post("/v1/apps", json!({ "url": format!("{base}/api/inngest") }))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("answered 404"), "{error}");
    assert!(error.contains("not through an Inngest SDK"), "{error}");
    assert!(error.contains("Cannot PUT /api/inngest"), "{error}");
}
