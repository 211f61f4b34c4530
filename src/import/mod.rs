//! Import: turning a live Recovery Services vault into `*.asr.hcl` files and a state that adopts what exists.
//!
//! [`generate`] is pure: a [`Snapshot`] of the vault (and of the resource groups its protected items point at) in,
//! file texts and warnings out. It writes references instead of raw ids wherever the referenced object is also
//! written, groups VMs that share a shape into one `for_each` block over a generated CSV, names blocks with valid
//! HCL identifiers derived from ARM names, orders everything stably, and reports what it cannot express as warnings
//! rather than dropping it. [`adopt`] is pure too: the loaded configuration plus the snapshot in, a [`State`] that
//! records every address with its ARM ids, lifecycle id, the attributes as live shows them, and the active site.
//! The I/O edge (reading the snapshot, writing files) is in [`io`]. Nothing here prints or writes to the cloud.

pub mod io;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use globset::{Glob, GlobMatcher};
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::model::{Config, ResourceBody};
use crate::config::naming;
use crate::plan::attrs;
use crate::provider::ArmId;
use crate::provider::model::{ProtectedItem, Snapshot};
use crate::state::{ResourceState, Site, State};

/// How generated files are split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitBy {
    /// One file per recovery plan (its VMs and the plan), shared objects in `main.asr.hcl`.
    #[default]
    RecoveryPlan,
    /// One file per target resource group of the protected VMs.
    ResourceGroup,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The vault to import.
    pub vault: ArmId,
    /// Only protected items whose source VM name matches this glob (recovery plans keep only those members).
    pub include: Option<String>,
    /// How to split the files.
    pub split_by: SplitBy,
    /// The provider block to write, verbatim (the provider the import read from).
    pub provider_block: String,
    /// The subscription resources default to (the provider's); others get an explicit `subscription_id`.
    pub default_subscription: Option<String>,
    /// At least this many VMs of one shape become a `for_each` over a CSV (default 4).
    pub csv_threshold: usize,
}

impl ImportOptions {
    /// Options with the defaults.
    pub fn new(vault: ArmId, provider_block: impl Into<String>) -> Self {
        Self {
            vault,
            include: None,
            split_by: SplitBy::default(),
            provider_block: provider_block.into(),
            default_subscription: None,
            csv_threshold: 4,
        }
    }
}

/// The generated configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generated {
    /// File name → text (`*.asr.hcl` and CSV inventories).
    pub files: BTreeMap<String, String>,
    /// What could not be expressed, one line each.
    pub warnings: Vec<String>,
}

/// Why an import failed as a whole.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImportError {
    /// The vault is not in the snapshot.
    #[error("vault {0} was not found (check the id and that the provider can read it)")]
    #[diagnostic(code(asrform::import::vault_not_found))]
    VaultNotFound(String),
    /// `--include` is not a glob.
    #[error("--include `{0}` is not a valid glob: {1}")]
    #[diagnostic(code(asrform::import::include))]
    Include(String, String),
    /// A file exists and `--force` was not given.
    #[error("{0} already exists; pass --force to overwrite it")]
    #[diagnostic(
        code(asrform::import::exists),
        help("import into an empty directory, or add --force")
    )]
    Exists(String),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(asrform::import::write))]
    Write {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A generated file failed to format (a bug in the generator).
    #[error("generated {0} is not valid HCL: {1}")]
    #[diagnostic(code(asrform::import::format))]
    Format(String, String),
    /// Reading live state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Provider(Box<crate::provider::ProviderError>),
}

impl From<crate::provider::ProviderError> for ImportError {
    fn from(e: crate::provider::ProviderError) -> Self {
        Self::Provider(Box::new(e))
    }
}

/// A valid HCL identifier for an ARM name: lower case, runs of other characters become one `_`, and a leading digit
/// gets an `n` in front (identifiers cannot start with a digit).
pub fn ident(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if sep && !out.is_empty() {
                out.push('_');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        } else {
            sep = true;
        }
    }
    if out.is_empty() {
        out.push_str("unnamed");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'n');
    }
    out
}

