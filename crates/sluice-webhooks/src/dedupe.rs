//! Delivery ids: the sender's own id for a delivery, which stays the same across its retries.
//!
//! The server deduplicates on (source, delivery id) in the same transaction as the insert, so a
//! retried delivery answers 200 without creating a second event. Each scheme has a natural id;
//! a source may override it with a [`DedupeKey`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::headers;
use crate::verify::Scheme;

/// Where to find a delivery id when the scheme's default is wrong or absent.
/// Stored as `{"header":"X-Request-Id"}` or `{"json_path":"data.id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupeKey {
    /// The value of this request header (case-insensitive name).
    Header(String),
    /// A dotted path into the JSON body, such as `data.id` or `items.0.id`. Numeric segments
    /// index arrays. The value must be a string or a number.
    JsonPath(String),
}

/// Headers that senders use for a per-delivery id, tried for schemes without a fixed one.
const WELL_KNOWN_ID_HEADERS: &[&str] = &[
    "webhook-id",
    "svix-id",
    "x-github-delivery",
    "x-shopify-event-id",
    "idempotency-key",
];

impl DedupeKey {
    /// The id this key selects from a delivery, if present and non-empty.
    pub fn extract<N, V>(&self, headers: &[(N, V)], body: &[u8]) -> Option<String>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        match self {
            DedupeKey::Header(name) => nonempty(headers::get(headers, name)?.trim()),
            DedupeKey::JsonPath(path) => {
                let root: Value = serde_json::from_slice(body).ok()?;
                let mut at = &root;
                for segment in path.split('.').filter(|s| !s.is_empty()) {
                    at = match at {
                        Value::Object(map) => map.get(segment)?,
                        Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                scalar_text(at)
            }
        }
    }
}

/// The scheme's natural delivery id: `webhook-id`/`svix-id`, the Stripe event's `id` (`evt_...`)
/// from the body, `X-GitHub-Delivery`, or `X-Shopify-Event-Id`. For [`Scheme::Hmac`] and
/// [`Scheme::None`] the first of those well-known headers (or `Idempotency-Key`) that is present.
pub fn delivery_id<N, V>(scheme: &Scheme, headers: &[(N, V)], body: &[u8]) -> Option<String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    match scheme {
        Scheme::StandardWebhooks => header_id(headers, &["webhook-id", "svix-id"]),
        Scheme::Stripe => {
            #[derive(Deserialize)]
            struct Event {
                id: Option<Value>,
            }
            let event: Event = serde_json::from_slice(body).ok()?;
            event.id.as_ref().and_then(scalar_text)
        }
        Scheme::Github => header_id(headers, &["x-github-delivery"]),
        Scheme::Shopify => header_id(headers, &["x-shopify-event-id", "x-shopify-webhook-id"]),
        Scheme::Hmac { .. } | Scheme::None => header_id(headers, WELL_KNOWN_ID_HEADERS),
    }
}

/// The override if configured and present, else the scheme's natural id.
pub fn resolve_delivery_id<N, V>(
    dedupe: Option<&DedupeKey>,
    scheme: &Scheme,
    headers: &[(N, V)],
    body: &[u8],
) -> Option<String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    dedupe
        .and_then(|key| key.extract(headers, body))
        .or_else(|| delivery_id(scheme, headers, body))
}

fn header_id<N, V>(headers: &[(N, V)], names: &[&str]) -> Option<String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    names
        .iter()
        .find_map(|name| headers::get(headers, name).and_then(|v| nonempty(v.trim())))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => nonempty(s),
        // With `arbitrary_precision` this is the number's exact source text.
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_HEADERS: &[(&str, &str)] = &[];

    #[test]
    fn scheme_defaults() {
        let h = [
            ("Svix-Id", "msg_1"),
            ("X-GitHub-Delivery", "72d3162e"),
            ("X-Shopify-Event-Id", "98880550"),
        ];
        assert_eq!(
            delivery_id(&Scheme::StandardWebhooks, &h, b"{}").as_deref(),
            Some("msg_1")
        );
        let both = [("svix-id", "msg_1"), ("webhook-id", "msg_2")];
        assert_eq!(
            delivery_id(&Scheme::StandardWebhooks, &both, b"{}").as_deref(),
            Some("msg_2")
        );
        assert_eq!(
            delivery_id(&Scheme::Github, &h, b"").as_deref(),
            Some("72d3162e")
        );
        assert_eq!(
            delivery_id(&Scheme::Shopify, &h, b"").as_deref(),
            Some("98880550")
        );
        assert_eq!(
            delivery_id(
                &Scheme::Stripe,
                NO_HEADERS,
                br#"{"object":"event","id":"evt_1"}"#
            )
            .as_deref(),
            Some("evt_1")
        );
        assert_eq!(delivery_id(&Scheme::Stripe, NO_HEADERS, b"not json"), None);
        assert_eq!(delivery_id(&Scheme::Github, NO_HEADERS, b""), None);
        assert_eq!(
            delivery_id(&Scheme::None, &[("Idempotency-Key", "k1")], b"").as_deref(),
            Some("k1")
        );
        assert_eq!(
            delivery_id(&Scheme::StandardWebhooks, &[("svix-id", "  ")], b""),
            None
        );
    }

    #[test]
    fn overrides() {
        let body = br#"{"data":{"id":"user_1","n":12345678901234567890,"items":[{"id":7}]}}"#;
        let h = [("X-Request-Id", "req_9")];
        let key = |s: &str| DedupeKey::JsonPath(s.into());
        assert_eq!(key("data.id").extract(&h, body).as_deref(), Some("user_1"));
        assert_eq!(
            key("data.n").extract(&h, body).as_deref(),
            Some("12345678901234567890")
        );
        assert_eq!(
            key("data.items.0.id").extract(&h, body).as_deref(),
            Some("7")
        );
        assert_eq!(key("data.items").extract(&h, body), None);
        assert_eq!(key("data.missing").extract(&h, body), None);
        assert_eq!(
            DedupeKey::Header("x-request-id".into())
                .extract(&h, body)
                .as_deref(),
            Some("req_9")
        );

        let svix = [("svix-id", "msg_1")];
        let custom = DedupeKey::JsonPath("data.id".into());
        assert_eq!(
            resolve_delivery_id(Some(&custom), &Scheme::StandardWebhooks, &svix, body).as_deref(),
            Some("user_1")
        );
        // An override that finds nothing falls back to the scheme's id.
        assert_eq!(
            resolve_delivery_id(Some(&custom), &Scheme::StandardWebhooks, &svix, b"{}").as_deref(),
            Some("msg_1")
        );
    }

    #[test]
    fn serde_shape() {
        let k: DedupeKey = serde_json::from_str(r#"{"json_path":"data.id"}"#).unwrap();
        assert_eq!(k, DedupeKey::JsonPath("data.id".into()));
        assert_eq!(
            serde_json::to_string(&DedupeKey::Header("X-Id".into())).unwrap(),
            r#"{"header":"X-Id"}"#
        );
    }
}
