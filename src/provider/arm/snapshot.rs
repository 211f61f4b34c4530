//! Bulk reads: everything a plan needs, with vault-scope and resource-group-scope list calls (following
//! `nextLink`), read concurrently across vaults, resource groups and subscriptions, converted into the neutral
//! [`Snapshot`].
//!
//! The request count grows with pages, not objects: no per-item GETs. A scope whose read fails for a transient
//! reason after retries (an outage) is recorded in `unreadable_scopes`, and its region (when known) in
//! `unreachable_regions`, instead of failing the whole read; a 404 on a requested scope records it as missing.
//! Permanent errors (401/403, invalid requests) fail the read. This module must not write anything.
//!
//! Large estates are read through Azure Resource Graph instead ([`read`] picks, [`Strategy`]): ARM lists cost
//! about 8 requests per vault plus one per resource group and kind, ARG about one query per 1,000 rows of a kind
//! across up to 300 subscriptions, so above [`GRAPH_ABOVE_REQUESTS`] estimated ARM requests the ARG read is the
//! smaller one (10,000 VMs in 10 vaults: ≈ 23 queries instead of 120 requests). Below it ARM lists stay: they are
//! current, run in parallel at ARM latency, and do not spend the per-user ARG quota (15 queries / 5 s).
//!
//! ARG is an eventually consistent index (limits.md §2.6: 95% of changes within 30 s, no upper bound), so a
//! snapshot read through it is marked (`Snapshot::graph_read_at`) and is never trusted alone for a change:
//! [`confirm`] re-reads single objects with ARM GETs, and the planner (`apply::fresh`) uses it for every object a
//! plan would change and every object asrform's state says it changed within [`GRAPH_RECENT`] (an index row that
//! still shows the value before asrform's own change could otherwise hide drift behind a stale no-op). That is
//! Microsoft's hybrid ARG + resource-provider strategy: the index narrows the work, the source of truth decides. A
//! transient failure of the ARG read falls back to ARM lists, which record unreadable scopes one by one.
//! ARG is also global, so a region that is down still shows its last rows: after an ARG read one ARM GET per
//! region the protected workloads run in (`probe_regions`: each primary region, and each recovery region where items
//! run after a failover) finds regions that do not answer. (ARM lists ask each region themselves: a failed list of
//! a source group marks its region, and a vault whose region is down leaves its objects unreadable.)

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinSet;

use super::client::ArmClient;
use super::graph_query;
use super::wire::{self, Resource};
use crate::provider::model::{
    self, Container, ContainerMapping, CurrentScenario, DiskTarget, Fabric, GroupReads,
    HealthError, IpConfigTarget, NetworkMapping, NicTarget, Policy, ProtectedItem, RecoveryPlan,
    Resource as LiveResource, ResourceGroup, Vault,
};
use crate::provider::{ArmId, ProviderError, Snapshot, SnapshotRequest};

/// The vault-scope collections read per vault.
pub const VAULT_LISTS: [&str; 7] = [
    "replicationFabrics",
    "replicationProtectionContainers",
    "replicationPolicies",
    "replicationProtectionContainerMappings",
    "replicationNetworkMappings",
    "replicationProtectedItems",
    "replicationRecoveryPlans",
];

/// The resource-group-scope collections read per resource group.
pub const RG_LISTS: [&str; 4] = [
    model::VIRTUAL_NETWORKS,
    model::STORAGE_ACCOUNTS,
    model::AVAILABILITY_SETS,
    model::VIRTUAL_MACHINES,
];

