//! What a queue item asks the executor to do. Stored as JSON in the queue's opaque `payload`.
//!
//! Raw JSON (an event, an invoke's output or error) is carried as JSON *text* in `String` fields:
//! serde cannot read a `RawValue` back through an internally tagged enum.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sluice_core::opcode::ErrorBody;
use sluice_core::run::{Input, Work};
use sluice_store::NewQueueItem;
use ulid::Ulid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Call the SDK for `work`.
    Call {
        work: Work,
        attempt: u32,
    },
    SleepElapsed {
        step_id: String,
    },
    /// A wait matched this event (wire JSON).
    WaitResolved {
        step_id: String,
        /// The matching event, wire JSON text.
        event: String,
    },
    WaitTimeout {
        step_id: String,
    },
    /// An invoked run ended.
    InvokeFinished {
        step_id: String,
        /// The invoked run's output, JSON text.
        output: Option<String>,
        /// The invoked run's error, `ErrorBody` JSON text.
        error: Option<String>,
    },
    InvokeTimeout {
        step_id: String,
    },
    Cancel,
}

/// When work the engine wants at `at_ms` is due. Work that may run now (the next call of a run,
/// a resolved wait, a finished invoke) is queued at its run's creation time, which the run's
/// ULID records, so the queue, which runs the earliest due first, finishes runs that have
/// started before it begins newer ones: under a backlog the first runs complete in milliseconds
/// instead of every run advancing one step per pass over the whole queue. Work for later (a
/// retry after its backoff, a sleep) keeps its time.
pub fn continuation_due(at_ms: i64, now_ms: i64, run_id: Ulid) -> i64 {
    if at_ms <= now_ms {
        at_ms.min(run_id.timestamp_ms() as i64)
    } else {
        at_ms
    }
}

impl Payload {
    pub fn item(&self, run_id: Ulid, due_at_ms: i64) -> NewQueueItem {
        NewQueueItem {
            id: Ulid::new(),
            run_id,
            payload: serde_json::to_string(self).expect("payload serializes"),
            due_at_ms,
        }
    }

    /// The state-machine input for everything but a call (which needs the SDK's answer first).
    /// A finished invoke carrying the child's output or error.
    pub fn invoke_finished(step_id: String, result: Result<&RawValue, &ErrorBody>) -> Self {
        match result {
            Ok(output) => Payload::InvokeFinished {
                step_id,
                output: Some(output.get().to_owned()),
                error: None,
            },
            Err(e) => Payload::InvokeFinished {
                step_id,
                output: None,
                error: Some(e.to_json()),
            },
        }
    }

    pub fn into_input(self) -> Option<Input> {
        Some(match self {
            Payload::Call { .. } => return None,
            Payload::SleepElapsed { step_id } => Input::SleepElapsed { step_id },
            Payload::WaitResolved { step_id, event } => Input::WaitResolved {
                step_id,
                event: Some(raw(event)),
            },
            Payload::WaitTimeout { step_id } => Input::WaitResolved {
                step_id,
                event: None,
            },
            Payload::InvokeFinished {
                step_id,
                output,
                error,
            } => Input::InvokeFinished {
                step_id,
                result: match (output, error) {
                    (_, Some(e)) => Err(ErrorBody::from_json(&e)),
                    (Some(o), None) => Ok(raw(o)),
                    (None, None) => Ok(raw("null".into())),
                },
            },
            Payload::InvokeTimeout { step_id } => Input::InvokeTimedOut { step_id },
            Payload::Cancel => Input::Cancel,
        })
    }
}

/// JSON text written by this module back into a `RawValue`; text that is not JSON (a corrupt
/// row) becomes a JSON string so the run still gets an answer.
fn raw(text: String) -> Box<RawValue> {
    RawValue::from_string(text.clone()).unwrap_or_else(|_| {
        RawValue::from_string(serde_json::to_string(&text).expect("string")).expect("json string")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every payload survives the trip through its stored JSON form.
    #[test]
    fn payloads_round_trip() {
        let error = ErrorBody::new("Error", "boom");
        let output =
            RawValue::from_string(r#"{"doubled":42,"big":12345678901234567890}"#.into()).unwrap();
        let cases = vec![
            Payload::Call {
                work: sluice_core::run::Work::Discovery,
                attempt: 2,
            },
            Payload::SleepElapsed {
                step_id: "s".into(),
            },
            Payload::WaitResolved {
                step_id: "w".into(),
                event: r#"{"name":"a","data":{}}"#.into(),
            },
            Payload::WaitTimeout {
                step_id: "w".into(),
            },
            Payload::invoke_finished("i".into(), Ok(&output)),
            Payload::invoke_finished("i".into(), Err(&error)),
            Payload::InvokeTimeout {
                step_id: "i".into(),
            },
            Payload::Cancel,
        ];
        for p in cases {
            let text = serde_json::to_string(&p).unwrap();
            let back: Payload =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
            let _ = back.into_input();
        }
        match Payload::invoke_finished("i".into(), Ok(&output)).into_input() {
            Some(Input::InvokeFinished { result: Ok(o), .. }) => assert_eq!(o.get(), output.get()),
            other => panic!("{other:?}"),
        }
        match Payload::invoke_finished("i".into(), Err(&error)).into_input() {
            Some(Input::InvokeFinished { result: Err(e), .. }) => assert_eq!(e.message, "boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn work_for_now_queues_at_its_runs_creation_and_later_work_keeps_its_time() {
        let run = Ulid::from_parts(1_000, 7);
        assert_eq!(continuation_due(5_000, 5_000, run), 1_000);
        assert_eq!(continuation_due(4_000, 5_000, run), 1_000);
        assert_eq!(
            continuation_due(9_000, 5_000, run),
            9_000,
            "a retry after its backoff"
        );
        // A run made after `now` (by another clock) never makes work due later than asked.
        let later = Ulid::from_parts(8_000, 7);
        assert_eq!(continuation_due(5_000, 5_000, later), 5_000);
    }
}
