//! The transitions behind [`super::apply`]. See the parent module for the rules.

use serde_json::value::RawValue;

use super::clock;
use super::prepare::{prepare, raw, state_too_large, wrap, wrap_error, Prepared};
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

        let prepared = match prepare(self.state, self.now_ms, &ops, attempt, no_retry) {
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
