//! Signature verification of webhook deliveries.
//!
//! Invariants every scheme keeps:
//! - the MAC is computed over the body bytes exactly as received, never a re-serialisation;
//! - MACs are compared in constant time ([`subtle`]);
//! - where a scheme signs a timestamp, the window is checked before any MAC is computed;
//! - any of the configured secrets may match (rotation), and the index of the one that did is
//!   reported, never the secret itself;
//! - a [`Rejection`] names the header at fault but never contains secret material.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::headers;

// Delivery ids live in `dedupe`; re-exported here because callers look for them beside `verify`.
pub use crate::dedupe::{delivery_id, DedupeKey};

/// How a source proves that a delivery came from its sender. Stored as JSON in source config,
/// tagged by `type`: `{"type":"stripe"}`, `{"type":"hmac","header":"X-Sig","encoding":"hex"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scheme {
    /// Standard Webhooks / Svix (Clerk, Resend, Liveblocks, ...): `webhook-*` or `svix-*` headers,
    /// `{id}.{timestamp}.{body}` signed with the base64 key after `whsec_`.
    StandardWebhooks,
    /// `Stripe-Signature: t=..,v1=..`; `{t}.{body}` signed with the whole `whsec_...` string.
    Stripe,
    /// `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// `X-Shopify-Hmac-Sha256: <base64>` over the body.
    Shopify,
    /// Any sender that puts an HMAC of the raw body in one header.
    Hmac {
        header: String,
        encoding: Encoding,
        /// Text before the MAC in the header value, such as `sha256=`. Required when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        #[serde(default)]
        algorithm: Algorithm,
    },
    /// No verification: every delivery is accepted. Only for senders that cannot sign.
    None,
}

/// How a generic HMAC is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Hex,
    Base64,
}

/// Hash function of a generic HMAC. SHA-1 exists only for legacy senders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    Sha256,
    Sha1,
}

/// What a successful verification established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// Index into the source's secrets of the one that matched; `None` for [`Scheme::None`].
    /// Lets the UI show when an old secret is still in use during a rotation.
    pub secret_index: Option<usize>,
    /// The sender's signed timestamp (unix seconds), for schemes that sign one.
    pub timestamp: Option<i64>,
}

/// Why a delivery was refused. The server answers 401 and counts these per source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// Stable, machine-readable reason.
    pub code: RejectionCode,
    /// Human explanation naming the header at fault; never contains secret material.
    pub message: String,
}

/// The stable reasons a delivery can be rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    MissingHeader,
    InvalidHeader,
    TimestampOutsideWindow,
    NoSignatureMatched,
    NoSecretConfigured,
}

impl RejectionCode {
    /// The snake_case code, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::MissingHeader => "missing_header",
            RejectionCode::InvalidHeader => "invalid_header",
            RejectionCode::TimestampOutsideWindow => "timestamp_outside_window",
            RejectionCode::NoSignatureMatched => "no_signature_matched",
            RejectionCode::NoSecretConfigured => "no_secret_configured",
        }
    }
}

impl Rejection {
    fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }

    fn missing(header: &str) -> Self {
        Self::new(
            RejectionCode::MissingHeader,
            format!("missing header {header}"),
        )
    }

    fn invalid(header: &str, why: &str) -> Self {
        Self::new(
            RejectionCode::InvalidHeader,
            format!("invalid header {header}: {why}"),
        )
    }

    fn no_match(header: &str) -> Self {
        Self::new(
            RejectionCode::NoSignatureMatched,
            format!("no signature in {header} matched any configured secret"),
        )
    }
}

impl Scheme {
    /// Names of the headers that carry this scheme's signature, lower-case; used for redaction.
    pub fn signature_headers(&self) -> Vec<String> {
        match self {
            Scheme::StandardWebhooks => vec!["svix-signature".into(), "webhook-signature".into()],
            Scheme::Stripe => vec!["stripe-signature".into()],
            Scheme::Github => vec!["x-hub-signature-256".into(), "x-hub-signature".into()],
            Scheme::Shopify => vec!["x-shopify-hmac-sha256".into()],
            Scheme::Hmac { header, .. } => vec![header.to_ascii_lowercase()],
            Scheme::None => Vec::new(),
        }
    }

    /// Checks that `secret` can be used with this scheme, for validating config on save.
    /// The error explains the expected form and never repeats the secret.
    pub fn check_secret(&self, secret: &str) -> Result<(), String> {
        if secret.is_empty() {
            return Err("secret is empty".into());
        }
        match self {
            Scheme::StandardWebhooks => {
                standard_webhooks_key(secret).map(|_| ()).ok_or_else(|| {
                    "expected whsec_ followed by base64 (as shown by the sender's dashboard)".into()
                })
            }
            _ => Ok(()),
        }
    }
}

