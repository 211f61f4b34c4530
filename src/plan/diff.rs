//! The differ: configuration + graph + live snapshot + state in, one [`Plan`] out.
//!
//! Decides per resource create / update / replace (re-seed) / delete / no-op with the kind rules of `attrs`,
//! converges recovery plans to their `active_site` with the full DR sequence, reports drift against the last
//! applied attributes, enforces `prevent_destroy` / `prevent_reseed`, and is role aware: a workload that is failed
//! over in live state is never moved, destroyed or re-created unless `active_site` asks for it. Pure: no I/O, no
//! clock ("now" comes in [`PlanOptions`]).

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::attrs::{self, same_value};
use super::*;
use crate::addr::{ResourceAddr, ResourceKind};
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::model::{ActiveSite, Config, Resource, ResourceBody};
use crate::graph::ResourceGraph;
use crate::provider::ArmId;
use crate::provider::model::{ProtectedItem, Snapshot, SnapshotRequest};
use crate::state::{Site, State};

/// Options of a plan.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Normal, refresh-only or destroy.
    pub mode: PlanMode,
    /// `--target` addresses (with their dependencies); empty = everything.
    pub targets: Vec<ResourceAddr>,
    /// The live clock's time, for recovery point ages.
    pub now: Option<OffsetDateTime>,
    /// A DR command to plan (`asrform failover …`) instead of converging the configuration.
    pub operation: Option<super::operation::OperationRequest>,
    /// Readiness gate thresholds and inputs (`--max-rpo`, drill reports), evaluated after the diff by the live
    /// planner (`dr::readiness`); the differ itself does not read them.
    pub readiness: ReadinessOptions,
}

/// Inputs of the readiness gates that do not come from the configuration.
#[derive(Clone, Debug, Default)]
pub struct ReadinessOptions {
    /// `--max-rpo`: overrides every recovery plan's `max_rpo`.
    pub max_rpo: Option<std::time::Duration>,
    /// Where drill reports are (`DIR/.asrform/drills`), for the drill-age gate.
    pub drill_reports: Option<std::path::PathBuf>,
}

/// What to read from live state for this configuration: its vaults and the resource groups of its resources and
/// source VMs.
pub fn snapshot_request(config: &Config) -> SnapshotRequest {
    use crate::provider::model::{
        AVAILABILITY_SETS, GroupReads, STORAGE_ACCOUNTS, VIRTUAL_MACHINES, VIRTUAL_NETWORKS,
    };
    let mut vaults = BTreeSet::new();
    // Per resource group, only what the configuration has objects of: a group's own GET when it is a declared
    // `resource_group`, and one list per kind of resource in it (a plan never needs the others).
    let mut groups: BTreeMap<ArmId, GroupReads> = BTreeMap::new();
    let rg_of = |id: &str| -> Option<ArmId> {
        let a = ArmId::parse(id).ok()?;
        let sub = a.subscription()?.to_string();
        let rg = a.resource_group()?.to_string();
        ArmId::parse(&format!("/subscriptions/{sub}/resourceGroups/{rg}")).ok()
    };
    let mut list = |id: &str, list: &'static str| {
        if let Some(g) = rg_of(id) {
            groups.entry(g).or_default().lists.insert(list);
        }
    };
    let mut records = Vec::new();
    for r in config.resources.values() {
        let Some(id) = &r.id else { continue };
        match &r.body {
            ResourceBody::Vault(_) => {
                if let Ok(a) = ArmId::parse(id) {
                    vaults.insert(a);
                }
            }
            ResourceBody::ResourceGroup(_) => {
                if let Ok(a) = ArmId::parse(id) {
                    records.push(a);
                }
            }
            ResourceBody::VirtualNetwork(_) => list(id, VIRTUAL_NETWORKS),
            ResourceBody::StorageAccount(_) => list(id, STORAGE_ACCOUNTS),
            ResourceBody::AvailabilitySet(_) => list(id, AVAILABILITY_SETS),
            ResourceBody::ProtectedVm(vm) => list(vm.source_vm.value.as_str(), VIRTUAL_MACHINES),
            _ => {}
        }
    }
    for a in records {
        groups.entry(a).or_default().record = true;
    }
    SnapshotRequest {
        vaults: vaults.into_iter().collect(),
        resource_groups: groups.keys().cloned().collect(),
        subscriptions: Vec::new(),
        group_reads: groups,
    }
}

/// Whether any of a resource's ids lies in a scope the snapshot could not read.
fn in_unreadable_scope(snap: &Snapshot, ids: &BTreeMap<String, String>) -> bool {
    ids.values().any(|id| {
        let id = id.to_ascii_lowercase();
        snap.unreadable_scopes.keys().any(|scope| {
            let scope = scope.to_ascii_lowercase();
            id == scope || id.starts_with(&format!("{scope}/"))
        })
    })
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The live site of a protected item relative to the configured source region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LiveSite {
    /// Replicating source → target, running in the source region.
    Primary,
    /// Failed over, commit pending.
    FailedOver,
    /// Failed over and committed, not yet reprotected.
    Committed,
    /// Running in the target region and replicating back (reprotected).
    Recovery,
    /// Failed back (running in the source region again), commit pending or not reprotected.
    FailedBack,
}

fn live_site(item: &ProtectedItem, source_region: &str) -> LiveSite {
    let reversed = item
        .primary_location
        .as_deref()
        .is_some_and(|p| !p.eq_ignore_ascii_case(source_region));
    let active_recovery = item
        .active_location
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"));
    let state = item.protection_state.as_deref().unwrap_or("");
    let pending = state.contains("CommitPending");
    let committed = state.contains("Committed");
    match (reversed, active_recovery) {
        (false, false) => LiveSite::Primary,
        (false, true) if pending => LiveSite::FailedOver,
        (false, true) if committed => LiveSite::Committed,
        (false, true) => LiveSite::FailedOver,
        // Reprotected: the item's primary is the old target; "Primary" active means the workload runs there.
        (true, false) => LiveSite::Recovery,
        (true, true) => LiveSite::FailedBack,
    }
}

fn is_active_recovery(s: LiveSite) -> bool {
    !matches!(s, LiveSite::Primary)
}

/// Whether the item's workload runs in the configured pair's target region in live state (failed over, committed,
/// or reprotected and running there), relative to the pair's `source_region`.
pub fn runs_in_recovery(item: &ProtectedItem, source_region: &str) -> bool {
    matches!(
        live_site(item, source_region),
        LiveSite::FailedOver | LiveSite::Committed | LiveSite::Recovery
    )
}

struct Ctx<'a> {
    state: Option<&'a State>,
    by_lifecycle: HashMap<String, &'a ProtectedItem>,
    by_vm: HashMap<String, &'a ProtectedItem>,
}

impl<'a> Ctx<'a> {
    fn item_for(&self, addr: &ResourceAddr, vm: &str) -> Option<&'a ProtectedItem> {
        let from_state = self
            .state
            .and_then(|s| s.resources.get(&addr.to_string()))
            .and_then(|r| r.lifecycle_id.as_ref())
            .and_then(|l| self.by_lifecycle.get(&l.to_ascii_lowercase()).copied());
        from_state.or_else(|| self.by_vm.get(&vm.to_ascii_lowercase()).copied())
    }
}

