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