/// Hands out unique identifiers per block kind.
#[derive(Default)]
struct Names(BTreeMap<&'static str, BTreeSet<String>>);

impl Names {
    fn take(&mut self, kind: &'static str, wanted: &str) -> String {
        let used = self.0.entry(kind).or_default();
        let base = ident(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        used.insert(name.clone());
        name
    }
}

fn q(s: &str) -> String {
    // JSON string escaping is a subset HCL accepts; `${` and `%{` must not start a template.
    serde_json::to_string(s)
        .unwrap_or_default()
        .replace("${", "$${")
        .replace("%{", "%%{")
}

fn duration(minutes: i64) -> String {
    if minutes >= 48 * 60 && minutes.rem_euclid(24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes > 0 && minutes.rem_euclid(60) == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

fn rg_id(id: &ArmId) -> Option<String> {
    Some(naming::resource_group_id(
        id.subscription()?,
        id.resource_group()?,
    ))
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// A resource group reference: a block when one is written, else its name (with a subscription when it differs).
struct Rg {
    addr: Option<String>,
    name: String,
}

impl Rg {
    fn expr(&self) -> String {
        self.addr.clone().unwrap_or_else(|| q(&self.name))
    }
}

/// Everything generation decides before rendering, keyed by lower-cased ARM id.
struct Model {
    vault_addr: String,
    warnings: Vec<String>,
    rgs: BTreeMap<String, String>,
    vnets: BTreeMap<String, String>,
    storage: BTreeMap<String, String>,
    avsets: BTreeMap<String, String>,
    policies: BTreeMap<String, String>,
    /// (source region, target region) → region pair address.
    pairs: BTreeMap<(String, String), String>,
    /// (source region, target region) → the pair's object names as live has them.
    pair_names: BTreeMap<(String, String), naming::PairNames>,
    /// protected item id → address.
    vm_addr: BTreeMap<String, String>,
}

/// One protected VM as it will be written.
#[derive(Clone, Debug)]
struct Vm<'s> {
    item: &'s ProtectedItem,
    /// The VM the configuration protects (after reprotect: the original VM, not the item's current source).
    source_vm: ArmId,
    name: String,
    source_rg: String,
    pair: String,
    cache: String,
    target_rg: String,
    target_net: String,
    test_net: Option<String>,
    subnet: String,
    size: Option<String>,
    cg: Option<String>,
    avset: Option<String>,
    zone: Option<String>,
    target_name: Option<String>,
    disk_type: Option<String>,
    /// Per-disk types when they differ (name → type).
    disk_types: BTreeMap<String, String>,
    nics: Vec<NicOut>,
    plan: Option<String>,
    failed_over: bool,
    /// What had to be inferred rather than read (reported as warnings).
    notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct NicOut {
    selector: String,
    target_subnet: Option<String>,
    target_ip: Option<String>,
    test_subnet: Option<String>,
    test_ip: Option<String>,
}

impl NicOut {
    fn is_empty(&self) -> bool {
        self.target_subnet.is_none()
            && self.target_ip.is_none()
            && self.test_subnet.is_none()
            && self.test_ip.is_none()
    }
}

impl Vm<'_> {
    /// VMs with equal shapes can share one `for_each` block: same references and the same optional attributes.
    fn shape(&self) -> String {
        let n = self.nics.first();
        format!(
            "{}|{}|{}|{}|{:?}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.pair,
            self.cache,
            self.target_rg,
            self.target_net,
            self.test_net,
            self.size.is_some(),
            self.cg.is_some(),
            self.avset.is_some() || self.zone.is_some() || self.target_name.is_some(),
            self.disk_types.is_empty(),
            self.disk_type.is_some(),
            self.nics.len(),
            n.is_some_and(|n| n.selector == "nic0"),
            n.is_some_and(|n| n.target_ip.is_some()),
            n.is_some_and(|n| n.test_subnet.is_some() && n.test_ip.is_some()),
            n.is_some_and(|n| n.target_subnet.is_some()),
        )
    }
}

fn region_of_fabric(snap: &Snapshot, id: Option<&str>) -> Option<String> {
    let id = ArmId::parse(id?).ok()?;
    snap.fabrics.get(&id)?.location.clone()
}

/// Generates the configuration for the vault in `snap`.
pub fn generate(snap: &Snapshot, opts: &ImportOptions) -> Result<Generated, ImportError> {
    let vault = snap
        .vaults
        .get(&opts.vault)
        .ok_or_else(|| ImportError::VaultNotFound(opts.vault.to_string()))?;
    let include: Option<GlobMatcher> = match &opts.include {
        Some(p) => Some(
            Glob::new(p)
                .map_err(|e| ImportError::Include(p.clone(), e.to_string()))?
                .compile_matcher(),
        ),
        None => None,
    };
    let vprefix = lower(vault.id.as_str());
    let in_vault = |id: &ArmId| lower(id.as_str()).starts_with(&vprefix);
    let mut names = Names::default();
    let mut m = Model {
        vault_addr: String::new(),
        warnings: Vec::new(),
        rgs: BTreeMap::new(),
        vnets: BTreeMap::new(),
        storage: BTreeMap::new(),
        avsets: BTreeMap::new(),
        policies: BTreeMap::new(),
        pairs: BTreeMap::new(),
        pair_names: BTreeMap::new(),
        vm_addr: BTreeMap::new(),
    };
    let default_sub = opts.default_subscription.as_deref();
    let sub_attr = |id: &ArmId| -> Option<String> {
        let s = id.subscription()?;
        (Some(s) != default_sub).then(|| s.to_string())
    };

    // --- protected items in scope --------------------------------------------------------------------------
    let mut items: Vec<&ProtectedItem> = Vec::new();
    for i in snap.protected_items.values().filter(|i| in_vault(&i.id)) {
        let name = i
            .source_vm_id
            .as_ref()
            .map(|v| v.name().to_string())
            .or_else(|| i.friendly_name.clone())
            .unwrap_or_else(|| i.id.name().to_string());
        if include.as_ref().is_some_and(|g| !g.is_match(&name)) {
            continue;
        }
        let a2a = i
            .instance_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("A2A"));
        if !a2a {
            m.warnings.push(format!(
                "{}: replication provider {} is not supported (only Azure-to-Azure); not imported",
                i.id,
                i.instance_type.as_deref().unwrap_or("?")
            ));
            continue;
        }
        if i.source_vm_id.is_none() {
            m.warnings.push(format!(
                "{}: no source VM id (classic or unmanaged VM?); not imported",
                i.id
            ));
            continue;
        }
        items.push(i);
    }
    items.sort_by_key(|i| lower(i.source_vm_id.as_ref().map_or("", |v| v.name())));

    // --- resource groups, networks, storage, availability sets the items point at ----------------------------
    let mut rg_ids: BTreeSet<String> = BTreeSet::new();
    let mut vnet_ids: BTreeSet<String> = BTreeSet::new();
    let mut sa_ids: BTreeSet<String> = BTreeSet::new();
    let mut av_ids: BTreeSet<String> = BTreeSet::new();
    for i in &items {
        rg_ids.extend(i.target_resource_group_id.iter().map(|x| lower(x)));
        vnet_ids.extend(i.target_network_id.iter().map(|x| lower(x)));
        vnet_ids.extend(i.tfo_network_id.iter().map(|x| lower(x)));
        sa_ids.extend(
            i.disks
                .iter()
                .filter_map(|d| d.staging_account_id.as_ref())
                .map(|x| lower(x)),
        );
        av_ids.extend(i.target_availability_set_id.iter().map(|x| lower(x)));
        // A reprotected item runs in the vault's region (ASR keeps vaults out of source regions): the group it runs
        // in is the forward direction's target group.
        if i.primary_location
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&vault.location))
        {
            rg_ids.extend(i.source_vm_id.as_ref().and_then(rg_id).map(|r| lower(&r)));
        }
    }
    // Only forward mappings' targets: the reverse mapping's target is the source network, which stays unmanaged.
    // ASR keeps a vault out of the source region, so a mapping whose fabric is in the vault's region is a reverse one.
    let fabric_region = |mapping: &ArmId| {
        let segs: Vec<&str> = mapping.as_str().split('/').collect();
        region_of_fabric(snap, Some(&segs[..segs.len().saturating_sub(4)].join("/")))
    };
    for mp in snap.network_mappings.values().filter(|x| in_vault(&x.id)) {
        if fabric_region(&mp.id).is_some_and(|r| !r.eq_ignore_ascii_case(&vault.location)) {
            vnet_ids.extend(mp.recovery_network_id.iter().map(|x| lower(x.as_str())));
        }
    }
    for v in &vnet_ids {
        if let Some(r) = ArmId::parse(v).ok().as_ref().and_then(rg_id) {
            rg_ids.insert(lower(&r));
        }
    }
    if let Some(r) = rg_id(&vault.id) {
        rg_ids.insert(lower(&r));
    }

    let mut out_main = String::new();
    writeln!(out_main, "{}\n", opts.provider_block.trim_end()).ok();

    for id in &rg_ids {
        let Ok(aid) = ArmId::parse(id) else { continue };
        let Some(g) = snap.resource_groups.get(&aid) else {
            m.warnings.push(format!(
                "resource group {id} could not be read; it is referred to by name"
            ));
            continue;
        };
        let name = g.id.name().to_string();
        let label = names.take("resource_group", &name);
        let addr = format!("resource_group.{label}");
        writeln!(out_main, "resource_group {} {{", q(&label)).ok();
        writeln!(out_main, "name = {}", q(&name)).ok();
        writeln!(out_main, "location = {}", q(&g.location)).ok();
        if let Some(s) = sub_attr(&g.id) {
            writeln!(out_main, "subscription_id = {}", q(&s)).ok();
        }
        tags(&mut out_main, &g.tags);
        writeln!(out_main, "}}\n").ok();
        m.rgs.insert(id.clone(), addr);
    }
    let rg_ref = |m: &Model, id: &ArmId| -> Rg {
        let key = rg_id(id).map(|x| lower(&x)).unwrap_or_default();
        Rg {
            addr: m.rgs.get(&key).cloned(),
            name: id.resource_group().unwrap_or_default().to_string(),
        }
    };

    // Vault.
    let vlabel = names.take("vault", vault.id.name());
    m.vault_addr = format!("vault.{vlabel}");
    writeln!(out_main, "vault {} {{", q(&vlabel)).ok();
    writeln!(out_main, "name = {}", q(vault.id.name())).ok();
    writeln!(
        out_main,
        "resource_group = {}",
        rg_ref(&m, &vault.id).expr()
    )
    .ok();
    writeln!(out_main, "location = {}", q(&vault.location)).ok();
    if let Some(s) = sub_attr(&vault.id) {
        writeln!(out_main, "subscription_id = {}", q(&s)).ok();
    }
    writeln!(out_main, "}}\n").ok();

    // Policies.
    for p in snap.policies.values().filter(|p| in_vault(&p.id)) {
        if p.instance_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("A2A"))
        {
            m.warnings.push(format!(
                "policy {}: provider {} is not supported; not imported",
                p.id,
                p.instance_type.as_deref().unwrap_or("?")
            ));
            continue;
        }
        let pname = p.id.name().to_string();
        let label = names.take("replication_policy", &pname);
        writeln!(out_main, "replication_policy {} {{", q(&label)).ok();
        writeln!(out_main, "vault = {}", m.vault_addr).ok();
        if label != pname {
            writeln!(out_main, "name = {}", q(&pname)).ok();
        }
        let ret = p.recovery_point_history_minutes.unwrap_or(24 * 60);
        let note = if ret == 24 * 60 {
            " # ASR's default"
        } else {
            ""
        };
        writeln!(
            out_main,
            "recovery_point_retention = {}{note}",
            q(&duration(ret))
        )
        .ok();
        match p.app_consistent_frequency_minutes {
            Some(a) if a > 0 => {
                writeln!(out_main, "app_consistent_interval = {}", q(&duration(a))).ok();
            }
            _ => {
                writeln!(out_main, "# no app-consistent snapshots (ASR's default)").ok();
            }
        }
        let sync = p
            .multi_vm_sync_status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("Enable"));
        writeln!(out_main, "multi_vm_sync = {sync}").ok();
        if let Some(c) = p.crash_consistent_frequency_minutes
            && c != 5
            && c != 0
        {
            m.warnings.push(format!(
                "policy {}: crash-consistent frequency {c} min cannot be expressed (asrform uses ASR's 5 min)",
                p.id
            ));
        }
        writeln!(out_main, "}}\n").ok();
        m.policies
            .insert(lower(p.id.as_str()), format!("replication_policy.{label}"));
    }

    // Region pairs: one per pair of container mappings (forward and reverse) between two regions' containers.
    // Names that differ from asrform's are written as explicit `*_name` attributes, so the pair adopts the
    // objects as they are instead of managing a second set beside them.
    let mut mappings: Vec<_> = snap
        .container_mappings
        .values()
        .filter(|c| in_vault(&c.id))
        .collect();
    // asrform-named mappings first, so that of two mappings between the same containers asrform's is adopted.
    let regions_of = |c: &crate::provider::model::ContainerMapping| {
        let from = c.id.parent().and_then(|k| k.parent());
        let to = c.target_container_id.as_ref().and_then(ArmId::parent);
        Some((
            region_of_fabric(snap, Some(from?.as_str()))?,
            region_of_fabric(snap, Some(to?.as_str()))?,
        ))
    };
    let asrform_named = |c: &crate::provider::model::ContainerMapping| {
        regions_of(c).is_some_and(|(f, t)| c.id.name().ends_with(&format!("-{f}-to-{t}")))
    };
    mappings.sort_by_key(|c| (!asrform_named(c), lower(c.id.as_str())));
    let mut seen_pairs: BTreeSet<(String, String)> = BTreeSet::new();
    // Mappings written (as a pair's forward or reverse) or already reported; the rest are reported at the end.
    let mut accounted: BTreeSet<String> = BTreeSet::new();
    for c in &mappings {
        // id: …/replicationFabrics/F/replicationProtectionContainers/C/replicationProtectionContainerMappings/M
        let container = c.id.parent();
        let fabric = container.as_ref().and_then(ArmId::parent);
        let target_fabric = c.target_container_id.as_ref().and_then(ArmId::parent);
        let (Some(container), Some(fabric), Some(tcontainer), Some(tfabric), Some((from, to))) = (
            container,
            fabric,
            c.target_container_id.clone(),
            target_fabric,
            regions_of(c),
        ) else {
            m.warnings.push(format!(
                "container mapping {}: its fabrics' regions are unknown; not imported",
                c.id
            ));
            accounted.insert(lower(c.id.as_str()));
            continue;
        };
        // The reverse direction belongs to the same pair; a second mapping between the same regions is reported
        // below.
        if seen_pairs.contains(&(to.clone(), from.clone()))
            || seen_pairs.contains(&(from.clone(), to.clone()))
        {
            continue;
        }
        // The source is the region most protected items replicate from (after reprotect some run the other way).
        let count = |r: &str| {
            items
                .iter()
                .filter(|i| {
                    i.primary_location
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case(r))
                })
                .count()
        };
        let (cf, ct) = (count(&from), count(&to));
        if ct > cf || (ct == cf && from.eq_ignore_ascii_case(&vault.location)) {
            continue;
        }
        seen_pairs.insert((from.clone(), to.clone()));
        let mname = c.id.name().to_string();
        // asrform's own mappings carry the pair label; others get one from the regions.
        let label = mname
            .strip_suffix(&format!("-{from}-to-{to}"))
            .filter(|l| ident(l) == *l)
            .map_or_else(|| ident(&format!("{from}-to-{to}")), str::to_string);
        let label = names.take("region_pair", &label);
        let reverse = mappings.iter().find(|r| {
            r.id.parent()
                .is_some_and(|p| crate::provider::id::same_id(p.as_str(), tcontainer.as_str()))
                && r.target_container_id
                    .as_ref()
                    .is_some_and(|t| crate::provider::id::same_id(t.as_str(), container.as_str()))
        });
        let defaults = naming::PairNames::defaults(&label, &from, &to);
        let mut live = defaults.clone();
        live.source_fabric = fabric.name().to_string();
        live.target_fabric = tfabric.name().to_string();
        live.source_container = container.name().to_string();
        live.target_container = tcontainer.name().to_string();
        live.forward_mapping = mname.clone();
        match reverse {
            Some(r) => live.reverse_mapping = r.id.name().to_string(),
            None => m.warnings.push(format!(
                "container mapping {}: no reverse mapping from {tcontainer}; the next plan creates `{}`",
                c.id, defaults.reverse_mapping
            )),
        }
        accounted.insert(lower(c.id.as_str()));
        accounted.extend(reverse.map(|r| lower(r.id.as_str())));
        if let Some((attr, name, why)) = live
            .attributes()
            .into_iter()
            .find_map(|(a, n)| naming::check_name(n).err().map(|e| (a, n.to_string(), e)))
        {
            m.warnings.push(format!(
                "container mapping {}: {attr} `{name}` {why}; region pair not imported",
                c.id
            ));
            continue;
        }
        let Some(policy) = c
            .policy_id
            .as_ref()
            .and_then(|p| m.policies.get(&lower(p.as_str())))
            .cloned()
        else {
            m.warnings.push(format!(
                "container mapping {}: its policy was not imported; region pair skipped",
                c.id
            ));
            continue;
        };
        writeln!(out_main, "region_pair {} {{", q(&label)).ok();
        writeln!(out_main, "vault = {}", m.vault_addr).ok();
        writeln!(out_main, "source = {}", q(&from)).ok();
        writeln!(out_main, "target = {}", q(&to)).ok();
        writeln!(out_main, "policy = {policy}").ok();
        match c.agent_auto_update.as_deref() {
            Some(a) if a.eq_ignore_ascii_case("Enabled") => {
                writeln!(out_main, "agent_auto_update = true").ok();
            }
            _ => {
                writeln!(out_main, "agent_auto_update = false").ok();
            }
        }
        let explicit: Vec<_> = live
            .attributes()
            .into_iter()
            .zip(defaults.attributes())
            .filter(|((_, n), (_, d))| !n.eq_ignore_ascii_case(d))
            .map(|((a, n), _)| (a, n.to_string()))
            .collect();
        if !explicit.is_empty() {
            writeln!(out_main, "\n# names as found in the vault (not asrform's)").ok();
        }
        for (a, n) in explicit {
            writeln!(out_main, "{a} = {}", q(&n)).ok();
        }
        writeln!(out_main, "}}\n").ok();
        m.pairs
            .insert((from.clone(), to.clone()), format!("region_pair.{label}"));
        m.pair_names.insert((from, to), live);
    }
    for c in mappings
        .iter()
        .filter(|c| !accounted.contains(&lower(c.id.as_str())))
    {
        m.warnings.push(format!(
            "container mapping {}: no region pair adopts it (a region pair owns one mapping per direction, and \
             another mapping already connects these regions, or this one has no counterpart running the way its \
             protected items replicate); not imported",
            c.id
        ));
    }

    // Networks.
    for id in &vnet_ids {
        let Ok(aid) = ArmId::parse(id) else { continue };
        let Some(n) = snap.resources.get(&aid) else {
            m.warnings.push(format!(
                "virtual network {id} could not be read; VMs that use it are not imported"
            ));
            continue;
        };
        let name = n.id.name().to_string();
        let label = names.take("virtual_network", &name);
        writeln!(out_main, "virtual_network {} {{", q(&label)).ok();
        writeln!(out_main, "name = {}", q(&name)).ok();
        writeln!(out_main, "resource_group = {}", rg_ref(&m, &n.id).expr()).ok();
        writeln!(out_main, "location = {}", q(&n.location)).ok();
        if let Some(s) = sub_attr(&n.id) {
            writeln!(out_main, "subscription_id = {}", q(&s)).ok();
        }
        let space: Vec<String> = n.address_prefixes.iter().map(|a| q(a)).collect();
        writeln!(out_main, "address_space = [{}]", space.join(", ")).ok();
        tags(&mut out_main, &n.tags);
        for (sname, prefixes) in &n.subnets {
            writeln!(out_main, "\nsubnet {} {{", q(sname)).ok();
            if let Some(p) = prefixes.first() {
                writeln!(out_main, "address_prefix = {}", q(p)).ok();
            }
            if prefixes.len() > 1 {
                m.warnings.push(format!(
                    "{id}: subnet {sname} has several prefixes; only the first is written"
                ));
            }
            writeln!(out_main, "}}").ok();
        }
        writeln!(out_main, "}}\n").ok();
        m.vnets
            .insert(id.clone(), format!("virtual_network.{label}"));
    }

    // Network mappings (forward direction of an imported pair), found by the pair's source fabric.
    let mut nms: Vec<_> = snap
        .network_mappings
        .values()
        .filter(|x| in_vault(&x.id))
        .collect();
    nms.sort_by_key(|x| lower(x.id.as_str()));
    // …/replicationFabrics/F/replicationNetworks/N/replicationNetworkMappings/M → F's id.
    let fabric_of = |id: &ArmId| id.parent().and_then(|n| n.parent());
    let vault_id = vault.id.as_str();
    // Mappings under a pair's target fabric are written as some forward mapping's reverse, or reported at the end.
    let mut reverses: BTreeSet<String> = BTreeSet::new();
    let mut unpaired: Vec<&ArmId> = Vec::new();
    for nm in &nms {
        let Some(fabric) = fabric_of(&nm.id) else {
            continue;
        };
        let on = |f: &str| crate::provider::id::same_id(fabric.as_str(), f);
        let Some((key, pn)) = m
            .pair_names
            .iter()
            .find(|(_, n)| on(&n.source_fabric_id(vault_id)))
        else {
            // A reverse mapping of an imported pair, or a pair that was not imported.
            if m.pair_names
                .values()
                .any(|n| on(&n.target_fabric_id(vault_id)))
            {
                unpaired.push(&nm.id);
            } else {
                m.warnings.push(format!(
                    "network mapping {}: its region pair was not imported",
                    nm.id
                ));
            }
            continue;
        };
        let (pair, pn) = (m.pairs[key].clone(), pn.clone());
        let (Some(src), Some(tgt)) = (&nm.primary_network_id, &nm.recovery_network_id) else {
            m.warnings.push(format!(
                "network mapping {}: its source or target network is unknown; not imported",
                nm.id
            ));
            continue;
        };
        let mname = nm.id.name().to_string();
        // The reverse mapping maps the target network back to the source one, under the target fabric.
        let reverse = nms.iter().find(|r| {
            fabric_of(&r.id).is_some_and(|f| {
                crate::provider::id::same_id(f.as_str(), &pn.target_fabric_id(vault_id))
            }) && r
                .primary_network_id
                .as_ref()
                .is_some_and(|p| crate::provider::id::same_id(p.as_str(), tgt.as_str()))
                && r.recovery_network_id
                    .as_ref()
                    .is_some_and(|p| crate::provider::id::same_id(p.as_str(), src.as_str()))
        });
        let reverse_name = match reverse {
            Some(r) => r.id.name().to_string(),
            None => {
                m.warnings.push(format!(
                    "network mapping {}: the reverse mapping {} does not exist; the next plan creates it",
                    nm.id,
                    pn.reverse_network_mapping_id(vault_id, tgt.name(), &mname)
                ));
                mname.clone()
            }
        };
        if let Some((n, why)) = [&mname, &reverse_name]
            .into_iter()
            .find_map(|n| naming::check_name(n).err().map(|e| (n, e)))
        {
            m.warnings.push(format!(
                "network mapping {}: name `{n}` {why}; not imported",
                nm.id
            ));
            continue;
        }
        reverses.extend(reverse.map(|r| lower(r.id.as_str())));
        let label = names.take("network_mapping", &mname);
        writeln!(out_main, "network_mapping {} {{", q(&label)).ok();
        writeln!(out_main, "region_pair = {pair}").ok();
        writeln!(out_main, "source_network = {}", q(src.as_str())).ok();
        let t = m
            .vnets
            .get(&lower(tgt.as_str()))
            .cloned()
            .unwrap_or_else(|| q(tgt.as_str()));
        writeln!(out_main, "target_network = {t}").ok();
        if label != mname {
            writeln!(out_main, "name = {}", q(&mname)).ok();
        }
        if reverse_name != mname {
            writeln!(out_main, "reverse_name = {}", q(&reverse_name)).ok();
        }
        writeln!(out_main, "}}\n").ok();
    }

    for id in unpaired
        .into_iter()
        .filter(|id| !reverses.contains(&lower(id.as_str())))
    {
        m.warnings.push(format!(
            "network mapping {id}: it is not the reverse of an imported network mapping (a `network_mapping` block \
             owns a forward and a reverse mapping); not imported"
        ));
    }

    // Cache storage accounts and availability sets.
    for (set, kind, map) in [
        (&sa_ids, "storage_account", 0),
        (&av_ids, "availability_set", 1),
    ] {
        for id in set {
            let Ok(aid) = ArmId::parse(id) else { continue };
            let Some(r) = snap.resources.get(&aid) else {
                m.warnings.push(format!(
                    "{kind} {id} could not be read; VMs that use it are not imported"
                ));
                continue;
            };
            let name = r.id.name().to_string();
            let label = names.take(
                if map == 0 {
                    "storage_account"
                } else {
                    "availability_set"
                },
                &name,
            );
            writeln!(out_main, "{kind} {} {{", q(&label)).ok();
            writeln!(out_main, "name = {}", q(&name)).ok();
            writeln!(out_main, "resource_group = {}", rg_ref(&m, &r.id).expr()).ok();
            writeln!(out_main, "location = {}", q(&r.location)).ok();
            if let Some(s) = sub_attr(&r.id) {
                writeln!(out_main, "subscription_id = {}", q(&s)).ok();
            }
            tags(&mut out_main, &r.tags);
            writeln!(out_main, "}}\n").ok();
            let addr = format!("{kind}.{label}");
            if map == 0 {
                m.storage.insert(id.clone(), addr);
            } else {
                m.avsets.insert(id.clone(), addr);
            }
        }
    }

    // --- recovery plans: membership first, so VMs can be filed by plan ---------------------------------------
    let mut plans: Vec<_> = snap
        .recovery_plans
        .values()
        .filter(|p| in_vault(&p.id))
        .collect();
    plans.sort_by_key(|p| lower(p.id.name()));
    let mut plan_labels: BTreeMap<String, String> = BTreeMap::new();
    let mut member_of: BTreeMap<String, String> = BTreeMap::new();
    for p in &plans {
        let label = names.take("recovery_plan", p.id.name());
        for (_, ids) in &p.groups {
            for i in ids {
                member_of
                    .entry(lower(i.as_str()))
                    .or_insert_with(|| label.clone());
            }
        }
        plan_labels.insert(lower(p.id.as_str()), label);
    }

    // --- protected VMs ---------------------------------------------------------------------------------------
    let mut vms: Vec<Vm> = Vec::new();
    for i in &items {
        let (Some(pl), Some(rl)) = (&i.primary_location, &i.recovery_location) else {
            m.warnings
                .push(format!("{}: regions unknown; not imported", i.id));
            continue;
        };
        // After reprotect the item replicates back: its primary is the configured target.
        let find = |from: &str, to: &str| {
            m.pairs
                .iter()
                .find(|((s, t), _)| s.eq_ignore_ascii_case(from) && t.eq_ignore_ascii_case(to))
                .map(|(_, a)| a.clone())
        };
        let (pair, reversed) = match (find(pl, rl), find(rl, pl)) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => {
                m.warnings.push(format!(
                    "{}: no imported region pair for {pl} → {rl}; not imported",
                    i.id
                ));
                continue;
            }
        };
        if reversed {
            match reprotected_vm(snap, &m, &items, i, &pair) {
                Ok(mut v) => {
                    v.plan = member_of.get(&lower(i.id.as_str())).cloned();
                    m.warnings.append(&mut v.notes);
                    vms.push(v);
                }
                Err(w) => m.warnings.push(w),
            }
            continue;
        }
        let src_vm = i.source_vm_id.as_ref().expect("filtered above");
        let name = src_vm.name().to_string();
        let cache = i
            .disks
            .first()
            .and_then(|d| d.staging_account_id.as_ref())
            .and_then(|s| m.storage.get(&lower(s)))
            .cloned();
        let trg = i
            .target_resource_group_id
            .as_ref()
            .and_then(|s| m.rgs.get(&lower(s)))
            .cloned();
        let tnet = i
            .target_network_id
            .as_ref()
            .and_then(|s| m.vnets.get(&lower(s)))
            .cloned();
        let (Some(cache), Some(trg), Some(tnet)) = (cache, trg, tnet) else {
            m.warnings.push(format!(
                "{}: its cache storage account, target resource group or target network could not be imported; \
                 not imported",
                i.id
            ));
            continue;
        };
        let test_net = i
            .tfo_network_id
            .as_ref()
            .and_then(|s| m.vnets.get(&lower(s)))
            .cloned();
        let primary_nic_subnet = i.nics.first().and_then(|n| {
            n.ip_configs
                .values()
                .find(|c| c.is_primary)
                .or_else(|| n.ip_configs.values().next())
                .and_then(|c| c.recovery_subnet.clone())
        });
        let Some(subnet) = i.target_subnet.clone().or(primary_nic_subnet) else {
            m.warnings
                .push(format!("{}: no target subnet; not imported", i.id));
            continue;
        };
        let mut nics = Vec::new();
        for (k, n) in i.nics.iter().enumerate() {
            let ip = n
                .ip_configs
                .values()
                .find(|c| c.is_primary)
                .or_else(|| n.ip_configs.values().next())
                .cloned()
                .unwrap_or_default();
            if n.ip_configs.len() > 1 {
                m.warnings.push(format!(
                    "{}: NIC {k} has several IP configurations; only the primary one is written",
                    i.id
                ));
            }
            let nic = NicOut {
                selector: format!("nic{k}"),
                target_subnet: ip.recovery_subnet.clone().filter(|s| *s != subnet),
                target_ip: ip.recovery_static_ip.clone(),
                test_subnet: ip.tfo_subnet.clone(),
                test_ip: ip.tfo_static_ip.clone(),
            };
            nics.push(nic);
        }
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        for d in &i.disks {
            if let Some(t) = &d.target_disk_type {
                types.insert(d.disk_id.name().to_string(), t.clone());
            }
            if d.disk_encryption_set_id.is_some() {
                m.warnings.push(format!(
                    "{}: disk {} uses a disk encryption set, which asrform cannot express yet",
                    i.id,
                    d.disk_id.name()
                ));
            }
        }
        let distinct: BTreeSet<&String> = types.values().collect();
        let (disk_type, disk_types) = if distinct.len() == 1 && types.len() == i.disks.len() {
            (distinct.into_iter().next().cloned(), BTreeMap::new())
        } else {
            (None, types)
        };
        if i.target_ppg_id.is_some() {
            m.warnings.push(format!(
                "{}: target proximity placement group cannot be expressed; left as live",
                i.id
            ));
        }
        let failed_over = i
            .active_location
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"));
        vms.push(Vm {
            item: i,
            source_vm: src_vm.clone(),
            notes: Vec::new(),
            source_rg: src_vm.resource_group().unwrap_or_default().to_string(),
            pair,
            cache,
            target_rg: trg,
            target_net: tnet,
            test_net,
            subnet,
            size: i.target_vm_size.clone(),
            cg: i.multi_vm_group.clone(),
            avset: i
                .target_availability_set_id
                .as_ref()
                .and_then(|s| m.avsets.get(&lower(s)))
                .cloned(),
            zone: i.target_zone.clone(),
            target_name: i.target_vm_name.clone().filter(|t| *t != name),
            disk_type,
            disk_types,
            nics,
            plan: member_of.get(&lower(i.id.as_str())).cloned(),
            failed_over,
            name,
        });
    }

    // --- file assignment and for_each grouping -------------------------------------------------------------
    let file_of = |v: &Vm| -> String {
        match opts.split_by {
            SplitBy::RecoveryPlan => v.plan.clone().unwrap_or_else(|| "unplanned".into()),
            SplitBy::ResourceGroup => v
                .target_rg
                .strip_prefix("resource_group.")
                .unwrap_or(&v.target_rg)
                .to_string(),
        }
    };
    let mut by_file_shape: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (k, v) in vms.iter().enumerate() {
        by_file_shape
            .entry((file_of(v), v.shape()))
            .or_default()
            .push(k);
    }
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut csvs: BTreeMap<String, String> = BTreeMap::new();
    let mut singles: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for ((file, _), idx) in &by_file_shape {
        let text = files.entry(file.clone()).or_default();
        if idx.len() >= opts.csv_threshold {
            let label = names.take("protected_vm", file);
            let csv_name = format!("{label}.csv");
            // Columns only for what this shape has (the shape makes presence uniform across its rows); a source
            // resource group shared by every row is written once in the template instead.
            let first = &vms[idx[0]];
            let n0 = first.nics.first().cloned().unwrap_or_default();
            let one_rg = idx.iter().all(|&k| vms[k].source_rg == first.source_rg);
            type Col = fn(&Vm, &NicOut) -> String;
            let all: [(&str, bool, Col); 9] = [
                ("name", true, |v, _| v.name.clone()),
                ("source_rg", !one_rg, |v, _| v.source_rg.clone()),
                ("size", first.size.is_some(), |v, _| {
                    v.size.clone().unwrap_or_default()
                }),
                ("consistency_group", first.cg.is_some(), |v, _| {
                    v.cg.clone().unwrap_or_default()
                }),
                ("disk_type", first.disk_type.is_some(), |v, _| {
                    v.disk_type.clone().unwrap_or_default()
                }),
                ("subnet", n0.target_subnet.is_some(), |_, n| {
                    n.target_subnet.clone().unwrap_or_default()
                }),
                ("ip", n0.target_ip.is_some(), |_, n| {
                    n.target_ip.clone().unwrap_or_default()
                }),
                ("test_subnet", n0.test_subnet.is_some(), |_, n| {
                    n.test_subnet.clone().unwrap_or_default()
                }),
                ("test_ip", n0.test_ip.is_some(), |_, n| {
                    n.test_ip.clone().unwrap_or_default()
                }),
            ];
            let cols: Vec<&(&str, bool, Col)> = all.iter().filter(|c| c.1).collect();
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(cols.iter().map(|c| c.0)).ok();
            for &k in idx {
                let v = &vms[k];
                let n = v.nics.first().cloned().unwrap_or_default();
                w.write_record(cols.iter().map(|c| (c.2)(v, &n))).ok();
                m.vm_addr.insert(
                    lower(v.item.id.as_str()),
                    format!("protected_vm.{label}[{}]", q(&v.name)),
                );
            }
            csvs.insert(
                csv_name.clone(),
                String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default(),
            );
            let v = &vms[idx[0]];
            let n = v.nics.first().cloned().unwrap_or_default();
            let sub = v.source_vm.subscription().unwrap_or_default();
            writeln!(
                text,
                "# {} VMs of one shape; one row each in {csv_name}.",
                idx.len()
            )
            .ok();
            writeln!(text, "protected_vm {} {{", q(&label)).ok();
            writeln!(
                text,
                "for_each = {{ for row in csvdecode(file({})) : row.name => row }}\n",
                q(&csv_name)
            )
            .ok();
            writeln!(
                text,
                "source_vm = \"/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/${{each.key}}\"",
                if one_rg {
                    first.source_rg.clone()
                } else {
                    "${each.value.source_rg}".to_string()
                }
            )
            .ok();
            write_common(text, v);
            if v.size.is_some() {
                writeln!(text, "target_vm_size = each.value.size").ok();
            }
            if v.cg.is_some() {
                writeln!(text, "consistency_group = each.value.consistency_group").ok();
            }
            if v.disk_type.is_some() {
                writeln!(
                    text,
                    "\ndisk \"*\" {{\ntarget_disk_type = each.value.disk_type\n}}"
                )
                .ok();
            }
            if !n.is_empty() {
                writeln!(text, "\nnic \"nic0\" {{").ok();
                if n.target_subnet.is_some() {
                    writeln!(text, "target_subnet = each.value.subnet").ok();
                }
                if n.target_ip.is_some() {
                    writeln!(text, "target_static_ip = each.value.ip").ok();
                }
                if n.test_subnet.is_some() {
                    writeln!(text, "test_subnet = each.value.test_subnet").ok();
                }
                if n.test_ip.is_some() {
                    writeln!(text, "test_static_ip = each.value.test_ip").ok();
                }
                writeln!(text, "}}").ok();
            }
            writeln!(text, "}}\n").ok();
        } else {
            singles
                .entry(file.clone())
                .or_default()
                .extend(idx.iter().copied());
        }
    }
    for (file, mut idx) in singles {
        idx.sort_by_key(|&k| lower(&vms[k].name));
        let text = files.entry(file).or_default();
        {
            for &k in &idx {
                let v = &vms[k];
                let label = names.take("protected_vm", &v.name);
                m.vm_addr
                    .insert(lower(v.item.id.as_str()), format!("protected_vm.{label}"));
                if v.failed_over {
                    writeln!(text, "# live: running in the recovery region (state records active_site = \"recovery\")").ok();
                }
                writeln!(text, "protected_vm {} {{", q(&label)).ok();
                writeln!(text, "source_vm = {}", q(v.source_vm.as_str())).ok();
                write_common(text, v);
                if let Some(s) = &v.size {
                    writeln!(text, "target_vm_size = {}", q(s)).ok();
                }
                if let Some(s) = &v.cg {
                    writeln!(text, "consistency_group = {}", q(s)).ok();
                }
                if let Some(s) = &v.target_name {
                    writeln!(text, "target_vm_name = {}", q(s)).ok();
                }
                if let Some(s) = &v.avset {
                    writeln!(text, "target_availability_set = {s}").ok();
                }
                if let Some(s) = &v.zone {
                    writeln!(text, "target_zone = {}", q(s)).ok();
                }
                if let Some(t) = &v.disk_type {
                    writeln!(text, "\ndisk \"*\" {{\ntarget_disk_type = {}\n}}", q(t)).ok();
                }
                for (d, t) in &v.disk_types {
                    writeln!(text, "\ndisk {} {{\ntarget_disk_type = {}\n}}", q(d), q(t)).ok();
                }
                for n in v.nics.iter().filter(|n| !n.is_empty()) {
                    writeln!(text, "\nnic {} {{", q(&n.selector)).ok();
                    for (k, val) in [
                        ("target_subnet", &n.target_subnet),
                        ("target_static_ip", &n.target_ip),
                        ("test_subnet", &n.test_subnet),
                        ("test_static_ip", &n.test_ip),
                    ] {
                        if let Some(x) = val {
                            writeln!(text, "{k} = {}", q(x)).ok();
                        }
                    }
                    writeln!(text, "}}").ok();
                }
                writeln!(text, "}}\n").ok();
            }
        }
    }

    // --- recovery plans ------------------------------------------------------------------------------------
    for p in &plans {
        let label = plan_labels[&lower(p.id.as_str())].clone();
        let from = region_of_fabric(snap, p.primary_fabric_id.as_deref());
        let to = region_of_fabric(snap, p.recovery_fabric_id.as_deref());
        let pair = m
            .pairs
            .iter()
            .find(|((s, t), _)| {
                let f = from.as_deref().unwrap_or("");
                let g = to.as_deref().unwrap_or("");
                (s.eq_ignore_ascii_case(f) && t.eq_ignore_ascii_case(g))
                    || (s.eq_ignore_ascii_case(g) && t.eq_ignore_ascii_case(f))
            })
            .map(|(_, a)| a.clone());
        let Some(pair) = pair else {
            m.warnings.push(format!(
                "recovery plan {}: its region pair was not imported; not imported",
                p.id
            ));
            continue;
        };
        let imported = p
            .groups
            .iter()
            .flat_map(|(_, ids)| ids)
            .any(|i| m.vm_addr.contains_key(&lower(i.as_str())));
        if !imported {
            // With --include the plan is simply out of scope; otherwise say why it is missing.
            if include.is_none() {
                m.warnings.push(format!(
                    "recovery plan {}: none of its members were imported; not imported",
                    p.id
                ));
            }
            continue;
        }
        let file = match opts.split_by {
            SplitBy::RecoveryPlan => label.clone(),
            SplitBy::ResourceGroup => "recovery_plans".into(),
        };
        let text = files.entry(file).or_default();
        let failed = p
            .groups
            .iter()
            .flat_map(|(_, ids)| ids)
            .filter_map(|i| snap.protected_items.get(i))
            .any(|i| {
                i.active_location
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"))
            });
        if failed {
            writeln!(
                text,
                "# live: failed over. No active_site is written, so plans leave it where it is; state records\n\
                 # active_site = \"recovery\". Set active_site to fail back or over through a plan."
            )
            .ok();
        }
        writeln!(text, "recovery_plan {} {{", q(&label)).ok();
        writeln!(text, "vault = {}", m.vault_addr).ok();
        writeln!(text, "region_pair = {pair}").ok();
        if label != p.id.name() {
            writeln!(text, "name = {}", q(p.id.name())).ok();
        }
        for (ty, ids) in &p.groups {
            if !ty.eq_ignore_ascii_case("Boot") {
                continue;
            }
            let refs: Vec<String> = ids
                .iter()
                .filter_map(|i| m.vm_addr.get(&lower(i.as_str())).cloned())
                .collect();
            if refs.len() < ids.len() && include.is_none() {
                m.warnings.push(format!(
                    "recovery plan {}: {} member(s) were not imported and are left out",
                    p.id,
                    ids.len() - refs.len()
                ));
            }
            if refs.is_empty() {
                continue;
            }
            writeln!(text, "\ngroup {{").ok();
            if refs.len() == 1 {
                writeln!(text, "vms = [{}]", refs.join(", ")).ok();
            } else {
                writeln!(text, "vms = [").ok();
                for r in &refs {
                    writeln!(text, "{r},").ok();
                }
                writeln!(text, "]").ok();
            }
            writeln!(text, "}}").ok();
        }
        writeln!(text, "}}\n").ok();
    }

    let mut g = Generated {
        files: BTreeMap::new(),
        warnings: m.warnings,
    };
    g.files.insert("main.asr.hcl".into(), out_main);
    for (f, t) in files {
        let name = if f == "main" { "main_vms".into() } else { f };
        g.files.insert(format!("{name}.asr.hcl"), t);
    }
    for (name, text) in g.files.iter_mut() {
        if name.ends_with(".hcl") {
            let tidy = text.trim_end().to_string() + "\n";
            *text = crate::fmt::format_source(&tidy)
                .map_err(|e| ImportError::Format(name.clone(), e.to_string()))?;
        }
    }
    g.files.extend(csvs);
    Ok(g)
}

