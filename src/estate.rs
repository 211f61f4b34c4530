//! The estate file: the source-side world that exists before asrform runs (subscriptions, resource groups,
//! networks, VMs with NICs and managed disks, and the write churn of each disk).
//!
//! The simulator seeds its world from an estate; examples ship one beside their configuration. This module owns the
//! file format (`schemas/estate.schema.json` describes the same shape), its semantic checks, the ARM ids derived
//! from it, and the generator behind `asrform sim generate`. It performs no I/O except [`load`], which reads one
//! file, and it must not know about ASR: replication state belongs to the simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use miette::{Diagnostic, NamedSource, SourceSpan};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Version of the estate format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Managed disk SKUs, exactly as ASR's `DiskAccountType` enum spells them.
pub const DISK_TYPES: &[&str] = &[
    "Standard_LRS",
    "Premium_LRS",
    "StandardSSD_LRS",
    "PremiumV2_LRS",
    "UltraSSD_LRS",
    "StandardSSD_ZRS",
    "Premium_ZRS",
];

/// The whole source-side world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estate {
    /// Must equal [`FORMAT_VERSION`].
    pub version: u32,
    /// Entra tenant the subscriptions belong to (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Subscriptions and everything in them.
    pub subscriptions: Vec<Subscription>,
}

/// One subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Subscription id (a GUID).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource groups that already exist.
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroup>,
}

/// A resource group and the resources in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroup {
    /// Resource group name.
    pub name: String,
    /// Region of the group itself.
    pub location: String,
    /// Virtual networks in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// Storage accounts that already exist (for example a cache account created by hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_accounts: Vec<StorageAccount>,
    /// Virtual machines in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vms: Vec<Vm>,
}

/// A virtual network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// VNet name.
    pub name: String,
    /// Region; defaults to the resource group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Address space (CIDRs).
    pub address_space: Vec<Ipv4Net>,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
}

/// A subnet of a [`Network`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Subnet name.
    pub name: String,
    /// Prefix, inside the network's address space.
    pub address_prefix: Ipv4Net,
}

/// A storage account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageAccount {
    /// Account name (3–24 lower-case letters and digits).
    pub name: String,
    /// Region; defaults to the resource group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `StorageV2` (default), `Storage` or `BlockBlobStorage`.
    #[serde(default = "default_storage_kind")]
    pub kind: String,
}

fn default_storage_kind() -> String {
    "StorageV2".to_string()
}

/// A source virtual machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// VM name.
    pub name: String,
    /// Region; defaults to the resource group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// VM size, e.g. `Standard_D4s_v5`.
    pub size: String,
    /// Availability zone `"1"`, `"2"` or `"3"`, if zonal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `Linux` or `Windows`.
    #[serde(default = "default_os")]
    pub os_type: String,
    /// NICs; the first is primary.
    pub nics: Vec<Nic>,
    /// The OS disk.
    pub os_disk: Disk,
    /// Data disks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_disks: Vec<Disk>,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn default_os() -> String {
    "Linux".to_string()
}

/// A network interface of a [`Vm`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// NIC name.
    pub name: String,
    /// VNet name; the VNet must be in the same resource group unless `network_resource_group` is set.
    pub network: String,
    /// Resource group of the VNet when it differs from the VM's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_resource_group: Option<String>,
    /// Subnet name inside the VNet.
    pub subnet: String,
    /// Static private IP.
    pub private_ip: Ipv4Addr,
}

/// A managed disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Disk name.
    pub name: String,
    /// Size in GiB.
    pub size_gb: u32,
    /// SKU, one of [`DISK_TYPES`].
    #[serde(default = "default_sku")]
    pub sku: String,
    /// Average write churn in MB/s.
    #[serde(default)]
    pub churn_mb_s: f64,
}

fn default_sku() -> String {
    "Premium_LRS".to_string()
}

