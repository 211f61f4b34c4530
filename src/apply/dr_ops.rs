//! The DR operations of a plan (failover, commit, reprotect, failback) carried out per protected item with the ARM
//! client: a small adapter until the DR engine (`dr::execute`) takes over; the integrator routes `execute` there.
//!
//! Each item is re-discovered by its ASR lifecycle id first (its ARM id changes on reprotect) and every operation
//! is guarded by `allowedOperations` and an idle check. A2A "planned" failover is `unplannedFailover` with
//! `sourceSiteOperations = Required`. Reprotect uses the container's `switchprotection`. It must not decide which
//! operations to run (the plan did) and never writes state itself (it returns a `StateUpdate`).

use std::collections::HashMap;
use std::sync::Arc;

use super::ops::read_item;
use super::{ApplyError, Ctx, StateUpdate};
use crate::addr::ResourceAddr;
use crate::config::model::{ProtectedVm, ResourceBody};
use crate::dr;
use crate::plan::{Action, Direction, DrStep, DrVm, ResourceChange};
use crate::provider::ArmId;
use crate::provider::arm::{snapshot, wire};
use crate::provider::model::ProtectedItem;
use crate::state::{ResourceState, Site};

fn vault_of(plan_id: &str) -> Option<String> {
    let lower = plan_id.to_ascii_lowercase();
    let at = lower.find("/replicationrecoveryplans/")?;
    Some(plan_id[..at].to_string())
}

/// The vault's protected items by lifecycle id (lower case), read with one list call.
async fn items_by_lifecycle(
    cx: &Ctx,
    vault: &str,
) -> Result<HashMap<String, ProtectedItem>, ApplyError> {
    let list: Vec<wire::ReplicationProtectedItem> = cx
        .client
        .list(&format!("{vault}/replicationProtectedItems"))
        .await?;
    Ok(list
        .into_iter()
        .filter_map(snapshot::protected_item)
        .filter_map(|i| Some((i.lifecycle_id.clone()?.to_ascii_lowercase(), i)))
        .collect())
}

fn find<'a>(items: &'a HashMap<String, ProtectedItem>, vm: &DrVm) -> Option<&'a ProtectedItem> {
    vm.lifecycle_id
        .as_ref()
        .and_then(|l| items.get(&l.to_ascii_lowercase()))
        .or_else(|| {
            items.values().find(|i| {
                i.source_vm_id
                    .as_ref()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case(&vm.source_vm))
            })
        })
}

/// Always answers the same to a recovery plan's manual steps: `--continue` confirms them, otherwise the run stops
/// at the first one (the engine reports it and nothing after it starts).
struct ManualSteps(bool);

#[async_trait::async_trait]
impl dr::Confirm for ManualSteps {
    async fn confirm(&self, _step: &dr::ManualStep) -> bool {
        self.0
    }
}

fn parse_id(s: &str, what: &str) -> Result<ArmId, ApplyError> {
    ArmId::parse(s).map_err(|e| ApplyError::Plan(format!("{what}: {e}")))
}

/// The configured id of a VM's referenced resource (`cache_storage`, `target_resource_group`, `test_network`).
fn vm_ref(
    cx: &Ctx,
    vm: &DrVm,
    pick: impl Fn(&ProtectedVm) -> Option<ResourceAddr>,
) -> Option<String> {
    cx.config.get(&pick(vm_config(cx, vm)?)?)?.id.clone()
}

/// The configuration of a VM, by its address.
fn vm_config<'a>(cx: &'a Ctx, vm: &DrVm) -> Option<&'a ProtectedVm> {
    let addr: ResourceAddr = vm.address.parse().ok()?;
    match &cx.config.get(&addr)?.body {
        ResourceBody::ProtectedVm(v) => Some(v),
        _ => None,
    }
}