/// Verifies one delivery against `scheme` and any of `secrets`.
///
/// `body` must be the raw bytes as received. `now_unix_secs` is injected so tests and replays are
/// deterministic; `tolerance_secs` is the allowed distance between the signed timestamp and `now`
/// in either direction (negative values count as zero).
pub fn verify<N, V>(
    scheme: &Scheme,
    secrets: &[String],
    headers: &[(N, V)],
    body: &[u8],
    now_unix_secs: i64,
    tolerance_secs: i64,
) -> Result<Verified, Rejection>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    if matches!(scheme, Scheme::None) {
        return Ok(Verified {
            secret_index: None,
            timestamp: None,
        });
    }
    if secrets.iter().all(|s| s.is_empty()) {
        return Err(Rejection::new(
            RejectionCode::NoSecretConfigured,
            "this source verifies signatures but has no secret configured",
        ));
    }
    let window = Window {
        now: now_unix_secs,
        tolerance: tolerance_secs.max(0),
    };
    match scheme {
        Scheme::StandardWebhooks => standard_webhooks(secrets, headers, body, window),
        Scheme::Stripe => stripe(secrets, headers, body, window),
        Scheme::Github => {
            const H: &str = "X-Hub-Signature-256";
            let value = headers::get(headers, H).ok_or_else(|| Rejection::missing(H))?;
            let hex = value
                .trim()
                .strip_prefix("sha256=")
                .ok_or_else(|| Rejection::invalid(H, "expected sha256=<hex>"))?;
            let mac = hex::decode(hex).map_err(|_| Rejection::invalid(H, "not hex"))?;
            body_hmac(secrets, H, &mac, body, Algorithm::Sha256)
        }
        Scheme::Shopify => {
            const H: &str = "X-Shopify-Hmac-Sha256";
            let value = headers::get(headers, H).ok_or_else(|| Rejection::missing(H))?;
            let mac = BASE64
                .decode(value.trim())
                .map_err(|_| Rejection::invalid(H, "not base64"))?;
            body_hmac(secrets, H, &mac, body, Algorithm::Sha256)
        }
        Scheme::Hmac {
            header,
            encoding,
            prefix,
            algorithm,
        } => {
            let value = headers::get(headers, header).ok_or_else(|| Rejection::missing(header))?;
            let mut value = value.trim();
            if let Some(prefix) = prefix.as_deref().filter(|p| !p.is_empty()) {
                value = value.strip_prefix(prefix).ok_or_else(|| {
                    Rejection::invalid(header, &format!("expected the prefix {prefix:?}"))
                })?;
            }
            let mac = match encoding {
                Encoding::Hex => {
                    hex::decode(value).map_err(|_| Rejection::invalid(header, "not hex"))
                }
                Encoding::Base64 => BASE64
                    .decode(value)
                    .map_err(|_| Rejection::invalid(header, "not base64")),
            }?;
            body_hmac(secrets, header, &mac, body, *algorithm)
        }
        Scheme::None => Ok(Verified {
            secret_index: None,
            timestamp: None,
        }),
    }
}

/// Base64 that accepts both padded and unpadded input: senders differ, and the MAC comparison
/// is what matters.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Clone, Copy)]
struct Window {
    now: i64,
    tolerance: i64,
}

impl Window {
    /// Parses the signed timestamp in `header` and checks it lies within the window.
    fn check(self, header: &str, raw: &str) -> Result<i64, Rejection> {
        let ts: i64 = raw
            .parse()
            .map_err(|_| Rejection::invalid(header, "timestamp is not an integer"))?;
        let skew = i128::from(self.now) - i128::from(ts);
        if skew.abs() > i128::from(self.tolerance) {
            let direction = if skew > 0 {
                "in the past"
            } else {
                "in the future"
            };
            return Err(Rejection::new(
                RejectionCode::TimestampOutsideWindow,
                format!(
                    "{header} is {} s {direction}; the allowed window is ±{} s",
                    skew.abs(),
                    self.tolerance
                ),
            ));
        }
        Ok(ts)
    }
}