/// A protected VM whose item was reprotected (it runs in the pair's target region and replicates back). The
/// configuration describes the pair's forward direction, so the forward settings are recovered from what the
/// reversed item and the vault show: the original VM is the item's recovery VM, the target resource group is the one
/// the VM runs in now, the target network is where the forward network mapping sends the item's recovery network.
/// The forward cache account is not visible on a reversed item; the pair's other VMs' account is taken and the
/// inference reported. `Err` is the warning when something cannot be recovered.
fn reprotected_vm<'s>(
    snap: &Snapshot,
    m: &Model,
    items: &[&'s ProtectedItem],
    i: &'s ProtectedItem,
    pair: &str,
) -> Result<Vm<'s>, String> {
    let fail = |what: &str| format!("{}: reprotected item, {what}; not imported", i.id);
    let running = i.source_vm_id.as_ref().expect("filtered above");
    let source = m
        .pairs
        .iter()
        .find(|(_, a)| a.as_str() == pair)
        .map(|((s, _), _)| s.clone())
        .unwrap_or_default();
    let original = original_vm(snap, i).ok_or_else(|| fail("its original VM is unknown"))?;
    let target_rg = rg_id(running)
        .and_then(|r| m.rgs.get(&lower(&r)).cloned())
        .ok_or_else(|| fail("the resource group it runs in was not imported"))?;
    // The item's recovery network is the original source network, and the forward mapping from it names the target
    // network. Without a recovery network (reprotect does not require one), the pair's forward mappings decide when
    // they all lead to one network.
    let mut notes = Vec::new();
    let source_fabric = m
        .pair_names
        .iter()
        .find(|(k, _)| m.pairs.get(*k).is_some_and(|a| a == pair))
        .map(|(_, n)| n.source_fabric_id(vault_of(&i.id)));
    let forward: Vec<&ArmId> = snap
        .network_mappings
        .values()
        .filter(|x| {
            x.id.parent()
                .and_then(|n| n.parent())
                .zip(source_fabric.as_deref())
                .is_some_and(|(f, s)| crate::provider::id::same_id(f.as_str(), s))
        })
        .filter(|x| {
            i.target_network_id.as_deref().is_none_or(|n| {
                x.primary_network_id
                    .as_ref()
                    .is_some_and(|p| crate::provider::id::same_id(p.as_str(), n))
            })
        })
        .filter_map(|x| x.recovery_network_id.as_ref())
        .collect();
    let distinct: BTreeSet<String> = forward.iter().map(|n| lower(n.as_str())).collect();
    let tnet_id = match (forward.first(), distinct.len()) {
        (Some(n), 1) => *n,
        _ => return Err(fail("no single network mapping gives its target network")),
    };
    if i.target_network_id.is_none() {
        notes.push(format!(
            "{}: reprotected item without a recovery network: target network written as {tnet_id}, where the \
             pair's network mappings lead",
            i.id
        ));
    }
    let target_net = m
        .vnets
        .get(&lower(tnet_id.as_str()))
        .cloned()
        .ok_or_else(|| fail("its target network was not imported"))?;
    // The subnet of the same name as the one it replicates back to, else the network's first subnet.
    let subnets = snap
        .resources
        .get(tnet_id)
        .map(|n| n.subnets.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let subnet = i
        .target_subnet
        .clone()
        .filter(|s| subnets.contains(s))
        .or_else(|| subnets.first().cloned())
        .ok_or_else(|| fail("its target network has no subnet"))?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for other in items.iter().filter(|o| {
        o.primary_location
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&source))
    }) {
        for d in &other.disks {
            if let Some(a) = d.staging_account_id.as_deref().filter(|a| !a.is_empty()) {
                *counts.entry(a).or_default() += 1;
            }
        }
    }
    let (cache_id, cache) = counts
        .iter()
        .filter_map(|(a, n)| m.storage.get(&lower(a)).map(|s| (n, *a, s)))
        .max_by_key(|(n, a, _)| (**n, std::cmp::Reverse(lower(a))))
        .map(|(_, a, s)| (a.to_string(), s.clone()))
        .ok_or_else(|| fail("its forward cache storage account cannot be seen on a reversed item and no other VM of the pair shows one"))?;
    Ok(Vm {
        item: i,
        name: original.name().to_string(),
        source_rg: original.resource_group().unwrap_or_default().to_string(),
        source_vm: original,
        pair: pair.to_string(),
        cache,
        target_rg,
        target_net,
        test_net: None,
        subnet,
        size: snap.resources.get(running).and_then(|r| r.vm_size.clone()),
        cg: i.multi_vm_group.clone(),
        avset: None,
        zone: None,
        target_name: None,
        disk_type: None,
        disk_types: BTreeMap::new(),
        nics: Vec::new(),
        plan: None,
        failed_over: true,
        notes: {
            notes.push(format!(
                "{}: reprotected item: its forward cache storage account is not visible; written as {cache_id}, \
                 the account the pair's other VMs use (check before failing back)",
                i.id
            ));
            notes
        },
    })
}

