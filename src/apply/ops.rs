//! One configuration change → the ARM client operations that carry it out (asr-api.md §1 order within a change).
//!
//! Every create reads first and adopts an object that already exists (a re-run after a crash converges without
//! duplicate writes); deletes treat "not found" as done. Owns the mapping from configuration values to the typed
//! operation inputs of `provider::arm::ops`; it must not decide what to change (the plan did) or touch state
//! directly (it returns a [`StateUpdate`]).

use std::collections::BTreeMap;
use std::time::Duration;

use globset::Glob;
use serde_json::Value;

use super::executor::{Edge, Milestone};
use super::{ApplyError, Ctx, StateUpdate, writes};
use crate::addr::ResourceAddr;
use crate::config::model::{NetworkRef, ProtectedVm, Resource, ResourceBody};
use crate::plan::{Action, ResourceChange, attrs};
use crate::provider::arm::{snapshot, wire};
use crate::provider::model::ProtectedItem;
use crate::provider::{ArmId, ProviderError};
use crate::state::ResourceState;

fn id(s: &str) -> Result<ArmId, ApplyError> {
    ArmId::parse(s).map_err(|e| ApplyError::Plan(e.to_string()))
}

fn need<'a>(
    ids: &'a BTreeMap<String, String>,
    role: &str,
    addr: &str,
) -> Result<&'a str, ApplyError> {
    ids.get(role)
        .map(String::as_str)
        .ok_or_else(|| ApplyError::Plan(format!("{addr}: the ARM id of its {role} is unknown")))
}

async fn exists(cx: &Ctx, id: &ArmId) -> Result<bool, ApplyError> {
    Ok(cx.client.get_value(id.as_str()).await?.is_some())
}

fn ignore_missing(
    r: Result<crate::provider::arm::LroOutcome, ProviderError>,
) -> Result<(), ApplyError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reads a protected item in the planner's view.
pub(crate) async fn read_item(cx: &Ctx, rpi: &ArmId) -> Result<Option<ProtectedItem>, ApplyError> {
    Ok(cx
        .client
        .get::<wire::ReplicationProtectedItem>(rpi.as_str())
        .await?
        .and_then(snapshot::protected_item))
}

/// An `import` whose object already matches the configuration: recorded into state as live shows it (ARM ids,
/// lifecycle id, observed attributes, the active site), with no call to the cloud and so no re-seed.
fn adopt(cx: &Ctx, c: &ResourceChange) -> ResourceState {
    let dr_kind = matches!(c.kind.as_str(), "protected_vm" | "recovery_plan");
    // The plan leaves failed-over workloads alone with this reason; anything else runs in the primary region.
    let site = if c.action_reason.as_deref() == Some("failed_over_managed_by_active_site") {
        crate::state::Site::Recovery
    } else {
        crate::state::Site::Primary
    };
    ResourceState {
        kind: c.kind.clone(),
        arm_ids: c.arm_ids.clone(),
        lifecycle_id: c.arm_ids.get("lifecycle_id").cloned(),
        attributes: c.change.before.clone(),
        active_site: dr_kind.then_some(site),
        updated_at: cx.now(),
    }
}

/// Region pair milestone: both fabrics exist (network mappings need no more of the pair).
pub(crate) const FABRICS_READY: Milestone = 1;
/// Region pair milestone: both protection containers exist.
pub(crate) const CONTAINERS_READY: Milestone = 2;
/// Region pair stage: creating the container mappings, the only part of a pair that needs its policy.
pub(crate) const MAPPINGS: u8 = 1;

/// What `dependent` needs of `dependency` (node `on` of the walk) when both are written by this apply: ASR's
/// real order (asr-api.md §1) is finer than the graph's edges, so a region pair starts without its policy (only
/// its mappings need it) and a network mapping starts once the pair's fabrics exist. Anything else waits for the
/// dependency to finish. Deletes keep the plain reverse order.
pub(crate) fn edge(dependent: &ResourceChange, dependency: &ResourceChange, on: usize) -> Edge {
    let plain = Edge::done(on);
    if !writes(dependent.action) || !writes(dependency.action) {
        return plain;
    }
    match (dependent.kind.as_str(), dependency.kind.as_str()) {
        ("region_pair", "replication_policy") => Edge {
            stage: MAPPINGS,
            ..plain
        },
        ("network_mapping", "region_pair") => Edge {
            milestone: FABRICS_READY,
            ..plain
        },
        _ => plain,
    }
}