/// Each VM's configured cache account, resource group, placement and disk SKUs, for the reprotect that restores
/// the configured direction (keyed by lower-case lifecycle id): without them ASR would pick its own.
fn configured_items(
    cx: &Ctx,
    items: &[(&DrVm, &ProtectedItem)],
    key: &str,
) -> Result<std::collections::BTreeMap<String, dr::ItemReprotect>, ApplyError> {
    let rid = |a: &ResourceAddr| -> Result<Option<ArmId>, ApplyError> {
        cx.config
            .get(a)
            .and_then(|x| x.id.as_deref())
            .map(|s| parse_id(s, key))
            .transpose()
    };
    let mut out = std::collections::BTreeMap::new();
    for (vm, item) in items {
        let (Some(v), Some(l)) = (vm_config(cx, vm), item.lifecycle_id.as_ref()) else {
            continue;
        };
        let avset = match &v.target_availability_set {
            Some(a) => rid(&a.value)?,
            None => None,
        };
        out.insert(
            l.to_ascii_lowercase(),
            dr::ItemReprotect {
                cache_storage_account_id: rid(&v.cache_storage.value)?,
                recovery_resource_group_id: rid(&v.target_resource_group.value)?,
                recovery_availability_set_id: avset,
                recovery_availability_zone: v.target_zone.as_ref().map(|z| z.value.to_string()),
                disks: v
                    .disks
                    .iter()
                    .map(|d| dr::DiskRule {
                        selector: d.selector.value.clone(),
                        target_disk_type: Some(d.target_disk_type.value.to_string()),
                        replica_disk_type: d
                            .replica_disk_type
                            .as_ref()
                            .map(|t| t.value.to_string()),
                    })
                    .collect(),
            },
        );
    }
    Ok(out)
}

/// The recovery points the plan resolved per VM (change-recovery-point), keyed as the engine expects: apply
/// uses exactly the reviewed point rather than re-resolving the policy later.
fn reviewed_points(
    items: &[(&DrVm, &ProtectedItem)],
) -> std::collections::BTreeMap<String, dr::ChosenPoint> {
    use time::format_description::well_known::Rfc3339;
    items
        .iter()
        .filter_map(|(vm, item)| {
            let p = &vm.points.as_ref()?.chosen;
            let t = time::OffsetDateTime::parse(&p.time, &Rfc3339).ok()?;
            Some((
                item.id.as_str().to_ascii_lowercase(),
                dr::ChosenPoint {
                    vm: vm.address.clone(),
                    point: dr::PointInfo {
                        id: p.id.clone(),
                        time: t,
                        kind: p.kind.clone().unwrap_or_else(|| "CrashConsistent".into()),
                        sync: None,
                    },
                    age_secs: p.age_seconds.max(0) as u64,
                    data_loss_secs: p.data_loss_seconds.max(0) as u64,
                },
            ))
        })
        .collect()
}

