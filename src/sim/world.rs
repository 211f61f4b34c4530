//! The simulated world: every resource, ASR object, job and operation, and the replication model.
//!
//! Owns the state (BTreeMaps keyed by lower-cased ARM id, so iteration and ids are deterministic), seeding from an
//! [`Estate`], the lazy event queue ([`World::settle`]: a job's effect is applied when the clock passes its end, on
//! the next access, never by a background thread), and the time functions of replication: recovery points, RPO,
//! health and disk content versions. It must not parse HTTP or render error envelopes: that is [`super::api`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::estate::{self, Estate};

use super::faults::FaultSet;
use super::throttle::Buckets;

/// ASR's normal per-VM churn limit (limits.md §2.2), MB/s.
pub const VM_CHURN_LIMIT_MB_S: f64 = 54.0;
/// Churn budget of one cache storage account: 750 disks at 4 MB/s (limits.md §2.3, V2 accounts), MB/s.
pub const CACHE_ACCOUNT_BUDGET_MB_S: f64 = 3000.0;
/// Crash-consistent points are taken every 5 minutes (fixed by ASR).
pub const CRASH_POINT_SECS: i64 = 300;

/// Durations of the simulated jobs, in simulated seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Durations {
    /// Fabric, container, mapping, policy, network mapping, recovery plan create/update/delete.
    pub config_secs: u64,
    /// The enable-protection job (before initial replication starts).
    pub enable_secs: u64,
    /// Test failover.
    pub test_failover_secs: u64,
    /// Test failover cleanup.
    pub cleanup_secs: u64,
    /// (Unplanned) failover.
    pub failover_secs: u64,
    /// Commit.
    pub commit_secs: u64,
    /// Switch protection (reprotect), before the resynchronisation.
    pub switch_protection_secs: u64,
    /// Disable protection.
    pub disable_secs: u64,
    /// Change recovery point, cancel failover and other RPI actions.
    pub other_secs: u64,
}

impl Default for Durations {
    fn default() -> Self {
        Self {
            config_secs: 30,
            enable_secs: 120,
            test_failover_secs: 180,
            cleanup_secs: 60,
            failover_secs: 180,
            commit_secs: 30,
            switch_protection_secs: 120,
            disable_secs: 60,
            other_secs: 60,
        }
    }
}

/// Tunables of the simulator. Persisted with the world.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SimConfig {
    /// Items per page of list endpoints (`nextLink` pagination).
    pub page_size: usize,
    /// `Retry-After` seconds sent with long-running operations.
    pub retry_after_secs: u64,
    /// Latency added to every request, waited on the simulator's clock (milliseconds).
    pub latency_ms: u64,
    /// ARM token-bucket throttling on or off.
    pub throttling: bool,
    /// Initial-replication throughput per VM, MB/s.
    pub ir_throughput_mb_s: f64,
    /// Fraction of a full initial replication that a reprotect resynchronisation takes.
    pub resync_factor: f64,
    /// Job durations.
    pub durations: Durations,
    /// How many request-log entries are kept (oldest dropped first).
    pub log_limit: usize,
    /// Azure Resource Graph: quota, per-page latency, index lag.
    pub graph: super::graph::GraphConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            retry_after_secs: 10,
            latency_ms: 0,
            throttling: true,
            ir_throughput_mb_s: 100.0,
            resync_factor: 0.1,
            durations: Durations::default(),
            log_limit: 100_000,
            graph: Default::default(),
        }
    }
}

/// A generic ARM resource: its wire JSON plus what the simulator needs to route and throttle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Res {
    /// The id in the casing it is returned with.
    pub id: String,
    /// Subscription id.
    pub sub: String,
    /// Region, when the resource has one.
    pub location: Option<String>,
    /// The JSON answered on GET (`id`, `name`, `type`, `location`, `properties`, …).
    pub body: Value,
    /// ETag counter, bumped on every change.
    pub etag: u64,
}

impl Res {
    /// The resource type from the body, lower-cased.
    pub fn kind(&self) -> String {
        self.body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase()
    }
}

/// Running intervals of a VM: disk content grows only while it runs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VmRun {
    /// `(start, end)`; `end = None` while running.
    pub intervals: Vec<(OffsetDateTime, Option<OffsetDateTime>)>,
    /// Stopped by a region outage (restarted when the region comes back).
    pub stopped_by_outage: bool,
}

impl VmRun {
    /// Whether the VM runs at `t`.
    pub fn running_at(&self, t: OffsetDateTime) -> bool {
        self.intervals
            .iter()
            .any(|(s, e)| *s <= t && e.is_none_or(|e| t < e))
    }
    /// Seconds of running time within `[from, to]`.
    pub fn running_secs(&self, from: OffsetDateTime, to: OffsetDateTime) -> f64 {
        self.intervals
            .iter()
            .map(|(s, e)| {
                let a = (*s).max(from);
                let b = e.unwrap_or(to).min(to);
                if b > a { (b - a).as_seconds_f64() } else { 0.0 }
            })
            .sum()
    }
    fn stop(&mut self, t: OffsetDateTime) {
        if let Some(last) = self.intervals.last_mut()
            && last.1.is_none()
        {
            last.1 = Some(t.max(last.0));
        }
    }
    fn start(&mut self, t: OffsetDateTime) {
        if !self.running_at(t) {
            self.intervals.push((t, None));
        }
    }
}

/// Content model of one managed disk: a version number (MB written) that grows with churn while its VM runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DiskContent {
    /// Lower-cased id of the VM the disk is attached to.
    pub vm: Option<String>,
    /// Version at `base_at`.
    pub base: f64,
    /// When `base` was set (seeding, or the failover that created the disk).
    pub base_at: OffsetDateTime,
    /// Write churn, MB/s.
    pub churn: f64,
}

/// One protected disk of an RPI.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpiDisk {
    /// Source disk id (display casing).
    pub disk_id: String,
    /// Disk name.
    pub name: String,
    /// Size in bytes.
    pub capacity_bytes: u64,
    /// Cache (staging) storage account id.
    pub cache_account: String,
    /// Resource group for replica and target disks.
    pub recovery_rg: String,
    /// Replica and target disk SKUs.
    pub replica_type: String,
    /// Target disk SKU.
    pub target_type: String,
    /// Target disk created by the last failover.
    pub target_disk_id: Option<String>,
}

/// The failover in effect (commit pending or committed).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverInfo {
    /// Time of the recovery point applied.
    pub point_time: OffsetDateTime,
    /// Recovery point id applied.
    pub point_id: String,
    /// The VM created (or reused) in the recovery region.
    pub target_vm_id: String,
    /// Whether the source was shut down first (`sourceSiteOperations: Required`).
    pub source_shut_down: bool,
    /// When the failover started.
    pub started: OffsetDateTime,
}

