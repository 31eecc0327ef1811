//! The run state machine: what happens to a function run when something happens to it.
//!
//! Pure: no I/O, no clock, no randomness. The executor loads a [`RunState`], feeds it one
//! [`Input`] with the current time and a jitter sample, persists the returned [`Action`]s together
//! with the mutated state in one transaction, and carries the actions out (enqueue a call, start a
//! timer, register a wait, emit the finished/failed events).
//!
//! ```text
//! pub fn apply(state: &mut RunState, input: Input, now_ms: i64, jitter: f64) -> Vec<Action>
//! ```
//!
//! # Inputs
//! - [`Input::Start`]: the run was created; the first discovery call is enqueued.
//! - [`Input::CallResult`]: a queue item ([`Work`]) was sent to the SDK at `attempt` and this came
//!   back ([`Outcome`], built by the HTTP driver or an in-process driver).
//! - [`Input::SleepElapsed`], [`Input::WaitResolved`], [`Input::InvokeFinished`],
//!   [`Input::InvokeTimedOut`]: a timer, an event match or an invoked run resolved a step.
//! - [`Input::Cancel`].
//!
//! # Rules (Inngest SDK spec, inngest-js `execution/v1.ts`, inngest-py, Go `pkg/execution`)
//! - `StepRun` memoizes `{"data": …}` and pushes the id onto the stack; legacy `Step` memoizes its
//!   `data` as sent. Then discovery is called again.
//! - `StepPlanned` enqueues a call for that step (attempt 0).
//! - `StepError` retries that step at `attempt + 1` after the backoff (or the SDK's
//!   `Retry-After`). With `X-Inngest-No-Retry: true` or no attempts left it is treated as
//!   `StepFailed`, which memoizes `{"error": …}` so user code can catch it, then calls discovery.
//! - `Sleep`, `WaitForEvent`, `InvokeFunction` become timer, wait and invoke actions; when they
//!   resolve the step is memoized (`null`, the event or `null`, `{"data"}` or `{"error"}`).
//! - `RunComplete` or a `200` completes the run. `DiscoveryRequest` calls discovery.
//! - Function-level errors (`4xx`/`5xx`, a non-SDK answer, a transport failure, an unreadable body)
//!   retry the same work at `attempt + 1` until `attempt + 1 >= max_attempts`, then fail the run;
//!   `X-Inngest-No-Retry: true` fails it at once.
//! - Opcodes Sluice does not implement (`Gateway`, `AIGateway`, `WaitForSignal`, `DeferAdd`,
//!   `DeferAbort`, unknown ones) fail the run with an error naming the opcode.
//! - Limits: a step output over 4 MiB, run state over 32 MiB, more than 1,000 steps, or a sleep or
//!   wait over a year fail the run with a message saying which limit.
//!
//! # Parallel steps
//! When one response carries several opcodes (`Promise.all`, `group.parallel`):
//! - `WaitForEvent` opcodes are handled first, so an event sent by a sibling step cannot be missed;
//! - `disable_immediate_execution` is switched on, making the SDK plan every step;
//! - with request version 2 (the SDK reports it in `X-Inngest-Req-Version`; JS v4 and Python use
//!   2, JS v3 uses 1 unless `optimizeParallelism`) the ids of the batch are remembered and
//!   discovery is called once, after the last of them resolved. Version 2 also switches immediate
//!   execution back on at that point (Go `maybeResetForceStepPlan`). Steps with
//!   `opts.parallelMode: "race"` call discovery after each resolution;
//! - with version 1 discovery is called after every resolution; the SDK then re-reports siblings
//!   still in flight, and those duplicates are ignored.
//!
//! A step already memoized is never memoized again, and a result for it is dropped (invariant 2).
//! A run ends in exactly one terminal state; inputs after it produce no actions (invariant 3).
//!
//! Every change to [`RunState`] is also reported as an action, so a store that keeps rows rather
//! than a state blob can follow without diffing.

mod clock;
mod prepare;
mod transition;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use crate::opcode::{ErrorBody, Opcode};

/// Size and count limits, Inngest's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest step output, in bytes of JSON.
    pub max_step_output_bytes: usize,
    /// Largest total of all memoized step results for one run.
    pub max_state_bytes: usize,
    /// Most steps one run may have.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_step_output_bytes: 4 * 1024 * 1024,
            max_state_bytes: 32 * 1024 * 1024,
            max_steps: 1_000,
        }
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// What a queue item asks the SDK to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// Run the function from the top with the memoized state (`stepId=step`).
    Discovery,
    /// Run one planned step (`stepId=<hashed id>`).
    Step { step_id: String, name: String },
}

impl Work {
    /// The value for the `stepId` query parameter and `X-Inngest-Step-ID` header.
    pub fn step_param(&self) -> &str {
        match self {
            Work::Discovery => "step",
            Work::Step { step_id, .. } => step_id,
        }
    }
}

/// What a step the run is waiting on is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// A queue item will run it (`StepPlanned`, or a retry after `StepError`).
    Call,
    Sleep,
    Event,
    Invoke,
}

/// A step that has been handed to the engine and not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub waiting: Waiting,
    pub name: String,
    /// `parallelMode: "race"`: resolving it calls discovery even while siblings are in flight.
    pub race: bool,
}

