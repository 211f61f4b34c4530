//! Drills: test failover into an isolated network, checks that every VM came up where it should, guaranteed
//! cleanup, and the evidence report (JSON per `schemas/drill-report.schema.json`, and Markdown with a timeline).
//!
//! Cleanup always runs: on success, on a failed check, on an error, and when the drill future is dropped (a guard
//! spawns the cleanup). An interrupted drill is also detectable afterwards, from a marker file in the report
//! directory and from live state (`testFailoverState = WaitingForCompletion`), and the next drill or
//! [`cleanup_pending`] cleans it up first. It must not print; it writes only the report files and the marker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    DrError, EventKind, Hooks, ItemRef, Operation, PointPolicy, Step, StepOutcome, Target, emit,
    execute, read_item, read_wire,
};
use crate::provider::ArmId;
use crate::provider::arm::{ArmClient, wire};

/// The report format version.
pub const FORMAT_VERSION: u32 = 1;
const MARKER: &str = ".drill-in-progress.json";

/// What a VM should look like after test failover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// Subnet name in the test network.
    pub subnet: Option<String>,
    /// Private IP address.
    pub ip: Option<String>,
}

/// Drill options.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The isolated test VNet.
    pub network: ArmId,
    /// Recovery point policy.
    pub recovery_point: PointPolicy,
    /// Per VM name (case-insensitive): what it must look like.
    pub expect: BTreeMap<String, Expectation>,
    /// Hash of the plan/configuration the drill ran (filled by the caller).
    pub config_hash: String,
    /// Where to write the report and the in-progress marker (`<config dir>/.asrform/drills/`); `None` writes
    /// nothing.
    pub report_dir: Option<PathBuf>,
}

/// One check on one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `running`, `network`, `subnet`, `ip`.
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// One VM in a drill report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillVm {
    /// VM name.
    pub name: String,
    /// RPI id.
    pub rpi: String,
    /// Lifecycle id.
    pub lifecycle_id: Option<String>,
    /// Recovery plan group.
    pub group: String,
    /// Test failover start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// Test failover end (VM running).
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// Recovery point id used.
    pub recovery_point_id: Option<String>,
    /// Its time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub recovery_point_time: Option<OffsetDateTime>,
    /// Its type.
    pub recovery_point_type: Option<String>,
    /// Achieved RPO: the point's age when the test failover started, seconds.
    pub rpo_secs: Option<u64>,
    /// The test-failover VM.
    pub test_vm_id: Option<String>,
    /// Subnet id of its primary NIC.
    pub subnet_id: Option<String>,
    /// Private IP of its primary NIC.
    pub ip: Option<String>,
    /// Checks.
    pub checks: Vec<Check>,
    /// Error, when the test failover of this VM failed.
    pub error: Option<String>,
}

/// A timed step of the drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedStep {
    /// Name (`pre-cleanup`, `test failover: Group 1`, `checks`, `cleanup`).
    pub name: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// End.
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// Measured RTO of a failover group (first start to last VM running), seconds.
    pub rto_secs: Option<u64>,
    /// Succeeded.
    pub ok: bool,
}

/// The drill evidence report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillReport {
    /// Format version.
    pub format_version: u32,
    /// Target (recovery plan id or item ids).
    pub target: String,
    /// Test network.
    pub network: String,
    /// Recovery point policy.
    pub recovery_point_policy: String,
    /// Hash of the plan/configuration it ran.
    pub config_hash: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// End (after cleanup).
    #[serde(with = "time::serde::rfc3339")]
    pub ended: OffsetDateTime,
    /// Whether every VM came up and passed its checks.
    pub succeeded: bool,
    /// Overall measured RTO: from the test failover start to the last VM running, seconds.
    pub rto_secs: u64,
    /// Worst achieved RPO over the VMs, seconds.
    pub max_rpo_secs: Option<u64>,
    /// Steps in order.
    pub steps: Vec<TimedStep>,
    /// Per VM.
    pub vms: Vec<DrillVm>,
    /// Whether cleanup succeeded (no test-failover VM left).
    pub cleanup_ok: bool,
    /// Problems, in order.
    pub errors: Vec<String>,
}