/// Carries out one configuration change.
pub(crate) async fn execute(cx: &Ctx, c: &ResourceChange) -> Result<StateUpdate, ApplyError> {
    if c.action == Action::Delete {
        delete(cx, c).await?;
        return Ok(StateUpdate::Remove);
    }
    if c.action == Action::NoOp && c.change.importing.is_some() {
        return Ok(StateUpdate::Set(adopt(cx, c)));
    }
    debug_assert!(writes(c.action));
    let addr: ResourceAddr = c
        .address
        .parse()
        .map_err(|_| ApplyError::Plan(format!("`{}` is not an address", c.address)))?;
    let config = cx.config.clone();
    let r = config.get(&addr).ok_or_else(|| {
        ApplyError::Plan(format!(
            "{} is in the plan but not in the configuration",
            c.address
        ))
    })?;
    let ids = &c.arm_ids;
    let mut state_ids = ids.clone();
    let mut lifecycle_id = None;
    match &r.body {
        ResourceBody::ResourceGroup(g) => {
            cx.client
                .create_resource_group(
                    &id(need(ids, "id", &c.address)?)?,
                    &g.location.value,
                    &g.tags,
                )
                .await?;
        }
        ResourceBody::VirtualNetwork(n) => {
            let prefixes: Vec<String> = n
                .address_space
                .iter()
                .map(|a| a.value.to_string())
                .collect();
            let subnets: Vec<(String, String)> = n
                .subnets
                .iter()
                .map(|s| (s.name.value.clone(), s.address_prefix.value.to_string()))
                .collect();
            cx.client
                .create_vnet(
                    &id(need(ids, "id", &c.address)?)?,
                    &n.location.value,
                    &prefixes,
                    &subnets,
                )
                .await?;
        }
        ResourceBody::StorageAccount(s) => {
            cx.client
                .create_storage_account(
                    &id(need(ids, "id", &c.address)?)?,
                    &s.location.value,
                    "Standard_LRS",
                )
                .await?;
        }
        ResourceBody::AvailabilitySet(a) => {
            cx.client
                .create_availability_set(
                    &id(need(ids, "id", &c.address)?)?,
                    &a.location.value,
                    i64::from(a.fault_domains),
                    i64::from(a.update_domains),
                )
                .await?;
        }
        ResourceBody::Vault(v) => {
            cx.client
                .create_vault(
                    &id(need(ids, "id", &c.address)?)?,
                    &v.location.value,
                    "Standard",
                    &v.tags,
                )
                .await?;
        }
        ResourceBody::ReplicationPolicy(p) => {
            let input = wire::A2APolicyCreationInput {
                recovery_point_history: Some(
                    (p.recovery_point_retention.value.as_secs() / 60) as i64,
                ),
                crash_consistent_frequency_in_minutes: Some(5),
                app_consistent_frequency_in_minutes: Some(
                    p.app_consistent_interval
                        .as_ref()
                        .map_or(0, |a| a.value.as_secs() / 60) as i64,
                ),
                multi_vm_sync_status: if p.multi_vm_sync.value {
                    "Enable"
                } else {
                    "Disable"
                }
                .into(),
            };
            let pid = id(need(ids, "id", &c.address)?)?;
            if exists(cx, &pid).await? {
                cx.client.update_policy(&pid, &input).await?;
            } else {
                cx.client.create_policy(&pid, &input).await?;
            }
        }
        ResourceBody::RegionPair(p) => {
            let auto = if p.agent_auto_update.value {
                "Enabled"
            } else {
                "Disabled"
            };
            let account = p
                .automation_account
                .as_ref()
                .map(|a| a.value.as_str().to_string());
            // Source and target sides are independent: both fabrics at once, then both containers, then both
            // mappings (each is an ASR job of its own; in sequence they would add up). The milestones let the
            // walk start network mappings once the fabrics exist; only the mappings need the policy.
            let ensure = |role: &'static str, region: Option<String>| async move {
                let x = id(need(ids, role, &c.address)?)?;
                if !exists(cx, &x).await? {
                    match region {
                        Some(region) => cx.client.create_fabric(&x, &region).await?,
                        None => cx.client.create_container(&x).await?,
                    };
                }
                Ok::<(), ApplyError>(())
            };
            futures_util::future::try_join(
                ensure("source_fabric", Some(p.source.value.clone())),
                ensure("target_fabric", Some(p.target.value.clone())),
            )
            .await?;
            cx.stages.reached(FABRICS_READY);
            futures_util::future::try_join(
                ensure("source_container", None),
                ensure("target_container", None),
            )
            .await?;
            cx.stages.reached(CONTAINERS_READY);
            cx.slot
                .release_while(cx.stages.stage(MAPPINGS))
                .await
                .map_err(|why| ApplyError::Plan(format!("{}: {why}", c.address)))?;
            let policy = id(need(ids, "policy", &c.address)?)?;
            let mapping = |mapping: &'static str, target: &'static str| {
                let (policy, account) = (policy.clone(), account.clone());
                async move {
                    let m = id(need(ids, mapping, &c.address)?)?;
                    if exists(cx, &m).await? {
                        cx.client
                            .update_container_mapping(
                                &m,
                                wire::A2AUpdateContainerMappingInput {
                                    agent_auto_update_status: Some(auto.into()),
                                    automation_account_arm_id: account.clone(),
                                    ..Default::default()
                                },
                            )
                            .await?;
                    } else {
                        cx.client
                            .create_container_mapping(
                                &m,
                                &id(need(ids, target, &c.address)?)?,
                                &policy,
                                wire::A2AContainerMappingInput {
                                    agent_auto_update_status: Some(auto.into()),
                                    automation_account_arm_id: account.clone(),
                                    automation_account_authentication_type: account
                                        .as_ref()
                                        .map(|_| "SystemAssignedIdentity".into()),
                                },
                            )
                            .await?;
                    }
                    Ok::<(), ApplyError>(())
                }
            };
            futures_util::future::try_join(
                mapping("forward_mapping", "target_container"),
                mapping("reverse_mapping", "source_container"),
            )
            .await?;
        }
        ResourceBody::NetworkMapping(_) => {
            let fwd = id(need(ids, "id", &c.address)?)?;
            let rev = id(need(ids, "reverse", &c.address)?)?;
            let src = id(need(ids, "source_network", &c.address)?)?;
            let tgt = id(need(ids, "target_network", &c.address)?)?;
            let tf = id(need(ids, "target_fabric", &c.address)?)?;
            let sf = id(need(ids, "source_fabric", &c.address)?)?;
            if c.action == Action::Replace {
                ignore_missing(cx.client.delete(&fwd).await)?;
                ignore_missing(cx.client.delete(&rev).await)?;
            }
            // Both directions at once: each is an ASR job of its own, and protected VMs wait for both.
            let direction = |m: ArmId, fabric: String, from: ArmId, to: ArmId| async move {
                if !exists(cx, &m).await? || c.action == Action::Update {
                    cx.client
                        .create_network_mapping(&m, &fabric, &from, &to)
                        .await?;
                }
                Ok::<(), ApplyError>(())
            };
            futures_util::future::try_join(
                direction(fwd, tf.name().to_string(), src.clone(), tgt.clone()),
                direction(rev, sf.name().to_string(), tgt, src),
            )
            .await?;
        }
        ResourceBody::ProtectedVm(vm) => {
            let (rpi, item) = protected_vm(cx, c, r, vm).await?;
            state_ids.insert("rpi".into(), rpi.to_string());
            lifecycle_id = item.and_then(|i| i.lifecycle_id);
            if let Some(l) = &lifecycle_id {
                state_ids.insert("lifecycle_id".into(), l.clone());
            }
        }
        ResourceBody::RecoveryPlan(p) => {
            let mut groups = vec![group("Shutdown", vec![]), group("Failover", vec![])];
            for g in &p.groups {
                let mut members = Vec::new();
                for a in &g.vms {
                    let key = a.value.to_string();
                    let rpi = cx
                        .entry(&key)
                        .await
                        .and_then(|e| e.arm_ids.get("rpi").cloned())
                        .or_else(|| cx.config.get(&a.value).and_then(|x| x.id.clone()))
                        .ok_or_else(|| {
                            ApplyError::Plan(format!("{key} has no protected item yet"))
                        })?;
                    members.push(rpi);
                }
                let mut boot = group("Boot", members);
                boot.start_group_actions = g.pre_actions.iter().map(plan_action).collect();
                boot.end_group_actions = g.post_actions.iter().map(plan_action).collect();
                groups.push(boot);
            }
            let plan_id = id(need(ids, "id", &c.address)?)?;
            let pair = attrs::pair_ids(&cx.config, &p.region_pair.value);
            if c.action == Action::Update && exists(cx, &plan_id).await? {
                cx.client.update_recovery_plan(&plan_id, groups).await?;
            } else {
                if c.action == Action::Replace {
                    ignore_missing(cx.client.delete(&plan_id).await)?;
                }
                let body = crate::provider::arm::ops::recovery_plan_body(
                    &id(need(&pair, "source_fabric", &c.address)?)?,
                    &id(need(&pair, "target_fabric", &c.address)?)?,
                    groups,
                    None,
                );
                cx.client.create_recovery_plan(&plan_id, body).await?;
            }
        }
    }
    Ok(StateUpdate::Set(ResourceState {
        kind: c.kind.clone(),
        arm_ids: state_ids,
        lifecycle_id,
        attributes: c.change.after.clone(),
        active_site: matches!(
            r.body,
            ResourceBody::ProtectedVm(_) | ResourceBody::RecoveryPlan(_)
        )
        .then_some(crate::state::Site::Primary),
        updated_at: cx.now(),
    }))
}

