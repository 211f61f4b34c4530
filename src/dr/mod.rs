//! The DR operations engine: recovery point selection, failover/commit/reprotect/failback, drills, status and
//! readiness gates.
//!
//! It owns the *sequence* of ASR calls for one DR operation on one target (a recovery plan or a set of protected
//! items): guarding each call with the item's live `allowedOperations` and scenario, waiting through the ARM
//! client, walking recovery-plan groups in order (pausing on manual steps through a confirmation callback),
//! re-discovering items after reprotect by lifecycle id, and measuring what happened. It must not print, read
//! configuration, or write state: the plan/apply layer decides *what* to run and records the outcome; the CLI
//! renders progress from [`Hooks`] events.

pub mod change_point;
pub mod drill;
pub mod points;
pub mod readiness;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_like::join_all;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::apply::hooks::Level;
pub use crate::apply::hooks::{Event, Hooks, NoHooks};

/// What a DR progress message reports; mapped onto the apply hooks' events by `emit`.
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
use crate::provider::arm::lro::JobTracker;
use crate::provider::arm::{ArmClient, ops, snapshot, wire};
use crate::provider::model::ProtectedItem;
use crate::provider::{ArmId, ProviderError};
pub use points::{ChosenPoint, NoPointError, PointInfo, PointPolicy};

mod futures_like {
    //! A tiny `join_all` over tokio tasks-free futures, so the engine does not need the `futures` crate.
    use std::future::Future;

    /// Runs all futures concurrently on the current task and returns their outputs in order.
    pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
        let mut set = Vec::with_capacity(futs.len());
        for f in futs {
            set.push(Box::pin(f));
        }
        let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in set.iter_mut().enumerate() {
                if out[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => out[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter()
            .map(|o| o.expect("every future finished"))
            .collect()
    }
}

/// What a DR step acts on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// A recovery plan: its groups run in order (Shutdown, Failover, then each Boot group).
    RecoveryPlan {
        /// The plan's ARM id.
        id: ArmId,
    },
    /// One or more protected items, run concurrently.
    Items {
        /// The items.
        items: Vec<ItemRef>,
    },
}

/// A protected item as the caller knows it: its current RPI id and its stable lifecycle id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRef {
    /// Current RPI id (changes on reprotect).
    pub rpi: ArmId,
    /// ASR lifecycle id (stable), used to re-discover the item after reprotect.
    pub lifecycle_id: Option<String>,
}

/// `sourceSiteOperations` of a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceSite {
    /// `Required`: shut the source down first (a "planned" failover, zero data loss).
    Required,
    /// `NotRequired`: never touch the source (outage).
    NotRequired,
}

/// Failover direction relative to the recovery plan's declared fabrics (for reporting and plan rendering). ASR
/// calls on an item always go from the item's current primary, which after reprotect is the former recovery side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Direction {
    /// Primary region to recovery region.
    #[default]
    PrimaryToRecovery,
    /// Back (failback).
    RecoveryToPrimary,
}

/// The inputs of a reprotect (container switch protection) that live state cannot supply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReprotectInput {
    /// Target container of the reverse container mapping.
    pub recovery_container_id: ArmId,
    /// Policy of the reverse mapping.
    pub policy_id: ArmId,
    /// Resource group for the replicated VM in the new target region; default: the resource group of the VM the
    /// item originally protected (as ASR does for failback to the original VM).
    pub recovery_resource_group_id: Option<ArmId>,
    /// Cache storage account in the now-active region; when set, every failed-over managed disk is listed with it.
    pub cache_storage_account_id: Option<ArmId>,
    /// Wait until the reprotected item is `Protected` again (initial replication done) before returning.
    pub wait_protected: bool,
    /// Per-item settings for the new direction, by lower-case lifecycle id; they win over the shared fields above
    /// (VMs of one recovery plan may use different cache accounts, resource groups and disk types).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, ItemReprotect>,
}

/// The configured settings of one item for the direction a reprotect sets up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemReprotect {
    /// Cache storage account in the now-active region.
    pub cache_storage_account_id: Option<ArmId>,
    /// Resource group of the replica VM and disks.
    pub recovery_resource_group_id: Option<ArmId>,
    /// Target availability set.
    pub recovery_availability_set_id: Option<ArmId>,
    /// Target availability zone.
    pub recovery_availability_zone: Option<String>,
    /// Disk SKU rules, first match wins (the configuration's `disk` blocks).
    #[serde(default)]
    pub disks: Vec<DiskRule>,
}

/// The SKUs for the disks whose name matches a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskRule {
    /// Glob over the disk name (`*`, `*-data*`).
    pub selector: String,
    /// Target disk SKU.
    pub target_disk_type: Option<String>,
    /// Replica disk SKU.
    pub replica_disk_type: Option<String>,
}

impl ItemReprotect {
    /// The first rule matching `disk_name`.
    fn disk_rule(&self, disk_name: &str) -> Option<&DiskRule> {
        self.disks.iter().find(|r| {
            globset::Glob::new(&r.selector).is_ok_and(|g| g.compile_matcher().is_match(disk_name))
        })
    }
}

