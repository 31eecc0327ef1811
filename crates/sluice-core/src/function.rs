//! An app's function set, as an SDK declares it when it syncs (`POST /fn/register`).
//!
//! The body is `{url, deployType, framework, appName, appVersion?, sdk, v, functions, capabilities?}`.
//! The JS SDK omits unset settings; the Python SDK sends them as explicit `null`s and spells
//! `appName` as `appname` (Inngest's Go server matches JSON keys case-insensitively, so it never
//! noticed). Both are accepted here: keys are looked up exactly first, then ignoring case, and a
//! `null` counts as absent.
//!
//! Parsing validates everything Sluice will act on, so that a bad cron or CEL expression is a
//! sync error naming the function and field, not a silent failure later. Settings Sluice does not
//! enforce yet (concurrency, throttle, …) are kept in the raw config and listed in
//! [`FunctionDef::unenforced`] so the dashboard can say so.

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::expr::Expr;
use crate::sign::canonicalize_value;

/// Retries when a function does not say (so 5 attempts in all), as in Inngest.
pub const DEFAULT_RETRIES: u32 = 4;
/// The most retries a function may ask for.
pub const MAX_RETRIES: u32 = 20;

/// Function settings an SDK may send that Sluice accepts but does not act on yet.
pub const UNENFORCED_SETTINGS: [&str; 10] = [
    "concurrency",
    "throttle",
    "rateLimit",
    "debounce",
    "batchEvents",
    "priority",
    "singleton",
    "idempotency",
    "cancel",
    "timeouts",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("register body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("register body: {0}")]
    Body(String),
    #[error("function {function:?}: {field}: {message}")]
    Function {
        function: String,
        field: String,
        message: String,
    },
}

/// One sync of one app: what the SDK said about itself and its functions.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSync {
    /// The app id (`appName` on the wire); the prefix of every function id.
    pub app_name: String,
    /// The app's serve URL.
    pub url: String,
    pub framework: Option<String>,
    /// `"js:v3.44.0"`, `"py:v0.5.0"`, … (`"unknown"` if the SDK did not say).
    pub sdk: String,
    pub app_version: Option<String>,
    pub deploy_type: Option<String>,
    /// The SDK's `capabilities`, as sent.
    pub capabilities: Option<Json>,
    pub functions: Vec<FunctionDef>,
}

/// One function of an app.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The composite id as sent: app id, `-`, function id (`"my-app-create-user"`).
    pub id: String,
    /// The id without the app prefix (`"create-user"`), as the user wrote it.
    pub slug: String,
    /// Display name; the id when the SDK gave none.
    pub name: String,
    pub triggers: Vec<Trigger>,
    /// Where to call it: `steps.step.runtime.url`, which already carries `fnId` and `stepId`.
    pub url: String,
    /// How many times a failed attempt is retried (`steps.step.retries.attempts`).
    pub retries: u32,
    /// The function's config exactly as sent, for display.
    pub config: Json,
    /// Settings present in `config` that Sluice does not enforce yet, by their wire names.
    pub unenforced: Vec<String>,
}

