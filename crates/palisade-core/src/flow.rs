//! Conversation flows: multi-step dialogues a plugin owns (ask → validate → next step, branch, confirm).
//!
//! A flow is a named state machine: the plugin's [`crate::Plugin::flow_step`] gets the user's answer and the
//! flow (its current step and the data gathered so far) and returns the next [`Step`]. The router keeps one
//! flow per (user, chat), persists it after every step so it survives a restart, ends it on `/cancel` and
//! expires it after the configured idle time.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plugin::PluginError;

/// Where [`Flow::typed`] keeps its state.
const STATE: &str = "state";

/// One running dialogue: which flow, which step, and what was gathered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    name: String,
    step: String,
    data: Map<String, Value>,
}

impl Flow {
    /// A flow called `name` (shown to the user, e.g. "new note") waiting for the answer to `first_step`.
    pub fn new(name: impl Into<String>, first_step: impl Into<String>) -> Self {
        Self { name: name.into(), step: first_step.into(), data: Map::new() }
    }

    /// Stores `value` under `key`, builder style.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.set(key, value);
        self
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step whose answer is awaited.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Moves to `step`; the runtime calls it when a step returns [`Step::Next`].
    pub fn go_to(&mut self, step: String) {
        self.step = step;
    }

    /// Stores `value` under `key`. Values that cannot be represented as JSON are stored as null.
    pub fn set(&mut self, key: &str, value: impl Serialize) {
        self.data.insert(key.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
    }

    /// Reads `key` as `T`, if present and of that type.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.data.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// A flow whose whole state is `state`, one value of the plugin's own type — typically an enum with a
    /// variant per step, each carrying what was gathered so far — so that reading data a step does not have
    /// is a compile error rather than a missing key at run time. Its step name (in logs) is the variant's.
    pub fn typed<S: Serialize>(name: impl Into<String>, state: &S) -> Self {
        let mut flow = Self::new(name, "");
        let _ = flow.advance(state);
        flow
    }

    /// The typed state (see [`Flow::typed`]). A stored state that no longer fits `S` (a flow persisted by an
    /// older version of the plugin) is an internal error naming the flow; the user is told it cannot go on.
    pub fn state<S: DeserializeOwned>(&self) -> Result<S, PluginError> {
        let stored = self.data.get(STATE).cloned().unwrap_or(Value::Null);
        S::deserialize(stored).map_err(|e| {
            PluginError::internal(format!("flow `{}` holds a state this plugin cannot read: {e}", self.name))
        })
    }

    /// Replaces the typed state and moves to its step; returns the [`Step`] to hand back.
    pub fn advance<S: Serialize>(&mut self, state: &S) -> Step {
        let value = serde_json::to_value(state).unwrap_or(Value::Null);
        let step = match &value {
            Value::String(s) => s.clone(),
            Value::Object(m) if m.len() == 1 => m.keys().next().cloned().unwrap_or_default(),
            _ => STATE.to_string(),
        };
        self.data.insert(STATE.to_string(), value);
        self.step = step.clone();
        Step::Next(step)
    }

    /// Reads `key` as `T`, or fails with an internal error naming the flow and key.
    pub fn require<T: DeserializeOwned>(&self, key: &str) -> Result<T, PluginError> {
        self.get(key).ok_or_else(|| PluginError::internal(format!("flow `{}` lost its `{key}` value", self.name)))
    }
}

/// What happens after a step handled the user's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move to this step; the handler has asked its question.
    Next(String),
    /// Stay on this step; the handler has said what was wrong with the answer.
    Repeat,
    /// The flow is complete.
    Done,
    /// The flow ends without completing (the user declined at a confirmation, say).
    Cancel,
}

impl Step {
    /// Shorthand for [`Step::Next`].
    pub fn next(step: impl Into<String>) -> Self {
        Self::Next(step.into())
    }
}

#[cfg(test)]
mod typed_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Asking {
        Name,
        Age { name: String },
    }

    #[test]
    fn a_typed_state_round_trips_names_its_step_and_refuses_another_shape() {
        let mut flow = Flow::typed("sign-up", &Asking::Name);
        assert_eq!((flow.step(), flow.state::<Asking>().unwrap()), ("Name", Asking::Name));
        assert_eq!(flow.advance(&Asking::Age { name: "Ann".into() }), Step::next("Age"));
        let stored: Flow = serde_json::from_str(&serde_json::to_string(&flow).unwrap()).unwrap();
        assert_eq!(stored.state::<Asking>().unwrap(), Asking::Age { name: "Ann".into() });
        let err = stored.state::<u32>().unwrap_err().to_string();
        assert!(err.contains("flow `sign-up` holds a state this plugin cannot read"), "{err}");
    }
}
