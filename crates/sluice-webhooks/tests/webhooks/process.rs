//! The whole pipeline through `process`, as the server calls it.

use serde_json::Value;
use sluice_webhooks::{
    process, process_with_limits, ConfigError, DedupeKey, Limits, Preset, ProcessError,
    RejectionCode, Scheme, Source, TransformError,
};

use crate::npm::{signed_cases, CLERK_SECRET};
use crate::support::{headers_of, shared_fixture, slice_member};

fn clerk_source() -> Source {
    Source {
        secrets: vec![CLERK_SECRET.to_owned()],
        ..Source::from_preset("clerk", Preset::Clerk)
    }
}

fn json_headers(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers.push(("Content-Type".into(), "application/json".into()));
    headers
}

#[test]
fn clerk_fixtures_round_trip_byte_identical() {
    let source = clerk_source();
    source.validate().unwrap();
    let cases = signed_cases();
    let clerk: Vec<&Value> = cases
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["fixture"].is_string())
        .collect();
    assert_eq!(clerk.len(), 6);
    for case in clerk {
        let file = case["fixture"].as_str().unwrap();
        let body = shared_fixture(file);
        assert_eq!(case["body"].as_str().unwrap().as_bytes(), body.as_slice());
        let headers = json_headers(headers_of(&case["headers"]));
        let now = case["timestamp"].as_i64().unwrap();
        let out = process(&source, &headers, "", None, &body, now)
            .unwrap_or_else(|e| panic!("{file}: {e}"));

        let text = std::str::from_utf8(&body).unwrap();
        let envelope: Value = serde_json::from_str(text).unwrap();
        assert_eq!(out.events.len(), 1);
        let event = &out.events[0];
        assert_eq!(
            event.name,
            format!("clerk/{}", envelope["type"].as_str().unwrap())
        );
        // Byte for byte: whitespace, key order and `{}` metadata exactly as the file has them.
        assert_eq!(event.data.get(), slice_member(text, "data"), "{file}");
        if file != "clerk-user.deleted.json" {
            assert!(
                event.data.get().contains("\"public_metadata\": {"),
                "{file}"
            );
            assert!(
                event.data.get().contains("\"private_metadata\": {}"),
                "{file}"
            );
        }
        assert_eq!(event.ts, envelope["timestamp"].as_i64());
        assert_eq!(event.id, None);
        let expected_id = headers
            .iter()
            .find(|(k, _)| k.ends_with("-id"))
            .map(|(_, v)| v.clone());
        assert_eq!(out.delivery_id, expected_id);
        assert_eq!(out.verified.secret_index, Some(0));
    }
}

#[test]
fn clerk_deleted_payload_is_minimal() {
    let body = shared_fixture("clerk-user.deleted.json");
    let parsed = sluice_webhooks::body::parse(Some("application/json"), &body).unwrap();
    let events = Preset::Clerk
        .events(&[("svix-id", "msg_1")], &body, &parsed)
        .unwrap();
    assert_eq!(events[0].name, "clerk/user.deleted");
    let data: Value = serde_json::from_str(events[0].data.get()).unwrap();
    assert_eq!(
        data,
        serde_json::json!({"deleted": true, "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user"})
    );
    assert_eq!(events[0].ts, None);
}

/// The first signed Clerk case, for tests that only need one valid delivery.
fn one_clerk_delivery() -> (Vec<(String, String)>, Vec<u8>, i64) {
    let cases = signed_cases();
    let case = &cases[0];
    (
        json_headers(headers_of(&case["headers"])),
        case["body"].as_str().unwrap().as_bytes().to_vec(),
        case["timestamp"].as_i64().unwrap(),
    )
}

