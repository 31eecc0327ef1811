//! User JavaScript transforms, in the shape Inngest Cloud uses:
//!
//! ```js
//! function transform(evt, headers = {}, queryParams = {}, raw = "") {
//!   return { name: `clerk/${evt.type}`, data: evt.data /*, id, ts */ };
//! }
//! ```
//!
//! The function may also return an array of such objects (or an empty array to emit nothing).
//! `transform` may be a function declaration or a top-level `const`/`let` binding.
//!
//! **Sandbox.** Each call gets a fresh QuickJS runtime and context holding only the ECMAScript
//! builtins: no `require`, `fetch`, `std`, `os`, timers, modules or host functions exist, so a
//! transform cannot reach the file system, the network or another source's state. The runtime has
//! a memory limit, a stack limit and a CPU-time limit (with a wall-clock backstop) enforced by
//! QuickJS's interrupt hook,
//! which throws an uncatchable error once the deadline passes (so `try { while(true){} }` still
//! ends). A fresh runtime costs well under a millisecond, and isolation between sources is worth
//! more than reusing one.
//!
//! **Memory.** Exhausting the limit is reported as [`TransformError::Memory`]. QuickJS throws
//! `null` when it cannot even allocate its "out of memory" error, so a transform that itself
//! throws `null` is reported as a memory failure too.
//!
//! **Numbers.** `evt` is built with `JSON.parse` and `data` comes back through `JSON.stringify`,
//! so integers beyond 2^53 lose precision and `NaN`/`Infinity` become `null`. This is inherent to
//! JavaScript; a source that needs big integers exactly should use a preset, which copies bytes.
//! `raw` carries the exact body text for transforms that need it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, FromJs, Object, Runtime, Value};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{body, headers, EventDraft};

/// Resource limits for one transform call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wall-clock budget for evaluating the source and running `transform`.
    pub time_ms: u64,
    /// Heap limit of the whole QuickJS runtime, builtins included (about 200 KiB of it).
    pub memory_bytes: usize,
    /// Largest native stack the interpreter may use; bounds deep recursion.
    pub stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_ms: 50,
            memory_bytes: 16 * 1024 * 1024,
            stack_bytes: 512 * 1024,
        }
    }
}

/// Why a transform produced no events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// Syntax error, an exception while evaluating the top level, or no `transform` function.
    #[error("transform does not compile: {message}")]
    Compile { message: String },
    /// `transform` threw (or evaluation hit the stack limit).
    #[error("transform threw: {message}")]
    Threw {
        message: String,
        stack: Option<String>,
    },
    #[error("transform exceeded its time limit of {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    #[error("transform exceeded its memory limit")]
    Memory,
    /// The returned value was not an event or array of events at all.
    #[error("transform returned {0}; expected {{name, data}} or an array of them")]
    InvalidReturn(String),
    /// One returned event is malformed; `index` is its position (0 for a single object).
    #[error("transform returned an invalid event at index {index}: {reason}")]
    InvalidEvent { index: usize, reason: String },
    /// The engine itself failed in an unexpected way.
    #[error("transform engine error: {0}")]
    Engine(String),
}

/// Checks that `source` parses, evaluates and defines a `transform` function, for saving config.
pub fn compile_check(source: &str) -> Result<(), TransformError> {
    sandboxed(source, &Limits::default(), |_, _, _| Ok(()))
}

