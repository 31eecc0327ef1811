//! Webhook intake and the webhooks REST API through the real router on a real socket, with a
//! fresh SQLite store per test.
//!
//! Deliveries are signed at test time by the senders' own npm packages (`svix`,
//! `standardwebhooks`) through `crates/sluice-webhooks/tests/js/sign.mjs`. Without its
//! `node_modules` (`npm ci` there), a local run signs with an HMAC written here and says so; in
//! CI (`CI` set) that is a failure instead.

#[path = "webhooks/rest.rs"]
mod rest;
#[path = "webhooks/support.rs"]
mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::*;

// ---------------------------------------------------------------------------------------------
// The story: Clerk deliveries signed by svix become clerk/* events

#[tokio::test]
async fn clerk_deliveries_signed_by_svix_become_events_byte_for_byte() {
    let app = clerk_app().await;
    let now = now_secs();
    let files = [
        ("clerk-user.created.json", "svix", "clerk/user.created"),
        (
            "clerk-user.updated.json",
            "standardwebhooks",
            "clerk/user.updated",
        ),
        ("clerk-user.deleted.json", "svix", "clerk/user.deleted"),
    ];
    let bodies: Vec<String> = files.iter().map(|f| shared_fixture(f.0)).collect();
    let msg_ids: Vec<String> = (0..3).map(|i| format!("msg_story_{i}")).collect();
    let cases: Vec<Case> = files
        .iter()
        .zip(&bodies)
        .zip(&msg_ids)
        .map(|((f, body), id)| Case {
            scheme: f.1,
            id,
            timestamp: now,
            secret: SECRET,
            body,
        })
        .collect();
    let signed = sign(&cases);
    for ((file, body), headers) in files.iter().zip(&bodies).zip(&signed) {
        let a = app.deliver("clerk", headers, body).await;
        assert_eq!(a.status, StatusCode::OK, "{}: {}", file.0, a.text);
        let v = a.json();
        assert_eq!(v["ok"], true);
        let ids = ids(&v);
        assert_eq!(ids.len(), 1);
        let (name, ts, data) = raw_event(&app, &ids[0]).await;
        assert_eq!(name, file.2);
        assert_eq!(
            data,
            slice_member(body, "data"),
            "data must be byte-identical"
        );
        let envelope: Value = serde_json::from_str(body).unwrap();
        match envelope["timestamp"].as_i64() {
            Some(clerk_ms) => assert_eq!(ts, clerk_ms, "the event keeps Clerk's time"),
            // The user.deleted sample has none: the event is timed by its arrival.
            None => assert!((ts / 1000 - now).abs() < 60, "{ts}"),
        }
    }
    let created = app.events_named("clerk/user.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["data"]["public_metadata"], json!({}));
    assert_eq!(created[0]["data"]["id"], "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(app.events_named("clerk/user.deleted").await.len(), 1);

    // The history keeps each delivery with its redacted headers and its event.
    let history = app.deliveries("clerk").await;
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|d| d["outcome"] == "accepted"));
    assert_eq!(history[2]["delivery_id"], "msg_story_0");
    app.assert_no_secret_leaked(&[SECRET]);
}

