//! Deliveries signed by the senders' own libraries (`svix`, `standardwebhooks`, `stripe`,
//! `@octokit/webhooks-methods`), so the verifier is checked against code we did not write.
//!
//! With Node.js and `tests/js/node_modules` installed (`npm ci` in tests/js), the cases are
//! signed at test time and must also equal the committed `tests/fixtures/npm-signed.json`;
//! without them, that committed output of the same script is used. Set
//! `SLUICE_REGENERATE_NPM_FIXTURE=1` to rewrite the file after changing the cases.

use serde_json::{json, Value};
use sluice_webhooks::{verify, Scheme};

use crate::support::{crate_file, headers_of, shared_fixture, sign_with_npm};

pub const CLERK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FIXTURE: &str = "tests/fixtures/npm-signed.json";

fn cases() -> Value {
    let mut cases = Vec::new();
    for (i, file) in [
        "clerk-user.created.json",
        "clerk-user.updated.json",
        "clerk-user.deleted.json",
    ]
    .iter()
    .enumerate()
    {
        let body = String::from_utf8(shared_fixture(file)).unwrap();
        for scheme in ["svix", "standardwebhooks"] {
            cases.push(json!({
                "scheme": scheme,
                "fixture": file,
                "secret": CLERK_SECRET,
                "id": format!("msg_2KWPBgLlAfxdpx2AI54pPJ85f{i}{scheme}"),
                "timestamp": 1_654_012_592 + i as i64,
                "body": body,
            }));
        }
    }
    cases.push(json!({
        "scheme": "svix",
        "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "id": "msg_unicode",
        "timestamp": 1_700_000_000,
        "body": "{\"name\":\"Zoë 🚀\",\"n\":12345678901234567890}",
    }));
    cases.push(json!({
        "scheme": "stripe",
        "secret": "whsec_test_secret",
        "timestamp": 1_700_000_000,
        "body": "{\n  \"id\": \"evt_1NG8Du2eZvKYlo2CUI79vXWy\",\n  \"object\": \"event\",\n  \"created\": 1700000000,\n  \"type\": \"invoice.paid\",\n  \"data\": {\"object\": {\"amount_paid\": 2000}}\n}",
    }));
    cases.push(json!({
        "scheme": "github",
        "secret": "a github secret with spaces & symbols",
        "body": "{\"action\":\"opened\",\"issue\":{\"number\":1347,\"title\":\"Found a bug\"}}",
    }));
    Value::Array(cases)
}

/// The signed cases: fresh from npm when available, else the committed fixture. Signed once
/// per test run.
pub fn signed_cases() -> Value {
    static CASES: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    CASES.get_or_init(load).clone()
}

fn load() -> Value {
    let path = crate_file(FIXTURE);
    let cases = cases();
    match sign_with_npm(&cases) {
        Some(fresh) => {
            if std::env::var_os("SLUICE_REGENERATE_NPM_FIXTURE").is_some() {
                let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
                std::fs::write(&path, text).unwrap();
            }
            let committed: Value =
                serde_json::from_slice(&std::fs::read(&path).expect("committed fixture")).unwrap();
            assert_eq!(
                fresh, committed,
                "{FIXTURE} is stale; rerun with SLUICE_REGENERATE_NPM_FIXTURE=1"
            );
            fresh
        }
        None => {
            eprintln!("node_modules missing in tests/js: using the committed {FIXTURE}");
            let committed: Value =
                serde_json::from_slice(&std::fs::read(&path).expect("committed fixture")).unwrap();
            assert_eq!(
                committed.as_array().unwrap().len(),
                cases.as_array().unwrap().len(),
                "{FIXTURE} does not match the cases; regenerate it"
            );
            committed
        }
    }
}

fn scheme_of(case: &Value) -> Scheme {
    match case["scheme"].as_str().unwrap() {
        "svix" | "standardwebhooks" => Scheme::StandardWebhooks,
        "stripe" => Scheme::Stripe,
        "github" => Scheme::Github,
        other => panic!("unknown scheme {other}"),
    }
}

#[test]
fn sender_libraries_signatures_verify() {
    let cases = signed_cases();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 9);
    for case in cases {
        let scheme = scheme_of(case);
        let headers = headers_of(&case["headers"]);
        let secrets = [case["secret"].as_str().unwrap().to_owned()];
        let body = case["body"].as_str().unwrap().as_bytes();
        let now = case["timestamp"].as_i64().unwrap_or(0);
        let verified = verify(&scheme, &secrets, &headers, body, now, 300)
            .unwrap_or_else(|r| panic!("{}: {r}", case["scheme"]));
        assert_eq!(verified.secret_index, Some(0));
        if matches!(scheme, Scheme::StandardWebhooks | Scheme::Stripe) {
            assert_eq!(verified.timestamp, Some(now));
            // Five minutes and a second later the same delivery is refused.
            assert!(verify(&scheme, &secrets, &headers, body, now + 301, 300).is_err());
        }
        // One flipped byte anywhere in the middle breaks it.
        let mut tampered = body.to_vec();
        tampered[body.len() / 2] ^= 0x20;
        assert!(verify(&scheme, &secrets, &headers, &tampered, now, 300).is_err());
    }
}
