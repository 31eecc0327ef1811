//! Table tests for the run state machine: feed inputs, compare the actions, described as short
//! strings so a failing case reads like a transcript.

use serde_json::value::RawValue;

use super::*;
use crate::opcode;

const NOW: i64 = 1_000_000;
/// With jitter 0.5 the backoff is exactly the base delay: 10 s after attempt 0, 20 s after 1.
const JITTER: f64 = 0.5;

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

fn ops(body: &str) -> Outcome {
    Outcome::Ops {
        ops: opcode::parse(body).unwrap(),
        no_retry: false,
        retry_after_ms: None,
    }
}

fn step(id: &str) -> Work {
    Work::Step {
        step_id: id.into(),
        name: id.into(),
    }
}

fn discovered(attempt: u32, outcome: Outcome) -> Input {
    Input::CallResult {
        work: Work::Discovery,
        attempt,
        outcome,
        request_version: None,
    }
}

fn discovered_v(version: i32, outcome: Outcome) -> Input {
    Input::CallResult {
        work: Work::Discovery,
        attempt: 0,
        outcome,
        request_version: Some(version),
    }
}

fn ran(work: Work, attempt: u32, outcome: Outcome) -> Input {
    Input::CallResult {
        work,
        attempt,
        outcome,
        request_version: None,
    }
}

fn error(status: u16, message: &str) -> Outcome {
    Outcome::Error {
        status,
        error: ErrorBody::new("Error", message),
        no_retry: false,
        retry_after_ms: None,
    }
}

fn describe(action: &Action) -> String {
    match action {
        Action::SetRequestVersion { version } => format!("version {version}"),
        Action::SetImmediateExecution { disabled } => {
            format!("immediate {}", if *disabled { "off" } else { "on" })
        }
        Action::Memoize { step_id, memo } => format!("memo {step_id} {}", memo.get()),
        Action::Record(r) => {
            let who = r.step_id.as_deref().unwrap_or("-");
            let kind = format!("{:?}", r.kind).to_lowercase();
            let result = match &r.result {
                AttemptResult::Ok { output } => format!("ok {}", output.get()),
                AttemptResult::Err { error, retry_at_ms } => match retry_at_ms {
                    Some(at) => format!("err {error} retry@{}", at - NOW),
                    None => format!("err {error} final"),
                },
            };
            format!("record {who} {kind}#{} {result}", r.attempt)
        }
        Action::Enqueue {
            work,
            attempt,
            at_ms,
        } => match work {
            Work::Discovery => format!("enqueue discovery#{attempt} @{}", at_ms - NOW),
            Work::Step { step_id, .. } => {
                format!("enqueue step {step_id}#{attempt} @{}", at_ms - NOW)
            }
        },
        Action::Sleep {
            step_id,
            wake_at_ms,
            ..
        } => format!("sleep {step_id} @{}", wake_at_ms - NOW),
        Action::WaitForEvent {
            step_id,
            event_name,
            if_expr,
            timeout_at_ms,
            ..
        } => format!(
            "wait {step_id} for {event_name} if {} @{}",
            if_expr.as_deref().unwrap_or("-"),
            timeout_at_ms - NOW
        ),
        Action::Invoke {
            step_id,
            function_id,
            payload,
            correlation_id,
            timeout_at_ms,
            ..
        } => format!(
            "invoke {step_id} {function_id} {} corr {correlation_id} @{}",
            payload.get(),
            timeout_at_ms - NOW
        ),
        Action::Complete { output } => format!("complete {}", output.get()),
        Action::Fail { error } => format!("fail {error}"),
        Action::Cancelled => "cancelled".to_owned(),
    }
}