/// A replication protected item.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rpi {
    /// ARM id (`/Subscriptions/` casing).
    pub id: String,
    /// Name.
    pub name: String,
    /// Vault id (lower-cased key of the vault resource).
    pub vault: String,
    /// Fabric id.
    pub fabric_id: String,
    /// Container id.
    pub container_id: String,
    /// Stable identity across switch protection.
    pub lifecycle_id: String,
    /// The VM being replicated (source side).
    pub source_vm_id: String,
    /// Policy id.
    pub policy_id: String,
    /// Recovery container id.
    pub recovery_container_id: String,
    /// Recovery fabric id.
    pub recovery_fabric_id: String,
    /// Region of the source side.
    pub primary_location: String,
    /// Region of the recovery side.
    pub recovery_location: String,
    /// A2A enable input plus later updates, kept as sent (camelCase keys).
    pub settings: Value,
    /// NIC settings (`vmNics` as answered), updated by PATCH.
    pub vm_nics: Vec<Value>,
    /// Protected disks.
    pub disks: Vec<RpiDisk>,
    /// When the enable (or switch protection) job finished and replication started.
    pub replication_started: Option<OffsetDateTime>,
    /// When initial replication (or resync) completes.
    pub protected_at: Option<OffsetDateTime>,
    /// `Protected`, `UnprotectedStatesBegin`, `UnplannedFailoverCommitPendingStatesBegin`, `UnplannedFailoverCommitted`.
    pub protection_state: String,
    /// `Primary` or `Recovery`.
    pub active_location: String,
    /// `None` or `WaitingForCompletion`.
    pub test_failover_state: String,
    /// VM created by the running test failover.
    pub tfo_vm_id: Option<String>,
    /// Failover in effect.
    pub failover: Option<FailoverInfo>,
    /// The job currently running against the item.
    pub current_job: Option<String>,
    /// Explicit extra points (the final point taken after a source shutdown), unix seconds.
    pub extra_points: Vec<i64>,
    /// VM that failover writes to instead of creating one (failback onto the original VM).
    pub failback_vm_id: Option<String>,
    /// Last successful failover and test failover.
    pub last_failover: Option<OffsetDateTime>,
    /// Last successful test failover.
    pub last_test_failover: Option<OffsetDateTime>,
    /// The error (code, message) its enable-protection job ended with: ASR keeps such an item, never replicating,
    /// until protection is disabled.
    #[serde(default)]
    pub enable_failed: Option<(String, String)>,
}

/// A task inside a job.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Task name.
    pub name: String,
    /// Shown name.
    pub friendly_name: String,
    /// Simulated seconds the task takes.
    pub secs: u64,
    /// Instance type of the task's custom details (`ManualActionTaskDetails`, `ScriptActionTaskDetails`, …).
    pub kind: String,
    /// Runs alongside the task before it instead of after it: ASR fails over the VMs of one recovery-plan group
    /// together, so a group lasts as long as its slowest VM, not the sum of them.
    #[serde(default)]
    pub parallel: bool,
}

impl Task {
    /// Whether the task waits for an operator (`POST …/replicationJobs/{id}/resume`) before the job goes on.
    pub fn is_manual(&self) -> bool {
        self.kind == "ManualActionTaskDetails"
    }
}

/// Where each task of a job sits in time, given the resumes received so far.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// Start and end of each task reached; `None` for tasks after a suspension.
    pub spans: Vec<Option<(OffsetDateTime, OffsetDateTime)>>,
    /// The manual task the job waits at and since when.
    pub suspended: Option<(usize, OffsetDateTime)>,
    /// When the job ends (`None` while it waits for a resume).
    pub end: Option<OffsetDateTime>,
}

/// What happens when a job completes successfully.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Effect {
    /// Nothing beyond the job record.
    None,
    /// Create or replace a resource.
    Upsert(Box<Res>),
    /// Remove resources by lower-cased id (and their children).
    Remove(Vec<String>),
    /// Enable protection finished: replication starts.
    EnableDone(String),
    /// Update of an RPI's settings.
    UpdateRpi(String, Value, Vec<Value>),
    /// Test failover to the point at the given time into the given network.
    TestFailover(String, i64, String),
    /// Test failover cleanup.
    Cleanup(String),
    /// Failover to a point (rpi, point unix time, point id, source shut down).
    Failover(String, i64, String, bool),
    /// Commit.
    Commit(String),
    /// Cancel failover.
    Cancel(String),
    /// Change recovery point (rpi, point unix time, point id).
    ChangePit(String, i64, String),
    /// Switch protection (old rpi key, switch input).
    Switch(String, Value),
    /// Disable protection.
    Disable(String),
    /// Several effects in order (recovery plans).
    Many(Vec<Effect>),
}

/// An ASR job.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// ARM id.
    pub id: String,
    /// Name (GUID-like).
    pub name: String,
    /// Vault key.
    pub vault: String,
    /// Scenario (`EnableDr`, `TestFailover`, …).
    pub scenario: String,
    /// Shown name.
    pub friendly_name: String,
    /// Target object.
    pub target_id: String,
    /// Target name.
    pub target_name: String,
    /// `ProtectionEntity`, `RecoveryPlan`, …
    pub target_type: String,
    /// Start.
    pub start: OffsetDateTime,
    /// Tasks in order.
    pub tasks: Vec<Task>,
    /// Error the job ends with (code, message), from a fault or a failed precondition found while running.
    pub fail: Option<(String, String)>,
    /// When it was cancelled.
    pub cancelled_at: Option<OffsetDateTime>,
    /// Effect on success.
    pub effect: Effect,
    /// Effect applied (or skipped because failed/cancelled).
    pub settled: bool,
    /// RPI or plan keys whose `currentScenario` points at this job.
    pub holders: Vec<String>,
    /// Times of the `resume` calls received, in order: the n-th releases the n-th manual task.
    #[serde(default)]
    pub resumes: Vec<OffsetDateTime>,
}

impl Job {
    /// Lays the tasks out in time: sequential tasks one after another, `parallel` ones alongside the task before,
    /// and each manual task held until its resume.
    pub fn timeline(&self) -> Timeline {
        let mut spans = Vec::with_capacity(self.tasks.len());
        let mut cursor = self.start;
        let mut batch_start = self.start;
        let mut resumes = self.resumes.iter();
        for (i, t) in self.tasks.iter().enumerate() {
            let s = if t.parallel {
                batch_start
            } else {
                batch_start = cursor;
                cursor
            };
            let e = if t.is_manual() {
                match resumes.next() {
                    Some(r) => (*r).max(s),
                    None => {
                        spans.push(None);
                        spans.resize(self.tasks.len(), None);
                        return Timeline {
                            spans,
                            suspended: Some((i, s)),
                            end: None,
                        };
                    }
                }
            } else {
                s + time::Duration::seconds(t.secs as i64)
            };
            spans.push(Some((s, e)));
            cursor = cursor.max(e);
        }
        Timeline {
            spans,
            suspended: None,
            end: Some(cursor),
        }
    }
    /// When the job ends (`None` while it waits at a manual task).
    pub fn end(&self) -> Option<OffsetDateTime> {
        self.timeline().end
    }
    /// Whether the job still holds its items (running or waiting for a resume).
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        matches!(self.state(now), "InProgress" | "Suspended")
    }
    /// `InProgress`, `Suspended`, `Succeeded`, `Failed` or `Cancelled` at `now`.
    pub fn state(&self, now: OffsetDateTime) -> &'static str {
        let tl = self.timeline();
        if self.cancelled_at.is_some() {
            "Cancelled"
        } else if let Some((_, since)) = tl.suspended {
            if now < since {
                "InProgress"
            } else {
                "Suspended"
            }
        } else if tl.end.is_some_and(|e| now < e) {
            "InProgress"
        } else if self.fail.is_some() {
            "Failed"
        } else {
            "Succeeded"
        }
    }
}

/// An operation-status record behind `Azure-AsyncOperation` / `Location`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Op {
    /// Operation id.
    pub id: String,
    /// Backing job (ASR) or none (ARM resources).
    pub job: Option<String>,
    /// Done at (ARM operations without a job).
    pub done_at: OffsetDateTime,
    /// Started.
    pub start: OffsetDateTime,
    /// Resource answered by a finished `Location` poll; `None` answers 204.
    pub result: Option<String>,
}