/// Turns the plan's DR step into the engine's step: the whole recovery plan when the step covers all its VMs
/// (groups in order, manual steps, scripts), else the selected items.
fn engine_step(
    cx: &Ctx,
    c: &ResourceChange,
    step: &DrStep,
    items: &[(&DrVm, &ProtectedItem)],
) -> Result<dr::Step, ApplyError> {
    let refs: Vec<dr::ItemRef> = items
        .iter()
        .map(|(_, i)| dr::ItemRef {
            rpi: i.id.clone(),
            lifecycle_id: i.lifecycle_id.clone(),
        })
        .collect();
    let whole = !c.key.contains('[');
    let target = match (&step.recovery_plan_id, whole) {
        (Some(id), true) => dr::Target::RecoveryPlan {
            id: parse_id(id, &c.key)?,
        },
        _ => dr::Target::Items { items: refs },
    };
    let policy = step
        .recovery_point
        .as_ref()
        .and_then(|r| r.choice.replace('_', "-").parse::<dr::PointPolicy>().ok())
        .unwrap_or(dr::PointPolicy::LatestProcessed);
    let sso = if step.shut_down_source {
        dr::SourceSite::Required
    } else {
        dr::SourceSite::NotRequired
    };
    let first = items
        .first()
        .ok_or_else(|| ApplyError::Plan(format!("{}: no VMs", c.key)))?;
    let operation = match step.operation {
        Action::Failover | Action::Failback => dr::Operation::Failover {
            source_site_operations: sso,
            recovery_point: policy,
        },
        Action::Commit => dr::Operation::Commit,
        Action::CancelFailover => dr::Operation::Cancel,
        Action::TestFailoverCleanup => dr::Operation::TestFailoverCleanup,
        Action::ChangeRecoveryPoint => dr::Operation::ChangeRecoveryPoint {
            recovery_point: policy,
        },
        Action::TestFailover => {
            let net = step
                .network
                .clone()
                .or_else(|| {
                    vm_ref(cx, first.0, |v| {
                        v.test_network.as_ref().map(|a| a.value.clone())
                    })
                })
                .or_else(|| first.1.tfo_network_id.clone())
                .ok_or_else(|| ApplyError::Plan(format!("{}: no test failover network", c.key)))?;
            dr::Operation::TestFailover {
                network: parse_id(&net, &c.key)?,
                recovery_point: policy,
            }
        }
        Action::Reprotect => {
            // `recoveryContainerId` is the reverse mapping's target (asr-api.md §3.8): reverse replication goes
            // from the container the item failed over to back to the container it lives in now.
            let reverse_target = first.1.id.parent().ok_or_else(|| {
                ApplyError::Plan(format!(
                    "{}: the container of {} is unknown",
                    c.key, first.1.id
                ))
            })?;
            let policy_id = first.1.policy_id.clone().ok_or_else(|| {
                ApplyError::Plan(format!(
                    "{}: the replication policy of {} is unknown",
                    c.key, first.0.address
                ))
            })?;
            // Back in the original direction the configuration says where replicas and cache go; in reverse the
            // engine defaults to the original VM's resource group and ASR picks the cache.
            let (rg, cache) = match step.direction {
                Direction::PrimaryToRecovery => (
                    vm_ref(cx, first.0, |v| Some(v.target_resource_group.value.clone())),
                    vm_ref(cx, first.0, |v| Some(v.cache_storage.value.clone())),
                ),
                Direction::RecoveryToPrimary => (None, None),
            };
            let per_item = match step.direction {
                Direction::PrimaryToRecovery => configured_items(cx, items, &c.key)?,
                Direction::RecoveryToPrimary => Default::default(),
            };
            dr::Operation::Reprotect(dr::ReprotectInput {
                recovery_container_id: reverse_target,
                policy_id,
                recovery_resource_group_id: rg.map(|r| parse_id(&r, &c.key)).transpose()?,
                cache_storage_account_id: cache.map(|r| parse_id(&r, &c.key)).transpose()?,
                wait_protected: cx.wait == super::WaitFor::Protected,
                items: per_item,
            })
        }
        other => {
            return Err(ApplyError::Plan(format!(
                "{}: {} is not a DR operation",
                c.key,
                other.as_str()
            )));
        }
    };
    Ok(dr::Step {
        target,
        operation,
        direction: match step.direction {
            Direction::PrimaryToRecovery => dr::Direction::PrimaryToRecovery,
            Direction::RecoveryToPrimary => dr::Direction::RecoveryToPrimary,
        },
        points: reviewed_points(items),
        confirm: Some(Arc::new(ManualSteps(cx.continue_manual))),
    })
}