/// A problem with an estate file.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum EstateError {
    /// The file could not be read.
    #[error("cannot read estate file {path}")]
    #[diagnostic(code(estate::io))]
    Io {
        /// Path as given.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or does not have the estate's shape.
    #[error("estate file {path} is not a valid estate: {message}")]
    #[diagnostic(
        code(estate::syntax),
        help("see schemas/estate.schema.json for the format")
    )]
    Syntax {
        /// Path as given.
        path: String,
        /// What serde said.
        message: String,
        /// The file.
        #[source_code]
        src: NamedSource<String>,
        /// Where.
        #[label("here")]
        at: SourceSpan,
    },
    /// The file parsed but breaks a rule.
    #[error("estate file {path}: {problems} problem(s)")]
    #[diagnostic(code(estate::invalid))]
    Invalid {
        /// Path as given.
        path: String,
        /// How many.
        problems: usize,
        /// Each problem, one line.
        #[related]
        errors: Vec<EstateProblem>,
    },
}

/// One semantic problem in an estate, located by a path such as `subscriptions[0].resource_groups[1].vms[3]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Diagnostic)]
#[error("{at}: {message}")]
#[diagnostic(code(estate::rule))]
pub struct EstateProblem {
    /// Where in the document.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

/// Reads and checks an estate file.
// The error carries the file for its diagnostic; it is built once, on a bad estate, so its size costs nothing.
#[allow(clippy::result_large_err)]
pub fn load(path: &Path) -> Result<Estate, EstateError> {
    let text = std::fs::read_to_string(path).map_err(|source| EstateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Parses and checks estate text; `name` is used in messages.
#[allow(clippy::result_large_err)]
pub fn parse(name: &str, text: &str) -> Result<Estate, EstateError> {
    let estate: Estate = serde_json::from_str(text).map_err(|e| EstateError::Syntax {
        path: name.to_string(),
        message: e.to_string(),
        at: offset_of(text, e.line(), e.column()).into(),
        src: NamedSource::new(name, text.to_string()),
    })?;
    let errors = estate.problems();
    if errors.is_empty() {
        Ok(estate)
    } else {
        Err(EstateError::Invalid {
            path: name.to_string(),
            problems: errors.len(),
            errors,
        })
    }
}

/// Byte offset of a one-based line/column pair as serde_json reports them.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

impl Estate {
    /// Every rule the file breaks (empty when valid).
    pub fn problems(&self) -> Vec<EstateProblem> {
        let mut out = Vec::new();
        let mut push = |at: String, message: String| out.push(EstateProblem { at, message });
        if self.version != FORMAT_VERSION {
            push(
                "version".into(),
                format!(
                    "unsupported version {} (this build reads {FORMAT_VERSION})",
                    self.version
                ),
            );
        }
        let mut sub_ids = BTreeSet::new();
        for (si, sub) in self.subscriptions.iter().enumerate() {
            let sp = format!("subscriptions[{si}]");
            if !is_guid(&sub.id) {
                push(format!("{sp}.id"), format!("`{}` is not a GUID", sub.id));
            }
            if !sub_ids.insert(sub.id.to_lowercase()) {
                push(
                    format!("{sp}.id"),
                    format!("subscription `{}` is listed twice", sub.id),
                );
            }
            let mut rg_names = BTreeSet::new();
            for (gi, rg) in sub.resource_groups.iter().enumerate() {
                let gp = format!("{sp}.resource_groups[{gi}]");
                if !rg_names.insert(rg.name.to_lowercase()) {
                    push(
                        gp.clone(),
                        format!("resource group `{}` is listed twice", rg.name),
                    );
                }
                check_region(&mut push, &format!("{gp}.location"), &rg.location);
                self.check_group(sub, rg, &gp, &mut push);
            }
        }
        out
    }

    fn check_group(
        &self,
        sub: &Subscription,
        rg: &ResourceGroup,
        gp: &str,
        push: &mut impl FnMut(String, String),
    ) {
        let mut names = BTreeSet::new();
        for (ni, net) in rg.networks.iter().enumerate() {
            let np = format!("{gp}.networks[{ni}]");
            if !names.insert(("vnet", net.name.to_lowercase())) {
                push(
                    np.clone(),
                    format!("network `{}` is listed twice", net.name),
                );
            }
            if let Some(loc) = &net.location {
                check_region(push, &format!("{np}.location"), loc);
            }
            let mut subnet_names = BTreeSet::new();
            for (bi, subnet) in net.subnets.iter().enumerate() {
                let bp = format!("{np}.subnets[{bi}]");
                if !subnet_names.insert(subnet.name.to_lowercase()) {
                    push(
                        bp.clone(),
                        format!("subnet `{}` is listed twice", subnet.name),
                    );
                }
                if !net
                    .address_space
                    .iter()
                    .any(|space| space.contains(&subnet.address_prefix))
                {
                    push(
                        format!("{bp}.address_prefix"),
                        format!(
                            "{} is outside the network's address space",
                            subnet.address_prefix
                        ),
                    );
                }
            }
        }
        for (ai, sa) in rg.storage_accounts.iter().enumerate() {
            let ap = format!("{gp}.storage_accounts[{ai}]");
            let valid = (3..=24).contains(&sa.name.len())
                && sa
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !valid {
                push(
                    ap.clone(),
                    format!(
                        "`{}` is not a valid storage account name (3-24 lower-case letters and digits)",
                        sa.name
                    ),
                );
            }
            if !["StorageV2", "Storage", "BlockBlobStorage"].contains(&sa.kind.as_str()) {
                push(
                    format!("{ap}.kind"),
                    format!("unknown storage kind `{}`", sa.kind),
                );
            }
        }
        let mut ips = BTreeSet::new();
        for (vi, vm) in rg.vms.iter().enumerate() {
            let vp = format!("{gp}.vms[{vi}]");
            if !names.insert(("vm", vm.name.to_lowercase())) {
                push(vp.clone(), format!("VM `{}` is listed twice", vm.name));
            }
            if let Some(loc) = &vm.location {
                check_region(push, &format!("{vp}.location"), loc);
            }
            if let Some(zone) = &vm.zone
                && !["1", "2", "3"].contains(&zone.as_str())
            {
                push(
                    format!("{vp}.zone"),
                    format!("zone must be \"1\", \"2\" or \"3\", not `{zone}`"),
                );
            }
            if !["Linux", "Windows"].contains(&vm.os_type.as_str()) {
                push(
                    format!("{vp}.os_type"),
                    format!("os_type must be Linux or Windows, not `{}`", vm.os_type),
                );
            }
            if vm.nics.is_empty() {
                push(format!("{vp}.nics"), "a VM needs at least one NIC".into());
            }
            let vm_location = vm.location.as_deref().unwrap_or(&rg.location);
            for (ci, nic) in vm.nics.iter().enumerate() {
                let cp = format!("{vp}.nics[{ci}]");
                let net_rg = nic.network_resource_group.as_deref().unwrap_or(&rg.name);
                let Some((net_group, net)) = sub
                    .resource_groups
                    .iter()
                    .filter(|g| g.name.eq_ignore_ascii_case(net_rg))
                    .find_map(|g| {
                        g.networks
                            .iter()
                            .find(|n| n.name.eq_ignore_ascii_case(&nic.network))
                            .map(|n| (g, n))
                    })
                else {
                    push(
                        format!("{cp}.network"),
                        format!(
                            "network `{}` not found in resource group `{net_rg}`",
                            nic.network
                        ),
                    );
                    continue;
                };
                let net_location = net.location.as_deref().unwrap_or(&net_group.location);
                if !net_location.eq_ignore_ascii_case(vm_location) {
                    push(
                        format!("{cp}.network"),
                        format!(
                            "network `{}` is in {net_location} but the VM is in {vm_location}",
                            net.name
                        ),
                    );
                }
                match net
                    .subnets
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&nic.subnet))
                {
                    None => push(
                        format!("{cp}.subnet"),
                        format!(
                            "subnet `{}` not found in network `{}`",
                            nic.subnet, net.name
                        ),
                    ),
                    Some(subnet) if !subnet.address_prefix.contains(&nic.private_ip) => push(
                        format!("{cp}.private_ip"),
                        format!(
                            "{} is outside subnet {} ({})",
                            nic.private_ip, subnet.name, subnet.address_prefix
                        ),
                    ),
                    Some(_) => {}
                }
                if !ips.insert((
                    net_rg.to_lowercase(),
                    net.name.to_lowercase(),
                    nic.private_ip,
                )) {
                    push(
                        format!("{cp}.private_ip"),
                        format!(
                            "{} is used by another NIC in the same network",
                            nic.private_ip
                        ),
                    );
                }
            }
            for (di, disk) in std::iter::once(&vm.os_disk)
                .chain(&vm.data_disks)
                .enumerate()
            {
                let dp = if di == 0 {
                    format!("{vp}.os_disk")
                } else {
                    format!("{vp}.data_disks[{}]", di - 1)
                };
                if !names.insert(("disk", disk.name.to_lowercase())) {
                    push(
                        dp.clone(),
                        format!("disk `{}` is listed twice in the resource group", disk.name),
                    );
                }
                if !DISK_TYPES.contains(&disk.sku.as_str()) {
                    push(
                        format!("{dp}.sku"),
                        format!(
                            "unknown disk type `{}` (expected one of {})",
                            disk.sku,
                            DISK_TYPES.join(", ")
                        ),
                    );
                }
                if disk.size_gb == 0 || disk.size_gb > 32_767 {
                    push(
                        format!("{dp}.size_gb"),
                        format!("size {} GiB is outside 1..=32767", disk.size_gb),
                    );
                }
                if !(disk.churn_mb_s.is_finite() && disk.churn_mb_s >= 0.0) {
                    push(
                        format!("{dp}.churn_mb_s"),
                        "churn must be a non-negative number".into(),
                    );
                }
            }
        }
    }

    /// Every VM with its subscription and resource group, in file order.
    pub fn vms(&self) -> impl Iterator<Item = (&Subscription, &ResourceGroup, &Vm)> {
        self.subscriptions
            .iter()
            .flat_map(|s| s.resource_groups.iter().map(move |g| (s, g)))
            .flat_map(|(s, g)| g.vms.iter().map(move |v| (s, g, v)))
    }

    /// Every network with its subscription and resource group.
    pub fn networks(&self) -> impl Iterator<Item = (&Subscription, &ResourceGroup, &Network)> {
        self.subscriptions
            .iter()
            .flat_map(|s| s.resource_groups.iter().map(move |g| (s, g)))
            .flat_map(|(s, g)| g.networks.iter().map(move |n| (s, g, n)))
    }
}

fn check_region(push: &mut impl FnMut(String, String), at: &str, region: &str) {
    if crate::region::canonical(region) != Some(region) {
        let help = match crate::region::canonical(region).or_else(|| crate::region::suggest(region))
        {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        push(at.to_string(), format!("unknown region `{region}`{help}"));
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// ARM ids of estate objects, in the casing ARM uses when it is asked to create them.
pub mod ids {
    /// `/subscriptions/{sub}/resourceGroups/{rg}`
    pub fn resource_group(sub: &str, rg: &str) -> String {
        format!("/subscriptions/{sub}/resourceGroups/{rg}")
    }
    /// A VM.
    pub fn vm(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{name}",
            resource_group(sub, rg)
        )
    }
    /// A managed disk.
    pub fn disk(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Compute/disks/{name}",
            resource_group(sub, rg)
        )
    }
    /// A NIC.
    pub fn nic(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Network/networkInterfaces/{name}",
            resource_group(sub, rg)
        )
    }
    /// A virtual network.
    pub fn vnet(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Network/virtualNetworks/{name}",
            resource_group(sub, rg)
        )
    }
    /// A subnet.
    pub fn subnet(sub: &str, rg: &str, vnet_name: &str, name: &str) -> String {
        format!("{}/subnets/{name}", vnet(sub, rg, vnet_name))
    }
    /// A storage account.
    pub fn storage_account(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{name}",
            resource_group(sub, rg)
        )
    }
}

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Number of VMs.
    pub vms: usize,
    /// Number of source subscriptions the VMs are spread over (ASR allows 3,000 protected disks per subscription).
    pub subscriptions: usize,
    /// Source region.
    pub region: String,
    /// Seed: the same seed gives the same estate.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            vms: 100,
            subscriptions: 1,
            region: "eastus".into(),
            seed: 42,
        }
    }
}

