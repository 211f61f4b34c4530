//! Plans: what apply will do, computed purely from the configuration, the graph, a live snapshot and the state.
//!
//! Owns the plan model (one serialisable value that is also the JSON form, `schemas/plan.schema.json`), the differ
//! (`diff`), the per-kind attribute maps and update-versus-replace rules (`attrs`), the renderers (`render`: text,
//! Markdown) and saved plan files with their binding (`saved`). Everything here is pure: no I/O except reading and
//! writing a plan file at the edge in `saved`, no clock (the caller passes "now" in [`PlanOptions`]), no printing.

pub mod attrs;
pub mod diff;
pub mod operation;
pub mod render;
pub mod saved;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use diff::{PlanOptions, ReadinessOptions, diff, snapshot_request};

/// Version of the plan JSON format. Consumers reject another major version and ignore unknown fields.
pub const FORMAT_VERSION: &str = "1.1";

/// What apply will do to one resource, or which DR operation it will run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// Create.
    Create,
    /// Update in place.
    Update,
    /// Delete and create again (for a protected VM: re-seed, a full initial replication).
    Replace,
    /// Delete.
    Delete,
    /// Test failover (drill).
    TestFailover,
    /// Clean up a test failover.
    TestFailoverCleanup,
    /// Fail over to the recovery region.
    Failover,
    /// Change the recovery point before commit.
    ChangeRecoveryPoint,
    /// Cancel a failover that is not committed yet (roll back to the side it left).
    CancelFailover,
    /// Commit a failover.
    Commit,
    /// Reverse replication (switch protection).
    Reprotect,
    /// Fail back to the primary region.
    Failback,
}

impl Action {
    /// The symbol the text renderer prints.
    pub fn glyph(self) -> &'static str {
        match self {
            Self::NoOp => " ",
            Self::Create => "+",
            Self::Update => "~",
            Self::Replace => "-/+",
            Self::Delete => "-",
            Self::TestFailover => "T>",
            Self::TestFailoverCleanup => "T<",
            Self::Failover => ">>",
            Self::ChangeRecoveryPoint => "@",
            Self::CancelFailover => "x<",
            Self::Commit => "=>",
            Self::Reprotect => "<~>",
            Self::Failback => "<<",
        }
    }

    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoOp => "no-op",
            Self::Create => "create",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::TestFailover => "test_failover",
            Self::TestFailoverCleanup => "test_failover_cleanup",
            Self::Failover => "failover",
            Self::ChangeRecoveryPoint => "change_recovery_point",
            Self::CancelFailover => "cancel_failover",
            Self::Commit => "commit",
            Self::Reprotect => "reprotect",
            Self::Failback => "failback",
        }
    }

    /// Terraform-like `change.actions` list (`["delete","create"]` for a replace).
    pub fn actions(self) -> Vec<String> {
        match self {
            Self::Replace => vec!["delete".into(), "create".into()],
            a => vec![a.as_str().into()],
        }
    }

    /// Whether this is a DR operation rather than a configuration change.
    pub fn is_dr(self) -> bool {
        matches!(
            self,
            Self::TestFailover
                | Self::TestFailoverCleanup
                | Self::Failover
                | Self::ChangeRecoveryPoint
                | Self::CancelFailover
                | Self::Commit
                | Self::Reprotect
                | Self::Failback
        )
    }
}

/// Which kind of plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Converge live state to the configuration.
    #[default]
    Normal,
    /// Only accept drift into state.
    RefreshOnly,
    /// Remove everything asrform manages.
    Destroy,
}

