//! The ARM REST provider: the one implementation of [`Provider`](super::Provider), talking to Azure or to the
//! simulator through the same request code.
//!
//! Layers, bottom up: `pipeline` (transport, auth, headers, logging), `throttle` (token buckets, scoped back-off),
//! `errors` (HTTP → typed errors), `client` (send with retries, list with nextLink, LRO driver), `lro` (polling
//! state machine, job tracker), `wire` (serde DTOs), `ops` (typed ASR/ARM operations), `graph_query` (Azure Resource Graph
//! queries with paging), `snapshot` (bulk reads into neutral types), `auth` (credentials). Nothing here prints.

pub mod auth;
pub mod client;
pub mod errors;
pub mod graph_query;
pub mod lro;
pub mod ops;
pub mod pipeline;
pub mod snapshot;
pub mod throttle;
pub mod wire;

pub use client::{
    ApiVersions, ArmClient, ArmClientOptions, ArmResponse, LroOutcome, RequestCounts, RetryOptions,
};
pub use pipeline::Endpoint;