/// One DR operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Operation {
    /// Test failover into `network`.
    TestFailover {
        /// Test VNet.
        network: ArmId,
        /// Recovery point policy.
        recovery_point: PointPolicy,
    },
    /// Clean up a test failover.
    TestFailoverCleanup,
    /// Failover.
    Failover {
        /// Shut the source down first or not.
        source_site_operations: SourceSite,
        /// Recovery point policy.
        recovery_point: PointPolicy,
    },
    /// Change the recovery point of a failed-over, uncommitted item.
    ChangeRecoveryPoint {
        /// Policy for the new point.
        recovery_point: PointPolicy,
    },
    /// Commit a failover.
    Commit,
    /// Cancel an uncommitted failover.
    Cancel,
    /// Reverse replication.
    Reprotect(ReprotectInput),
    /// Fail back a reprotected item: failover, commit, then reprotect to the original direction.
    Failback {
        /// Shut the (recovery-side) source down first or not.
        source_site_operations: SourceSite,
        /// Recovery point policy.
        recovery_point: PointPolicy,
        /// The reverse-of-reverse reprotect inputs (the original mapping).
        reprotect: ReprotectInput,
    },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Self::TestFailover { .. } => "test failover",
            Self::TestFailoverCleanup => "test failover cleanup",
            Self::Failover { .. } => "failover",
            Self::ChangeRecoveryPoint { .. } => "change recovery point",
            Self::Commit => "commit",
            Self::Cancel => "cancel failover",
            Self::Reprotect(_) => "reprotect",
            Self::Failback { .. } => "failback",
        }
    }
}

/// A manual step of a recovery plan that waits for confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualStep {
    /// The group it belongs to (`Shutdown`, `Failover`, `Group 1`, …).
    pub group: String,
    /// `start` or `end` of the group.
    pub when: String,
    /// The action's name.
    pub name: String,
    /// The instruction text.
    pub description: String,
}

/// Confirms manual steps. The CLI implements prompts or `--continue`; returning `false` stops the run before the
/// next group (nothing new starts; what ran is reported).
#[async_trait::async_trait]
pub trait Confirm: Send + Sync {
    /// Awaited before the run goes past a manual step.
    async fn confirm(&self, step: &ManualStep) -> bool;
}

/// One DR step: an operation on a target, with the recovery points already resolved by the planner (per RPI id,
/// lower case); a missing entry is resolved from live recovery points right before the operation runs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Step {
    /// What to act on.
    pub target: Target,
    /// What to do.
    pub operation: Operation,
    /// Direction (reporting; see [`Direction`]).
    #[serde(default)]
    pub direction: Direction,
    /// Chosen points per RPI id (lower case).
    #[serde(default)]
    pub points: BTreeMap<String, ChosenPoint>,
    /// Manual-step confirmation; without one, a manual step stops the run with [`DrError::ManualStep`].
    #[serde(skip)]
    pub confirm: Option<Arc<dyn Confirm>>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("target", &self.target)
            .field("operation", &self.operation)
            .field("direction", &self.direction)
            .field("points", &self.points)
            .field("confirm", &self.confirm.is_some())
            .finish()
    }
}

/// Timing of one recovery-plan group (or the single group of an item step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTiming {
    /// Group name.
    pub name: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// End.
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// Manual steps confirmed in this group.
    pub manual_steps: Vec<ManualStep>,
    /// Script/runbook actions of this group (ASR runs them; recorded here as declared).
    pub scripts: Vec<String>,
}

/// What happened to one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmOutcome {
    /// RPI id the operation started on.
    pub rpi: ArmId,
    /// Lifecycle id.
    pub lifecycle_id: Option<String>,
    /// Friendly name.
    pub name: String,
    /// Group it ran in.
    pub group: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// End.
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// ASR jobs that carried it.
    pub jobs: Vec<String>,
    /// The recovery point used (failover, test failover, change recovery point).
    pub recovery_point: Option<ChosenPoint>,
    /// Data loss achieved in seconds (failover): zero for a planned failover.
    pub data_loss_secs: Option<u64>,
    /// The RPI id after reprotect/failback.
    pub new_rpi: Option<ArmId>,
    /// The error, when this VM failed.
    pub error: Option<String>,
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// Operation name.
    pub operation: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// End.
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// Per group, in run order.
    pub groups: Vec<GroupTiming>,
    /// Per VM.
    pub vms: Vec<VmOutcome>,
    /// Whether the run stopped early (a manual step not confirmed, or a group failed).
    pub stopped_early: bool,
}

impl StepOutcome {
    /// Every ASR job id, in VM order.
    pub fn jobs(&self) -> Vec<String> {
        self.vms
            .iter()
            .flat_map(|v| v.jobs.iter().cloned())
            .collect()
    }

    /// The VMs that failed.
    pub fn failed(&self) -> impl Iterator<Item = &VmOutcome> {
        self.vms.iter().filter(|v| v.error.is_some())
    }
}

