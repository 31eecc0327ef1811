//! Request signing between Sluice and the SDKs, and the canonical JSON it is computed over.
//!
//! The scheme (Inngest SDK spec §4.1, checked against inngest-js `helpers/net.ts` and
//! `helpers/strings.ts`, and inngest-py `transforms.py`):
//! - `X-Inngest-Signature: t=<unix seconds>&s=<hex HMAC-SHA256>`, where the MAC covers the body
//!   followed by the decimal `t`, keyed with the signing key minus its `signkey-<env>-` prefix,
//!   taken as text (the hex characters themselves, not the bytes they encode).
//! - The JS SDK verifies over `canonicalize(JSON.parse(body))` (RFC 8785), not the raw bytes. So
//!   Sluice sends bodies already in that canonical form: then the raw bytes, which the Python SDK
//!   checks, and the JS SDK's re-canonicalized text are the same.
//! - SDK API calls carry `Authorization: Bearer signkey-<env>-<hex sha256 of the hex-decoded key>`.
//!
//! "Canonical as JavaScript would produce it" matters for numbers: `JSON.parse` turns every number
//! into an IEEE double, so `12345678901234567890` becomes `12345678901234567000`. Our serde_json
//! keeps exact digits (`arbitrary_precision`), and the `serde_jcs` crate, fed such a value, would
//! not see a plain f64, so this module has its own small JCS writer that goes through `f64` and
//! formats with `ryu-js` (ECMAScript's Number-to-String).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Signatures whose `t` is further than this from now (either way) are refused.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("malformed signature header: {0}")]
    MalformedSignature(&'static str),
    #[error("signature timestamp is more than 5 minutes away from the server's clock")]
    Expired,
    #[error("signature does not match")]
    Mismatch,
    #[error("signing key is not hex after its signkey-<env>- prefix")]
    InvalidSigningKey,
}

/// Canonicalizes JSON text per RFC 8785, as JavaScript's `canonicalize(JSON.parse(text))` would.
pub fn canonical_json(value_text: &str) -> Result<String, Error> {
    let value: Value =
        serde_json::from_str(value_text).map_err(|e| Error::InvalidJson(e.to_string()))?;
    Ok(canonicalize_value(&value))
}

