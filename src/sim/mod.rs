//! The simulated Azure: an ARM endpoint with Azure Site Recovery's rules, run on a virtual clock.
//!
//! Owns the world model ([`world`]), the ARM/ASR REST facade ([`api`]), long-running operations and jobs, the
//! replication model (recovery points, RPO, disk content versions), throttling, latency, fault injection, region
//! outages, the request log, persistence ([`store`]) and the two ways in: the in-process transport
//! ([`InProcessTransport`], no sockets) and the loopback server ([`serve`]). Everything time-dependent is computed
//! lazily from the clock when a request arrives; there are no background threads. It must not print, and it must
//! not know about the planner or the HCL configuration: it is a backend that clients talk to over ARM REST.

pub mod api;
pub mod faults;
pub mod graph;
pub mod server;
pub mod store;
pub mod throttle;
pub mod transport;
pub mod world;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::estate::Estate;

pub use faults::{FaultEffect, FaultRule, FaultSet};
pub use server::{ServerHandle, serve};
pub use store::{SimStore, StoreError};
pub use transport::InProcessTransport;
pub use world::{LogEntry, SimConfig, World};

/// Errors of the simulator's own operations (not ARM errors: those are HTTP responses).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimError {
    /// The persisted store could not be used.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),
    /// A fault file or other operator input is invalid.
    #[error("invalid simulator input in {at}: {message}")]
    #[diagnostic(code(asrform::sim::input))]
    Input {
        /// Where (file, field).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// An estate file could not be loaded or has problems (boxed: its report is large, and every simulator result
    /// would carry its size).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Estate(Box<crate::estate::EstateError>),
    /// The server could not bind or failed.
    #[error("simulator server: {0}")]
    #[diagnostic(code(asrform::sim::server))]
    Server(#[source] std::io::Error),
    /// Writing operator output failed.
    #[error("writing output: {0}")]
    #[diagnostic(code(asrform::sim::output))]
    Output(#[source] std::io::Error),
}

impl From<crate::estate::EstateError> for SimError {
    fn from(e: crate::estate::EstateError) -> Self {
        SimError::Estate(Box::new(e))
    }
}

/// One HTTP request as the simulator sees it.
#[derive(Clone, Debug)]
pub struct SimRequest {
    /// Upper-case method (`GET`, `PUT`, …).
    pub method: String,
    /// Absolute URL; its scheme/host/port become the base of every absolute URL in the answer.
    pub url: url::Url,
    /// Headers (names in any case).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl SimRequest {
    /// A request without headers.
    pub fn new(method: &str, url: &str, body: Option<serde_json::Value>) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url::Url::parse(url).unwrap_or_else(|_| {
                url::Url::parse("https://management.azure.com/").expect("static url")
            }),
            headers: Vec::new(),
            body: body
                .map(|b| serde_json::to_vec(&b).expect("json value serialises"))
                .unwrap_or_default(),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The simulator's answer.
#[derive(Clone, Debug, Default)]
pub struct SimResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (JSON or empty).
    pub body: Vec<u8>,
    /// Fault injection asked for the connection to drop: the in-process transport turns this into an I/O error and
    /// the server closes the socket without a complete answer.
    pub drop_connection: bool,
}

impl SimResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The simulator's timeline: an underlying [`Clock`] plus operator steps (`advance`).
#[derive(Debug)]
pub struct SimClock {
    inner: Arc<dyn Clock>,
    offset: Mutex<Duration>,
}

impl SimClock {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            offset: Mutex::new(Duration::ZERO),
        }
    }
    /// Moves the timeline forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
    /// The current simulated time.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.now() + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Waits `d` on the underlying clock (virtual under a paused tokio runtime).
    pub async fn sleep(&self, d: Duration) {
        self.inner.sleep(d).await
    }
}

/// The simulated Azure. Cheap to clone; all clones share one world. Thread-safe.
#[derive(Clone, Debug)]
pub struct Simulator {
    world: Arc<Mutex<World>>,
    clock: Arc<SimClock>,
}

