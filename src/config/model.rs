//! The typed configuration: one value per expanded block instance, every field typed and spanned.
//!
//! This is what the rest of asrform consumes (`graph::build`, the planner, the CLI). It owns the data shapes only;
//! building them is `config::load`'s job and checking them is `config::validate`'s. Nothing here performs I/O.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::source::{SourceFile, Span, Spanned};
use super::values::{ArmId, DiskType};
use crate::addr::{ResourceAddr, ResourceKind};

/// A whole configuration: all `*.asr.hcl` files of a directory with variables applied and `for_each` expanded.
#[derive(Clone, Debug)]
pub struct Config {
    /// Configuration files (sorted by name), then `-var-file`s, then synthetic sources for `-var`/environment values.
    /// [`Span::file`] indexes this list.
    pub sources: Vec<SourceFile>,
    /// Number of leading entries of `sources` that are `*.asr.hcl` files.
    pub config_files: usize,
    /// The one provider block.
    pub provider: Spanned<Provider>,
    /// The backend (the local default when no block is present).
    pub backend: Spanned<Backend>,
    /// Effective variable values.
    pub variables: BTreeMap<String, Variable>,
    /// Outputs.
    pub outputs: BTreeMap<String, Output>,
    /// Every resource instance by address.
    pub resources: Resources,
    /// sha256 (hex) over the sorted configuration files and the effective variable values; see `fingerprint`.
    pub fingerprint: String,
    /// `import { to = …, id = … }` blocks: live objects to adopt into state under a configured address.
    pub imports: Vec<Import>,
}

/// One `import` block, validated: its `to` names a configured resource instance and its `id` is an ARM id.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// The resource instance the object is adopted as.
    pub to: ResourceAddr,
    /// The ARM id of the live object (for a protected VM: its replication protected item or its source VM).
    pub id: Spanned<String>,
    /// The block header (`import`), for diagnostics.
    pub span: Span,
}

impl Config {
    /// The resources of one kind, in address order.
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = &Resource> {
        self.resources.of_kind(kind)
    }

    /// The `import` block adopting `addr`, if any.
    pub fn import_for(&self, addr: &ResourceAddr) -> Option<&Import> {
        self.imports.iter().find(|i| &i.to == addr)
    }

    /// Looks up a resource.
    pub fn get(&self, addr: &ResourceAddr) -> Option<&Resource> {
        self.resources.get(addr)
    }

    /// The protected VMs.
    pub fn protected_vms(&self) -> impl Iterator<Item = (&Resource, &ProtectedVm)> {
        self.of_kind(ResourceKind::ProtectedVm)
            .filter_map(|r| match &r.body {
                ResourceBody::ProtectedVm(v) => Some((r, v)),
                _ => None,
            })
    }

    /// The recovery plans.
    pub fn recovery_plans(&self) -> impl Iterator<Item = (&Resource, &RecoveryPlan)> {
        self.of_kind(ResourceKind::RecoveryPlan)
            .filter_map(|r| match &r.body {
                ResourceBody::RecoveryPlan(v) => Some((r, v)),
                _ => None,
            })
    }
}

/// The provider: where the Azure API lives.
#[derive(Clone, Debug, PartialEq)]
pub enum Provider {
    /// The embedded simulator.
    Simulator {
        /// The estate file, resolved against the configuration directory (relative when loaded from memory).
        estate: Spanned<PathBuf>,
        /// Simulated seconds per real second (default 60).
        clock_speed: f64,
        /// Page size of list responses (default 100).
        page_size: u32,
        /// A simulator served by `asrform sim serve` in another process (`http://127.0.0.1:PORT`); when set, the
        /// estate and store are the server's and the session talks to it over loopback.
        endpoint: Option<String>,
    },
    /// Real Azure.
    Azure {
        /// Default subscription for resources that do not name one.
        subscription_id: Spanned<String>,
        /// Entra tenant.
        tenant_id: Option<String>,
        /// Credential kind.
        auth: AzureAuth,
        /// Client id for managed or workload identity and client secrets.
        client_id: Option<String>,
        /// Cloud.
        cloud: AzureCloud,
        /// Override of the ARM endpoint (https, or http on loopback).
        endpoint: Option<String>,
    },
}

/// How to authenticate against Azure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AzureAuth {
    /// azure_identity's default chain.
    Default,
    /// Azure CLI.
    Cli,
    /// Azure Developer CLI.
    Azd,
    /// Managed identity.
    ManagedIdentity,
    /// Workload identity federation.
    WorkloadIdentity,
    /// Client secret from the environment.
    ClientSecret,
}