/// Canonical JSON of an already-parsed value, with JavaScript number semantics.
pub fn canonicalize_value(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_js_number(&n.to_string(), out),
        Value::String(s) => write_js_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // JCS orders members by their names' UTF-16 code units, which differs from UTF-8
            // byte order for characters above U+FFFF versus U+E000..U+FFFF.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// Writes a JSON number literal the way `JSON.stringify(JSON.parse(literal))` would.
fn write_js_number(literal: &str, out: &mut String) {
    // Rust's float parsing rounds to nearest like JS's; a literal that overflows becomes
    // Infinity in JS, which JSON.stringify writes as null.
    match literal.parse::<f64>() {
        Ok(f) if f.is_finite() => out.push_str(ryu_js::Buffer::new().format_finite(f)),
        _ => out.push_str("null"),
    }
}

/// Writes a string the way `JSON.stringify` does, which is what RFC 8785 prescribes: only `"`,
/// `\` and control characters are escaped, with the short forms where they exist.
fn write_js_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Splits `signkey-<env>-<rest>` into its prefix and rest; a key without the prefix is all rest.
/// `<env>` is one or more word characters, as in the SDKs' `/^signkey-\w+-/`.
fn split_signing_key(key: &str) -> (&str, &str) {
    if let Some(after) = key.strip_prefix("signkey-") {
        let env_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if env_len > 0 && after[env_len..].starts_with('-') {
            let prefix_len = "signkey-".len() + env_len + 1;
            return key.split_at(prefix_len);
        }
    }
    ("", key)
}

fn mac_hex(body: &[u8], signing_key: &str, t: &str) -> String {
    hex::encode(mac_bytes(body, signing_key, t))
}

fn mac_bytes(body: &[u8], signing_key: &str, t: &str) -> Vec<u8> {
    let (_, secret) = split_signing_key(signing_key);
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.update(t.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `X-Inngest-Signature` value for a body sent at `now_unix_secs`.
pub fn sign_body(body: &[u8], signing_key: &str, now_unix_secs: i64) -> String {
    let t = now_unix_secs.to_string();
    let s = mac_hex(body, signing_key, &t);
    format!("t={t}&s={s}")
}

/// Checks an `X-Inngest-Signature` header (e.g. on an SDK's response) against `body`.
///
/// The MAC is checked over the raw bytes and, when the body is JSON, over its canonical form too,
/// because the JS SDK may sign `canonicalize(data)` rather than the bytes it wrote.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    signing_key: &str,
    now_unix_secs: i64,
) -> Result<(), Error> {
    let mut t = None;
    let mut s = None;
    for pair in header.trim().split('&') {
        match pair.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    let t = t.ok_or(Error::MalformedSignature("missing t"))?;
    let s = s.ok_or(Error::MalformedSignature("missing s"))?;
    let ts: i64 = t
        .parse()
        .map_err(|_| Error::MalformedSignature("t is not a whole number of seconds"))?;
    let given = hex::decode(s).map_err(|_| Error::MalformedSignature("s is not hex"))?;
    if now_unix_secs.abs_diff(ts) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err(Error::Expired);
    }
    let matches = |bytes: &[u8]| -> bool {
        let expected = mac_bytes(bytes, signing_key, t);
        bool::from(expected.ct_eq(&given))
    };
    if matches(body) {
        return Ok(());
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(canonical) = canonical_json(text) {
            if matches(canonical.as_bytes()) {
                return Ok(());
            }
        }
    }
    Err(Error::Mismatch)
}

/// The form of a signing key the SDKs send as a bearer token:
/// `signkey-<env>-` + hex(sha256(hex_decode(rest))).
pub fn hashed_signing_key(signing_key: &str) -> Result<String, Error> {
    let (prefix, rest) = split_signing_key(signing_key);
    // The JS SDK's hex decoder pads an odd-length string with a leading zero; do the same.
    let padded;
    let hex_text = if rest.len() % 2 == 1 {
        padded = format!("0{rest}");
        padded.as_str()
    } else {
        rest
    };
    let bytes = hex::decode(hex_text).map_err(|_| Error::InvalidSigningKey)?;
    Ok(format!("{prefix}{}", hex::encode(Sha256::digest(bytes))))
}

/// Whether a bearer token (with or without its `Bearer ` scheme) is the configured signing key,
/// either as is or in its hashed form. Compared in constant time.
pub fn key_matches_bearer(configured_key: &str, bearer: &str) -> bool {
    let token = bearer.trim();
    let token = match token.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => token,
    };
    if configured_key.is_empty() || token.is_empty() {
        return false;
    }
    let plain = bool::from(configured_key.as_bytes().ct_eq(token.as_bytes()));
    // The JS SDK sends the hash with the key's `signkey-<env>-` prefix, the Python SDK without.
    let (hashed, bare) = match hashed_signing_key(configured_key) {
        Ok(h) => {
            let (prefix, _) = split_signing_key(configured_key);
            let bare = &h[prefix.len()..];
            (
                bool::from(h.as_bytes().ct_eq(token.as_bytes())),
                bool::from(bare.as_bytes().ct_eq(token.as_bytes())),
            )
        }
        Err(_) => (false, false),
    };
    plain | hashed | bare
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        canonical_json(text).unwrap()
    }

    #[test]
    fn numbers_follow_javascript() {
        // 2^53 + 1 is not a double; JS rounds it to 2^53.
        assert_eq!(canon("9007199254740993"), "9007199254740992");
        assert_eq!(canon("12345678901234567890"), "12345678901234567000");
        assert_eq!(canon("-0"), "0");
        assert_eq!(canon("-0.0"), "0");
        assert_eq!(canon("1e21"), "1e+21");
        assert_eq!(canon("1e20"), "100000000000000000000");
        assert_eq!(canon("0.1"), "0.1");
        assert_eq!(canon("1.0"), "1");
        assert_eq!(canon("1E2"), "100");
        assert_eq!(canon("0.000001"), "0.000001");
        assert_eq!(canon("0.0000001"), "1e-7");
        assert_eq!(canon("-1.5e-10"), "-1.5e-10");
        assert_eq!(canon("123456789012345680000"), "123456789012345680000");
        assert_eq!(canon("4.35"), "4.35");
        assert_eq!(canon("1e400"), "null");
    }

    #[test]
    fn rfc8785_appendix_sample() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let want = concat!(
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"#,
            r#""string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        assert_eq!(canon(input), want);
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // From RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16,
        // though after it in UTF-8.
        let input = "{\"\u{20ac}\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{0080}\":\"Control\",\"\u{00f6}\":\"Latin Small Letter O With Diaeresis\"}";
        let out = canon(input);
        let order: Vec<&str> = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small",
            "Euro Sign",
            "Emoji",
            "Hebrew",
        ]
        .to_vec();
        let mut last = 0;
        for name in order {
            let at = out.find(name).unwrap();
            assert!(at > last, "{name} out of order in {out}");
            last = at;
        }
    }

    #[test]
    fn nested_unicode_and_escapes() {
        assert_eq!(
            canon(
                r#"{"b":[{"z":1,"a":{"y":null,"x":[]}}],"a":"h\u00e9llo \ud83d\ude00 \u2028","c":{}}"#
            ),
            "{\"a\":\"héllo 😀 \u{2028}\",\"b\":[{\"a\":{\"x\":[],\"y\":null},\"z\":1}],\"c\":{}}"
        );
        assert_eq!(
            canon("\"\\u0001\\u001f\\u007f\""),
            "\"\\u0001\\u001f\u{7f}\""
        );
        assert_eq!(canon(" [ true , false ] "), "[true,false]");
        // Duplicate keys: the last one wins, as with JSON.parse.
        assert_eq!(canon(r#"{"a":1,"a":2}"#), r#"{"a":2}"#);
        assert!(matches!(canonical_json("{"), Err(Error::InvalidJson(_))));
    }

    #[test]
    fn canonical_form_is_a_fixpoint() {
        let once = canon(r#"{"n":12345678901234567890,"f":1e21,"s":"\u0000"}"#);
        assert_eq!(canon(&once), once);
    }

    #[test]
    fn signs_like_the_sdk() {
        // HMAC-SHA256 keyed with the text after the prefix, over body bytes then the timestamp.
        let key = "signkey-test-12345678";
        let body = br#"{"hello":"world"}"#;
        let header = sign_body(body, key, 1_705_586_504);
        let mut mac = HmacSha256::new_from_slice(b"12345678").unwrap();
        mac.update(br#"{"hello":"world"}1705586504"#);
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(header, format!("t=1705586504&s={want}"));
        // A key without a prefix is used whole.
        assert_eq!(sign_body(body, "12345678", 1_705_586_504), header);
    }

    #[test]
    fn verifies_and_refuses() {
        let key = "signkey-prod-abcdef";
        let body = br#"{"b":1,"a":2}"#;
        let now = 1_700_000_000;
        let header = sign_body(body, key, now);
        assert_eq!(verify_signature(&header, body, key, now), Ok(()));
        assert_eq!(verify_signature(&header, body, key, now + 300), Ok(()));
        assert_eq!(
            verify_signature(&header, body, key, now + 301),
            Err(Error::Expired)
        );
        assert_eq!(
            verify_signature(&header, body, key, now - 301),
            Err(Error::Expired)
        );
        assert_eq!(
            verify_signature(&header, br#"{"b":1,"a":3}"#, key, now),
            Err(Error::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, body, "signkey-prod-abcdee", now),
            Err(Error::Mismatch)
        );
        assert!(matches!(
            verify_signature("s=00", body, key, now),
            Err(Error::MalformedSignature(_))
        ));
        assert!(matches!(
            verify_signature("t=x&s=00", body, key, now),
            Err(Error::MalformedSignature(_))
        ));
        assert_eq!(
            verify_signature(&format!("t={}&s=00", i64::MIN), body, key, now),
            Err(Error::Expired)
        );
        assert!(matches!(
            verify_signature("t=1&s=zz", body, key, now),
            Err(Error::MalformedSignature(_))
        ));
    }

    #[test]
    fn verifies_a_signature_over_the_canonical_form() {
        let key = "signkey-prod-abcdef";
        let raw = br#"{ "b": 1, "a": 12345678901234567890 }"#;
        let canonical = canonical_json(std::str::from_utf8(raw).unwrap()).unwrap();
        let header = sign_body(canonical.as_bytes(), key, 100);
        assert_eq!(verify_signature(&header, raw, key, 100), Ok(()));
    }

    #[test]
    fn hashes_the_key_like_the_sdk_spec_example() {
        assert_eq!(
            hashed_signing_key("signkey-prod-12345678").unwrap(),
            "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        );
        assert_eq!(
            hashed_signing_key("12345678").unwrap(),
            "b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        );
        assert_eq!(
            hashed_signing_key("signkey-branch_1-12345678").unwrap(),
            "signkey-branch_1-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c"
        );
        assert_eq!(
            hashed_signing_key("signkey-test-xyz"),
            Err(Error::InvalidSigningKey)
        );
    }

    #[test]
    fn bearer_accepts_plain_or_hashed_key() {
        let key = "signkey-prod-12345678";
        let hashed = hashed_signing_key(key).unwrap();
        assert!(key_matches_bearer(key, key));
        assert!(key_matches_bearer(key, &hashed));
        assert!(key_matches_bearer(key, &format!("Bearer {hashed}")));
        assert!(key_matches_bearer(key, &format!("bearer {key}")));
        // The Python SDK's form: the hash without the prefix.
        let bare = hashed.strip_prefix("signkey-prod-").unwrap();
        assert!(key_matches_bearer(key, &format!("Bearer {bare}")));
        assert!(!key_matches_bearer(key, "Bearer 12345678"));
        assert!(!key_matches_bearer(key, "signkey-prod-12345679"));
        assert!(!key_matches_bearer(key, ""));
        assert!(!key_matches_bearer("", ""));
        assert!(!key_matches_bearer(key, "Bearer "));
    }
}
