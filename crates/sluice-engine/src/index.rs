//! The trigger index: which functions an event starts, rebuilt from the store when apps sync.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use sluice_core::event::Event;
use sluice_core::expr::{name_matches, Expr};
use sluice_store::FunctionRecord;
use ulid::Ulid;

/// One event trigger of one function, with its filter compiled once.
struct EventTrigger {
    function: Arc<FunctionRecord>,
    name: String,
    expression: Option<Expr>,
}

/// A cron trigger of one function.
#[derive(Clone)]
pub struct CronTrigger {
    pub function: Arc<FunctionRecord>,
    pub spec: String,
}

#[derive(Default)]
pub struct Index {
    events: Vec<EventTrigger>,
    pub crons: Vec<CronTrigger>,
    functions: HashMap<String, Arc<FunctionRecord>>,
    /// The latest successful sync of each app, recorded on the runs it starts.
    syncs: HashMap<String, Ulid>,
}

impl Index {
    pub fn build(functions: Vec<FunctionRecord>, syncs: HashMap<String, Ulid>) -> Self {
        let mut index = Index {
            syncs,
            ..Index::default()
        };
        for f in functions {
            let f = Arc::new(f);
            index.functions.insert(f.id.clone(), f.clone());
            for t in f.triggers.as_array().into_iter().flatten() {
                if let Some(name) = t.get("event").and_then(|v| v.as_str()) {
                    let expression = t
                        .get("expression")
                        .and_then(|v| v.as_str())
                        .filter(|s| !s.trim().is_empty())
                        .and_then(|src| match Expr::compile(src) {
                            Ok(e) => Some(e),
                            Err(e) => {
                                tracing::warn!(function = %f.id, %e, "trigger expression does not compile; trigger disabled");
                                None
                            }
                        });
                    index.events.push(EventTrigger {
                        function: f.clone(),
                        name: name.to_owned(),
                        expression,
                    });
                } else if let Some(spec) = t.get("cron").and_then(|v| v.as_str()) {
                    index.crons.push(CronTrigger {
                        function: f.clone(),
                        spec: spec.to_owned(),
                    });
                }
            }
        }
        index
    }

    pub fn function(&self, id: &str) -> Option<Arc<FunctionRecord>> {
        self.functions.get(id).cloned()
    }

    pub fn sync_of(&self, app_id: &str) -> Option<Ulid> {
        self.syncs.get(app_id).copied()
    }

    /// The functions `event` triggers. A function with several matching triggers runs once.
    /// `event_json` is filled (once) only when a trigger expression needs the event as a value.
    pub fn matches(
        &self,
        event: &Event,
        event_json: &OnceCell<serde_json::Value>,
    ) -> Vec<Arc<FunctionRecord>> {
        let mut out: Vec<Arc<FunctionRecord>> = Vec::new();
        for t in &self.events {
            if !name_matches(&t.name, &event.name) || out.iter().any(|f| f.id == t.function.id) {
                continue;
            }
            let pass = match &t.expression {
                None => true,
                Some(expr) => expr.eval_bool(&[("event", event_value(event, event_json))]).unwrap_or_else(|e| {
                    tracing::debug!(function = %t.function.id, %e, "trigger expression failed; not matched");
                    false
                }),
            };
            if pass {
                out.push(t.function.clone());
            }
        }
        out
    }
}

/// The event as a JSON value for expressions, parsed at most once per event.
pub fn event_value<'a>(
    event: &Event,
    cell: &'a OnceCell<serde_json::Value>,
) -> &'a serde_json::Value {
    cell.get_or_init(|| {
        serde_json::from_str(&event.to_wire_json()).unwrap_or(serde_json::Value::Null)
    })
}