#[test]
fn errors_map_to_statuses() {
    let source = clerk_source();
    let (headers, body, now) = one_clerk_delivery();

    // Bad signature: 401, with the rejection code.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let err = process(&source, &headers, "", None, &tampered, now).unwrap_err();
    assert_eq!((err.status(), err.code()), (401, "no_signature_matched"));
    let err = process(&source, &headers, "", None, &body, now + 3_600).unwrap_err();
    assert_eq!(err.code(), "timestamp_outside_window");
    assert!(
        matches!(err, ProcessError::Rejected(r) if r.code == RejectionCode::TimestampOutsideWindow)
    );

    // Unsupported content type: 415 (checked after the signature passes).
    let err = process(&source, &headers, "", Some("text/plain"), &body, now).unwrap_err();
    assert_eq!((err.status(), err.code()), (415, "unsupported_media_type"));

    // Unsigned garbage is a 401, never a 400: the body is not looked at before verification.
    let none: [(&str, &str); 0] = [];
    let err = process(&source, &none, "", Some("application/json"), b"{nope", now).unwrap_err();
    assert_eq!(err.status(), 401);

    // Malformed JSON from a trusted sender: 400 naming line and column.
    let open = Source::new("open", Scheme::None);
    let err = process(
        &open,
        &none,
        "",
        Some("application/json"),
        b"{\n\"a\" 1}",
        now,
    )
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "bad_body"));
    assert!(err.to_string().contains("line 2, column 5"), "{err}");

    // A Clerk source fed something that is not an envelope: 400.
    let loose_clerk = Source {
        scheme: Scheme::None,
        ..clerk_source()
    };
    let err = process(&loose_clerk, &none, "", None, br#"{"hello":1}"#, now).unwrap_err();
    assert_eq!(err.status(), 400);

    // A throwing transform: 422.
    let throwing = Source {
        transform: Some("function transform(evt) { throw new Error('boom') }".into()),
        ..Source::new("t", Scheme::None)
    };
    let err = process(&throwing, &none, "", None, b"{}", now).unwrap_err();
    assert_eq!((err.status(), err.code()), (422, "transform_failed"));
    assert!(err.to_string().contains("boom"), "{err}");

    // An unknown preset is the operator's fault: 500.
    let unknown = Source {
        preset: Some("gitlab".into()),
        ..Source::new("u", Scheme::None)
    };
    let err = process(&unknown, &none, "", None, b"{}", now).unwrap_err();
    assert_eq!((err.status(), err.code()), (500, "source_misconfigured"));
}

#[test]
fn transform_never_runs_for_a_rejected_delivery() {
    let (headers, body, now) = one_clerk_delivery();
    let source = Source {
        preset: None,
        transform: Some("function transform() { while (true) {} }".into()),
        ..clerk_source()
    };
    let mut tampered = body.clone();
    tampered[5] ^= 1;
    // A 401 rather than a transform timeout shows the transform was never started.
    let err = process(&source, &headers, "", None, &tampered, now).unwrap_err();
    assert_eq!(err.status(), 401);
    // With a valid signature it runs, and times out.
    let err = process_with_limits(
        &source,
        &headers,
        "",
        None,
        &body,
        now,
        &Limits {
            time_ms: 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        ProcessError::Transform(TransformError::Timeout { limit_ms: 20 })
    );
    assert_eq!((err.status(), err.code()), (422, "transform_timeout"));
}

#[test]
fn transform_sees_the_inngest_arguments() {
    let (headers, body, now) = one_clerk_delivery();
    let source = Source {
        preset: None,
        transform: Some(
            r#"function transform(evt, headers = {}, queryParams = {}, raw = "") {
                 return [
                   { name: `clerk/${evt.type}`, data: evt.data },
                   { name: "meta/seen", id: headers["Svix-Id"] || headers["Webhook-Id"],
                     data: { q: queryParams, rawLen: raw.length, ct: headers["Content-Type"] } },
                 ];
               }"#
            .into(),
        ),
        ..clerk_source()
    };
    source.validate().unwrap();
    let out = process(&source, &headers, "?env=prod&tag=a&tag=b", None, &body, now).unwrap();
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.events[0].name, "clerk/user.created");
    let meta: Value = serde_json::from_str(out.events[1].data.get()).unwrap();
    assert_eq!(
        meta["q"],
        serde_json::json!({"env": ["prod"], "tag": ["a", "b"]})
    );
    assert_eq!(meta["rawLen"], body.len());
    assert_eq!(meta["ct"], "application/json");
    assert_eq!(out.events[1].id, out.delivery_id);
}

