//! Neutral live-state types: what the planner sees of Azure, independent of the wire format.
//!
//! A [`Snapshot`] is one immutable value read at one moment: per object its ARM id, the attributes the differ
//! needs, and its ETag. The ARM client fills it from wire DTOs (`arm::snapshot`); nothing here knows about JSON
//! field names, HTTP or api-versions, and nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::ArmId;

/// What to read: vaults (all their ASR objects), resource groups (their VNets, storage accounts, availability sets
/// and VMs) and subscriptions (their resource groups).
#[derive(Debug, Clone, Default)]
pub struct SnapshotRequest {
    /// Recovery Services vault ids.
    pub vaults: Vec<ArmId>,
    /// Resource group ids.
    pub resource_groups: Vec<ArmId>,
    /// Subscription ids.
    pub subscriptions: Vec<String>,
    /// Narrows what is read of a resource group (a plan skips the collections its configuration has no object of,
    /// and the group's own GET when it declares no `resource_group` for it). A group without an entry here gets
    /// its GET and every collection.
    pub group_reads: BTreeMap<ArmId, GroupReads>,
}

/// The resource-group-scope collections a snapshot can list (paths relative to the group).
pub const VIRTUAL_NETWORKS: &str = "providers/Microsoft.Network/virtualNetworks";
/// See [`VIRTUAL_NETWORKS`].
pub const STORAGE_ACCOUNTS: &str = "providers/Microsoft.Storage/storageAccounts";
/// See [`VIRTUAL_NETWORKS`].
pub const AVAILABILITY_SETS: &str = "providers/Microsoft.Compute/availabilitySets";
/// See [`VIRTUAL_NETWORKS`].
pub const VIRTUAL_MACHINES: &str = "providers/Microsoft.Compute/virtualMachines";

/// What to read of one resource group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupReads {
    /// Whether the group's own record (location, tags) is needed. Without it, a list answering 404 is what
    /// records the group as missing.
    pub record: bool,
    /// The collections to list, as resource-group-relative paths (`arm::snapshot::RG_LISTS` entries).
    pub lists: BTreeSet<&'static str>,
}

/// The live state of everything a plan needs.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Vaults that exist, by id.
    pub vaults: BTreeMap<ArmId, Vault>,
    /// Resource groups that exist, by id.
    pub resource_groups: BTreeMap<ArmId, ResourceGroup>,
    /// Generic ARM resources (VNets, storage accounts, availability sets, VMs), by id.
    pub resources: BTreeMap<ArmId, Resource>,
    /// Replication fabrics, by id.
    pub fabrics: BTreeMap<ArmId, Fabric>,
    /// Protection containers, by id.
    pub containers: BTreeMap<ArmId, Container>,
    /// Replication policies, by id.
    pub policies: BTreeMap<ArmId, Policy>,
    /// Protection container mappings, by id.
    pub container_mappings: BTreeMap<ArmId, ContainerMapping>,
    /// Network mappings, by id.
    pub network_mappings: BTreeMap<ArmId, NetworkMapping>,
    /// Replication protected items, by id.
    pub protected_items: BTreeMap<ArmId, ProtectedItem>,
    /// Recovery plans, by id.
    pub recovery_plans: BTreeMap<ArmId, RecoveryPlan>,
    /// Regions that could not be read (outage); objects there are unknown, not absent.
    pub unreachable_regions: BTreeSet<String>,
    /// Scopes (vaults, resource groups, subscriptions) whose read failed, with the reason.
    pub unreadable_scopes: BTreeMap<String, String>,
    /// Requested scopes that do not exist (404).
    pub missing_scopes: BTreeSet<String>,
    /// When the bulk collections were read through Azure Resource Graph (an index that lags the source of truth),
    /// `None` when they came from ARM lists. A plan confirms what it would change with ARM GETs when set.
    pub graph_read_at: Option<OffsetDateTime>,
}

