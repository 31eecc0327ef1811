//! A webhook source's configuration and [`process`], the one call the server makes per delivery:
//! verify → delivery id → parse body → preset or transform.
//!
//! | error | HTTP status |
//! |---|---|
//! | [`ProcessError::Rejected`] | 401 |
//! | [`ProcessError::UnsupportedMediaType`] | 415 |
//! | [`ProcessError::BadBody`] | 400 |
//! | [`ProcessError::Transform`] | 422 (500 for an engine failure) |
//! | [`ProcessError::Misconfigured`] | 500 |
//!
//! A rejected delivery never reaches body parsing, so an unsigned request cannot make the server
//! run a transform.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::body::{self, BodyError, BodyKind};
use crate::dedupe::{resolve_delivery_id, DedupeKey};
use crate::headers;
use crate::preset::Preset;
use crate::transform::{self, Limits, TransformError};
use crate::verify::{verify, Rejection, Scheme, Verified};
use crate::EventDraft;

/// Default allowed clock skew for signed timestamps: ±5 minutes, as Svix and Stripe use.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// One webhook source as stored in config.
///
/// `scheme` is required in JSON on purpose: an omitted scheme must not silently mean "accept
/// unsigned deliveries". Use [`Source::from_preset`] to start from a preset's scheme.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub scheme: Scheme,
    /// Several secrets may be active during a rotation; a signature by any of them passes.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: i64,
    /// Name of a [`Preset`]. With neither preset nor transform, `generic` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// JavaScript source of a transform; takes precedence over `preset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// Where to find the delivery id if the scheme's default does not fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<DedupeKey>,
}

fn default_tolerance() -> i64 {
    DEFAULT_TOLERANCE_SECS
}

// Hand-written so secrets never end up in logs.
impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("tolerance_secs", &self.tolerance_secs)
            .field("preset", &self.preset)
            .field("transform", &self.transform.as_ref().map(|t| t.len()))
            .field("dedupe", &self.dedupe)
            .finish()
    }
}

/// A source configuration that cannot work, reported when it is saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the source name is empty")]
    EmptyName,
    #[error("{0}")]
    UnknownPreset(String),
    #[error("set either a preset or a transform, not both")]
    PresetAndTransform,
    #[error("this scheme verifies signatures and needs at least one secret")]
    NoSecret,
    /// `index` is the secret's position; the secret itself is never repeated.
    #[error("secret #{index} cannot be used: {reason}")]
    BadSecret { index: usize, reason: String },
    #[error("the hmac scheme needs a header name")]
    EmptyHeader,
    #[error("tolerance_secs must not be negative")]
    NegativeTolerance,
    #[error(transparent)]
    Transform(TransformError),
}

/// What a verified delivery turned into.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The sender's id for this delivery, stable across retries; dedupe on (source, this).
    pub delivery_id: Option<String>,
    pub verified: Verified,
    pub events: Vec<EventDraft>,
}

/// Why a delivery produced no events; each variant maps to one HTTP status ([`Self::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("signature rejected: {0}")]
    Rejected(Rejection),
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    #[error("bad body: {0}")]
    BadBody(BodyError),
    #[error(transparent)]
    Transform(TransformError),
    #[error("source is misconfigured: {0}")]
    Misconfigured(ConfigError),
}

impl ProcessError {
    /// The HTTP status the server should answer with.
    pub fn status(&self) -> u16 {
        match self {
            ProcessError::Rejected(_) => 401,
            ProcessError::UnsupportedMediaType(_) => 415,
            ProcessError::BadBody(_) => 400,
            ProcessError::Transform(TransformError::Engine(_)) => 500,
            ProcessError::Transform(_) => 422,
            ProcessError::Misconfigured(_) => 500,
        }
    }

    /// A stable machine-readable code; for rejections, the [`Rejection`]'s own code.
    pub fn code(&self) -> &'static str {
        match self {
            ProcessError::Rejected(r) => r.code.as_str(),
            ProcessError::UnsupportedMediaType(_) => "unsupported_media_type",
            ProcessError::BadBody(_) => "bad_body",
            ProcessError::Transform(TransformError::Timeout { .. }) => "transform_timeout",
            ProcessError::Transform(TransformError::Memory) => "transform_memory",
            ProcessError::Transform(_) => "transform_failed",
            ProcessError::Misconfigured(_) => "source_misconfigured",
        }
    }
}

