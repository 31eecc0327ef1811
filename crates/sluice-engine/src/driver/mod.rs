//! Calling user functions over HTTP with the Inngest SDK protocol.
//!
//! One [`HttpDriver`] holds one keep-alive connection pool for every app. A call is a `POST` to the
//! function's runtime URL (from the sync, carrying `fnId=…`) with `stepId` set to `step`
//! (discovery) or a hashed step id, and these headers, as the Go server sends them:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `X-Run-ID` | the run's ULID |
//! | `X-Inngest-Step-ID` | same as the `stepId` query parameter |
//! | `X-Inngest-Req-Version` | the run's request version (-1 until the SDK chose; the SDKs then read the body's `version`) |
//! | `X-Inngest-Server-Kind` | `dev` or `cloud` |
//! | `X-Inngest-Signature` | `t=…&s=…` when a signer is given |
//!
//! The body comes from [`build_request_body`]; the answer is read by [`interpret`] into a
//! [`sluice_core::run::Outcome`] for the run state machine. Transport failures become
//! `Outcome::Transport` with a message a user can act on. The driver never retries: retrying is
//! the state machine's decision.

mod body;
mod response;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, USER_AGENT};
use reqwest::Url;
use sluice_core::run::Outcome;

pub use body::{build_request_body, RequestCtx};
pub use response::{interpret, Response};

/// Driver settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Longest a whole call may take, including a streamed response. Inngest allows 2 hours.
    pub request_timeout: Duration,
    /// Longest to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections are closed after this long.
    pub pool_idle_timeout: Duration,
    /// Sent as `X-Inngest-Server-Kind`: `"dev"` for `sluice dev`, `"cloud"` for `sluice start`.
    pub server_kind: String,
    /// Largest answer read; more fails the run. Inngest's limit is 8 MiB (4 MiB output + 4 MiB
    /// input).
    pub max_response_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            request_timeout: Duration::from_secs(2 * 60 * 60),
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            server_kind: "dev".to_owned(),
            max_response_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Produces `X-Inngest-Signature` for a request body.
///
/// The SDKs verify the HMAC over the canonical (RFC 8785) form of the JSON they parse, so the
/// signer should canonicalize `body` and sign that, while the driver sends `body` itself.
/// (`sluice_core::sign::{canonical_json, sign_body}` provide both.)
pub trait Sign: Send + Sync {
    fn signature(&self, body: &str) -> String;
}

impl<F: Fn(&str) -> String + Send + Sync> Sign for F {
    fn signature(&self, body: &str) -> String {
        self(body)
    }
}

/// One call to make.
pub struct Call<'a> {
    /// The function's runtime URL as synced, e.g. `http://localhost:3000/api/inngest?fnId=app-fn&stepId=step`.
    pub url: &'a str,
    /// `step` for discovery, or the hashed id of the planned step to run.
    pub step: &'a str,
    pub run_id: &'a str,
    pub request_version: i32,
    pub body: String,
    pub signer: Option<&'a dyn Sign>,
}

/// The driver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("invalid server kind {0:?}: expected \"dev\" or \"cloud\"")]
    ServerKind(String),
}

/// Calls SDK endpoints over HTTP, sharing one connection pool.
#[derive(Debug, Clone)]
pub struct HttpDriver {
    client: reqwest::Client,
    config: Config,
    server_kind: HeaderValue,
}

impl HttpDriver {
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.server_kind != "dev" && config.server_kind != "cloud" {
            return Err(Error::ServerKind(config.server_kind));
        }
        let server_kind = HeaderValue::from_str(&config.server_kind)
            .map_err(|_| Error::ServerKind(config.server_kind.clone()))?;
        let mut defaults = HeaderMap::new();
        defaults.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        defaults.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("sluice/", env!("CARGO_PKG_VERSION"))),
        );
        let client = reqwest::Client::builder()
            .default_headers(defaults)
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_keepalive(Duration::from_secs(15))
            // A redirected POST would lose its body; show the redirect as an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Client)?;
        Ok(HttpDriver {
            client,
            config,
            server_kind,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Makes one call and reads the whole answer. Never fails: every problem is an [`Outcome`].
    pub async fn call(&self, call: Call<'_>) -> Response {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_millis() as u64;

        let url = match step_url(call.url, call.step) {
            Ok(url) => url,
            Err(message) => return Response::transport(message, elapsed()),
        };
        let mut request = self
            .client
            .post(url.clone())
            .header("X-Run-ID", call.run_id)
            .header("X-Inngest-Step-ID", call.step)
            .header("X-Inngest-Req-Version", call.request_version.to_string())
            .header("X-Inngest-Server-Kind", self.server_kind.clone());
        if let Some(signer) = call.signer {
            request = request.header("X-Inngest-Signature", signer.signature(&call.body));
        }
        let request = request.body(call.body);

        let mut answer = match request.send().await {
            Ok(answer) => answer,
            Err(e) => return Response::transport(self.describe(&e, &url), elapsed()),
        };
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let mut body = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.config.max_response_bytes {
                        return Response {
                            outcome: too_large(status, self.config.max_response_bytes),
                            status: Some(status),
                            request_version: None,
                            sdk: None,
                            duration_ms: elapsed(),
                        };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let message = format!(
                        "the connection to your app at {} broke while reading its answer: {}",
                        origin(&url),
                        if e.is_timeout() {
                            self.timeout_text()
                        } else {
                            root_cause(&e)
                        }
                    );
                    return Response::transport(message, elapsed());
                }
            }
        }
        let mut response = interpret(status, &headers, &body, now_ms());
        response.duration_ms = elapsed();
        response
    }

    fn describe(&self, e: &reqwest::Error, url: &Url) -> String {
        let at = origin(url);
        if e.is_connect() {
            let cause = root_cause(e);
            if e.is_timeout() || cause.contains("timed out") {
                format!(
                    "could not connect to your app at {at} within {}; is it running and reachable?",
                    human(self.config.connect_timeout)
                )
            } else {
                format!("could not connect to your app at {at}: {cause}; is it running?")
            }
        } else if e.is_timeout() {
            format!("your app at {at} {}", self.timeout_text())
        } else {
            format!("the request to your app at {at} failed: {}", root_cause(e))
        }
    }

    fn timeout_text(&self) -> String {
        format!(
            "did not finish answering within {}",
            human(self.config.request_timeout)
        )
    }
}

fn too_large(status: u16, max: usize) -> Outcome {
    Outcome::Error {
        status,
        error: sluice_core::opcode::ErrorBody::new(
            "ResponseTooLarge",
            format!(
                "your app's answer is larger than {} MiB, the most Sluice reads; step outputs are \
                 limited to 4 MiB",
                max / (1024 * 1024)
            ),
        ),
        no_retry: true,
        retry_after_ms: None,
    }
}

/// The runtime URL with `stepId` set to `step`, replacing the one from the sync.
fn step_url(url: &str, step: &str) -> Result<Url, String> {
    let mut parsed =
        Url::parse(url).map_err(|e| format!("the function's URL {url:?} is invalid: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("the function's URL {url:?} is not http or https"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "stepId")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("stepId", step);
    Ok(parsed)
}

fn origin(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
