//! Apply: carrying out a plan against the cloud, crash-safely and with bounded concurrency.
//!
//! [`apply`] walks the plan's changes with the generic [`executor::walk_staged`] (dependencies from the plan, refined
//! by `ops::edge` where ASR needs less than a finished dependency; deletes in reverse order), maps each change to ARM client operations (`ops`), and writes state through one writer after
//! every completed operation, recording an operation as in flight before it starts so a re-run adopts it (every
//! create reads first and adopts what exists) instead of repeating it. DR operations go through `dr_ops` (to be
//! routed to the DR engine). It reaches the cloud only through [`ArmClient`] and state only through
//! [`StateStore`]; it never prints (progress goes to [`hooks::Hooks`]).

pub mod dr_ops;
pub mod executor;
pub mod fresh;
pub mod hooks;
mod ops;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::model::Config;
use crate::plan::{Action, Plan, ResourceChange};
use crate::provider::ProviderError;
use crate::provider::arm::ArmClient;
use crate::state::{InFlight, ResourceState, State, StateError, StateStore, Stored};
use executor::{Outcome, Stop};
use hooks::{Event, Hooks};

/// What apply waits for after enabling protection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WaitFor {
    /// Return when ASR accepted the enable jobs (NIC/IP settings that need initial replication are left for the
    /// next apply).
    #[default]
    Accepted,
    /// Wait for initial replication to finish, then apply NIC/IP settings.
    Protected,
}

/// Apply options.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Operations at once (default 10).
    pub parallelism: usize,
    /// What to wait for after enabling protection.
    pub wait: WaitFor,
    /// Ctrl-C: nothing new starts once fired.
    pub stop: Stop,
    /// Confirm recovery plans' manual steps (`--continue`); otherwise a DR step stops at the first one.
    pub continue_manual: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallelism: 10,
            wait: WaitFor::Accepted,
            stop: Stop::new(),
            continue_manual: false,
        }
    }
}

/// What happened to the plan's changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport {
    /// Keys of the changes applied.
    pub applied: Vec<String>,
    /// Changes that failed, with the error.
    pub failed: Vec<(String, String)>,
    /// Changes skipped because a dependency failed (with that dependency's key).
    pub skipped: Vec<(String, String)>,
    /// Changes not started because apply was stopped.
    pub not_started: Vec<String>,
    /// Settings left for a later apply (e.g. NIC settings before initial replication completes).
    pub deferred: Vec<String>,
    /// The state serial after apply.
    pub serial: u64,
    /// Counts of applied changes per action.
    pub counts: std::collections::BTreeMap<String, usize>,
}

impl ApplyReport {
    /// Whether everything applied.
    pub fn success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }

    /// `Apply complete! 4 applied, 0 failed, 0 skipped.`
    pub fn line(&self) -> String {
        let head = if self.success() {
            "Apply complete!"
        } else {
            "Apply finished with errors."
        };
        format!(
            "{head} {} applied, {} failed, {} skipped, {} not started.",
            self.applied.len(),
            self.failed.len(),
            self.skipped.len(),
            self.not_started.len()
        )
    }
}

/// Errors that stop an apply as a whole (per-change errors go into the report).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    /// State could not be written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
    /// A cloud call failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Provider(#[from] ProviderError),
    /// The plan and configuration disagree.
    #[error("{0}")]
    #[diagnostic(code(asrform::apply::plan))]
    Plan(String),
}

