//! Single steps, retries, function-level errors, unsupported opcodes, limits, cancellation.

use super::*;

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
            "a 206 repeating only finished steps cannot progress either",
            vec![
                (
                    discovered(0, ops(r#"[{"op":"StepRun","id":"a","data":1}]"#)),
                    vec!["record a run#0 ok 1", r#"memo a {"data":1}"#, "enqueue discovery#0 @0"],
                ),
                (
                    discovered(0, ops(r#"[{"op":"StepPlanned","id":"a"}]"#)),
                    vec![
                        "record - function#0 err NoProgress: the SDK reported only steps that already have results, and nothing is in flight retry@10000",
                        "enqueue discovery#1 @10000",
                    ],
                ),
            ],
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
