//! The HTTP API through the real router on a real socket, with a fresh SQLite store per test.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use sluice_server::{AppState, Mode, ServerConfig};

struct TestApp {
    base: String,
    client: reqwest::Client,
}

async fn spawn_app(config: ServerConfig) -> TestApp {
    let dir = std::env::temp_dir().join(format!("sluice-api-{}", ulid::Ulid::new()));
    let store = sluice_store::open(dir.to_str().unwrap()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(AppState::new(config, store));
    tokio::spawn(sluice_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }
    async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, t) = self.get_text(path).await;
        (s, serde_json::from_str(&t).unwrap())
    }
    async fn event_count(&self) -> usize {
        let (_, v) = self.get("/v1/events?limit=1000").await;
        v["data"].as_array().unwrap().len()
    }
}

const PAYLOAD: &str = r#"{"id":"user_1","public_metadata":{},"private_metadata":{},"tags":[],"z":1,"a":2,"big":123456789012345678901,"name":"J\u00f6rg \ud83d\ude00","quote":"say \"hi\"\n"}"#;

#[tokio::test]
async fn events_round_trip_byte_for_byte() {
    let app = spawn_app(ServerConfig::default()).await;
    let body = format!(
        r#"{{"name":"clerk/user.created","data":{PAYLOAD},"user":{{"k":{{}}}},"id":"evt-1","ts":1700000000000,"v":"1"}}"#
    );
    let (status, v) = app.post("/e/anykey", body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], 200);
    let id = v["ids"][0].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 26, "a ULID");

    let (status, text) = app.get_text(&format!("/v1/events/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(&format!(r#""data":{PAYLOAD}"#)),
        "payload altered: {text}"
    );
    assert!(text.contains(r#""user":{"k":{}}"#), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["internal_id"], id.as_str());
    assert_eq!(v["data"]["id"], "evt-1");
    assert_eq!(v["data"]["name"], "clerk/user.created");
    assert_eq!(v["data"]["ts"], 1700000000000i64);

    let (status, text) = app.get_text("/v1/events?name=clerk/user.created").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains(PAYLOAD));
}

#[tokio::test]
async fn batches_list_newest_first_and_page() {
    let app = spawn_app(ServerConfig::default()).await;
    let batch: Vec<Value> = (0..7)
        .map(|i| serde_json::json!({"name": format!("n/{}", i % 2), "data": {"i": i}}))
        .collect();
    let (status, v) = app.post("/e/k", serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 7);

    let (_, page1) = app.get("/v1/events?limit=4").await;
    let got: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["internal_id"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = ids.iter().rev().take(4).map(String::as_str).collect();
    assert_eq!(got, newest);
    let cursor = page1["cursor"].as_str().unwrap();
    let (_, page2) = app
        .get(&format!("/v1/events?limit=4&cursor={cursor}"))
        .await;
    assert_eq!(page2["data"].as_array().unwrap().len(), 3);
    assert!(page2["cursor"].is_null());

    let (_, odd) = app.get("/v1/events?name=n/1").await;
    assert_eq!(odd["data"].as_array().unwrap().len(), 3);
    let (status, _) = app.get("/v1/events?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, v) = app.get("/v1/events/01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["status"], 404);
}

#[tokio::test]
async fn bad_input_is_refused_precisely_and_stores_nothing() {
    let config = ServerConfig {
        max_body_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let app = spawn_app(config).await;

    let (status, v) = app.post("/e/k", r#"{"name": "a", "data": {"x": }"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("line 1") && msg.contains("column"), "{msg}");
    assert_eq!(v["status"], 400);

    let (status, v) = app.post("/e/k", r#"[{"name":"ok"},{"data":{}}]"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "event 1: `name` is missing");
    let (status, v) = app.post("/e/k", r#"[{"name":"ok"},{"name":["x"]}]"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("event 1: `name` must be a string"));

    let big = format!(
        r#"{{"name":"a","data":{{"x":"{}"}}}}"#,
        "y".repeat(70 * 1024)
    );
    let (status, v) = app.post("/e/k", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");

    let many: Vec<Value> = (0..5001)
        .map(|_| serde_json::json!({"name": "a"}))
        .collect();
    let app2 = spawn_app(ServerConfig::default()).await;
    let (status, v) = app2.post("/e/k", serde_json::to_vec(&many).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("5001 events"), "{v}");

    let resp = app
        .client
        .post(format!("{}/e/k", app.base))
        .header("content-type", "application/xml")
        .body("<event/>")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(app.event_count().await, 0);
    assert_eq!(app2.event_count().await, 0);
}

#[tokio::test]
async fn per_event_limit_gives_413() {
    let mut config = ServerConfig::default();
    config.ingest.max_event_bytes = 1024;
    let app = spawn_app(config).await;
    let body = format!(
        r#"[{{"name":"a"}},{{"name":"b","data":{{"x":"{}"}}}}]"#,
        "y".repeat(2000)
    );
    let (status, v) = app.post("/e/k", body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        v["error"].as_str().unwrap().starts_with("event 1 is"),
        "{v}"
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn cloud_mode_checks_the_event_key() {
    let config = ServerConfig {
        mode: Mode::Cloud,
        event_keys: vec!["right".into()],
        signing_key: Some("signkey-prod-00".into()),
        ..ServerConfig::default()
    };
    let app = spawn_app(config).await;
    let (status, v) = app.post("/e/wrong", r#"{"name":"a"}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["status"], 401);
    let (status, _) = app.post("/e/right", r#"{"name":"a"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let resp = app
        .client
        .get(format!("{}/v1/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-inngest-server-kind"], "cloud");
}

#[tokio::test]
async fn seeded_retries_get_the_same_ids_and_store_once() {
    let app = spawn_app(ServerConfig::default()).await;
    let send = || async {
        let resp = app
            .client
            .post(format!("{}/e/k", app.base))
            .header("x-inngest-event-id-seed", "1743130137367,eii2YKXRVTJPuA==")
            .json(&serde_json::json!([{"name": "a"}, {"name": "b"}]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-inngest-server-kind"], "dev");
        resp.json::<Value>().await.unwrap()["ids"].clone()
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first, second);
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn health_and_ready_answer_without_credentials() {
    let config = ServerConfig {
        mode: Mode::Cloud,
        event_keys: vec!["k".into()],
        signing_key: Some("signkey-prod-00".into()),
        ..ServerConfig::default()
    };
    let app = spawn_app(config).await;
    let (status, v) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ok");
    let (status, v) = app.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["schema_version"].as_i64().unwrap() >= 1, "{v}");
    // The REST API next to it still wants a key.
    let (status, _) = app.get_text("/v1/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