/// Runs one DR step of the plan over its VMs (concurrently; the client bounds requests) and returns the state
/// update: new item ids after reprotect, and the active site of the VMs and the recovery plan.
pub(crate) async fn execute(cx: &Ctx, c: &ResourceChange) -> Result<StateUpdate, ApplyError> {
    let step =
        c.dr.as_ref()
            .ok_or_else(|| ApplyError::Plan(format!("{} has no DR data", c.key)))?;
    let vault = step
        .recovery_plan_id
        .as_deref()
        .and_then(vault_of)
        .ok_or_else(|| {
            ApplyError::Plan(format!("{}: the recovery plan's vault is unknown", c.key))
        })?;
    let items = items_by_lifecycle(cx, &vault).await?;
    let mut pairs = Vec::new();
    for vm in &step.vms {
        let item = find(&items, vm).ok_or_else(|| {
            ApplyError::Plan(format!("{}: its protected item was not found", vm.address))
        })?;
        pairs.push((vm, item));
    }
    // The engine re-checks allowedOperations and the running scenario right before each call; a VM in an
    // unexpected state fails only itself (and, in a recovery plan, stops the groups after it).
    let engine = engine_step(cx, c, step, &pairs)?;
    let outcome = dr::execute(&cx.client, &engine, cx.hooks.as_ref())
        .await
        .map_err(|e| ApplyError::Plan(format!("{}: {e}", c.key)))?;
    let errors: Vec<String> = outcome
        .failed()
        .map(|v| format!("{}: {}", v.name, v.error.as_deref().unwrap_or("failed")))
        .collect();
    if !errors.is_empty() {
        return Err(ApplyError::Plan(errors.join("; ")));
    }
    if outcome.stopped_early {
        return Err(ApplyError::Plan(format!(
            "{}: stopped at a manual step of the recovery plan; do it, then run the command again with --continue",
            c.key
        )));
    }

    // Re-discover: reprotect gives items new ids.
    let mut after = items_by_lifecycle(cx, &vault).await?;
    // Reprotect resets what ASR takes only through an item update (networks, VM name and size, NIC/IP settings);
    // back in the configured direction the configuration says what they are, so set them again.
    if step.operation == Action::Reprotect && step.direction == Direction::PrimaryToRecovery {
        for vm in &step.vms {
            if let (Some(v), Some(i)) = (vm_config(cx, vm), find(&after, vm)) {
                super::ops::item_settings(cx, &vm.address, v, &i.id, true, None).await?;
            }
        }
        after = items_by_lifecycle(cx, &vault).await?;
    }
    let site = match (step.operation, step.direction) {
        (Action::Failover | Action::Commit, Direction::PrimaryToRecovery) => Site::Recovery,
        (Action::Reprotect, Direction::RecoveryToPrimary) => Site::Recovery,
        // Changing the point keeps the VMs where the failover put them; a cancel returns them where they were.
        (Action::ChangeRecoveryPoint, Direction::PrimaryToRecovery) => Site::Recovery,
        (Action::CancelFailover, Direction::RecoveryToPrimary) => Site::Recovery,
        _ => Site::Primary,
    };
    let now = cx.now();
    let mut updates = Vec::new();
    for vm in &step.vms {
        let Some(mut entry) = cx.entry(&vm.address).await else {
            continue;
        };
        if let Some(i) = find(&after, vm) {
            entry.arm_ids.insert("rpi".into(), i.id.to_string());
            if let Some(l) = &i.lifecycle_id {
                entry.lifecycle_id = Some(l.clone());
            }
        } else if let Some(i) = find(&items, vm) {
            let _ = read_item(cx, &i.id).await?;
        }
        entry.active_site = Some(site);
        entry.updated_at = now;
        updates.push((vm.address.clone(), entry));
    }
    if let Some(mut plan) = cx.entry(&c.address).await {
        plan.active_site = Some(site);
        plan.updated_at = now;
        updates.push((c.address.clone(), plan));
    } else {
        updates.push((
            c.address.clone(),
            ResourceState {
                kind: "recovery_plan".into(),
                arm_ids: c.arm_ids.clone(),
                lifecycle_id: None,
                attributes: serde_json::Value::Null,
                active_site: Some(site),
                updated_at: now,
            },
        ));
    }
    Ok(StateUpdate::Many(updates))
}