/// Errors of the DR engine.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DrError {
    /// A call to Azure failed.
    #[error("{what}: {source}")]
    #[diagnostic(code(asrform::dr::provider))]
    Provider {
        /// What was being done.
        what: String,
        /// The provider's error.
        #[source]
        #[diagnostic_source]
        source: ProviderError,
    },
    /// An object the step names does not exist.
    #[error("{0} was not found")]
    #[diagnostic(
        code(asrform::dr::not_found),
        help(
            "re-run plan: the object may have been removed or reprotected (its id changes on reprotect)"
        )
    )]
    NotFound(String),
    /// An item is not in a state that allows the operation.
    #[error("{vm}: cannot {operation}: it is {state}; expected {expected}")]
    #[diagnostic(code(asrform::dr::unexpected_state))]
    UnexpectedState {
        /// The VM.
        vm: String,
        /// The operation.
        operation: String,
        /// What it is.
        state: String,
        /// What was expected.
        expected: String,
    },
    /// No recovery point satisfies the policy.
    #[error(transparent)]
    #[diagnostic(transparent)]
    NoPoint(#[from] NoPointError),
    /// A manual step needs confirmation and none was given.
    #[error("manual step '{}' of {} needs confirmation: {}", .0.name, .0.group, .0.description)]
    #[diagnostic(
        code(asrform::dr::manual_step),
        help("carry out the step, then re-run with --continue")
    )]
    ManualStep(ManualStep),
    /// Writing a drill report failed.
    #[error("cannot write the drill report {path}: {message}")]
    #[diagnostic(code(asrform::dr::report_io))]
    ReportIo {
        /// Path.
        path: String,
        /// Why.
        message: String,
    },
    /// A drill ran but at least one check failed (the report is still written).
    #[error("drill failed: {0}")]
    #[diagnostic(code(asrform::dr::drill_failed))]
    DrillFailed(String),
}

fn provider(what: impl Into<String>) -> impl FnOnce(ProviderError) -> DrError {
    let what = what.into();
    move |source| DrError::Provider { what, source }
}

pub(crate) fn emit(
    hooks: &dyn Hooks,
    at: OffsetDateTime,
    subject: &str,
    kind: EventKind,
    msg: String,
) {
    // The engine's steps are reported as timestamped messages on the shared progress stream; per-operation
    // start/finish events with elapsed times are the applier's, which wraps each DR step as one operation.
    if kind == EventKind::Started {
        hooks.on_event(&Event::OperationStarted {
            address: subject.to_string(),
            operation: msg,
        });
        return;
    }
    let level = if kind == EventKind::Failed {
        Level::Error
    } else {
        Level::Info
    };
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    hooks.on_event(&Event::Message {
        level,
        text: format!("{at} {subject}: {msg}"),
    });
}

/// Reads one RPI from live state.
pub async fn read_item(client: &ArmClient, rpi: &ArmId) -> Result<Option<ProtectedItem>, DrError> {
    let w = client
        .get::<wire::ReplicationProtectedItem>(rpi.as_str())
        .await
        .map_err(provider(format!("reading {rpi}")))?;
    Ok(w.and_then(snapshot::protected_item))
}

/// Reads one RPI's raw wire form (for fields the neutral model does not carry).
async fn read_wire(
    client: &ArmClient,
    rpi: &ArmId,
) -> Result<wire::ReplicationProtectedItem, DrError> {
    client
        .get::<wire::ReplicationProtectedItem>(rpi.as_str())
        .await
        .map_err(provider(format!("reading {rpi}")))?
        .ok_or_else(|| DrError::NotFound(rpi.to_string()))
}

/// Lists an RPI's recovery points, newest first.
pub async fn list_points(client: &ArmClient, rpi: &ArmId) -> Result<Vec<PointInfo>, DrError> {
    let mut pts: Vec<PointInfo> = client
        .recovery_points(rpi)
        .await
        .map_err(provider(format!("listing recovery points of {rpi}")))?
        .iter()
        .filter_map(PointInfo::from_wire)
        .collect();
    pts.sort_by_key(|p| std::cmp::Reverse(p.time));
    Ok(pts)
}

/// The vault id an ASR object id lives under.
pub fn vault_of(id: &ArmId) -> Option<ArmId> {
    let s = id.as_str();
    let lower = s.to_ascii_lowercase();
    let at = lower.find("/providers/microsoft.recoveryservices/vaults/")?;
    let rest = &s[at + "/providers/microsoft.recoveryservices/vaults/".len()..];
    let name_len = rest.find('/').unwrap_or(rest.len());
    ArmId::parse(&s[..at + "/providers/microsoft.recoveryservices/vaults/".len() + name_len]).ok()
}

/// Finds the RPI with this lifecycle id in the vault (after reprotect its id changes).
pub async fn find_by_lifecycle(
    client: &ArmClient,
    vault: &ArmId,
    lifecycle_id: &str,
) -> Result<Option<ProtectedItem>, DrError> {
    let all = client
        .list::<wire::ReplicationProtectedItem>(&vault.join("replicationProtectedItems"))
        .await
        .map_err(provider(format!("listing protected items of {vault}")))?;
    Ok(all
        .into_iter()
        .filter_map(snapshot::protected_item)
        .find(|p| {
            p.lifecycle_id
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(lifecycle_id))
        }))
}

fn display_name(p: &ProtectedItem) -> String {
    p.friendly_name
        .clone()
        .unwrap_or_else(|| p.id.name().to_string())
}