fn secs(a: OffsetDateTime, b: OffsetDateTime) -> u64 {
    (b - a).whole_seconds().max(0) as u64
}

/// The items a target covers (the members of a recovery plan, or the listed items).
pub async fn target_items(client: &ArmClient, target: &Target) -> Result<Vec<ItemRef>, DrError> {
    match target {
        Target::Items { items } => Ok(items.clone()),
        Target::RecoveryPlan { id } => {
            let plan = client
                .get::<wire::RecoveryPlan>(id.as_str())
                .await
                .map_err(|source| DrError::Provider {
                    what: format!("reading recovery plan {id}"),
                    source,
                })?
                .ok_or_else(|| DrError::NotFound(id.to_string()))?;
            Ok(plan
                .properties
                .groups
                .iter()
                .flat_map(|g| g.replication_protected_items.iter())
                .filter_map(|m| m.id.as_deref().and_then(|s| ArmId::parse(s).ok()))
                .map(|rpi| ItemRef {
                    rpi,
                    lifecycle_id: None,
                })
                .collect())
        }
    }
}

/// Cleans up every pending test failover of the target's items (`testFailoverState = WaitingForCompletion`) and
/// removes the report directory's in-progress marker. Returns the items cleaned.
pub async fn cleanup_pending(
    client: &ArmClient,
    target: &Target,
    report_dir: Option<&Path>,
    hooks: &dyn Hooks,
) -> Result<Vec<ArmId>, DrError> {
    let items = target_items(client, target).await?;
    let mut pending = Vec::new();
    for it in items {
        // A test failover still running (e.g. the drill was cancelled mid-way) is waited for: cleaning up is only
        // possible once it has reached WaitingForCompletion.
        let mut item = read_item(client, &it.rpi).await?;
        let mut waited = std::time::Duration::ZERO;
        while let Some(p) = item.as_ref().filter(|p| {
            !p.is_idle()
                && p.current_scenario
                    .as_ref()
                    .is_some_and(|s| s.name.eq_ignore_ascii_case("TestFailover"))
        }) {
            if waited >= std::time::Duration::from_secs(6 * 3600) {
                return Err(DrError::UnexpectedState {
                    vm: p
                        .friendly_name
                        .clone()
                        .unwrap_or_else(|| p.id.name().to_string()),
                    operation: "clean up a test failover".into(),
                    state: "still running a test failover after 6h".into(),
                    expected: "the test failover to finish".into(),
                });
            }
            client
                .clock()
                .sleep(std::time::Duration::from_secs(15))
                .await;
            waited += std::time::Duration::from_secs(15);
            item = read_item(client, &it.rpi).await?;
        }
        if let Some(p) = item
            && p.test_failover_state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("WaitingForCompletion"))
        {
            pending.push(it);
        }
    }
    let cleaned: Vec<ArmId> = pending.iter().map(|i| i.rpi.clone()).collect();
    if !pending.is_empty() {
        let step = Step {
            target: Target::Items { items: pending },
            operation: Operation::TestFailoverCleanup,
            direction: Default::default(),
            points: BTreeMap::new(),
            confirm: None,
        };
        let out = execute(client, &step, hooks).await?;
        if let Some(f) = out.failed().next() {
            return Err(DrError::DrillFailed(format!(
                "cleanup of {} failed: {}",
                f.name,
                f.error.as_deref().unwrap_or("")
            )));
        }
    }
    if let Some(dir) = report_dir {
        let _ = std::fs::remove_file(dir.join(MARKER));
    }
    Ok(cleaned)
}