fn vm_fact(i: &ProtectedItem) -> String {
    format!(
        "{}|{}|{}",
        i.etag.as_deref().unwrap_or("-"),
        i.protection_state.as_deref().unwrap_or("-"),
        i.replication_health.as_deref().unwrap_or("-")
    )
}

fn changed_keys(desired: &Value, observed: &Value, ignore: &[String]) -> Vec<String> {
    let (Some(d), Some(o)) = (desired.as_object(), observed.as_object()) else {
        return Vec::new();
    };
    d.iter()
        .filter(|(k, v)| !v.is_null() && !ignore.iter().any(|i| i == *k))
        .filter(|(k, v)| !o.get(*k).is_some_and(|w| same_value(v, w)))
        .map(|(k, _)| k.clone())
        .collect()
}

fn unknown_mask(keys: &[String]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| (k.clone(), Value::Bool(true)))
            .collect(),
    )
}

/// Computes the plan. Fails with diagnostics (pointing at the blocks) when a `prevent_destroy` or
/// `prevent_reseed` guard forbids a change.
pub fn diff(
    config: &Config,
    graph: &ResourceGraph,
    snap: &Snapshot,
    state: Option<&State>,
    opts: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    let mut by_lifecycle = HashMap::new();
    let mut by_vm = HashMap::new();
    for i in snap.protected_items.values() {
        if let Some(l) = &i.lifecycle_id {
            by_lifecycle.insert(l.to_ascii_lowercase(), i);
        }
        if let Some(v) = &i.source_vm_id {
            by_vm.insert(v.as_str().to_ascii_lowercase(), i);
        }
    }
    let cx = Ctx {
        state,
        by_lifecycle,
        by_vm,
    };

    // Which addresses are in scope (`--target` plus dependencies).
    let scope: Option<BTreeSet<ResourceAddr>> = if opts.targets.is_empty() {
        None
    } else {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<ResourceAddr> = opts.targets.clone();
        while let Some(a) = stack.pop() {
            if seen.insert(a.clone()) {
                for (d, _) in graph.dependencies(&a) {
                    stack.push(d.clone());
                }
            }
        }
        Some(seen)
    };
    let in_scope = |a: &ResourceAddr| scope.as_ref().is_none_or(|s| s.contains(a));

    // Identity first: each protected VM's live item, so recovery plan membership maps back to addresses.
    let mut items: BTreeMap<ResourceAddr, &ProtectedItem> = BTreeMap::new();
    let mut item_addr_map: HashMap<String, String> = HashMap::new();
    for (r, vm) in config.protected_vms() {
        if let Some(i) = cx.item_for(&r.addr, vm.source_vm.value.as_str()) {
            items.insert(r.addr.clone(), i);
            item_addr_map.insert(i.id.as_str().to_ascii_lowercase(), r.addr.to_string());
        }
    }
    let item_addr = |id: &ArmId| {
        item_addr_map
            .get(&id.as_str().to_ascii_lowercase())
            .cloned()
    };

    // Recovery plan membership and live site per plan.
    let mut plan_of_vm: BTreeMap<ResourceAddr, ResourceAddr> = BTreeMap::new();
    let mut plan_site: BTreeMap<ResourceAddr, Option<LiveSite>> = BTreeMap::new();
    for (r, p) in config.recovery_plans() {
        let (src, _) = attrs::pair_regions(config, &p.region_pair.value).unwrap_or_default();
        let mut sites = BTreeSet::new();
        for g in &p.groups {
            for a in &g.vms {
                plan_of_vm.insert(a.value.clone(), r.addr.clone());
                if let Some(i) = items.get(&a.value) {
                    sites.insert(live_site(i, &src) as u8);
                }
            }
        }
        let site = if sites.len() == 1 {
            let s = *sites.iter().next().expect("one element");
            Some(match s {
                0 => LiveSite::Primary,
                1 => LiveSite::FailedOver,
                2 => LiveSite::Committed,
                3 => LiveSite::Recovery,
                _ => LiveSite::FailedBack,
            })
        } else {
            None
        };
        plan_site.insert(r.addr.clone(), site);
    }

    let mut problems = Diagnostics::default();
    let mut changes: Vec<ResourceChange> = Vec::new();
    let mut drift: Vec<ResourceDrift> = Vec::new();
    let mut facts: BTreeMap<String, String> = BTreeMap::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut readiness = Readiness::default();
    let refresh_only = opts.mode == PlanMode::RefreshOnly;
    let destroy = opts.mode == PlanMode::Destroy;

    for region in &snap.unreachable_regions {
        warnings.push(format!(
            "region {region} could not be read (outage?): objects there are unknown, not absent"
        ));
    }

    // Import blocks by target (the first one wins, as in `Config::import_for`), looked up once per resource: a scan
    // per resource is quadratic in an import of a whole fleet.
    let imports: HashMap<&ResourceAddr, &crate::config::model::Import> =
        config.imports.iter().rev().map(|i| (&i.to, i)).collect();

    // --- configuration resources, in dependency order -------------------------------------------------------
    for addr in graph.topo_order() {
        let Some(r) = config.get(addr) else { continue };
        if !in_scope(addr) {
            continue;
        }
        let key = addr.to_string();
        let st = state.and_then(|s| s.resources.get(&key));
        let ids = attrs::arm_ids(config, r);
        let item = items.get(addr).copied();
        let recovery_plan = plan_of_vm
            .get(addr)
            .map(ToString::to_string)
            .or_else(|| (addr.kind == ResourceKind::RecoveryPlan).then(|| key.clone()));

        let (mut desired, unknown) = attrs::desired(config, r, item, &item_addr);
        let mut observed = match &r.body {
            ResourceBody::ProtectedVm(_) => item.map(attrs::observed_vm),
            _ => attrs::observed(snap, r, &ids, &item_addr),
        };
        // Attributes the snapshot cannot show compare against what was last applied (or are assumed as desired).
        if let Some(Value::Object(o)) = observed.as_mut() {
            for k in attrs::unobservable(addr.kind) {
                let last = st
                    .and_then(|s| s.attributes.get(*k))
                    .cloned()
                    .or_else(|| desired.get(*k).cloned())
                    .unwrap_or(Value::Null);
                o.insert((*k).to_string(), last);
            }
        }
        facts.insert(
            key.clone(),
            match (item, &observed) {
                (Some(i), _) => vm_fact(i),
                (None, Some(_)) => "present".into(),
                (None, None) => "absent".into(),
            },
        );

        // Role awareness: failed-over workloads are left alone by ordinary changes.
        let failed_over = match &r.body {
            ResourceBody::ProtectedVm(vm) => {
                let (src, _) =
                    attrs::pair_regions(config, &vm.region_pair.value).unwrap_or_default();
                item.is_some_and(|i| is_active_recovery(live_site(i, &src)))
                    || st.is_some_and(|s| s.active_site == Some(Site::Recovery))
            }
            ResourceBody::RecoveryPlan(_) => plan_site
                .get(addr)
                .copied()
                .flatten()
                .is_some_and(is_active_recovery),
            _ => false,
        };

        if let ResourceBody::ProtectedVm(vm) = &r.body {
            let (src, _) = attrs::pair_regions(config, &vm.region_pair.value).unwrap_or_default();
            readiness.vms.push(vm_readiness(&key, item, &src));
        }
        // Not read because its scope could not be read (a region outage): unknown, not deleted.
        let unreachable = observed.is_none() && item.is_none() && in_unreadable_scope(snap, &ids);

        // Drift: live differs from what asrform last applied.
        if let (Some(s), Some(obs)) = (st, &observed) {
            if let (Some(last), Some(o)) = (s.attributes.as_object(), obs.as_object()) {
                let drifted: Vec<String> = last
                    .iter()
                    .filter(|(k, _)| !attrs::unobservable(addr.kind).contains(&k.as_str()))
                    .filter(|(k, v)| !v.is_null() && o.get(*k).is_some_and(|w| !same_value(v, w)))
                    .filter(|(k, _)| !r.lifecycle.ignore_changes.iter().any(|i| i == *k))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !drifted.is_empty() && !failed_over {
                    drift.push(ResourceDrift {
                        address: key.clone(),
                        kind: addr.kind.as_str().into(),
                        changed_attributes: drifted,
                        before: s.attributes.clone(),
                        after: obs.clone(),
                    });
                }
            }
        } else if st.is_some() && observed.is_none() && !failed_over && !unreachable {
            drift.push(ResourceDrift {
                address: key.clone(),
                kind: addr.kind.as_str().into(),
                changed_attributes: vec!["(deleted outside asrform)".into()],
                before: st.map(|s| s.attributes.clone()).unwrap_or(Value::Null),
                after: Value::Null,
            });
        }

        let mut change = ResourceChange {
            key: key.clone(),
            address: key.clone(),
            kind: addr.kind.as_str().into(),
            action: Action::NoOp,
            change: Change::default(),
            action_reason: None,
            changed_attributes: Vec::new(),
            recovery_plan,
            reseed_required: false,
            preconditions: Vec::new(),
            depends_on: Vec::new(),
            // Moved, not copied: `rpi`/`lifecycle_id` are added below, `id` stays what `ids` had.
            arm_ids: ids,
            dr: None,
        };
        if let Some(i) = item {
            change.arm_ids.insert("rpi".into(), i.id.to_string());
            if let Some(l) = &i.lifecycle_id {
                change.arm_ids.insert("lifecycle_id".into(), l.clone());
            }
        }

        if destroy {
            // Handled with the state entries below.
        } else if refresh_only {
            change.change.before = observed.clone().unwrap_or(Value::Null);
            change.change.after = change.change.before.clone();
        } else if unreachable {
            // Nothing is proposed for what cannot be seen; the region warning says why.
            change.action_reason = Some("unreachable".into());
            change.change.before = st.map(|s| s.attributes.clone()).unwrap_or(Value::Null);
            change.change.after = change.change.before.clone();
        } else if failed_over {
            change.action_reason = Some("failed_over_managed_by_active_site".into());
            change.change.before = observed.clone().unwrap_or(Value::Null);
            change.change.after = change.change.before.clone();
        } else {
            match &observed {
                None => {
                    change.action = Action::Create;
                    change.change.after = std::mem::take(&mut desired);
                    change.change.before = Value::Null;
                    change.change.after_unknown = unknown_mask(&unknown);
                    change.preconditions.push(Precondition {
                        check: "absent".into(),
                        object: change
                            .arm_ids
                            .get("id")
                            .cloned()
                            .unwrap_or_else(|| key.clone()),
                        expected: "does not exist or is adopted".into(),
                    });
                }
                Some(obs) => {
                    let ch = changed_keys(&desired, obs, &r.lifecycle.ignore_changes);
                    change.change.before = obs.clone();
                    change.change.after = std::mem::take(&mut desired);
                    if let Some(failure) = item.and_then(|i| i.enable_failure()) {
                        // Its enable job failed: it will never replicate, and an update cannot fix that. Enable
                        // again (disable, then enable); nothing was replicated, so this is no re-seed and
                        // `prevent_reseed` does not stop it.
                        change.action = Action::Replace;
                        change.action_reason = Some(format!(
                            "enable_failed: [{}] {}",
                            failure.code, failure.message
                        ));
                        change.changed_attributes = ch;
                    } else if !ch.is_empty() {
                        let (action, forced) = classify(addr.kind, &ch);
                        if action == Action::Update {
                            change.action = Action::Update;
                            change.action_reason = Some("update_in_place".into());
                        } else {
                            change.action = Action::Replace;
                            change.action_reason = Some("replace_because_cannot_update".into());
                            change.reseed_required = addr.kind == ResourceKind::ProtectedVm;
                            change.change.replace_paths = forced.clone();
                            guard_replace(r, &forced, &mut problems);
                        }
                        change.changed_attributes = ch;
                        if let Some(i) = item {
                            change.preconditions.push(Precondition {
                                check: "idle".into(),
                                object: i.id.to_string(),
                                expected: "no running ASR scenario".into(),
                            });
                            if let Some(e) = &i.etag {
                                change.preconditions.push(Precondition {
                                    check: "etag".into(),
                                    object: i.id.to_string(),
                                    expected: e.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        if let Some(imp) = imports.get(addr).copied()
            && st.is_none()
            && !destroy
        {
            check_import(imp, &observed, &change.arm_ids, item, &mut problems);
            change.change.importing = Some(Importing {
                id: imp.id.value.clone(),
            });
        }
        change.change.actions = change.action.actions();
        if change.change.after_unknown.is_null() {
            change.change.after_unknown = json!({});
        }
        changes.push(change);
    }

    // --- state entries gone from the configuration (or everything, for destroy) ------------------------------
    if let Some(s) = state {
        let mut gone: Vec<(ResourceAddr, &crate::state::ResourceState)> = s
            .resources
            .iter()
            .filter_map(|(a, r)| a.parse::<ResourceAddr>().ok().map(|a| (a, r)))
            .filter(|(a, _)| destroy || config.get(a).is_none())
            .filter(|(a, _)| in_scope(a) || config.get(a).is_none() && scope.is_none())
            .collect();
        // Reverse dependency order: later kinds first.
        gone.sort_by(|a, b| b.0.kind.cmp(&a.0.kind).then(a.0.cmp(&b.0)));
        for (a, rs) in gone {
            let key = a.to_string();
            let lc = rs
                .lifecycle_id
                .as_ref()
                .and_then(|l| cx.by_lifecycle.get(&l.to_ascii_lowercase()));
            let live_recovery = rs.active_site == Some(Site::Recovery)
                || lc.is_some_and(|i| {
                    i.active_location
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case("Recovery"))
                });
            if live_recovery {
                warnings.push(format!(
                    "{key} is failed over: asrform will not delete it while it runs in the recovery region; fail back first"
                ));
                continue;
            }
            if let Some(r) = config.get(&a) {
                if r.lifecycle.prevent_destroy {
                    problems.push(
                        Diagnostic::error(
                            "plan::prevent_destroy",
                            format!(
                                "{key} has lifecycle.prevent_destroy set, but this plan destroys it"
                            ),
                        )
                        .label(r.span, "prevent_destroy is set here")
                        .help("remove prevent_destroy, or do not destroy this resource"),
                    );
                }
                // Destroy keeps the target list of the current configuration for the apply order.
                if let Some(i) = items.get(&a) {
                    facts.insert(key.clone(), vm_fact(i));
                }
            }
            let mut arm_ids: BTreeMap<String, String> = rs.arm_ids.clone();
            if let Some(i) = lc {
                arm_ids.insert("rpi".into(), i.id.to_string());
            }
            changes.retain(|c| c.key != key);
            changes.push(ResourceChange {
                key: key.clone(),
                address: key.clone(),
                kind: a.kind.as_str().into(),
                action: Action::Delete,
                change: Change {
                    actions: Action::Delete.actions(),
                    before: rs.attributes.clone(),
                    after: Value::Null,
                    after_unknown: json!({}),
                    replace_paths: Vec::new(),
                    importing: None,
                },
                action_reason: Some(if destroy {
                    "delete_because_destroy".into()
                } else {
                    "delete_because_no_resource_config".into()
                }),
                changed_attributes: Vec::new(),
                recovery_plan: None,
                reseed_required: false,
                preconditions: Vec::new(),
                depends_on: Vec::new(),
                arm_ids,
                dr: None,
            });
        }
        if destroy {
            changes.retain(|c| c.action == Action::Delete);
        }
    }

    // --- an explicit DR command replaces the configuration changes ----------------------------------------------
    if let Some(req) = &opts.operation {
        // The configuration's changes are not part of an operation plan, so neither are their problems (a
        // re-seed refused by prevent_reseed must not block a failover on the worst day).
        problems = Diagnostics::default();
        changes = operation_changes(
            config,
            snap,
            req,
            &items,
            &plan_of_vm,
            opts.now,
            &mut facts,
            &mut warnings,
            &mut problems,
        );
    }

    // --- DR operations from active_site ------------------------------------------------------------------------
    if !destroy && !refresh_only && opts.operation.is_none() {
        for (r, p) in config.recovery_plans() {
            if !in_scope(&r.addr) {
                continue;
            }
            let Some(want) = &p.active_site else { continue };
            let Some(live) = plan_site.get(&r.addr).copied().flatten() else {
                if p.groups
                    .iter()
                    .flat_map(|g| &g.vms)
                    .any(|a| items.contains_key(&a.value))
                {
                    warnings.push(format!(
                        "{}: its VMs are not all in the same DR state; no DR operation is planned until they are",
                        r.addr
                    ));
                }
                continue;
            };
            let steps: Vec<(Action, Direction)> = match (want.value, live) {
                (ActiveSite::Primary, LiveSite::Primary)
                | (ActiveSite::Recovery, LiveSite::Recovery) => vec![],
                (ActiveSite::Recovery, LiveSite::Primary) => vec![
                    (Action::Failover, Direction::PrimaryToRecovery),
                    (Action::Commit, Direction::PrimaryToRecovery),
                    (Action::Reprotect, Direction::RecoveryToPrimary),
                ],
                (ActiveSite::Recovery, LiveSite::FailedOver) => vec![
                    (Action::Commit, Direction::PrimaryToRecovery),
                    (Action::Reprotect, Direction::RecoveryToPrimary),
                ],
                (ActiveSite::Recovery, LiveSite::Committed) => {
                    vec![(Action::Reprotect, Direction::RecoveryToPrimary)]
                }
                (ActiveSite::Primary, LiveSite::Recovery) => vec![
                    (Action::Failback, Direction::RecoveryToPrimary),
                    (Action::Commit, Direction::RecoveryToPrimary),
                    (Action::Reprotect, Direction::PrimaryToRecovery),
                ],
                (ActiveSite::Primary, LiveSite::FailedBack) => vec![
                    (Action::Commit, Direction::RecoveryToPrimary),
                    (Action::Reprotect, Direction::PrimaryToRecovery),
                ],
                (ActiveSite::Primary, LiveSite::FailedOver | LiveSite::Committed)
                | (ActiveSite::Recovery, LiveSite::FailedBack) => {
                    warnings.push(format!(
                        "{}: the workload is mid-failover; finish (commit and reprotect) before changing active_site",
                        r.addr
                    ));
                    vec![]
                }
            };
            if steps.is_empty() {
                continue;
            }
            if r.lifecycle.prevent_destroy
                || p.groups.iter().flat_map(|g| &g.vms).any(|a| {
                    config
                        .get(&a.value)
                        .is_some_and(|v| v.lifecycle.prevent_destroy)
                })
            {
                // A failover is not a destroy; nothing to guard here beyond confirmation in the CLI.
            }
            let vms: Vec<DrVm> = p
                .groups
                .iter()
                .flat_map(|g| &g.vms)
                .map(|a| {
                    let i = items.get(&a.value);
                    let src = match config.get(&a.value).map(|x| &x.body) {
                        Some(ResourceBody::ProtectedVm(v)) => {
                            v.source_vm.value.as_str().to_string()
                        }
                        _ => String::new(),
                    };
                    DrVm {
                        address: a.value.to_string(),
                        rpi_id: i.map(|i| i.id.to_string()),
                        lifecycle_id: i.and_then(|i| i.lifecycle_id.clone()),
                        source_vm: src,
                        points: None,
                    }
                })
                .collect();
            let member_items: Vec<&ProtectedItem> = p
                .groups
                .iter()
                .flat_map(|g| &g.vms)
                .filter_map(|a| items.get(&a.value).copied())
                .collect();
            for i in &member_items {
                if let Some(a) = item_addr(&i.id) {
                    facts.insert(a, vm_fact(i));
                }
            }
            let mut prev: Option<String> = None;
            for (op, dir) in steps {
                let key = format!("{}#{}", r.addr, op.as_str());
                let allowed = match op {
                    Action::Failover | Action::Failback => "UnplannedFailover",
                    Action::Commit => "Commit",
                    Action::Reprotect => "SwitchProtection",
                    _ => "",
                };
                let is_failover = matches!(op, Action::Failover | Action::Failback);
                let (rp, loss, loss_text) = if is_failover {
                    let (time, age) = latest_point(&member_items, opts.now);
                    (
                        Some(RecoveryPointChoice {
                            choice: "latest_after_source_shutdown".into(),
                            time,
                            age_seconds: age,
                        }),
                        Some(0),
                        Some("none: the source VMs are shut down and synchronised first".into()),
                    )
                } else {
                    (None, None, None)
                };
                let mut preconditions: Vec<Precondition> = member_items
                    .iter()
                    .map(|i| Precondition {
                        check: "allowed_operation".into(),
                        object: i.id.to_string(),
                        expected: allowed.into(),
                    })
                    .collect();
                preconditions.extend(member_items.iter().map(|i| Precondition {
                    check: "idle".into(),
                    object: i.id.to_string(),
                    expected: "no running ASR scenario".into(),
                }));
                // Only the first step can be checked at plan time; later ones become allowed by the earlier ones.
                if prev.is_some() {
                    preconditions.clear();
                }
                let mut depends_on: Vec<String> = prev.iter().cloned().collect();
                if prev.is_none() {
                    depends_on.push(r.addr.to_string());
                }
                changes.push(ResourceChange {
                    key: key.clone(),
                    address: r.addr.to_string(),
                    kind: ResourceKind::RecoveryPlan.as_str().into(),
                    action: op,
                    change: Change {
                        actions: op.actions(),
                        before: json!({"active_site": site_name(live)}),
                        after: json!({"active_site": match want.value { ActiveSite::Primary => "primary", ActiveSite::Recovery => "recovery" }}),
                        after_unknown: json!({}),
                        replace_paths: Vec::new(),
                        importing: None,
                    },
                    action_reason: Some("active_site_differs".into()),
                    changed_attributes: vec!["active_site".into()],
                    recovery_plan: Some(r.addr.to_string()),
                    reseed_required: false,
                    preconditions,
                    depends_on,
                    arm_ids: attrs::arm_ids(config, r),
                    dr: Some(DrStep {
                        operation: op,
                        direction: dir,
                        recovery_point: rp,
                        expected_data_loss_seconds: loss,
                        expected_data_loss: loss_text,
                        shut_down_source: is_failover,
                        network: None,
                        recovery_plan_id: r.id.clone(),
                        vms: vms.clone(),
                    }),
                });
                prev = Some(key);
            }
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }

    wire_dependencies(config, graph, &mut changes);

    let mut summary = Summary::default();
    for c in &changes {
        if c.change.importing.is_some() {
            summary.import += 1;
        }
        match c.action {
            Action::NoOp => summary.no_op += 1,
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => summary.reseed += 1,
            Action::Delete => summary.destroy += 1,
            _ => summary.dr += 1,
        }
    }
    summary.drift = drift.len();
    finish_readiness(&mut readiness);
    let applyable = if refresh_only {
        !drift.is_empty()
    } else {
        changes
            .iter()
            .any(|c| c.action != Action::NoOp || c.change.importing.is_some())
    };
    let fingerprint = {
        let mut h = Sha256::new();
        for (k, v) in &facts {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        hex(&h.finalize())
    };
    Ok(Plan {
        format_version: FORMAT_VERSION.into(),
        asrform_version: env!("CARGO_PKG_VERSION").into(),
        mode: opts.mode,
        binding: Binding {
            lineage: state.map(|s| s.lineage.clone()),
            serial: state.map_or(0, |s| s.serial),
            config_hash: config.fingerprint.clone(),
            live_fingerprint: fingerprint,
            facts,
        },
        summary,
        resource_changes: changes,
        resource_drift: drift,
        readiness,
        warnings,
        applyable,
        live_read: None,
    })
}

/// The position of one item for operation plans: [`LiveSite`] plus a pending test failover.
fn position(item: &ProtectedItem, source_region: &str) -> super::operation::Position {
    use super::operation::Position;
    if item
        .test_failover_state
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("WaitingForCompletion"))
    {
        return Position::TestFailedOver;
    }
    match live_site(item, source_region) {
        LiveSite::Primary => Position::Primary,
        LiveSite::FailedOver => Position::FailedOver,
        LiveSite::Committed => Position::Committed,
        LiveSite::Recovery => Position::Recovery,
        LiveSite::FailedBack => Position::FailedBack,
    }
}

/// The ASR `allowedOperations` name that must be present for a plan action.
fn allowed_name(op: Action) -> &'static str {
    match op {
        Action::Failover | Action::Failback => "UnplannedFailover",
        Action::Commit => "Commit",
        Action::Reprotect => "SwitchProtection",
        Action::TestFailover => "TestFailover",
        Action::TestFailoverCleanup => "TestFailoverCleanup",
        Action::ChangeRecoveryPoint => "ChangePit",
        Action::CancelFailover => "CancelFailover",
        _ => "",
    }
}

/// The changes of an operation plan: one DR step per recovery plan touched by the targets (VM targets narrow their
/// plan's step to those VMs). Every VM is checked against its live position, `allowedOperations` and running
/// scenario now; problems name the VM and its state.
#[allow(clippy::too_many_arguments)]
fn operation_changes(
    config: &Config,
    snap: &Snapshot,
    req: &super::operation::OperationRequest,
    items: &BTreeMap<ResourceAddr, &ProtectedItem>,
    plan_of_vm: &BTreeMap<ResourceAddr, ResourceAddr>,
    now: Option<OffsetDateTime>,
    facts: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
    problems: &mut Diagnostics,
) -> Vec<ResourceChange> {
    use super::operation::{DrCommand, Position, operation_for};
    // Recovery plan → the VMs the targets select in it (in group order).
    let mut selected: BTreeMap<ResourceAddr, BTreeSet<ResourceAddr>> = BTreeMap::new();
    for t in &req.targets {
        match t.kind {
            ResourceKind::RecoveryPlan => {
                let Some(ResourceBody::RecoveryPlan(p)) = config.get(t).map(|r| &r.body) else {
                    problems.push(Diagnostic::error(
                        "plan::unknown_target",
                        format!("{t} is not declared in the configuration"),
                    ));
                    continue;
                };
                selected.entry(t.clone()).or_default().extend(
                    p.groups
                        .iter()
                        .flat_map(|g| g.vms.iter().map(|a| a.value.clone())),
                );
            }
            ResourceKind::ProtectedVm => {
                if config.get(t).is_none() {
                    problems.push(Diagnostic::error(
                        "plan::unknown_target",
                        format!("{t} is not declared in the configuration"),
                    ));
                    continue;
                }
                match plan_of_vm.get(t) {
                    Some(rp) => {
                        selected.entry(rp.clone()).or_default().insert(t.clone());
                    }
                    None => problems.push(
                        Diagnostic::error(
                            "plan::vm_without_recovery_plan",
                            format!(
                                "{t} is in no recovery_plan; DR commands act through the recovery plan's vault"
                            ),
                        )
                        .help("add the VM to a recovery_plan group"),
                    ),
                }
            }
            _ => problems.push(Diagnostic::error(
                "plan::bad_target",
                format!(
                    "{t}: {} acts on recovery_plan or protected_vm addresses only",
                    req.command
                ),
            )),
        }
    }

    let mut out = Vec::new();
    for (plan_addr, chosen) in &selected {
        let Some(r) = config.get(plan_addr) else {
            continue;
        };
        let ResourceBody::RecoveryPlan(p) = &r.body else {
            continue;
        };
        let (src, tgt) = attrs::pair_regions(config, &p.region_pair.value).unwrap_or_default();
        let members: Vec<&ResourceAddr> = p
            .groups
            .iter()
            .flat_map(|g| g.vms.iter().map(|a| &a.value))
            .filter(|a| chosen.contains(*a))
            .collect();
        let mut step: Option<(Action, Direction)> = None;
        let mut vms = Vec::new();
        let mut member_items = Vec::new();
        let mut resumed_ids: BTreeSet<String> = BTreeSet::new();
        let mut ok = true;
        for a in &members {
            let Some(i) = items.get(*a).copied() else {
                problems.push(Diagnostic::error(
                    "plan::not_protected",
                    format!("{a}: not protected in live state; apply the configuration first"),
                ));
                ok = false;
                continue;
            };
            let at = position(i, &src);
            // Resuming a failover that stopped at a manual step: VMs of earlier groups already moved.
            let resumed = matches!(
                (req.command, at),
                (DrCommand::Failover, Position::FailedOver)
                    | (DrCommand::Failback, Position::FailedBack)
            ) && members.iter().any(|m| {
                items
                    .get(*m)
                    .is_some_and(|x| operation_for(req.command, position(x, &src)).is_ok())
            });
            if resumed {
                facts.insert(a.to_string(), vm_fact(i));
                member_items.push(i);
                vms.push(DrVm {
                    address: a.to_string(),
                    rpi_id: Some(i.id.to_string()),
                    lifecycle_id: i.lifecycle_id.clone(),
                    source_vm: match config.get(a).map(|x| &x.body) {
                        Some(ResourceBody::ProtectedVm(v)) => {
                            v.source_vm.value.as_str().to_string()
                        }
                        _ => String::new(),
                    },
                    points: None,
                });
                resumed_ids.insert(i.id.to_string());
                warnings.push(format!(
                    "{a}: already {}; the {} resumes after it",
                    at.describe(),
                    req.command
                ));
                continue;
            }
            match operation_for(req.command, at) {
                Ok(s) => {
                    if step.is_some_and(|x| x != s) {
                        problems.push(Diagnostic::error(
                            "plan::mixed_state",
                            format!(
                                "{a}: it is {}, unlike the other VMs of {plan_addr}; target the VMs separately",
                                at.describe()
                            ),
                        ));
                        ok = false;
                    }
                    step = Some(s);
                    let name = allowed_name(s.0);
                    if !i.is_idle() {
                        problems.push(Diagnostic::error(
                            "plan::vm_busy",
                            format!(
                                "{a}: ASR is running {} on it; wait for that job",
                                i.current_scenario.as_ref().map_or("", |c| c.name.as_str())
                            ),
                        ));
                        ok = false;
                    } else if !i.allows(name) {
                        problems.push(Diagnostic::error(
                            "plan::operation_not_allowed",
                            format!(
                                "{a}: ASR does not allow {name} in its state {} (allowed: {})",
                                i.protection_state.as_deref().unwrap_or("unknown"),
                                i.allowed_operations
                                    .iter()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                        ok = false;
                    }
                }
                Err(e) => {
                    problems.push(Diagnostic::error(
                        "plan::unexpected_state",
                        format!("{a}: {e}"),
                    ));
                    ok = false;
                }
            }
            facts.insert(a.to_string(), vm_fact(i));
            member_items.push(i);
            vms.push(DrVm {
                address: a.to_string(),
                rpi_id: Some(i.id.to_string()),
                lifecycle_id: i.lifecycle_id.clone(),
                source_vm: match config.get(a).map(|x| &x.body) {
                    Some(ResourceBody::ProtectedVm(v)) => v.source_vm.value.as_str().to_string(),
                    _ => String::new(),
                },
                points: None,
            });
        }
        let Some((op, dir)) = step.filter(|_| ok) else {
            continue;
        };
        // The region the workload runs in now: a failover leaves it, a failback returns to the primary.
        let leaving = match dir {
            Direction::PrimaryToRecovery => &src,
            Direction::RecoveryToPrimary => &tgt,
        };
        let region_down = snap
            .unreachable_regions
            .iter()
            .any(|r| r.eq_ignore_ascii_case(leaving));
        let is_failover = matches!(op, Action::Failover | Action::Failback);
        let outage = req.source_unavailable || region_down;
        let (time, age) = latest_point(&member_items, now);
        let (rp, loss, loss_text, shut_down) = match op {
            Action::Failover | Action::Failback if !outage => {
                if let Some(given) = &req.recovery_point {
                    warnings.push(format!(
                        "{plan_addr}: --recovery-point {given} is not used: the source VMs are shut down first and the final point after shutdown is used; pass --source-unavailable to fail over to an earlier point"
                    ));
                }
                (
                    Some(RecoveryPointChoice {
                        choice: "latest_after_source_shutdown".into(),
                        time: time.clone(),
                        age_seconds: age,
                    }),
                    Some(0),
                    Some(format!(
                        "none: the source VMs in {leaving} are shut down and synchronised first (planned failover)"
                    )),
                    true,
                )
            }
            Action::ChangeRecoveryPoint => {
                // Which point each VM gets (and the data loss it implies) is resolved per VM from live recovery
                // points after the diff (`dr::change_point`); the step carries the policy.
                let Some(given) = &req.recovery_point else {
                    problems.push(Diagnostic::error(
                        "plan::recovery_point_required",
                        format!("{plan_addr}: change-recovery-point needs --recovery-point POLICY"),
                    ));
                    continue;
                };
                (
                    Some(RecoveryPointChoice {
                        choice: given.replace('-', "_"),
                        time: None,
                        age_seconds: None,
                    }),
                    None,
                    None,
                    false,
                )
            }
            Action::Failover | Action::Failback | Action::TestFailover => {
                let choice = req
                    .recovery_point
                    .clone()
                    .unwrap_or_else(|| "latest-processed".into())
                    .replace('-', "_");
                let (loss, text) = if op == Action::TestFailover {
                    (None, None)
                } else {
                    // The user's flag, when given, is the reason they will recognise.
                    let why = if req.source_unavailable {
                        "--source-unavailable".to_string()
                    } else {
                        format!("{leaving} is unreachable")
                    };
                    (
                        age,
                        Some(format!(
                            "up to {}: changes after {} are lost; the source VMs in {leaving} are not touched ({why})",
                            age.map_or("unknown".into(), format_secs),
                            time.as_deref().unwrap_or("the recovery point")
                        )),
                    )
                };
                (
                    Some(RecoveryPointChoice {
                        choice,
                        time: time.clone(),
                        age_seconds: age,
                    }),
                    loss,
                    text,
                    false,
                )
            }
            _ => (None, None, None, false),
        };
        if is_failover && outage {
            warnings.push(format!(
                "{plan_addr}: outage failover: the source region {leaving} is not touched; expected data loss up to {}",
                age.map_or("unknown".into(), format_secs)
            ));
        }
        let name = allowed_name(op);
        let pending: Vec<&&ProtectedItem> = member_items
            .iter()
            .filter(|i| !resumed_ids.contains(&i.id.to_string()))
            .collect();
        let mut preconditions: Vec<Precondition> = pending
            .iter()
            .map(|i| Precondition {
                check: "allowed_operation".into(),
                object: i.id.to_string(),
                expected: name.into(),
            })
            .collect();
        preconditions.extend(pending.iter().map(|i| Precondition {
            check: "idle".into(),
            object: i.id.to_string(),
            expected: "no running ASR scenario".into(),
        }));
        let whole_plan = members.len() == p.groups.iter().map(|g| g.vms.len()).sum::<usize>();
        let key = if whole_plan {
            format!("{plan_addr}#{}", op.as_str())
        } else {
            format!(
                "{plan_addr}#{}[{}]",
                op.as_str(),
                members
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        out.push(ResourceChange {
            key,
            address: plan_addr.to_string(),
            kind: ResourceKind::RecoveryPlan.as_str().into(),
            action: op,
            change: Change {
                actions: op.actions(),
                before: json!({}),
                after: json!({}),
                after_unknown: json!({}),
                replace_paths: Vec::new(),
                importing: None,
            },
            action_reason: Some(format!(
                "requested_by_{}",
                req.command.name().replace('-', "_")
            )),
            changed_attributes: Vec::new(),
            recovery_plan: Some(plan_addr.to_string()),
            reseed_required: false,
            preconditions,
            depends_on: Vec::new(),
            arm_ids: attrs::arm_ids(config, r),
            dr: Some(DrStep {
                operation: op,
                direction: dir,
                recovery_point: rp,
                expected_data_loss_seconds: loss,
                expected_data_loss: loss_text,
                shut_down_source: shut_down,
                network: req.network.clone(),
                recovery_plan_id: r.id.clone(),
                vms,
            }),
        });
    }
    out
}

/// Update or replace, for changed attributes of a kind (design.md §4): replace when any of them forces it, with
/// those attributes.
pub fn classify(kind: ResourceKind, changed: &[String]) -> (Action, Vec<String>) {
    let forced: Vec<String> = changed
        .iter()
        .filter(|k| attrs::force_new(kind).contains(&k.as_str()))
        .cloned()
        .collect();
    if changed.is_empty() {
        (Action::NoOp, forced)
    } else if forced.is_empty() {
        (Action::Update, forced)
    } else {
        (Action::Replace, forced)
    }
}

/// Hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn site_name(s: LiveSite) -> &'static str {
    match s {
        LiveSite::Primary => "primary",
        LiveSite::FailedOver => "recovery (commit pending)",
        LiveSite::Committed => "recovery (not reprotected)",
        LiveSite::Recovery => "recovery",
        LiveSite::FailedBack => "primary (failback not finished)",
    }
}

/// An `import` block must name an object that exists and is the one the block's `to` resolves to: its ARM id (or,
/// for a protected VM, its replication protected item or source VM).
fn check_import(
    imp: &crate::config::model::Import,
    observed: &Option<Value>,
    ids: &BTreeMap<String, String>,
    item: Option<&ProtectedItem>,
    problems: &mut Diagnostics,
) {
    if observed.is_none() {
        problems.push(
            Diagnostic::error(
                "plan::import_missing",
                format!("cannot import {}: the object does not exist", imp.to),
            )
            .label(
                imp.id.span,
                "nothing with this id was found in the live estate",
            )
            .help("check the id, or remove the import block and let asrform create the object"),
        );
        return;
    }
    let want = imp.id.value.to_ascii_lowercase();
    let mut known: Vec<String> = ids.values().map(|v| v.to_ascii_lowercase()).collect();
    if let Some(i) = item {
        known.push(i.id.as_str().to_ascii_lowercase());
        if let Some(v) = &i.source_vm_id {
            known.push(v.as_str().to_ascii_lowercase());
        }
    }
    if !known.contains(&want) {
        let live = item
            .map(|i| i.id.to_string())
            .or_else(|| ids.get("id").cloned())
            .unwrap_or_default();
        problems.push(
            Diagnostic::error(
                "plan::import_id_mismatch",
                format!(
                    "cannot import {}: the id does not name the object this address resolves to ({live})",
                    imp.to
                ),
            )
            .label(imp.id.span, "this id")
            .help("use the ARM id of the configured object, or point `to` at the instance this id belongs to"),
        );
    }
}

fn guard_replace(r: &Resource, forced: &[String], problems: &mut Diagnostics) {
    let what = forced.join(", ");
    if r.addr.kind == ResourceKind::ProtectedVm && r.lifecycle.prevent_reseed {
        problems.push(
            Diagnostic::error(
                "plan::prevent_reseed",
                format!(
                    "{} would be re-seeded (protection disabled and enabled again, a full initial replication) because {what} changed, but lifecycle.prevent_reseed is set",
                    r.addr
                ),
            )
            .label(r.span, "prevent_reseed is set in this block")
            .help("revert the change to the attributes that force a re-seed, or remove prevent_reseed"),
        );
    }
    if r.lifecycle.prevent_destroy {
        problems.push(
            Diagnostic::error(
                "plan::prevent_destroy",
                format!(
                    "{} would be replaced because {what} changed, but lifecycle.prevent_destroy is set",
                    r.addr
                ),
            )
            .label(r.span, "prevent_destroy is set in this block")
            .help("revert the change, or remove prevent_destroy"),
        );
    }
}

fn latest_point(
    items: &[&ProtectedItem],
    now: Option<OffsetDateTime>,
) -> (Option<String>, Option<i64>) {
    // The oldest of the members' latest points bounds what the plan can recover to.
    let oldest = items
        .iter()
        .filter_map(|i| {
            let t = i.last_rpo_calculated?;
            Some(t - time::Duration::seconds(i.rpo_seconds.unwrap_or(0)))
        })
        .min();
    match oldest {
        Some(t) => (Some(rfc(t)), now.map(|n| (n - t).whole_seconds())),
        None => (None, None),
    }
}

fn vm_readiness(addr: &str, item: Option<&ProtectedItem>, source_region: &str) -> VmReadiness {
    match item {
        None => VmReadiness {
            address: addr.into(),
            protected: false,
            replication_health: None,
            protection_state: None,
            rpo_seconds: None,
            latest_recovery_point: None,
            active_site: None,
            last_test_failover: None,
        },
        Some(i) => VmReadiness {
            address: addr.into(),
            protected: true,
            replication_health: i.replication_health.clone(),
            protection_state: i.protection_state.clone(),
            rpo_seconds: i.rpo_seconds,
            latest_recovery_point: i
                .last_rpo_calculated
                .map(|t| rfc(t - time::Duration::seconds(i.rpo_seconds.unwrap_or(0)))),
            active_site: Some(
                if is_active_recovery(live_site(i, source_region)) {
                    "recovery"
                } else {
                    "primary"
                }
                .into(),
            ),
            last_test_failover: i.last_successful_test_failover.map(rfc),
        },
    }
}

fn finish_readiness(r: &mut Readiness) {
    let protected: Vec<&VmReadiness> = r.vms.iter().filter(|v| v.protected).collect();
    r.protected = protected.len();
    r.healthy = protected
        .iter()
        .filter(|v| v.replication_health.as_deref() == Some("Normal"))
        .count();
    r.worst_rpo_seconds = protected.iter().filter_map(|v| v.rpo_seconds).max();
    r.never_drilled = protected
        .iter()
        .filter(|v| v.last_test_failover.is_none())
        .count();
    r.oldest_test_failover = if r.never_drilled > 0 {
        None
    } else {
        protected
            .iter()
            .filter_map(|v| v.last_test_failover.clone())
            .min()
    };
}

/// Fills `depends_on`: a change waits for the nearest changed resources among its (transitive) dependencies; a
/// delete waits for the deletes of kinds that depend on its kind (protected VMs before region pairs before
/// policies before vaults).
fn wire_dependencies(config: &Config, graph: &ResourceGraph, changes: &mut [ResourceChange]) {
    let changed: HashSet<String> = changes
        .iter()
        .filter(|c| c.action != Action::NoOp && c.dr.is_none() && c.action != Action::Delete)
        .map(|c| c.key.clone())
        .collect();
    // The changed configuration resources by address, so following the graph needs no address formatted per edge
    // (every dependency of 10,000 VMs was turned into a string and looked up in a sorted set of strings).
    let changed_addr: HashMap<ResourceAddr, String> = changes
        .iter()
        .filter(|c| c.key == c.address && changed.contains(&c.key))
        .filter_map(|c| Some((c.address.parse::<ResourceAddr>().ok()?, c.key.clone())))
        .collect();
    let mut memo: HashMap<ResourceAddr, BTreeSet<String>> = HashMap::new();
    /// The nearest changed resources `a` depends on (through unchanged ones). Only the answers for unchanged
    /// resources are `remember`ed: they are the ones walked through more than once (a memo of every changed
    /// resource's answer, never read again, was 10,000 copies of addresses and sets).
    fn nearest(
        a: &ResourceAddr,
        graph: &ResourceGraph,
        changed: &HashMap<ResourceAddr, String>,
        memo: &mut HashMap<ResourceAddr, BTreeSet<String>>,
        remember: bool,
    ) -> BTreeSet<String> {
        if let Some(m) = memo.get(a) {
            return m.clone();
        }
        let mut out = BTreeSet::new();
        for (d, _) in graph.dependencies(a) {
            if let Some(k) = changed.get(d) {
                out.insert(k.clone());
            } else {
                out.extend(nearest(d, graph, changed, memo, true));
            }
        }
        if remember {
            memo.insert(a.clone(), out.clone());
        }
        out
    }
    let deletes: Vec<(ResourceKind, String)> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter_map(|c| {
            c.address
                .parse::<ResourceAddr>()
                .ok()
                .map(|a| (a.kind, c.key.clone()))
        })
        .collect();
    // DR steps wait for the configuration changes of their members.
    let mut vm_changes: BTreeMap<String, String> = BTreeMap::new();
    for c in changes.iter() {
        if changed.contains(&c.key) && c.kind == "protected_vm" {
            vm_changes.insert(c.address.clone(), c.key.clone());
        }
    }
    for c in changes.iter_mut() {
        if c.action == Action::Delete {
            let k = c.address.parse::<ResourceAddr>().map(|a| a.kind).ok();
            c.depends_on = deletes
                .iter()
                .filter(|(dk, key)| k.is_some_and(|k| *dk > k) && *key != c.key)
                .map(|(_, key)| key.clone())
                .collect();
            continue;
        }
        if let Some(dr) = &c.dr {
            let mut deps: BTreeSet<String> = c
                .depends_on
                .iter()
                .filter(|d| changed.contains(*d) || d.contains('#'))
                .cloned()
                .collect();
            for v in &dr.vms {
                if let Some(k) = vm_changes.get(&v.address) {
                    deps.insert(k.clone());
                }
            }
            c.depends_on = deps.into_iter().collect();
            continue;
        }
        if c.action == Action::NoOp {
            continue;
        }
        let Ok(a) = c.address.parse::<ResourceAddr>() else {
            continue;
        };
        if config.get(&a).is_none() {
            continue;
        }
        c.depends_on = nearest(&a, graph, &changed_addr, &mut memo, false)
            .into_iter()
            .collect();
    }
}

/// Keys of `v` whose values are maps, rendered as JSON lines (for the renderers' nested diffs).
pub fn object_keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m: &Map<String, Value>| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: ResourceKind, updates: &[&str], replaces: &[&str]) {
        for a in updates {
            assert_eq!(
                classify(kind, &[a.to_string()]).0,
                Action::Update,
                "{kind}.{a} must update in place"
            );
        }
        for a in replaces {
            let (action, forced) = classify(
                kind,
                &[a.to_string(), updates.first().unwrap_or(a).to_string()],
            );
            assert_eq!(
                action,
                Action::Replace,
                "{kind}.{a} must force a replacement"
            );
            assert!(
                forced.contains(&a.to_string()),
                "{kind}.{a} must be named in replace_paths"
            );
        }
    }

    #[test]
    fn resource_group_updates_tags_and_replaces_on_location() {
        check(ResourceKind::ResourceGroup, &["tags"], &["location"]);
    }

    #[test]
    fn virtual_network_updates_address_space_and_subnets() {
        check(
            ResourceKind::VirtualNetwork,
            &["address_space", "subnets", "tags"],
            &["location"],
        );
    }

    #[test]
    fn storage_account_replaces_on_location_and_kind() {
        check(
            ResourceKind::StorageAccount,
            &["tags"],
            &["location", "kind"],
        );
    }

    #[test]
    fn availability_set_replaces_on_fault_domains() {
        check(
            ResourceKind::AvailabilitySet,
            &["tags", "update_domains"],
            &["location", "fault_domains"],
        );
    }

    #[test]
    fn vault_replaces_only_on_location() {
        check(ResourceKind::Vault, &["tags"], &["location"]);
    }

    #[test]
    fn policy_updates_retention_and_replaces_on_multi_vm_sync() {
        check(
            ResourceKind::ReplicationPolicy,
            &[
                "recovery_point_retention_minutes",
                "app_consistent_frequency_minutes",
            ],
            &["multi_vm_sync"],
        );
    }

    #[test]
    fn region_pair_updates_policy_and_agent_and_replaces_on_regions() {
        check(
            ResourceKind::RegionPair,
            &["policy", "agent_auto_update"],
            &["source", "target"],
        );
    }

    #[test]
    fn network_mapping_updates_target_and_replaces_on_source() {
        check(
            ResourceKind::NetworkMapping,
            &["target_network"],
            &["source_network"],
        );
    }

    #[test]
    fn protected_vm_reseeds_only_for_identity_attributes() {
        check(
            ResourceKind::ProtectedVm,
            &[
                "target_vm_size",
                "target_vm_name",
                "nics",
                "target_availability_set",
                "test_network",
                "disks",
                "target_resource_group",
                "target_network",
                "target_zone",
            ],
            &[
                "source_vm",
                "source_region",
                "target_region",
                "cache_storage",
                "consistency_group",
            ],
        );
    }

    #[test]
    fn recovery_plan_updates_groups_and_replaces_on_region_pair() {
        check(
            ResourceKind::RecoveryPlan,
            &["groups", "actions"],
            &["source_region", "target_region"],
        );
    }

    #[test]
    fn nothing_changed_is_a_no_op() {
        assert_eq!(classify(ResourceKind::Vault, &[]).0, Action::NoOp);
    }

    #[test]
    fn live_site_follows_the_item_direction() {
        let mut i = ProtectedItem {
            id: ArmId::parse("/subscriptions/s/resourceGroups/r/providers/X/y/z").unwrap(),
            lifecycle_id: None,
            instance_type: None,
            source_vm_id: None,
            friendly_name: None,
            policy_id: None,
            recovery_container_id: None,
            recovery_fabric_id: None,
            protection_state: Some("Protected".into()),
            vm_protection_state: None,
            active_location: Some("Primary".into()),
            replication_health: None,
            failover_health: None,
            health_errors: vec![],
            rpo_seconds: None,
            last_rpo_calculated: None,
            allowed_operations: Default::default(),
            current_scenario: None,
            test_failover_state: None,
            last_successful_failover: None,
            last_successful_test_failover: None,
            monitoring_percentage: None,
            target_resource_group_id: None,
            target_network_id: None,
            tfo_network_id: None,
            target_subnet: None,
            target_vm_size: None,
            target_vm_name: None,
            target_availability_set_id: None,
            target_zone: None,
            target_ppg_id: None,
            nics: vec![],
            disks: vec![],
            multi_vm_group: None,
            recovery_vm_id: None,
            primary_location: Some("eastus".into()),
            recovery_location: Some("westus".into()),
            etag: None,
        };
        assert_eq!(live_site(&i, "eastus"), LiveSite::Primary);
        i.active_location = Some("Recovery".into());
        i.protection_state = Some("UnplannedFailoverCommitPendingStatesBegin".into());
        assert_eq!(live_site(&i, "eastus"), LiveSite::FailedOver);
        i.protection_state = Some("UnplannedFailoverCommitted".into());
        assert_eq!(live_site(&i, "eastus"), LiveSite::Committed);
        // Reprotected: the item now replicates westus → eastus and runs in westus.
        i.primary_location = Some("westus".into());
        i.active_location = Some("Primary".into());
        assert_eq!(live_site(&i, "eastus"), LiveSite::Recovery);
    }
}
