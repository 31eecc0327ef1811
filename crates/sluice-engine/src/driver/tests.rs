//! The driver against a real HTTP server on 127.0.0.1:0, one route per kind of answer.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use sluice_core::run::Outcome;

use super::*;

const SDK: (&str, &str) = ("x-inngest-sdk", "inngest-js:v3.54.0");

async fn echo(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let h = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let echoed = serde_json::json!({
        "query": uri.query(),
        "content_type": h("content-type"),
        "run_id": h("x-run-id"),
        "step_id": h("x-inngest-step-id"),
        "req_version": h("x-inngest-req-version"),
        "server_kind": h("x-inngest-server-kind"),
        "signature": h("x-inngest-signature"),
        "peer_port": peer.port(),
        "body": body,
    });
    ([SDK, ("x-inngest-req-version", "1")], echoed.to_string())
}

async fn ops() -> impl IntoResponse {
    (
        StatusCode::PARTIAL_CONTENT,
        [SDK, ("x-inngest-req-version", "2")],
        r#"[{"op":"StepPlanned","id":"a"},{"op":"StepPlanned","id":"b"}]"#,
    )
}

async fn streamed() -> impl IntoResponse {
    let envelope = serde_json::json!({
        "status": 200,
        "headers": {"X-Inngest-SDK": "inngest-js:v3.54.0", "X-Inngest-Req-Version": "1"},
        "body": "{\"done\":true}",
        "version": 1,
    })
    .to_string();
    let chunks = vec![" ".to_owned(), " ".to_owned(), envelope];
    let stream = futures::stream::unfold(chunks.into_iter(), |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Some((Ok::<_, std::io::Error>(next), rest))
    });
    (StatusCode::CREATED, [SDK], Body::from_stream(stream))
}

async fn retriable() -> impl IntoResponse {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [SDK, ("x-inngest-no-retry", "false"), ("retry-after", "30")],
        r#"{"name":"Error","message":"database is down","stack":"Error: database is down\n    at fn"}"#,
    )
}

async fn non_retriable() -> impl IntoResponse {
    (
        StatusCode::BAD_REQUEST,
        [SDK, ("x-inngest-no-retry", "true")],
        r#"{"name":"NonRetriableError","message":"bad input"}"#,
    )
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "<html><body>Cannot POST /api/inngest</body></html>",
    )
}

async fn slow() -> impl IntoResponse {
    tokio::time::sleep(Duration::from_secs(10)).await;
    ([SDK], "null")
}

async fn big() -> impl IntoResponse {
    ([SDK], format!("\"{}\"", "x".repeat(64 * 1024)))
}

