//! Per resource kind: the flat attribute map the differ compares, built from the configuration (desired) and from
//! the live snapshot (observed) with the same keys, plus the kind's update-versus-replace rule (design.md §4).
//!
//! Pure functions of their inputs. Attributes that the snapshot cannot show (tags of a vault, a storage account's
//! kind, an availability set's domain counts) are taken from the last applied value in state, so they are compared
//! against what asrform sent rather than invented. This module must not decide actions; `diff` does.

use std::collections::BTreeMap;

use globset::Glob;
use serde_json::{Map, Value, json};

use crate::addr::{ResourceAddr, ResourceKind};
use crate::config::model::{Config, NetworkRef, ProtectedVm, Resource, ResourceBody};
use crate::provider::model::{ProtectedItem, Snapshot};
use crate::provider::{ArmId, id::same_id};

/// Attributes that force a replacement when they change, per kind (design.md §4). Everything else updates in
/// place.
pub fn force_new(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::ResourceGroup => &["location"],
        ResourceKind::VirtualNetwork => &["location"],
        ResourceKind::StorageAccount => &["location", "kind"],
        ResourceKind::AvailabilitySet => &["location", "fault_domains"],
        ResourceKind::Vault => &["location"],
        ResourceKind::ReplicationPolicy => &["multi_vm_sync"],
        ResourceKind::RegionPair => &["source", "target"],
        ResourceKind::NetworkMapping => &["source_network"],
        ResourceKind::ProtectedVm => &[
            "source_vm",
            "source_region",
            "target_region",
            "cache_storage",
            "consistency_group",
        ],
        ResourceKind::RecoveryPlan => &["source_region", "target_region"],
    }
}

/// Attributes the snapshot cannot observe for a kind: compared against the last applied value in state.
pub fn unobservable(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::Vault => &["tags"],
        ResourceKind::StorageAccount => &["kind"],
        ResourceKind::AvailabilitySet => &["fault_domains", "update_domains"],
        ResourceKind::RecoveryPlan => &["actions"],
        _ => &[],
    }
}

/// Whether two attribute values are equal, comparing ARM ids case-insensitively.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if x.starts_with('/') && y.starts_with('/') {
                same_id(x, y)
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

fn id_of(config: &Config, addr: &ResourceAddr) -> Value {
    config
        .get(addr)
        .and_then(|r| r.id.clone())
        .map_or(Value::Null, Value::String)
}

fn opt<T: ToString>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |x| Value::String(x.to_string()))
}

fn tags(t: &BTreeMap<String, String>) -> Value {
    json!(t)
}

/// The source and target region of the region pair at `addr`.
pub fn pair_regions(config: &Config, addr: &ResourceAddr) -> Option<(String, String)> {
    match config.get(addr).map(|r| &r.body) {
        Some(ResourceBody::RegionPair(p)) => Some((p.source.value.clone(), p.target.value.clone())),
        _ => None,
    }
}

/// The region pair's policy, vault, and ARM ids, as used by several kinds.
pub fn pair_ids(config: &Config, addr: &ResourceAddr) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(r) = config.get(addr) else {
        return out;
    };
    let ResourceBody::RegionPair(p) = &r.body else {
        return out;
    };
    if let Some(v) = config.get(&p.vault.value).and_then(|v| v.id.clone()) {
        let n = &p.names;
        out.insert("source_fabric".into(), n.source_fabric_id(&v));
        out.insert("target_fabric".into(), n.target_fabric_id(&v));
        out.insert("source_container".into(), n.source_container_id(&v));
        out.insert("target_container".into(), n.target_container_id(&v));
        out.insert("forward_mapping".into(), n.forward_mapping_id(&v));
        out.insert("reverse_mapping".into(), n.reverse_mapping_id(&v));
        out.insert("vault".into(), v);
    }
    if let Some(pid) = config.get(&p.policy.value).and_then(|x| x.id.clone()) {
        out.insert("policy".into(), pid);
    }
    out
}