impl AzureAuth {
    /// HCL spellings.
    pub const NAMES: [&'static str; 6] = [
        "default",
        "cli",
        "azd",
        "managed_identity",
        "workload_identity",
        "client_secret",
    ];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => Self::Default,
            "cli" => Self::Cli,
            "azd" => Self::Azd,
            "managed_identity" => Self::ManagedIdentity,
            "workload_identity" => Self::WorkloadIdentity,
            "client_secret" => Self::ClientSecret,
            _ => return None,
        })
    }
}

/// Azure cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AzureCloud {
    /// Azure public cloud.
    Public,
    /// Azure US Government.
    UsGovernment,
    /// Azure China.
    China,
}

/// Where state is kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// A local JSON file (relative paths are relative to the configuration directory).
    Local {
        /// State file path (default `asrform.state.json`).
        path: PathBuf,
    },
    /// An Azure Blob (locked with a lease).
    AzureRm {
        /// Storage account name.
        storage_account: String,
        /// Container.
        container: String,
        /// Blob name.
        key: String,
        /// Blob endpoint override.
        endpoint: Option<String>,
        /// Environment variable holding a SAS token.
        sas_token_env: Option<String>,
    },
}

/// An input variable with its effective value.
#[derive(Clone, Debug)]
pub struct Variable {
    /// The name.
    pub name: String,
    /// The value after type conversion.
    pub value: hcl::Value,
    /// Hide in output.
    pub sensitive: bool,
    /// Description.
    pub description: Option<String>,
    /// The `variable` block.
    pub span: Span,
}

/// An output value.
#[derive(Clone, Debug)]
pub struct Output {
    /// The name.
    pub name: String,
    /// The value.
    pub value: hcl::Value,
    /// Hide in output.
    pub sensitive: bool,
    /// Description.
    pub description: Option<String>,
    /// The `output` block.
    pub span: Span,
}

/// Every resource instance of a configuration, iterated in address order (kind, name, key) and looked up by hash.
///
/// A sorted map would do both, but a plan looks addresses up tens of times per VM and a tree's string comparisons
/// were a twentieth of a 10,000-VM plan. The order is kept by every mutation: [`Resources::extend`] appends and
/// re-sorts once per batch (the loader adds a block's instances at a time, so the sort merges two runs).
#[derive(Clone, Debug, Default)]
pub struct Resources(indexmap::IndexMap<ResourceAddr, Resource, foldhash::fast::RandomState>);

impl Resources {
    /// Looks up an instance.
    pub fn get(&self, addr: &ResourceAddr) -> Option<&Resource> {
        self.0.get(addr)
    }

    /// Looks up an instance to change it (its address, and so the order, stays).
    pub fn get_mut(&mut self, addr: &ResourceAddr) -> Option<&mut Resource> {
        self.0.get_mut(addr)
    }

    /// Whether an instance exists.
    pub fn contains_key(&self, addr: &ResourceAddr) -> bool {
        self.0.contains_key(addr)
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no instance.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Instances with their addresses, in address order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&ResourceAddr, &Resource)> + ExactSizeIterator {
        self.0.iter()
    }

    /// Addresses, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &ResourceAddr> + ExactSizeIterator {
        self.0.keys()
    }

    /// Instances, in address order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Resource> + ExactSizeIterator {
        self.0.values()
    }

    /// The instances of one kind, in address order (a contiguous run, found by binary search).
    pub fn of_kind(&self, kind: ResourceKind) -> impl DoubleEndedIterator<Item = &Resource> {
        let entries = self.0.as_slice();
        let start = entries.partition_point(|a, _| a.kind < kind);
        let end = entries.partition_point(|a, _| a.kind <= kind);
        entries[start..end].values()
    }

    /// Adds instances (replacing any with the same address) and restores address order.
    pub fn extend(&mut self, resources: impl IntoIterator<Item = Resource>) {
        let before = self.0.len();
        self.0
            .extend(resources.into_iter().map(|r| (r.addr.clone(), r)));
        let appended = &self.0.as_slice()[before.saturating_sub(1)..];
        // Already in order (one block in key order, or nothing new): no sort, no index rebuild.
        if !appended.keys().is_sorted() {
            self.0.sort_unstable_keys();
        }
    }

    /// Adds one instance, replacing any with the same address, in address order.
    pub fn insert(&mut self, resource: Resource) {
        self.extend(std::iter::once(resource));
    }

    /// Keeps the instances `keep` says yes to (order is unchanged).
    pub fn retain(&mut self, mut keep: impl FnMut(&ResourceAddr, &Resource) -> bool) {
        self.0.retain(|a, r| keep(a, r));
    }
}

