//! `verify` against the shared signature vectors, and the ways a delivery must fail.

use serde_json::Value;
use sluice_webhooks::{verify, Encoding, Rejection, RejectionCode, Scheme, Verified};

use crate::support::vectors;

const TOLERANCE: i64 = 300;

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing"))
        .to_owned()
}

/// Svix-style headers for a Standard Webhooks vector, with either header family.
fn sw_headers(v: &Value, family: &str) -> Vec<(String, String)> {
    vec![
        (format!("{family}-id"), s(v, "id")),
        (format!("{family}-timestamp"), v["timestamp"].to_string()),
        (format!("{family}-signature"), s(v, "signature")),
    ]
}

/// Checks that a rejection carries the code and does not leak any of `secrets`.
fn assert_rejected(
    result: Result<Verified, Rejection>,
    code: RejectionCode,
    secrets: &[String],
) -> Rejection {
    let rejection = result.expect_err("delivery should be rejected");
    assert_eq!(rejection.code, code, "{rejection}");
    for secret in secrets {
        let key = secret.strip_prefix("whsec_").unwrap_or(secret);
        assert!(
            !rejection.message.contains(key),
            "message leaks a secret: {}",
            rejection.message
        );
    }
    rejection
}

#[test]
fn standard_webhooks_vectors_both_header_families() {
    let all = vectors();
    let list = all["standard_webhooks"].as_array().unwrap();
    assert!(list.len() >= 6);
    for v in list {
        let secrets = vec![s(v, "secret")];
        let ts = v["timestamp"].as_i64().unwrap();
        let body = s(v, "body");
        for family in ["svix", "webhook", "SVIX", "Webhook"] {
            let headers = sw_headers(v, family);
            let result = verify(
                &Scheme::StandardWebhooks,
                &secrets,
                &headers,
                body.as_bytes(),
                ts,
                TOLERANCE,
            );
            if v["valid"].as_bool().unwrap() {
                assert_eq!(
                    result,
                    Ok(Verified {
                        secret_index: Some(0),
                        timestamp: Some(ts)
                    }),
                    "vector {} ({family})",
                    v["name"]
                );
            } else {
                assert_rejected(result, RejectionCode::NoSignatureMatched, &secrets);
            }
        }
    }
}

/// (scheme, headers, secret, body, now) of one valid vector.
type Case = (Scheme, Vec<(String, String)>, String, String, i64);

/// Every valid vector of every scheme.
fn valid_cases() -> Vec<Case> {
    let all = vectors();
    let mut out = Vec::new();
    for v in all["standard_webhooks"].as_array().unwrap() {
        if v["valid"].as_bool().unwrap() {
            let ts = v["timestamp"].as_i64().unwrap();
            out.push((
                Scheme::StandardWebhooks,
                sw_headers(v, "svix"),
                s(v, "secret"),
                s(v, "body"),
                ts,
            ));
        }
    }
    for (key, scheme, header) in [
        ("stripe", Scheme::Stripe, "Stripe-Signature"),
        ("github", Scheme::Github, "X-Hub-Signature-256"),
        ("shopify", Scheme::Shopify, "X-Shopify-Hmac-Sha256"),
    ] {
        for v in all[key].as_array().unwrap() {
            assert!(v["valid"].as_bool().unwrap(), "only valid vectors expected");
            let now = v["timestamp"].as_i64().unwrap_or(1_700_000_000);
            out.push((
                scheme.clone(),
                vec![(header.to_owned(), s(v, "header"))],
                s(v, "secret"),
                s(v, "body"),
                now,
            ));
        }
    }
    out
}

#[test]
fn stripe_github_shopify_vectors() {
    let cases = valid_cases();
    for scheme in [Scheme::Stripe, Scheme::Github, Scheme::Shopify] {
        let mine: Vec<_> = cases.iter().filter(|c| c.0 == scheme).collect();
        assert!(!mine.is_empty(), "{scheme:?} has vectors");
        for (scheme, headers, secret, body, now) in mine {
            let verified = verify(
                scheme,
                std::slice::from_ref(secret),
                headers,
                body.as_bytes(),
                *now,
                TOLERANCE,
            )
            .unwrap_or_else(|r| panic!("{scheme:?}: {r}"));
            assert_eq!(verified.secret_index, Some(0));
        }
    }
}

#[test]
fn tampered_body_fails_everywhere() {
    for (scheme, headers, secret, body, now) in valid_cases() {
        let mut tampered = body.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] ^= 0x01;
        let secrets = [secret];
        let result = verify(&scheme, &secrets, &headers, &tampered, now, TOLERANCE);
        assert_rejected(result, RejectionCode::NoSignatureMatched, &secrets);
        // An extra trailing newline is a different body too.
        let mut longer = body.into_bytes();
        longer.push(b'\n');
        let result = verify(&scheme, &secrets, &headers, &longer, now, TOLERANCE);
        assert_rejected(result, RejectionCode::NoSignatureMatched, &secrets);
    }
}