/// The network mapping's forward and reverse ids and networks.
pub fn network_mapping_ids(config: &Config, r: &Resource) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let ResourceBody::NetworkMapping(m) = &r.body else {
        return out;
    };
    let pair = pair_ids(config, &m.region_pair.value);
    let Some(ResourceBody::RegionPair(p)) = config.get(&m.region_pair.value).map(|x| &x.body)
    else {
        return out;
    };
    let target = match &m.target_network.value {
        NetworkRef::Block(a) => config.get(a).and_then(|x| x.id.clone()),
        NetworkRef::Id(id) => Some(id.as_str().to_string()),
    };
    if let (Some(fwd), Some(v), Some(t)) = (&r.id, pair.get("vault"), &target) {
        let tname = t.rsplit('/').next().unwrap_or_default();
        out.insert("id".into(), fwd.clone());
        out.insert(
            "reverse".into(),
            p.names
                .reverse_network_mapping_id(v, tname, &m.reverse_name.value),
        );
        out.insert("target_network".into(), t.clone());
        out.insert(
            "source_network".into(),
            m.source_network.value.as_str().to_string(),
        );
        if let Some(f) = pair.get("target_fabric") {
            out.insert("target_fabric".into(), f.clone());
        }
        if let Some(f) = pair.get("source_fabric") {
            out.insert("source_fabric".into(), f.clone());
        }
    }
    out
}