/// One plan: the JSON form and the value every renderer takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// The asrform version that made it.
    pub asrform_version: String,
    /// Kind of plan.
    pub mode: PlanMode,
    /// What the plan is bound to (a saved plan applies only while these hold).
    pub binding: Binding,
    /// Counts per action.
    pub summary: Summary,
    /// Every change (no-ops included), in apply order.
    pub resource_changes: Vec<ResourceChange>,
    /// Objects changed outside asrform since the last apply.
    pub resource_drift: Vec<ResourceDrift>,
    /// Replication readiness of the protected VMs.
    pub readiness: Readiness,
    /// Warnings (unreachable regions, deferred settings, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Whether applying would change anything (changes or, in refresh-only mode, drift to accept).
    pub applyable: bool,
    /// Set when the live state was read through Azure Resource Graph rather than ARM lists (set by the live half of
    /// planning; the pure diff leaves it empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_read: Option<LiveRead>,
}

/// How old a plan's view of Azure is when it came from Azure Resource Graph: an index that lags ARM (usually by
/// seconds, at times by minutes), so the plan says when it was read and how much of it was re-read from ARM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRead {
    /// Where the bulk of the live state came from: `resource_graph`.
    pub source: String,
    /// When the index was queried (RFC 3339, UTC).
    pub read_at: String,
    /// Seconds from the query to the finished plan.
    pub age_seconds: u64,
    /// Objects re-read with an ARM GET before planning: what the plan would change or report as drifted, and what
    /// asrform changed in the last minutes (rows of those may still be stale).
    pub confirmed: usize,
}

impl LiveRead {
    /// `Live state: read from Azure Resource Graph at … (12s ago); 3 objects confirmed with ARM reads.`
    pub fn line(&self) -> String {
        format!(
            "Live state: read from Azure Resource Graph at {} ({} before this plan; the index can lag Azure); {} object{} re-read from ARM before planning.",
            self.read_at,
            format_secs(self.age_seconds as i64),
            self.confirmed,
            if self.confirmed == 1 { "" } else { "s" }
        )
    }
}

impl Plan {
    /// Whether the plan changes anything.
    pub fn has_changes(&self) -> bool {
        self.applyable
    }

    /// The changes that do something.
    pub fn effective_changes(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|c| c.action != Action::NoOp || c.change.importing.is_some())
    }
}

/// The facts a plan was computed from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// State lineage (`None` when there was no state yet).
    pub lineage: Option<String>,
    /// State serial (0 when there was no state yet).
    pub serial: u64,
    /// Hash of the configuration sources and effective variables.
    pub config_hash: String,
    /// sha256 over `facts`.
    pub live_fingerprint: String,
    /// Per live object the plan touches: `etag|protection state|health` (or `absent`).
    pub facts: BTreeMap<String, String>,
}

/// Counts per kind of action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates.
    pub add: usize,
    /// Updates in place.
    pub change: usize,
    /// Deletes.
    pub destroy: usize,
    /// Replacements (re-seeds for protected VMs).
    pub reseed: usize,
    /// DR operations.
    pub dr: usize,
    /// Unchanged.
    pub no_op: usize,
    /// Drifted objects.
    pub drift: usize,
    /// Objects adopted into state by `import` blocks (omitted when zero, like older plans).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub import: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// `Plan: 2 to add, 1 to change, 0 to destroy, 1 to re-seed, 3 DR operations.`
    pub fn line(&self) -> String {
        // Terraform's wording: the import count leads, and only when there is one.
        let import = if self.import > 0 {
            format!("{} to import, ", self.import)
        } else {
            String::new()
        };
        format!(
            "Plan: {import}{} to add, {} to change, {} to destroy, {} to re-seed, {} DR operation{}.",
            self.add,
            self.change,
            self.destroy,
            self.reseed,
            self.dr,
            if self.dr == 1 { "" } else { "s" }
        )
    }
}

/// The attribute part of a change (Terraform's `change` object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `["create"]`, `["update"]`, `["delete","create"]`, `["delete"]`, `["no-op"]` or the DR operation.
    pub actions: Vec<String>,
    /// Observed attributes (null when absent).
    pub before: serde_json::Value,
    /// Desired attributes (null for a delete).
    pub after: serde_json::Value,
    /// Attributes known only after apply (`{"name": true}`).
    pub after_unknown: serde_json::Value,
    /// Attributes that forced a replacement.
    #[serde(default)]
    pub replace_paths: Vec<String>,
    /// Set when an `import` block adopts the object into state with this change (Terraform's jsonplan
    /// `change.importing`); the action stays `no-op` (live matches) or `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<Importing>,
}