enum Part {
    Vault(ArmId, Result<Option<Value>, ProviderError>),
    VaultList(ArmId, &'static str, Result<Vec<Value>, ProviderError>),
    Group(ArmId, Result<Option<Value>, ProviderError>),
    GroupList(ArmId, &'static str, Result<Vec<Value>, ProviderError>),
    Subscription(String, Result<Vec<Value>, ProviderError>),
    /// The resource groups of one subscription whose records were read with one list instead of a GET each.
    Groups(Vec<ArmId>, Result<Vec<Value>, ProviderError>),
}

/// How [`read_with`] reads the bulk collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// ARG above [`GRAPH_ABOVE_REQUESTS`] estimated ARM requests, ARM lists below.
    Auto,
    /// ARM lists only (current, no index lag).
    ArmLists,
    /// Azure Resource Graph (falls back to ARM lists on a transient failure).
    Graph,
}

/// Estimated ARM requests above which [`Strategy::Auto`] reads through ARG: four vaults' fixed cost. ARG's own
/// floor is about three queries of 500 ms and a share of the 15-per-5-s user quota, so it pays off only when it
/// replaces dozens of list requests (limits.md §6 G1: 12 requests at 100 and 1,000 VMs in one vault stay ARM).
pub const GRAPH_ABOVE_REQUESTS: usize = 32;

/// How long after asrform changed an object a plan re-reads it with an ARM GET even when its ARG row shows no
/// change (limits.md §2.6: 95% of changes reach ARG within 30 s, the tail up to 10 minutes).
pub const GRAPH_RECENT: std::time::Duration = std::time::Duration::from_secs(600);

/// The ARM requests [`read_arm`] would send for `req` (one page per list).
pub fn arm_request_estimate(req: &SnapshotRequest) -> usize {
    let groups: usize = req
        .resource_groups
        .iter()
        .map(|g| {
            req.group_reads.get(g).map_or(RG_LISTS.len() + 1, |r| {
                r.lists.len() + usize::from(r.record)
            })
        })
        .sum();
    req.vaults.len() * (1 + VAULT_LISTS.len()) + groups + req.subscriptions.len()
}

/// Reads the snapshot, through ARG when the estate is large (see the module docs).
pub async fn read(client: &ArmClient, req: &SnapshotRequest) -> Result<Snapshot, ProviderError> {
    read_with(client, req, Strategy::Auto).await
}

/// Reads the snapshot with the given strategy.
pub async fn read_with(
    client: &ArmClient,
    req: &SnapshotRequest,
    strategy: Strategy,
) -> Result<Snapshot, ProviderError> {
    let graph = match strategy {
        Strategy::Auto => arm_request_estimate(req) > GRAPH_ABOVE_REQUESTS,
        Strategy::ArmLists => false,
        Strategy::Graph => true,
    };
    if graph {
        match read_graph(client, req).await {
            Err(e) if e.is_transient() => {
                tracing::warn!(target: "asrform::arm", error = %e, "Resource Graph read failed; reading with ARM lists");
            }
            other => return other,
        }
    }
    read_arm(client, req).await
}

/// Reads the snapshot with ARM lists.
///
/// Fixed cost per vault: its GET, then (only when it exists) the 7 vault lists; per resource group: the lists
/// `group_reads` asks for, and its record (one GET, or one `resourcegroups` list for all the groups of a
/// subscription whose record is needed when there are several).
pub async fn read_arm(
    client: &ArmClient,
    req: &SnapshotRequest,
) -> Result<Snapshot, ProviderError> {
    let mut set: JoinSet<Vec<Part>> = JoinSet::new();
    for v in &req.vaults {
        let (c, id) = (client.clone(), v.clone());
        set.spawn(async move {
            let got = c.get_value(id.as_str()).await;
            // Every child list of a vault that does not exist answers 404: do not ask. (A failed GET still lists,
            // so each unreadable scope is recorded as before.)
            let lists = if matches!(got, Ok(None)) {
                Vec::new()
            } else {
                futures_util::future::join_all(VAULT_LISTS.into_iter().map(|list| {
                    let (c, id) = (&c, &id);
                    async move {
                        Part::VaultList(id.clone(), list, c.list_values(&id.join(list), &[]).await)
                    }
                }))
                .await
            };
            let mut parts = vec![Part::Vault(id, got)];
            parts.extend(lists);
            parts
        });
    }
    let full = GroupReads {
        record: true,
        lists: RG_LISTS.into_iter().collect(),
    };
    let mut records: BTreeMap<String, Vec<ArmId>> = BTreeMap::new();
    for g in &req.resource_groups {
        let reads = req.group_reads.get(g).unwrap_or(&full);
        if reads.record {
            records
                .entry(g.subscription().unwrap_or_default().to_ascii_lowercase())
                .or_default()
                .push(g.clone());
        }
        for list in RG_LISTS.into_iter().filter(|l| reads.lists.contains(l)) {
            let (c, id) = (client.clone(), g.clone());
            set.spawn(async move {
                vec![Part::GroupList(
                    id.clone(),
                    list,
                    c.list_values(&id.join(list), &[]).await,
                )]
            });
        }
    }
    for (sub, groups) in records {
        let c = client.clone();
        if let [g] = groups.as_slice() {
            let id = g.clone();
            set.spawn(async move { vec![Part::Group(id.clone(), c.get_value(id.as_str()).await)] });
        } else {
            set.spawn(async move {
                let r = c
                    .list_values(&format!("/subscriptions/{sub}/resourcegroups"), &[])
                    .await;
                vec![Part::Groups(groups, r)]
            });
        }
    }
    for s in &req.subscriptions {
        let (c, sub) = (client.clone(), s.clone());
        set.spawn(async move {
            let r = c
                .list_values(&format!("/subscriptions/{sub}/resourcegroups"), &[])
                .await;
            vec![Part::Subscription(sub, r)]
        });
    }
    let mut parts = Vec::new();
    while let Some(joined) = set.join_next().await {
        parts.extend(
            joined.map_err(|e| ProviderError::Config(format!("snapshot task failed: {e}")))?,
        );
    }
    assemble(parts)
}

fn vault_of(id: ArmId, v: Value) -> Result<Vault, ProviderError> {
    let r: wire::Vault = decode(id.as_str(), v)?;
    Ok(Vault {
        id,
        location: r.location.unwrap_or_default(),
        sku: r.sku.map(|s| s.name),
        provisioning_state: r.properties.provisioning_state,
        etag: r.etag,
    })
}

fn group_of(id: ArmId, v: Value) -> Result<ResourceGroup, ProviderError> {
    let r: wire::ResourceGroup = decode(id.as_str(), v)?;
    Ok(ResourceGroup {
        id,
        location: r.location.unwrap_or_default(),
        tags: r.tags.unwrap_or_default(),
    })
}

/// ARG's (lower-case) type of each vault collection, in the `recoveryservicesresources` table.
const GRAPH_VAULT_TYPES: [(&str, &str); 7] = [
    (
        "replicationFabrics",
        "microsoft.recoveryservices/vaults/replicationfabrics",
    ),
    (
        "replicationProtectionContainers",
        "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers",
    ),
    (
        "replicationPolicies",
        "microsoft.recoveryservices/vaults/replicationpolicies",
    ),
    (
        "replicationProtectionContainerMappings",
        "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers/replicationprotectioncontainermappings",
    ),
    (
        "replicationNetworkMappings",
        "microsoft.recoveryservices/vaults/replicationfabrics/replicationnetworks/replicationnetworkmappings",
    ),
    (
        "replicationProtectedItems",
        "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers/replicationprotecteditems",
    ),
    (
        "replicationRecoveryPlans",
        "microsoft.recoveryservices/vaults/replicationrecoveryplans",
    ),
];
const GRAPH_VAULT: &str = "microsoft.recoveryservices/vaults";
const GRAPH_GROUP: &str = "microsoft.resources/subscriptions/resourcegroups";

/// ARG's type of a resource-group collection (`providers/Microsoft.Network/virtualNetworks` →
/// `microsoft.network/virtualnetworks`).
fn graph_type(list: &str) -> String {
    list.trim_start_matches("providers/").to_ascii_lowercase()
}

fn row_id(row: &Value) -> String {
    row.get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn row_type(row: &Value) -> String {
    row.get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The vault part (`/subscriptions/s/resourcegroups/rg/providers/microsoft.recoveryservices/vaults/v`, lower
/// case) of an id.
fn vault_key(id: &str) -> String {
    id.to_ascii_lowercase()
        .trim_start_matches('/')
        .split('/')
        .take(8)
        .fold(String::new(), |acc, s| acc + "/" + s)
}

/// Reads the snapshot through Azure Resource Graph: three queries (resources of the kinds asked for and the
/// vaults; the vaults' ASR objects; resource groups) over every subscription involved, paged, run concurrently;
/// rows are then kept only for the requested scopes, exactly as the ARM lists would scope them.
pub async fn read_graph(
    client: &ArmClient,
    req: &SnapshotRequest,
) -> Result<Snapshot, ProviderError> {
    let started = client.clock().now();
    let lower = |s: &str| s.to_ascii_lowercase();
    let subs: BTreeSet<String> = req
        .vaults
        .iter()
        .chain(&req.resource_groups)
        .filter_map(|i| i.subscription().map(lower))
        .chain(req.subscriptions.iter().map(|s| lower(s)))
        .collect();
    let subs: Vec<String> = subs.into_iter().collect();
    let full = GroupReads {
        record: true,
        lists: RG_LISTS.into_iter().collect(),
    };
    let groups: BTreeMap<String, (&ArmId, BTreeSet<String>, bool)> = req
        .resource_groups
        .iter()
        .map(|g| {
            let reads = req.group_reads.get(g).unwrap_or(&full);
            let kinds = reads.lists.iter().map(|l| graph_type(l)).collect();
            (lower(g.as_str()), (g, kinds, reads.record))
        })
        .collect();
    let mut kinds: BTreeSet<String> = groups.values().flat_map(|(_, k, _)| k.clone()).collect();
    if !req.vaults.is_empty() {
        kinds.insert(GRAPH_VAULT.into());
    }
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let asr: Vec<&str> = GRAPH_VAULT_TYPES.iter().map(|(_, t)| *t).collect();
    let run = |table: &'static str, types: Vec<&str>, wanted: bool| {
        let q = graph_query::of_types(table, &types);
        let wanted = wanted && !types.is_empty();
        let subs = &subs;
        async move {
            if wanted {
                graph_query::query(client, subs, &q).await
            } else {
                Ok(Vec::new())
            }
        }
    };
    let (resources, asr_rows, group_rows) = tokio::join!(
        run("resources", kinds, true),
        run("recoveryservicesresources", asr, !req.vaults.is_empty()),
        run(
            "resourcecontainers",
            vec![GRAPH_GROUP],
            !req.resource_groups.is_empty() || !req.subscriptions.is_empty()
        ),
    );
    let (resources, asr_rows, group_rows) = (resources?, asr_rows?, group_rows?);

    let mut snap = Snapshot {
        graph_read_at: Some(started),
        ..Snapshot::default()
    };
    let mut existing: BTreeMap<String, Value> = BTreeMap::new();
    for row in group_rows {
        let id = row_id(&row);
        if req
            .subscriptions
            .iter()
            .any(|s| id.starts_with(&format!("/subscriptions/{}/", lower(s))))
            && let Ok(a) = ArmId::parse(&id)
        {
            let g = group_of(a.clone(), row.clone())?;
            snap.resource_groups.entry(a).or_insert(g);
        }
        existing.insert(id, row);
    }
    for (k, (id, _, record)) in &groups {
        match existing.get(k) {
            Some(row) if *record => {
                snap.resource_groups
                    .insert((*id).clone(), group_of((*id).clone(), row.clone())?);
            }
            Some(_) => {}
            None => {
                snap.missing_scopes.insert(id.to_string());
            }
        }
    }
    let vaults: BTreeMap<String, &ArmId> =
        req.vaults.iter().map(|v| (lower(v.as_str()), v)).collect();
    for row in resources {
        let (id, kind) = (row_id(&row), row_type(&row));
        if kind == GRAPH_VAULT {
            if let Some(v) = vaults.get(&id) {
                snap.vaults
                    .insert((*v).clone(), vault_of((*v).clone(), row)?);
            }
            continue;
        }
        let wanted = group_key(&id)
            .and_then(|g| groups.get(&g))
            .is_some_and(|(_, kinds, _)| kinds.contains(&kind));
        if wanted && let Some(r) = live_resource(row)? {
            snap.resources.insert(r.id.clone(), r);
        }
    }
    for v in &req.vaults {
        if !snap.vaults.contains_key(v) {
            snap.missing_scopes.insert(v.to_string());
        }
    }
    let present: BTreeSet<String> = snap.vaults.keys().map(|v| lower(v.as_str())).collect();
    let mut by_list: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for row in asr_rows {
        if !present.contains(&vault_key(&row_id(&row))) {
            continue;
        }
        let kind = row_type(&row);
        if let Some((list, _)) = GRAPH_VAULT_TYPES.iter().find(|(_, t)| *t == kind) {
            by_list.entry(list).or_default().push(row);
        }
    }
    for (list, items) in by_list {
        vault_items(&mut snap, list, items)?;
    }
    probe_regions(client, &mut snap).await?;
    Ok(snap)
}

/// ARG is a global index: the rows of a region that is down are still there, so the index alone cannot tell an
/// outage (and a plan would pick a planned failover, which needs the region the workload leaves). One ARM GET per
/// region the workloads run in asks the region itself: of a source VM for each primary region of the protected
/// items, and of a failed-over VM for each recovery region where items run after a failover (a failback leaves
/// that region). A transient failure makes the region unreachable and the VM an unreadable scope (unknown, not
/// absent), as a failed ARM list does. Returns the requests sent.
async fn probe_regions(client: &ArmClient, snap: &mut Snapshot) -> Result<usize, ProviderError> {
    let mut probes: BTreeMap<String, String> = BTreeMap::new();
    let mut probe = |region: Option<&str>, vm: Option<&str>| {
        if let (Some(region), Some(vm)) = (region.filter(|r| !r.is_empty()), vm) {
            probes
                .entry(region.to_ascii_lowercase())
                .or_insert_with(|| vm.to_string());
        }
    };
    for p in snap.protected_items.values() {
        probe(
            p.primary_location.as_deref(),
            p.source_vm_id.as_ref().map(ArmId::as_str),
        );
        if p.active_location
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"))
        {
            probe(p.recovery_location.as_deref(), p.recovery_vm_id.as_deref());
        }
    }
    let got = futures_util::future::join_all(
        probes
            .values()
            .map(|id| async move { client.get_value(id).await }),
    )
    .await;
    for ((region, id), r) in probes.iter().zip(got) {
        if let Err(e) = r {
            scope_failure(snap, id, Some(region.clone()), e)?;
        }
    }
    Ok(probes.len())
}

/// What a single id is, for [`confirm`].
#[derive(Clone, Copy)]
enum Single {
    Vault,
    Group,
    VaultChild(&'static str),
    Live,
}

fn single_kind(id: &ArmId) -> Option<Single> {
    let lower = id.as_str().to_ascii_lowercase();
    let segs: Vec<&str> = lower.trim_matches('/').split('/').collect();
    if segs.len() == 4 && segs[2] == "resourcegroups" {
        return Some(Single::Group);
    }
    let collection = *segs.get(segs.len().checked_sub(2)?)?;
    if let Some(list) = VAULT_LISTS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(collection))
    {
        return Some(Single::VaultChild(list));
    }
    match (segs.len(), collection) {
        (8, "vaults") if segs[5] == "microsoft.recoveryservices" => Some(Single::Vault),
        (8, _) => RG_LISTS
            .iter()
            .any(|l| graph_type(l) == format!("{}/{collection}", segs[5]))
            .then_some(Single::Live),
        _ => None,
    }
}

/// Re-reads objects with ARM GETs (the source of truth) and puts what they answer into `snap` in place of what
/// the index showed: an object that exists replaces its entry (and is no longer a missing scope), one that does
/// not is removed (a vault or group becomes a missing scope), one whose read fails transiently becomes an
/// unreadable scope (unknown, not absent). Ids of kinds a snapshot does not hold are skipped. Returns the GETs
/// sent.
pub async fn confirm(
    client: &ArmClient,
    snap: &mut Snapshot,
    ids: &BTreeSet<ArmId>,
) -> Result<usize, ProviderError> {
    let wanted: Vec<(ArmId, Single)> = ids
        .iter()
        .filter_map(|i| single_kind(i).map(|k| (i.clone(), k)))
        .collect();
    let got = futures_util::future::join_all(
        wanted
            .iter()
            .map(|(id, _)| async move { client.get_value(id.as_str()).await }),
    )
    .await;
    let sent = wanted.len();
    for ((id, kind), r) in wanted.into_iter().zip(got) {
        let v = match r {
            Ok(v) => v,
            Err(e) => {
                scope_failure(snap, id.as_str(), None, e)?;
                continue;
            }
        };
        let scope = id.as_str().to_ascii_lowercase();
        snap.missing_scopes
            .retain(|s| s.to_ascii_lowercase() != scope);
        match kind {
            Single::Vault => {
                snap.vaults.remove(&id);
                match v {
                    Some(v) => {
                        snap.vaults.insert(id.clone(), vault_of(id, v)?);
                    }
                    None => {
                        snap.missing_scopes.insert(id.to_string());
                    }
                }
            }
            Single::Group => {
                snap.resource_groups.remove(&id);
                match v {
                    Some(v) => {
                        snap.resource_groups.insert(id.clone(), group_of(id, v)?);
                    }
                    None => {
                        snap.missing_scopes.insert(id.to_string());
                    }
                }
            }
            Single::VaultChild(list) => {
                match list {
                    "replicationFabrics" => drop(snap.fabrics.remove(&id)),
                    "replicationProtectionContainers" => drop(snap.containers.remove(&id)),
                    "replicationPolicies" => drop(snap.policies.remove(&id)),
                    "replicationProtectionContainerMappings" => {
                        drop(snap.container_mappings.remove(&id))
                    }
                    "replicationNetworkMappings" => drop(snap.network_mappings.remove(&id)),
                    "replicationProtectedItems" => drop(snap.protected_items.remove(&id)),
                    _ => drop(snap.recovery_plans.remove(&id)),
                }
                if let Some(v) = v {
                    vault_items(snap, list, vec![v])?;
                }
            }
            Single::Live => {
                snap.resources.remove(&id);
                if let Some(r) = v.map(live_resource).transpose()?.flatten() {
                    snap.resources.insert(r.id.clone(), r);
                }
            }
        }
    }
    Ok(sent)
}

fn scope_failure(
    snap: &mut Snapshot,
    scope: &str,
    region: Option<String>,
    e: ProviderError,
) -> Result<(), ProviderError> {
    if e.is_not_found() {
        snap.missing_scopes.insert(scope.to_string());
        return Ok(());
    }
    if e.is_transient() {
        snap.unreadable_scopes
            .insert(scope.to_string(), e.to_string());
        if let Some(r) = region {
            snap.unreachable_regions.insert(r.to_ascii_lowercase());
        }
        return Ok(());
    }
    Err(e)
}

fn assemble(parts: Vec<Part>) -> Result<Snapshot, ProviderError> {
    let mut snap = Snapshot::default();
    // Locations first, so a failed list can be attributed to its scope's region.
    let mut vault_region: BTreeMap<ArmId, String> = BTreeMap::new();
    let mut group_region: BTreeMap<ArmId, String> = BTreeMap::new();
    let mut rest = Vec::new();
    for p in parts {
        match p {
            Part::Vault(id, Ok(Some(v))) => {
                let vault = vault_of(id.clone(), v)?;
                vault_region.insert(id.clone(), vault.location.clone());
                snap.vaults.insert(id, vault);
            }
            Part::Vault(id, Ok(None)) => {
                snap.missing_scopes.insert(id.to_string());
            }
            Part::Group(id, Ok(Some(v))) => {
                let group = group_of(id.clone(), v)?;
                group_region.insert(id.clone(), group.location.clone());
                snap.resource_groups.insert(id, group);
            }
            Part::Group(id, Ok(None)) => {
                snap.missing_scopes.insert(id.to_string());
            }
            Part::Groups(groups, Ok(items)) => {
                let mut listed: BTreeMap<ArmId, wire::ResourceGroup> = BTreeMap::new();
                for v in items {
                    let r: wire::ResourceGroup = decode("resource group", v)?;
                    if let Some(id) = r.id.as_deref().and_then(|i| ArmId::parse(i).ok()) {
                        listed.insert(id, r);
                    }
                }
                for id in groups {
                    let Some(r) = listed.remove(&id) else {
                        snap.missing_scopes.insert(id.to_string());
                        continue;
                    };
                    let loc = r.location.unwrap_or_default();
                    group_region.insert(id.clone(), loc.clone());
                    snap.resource_groups.insert(
                        id.clone(),
                        ResourceGroup {
                            id,
                            location: loc,
                            tags: r.tags.unwrap_or_default(),
                        },
                    );
                }
            }
            other => rest.push(other),
        }
    }
    for p in rest {
        match p {
            Part::Vault(id, Err(e)) => {
                let region = vault_region.get(&id).cloned();
                scope_failure(&mut snap, id.as_str(), region, e)?;
            }
            Part::Group(id, Err(e)) => {
                let region = group_region.get(&id).cloned();
                scope_failure(&mut snap, id.as_str(), region, e)?;
            }
            Part::VaultList(_, list, Ok(items)) => vault_items(&mut snap, list, items)?,
            Part::VaultList(id, list, Err(e)) => {
                // A vault that does not exist has no children; that is not an error.
                if e.is_not_found() && snap.missing_scopes.contains(id.as_str()) {
                    continue;
                }
                let region = vault_region.get(&id).cloned();
                scope_failure(&mut snap, &id.join(list), region, e)?;
            }
            Part::GroupList(_, _, Ok(items)) => {
                for v in items {
                    if let Some(r) = live_resource(v)? {
                        snap.resources.insert(r.id.clone(), r);
                    }
                }
            }
            Part::GroupList(id, list, Err(e)) => {
                // A group-scope list answers 404 only when the group does not exist (its GET may not have been
                // sent: see `GroupReads::record`).
                if e.is_not_found() {
                    snap.missing_scopes.insert(id.to_string());
                    continue;
                }
                let region = group_region.get(&id).cloned();
                scope_failure(&mut snap, &id.join(list), region, e)?;
            }
            Part::Subscription(sub, Ok(items)) => {
                for v in items {
                    let r: wire::ResourceGroup = decode("resource group", v)?;
                    let Some(id) = r.id.as_deref().and_then(|i| ArmId::parse(i).ok()) else {
                        continue;
                    };
                    snap.resource_groups
                        .entry(id.clone())
                        .or_insert(ResourceGroup {
                            id,
                            location: r.location.unwrap_or_default(),
                            tags: r.tags.unwrap_or_default(),
                        });
                }
                let _ = sub;
            }
            Part::Subscription(sub, Err(e)) => {
                scope_failure(&mut snap, &format!("/subscriptions/{sub}"), None, e)?
            }
            Part::Groups(groups, Err(e)) => {
                if e.is_not_found() {
                    snap.missing_scopes
                        .extend(groups.iter().map(ToString::to_string));
                } else if e.is_transient() {
                    for g in &groups {
                        snap.unreadable_scopes.insert(g.to_string(), e.to_string());
                    }
                } else {
                    return Err(e);
                }
            }
            Part::Vault(..) | Part::Group(..) | Part::Groups(..) => {}
        }
    }
    attribute_unreadable_groups(&mut snap);
    Ok(snap)
}

/// The resource group part (`/subscriptions/s/resourcegroups/rg`, lower case) of an id or scope.
fn group_key(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let parts: Vec<&str> = lower.trim_start_matches('/').splitn(5, '/').collect();
    (parts.len() >= 4 && parts[0] == "subscriptions" && parts[2] == "resourcegroups")
        .then(|| format!("/subscriptions/{}/resourcegroups/{}", parts[1], parts[3]))
}

/// A resource group whose own read failed has no known region, yet in a regional outage that is exactly what
/// happens (its metadata lives in the region that is down). The vault, in the other region, still knows where
/// the protected VMs and their cache accounts live: a failed resource group holding a protected item's source VM
/// or cache account is in that item's primary region, which is then unreachable (unknown, not absent).
fn attribute_unreadable_groups(snap: &mut Snapshot) {
    let failed: BTreeSet<String> = snap
        .unreadable_scopes
        .keys()
        .filter_map(|s| group_key(s))
        .collect();
    if failed.is_empty() {
        return;
    }
    let mut regions = BTreeSet::new();
    for p in snap.protected_items.values() {
        let Some(region) = p.primary_location.as_deref().filter(|r| !r.is_empty()) else {
            continue;
        };
        let source = p.source_vm_id.as_ref().map(|v| v.as_str().to_string());
        let caches = p.disks.iter().filter_map(|d| d.staging_account_id.clone());
        if source
            .into_iter()
            .chain(caches)
            .filter_map(|id| group_key(&id))
            .any(|g| failed.contains(&g))
        {
            regions.insert(region.to_ascii_lowercase());
        }
    }
    snap.unreachable_regions.extend(regions);
}

fn decode<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, ProviderError> {
    serde_json::from_value(v).map_err(|e| ProviderError::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

fn id_of<P>(r: &Resource<P>) -> Option<ArmId> {
    r.id.as_deref().and_then(|i| ArmId::parse(i).ok())
}

fn arm(s: &Option<String>) -> Option<ArmId> {
    s.as_deref().and_then(|i| ArmId::parse(i).ok())
}

fn ts(s: &Option<String>) -> Option<time::OffsetDateTime> {
    let s = s.as_deref()?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            time::OffsetDateTime::parse(
                &format!("{s}Z"),
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        })
}

fn vault_items(snap: &mut Snapshot, list: &str, items: Vec<Value>) -> Result<(), ProviderError> {
    for v in items {
        match list {
            "replicationFabrics" => {
                let r: wire::Fabric = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                let cd = r.properties.custom_details.as_ref();
                snap.fabrics.insert(
                    id.clone(),
                    Fabric {
                        id,
                        location: cd.and_then(|c| c.known()).and_then(|c| c.location.clone()),
                        instance_type: cd.and_then(|c| c.instance_type().map(str::to_string)),
                        health: r.properties.health,
                    },
                );
            }
            "replicationProtectionContainers" => {
                let r: wire::ProtectionContainer = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                snap.containers.insert(
                    id.clone(),
                    Container {
                        id,
                        pairing_status: r.properties.pairing_status,
                        protected_item_count: r.properties.protected_item_count,
                    },
                );
            }
            "replicationPolicies" => {
                let r: wire::Policy = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                let d = r.properties.provider_specific_details.as_ref();
                let a2a = d.and_then(|d| d.known());
                snap.policies.insert(
                    id.clone(),
                    Policy {
                        id,
                        instance_type: d.and_then(|d| d.instance_type().map(str::to_string)),
                        recovery_point_history_minutes: a2a.and_then(|a| a.recovery_point_history),
                        app_consistent_frequency_minutes: a2a
                            .and_then(|a| a.app_consistent_frequency_in_minutes),
                        crash_consistent_frequency_minutes: a2a
                            .and_then(|a| a.crash_consistent_frequency_in_minutes),
                        multi_vm_sync_status: a2a.and_then(|a| a.multi_vm_sync_status.clone()),
                    },
                );
            }
            "replicationProtectionContainerMappings" => {
                let r: wire::ProtectionContainerMapping = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                let p = r.properties;
                let a2a = p.provider_specific_details.as_ref().and_then(|d| d.known());
                snap.container_mappings.insert(
                    id.clone(),
                    ContainerMapping {
                        id,
                        target_container_id: arm(&p.target_protection_container_id),
                        policy_id: arm(&p.policy_id),
                        state: p.state,
                        agent_auto_update: a2a.and_then(|a| a.agent_auto_update_status.clone()),
                        automation_account_id: a2a
                            .and_then(|a| a.automation_account_arm_id.clone()),
                    },
                );
            }
            "replicationNetworkMappings" => {
                let r: wire::NetworkMapping = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                let p = r.properties;
                snap.network_mappings.insert(
                    id.clone(),
                    NetworkMapping {
                        id,
                        primary_network_id: arm(&p.primary_network_id),
                        recovery_network_id: arm(&p.recovery_network_id),
                        recovery_fabric_id: arm(&p.recovery_fabric_arm_id),
                        state: p.state,
                    },
                );
            }
            "replicationProtectedItems" => {
                let r: wire::ReplicationProtectedItem = decode(list, v)?;
                if let Some(item) = protected_item(r) {
                    snap.protected_items.insert(item.id.clone(), item);
                }
            }
            "replicationRecoveryPlans" => {
                let r: wire::RecoveryPlan = decode(list, v)?;
                let Some(id) = id_of(&r) else { continue };
                let p = r.properties;
                snap.recovery_plans.insert(
                    id.clone(),
                    RecoveryPlan {
                        id,
                        primary_fabric_id: p.primary_fabric_id,
                        recovery_fabric_id: p.recovery_fabric_id,
                        groups: p
                            .groups
                            .iter()
                            .map(|g| {
                                (
                                    g.group_type.clone(),
                                    g.replication_protected_items
                                        .iter()
                                        .filter_map(|i| arm(&i.id))
                                        .collect(),
                                )
                            })
                            .collect(),
                        allowed_operations: p.allowed_operations.into_iter().collect(),
                        current_scenario: p.current_scenario.and_then(|c| c.scenario_name),
                        last_test_failover: ts(&p.last_test_failover_time),
                        last_unplanned_failover: ts(&p.last_unplanned_failover_time),
                    },
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// Converts a wire RPI into the planner's view.
pub fn protected_item(r: wire::ReplicationProtectedItem) -> Option<ProtectedItem> {
    let id = id_of(&r)?;
    let p = r.properties;
    let details = p.provider_specific_details.as_ref();
    let a2a = details.and_then(|d| d.known()).cloned().unwrap_or_default();
    let primary_ip = a2a
        .vm_nics
        .iter()
        .flat_map(|n| n.ip_configs.iter())
        .find(|c| c.is_primary == Some(true));
    Some(ProtectedItem {
        id,
        lifecycle_id: a2a.lifecycle_id.clone(),
        instance_type: details.and_then(|d| d.instance_type().map(str::to_string)),
        source_vm_id: arm(&a2a.fabric_object_id),
        friendly_name: p.friendly_name,
        policy_id: arm(&p.policy_id),
        recovery_container_id: arm(&p.recovery_container_id),
        recovery_fabric_id: p.recovery_fabric_id,
        protection_state: p.protection_state,
        vm_protection_state: a2a.vm_protection_state.clone(),
        active_location: p.active_location,
        replication_health: p.replication_health,
        failover_health: p.failover_health,
        health_errors: p
            .health_errors
            .iter()
            .map(|h| HealthError {
                code: h.error_code.clone().unwrap_or_default(),
                level: h.error_level.clone(),
                message: h
                    .error_message
                    .clone()
                    .or_else(|| h.summary_message.clone())
                    .unwrap_or_default(),
                recommended_action: h.recommended_action.clone(),
            })
            .collect(),
        rpo_seconds: a2a.rpo_in_seconds,
        last_rpo_calculated: ts(&a2a.last_rpo_calculated_time),
        allowed_operations: p.allowed_operations.into_iter().collect::<BTreeSet<_>>(),
        current_scenario: p.current_scenario.map(|c| CurrentScenario {
            name: c.scenario_name.unwrap_or_else(|| "None".into()),
            job_id: c
                .job_id
                .filter(|j| !j.to_ascii_lowercase().ends_with("/replicationjobs/none")),
            start_time: ts(&c.start_time),
        }),
        test_failover_state: p.test_failover_state,
        last_successful_failover: ts(&p.last_successful_failover_time),
        last_successful_test_failover: ts(&p.last_successful_test_failover_time),
        monitoring_percentage: a2a.monitoring_percentage_completion,
        target_resource_group_id: a2a.recovery_azure_resource_group_id.clone(),
        target_network_id: a2a.selected_recovery_azure_network_id.clone(),
        tfo_network_id: a2a.selected_tfo_azure_network_id.clone(),
        target_subnet: primary_ip.and_then(|c| c.recovery_subnet_name.clone()),
        target_vm_size: a2a.recovery_azure_vm_size.clone(),
        target_vm_name: a2a.recovery_azure_vm_name.clone(),
        target_availability_set_id: a2a.recovery_availability_set.clone(),
        target_zone: a2a.recovery_availability_zone.clone(),
        target_ppg_id: a2a.recovery_proximity_placement_group_id.clone(),
        nics: a2a
            .vm_nics
            .iter()
            .map(|n| NicTarget {
                asr_nic_id: n.nic_id.clone().unwrap_or_default(),
                source_nic_id: arm(&n.source_nic_arm_id),
                recovery_network_id: n.recovery_vm_network_id.clone(),
                ip_configs: n
                    .ip_configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone().unwrap_or_default(),
                            IpConfigTarget {
                                is_primary: c.is_primary.unwrap_or(false),
                                recovery_subnet: c.recovery_subnet_name.clone(),
                                recovery_static_ip: c.recovery_static_ip_address.clone(),
                                tfo_subnet: c.tfo_subnet_name.clone(),
                                tfo_static_ip: c.tfo_static_ip_address.clone(),
                            },
                        )
                    })
                    .collect(),
            })
            .collect(),
        disks: a2a
            .protected_managed_disks
            .iter()
            .filter_map(|d| {
                Some(DiskTarget {
                    disk_id: arm(&d.disk_id)?,
                    replica_disk_type: d.recovery_replica_disk_account_type.clone(),
                    target_disk_type: d.recovery_target_disk_account_type.clone(),
                    staging_account_id: d.primary_staging_azure_storage_account_id.clone(),
                    disk_encryption_set_id: d.recovery_disk_encryption_set_id.clone(),
                    state: d.disk_state.clone(),
                })
            })
            .collect(),
        multi_vm_group: a2a.multi_vm_group_name.clone(),
        recovery_vm_id: a2a.recovery_fabric_object_id.clone(),
        primary_location: a2a.primary_fabric_location.clone(),
        recovery_location: a2a.recovery_fabric_location.clone(),
        etag: r.etag,
    })
}

fn live_resource(v: Value) -> Result<Option<LiveResource>, ProviderError> {
    let r: Resource<Value> = decode("resource", v)?;
    let Some(id) = id_of(&r) else { return Ok(None) };
    let props = &r.properties;
    let strs = |p: &str| -> Vec<String> {
        props
            .pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let subnets = props
        .pointer("/subnets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let name = s.get("name")?.as_str()?.to_string();
                    let mut prefixes: Vec<String> = s
                        .pointer("/properties/addressPrefixes")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    if let Some(p) = s
                        .pointer("/properties/addressPrefix")
                        .and_then(Value::as_str)
                    {
                        prefixes.insert(0, p.to_string());
                    }
                    Some((name, prefixes))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(LiveResource {
        id,
        kind: r.kind.clone().unwrap_or_default(),
        location: r.location.clone().unwrap_or_default(),
        zones: r.zones.clone().unwrap_or_default(),
        sku: r.sku.as_ref().map(|s| s.name.clone()),
        vm_size: props
            .pointer("/hardwareProfile/vmSize")
            .and_then(Value::as_str)
            .map(str::to_string),
        address_prefixes: strs("/addressSpace/addressPrefixes"),
        subnets,
        tags: r.tags.clone().unwrap_or_default(),
        etag: r.etag.clone(),
    }))
}

#[async_trait::async_trait]
impl crate::provider::Provider for ArmClient {
    async fn snapshot(&self, request: &SnapshotRequest) -> Result<Snapshot, ProviderError> {
        read(self, request).await
    }
    fn concurrency(&self) -> usize {
        self.max_concurrency()
    }
}