impl Snapshot {
    /// Adds the objects and read problems of another read (of other scopes: maps keyed by ARM id do not overlap).
    /// The merged snapshot is as old as its older Resource Graph part.
    pub fn merge(&mut self, more: Snapshot) {
        self.vaults.extend(more.vaults);
        self.resource_groups.extend(more.resource_groups);
        self.resources.extend(more.resources);
        self.fabrics.extend(more.fabrics);
        self.containers.extend(more.containers);
        self.policies.extend(more.policies);
        self.container_mappings.extend(more.container_mappings);
        self.network_mappings.extend(more.network_mappings);
        self.protected_items.extend(more.protected_items);
        self.recovery_plans.extend(more.recovery_plans);
        self.unreachable_regions.extend(more.unreachable_regions);
        self.unreadable_scopes.extend(more.unreadable_scopes);
        self.missing_scopes.extend(more.missing_scopes);
        self.graph_read_at = match (self.graph_read_at, more.graph_read_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The protected item with this lifecycle id (stable across failover and reprotect), if any.
    pub fn protected_item_by_lifecycle(&self, lifecycle_id: &str) -> Option<&ProtectedItem> {
        self.protected_items.values().find(|p| {
            p.lifecycle_id
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(lifecycle_id))
        })
    }

    /// The protected item replicating this source VM, if any.
    pub fn protected_item_for_vm(&self, vm: &ArmId) -> Option<&ProtectedItem> {
        self.protected_items
            .values()
            .find(|p| p.source_vm_id.as_ref() == Some(vm))
    }
}

/// A Recovery Services vault.
#[derive(Debug, Clone, PartialEq)]
pub struct Vault {
    /// ARM id.
    pub id: ArmId,
    /// Region.
    pub location: String,
    /// SKU name.
    pub sku: Option<String>,
    /// Provisioning state.
    pub provisioning_state: Option<String>,
    /// ETag.
    pub etag: Option<String>,
}

/// A resource group.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceGroup {
    /// ARM id.
    pub id: ArmId,
    /// Region.
    pub location: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A plain ARM resource outside ASR (VNet, storage account, availability set, VM).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// ARM id.
    pub id: ArmId,
    /// ARM type, e.g. `Microsoft.Network/virtualNetworks`.
    pub kind: String,
    /// Region.
    pub location: String,
    /// Availability zones.
    pub zones: Vec<String>,
    /// SKU name (storage, availability set).
    pub sku: Option<String>,
    /// VM size (VMs only).
    pub vm_size: Option<String>,
    /// Address prefixes (VNets only).
    pub address_prefixes: Vec<String>,
    /// Subnets by name with their prefix (VNets only).
    pub subnets: BTreeMap<String, Vec<String>>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// ETag.
    pub etag: Option<String>,
}

/// A replication fabric (one per region in a vault).
#[derive(Debug, Clone, PartialEq)]
pub struct Fabric {
    /// ARM id.
    pub id: ArmId,
    /// The region it stands for (A2A `customDetails.location`).
    pub location: Option<String>,
    /// The custom details' `instanceType` (`Azure` for A2A).
    pub instance_type: Option<String>,
    /// Health.
    pub health: Option<String>,
}

/// A protection container.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// ARM id.
    pub id: ArmId,
    /// Pairing status (`Paired`/`NotPaired`).
    pub pairing_status: Option<String>,
    /// Number of protected items.
    pub protected_item_count: Option<i64>,
}

/// A replication policy (A2A).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// ARM id.
    pub id: ArmId,
    /// Provider (`A2A`), or the raw `instanceType` of another provider.
    pub instance_type: Option<String>,
    /// Retention in minutes.
    pub recovery_point_history_minutes: Option<i64>,
    /// App-consistent snapshot frequency in minutes.
    pub app_consistent_frequency_minutes: Option<i64>,
    /// Crash-consistent snapshot frequency in minutes.
    pub crash_consistent_frequency_minutes: Option<i64>,
    /// `Enable` or `Disable`.
    pub multi_vm_sync_status: Option<String>,
}