/// A group's `pre_action`/`post_action` as ASR's RecoveryPlanAction: it applies to real failovers (either
/// direction), not to drills, so a test failover never waits for an operator.
fn plan_action(a: &crate::config::model::PlanAction) -> wire::RecoveryPlanAction {
    use crate::config::model::ActionKind;
    let custom_details = match &a.kind {
        ActionKind::Manual { instructions } => serde_json::json!({
            "instanceType": "ManualActionDetails",
            "description": instructions,
        }),
        ActionKind::Script { script } => serde_json::json!({
            "instanceType": "ScriptActionDetails",
            "path": script,
            "fabricLocation": "Recovery",
            "timeout": a.timeout.map(|t| format!("PT{}S", t.as_secs())),
        }),
    };
    wire::RecoveryPlanAction {
        action_name: a.name.value.clone(),
        failover_types: vec!["PlannedFailover".into(), "UnplannedFailover".into()],
        failover_directions: vec!["PrimaryToRecovery".into(), "RecoveryToPrimary".into()],
        custom_details,
    }
}

fn group(kind: &str, members: Vec<String>) -> wire::RecoveryPlanGroup {
    wire::RecoveryPlanGroup {
        group_type: kind.into(),
        replication_protected_items: members
            .into_iter()
            .map(|m| wire::RecoveryPlanProtectedItem {
                id: Some(m),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn disk_ids(vm: &wire::VirtualMachine) -> Vec<String> {
    let sp = &vm.properties.storage_profile;
    std::iter::once(&sp["osDisk"])
        .chain(sp["dataDisks"].as_array().into_iter().flatten())
        .filter_map(|d| d["managedDisk"]["id"].as_str().map(str::to_string))
        .collect()
}

fn glob(pattern: &str, name: &str) -> bool {
    Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(name))
}

/// Enables (or re-seeds, or updates) one protected VM; returns its item id and the item as read at the end.
async fn protected_vm(
    cx: &Ctx,
    c: &ResourceChange,
    r: &Resource,
    vm: &ProtectedVm,
) -> Result<(ArmId, Option<ProtectedItem>), ApplyError> {
    let config = &cx.config;
    let pair = attrs::pair_ids(config, &vm.region_pair.value);
    let rid = |a: &ResourceAddr| config.get(a).and_then(|x| x.id.clone());
    let target_rg = rid(&vm.target_resource_group.value);
    let target_net = rid(&vm.target_network.value);
    let avset = vm
        .target_availability_set
        .as_ref()
        .and_then(|a| rid(&a.value));
    let cache = rid(&vm.cache_storage.value).ok_or_else(|| {
        ApplyError::Plan(format!(
            "{}: the cache storage account has no id",
            c.address
        ))
    })?;
    let mut rpi = c
        .arm_ids
        .get("rpi")
        .or_else(|| c.arm_ids.get("id"))
        .map(|s| id(s))
        .transpose()?
        .ok_or_else(|| {
            ApplyError::Plan(format!("{}: its protected item id is unknown", c.address))
        })?;

    if c.action == Action::Replace {
        // Re-seed: disable protection, then enable it again from scratch.
        ignore_missing(cx.client.disable_protection(&rpi).await)?;
        rpi = id(need(&c.arm_ids, "id", &c.address)?)?;
    }
    // A create the plan made from a live read that found no item, with nothing left in flight by an earlier
    // apply, needs no second look (one read per VM less, and reads are what pace a large apply after writes).
    let existing = if c.action == Action::Create && !cx.resumed {
        None
    } else {
        read_item(cx, &rpi).await?
    };
    // The item as enabled by this change (read once after the enable request).
    let mut enabled: Option<ProtectedItem> = None;
    if existing.is_none() {
        let source = vm.source_vm.value.as_str();
        let machine: wire::VirtualMachine = cx.client.get(source).await?.ok_or_else(|| {
            ApplyError::Plan(format!("{}: source VM {source} does not exist", c.address))
        })?;
        let disks = disk_ids(&machine)
            .into_iter()
            .map(|d| {
                let name = d.rsplit('/').next().unwrap_or_default().to_string();
                let settings = vm.disks.iter().find(|s| glob(&s.selector.value, &name));
                wire::A2AVmManagedDiskInputDetails {
                    disk_id: d,
                    primary_staging_azure_storage_account_id: cache.clone(),
                    recovery_resource_group_id: target_rg.clone().unwrap_or_default(),
                    recovery_target_disk_account_type: settings
                        .map(|s| s.target_disk_type.value.to_string()),
                    recovery_replica_disk_account_type: settings
                        .and_then(|s| s.replica_disk_type.as_ref())
                        .map(|t| t.value.to_string()),
                    ..Default::default()
                }
            })
            .collect();
        let a2a = wire::A2AEnableProtectionInput {
            fabric_object_id: source.to_string(),
            recovery_container_id: pair.get("target_container").cloned(),
            recovery_resource_group_id: target_rg.clone(),
            recovery_availability_set_id: avset.clone(),
            recovery_availability_zone: vm.target_zone.as_ref().map(|z| z.value.clone()),
            recovery_azure_network_id: target_net.clone(),
            recovery_subnet_name: Some(vm.target_subnet.value.clone()),
            vm_managed_disks: disks,
            multi_vm_group_name: vm.consistency_group.as_ref().map(|g| g.value.clone()),
            ..Default::default()
        };
        let policy = id(need(&pair, "policy", &c.address)?)?;
        // Started and waited for in two halves so the job is recorded in state (in flight) before we wait: a
        // re-run after a kill adopts that job instead of enabling protection a second time.
        let body = crate::provider::arm::ops::enable_protection_body(&policy, a2a);
        let initial = cx
            .client
            .begin(azure_core::http::Method::Put, rpi.as_str(), Some(&body))
            .await?;
        // After the enable request the change only reads its item (to learn the job) and waits for the job. With
        // the shared tracker it does both with its place given back, once: the places then carry enable requests
        // (two round trips each, not three), so the write buckets, not the read after each request, pace a large
        // apply. The job is still recorded in state before the wait (crash safety unchanged); the per-operation
        // baseline keeps its place throughout.
        let rpi = &rpi;
        let follow = async move {
            let first = initial.json_value().ok().flatten();
            let mut job = crate::provider::arm::lro::job_id(Some(&initial.headers), first.as_ref());
            // When the job started, by the service's clock (ours may differ): the job tracker's list filter.
            let mut started = None;
            let mut item = None;
            if job.is_none() {
                // ASR names the job on the item (`currentScenario.jobId`); this read also gives the item as enabled,
                // whose settings and lifecycle id are all this change needs afterwards.
                let raw = cx.client.get_value(rpi.as_str()).await?;
                job = crate::provider::arm::lro::job_id(None, raw.as_ref());
                started = raw
                    .as_ref()
                    .and_then(|v| v.pointer("/properties/currentScenario/startTime"))
                    .and_then(Value::as_str)
                    .and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    });
                item = raw
                    .and_then(|v| serde_json::from_value::<wire::ReplicationProtectedItem>(v).ok())
                    .and_then(snapshot::protected_item);
            }
            if let Some(h) = job.clone().or_else(|| operation_url(&initial.headers)) {
                cx.record_operation(&c.address, h).await?;
            }
            await_started(
                cx,
                azure_core::http::Method::Put,
                rpi.as_str(),
                initial,
                job.as_deref().zip(started),
            )
            .await?;
            Ok::<_, ApplyError>(item)
        };
        enabled = if cx.tracker.is_some() {
            cx.slot.release_while(follow).await?
        } else {
            follow.await?
        };
    } else {
        // An item that exists may still be carrying the job a killed apply started (recorded or not): wait for
        // it to end before updating the item, rather than colliding with it.
        if let Some(job) = cx.client.current_job(&rpi).await? {
            wait_job(cx, &job, &c.address).await?;
        }
    }

    let latest = item_settings(cx, &c.address, vm, &rpi, existing.is_some(), enabled).await?;
    let _ = r;
    let item = match latest {
        Some(item) => item,
        None => read_item(cx, &rpi).await?,
    };
    Ok((rpi, item))
}

/// Sets what ASR takes only through an update of the item (VM name and size, networks, availability set and, for
/// an existing item, resource group and zone), then the NIC/IP settings once the item is protected. Used after
/// enable and, since reprotect resets them, after the reprotect that restores the configured direction.
/// `enabled` is the item as a fresh enable left it (its update is skipped when it already holds every setting).
/// Returns the item's latest view when no write changed it since it was read (`None`: read it again).
pub(crate) async fn item_settings(
    cx: &Ctx,
    address: &str,
    vm: &ProtectedVm,
    rpi: &ArmId,
    existing: bool,
    enabled: Option<ProtectedItem>,
) -> Result<Option<Option<ProtectedItem>>, ApplyError> {
    let config = &cx.config;
    let rid = |a: &ResourceAddr| config.get(a).and_then(|x| x.id.clone());
    let target_rg = rid(&vm.target_resource_group.value);
    let target_net = rid(&vm.target_network.value);
    let test_net = vm.test_network.as_ref().and_then(|a| rid(&a.value));
    let avset = vm
        .target_availability_set
        .as_ref()
        .and_then(|a| rid(&a.value));
    // Settings ASR takes only through an update of the item.
    let mut update = wire::UpdateReplicationProtectedItemInputProperties {
        recovery_azure_vm_name: Some(vm.target_vm_name.value.clone()),
        recovery_azure_vm_size: vm.target_vm_size.as_ref().map(|s| s.value.clone()),
        selected_recovery_azure_network_id: target_net.clone(),
        selected_tfo_azure_network_id: test_net.clone(),
        recovery_availability_set_id: avset.clone(),
        ..Default::default()
    };
    // The latest view of the item, while no write has changed it since it was read.
    let mut latest = enabled.clone().map(Some);
    if existing {
        update.provider_specific_details = Some(wire::Poly::Known(
            wire::A2AUpdateReplicationProtectedItemInput {
                recovery_resource_group_id: target_rg.clone(),
                recovery_availability_zone: vm.target_zone.as_ref().map(|z| z.value.clone()),
                ..Default::default()
            },
        ));
        cx.client.update_protected_item(rpi, update).await?;
    } else if !enabled
        .as_ref()
        .is_some_and(|item| update_is_noop(&update, item))
    {
        // A fresh item already carries what the enable input set (name, network): an update job (a minute in
        // ASR) runs only when a setting differs.
        cx.client.update_protected_item(rpi, update).await?;
        latest = None;
    }

    if !vm.nics.is_empty() {
        let mut item = read_item(cx, rpi).await?;
        if cx.wait == super::WaitFor::Protected {
            item = wait_protected(cx, rpi, address).await?;
        }
        let protected = item
            .as_ref()
            .and_then(|i| i.vm_protection_state.as_deref())
            .is_some_and(|s| s.eq_ignore_ascii_case("Protected"));
        latest = Some(item.clone());
        if protected {
            let item = item.expect("checked above");
            let nics = nic_inputs(vm, &item);
            if !nics.is_empty() {
                cx.client
                    .update_protected_item(
                        rpi,
                        wire::UpdateReplicationProtectedItemInputProperties {
                            vm_nics: nics,
                            ..Default::default()
                        },
                    )
                    .await?;
                latest = None;
            }
        } else {
            cx.defer(format!(
                "{}: NIC/IP settings wait for initial replication; run apply again (or use --wait protected)",
                address
            ));
        }
    }
    Ok(latest)
}

/// Whether an update would leave a freshly enabled item as it is (every setting it names already holds).
fn update_is_noop(
    u: &wire::UpdateReplicationProtectedItemInputProperties,
    item: &ProtectedItem,
) -> bool {
    let same = |want: &Option<String>, have: &Option<String>| match want {
        None => true,
        Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
    };
    u.provider_specific_details.is_none()
        && u.vm_nics.is_empty()
        && same(&u.recovery_azure_vm_name, &item.target_vm_name)
        && same(&u.recovery_azure_vm_size, &item.target_vm_size)
        && same(
            &u.selected_recovery_azure_network_id,
            &item.target_network_id,
        )
        && same(&u.selected_tfo_azure_network_id, &item.tfo_network_id)
        && same(
            &u.recovery_availability_set_id,
            &item.target_availability_set_id,
        )
}

/// Waits for a started mutation to end: through the shared job tracker when it is an ASR job whose start time is
/// known (the change gives its place among `--parallelism` back meanwhile, since waiting sends no requests of its
/// own), else by polling the operation's status URL. A failed job is this change's failure, with ASR's error code and message.
pub(crate) async fn await_started(
    cx: &Ctx,
    method: azure_core::http::Method,
    path: &str,
    initial: crate::provider::arm::ArmResponse,
    job: Option<(&str, time::OffsetDateTime)>,
) -> Result<(), ApplyError> {
    // The tracker needs the job's start by the service's clock (its list filter is in the service's time; ours
    // may be skewed, or a simulator's may run fast); without it, poll the operation itself.
    let (Some(tracker), Some((job, started))) = (&cx.tracker, job) else {
        cx.client.wait(method, path, initial).await?;
        return Ok(());
    };
    let since = started - time::Duration::minutes(1);
    cx.slot
        .release_while(tracker.wait_since(job, since))
        .await?
        .into_result(method.as_ref(), path)?;
    Ok(())
}

/// The status URL of a started ARM operation (`Azure-AsyncOperation`, else `Location`).
fn operation_url(h: &azure_core::http::headers::Headers) -> Option<String> {
    ["azure-asyncoperation", "location"]
        .into_iter()
        .find_map(|n| {
            h.get_optional_str(&azure_core::http::headers::HeaderName::from_static(n))
                .map(str::to_string)
        })
}

/// Waits for an ASR job (by its ARM id) to reach a terminal state, reading it directly: unlike the job tracker
/// this works for a job started long ago by a killed apply. A failed job is this change's failure.
pub(crate) async fn wait_job(cx: &Ctx, job: &str, addr: &str) -> Result<(), ApplyError> {
    let started = cx.now();
    loop {
        let Some(j) = cx.client.job(job).await? else {
            return Ok(());
        };
        let state = j.properties.state.clone().unwrap_or_default();
        if crate::provider::arm::lro::job_state_is_terminal(&state) {
            if state.eq_ignore_ascii_case("failed") {
                let why = j
                    .properties
                    .errors
                    .first()
                    .and_then(|e| {
                        e.pointer("/serviceErrorDetails/message")
                            .or_else(|| e.pointer("/providerErrorDetails/errorMessage"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "no reason given".into());
                return Err(ApplyError::Plan(format!(
                    "{addr}: ASR job {job} failed: {why}"
                )));
            }
            return Ok(());
        }
        cx.hooks.on_event(&super::hooks::Event::Progress {
            address: addr.to_string(),
            operation: "adopt_job".into(),
            job_state: Some(state),
            percent: None,
            elapsed: (cx.now() - started).try_into().unwrap_or_default(),
        });
        cx.client.clock().sleep(Duration::from_secs(30)).await;
    }
}

async fn wait_protected(
    cx: &Ctx,
    rpi: &ArmId,
    addr: &str,
) -> Result<Option<ProtectedItem>, ApplyError> {
    let started = cx.now();
    loop {
        let item = read_item(cx, rpi).await?;
        let state = item.as_ref().and_then(|i| i.vm_protection_state.clone());
        if state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Protected"))
        {
            return Ok(item);
        }
        if item.is_none() {
            return Err(ApplyError::Plan(format!(
                "{addr}: protected item {rpi} disappeared"
            )));
        }
        // What a failed enable job leaves behind never becomes protected: say so instead of waiting.
        if let Some(e) = item.as_ref().and_then(ProtectedItem::enable_failure) {
            return Err(ApplyError::Plan(format!(
                "{addr}: can never become protected: its enable-protection job failed [{}] {}; plan and apply \
                 again to enable it anew",
                e.code, e.message
            )));
        }
        // A failed enable job never reaches `Protected`: report its error rather than waiting forever.
        if let Some(job) = cx.client.current_job(rpi).await?
            && let Some(j) = cx.client.job(&job).await?
            && j.properties
                .state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("failed"))
        {
            return wait_job(cx, &job, addr).await.map(|()| None);
        }
        cx.hooks.on_event(&super::hooks::Event::Progress {
            address: addr.to_string(),
            operation: "initial_replication".into(),
            job_state: Some(state.unwrap_or_else(|| "Enabling".into())),
            percent: item
                .as_ref()
                .and_then(|i| i.monitoring_percentage)
                .map(|p| p.clamp(0, 100) as u8),
            elapsed: (cx.now() - started).try_into().unwrap_or_default(),
        });
        cx.client.clock().sleep(Duration::from_secs(300)).await;
    }
}

fn nic_inputs(vm: &ProtectedVm, item: &ProtectedItem) -> Vec<wire::VmNicInputDetails> {
    let mut out = Vec::new();
    for (i, n) in item.nics.iter().enumerate() {
        let name = n
            .source_nic_id
            .as_ref()
            .map(|x| x.name().to_string())
            .unwrap_or_default();
        let Some(s) = vm
            .nics
            .iter()
            .find(|s| s.selector.value == format!("nic{i}") || glob(&s.selector.value, &name))
        else {
            continue;
        };
        let ip_name = n
            .ip_configs
            .iter()
            .find(|(_, c)| c.is_primary)
            .or_else(|| n.ip_configs.iter().next())
            .map(|(k, _)| k.clone());
        out.push(wire::VmNicInputDetails {
            nic_id: n.asr_nic_id.clone(),
            ip_configs: vec![wire::IpConfigInputDetails {
                ip_config_name: ip_name,
                is_primary: Some(true),
                recovery_subnet_name: Some(
                    s.target_subnet
                        .as_ref()
                        .map_or(vm.target_subnet.value.clone(), |x| x.value.clone()),
                ),
                recovery_static_ip_address: s
                    .target_static_ip
                    .as_ref()
                    .map(|x| x.value.to_string()),
                tfo_subnet_name: s.test_subnet.as_ref().map(|x| x.value.clone()),
                tfo_static_ip_address: s.test_static_ip.as_ref().map(|x| x.value.to_string()),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    out
}

async fn delete(cx: &Ctx, c: &ResourceChange) -> Result<(), ApplyError> {
    let ids = &c.arm_ids;
    let get = |k: &str| ids.get(k).and_then(|s| ArmId::parse(s).ok());
    match c.kind.as_str() {
        "protected_vm" => {
            if let Some(rpi) = get("rpi").or_else(|| get("id")) {
                ignore_missing(cx.client.disable_protection(&rpi).await)?;
            }
        }
        "region_pair" => {
            for m in ["forward_mapping", "reverse_mapping"] {
                if let Some(m) = get(m) {
                    ignore_missing(cx.client.remove(&m).await)?;
                }
            }
            // Fabrics and containers are named per region and may serve another pair: a refusal to remove them
            // (still in use) is not a failure of this delete.
            for k in [
                "source_container",
                "target_container",
                "source_fabric",
                "target_fabric",
            ] {
                if let Some(x) = get(k)
                    && let Err(e) = cx.client.remove(&x).await
                    && !e.is_not_found()
                {
                    cx.hooks.on_event(&super::hooks::Event::Message {
                        level: super::hooks::Level::Warn,
                        text: format!("{}: kept {x}: {e}", c.address),
                    });
                }
            }
        }
        "network_mapping" => {
            for k in ["id", "reverse"] {
                if let Some(x) = get(k) {
                    ignore_missing(cx.client.delete(&x).await)?;
                }
            }
        }
        _ => {
            if let Some(x) = get("id") {
                ignore_missing(cx.client.delete(&x).await)?;
            }
        }
    }
    let _ = Value::Null;
    let _ = NetworkRef::Id;
    Ok(())
}
