//! A source as the REST API accepts and shows it, and the rules for saving one.
//!
//! The store keeps a source as the JSON of [`sluice_webhooks::Source`], secrets included. They
//! leave the server only masked: [`SourceOut`] shows how many there are and the sender's prefix
//! (`whsec_`), never a character of the secret itself.

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};
use sluice_store::{DeliveryCounts, WebhookSource};
use sluice_webhooks::{DedupeKey, Preset, Scheme, Source};

use super::WebhookError;
use crate::{Mode, ServerConfig};

/// Longest source name; it is a URL path segment and a key in every delivery row.
const MAX_NAME: usize = 64;

/// A source to create (`POST /v1/webhooks`) or the fields to change (`PUT /v1/webhooks/{name}`,
/// where every field is optional and an absent one keeps its value).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceIn {
    name: Option<String>,
    /// `clerk`, `stripe`, `github`, `shopify` or `generic`. Sets the scheme too, unless given.
    preset: Option<String>,
    scheme: Option<SchemeIn>,
    secrets: Option<Vec<String>>,
    tolerance_secs: Option<i64>,
    /// JavaScript `function transform(evt, headers, queryParams, raw)`; `""` removes it.
    transform: Option<String>,
    dedupe: Option<DedupeKey>,
}

/// A scheme by name (`"stripe"`), or in full for generic HMAC
/// (`{"type":"hmac","header":"X-Signature","encoding":"hex","prefix":"sha256="}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SchemeIn {
    Name(String),
    Full(Scheme),
}

impl SchemeIn {
    fn resolve(self) -> Result<Scheme, WebhookError> {
        let name = match self {
            SchemeIn::Full(scheme) => return Ok(scheme),
            SchemeIn::Name(name) => name,
        };
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "standard_webhooks" | "standardwebhooks" | "svix" => Ok(Scheme::StandardWebhooks),
            "stripe" => Ok(Scheme::Stripe),
            "github" => Ok(Scheme::Github),
            "shopify" => Ok(Scheme::Shopify),
            "none" => Ok(Scheme::None),
            "hmac" => Err(WebhookError::bad_request(
                "the hmac scheme is given in full: \
                 {\"type\":\"hmac\",\"header\":\"X-Signature\",\"encoding\":\"hex\"|\"base64\",\"prefix\":\"sha256=\"}",
            )),
            _ => Err(WebhookError::bad_request(format!(
                "unknown scheme {name:?}; known schemes: standard-webhooks, stripe, github, \
                 shopify, hmac, none"
            ))),
        }
    }
}

impl SourceIn {
    /// The source this request creates, named by `name` from the body.
    pub fn create(self) -> Result<Source, WebhookError> {
        let Some(name) = self.name.clone() else {
            return Err(WebhookError::bad_request("`name` is required"));
        };
        check_name(&name)?;
        if self.scheme.is_none() && self.preset.is_none() {
            return Err(WebhookError::bad_request(
                "give a `preset` (clerk, stripe, github, shopify, generic) or a `scheme`",
            ));
        }
        self.apply(Source::new(name, Scheme::None))
    }

    /// `current` with this request's fields applied.
    pub fn update(self, current: Source) -> Result<Source, WebhookError> {
        if let Some(name) = &self.name {
            if *name != current.name {
                return Err(WebhookError::bad_request(
                    "a source cannot be renamed; create a new one and delete this one",
                ));
            }
        }
        self.apply(current)
    }

    fn apply(self, mut source: Source) -> Result<Source, WebhookError> {
        let preset = match self.preset.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(name) => Some(Some(
                name.parse::<Preset>().map_err(WebhookError::bad_request)?,
            )),
        };
        match (&preset, self.transform.as_deref().map(str::trim)) {
            (Some(Some(_)), Some(t)) if !t.is_empty() => {
                return Err(WebhookError::bad_request(
                    "set either a preset or a transform, not both; to verify like a preset \
                     but map with a transform, give the preset's `scheme` and the transform",
                ))
            }
            // A transform replaces the preset's mapping, and a preset replaces a transform.
            (_, Some(t)) if !t.is_empty() => source.preset = None,
            (Some(Some(_)), _) => source.transform = None,
            _ => {}
        }
        if let Some(preset) = preset {
            source.preset = preset.map(|p| p.name().to_owned());
            // Clearing the preset keeps the scheme: it must never fall back to `none` unasked.
            if let (Some(p), None) = (preset, &self.scheme) {
                source.scheme = p.default_scheme();
            }
        }
        if let Some(transform) = self.transform {
            source.transform = Some(transform).filter(|t| !t.trim().is_empty());
        }
        if let Some(scheme) = self.scheme {
            source.scheme = scheme.resolve()?;
        }
        if let Some(secrets) = self.secrets {
            source.secrets = secrets
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(tolerance) = self.tolerance_secs {
            source.tolerance_secs = tolerance;
        }
        if let Some(dedupe) = self.dedupe {
            source.dedupe = Some(dedupe);
        }
        source
            .validate()
            .map_err(|e| WebhookError::bad_request(e.to_string()))?;
        Ok(source)
    }
}