fn standard_webhooks<N, V>(
    secrets: &[String],
    headers: &[(N, V)],
    body: &[u8],
    window: Window,
) -> Result<Verified, Rejection>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    // The three headers must come from one family; Svix sends `svix-*`, Standard Webhooks
    // libraries send `webhook-*`.
    let family = if headers::get(headers, "webhook-signature").is_some() {
        "webhook"
    } else if headers::get(headers, "svix-signature").is_some() {
        "svix"
    } else {
        return Err(Rejection::missing("svix-signature (or webhook-signature)"));
    };
    let [id_h, ts_h, sig_h] = ["id", "timestamp", "signature"].map(|s| format!("{family}-{s}"));
    let get = |name: &str| {
        headers::get(headers, name)
            .map(str::trim)
            .ok_or_else(|| Rejection::missing(name))
    };
    let (id, ts_raw, signatures) = (get(&id_h)?, get(&ts_h)?, get(&sig_h)?);
    let timestamp = window.check(&ts_h, ts_raw)?;

    let keys: Vec<(usize, Vec<u8>)> = secrets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| standard_webhooks_key(s).map(|k| (i, k)))
        .collect();
    if keys.is_empty() {
        return Err(Rejection::new(
            RejectionCode::NoSecretConfigured,
            "no configured secret is a valid whsec_ base64 key",
        ));
    }
    // Other versions (v1a, v2, ...) are ignored, as the spec requires.
    let candidates: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| BASE64.decode(sig).ok())
        .collect();
    if candidates.is_empty() {
        return Err(Rejection::new(
            RejectionCode::NoSignatureMatched,
            format!("{sig_h} carries no v1 signature"),
        ));
    }
    for (index, key) in keys {
        let mac = mac(
            Algorithm::Sha256,
            &key,
            &[id.as_bytes(), b".", ts_raw.as_bytes(), b".", body],
        );
        if any_equal(&mac, &candidates) {
            return Ok(Verified {
                secret_index: Some(index),
                timestamp: Some(timestamp),
            });
        }
    }
    Err(Rejection::no_match(&sig_h))
}

fn stripe<N, V>(
    secrets: &[String],
    headers: &[(N, V)],
    body: &[u8],
    window: Window,
) -> Result<Verified, Rejection>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    const H: &str = "Stripe-Signature";
    let value = headers::get(headers, H).ok_or_else(|| Rejection::missing(H))?;
    let mut t = None;
    let mut candidates = Vec::new();
    for (key, val) in value.split(',').filter_map(|kv| kv.split_once('=')) {
        match key.trim() {
            "t" if t.is_none() => t = Some(val.trim()),
            // v0 is Stripe's test-mode scheme and is ignored; unparsable entries are skipped.
            "v1" => candidates.extend(hex::decode(val.trim()).ok()),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| Rejection::invalid(H, "no t= timestamp"))?;
    let timestamp = window.check(H, t)?;
    if candidates.is_empty() {
        return Err(Rejection::new(
            RejectionCode::NoSignatureMatched,
            format!("{H} carries no v1 signature"),
        ));
    }
    for (index, secret) in nonempty(secrets) {
        // Stripe keys with the whole `whsec_...` string, not a decoded form of it.
        let mac = mac(
            Algorithm::Sha256,
            secret.as_bytes(),
            &[t.as_bytes(), b".", body],
        );
        if any_equal(&mac, &candidates) {
            return Ok(Verified {
                secret_index: Some(index),
                timestamp: Some(timestamp),
            });
        }
    }
    Err(Rejection::no_match(H))
}

/// Schemes that sign only the raw body with the secret's bytes (GitHub, Shopify, generic).
fn body_hmac(
    secrets: &[String],
    header: &str,
    expected: &[u8],
    body: &[u8],
    algorithm: Algorithm,
) -> Result<Verified, Rejection> {
    let candidates = [expected.to_vec()];
    for (index, secret) in nonempty(secrets) {
        if any_equal(&mac(algorithm, secret.as_bytes(), &[body]), &candidates) {
            return Ok(Verified {
                secret_index: Some(index),
                timestamp: None,
            });
        }
    }
    Err(Rejection::no_match(header))
}

fn nonempty(secrets: &[String]) -> impl Iterator<Item = (usize, &String)> {
    secrets.iter().enumerate().filter(|(_, s)| !s.is_empty())
}

/// The HMAC key of a Standard Webhooks secret: base64 after an optional `whsec_` prefix.
fn standard_webhooks_key(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.trim();
    let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
    BASE64.decode(b64).ok().filter(|k| !k.is_empty())
}

fn mac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
    }
}

/// Constant-time comparison against every candidate. All candidates are compared even after a
/// match, so timing reveals at most how many were sent, which the sender already knows.
fn any_equal(mac: &[u8], candidates: &[Vec<u8>]) -> bool {
    let mut found = subtle::Choice::from(0);
    for c in candidates {
        // `ct_eq` on slices of different lengths is false without comparing contents; lengths
        // are public (fixed by the algorithm).
        found |= mac.ct_eq(c.as_slice());
    }
    found.into()
}