#[test]
fn reserialised_json_body_fails() {
    let mut checked = 0;
    for (scheme, headers, secret, body, now) in valid_cases() {
        let Ok(value) = serde_json::from_str::<Value>(&body) else {
            continue; // GitHub's vector body is not JSON
        };
        // Same JSON value, different bytes, as a receiver that parses before verifying sends it.
        for reserialised in [
            serde_json::to_string_pretty(&value).unwrap(),
            serde_json::to_string(&value).unwrap(),
        ] {
            if reserialised == body {
                continue;
            }
            assert_eq!(serde_json::from_str::<Value>(&reserialised).unwrap(), value);
            let secrets = [secret.clone()];
            let result = verify(
                &scheme,
                &secrets,
                &headers,
                reserialised.as_bytes(),
                now,
                TOLERANCE,
            );
            assert_rejected(result, RejectionCode::NoSignatureMatched, &secrets);
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} re-serialisations checked");
}

#[test]
fn timestamp_window_both_directions() {
    for (scheme, headers, secret, body, ts) in valid_cases() {
        if !matches!(scheme, Scheme::StandardWebhooks | Scheme::Stripe) {
            continue;
        }
        let secrets = [secret];
        let check = |now: i64, tolerance: i64| {
            verify(&scheme, &secrets, &headers, body.as_bytes(), now, tolerance)
        };
        // Edges of the window are inside it.
        assert!(check(ts + 300, 300).is_ok());
        assert!(check(ts - 300, 300).is_ok());
        let stale = assert_rejected(
            check(ts + 301, 300),
            RejectionCode::TimestampOutsideWindow,
            &secrets,
        );
        assert!(stale.message.contains("in the past"), "{stale}");
        let future = assert_rejected(
            check(ts - 301, 300),
            RejectionCode::TimestampOutsideWindow,
            &secrets,
        );
        assert!(future.message.contains("in the future"), "{future}");
        // The window is configurable.
        assert!(check(ts + 3_600, 7_200).is_ok());
        assert_rejected(
            check(ts + 10, 5),
            RejectionCode::TimestampOutsideWindow,
            &secrets,
        );
    }
}

#[test]
fn window_is_checked_before_the_signature() {
    let v = &vectors()["standard_webhooks"][2]; // wrong signature
    assert_eq!(v["valid"], false);
    let secrets = [s(v, "secret")];
    let ts = v["timestamp"].as_i64().unwrap();
    let headers = sw_headers(v, "svix");
    let result = verify(
        &Scheme::StandardWebhooks,
        &secrets,
        &headers,
        s(v, "body").as_bytes(),
        ts + 10_000,
        TOLERANCE,
    );
    assert_rejected(result, RejectionCode::TimestampOutsideWindow, &secrets);

    let stripe = [("Stripe-Signature", "t=100,v1=00")];
    let result = verify(
        &Scheme::Stripe,
        &["whsec_x".into()],
        &stripe,
        b"{}",
        100_000,
        300,
    );
    assert_rejected(result, RejectionCode::TimestampOutsideWindow, &[]);
}

#[test]
fn rotation_any_secret_matches() {
    for (scheme, headers, secret, body, now) in valid_cases() {
        let old = match scheme {
            Scheme::StandardWebhooks => "whsec_dGhpcyBpcyBhbiBvbGQga2V5IQ==".to_owned(),
            _ => "an old secret".to_owned(),
        };
        let secrets = [old.clone(), secret.clone()];
        let verified = verify(&scheme, &secrets, &headers, body.as_bytes(), now, TOLERANCE)
            .unwrap_or_else(|r| panic!("{scheme:?}: {r}"));
        assert_eq!(verified.secret_index, Some(1), "{scheme:?}");
        // An empty slot in the list is skipped, not an error.
        let secrets = [String::new(), secret];
        assert!(verify(&scheme, &secrets, &headers, body.as_bytes(), now, TOLERANCE).is_ok());
        // Only old secrets: no match.
        let result = verify(&scheme, &[old], &headers, body.as_bytes(), now, TOLERANCE);
        assert_rejected(result, RejectionCode::NoSignatureMatched, &[]);
    }
}

#[test]
fn several_signatures_in_one_header() {
    let all = vectors();
    // Vector D: one valid v1 among invalid v1s and a v2.
    let d = &all["standard_webhooks"][3];
    assert!(s(d, "signature").split(' ').count() >= 3);
    let ts = d["timestamp"].as_i64().unwrap();
    let headers = sw_headers(d, "webhook");
    assert!(verify(
        &Scheme::StandardWebhooks,
        &[s(d, "secret")],
        &headers,
        s(d, "body").as_bytes(),
        ts,
        TOLERANCE
    )
    .is_ok());
    // Only non-v1 versions carry the right MAC: ignored.
    let a = &all["standard_webhooks"][0];
    let sig = s(a, "signature").replace("v1,", "v1a,");
    let headers = vec![
        ("svix-id".to_owned(), s(a, "id")),
        ("svix-timestamp".to_owned(), a["timestamp"].to_string()),
        ("svix-signature".to_owned(), sig),
    ];
    let result = verify(
        &Scheme::StandardWebhooks,
        &[s(a, "secret")],
        &headers,
        s(a, "body").as_bytes(),
        a["timestamp"].as_i64().unwrap(),
        TOLERANCE,
    );
    assert_rejected(result, RejectionCode::NoSignatureMatched, &[]);

    // Stripe: a bogus v1, a v0 and the real v1, in any order.
    let v = &all["stripe"][0];
    let real = s(v, "header");
    let real_v1 = real.split(',').find(|p| p.starts_with("v1=")).unwrap();
    let t = real.split(',').find(|p| p.starts_with("t=")).unwrap();
    let header = format!("{t},v1={},v0=abcd, {real_v1}", "0".repeat(64));
    let now = v["timestamp"].as_i64().unwrap();
    assert!(verify(
        &Scheme::Stripe,
        &[s(v, "secret")],
        &[("stripe-signature", header.as_str())],
        s(v, "body").as_bytes(),
        now,
        TOLERANCE
    )
    .is_ok());
    // A v0 alone is ignored.
    let v0_only = format!("{t},{}", real_v1.replace("v1=", "v0="));
    let result = verify(
        &Scheme::Stripe,
        &[s(v, "secret")],
        &[("stripe-signature", v0_only.as_str())],
        s(v, "body").as_bytes(),
        now,
        TOLERANCE,
    );
    assert_rejected(result, RejectionCode::NoSignatureMatched, &[]);
}

#[test]
fn missing_and_invalid_headers() {
    let all = vectors();
    let a = &all["standard_webhooks"][0];
    let secrets = [s(a, "secret")];
    let ts = a["timestamp"].as_i64().unwrap();
    let body = s(a, "body");
    let full = sw_headers(a, "svix");
    for drop in 0..3 {
        let mut headers = full.clone();
        let (dropped, _) = headers.remove(drop);
        let result = verify(
            &Scheme::StandardWebhooks,
            &secrets,
            &headers,
            body.as_bytes(),
            ts,
            TOLERANCE,
        );
        let r = assert_rejected(result, RejectionCode::MissingHeader, &secrets);
        assert!(r.message.contains(&dropped), "{r}");
    }
    let mut bad_ts = full.clone();
    bad_ts[1].1 = "yesterday".into();
    let result = verify(
        &Scheme::StandardWebhooks,
        &secrets,
        &bad_ts,
        body.as_bytes(),
        ts,
        TOLERANCE,
    );
    let r = assert_rejected(result, RejectionCode::InvalidHeader, &secrets);
    assert!(r.message.contains("svix-timestamp"), "{r}");

    let none: [(&str, &str); 0] = [];
    for (scheme, header) in [
        (Scheme::Stripe, "Stripe-Signature"),
        (Scheme::Github, "X-Hub-Signature-256"),
        (Scheme::Shopify, "X-Shopify-Hmac-Sha256"),
        (Scheme::StandardWebhooks, "svix-signature"),
    ] {
        let result = verify(&scheme, &["k".into()], &none, b"{}", 0, TOLERANCE);
        let r = assert_rejected(result, RejectionCode::MissingHeader, &[]);
        assert!(r.message.contains(header), "{r}");
    }
    for (scheme, header, value) in [
        (Scheme::Stripe, "Stripe-Signature", "v1=abcd"),
        (Scheme::Stripe, "Stripe-Signature", "t=soon,v1=abcd"),
        (Scheme::Github, "X-Hub-Signature-256", "sha1=abcd"),
        (Scheme::Github, "X-Hub-Signature-256", "sha256=zz"),
        (Scheme::Shopify, "X-Shopify-Hmac-Sha256", "not base64!"),
    ] {
        let result = verify(
            &scheme,
            &["k".into()],
            &[(header, value)],
            b"{}",
            0,
            TOLERANCE,
        );
        let r = assert_rejected(result, RejectionCode::InvalidHeader, &[]);
        assert!(r.message.contains(header), "{r}");
    }
}

#[test]
fn no_secret_configured() {
    let headers = [("X-Hub-Signature-256", "sha256=00")];
    for secrets in [vec![], vec![String::new()]] {
        let result = verify(&Scheme::Github, &secrets, &headers, b"", 0, TOLERANCE);
        assert_rejected(result, RejectionCode::NoSecretConfigured, &[]);
    }
    // Standard Webhooks secrets that are not base64 cannot be used.
    let a = &vectors()["standard_webhooks"][0];
    let headers = sw_headers(a, "svix");
    let result = verify(
        &Scheme::StandardWebhooks,
        &["whsec_***not base64***".into()],
        &headers,
        s(a, "body").as_bytes(),
        a["timestamp"].as_i64().unwrap(),
        TOLERANCE,
    );
    let r = assert_rejected(result, RejectionCode::NoSecretConfigured, &[]);
    assert!(!r.message.contains("not base64***"), "{r}");
    // Scheme::None needs nothing.
    let ok = verify(&Scheme::None, &[], &[("a", "b")], b"x", 0, 0).unwrap();
    assert_eq!(ok.secret_index, None);
}

#[test]
fn generic_hmac_schemes() {
    let all = vectors();
    // GitHub's vector through the generic scheme, hex with a prefix.
    let g = &all["github"][0];
    let hex = Scheme::Hmac {
        header: "X-Hub-Signature-256".into(),
        encoding: Encoding::Hex,
        prefix: Some("sha256=".into()),
        algorithm: Default::default(),
    };
    let headers = [("x-hub-signature-256".to_owned(), s(g, "header"))];
    assert!(verify(
        &hex,
        &[s(g, "secret")],
        &headers,
        s(g, "body").as_bytes(),
        0,
        0
    )
    .is_ok());
    // Upper-case hex is the same MAC.
    let upper = [(
        "X-Hub-Signature-256".to_owned(),
        s(g, "header").replace("sha256=", "").to_uppercase(),
    )];
    let no_prefix = Scheme::Hmac {
        header: "X-Hub-Signature-256".into(),
        encoding: Encoding::Hex,
        prefix: None,
        algorithm: Default::default(),
    };
    assert!(verify(
        &no_prefix,
        &[s(g, "secret")],
        &upper,
        s(g, "body").as_bytes(),
        0,
        0
    )
    .is_ok());
    // The configured prefix is required.
    let result = verify(
        &hex,
        &[s(g, "secret")],
        &upper,
        s(g, "body").as_bytes(),
        0,
        0,
    );
    assert_rejected(result, RejectionCode::InvalidHeader, &[]);

    // Shopify's vector through the generic scheme, base64.
    let sh = &all["shopify"][0];
    let b64 = Scheme::Hmac {
        header: "X-Shopify-Hmac-Sha256".into(),
        encoding: Encoding::Base64,
        prefix: None,
        algorithm: Default::default(),
    };
    let headers = [("X-Shopify-Hmac-Sha256".to_owned(), s(sh, "header"))];
    assert!(verify(
        &b64,
        &[s(sh, "secret")],
        &headers,
        s(sh, "body").as_bytes(),
        0,
        0
    )
    .is_ok());

    // SHA-1 (legacy X-Hub-Signature); expected value computed with Python's hmac module.
    let sha1: Scheme = serde_json::from_str(
        r#"{"type":"hmac","header":"X-Hub-Signature","encoding":"hex","prefix":"sha1=","algorithm":"sha1"}"#,
    )
    .unwrap();
    let headers = [(
        "X-Hub-Signature",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
    )];
    assert!(verify(&sha1, &[s(g, "secret")], &headers, b"Hello, World!", 0, 0).is_ok());
    assert!(verify(&sha1, &[s(g, "secret")], &headers, b"Hello, World?", 0, 0).is_err());
}

#[test]
fn scheme_config_json() {
    for (json, scheme) in [
        (r#"{"type":"standard_webhooks"}"#, Scheme::StandardWebhooks),
        (r#"{"type":"stripe"}"#, Scheme::Stripe),
        (r#"{"type":"github"}"#, Scheme::Github),
        (r#"{"type":"shopify"}"#, Scheme::Shopify),
        (r#"{"type":"none"}"#, Scheme::None),
        (
            r#"{"type":"hmac","header":"X-Sig","encoding":"base64","algorithm":"sha256"}"#,
            Scheme::Hmac {
                header: "X-Sig".into(),
                encoding: Encoding::Base64,
                prefix: None,
                algorithm: Default::default(),
            },
        ),
    ] {
        assert_eq!(serde_json::from_str::<Scheme>(json).unwrap(), scheme);
        assert_eq!(serde_json::to_string(&scheme).unwrap(), json);
    }
    assert_eq!(
        serde_json::to_value(RejectionCode::TimestampOutsideWindow).unwrap(),
        "timestamp_outside_window"
    );
    assert_eq!(
        RejectionCode::NoSecretConfigured.as_str(),
        "no_secret_configured"
    );
}