/// Runs cleanup when dropped unless disarmed: the drill future may be cancelled at any await point.
struct CleanupGuard {
    client: ArmClient,
    target: Target,
    report_dir: Option<PathBuf>,
    armed: bool,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Cancelled mid-way: finish the cleanup in the background if a runtime is still there. If it is not (the
        // process is exiting), the marker and live state let the next drill or `test-failover-cleanup` finish it.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (client, target, dir) = (
                self.client.clone(),
                self.target.clone(),
                self.report_dir.clone(),
            );
            rt.spawn(async move {
                let _ = cleanup_pending(&client, &target, dir.as_deref(), &super::NoHooks).await;
            });
        }
    }
}

/// Runs a drill and returns its report (also written to `report_dir` when set). The drill is cancel-safe: see the
/// module doc. A drill whose checks fail still returns `Ok(report)` with `succeeded = false`; `Err` is kept for
/// failures that prevent a report (the target cannot be read, the report cannot be written).
pub async fn drill(
    client: &ArmClient,
    target: &Target,
    opts: &DrillOptions,
    hooks: &dyn Hooks,
) -> Result<DrillReport, DrError> {
    let clock = client.clock().clone();
    let started = clock.now();
    let mut steps = Vec::new();
    let mut errors = Vec::new();

    // 1. Finish what an interrupted drill left behind.
    let t0 = clock.now();
    let pre = cleanup_pending(client, target, opts.report_dir.as_deref(), hooks).await;
    if let Ok(cleaned) = &pre
        && !cleaned.is_empty()
    {
        emit(
            hooks,
            clock.now(),
            "drill",
            EventKind::Info,
            format!("cleaned up {} leftover test failovers", cleaned.len()),
        );
        steps.push(TimedStep {
            name: "pre-cleanup".into(),
            started: t0,
            ended: clock.now(),
            rto_secs: None,
            ok: true,
        });
    }
    pre?;

    // 2. Marker, then test failover with the cleanup guard armed.
    if let Some(dir) = &opts.report_dir {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let marker = serde_json::json!({"target": target_label(target), "started": fmt(started)});
        std::fs::write(dir.join(MARKER), marker.to_string())
            .map_err(|e| io_err(&dir.join(MARKER), e))?;
    }
    let mut guard = CleanupGuard {
        client: client.clone(),
        target: target.clone(),
        report_dir: opts.report_dir.clone(),
        armed: true,
    };
    let step = Step {
        target: target.clone(),
        operation: Operation::TestFailover {
            network: opts.network.clone(),
            recovery_point: opts.recovery_point.clone(),
        },
        direction: Default::default(),
        points: BTreeMap::new(),
        confirm: Some(Arc::new(AutoConfirm)),
    };
    let outcome = execute(client, &step, hooks).await;
    let (outcome, mut vms) = match outcome {
        Ok(o) => {
            let vms = check_vms(client, &o, opts).await;
            (Some(o), vms)
        }
        Err(e) => {
            errors.push(e.to_string());
            (None, Vec::new())
        }
    };
    let fo_start = outcome.as_ref().map(|o| o.started).unwrap_or(started);
    let mut last_running = fo_start;
    if let Some(o) = &outcome {
        for g in &o.groups {
            let ends = o
                .vms
                .iter()
                .filter(|v| v.group == g.name)
                .map(|v| v.ended)
                .max();
            let ok = o
                .vms
                .iter()
                .filter(|v| v.group == g.name)
                .all(|v| v.error.is_none());
            steps.push(TimedStep {
                name: format!("test failover: {}", g.name),
                started: g.started,
                ended: g.ended,
                rto_secs: ends.map(|e| secs(g.started, e)),
                ok,
            });
        }
        last_running = o.vms.iter().map(|v| v.ended).max().unwrap_or(o.ended);
    }
    for v in &vms {
        if let Some(e) = &v.error {
            errors.push(format!("{}: {e}", v.name));
        }
        for c in v.checks.iter().filter(|c| !c.ok) {
            errors.push(format!("{}: check {} failed: {}", v.name, c.name, c.detail));
        }
    }

    // 3. Cleanup, always.
    let c0 = clock.now();
    let cleanup = cleanup_pending(client, target, opts.report_dir.as_deref(), hooks).await;
    guard.armed = false;
    let cleanup_ok = match &cleanup {
        Ok(_) => true,
        Err(e) => {
            errors.push(format!("cleanup: {e}"));
            false
        }
    };
    steps.push(TimedStep {
        name: "cleanup".into(),
        started: c0,
        ended: clock.now(),
        rto_secs: None,
        ok: cleanup_ok,
    });
    vms.sort_by(|a, b| a.group.cmp(&b.group).then(a.name.cmp(&b.name)));
    let report = DrillReport {
        format_version: FORMAT_VERSION,
        target: target_label(target),
        network: opts.network.to_string(),
        recovery_point_policy: opts.recovery_point.to_string(),
        config_hash: opts.config_hash.clone(),
        started,
        ended: clock.now(),
        succeeded: errors.is_empty() && !vms.is_empty(),
        rto_secs: secs(fo_start, last_running),
        max_rpo_secs: vms.iter().filter_map(|v| v.rpo_secs).max(),
        steps,
        vms,
        cleanup_ok,
        errors,
    };
    if let Some(dir) = &opts.report_dir {
        write_report(dir, &report)?;
    }
    emit(
        hooks,
        clock.now(),
        "drill",
        if report.succeeded {
            EventKind::Finished
        } else {
            EventKind::Failed
        },
        format!(
            "drill {} (RTO {}s)",
            if report.succeeded {
                "succeeded"
            } else {
                "failed"
            },
            report.rto_secs
        ),
    );
    Ok(report)
}