/// Everything the state machine knows about one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    /// Attempts per queue item: the function's retries + 1.
    pub max_attempts: u32,
    pub status: Status,
    /// Whether [`Input::Start`] has been applied, so a repeated start enqueues nothing.
    pub started: bool,
    /// Memoized results by hashed step id: `{"data":…}`, `{"error":…}`, `null` or an event.
    pub steps: BTreeMap<String, Box<RawValue>>,
    /// Step ids in the order they were memoized (`ctx.stack.stack`).
    pub stack: Vec<String>,
    /// The execution version the SDK chose (`X-Inngest-Req-Version`); -1 until it says.
    pub request_version: i32,
    /// Sent as `ctx.disable_immediate_execution`; on after parallelism.
    pub disable_immediate_execution: bool,
    /// Sum of the sizes of `steps`.
    pub state_bytes: usize,
    /// Steps in flight, by hashed id.
    pub pending: BTreeMap<String, Pending>,
    /// Version 2: parallel steps whose resolution discovery waits for.
    pub batch: BTreeSet<String>,
    pub limits: Limits,
}

impl RunState {
    pub fn new(run_id: impl Into<String>, max_attempts: u32) -> Self {
        RunState {
            run_id: run_id.into(),
            max_attempts: max_attempts.max(1),
            status: Status::Running,
            started: false,
            steps: BTreeMap::new(),
            stack: Vec::new(),
            request_version: -1,
            disable_immediate_execution: false,
            state_bytes: 0,
            pending: BTreeMap::new(),
            batch: BTreeSet::new(),
            limits: Limits::default(),
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.status != Status::Running
    }
}

/// What the SDK call for one queue item produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `200` (or another 2xx): the function returned this value.
    Complete { output: Box<RawValue> },
    /// `206`: opcodes, plus the response's retry headers (they qualify a `StepError`).
    Ops {
        ops: Vec<Opcode>,
        no_retry: bool,
        retry_after_ms: Option<i64>,
    },
    /// A 4xx/5xx from the SDK: the function threw, or the SDK refused the request.
    Error {
        status: u16,
        error: ErrorBody,
        no_retry: bool,
        retry_after_ms: Option<i64>,
    },
    /// Something answered without the `X-Inngest-SDK` header: a proxy, a 404 page, another app.
    NotSdk { status: u16, body_prefix: String },
    /// No answer: connection refused, timeout, reset.
    Transport { message: String },
    /// The SDK answered but the body could not be read.
    Invalid { message: String },
}

/// Something that happened to the run.
#[derive(Debug, Clone)]
pub enum Input {
    Start,
    CallResult {
        work: Work,
        attempt: u32,
        outcome: Outcome,
        /// `X-Inngest-Req-Version` from the response, if any.
        request_version: Option<i32>,
    },
    SleepElapsed {
        step_id: String,
    },
    /// The awaited event arrived (`Some`, raw wire JSON) or the wait timed out (`None`).
    WaitResolved {
        step_id: String,
        event: Option<Box<RawValue>>,
    },
    /// The invoked run finished with its output or its error.
    InvokeFinished {
        step_id: String,
        result: Result<Box<RawValue>, ErrorBody>,
    },
    InvokeTimedOut {
        step_id: String,
    },
    Cancel,
}

/// The kind of step an attempt record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Function code outside any step (a discovery call, or the function's own error).
    Function,
    Run,
    Sleep,
    WaitForEvent,
    Invoke,
}

/// How one attempt ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AttemptResult {
    Ok {
        output: Box<RawValue>,
    },
    /// `retry_at_ms` is when the next attempt runs; `None` means no further attempt.
    Err {
        error: ErrorBody,
        retry_at_ms: Option<i64>,
    },
}

/// A history entry: one attempt at a step or at the function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub step_id: Option<String>,
    pub name: Option<String>,
    pub kind: StepKind,
    pub attempt: u32,
    pub at_ms: i64,
    pub result: AttemptResult,
}

/// A decision for the executor to persist and carry out.
#[derive(Debug, Clone)]
pub enum Action {
    SetRequestVersion {
        version: i32,
    },
    SetImmediateExecution {
        disabled: bool,
    },
    /// Store this result for the step and push the id onto the stack.
    Memoize {
        step_id: String,
        memo: Box<RawValue>,
    },
    Record(AttemptRecord),
    /// Call the SDK for `work` at `at_ms`.
    Enqueue {
        work: Work,
        attempt: u32,
        at_ms: i64,
    },
    /// Feed [`Input::SleepElapsed`] at `wake_at_ms`.
    Sleep {
        step_id: String,
        name: String,
        wake_at_ms: i64,
    },
    /// Feed [`Input::WaitResolved`] with the first event named `event_name` for which `if_expr`
    /// holds (`event` = the run's trigger, `async` = the candidate), or with `None` at
    /// `timeout_at_ms`.
    WaitForEvent {
        step_id: String,
        name: String,
        event_name: String,
        if_expr: Option<String>,
        timeout_at_ms: i64,
    },
    /// Send `inngest/function.invoked` to exactly `function_id` with `payload` (`{data, v?}`),
    /// tagged with `correlation_id`; feed [`Input::InvokeFinished`] when that run ends, or
    /// [`Input::InvokeTimedOut`] at `timeout_at_ms`.
    Invoke {
        step_id: String,
        name: String,
        function_id: String,
        payload: Box<RawValue>,
        correlation_id: String,
        timeout_at_ms: i64,
    },
    Complete {
        output: Box<RawValue>,
    },
    Fail {
        error: ErrorBody,
    },
    Cancelled,
}

/// Applies one input to the run and returns what must happen as a result.
///
/// `now_ms` is the current time; `jitter` a uniform sample in `0..1` for retry backoff.
pub fn apply(state: &mut RunState, input: Input, now_ms: i64, jitter: f64) -> Vec<Action> {
    transition::apply(state, input, now_ms, jitter)
}