impl std::ops::Index<&ResourceAddr> for Resources {
    type Output = Resource;

    fn index(&self, addr: &ResourceAddr) -> &Resource {
        &self.0[addr]
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        let mut out = Self::default();
        out.extend(iter);
        out
    }
}

/// One resource instance.
#[derive(Clone, Debug)]
pub struct Resource {
    /// Its address.
    pub addr: ResourceAddr,
    /// The block it was declared in (the label for error messages).
    pub span: Span,
    /// The ARM id it will have (the primary object for kinds that own several), computed from subscription, resource
    /// group and name; `None` when the subscription cannot be known offline.
    pub id: Option<String>,
    /// Every resource this instance depends on, with why and where (de-duplicated by target and reason).
    pub depends: Vec<Dependency>,
    /// `lifecycle` settings.
    pub lifecycle: Lifecycle,
    /// The kind-specific attributes.
    pub body: ResourceBody,
}

/// Why one resource depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeReason {
    /// An expression references the other resource.
    Reference,
    /// Listed in `depends_on`.
    DependsOn,
    /// ASR's object order (asr-api.md §1), added by the graph.
    Implicit,
}

/// A dependency of a resource on another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The resource depended on.
    pub to: ResourceAddr,
    /// Why.
    pub reason: EdgeReason,
    /// The expression that creates the dependency.
    pub span: Span,
}

/// `lifecycle { ... }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    /// Refuse plans that delete or replace this resource.
    pub prevent_destroy: bool,
    /// Refuse plans that re-seed this protected VM (disable + re-enable protection).
    pub prevent_reseed: bool,
    /// Attributes whose drift is ignored.
    pub ignore_changes: Vec<String>,
}

/// The kind-specific part of a resource.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
// Not boxed although `ProtectedVm` is the largest variant: it is also by far the most common one, and a box would be an
// allocation (and a pointer chase in the differ) per VM.
#[allow(clippy::large_enum_variant)]
pub enum ResourceBody {
    ResourceGroup(ResourceGroup),
    VirtualNetwork(VirtualNetwork),
    StorageAccount(StorageAccount),
    AvailabilitySet(AvailabilitySet),
    Vault(Vault),
    ReplicationPolicy(ReplicationPolicy),
    RegionPair(RegionPair),
    NetworkMapping(NetworkMapping),
    ProtectedVm(ProtectedVm),
    RecoveryPlan(RecoveryPlan),
}

/// A resource group given by name or by reference to a `resource_group` block.
#[derive(Clone, Debug, PartialEq)]
pub struct RgRef {
    /// The group's name.
    pub name: String,
    /// The block, when given as a reference.
    pub block: Option<ResourceAddr>,
}

/// Tags.
pub type Tags = BTreeMap<String, String>;

/// `resource_group`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceGroup {
    /// Name.
    pub name: Spanned<String>,
    /// Region.
    pub location: Spanned<String>,
    /// Subscription (explicit or the provider's).
    pub subscription_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// `virtual_network`.
#[derive(Clone, Debug, PartialEq)]
pub struct VirtualNetwork {
    /// Name.
    pub name: Spanned<String>,
    /// Resource group.
    pub resource_group: Spanned<RgRef>,
    /// Region (defaults to the referenced resource group's).
    pub location: Spanned<String>,
    /// Address space.
    pub address_space: Vec<Spanned<Ipv4Net>>,
    /// Subnets in declaration order.
    pub subnets: Vec<Subnet>,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// `subnet "name" { address_prefix }` inside a virtual network.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    /// Label.
    pub name: Spanned<String>,
    /// Prefix.
    pub address_prefix: Spanned<Ipv4Net>,
}

/// Storage account kinds allowed for a cache account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// General-purpose v2 (recommended).
    StorageV2,
    /// General-purpose v1.
    Storage,
    /// Premium block blob (High Churn).
    BlockBlobStorage,
}

impl StorageKind {
    /// ARM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StorageV2 => "StorageV2",
            Self::Storage => "Storage",
            Self::BlockBlobStorage => "BlockBlobStorage",
        }
    }
}