/// Runs the transform in `source` and converts what it returns into events.
///
/// - `evt_json`: the parsed body as JSON text (form bodies as their arrays object);
/// - `headers`: passed to JS with canonical names (`Svix-Id`); repeated headers are joined
///   with `", "`;
/// - `query_string`: the URL query without `?`, passed as `{key: [values]}`;
/// - `raw`: the body as text.
///
/// Returned events keep only `name`, `data`, `id` and `ts`; other keys are ignored.
pub fn run<N, V>(
    source: &str,
    evt_json: &str,
    headers: &[(N, V)],
    query_string: &str,
    raw: &str,
    limits: &Limits,
) -> Result<Vec<EventDraft>, TransformError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let query = body::parse_query(query_string.as_bytes()).to_string();
    let headers = joined_headers(headers);
    sandboxed(source, limits, |ctx, sandbox, transform| {
        let js = |e| sandbox.error(ctx, e);
        let evt = ctx.json_parse(evt_json).map_err(js)?;
        let headers_js = Object::new(ctx.clone()).map_err(js)?;
        for (name, value) in headers {
            headers_js.set(name, value).map_err(js)?;
        }
        let query = ctx.json_parse(query).map_err(js)?;
        let raw = rquickjs::String::from_str(ctx.clone(), raw).map_err(js)?;
        let returned: Value = transform.call((evt, headers_js, query, raw)).map_err(js)?;
        events(ctx, sandbox, returned)
    })
}

/// The state shared with the interrupt handler, used to tell a timeout from other failures.
struct Sandbox {
    fired: Arc<AtomicBool>,
    limit_ms: u64,
}

impl Sandbox {
    /// Classifies an engine error. Once the deadline has fired no JS is run again (the interrupt
    /// handler would stop it anyway).
    fn error(&self, ctx: &Ctx<'_>, err: rquickjs::Error) -> TransformError {
        let thrown = matches!(err, rquickjs::Error::Exception).then(|| ctx.catch());
        if self.fired.load(Ordering::Relaxed) {
            return TransformError::Timeout {
                limit_ms: self.limit_ms,
            };
        }
        match (err, thrown) {
            (rquickjs::Error::Allocation, _) => TransformError::Memory,
            (_, Some(thrown)) => describe_thrown(ctx, thrown),
            (err, None) => TransformError::Engine(err.to_string()),
        }
    }

    /// As [`Sandbox::error`], but an exception while loading the source is a compile error.
    fn compile_error(&self, ctx: &Ctx<'_>, err: rquickjs::Error) -> TransformError {
        match self.error(ctx, err) {
            TransformError::Threw { message, stack } => {
                let at = stack
                    .as_deref()
                    .and_then(|s| s.lines().map(str::trim).find(|l| !l.is_empty()))
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                TransformError::Compile {
                    message: format!("{message}{at}"),
                }
            }
            other => other,
        }
    }
}

/// Evaluates `source` in a fresh, limited runtime, finds `transform`, and hands it to `f`.
fn sandboxed<T, F>(source: &str, limits: &Limits, f: F) -> Result<T, TransformError>
where
    F: for<'js> FnOnce(&Ctx<'js>, &Sandbox, rquickjs::Function<'js>) -> Result<T, TransformError>,
{
    let engine = |e: rquickjs::Error| match e {
        rquickjs::Error::Allocation => TransformError::Memory,
        e => TransformError::Engine(e.to_string()),
    };
    let rt = Runtime::new().map_err(engine)?;
    rt.set_memory_limit(limits.memory_bytes);
    rt.set_max_stack_size(limits.stack_bytes);
    let sandbox = Sandbox {
        fired: Arc::new(AtomicBool::new(false)),
        limit_ms: limits.time_ms,
    };
    // The limit is CPU time of this thread, so a transform is not failed because the machine is
    // busy; wall-clock time is only a backstop, at 20 times the limit, for anything that blocks.
    let limit = Duration::from_millis(limits.time_ms);
    let cpu_start = cpu_time::ThreadTime::try_now().ok();
    let backstop = Instant::now() + limit.saturating_mul(20).max(Duration::from_secs(1));
    let fired = Arc::clone(&sandbox.fired);
    rt.set_interrupt_handler(Some(Box::new(move || {
        let cpu_over = cpu_start
            .as_ref()
            .and_then(|t| t.try_elapsed().ok())
            .is_some_and(|used| used >= limit);
        let over = cpu_over || Instant::now() >= backstop;
        if over {
            fired.store(true, Ordering::Relaxed);
        }
        over
    })));
    let context = Context::full(&rt).map_err(engine)?;
    context.with(|ctx| {
        let mut options = EvalOptions::default();
        // Sloppy mode, like a plain browser script, so copied transforms behave as they did.
        options.strict = false;
        options.filename = Some("transform.js".into());
        ctx.eval_with_options::<(), _>(source, options)
            .map_err(|e| sandbox.compile_error(&ctx, e))?;
        // Evaluated as an expression so `const transform = ...` (not a global property) works.
        let found: Value = ctx
            .eval("typeof transform === 'function' ? transform : undefined")
            .map_err(|e| sandbox.compile_error(&ctx, e))?;
        let Some(transform) = found.into_function() else {
            return Err(TransformError::Compile {
                message: "the source does not define a function named `transform`".into(),
            });
        };
        f(&ctx, &sandbox, transform)
    })
}

