//! The webhooks REST API: sources, delivery history, replay, transform tests, unsigned sources.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// The REST API

#[tokio::test]
async fn sources_are_created_listed_changed_and_removed_without_showing_secrets() {
    let app = spawn_app(dev()).await;
    let created = app
        .create(json!({"name": "clerk", "preset": "clerk", "secrets": [SECRET]}))
        .await;
    assert_eq!(created["url"], format!("{}/webhooks/clerk", app.base));
    assert_eq!(created["scheme"], json!({"type": "standard_webhooks"}));
    assert_eq!(created["preset"], "clerk");
    assert_eq!(created["tolerance_secs"], 300);
    assert_eq!(created["secrets"], json!(["whsec_********"]));

    let a = app
        .post_json(
            "/v1/webhooks",
            &json!({"name": "clerk", "preset": "clerk", "secrets": [SECRET]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    for (bad, needle) in [
        (
            json!({"name": "t", "scheme": "svix", "secrets": [SECRET], "transform": "function ("}),
            "compile",
        ),
        (
            json!({"name": "t", "preset": "clerk", "secrets": ["not-a-whsec"]}),
            "secret #0",
        ),
        (json!({"name": "t", "preset": "clerk"}), "secret"),
        (
            json!({"name": "a/b", "preset": "clerk", "secrets": [SECRET]}),
            "names",
        ),
        (json!({"name": "t", "preset": "nope"}), "unknown preset"),
        (json!({"name": "t"}), "preset"),
        (
            json!({"name": "t", "preset": "clerk", "secrets": [SECRET], "colour": 1}),
            "unknown field",
        ),
    ] {
        let a = app.post_json("/v1/webhooks", &bad).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.text);
        let msg = a.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(needle), "{bad}: {msg}");
    }

    app.create(json!({"name": "gh", "preset": "github", "secrets": ["gh-secret-value"]}))
        .await;
    let list = app.get("/v1/webhooks").await.json();
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clerk", "gh"]);

    let a = app
        .put_json("/v1/webhooks/clerk", &json!({"tolerance_secs": 60}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["data"]["tolerance_secs"], 60);
    assert_eq!(a.json()["data"]["secrets"], json!(["whsec_********"]));
    let a = app
        .put_json("/v1/webhooks/clerk", &json!({"name": "renamed"}))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // A delivery puts the source in the intake's cache; deleting it must take it out at once.
    let a = app.deliver("gh", &[], "{}").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    let a = app
        .send(app.client.delete(format!("{}/v1/webhooks/gh", app.base)))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/webhooks/gh").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.deliver("gh", &[], "{}").await.status,
        StatusCode::NOT_FOUND
    );
    let a = app
        .send(app.client.delete(format!("{}/v1/webhooks/gh", app.base)))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    app.assert_no_secret_leaked(&[SECRET, "gh-secret-value"]);
}

#[tokio::test]
async fn deliveries_are_shown_replayed_and_tested_against() {
    let app = clerk_app().await;
    let body = shared_fixture("clerk-user.created.json");
    let headers = sign_one(Case {
        scheme: "svix",
        id: "msg_replay",
        timestamp: now_secs(),
        secret: SECRET,
        body: &body,
    });
    let first = app.deliver("clerk", &headers, &body).await.json();
    let delivery = first["delivery"].as_str().unwrap().to_owned();
    let bad = app.deliver("clerk", &[], &body).await.json();
    let rejected = bad["delivery"].as_str().unwrap().to_owned();

    let full = app
        .get(&format!("/v1/webhooks/clerk/deliveries/{delivery}"))
        .await
        .json();
    let d = &full["data"];
    assert_eq!(d["body"], body.as_str(), "the raw body as received");
    assert_eq!(d["outcome"], "accepted");
    assert_eq!(d["event_ids"], first["ids"]);
    let stored: Vec<(String, String)> = serde_json::from_value(d["headers"].clone()).unwrap();
    assert_eq!(header(&stored, "svix-signature"), "[redacted]");
    assert_eq!(header(&stored, "svix-id"), "msg_replay");

    // Replay maps the stored body again (its old timestamp is not checked) and emits again.
    let a = app
        .post_json(
            &format!("/v1/webhooks/clerk/deliveries/{delivery}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let replayed = a.json();
    assert_ne!(replayed["ids"], first["ids"]);
    assert_eq!(app.events_named("clerk/user.created").await.len(), 2);
    let history = app.deliveries("clerk").await;
    assert_eq!(history[0]["replay_of"], delivery.as_str());
    let a = app
        .post_json(
            &format!("/v1/webhooks/clerk/deliveries/{rejected}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);

    // Testing a transform stores nothing.
    let before = app.deliveries("clerk").await.len();
    let t = "function transform(evt) { return { name: 'users/new', data: { id: evt.data.id } }; }";
    let a = app
        .post_json(
            "/v1/webhooks/clerk/test",
            &json!({"transform": t, "delivery_id": delivery}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.json()["events"],
        json!([{"name": "users/new", "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC"}}])
    );
    let a = app
        .post_json("/v1/webhooks/clerk/test", &json!({"delivery_id": delivery}))
        .await;
    assert_eq!(a.json()["events"][0]["name"], "clerk/user.created");
    let a = app
        .post_json(
            "/v1/webhooks/clerk/test",
            &json!({"transform": "function transform(){ throw 1 }", "delivery_id": delivery}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(app.events_named("users/new").await.is_empty());
    assert_eq!(app.deliveries("clerk").await.len(), before);

    // Paging and filters.
    let page = app
        .get("/v1/webhooks/clerk/deliveries?limit=1")
        .await
        .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let cursor = page["cursor"].as_str().unwrap();
    let rest = app
        .get(&format!(
            "/v1/webhooks/clerk/deliveries?limit=10&cursor={cursor}"
        ))
        .await
        .json();
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    let a = app.get("/v1/webhooks/clerk/deliveries?outcome=weird").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = app
        .get("/v1/webhooks/clerk/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    app.assert_no_secret_leaked(&[SECRET]);
}

#[tokio::test]
async fn unsigned_sources_need_dev_mode_or_the_flag() {
    let store = fresh_store().await;
    let dev_app = spawn_on(dev(), store.clone()).await;
    dev_app
        .create(json!({"name": "open", "preset": "generic"}))
        .await;
    let cloud_app = spawn_on(cloud(), store.clone()).await;
    // The REST API sits behind the server's guard in cloud mode; the signing key passes it.
    let a = cloud_app
        .send(
            cloud_app
                .client
                .post(format!("{}/v1/webhooks", cloud_app.base))
                .bearer_auth("signkey-prod-0123")
                .json(&json!({"name": "open2", "preset": "generic"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("allow-unsigned-webhooks"));
    // A source saved unsigned in dev is refused by a cloud server.
    let a = cloud_app.deliver("open", &[], "{}").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert_eq!(a.json()["code"], "unsigned_not_allowed");

    let mut allowed = cloud();
    allowed.webhooks.allow_unsigned = true;
    let allowed_app = spawn_on(allowed, store).await;
    let a = allowed_app.deliver("open", &[], "{\"x\":1}").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
