//! The transitions behind [`super::apply`]. See the parent module for the rules.

use std::collections::BTreeSet;

use serde_json::value::RawValue;

use super::clock::{self, MAX_SLEEP_MS};
use super::{
    Action, AttemptRecord, AttemptResult, ErrorBody, Input, Opcode, Outcome, Pending, RunState,
    Status, StepKind, Waiting, Work,
};
use crate::opcode::Op;

pub(super) fn apply(state: &mut RunState, input: Input, now_ms: i64, jitter: f64) -> Vec<Action> {
    if state.is_terminal() {
        return Vec::new();
    }
    let version_before = state.request_version;
    let disabled_before = state.disable_immediate_execution;
    let mut m = Machine {
        state,
        now_ms,
        jitter,
        out: Vec::new(),
        discover: false,
    };
    m.input(input);
    m.finish(version_before, disabled_before)
}

struct Machine<'a> {
    state: &'a mut RunState,
    now_ms: i64,
    jitter: f64,
    out: Vec<Action>,
    /// Call discovery once this input is handled. Several resolutions in one input still give a
    /// single discovery call.
    discover: bool,
}

/// One opcode, validated and with everything computed, ready to apply without failing.
enum Prepared {
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

impl Machine<'_> {
    fn input(&mut self, input: Input) {
        match input {
            Input::Start => {
                if !self.state.started {
                    self.state.started = true;
                    self.discover = true;
                }
            }
            Input::CallResult {
                work,
                attempt,
                outcome,
                request_version,
            } => self.call_result(work, attempt, outcome, request_version),
            Input::SleepElapsed { step_id } => {
                self.resolve(&step_id, Waiting::Sleep, raw("null"), StepKind::Sleep, None)
            }
            Input::WaitResolved { step_id, event } => {
                let memo = event.unwrap_or_else(|| raw("null"));
                self.resolve(&step_id, Waiting::Event, memo, StepKind::WaitForEvent, None)
            }
            Input::InvokeFinished { step_id, result } => {
                let (memo, error) = match result {
                    Ok(data) => (wrap("data", &data), None),
                    Err(error) => (wrap_error(&error), Some(error)),
                };
                self.resolve(&step_id, Waiting::Invoke, memo, StepKind::Invoke, error)
            }
            Input::InvokeTimedOut { step_id } => {
                // The Go server memoizes this error for a timed-out invoke, and the SDKs throw it
                // from `step.invoke()`.
                let error = ErrorBody::new(
                    "InngestInvokeTimeoutError",
                    "Timed out waiting for invoked function to complete",
                );
                let memo = wrap_error(&error);
                self.resolve(
                    &step_id,
                    Waiting::Invoke,
                    memo,
                    StepKind::Invoke,
                    Some(error),
                )
            }
            Input::Cancel => {
                self.state.status = Status::Cancelled;
                self.out.push(Action::Cancelled);
            }
        }
    }

    fn finish(mut self, version_before: i32, disabled_before: bool) -> Vec<Action> {
        if self.discover && !self.state.is_terminal() {
            // Version 2 plans parallel steps only while a batch is in flight (Go
            // `maybeResetForceStepPlan`); version 1 keeps planning for the rest of the run.
            if self.state.request_version >= 2 && self.state.batch.is_empty() {
                self.state.disable_immediate_execution = false;
            }
            self.out.push(Action::Enqueue {
                work: Work::Discovery,
                attempt: 0,
                at_ms: self.now_ms,
            });
        }
        let mut head = Vec::new();
        if self.state.request_version != version_before {
            head.push(Action::SetRequestVersion {
                version: self.state.request_version,
            });
        }
        if self.state.disable_immediate_execution != disabled_before {
            head.push(Action::SetImmediateExecution {
                disabled: self.state.disable_immediate_execution,
            });
        }
        head.append(&mut self.out);
        head
    }