#[tokio::test]
async fn a_redelivery_is_answered_200_and_makes_no_second_event() {
    let app = clerk_app().await;
    let body = shared_fixture("clerk-user.created.json");
    let headers = sign_one(Case {
        scheme: "svix",
        id: "msg_dup",
        timestamp: now_secs(),
        secret: SECRET,
        body: &body,
    });
    let first = app.deliver("clerk", &headers, &body).await.json();
    let again = app.deliver("clerk", &headers, &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let again = again.json();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["ids"], first["ids"]);
    assert_eq!(app.events_named("clerk/user.created").await.len(), 1);
    let history = app.deliveries("clerk").await;
    let outcomes: Vec<&str> = history
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["duplicate", "accepted"]);
    assert_eq!(history[0]["duplicate_of"], history[1]["id"]);
    let source = app.get("/v1/webhooks/clerk").await.json();
    assert_eq!(source["data"]["deliveries"]["duplicate"], 1);
    assert_eq!(source["data"]["deliveries"]["accepted"], 1);
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[tokio::test]
async fn bad_signatures_get_401_with_a_reason_and_are_recorded_without_events() {
    let app = clerk_app().await;
    let body = shared_fixture("clerk-user.created.json");
    let now = now_secs();
    let signed = sign(&[
        Case {
            scheme: "svix",
            id: "msg_t",
            timestamp: now,
            secret: SECRET,
            body: &body,
        },
        Case {
            scheme: "svix",
            id: "msg_stale",
            timestamp: now - 600,
            secret: SECRET,
            body: &body,
        },
        Case {
            scheme: "standardwebhooks",
            id: "msg_future",
            timestamp: now + 600,
            secret: SECRET,
            body: &body,
        },
    ]);
    // One byte changed in the middle of the body.
    let tampered = body.replacen("Example", "Exbmple", 1);
    // The same JSON, re-serialised: the signature covers bytes, not meaning.
    let reserialised =
        serde_json::to_string(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let mut unsigned = signed[0].clone();
    unsigned.retain(|(k, _)| k != "svix-signature");
    let cases = [
        (&signed[0], tampered.as_str(), "no_signature_matched"),
        (&signed[0], reserialised.as_str(), "no_signature_matched"),
        (&signed[1], body.as_str(), "timestamp_outside_window"),
        (&signed[2], body.as_str(), "timestamp_outside_window"),
        (&unsigned, body.as_str(), "missing_header"),
    ];
    for (headers, sent, code) in cases {
        let a = app.deliver("clerk", headers, sent).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        let v = a.json();
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["status"], 401);
        assert!(v["error"].as_str().unwrap().len() > 10);
        assert!(v["delivery"].is_string());
    }
    assert!(app.events_named("clerk/user.created").await.is_empty());
    let rejected = app
        .get("/v1/webhooks/clerk/deliveries?outcome=rejected")
        .await
        .json();
    let rejected = rejected["data"].as_array().unwrap();
    assert_eq!(rejected.len(), 5);
    assert!(rejected.iter().all(|d| d["event_ids"] == json!([])));
    assert_eq!(rejected[0]["code"], "missing_header");
    let source = app.get("/v1/webhooks/clerk").await.json();
    assert_eq!(source["data"]["deliveries"]["rejected"], 5);

    // The untouched delivery still goes through afterwards: rejections do not block its id.
    let a = app.deliver("clerk", &signed[0], &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    app.assert_no_secret_leaked(&[SECRET]);

    // An unverified body is stored only in part: a public URL must not fill the disk.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(200 * 1024));
    let a = app.deliver("clerk", &unsigned, &big).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    let newest = app.deliveries("clerk").await;
    assert_eq!(newest[0]["outcome"], "rejected");
    assert_eq!(newest[0]["body_bytes"], 64 * 1024);
    let reason = newest[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("first 65536 of its {} bytes", big.len())),
        "{reason}"
    );
}

