//! Semantic checks across resources: ASR's rules (design.md §3, limits.md §2 and §6 G5) and consistency between
//! blocks that reference each other.
//!
//! Every check is linear in the number of resources (hash maps, no pairwise comparisons), so validating 10,000 protected
//! VMs stays in the millisecond range. Checks run only on a configuration that decoded without errors, report every
//! violation they find, and never modify the configuration. No I/O.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::LoadOptions;
use super::diag::{Diagnostic, did_you_mean};
use super::model::*;
use super::source::{Span, Spanned};
use crate::addr::ResourceAddr;

/// ASR: at most 16 VMs in one multi-VM consistency group.
pub const MAX_VMS_PER_CONSISTENCY_GROUP: usize = 16;
/// ASR: at most 100 VMs in one recovery plan.
pub const MAX_VMS_PER_RECOVERY_PLAN: usize = 100;
/// ASR: at most 7 groups in one recovery plan.
pub const MAX_GROUPS_PER_RECOVERY_PLAN: usize = 7;
/// ASR: retention of at most 15 days (managed disks).
pub const MAX_RETENTION: Duration = Duration::from_secs(15 * 86_400);
/// ASR: app-consistent snapshots at most once an hour.
pub const MIN_APP_CONSISTENT_INTERVAL: Duration = Duration::from_secs(3_600);
/// ASR: at most 3,000 protected disks per subscription (source and target).
pub const MAX_DISKS_PER_SUBSCRIPTION: u64 = 3_000;

struct Index<'a> {
    resources: &'a Resources,
}

impl<'a> Index<'a> {
    fn get(&self, a: &ResourceAddr) -> Option<&'a ResourceBody> {
        self.resources.get(a).map(|r| &r.body)
    }
    fn pair(&self, a: &ResourceAddr) -> Option<&'a RegionPair> {
        match self.get(a)? {
            ResourceBody::RegionPair(p) => Some(p),
            _ => None,
        }
    }
    fn vnet(&self, a: &ResourceAddr) -> Option<&'a VirtualNetwork> {
        match self.get(a)? {
            ResourceBody::VirtualNetwork(v) => Some(v),
            _ => None,
        }
    }
}

/// Runs every cross-resource check.
pub(crate) fn validate(resources: &Resources, opts: &LoadOptions) -> Vec<Diagnostic> {
    let ix = Index { resources };
    let mut out = Vec::new();
    policies(resources, &mut out);
    pairs(&ix, &mut out);
    pair_names(resources, &mut out);
    network_mapping_names(&ix, &mut out);
    vms(&ix, opts, &mut out);
    plans(&ix, &mut out);
    mappings(&ix, &mut out);
    out
}

fn policies(resources: &Resources, out: &mut Vec<Diagnostic>) {
    for r in resources.values() {
        let ResourceBody::ReplicationPolicy(p) = &r.body else {
            continue;
        };
        let ret = &p.recovery_point_retention;
        if ret.value > MAX_RETENTION {
            out.push(
                Diagnostic::error(
                    "config::retention",
                    format!(
                        "`{}`: recovery point retention is {}; ASR allows at most 15 days",
                        r.addr,
                        show(ret.value)
                    ),
                )
                .label(ret.span, "more than 15 days"),
            );
        }
        if ret.value.is_zero() {
            out.push(
                Diagnostic::error(
                    "config::retention",
                    format!("`{}`: recovery point retention must be positive", r.addr),
                )
                .label(ret.span, "zero"),
            );
        }
        if let Some(app) = &p.app_consistent_interval {
            if app.value < MIN_APP_CONSISTENT_INTERVAL {
                out.push(
                    Diagnostic::error("config::app_consistent_interval", format!("`{}`: app-consistent snapshots every {} is too often; ASR's minimum is 1 hour", r.addr, show(app.value)))
                        .label(app.span, "less than 1h"),
                );
            } else if app.value >= ret.value {
                out.push(
                    Diagnostic::error("config::app_consistent_interval", format!("`{}`: the app-consistent interval ({}) must be shorter than the retention ({})", r.addr, show(app.value), show(ret.value)))
                        .label(app.span, "not below the retention")
                        .label(ret.span, "retention"),
                );
            }
        }
    }
}

fn show(d: Duration) -> String {
    super::values::format_duration(d)
}

