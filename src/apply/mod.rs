//! Apply: carrying out a plan against the cloud, crash-safely and with bounded concurrency.
//!
//! The orchestration lives here and reaches the cloud only through the provider and the state store traits; the
//! CLI chooses the concrete backends. So far this holds the generic executor (`executor`); the plan-driven
//! applier builds on it.

pub mod executor;
pub mod hooks;