/// A protection container mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMapping {
    /// ARM id.
    pub id: ArmId,
    /// The target container.
    pub target_container_id: Option<ArmId>,
    /// The policy.
    pub policy_id: Option<ArmId>,
    /// State (`Paired`).
    pub state: Option<String>,
    /// Agent auto-update (`Enabled`/`Disabled`).
    pub agent_auto_update: Option<String>,
    /// Automation account used for auto-update.
    pub automation_account_id: Option<String>,
}

/// A network mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkMapping {
    /// ARM id.
    pub id: ArmId,
    /// Source VNet.
    pub primary_network_id: Option<ArmId>,
    /// Target VNet.
    pub recovery_network_id: Option<ArmId>,
    /// Target fabric.
    pub recovery_fabric_id: Option<ArmId>,
    /// State (`Paired`).
    pub state: Option<String>,
}

/// What ASR is doing to a protected item right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentScenario {
    /// Scenario name; `None` (the string) when idle.
    pub name: String,
    /// The running job's id.
    pub job_id: Option<String>,
    /// When it started.
    pub start_time: Option<OffsetDateTime>,
}

/// One ASR health error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthError {
    /// Error code.
    pub code: String,
    /// Severity.
    pub level: Option<String>,
    /// Message.
    pub message: String,
    /// Recommended action.
    pub recommended_action: Option<String>,
}

/// Per-NIC target settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicTarget {
    /// ASR's opaque NIC id (needed for updates).
    pub asr_nic_id: String,
    /// The source NIC's ARM id.
    pub source_nic_id: Option<ArmId>,
    /// Target VNet.
    pub recovery_network_id: Option<String>,
    /// Per IP configuration: name → (subnet, static IP).
    pub ip_configs: BTreeMap<String, IpConfigTarget>,
}

/// One IP configuration's target settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpConfigTarget {
    /// Primary IP configuration.
    pub is_primary: bool,
    /// Target subnet.
    pub recovery_subnet: Option<String>,
    /// Target static IP.
    pub recovery_static_ip: Option<String>,
    /// Test failover subnet.
    pub tfo_subnet: Option<String>,
    /// Test failover static IP.
    pub tfo_static_ip: Option<String>,
}

/// Per-disk target settings and state.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskTarget {
    /// Source managed disk.
    pub disk_id: ArmId,
    /// Replica disk account type.
    pub replica_disk_type: Option<String>,
    /// Target disk account type.
    pub target_disk_type: Option<String>,
    /// Cache storage account.
    pub staging_account_id: Option<String>,
    /// Target disk encryption set.
    pub disk_encryption_set_id: Option<String>,
    /// Disk replication state.
    pub state: Option<String>,
}