    fn call_result(&mut self, work: Work, attempt: u32, outcome: Outcome, version: Option<i32>) {
        if let Work::Step { step_id, .. } = &work {
            if self.state.steps.contains_key(step_id) {
                // A late or repeated answer for a step that already has its result.
                return;
            }
        }
        if let Some(v) = version {
            if self.state.request_version < 0 && v >= 0 {
                self.state.request_version = v;
            }
        }
        match outcome {
            Outcome::Complete { output } => self.complete(output),
            Outcome::Ops {
                ops,
                no_retry,
                retry_after_ms,
            } => self.ops(work, attempt, ops, no_retry, retry_after_ms),
            Outcome::Error {
                status: _,
                error,
                no_retry,
                retry_after_ms,
            } => self.function_error(work, attempt, error, no_retry, retry_after_ms),
            Outcome::NotSdk {
                status,
                body_prefix,
            } => {
                let mut message =
                    format!("your app answered, but not with an Inngest SDK (HTTP {status})");
                if !body_prefix.is_empty() {
                    message.push_str(": ");
                    message.push_str(&body_prefix);
                }
                let error = ErrorBody::new("NotAnInngestSdk", message);
                self.function_error(work, attempt, error, false, None)
            }
            Outcome::Transport { message } => {
                let error = ErrorBody::new("AppUnreachable", message);
                self.function_error(work, attempt, error, false, None)
            }
            Outcome::Invalid { message } => {
                let error = ErrorBody::new("InvalidSdkResponse", message);
                self.function_error(work, attempt, error, false, None)
            }
        }
    }

    /// A failure of the queue item as a whole: retry the same work, or give up on the run.
    fn function_error(
        &mut self,
        work: Work,
        attempt: u32,
        error: ErrorBody,
        no_retry: bool,
        retry_after_ms: Option<i64>,
    ) {
        let (step_id, name, kind) = match &work {
            Work::Discovery => (None, None, StepKind::Function),
            Work::Step { step_id, name } => {
                (Some(step_id.clone()), Some(name.clone()), StepKind::Run)
            }
        };
        let last = no_retry || attempt + 1 >= self.state.max_attempts;
        let retry_at_ms = (!last)
            .then(|| self.now_ms + clock::retry_delay_ms(attempt, self.jitter, retry_after_ms));
        self.out.push(Action::Record(AttemptRecord {
            step_id,
            name,
            kind,
            attempt,
            at_ms: self.now_ms,
            result: AttemptResult::Err {
                error: error.clone(),
                retry_at_ms,
            },
        }));
        match retry_at_ms {
            Some(at_ms) => self.out.push(Action::Enqueue {
                work,
                attempt: attempt + 1,
                at_ms,
            }),
            None => self.fail(error),
        }
    }

    fn ops(
        &mut self,
        work: Work,
        attempt: u32,
        ops: Vec<Opcode>,
        no_retry: bool,
        retry_after_ms: Option<i64>,
    ) {
        if ops.is_empty() {
            // The SDK has nothing new to report. That is normal while siblings are in flight;
            // with nothing in flight the run could never move again, so treat it as an error.
            if self.state.pending.is_empty() {
                let error = ErrorBody::new(
                    "NoProgress",
                    "the SDK reported no steps and no result, and nothing is in flight",
                );
                self.function_error(work, attempt, error, false, None);
            }
            return;
        }
        if let Some(op) = ops.iter().find(|op| op.op == Op::StepNotFound) {
            let error = ErrorBody::new(
                "StepNotFound",
                format!(
                    "the SDK could not find step {:?}; the function's code may have changed since \
                     the step was planned",
                    op.label()
                ),
            );
            self.function_error(work, attempt, error, false, None);
            return;
        }

        let prepared = match self.prepare(&ops, attempt, no_retry) {
            Ok(prepared) => prepared,
            Err(error) => return self.fail(error),
        };
        if prepared.is_empty() && self.state.pending.is_empty() {
            // Only steps that already have results: the SDK is replaying state it was given.
            let error = ErrorBody::new(
                "NoProgress",
                "the SDK reported only steps that already have results, and nothing is in flight",
            );
            return self.function_error(work, attempt, error, false, None);
        }

        if ops.len() > 1 {
            self.state.disable_immediate_execution = true;
            let plans = ops.iter().any(|op| {
                matches!(
                    op.op,
                    Op::StepPlanned | Op::Sleep | Op::WaitForEvent | Op::InvokeFunction
                )
            });
            if plans && self.state.request_version >= 2 {
                let ids: Vec<String> = ops
                    .iter()
                    .filter(|op| !op.id.is_empty() && !self.state.steps.contains_key(&op.id))
                    .filter(|op| !matches!(op.op, Op::RunComplete | Op::DiscoveryRequest))
                    .map(|op| op.id.clone())
                    .collect();
                self.state.batch.extend(ids);
            }
        }

        // Waits first: a sibling step may send the very event being waited for.
        let (waits, rest): (Vec<_>, Vec<_>) = prepared
            .into_iter()
            .partition(|p| matches!(p, Prepared::Wait { .. }));
        for item in waits.into_iter().chain(rest) {
            if self.state.is_terminal() {
                break;
            }
            self.execute(item, attempt, retry_after_ms);
        }
    }

