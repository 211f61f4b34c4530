//! Hooks: the events the plan/apply engine reports while it works, and the trait through which it reports them.
//!
//! The engine calls [`Hooks::on_event`] for everything a user may want to watch (an operation starting, an ASR job's
//! progress, a retry after throttling, a state write). The CLI picks a renderer (live display, plain lines, JSON
//! lines; see `cli::progress`). This module defines the vocabulary only: it must not print, read a clock or decide
//! how events look. Events carry durations measured by the engine's clock, never wall-clock timestamps, so a
//! scripted sequence renders the same every time.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Receives the engine's events. Implementations must be cheap and must not block: they are called from the
/// engine's tasks.
pub trait Hooks: Send + Sync {
    /// One event happened.
    fn on_event(&self, event: &Event);
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationOutcome {
    /// It succeeded.
    Applied,
    /// It failed; the message says why.
    Failed(String),
    /// It was not run; `because` names the failed dependency (or says the run was stopped).
    Skipped {
        /// Why it was skipped.
        because: String,
    },
}

// Hand-written so the JSON form is a flat object (`{"result": "failed", "error": ".."}`) while the Rust form keeps
// the tuple variant the engine constructs.
impl Serialize for OperationOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self {
            OperationOutcome::Applied => m.serialize_entry("result", "applied")?,
            OperationOutcome::Failed(error) => {
                m.serialize_entry("result", "failed")?;
                m.serialize_entry("error", error)?;
            }
            OperationOutcome::Skipped { because } => {
                m.serialize_entry("result", "skipped")?;
                m.serialize_entry("because", because)?;
            }
        }
        m.end()
    }
}

/// Severity of a free-form [`Event::Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Informational.
    Info,
    /// Something the user should look at.
    Warn,
    /// Something failed.
    Error,
}

/// What the engine reports. New variants may be added; renderers must ignore what they do not know.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Planning began (refreshing live state for `resources` addresses).
    PlanStarted {
        /// Number of configured addresses being refreshed.
        resources: usize,
    },
    /// Apply began with `total` operations to run.
    ApplyStarted {
        /// Number of operations in the plan.
        total: usize,
    },
    /// One operation started.
    OperationStarted {
        /// Resource address (`protected_vm.app["db01"]`).
        address: String,
        /// Operation name (`create`, `enable_protection`, `failover`, …).
        operation: String,
    },
    /// A running operation was polled.
    Progress {
        /// Resource address.
        address: String,
        /// Operation name.
        operation: String,
        /// ASR job state (`InProgress`, `Succeeded`, …), when the operation is tracked by a job.
        job_state: Option<String>,
        /// Completion percentage, when ASR reports one.
        percent: Option<u8>,
        /// Time since the operation started.
        #[serde(with = "secs")]
        elapsed: Duration,
    },
    /// One operation ended.
    OperationFinished {
        /// Resource address.
        address: String,
        /// Operation name.
        operation: String,
        /// How it ended.
        outcome: OperationOutcome,
        /// How long it ran.
        #[serde(with = "secs")]
        elapsed: Duration,
    },
    /// A request will be retried after `delay` (throttling, a transient error).
    Retry {
        /// The address the request was for, when it was for one.
        address: Option<String>,
        /// Why (`429 Too Many Requests`, …).
        reason: String,
        /// How long the engine waits before retrying.
        #[serde(with = "secs")]
        delay: Duration,
    },
    /// State was written with this serial.
    StateSaved {
        /// The new serial.
        serial: u64,
    },
    /// A free-form message (a warning, the Ctrl-C notice).
    Message {
        /// Severity.
        level: Level,
        /// The text, one line.
        text: String,
    },
    /// Apply ended.
    ApplyFinished {
        /// Operations that succeeded.
        applied: usize,
        /// Operations that failed.
        failed: usize,
        /// Operations not run.
        skipped: usize,
    },
}

/// Durations as fractional seconds in JSON (`12.5`), which every consumer can read.
mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl<H: Hooks + ?Sized> Hooks for std::sync::Arc<H> {
    fn on_event(&self, event: &Event) {
        (**self).on_event(event);
    }
}

impl<H: Hooks + ?Sized> Hooks for &H {
    fn on_event(&self, event: &Event) {
        (**self).on_event(event);
    }
}

/// Hooks that ignore every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn on_event(&self, _event: &Event) {}
}

/// Hooks that keep every event, for tests.
#[derive(Debug, Default)]
pub struct RecordingHooks(Mutex<Vec<Event>>);

impl RecordingHooks {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Hooks for RecordingHooks {
    fn on_event(&self, event: &Event) {
        // A panic elsewhere while holding the lock must not lose later events.
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

/// Several hooks fed the same events, in order (e.g. a renderer plus a recorder).
pub struct Fanout(pub Vec<std::sync::Arc<dyn Hooks>>);

impl Hooks for Fanout {
    fn on_event(&self, event: &Event) {
        for h in &self.0 {
            h.on_event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn recording_hooks_keep_order_and_fanout_feeds_all() {
        let a = Arc::new(RecordingHooks::new());
        let b = Arc::new(RecordingHooks::new());
        let fan = Fanout(vec![a.clone(), b.clone(), Arc::new(NoHooks)]);
        fan.on_event(&Event::ApplyStarted { total: 2 });
        fan.on_event(&Event::StateSaved { serial: 7 });
        assert_eq!(
            a.events(),
            [
                Event::ApplyStarted { total: 2 },
                Event::StateSaved { serial: 7 }
            ]
        );
        assert_eq!(a.events(), b.events());
    }

    #[test]
    fn events_serialise_with_a_tag_and_seconds() {
        let e = Event::OperationFinished {
            address: "protected_vm.app[\"db01\"]".into(),
            operation: "enable_protection".into(),
            outcome: OperationOutcome::Failed("boom".into()),
            elapsed: Duration::from_millis(1500),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "event": "operation_finished",
                "address": "protected_vm.app[\"db01\"]",
                "operation": "enable_protection",
                "outcome": {"result": "failed", "error": "boom"},
                "elapsed": 1.5
            })
        );
    }
}