/// One line of the request log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Sequence number.
    pub seq: u64,
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Status answered (0 for a dropped connection).
    pub status: u16,
    /// Simulated time.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Operation kind (`ReplicationFabrics_Create`, `VirtualMachines_Get`, …).
    pub operation: String,
    /// `Retry-After` seconds answered, if any (429s and long-running operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The whole simulated world.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct World {
    /// Tunables.
    pub config: SimConfig,
    /// Counter behind deterministic ids.
    pub counter: u64,
    /// Subscriptions known (lower-case ids).
    pub subscriptions: BTreeSet<String>,
    /// Generic resources by lower-cased id.
    pub resources: BTreeMap<String, Res>,
    /// Protected items by lower-cased id.
    pub rpis: BTreeMap<String, Rpi>,
    /// Jobs by lower-cased id.
    pub jobs: BTreeMap<String, Job>,
    /// Operations by id.
    pub ops: BTreeMap<String, Op>,
    /// Jobs by the time their effect is due (end, or cancellation), so settling is a pop, not a scan.
    pub due: BTreeSet<(OffsetDateTime, String)>,
    /// VM running intervals by lower-cased VM id.
    pub vm_runs: BTreeMap<String, VmRun>,
    /// Disk content by lower-cased disk id.
    pub disk_content: BTreeMap<String, DiskContent>,
    /// Regions down, with the time they went down.
    pub outages: BTreeMap<String, OffsetDateTime>,
    /// Fault rules.
    pub faults: FaultSet,
    /// Throttling buckets per subscription.
    pub buckets: BTreeMap<String, Buckets>,
    /// Request log.
    pub log: Vec<LogEntry>,
    /// Next log sequence number.
    pub log_seq: u64,
    /// Azure Resource Graph: quota windows and lagged rows (`sim::graph`).
    pub graph: super::graph::GraphState,
}

impl Default for World {
    fn default() -> Self {
        World::new(SimConfig::default())
    }
}