/// The VM on the recovery side of item `i`: after reprotect, the original VM the configuration protects. ASR names
/// it as the recovery VM; when it does not, it is the VM of the item's target name in its target resource group,
/// if the snapshot shows one there in the recovery region.
fn original_vm(snap: &Snapshot, i: &ProtectedItem) -> Option<ArmId> {
    if let Some(v) = i
        .recovery_vm_id
        .as_deref()
        .and_then(|v| ArmId::parse(v).ok())
    {
        return Some(v);
    }
    let rg = ArmId::parse(i.target_resource_group_id.as_deref()?).ok()?;
    let name = i
        .target_vm_name
        .as_deref()
        .or(i.source_vm_id.as_ref().map(ArmId::name))?;
    let id = ArmId::parse(&naming::resource_id(
        rg.subscription()?,
        rg.resource_group()?,
        "Microsoft.Compute/virtualMachines",
        name,
    ))
    .ok()?;
    let region = i.recovery_location.as_deref()?;
    snap.resources
        .get(&id)
        .is_some_and(|r| r.location.eq_ignore_ascii_case(region))
        .then_some(id)
}

/// The vault id of an ASR object's id (`…/vaults/NAME/…`).
fn vault_of(id: &ArmId) -> &str {
    let s = id.as_str();
    let lower = s.to_ascii_lowercase();
    lower
        .find("/providers/microsoft.recoveryservices/vaults/")
        .and_then(|k| {
            let start = k + "/providers/microsoft.recoveryservices/vaults/".len();
            s[start..].find('/').map(|e| &s[..start + e])
        })
        .unwrap_or(s)
}