impl From<BodyError> for ProcessError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::UnsupportedMediaType { content_type } => {
                ProcessError::UnsupportedMediaType(content_type)
            }
            e => ProcessError::BadBody(e),
        }
    }
}

impl Source {
    /// A source with `scheme`, no secrets, default tolerance, and the generic mapping.
    pub fn new(name: impl Into<String>, scheme: Scheme) -> Self {
        Source {
            name: name.into(),
            scheme,
            secrets: Vec::new(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            preset: None,
            transform: None,
            dedupe: None,
        }
    }

    /// A source using `preset` and the scheme that preset's sender signs with.
    pub fn from_preset(name: impl Into<String>, preset: Preset) -> Self {
        Source {
            preset: Some(preset.name().to_owned()),
            ..Source::new(name, preset.default_scheme())
        }
    }

    /// The configured preset, or `generic` when none is set.
    pub fn resolved_preset(&self) -> Result<Preset, ConfigError> {
        match self
            .preset
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            None => Ok(Preset::Generic),
            Some(name) => name.parse().map_err(ConfigError::UnknownPreset),
        }
    }

    fn transform_source(&self) -> Option<&str> {
        self.transform.as_deref().filter(|t| !t.trim().is_empty())
    }

    /// Checks everything that can be checked without a delivery, including compiling the
    /// transform. Call before saving.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::EmptyName);
        }
        if self.tolerance_secs < 0 {
            return Err(ConfigError::NegativeTolerance);
        }
        if let Scheme::Hmac { header, .. } = &self.scheme {
            if header.trim().is_empty() {
                return Err(ConfigError::EmptyHeader);
            }
        }
        if !matches!(self.scheme, Scheme::None) {
            if self.secrets.is_empty() {
                return Err(ConfigError::NoSecret);
            }
            for (index, secret) in self.secrets.iter().enumerate() {
                self.scheme
                    .check_secret(secret)
                    .map_err(|reason| ConfigError::BadSecret { index, reason })?;
            }
        }
        let has_preset = self.preset.as_deref().is_some_and(|p| !p.trim().is_empty());
        self.resolved_preset()?;
        if let Some(source) = self.transform_source() {
            if has_preset {
                return Err(ConfigError::PresetAndTransform);
            }
            transform::compile_check(source).map_err(ConfigError::Transform)?;
        }
        Ok(())
    }
}

/// Processes one delivery with default transform [`Limits`]. See [`process_with_limits`].
pub fn process<N, V>(
    source: &Source,
    headers: &[(N, V)],
    query_string: &str,
    content_type: Option<&str>,
    body: &[u8],
    now_unix_secs: i64,
) -> Result<Processed, ProcessError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    process_with_limits(
        source,
        headers,
        query_string,
        content_type,
        body,
        now_unix_secs,
        &Limits::default(),
    )
}

/// Verifies the delivery, finds its delivery id, parses the body and turns it into events.
///
/// `content_type` falls back to the `Content-Type` header when `None`; `query_string` may start
/// with `?`. `body` must be the raw bytes as received.
pub fn process_with_limits<N, V>(
    source: &Source,
    headers: &[(N, V)],
    query_string: &str,
    content_type: Option<&str>,
    body: &[u8],
    now_unix_secs: i64,
    limits: &Limits,
) -> Result<Processed, ProcessError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let verified = verify(
        &source.scheme,
        &source.secrets,
        headers,
        body,
        now_unix_secs,
        source.tolerance_secs,
    )
    .map_err(ProcessError::Rejected)?;
    let preset = source
        .resolved_preset()
        .map_err(ProcessError::Misconfigured)?;
    let delivery_id = resolve_delivery_id(source.dedupe.as_ref(), &source.scheme, headers, body);
    let content_type = content_type.or_else(|| headers::get(headers, "content-type"));
    let parsed = body::parse(content_type, body)?;

    let events = match source.transform_source() {
        Some(script) => {
            let evt_json = match parsed.kind {
                BodyKind::Json => String::from_utf8_lossy(body).into_owned(),
                BodyKind::Form | BodyKind::Multipart => parsed.value.to_string(),
            };
            let raw = String::from_utf8_lossy(body);
            let query = query_string.strip_prefix('?').unwrap_or(query_string);
            transform::run(script, &evt_json, headers, query, &raw, limits)
                .map_err(ProcessError::Transform)?
        }
        None => preset.events(headers, body, &parsed)?,
    };
    Ok(Processed {
        delivery_id,
        verified,
        events,
    })
}