impl FunctionDef {
    /// Attempts in all: the first plus the retries. This is the SDK's `max_attempts`.
    pub fn max_attempts(&self) -> u32 {
        self.retries + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An event name (exact, or a `prefix/*` pattern) with an optional CEL filter over `event`.
    Event {
        name: String,
        expression: Option<String>,
    },
    /// A cron spec, validated by [`crate::cron::Schedule::parse`].
    Cron { spec: String },
}

impl AppSync {
    /// Parses and validates a `POST /fn/register` body.
    pub fn parse(body: &str) -> Result<Self, Error> {
        let value: Json =
            serde_json::from_str(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
        let Json::Object(obj) = value else {
            return Err(Error::Body("expected a JSON object".to_owned()));
        };
        let app_name = required_str(&obj, "appName")?;
        let url = required_str(&obj, "url")?;
        let optional = |name: &str| get(&obj, name).and_then(Json::as_str).map(str::to_owned);
        let functions_json = match get(&obj, "functions") {
            None => Vec::new(),
            Some(Json::Array(items)) => items.clone(),
            Some(_) => return Err(Error::Body("functions: expected an array".to_owned())),
        };

        let mut functions: Vec<FunctionDef> = Vec::with_capacity(functions_json.len());
        for (index, raw) in functions_json.into_iter().enumerate() {
            let function = parse_function(&app_name, index, raw)?;
            if functions.iter().any(|f| f.id == function.id) {
                return Err(Error::Function {
                    function: function.id,
                    field: "id".to_owned(),
                    message: "two functions in this app have this id".to_owned(),
                });
            }
            functions.push(function);
        }

        Ok(Self {
            framework: optional("framework"),
            sdk: optional("sdk").unwrap_or_else(|| "unknown".to_owned()),
            app_version: optional("appVersion"),
            deploy_type: optional("deployType").or_else(|| optional("deploy_type")),
            capabilities: get(&obj, "capabilities").cloned(),
            app_name,
            url,
            functions,
        })
    }

    /// The function with this composite id.
    pub fn function(&self, id: &str) -> Option<&FunctionDef> {
        self.functions.iter().find(|f| f.id == id)
    }
}

/// A stable hash of an app's function set: hex SHA-256 of the functions' configs as canonical
/// JSON (sorted keys, `null` members dropped), ordered by id.
///
/// The same set hashes the same whatever the key order, function order or `null`-versus-absent
/// spelling, so a re-sync of unchanged code reports `modified: false`; any real change to a
/// function (trigger, URL, retries, a setting) changes it.
pub fn function_set_hash(app: &AppSync) -> String {
    let mut functions: Vec<&FunctionDef> = app.functions.iter().collect();
    functions.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hasher = Sha256::new();
    hasher.update(b"[");
    for (i, f) in functions.into_iter().enumerate() {
        if i > 0 {
            hasher.update(b",");
        }
        hasher.update(canonicalize_value(&without_nulls(&f.config)).as_bytes());
    }
    hasher.update(b"]");
    hex::encode(hasher.finalize())
}

fn without_nulls(value: &Json) -> Json {
    match value {
        Json::Object(obj) => Json::Object(
            obj.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Looks a key up exactly, then ignoring ASCII case; `null` reads as absent.
fn get<'a>(obj: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn required_str(obj: &Map<String, Json>, name: &str) -> Result<String, Error> {
    match get(obj, name) {
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Json::String(_)) => Err(Error::Body(format!("{name} must not be empty"))),
        Some(_) => Err(Error::Body(format!("{name}: expected a string"))),
        None => Err(Error::Body(format!("{name} is missing"))),
    }
}

fn parse_function(app_name: &str, index: usize, raw: Json) -> Result<FunctionDef, Error> {
    let Json::Object(obj) = &raw else {
        return Err(Error::Function {
            function: format!("#{index}"),
            field: "functions".to_owned(),
            message: "expected an object".to_owned(),
        });
    };
    let id = match get(obj, "id") {
        Some(Json::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(Error::Function {
                function: format!("#{index}"),
                field: "id".to_owned(),
                message: "missing or empty".to_owned(),
            })
        }
    };
    let fail = |field: &str, message: String| Error::Function {
        function: id.clone(),
        field: field.to_owned(),
        message,
    };

    let name = match get(obj, "name") {
        Some(Json::String(s)) if !s.is_empty() => s.clone(),
        Some(Json::String(_)) | None => id.clone(),
        Some(_) => return Err(fail("name", "expected a string".to_owned())),
    };
    let slug = id
        .strip_prefix(app_name)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&id)
        .to_owned();

    let triggers = match get(obj, "triggers") {
        None => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, t)| parse_trigger(t, &format!("triggers[{i}]")).map_err(|m| fail(&m.0, m.1)))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(fail("triggers", "expected an array".to_owned())),
    };

