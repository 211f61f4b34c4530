//! Progress hooks: the one trait through which long operations (apply, DR operations, drills) report progress.
//!
//! This is the minimal shape agreed with the progress work (`trait Hooks { fn on_event(&self, e: &Event) }`); the
//! integrator reconciles it with the full version. It must not print or block: the CLI decides how to render.

use time::OffsetDateTime;

/// One progress event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened (the operation's clock).
    pub at: OffsetDateTime,
    /// What it concerns: an RPI id, a recovery plan group, or a step name.
    pub subject: String,
    /// What happened, e.g. `failover started`.
    pub message: String,
    /// Kind of event.
    pub kind: EventKind,
}

/// The kind of a progress event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Something started.
    Started,
    /// Something finished.
    Finished,
    /// Something failed.
    Failed,
    /// Information (a manual step shown, a script step recorded).
    Info,
}

/// Receives progress events. Implementations must be cheap and never block.
pub trait Hooks: Send + Sync {
    /// Called for every event.
    fn on_event(&self, e: &Event);
}

/// Hooks that ignore every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn on_event(&self, _e: &Event) {}
}