/// Everything an operation needs, shared by the tasks of the walk.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub client: ArmClient,
    pub config: Arc<Config>,
    pub hooks: Arc<dyn Hooks>,
    pub writer: Arc<writer::Writer>,
    pub wait: WaitFor,
    pub deferred: Arc<std::sync::Mutex<Vec<String>>>,
    pub continue_manual: bool,
    /// This change's place among `--parallelism` (given back while it only waits for an ASR job or ARM throttling).
    pub slot: Arc<executor::Slot>,
    /// This change's milestones and later stages in the walk (see [`ops::edge`]).
    pub stages: Arc<executor::Stages>,
    /// Waits for ASR jobs with one `replicationJobs` list per vault per interval. `None`: poll each operation on
    /// its own, holding the place ([`apply_per_operation`], the benchmark's Terraform-style baseline).
    pub tracker: Option<crate::provider::arm::lro::JobTracker>,
    /// An earlier (killed) apply left this change's address in flight: its object may exist although the plan
    /// did not see it, so a create must read before it writes.
    pub resumed: bool,
}

impl Ctx {
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.client.clock().now()
    }

    /// Reads a managed address's state entry.
    pub(crate) async fn entry(&self, address: &str) -> Option<ResourceState> {
        self.writer.read(|s| s.resources.get(address).cloned())
    }

    pub(crate) async fn commit(&self, f: impl FnOnce(&mut State)) -> Result<u64, StateError> {
        self.writer.commit(self.hooks.as_ref(), f).await
    }

    /// Records the cloud's handle of the operation running for `address` (an ASR job id or an operation status
    /// URL) in its in-flight entry, before the operation is waited for.
    pub(crate) async fn record_operation(
        &self,
        address: &str,
        handle: String,
    ) -> Result<u64, StateError> {
        self.commit(|s| {
            if let Some(f) = s.in_flight.iter_mut().rev().find(|f| f.address == address) {
                f.operation_id = Some(handle);
            }
        })
        .await
    }

    pub(crate) fn defer(&self, what: String) {
        self.hooks.on_event(&Event::Message {
            level: hooks::Level::Info,
            text: what.clone(),
        });
        self.deferred.lock().expect("deferred lock").push(what);
    }
}

/// Applies `plan`. `stored` is the state read under the lock (None when there is none yet); the configuration must
/// be the one the plan was made from (a saved plan's binding is checked by the caller).
///
/// ASR jobs are waited for through one shared job tracker (a `replicationJobs` list per vault per interval), and a
/// change waiting for its job gives its place among `--parallelism` back, so every enable job can run in ASR at
/// once while the client's write bucket paces the requests.
pub async fn apply(
    plan: &Plan,
    config: Arc<Config>,
    client: ArmClient,
    store: Arc<dyn StateStore>,
    stored: Option<Stored>,
    hooks: Arc<dyn Hooks>,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    // ASR answers its operations with `Retry-After: 10` (asr-api.md §3.10); listing jobs at that pace finds a
    // finished job as soon as polling it would, for one list per vault instead of one poll per job.
    let tracker = Some(crate::provider::arm::lro::JobTracker::new(
        Arc::new(client.clone()),
        std::time::Duration::from_secs(10),
    ));
    run_apply(plan, config, client, store, stored, hooks, opts, tracker).await
}

/// [`apply`] the way a Terraform-style tool does it: every long-running operation is polled on its own
/// (`Retry-After` between polls) while it keeps its place among `parallelism`. Kept as the baseline that
/// `benches/apply_makespan.rs` measures against; the CLI does not use it.
pub async fn apply_per_operation(
    plan: &Plan,
    config: Arc<Config>,
    client: ArmClient,
    store: Arc<dyn StateStore>,
    stored: Option<Stored>,
    hooks: Arc<dyn Hooks>,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    run_apply(plan, config, client, store, stored, hooks, opts, None).await
}

