//! Reading a 206 response into what it will do, before anything changes.
//!
//! Every opcode is checked (supported, within the limits, with a readable duration, event name or
//! function id) and turned into a [`Prepared`] item, so that a response is applied entirely or,
//! when one opcode is unacceptable, not at all.

use std::collections::BTreeSet;

use serde_json::value::RawValue;

use super::clock::{self, MAX_SLEEP_MS};
use super::{ErrorBody, Opcode, RunState};
use crate::opcode::Op;

/// One opcode, validated and with everything computed, ready to apply without failing.
pub(super) enum Prepared {
    Ran {
        id: String,
        name: String,
        memo: Box<RawValue>,
        output: Box<RawValue>,
    },
    Plan {
        id: String,
        name: String,
        race: bool,
    },
    Retry {
        id: String,
        name: String,
        race: bool,
        error: ErrorBody,
    },
    Failed {
        id: String,
        name: String,
        error: ErrorBody,
    },
    Sleep {
        id: String,
        name: String,
        race: bool,
        wake_at_ms: i64,
    },
    Wait {
        id: String,
        name: String,
        race: bool,
        event_name: String,
        if_expr: Option<String>,
        timeout_at_ms: i64,
    },
    Invoke {
        id: String,
        name: String,
        race: bool,
        function_id: String,
        payload: Box<RawValue>,
        timeout_at_ms: i64,
    },
    Complete {
        output: Box<RawValue>,
    },
    Discover,
}