/// The desired attributes of a resource, and the keys known only after apply. `live` is the protected item found
/// for a protected VM (its disks and NICs decide which `disk`/`nic` settings apply).
pub fn desired(
    config: &Config,
    r: &Resource,
    live: Option<&ProtectedItem>,
    item_addr: &dyn Fn(&ArmId) -> Option<String>,
) -> (Value, Vec<String>) {
    let mut unknown = Vec::new();
    let v = match &r.body {
        ResourceBody::ResourceGroup(g) => {
            json!({"location": g.location.value, "tags": tags(&g.tags)})
        }
        ResourceBody::VirtualNetwork(n) => {
            let subnets: Map<String, Value> = n
                .subnets
                .iter()
                .map(|s| {
                    (
                        s.name.value.clone(),
                        Value::String(s.address_prefix.value.to_string()),
                    )
                })
                .collect();
            json!({
                "location": n.location.value,
                "address_space": n.address_space.iter().map(|a| a.value.to_string()).collect::<Vec<_>>(),
                "subnets": subnets,
                "tags": tags(&n.tags),
            })
        }
        ResourceBody::StorageAccount(s) => {
            json!({"location": s.location.value, "kind": s.kind.as_str(), "tags": tags(&s.tags)})
        }
        ResourceBody::AvailabilitySet(a) => json!({
            "location": a.location.value,
            "fault_domains": a.fault_domains,
            "update_domains": a.update_domains,
            "tags": tags(&a.tags),
        }),
        ResourceBody::Vault(v) => json!({"location": v.location.value, "tags": tags(&v.tags)}),
        ResourceBody::ReplicationPolicy(p) => json!({
            "recovery_point_retention_minutes": p.recovery_point_retention.value.as_secs() / 60,
            "app_consistent_frequency_minutes": p.app_consistent_interval.as_ref().map_or(0, |a| a.value.as_secs() / 60),
            "multi_vm_sync": p.multi_vm_sync.value,
        }),
        ResourceBody::RegionPair(p) => json!({
            "source": p.source.value,
            "target": p.target.value,
            "policy": id_of(config, &p.policy.value),
            "agent_auto_update": p.agent_auto_update.value,
        }),
        ResourceBody::NetworkMapping(_) => {
            let ids = network_mapping_ids(config, r);
            json!({
                "source_network": opt(ids.get("source_network")),
                "target_network": opt(ids.get("target_network")),
            })
        }
        ResourceBody::ProtectedVm(vm) => desired_vm(config, vm, live, &mut unknown),
        ResourceBody::RecoveryPlan(p) => {
            let (s, t) = pair_regions(config, &p.region_pair.value).unwrap_or_default();
            let groups: Vec<Value> = p
                .groups
                .iter()
                .map(|g| {
                    Value::Array(
                        g.vms
                            .iter()
                            .map(|a| Value::String(a.value.to_string()))
                            .collect(),
                    )
                })
                .collect();
            let actions: Vec<Value> = p
                .groups
                .iter()
                .map(|g| {
                    json!({
                        "pre": g.pre_actions.iter().map(|a| a.name.value.clone()).collect::<Vec<_>>(),
                        "post": g.post_actions.iter().map(|a| a.name.value.clone()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let _ = item_addr;
            json!({"source_region": s, "target_region": t, "groups": groups, "actions": actions})
        }
    };
    (v, unknown)
}

/// Whether a disk or NIC selector matches a name. Selectors are nearly always `*` or a plain name, and compiling a
/// glob is a regex build: doing it per disk of every VM made a 10,000-VM plan spend most of its diff here. So `*`
/// and plain names are compared directly, and real patterns are compiled once per thread.
fn glob_match(pattern: &str, name: &str) -> bool {
    use std::cell::RefCell;
    use std::collections::HashMap;
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?', '[', ']', '{', '}', '\\']) {
        return pattern == name;
    }
    thread_local! {
        static COMPILED: RefCell<HashMap<String, Option<globset::GlobMatcher>>> = RefCell::new(HashMap::new());
    }
    COMPILED.with(|c| {
        c.borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| Glob::new(pattern).ok().map(|g| g.compile_matcher()))
            .as_ref()
            .is_some_and(|m| m.is_match(name))
    })
}

fn nic_name(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

fn desired_vm(
    config: &Config,
    vm: &ProtectedVm,
    live: Option<&ProtectedItem>,
    unknown: &mut Vec<String>,
) -> Value {
    let (s, t) = pair_regions(config, &vm.region_pair.value).unwrap_or_default();
    // Built with its final size (`json!` grows the map from empty: three regrowths and rehashes per VM), in the same
    // key order.
    let fields: [(&str, Value); 15] = [
        (
            "source_vm",
            Value::String(vm.source_vm.value.as_str().to_string()),
        ),
        ("source_region", Value::String(s)),
        ("target_region", Value::String(t)),
        ("cache_storage", id_of(config, &vm.cache_storage.value)),
        (
            "target_resource_group",
            id_of(config, &vm.target_resource_group.value),
        ),
        ("target_network", id_of(config, &vm.target_network.value)),
        (
            "target_subnet",
            Value::String(vm.target_subnet.value.clone()),
        ),
        (
            "target_vm_name",
            Value::String(vm.target_vm_name.value.clone()),
        ),
        (
            "target_vm_size",
            opt(vm.target_vm_size.as_ref().map(|x| &x.value)),
        ),
        (
            "target_availability_set",
            vm.target_availability_set
                .as_ref()
                .map_or(Value::Null, |a| id_of(config, &a.value)),
        ),
        (
            "target_zone",
            opt(vm.target_zone.as_ref().map(|x| &x.value)),
        ),
        (
            "test_network",
            vm.test_network
                .as_ref()
                .map_or(Value::Null, |a| id_of(config, &a.value)),
        ),
        (
            "consistency_group",
            opt(vm.consistency_group.as_ref().map(|x| &x.value)),
        ),
        ("disks", Value::Null),
        ("nics", Value::Null),
    ];
    let mut m = Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    );
    match live {
        Some(item) => {
            // The disks and NICs come from the live item: each one gets the first matching block's settings.
            let mut disks = Map::new();
            for d in &item.disks {
                let name = d.disk_id.name().to_string();
                let ty = vm
                    .disks
                    .iter()
                    .find(|s| glob_match(&s.selector.value, &name))
                    .map(|s| Value::String(s.target_disk_type.value.to_string()));
                // No matching block leaves the disk at ASR's choice: whatever it is now.
                disks.insert(name, ty.unwrap_or_else(|| opt(d.target_disk_type.as_ref())));
            }
            m["disks"] = Value::Object(disks);
            let mut nics = Map::new();
            for (i, n) in item.nics.iter().enumerate() {
                let name = n
                    .source_nic_id
                    .as_ref()
                    .map_or_else(|| format!("nic{i}"), |x| nic_name(x.as_str()));
                let positional = format!("nic{i}");
                let settings = vm.nics.iter().find(|s| {
                    s.selector.value == positional || glob_match(&s.selector.value, &name)
                });
                let v = match settings {
                    Some(s) => json!({
                        "target_subnet": s.target_subnet.as_ref().map_or(vm.target_subnet.value.clone(), |x| x.value.clone()),
                        "target_static_ip": opt(s.target_static_ip.as_ref().map(|x| x.value)),
                        "test_subnet": opt(s.test_subnet.as_ref().map(|x| &x.value)),
                        "test_static_ip": opt(s.test_static_ip.as_ref().map(|x| x.value)),
                    }),
                    None => observed_nic(n),
                };
                nics.insert(name, v);
            }
            m["nics"] = Value::Object(nics);
        }
        None => {
            m["disks"] = Value::Null;
            m["nics"] = Value::Null;
            unknown.push("disks".into());
            unknown.push("nics".into());
        }
    }
    m
}

fn observed_nic(n: &crate::provider::model::NicTarget) -> Value {
    let ip = n
        .ip_configs
        .values()
        .find(|c| c.is_primary)
        .or_else(|| n.ip_configs.values().next())
        .cloned()
        .unwrap_or_default();
    json!({
        "target_subnet": ip.recovery_subnet,
        "target_static_ip": ip.recovery_static_ip,
        "test_subnet": ip.tfo_subnet,
        "test_static_ip": ip.tfo_static_ip,
    })
}

/// The observed attributes of a protected item, with the same keys as [`desired`].
pub fn observed_vm(item: &ProtectedItem) -> Value {
    let mut disks = Map::new();
    for d in &item.disks {
        disks.insert(
            d.disk_id.name().to_string(),
            opt(d.target_disk_type.as_ref()),
        );
    }
    let mut nics = Map::new();
    for (i, n) in item.nics.iter().enumerate() {
        let name = n
            .source_nic_id
            .as_ref()
            .map_or_else(|| format!("nic{i}"), |x| nic_name(x.as_str()));
        nics.insert(name, observed_nic(n));
    }
    json!({
        "source_vm": opt(item.source_vm_id.as_ref()),
        "source_region": opt(item.primary_location.as_ref()),
        "target_region": opt(item.recovery_location.as_ref()),
        "cache_storage": opt(item.disks.first().and_then(|d| d.staging_account_id.as_ref())),
        "target_resource_group": opt(item.target_resource_group_id.as_ref()),
        "target_network": opt(item.target_network_id.as_ref()),
        "target_subnet": opt(item.target_subnet.as_ref()),
        "target_vm_name": opt(item.target_vm_name.as_ref()),
        "target_vm_size": opt(item.target_vm_size.as_ref()),
        "target_availability_set": opt(item.target_availability_set_id.as_ref()),
        "target_zone": opt(item.target_zone.as_ref()),
        "test_network": opt(item.tfo_network_id.as_ref()),
        "consistency_group": opt(item.multi_vm_group.as_ref()),
        "disks": disks,
        "nics": nics,
    })
}

/// The observed attributes of a resource other than a protected VM (`None` when it does not exist). `ids` are the
/// resource's ARM ids by role; `item_addr` maps a protected item id to its address (recovery plan membership).
pub fn observed(
    snap: &Snapshot,
    r: &Resource,
    ids: &BTreeMap<String, String>,
    item_addr: &dyn Fn(&ArmId) -> Option<String>,
) -> Option<Value> {
    let id = ArmId::parse(ids.get("id")?).ok()?;
    match &r.body {
        ResourceBody::ResourceGroup(_) => {
            let g = snap.resource_groups.get(&id)?;
            Some(json!({"location": g.location, "tags": g.tags}))
        }
        ResourceBody::VirtualNetwork(_) => {
            let n = snap.resources.get(&id)?;
            let subnets: Map<String, Value> = n
                .subnets
                .iter()
                .map(|(k, v)| (k.clone(), opt(v.first())))
                .collect();
            Some(json!({
                "location": n.location,
                "address_space": n.address_prefixes,
                "subnets": subnets,
                "tags": n.tags,
            }))
        }
        ResourceBody::StorageAccount(_) => {
            let s = snap.resources.get(&id)?;
            Some(json!({"location": s.location, "tags": s.tags}))
        }
        ResourceBody::AvailabilitySet(_) => {
            let s = snap.resources.get(&id)?;
            Some(json!({"location": s.location, "tags": s.tags}))
        }
        ResourceBody::Vault(_) => {
            let v = snap.vaults.get(&id)?;
            Some(json!({"location": v.location}))
        }
        ResourceBody::ReplicationPolicy(_) => {
            let p = snap.policies.get(&id)?;
            Some(json!({
                "recovery_point_retention_minutes": p.recovery_point_history_minutes,
                "app_consistent_frequency_minutes": p.app_consistent_frequency_minutes.unwrap_or(0),
                "multi_vm_sync": p.multi_vm_sync_status.as_deref().map(|s| s.eq_ignore_ascii_case("Enable")),
            }))
        }
        ResourceBody::RegionPair(_) => {
            let fwd = snap
                .container_mappings
                .get(&ArmId::parse(ids.get("forward_mapping")?).ok()?)?;
            // The pair exists only as a whole: a missing reverse mapping means apply must still create it.
            snap.container_mappings
                .get(&ArmId::parse(ids.get("reverse_mapping")?).ok()?)?;
            let loc = |k: &str| {
                ids.get(k)
                    .and_then(|f| ArmId::parse(f).ok())
                    .and_then(|f| snap.fabrics.get(&f))
                    .and_then(|f| f.location.clone())
            };
            Some(json!({
                "source": loc("source_fabric"),
                "target": loc("target_fabric"),
                "policy": opt(fwd.policy_id.as_ref()),
                "agent_auto_update": fwd.agent_auto_update.as_deref().map(|s| s.eq_ignore_ascii_case("Enabled")),
            }))
        }
        ResourceBody::NetworkMapping(_) => {
            let m = snap.network_mappings.get(&id)?;
            if let Some(rev) = ids.get("reverse").and_then(|x| ArmId::parse(x).ok()) {
                snap.network_mappings.get(&rev)?;
            }
            Some(json!({
                "source_network": opt(m.primary_network_id.as_ref()),
                "target_network": opt(m.recovery_network_id.as_ref()),
            }))
        }
        ResourceBody::ProtectedVm(_) => None,
        ResourceBody::RecoveryPlan(_) => {
            let p = snap.recovery_plans.get(&id)?;
            let loc = |f: &Option<String>| {
                f.as_ref()
                    .and_then(|f| ArmId::parse(f).ok())
                    .and_then(|f| snap.fabrics.get(&f))
                    .and_then(|f| f.location.clone())
            };
            let groups: Vec<Value> = p
                .groups
                .iter()
                .filter(|(t, _)| t.eq_ignore_ascii_case("Boot"))
                .map(|(_, ids)| {
                    Value::Array(
                        ids.iter()
                            .map(|i| Value::String(item_addr(i).unwrap_or_else(|| i.to_string())))
                            .collect(),
                    )
                })
                .collect();
            Some(json!({
                "source_region": loc(&p.primary_fabric_id),
                "target_region": loc(&p.recovery_fabric_id),
                "groups": groups,
            }))
        }
    }
}

/// The ARM ids a resource owns, by role (`id` is the main object).
pub fn arm_ids(config: &Config, r: &Resource) -> BTreeMap<String, String> {
    let mut out = match &r.body {
        ResourceBody::RegionPair(_) => pair_ids(config, &r.addr),
        ResourceBody::NetworkMapping(_) => network_mapping_ids(config, r),
        _ => BTreeMap::new(),
    };
    if let Some(id) = &r.id {
        out.insert("id".into(), id.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_case_insensitively_inside_nested_values() {
        let a = json!({"x": ["/subscriptions/A/resourceGroups/RG"], "n": 1});
        let b = json!({"x": ["/Subscriptions/a/resourcegroups/rg"], "n": 1});
        assert!(same_value(&a, &b));
        assert!(
            !same_value(&json!("Abc"), &json!("abc")),
            "plain strings are case-sensitive"
        );
    }

    #[test]
    fn every_kind_has_a_replace_rule_and_updates_the_rest() {
        for k in ResourceKind::ALL {
            assert!(!force_new(k).is_empty(), "{k} has no force-new attribute");
        }
        assert!(force_new(ResourceKind::ProtectedVm).contains(&"source_vm"));
        assert!(!force_new(ResourceKind::ProtectedVm).contains(&"target_vm_size"));
        assert!(
            !force_new(ResourceKind::ReplicationPolicy)
                .contains(&"recovery_point_retention_minutes")
        );
    }
}