impl fmt::Display for GenerateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} VMs over {} subscription(s) in {} (seed {})",
            self.vms, self.subscriptions, self.region, self.seed
        )
    }
}

/// Deterministic subscription id number `n` (1-based), e.g. `00000000-0000-0000-0000-000000000001`.
pub fn subscription_id(n: usize) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// Generates an estate of `opts.vms` VMs with realistic sizes and churn: mostly small general-purpose VMs with a
/// 128 GiB OS disk and zero to three data disks, churn drawn from a long-tailed distribution so that a few VMs exceed
/// ASR's 54 MB/s per-VM limit as real fleets do. VMs are named `vm00001`…, one `/16` VNet per subscription with
/// subnets of 250 addresses, IPs assigned in order.
pub fn generate(opts: &GenerateOptions) -> Estate {
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let subs = opts.subscriptions.max(1);
    let per_sub = opts.vms.div_ceil(subs);
    let sizes = [
        ("Standard_D2s_v5", 40),
        ("Standard_D4s_v5", 30),
        ("Standard_D8s_v5", 15),
        ("Standard_E4s_v5", 10),
        ("Standard_E16s_v5", 5),
    ];
    let mut subscriptions = Vec::new();
    let mut vm_no = 0usize;
    for s in 0..subs {
        let count = per_sub.min(opts.vms.saturating_sub(vm_no));
        if count == 0 {
            break;
        }
        let subnet_count = count.div_ceil(250).max(1);
        // A /16 holds 256 subnets of /24; larger generated estates use more subscriptions.
        let subnets: Vec<Subnet> = (0..subnet_count.min(256))
            .map(|i| Subnet {
                name: format!("snet{i:03}"),
                address_prefix: format!("10.{}.{i}.0/24", 10 + s % 200).parse().unwrap(),
            })
            .collect();
        let network = Network {
            name: "vnet-app".into(),
            location: None,
            address_space: vec![format!("10.{}.0.0/16", 10 + s % 200).parse().unwrap()],
            subnets,
        };
        let mut vms = Vec::with_capacity(count);
        for i in 0..count {
            vm_no += 1;
            let pick = rng.gen_range(0..100);
            let mut acc = 0;
            let size = sizes
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    pick < acc
                })
                .map(|(s, _)| *s)
                .unwrap_or("Standard_D2s_v5");
            let subnet_index = (i / 250).min(255);
            let host = (i % 250) as u8 + 4;
            let data_disks = (0..rng.gen_range(0..=3))
                .map(|d| Disk {
                    name: format!("vm{vm_no:05}-data{d}"),
                    size_gb: [128, 256, 512, 1024, 2048][rng.gen_range(0..5)],
                    sku: if rng.gen_bool(0.8) {
                        "Premium_LRS"
                    } else {
                        "StandardSSD_LRS"
                    }
                    .into(),
                    churn_mb_s: churn(&mut rng),
                })
                .collect();
            vms.push(Vm {
                name: format!("vm{vm_no:05}"),
                location: None,
                size: size.into(),
                zone: Some(((vm_no % 3) + 1).to_string()),
                os_type: if rng.gen_bool(0.7) {
                    "Linux"
                } else {
                    "Windows"
                }
                .into(),
                nics: vec![Nic {
                    name: format!("vm{vm_no:05}-nic0"),
                    network: "vnet-app".into(),
                    network_resource_group: None,
                    subnet: format!("snet{subnet_index:03}"),
                    private_ip: Ipv4Addr::new(10, (10 + s % 200) as u8, subnet_index as u8, host),
                }],
                os_disk: Disk {
                    name: format!("vm{vm_no:05}-os"),
                    size_gb: 128,
                    sku: "Premium_LRS".into(),
                    churn_mb_s: churn(&mut rng) / 4.0,
                },
                data_disks,
                tags: BTreeMap::new(),
            });
        }
        subscriptions.push(Subscription {
            id: subscription_id(s + 1),
            name: Some(format!("source-{}", s + 1)),
            resource_groups: vec![ResourceGroup {
                name: "rg-app".into(),
                location: opts.region.clone(),
                networks: vec![network],
                storage_accounts: Vec::new(),
                vms,
            }],
        });
    }
    Estate {
        version: FORMAT_VERSION,
        tenant_id: None,
        subscriptions,
    }
}

