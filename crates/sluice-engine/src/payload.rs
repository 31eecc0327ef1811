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
}