#[tokio::test]
async fn secrets_rotate_and_any_signature_in_the_header_may_match() {
    let app = spawn_app(dev()).await;
    app.create(json!({"name": "rot", "preset": "clerk", "secrets": [SECRET, NEW_SECRET]}))
        .await;
    let body = shared_fixture("clerk-user.updated.json");
    let now = now_secs();
    let case = |id, secret| Case {
        scheme: "svix",
        id,
        timestamp: now,
        secret,
        body: &body,
    };
    let signed = sign(&[
        case("msg_old", SECRET),
        case("msg_new", NEW_SECRET),
        case("msg_late", SECRET),
        case("msg_both", SECRET),
        case("msg_both", NEW_SECRET),
    ]);
    for s in &signed[..2] {
        let a = app.deliver("rot", s, &body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    // The old secret is retired.
    let a = app
        .put_json("/v1/webhooks/rot", &json!({"secrets": [NEW_SECRET]}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["data"]["secrets"], json!(["whsec_********"]));
    let a = app.deliver("rot", &signed[2], &body).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    // A sender signing with both during its own rotation sends both signatures in one header.
    let mut both = signed[4].clone();
    let sig = format!(
        "{} v2,ignored {}",
        header(&signed[3], "svix-signature"),
        header(&signed[4], "svix-signature")
    );
    both.retain(|(k, _)| k != "svix-signature");
    both.push(("svix-signature".into(), sig));
    let a = app.deliver("rot", &both, &body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(app.events_named("clerk/user.updated").await.len(), 3);
    app.assert_no_secret_leaked(&[SECRET, NEW_SECRET]);
}

/// The shared signature vectors for every scheme, through HTTP. Their timestamps are years old,
/// so these sources get a window wide enough to cover them.
#[tokio::test]
async fn fixture_vectors_of_every_scheme_verify_over_http() {
    let app = spawn_app(dev()).await;
    let vectors: Value = serde_json::from_str(&shared_fixture("signature-vectors.json")).unwrap();
    let wide = 20 * 365 * 24 * 3600;
    let mut n = 0;
    let mut check = |scheme: &'static str, v: &Value, headers: Vec<(String, String)>| {
        n += 1;
        let name = format!("{scheme}-{n}");
        let secret = v["secret"].as_str().unwrap().to_owned();
        let body = v["body"].as_str().unwrap().to_owned();
        let valid = v["valid"].as_bool().unwrap();
        (name, secret, body, valid, headers, scheme)
    };
    let mut all = Vec::new();
    for v in vectors["standard_webhooks"].as_array().unwrap() {
        let h = vec![
            ("webhook-id".into(), v["id"].as_str().unwrap().into()),
            ("webhook-timestamp".into(), v["timestamp"].to_string()),
            (
                "webhook-signature".into(),
                v["signature"].as_str().unwrap().into(),
            ),
        ];
        all.push(check("standard-webhooks", v, h));
    }
    for (scheme, header) in [
        ("stripe", "stripe-signature"),
        ("github", "x-hub-signature-256"),
        ("shopify", "x-shopify-hmac-sha256"),
    ] {
        for v in vectors[scheme].as_array().unwrap() {
            let h = vec![(header.into(), v["header"].as_str().unwrap().into())];
            all.push(check(scheme, v, h));
        }
    }
    assert!(all.len() >= 9);
    for (name, secret, body, valid, headers, scheme) in all {
        app.create(json!({"name": name, "preset": "generic", "scheme": scheme,
                          "secrets": [secret], "tolerance_secs": wide}))
            .await;
        let a = app.deliver(&name, &headers, &body).await;
        if !valid {
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
            continue;
        }
        // "Hello, World!" (the GitHub vector) verifies, then is refused as a body.
        let expected = if body.starts_with('{') {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(a.status, expected, "{name}: {}", a.text);
        let history = app.deliveries(&name).await;
        assert_ne!(history[0]["outcome"], "rejected", "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies and transforms

#[tokio::test]
async fn form_bodies_become_arrays_of_strings_with_the_generic_preset() {
    let app = spawn_app(dev()).await;
    app.create(json!({"name": "form", "preset": "generic"}))
        .await;
    let a = app
        .send(
            app.client
                .post(format!("{}/webhooks/form?x=1", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=1&a=2&b=h%C3%A9llo+there&empty="),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let (name, _, data) = raw_event(&app, &ids(&a.json())[0]).await;
    assert_eq!(name, "webhook/request.received");
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data,
        json!({"a": ["1", "2"], "b": ["héllo there"], "empty": [""]})
    );
    let history = app.deliveries("form").await;
    let full = app
        .get(&format!(
            "/v1/webhooks/form/deliveries/{}",
            history[0]["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(full["data"]["query"], "x=1");
    assert_eq!(full["data"]["body"], "a=1&a=2&b=h%C3%A9llo+there&empty=");

    // An unsupported type is a 415, recorded as failed.
    let a = app
        .send(
            app.client
                .post(format!("{}/webhooks/form", app.base))
                .header("content-type", "text/csv")
                .body("a,b"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text);
    let a = app.deliver("form", &[], "{not json").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(a.json()["code"], "bad_body");
}

#[tokio::test]
async fn transforms_that_throw_or_loop_get_422_quickly() {
    let app = spawn_app(dev()).await;
    let throws = "function transform(evt) { throw new Error('no thanks: ' + evt.type); }";
    let loops = "function transform(evt) { for (;;) {} }";
    let maps = "function transform(evt, headers, query, raw) {
        return [{ name: `clerk/${evt.type}`, data: evt.data, id: headers['Svix-Id'] },
                { name: 'audit/seen', data: { q: query.tag, bytes: raw.length } }];
    }";
    for (name, t) in [("throws", throws), ("loops", loops), ("maps", maps)] {
        app.create(
            json!({"name": name, "scheme": "standard-webhooks", "secrets": [SECRET],
                          "transform": t}),
        )
        .await;
    }
    let body = shared_fixture("clerk-user.created.json");
    let headers = sign_one(Case {
        scheme: "svix",
        id: "msg_tf",
        timestamp: now_secs(),
        secret: SECRET,
        body: &body,
    });

    let a = app.deliver("throws", &headers, &body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let v = a.json();
    assert_eq!(v["code"], "transform_failed");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("no thanks: user.created"),
        "{v}"
    );
    let failed = app.deliveries("throws").await;
    assert_eq!(failed[0]["outcome"], "failed");
    assert!(failed[0]["reason"].as_str().unwrap().contains("no thanks"));

    let started = Instant::now();
    let a = app.deliver("loops", &headers, &body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.json()["code"], "transform_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let a = app
        .send({
            let mut req = app
                .client
                .post(format!("{}/webhooks/maps?tag=a&tag=b", app.base))
                .header("content-type", "application/json")
                .body(body.clone());
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            req
        })
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ids = ids(&a.json());
    assert_eq!(ids.len(), 2);
    let created = app.events_named("clerk/user.created").await;
    assert_eq!(
        created[0]["id"], "msg_tf",
        "the transform's id is the event's own id"
    );
    let audit = app.events_named("audit/seen").await;
    assert_eq!(
        audit[0]["data"],
        json!({"q": ["a", "b"], "bytes": body.len()})
    );
}

#[tokio::test]
async fn limits_and_wrong_addresses_get_plain_json_errors() {
    let app = clerk_app().await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let a = app.deliver("clerk", &[], &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.json()["code"], "body_too_large");

    let a = app.deliver("nobody", &[], "{}").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["status"], 404);

    let a = app.get("/webhooks/clerk").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "POST");
    assert_eq!(a.json()["code"], "method_not_allowed");
    let a = app.deliver("clerk/", &[], "{}").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "never a redirect");
}

#[tokio::test]
async fn an_event_over_the_per_event_limit_is_refused_and_nothing_is_stored() {
    let mut config = dev();
    config.ingest.max_event_bytes = 1000;
    let app = spawn_app(config).await;
    app.create(json!({"name": "open", "preset": "generic"}))
        .await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
    let a = app.deliver("open", &[], &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    let v = a.json();
    assert_eq!(v["code"], "event_too_large");
    assert!(
        v["error"].as_str().unwrap().contains("limit of 1000 bytes"),
        "{v}"
    );
    let recorded = app.deliveries("open").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["outcome"], "failed");
    assert_eq!(recorded[0]["code"], "event_too_large");
    let events = app.get("/v1/events").await.json();
    assert_eq!(events["data"], json!([]), "no event was stored");

    let a = app.deliver("open", &[], r#"{"small":true}"#).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[tokio::test]
async fn overload_is_answered_503_with_retry_after() {
    let mut config = dev();
    config.webhooks.max_in_flight = 1;
    let app = spawn_app(config).await;
    app.create(json!({"name": "open", "preset": "generic"}))
        .await;
    // A delivery whose body never finishes holds the one permit.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(
        b"POST /webhooks/open HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 12\r\n\r\n{\"a\":",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = loop {
        let a = app.deliver("open", &[], "{}").await;
        if a.status == StatusCode::SERVICE_UNAVAILABLE {
            break a;
        }
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert!(Instant::now() < deadline, "never saw a 503");
    };
    assert_eq!(busy.headers["retry-after"], "5");
    assert_eq!(busy.json()["code"], "overloaded");
    // Finishing the slow delivery frees the permit.
    slow.write_all(b"\"done\"}").await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = slow.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    let a = app.deliver("open", &[], "{}").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