/// Lower-cases an id for use as a map key, and trims a trailing slash.
pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// RFC 3339 text of a time.
pub fn ts(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The last segment of an id.
pub fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The parent id (drops the last two segments).
pub fn parent_id(id: &str) -> String {
    let segs: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    segs[..segs.len().saturating_sub(2)].join("/")
}

impl World {
    /// An empty world.
    pub fn new(config: SimConfig) -> Self {
        Self {
            config,
            counter: 0,
            subscriptions: BTreeSet::new(),
            resources: BTreeMap::new(),
            rpis: BTreeMap::new(),
            jobs: BTreeMap::new(),
            ops: BTreeMap::new(),
            due: BTreeSet::new(),
            vm_runs: BTreeMap::new(),
            disk_content: BTreeMap::new(),
            outages: BTreeMap::new(),
            faults: FaultSet::default(),
            buckets: BTreeMap::new(),
            log: Vec::new(),
            log_seq: 0,
            graph: Default::default(),
        }
    }

    /// A deterministic GUID-shaped id: a hash of `salt` and the next counter value.
    pub fn guid(&mut self, salt: &str) -> String {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update(self.counter.to_le_bytes());
        let d = h.finalize();
        let x: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-4{}-8{}-{}",
            &x[0..8],
            &x[8..12],
            &x[13..16],
            &x[17..20],
            &x[20..32]
        )
    }

    /// Inserts or replaces a resource, bumping its ETag.
    pub fn put_res(&mut self, mut res: Res) {
        let k = key(&res.id);
        res.etag = self.resources.get(&k).map(|r| r.etag + 1).unwrap_or(1);
        self.resources.insert(k, res);
    }

    /// A resource by id (any casing).
    pub fn res(&self, id: &str) -> Option<&Res> {
        self.resources.get(&key(id))
    }

    /// Seeds subscriptions, resource groups, networks, storage accounts, VMs, NICs and disks from an estate. VMs
    /// start running at `now`.
    pub fn seed(&mut self, estate: &Estate, now: OffsetDateTime) {
        for sub in &estate.subscriptions {
            self.subscriptions.insert(sub.id.to_ascii_lowercase());
            for rg in &sub.resource_groups {
                let rg_id = estate::ids::resource_group(&sub.id, &rg.name);
                self.put_res(Res {
                    id: rg_id.clone(),
                    sub: sub.id.clone(),
                    location: Some(rg.location.clone()),
                    body: json!({"id": rg_id, "name": rg.name, "type": "Microsoft.Resources/resourceGroups",
                        "location": rg.location, "properties": {"provisioningState": "Succeeded"}}),
                    etag: 0,
                });
                for net in &rg.networks {
                    let loc = net.location.clone().unwrap_or_else(|| rg.location.clone());
                    let space: Vec<String> =
                        net.address_space.iter().map(|n| n.to_string()).collect();
                    let subnets: Vec<(String, String)> = net
                        .subnets
                        .iter()
                        .map(|s| (s.name.clone(), s.address_prefix.to_string()))
                        .collect();
                    self.put_vnet(&sub.id, &rg.name, &net.name, &loc, &space, &subnets);
                }
                for sa in &rg.storage_accounts {
                    let loc = sa.location.clone().unwrap_or_else(|| rg.location.clone());
                    let id = estate::ids::storage_account(&sub.id, &rg.name, &sa.name);
                    self.put_res(Res {
                        id: id.clone(),
                        sub: sub.id.clone(),
                        location: Some(loc.clone()),
                        body: json!({"id": id, "name": sa.name, "type": "Microsoft.Storage/storageAccounts",
                            "location": loc, "kind": sa.kind, "sku": {"name": "Standard_LRS"},
                            "properties": {"provisioningState": "Succeeded"}}),
                        etag: 0,
                    });
                }
                for vm in &rg.vms {
                    let loc = vm.location.clone().unwrap_or_else(|| rg.location.clone());
                    let vm_id = estate::ids::vm(&sub.id, &rg.name, &vm.name);
                    let mut nic_ids = Vec::new();
                    for (i, nic) in vm.nics.iter().enumerate() {
                        let net_rg = nic
                            .network_resource_group
                            .clone()
                            .unwrap_or_else(|| rg.name.clone());
                        let subnet_id =
                            estate::ids::subnet(&sub.id, &net_rg, &nic.network, &nic.subnet);
                        let nic_id = estate::ids::nic(&sub.id, &rg.name, &nic.name);
                        self.put_nic(
                            &nic_id,
                            &sub.id,
                            &loc,
                            &subnet_id,
                            &nic.private_ip.to_string(),
                            Some(&vm_id),
                            i == 0,
                        );
                        nic_ids.push(nic_id);
                    }
                    let mut disks = Vec::new();
                    for (lun, d) in std::iter::once(&vm.os_disk)
                        .chain(vm.data_disks.iter())
                        .enumerate()
                    {
                        let disk_id = estate::ids::disk(&sub.id, &rg.name, &d.name);
                        self.put_disk(
                            &disk_id,
                            &sub.id,
                            &loc,
                            d.size_gb,
                            &d.sku,
                            vm.zone.as_deref(),
                            Some(&vm_id),
                            &vm.os_type,
                            lun == 0,
                        );
                        self.disk_content.insert(
                            key(&disk_id),
                            DiskContent {
                                vm: Some(key(&vm_id)),
                                base: 0.0,
                                base_at: now,
                                churn: d.churn_mb_s,
                            },
                        );
                        disks.push((disk_id, d.name.clone(), lun));
                    }
                    self.put_vm(
                        &vm_id,
                        &sub.id,
                        &loc,
                        &vm.size,
                        vm.zone.as_deref(),
                        &vm.os_type,
                        &nic_ids,
                        &disks,
                        None,
                    );
                    self.vm_runs.insert(
                        key(&vm_id),
                        VmRun {
                            intervals: vec![(now, None)],
                            stopped_by_outage: false,
                        },
                    );
                }
            }
        }
    }

    /// Creates a VNet with subnets.
    pub fn put_vnet(
        &mut self,
        sub: &str,
        rg: &str,
        name: &str,
        loc: &str,
        space: &[String],
        subnets: &[(String, String)],
    ) {
        let id = estate::ids::vnet(sub, rg, name);
        let subnet_bodies: Vec<Value> = subnets
            .iter()
            .map(|(n, p)| json!({"id": format!("{id}/subnets/{n}"), "name": n, "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": {"addressPrefix": p, "provisioningState": "Succeeded"}}))
            .collect();
        self.put_res(Res {
            id: id.clone(),
            sub: sub.to_string(),
            location: Some(loc.to_string()),
            body: json!({"id": id, "name": name, "type": "Microsoft.Network/virtualNetworks", "location": loc,
                "properties": {"provisioningState": "Succeeded", "addressSpace": {"addressPrefixes": space},
                    "subnets": subnet_bodies}}),
            etag: 0,
        });
    }

    /// Creates a NIC.
    #[allow(clippy::too_many_arguments)]
    pub fn put_nic(
        &mut self,
        id: &str,
        sub: &str,
        loc: &str,
        subnet_id: &str,
        ip: &str,
        vm: Option<&str>,
        primary: bool,
    ) {
        let name = last_segment(id).to_string();
        let mut props = json!({"provisioningState": "Succeeded", "primary": primary,
            "ipConfigurations": [{"id": format!("{id}/ipConfigurations/ipconfig1"), "name": "ipconfig1",
                "properties": {"privateIPAddress": ip, "privateIPAllocationMethod": "Static", "primary": true,
                    "subnet": {"id": subnet_id}}}]});
        if let Some(vm) = vm {
            props["virtualMachine"] = json!({"id": vm});
        }
        self.put_res(Res {
            id: id.to_string(),
            sub: sub.to_string(),
            location: Some(loc.to_string()),
            body: json!({"id": id, "name": name, "type": "Microsoft.Network/networkInterfaces", "location": loc, "properties": props}),
            etag: 0,
        });
    }

    /// Creates a managed disk.
    #[allow(clippy::too_many_arguments)]
    pub fn put_disk(
        &mut self,
        id: &str,
        sub: &str,
        loc: &str,
        size_gb: u32,
        sku: &str,
        zone: Option<&str>,
        vm: Option<&str>,
        os: &str,
        is_os: bool,
    ) {
        let name = last_segment(id).to_string();
        let mut body = json!({"id": id, "name": name, "type": "Microsoft.Compute/disks", "location": loc,
            "sku": {"name": sku},
            "properties": {"diskSizeGB": size_gb, "diskSizeBytes": (size_gb as u64) << 30, "provisioningState": "Succeeded",
                "diskState": if vm.is_some() { "Attached" } else { "Unattached" }, "creationData": {"createOption": "Empty"}}});
        if let Some(vm) = vm {
            body["managedBy"] = json!(vm);
        }
        if is_os {
            body["properties"]["osType"] = json!(os);
        }
        if let Some(z) = zone {
            body["zones"] = json!([z]);
        }
        self.put_res(Res {
            id: id.to_string(),
            sub: sub.to_string(),
            location: Some(loc.to_string()),
            body,
            etag: 0,
        });
    }

    /// Creates a VM resource (power state is computed from its running intervals when read).
    #[allow(clippy::too_many_arguments)]
    pub fn put_vm(
        &mut self,
        id: &str,
        sub: &str,
        loc: &str,
        size: &str,
        zone: Option<&str>,
        os: &str,
        nics: &[String],
        disks: &[(String, String, usize)],
        avset: Option<&str>,
    ) {
        let name = last_segment(id).to_string();
        let nic_refs: Vec<Value> = nics
            .iter()
            .enumerate()
            .map(|(i, n)| json!({"id": n, "properties": {"primary": i == 0}}))
            .collect();
        let os_disk = disks
            .first()
            .map(|(id, n, _)| {
                json!({"name": n, "osType": os, "createOption": "FromImage",
            "managedDisk": {"id": id}})
            })
            .unwrap_or(Value::Null);
        let data: Vec<Value> = disks
            .iter()
            .skip(1)
            .map(|(id, n, lun)| {
                json!({"lun": lun - 1, "name": n,
            "createOption": "Attach", "managedDisk": {"id": id}})
            })
            .collect();
        let mut body = json!({"id": id, "name": name, "type": "Microsoft.Compute/virtualMachines", "location": loc,
            "properties": {"vmId": "", "provisioningState": "Succeeded", "hardwareProfile": {"vmSize": size},
                "storageProfile": {"osDisk": os_disk, "dataDisks": data},
                "networkProfile": {"networkInterfaces": nic_refs}}});
        let vm_guid = self.guid(id);
        body["properties"]["vmId"] = json!(vm_guid);
        if let Some(z) = zone {
            body["zones"] = json!([z]);
        }
        if let Some(a) = avset {
            body["properties"]["availabilitySet"] = json!({"id": a});
        }
        self.put_res(Res {
            id: id.to_string(),
            sub: sub.to_string(),
            location: Some(loc.to_string()),
            body,
            etag: 0,
        });
    }

    /// Managed disks of a VM: (id, name) with the OS disk first.
    pub fn vm_disks(&self, vm_id: &str) -> Vec<(String, String)> {
        let Some(vm) = self.res(vm_id) else {
            return Vec::new();
        };
        let sp = &vm.body["properties"]["storageProfile"];
        let mut out = Vec::new();
        if let Some(id) = sp["osDisk"]["managedDisk"]["id"].as_str() {
            out.push((
                id.to_string(),
                sp["osDisk"]["name"].as_str().unwrap_or("").to_string(),
            ));
        }
        for d in sp["dataDisks"].as_array().into_iter().flatten() {
            if let Some(id) = d["managedDisk"]["id"].as_str() {
                out.push((id.to_string(), d["name"].as_str().unwrap_or("").to_string()));
            }
        }
        out
    }

    /// NIC ids of a VM.
    pub fn vm_nics(&self, vm_id: &str) -> Vec<String> {
        self.res(vm_id)
            .and_then(|vm| {
                vm.body["properties"]["networkProfile"]["networkInterfaces"]
                    .as_array()
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n["id"].as_str().map(str::to_string))
            .collect()
    }

    /// Content version of a disk at `t` (MB written), `None` if unknown.
    pub fn disk_content(&self, disk_id: &str, t: OffsetDateTime) -> Option<u64> {
        let c = self.disk_content.get(&key(disk_id))?;
        let secs = match c.vm.as_ref().and_then(|vm| self.vm_runs.get(vm)) {
            Some(run) if t > c.base_at => run.running_secs(c.base_at, t),
            _ => 0.0,
        };
        Some((c.base + secs * c.churn).floor() as u64)
    }

    /// The content version a disk was created or last reset with (before its VM's own writes).
    pub fn disk_content_at_base(&self, disk_id: &str) -> Option<u64> {
        self.disk_content
            .get(&key(disk_id))
            .map(|c| c.base.floor() as u64)
    }

    /// Total churn of a VM's disks, MB/s.
    pub fn vm_churn(&self, vm_id: &str) -> f64 {
        self.vm_disks(vm_id)
            .iter()
            .filter_map(|(d, _)| self.disk_content.get(&key(d)))
            .map(|c| c.churn)
            .sum()
    }

    /// Whether the VM runs at `t`.
    pub fn vm_running(&self, vm_id: &str, t: OffsetDateTime) -> bool {
        self.vm_runs
            .get(&key(vm_id))
            .is_some_and(|r| r.running_at(t))
    }

    /// Stops a VM at `t`.
    pub fn stop_vm(&mut self, vm_id: &str, t: OffsetDateTime) {
        self.vm_runs.entry(key(vm_id)).or_default().stop(t);
    }

    /// Starts a VM at `t`.
    pub fn start_vm(&mut self, vm_id: &str, t: OffsetDateTime) {
        self.vm_runs.entry(key(vm_id)).or_default().start(t);
    }

    /// Takes a region down or brings it back. Down: its VMs stop; back: the VMs the outage stopped start again.
    pub fn set_outage(&mut self, region: &str, down: bool, now: OffsetDateTime) {
        let region = region.to_ascii_lowercase();
        let vms: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, r)| {
                r.kind() == "microsoft.compute/virtualmachines"
                    && r.location.as_deref() == Some(region.as_str())
            })
            .map(|(k, _)| k.clone())
            .collect();
        if down {
            self.outages.entry(region).or_insert(now);
            for vm in vms {
                let run = self.vm_runs.entry(vm).or_default();
                if run.running_at(now) {
                    run.stop(now);
                    run.stopped_by_outage = true;
                }
            }
        } else {
            self.outages.remove(&region);
            for vm in vms {
                let run = self.vm_runs.entry(vm).or_default();
                if run.stopped_by_outage {
                    run.stopped_by_outage = false;
                    run.start(now);
                }
            }
        }
    }

    /// Whether a region is down.
    pub fn region_down(&self, region: &str) -> bool {
        self.outages.contains_key(&region.to_ascii_lowercase())
    }

    /// Applies the effects of every job that ended at or before `now`, in end-time order.
    pub fn settle(&mut self, now: OffsetDateTime) {
        // Effects never start jobs, so popping the due index in time order is complete.
        while let Some((t, k)) = self.due.first().cloned() {
            if t > now {
                break;
            }
            self.due.pop_first();
            let Some(job) = self.jobs.get_mut(&k) else {
                continue;
            };
            if job.settled {
                continue;
            }
            job.settled = true;
            let job = job.clone();
            for h in &job.holders {
                if let Some(r) = self.rpis.get_mut(h)
                    && r.current_job.as_deref() == Some(k.as_str())
                {
                    r.current_job = None;
                }
            }
            if job.cancelled_at.is_none() && job.fail.is_none() {
                let end = job.end().unwrap_or(t);
                if let Err((code, msg)) = self.apply(&job.effect, end)
                    && let Some(j) = self.jobs.get_mut(&k)
                {
                    j.fail = Some((code, msg));
                }
            }
            if let Effect::EnableDone(item) = &job.effect
                && let Some(fail) = self.jobs.get(&k).and_then(|j| j.fail.clone())
                && let Some(r) = self.rpis.get_mut(item)
            {
                r.enable_failed = Some(fail);
            }
        }
    }

    fn apply(&mut self, effect: &Effect, at: OffsetDateTime) -> Result<(), (String, String)> {
        match effect {
            Effect::None => {}
            Effect::Upsert(res) => self.put_res((**res).clone()),
            Effect::Remove(keys) => {
                for k in keys {
                    let prefix = format!("{k}/");
                    self.resources
                        .retain(|rk, _| rk != k && !rk.starts_with(&prefix));
                    self.rpis
                        .retain(|rk, _| rk != k && !rk.starts_with(&prefix));
                }
            }
            Effect::EnableDone(k) => {
                let ir = self.ir_secs(k, 1.0);
                if let Some(r) = self.rpis.get_mut(k) {
                    r.replication_started = Some(at);
                    r.protected_at = Some(at + time::Duration::seconds_f64(ir));
                }
            }
            Effect::UpdateRpi(k, settings, nics) => {
                if let Some(r) = self.rpis.get_mut(k) {
                    merge(&mut r.settings, settings);
                    if !nics.is_empty() {
                        r.vm_nics = nics.clone();
                    }
                }
            }
            Effect::TestFailover(k, point, network) => {
                let vm = self.materialise(k, *point, at, Some(network))?;
                if let Some(r) = self.rpis.get_mut(k) {
                    r.tfo_vm_id = Some(vm);
                    r.test_failover_state = "WaitingForCompletion".into();
                    r.last_test_failover = Some(at);
                }
            }
            Effect::Cleanup(k) => {
                if let Some(vm) = self.rpis.get_mut(k).and_then(|r| r.tfo_vm_id.take()) {
                    self.delete_vm_deep(&vm);
                }
                if let Some(r) = self.rpis.get_mut(k) {
                    r.test_failover_state = "None".into();
                }
            }
            Effect::Failover(k, point, point_id, shut) => {
                let started = at;
                let vm = self.materialise(k, *point, at, None)?;
                if let Some(r) = self.rpis.get_mut(k) {
                    r.failover = Some(FailoverInfo {
                        point_time: OffsetDateTime::from_unix_timestamp(*point).unwrap_or(at),
                        point_id: point_id.clone(),
                        target_vm_id: vm,
                        source_shut_down: *shut,
                        started,
                    });
                    r.protection_state = "UnplannedFailoverCommitPendingStatesBegin".into();
                    r.active_location = "Recovery".into();
                    r.last_failover = Some(at);
                }
            }
            Effect::ChangePit(k, point, point_id) => {
                let Some(r) = self.rpis.get(k).cloned() else {
                    return Ok(());
                };
                let Some(f) = r.failover.clone() else {
                    return Ok(());
                };
                let pt = OffsetDateTime::from_unix_timestamp(*point).unwrap_or(at);
                for d in &r.disks {
                    let content = self.disk_content(&d.disk_id, pt).unwrap_or(0) as f64;
                    if let Some(t) = d
                        .target_disk_id
                        .as_ref()
                        .and_then(|t| self.disk_content.get_mut(&key(t)))
                    {
                        t.base = content;
                        t.base_at = at;
                    }
                }
                if let Some(r) = self.rpis.get_mut(k) {
                    r.failover = Some(FailoverInfo {
                        point_time: pt,
                        point_id: point_id.clone(),
                        ..f
                    });
                }
            }
            Effect::Commit(k) => {
                if let Some(r) = self.rpis.get_mut(k) {
                    r.protection_state = "UnplannedFailoverCommitted".into();
                }
            }
            Effect::Cancel(k) => {
                let Some(r) = self.rpis.get(k).cloned() else {
                    return Ok(());
                };
                if let Some(f) = &r.failover {
                    if r.failback_vm_id.is_none() {
                        self.delete_vm_deep(&f.target_vm_id);
                    } else {
                        self.stop_vm(&f.target_vm_id, at);
                    }
                    if f.source_shut_down {
                        self.start_vm(&r.source_vm_id, at);
                    }
                }
                if let Some(r) = self.rpis.get_mut(k) {
                    r.failover = None;
                    r.protection_state = "Protected".into();
                    r.active_location = "Primary".into();
                }
            }
            Effect::Switch(k, input) => self.switch_protection(k, input, at)?,
            Effect::Disable(k) => {
                self.rpis.remove(k);
            }
            Effect::Many(list) => {
                for e in list {
                    self.apply(e, at)?;
                }
            }
        }
        Ok(())
    }

    /// Initial replication (or resync, `factor < 1`) time of an RPI in seconds, from its disk sizes.
    pub fn ir_secs(&self, rpi_key: &str, factor: f64) -> f64 {
        let Some(r) = self.rpis.get(rpi_key) else {
            return 0.0;
        };
        let mb: f64 = r
            .disks
            .iter()
            .map(|d| d.capacity_bytes as f64 / 1_048_576.0)
            .sum();
        mb / self.config.ir_throughput_mb_s.max(0.001) * factor
    }

    /// Creates (or, for failback, reuses) the VM, NICs and disks a failover or test failover brings up, with disk
    /// content equal to the source at `point` (unix seconds). Returns the VM id.
    fn materialise(
        &mut self,
        k: &str,
        point: i64,
        at: OffsetDateTime,
        test_network: Option<&str>,
    ) -> Result<String, (String, String)> {
        let r = self
            .rpis
            .get(k)
            .cloned()
            .ok_or_else(|| ("150098".to_string(), "protected item vanished".to_string()))?;
        let pt = OffsetDateTime::from_unix_timestamp(point).unwrap_or(at);
        let src = self.res(&r.source_vm_id).cloned().ok_or_else(|| {
            (
                "150039".to_string(),
                format!("source VM '{}' not found", r.source_vm_id),
            )
        })?;
        let sub = r.settings["recoveryResourceGroupId"]
            .as_str()
            .and_then(|id| id.split('/').nth(2))
            .unwrap_or(&src.sub)
            .to_string();
        let rg_id = r.settings["recoveryResourceGroupId"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if self.res(&rg_id).is_none() {
            return Err((
                "150076".into(),
                format!("target resource group '{rg_id}' does not exist"),
            ));
        }
        // Failback writes onto the original VM: its disks take the replicated content and it starts again.
        if test_network.is_none()
            && let Some(orig) = r.failback_vm_id.clone()
            && self.res(&orig).is_some()
        {
            for (i, (disk, _)) in self.vm_disks(&orig).iter().enumerate() {
                let src_disk = r
                    .disks
                    .get(i)
                    .map(|d| d.disk_id.clone())
                    .unwrap_or_default();
                let content = self.disk_content(&src_disk, pt).unwrap_or(0) as f64;
                if let Some(c) = self.disk_content.get_mut(&key(disk)) {
                    c.base = content;
                    c.base_at = at;
                }
                if let Some(d) = self.rpis.get_mut(k).and_then(|rr| rr.disks.get_mut(i)) {
                    d.target_disk_id = Some(disk.clone());
                }
            }
            self.start_vm(&orig, at);
            return Ok(orig);
        }
        let base_name = r.settings["recoveryAzureVMName"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| last_segment(&src.id).to_string());
        let vm_name = match test_network {
            Some(_) => r.settings["tfoAzureVMName"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{base_name}-test")),
            None => base_name,
        };
        let vm_id = format!("{rg_id}/providers/Microsoft.Compute/virtualMachines/{vm_name}");
        if self.res(&vm_id).is_some() {
            return Err((
                "150064".into(),
                format!("a VM named '{vm_name}' already exists in '{rg_id}'"),
            ));
        }
        let loc = r.recovery_location.clone();
        let size = r.settings["recoveryAzureVMSize"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                src.body["properties"]["hardwareProfile"]["vmSize"]
                    .as_str()
                    .unwrap_or("Standard_D2s_v5")
                    .to_string()
            });
        let zone = r.settings["recoveryAvailabilityZone"]
            .as_str()
            .filter(|z| !z.is_empty())
            .map(str::to_string);
        let avset = r.settings["recoveryAvailabilitySetId"]
            .as_str()
            .filter(|z| !z.is_empty())
            .map(str::to_string);
        let os = src.body["properties"]["storageProfile"]["osDisk"]["osType"]
            .as_str()
            .unwrap_or("Linux")
            .to_string();
        let network = match test_network {
            Some(n) => Some(n.to_string()),
            None => r.settings["selectedRecoveryAzureNetworkId"]
                .as_str()
                .or(r.settings["recoveryAzureNetworkId"].as_str())
                .map(str::to_string)
                .or_else(|| self.mapped_network(&r)),
        };
        let network = network.filter(|n| !n.is_empty()).ok_or_else(|| {
            (
                "150070".to_string(),
                "no recovery network: set a network mapping or selectedRecoveryAzureNetworkId"
                    .to_string(),
            )
        })?;
        let vnet = self.res(&network).cloned().ok_or_else(|| {
            (
                "150071".to_string(),
                format!("network '{network}' not found"),
            )
        })?;
        let mut nic_ids = Vec::new();
        for (i, nic) in r.vm_nics.iter().enumerate() {
            let ipc = nic["ipConfigs"].get(0).cloned().unwrap_or(Value::Null);
            let (subnet_key, ip_key) = if test_network.is_some() {
                ("tfoSubnetName", "tfoStaticIPAddress")
            } else {
                ("recoverySubnetName", "recoveryStaticIPAddress")
            };
            let subnet_name = ipc[subnet_key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .or_else(|| {
                    r.settings["recoverySubnetName"]
                        .as_str()
                        .map(str::to_string)
                })
                .or_else(|| {
                    vnet.body["properties"]["subnets"][0]["name"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "default".into());
            let subnet_id = format!("{}/subnets/{subnet_name}", vnet.id);
            let exists = vnet.body["properties"]["subnets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&subnet_name))
                });
            if !exists {
                return Err((
                    "150072".into(),
                    format!("subnet '{subnet_name}' not found in network '{}'", vnet.id),
                ));
            }
            let src_ip = self
                .res(nic["sourceNicArmId"].as_str().unwrap_or(""))
                .and_then(|n| {
                    n.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let ip = ipc[ip_key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or(src_ip);
            let nic_name = nic["recoveryNicName"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{vm_name}-nic{i}"));
            let nic_id =
                format!("{rg_id}/providers/Microsoft.Network/networkInterfaces/{nic_name}");
            self.put_nic(&nic_id, &sub, &loc, &subnet_id, &ip, Some(&vm_id), i == 0);
            nic_ids.push(nic_id);
        }
        let mut disks = Vec::new();
        for (lun, d) in r.disks.iter().enumerate() {
            let name = if test_network.is_some() {
                format!("{}-test", d.name)
            } else {
                format!("{}-asr", d.name)
            };
            let disk_rg = if d.recovery_rg.is_empty() {
                rg_id.clone()
            } else {
                d.recovery_rg.clone()
            };
            let disk_id = format!("{disk_rg}/providers/Microsoft.Compute/disks/{name}");
            let gb = (d.capacity_bytes >> 30) as u32;
            self.put_disk(
                &disk_id,
                &sub,
                &loc,
                gb,
                &d.target_type,
                zone.as_deref(),
                Some(&vm_id),
                &os,
                lun == 0,
            );
            let content = self.disk_content(&d.disk_id, pt).unwrap_or(0) as f64;
            let churn = self
                .disk_content
                .get(&key(&d.disk_id))
                .map(|c| c.churn)
                .unwrap_or(0.0);
            self.disk_content.insert(
                key(&disk_id),
                DiskContent {
                    vm: Some(key(&vm_id)),
                    base: content,
                    base_at: at,
                    churn,
                },
            );
            disks.push((disk_id.clone(), name, lun));
            if test_network.is_none()
                && let Some(rr) = self.rpis.get_mut(k)
            {
                rr.disks[lun].target_disk_id = Some(disk_id);
            }
        }
        self.put_vm(
            &vm_id,
            &sub,
            &loc,
            &size,
            zone.as_deref(),
            &os,
            &nic_ids,
            &disks,
            avset.as_deref(),
        );
        self.vm_runs.insert(
            key(&vm_id),
            VmRun {
                intervals: vec![(at, None)],
                stopped_by_outage: false,
            },
        );
        Ok(vm_id)
    }

    /// The recovery network from a network mapping of the source VM's (first NIC's) VNet.
    fn mapped_network(&self, r: &Rpi) -> Option<String> {
        let nic = self.vm_nics(&r.source_vm_id).into_iter().next()?;
        let subnet =
            self.res(&nic)?.body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
                .as_str()?
                .to_string();
        let vnet = key(&parent_id(&subnet));
        self.resources.values().find(|m| {
            m.kind() == "microsoft.recoveryservices/vaults/replicationfabrics/replicationnetworks/replicationnetworkmappings"
                && m.body["properties"]["primaryNetworkId"].as_str().is_some_and(|p| key(p) == vnet)
        }).and_then(|m| m.body["properties"]["recoveryNetworkId"].as_str().map(str::to_string))
    }

    /// Deletes a VM with its NICs and disks.
    pub fn delete_vm_deep(&mut self, vm_id: &str) {
        let nics = self.vm_nics(vm_id);
        let disks = self.vm_disks(vm_id);
        for n in nics {
            self.resources.remove(&key(&n));
        }
        for (d, _) in disks {
            self.resources.remove(&key(&d));
            self.disk_content.remove(&key(&d));
        }
        self.resources.remove(&key(vm_id));
        self.vm_runs.remove(&key(vm_id));
    }

    fn switch_protection(
        &mut self,
        k: &str,
        input: &Value,
        at: OffsetDateTime,
    ) -> Result<(), (String, String)> {
        let old = self
            .rpis
            .get(k)
            .cloned()
            .ok_or_else(|| ("150098".to_string(), "protected item vanished".to_string()))?;
        let f = old
            .failover
            .clone()
            .ok_or_else(|| ("150100".to_string(), "item has not failed over".to_string()))?;
        // `input` is the request body as sent (`{"properties": {"providerSpecificDetails": …}}`); the A2A input
        // carries the new direction's disk, cache and placement settings, which the reversed item must keep.
        let psd = if input["properties"].is_object() {
            &input["properties"]["providerSpecificDetails"]
        } else {
            &input["providerSpecificDetails"]
        };
        // The reversed item lives in the container it failed over to and replicates to the reverse mapping's
        // target container (`recoveryContainerId`, validated by the API to be the old primary container).
        let new_container = old.recovery_container_id.clone();
        let new_recovery_container = psd["recoveryContainerId"]
            .as_str()
            .unwrap_or(&old.container_id)
            .to_string();
        let new_fabric = parent_id(&new_container);
        let new_id = format!("{new_container}/replicationProtectedItems/{}", old.name);
        let new_vm = f.target_vm_id.clone();
        let target_disks = self.vm_disks(&new_vm);
        let inputs: Vec<Value> = psd["vmManagedDisks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut disks = Vec::new();
        for (i, (disk_id, name)) in target_disks.iter().enumerate() {
            let inp = inputs
                .iter()
                .find(|d| d["diskId"].as_str().is_some_and(|x| key(x) == key(disk_id)));
            let cap = self
                .res(disk_id)
                .and_then(|d| d.body["properties"]["diskSizeBytes"].as_u64())
                .unwrap_or(0);
            let prev = old.disks.get(i);
            disks.push(RpiDisk {
                disk_id: disk_id.clone(),
                name: name.clone(),
                capacity_bytes: cap,
                cache_account: inp
                    .and_then(|d| d["primaryStagingAzureStorageAccountId"].as_str())
                    .unwrap_or("")
                    .to_string(),
                recovery_rg: inp
                    .and_then(|d| d["recoveryResourceGroupId"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        parent_id(&parent_id(&old.source_vm_id))
                            .trim_end_matches("/providers")
                            .to_string()
                    }),
                replica_type: inp
                    .and_then(|d| d["recoveryReplicaDiskAccountType"].as_str())
                    .map(str::to_string)
                    .or_else(|| prev.map(|p| p.replica_type.clone()))
                    .unwrap_or_else(|| "Premium_LRS".into()),
                target_type: inp
                    .and_then(|d| d["recoveryTargetDiskAccountType"].as_str())
                    .map(str::to_string)
                    .or_else(|| prev.map(|p| p.target_type.clone()))
                    .unwrap_or_else(|| "Premium_LRS".into()),
                target_disk_id: None,
            });
        }
        let mut settings = json!({});
        if let Some(obj) = psd.as_object() {
            // Disks, container and policy live in their own fields; the rest are the item's recovery settings.
            for (kk, v) in obj {
                if ![
                    "instanceType",
                    "vmManagedDisks",
                    "vmDisks",
                    "recoveryContainerId",
                    "policyId",
                ]
                .contains(&kk.as_str())
                {
                    settings[kk] = v.clone();
                }
            }
        }
        let orig_rg = old
            .source_vm_id
            .split("/providers/")
            .next()
            .unwrap_or("")
            .to_string();
        if settings["recoveryResourceGroupId"].is_null() {
            settings["recoveryResourceGroupId"] = json!(orig_rg);
        }
        // The switch input has no multi-VM group: the reversed item stays in its replication group.
        for k in ["multiVmGroupName", "multiVmGroupId"] {
            if settings[k].is_null() && !old.settings[k].is_null() {
                settings[k] = old.settings[k].clone();
            }
        }
        settings["recoveryAzureVMName"] = json!(last_segment(&old.source_vm_id));
        let vm_nics: Vec<Value> = self.vm_nics(&new_vm).iter().enumerate().map(|(i, n)| json!({
            "nicId": format!("{}-nic{i}", old.lifecycle_id), "sourceNicArmId": n, "ipConfigs": [{"name": "ipconfig1", "isPrimary": true}]
        })).collect();
        let policy = psd["policyId"]
            .as_str()
            .unwrap_or(&old.policy_id)
            .to_string();
        let new = Rpi {
            id: new_id.clone(),
            name: old.name.clone(),
            vault: old.vault.clone(),
            fabric_id: new_fabric,
            container_id: new_container,
            lifecycle_id: old.lifecycle_id.clone(),
            source_vm_id: new_vm,
            policy_id: policy,
            recovery_fabric_id: parent_id(&new_recovery_container),
            recovery_container_id: new_recovery_container,
            primary_location: old.recovery_location.clone(),
            recovery_location: old.primary_location.clone(),
            settings,
            vm_nics,
            disks,
            replication_started: Some(at),
            protected_at: None,
            protection_state: "UnprotectedStatesBegin".into(),
            active_location: "Primary".into(),
            test_failover_state: "None".into(),
            tfo_vm_id: None,
            failover: None,
            current_job: None,
            extra_points: Vec::new(),
            failback_vm_id: if self.res(&old.source_vm_id).is_some() {
                Some(old.source_vm_id.clone())
            } else {
                None
            },
            last_failover: old.last_failover,
            last_test_failover: old.last_test_failover,
            enable_failed: None,
        };
        self.rpis.remove(k);
        let nk = key(&new_id);
        self.rpis.insert(nk.clone(), new);
        let resync = self.ir_secs(&nk, self.config.resync_factor);
        if let Some(r) = self.rpis.get_mut(&nk) {
            r.protected_at = Some(at + time::Duration::seconds_f64(resync));
        }
        Ok(())
    }

    /// Total churn per cache account of every protected disk, MB/s.
    pub fn cache_loads(&self) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        for r in self.rpis.values() {
            for d in &r.disks {
                let c = self
                    .disk_content
                    .get(&key(&d.disk_id))
                    .map(|c| c.churn)
                    .unwrap_or(0.0);
                *m.entry(key(&d.cache_account)).or_default() += c;
            }
        }
        m
    }

    /// Fraction of the source's write rate that replication keeps up with (1 = keeps up).
    pub fn replication_factor(&self, r: &Rpi, loads: &BTreeMap<String, f64>) -> f64 {
        let churn = self.vm_churn(&r.source_vm_id);
        let mut f: f64 = if churn > VM_CHURN_LIMIT_MB_S {
            VM_CHURN_LIMIT_MB_S / churn
        } else {
            1.0
        };
        for d in &r.disks {
            let load = loads.get(&key(&d.cache_account)).copied().unwrap_or(0.0);
            if load > CACHE_ACCOUNT_BUDGET_MB_S {
                f = f.min(CACHE_ACCOUNT_BUDGET_MB_S / load);
            }
        }
        f
    }

    /// Retention (minutes) and app-consistent frequency (minutes) of the RPI's policy.
    pub fn policy_knobs(&self, r: &Rpi) -> (i64, i64) {
        let p = self
            .res(&r.policy_id)
            .map(|p| p.body["properties"]["providerSpecificDetails"].clone())
            .unwrap_or(Value::Null);
        (
            p["recoveryPointHistory"].as_i64().unwrap_or(1440),
            p["appConsistentFrequencyInMinutes"].as_i64().unwrap_or(0),
        )
    }

    /// Recovery points of an RPI at `now`: (unix seconds, application-consistent?) oldest first.
    pub fn recovery_points(
        &self,
        r: &Rpi,
        now: OffsetDateTime,
        loads: &BTreeMap<String, f64>,
    ) -> Vec<(i64, bool)> {
        let Some(start) = r.protected_at else {
            return Vec::new();
        };
        if now < start {
            return Vec::new();
        }
        let factor = self.replication_factor(r, loads);
        let mut horizon = start + (now - start) * factor;
        if let Some(down) = self.outages.get(&r.primary_location) {
            horizon = horizon.min(*down);
        }
        if let Some(f) = &r.failover {
            horizon = horizon.min(f.started);
        }
        let (retention, app) = self.policy_knobs(r);
        let oldest = now - time::Duration::minutes(retention);
        // Members of a multi-VM consistency group share their crash-consistent points (ASR takes them across the
        // group at once), so their point grid is aligned to the 5-minute clock instead of each item's own start.
        let multi_vm = r.settings["multiVmGroupName"]
            .as_str()
            .is_some_and(|g| !g.is_empty());
        let s = if multi_vm {
            (start.unix_timestamp() + CRASH_POINT_SECS - 1).div_euclid(CRASH_POINT_SECS)
                * CRASH_POINT_SECS
        } else {
            start.unix_timestamp()
        };
        let h = horizon.unix_timestamp();
        let keep_every = if retention <= 1440 { 12 } else { 24 };
        // "The last two hours" are counted back from the newest point, so a lagging replica keeps its fine points.
        let recent = (horizon.min(now) - time::Duration::hours(2)).unix_timestamp();
        let first_k =
            ((oldest.unix_timestamp() - s).max(0) + CRASH_POINT_SECS - 1) / CRASH_POINT_SECS;
        let mut out = Vec::new();
        let mut kk = first_k;
        while s + kk * CRASH_POINT_SECS <= h {
            let t = s + kk * CRASH_POINT_SECS;
            // Beyond the last two hours ASR keeps one point per hour (retention ≤ 1 day) or per two hours.
            if t >= recent || kk % keep_every == 0 {
                let appc = app > 0 && (kk * 5) % app == 0;
                out.push((t, appc));
            }
            kk += 1;
        }
        for &e in &r.extra_points {
            if e >= oldest.unix_timestamp()
                && e <= now.unix_timestamp()
                && !out.iter().any(|(t, _)| *t == e)
            {
                out.push((e, false));
            }
        }
        out.sort();
        out
    }

    /// RPO in seconds at `now`: age of the newest recovery point (0 before replication).
    pub fn rpo_secs(&self, r: &Rpi, now: OffsetDateTime, loads: &BTreeMap<String, f64>) -> i64 {
        match self.recovery_points(r, now, loads).last() {
            Some((t, _)) => now.unix_timestamp() - t,
            None => 0,
        }
    }

    /// The operations the RPI allows at `now`.
    pub fn allowed_ops(&self, r: &Rpi, now: OffsetDateTime) -> Vec<&'static str> {
        if r.current_job
            .as_ref()
            .is_some_and(|j| self.jobs.get(j).is_some_and(|j| j.is_active(now)))
        {
            return Vec::new();
        }
        let protected = r.protected_at.is_some_and(|p| p <= now);
        match r.protection_state.as_str() {
            "UnplannedFailoverCommitPendingStatesBegin" => {
                vec!["Commit", "ChangePit", "CancelFailover"]
            }
            "UnplannedFailoverCommitted" => {
                vec!["ReverseReplicate", "SwitchProtection", "DisableProtection"]
            }
            _ if r.test_failover_state == "WaitingForCompletion" => vec![
                "TestFailoverCleanup",
                "UnplannedFailover",
                "DisableProtection",
            ],
            _ if protected => vec![
                "TestFailover",
                "UnplannedFailover",
                "DisableProtection",
                "RepairReplication",
            ],
            _ => vec!["DisableProtection"],
        }
    }
}

/// Merges `patch` into `base` (objects recursively; other values replace; nulls ignored).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base.as_object_mut(), patch.as_object()) {
        (Some(b), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    continue;
                }
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => {
            if !patch.is_null() {
                *base = patch.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn running_time_counts_only_running_intervals() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut run = VmRun {
            intervals: vec![(t0, None)],
            stopped_by_outage: false,
        };
        run.stop(t0 + time::Duration::minutes(10));
        run.start(t0 + time::Duration::minutes(20));
        assert_eq!(
            run.running_secs(t0, t0 + time::Duration::minutes(30)),
            1200.0
        );
        assert!(!run.running_at(t0 + time::Duration::minutes(15)));
        assert!(run.running_at(t0 + time::Duration::minutes(25)));
    }

    #[test]
    fn guids_are_deterministic_and_distinct() {
        let mut a = World::default();
        let mut b = World::default();
        let x = a.guid("s");
        assert_eq!(x, b.guid("s"));
        assert_ne!(x, a.guid("s"));
        assert_eq!(x.len(), 36);
    }

    #[test]
    fn merge_keeps_unmentioned_fields_and_ignores_nulls() {
        let mut base = json!({"a": 1, "o": {"x": 1, "y": 2}});
        merge(&mut base, &json!({"o": {"y": 3}, "b": null, "c": [1]}));
        assert_eq!(base, json!({"a": 1, "o": {"x": 1, "y": 3}, "c": [1]}));
    }

    #[test]
    fn ids_helpers() {
        assert_eq!(key("/Subscriptions/A/x/"), "/subscriptions/a/x");
        assert_eq!(last_segment("/a/b/c"), "c");
        assert_eq!(parent_id("/a/b/c/d"), "/a/b");
    }
}
