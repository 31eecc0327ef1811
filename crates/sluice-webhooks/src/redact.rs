//! Masking of credential-bearing headers before a delivery's headers are stored for history.
//!
//! Signatures are not secrets in themselves, but a stored signature plus body is a replayable
//! delivery, and `Authorization`/`Cookie` values are outright credentials; none of them help
//! anyone debugging a delivery, so their values are replaced by [`MASK`].

use crate::verify::Scheme;

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// Exact names (lower-case) whose values are always masked.
const EXACT: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "svix-signature",
    "webhook-signature",
    "stripe-signature",
    "x-shopify-hmac-sha256",
    "x-api-key",
    "api-key",
];

/// Fragments that mark a name as credential-like wherever they appear (`x-hub-signature-256`,
/// `x-auth-token`, `x-webhook-secret`, ...).
const FRAGMENTS: &[&str] = &[
    "signature",
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api-key",
    "api_key",
    "auth",
    "hmac",
    "credential",
    "session",
];

/// Returns the headers with the values of signature, authorization, cookie and token-like
/// headers replaced by [`MASK`]. Names and order are kept.
pub fn redact_headers<N, V>(headers: &[(N, V)]) -> Vec<(String, String)>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    redact_with(headers, &[])
}

/// As [`redact_headers`], also masking the header a generic [`Scheme::Hmac`] reads.
pub fn redact_headers_for<N, V>(scheme: &Scheme, headers: &[(N, V)]) -> Vec<(String, String)>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    redact_with(headers, &scheme.signature_headers())
}

fn redact_with<N, V>(headers: &[(N, V)], extra: &[String]) -> Vec<(String, String)>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_ref();
            let lower = name.trim().to_ascii_lowercase();
            let sensitive = EXACT.contains(&lower.as_str())
                || FRAGMENTS.iter().any(|f| lower.contains(f))
                || extra.contains(&lower);
            let value = if sensitive { MASK } else { value.as_ref() };
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials_keeps_the_rest() {
        let input = [
            ("Svix-Signature", "v1,abc"),
            ("webhook-signature", "v1,abc"),
            ("Stripe-Signature", "t=1,v1=ab"),
            ("X-Hub-Signature", "sha1=ab"),
            ("X-Hub-Signature-256", "sha256=ab"),
            ("X-Shopify-Hmac-Sha256", "abc="),
            ("Authorization", "Bearer xyz"),
            ("Cookie", "session=1"),
            ("X-Auth-Token", "t"),
            ("X-Webhook-Secret", "s"),
            ("Content-Type", "application/json"),
            ("Svix-Id", "msg_1"),
            ("X-GitHub-Event", "push"),
            ("User-Agent", "GitHub-Hookshot/1"),
        ];
        let out = redact_headers(&input);
        assert_eq!(out.len(), input.len());
        for ((name, original), (out_name, value)) in input.iter().zip(&out) {
            assert_eq!(name, out_name);
            let kept = matches!(
                *name,
                "Content-Type" | "Svix-Id" | "X-GitHub-Event" | "User-Agent"
            );
            if kept {
                assert_eq!(value, original, "{name} should be kept");
            } else {
                assert_eq!(value, MASK, "{name} should be masked");
            }
        }
    }

    #[test]
    fn scheme_header_masked() {
        let scheme = Scheme::Hmac {
            header: "X-Acme-Mac".into(),
            encoding: crate::verify::Encoding::Hex,
            prefix: None,
            algorithm: Default::default(),
        };
        let out = redact_headers_for(&scheme, &[("x-acme-mac", "abcd"), ("x-other", "1")]);
        assert_eq!(out[0].1, MASK);
        assert_eq!(out[1].1, "1");
        assert_eq!(redact_headers(&[("x-acme-mac", "abcd")])[0].1, "abcd");
    }
}