async fn spawn_app() -> SocketAddr {
    let router = Router::new()
        .route("/echo", post(echo))
        .route("/ops", post(ops))
        .route("/stream", post(streamed))
        .route("/error", post(retriable))
        .route("/no-retry", post(non_retriable))
        .route("/slow", post(slow))
        .route("/big", post(big))
        .fallback(not_found);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn driver(config: Config) -> HttpDriver {
    HttpDriver::new(config).unwrap()
}

fn call<'a>(url: &'a str, step: &'a str) -> Call<'a> {
    Call {
        url,
        step,
        run_id: "01HRUN",
        request_version: -1,
        body: r#"{"event":{}}"#.to_owned(),
        signer: None,
    }
}

#[tokio::test]
async fn sends_the_protocol_headers_and_reuses_connections() {
    let addr = spawn_app().await;
    let driver = driver(Config {
        server_kind: "cloud".into(),
        ..Config::default()
    });
    let url = format!("http://{addr}/echo?fnId=app-create-user&stepId=step");
    let sign = |body: &str| format!("t=1&s=len{}", body.len());

    let mut ports = Vec::new();
    for step in ["step", "e7d8a2f140845095749d60246ff1110c9d01d76a"] {
        let r = driver
            .call(Call {
                signer: Some(&sign),
                request_version: 2,
                ..call(&url, step)
            })
            .await;
        assert_eq!((r.status, r.request_version), (Some(200), Some(1)));
        assert_eq!(r.sdk.as_deref(), Some("inngest-js:v3.54.0"));
        let Outcome::Complete { output } = r.outcome else {
            panic!("{:?}", r.outcome)
        };
        let seen: serde_json::Value = serde_json::from_str(output.get()).unwrap();
        assert_eq!(seen["query"], format!("fnId=app-create-user&stepId={step}"));
        assert_eq!(seen["content_type"], "application/json");
        assert_eq!(seen["run_id"], "01HRUN");
        assert_eq!(seen["step_id"], step);
        assert_eq!(seen["req_version"], "2");
        assert_eq!(seen["server_kind"], "cloud");
        assert_eq!(seen["signature"], "t=1&s=len12");
        assert_eq!(seen["body"], r#"{"event":{}}"#);
        ports.push(seen["peer_port"].as_u64().unwrap());
    }
    assert_eq!(
        ports[0], ports[1],
        "the second call reuses the pooled connection"
    );
}

#[tokio::test]
async fn answers_of_every_kind() {
    let addr = spawn_app().await;
    let driver = driver(Config::default());
    let at = |path: &str| format!("http://{addr}{path}?fnId=f&stepId=step");

    let r = driver.call(call(&at("/ops"), "step")).await;
    assert_eq!(r.request_version, Some(2));
    assert!(
        matches!(&r.outcome, Outcome::Ops { ops, no_retry: false, retry_after_ms: None } if ops.len() == 2)
    );

    let r = driver.call(call(&at("/stream"), "step")).await;
    assert_eq!((r.status, r.request_version), (Some(200), Some(1)));
    assert!(
        matches!(&r.outcome, Outcome::Complete { output } if output.get() == r#"{"done":true}"#)
    );

    let r = driver.call(call(&at("/error"), "step")).await;
    match &r.outcome {
        Outcome::Error {
            status: 500,
            error,
            no_retry: false,
            retry_after_ms: Some(30_000),
        } => {
            assert_eq!(error.message, "database is down");
            assert!(error.stack.as_deref().unwrap().contains("at fn"));
        }
        other => panic!("{other:?}"),
    }

    let r = driver.call(call(&at("/no-retry"), "step")).await;
    assert!(
        matches!(&r.outcome, Outcome::Error { status: 400, no_retry: true, error, .. } if error.name == "NonRetriableError")
    );

    let r = driver.call(call(&at("/nothing-here"), "step")).await;
    match &r.outcome {
        Outcome::NotSdk {
            status: 404,
            body_prefix,
        } => assert!(body_prefix.contains("Cannot POST")),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.sdk, None);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/api/inngest?fnId=f&stepId=step");
    let r = driver(Config::default()).call(call(&url, "step")).await;
    match &r.outcome {
        Outcome::Transport { message } => {
            assert!(
                message.contains(&format!(
                    "could not connect to your app at http://{addr}/api/inngest"
                )),
                "{message}"
            );
            assert!(message.contains("is it running?"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.status, None);
}

#[tokio::test]
async fn slow_apps_time_out() {
    let addr = spawn_app().await;
    let driver = driver(Config {
        request_timeout: Duration::from_millis(300),
        ..Config::default()
    });
    let url = format!("http://{addr}/slow?fnId=f");
    let r = driver.call(call(&url, "step")).await;
    assert!(
        matches!(&r.outcome, Outcome::Transport { message } if message.contains("did not finish answering within 300ms")),
        "{:?}",
        r.outcome
    );
}

#[tokio::test]
async fn oversized_answers_fail_without_retry() {
    let addr = spawn_app().await;
    let driver = driver(Config {
        max_response_bytes: 1024 * 1024 / 64,
        ..Config::default()
    });
    let url = format!("http://{addr}/big?fnId=f");
    let r = driver.call(call(&url, "step")).await;
    assert!(
        matches!(&r.outcome, Outcome::Error { no_retry: true, error, .. } if error.name == "ResponseTooLarge"),
        "{:?}",
        r.outcome
    );
}

#[test]
fn step_url_replaces_the_step_id() {
    let url = step_url(
        "http://localhost:3000/api/inngest?fnId=app-fn&stepId=step",
        "abc",
    )
    .unwrap();
    assert_eq!(
        url.as_str(),
        "http://localhost:3000/api/inngest?fnId=app-fn&stepId=abc"
    );
    let url = step_url("https://example.com/x?stepId=step&fnId=a%20b", "step").unwrap();
    assert_eq!(url.as_str(), "https://example.com/x?fnId=a+b&stepId=step");
    assert!(step_url("ftp://example.com/x", "step")
        .unwrap_err()
        .contains("not http"));
    assert!(step_url("not a url", "step")
        .unwrap_err()
        .contains("is invalid"));
}

#[test]
fn server_kind_is_checked() {
    let err = HttpDriver::new(Config {
        server_kind: "prod".into(),
        ..Config::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("\"dev\" or \"cloud\""));
}