fn describe_state(p: &ProtectedItem) -> String {
    let mut s = format!(
        "protectionState {}",
        p.protection_state.as_deref().unwrap_or("unknown")
    );
    if let Some(t) = p.test_failover_state.as_deref().filter(|t| *t != "None") {
        s.push_str(&format!(", testFailoverState {t}"));
    }
    if let Some(sc) = p.current_scenario.as_ref().filter(|_| !p.is_idle()) {
        s.push_str(&format!(", busy with {}", sc.name));
    }
    s.push_str(&format!(
        ", allowed operations [{}]",
        p.allowed_operations
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s
}

/// Checks the live item right before an operation: idle, and `allowed` is in its `allowedOperations`.
pub async fn guard(
    client: &ArmClient,
    rpi: &ArmId,
    operation: &str,
    allowed: &str,
) -> Result<ProtectedItem, DrError> {
    let p = read_item(client, rpi)
        .await?
        .ok_or_else(|| DrError::NotFound(rpi.to_string()))?;
    if !p.is_idle() || !p.allows(allowed) {
        return Err(DrError::UnexpectedState {
            vm: display_name(&p),
            operation: operation.into(),
            state: describe_state(&p),
            expected: format!("idle with {allowed} allowed"),
        });
    }
    Ok(p)
}

/// Starts an ASR action, notes the job that carries it (from the response, or from the item's current scenario
/// right after the start, since the action's final result may be the item rather than the job), and waits for it.
async fn act(
    client: &ArmClient,
    jobs: &JobTracker,
    rpi: &ArmId,
    path: &str,
    body: Option<serde_json::Value>,
    what: String,
) -> Result<Option<String>, DrError> {
    use azure_core::http::Method;
    let initial = client
        .begin(Method::Post, path, body.as_ref())
        .await
        .map_err(provider(what.clone()))?;
    let mut job = crate::provider::arm::lro::job_id(
        Some(&initial.headers),
        initial.json_value().ok().flatten().as_ref(),
    );
    // The item names the job it runs and when it started by the service's clock, which the shared tracker's
    // list filter needs: one `replicationJobs` list per vault then serves every VM of the step, where polling
    // each operation would cost a read per VM every `Retry-After`.
    let scenario = read_item(client, rpi)
        .await
        .ok()
        .flatten()
        .and_then(|p| p.current_scenario);
    if job.is_none() {
        job = scenario.as_ref().and_then(|c| c.job_id.clone());
    }
    let started = scenario
        .filter(|c| c.job_id.is_some() && c.job_id == job)
        .and_then(|c| c.start_time);
    if let (Some(j), Some(t)) = (&job, started) {
        return jobs
            .wait_since(j, t - time::Duration::minutes(1))
            .await
            .and_then(|done| done.into_result("POST", path))
            .map(Some)
            .map_err(provider(what));
    }
    let out = client
        .wait(Method::Post, path, initial)
        .await
        .map_err(|source| match (&job, source) {
            (
                Some(j),
                ProviderError::OperationFailed {
                    code,
                    message,
                    job: None,
                    ctx,
                },
            ) => DrError::Provider {
                what: what.clone(),
                source: ProviderError::OperationFailed {
                    code,
                    message,
                    job: Some(j.clone()),
                    ctx,
                },
            },
            (_, source) => DrError::Provider {
                what: what.clone(),
                source,
            },
        })?;
    Ok(job.or(out.job_id))
}

/// Executes one DR step and reports what happened. A VM that fails (unexpected state, ASR error) fails only its
/// own entry in the outcome; in a recovery plan, a group with a failure stops the later groups (boot order must
/// hold). Errors that stop the whole step (plan not found, an unconfirmed manual step) are `Err`.
pub async fn execute(
    client: &ArmClient,
    step: &Step,
    hooks: &dyn Hooks,
) -> Result<StepOutcome, DrError> {
    let clock = client.clock().clone();
    let started = clock.now();
    let groups: Vec<PlanGroup> = match &step.target {
        Target::Items { items } => vec![PlanGroup {
            name: "items".into(),
            items: items.clone(),
            start_actions: vec![],
            end_actions: vec![],
        }],
        Target::RecoveryPlan { id } => plan_groups(client, id, step).await?,
    };
    let mut out = StepOutcome {
        operation: step.operation.name().into(),
        started,
        ended: started,
        groups: vec![],
        vms: vec![],
        stopped_early: false,
    };
    // Points are resolved for the whole target up front: a multi-VM consistency group may span boot groups and
    // must still get one common point, and ASR picks a plan's points when the failover starts.
    let all: Vec<ItemRef> = groups
        .iter()
        .flat_map(|g| g.items.iter().cloned())
        .collect();
    let resolved = resolve_points(client, step, &all).await;
    let jobs = client.job_tracker();
    for g in groups {
        let g_start = clock.now();
        emit(
            hooks,
            g_start,
            &g.name,
            EventKind::Started,
            format!("{} of {}", step.operation.name(), g.name),
        );
        let mut timing = GroupTiming {
            name: g.name.clone(),
            started: g_start,
            ended: g_start,
            manual_steps: vec![],
            scripts: vec![],
        };
        if !run_actions(
            step,
            hooks,
            &clock,
            &g,
            &g.start_actions,
            "start",
            &mut timing,
        )
        .await?
        {
            out.stopped_early = true;
            timing.ended = clock.now();
            out.groups.push(timing);
            break;
        }
        let futs = g
            .items
            .iter()
            .map(|it| {
                run_item(
                    client,
                    &jobs,
                    step,
                    hooks,
                    &g.name,
                    it,
                    resolved.get(&key(&it.rpi)).cloned(),
                )
            })
            .collect();
        let results = join_all(futs).await;
        let failed = results.iter().any(|r| r.error.is_some());
        out.vms.extend(results);
        if failed {
            timing.ended = clock.now();
            emit(
                hooks,
                timing.ended,
                &g.name,
                EventKind::Failed,
                format!("{} failed in {}", step.operation.name(), g.name),
            );
            out.groups.push(timing);
            if matches!(step.target, Target::RecoveryPlan { .. }) {
                out.stopped_early = true;
                break;
            }
            continue;
        }
        if !run_actions(step, hooks, &clock, &g, &g.end_actions, "end", &mut timing).await? {
            out.stopped_early = true;
            timing.ended = clock.now();
            out.groups.push(timing);
            break;
        }
        timing.ended = clock.now();
        emit(
            hooks,
            timing.ended,
            &g.name,
            EventKind::Finished,
            format!("{} of {}", step.operation.name(), g.name),
        );
        out.groups.push(timing);
    }
    out.ended = clock.now();
    Ok(out)
}

fn key(id: &ArmId) -> String {
    id.as_str().to_ascii_lowercase()
}

struct PlanGroup {
    name: String,
    items: Vec<ItemRef>,
    start_actions: Vec<wire::RecoveryPlanAction>,
    end_actions: Vec<wire::RecoveryPlanAction>,
}

/// Which failover type a plan action is scoped to for this operation (`failoverTypes`).
fn failover_type(op: &Operation) -> Option<&'static str> {
    match op {
        Operation::TestFailover { .. } => Some("TestFailover"),
        Operation::Failover {
            source_site_operations: SourceSite::Required,
            ..
        } => Some("PlannedFailover"),
        Operation::Failover { .. } | Operation::Failback { .. } => Some("UnplannedFailover"),
        _ => None,
    }
}

fn action_applies(a: &wire::RecoveryPlanAction, step: &Step) -> bool {
    let Some(ft) = failover_type(&step.operation) else {
        return false;
    };
    let dir = match (&step.operation, step.direction) {
        (Operation::Failback { .. }, _) | (_, Direction::RecoveryToPrimary) => "RecoveryToPrimary",
        _ => "PrimaryToRecovery",
    };
    // A planned (source shut down) failover also runs actions declared for unplanned failovers: ASR A2A has only
    // unplannedFailover, and users declare actions for the type they think of.
    let type_ok = a.failover_types.is_empty()
        || a.failover_types.iter().any(|t| {
            t.eq_ignore_ascii_case(ft)
                || (ft == "PlannedFailover" && t.eq_ignore_ascii_case("UnplannedFailover"))
        });
    let dir_ok = a.failover_directions.is_empty()
        || a.failover_directions
            .iter()
            .any(|d| d.eq_ignore_ascii_case(dir));
    type_ok && dir_ok
}

async fn run_actions(
    step: &Step,
    hooks: &dyn Hooks,
    clock: &Arc<dyn crate::clock::Clock>,
    g: &PlanGroup,
    actions: &[wire::RecoveryPlanAction],
    when: &str,
    timing: &mut GroupTiming,
) -> Result<bool, DrError> {
    for a in actions.iter().filter(|a| action_applies(a, step)) {
        let kind = a.custom_details["instanceType"].as_str().unwrap_or("");
        if kind.eq_ignore_ascii_case("ManualActionDetails") {
            let m = ManualStep {
                group: g.name.clone(),
                when: when.into(),
                name: a.action_name.clone(),
                description: a.custom_details["description"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            };
            emit(
                hooks,
                clock.now(),
                &g.name,
                EventKind::Info,
                format!("manual step '{}': {}", m.name, m.description),
            );
            let Some(c) = &step.confirm else {
                return Err(DrError::ManualStep(m));
            };
            if !c.confirm(&m).await {
                emit(
                    hooks,
                    clock.now(),
                    &g.name,
                    EventKind::Failed,
                    format!("manual step '{}' not confirmed; stopping", m.name),
                );
                return Ok(false);
            }
            timing.manual_steps.push(m);
        } else {
            let what = a.custom_details["path"]
                .as_str()
                .or(a.custom_details["runbookId"].as_str())
                .unwrap_or("");
            emit(
                hooks,
                clock.now(),
                &g.name,
                EventKind::Info,
                format!("{kind} '{}' {what}", a.action_name),
            );
            timing.scripts.push(
                format!("{} ({kind}) {what}", a.action_name)
                    .trim()
                    .to_string(),
            );
        }
    }
    Ok(true)
}

async fn plan_groups(
    client: &ArmClient,
    id: &ArmId,
    step: &Step,
) -> Result<Vec<PlanGroup>, DrError> {
    let plan = client
        .get::<wire::RecoveryPlan>(id.as_str())
        .await
        .map_err(provider(format!("reading recovery plan {id}")))?
        .ok_or_else(|| DrError::NotFound(id.to_string()))?;
    // The plan may still name an item's pre-reprotect id (reprotect moves the item to the other container under
    // the same name); follow such ids to the vault's current item of that name and carry its lifecycle id.
    let current: Vec<ProtectedItem> = match vault_of(id) {
        Some(vault) => client
            .list::<wire::ReplicationProtectedItem>(&vault.join("replicationProtectedItems"))
            .await
            .map_err(provider(format!("listing protected items of {vault}")))?
            .into_iter()
            .filter_map(snapshot::protected_item)
            .collect(),
        None => Vec::new(),
    };
    let follow = |rid: ArmId| -> ItemRef {
        if let Some(p) = current.iter().find(|p| key(&p.id) == key(&rid)) {
            return ItemRef {
                rpi: p.id.clone(),
                lifecycle_id: p.lifecycle_id.clone(),
            };
        }
        match current
            .iter()
            .find(|p| p.id.name().eq_ignore_ascii_case(rid.name()))
        {
            Some(p) => ItemRef {
                rpi: p.id.clone(),
                lifecycle_id: p.lifecycle_id.clone(),
            },
            None => ItemRef {
                rpi: rid,
                lifecycle_id: None,
            },
        }
    };
    let mut out = Vec::new();
    let mut boot = 0;
    for ty in ["Shutdown", "Failover", "Boot"] {
        for g in plan
            .properties
            .groups
            .iter()
            .filter(|g| g.group_type.eq_ignore_ascii_case(ty))
        {
            let name = if ty == "Boot" {
                boot += 1;
                format!("Group {boot}")
            } else {
                ty.to_string()
            };
            let mut items = Vec::new();
            for m in &g.replication_protected_items {
                let Some(rid) = m.id.as_deref().and_then(|s| ArmId::parse(s).ok()) else {
                    continue;
                };
                items.push(follow(rid));
            }
            out.push(PlanGroup {
                name,
                items,
                start_actions: g.start_group_actions.clone(),
                end_actions: g.end_group_actions.clone(),
            });
        }
    }
    let _ = step;
    Ok(out)
}

/// Resolves recovery points for the items of one group that the step did not resolve; multi-VM groups get one
/// common point. Failures are left out: the item then fails with the selection error.
async fn resolve_points(
    client: &ArmClient,
    step: &Step,
    items: &[ItemRef],
) -> BTreeMap<String, Result<ChosenPoint, String>> {
    let (policy, planned) = match &step.operation {
        Operation::TestFailover { recovery_point, .. } => (recovery_point, false),
        Operation::Failover {
            recovery_point,
            source_site_operations,
        } => (
            recovery_point,
            *source_site_operations == SourceSite::Required,
        ),
        Operation::ChangeRecoveryPoint { recovery_point } => (recovery_point, false),
        _ => return BTreeMap::new(),
    };
    let now = client.clock().now();
    let mut out = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<(ItemRef, String, Vec<PointInfo>)>> = BTreeMap::new();
    for it in items {
        let k = key(&it.rpi);
        if let Some(c) = step.points.get(&k) {
            out.insert(k, Ok(c.clone()));
            continue;
        }
        let item = match read_item(client, &it.rpi).await {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                out.insert(k, Err(e.to_string()));
                continue;
            }
        };
        let pts = match list_points(client, &it.rpi).await {
            Ok(p) => p,
            Err(e) => {
                out.insert(k, Err(e.to_string()));
                continue;
            }
        };
        let name = display_name(&item);
        match item.multi_vm_group.clone().filter(|g| !g.is_empty()) {
            Some(g) => groups.entry(g).or_default().push((it.clone(), name, pts)),
            None => {
                out.insert(
                    k,
                    points::select(policy, &name, &pts, now, planned).map_err(|e| e.to_string()),
                );
            }
        }
    }
    for (_, members) in groups {
        let input: Vec<(String, Vec<PointInfo>)> = members
            .iter()
            .map(|(_, n, p)| (n.clone(), p.clone()))
            .collect();
        match points::select_group(policy, &input, now, planned) {
            Ok(chosen) => {
                for ((it, _, _), c) in members.iter().zip(chosen) {
                    out.insert(key(&it.rpi), Ok(c));
                }
            }
            Err(e) => {
                for (it, _, _) in &members {
                    out.insert(key(&it.rpi), Err(e.to_string()));
                }
            }
        }
    }
    out
}

async fn run_item(
    client: &ArmClient,
    jobs: &JobTracker,
    step: &Step,
    hooks: &dyn Hooks,
    group: &str,
    it: &ItemRef,
    point: Option<Result<ChosenPoint, String>>,
) -> VmOutcome {
    let clock = client.clock().clone();
    let started = clock.now();
    let mut vm = VmOutcome {
        rpi: it.rpi.clone(),
        lifecycle_id: it.lifecycle_id.clone(),
        name: it.rpi.name().to_string(),
        group: group.to_string(),
        started,
        ended: started,
        jobs: vec![],
        recovery_point: None,
        data_loss_secs: None,
        new_rpi: None,
        error: None,
    };
    emit(
        hooks,
        started,
        it.rpi.as_str(),
        EventKind::Started,
        step.operation.name().into(),
    );
    let r = run_item_inner(client, jobs, step, it, point, &mut vm).await;
    vm.ended = clock.now();
    match r {
        Ok(()) => emit(
            hooks,
            vm.ended,
            it.rpi.as_str(),
            EventKind::Finished,
            step.operation.name().into(),
        ),
        Err(e) => {
            emit(
                hooks,
                vm.ended,
                it.rpi.as_str(),
                EventKind::Failed,
                e.to_string(),
            );
            vm.error = Some(e.to_string());
        }
    }
    vm
}

fn point_of(
    point: Option<Result<ChosenPoint, String>>,
    vm: &str,
    policy: &PointPolicy,
) -> Result<ChosenPoint, DrError> {
    match point {
        Some(Ok(c)) => Ok(c),
        Some(Err(reason)) => Err(DrError::NoPoint(NoPointError {
            vm: vm.into(),
            policy: policy.to_string(),
            reason,
        })),
        None => Err(DrError::NotFound(vm.into())),
    }
}

async fn run_item_inner(
    client: &ArmClient,
    jobs: &JobTracker,
    step: &Step,
    it: &ItemRef,
    point: Option<Result<ChosenPoint, String>>,
    vm: &mut VmOutcome,
) -> Result<(), DrError> {
    const DIR: &str = "PrimaryToRecovery";
    let rpi = &it.rpi;
    let what = |op: &str| format!("{op} of {}", rpi.name());
    match &step.operation {
        Operation::TestFailover {
            network,
            recovery_point,
        } => {
            let p = guard(client, rpi, "test failover", "TestFailover").await?;
            vm.name = display_name(&p);
            let c = point_of(point, &vm.name, recovery_point)?;
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("testFailover"),
                Some(ops::test_failover_body(DIR, network, Some(&c.point.id))),
                what("test failover"),
            )
            .await?;
            vm.jobs.extend(job);
            vm.recovery_point = Some(c);
        }
        Operation::TestFailoverCleanup => {
            let p = guard(
                client,
                rpi,
                "clean up a test failover",
                "TestFailoverCleanup",
            )
            .await?;
            vm.name = display_name(&p);
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("testFailoverCleanup"),
                Some(ops::body(wire::TestFailoverCleanupInputProperties {
                    comments: Some("asrform: test failover cleanup".into()),
                })),
                what("test failover cleanup"),
            )
            .await?;
            vm.jobs.extend(job);
        }
        Operation::Failover {
            source_site_operations,
            recovery_point,
        } => {
            // Resuming a recovery plan that stopped at a manual step: the VMs of the earlier groups already failed
            // over (commit pending); they are done, not in an unexpected state.
            if matches!(step.target, Target::RecoveryPlan { .. })
                && let Some(p) = read_item(client, rpi).await?
                && p.is_idle()
                && !p.allows("UnplannedFailover")
                && p.protection_state
                    .as_deref()
                    .is_some_and(|s| s.contains("CommitPending"))
            {
                vm.name = display_name(&p);
                return Ok(());
            }
            failover(
                client,
                jobs,
                rpi,
                *source_site_operations,
                recovery_point,
                point,
                vm,
            )
            .await?;
        }
        Operation::ChangeRecoveryPoint { recovery_point } => {
            let p = guard(client, rpi, "change the recovery point", "ChangePit").await?;
            vm.name = display_name(&p);
            let c = point_of(point, &vm.name, recovery_point)?;
            let failover_at = p.last_successful_failover.unwrap_or(client.clock().now());
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("applyRecoveryPoint"),
                Some(ops::apply_recovery_point_body(&c.point.id)),
                what("apply recovery point"),
            )
            .await?;
            vm.jobs.extend(job);
            vm.data_loss_secs = Some((failover_at - c.point.time).whole_seconds().max(0) as u64);
            vm.recovery_point = Some(c);
        }
        Operation::Commit => {
            let p = guard(client, rpi, "commit", "Commit").await?;
            vm.name = display_name(&p);
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("failoverCommit"),
                None,
                what("commit"),
            )
            .await?;
            vm.jobs.extend(job);
        }
        Operation::Cancel => {
            let p = guard(client, rpi, "cancel the failover", "CancelFailover").await?;
            vm.name = display_name(&p);
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("failoverCancel"),
                None,
                what("cancel failover"),
            )
            .await?;
            vm.jobs.extend(job);
        }
        Operation::Reprotect(input) => {
            vm.new_rpi = Some(reprotect(client, jobs, rpi, input, vm).await?);
        }
        Operation::Failback {
            source_site_operations,
            recovery_point,
            reprotect: input,
        } => {
            // The planner resolves points against the reprotected item; resolve here when it did not.
            let point = match point {
                Some(p) => Some(p),
                None => {
                    let pts = list_points(client, rpi).await?;
                    let planned = *source_site_operations == SourceSite::Required;
                    Some(
                        points::select(
                            recovery_point,
                            rpi.name(),
                            &pts,
                            client.clock().now(),
                            planned,
                        )
                        .map_err(|e| e.reason),
                    )
                }
            };
            failover(
                client,
                jobs,
                rpi,
                *source_site_operations,
                recovery_point,
                point,
                vm,
            )
            .await?;
            guard(client, rpi, "commit", "Commit").await?;
            let job = act(
                client,
                jobs,
                rpi,
                &rpi.join("failoverCommit"),
                None,
                what("commit"),
            )
            .await?;
            vm.jobs.extend(job);
            vm.new_rpi = Some(reprotect(client, jobs, rpi, input, vm).await?);
        }
    }
    Ok(())
}