fn describe_thrown<'js>(ctx: &Ctx<'js>, thrown: Value<'js>) -> TransformError {
    if let Some(exception) = thrown.as_exception() {
        let message = exception.message().unwrap_or_default();
        let name: Option<String> = exception.get("name").ok();
        if name.as_deref() == Some("InternalError") && message == "out of memory" {
            return TransformError::Memory;
        }
        let message = match name {
            Some(name) if !name.is_empty() => format!("{name}: {message}"),
            _ => message,
        };
        let stack = exception.stack().filter(|s| !s.trim().is_empty());
        return TransformError::Threw { message, stack };
    }
    // QuickJS signals running out of memory by throwing `null` when even the "out of memory"
    // error cannot be allocated. A transform that throws `null` itself is indistinguishable and
    // is reported the same way.
    if thrown.is_null() {
        return TransformError::Memory;
    }
    // `throw "text"` or `throw {..}`: describe the value the way `String(v)` would.
    let message = rquickjs::convert::Coerced::<String>::from_js(ctx, thrown)
        .map(|c| c.0)
        .unwrap_or_else(|_| "a value that cannot be shown".into());
    TransformError::Threw {
        message,
        stack: None,
    }
}

fn events<'js>(
    ctx: &Ctx<'js>,
    sandbox: &Sandbox,
    returned: Value<'js>,
) -> Result<Vec<EventDraft>, TransformError> {
    if returned.is_promise() {
        return Err(TransformError::InvalidReturn(
            "a Promise (transforms must be synchronous)".into(),
        ));
    }
    if returned.is_undefined() || returned.is_null() {
        return Err(TransformError::InvalidReturn(format!(
            "{} (missing return?)",
            returned.type_name()
        )));
    }
    if let Some(array) = returned.as_array() {
        let mut out = Vec::with_capacity(array.len());
        for (index, item) in array.iter::<Value>().enumerate() {
            let item = item.map_err(|e| sandbox.error(ctx, e))?;
            out.push(draft(ctx, sandbox, index, item)?);
        }
        return Ok(out);
    }
    if !returned.is_object() || returned.is_function() {
        return Err(TransformError::InvalidReturn(format!(
            "a {}",
            returned.type_name()
        )));
    }
    Ok(vec![draft(ctx, sandbox, 0, returned)?])
}