/// A replication protected item (a protected VM).
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectedItem {
    /// ARM id (changes on reprotect).
    pub id: ArmId,
    /// ASR's stable identity across failover and reprotect.
    pub lifecycle_id: Option<String>,
    /// Provider (`A2A`).
    pub instance_type: Option<String>,
    /// Source VM (`fabricObjectId`).
    pub source_vm_id: Option<ArmId>,
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// Policy.
    pub policy_id: Option<ArmId>,
    /// Recovery container.
    pub recovery_container_id: Option<ArmId>,
    /// Recovery fabric.
    pub recovery_fabric_id: Option<String>,
    /// `protectionState` (open set; unknown means busy).
    pub protection_state: Option<String>,
    /// A2A `vmProtectionState` (`Protected` when initial replication is done).
    pub vm_protection_state: Option<String>,
    /// `Primary` or `Recovery`.
    pub active_location: Option<String>,
    /// `replicationHealth`.
    pub replication_health: Option<String>,
    /// `failoverHealth`.
    pub failover_health: Option<String>,
    /// Health errors.
    pub health_errors: Vec<HealthError>,
    /// Current RPO in seconds.
    pub rpo_seconds: Option<i64>,
    /// When the RPO was last computed.
    pub last_rpo_calculated: Option<OffsetDateTime>,
    /// Operations ASR allows now.
    pub allowed_operations: BTreeSet<String>,
    /// What ASR is doing now.
    pub current_scenario: Option<CurrentScenario>,
    /// `testFailoverState`.
    pub test_failover_state: Option<String>,
    /// Last successful failover.
    pub last_successful_failover: Option<OffsetDateTime>,
    /// Last successful test failover.
    pub last_successful_test_failover: Option<OffsetDateTime>,
    /// Initial replication progress in percent.
    pub monitoring_percentage: Option<i64>,
    /// Target resource group.
    pub target_resource_group_id: Option<String>,
    /// Target VNet.
    pub target_network_id: Option<String>,
    /// Test failover VNet.
    pub tfo_network_id: Option<String>,
    /// Target subnet (of the primary NIC's primary IP configuration).
    pub target_subnet: Option<String>,
    /// Target VM size.
    pub target_vm_size: Option<String>,
    /// Target VM name.
    pub target_vm_name: Option<String>,
    /// Target availability set.
    pub target_availability_set_id: Option<String>,
    /// Target zone.
    pub target_zone: Option<String>,
    /// Target proximity placement group.
    pub target_ppg_id: Option<String>,
    /// Per NIC.
    pub nics: Vec<NicTarget>,
    /// Per disk.
    pub disks: Vec<DiskTarget>,
    /// Multi-VM consistency group.
    pub multi_vm_group: Option<String>,
    /// The failed-over VM, when there is one.
    pub recovery_vm_id: Option<String>,
    /// Primary and recovery region.
    pub primary_location: Option<String>,
    /// Recovery region.
    pub recovery_location: Option<String>,
    /// ETag.
    pub etag: Option<String>,
}

impl ProtectedItem {
    /// The error of a failed enable-protection job, when this item is what one leaves behind: it never started
    /// replicating (`EnablingProtection`), no job runs on it, and its health is critical with an error. ASR keeps
    /// such an item until protection is disabled; it never becomes protected, so the way on is disable, then enable.
    pub fn enable_failure(&self) -> Option<&HealthError> {
        let enabling = self
            .vm_protection_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("EnablingProtection"));
        let critical = self
            .replication_health
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case("Critical"));
        if !(enabling && critical && self.is_idle()) {
            return None;
        }
        self.health_errors.iter().find(|e| {
            e.level
                .as_deref()
                .is_none_or(|l| l.eq_ignore_ascii_case("Error"))
        })
    }

    /// Whether ASR is idle on this item (no running scenario).
    pub fn is_idle(&self) -> bool {
        self.current_scenario
            .as_ref()
            .is_none_or(|s| s.name.eq_ignore_ascii_case("None"))
    }

    /// Whether `operation` is in `allowedOperations` (case-insensitive).
    pub fn allows(&self, operation: &str) -> bool {
        self.allowed_operations
            .iter()
            .any(|o| o.eq_ignore_ascii_case(operation))
    }
}

/// A recovery plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryPlan {
    /// ARM id.
    pub id: ArmId,
    /// Source fabric.
    pub primary_fabric_id: Option<String>,
    /// Target fabric.
    pub recovery_fabric_id: Option<String>,
    /// Groups in order: type and member RPI ids.
    pub groups: Vec<(String, Vec<ArmId>)>,
    /// Operations allowed now.
    pub allowed_operations: BTreeSet<String>,
    /// Current scenario name.
    pub current_scenario: Option<String>,
    /// Last test failover.
    pub last_test_failover: Option<OffsetDateTime>,
    /// Last unplanned failover.
    pub last_unplanned_failover: Option<OffsetDateTime>,
}
