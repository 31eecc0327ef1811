//! The harness: a real server per test on a fresh SQLite store, a client that keeps every
//! answer (to check that no secret leaks), and signing with the senders' npm packages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_server::{AppState, Mode, ServerConfig};
use sluice_store::Store;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

// ---------------------------------------------------------------------------------------------
// Harness

pub struct TestApp {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    /// Every response body and header seen, for checking that no secret ever leaves.
    pub seen: Mutex<Vec<String>>,
}

pub fn dev() -> ServerConfig {
    ServerConfig::default()
}

pub fn cloud() -> ServerConfig {
    ServerConfig {
        mode: Mode::Cloud,
        event_keys: vec!["ek".into()],
        signing_key: Some("signkey-prod-0123".into()),
        ..ServerConfig::default()
    }
}

pub async fn fresh_store() -> Arc<dyn Store> {
    let dir = std::env::temp_dir().join(format!("sluice-webhooks-{}", ulid::Ulid::new()));
    sluice_store::open(dir.to_str().unwrap()).await.unwrap()
}

pub async fn spawn_app(config: ServerConfig) -> TestApp {
    spawn_on(config, fresh_store().await).await
}

pub async fn spawn_on(config: ServerConfig, store: Arc<dyn Store>) -> TestApp {
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
        addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        seen: Mutex::new(Vec::new()),
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl TestApp {
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        assert!(!status.is_redirection(), "a 3xx: {status}");
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        self.seen
            .lock()
            .unwrap()
            .push(format!("{headers:?}\n{text}"));
        Answer {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Answer {
        self.send(self.client.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn deliver(&self, source: &str, headers: &[(String, String)], body: &str) -> Answer {
        let mut req = self
            .client
            .post(format!("{}/webhooks/{source}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        self.send(req).await
    }

    pub async fn create(&self, source: Value) -> Value {
        let a = self.post_json("/v1/webhooks", &source).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json()["data"].clone()
    }

    pub async fn events_named(&self, name: &str) -> Vec<Value> {
        let a = self
            .get(&format!("/v1/events?limit=1000&name={name}"))
            .await;
        a.json()["data"].as_array().unwrap().clone()
    }

    pub async fn deliveries(&self, source: &str) -> Vec<Value> {
        let a = self.get(&format!("/v1/webhooks/{source}/deliveries")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        a.json()["data"].as_array().unwrap().clone()
    }

    /// No response so far carried a secret, whole or as its decoded key's base64.
    pub fn assert_no_secret_leaked(&self, secrets: &[&str]) {
        for text in self.seen.lock().unwrap().iter() {
            for secret in secrets {
                let key = secret.strip_prefix("whsec_").unwrap_or(secret);
                assert!(
                    !text.contains(secret) && !text.contains(key),
                    "a secret leaked: {text}"
                );
            }
        }
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn shared_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/webhooks")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Signing with the senders' libraries

/// One delivery to sign: `scheme` is `svix` or `standardwebhooks`.
pub struct Case<'a> {
    pub scheme: &'a str,
    pub id: &'a str,
    pub timestamp: i64,
    pub secret: &'a str,
    pub body: &'a str,
}

pub fn signers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice-webhooks/tests/js")
}

/// The headers each case is sent with, signed by the npm packages.
pub fn sign(cases: &[Case]) -> Vec<Vec<(String, String)>> {
    let dir = signers_dir();
    if !dir.join("node_modules/svix").exists()
        || !dir.join("node_modules/standardwebhooks").exists()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must sign with the npm packages: run `npm ci` in {}",
            dir.display()
        );
        eprintln!(
            "node_modules missing in {}: signing with the test's own HMAC",
            dir.display()
        );
        return cases.iter().map(sign_here).collect();
    }
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"scheme": c.scheme, "id": c.id, "timestamp": c.timestamp,
                   "secret": c.secret, "body": c.body})
        })
        .collect();
    let mut child = Command::new("node")
        .arg("sign.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(Value::Array(input).to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sign.mjs failed");
    let signed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    signed
        .iter()
        .map(|c| {
            c["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .collect()
}

pub fn sign_one(case: Case) -> Vec<(String, String)> {
    sign(&[case]).remove(0)
}

/// Standard Webhooks signing, for runs without node_modules outside CI.
pub fn sign_here(c: &Case) -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(c.secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let msg = format!("{}.{}.{}", c.id, c.timestamp, c.body);
    let sig = format!("v1,{}", b64.encode(hmac_sha256(&key, msg.as_bytes())));
    let prefix = if c.scheme == "svix" {
        "svix"
    } else {
        "webhook"
    };
    vec![
        (format!("{prefix}-id"), c.id.to_owned()),
        (format!("{prefix}-timestamp"), c.timestamp.to_string()),
        (format!("{prefix}-signature"), sig),
    ]
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The fallback signer must agree with the npm packages, or local runs without node_modules
/// would test something else.
#[test]
fn the_fallback_signer_agrees_with_the_npm_packages() {
    if !signers_dir().join("node_modules/svix").exists() {
        return;
    }
    for scheme in ["svix", "standardwebhooks"] {
        let case = || Case {
            scheme,
            id: "msg_fallback",
            timestamp: 1_700_000_000,
            secret: SECRET,
            body: "{\"a\":{},\"n\":12345678901234567890}",
        };
        assert_eq!(sign_one(case()), sign_here(&case()));
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    &headers.iter().find(|(k, _)| k == name).unwrap().1
}

/// The text of the value under `key` in a JSON object, sliced out of the source by scanning it
/// (not by serde), so it checks byte-exactness independently of the code under test.
pub fn slice_member<'a>(json: &'a str, key: &str) -> &'a str {
    let needle = format!("\"{key}\"");
    let at = json.find(&needle).expect("key present") + needle.len();
    let start = at
        + json[at..]
            .find(|c: char| c != ':' && !c.is_whitespace())
            .unwrap();
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for (i, &b) in json.as_bytes().iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return &json[start..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced JSON")
}

/// An event from `GET /v1/events/{id}` with its `data` as the exact bytes served.
pub async fn raw_event(app: &TestApp, id: &str) -> (String, i64, String) {
    #[derive(Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        data: Inner<'a>,
    }
    #[derive(Deserialize)]
    struct Inner<'a> {
        name: String,
        ts: i64,
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let a = app.get(&format!("/v1/events/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let outer: Outer = serde_json::from_str(&a.text).unwrap();
    (
        outer.data.name,
        outer.data.ts,
        outer.data.data.get().to_owned(),
    )
}

pub fn ids(answer: &Value) -> Vec<String> {
    answer["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect()
}

pub async fn clerk_app() -> TestApp {
    let app = spawn_app(dev()).await;
    app.create(json!({"name": "clerk", "preset": "clerk", "secrets": [SECRET]}))
        .await;
    app
}