fn draft<'js>(
    ctx: &Ctx<'js>,
    sandbox: &Sandbox,
    index: usize,
    value: Value<'js>,
) -> Result<EventDraft, TransformError> {
    let invalid = |reason: &str| TransformError::InvalidEvent {
        index,
        reason: reason.to_owned(),
    };
    let js = |e| sandbox.error(ctx, e);
    let object = match value.as_object() {
        Some(o) if !value.is_array() && !value.is_function() => o,
        _ => {
            return Err(invalid(&format!(
                "expected an object {{name, data}}, got {}",
                value.type_name()
            )))
        }
    };

    let name: Value = object.get("name").map_err(js)?;
    let name = match name.as_string() {
        Some(s) => s.to_string().map_err(js)?,
        None => return Err(invalid("`name` must be a string")),
    };
    if name.trim().is_empty() {
        return Err(invalid("`name` is empty"));
    }

    let data: Value = object.get("data").map_err(js)?;
    let data = if data.is_undefined() || data.is_null() {
        "{}".to_owned()
    } else if data.is_object() && !data.is_array() && !data.is_function() {
        let text = ctx
            .json_stringify(data)
            .map_err(|e| match sandbox.error(ctx, e) {
                TransformError::Threw { message, .. } => {
                    invalid(&format!("`data` cannot be serialised to JSON: {message}"))
                }
                other => other,
            })?;
        match text {
            // A `toJSON` method can turn an object into something else.
            Some(text) => Some(text.to_string().map_err(js)?)
                .filter(|t| t.starts_with('{'))
                .ok_or_else(|| invalid("`data` must serialise to a JSON object"))?,
            None => return Err(invalid("`data` serialises to nothing")),
        }
    } else {
        return Err(invalid("`data` must be an object"));
    };
    let data = RawValue::from_string(data).map_err(|e| TransformError::Engine(e.to_string()))?;

    let id: Value = object.get("id").map_err(js)?;
    let id = if id.is_undefined() || id.is_null() {
        None
    } else if let Some(s) = id.as_string() {
        Some(s.to_string().map_err(js)?).filter(|s| !s.is_empty())
    } else {
        return Err(invalid("`id` must be a string"));
    };

    let ts: Value = object.get("ts").map_err(js)?;
    let ts = if ts.is_undefined() || ts.is_null() {
        None
    } else {
        match ts.as_number() {
            Some(n) if n.is_finite() => Some(n.trunc() as i64),
            _ => return Err(invalid("`ts` must be a number of milliseconds")),
        }
    };

    Ok(EventDraft { name, data, id, ts })
}