fn write_common(text: &mut String, v: &Vm) {
    writeln!(text, "region_pair = {}", v.pair).ok();
    writeln!(text, "cache_storage = {}", v.cache).ok();
    writeln!(text, "target_resource_group = {}", v.target_rg).ok();
    writeln!(text, "target_network = {}", v.target_net).ok();
    writeln!(text, "target_subnet = {}", q(&v.subnet)).ok();
    if let Some(t) = &v.test_net {
        writeln!(text, "test_network = {t}").ok();
    }
}

fn tags(out: &mut String, t: &BTreeMap<String, String>) {
    if t.is_empty() {
        return;
    }
    writeln!(out, "tags = {{").ok();
    for (k, v) in t {
        writeln!(out, "{} = {}", q(k), q(v)).ok();
    }
    writeln!(out, "}}").ok();
}

/// The state that adopts every resource of `config` as `snap` shows it: ARM ids, lifecycle ids, the attributes as
/// observed (so the next plan sees no drift), and the active site of protected VMs and recovery plans.
pub fn adopt(config: &Config, snap: &Snapshot, now: OffsetDateTime) -> State {
    let mut state = State::new();
    let mut by_vm: BTreeMap<String, &ProtectedItem> = BTreeMap::new();
    for i in snap.protected_items.values() {
        if let Some(v) = &i.source_vm_id {
            by_vm.insert(lower(v.as_str()), i);
        }
    }
    // A reprotected item's source is the failed-over VM; the configuration names the original, its recovery VM.
    for i in snap.protected_items.values() {
        if let Some(v) = original_vm(snap, i) {
            by_vm.entry(lower(v.as_str())).or_insert(i);
        }
    }
    let mut item_addr: BTreeMap<String, String> = BTreeMap::new();
    for (r, vm) in config.protected_vms() {
        if let Some(i) = by_vm.get(&lower(vm.source_vm.value.as_str())) {
            item_addr.insert(lower(i.id.as_str()), r.addr.to_string());
        }
    }
    let lookup = |id: &ArmId| item_addr.get(&lower(id.as_str())).cloned();
    let site_of = |i: &ProtectedItem, source: &str| {
        let active_recovery = i
            .active_location
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"));
        let reversed = i
            .primary_location
            .as_deref()
            .is_some_and(|p| !p.eq_ignore_ascii_case(source));
        if active_recovery != reversed {
            Site::Recovery
        } else {
            Site::Primary
        }
    };
    for r in config.resources.values() {
        let mut arm_ids = attrs::arm_ids(config, r);
        let mut lifecycle_id = None;
        let mut active_site = None;
        let item = match &r.body {
            ResourceBody::ProtectedVm(vm) => {
                by_vm.get(&lower(vm.source_vm.value.as_str())).copied()
            }
            _ => None,
        };
        let (desired, _) = attrs::desired(config, r, item, &lookup);
        let mut attributes = match (&r.body, item) {
            (ResourceBody::ProtectedVm(vm), Some(i)) => {
                arm_ids.insert("rpi".into(), i.id.to_string());
                lifecycle_id = i.lifecycle_id.clone();
                let (src, _) =
                    attrs::pair_regions(config, &vm.region_pair.value).unwrap_or_default();
                active_site = Some(site_of(i, &src));
                attrs::observed_vm(i)
            }
            _ => attrs::observed(snap, r, &arm_ids, &lookup).unwrap_or_else(|| desired.clone()),
        };
        if let ResourceBody::RecoveryPlan(p) = &r.body {
            let (src, _) = attrs::pair_regions(config, &p.region_pair.value).unwrap_or_default();
            let mut sites: Vec<Site> = p
                .groups
                .iter()
                .flat_map(|g| &g.vms)
                .filter_map(|a| config.get(&a.value))
                .filter_map(|vr| match &vr.body {
                    ResourceBody::ProtectedVm(vm) => by_vm.get(&lower(vm.source_vm.value.as_str())),
                    _ => None,
                })
                .map(|i| site_of(i, &src))
                .collect();
            sites.dedup();
            if sites.len() == 1 {
                active_site = sites.into_iter().next();
            }
        }
        // What the snapshot cannot show is recorded as configured.
        if let Value::Object(o) = &mut attributes {
            for k in attrs::unobservable(r.addr.kind) {
                if let Some(v) = desired.get(*k) {
                    o.insert((*k).to_string(), v.clone());
                }
            }
        }
        state.resources.insert(
            r.addr.to_string(),
            ResourceState {
                kind: r.addr.kind.as_str().to_string(),
                arm_ids,
                lifecycle_id,
                attributes,
                active_site,
                updated_at: now,
            },
        );
    }
    state.serial = 1;
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_valid_hcl_and_stable() {
        assert_eq!(ident("vnet-app-DR"), "vnet_app_dr");
        assert_eq!(ident("1web"), "n1web");
        assert_eq!(ident("--"), "unnamed");
        let mut n = Names::default();
        assert_eq!(n.take("vault", "a-b"), "a_b");
        assert_eq!(n.take("vault", "a_b"), "a_b_2");
        assert_eq!(n.take("policy", "a_b"), "a_b");
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration(72 * 60), "3d");
        assert_eq!(duration(24 * 60), "24h");
        assert_eq!(duration(240), "4h");
        assert_eq!(duration(90), "90m");
    }

    #[test]
    fn strings_cannot_start_templates() {
        assert_eq!(q("a${b}"), "\"a$${b}\"");
    }
}