/// The object an `import` block adopts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Importing {
    /// The ARM id written in the `import` block.
    pub id: String,
}

/// A check apply repeats right before it acts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// What is checked (`allowed_operation`, `idle`, `etag`, `exists`, `absent`).
    pub check: String,
    /// The object it is checked on.
    pub object: String,
    /// The value expected.
    pub expected: String,
}

/// Direction of a DR operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Source region to target region.
    PrimaryToRecovery,
    /// Back.
    RecoveryToPrimary,
}

/// Which recovery point a failover uses, and how old it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryPointChoice {
    /// `latest_after_shutdown`, `latest_processed`, `latest`, `latest_app_consistent`, or a timestamp.
    pub choice: String,
    /// The point's time when known at plan time (RFC 3339).
    pub time: Option<String>,
    /// Its age at plan time, in seconds.
    pub age_seconds: Option<i64>,
}

/// One VM a DR operation acts on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrVm {
    /// Address of the `protected_vm`.
    pub address: String,
    /// The replication protected item's id at plan time (it changes on reprotect).
    pub rpi_id: Option<String>,
    /// ASR lifecycle id (stable).
    pub lifecycle_id: Option<String>,
    /// Source VM id.
    pub source_vm: String,
    /// The recovery point this VM runs on now and the one the step moves it to (change-recovery-point), resolved
    /// from live recovery points at plan time; apply uses exactly the chosen point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<VmPoints>,
}

/// One recovery point as a plan shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedPoint {
    /// ARM id of the point.
    pub id: String,
    /// Its time (RFC 3339).
    pub time: String,
    /// Its age at plan time, in seconds.
    pub age_seconds: i64,
    /// `CrashConsistent`, `AppConsistent`, …
    pub kind: Option<String>,
    /// Writes since this point that a VM running on it does not have: failover start minus point time, seconds.
    pub data_loss_seconds: i64,
}

/// A VM's current and chosen recovery points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmPoints {
    /// The point the failed-over VM runs on now (`None` when ASR does not say).
    pub current: Option<PlannedPoint>,
    /// The point the step applies.
    pub chosen: PlannedPoint,
}

/// The DR-specific data of a change, shared with the DR engine (`dr::Step` is built from it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrStep {
    /// The operation.
    pub operation: Action,
    /// Its direction.
    pub direction: Direction,
    /// Recovery point choice (failover, failback, test failover).
    pub recovery_point: Option<RecoveryPointChoice>,
    /// Expected data loss, in seconds (0 when the source is shut down first).
    pub expected_data_loss_seconds: Option<i64>,
    /// Expected data loss in words.
    pub expected_data_loss: Option<String>,
    /// Whether the source VMs are shut down first (`sourceSiteOperations = Required`).
    pub shut_down_source: bool,
    /// Test failover network.
    pub network: Option<String>,
    /// The recovery plan's ARM id.
    pub recovery_plan_id: Option<String>,
    /// The VMs, in recovery plan group order.
    pub vms: Vec<DrVm>,
}

/// One entry of `resource_changes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Unique key within the plan: the address, or `address#operation` for DR steps.
    pub key: String,
    /// Resource address.
    pub address: String,
    /// Block kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// The action.
    pub action: Action,
    /// Attributes before and after.
    pub change: Change,
    /// Why (`replace_because_cannot_update`, `delete_because_no_resource_config`, `active_site_differs`, …).
    pub action_reason: Option<String>,
    /// The attributes that differ (for updates and replaces).
    #[serde(default)]
    pub changed_attributes: Vec<String>,
    /// For protected VMs and recovery plans: the recovery plan address it belongs to (Markdown grouping).
    pub recovery_plan: Option<String>,
    /// Whether the change re-seeds (full initial replication, protection gap).
    pub reseed_required: bool,
    /// Checks apply repeats before acting.
    #[serde(default)]
    pub preconditions: Vec<Precondition>,
    /// Keys of the changes this one waits for.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The ARM ids the change acts on (by role), so apply and deletes need no configuration.
    #[serde(default)]
    pub arm_ids: BTreeMap<String, String>,
    /// DR operation data.
    pub dr: Option<DrStep>,
}

