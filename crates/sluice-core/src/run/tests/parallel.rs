//! Sleeps, waits, invokes, and parallel batches under request versions 1 and 2.

use super::*;

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
            "a wait without a timeout expires at once, as in the Go server",
            vec![(
                discovered(0, ops(r#"[{"op":"WaitForEvent","id":"w","name":"e","opts":{"timeout":""}}]"#)),
                vec!["wait w for e if - @0"],
            )],
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