impl Simulator {
    /// An empty world (no subscriptions) on `clock`.
    pub fn new(clock: Arc<dyn Clock>, config: SimConfig) -> Self {
        Self::from_world(World::new(config), clock)
    }

    /// A world seeded from `estate` (subscriptions, RGs, VNets, storage accounts, VMs, NICs, disks).
    pub fn from_estate(estate: &Estate, clock: Arc<dyn Clock>, config: SimConfig) -> Self {
        let sim = Self::new(clock, config);
        {
            let now = sim.now();
            let mut w = sim.world();
            w.seed(estate, now);
        }
        sim
    }

    /// Wraps an existing world (e.g. loaded from the store).
    pub fn from_world(world: World, clock: Arc<dyn Clock>) -> Self {
        Self {
            world: Arc::new(Mutex::new(world)),
            clock: Arc::new(SimClock::new(clock)),
        }
    }

    /// Locks the world for direct inspection or operator changes. Do not hold it across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current simulated time.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Moves simulated time forward by `by` (jobs finish, replication progresses, points appear).
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let now = self.now();
        self.world().settle(now);
    }

    /// The simulator's clock.
    pub fn clock(&self) -> &Arc<SimClock> {
        &self.clock
    }

    /// Takes a region down: its resources answer 503 and its VMs stop.
    pub fn set_outage(&self, region: &str, down: bool) {
        let now = self.now();
        self.world().set_outage(region, down, now);
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, faults: FaultSet) {
        self.world().faults = faults;
    }

    /// A copy of the request log.
    pub fn request_log(&self) -> Vec<LogEntry> {
        self.world().log.clone()
    }

    /// Content version of a managed disk at the current time (MB written since the estate was seeded, a stand-in for
    /// the disk's bytes). `None` when the disk does not exist.
    pub fn disk_content(&self, disk_id: &str) -> Option<u64> {
        let now = self.now();
        self.world().disk_content(disk_id, now)
    }

    /// Answers one ARM request: throttling, latency, faults, outage, routing, logging.
    pub async fn handle(&self, req: SimRequest) -> SimResponse {
        let query = graph::is_query(&req);
        let latency = {
            let w = self.world();
            if query {
                graph::latency_ms(&w)
            } else {
                w.config.latency_ms
            }
        };
        if latency > 0 {
            self.clock.sleep(Duration::from_millis(latency)).await;
        }
        let now = self.now();
        let mut w = self.world();
        if query {
            return graph::handle(&mut w, &req, now);
        }
        // The Resource Graph index lags behind changes when configured to (`graph::before`/`after`).
        let capture = graph::before(&w, &req, now);
        let r = api::handle(&mut w, &req, now);
        graph::after(&mut w, capture, r.status, now);
        r
    }
}

impl Simulator {
    /// Summary for `sim status` and `/_sim/status`: clock, resource counts, regions down, protected items by state.
    pub fn status(&self) -> serde_json::Value {
        let now = self.now();
        let w = self.world();
        let mut counts: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for r in w.resources.values() {
            *counts
                .entry(r.body["type"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        let mut states: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for r in w.rpis.values() {
            let s = if r.replication_started.is_none() {
                "EnablingProtection".to_string()
            } else if r.failover.is_none() && r.protected_at.is_some_and(|p| p > now) {
                "InitialReplicationInProgress".to_string()
            } else if r.protection_state == "UnprotectedStatesBegin" {
                "Protected".to_string()
            } else {
                r.protection_state.clone()
            };
            *states.entry(s).or_default() += 1;
        }
        let running = w.jobs.values().filter(|j| j.is_active(now)).count();
        serde_json::json!({
            "now": world::ts(now),
            "resources": counts,
            "protectedItems": states,
            "jobsRunning": running,
            "jobsTotal": w.jobs.len(),
            "regionsDown": w.outages.keys().collect::<Vec<_>>(),
            "requests": w.log_seq,
        })
    }

    /// The operator API (`/_sim/...`) in-process; see [`server`].
    pub fn operator(&self, req: &SimRequest) -> SimResponse {
        server::operator(self, req)
    }
}