/// `storage_account` (the cache account).
#[derive(Clone, Debug, PartialEq)]
pub struct StorageAccount {
    /// Name.
    pub name: Spanned<String>,
    /// Resource group.
    pub resource_group: Spanned<RgRef>,
    /// Region.
    pub location: Spanned<String>,
    /// Account kind.
    pub kind: StorageKind,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// `availability_set`.
#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilitySet {
    /// Name.
    pub name: Spanned<String>,
    /// Resource group.
    pub resource_group: Spanned<RgRef>,
    /// Region.
    pub location: Spanned<String>,
    /// Fault domains (default 2).
    pub fault_domains: u32,
    /// Update domains (default 5).
    pub update_domains: u32,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// `vault`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vault {
    /// Name.
    pub name: Spanned<String>,
    /// Resource group.
    pub resource_group: Spanned<RgRef>,
    /// Region (the target region).
    pub location: Spanned<String>,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// `replication_policy`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationPolicy {
    /// The vault.
    pub vault: Spanned<ResourceAddr>,
    /// Name (default: the block label).
    pub name: Spanned<String>,
    /// Retention of recovery points (default 24h, at most 15 days).
    pub recovery_point_retention: Spanned<Duration>,
    /// App-consistent snapshot frequency; `None` = off.
    pub app_consistent_interval: Option<Spanned<Duration>>,
    /// Multi-VM consistency (default true).
    pub multi_vm_sync: Spanned<bool>,
}

/// `region_pair`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionPair {
    /// The vault.
    pub vault: Spanned<ResourceAddr>,
    /// Source region.
    pub source: Spanned<String>,
    /// Target region.
    pub target: Spanned<String>,
    /// The policy both container mappings use.
    pub policy: Spanned<ResourceAddr>,
    /// Mobility agent auto-update.
    pub agent_auto_update: Spanned<bool>,
    /// Automation account used for auto-update.
    pub automation_account: Option<Spanned<ArmId>>,
    /// Names of its fabrics, containers and container mappings (asrform's unless set explicitly).
    pub names: super::naming::PairNames,
    /// The `*_name` attributes set explicitly, with where (for diagnostics).
    pub name_spans: BTreeMap<&'static str, Span>,
}

/// A target network: a `virtual_network` block or an ARM id.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkRef {
    /// A block of this configuration.
    Block(ResourceAddr),
    /// An existing network.
    Id(ArmId),
}

/// `network_mapping`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkMapping {
    /// The region pair.
    pub region_pair: Spanned<ResourceAddr>,
    /// Source VNet.
    pub source_network: Spanned<ArmId>,
    /// Target VNet.
    pub target_network: Spanned<NetworkRef>,
    /// Name of the forward mapping (default: the instance name, `label` or `label-key`).
    pub name: Spanned<String>,
    /// Name of the reverse mapping (default: `name`).
    pub reverse_name: Spanned<String>,
}

/// Availability zone.
pub type Zone = String;

/// `disk "SELECTOR" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskSettings {
    /// Glob on the source disk name.
    pub selector: Spanned<String>,
    /// Target disk type.
    pub target_disk_type: Spanned<DiskType>,
    /// Replica disk type (defaults to ASR's choice).
    pub replica_disk_type: Option<Spanned<DiskType>>,
}

/// `nic "SELECTOR" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct NicSettings {
    /// Glob on the source NIC name, or `nicN` (0-based position).
    pub selector: Spanned<String>,
    /// Subnet for failover (default: the VM's `target_subnet`).
    pub target_subnet: Option<Spanned<String>>,
    /// Static IP after failover.
    pub target_static_ip: Option<Spanned<Ipv4Addr>>,
    /// Subnet for test failover.
    pub test_subnet: Option<Spanned<String>>,
    /// Static IP in test failover.
    pub test_static_ip: Option<Spanned<Ipv4Addr>>,
}

/// `protected_vm`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectedVm {
    /// Source VM.
    pub source_vm: Spanned<ArmId>,
    /// Region pair.
    pub region_pair: Spanned<ResourceAddr>,
    /// Cache storage account.
    pub cache_storage: Spanned<ResourceAddr>,
    /// Target resource group.
    pub target_resource_group: Spanned<ResourceAddr>,
    /// Target network.
    pub target_network: Spanned<ResourceAddr>,
    /// Target subnet (name of a `subnet` of `target_network`).
    pub target_subnet: Spanned<String>,
    /// Target VM name (default: the source VM's name).
    pub target_vm_name: Spanned<String>,
    /// Target VM size.
    pub target_vm_size: Option<Spanned<String>>,
    /// Target availability set.
    pub target_availability_set: Option<Spanned<ResourceAddr>>,
    /// Target zone.
    pub target_zone: Option<Spanned<Zone>>,
    /// Test-failover network.
    pub test_network: Option<Spanned<ResourceAddr>>,
    /// Multi-VM consistency group.
    pub consistency_group: Option<Spanned<String>>,
    /// Disk settings in declaration order (first match wins).
    pub disks: Vec<DiskSettings>,
    /// NIC settings in declaration order (first match wins).
    pub nics: Vec<NicSettings>,
}