/// An object that changed outside asrform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    /// Address.
    pub address: String,
    /// Block kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Attributes that drifted.
    pub changed_attributes: Vec<String>,
    /// As last applied (state).
    pub before: serde_json::Value,
    /// As observed now.
    pub after: serde_json::Value,
}

/// Replication readiness of one protected VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmReadiness {
    /// Address.
    pub address: String,
    /// Whether it is protected at all.
    pub protected: bool,
    /// `Normal`, `Warning`, `Critical`.
    pub replication_health: Option<String>,
    /// ASR protection state.
    pub protection_state: Option<String>,
    /// Current RPO in seconds.
    pub rpo_seconds: Option<i64>,
    /// Latest recovery point (RFC 3339), derived from the RPO calculation time minus the RPO.
    pub latest_recovery_point: Option<String>,
    /// Active site (`primary`/`recovery`).
    pub active_site: Option<String>,
    /// Last successful test failover (RFC 3339).
    pub last_test_failover: Option<String>,
}

/// Readiness of the estate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// Protected VMs found in live state.
    pub protected: usize,
    /// Of those, with `Normal` replication health.
    pub healthy: usize,
    /// Worst RPO in seconds.
    pub worst_rpo_seconds: Option<i64>,
    /// Oldest last-successful test failover among protected VMs (RFC 3339); `None` if some never had one.
    pub oldest_test_failover: Option<String>,
    /// VMs never test-failed-over.
    pub never_drilled: usize,
    /// Per VM.
    pub vms: Vec<VmReadiness>,
    /// Findings of the readiness gates for the VMs a failover, failback or test failover of this plan acts on
    /// (errors block the plan; warnings are shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateFinding>,
}

/// One finding of a readiness gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateFinding {
    /// `error` (blocks) or `warning`.
    pub severity: String,
    /// `health`, `rpo`, `recovery_point`, `capacity` or `drill_age`.
    pub gate: String,
    /// The protected VM address(es) it concerns.
    pub address: String,
    /// What is wrong.
    pub message: String,
}

impl Readiness {
    /// `replication healthy 12/12 · worst RPO 4m · last TFO: 3 never drilled`
    pub fn line(&self) -> String {
        let rpo = self
            .worst_rpo_seconds
            .map_or("n/a".to_string(), format_secs);
        let drill = if self.protected == 0 {
            "no drills".to_string()
        } else if self.never_drilled > 0 {
            format!("{} never drilled", self.never_drilled)
        } else {
            format!(
                "oldest drill {}",
                self.oldest_test_failover.as_deref().unwrap_or("n/a")
            )
        };
        format!(
            "replication healthy {}/{} · worst RPO {rpo} · {drill}",
            self.healthy, self.protected
        )
    }
}

/// Seconds as `45s`, `4m`, `2h5m`, `3d`.
pub fn format_secs(s: i64) -> String {
    let s = s.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{m}m")
        }
    } else {
        format!("{}d", s / 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_delete_then_create_and_summary_reads_well() {
        assert_eq!(Action::Replace.actions(), ["delete", "create"]);
        assert_eq!(Action::Failover.actions(), ["failover"]);
        let s = Summary {
            add: 2,
            change: 1,
            reseed: 1,
            dr: 3,
            ..Default::default()
        };
        assert_eq!(
            s.line(),
            "Plan: 2 to add, 1 to change, 0 to destroy, 1 to re-seed, 3 DR operations."
        );
        assert_eq!(format_secs(7500), "2h5m");
    }
}