#[test]
fn form_bodies_for_generic_and_transforms() {
    let none: [(&str, &str); 1] = [("content-type", "application/x-www-form-urlencoded")];
    let generic = Source::new("forms", Scheme::None);
    let out = process(&generic, &none, "", None, b"a=1&a=2&b=x", 0).unwrap();
    assert_eq!(out.events[0].name, "webhook/request.received");
    assert_eq!(out.events[0].data.get(), r#"{"a":["1","2"],"b":["x"]}"#);
    assert_eq!(out.delivery_id, None);

    let transformed = Source {
        transform: Some(
            "function transform(evt, h, q, raw) { return {name: 'form/' + evt.b[0], data: {count: evt.a.length, raw}} }".into(),
        ),
        ..generic
    };
    let out = process(&transformed, &none, "", None, b"a=1&a=2&b=x", 0).unwrap();
    assert_eq!(out.events[0].name, "form/x");
    assert_eq!(
        out.events[0].data.get(),
        r#"{"count":2,"raw":"a=1&a=2&b=x"}"#
    );
}

#[test]
fn delivery_ids_per_scheme_and_override() {
    let cases = signed_cases();
    let stripe = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scheme"] == "stripe")
        .unwrap();
    let source = Source {
        secrets: vec![stripe["secret"].as_str().unwrap().into()],
        ..Source::from_preset("stripe", Preset::Stripe)
    };
    let headers = headers_of(&stripe["headers"]);
    let body = stripe["body"].as_str().unwrap().as_bytes();
    let now = stripe["timestamp"].as_i64().unwrap();
    let out = process(&source, &headers, "", Some("application/json"), body, now).unwrap();
    assert_eq!(
        out.delivery_id.as_deref(),
        Some("evt_1NG8Du2eZvKYlo2CUI79vXWy")
    );
    assert_eq!(out.events[0].name, "stripe/invoice.paid");
    assert_eq!(out.events[0].data.get().as_bytes(), body);
    assert_eq!(out.events[0].ts, Some(1_700_000_000_000));

    let custom = Source {
        dedupe: Some(DedupeKey::JsonPath("data.object.amount_paid".into())),
        ..source
    };
    let out = process(&custom, &headers, "", Some("application/json"), body, now).unwrap();
    assert_eq!(out.delivery_id.as_deref(), Some("2000"));

    let github = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scheme"] == "github")
        .unwrap();
    let source = Source {
        secrets: vec![github["secret"].as_str().unwrap().into()],
        ..Source::from_preset("github", Preset::Github)
    };
    let mut headers = headers_of(&github["headers"]);
    headers.push(("X-GitHub-Event".into(), "issues".into()));
    headers.push((
        "X-GitHub-Delivery".into(),
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
    ));
    let body = github["body"].as_str().unwrap().as_bytes();
    let out = process(&source, &headers, "", Some("application/json"), body, 0).unwrap();
    assert_eq!(out.events[0].name, "github/issues.opened");
    assert_eq!(
        out.delivery_id.as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
}

#[test]
fn source_config_json_and_validation() {
    let json = r#"{"name":"clerk","scheme":{"type":"standard_webhooks"},"secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],"preset":"clerk"}"#;
    let source: Source = serde_json::from_str(json).unwrap();
    assert_eq!(source.tolerance_secs, 300);
    assert_eq!(source, clerk_source());
    source.validate().unwrap();
    let back: Source = serde_json::from_str(&serde_json::to_string(&source).unwrap()).unwrap();
    assert_eq!(back, source);

    // The scheme must be explicit: no silent "accept unsigned".
    assert!(serde_json::from_str::<Source>(r#"{"name":"x"}"#).is_err());

    // Debug output never shows secrets.
    let debug = format!("{source:?}");
    assert!(!debug.contains("MfKQ9r8"), "{debug}");

    let invalid = |s: Source| s.validate().unwrap_err();
    assert_eq!(
        invalid(Source {
            secrets: vec![],
            ..clerk_source()
        }),
        ConfigError::NoSecret
    );
    let bad = invalid(Source {
        secrets: vec![CLERK_SECRET.into(), "whsec_%%%secret%%%".into()],
        ..clerk_source()
    });
    assert!(
        matches!(bad, ConfigError::BadSecret { index: 1, .. }),
        "{bad:?}"
    );
    assert!(!bad.to_string().contains("%%%secret"), "{bad}");
    assert!(matches!(
        invalid(Source { preset: Some("gitlab".into()), ..clerk_source() }),
        ConfigError::UnknownPreset(m) if m.contains("gitlab") && m.contains("clerk")
    ));
    assert_eq!(
        invalid(Source {
            transform: Some("function transform(e) { return [] }".into()),
            ..clerk_source()
        }),
        ConfigError::PresetAndTransform
    );
    assert!(matches!(
        invalid(Source {
            preset: None,
            transform: Some("function transform( {".into()),
            ..clerk_source()
        }),
        ConfigError::Transform(TransformError::Compile { .. })
    ));
    assert_eq!(
        invalid(Source {
            tolerance_secs: -1,
            ..clerk_source()
        }),
        ConfigError::NegativeTolerance
    );
    assert_eq!(
        invalid(Source {
            name: " ".into(),
            ..clerk_source()
        }),
        ConfigError::EmptyName
    );
    Source::new("open", Scheme::None).validate().unwrap();
}
