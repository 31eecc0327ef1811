//! What a queue item asks the executor to do. Stored as JSON in the queue's opaque `payload`.

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
        event: Box<RawValue>,
    },
    WaitTimeout {
        step_id: String,
    },
    /// An invoked run ended.
    InvokeFinished {
        step_id: String,
        output: Option<Box<RawValue>>,
        error: Option<ErrorBody>,
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
    pub fn into_input(self) -> Option<Input> {
        Some(match self {
            Payload::Call { .. } => return None,
            Payload::SleepElapsed { step_id } => Input::SleepElapsed { step_id },
            Payload::WaitResolved { step_id, event } => Input::WaitResolved {
                step_id,
                event: Some(event),
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
                    (_, Some(e)) => Err(e),
                    (Some(o), None) => Ok(o),
                    (None, None) => Ok(RawValue::from_string("null".into()).expect("null")),
                },
            },
            Payload::InvokeTimeout { step_id } => Input::InvokeTimedOut { step_id },
            Payload::Cancel => Input::Cancel,
        })
    }
}