struct AutoConfirm;

#[async_trait::async_trait]
impl super::Confirm for AutoConfirm {
    // A drill is isolated from production: manual steps are recorded in the report, not awaited.
    async fn confirm(&self, _step: &super::ManualStep) -> bool {
        true
    }
}

fn target_label(t: &Target) -> String {
    match t {
        Target::RecoveryPlan { id } => id.to_string(),
        Target::Items { items } => items
            .iter()
            .map(|i| i.rpi.to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn fmt(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn io_err(p: &Path, e: std::io::Error) -> DrError {
    DrError::ReportIo {
        path: p.display().to_string(),
        message: e.to_string(),
    }
}

async fn check_vms(client: &ArmClient, o: &StepOutcome, opts: &DrillOptions) -> Vec<DrillVm> {
    let mut out = Vec::new();
    for v in &o.vms {
        let mut d = DrillVm {
            name: v.name.clone(),
            rpi: v.rpi.to_string(),
            lifecycle_id: v.lifecycle_id.clone(),
            group: v.group.clone(),
            started: v.started,
            ended: v.ended,
            recovery_point_id: v.recovery_point.as_ref().map(|c| c.point.id.clone()),
            recovery_point_time: v.recovery_point.as_ref().map(|c| c.point.time),
            recovery_point_type: v.recovery_point.as_ref().map(|c| c.point.kind.clone()),
            rpo_secs: v
                .recovery_point
                .as_ref()
                .map(|c| secs(c.point.time, v.started)),
            test_vm_id: None,
            subnet_id: None,
            ip: None,
            checks: vec![],
            error: v.error.clone(),
        };
        if v.error.is_none()
            && let Err(e) = check_vm(client, &mut d, opts).await
        {
            d.checks.push(Check {
                name: "read".into(),
                ok: false,
                detail: e.to_string(),
            });
        }
        out.push(d);
    }
    out
}

async fn check_vm(client: &ArmClient, d: &mut DrillVm, opts: &DrillOptions) -> Result<(), DrError> {
    let rpi = ArmId::parse(&d.rpi).map_err(|_| DrError::NotFound(d.rpi.clone()))?;
    let w = read_wire(client, &rpi).await?;
    if d.lifecycle_id.is_none() {
        d.lifecycle_id = w
            .properties
            .provider_specific_details
            .as_ref()
            .and_then(|x| x.known())
            .and_then(|a| a.lifecycle_id.clone());
    }
    let tfo = w
        .properties
        .provider_specific_details
        .as_ref()
        .and_then(|x| x.known())
        .and_then(|a| a.test_failover_recovery_fabric_object_id.clone())
        .filter(|s| !s.is_empty());
    let Some(vm_id) = tfo else {
        d.checks.push(Check {
            name: "running".into(),
            ok: false,
            detail: "ASR reports no test-failover VM".into(),
        });
        return Ok(());
    };
    d.test_vm_id = Some(vm_id.clone());
    let get = |path: String| async move {
        client
            .get_value(&path)
            .await
            .map_err(|source| DrError::Provider {
                what: format!("reading {path}"),
                source,
            })
    };
    let Some(vm) = get(vm_id.clone()).await? else {
        d.checks.push(Check {
            name: "running".into(),
            ok: false,
            detail: format!("{vm_id} does not exist"),
        });
        return Ok(());
    };
    let power = vm["properties"]["instanceView"]["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["code"].as_str())
        .find(|c| c.starts_with("PowerState/"))
        .unwrap_or("PowerState/unknown")
        .to_string();
    d.checks.push(Check {
        name: "running".into(),
        ok: power == "PowerState/running",
        detail: power,
    });
    let nic_id = vm["properties"]["networkProfile"]["networkInterfaces"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|n| n["properties"]["primary"] == Value::Bool(true))
                .or_else(|| a.first())
        })
        .and_then(|n| n["id"].as_str())
        .map(str::to_string);
    let Some(nic_id) = nic_id else {
        d.checks.push(Check {
            name: "network".into(),
            ok: false,
            detail: "the VM has no NIC".into(),
        });
        return Ok(());
    };
    let nic = get(nic_id.clone()).await?.unwrap_or(Value::Null);
    let ipc = nic["properties"]["ipConfigurations"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["properties"]["primary"] == Value::Bool(true))
                .or_else(|| a.first())
        })
        .cloned()
        .unwrap_or(Value::Null);
    let subnet_id = ipc["properties"]["subnet"]["id"]
        .as_str()
        .map(str::to_string);
    let ip = ipc["properties"]["privateIPAddress"]
        .as_str()
        .map(str::to_string);
    d.subnet_id = subnet_id.clone();
    d.ip = ip.clone();
    let in_net = subnet_id.as_deref().is_some_and(|s| {
        s.to_ascii_lowercase().starts_with(&format!(
            "{}/subnets/",
            opts.network.as_str().to_ascii_lowercase()
        ))
    });
    d.checks.push(Check {
        name: "network".into(),
        ok: in_net,
        detail: format!("subnet {}", subnet_id.as_deref().unwrap_or("(none)")),
    });
    let exp = opts
        .expect
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&d.name))
        .map(|(_, v)| v.clone());
    if let Some(exp) = exp {
        if let Some(want) = exp.subnet {
            let got = subnet_id
                .as_deref()
                .and_then(|s| s.rsplit('/').next())
                .unwrap_or("");
            d.checks.push(Check {
                name: "subnet".into(),
                ok: got.eq_ignore_ascii_case(&want),
                detail: format!("expected {want}, got {got}"),
            });
        }
        if let Some(want) = exp.ip {
            let got = ip.clone().unwrap_or_default();
            d.checks.push(Check {
                name: "ip".into(),
                ok: got == want,
                detail: format!("expected {want}, got {got}"),
            });
        }
    }
    Ok(())
}