    /// Validates every opcode of a response and computes what it will do, before anything
    /// changes, so a response is applied entirely or (on error) not at all.
    fn prepare(
        &self,
        ops: &[Opcode],
        attempt: u32,
        no_retry: bool,
    ) -> Result<Vec<Prepared>, ErrorBody> {
        let limits = &self.state.limits;
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
            if self.state.steps.contains_key(&id) || !seen.insert(id.clone()) {
                continue;
            }
            let in_flight = self.state.pending.contains_key(&id);
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
                if self.state.steps.len() + self.state.pending.len() + new_ids > limits.max_steps {
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
                    let last = op.op == Op::StepFailed
                        || no_retry
                        || attempt + 1 >= self.state.max_attempts;
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
                    let wake_at_ms =
                        clock::parse_sleep_target(&target, self.now_ms).map_err(|e| {
                            ErrorBody::new("InvalidSleep", format!("sleep {name:?}: {e}"))
                        })?;
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
                        None => self.now_ms,
                        Some(t) => clock::parse_sleep_target(&t, self.now_ms).map_err(|e| {
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
                        None => self.now_ms + MAX_SLEEP_MS,
                        Some(t) => clock::parse_sleep_target(&t, self.now_ms).map_err(|e| {
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

        if self.state.state_bytes + new_bytes > limits.max_state_bytes {
            return Err(state_too_large(
                self.state.state_bytes + new_bytes,
                limits.max_state_bytes,
            ));
        }
        Ok(out)
    }

    fn execute(&mut self, item: Prepared, attempt: u32, retry_after_ms: Option<i64>) {
        let now_ms = self.now_ms;
        match item {
            Prepared::Ran {
                id,
                name,
                memo,
                output,
            } => {
                self.record(
                    &id,
                    &name,
                    StepKind::Run,
                    attempt,
                    AttemptResult::Ok { output },
                );
                self.memoize(&id, memo);
            }
            Prepared::Plan { id, name, race } => {
                self.wait_on(&id, &name, Waiting::Call, race);
                self.out.push(Action::Enqueue {
                    work: Work::Step { step_id: id, name },
                    attempt: 0,
                    at_ms: now_ms,
                });
            }
            Prepared::Retry {
                id,
                name,
                race,
                error,
            } => {
                let at_ms = now_ms + clock::retry_delay_ms(attempt, self.jitter, retry_after_ms);
                let result = AttemptResult::Err {
                    error,
                    retry_at_ms: Some(at_ms),
                };
                self.record(&id, &name, StepKind::Run, attempt, result);
                self.wait_on(&id, &name, Waiting::Call, race);
                self.out.push(Action::Enqueue {
                    work: Work::Step { step_id: id, name },
                    attempt: attempt + 1,
                    at_ms,
                });
            }
            Prepared::Failed { id, name, error } => {
                let memo = wrap_error(&error);
                let result = AttemptResult::Err {
                    error,
                    retry_at_ms: None,
                };
                self.record(&id, &name, StepKind::Run, attempt, result);
                self.memoize(&id, memo);
            }
            Prepared::Sleep {
                id,
                name,
                race,
                wake_at_ms,
            } => {
                self.wait_on(&id, &name, Waiting::Sleep, race);
                self.out.push(Action::Sleep {
                    step_id: id,
                    name,
                    wake_at_ms,
                });
            }
            Prepared::Wait {
                id,
                name,
                race,
                event_name,
                if_expr,
                timeout_at_ms,
            } => {
                self.wait_on(&id, &name, Waiting::Event, race);
                self.out.push(Action::WaitForEvent {
                    step_id: id,
                    name,
                    event_name,
                    if_expr,
                    timeout_at_ms,
                });
            }
            Prepared::Invoke {
                id,
                name,
                race,
                function_id,
                payload,
                timeout_at_ms,
            } => {
                self.wait_on(&id, &name, Waiting::Invoke, race);
                let correlation_id = format!("{}.{}", self.state.run_id, id);
                self.out.push(Action::Invoke {
                    step_id: id,
                    name,
                    function_id,
                    payload,
                    correlation_id,
                    timeout_at_ms,
                });
            }
            Prepared::Complete { output } => self.complete(output),
            Prepared::Discover => self.discover = true,
        }
    }

    fn wait_on(&mut self, id: &str, name: &str, waiting: Waiting, race: bool) {
        self.state.pending.insert(
            id.to_owned(),
            Pending {
                waiting,
                name: name.to_owned(),
                race,
            },
        );
    }

    /// A timer, event or invoked run resolved a step the run was waiting on.
    fn resolve(
        &mut self,
        step_id: &str,
        waiting: Waiting,
        memo: Box<RawValue>,
        kind: StepKind,
        error: Option<ErrorBody>,
    ) {
        let Some(pending) = self.state.pending.get(step_id) else {
            return; // stale: already resolved, e.g. the wait matched before its timeout fired
        };
        if pending.waiting != waiting {
            return;
        }
        let name = pending.name.clone();
        let total = self.state.state_bytes + memo.get().len();
        if total > self.state.limits.max_state_bytes {
            return self.fail(state_too_large(total, self.state.limits.max_state_bytes));
        }
        let result = match error {
            Some(error) => AttemptResult::Err {
                error,
                retry_at_ms: None,
            },
            None => AttemptResult::Ok {
                output: memo.clone(),
            },
        };
        self.record(step_id, &name, kind, 0, result);
        self.memoize(step_id, memo);
    }

    /// Stores a step's result and decides whether that calls for discovery.
    fn memoize(&mut self, step_id: &str, memo: Box<RawValue>) {
        let race = self.state.pending.remove(step_id).is_some_and(|p| p.race);
        self.state.batch.remove(step_id);
        self.state.state_bytes += memo.get().len();
        self.state.steps.insert(step_id.to_owned(), memo.clone());
        self.state.stack.push(step_id.to_owned());
        self.out.push(Action::Memoize {
            step_id: step_id.to_owned(),
            memo,
        });
        if self.state.batch.is_empty() || race {
            self.discover = true;
        }
    }

    fn record(
        &mut self,
        id: &str,
        name: &str,
        kind: StepKind,
        attempt: u32,
        result: AttemptResult,
    ) {
        self.out.push(Action::Record(AttemptRecord {
            step_id: Some(id.to_owned()),
            name: Some(name.to_owned()),
            kind,
            attempt,
            at_ms: self.now_ms,
            result,
        }));
    }

    fn complete(&mut self, output: Box<RawValue>) {
        self.state.status = Status::Completed;
        self.out.push(Action::Complete { output });
    }

    fn fail(&mut self, error: ErrorBody) {
        self.state.status = Status::Failed;
        self.out.push(Action::Fail { error });
    }
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

fn state_too_large(total: usize, max: usize) -> ErrorBody {
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

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("valid JSON literal")
}

fn wrap(key: &str, value: &RawValue) -> Box<RawValue> {
    raw(&format!("{{\"{key}\":{}}}", value.get()))
}

fn wrap_error(error: &ErrorBody) -> Box<RawValue> {
    raw(&format!("{{\"error\":{}}}", error.to_json()))
}