async fn failover(
    client: &ArmClient,
    jobs: &JobTracker,
    rpi: &ArmId,
    sso: SourceSite,
    policy: &PointPolicy,
    point: Option<Result<ChosenPoint, String>>,
    vm: &mut VmOutcome,
) -> Result<(), DrError> {
    let p = guard(client, rpi, "fail over", "UnplannedFailover").await?;
    vm.name = display_name(&p);
    let planned = sso == SourceSite::Required;
    // A planned failover shuts the source down and lets ASR take the latest point after that (zero data loss);
    // an explicit point would throw away the writes made since it.
    let chosen = if planned {
        None
    } else {
        Some(point_of(point, &vm.name, policy)?)
    };
    let at = client.clock().now();
    let job = act(
        client,
        jobs,
        rpi,
        &rpi.join("unplannedFailover"),
        Some(ops::unplanned_failover_body(
            "PrimaryToRecovery",
            planned,
            chosen.as_ref().map(|c| c.point.id.as_str()),
        )),
        format!("failover of {}", vm.name),
    )
    .await?;
    vm.jobs.extend(job);
    match chosen {
        Some(mut c) => {
            let loss = (at - c.point.time).whole_seconds().max(0) as u64;
            c.data_loss_secs = loss;
            vm.data_loss_secs = Some(loss);
            vm.recovery_point = Some(c);
        }
        None => {
            vm.data_loss_secs = Some(0);
            // Report the point ASR actually used.
            let w = read_wire(client, rpi).await?;
            if let Some(id) = w
                .properties
                .failover_recovery_point_id
                .filter(|s| !s.is_empty())
            {
                let rp = client
                    .get::<wire::RecoveryPoint>(&id)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| PointInfo::from_wire(&r));
                if let Some(point) = rp {
                    vm.recovery_point = Some(ChosenPoint {
                        vm: vm.name.clone(),
                        age_secs: (at - point.time).whole_seconds().max(0) as u64,
                        point,
                        data_loss_secs: 0,
                    });
                }
            }
        }
    }
    Ok(())
}