/// One fabric and one container per region and vault (ASR has one Azure fabric per location in a vault): region
/// pairs that share a region must agree on its names, and two regions cannot share one.
fn pair_names(resources: &Resources, out: &mut Vec<Diagnostic>) {
    // (vault, kind, region) → (name, where, pair); (vault, kind, name) → (region, where, pair).
    type Seen<'a> =
        HashMap<(&'a ResourceAddr, &'static str, String), (String, Span, &'a ResourceAddr)>;
    let (mut by_region, mut by_name): (Seen, Seen) = (HashMap::new(), HashMap::new());
    for r in resources.values() {
        let ResourceBody::RegionPair(p) = &r.body else {
            continue;
        };
        let n = &p.names;
        for (kind, attr, name, region) in [
            ("fabric", "source_fabric_name", &n.source_fabric, &p.source),
            ("fabric", "target_fabric_name", &n.target_fabric, &p.target),
            (
                "container",
                "source_container_name",
                &n.source_container,
                &p.source,
            ),
            (
                "container",
                "target_container_name",
                &n.target_container,
                &p.target,
            ),
        ] {
            let span = p.name_spans.get(attr).copied().unwrap_or(region.span);
            let (lname, lregion) = (name.to_ascii_lowercase(), region.value.to_ascii_lowercase());
            let vault = &p.vault.value;
            let conflict = by_region
                .get(&(vault, kind, lregion.clone()))
                .filter(|(other, ..)| other.to_ascii_lowercase() != lname)
                .map(|(other, at, pair)| {
                    (
                        format!(
                            "`{}` names the {kind} of `{}` `{name}`, but `{pair}` (same vault) names it `{other}`",
                            r.addr, region.value
                        ),
                        "this name",
                        format!("`{pair}`'s name"),
                        format!("a vault has one {kind} per region; use the same name in both region pairs"),
                        *at,
                    )
                })
                .or_else(|| {
                    by_name
                        .get(&(vault, kind, lname.clone()))
                        .filter(|(other, ..)| other.to_ascii_lowercase() != lregion)
                        .map(|(other, at, pair)| {
                            (
                                format!(
                                    "`{}`: {kind} name `{name}` is used for `{}` here and for `{other}` by `{pair}`",
                                    r.addr, region.value
                                ),
                                "this region's name",
                                "the other region's".to_string(),
                                format!("give each region its own {kind} name"),
                                *at,
                            )
                        })
                });
            if let Some((message, here, there, help, at)) = conflict {
                out.push(
                    Diagnostic::error("config::asr_name_conflict", message)
                        .label(span, here)
                        .label(at, there)
                        .help(help),
                );
                continue;
            }
            by_region.insert(
                (vault, kind, lregion.clone()),
                (name.clone(), span, &r.addr),
            );
            by_name.insert((vault, kind, lname), (region.value.clone(), span, &r.addr));
        }
    }
}

/// Two `network_mapping` blocks must not name the same mapping (same fabric, network and name): with explicit names
/// they could, and both would manage one object.
fn network_mapping_names(ix: &Index, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, (&ResourceAddr, Span)> = HashMap::new();
    for r in ix.resources.values() {
        let ResourceBody::NetworkMapping(m) = &r.body else {
            continue;
        };
        let Some(pair) = ix.pair(&m.region_pair.value) else {
            continue;
        };
        let target_vnet = match &m.target_network.value {
            NetworkRef::Block(a) => ix.vnet(a).map(|v| v.name.value.clone()),
            NetworkRef::Id(id) => Some(id.name().to_string()),
        };
        let vault = pair.vault.value.to_string();
        let forward = (
            &pair.names.source_fabric,
            Some(m.source_network.value.name().to_string()),
            &m.name,
        );
        let reverse = (&pair.names.target_fabric, target_vnet, &m.reverse_name);
        for (fabric, vnet, name) in [forward, reverse] {
            let Some(vnet) = vnet else { continue };
            let key = format!("{vault}|{fabric}|{vnet}|{}", name.value).to_ascii_lowercase();
            match seen.get(&key) {
                Some((other, at)) if *other != &r.addr => out.push(
                    Diagnostic::error(
                        "config::asr_name_conflict",
                        format!(
                            "`{}` and `{other}` both name the network mapping `{}` of network `{vnet}` in fabric `{fabric}`",
                            r.addr, name.value
                        ),
                    )
                    .label(name.span, "this mapping")
                    .label(*at, "the same mapping"),
                ),
                _ => {
                    seen.insert(key, (&r.addr, name.span));
                }
            }
        }
    }
}

fn pairs(ix: &Index, out: &mut Vec<Diagnostic>) {
    for r in ix.resources.values() {
        let ResourceBody::RegionPair(p) = &r.body else {
            continue;
        };
        if p.source.value == p.target.value {
            out.push(
                Diagnostic::error(
                    "config::region_pair_same",
                    format!("`{}` replicates `{}` to itself", r.addr, p.source.value),
                )
                .label(p.target.span, "target equals source")
                .label(p.source.span, "source"),
            );
        }
        if let Some(ResourceBody::Vault(v)) = ix.get(&p.vault.value)
            && v.location.value == p.source.value
        {
            out.push(
                    Diagnostic::error("config::vault_region", format!("vault `{}` is in the source region `{}` of `{}`", p.vault.value, p.source.value, r.addr))
                        .label(v.location.span, "the vault's location")
                        .label(p.source.span, "the source region")
                        .help("ASR needs the vault outside the region it protects; put it in the target region"),
                );
        }
    }
}

/// Where a static IP is used, for uniqueness per network.
struct IpUse {
    span: Span,
    owner: ResourceAddr,
}

fn vms(ix: &Index, opts: &LoadOptions, out: &mut Vec<Diagnostic>) {
    let mut groups: HashMap<(&ResourceAddr, &str), Vec<(&ResourceAddr, Span)>> = HashMap::new();
    // Sized for one entry per resource up front: growing them by rehashing was most of `validate` at 10,000 VMs.
    let n = ix.resources.len();
    let mut source_vms: HashMap<&super::values::ArmId, (&ResourceAddr, Span)> =
        HashMap::with_capacity(n);
    let mut ips: HashMap<(&ResourceAddr, Ipv4Addr), IpUse> = HashMap::with_capacity(n);
    let mut disks_by_source_sub: BTreeMap<String, (u64, Vec<Span>)> = BTreeMap::new();
    let mut disks_by_target_sub: BTreeMap<String, (u64, Vec<Span>)> = BTreeMap::new();
    let disk_counts: Option<HashMap<String, u32>> = opts.source_disk_counts.as_ref().map(|m| {
        m.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect()
    });

    for r in ix.resources.values() {
        let ResourceBody::ProtectedVm(vm) = &r.body else {
            continue;
        };
        let addr = &r.addr;
        if let Some((first, span)) = source_vms.get(&vm.source_vm.value) {
            out.push(
                Diagnostic::error(
                    "config::duplicate_source_vm",
                    format!(
                        "`{addr}` and `{first}` protect the same VM `{}`",
                        vm.source_vm.value.name()
                    ),
                )
                .label(vm.source_vm.span, "protected again here")
                .label(*span, "first protected here"),
            );
        } else {
            source_vms.insert(&vm.source_vm.value, (addr, vm.source_vm.span));
        }
        let pair = ix.pair(&vm.region_pair.value);
        // Cache storage account: same region and subscription as the source VM.
        if let (Some(ResourceBody::StorageAccount(sa)), Some(pair)) =
            (ix.get(&vm.cache_storage.value), pair)
        {
            if sa.location.value != pair.source.value {
                out.push(
                    Diagnostic::error("config::cache_region", format!("cache account `{}` of `{addr}` is in `{}`, not in the source region `{}`", vm.cache_storage.value, sa.location.value, pair.source.value))
                        .label(vm.cache_storage.span, "cache account in the wrong region")
                        .label(sa.location.span, "its location")
                        .help("ASR stages replication data in the SOURCE region: use a storage account there"),
                );
            }
            if let Some(sub) = &sa.subscription_id
                && !sub.eq_ignore_ascii_case(vm.source_vm.value.subscription().unwrap_or_default())
            {
                out.push(
                        Diagnostic::error("config::cache_subscription", format!("cache account `{}` is in subscription {sub}, but source VM `{}` is in {}", vm.cache_storage.value, vm.source_vm.value.name(), vm.source_vm.value.subscription().unwrap_or_default()))
                            .label(vm.cache_storage.span, "cache account in another subscription")
                            .label(vm.source_vm.span, "the source VM")
                            .help("set `subscription_id` on the storage account to the source VM's subscription"),
                    );
            }
        }
        // Target placement in the target region.
        if let Some(pair) = pair {
            for (what, r) in [
                ("target network", Some(&vm.target_network)),
                ("test network", vm.test_network.as_ref()),
            ] {
                let Some(r) = r else { continue };
                if let Some(net) = ix.vnet(&r.value)
                    && net.location.value != pair.target.value
                {
                    out.push(
                            Diagnostic::error("config::target_region", format!("the {what} `{}` of `{addr}` is in `{}`, not in the target region `{}`", r.value, net.location.value, pair.target.value))
                                .label(r.span, format!("{what} in the wrong region")),
                        );
                }
            }
            if let Some(av) = &vm.target_availability_set
                && let Some(ResourceBody::AvailabilitySet(a)) = ix.get(&av.value)
                && a.location.value != pair.target.value
            {
                out.push(
                            Diagnostic::error("config::target_region", format!("availability set `{}` of `{addr}` is in `{}`, not in the target region `{}`", av.value, a.location.value, pair.target.value))
                                .label(av.span, "availability set in the wrong region"),
                        );
            }
        }
        // Subnets and static IPs.
        let tnet = ix.vnet(&vm.target_network.value);
        let test_ref = vm.test_network.as_ref().unwrap_or(&vm.target_network);
        let test_net = ix.vnet(&test_ref.value);
        let main_subnet =
            tnet.and_then(|n| subnet(n, &vm.target_subnet, &vm.target_network.value, out));
        for nic in &vm.nics {
            let target_subnet = match &nic.target_subnet {
                Some(s) => tnet.and_then(|n| subnet(n, s, &vm.target_network.value, out)),
                None => main_subnet,
            };
            let test_subnet = match (&nic.test_subnet, test_net) {
                (Some(s), Some(n)) => subnet(n, s, &test_ref.value, out),
                // Without a test subnet the test VM lands in the subnet of the same name in the test network.
                (None, Some(n)) => n
                    .subnets
                    .iter()
                    .find(|s| s.name.value == vm.target_subnet.value)
                    .map(|s| s.address_prefix.value),
                _ => None,
            };
            for (ip, prefix, net) in [
                (
                    &nic.target_static_ip,
                    target_subnet,
                    &vm.target_network.value,
                ),
                (&nic.test_static_ip, test_subnet, &test_ref.value),
            ] {
                let Some(ip) = ip else { continue };
                if let Some(prefix) = prefix {
                    check_ip(ip, prefix, addr, out);
                }
                match ips.get(&(net, ip.value)) {
                    // The same VM may use one IP for failover and test failover when both land in one network.
                    Some(first) if first.owner != *addr => out.push(
                        Diagnostic::error(
                            "config::duplicate_ip",
                            format!("{} is assigned twice in `{net}`", ip.value),
                        )
                        .label(ip.span, format!("used again by `{addr}`"))
                        .label(first.span, format!("first used by `{}`", first.owner)),
                    ),
                    Some(_) => {}
                    None => {
                        ips.insert(
                            (net, ip.value),
                            IpUse {
                                span: ip.span,
                                owner: addr.clone(),
                            },
                        );
                    }
                }
            }
        }
        if let Some(g) = &vm.consistency_group {
            groups
                .entry((&vm.region_pair.value, g.value.as_str()))
                .or_default()
                .push((addr, g.span));
        }
        let disks = match &disk_counts {
            Some(m) => m
                .get(&vm.source_vm.value.as_str().to_ascii_lowercase())
                .copied()
                .unwrap_or(1) as u64,
            None => 1,
        };
        let e = disks_by_source_sub
            .entry(
                vm.source_vm
                    .value
                    .subscription()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
            )
            .or_default();
        e.0 += disks;
        e.1.push(vm.source_vm.span);
        if let Some(ResourceBody::ResourceGroup(rg)) = ix.get(&vm.target_resource_group.value)
            && let Some(sub) = &rg.subscription_id
        {
            let e = disks_by_target_sub
                .entry(sub.to_ascii_lowercase())
                .or_default();
            e.0 += disks;
            e.1.push(vm.target_resource_group.span);
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.1[0].1.cmp(&b.1[0].1));
    for ((_, name), members) in groups {
        if members.len() > MAX_VMS_PER_CONSISTENCY_GROUP {
            let (over, span) = members[MAX_VMS_PER_CONSISTENCY_GROUP];
            out.push(
                Diagnostic::error(
                    "config::consistency_group_size",
                    format!(
                        "consistency group `{name}` has {} VMs; ASR allows at most 16",
                        members.len()
                    ),
                )
                .label(span, format!("the 17th member, `{over}`"))
                .label(members[0].1, "first member")
                .help("split the VMs into several consistency groups of at most 16"),
            );
        }
    }
    for (side, counts) in [
        ("source", disks_by_source_sub),
        ("target", disks_by_target_sub),
    ] {
        for (sub, (n, spans)) in counts {
            if n > MAX_DISKS_PER_SUBSCRIPTION {
                out.push(
                    Diagnostic::error("config::disks_per_subscription", format!("{n} protected disks in {side} subscription {sub}; ASR allows at most 3,000"))
                        .label(spans[spans.len() - 1], "this VM crosses the limit")
                        .help("spread the VMs over more subscriptions"),
                );
            }
        }
    }
}

fn subnet(
    net: &VirtualNetwork,
    name: &Spanned<String>,
    net_addr: &ResourceAddr,
    out: &mut Vec<Diagnostic>,
) -> Option<Ipv4Net> {
    if let Some(s) = net.subnets.iter().find(|s| s.name.value == name.value) {
        return Some(s.address_prefix.value);
    }
    out.push(
        Diagnostic::error(
            "config::unknown_subnet",
            format!("`{net_addr}` has no subnet `{}`", name.value),
        )
        .label(name.span, "no such subnet")
        .maybe_help(
            did_you_mean(
                &name.value,
                net.subnets.iter().map(|s| s.name.value.as_str()),
            )
            .or_else(|| {
                let names: Vec<&str> = net.subnets.iter().map(|s| s.name.value.as_str()).collect();
                Some(if names.is_empty() {
                    "the network declares no `subnet` blocks".into()
                } else {
                    format!("its subnets: {}", names.join(", "))
                })
            }),
        ),
    );
    None
}

fn check_ip(
    ip: &Spanned<Ipv4Addr>,
    prefix: Ipv4Net,
    owner: &ResourceAddr,
    out: &mut Vec<Diagnostic>,
) {
    if !prefix.contains(&ip.value) {
        out.push(
            Diagnostic::error(
                "config::ip_outside_subnet",
                format!("{} of `{owner}` is outside its subnet {prefix}", ip.value),
            )
            .label(ip.span, format!("not in {prefix}")),
        );
        return;
    }
    // Azure keeps the first four addresses and the last one of every subnet.
    let offset = u32::from(ip.value) - u32::from(prefix.network());
    let size = 1u64 << (32 - prefix.prefix_len());
    if offset < 4 || offset as u64 == size - 1 {
        out.push(
            Diagnostic::error(
                "config::ip_reserved",
                format!("{} is reserved by Azure in {prefix}", ip.value),
            )
            .label(ip.span, "reserved address")
            .help(format!(
                "Azure reserves the first four and the last address; use {}..{}",
                Ipv4Addr::from(u32::from(prefix.network()) + 4),
                Ipv4Addr::from(u32::from(prefix.broadcast()) - 1)
            )),
        );
    }
}

fn plans(ix: &Index, out: &mut Vec<Diagnostic>) {
    let mut member_of: HashMap<&ResourceAddr, (&ResourceAddr, Span)> = HashMap::new();
    for r in ix.resources.values() {
        let ResourceBody::RecoveryPlan(p) = &r.body else {
            continue;
        };
        let addr = &r.addr;
        if p.groups.is_empty() {
            out.push(
                Diagnostic::error(
                    "config::recovery_plan_groups",
                    format!("`{addr}` has no `group` block"),
                )
                .label(r.span, "add at least one `group { vms = [...] }`"),
            );
        }
        if p.groups.len() > MAX_GROUPS_PER_RECOVERY_PLAN {
            out.push(
                Diagnostic::error(
                    "config::recovery_plan_groups",
                    format!(
                        "`{addr}` has {} groups; ASR allows at most 7",
                        p.groups.len()
                    ),
                )
                .label(p.groups[MAX_GROUPS_PER_RECOVERY_PLAN].span, "the 8th group"),
            );
        }
        let total: usize = p.groups.iter().map(|g| g.vms.len()).sum();
        if total > MAX_VMS_PER_RECOVERY_PLAN {
            out.push(
                Diagnostic::error(
                    "config::recovery_plan_size",
                    format!("`{addr}` has {total} VMs; ASR allows at most 100 per recovery plan"),
                )
                .label(r.span, "too many VMs")
                .help("split the VMs over several recovery plans"),
            );
        }
        if let Some(pair) = ix.pair(&p.region_pair.value)
            && pair.vault.value != p.vault.value
        {
            out.push(
                Diagnostic::error(
                    "config::vault_mismatch",
                    format!(
                        "`{addr}` is in `{}` but its region pair `{}` uses `{}`",
                        p.vault.value, p.region_pair.value, pair.vault.value
                    ),
                )
                .label(p.vault.span, "this vault")
                .label(p.region_pair.span, "region pair of another vault"),
            );
        }
        for g in &p.groups {
            for vm in &g.vms {
                if let Some(ResourceBody::ProtectedVm(v)) = ix.get(&vm.value)
                    && v.region_pair.value != p.region_pair.value
                {
                    out.push(
                        Diagnostic::error(
                            "config::recovery_plan_pair",
                            format!(
                                "`{}` replicates through `{}`, but `{addr}` fails over `{}`",
                                vm.value, v.region_pair.value, p.region_pair.value
                            ),
                        )
                        .label(vm.span, "VM of another region pair")
                        .label(p.region_pair.span, "the plan's region pair"),
                    );
                }
                match member_of.get(&vm.value) {
                    Some((other, span)) => out.push(
                        Diagnostic::error(
                            "config::recovery_plan_membership",
                            format!(
                                "`{}` is in two recovery plans (`{other}` and `{addr}`)",
                                vm.value
                            ),
                        )
                        .label(vm.span, "listed again here")
                        .label(*span, "first listed here")
                        .help("a protected VM can belong to at most one recovery plan"),
                    ),
                    None => {
                        member_of.insert(&vm.value, (addr, vm.span));
                    }
                }
            }
        }
    }
}

fn mappings(ix: &Index, out: &mut Vec<Diagnostic>) {
    // Target network block → the region pairs that have a mapping into it.
    let mut mapped: HashMap<&ResourceAddr, Vec<(&ResourceAddr, &ResourceAddr)>> = HashMap::new();
    for r in ix.resources.values() {
        let ResourceBody::NetworkMapping(m) = &r.body else {
            continue;
        };
        if let NetworkRef::Block(net) = &m.target_network.value {
            mapped
                .entry(net)
                .or_default()
                .push((&m.region_pair.value, &r.addr));
            if let (Some(pair), Some(vnet)) = (ix.pair(&m.region_pair.value), ix.vnet(net))
                && vnet.location.value != pair.target.value
            {
                out.push(
                    Diagnostic::error(
                        "config::target_region",
                        format!(
                            "`{}` maps into `{net}` in `{}`, but `{}` targets `{}`",
                            r.addr, vnet.location.value, m.region_pair.value, pair.target.value
                        ),
                    )
                    .label(m.target_network.span, "network outside the target region"),
                );
            }
        }
    }
    for r in ix.resources.values() {
        let ResourceBody::ProtectedVm(vm) = &r.body else {
            continue;
        };
        let Some(maps) = mapped.get(&vm.target_network.value) else {
            continue;
        };
        if !maps.iter().any(|(pair, _)| **pair == vm.region_pair.value) {
            let (pair, mapping) = maps[0];
            out.push(
                Diagnostic::error("config::network_mapping_pair", format!("`{}` replicates through `{}`, but `{mapping}` maps `{}` only for `{pair}`", r.addr, vm.region_pair.value, vm.target_network.value))
                    .label(vm.region_pair.span, "this region pair has no mapping into the target network")
                    .help("use the region pair of the network mapping, or add a `network_mapping` for this pair"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> Span {
        Span::default()
    }

    #[test]
    fn reserved_and_outside_addresses_are_reported() {
        let prefix: Ipv4Net = "10.0.1.0/24".parse().unwrap();
        let owner: ResourceAddr = "protected_vm.a".parse().unwrap();
        let mut out = Vec::new();
        for (ip, code) in [
            ("10.0.1.3", Some("config::ip_reserved")),
            ("10.0.1.255", Some("config::ip_reserved")),
            ("10.0.2.4", Some("config::ip_outside_subnet")),
            ("10.0.1.4", None),
        ] {
            out.clear();
            check_ip(
                &Spanned::new(ip.parse().unwrap(), sp()),
                prefix,
                &owner,
                &mut out,
            );
            assert_eq!(out.first().map(|d| d.code), code, "{ip}");
        }
    }

    #[test]
    fn unknown_subnet_suggests_the_nearest() {
        let net = VirtualNetwork {
            name: Spanned::new("n".into(), sp()),
            resource_group: Spanned::new(
                RgRef {
                    name: "rg".into(),
                    block: None,
                },
                sp(),
            ),
            location: Spanned::new("westus2".into(), sp()),
            address_space: vec![],
            subnets: vec![Subnet {
                name: Spanned::new("app".into(), sp()),
                address_prefix: Spanned::new("10.0.1.0/24".parse().unwrap(), sp()),
            }],
            subscription_id: None,
            tags: Tags::new(),
        };
        let mut out = Vec::new();
        let addr: ResourceAddr = "virtual_network.dr".parse().unwrap();
        assert!(subnet(&net, &Spanned::new("app".into(), sp()), &addr, &mut out).is_some());
        assert!(subnet(&net, &Spanned::new("ap".into(), sp()), &addr, &mut out).is_none());
        assert_eq!(out[0].help.as_deref(), Some("did you mean `app`?"));
    }
}

#[cfg(test)]
mod rule_tests {
    //! Each rule on a minimal configuration, in memory.
    use crate::config::{LoadOptions, load_sources};

    const BASE: &str = r#"
provider "azure" { subscription_id = "00000000-0000-0000-0000-000000000001" }
resource_group "dr" {
  name     = "rg-dr"
  location = "westus2"
}
vault "dr" {
  name           = "rsv"
  resource_group = resource_group.dr
  location       = "westus2"
}
replication_policy "p" {
  vault                    = vault.dr
  recovery_point_retention = RETENTION
  app_consistent_interval  = APP
}
region_pair "p" {
  vault  = vault.dr
  source = "eastus"
  target = "westus2"
  policy = replication_policy.p
}
virtual_network "dr" {
  name           = "vnet"
  resource_group = resource_group.dr
  address_space  = ["10.0.0.0/16"]
  subnet "app" { address_prefix = "10.0.1.0/24" }
}
storage_account "cache" {
  name           = "stcache"
  resource_group = "rg-app"
  location       = CACHE_REGION
}
protected_vm "vm" {
  for_each              = toset([for i in range(COUNT) : format("vm%02d", i)])
  source_vm             = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${each.key}"
  region_pair           = region_pair.p
  cache_storage         = storage_account.cache
  target_resource_group = resource_group.dr
  target_network        = virtual_network.dr
  target_subnet         = "app"
  consistency_group     = "g"
}
"#;

    fn codes(retention: &str, app: &str, cache: &str, count: usize) -> Vec<&'static str> {
        let text = BASE
            .replace("RETENTION", &format!("\"{retention}\""))
            .replace("APP", app)
            .replace("CACHE_REGION", &format!("\"{cache}\""))
            .replace("COUNT", &count.to_string());
        match load_sources(vec![("main.asr.hcl".into(), text)], &LoadOptions::default()) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.code).collect(),
        }
    }

    #[test]
    fn a_valid_configuration_has_no_findings() {
        assert_eq!(codes("24h", "\"4h\"", "eastus", 16), Vec::<&str>::new());
        assert_eq!(codes("15d", "null", "eastus", 1), Vec::<&str>::new());
    }

    #[test]
    fn retention_and_app_consistency_limits() {
        assert_eq!(codes("15d1s", "null", "eastus", 1), ["config::retention"]);
        assert_eq!(
            codes("24h", "\"59m\"", "eastus", 1),
            ["config::app_consistent_interval"]
        );
        assert_eq!(
            codes("4h", "\"4h\"", "eastus", 1),
            ["config::app_consistent_interval"]
        );
    }

    #[test]
    fn cache_region_and_group_size() {
        assert_eq!(codes("24h", "null", "westus2", 1), ["config::cache_region"]);
        assert_eq!(
            codes("24h", "null", "eastus", 17),
            ["config::consistency_group_size"]
        );
    }
}