    let step = get(obj, "steps")
        .and_then(Json::as_object)
        .and_then(|steps| get(steps, "step").or_else(|| steps.values().next()))
        .and_then(Json::as_object)
        .ok_or_else(|| fail("steps.step", "missing".to_owned()))?;
    let runtime = get(step, "runtime").and_then(Json::as_object);
    let url = match runtime.and_then(|r| get(r, "url")) {
        Some(Json::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            let is_ws = runtime
                .and_then(|r| get(r, "type"))
                .and_then(Json::as_str)
                .is_some_and(|t| t == "ws");
            let message = if is_ws {
                "missing; connect (WebSocket) workers are not supported, serve the app over HTTP"
            } else {
                "missing"
            };
            return Err(fail("steps.step.runtime.url", message.to_owned()));
        }
    };

    let retries = match get(step, "retries")
        .and_then(|r| r.as_object())
        .and_then(|r| get(r, "attempts"))
    {
        None => DEFAULT_RETRIES,
        Some(v) => match v.as_u64() {
            Some(n) if n <= u64::from(MAX_RETRIES) => n as u32,
            Some(n) => {
                return Err(fail(
                    "steps.step.retries.attempts",
                    format!("{n} retries asked for; the most allowed is {MAX_RETRIES}"),
                ))
            }
            None => {
                return Err(fail(
                    "steps.step.retries.attempts",
                    format!("expected a whole number from 0 to {MAX_RETRIES}, got {v}"),
                ))
            }
        },
    };

    let unenforced = UNENFORCED_SETTINGS
        .iter()
        .filter(|key| match get(obj, key) {
            None => false,
            Some(Json::Array(a)) => !a.is_empty(),
            Some(Json::Object(o)) => !o.is_empty(),
            Some(_) => true,
        })
        .map(|key| (*key).to_owned())
        .collect();

    Ok(FunctionDef {
        id,
        slug,
        name,
        triggers,
        url,
        retries,
        config: raw,
        unenforced,
    })
}

