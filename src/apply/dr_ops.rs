//! The DR operations of a plan (failover, commit, reprotect, failback) carried out per protected item with the ARM
//! client: a small adapter until the DR engine (`dr::execute`) takes over; the integrator routes [`execute`] there.
//!
//! Each item is re-discovered by its ASR lifecycle id first (its ARM id changes on reprotect) and every operation
//! is guarded by `allowedOperations` and an idle check. A2A "planned" failover is `unplannedFailover` with
//! `sourceSiteOperations = Required`. Reprotect uses the container's `switchprotection`. It must not decide which
//! operations to run (the plan did) and never writes state itself (it returns a [`StateUpdate`]).

use std::collections::HashMap;

use super::ops::read_item;
use super::{ApplyError, Ctx, StateUpdate};
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

fn guard(item: &ProtectedItem, op: &str, vm: &str) -> Result<(), ApplyError> {
    if !item.is_idle() {
        return Err(ApplyError::Plan(format!(
            "{vm}: ASR is busy with {} on it; wait for that job and apply again",
            item.current_scenario
                .as_ref()
                .map_or("another operation", |s| s.name.as_str())
        )));
    }
    if !item.allows(op) {
        return Err(ApplyError::Plan(format!(
            "{vm}: ASR does not allow {op} now (allowed: {})",
            item.allowed_operations
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

async fn one(cx: &Ctx, step: &DrStep, item: &ProtectedItem, vm: &DrVm) -> Result<(), ApplyError> {
    let rpi = &item.id;
    let direction = match step.direction {
        Direction::PrimaryToRecovery => "PrimaryToRecovery",
        Direction::RecoveryToPrimary => "RecoveryToPrimary",
    };
    match step.operation {
        Action::Failover | Action::Failback => {
            guard(item, "UnplannedFailover", &vm.address)?;
            cx.client
                .unplanned_failover(rpi, direction, step.shut_down_source, None)
                .await?;
        }
        Action::Commit => {
            guard(item, "Commit", &vm.address)?;
            cx.client.failover_commit(rpi).await?;
        }
        Action::Reprotect => {
            guard(item, "SwitchProtection", &vm.address)?;
            // Reverse replication lands in the resource group the workload came from.
            let source_rg = ArmId::parse(&vm.source_vm).ok().and_then(|v| {
                Some(format!(
                    "/subscriptions/{}/resourceGroups/{}",
                    v.subscription()?,
                    v.resource_group()?
                ))
            });
            let target_rg = match step.direction {
                Direction::RecoveryToPrimary => source_rg,
                Direction::PrimaryToRecovery => item.target_resource_group_id.clone(),
            };
            // `recoveryContainerId` is the reverse mapping's target (asr-api.md §3.8): reverse replication goes
            // from the container the item failed over to back to the container it lives in now.
            let reverse_target = rpi.parent().ok_or_else(|| {
                ApplyError::Plan(format!("{}: the container of {rpi} is unknown", vm.address))
            })?;
            let input = wire::A2ASwitchProtectionInput {
                recovery_container_id: Some(reverse_target.to_string()),
                policy_id: item.policy_id.as_ref().map(ToString::to_string),
                recovery_resource_group_id: target_rg,
                ..Default::default()
            };
            cx.client.switch_protection(rpi, input).await?;
        }
        Action::TestFailoverCleanup => {
            guard(item, "TestFailoverCleanup", &vm.address)?;
            cx.client
                .test_failover_cleanup(rpi, "asrform apply")
                .await?;
        }
        Action::TestFailover => {
            guard(item, "TestFailover", &vm.address)?;
            let net = step
                .network
                .as_deref()
                .or(item.tfo_network_id.as_deref())
                .ok_or_else(|| {
                    ApplyError::Plan(format!("{}: no test failover network", vm.address))
                })?;
            let net = ArmId::parse(net).map_err(|e| ApplyError::Plan(e.to_string()))?;
            cx.client.test_failover(rpi, direction, &net, None).await?;
        }
        other => {
            return Err(ApplyError::Plan(format!(
                "{}: {} is not supported by this apply",
                vm.address,
                other.as_str()
            )));
        }
    }
    Ok(())
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
    let mut work = Vec::new();
    for vm in &step.vms {
        let item = find(&items, vm).ok_or_else(|| {
            ApplyError::Plan(format!("{}: its protected item was not found", vm.address))
        })?;
        work.push(async move { one(cx, step, item, vm).await });
    }
    let results = futures_util::future::join_all(work).await;
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(ApplyError::Plan(errors.join("; ")));
    }

    // Re-discover: reprotect gives items new ids.
    let after = items_by_lifecycle(cx, &vault).await?;
    let site = match (step.operation, step.direction) {
        (Action::Failover | Action::Commit, Direction::PrimaryToRecovery) => Site::Recovery,
        (Action::Reprotect, Direction::RecoveryToPrimary) => Site::Recovery,
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