#[allow(clippy::too_many_arguments)]
async fn run_apply(
    plan: &Plan,
    config: Arc<Config>,
    client: ArmClient,
    store: Arc<dyn StateStore>,
    stored: Option<Stored>,
    hooks: Arc<dyn Hooks>,
    opts: &ApplyOptions,
    tracker: Option<crate::provider::arm::lro::JobTracker>,
) -> Result<ApplyReport, ApplyError> {
    let (state, version) = match stored {
        Some(s) => (s.state, Some(s.version)),
        None => (State::new(), None),
    };
    let writer = Arc::new(writer::Writer::new(store, state, version));
    let cx = Ctx {
        client,
        config,
        hooks: hooks.clone(),
        writer: writer.clone(),
        wait: opts.wait,
        deferred: Arc::default(),
        continue_manual: opts.continue_manual,
        slot: executor::Slot::detached(),
        stages: executor::Stages::detached(),
        tracker,
        resumed: false,
    };
    adopt_settled(&cx, plan).await?;
    let changes: Vec<ResourceChange> = plan.effective_changes().cloned().collect();
    let index: HashMap<&str, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    // What each change needs of each change it depends on (by default: done before it starts).
    let deps: Vec<Vec<executor::Edge>> = changes
        .iter()
        .map(|c| {
            c.depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .map(|d| ops::edge(c, &changes[d], d))
                .collect()
        })
        .collect();
    // Each change's rank within its subscription: the walk starts ready changes rank by rank, one subscription
    // after another, so every subscription's write bucket is kept busy at once.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let ranks: Vec<usize> = changes
        .iter()
        .map(|c| {
            let sub = c
                .arm_ids
                .get("id")
                .or_else(|| c.arm_ids.values().next())
                .and_then(|id| crate::provider::ArmId::parse(id).ok())
                .and_then(|id| id.subscription().map(str::to_ascii_lowercase))
                .unwrap_or_default();
            let n = seen.entry(sub).or_default();
            *n += 1;
            *n
        })
        .collect();
    hooks.on_event(&Event::ApplyStarted {
        total: changes.len(),
    });
    let shared = Arc::new(changes);
    let outcomes: Vec<Outcome<String>> = {
        let shared = shared.clone();
        let cx = cx.clone();
        executor::walk_staged(
            &deps,
            &ranks,
            opts.parallelism,
            &opts.stop,
            move |i, slot, stages| {
                let mut cx = cx.clone();
                cx.slot = slot;
                cx.stages = stages;
                let shared = shared.clone();
                // The change's throttling waits and waits between operation polls give its place back too (the
                // client calls the slot around them). Not in the Terraform-style baseline, which holds its place
                // for as long as its operation runs.
                let hook: Option<Arc<dyn crate::provider::arm::throttle::WaitHook>> =
                    cx.tracker.is_some().then(|| cx.slot.clone() as _);
                async move {
                    match hook {
                        Some(hook) => {
                            crate::provider::arm::throttle::with_wait_hook(
                                hook,
                                run_change(&cx, &shared[i]),
                            )
                            .await
                        }
                        None => run_change(&cx, &shared[i]).await,
                    }
                }
            },
        )
        .await
    };
    let mut report = ApplyReport::default();
    for (c, o) in shared.iter().zip(outcomes) {
        match o {
            Outcome::Applied => {
                report.applied.push(c.key.clone());
                *report
                    .counts
                    .entry(c.action.as_str().to_string())
                    .or_default() += 1;
            }
            Outcome::Failed(e) => report.failed.push((c.key.clone(), e)),
            Outcome::Skipped { because } => report
                .skipped
                .push((c.key.clone(), shared[because].key.clone())),
            Outcome::NotStarted => report.not_started.push(c.key.clone()),
        }
    }
    // A refresh-only plan accepts drift: the observed values become the last applied ones. Applying always
    // records itself (the serial moves), so the same saved plan cannot apply twice.
    let accept: Vec<(String, serde_json::Value)> =
        if plan.mode == crate::plan::PlanMode::RefreshOnly {
            plan.resource_drift
                .iter()
                .map(|d| (d.address.clone(), d.after.clone()))
                .collect()
        } else {
            Vec::new()
        };
    let serial = cx
        .commit(|s| {
            for (addr, observed) in accept {
                if let Some(r) = s.resources.get_mut(&addr) {
                    match (r.attributes.as_object_mut(), observed.as_object()) {
                        (Some(last), Some(obs)) => {
                            for (k, v) in obs {
                                if last.contains_key(k) {
                                    last.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        _ => r.attributes = observed,
                    }
                }
            }
        })
        .await?;
    report.serial = serial;
    report.deferred = cx.deferred.lock().expect("deferred lock").clone();
    Ok(report)
}

/// Operations a killed apply left in flight whose object the plan now finds as desired (no-op): the operation
/// finished after the kill, so its address is recorded in state as the completed operation would have done.
/// Without this a converged address would stay unmanaged (and `destroy` would leave it behind).
async fn adopt_settled(cx: &Ctx, plan: &Plan) -> Result<(), ApplyError> {
    let (left, managed): (Vec<String>, Vec<String>) = cx.writer.read(|s| {
        (
            s.in_flight.iter().map(|f| f.address.clone()).collect(),
            s.resources.keys().cloned().collect(),
        )
    });
    let settled: Vec<&ResourceChange> = plan
        .resource_changes
        .iter()
        .filter(|c| c.action == Action::NoOp)
        .filter(|c| left.contains(&c.address) && !managed.contains(&c.address))
        .collect();
    if settled.is_empty() {
        return Ok(());
    }
    let now = cx.now();
    cx.commit(|s| {
        for c in settled {
            let mut ids = c.arm_ids.clone();
            if c.kind == "protected_vm"
                && !ids.contains_key("rpi")
                && let Some(id) = ids.get("id").cloned()
            {
                ids.insert("rpi".into(), id);
            }
            s.resources.insert(
                c.address.clone(),
                ResourceState {
                    kind: c.kind.clone(),
                    arm_ids: ids,
                    lifecycle_id: None,
                    attributes: c.change.after.clone(),
                    active_site: matches!(c.kind.as_str(), "protected_vm" | "recovery_plan")
                        .then_some(crate::state::Site::Primary),
                    updated_at: now,
                },
            );
            s.in_flight.retain(|f| f.address != c.address);
        }
    })
    .await?;
    Ok(())
}

async fn run_change(cx: &Ctx, c: &ResourceChange) -> Result<(), String> {
    let op = c.action.as_str().to_string();
    cx.hooks.on_event(&Event::OperationStarted {
        address: c.address.clone(),
        operation: op.clone(),
    });
    let started = cx.now();
    // An operation a killed apply left in flight for this address: wait for it to end before acting, so the
    // change below reads (and adopts) its result instead of starting it again.
    let (resumed, left): (bool, Vec<String>) = cx.writer.read(|s| {
        let mine: Vec<&InFlight> = s
            .in_flight
            .iter()
            .filter(|f| f.address == c.address)
            .collect();
        (
            !mine.is_empty(),
            mine.iter().filter_map(|f| f.operation_id.clone()).collect(),
        )
    });
    let mut cx = cx.clone();
    cx.resumed = resumed;
    let cx = &cx;
    for handle in left {
        if handle.to_ascii_lowercase().contains("/replicationjobs/") {
            cx.hooks.on_event(&Event::Message {
                level: hooks::Level::Info,
                text: format!(
                    "{}: adopting ASR job {handle} left in flight by an earlier apply",
                    c.address
                ),
            });
            // Its failure does not stop this change: the change below starts over from what exists.
            let _ = ops::wait_job(cx, &handle, &c.address).await;
        }
    }
    cx.commit(|s| {
        s.in_flight.retain(|f| f.address != c.address);
        s.in_flight.push(InFlight {
            address: c.address.clone(),
            operation: op.clone(),
            operation_id: None,
            started_at: started,
        })
    })
    .await
    .map_err(|e| e.to_string())?;
    let result = if c.action.is_dr() {
        dr_ops::execute(cx, c).await
    } else {
        ops::execute(cx, c).await
    };
    let now = cx.now();
    let outcome = match &result {
        Ok(_) => hooks::OperationOutcome::Applied,
        Err(e) => hooks::OperationOutcome::Failed(e.to_string()),
    };
    let elapsed: std::time::Duration = (now - started).try_into().unwrap_or_default();
    // The in-flight record goes away either way: a failed operation is not running any more.
    let write = cx
        .commit(|s| {
            s.in_flight
                .retain(|f| !(f.address == c.address && f.operation == op));
            if let Ok(update) = &result {
                match update {
                    StateUpdate::Set(rs) => {
                        let mut rs = rs.clone();
                        rs.updated_at = now;
                        s.resources.insert(c.address.clone(), rs);
                    }
                    StateUpdate::Remove => {
                        s.resources.remove(&c.address);
                    }
                    StateUpdate::Many(list) => {
                        for (a, rs) in list {
                            let mut rs = rs.clone();
                            rs.updated_at = now;
                            s.resources.insert(a.clone(), rs);
                        }
                    }
                }
            }
        })
        .await;
    cx.hooks.on_event(&Event::OperationFinished {
        address: c.address.clone(),
        operation: op,
        outcome,
        elapsed,
    });
    write.map_err(|e| e.to_string())?;
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// What a completed operation changes in state.
#[derive(Clone, Debug)]
pub(crate) enum StateUpdate {
    /// Record the address.
    Set(ResourceState),
    /// Forget the address.
    Remove,
    /// Record several addresses (DR steps update the plan and its VMs).
    Many(Vec<(String, ResourceState)>),
}

/// Whether an action creates or changes the object (as opposed to deleting it).
pub(crate) fn writes(a: Action) -> bool {
    matches!(a, Action::Create | Action::Update | Action::Replace)
}

/// Reads live state for `config` (vault- and resource-group-scope lists) and diffs it: the I/O half of planning,
/// shared by `plan`, `apply` and the tests. Returns the plan and the snapshot it used.
pub async fn plan_live(
    config: &Config,
    graph: &crate::graph::ResourceGraph,
    client: &ArmClient,
    state: Option<&State>,
    opts: &crate::plan::PlanOptions,
) -> Result<(Plan, crate::provider::Snapshot), PlanLiveError> {
    let req = crate::plan::snapshot_request(config);
    let mut snap = crate::provider::arm::snapshot::read(client, &req).await?;
    let mut opts = opts.clone();
    if opts.now.is_none() {
        opts.now = Some(client.clock().now());
    }
    let plan = crate::plan::diff(config, graph, &snap, state, &opts)?;
    // Read through Resource Graph: what the plan would change is confirmed with ARM GETs first.
    let (mut plan, confirmed) =
        fresh::confirm_graph_plan(client, config, graph, state, &opts, &mut snap, plan).await?;
    let now = opts.now.unwrap_or_else(|| client.clock().now());
    if let Some(read_at) = snap.graph_read_at {
        let age = client.clock().now() - read_at;
        plan.live_read = Some(crate::plan::LiveRead {
            source: "resource_graph".into(),
            read_at: read_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            age_seconds: age.whole_seconds().max(0) as u64,
            confirmed,
        });
    }
    // Live refinements the pure differ cannot make: per-VM recovery points of a change-recovery-point step, and
    // the readiness gates of failover-type steps (their errors refuse the plan, naming each VM).
    let mut problems = crate::dr::change_point::annotate(client, &mut plan, now).await?;
    let gates =
        crate::dr::readiness::gate(client, config, state, &snap, &mut plan, &opts.readiness)
            .await?;
    for d in gates.iter() {
        problems.push(d.clone());
    }
    if problems.has_errors() {
        return Err(PlanLiveError::Refused(problems));
    }
    Ok((plan, snap))
}

/// Why a live plan failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanLiveError {
    /// Reading live state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Provider(#[from] ProviderError),
    /// A guard (prevent_destroy / prevent_reseed) refused the plan.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Refused(#[from] crate::config::Diagnostics),
}