/// Writes `<dir>/<start>-<target>.json` and `.md`; returns the JSON path.
pub fn write_report(dir: &Path, r: &DrillReport) -> Result<PathBuf, DrError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let stamp = r
        .started
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let name = r
        .target
        .rsplit('/')
        .next()
        .unwrap_or("drill")
        .replace(',', "_");
    let base = dir.join(format!("{stamp}-{name}"));
    let json = base.with_extension("json");
    let text = serde_json::to_string_pretty(r).map_err(|e| DrError::ReportIo {
        path: json.display().to_string(),
        message: e.to_string(),
    })?;
    std::fs::write(&json, text).map_err(|e| io_err(&json, e))?;
    let md = base.with_extension("md");
    std::fs::write(&md, markdown(r)).map_err(|e| io_err(&md, e))?;
    Ok(json)
}

/// Reads every drill report (`*.json`) in a directory; unreadable files are skipped (status is best-effort).
pub fn load_reports(dir: &Path) -> Vec<DrillReport> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<DrillReport> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json") && p.file_name().is_none_or(|n| n != MARKER)
        })
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect();
    out.sort_by_key(|r| r.started);
    out
}

/// Whether a drill was interrupted (its marker is still in the report directory).
pub fn interrupted(dir: &Path) -> bool {
    dir.join(MARKER).exists()
}