/// Headers with canonical names, repeated names joined with `", "` in first-seen order.
fn joined_headers<N, V>(headers: &[(N, V)]) -> Vec<(String, String)>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = headers::canonical_name(name.as_ref());
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value.as_ref());
            }
            None => out.push((name, value.as_ref().to_owned())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLERK: &str = r#"{"data":{"id":"user_1","public_metadata":{}},"object":"event","type":"user.created","timestamp":1654012591835}"#;
    const NO_HEADERS: &[(&str, &str)] = &[];

    fn run_simple(source: &str, evt: &str) -> Result<Vec<EventDraft>, TransformError> {
        run(source, evt, NO_HEADERS, "", evt, &Limits::default())
    }

    #[test]
    fn inngest_clerk_transform() {
        let source = r#"
            function transform(evt, headers = {}, queryParams = {}, raw = "") {
              return { name: `clerk/${evt.type}`, data: evt.data, ts: evt.timestamp };
            }"#;
        let events = run_simple(source, CLERK).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "clerk/user.created");
        assert_eq!(
            events[0].data.get(),
            r#"{"id":"user_1","public_metadata":{}}"#
        );
        assert_eq!(events[0].ts, Some(1_654_012_591_835));
        assert_eq!(events[0].id, None);
    }

    #[test]
    fn arguments_have_the_inngest_shapes() {
        let source = r#"
            const transform = (evt, headers, query, raw) => ({
              name: "t/args",
              id: headers["Svix-Id"],
              data: {
                ct: headers["Content-Type"],
                multi: headers["X-Multi"],
                lower: headers["svix-id"] === undefined,
                q: query,
                raw,
                rawIsString: typeof raw === "string",
              },
            });"#;
        let headers = [
            ("svix-id", "msg_1"),
            ("content-type", "application/json"),
            ("x-multi", "a"),
            ("X-MULTI", "b"),
        ];
        let events = run(
            source,
            "{}",
            &headers,
            "a=1&a=2&b=x",
            "{ }",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(events[0].id.as_deref(), Some("msg_1"));
        let data: serde_json::Value = serde_json::from_str(events[0].data.get()).unwrap();
        assert_eq!(
            data,
            serde_json::json!({
                "ct": "application/json",
                "multi": "a, b",
                "lower": true,
                "q": {"a": ["1", "2"], "b": ["x"]},
                "raw": "{ }",
                "rawIsString": true,
            })
        );
    }

    #[test]
    fn array_return_and_empty_array() {
        let source = r#"function transform(evt) {
            return evt.items.map((it, i) => ({ name: "item/seen", data: it, id: "i" + i, ts: 5.9 }));
        }"#;
        let events = run_simple(source, r#"{"items":[{"a":1},{"b":2}]}"#).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].data.get(), r#"{"b":2}"#);
        assert_eq!(events[1].id.as_deref(), Some("i1"));
        assert_eq!(events[1].ts, Some(5));
        assert!(run_simple(source, r#"{"items":[]}"#).unwrap().is_empty());
        // Missing data becomes an empty object.
        let events = run_simple("function transform(){ return {name:'x'} }", "{}").unwrap();
        assert_eq!(events[0].data.get(), "{}");
    }

    #[test]
    fn throws_are_reported_with_stack() {
        let err = run_simple(
            "function transform(evt) {\n  throw new Error('nope: ' + evt.type);\n}",
            CLERK,
        )
        .unwrap_err();
        match err {
            TransformError::Threw { message, stack } => {
                assert_eq!(message, "Error: nope: user.created");
                let stack = stack.expect("an Error carries a stack");
                assert!(stack.contains("transform.js"), "{stack}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = run_simple("function transform() { throw 'plain' }", "{}").unwrap_err();
        assert_eq!(
            err,
            TransformError::Threw {
                message: "plain".into(),
                stack: None
            }
        );
    }

    #[test]
    fn infinite_loop_times_out() {
        let limits = Limits {
            time_ms: 50,
            ..Limits::default()
        };
        for source in [
            "function transform() { while (true) {} }",
            "function transform() { try { while (true) {} } catch (e) {} return {name:'x'} }",
            "while (true) {}",
            // Catastrophic regex backtracking is interrupted too.
            "function transform() { /(a+)+$/.test('a'.repeat(40) + 'b') }",
        ] {
            let started = Instant::now();
            let err = run(source, "{}", NO_HEADERS, "", "", &limits).unwrap_err();
            let took = started.elapsed();
            assert_eq!(err, TransformError::Timeout { limit_ms: 50 }, "{source}");
            assert!(took < Duration::from_secs(2), "{source} took {took:?}");
        }
    }

    #[test]
    fn huge_allocations_hit_the_memory_limit() {
        for source in [
            "function transform() { const a = []; while (true) a.push(new Array(100000).fill(1)); }",
            "function transform() { return {name: 'x', data: {s: 'x'.repeat(1 << 29)}} }",
            "function transform() { const o = {}; for (let i = 0; ; i++) o['k' + i] = i; }",
        ] {
            let limits = Limits {
                time_ms: 5_000,
                ..Limits::default()
            };
            let err = run(source, "{}", NO_HEADERS, "", "", &limits).unwrap_err();
            assert_eq!(err, TransformError::Memory, "{source}");
        }
    }

    #[test]
    fn deep_recursion_is_stopped() {
        let err = run_simple(
            "function f(n){ return f(n+1)+1 } function transform(){ f(0) }",
            "{}",
        )
        .unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. }), "{err:?}");
    }

    #[test]
    fn no_host_capabilities() {
        let source = r#"function transform() {
            return { name: "caps", data: {
              require: typeof require, fetch: typeof fetch, std: typeof std, os: typeof os,
              process: typeof process, setTimeout: typeof setTimeout, XMLHttpRequest: typeof XMLHttpRequest,
              Deno: typeof Deno, Bun: typeof Bun, scriptArgs: typeof scriptArgs, print: typeof print,
              JSON: typeof JSON, Date: typeof Date,
            } };
        }"#;
        let events = run_simple(source, "{}").unwrap();
        let data: serde_json::Value = serde_json::from_str(events[0].data.get()).unwrap();
        for (name, kind) in data.as_object().unwrap() {
            let expected = match name.as_str() {
                "JSON" => "object",
                "Date" => "function",
                _ => "undefined",
            };
            assert_eq!(kind, expected, "typeof {name}");
        }
        // Atomics.wait must not block the thread past the deadline.
        let err = run_simple(
            "function transform() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000) }",
            "{}",
        )
        .unwrap_err();
        assert!(matches!(err, TransformError::Threw { .. }), "{err:?}");
        // Dynamic import has no loader to reach.
        let err = run_simple(
            "function transform() { import('os'); return {name:'x'} }",
            "{}",
        );
        assert!(err.is_ok() || matches!(err, Err(TransformError::Threw { .. })));
    }

    #[test]
    fn compile_errors() {
        let err = compile_check("function transform( {").unwrap_err();
        match &err {
            TransformError::Compile { message } => {
                assert!(message.starts_with("SyntaxError"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = compile_check("function handler(evt) { return evt }").unwrap_err();
        assert!(err.to_string().contains("`transform`"), "{err}");
        let err = compile_check("var transform = 5").unwrap_err();
        assert!(matches!(err, TransformError::Compile { .. }));
        let err = compile_check("throw new TypeError('top')").unwrap_err();
        assert!(err.to_string().contains("TypeError: top"), "{err}");
        compile_check("function transform(evt) { return {name: 'a', data: evt} }").unwrap();
        compile_check("let transform = function (evt) { return [] }").unwrap();
    }

    #[test]
    fn invalid_returns_name_the_index() {
        let cases: &[(&str, &str)] = &[
            (
                "return [{name:'ok'}, {data:{}}]",
                "index 1: `name` must be a string",
            ),
            ("return {name: 5}", "index 0: `name` must be a string"),
            ("return {name: ''}", "index 0: `name` is empty"),
            ("return [{name:'a'}, 'x']", "index 1: expected an object"),
            (
                "return {name:'a', data: [1]}",
                "index 0: `data` must be an object",
            ),
            (
                "return {name:'a', data: 'x'}",
                "index 0: `data` must be an object",
            ),
            ("return {name:'a', id: 5}", "index 0: `id` must be a string"),
            (
                "return {name:'a', data: {toJSON() { return 1 }}}",
                "index 0: `data` must serialise to a JSON object",
            ),
            (
                "return {name:'a', ts: 'x'}",
                "index 0: `ts` must be a number",
            ),
            (
                "return {name:'a', data: {n: 1n}}",
                "index 0: `data` cannot be serialised",
            ),
            (
                "const o = {}; o.o = o; return {name:'a', data: o}",
                "index 0: `data` cannot be serialised",
            ),
        ];
        for (body, expected) in cases {
            let source = format!("function transform(evt) {{ {body} }}");
            let err = run_simple(&source, "{}").unwrap_err();
            assert!(
                matches!(err, TransformError::InvalidEvent { .. }),
                "{body}: {err:?}"
            );
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
        for (body, expected) in [
            ("", "undefined"),
            ("return null", "null"),
            ("return 'clerk/x'", "a string"),
            ("return Promise.resolve({name:'a'})", "Promise"),
        ] {
            let source = format!("function transform(evt) {{ {body} }}");
            let err = run_simple(&source, "{}").unwrap_err();
            assert!(
                matches!(err, TransformError::InvalidReturn(_)),
                "{body}: {err:?}"
            );
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
        let async_fn = run_simple("async function transform() { return {name:'a'} }", "{}");
        assert!(matches!(async_fn, Err(TransformError::InvalidReturn(_))));
    }

    #[test]
    fn big_integers_lose_precision_as_documented() {
        let events = run_simple(
            "function transform(evt) { return {name:'n', data: evt} }",
            r#"{"n":12345678901234567890}"#,
        )
        .unwrap();
        assert_ne!(events[0].data.get(), r#"{"n":12345678901234567890}"#);
    }

    #[test]
    fn a_fresh_runtime_per_call_is_cheap_enough() {
        let source =
            "function transform(evt) { return {name: `clerk/${evt.type}`, data: evt.data} }";
        let calls = 50;
        let started = Instant::now();
        for _ in 0..calls {
            run_simple(source, CLERK).unwrap();
        }
        let per_call = started.elapsed() / calls;
        eprintln!("transform: {per_call:?} per call with a fresh runtime");
        // Not a benchmark: only guards against something absurd (debug build, shared CI core).
        assert!(
            per_call < Duration::from_millis(50),
            "{per_call:?} per call"
        );
    }
}