/// Long-tailed churn in MB/s: most disks write a few MB/s, about one in a hundred writes far more.
fn churn(rng: &mut SmallRng) -> f64 {
    let base: f64 = rng.gen_range(0.1..4.0);
    let value = if rng.gen_bool(0.01) {
        base * 20.0
    } else {
        base
    };
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> &'static str {
        r#"{
  "version": 1,
  "subscriptions": [{
    "id": "00000000-0000-0000-0000-000000000001",
    "resource_groups": [{
      "name": "rg-app", "location": "eastus",
      "networks": [{ "name": "vnet-app", "address_space": ["10.1.0.0/16"],
                     "subnets": [{ "name": "app", "address_prefix": "10.1.1.0/24" }] }],
      "vms": [{ "name": "web01", "size": "Standard_D2s_v5",
                "nics": [{ "name": "web01-nic", "network": "vnet-app", "subnet": "app", "private_ip": "10.1.1.4" }],
                "os_disk": { "name": "web01-os", "size_gb": 128, "churn_mb_s": 1.5 } }]
    }]
  }]
}"#
    }

    #[test]
    fn parses_a_valid_estate() {
        let e = parse("e.json", small()).unwrap();
        assert_eq!(e.vms().count(), 1);
        assert_eq!(e.vms().next().unwrap().2.os_disk.sku, "Premium_LRS");
    }

    #[test]
    fn syntax_error_points_at_line() {
        let text = small().replace("\"size\": \"Standard_D2s_v5\"", "\"size\": ");
        let err = parse("e.json", &text).unwrap_err();
        assert!(matches!(err, EstateError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = small().replace("\"size_gb\": 128", "\"size_gb\": 128, \"sizegb\": 1");
        assert!(matches!(
            parse("e.json", &text),
            Err(EstateError::Syntax { .. })
        ));
    }

    #[test]
    fn semantic_problems_are_all_reported() {
        let text = small()
            .replace("10.1.1.4", "10.9.9.9")
            .replace("\"eastus\"", "\"eastsu\"")
            .replace("\"size_gb\": 128", "\"size_gb\": 0");
        let EstateError::Invalid { errors, .. } = parse("e.json", &text).unwrap_err() else {
            panic!()
        };
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{text:#?}");
        assert!(text[0].contains("did you mean `eastus`"));
    }

    #[test]
    fn generator_is_deterministic_and_valid() {
        let opts = GenerateOptions {
            vms: 600,
            subscriptions: 2,
            ..Default::default()
        };
        let a = generate(&opts);
        assert_eq!(a, generate(&opts));
        assert_eq!(a.vms().count(), 600);
        assert_eq!(a.problems(), vec![]);
        assert_ne!(a, generate(&GenerateOptions { seed: 7, ..opts }));
    }
}