/// Source names are URL path segments: letters, digits, `-`, `_` and `.`.
pub(super) fn check_name(name: &str) -> Result<(), WebhookError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(WebhookError::bad_request(format!(
            "source names are 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Whether sources that verify nothing may be saved and receive deliveries.
pub(super) fn unsigned_allowed(config: &ServerConfig) -> bool {
    config.mode == Mode::Dev || config.webhooks.allow_unsigned
}

/// Refuses an unsigned source on a server that does not allow them.
pub(super) fn check_allowed(config: &ServerConfig, source: &Source) -> Result<(), WebhookError> {
    if matches!(source.scheme, Scheme::None) && !unsigned_allowed(config) {
        return Err(WebhookError::bad_request(
            "the `none` scheme accepts unsigned deliveries from anyone, so it is allowed only \
             in dev mode or with --allow-unsigned-webhooks",
        ));
    }
    Ok(())
}

/// The stored config back as a [`Source`].
pub(super) fn parse_stored(row: &WebhookSource) -> Result<Source, WebhookError> {
    serde_json::from_str(&row.config).map_err(|e| {
        WebhookError::internal(format!("webhook source {:?}: stored config: {e}", row.name))
    })
}

pub(super) fn to_stored(source: &Source) -> Result<String, WebhookError> {
    serde_json::to_string(source).map_err(WebhookError::internal)
}

/// Where senders post: the configured public URL, or this server as the client reached it.
pub(super) fn intake_url(config: &ServerConfig, headers: &HeaderMap, name: &str) -> String {
    let base = match &config.webhooks.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8288");
            format!("http://{host}")
        }
    };
    format!("{base}/webhooks/{name}")
}

/// A secret as it may be shown: the sender's prefix, then a fixed mask.
pub(super) fn mask(secret: &str) -> String {
    const PREFIXES: &[&str] = &["whsec_", "shpss_", "signkey-"];
    let prefix = PREFIXES
        .iter()
        .find(|p| secret.starts_with(**p))
        .copied()
        .unwrap_or("");
    format!("{prefix}********")
}

/// A source in API responses. Secrets appear only through [`mask`].
#[derive(Serialize)]
pub(super) struct SourceOut<'a> {
    name: &'a str,
    /// The URL to paste into the sender's dashboard.
    url: String,
    scheme: &'a Scheme,
    preset: Option<&'a str>,
    transform: Option<&'a str>,
    tolerance_secs: i64,
    dedupe: Option<&'a DedupeKey>,
    secrets: Vec<String>,
    created_at: String,
    updated_at: String,
    deliveries: DeliveryCounts,
}

impl<'a> SourceOut<'a> {
    pub fn new(
        source: &'a Source,
        row: &WebhookSource,
        url: String,
        deliveries: DeliveryCounts,
    ) -> Self {
        Self {
            name: &source.name,
            url,
            scheme: &source.scheme,
            preset: source.preset.as_deref(),
            transform: source.transform.as_deref(),
            tolerance_secs: source.tolerance_secs,
            dedupe: source.dedupe.as_ref(),
            secrets: source.secrets.iter().map(|s| mask(s)).collect(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            deliveries,
        }
    }
}

pub(super) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn input(json: serde_json::Value) -> SourceIn {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_preset_brings_its_scheme() {
        let s = input(serde_json::json!({"name": "clerk", "preset": "clerk", "secrets": [SECRET]}))
            .create()
            .unwrap();
        assert_eq!(s.scheme, Scheme::StandardWebhooks);
        assert_eq!(s.preset.as_deref(), Some("clerk"));
        assert_eq!(s.tolerance_secs, 300);
    }

    #[test]
    fn scheme_names_and_full_schemes_parse() {
        let s = input(serde_json::json!({
            "name": "x", "scheme": "standard-webhooks", "secrets": [SECRET],
            "transform": "function transform(e) { return {name: 'a/b', data: e}; }"
        }))
        .create()
        .unwrap();
        assert_eq!(s.scheme, Scheme::StandardWebhooks);
        assert!(s.preset.is_none());
        let s = input(serde_json::json!({
            "name": "x", "preset": "generic", "secrets": ["k"],
            "scheme": {"type": "hmac", "header": "X-Sig", "encoding": "hex"}
        }))
        .create()
        .unwrap();
        assert!(matches!(s.scheme, Scheme::Hmac { .. }));
        assert!(input(serde_json::json!({"name": "x", "scheme": "nope"}))
            .create()
            .is_err());
    }

    #[test]
    fn updates_keep_what_they_do_not_name() {
        let s = input(serde_json::json!({"name": "c", "preset": "clerk", "secrets": [SECRET]}))
            .create()
            .unwrap();
        let t = "function transform(e) { return {name: 'x/y', data: e.data}; }";
        let s = input(serde_json::json!({ "transform": t }))
            .update(s)
            .unwrap();
        assert_eq!(s.secrets, [SECRET]);
        assert_eq!(s.scheme, Scheme::StandardWebhooks);
        assert!(s.preset.is_none());
        let s = input(serde_json::json!({"preset": "clerk"}))
            .update(s)
            .unwrap();
        assert!(s.transform.is_none());
        assert!(input(serde_json::json!({"name": "other"}))
            .update(s)
            .is_err());
    }

    #[test]
    fn names_are_url_safe() {
        for ok in ["clerk", "stripe-prod", "a.b_c", "X1"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "a/b", "a b", "..", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn masks_show_no_secret_material() {
        assert_eq!(mask(SECRET), "whsec_********");
        assert_eq!(mask("hush"), "********");
    }
}