async fn reprotect(
    client: &ArmClient,
    jobs: &JobTracker,
    rpi: &ArmId,
    input: &ReprotectInput,
    vm: &mut VmOutcome,
) -> Result<ArmId, DrError> {
    let p = guard(client, rpi, "reprotect", "SwitchProtection").await?;
    vm.name = display_name(&p);
    let lifecycle = p
        .lifecycle_id
        .clone()
        .or_else(|| vm.lifecycle_id.clone())
        .ok_or_else(|| DrError::UnexpectedState {
            vm: vm.name.clone(),
            operation: "reprotect".into(),
            state: "without a lifecycle id".into(),
            expected: "an A2A item with providerSpecificDetails.lifecycleId".into(),
        })?;
    vm.lifecycle_id = Some(lifecycle.clone());
    let w = read_wire(client, rpi).await?;
    let a2a = w
        .properties
        .provider_specific_details
        .as_ref()
        .and_then(|d| d.known())
        .cloned()
        .unwrap_or_default();
    let own = input
        .items
        .get(&lifecycle.to_ascii_lowercase())
        .cloned()
        .unwrap_or_default();
    let rg = own
        .recovery_resource_group_id
        .clone()
        .or_else(|| input.recovery_resource_group_id.clone())
        .or_else(|| {
            p.source_vm_id.as_ref().and_then(|vmid| {
                let sub = vmid.subscription()?;
                let rg = vmid.resource_group()?;
                ArmId::parse(&format!("/subscriptions/{sub}/resourceGroups/{rg}")).ok()
            })
        });
    // Every failed-over disk is listed with the cache account, so the new direction keeps the configured cache
    // and disk SKUs instead of whatever ASR would pick.
    let cache = own
        .cache_storage_account_id
        .clone()
        .or_else(|| input.cache_storage_account_id.clone());
    let disks = match &cache {
        Some(cache) => a2a
            .protected_managed_disks
            .iter()
            .filter_map(|d| {
                let disk_id = d.recovery_target_disk_id.clone()?;
                let rule = own.disk_rule(disk_id.rsplit('/').next().unwrap_or(""));
                let target = rule.and_then(|r| r.target_disk_type.clone());
                let replica = rule.and_then(|r| r.replica_disk_type.clone());
                Some(wire::A2AVmManagedDiskInputDetails {
                    disk_id,
                    primary_staging_azure_storage_account_id: cache.to_string(),
                    recovery_resource_group_id: rg
                        .as_ref()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    recovery_target_disk_account_type: target,
                    recovery_replica_disk_account_type: replica,
                    ..Default::default()
                })
            })
            .collect(),
        None => vec![],
    };
    let sw = wire::A2ASwitchProtectionInput {
        recovery_container_id: Some(input.recovery_container_id.to_string()),
        policy_id: Some(input.policy_id.to_string()),
        recovery_resource_group_id: rg.map(|r| r.to_string()),
        recovery_availability_set_id: own.recovery_availability_set_id.map(|a| a.to_string()),
        recovery_availability_zone: own.recovery_availability_zone,
        vm_managed_disks: disks,
        ..Default::default()
    };
    let job = act(
        client,
        jobs,
        rpi,
        &rpi.parent()
            .ok_or_else(|| DrError::NotFound(format!("the container of {rpi}")))?
            .join("switchprotection"),
        Some(ops::switch_protection_body(rpi.name(), sw)),
        format!("reprotect of {}", vm.name),
    )
    .await?;
    vm.jobs.extend(job);
    let vault = vault_of(rpi).ok_or_else(|| DrError::NotFound(format!("the vault of {rpi}")))?;
    let new = find_by_lifecycle(client, &vault, &lifecycle)
        .await?
        .ok_or_else(|| {
            DrError::NotFound(format!(
                "the reprotected item of {} (lifecycle id {lifecycle})",
                vm.name
            ))
        })?;
    if input.wait_protected {
        wait_protected(client, &new.id).await?;
    }
    Ok(new.id)
}

/// Waits (on the client's clock) until an item finished initial replication and is idle.
pub async fn wait_protected(client: &ArmClient, rpi: &ArmId) -> Result<ProtectedItem, DrError> {
    loop {
        let p = read_item(client, rpi)
            .await?
            .ok_or_else(|| DrError::NotFound(rpi.to_string()))?;
        if p.is_idle()
            && p.vm_protection_state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Protected"))
        {
            return Ok(p);
        }
        client
            .clock()
            .sleep(std::time::Duration::from_secs(60))
            .await;
    }
}
