//! Progress events of plan and apply, and the trait the CLI implements to show them.
//!
//! A minimal stand-in with the agreed shape (the progress developer's branch owns the full version and its
//! renderers): one `on_event` method over an [`Event`] enum, [`NoHooks`], and [`RecordingHooks`] for tests. It must
//! not print or block.

use std::sync::Mutex;
use std::time::Duration;

/// Something that happened during plan or apply.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Planning started.
    PlanStarted,
    /// Apply started with this many operations.
    ApplyStarted {
        /// Operations to run.
        operations: usize,
    },
    /// An operation started.
    OperationStarted {
        /// Resource address.
        address: String,
        /// Operation name.
        operation: String,
    },
    /// Progress of a running operation.
    Progress {
        /// Resource address.
        address: String,
        /// Operation name.
        operation: String,
        /// ASR job state.
        job_state: String,
        /// Percent done, when known.
        percent: Option<u8>,
        /// Time since it started.
        elapsed: Duration,
    },
    /// An operation finished.
    OperationFinished {
        /// Resource address.
        address: String,
        /// Operation name.
        operation: String,
        /// `applied`, `failed: …`.
        outcome: String,
    },
    /// A retry.
    Retry {
        /// Resource address.
        address: String,
        /// Why.
        reason: String,
        /// Delay before the retry.
        delay: Duration,
    },
    /// State was written.
    StateSaved {
        /// New serial.
        serial: u64,
    },
    /// A free-form message.
    Message(String),
}

/// Receives events.
pub trait Hooks: Send + Sync {
    /// One event.
    fn on_event(&self, event: &Event);
}

/// Ignores events.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn on_event(&self, _event: &Event) {}
}

/// Records events (tests).
#[derive(Debug, Default)]
pub struct RecordingHooks(Mutex<Vec<Event>>);

impl RecordingHooks {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("hooks lock").clone()
    }
}

impl Hooks for RecordingHooks {
    fn on_event(&self, event: &Event) {
        self.0.lock().expect("hooks lock").push(event.clone());
    }
}
