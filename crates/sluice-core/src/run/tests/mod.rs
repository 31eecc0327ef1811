//! Table tests for the run state machine: feed inputs, compare the actions, described as short
//! strings so a failing case reads like a transcript.
//!
//! `steps` covers single steps, retries, errors, limits and cancellation; `parallel` covers sleeps,
//! waits, invokes and parallel batches.

use serde_json::value::RawValue;

use super::*;
use crate::opcode;

mod parallel;
mod steps;

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