/// Validates every opcode of a response and computes what it will do, before anything
/// changes, so a response is applied entirely or (on error) not at all.
pub(super) fn prepare(
    state: &RunState,
    now_ms: i64,
    ops: &[Opcode],
    attempt: u32,
    no_retry: bool,
) -> Result<Vec<Prepared>, ErrorBody> {
    let limits = &state.limits;
    let mut seen = BTreeSet::new();
    let mut new_ids = 0usize;
    let mut new_bytes = 0usize;
    let mut out = Vec::with_capacity(ops.len());

    for op in ops {
        if let Some(error) = unsupported(op) {
            return Err(error);
        }
        let id = op.id.clone();
        let name = op.label().to_owned();
        let race = op.is_race();
        if matches!(op.op, Op::RunComplete | Op::SyncRunComplete) {
            out.push(Prepared::Complete {
                output: op.data.clone().unwrap_or_else(|| raw("null")),
            });
            continue;
        }
        if op.op == Op::DiscoveryRequest {
            out.push(Prepared::Discover);
            continue;
        }
        // Already resolved, already in flight, or repeated in this response: nothing to do.
        // Version 1 SDKs re-report siblings still in flight after each resolution.
        if state.steps.contains_key(&id) || !seen.insert(id.clone()) {
            continue;
        }
        let in_flight = state.pending.contains_key(&id);
        if in_flight
            && matches!(
                op.op,
                Op::StepPlanned | Op::Sleep | Op::WaitForEvent | Op::InvokeFunction
            )
        {
            continue;
        }
        if !in_flight {
            new_ids += 1;
            if state.steps.len() + state.pending.len() + new_ids > limits.max_steps {
                return Err(ErrorBody::new(
                    "StepLimitExceeded",
                    format!(
                        "the run exceeded the step limit of {} steps",
                        limits.max_steps
                    ),
                ));
            }
        }

        let item = match op.op {
            Op::StepRun | Op::Step => {
                let output = op.data.clone().unwrap_or_else(|| raw("null"));
                if output.get().len() > limits.max_step_output_bytes {
                    return Err(ErrorBody::new(
                        "StepOutputTooLarge",
                        format!(
                            "step {name:?} returned {} of output; a step's output is limited \
                             to {}",
                            bytes(output.get().len()),
                            bytes(limits.max_step_output_bytes)
                        ),
                    ));
                }
                let memo = if op.op == Op::Step && op.data.is_some() {
                    output.clone()
                } else {
                    wrap("data", &output)
                };
                new_bytes += memo.get().len();
                Prepared::Ran {
                    id,
                    name,
                    memo,
                    output,
                }
            }
            Op::StepPlanned => Prepared::Plan { id, name, race },
            Op::StepError | Op::StepFailed => {
                let error = op
                    .error
                    .clone()
                    .unwrap_or_else(|| ErrorBody::new("Error", "Step execution error"));
                let last = op.op == Op::StepFailed || no_retry || attempt + 1 >= state.max_attempts;
                if last {
                    new_bytes += wrap_error(&error).get().len();
                    Prepared::Failed { id, name, error }
                } else {
                    Prepared::Retry {
                        id,
                        name,
                        race,
                        error,
                    }
                }
            }
            Op::Sleep => {
                let target = op.sleep_target().ok_or_else(|| {
                    ErrorBody::new(
                        "InvalidSleep",
                        format!("sleep {name:?} gives no duration or date"),
                    )
                })?;
                let wake_at_ms = clock::parse_sleep_target(&target, now_ms)
                    .map_err(|e| ErrorBody::new("InvalidSleep", format!("sleep {name:?}: {e}")))?;
                Prepared::Sleep {
                    id,
                    name,
                    race,
                    wake_at_ms,
                }
            }
            Op::WaitForEvent => {
                let event_name = op.wait_event_name().ok_or_else(|| {
                    ErrorBody::new(
                        "InvalidWaitForEvent",
                        format!("waitForEvent {name:?} names no event to wait for"),
                    )
                })?;
                // An absent timeout expires at once, as in the Go server (the JS SDK sends an
                // empty timeout for a negative duration).
                let timeout_at_ms = match op.opt_str("timeout").filter(|t| !t.is_empty()) {
                    None => now_ms,
                    Some(t) => clock::parse_sleep_target(&t, now_ms).map_err(|e| {
                        ErrorBody::new(
                            "InvalidWaitForEvent",
                            format!("waitForEvent {name:?} timeout: {e}"),
                        )
                    })?,
                };
                let if_expr = op.opt_str("if").filter(|e| !e.is_empty()).or_else(|| {
                    op.opt_str("match")
                        .filter(|m| !m.is_empty())
                        .map(|m| format!("event.{m} == async.{m}"))
                });
                Prepared::Wait {
                    id,
                    name,
                    race,
                    event_name,
                    if_expr,
                    timeout_at_ms,
                }
            }
            Op::InvokeFunction => {
                let function_id = op
                    .opt_str("function_id")
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| {
                        ErrorBody::new(
                            "InvalidInvoke",
                            format!("invoke {name:?} names no function_id to invoke"),
                        )
                    })?;
                let payload = op
                    .opt_raw("payload")
                    .unwrap_or_else(|| raw(r#"{"data":{}}"#));
                // No timeout means "as long as a wait may last".
                let timeout_at_ms = match op.opt_str("timeout").filter(|t| !t.is_empty()) {
                    None => now_ms + MAX_SLEEP_MS,
                    Some(t) => clock::parse_sleep_target(&t, now_ms).map_err(|e| {
                        ErrorBody::new("InvalidInvoke", format!("invoke {name:?} timeout: {e}"))
                    })?,
                };
                Prepared::Invoke {
                    id,
                    name,
                    race,
                    function_id,
                    payload,
                    timeout_at_ms,
                }
            }
            _ => unreachable!("unsupported and id-less ops are handled above"),
        };
        out.push(item);
    }

    if state.state_bytes + new_bytes > limits.max_state_bytes {
        return Err(state_too_large(
            state.state_bytes + new_bytes,
            limits.max_state_bytes,
        ));
    }
    Ok(out)
}

fn unsupported(op: &Opcode) -> Option<ErrorBody> {
    let feature = match &op.op {
        Op::Gateway => "step.fetch",
        Op::AIGateway => "step.ai.infer",
        Op::WaitForSignal => "step.waitForSignal",
        Op::DeferAdd | Op::DeferAbort => "deferred runs",
        Op::Unknown(_) => "this opcode",
        _ => return None,
    };
    Some(ErrorBody::new(
        "UnsupportedOpcode",
        format!(
            "the SDK sent opcode {} for step {:?} ({feature}), which is not supported by Sluice",
            op.op.as_str(),
            op.label()
        ),
    ))
}

pub(super) fn state_too_large(total: usize, max: usize) -> ErrorBody {
    ErrorBody::new(
        "StateTooLarge",
        format!(
            "the run's step results would total {}; a run's state is limited to {}",
            bytes(total),
            bytes(max)
        ),
    )
}

fn bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && (n / MIB) * MIB == n {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

pub(super) fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("valid JSON literal")
}

pub(super) fn wrap(key: &str, value: &RawValue) -> Box<RawValue> {
    raw(&format!("{{\"{key}\":{}}}", value.get()))
}

pub(super) fn wrap_error(error: &ErrorBody) -> Box<RawValue> {
    raw(&format!("{{\"error\":{}}}", error.to_json()))
}