/// A recovery plan action kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// A manual step.
    Manual {
        /// What the operator must do.
        instructions: String,
    },
    /// A script.
    Script {
        /// Script path.
        script: String,
    },
}

/// `pre_action`/`post_action`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanAction {
    /// Label.
    pub name: Spanned<String>,
    /// What it does.
    pub kind: ActionKind,
    /// Timeout.
    pub timeout: Option<Duration>,
}

/// `group { ... }` of a recovery plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanGroup {
    /// Member VMs.
    pub vms: Vec<Spanned<ResourceAddr>>,
    /// Actions before the group.
    pub pre_actions: Vec<PlanAction>,
    /// Actions after the group.
    pub post_actions: Vec<PlanAction>,
    /// The `group` block.
    pub span: Span,
}

/// Which site is active in the desired state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActiveSite {
    /// Running in the source region.
    Primary,
    /// Failed over.
    Recovery,
}

/// `recovery_plan`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryPlan {
    /// Vault.
    pub vault: Spanned<ResourceAddr>,
    /// Region pair.
    pub region_pair: Spanned<ResourceAddr>,
    /// Name (default: the label).
    pub name: Spanned<String>,
    /// Groups, in failover order.
    pub groups: Vec<PlanGroup>,
    /// Desired active site.
    pub active_site: Option<Spanned<ActiveSite>>,
    /// Readiness gate: a failover or drill of this plan is refused while a member's RPO is above this.
    pub max_rpo: Option<Spanned<Duration>>,
    /// Readiness gate (warning): the last successful drill of every member should be younger than this.
    pub max_drill_age: Option<Spanned<Duration>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_sources};

    fn addrs<'a>(it: impl Iterator<Item = &'a ResourceAddr>) -> Vec<String> {
        it.map(ToString::to_string).collect()
    }

    #[test]
    fn resources_iterate_in_address_order_whatever_the_order_they_were_added_in() {
        // The vault block comes first in the file and the groups' keys are out of order: iteration is still by
        // kind (dependency order), then name, then key.
        let src = r#"
provider "azure" { subscription_id = "00000000-0000-0000-0000-000000000001" }
vault "dr" {
  name           = "rsv"
  resource_group = "rg-b"
  location       = "westus2"
}
resource_group "z" {
  for_each = toset(["c", "a", "b"])
  name     = "rg-${each.key}"
  location = "westus2"
}
resource_group "b" {
  name     = "rg-b"
  location = "westus2"
}
"#;
        let mut config = load_sources(
            vec![("main.asr.hcl".into(), src.into())],
            &LoadOptions::default(),
        )
        .expect("valid")
        .config;
        let expected = [
            "resource_group.b",
            "resource_group.z[\"a\"]",
            "resource_group.z[\"b\"]",
            "resource_group.z[\"c\"]",
            "vault.dr",
        ];
        assert_eq!(addrs(config.resources.keys()), expected);
        assert_eq!(
            addrs(config.of_kind(ResourceKind::ResourceGroup).map(|r| &r.addr)),
            expected[..4]
        );
        assert_eq!(
            addrs(config.of_kind(ResourceKind::Vault).map(|r| &r.addr)),
            expected[4..]
        );
        assert_eq!(config.of_kind(ResourceKind::StorageAccount).count(), 0);

        // Adding out of order re-sorts; adding an existing address replaces it in place.
        let mut early = config.resources[&"resource_group.b".parse().unwrap()].clone();
        early.addr = "resource_group.a".parse().unwrap();
        let mut again = config.resources[&"vault.dr".parse().unwrap()].clone();
        again.id = Some("replaced".into());
        config.resources.extend([again, early]);
        assert_eq!(config.resources.len(), 6);
        assert_eq!(
            config.resources.keys().next().unwrap().to_string(),
            "resource_group.a"
        );
        assert!(config.resources.keys().is_sorted());
        assert_eq!(
            config
                .get(&"vault.dr".parse().unwrap())
                .unwrap()
                .id
                .as_deref(),
            Some("replaced")
        );
        // Lookups follow the re-sort (the hash index is rebuilt with the order).
        for (a, r) in config.resources.iter() {
            assert_eq!(&config.resources[a].addr, &r.addr);
        }

        config.resources.retain(|a, _| a.key.is_none());
        assert_eq!(
            addrs(config.resources.keys()),
            ["resource_group.a", "resource_group.b", "vault.dr"]
        );
    }
}