/// Parses one trigger; errors come back as (field, message) for the caller to attach the id to.
fn parse_trigger(raw: &Json, field: &str) -> Result<Trigger, (String, String)> {
    let err = |sub: &str, message: String| (format!("{field}{sub}"), message);
    let Json::Object(obj) = raw else {
        return Err(err(
            "",
            "expected an object with `event` or `cron`".to_owned(),
        ));
    };
    match (get(obj, "event"), get(obj, "cron")) {
        (Some(_), Some(_)) => Err(err("", "has both `event` and `cron`; use one".to_owned())),
        (Some(Json::String(name)), None) => {
            if name.trim().is_empty() {
                return Err(err(".event", "must not be empty".to_owned()));
            }
            let expression = match get(obj, "expression") {
                None => None,
                Some(Json::String(s)) if s.trim().is_empty() => None,
                Some(Json::String(s)) => {
                    let compiled =
                        Expr::compile(s).map_err(|e| err(".expression", e.to_string()))?;
                    if let Some(other) = compiled.variables().iter().find(|v| *v != "event") {
                        return Err(err(
                            ".expression",
                            format!(
                                "refers to `{other}`; a trigger expression can only use `event`"
                            ),
                        ));
                    }
                    Some(s.clone())
                }
                Some(_) => return Err(err(".expression", "expected a string".to_owned())),
            };
            Ok(Trigger::Event {
                name: name.clone(),
                expression,
            })
        }
        (None, Some(Json::String(spec))) => {
            crate::cron::Schedule::parse(spec).map_err(|e| err(".cron", e.to_string()))?;
            Ok(Trigger::Cron { spec: spec.clone() })
        }
        (Some(_), None) => Err(err(".event", "expected a string".to_owned())),
        (None, Some(_)) => Err(err(".cron", "expected a string".to_owned())),
        (None, None) => Err(err("", "expected `event` or `cron`".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape inngest-js v3 sends (`InngestFunction.getConfig`): unset settings omitted, an
    /// `onFailure` handler as a second function.
    const JS_V3_BODY: &str = r#"{
      "url": "http://localhost:3000/api/inngest",
      "deployType": "ping",
      "framework": "express",
      "appName": "my-app",
      "functions": [
        {
          "id": "my-app-create-user",
          "name": "Create user",
          "triggers": [{"event": "clerk/user.created"}],
          "steps": {"step": {"id": "step", "name": "step",
            "runtime": {"type": "http", "url": "http://localhost:3000/api/inngest?fnId=my-app-create-user&stepId=step"},
            "retries": {"attempts": 3}}},
          "concurrency": {"limit": 5, "key": "event.data.id"}
        },
        {
          "id": "my-app-create-user-failure",
          "name": "Create user (failure)",
          "triggers": [{"event": "inngest/function.failed",
                        "expression": "event.data.function_id == 'my-app-create-user'"}],
          "steps": {"step": {"id": "step", "name": "step",
            "runtime": {"type": "http", "url": "http://localhost:3000/api/inngest?fnId=my-app-create-user-failure&stepId=step"},
            "retries": {"attempts": 1}}}
        },
        {
          "id": "my-app-nightly",
          "name": "my-app-nightly",
          "triggers": [{"cron": "TZ=Europe/Paris 0 3 * * *"}, {"event": "app/report.requested", "expression": "event.data.plan == 'pro'"}],
          "steps": {"step": {"id": "step", "name": "step",
            "runtime": {"type": "http", "url": "http://localhost:3000/api/inngest?fnId=my-app-nightly&stepId=step"}}},
          "cancel": [{"event": "app/report.cancelled", "if": "event.data.id == async.data.id"}],
          "timeouts": {"finish": "1h"}
        }
      ],
      "sdk": "js:v3.44.0",
      "v": "0.1",
      "capabilities": {"trust_probe": "v1", "connect": "v1"},
      "appVersion": "2024.06.01"
    }"#;

    /// The shape inngest-py sends (`SynchronizeRequest.to_dict`): `appname`, `deploy_type`, and
    /// every unset setting as an explicit null.
    const PY_BODY: &str = r#"{
      "appname": "py-app",
      "capabilities": {"in_band_sync": "v1", "trust_probe": "v1"},
      "deploy_type": "ping",
      "framework": "fast_api",
      "functions": [{
        "batchEvents": null, "cancel": null, "concurrency": null, "debounce": null,
        "id": "py-app-send-welcome", "idempotency": null, "name": "Send welcome",
        "priority": null, "rateLimit": null,
        "steps": {"step": {"id": "step", "name": "step", "retries": null,
          "runtime": {"type": "http", "url": "http://127.0.0.1:8000/api/inngest?fnId=py-app-send-welcome&stepId=step"}}},
        "throttle": {"key": null, "limit": 10, "period": "1m", "burst": 1},
        "timeouts": null, "singleton": null,
        "triggers": [{"event": "app/user.created", "expression": null}]
      }],
      "sdk": "py:v0.5.9",
      "url": "http://127.0.0.1:8000/api/inngest",
      "v": "0.1"
    }"#;

    /// inngest-js v4 sends the same function shape; settings are flattened the same way.
    const JS_V4_BODY: &str = r#"{"url":"http://localhost:3000/api/inngest","deployType":"ping",
      "framework":"nextjs","appName":"shop","sdk":"js:v4.1.0","v":"0.1",
      "functions":[{"id":"shop-order-paid","name":"Order paid","triggers":[{"event":"shop/order.paid","expression":"event.data.total > 100 && has(event.data.customer)"}],
        "steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://localhost:3000/api/inngest?fnId=shop-order-paid&stepId=step"},"retries":{"attempts":20}}},
        "singleton":{"key":"event.data.customer","mode":"skip"},"idempotency":"event.data.orderId"}]}"#;

    fn body_with_function(function: &str) -> String {
        format!(
            r#"{{"url":"http://x/api/inngest","appName":"app","sdk":"js:v3.0.0","functions":[{function}]}}"#
        )
    }

    fn function_error(function: &str) -> (String, String, String) {
        match AppSync::parse(&body_with_function(function)) {
            Err(Error::Function {
                function,
                field,
                message,
            }) => (function, field, message),
            other => panic!("expected a function error, got {other:?}"),
        }
    }

    const STEP: &str = r#""steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x/api/inngest?fnId=app-f&stepId=step"}}}"#;

    #[test]
    fn parses_js_v3_body() {
        let app = AppSync::parse(JS_V3_BODY).unwrap();
        assert_eq!(app.app_name, "my-app");
        assert_eq!(app.url, "http://localhost:3000/api/inngest");
        assert_eq!(app.framework.as_deref(), Some("express"));
        assert_eq!(app.sdk, "js:v3.44.0");
        assert_eq!(app.app_version.as_deref(), Some("2024.06.01"));
        assert_eq!(app.deploy_type.as_deref(), Some("ping"));
        assert!(app.capabilities.is_some());
        assert_eq!(app.functions.len(), 3);

        let f = &app.functions[0];
        assert_eq!(f.id, "my-app-create-user");
        assert_eq!(f.slug, "create-user");
        assert_eq!(f.name, "Create user");
        assert_eq!(
            f.triggers,
            [Trigger::Event {
                name: "clerk/user.created".into(),
                expression: None
            }]
        );
        assert_eq!(
            f.url,
            "http://localhost:3000/api/inngest?fnId=my-app-create-user&stepId=step"
        );
        assert_eq!(f.retries, 3);
        assert_eq!(f.max_attempts(), 4);
        assert_eq!(f.unenforced, ["concurrency"]);
        assert_eq!(f.config["concurrency"]["limit"], 5);

        let failure = app.function("my-app-create-user-failure").unwrap();
        assert_eq!(failure.slug, "create-user-failure");
        assert_eq!(failure.retries, 1);
        assert_eq!(
            failure.triggers,
            [Trigger::Event {
                name: "inngest/function.failed".into(),
                expression: Some("event.data.function_id == 'my-app-create-user'".into()),
            }]
        );
        assert!(failure.unenforced.is_empty());

        let nightly = app.function("my-app-nightly").unwrap();
        assert_eq!(nightly.retries, DEFAULT_RETRIES);
        assert_eq!(
            nightly.triggers[0],
            Trigger::Cron {
                spec: "TZ=Europe/Paris 0 3 * * *".into()
            }
        );
        assert_eq!(nightly.unenforced, ["cancel", "timeouts"]);
    }

    #[test]
    fn parses_python_body_with_nulls() {
        let app = AppSync::parse(PY_BODY).unwrap();
        assert_eq!(app.app_name, "py-app");
        assert_eq!(app.deploy_type.as_deref(), Some("ping"));
        assert_eq!(app.sdk, "py:v0.5.9");
        assert_eq!(app.app_version, None);
        let f = &app.functions[0];
        assert_eq!(f.slug, "send-welcome");
        assert_eq!(f.retries, DEFAULT_RETRIES, "null retries means the default");
        assert_eq!(
            f.triggers,
            [Trigger::Event {
                name: "app/user.created".into(),
                expression: None
            }]
        );
        assert_eq!(f.unenforced, ["throttle"], "nulls are not settings");
    }

    #[test]
    fn parses_js_v4_body() {
        let app = AppSync::parse(JS_V4_BODY).unwrap();
        let f = &app.functions[0];
        assert_eq!(f.slug, "order-paid");
        assert_eq!(f.retries, MAX_RETRIES);
        assert_eq!(f.unenforced, ["singleton", "idempotency"]);
        assert_eq!(app.app_version, None);
        assert_eq!(app.framework.as_deref(), Some("nextjs"));
    }

    #[test]
    fn app_with_no_functions_is_valid() {
        let app = AppSync::parse(r#"{"url":"http://x","appName":"a","functions":[]}"#).unwrap();
        assert!(app.functions.is_empty());
        assert_eq!(app.sdk, "unknown");
    }

    #[test]
    fn body_errors() {
        assert!(matches!(AppSync::parse("{"), Err(Error::InvalidJson(_))));
        assert!(matches!(AppSync::parse("[]"), Err(Error::Body(_))));
        let err = AppSync::parse(r#"{"url":"http://x","functions":[]}"#).unwrap_err();
        assert_eq!(err.to_string(), "register body: appName is missing");
        let err = AppSync::parse(r#"{"appName":"a","functions":[]}"#).unwrap_err();
        assert_eq!(err.to_string(), "register body: url is missing");
        let err = AppSync::parse(r#"{"appName":"","url":"http://x"}"#).unwrap_err();
        assert!(
            err.to_string().contains("appName must not be empty"),
            "{err}"
        );
        let err = AppSync::parse(r#"{"appName":"a","url":"http://x","functions":{}}"#).unwrap_err();
        assert!(err.to_string().contains("functions"), "{err}");
    }

    #[test]
    fn function_errors_name_the_function_and_field() {
        let (f, field, msg) = function_error(&format!(
            r#"{{"id":"app-f","triggers":[{{"cron":"61 * * * *"}}],{STEP}}}"#
        ));
        assert_eq!((f.as_str(), field.as_str()), ("app-f", "triggers[0].cron"));
        assert!(msg.contains("61 * * * *"), "{msg}");

        let (_, field, msg) = function_error(&format!(
            r#"{{"id":"app-f","triggers":[{{"event":"a"}},{{"event":"b","expression":"event.data.x =="}}],{STEP}}}"#
        ));
        assert_eq!(field, "triggers[1].expression");
        assert!(msg.contains("invalid expression"), "{msg}");

        let (_, field, msg) = function_error(&format!(
            r#"{{"id":"app-f","triggers":[{{"event":"a","expression":"async.data.x == 1"}}],{STEP}}}"#
        ));
        assert_eq!(field, "triggers[0].expression");
        assert!(msg.contains("`async`"), "{msg}");

        let (_, field, _) = function_error(&format!(
            r#"{{"id":"app-f","triggers":[{{"event":"a","cron":"* * * * *"}}],{STEP}}}"#
        ));
        assert_eq!(field, "triggers[0]");

        let (_, field, _) =
            function_error(&format!(r#"{{"id":"app-f","triggers":[{{}}],{STEP}}}"#));
        assert_eq!(field, "triggers[0]");

        let (_, field, _) = function_error(&format!(
            r#"{{"id":"app-f","triggers":[{{"event":""}}],{STEP}}}"#
        ));
        assert_eq!(field, "triggers[0].event");

        let (f, field, _) = function_error(
            r#"{"id":"app-f","triggers":[],"steps":{"step":{"runtime":{"type":"http"}}}}"#,
        );
        assert_eq!(
            (f.as_str(), field.as_str()),
            ("app-f", "steps.step.runtime.url")
        );

        let (_, _, msg) = function_error(
            r#"{"id":"app-f","triggers":[],"steps":{"step":{"runtime":{"type":"ws"}}}}"#,
        );
        assert!(msg.contains("WebSocket"), "{msg}");

        let (_, field, _) = function_error(r#"{"id":"app-f","triggers":[]}"#);
        assert_eq!(field, "steps.step");

        let retries = |n: &str| {
            function_error(&format!(
                r#"{{"id":"app-f","steps":{{"step":{{"runtime":{{"url":"http://x"}},"retries":{{"attempts":{n}}}}}}}}}"#
            ))
        };
        let (_, field, msg) = retries("21");
        assert_eq!(field, "steps.step.retries.attempts");
        assert!(msg.contains("20"), "{msg}");
        assert_eq!(retries("-1").1, "steps.step.retries.attempts");
        assert_eq!(retries("2.5").1, "steps.step.retries.attempts");

        let (f, field, _) = function_error(r#"{"name":"no id"}"#);
        assert_eq!((f.as_str(), field.as_str()), ("#0", "id"));

        let dup = format!(
            r#"{{"url":"http://x","appName":"app","functions":[{{"id":"app-f",{STEP}}},{{"id":"app-f",{STEP}}}]}}"#
        );
        let err = AppSync::parse(&dup).unwrap_err();
        assert!(
            matches!(&err, Error::Function { function, field, .. } if function == "app-f" && field == "id"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("function \"app-f\": id:"),
            "{err}"
        );
    }

    #[test]
    fn slug_falls_back_to_the_id() {
        let app = AppSync::parse(&body_with_function(&format!(
            r#"{{"id":"other-f",{STEP}}}"#
        )))
        .unwrap();
        assert_eq!(app.functions[0].slug, "other-f");
        assert_eq!(app.functions[0].name, "other-f");
        assert!(
            app.functions[0].triggers.is_empty(),
            "invoke-only functions are allowed"
        );
    }

    #[test]
    fn set_hash_ignores_order_and_null_spelling() {
        let a = AppSync::parse(&format!(
            r#"{{"url":"http://x","appName":"app","functions":[
                {{"id":"app-a","name":"A","triggers":[{{"event":"e"}}],{STEP}}},
                {{"id":"app-b","triggers":[{{"cron":"0 * * * *"}}],{STEP},"concurrency":null}}]}}"#
        ))
        .unwrap();
        let reordered = AppSync::parse(&format!(
            r#"{{"appName":"app","url":"http://x","functions":[
                {{{STEP},"triggers":[{{"cron":"0 * * * *"}}],"id":"app-b"}},
                {{"triggers":[{{"event":"e","expression":null}}],"name":"A",{STEP},"id":"app-a"}}]}}"#
        ))
        .unwrap();
        let hash = function_set_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_eq!(function_set_hash(&reordered), hash);
        assert_eq!(function_set_hash(&a.clone()), hash);

        let changed = |from: &str, to: &str| {
            let body = format!(
                r#"{{"url":"http://x","appName":"app","functions":[
                    {{"id":"app-a","name":"A","triggers":[{{"event":"e"}}],{STEP}}},
                    {{"id":"app-b","triggers":[{{"cron":"0 * * * *"}}],{STEP},"concurrency":null}}]}}"#
            )
            .replacen(from, to, 1);
            function_set_hash(&AppSync::parse(&body).unwrap())
        };
        assert_eq!(changed("\"A\"", "\"A\""), hash);
        assert_ne!(changed("\"A\"", "\"A2\""), hash);
        assert_ne!(changed("{\"event\":\"e\"}", "{\"event\":\"e2\"}"), hash);
        assert_ne!(
            changed(
                "{\"event\":\"e\"}",
                "{\"event\":\"e\",\"expression\":\"event.data.x == 1\"}"
            ),
            hash
        );
        assert_ne!(changed("0 * * * *", "5 * * * *"), hash);
        assert_ne!(changed("\"concurrency\":null", "\"concurrency\":3"), hash);
        assert_ne!(
            changed(
                "\"name\":\"step\"",
                "\"name\":\"step\",\"retries\":{\"attempts\":2}"
            ),
            hash
        );
        assert_ne!(changed("http://x/api", "http://y/api"), hash);
        let fewer = AppSync::parse(&format!(
            r#"{{"url":"http://x","appName":"app","functions":[{{"id":"app-a","name":"A","triggers":[{{"event":"e"}}],{STEP}}}]}}"#
        ))
        .unwrap();
        assert_ne!(function_set_hash(&fewer), hash);
    }
}