/// The Markdown evidence: summary, per-VM table and a mermaid gantt timeline.
pub fn markdown(r: &DrillReport) -> String {
    let gantt_time = |t: OffsetDateTime| {
        t.format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
    };
    let mut s = String::new();
    s.push_str(&format!(
        "# Drill report: {}\n\n**Result: {}** · RTO {}s · worst RPO {} · cleanup {}\n\n",
        r.target.rsplit('/').next().unwrap_or(&r.target),
        if r.succeeded { "succeeded" } else { "FAILED" },
        r.rto_secs,
        r.max_rpo_secs
            .map(|x| format!("{x}s"))
            .unwrap_or_else(|| "n/a".into()),
        if r.cleanup_ok { "done" } else { "FAILED" },
    ));
    s.push_str(&format!(
        "| | |\n|---|---|\n| Target | `{}` |\n| Test network | `{}` |\n| Recovery point policy | {} |\n| Started | {} |\n| Ended | {} |\n| Config hash | `{}` |\n\n",
        r.target, r.network, r.recovery_point_policy, fmt(r.started), fmt(r.ended), r.config_hash
    ));
    s.push_str("## VMs\n\n| VM | Group | RPO (s) | Recovery point | Type | Test VM running | IP | Checks |\n|---|---|---|---|---|---|---|---|\n");
    for v in &r.vms {
        let running = v
            .checks
            .iter()
            .find(|c| c.name == "running")
            .map(|c| c.ok)
            .unwrap_or(false);
        let failed: Vec<&str> = v
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            v.name,
            v.group,
            v.rpo_secs.map(|x| x.to_string()).unwrap_or_default(),
            v.recovery_point_time.map(fmt).unwrap_or_default(),
            v.recovery_point_type.as_deref().unwrap_or(""),
            if running { "yes" } else { "no" },
            v.ip.as_deref().unwrap_or(""),
            if v.error.is_some() {
                "error".to_string()
            } else if failed.is_empty() {
                "all passed".into()
            } else {
                format!("failed: {}", failed.join(", "))
            },
        ));
    }
    s.push_str("\n## Timeline\n\n```mermaid\ngantt\n    title Drill timeline (UTC)\n    dateFormat YYYY-MM-DD HH:mm:ss\n    axisFormat %H:%M:%S\n");
    for st in &r.steps {
        s.push_str(&format!("    section {}\n", st.name.replace(':', " -")));
        s.push_str(&format!(
            "    {} :{}{}, {}\n",
            st.name.replace(':', " -"),
            if st.ok { "done, " } else { "crit, " },
            gantt_time(st.started),
            gantt_time(st.ended.max(st.started + time::Duration::seconds(1)))
        ));
        if st.name.starts_with("test failover") {
            for v in r.vms.iter().filter(|v| st.name.ends_with(&v.group)) {
                s.push_str(&format!(
                    "    {} :{}{}, {}\n",
                    v.name.replace(':', " "),
                    if v.error.is_none() { "" } else { "crit, " },
                    gantt_time(v.started),
                    gantt_time(v.ended.max(v.started + time::Duration::seconds(1)))
                ));
            }
        }
    }
    s.push_str("```\n");
    if !r.errors.is_empty() {
        s.push_str("\n## Problems\n\n");
        for e in &r.errors {
            s.push_str(&format!("- {e}\n"));
        }
    }
    s
}