struct Case {
    name: &'static str,
    max_attempts: u32,
    setup: fn(&mut RunState),
    steps: Vec<(Input, Vec<&'static str>)>,
}

fn case(name: &'static str, steps: Vec<(Input, Vec<&'static str>)>) -> Case {
    Case {
        name,
        max_attempts: 3,
        setup: |_| {},
        steps,
    }
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let mut state = RunState::new("run1", c.max_attempts);
        (c.setup)(&mut state);
        for (i, (input, want)) in c.steps.into_iter().enumerate() {
            let got: Vec<String> = apply(&mut state, input, NOW, JITTER)
                .iter()
                .map(describe)
                .collect();
            assert_eq!(got, want, "case {:?}, input #{i}", c.name);
        }
    }
}

#[test]
fn sequential_steps() {
    run(vec![
        case(
            "start once",
            vec![
                (Input::Start, vec!["enqueue discovery#0 @0"]),
                (Input::Start, vec![]),
            ],
        ),
        case(
            "immediate execution, then completion",
            vec![
                (
                    discovered_v(
                        1,
                        ops(
                            r#"[{"op":"StepRun","id":"a","displayName":"insert-user","data":{"id":1}}]"#,
                        ),
                    ),
                    vec![
                        "version 1",
                        r#"record a run#0 ok {"id":1}"#,
                        r#"memo a {"data":{"id":1}}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                (
                    discovered_v(2, ops(r#"[{"op":"StepRun","id":"b"}]"#)),
                    vec![
                        "record b run#0 ok null",
                        r#"memo b {"data":null}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                (
                    discovered(
                        0,
                        Outcome::Complete {
                            output: raw(r#"{"done":true}"#),
                        },
                    ),
                    vec![r#"complete {"done":true}"#],
                ),
                (discovered(0, ops(r#"[{"op":"StepRun","id":"c"}]"#)), vec![]),
                (Input::Cancel, vec![]),
            ],
        ),
        case(
            "planned step runs in its own call",
            vec![
                (
                    discovered(
                        0,
                        ops(r#"[{"op":"StepPlanned","id":"a","displayName":"send-email"}]"#),
                    ),
                    vec!["enqueue step a#0 @0"],
                ),
                (
                    ran(
                        step("a"),
                        0,
                        ops(r#"[{"op":"StepRun","id":"a","data":"sent"}]"#),
                    ),
                    vec![
                        r#"record a run#0 ok "sent""#,
                        r#"memo a {"data":"sent"}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                // A repeated answer for a step that has its result changes nothing.
                (
                    ran(
                        step("a"),
                        0,
                        ops(r#"[{"op":"StepRun","id":"a","data":"again"}]"#),
                    ),
                    vec![],
                ),
                (ran(step("a"), 1, error(500, "late")), vec![]),
            ],
        ),
        case(
            "legacy Step memoizes data as sent",
            vec![(
                discovered(0, ops(r#"[{"op":"Step","id":"a","data":{"data":5}}]"#)),
                vec![
                    r#"record a run#0 ok {"data":5}"#,
                    r#"memo a {"data":5}"#,
                    "enqueue discovery#0 @0",
                ],
            )],
        ),
        case(
            "a step reported twice in one response is taken once",
            vec![(
                discovered(
                    0,
                    ops(
                        r#"[{"op":"StepRun","id":"a","data":1},{"op":"StepRun","id":"a","data":2}]"#,
                    ),
                ),
                vec![
                    "immediate off",
                    "record a run#0 ok 1",
                    r#"memo a {"data":1}"#,
                    "enqueue discovery#0 @0",
                ],
            )],
        ),
        case(
            "RunComplete inside a 206 and DiscoveryRequest",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"DiscoveryRequest","id":"x"}]"#)),
                    vec!["enqueue discovery#0 @0"],
                ),
                (
                    discovered(
                        0,
                        ops(
                            r#"[{"op":"StepRun","id":"a","data":1},{"op":"RunComplete","id":"c","data":"ok"}]"#,
                        ),
                    ),
                    vec![
                        "immediate off",
                        "record a run#0 ok 1",
                        r#"memo a {"data":1}"#,
                        r#"complete "ok""#,
                    ],
                ),
            ],
        ),
        case(
            "request version is taken from the first answer only",
            vec![
                (
                    discovered_v(2, ops(r#"[{"op":"StepPlanned","id":"a"}]"#)),
                    vec!["version 2", "enqueue step a#0 @0"],
                ),
                (
                    Input::CallResult {
                        work: step("a"),
                        attempt: 0,
                        outcome: ops(r#"[{"op":"StepRun","id":"a","data":1}]"#),
                        request_version: Some(1),
                    },
                    vec![
                        "record a run#0 ok 1",
                        r#"memo a {"data":1}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
            ],
        ),
    ]);
}

#[test]
fn step_errors_and_retries() {
    run(vec![
        case(
            "StepError retries the step with backoff, then succeeds",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"StepError","id":"a","error":{"name":"DbError","message":"down"}}]"#)),
                    vec!["record a run#0 err DbError: down retry@10000", "enqueue step a#1 @10000"],
                ),
                (
                    ran(step("a"), 1, ops(r#"[{"op":"StepError","id":"a","error":{"name":"DbError","message":"still down"}}]"#)),
                    vec!["record a run#1 err DbError: still down retry@20000", "enqueue step a#2 @20000"],
                ),
                (
                    ran(step("a"), 2, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
                    vec!["record a run#2 ok 1", r#"memo a {"data":1}"#, "enqueue discovery#0 @0"],
                ),
            ],
        ),
        case(
            "StepError with Retry-After",
            vec![(
                discovered(0, Outcome::Ops {
                    ops: opcode::parse(r#"[{"op":"StepError","id":"a","error":{"message":"rate limited"}}]"#).unwrap(),
                    no_retry: false,
                    retry_after_ms: Some(90_000),
                }),
                vec!["record a run#0 err Error: rate limited retry@90000", "enqueue step a#1 @90000"],
            )],
        ),
        case(
            "StepError with X-Inngest-No-Retry is final",
            vec![(
                discovered(0, Outcome::Ops {
                    ops: opcode::parse(r#"[{"op":"StepError","id":"a","error":{"name":"NonRetriableError","message":"bad input"}}]"#).unwrap(),
                    no_retry: true,
                    retry_after_ms: None,
                }),
                vec![
                    "record a run#0 err NonRetriableError: bad input final",
                    r#"memo a {"error":{"name":"NonRetriableError","message":"bad input"}}"#,
                    "enqueue discovery#0 @0",
                ],
            )],
        ),
        case(
            "StepError on the last attempt is treated as StepFailed",
            vec![(
                ran(step("a"), 2, ops(r#"[{"op":"StepError","id":"a","error":{"name":"E","message":"m"}}]"#)),
                vec!["record a run#2 err E: m final", r#"memo a {"error":{"name":"E","message":"m"}}"#, "enqueue discovery#0 @0"],
            )],
        ),
        case(
            "StepFailed memoizes the error for user code to catch",
            vec![(
                ran(step("a"), 2, ops(r#"[{"op":"StepFailed","id":"a","error":{"name":"E","message":"m","stack":"s"}}]"#)),
                vec![
                    "record a run#2 err E: m final",
                    r#"memo a {"error":{"name":"E","message":"m","stack":"s"}}"#,
                    "enqueue discovery#0 @0",
                ],
            )],
        ),
    ]);
}

#[test]
fn function_level_errors() {
    run(vec![
        case(
            "500 retries the same work until attempts run out",
            vec![
                (discovered(0, error(500, "boom")), vec!["record - function#0 err Error: boom retry@10000", "enqueue discovery#1 @10000"]),
                (discovered(1, error(500, "boom")), vec!["record - function#1 err Error: boom retry@20000", "enqueue discovery#2 @20000"]),
                (discovered(2, error(500, "boom")), vec!["record - function#2 err Error: boom final", "fail Error: boom"]),
                (discovered(0, error(500, "after the end")), vec![]),
            ],
        ),
        case(
            "No-Retry fails at once",
            vec![(
                discovered(0, Outcome::Error {
                    status: 400,
                    error: ErrorBody::new("NonRetriableError", "no"),
                    no_retry: true,
                    retry_after_ms: None,
                }),
                vec!["record - function#0 err NonRetriableError: no final", "fail NonRetriableError: no"],
            )],
        ),
        case(
            "Retry-After is honoured and clamped",
            vec![
                (
                    discovered(0, Outcome::Error {
                        status: 500,
                        error: ErrorBody::new("RetryAfterError", "later"),
                        no_retry: false,
                        retry_after_ms: Some(200),
                    }),
                    vec!["record - function#0 err RetryAfterError: later retry@1000", "enqueue discovery#1 @1000"],
                ),
                (
                    discovered(1, Outcome::Error {
                        status: 500,
                        error: ErrorBody::new("RetryAfterError", "later"),
                        no_retry: false,
                        retry_after_ms: Some(7 * 86_400_000),
                    }),
                    vec!["record - function#1 err RetryAfterError: later retry@86400000", "enqueue discovery#2 @86400000"],
                ),
            ],
        ),
        case(
            "an error while running a planned step retries that step's call",
            vec![
                (discovered(0, ops(r#"[{"op":"StepPlanned","id":"a"}]"#)), vec!["enqueue step a#0 @0"]),
                (
                    ran(step("a"), 0, Outcome::Transport { message: "could not connect to your app: connection refused".into() }),
                    vec![
                        "record a run#0 err AppUnreachable: could not connect to your app: connection refused retry@10000",
                        "enqueue step a#1 @10000",
                    ],
                ),
            ],
        ),
        case(
            "a non-SDK answer says so",
            vec![(
                discovered(2, Outcome::NotSdk { status: 404, body_prefix: "<html>Not Found".into() }),
                vec![
                    "record - function#2 err NotAnInngestSdk: your app answered, but not with an Inngest SDK (HTTP 404): <html>Not Found final",
                    "fail NotAnInngestSdk: your app answered, but not with an Inngest SDK (HTTP 404): <html>Not Found",
                ],
            )],
        ),
        case(
            "an unreadable 206 is retried",
            vec![(
                discovered(0, Outcome::Invalid { message: "opcode #0: StepPlanned has no \"id\"".into() }),
                vec![
                    "record - function#0 err InvalidSdkResponse: opcode #0: StepPlanned has no \"id\" retry@10000",
                    "enqueue discovery#1 @10000",
                ],
            )],
        ),
        case(
            "an empty 206 with nothing in flight cannot progress",
            vec![(
                discovered(0, ops("[]")),
                vec![
                    "record - function#0 err NoProgress: the SDK reported no steps and no result, and nothing is in flight retry@10000",
                    "enqueue discovery#1 @10000",
                ],
            )],
        ),
        case(
            "StepNotFound is retried as a function error",
            vec![(
                ran(step("a"), 0, ops(r#"[{"op":"StepNotFound","id":"a"}]"#)),
                vec![
                    "record a run#0 err StepNotFound: the SDK could not find step \"a\"; the function's code may have changed since the step was planned retry@10000",
                    "enqueue step a#1 @10000",
                ],
            )],
        ),
        Case {
            name: "max_attempts 1 means no retries",
            max_attempts: 1,
            setup: |_| {},
            steps: vec![(discovered(0, error(500, "x")), vec!["record - function#0 err Error: x final", "fail Error: x"])],
        },
    ]);
}

#[test]
fn sleeps_waits_and_invokes() {
    run(vec![
        case(
            "sleep from name (JS) and resume",
            vec![
                (discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"1h30m","displayName":"nap"}]"#)), vec!["sleep s @5400000"]),
                (
                    Input::SleepElapsed { step_id: "s".into() },
                    vec!["record s sleep#0 ok null", "memo s null", "enqueue discovery#0 @0"],
                ),
                (Input::SleepElapsed { step_id: "s".into() }, vec![]),
            ],
        ),
        case(
            "sleep from opts.duration (spec) and ISO date (sleepUntil)",
            vec![
                (discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"nap","opts":{"duration":"10s"}}]"#)), vec!["sleep s @10000"]),
                (
                    discovered(0, ops(r#"[{"op":"Sleep","id":"t","name":"1970-01-01T00:16:50.000Z"}]"#)),
                    vec!["sleep t @10000"],
                ),
            ],
        ),
        case(
            "sleep over a year fails the run",
            vec![(
                discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"400d"}]"#)),
                vec!["fail InvalidSleep: sleep \"400d\": \"400d\" is too far in the future: sleeps and waits are limited to one year"],
            )],
        ),
        case(
            "wait for event with if, resolved by an event",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"WaitForEvent","id":"w","name":"app/paid","opts":{"timeout":"1d","if":"event.data.id == async.data.id"}}]"#)),
                    vec!["wait w for app/paid if event.data.id == async.data.id @86400000"],
                ),
                (
                    Input::WaitResolved { step_id: "w".into(), event: Some(raw(r#"{"name":"app/paid","data":{"id":1}}"#)) },
                    vec![
                        r#"record w waitforevent#0 ok {"name":"app/paid","data":{"id":1}}"#,
                        r#"memo w {"name":"app/paid","data":{"id":1}}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                // The timeout firing after the match is stale.
                (Input::WaitResolved { step_id: "w".into(), event: None }, vec![]),
            ],
        ),
        case(
            "wait with match and spec opts.event, timing out",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"WaitForEvent","id":"w","opts":{"event":"app/x","timeout":"2h","match":"data.user"}}]"#)),
                    vec!["wait w for app/x if event.data.user == async.data.user @7200000"],
                ),
                (
                    Input::WaitResolved { step_id: "w".into(), event: None },
                    vec!["record w waitforevent#0 ok null", "memo w null", "enqueue discovery#0 @0"],
                ),
            ],
        ),
        case(
            "wait without a name fails",
            vec![(
                discovered(0, ops(r#"[{"op":"WaitForEvent","id":"w","opts":{"timeout":"1d"}}]"#)),
                vec!["fail InvalidWaitForEvent: waitForEvent \"w\" names no event to wait for"],
            )],
        ),
        case(
            "invoke and finish with data",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"InvokeFunction","id":"i","opts":{"function_id":"app-child","payload":{"data":{"n":1}},"timeout":"1h"}}]"#)),
                    vec![r#"invoke i app-child {"data":{"n":1}} corr run1.i @3600000"#],
                ),
                (
                    Input::InvokeFinished { step_id: "i".into(), result: Ok(raw(r#"{"sum":2}"#)) },
                    vec![r#"record i invoke#0 ok {"data":{"sum":2}}"#, r#"memo i {"data":{"sum":2}}"#, "enqueue discovery#0 @0"],
                ),
            ],
        ),
        case(
            "invoke finishing with an error, default payload and timeout",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"InvokeFunction","id":"i","opts":{"function_id":"app-child"}}]"#)),
                    vec![r#"invoke i app-child {"data":{}} corr run1.i @31622400000"#],
                ),
                (
                    Input::InvokeFinished { step_id: "i".into(), result: Err(ErrorBody::from_json(r#"{"name":"Error","message":"child failed"}"#)) },
                    vec![
                        "record i invoke#0 err Error: child failed final",
                        r#"memo i {"error":{"name":"Error","message":"child failed"}}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
            ],
        ),
        case(
            "invoke timing out",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"InvokeFunction","id":"i","opts":{"function_id":"app-child","timeout":"1m"}}]"#)),
                    vec![r#"invoke i app-child {"data":{}} corr run1.i @60000"#],
                ),
                (
                    Input::InvokeTimedOut { step_id: "i".into() },
                    vec![
                        "record i invoke#0 err InngestInvokeTimeoutError: Timed out waiting for invoked function to complete final",
                        r#"memo i {"error":{"name":"InngestInvokeTimeoutError","message":"Timed out waiting for invoked function to complete"}}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                (Input::InvokeFinished { step_id: "i".into(), result: Ok(raw("1")) }, vec![]),
            ],
        ),
        case(
            "invoke without a function id fails",
            vec![(
                discovered(0, ops(r#"[{"op":"InvokeFunction","id":"i","opts":{}}]"#)),
                vec!["fail InvalidInvoke: invoke \"i\" names no function_id to invoke"],
            )],
        ),
        case(
            "resolutions of the wrong kind are ignored",
            vec![
                (discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"1s"}]"#)), vec!["sleep s @1000"]),
                (Input::WaitResolved { step_id: "s".into(), event: None }, vec![]),
                (Input::InvokeTimedOut { step_id: "s".into() }, vec![]),
                (Input::SleepElapsed { step_id: "nope".into() }, vec![]),
            ],
        ),
    ]);
}

#[test]
fn parallel_version_2_calls_discovery_once() {
    run(vec![
        case(
            "two planned steps",
            vec![
                (
                    discovered_v(
                        2,
                        ops(r#"[{"op":"StepPlanned","id":"a"},{"op":"StepPlanned","id":"b"}]"#),
                    ),
                    vec![
                        "version 2",
                        "immediate off",
                        "enqueue step a#0 @0",
                        "enqueue step b#0 @0",
                    ],
                ),
                (
                    ran(step("b"), 0, ops(r#"[{"op":"StepRun","id":"b","data":2}]"#)),
                    vec!["record b run#0 ok 2", r#"memo b {"data":2}"#],
                ),
                (
                    ran(
                        step("a"),
                        0,
                        ops(r#"[{"op":"StepError","id":"a","error":{"message":"x"}}]"#),
                    ),
                    vec![
                        "record a run#0 err Error: x retry@10000",
                        "enqueue step a#1 @10000",
                    ],
                ),
                (
                    ran(step("a"), 1, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
                    vec![
                        "immediate on",
                        "record a run#1 ok 1",
                        r#"memo a {"data":1}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
            ],
        ),
        case(
            "a sleep and a wait in one batch; the wait is registered first",
            vec![
                (
                    discovered_v(
                        2,
                        ops(
                            r#"[{"op":"Sleep","id":"s","name":"1m"},{"op":"WaitForEvent","id":"w","name":"e","opts":{"timeout":"1h"}},{"op":"StepPlanned","id":"p"}]"#,
                        ),
                    ),
                    vec![
                        "version 2",
                        "immediate off",
                        "wait w for e if - @3600000",
                        "sleep s @60000",
                        "enqueue step p#0 @0",
                    ],
                ),
                (
                    Input::SleepElapsed {
                        step_id: "s".into(),
                    },
                    vec!["record s sleep#0 ok null", "memo s null"],
                ),
                (
                    ran(
                        step("p"),
                        0,
                        ops(r#"[{"op":"StepFailed","id":"p","error":{"message":"no"}}]"#),
                    ),
                    vec![
                        "record p run#0 err Error: no final",
                        r#"memo p {"error":{"message":"no"}}"#,
                    ],
                ),
                (
                    Input::WaitResolved {
                        step_id: "w".into(),
                        event: None,
                    },
                    vec![
                        "immediate on",
                        "record w waitforevent#0 ok null",
                        "memo w null",
                        "enqueue discovery#0 @0",
                    ],
                ),
            ],
        ),
        case(
            "race mode calls discovery after each resolution",
            vec![
                (
                    discovered_v(
                        2,
                        ops(
                            r#"[{"op":"StepPlanned","id":"a","opts":{"parallelMode":"race"}},{"op":"StepPlanned","id":"b","opts":{"parallelMode":"race"}}]"#,
                        ),
                    ),
                    vec![
                        "version 2",
                        "immediate off",
                        "enqueue step a#0 @0",
                        "enqueue step b#0 @0",
                    ],
                ),
                (
                    ran(step("a"), 0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
                    vec![
                        "record a run#0 ok 1",
                        r#"memo a {"data":1}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
                (
                    ran(step("b"), 0, ops(r#"[{"op":"StepRun","id":"b","data":2}]"#)),
                    vec![
                        "immediate on",
                        "record b run#0 ok 2",
                        r#"memo b {"data":2}"#,
                        "enqueue discovery#0 @0",
                    ],
                ),
            ],
        ),
        case(
            "a step run inline alongside planned ones is part of the batch",
            vec![(
                discovered_v(
                    2,
                    ops(r#"[{"op":"StepRun","id":"a","data":1},{"op":"StepPlanned","id":"b"}]"#),
                ),
                vec![
                    "version 2",
                    "immediate off",
                    "record a run#0 ok 1",
                    r#"memo a {"data":1}"#,
                    "enqueue step b#0 @0",
                ],
            )],
        ),
    ]);
}

#[test]
fn parallel_version_1_calls_discovery_after_each_step() {
    run(vec![case(
        "two planned steps, siblings re-reported",
        vec![
            (
                discovered_v(
                    1,
                    ops(r#"[{"op":"StepPlanned","id":"a"},{"op":"StepPlanned","id":"b"}]"#),
                ),
                vec![
                    "version 1",
                    "immediate off",
                    "enqueue step a#0 @0",
                    "enqueue step b#0 @0",
                ],
            ),
            (
                ran(step("a"), 0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
                vec![
                    "record a run#0 ok 1",
                    r#"memo a {"data":1}"#,
                    "enqueue discovery#0 @0",
                ],
            ),
            // Discovery sees b still unresolved and plans it again: a duplicate, dropped.
            (
                discovered(0, ops(r#"[{"op":"StepPlanned","id":"b"}]"#)),
                vec![],
            ),
            (discovered(0, ops("[]")), vec![]),
            (
                ran(step("b"), 0, ops(r#"[{"op":"StepRun","id":"b","data":2}]"#)),
                vec![
                    "record b run#0 ok 2",
                    r#"memo b {"data":2}"#,
                    "enqueue discovery#0 @0",
                ],
            ),
            // Immediate execution stays off for version 1.
            (
                discovered(0, ops(r#"[{"op":"StepPlanned","id":"c"}]"#)),
                vec!["enqueue step c#0 @0"],
            ),
        ],
    )]);
}

#[test]
fn unsupported_opcodes_fail_the_run_atomically() {
    for (op, feature) in [
        ("Gateway", "step.fetch"),
        ("AIGateway", "step.ai.infer"),
        ("WaitForSignal", "step.waitForSignal"),
        ("DeferAdd", "deferred runs"),
        ("DeferAbort", "deferred runs"),
        ("Teleport", "this opcode"),
    ] {
        let mut state = RunState::new("run1", 3);
        let body = format!(
            r#"[{{"op":"StepRun","id":"a","data":1}},{{"op":"{op}","id":"g","displayName":"call-api"}}]"#
        );
        let got: Vec<String> = apply(&mut state, discovered(0, ops(&body)), NOW, JITTER)
            .iter()
            .map(describe)
            .collect();
        assert_eq!(
            got,
            vec![format!(
                "fail UnsupportedOpcode: the SDK sent opcode {op} for step \"call-api\" ({feature}), which is not supported by Sluice"
            )],
            "{op}"
        );
        assert!(
            state.steps.is_empty(),
            "nothing from a failed response is kept"
        );
        assert_eq!(state.status, Status::Failed);
    }
}

#[test]
fn limits() {
    run(vec![
        Case {
            name: "step output too large",
            max_attempts: 3,
            setup: |s| s.limits.max_step_output_bytes = 8,
            steps: vec![(
                discovered(0, ops(r#"[{"op":"StepRun","id":"a","displayName":"big","data":"0123456789"}]"#)),
                vec!["fail StepOutputTooLarge: step \"big\" returned 12 bytes of output; a step's output is limited to 8 bytes"],
            )],
        },
        Case {
            name: "run state too large",
            max_attempts: 3,
            setup: |s| s.limits.max_state_bytes = 20,
            steps: vec![
                (discovered(0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)), vec!["record a run#0 ok 1", r#"memo a {"data":1}"#, "enqueue discovery#0 @0"]),
                (
                    discovered(0, ops(r#"[{"op":"StepRun","id":"b","data":12345}]"#)),
                    vec!["fail StateTooLarge: the run's step results would total 24 bytes; a run's state is limited to 20 bytes"],
                ),
            ],
        },
        Case {
            name: "event too large for the state",
            max_attempts: 3,
            setup: |s| s.limits.max_state_bytes = 10,
            steps: vec![
                (discovered(0, ops(r#"[{"op":"WaitForEvent","id":"w","name":"e","opts":{"timeout":"1s"}}]"#)), vec!["wait w for e if - @1000"]),
                (
                    Input::WaitResolved { step_id: "w".into(), event: Some(raw(r#"{"name":"e","data":{}}"#)) },
                    vec!["fail StateTooLarge: the run's step results would total 22 bytes; a run's state is limited to 10 bytes"],
                ),
            ],
        },
        Case {
            name: "step count",
            max_attempts: 3,
            setup: |s| s.limits.max_steps = 2,
            steps: vec![
                (discovered(0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)), vec!["record a run#0 ok 1", r#"memo a {"data":1}"#, "enqueue discovery#0 @0"]),
                (
                    discovered(0, ops(r#"[{"op":"StepPlanned","id":"b"},{"op":"StepPlanned","id":"c"}]"#)),
                    vec!["fail StepLimitExceeded: the run exceeded the step limit of 2 steps"],
                ),
            ],
        },
    ]);
}

#[test]
fn cancel_is_terminal() {
    run(vec![case(
        "cancel while sleeping",
        vec![
            (
                discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"1h"}]"#)),
                vec!["sleep s @3600000"],
            ),
            (Input::Cancel, vec!["cancelled"]),
            (
                Input::SleepElapsed {
                    step_id: "s".into(),
                },
                vec![],
            ),
            (Input::Cancel, vec![]),
            (Input::Start, vec![]),
        ],
    )]);
}

#[test]
fn state_tracks_stack_and_sizes() {
    let mut state = RunState::new("run1", 3);
    apply(
        &mut state,
        discovered(0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
        NOW,
        JITTER,
    );
    apply(
        &mut state,
        discovered(0, ops(r#"[{"op":"Sleep","id":"s","name":"1s"}]"#)),
        NOW,
        JITTER,
    );
    assert_eq!(
        state.pending.get("s").map(|p| p.waiting),
        Some(Waiting::Sleep)
    );
    apply(
        &mut state,
        Input::SleepElapsed {
            step_id: "s".into(),
        },
        NOW,
        JITTER,
    );
    assert_eq!(state.stack, vec!["a", "s"]);
    assert_eq!(state.state_bytes, r#"{"data":1}"#.len() + "null".len());
    assert!(state.pending.is_empty());

    // The state survives a round trip through JSON, as a store might keep it.
    let text = serde_json::to_string(&state).unwrap();
    let back: RunState = serde_json::from_str(&text).unwrap();
    assert_eq!(back.stack, state.stack);
    assert_eq!(back.steps["a"].get(), r#"{"data":1}"#);
}

#[test]
fn work_serializes_for_the_queue() {
    let text = serde_json::to_string(&step("abc")).unwrap();
    assert_eq!(text, r#"{"kind":"step","step_id":"abc","name":"abc"}"#);
    assert_eq!(
        serde_json::to_string(&Work::Discovery).unwrap(),
        r#"{"kind":"discovery"}"#
    );
    assert_eq!(Work::Discovery.step_param(), "step");
    assert_eq!(step("abc").step_param(), "abc");
}
