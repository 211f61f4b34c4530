//! Change recovery point: resolves, for every VM of a `change_recovery_point` step of a plan, the point the
//! failed-over VM runs on now and the point the step will apply, with their times, ages and the data loss each
//! implies, so the plan a reviewer reads names exactly what apply does.
//!
//! It reads live state (the item, its current failover point, its listed points) and writes the result into the
//! plan's [`crate::plan::DrVm::points`]; apply then uses exactly the chosen point. It must not start any ASR
//! operation, print, or decide whether the step may run (the differ and the engine's guards do).

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::points::{self, PointInfo, PointPolicy};
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, Plan, PlannedPoint, VmPoints, format_secs};
use crate::provider::arm::{ArmClient, snapshot, wire};
use crate::provider::{ArmId, ProviderError};

fn planned(p: &PointInfo, now: OffsetDateTime, failover_at: OffsetDateTime) -> PlannedPoint {
    PlannedPoint {
        id: p.id.clone(),
        time: p.time.format(&Rfc3339).unwrap_or_default(),
        age_seconds: (now - p.time).whole_seconds().max(0),
        kind: Some(p.kind.clone()),
        data_loss_seconds: (failover_at - p.time).whole_seconds().max(0),
    }
}

/// What one VM of a step needs for the choice.
struct Member {
    index: usize,
    name: String,
    group: Option<String>,
    failover_at: OffsetDateTime,
    current: Option<PointInfo>,
    points: Vec<PointInfo>,
}

/// Fills [`crate::plan::DrVm::points`] of every change-recovery-point step of `plan` (and the step's expected
/// data loss: the largest of its VMs). A VM for which no point satisfies the policy is a problem in the returned
/// diagnostics; members of one multi-VM consistency group always get one common point.
pub async fn annotate(
    client: &ArmClient,
    plan: &mut Plan,
    now: OffsetDateTime,
) -> Result<Diagnostics, ProviderError> {
    let mut problems = Diagnostics::default();
    for c in plan.resource_changes.iter_mut() {
        if c.action != Action::ChangeRecoveryPoint {
            continue;
        }
        let key = c.key.clone();
        let Some(step) = c.dr.as_mut() else { continue };
        let Some(policy) = step
            .recovery_point
            .as_ref()
            .and_then(|r| r.choice.replace('_', "-").parse::<PointPolicy>().ok())
        else {
            problems.push(Diagnostic::error(
                "plan::recovery_point_required",
                format!("{key}: change-recovery-point needs a valid --recovery-point POLICY"),
            ));
            continue;
        };
        let mut members = Vec::new();
        for (index, vm) in step.vms.iter().enumerate() {
            let Some(rpi) = vm.rpi_id.as_deref().and_then(|s| ArmId::parse(s).ok()) else {
                continue;
            };
            let Some(w) = client
                .get::<wire::ReplicationProtectedItem>(rpi.as_str())
                .await?
            else {
                problems.push(Diagnostic::error(
                    "plan::not_protected",
                    format!("{}: its protected item {rpi} was not found", vm.address),
                ));
                continue;
            };
            let current_id = w
                .properties
                .failover_recovery_point_id
                .clone()
                .filter(|s| !s.is_empty());
            let Some(item) = snapshot::protected_item(w) else {
                continue;
            };
            let current = match current_id {
                Some(id) => client
                    .get::<wire::RecoveryPoint>(&id)
                    .await?
                    .and_then(|r| PointInfo::from_wire(&r)),
                None => None,
            };
            let mut pts: Vec<PointInfo> = client
                .recovery_points(&rpi)
                .await?
                .iter()
                .filter_map(PointInfo::from_wire)
                .collect();
            pts.sort_by_key(|p| std::cmp::Reverse(p.time));
            members.push(Member {
                index,
                name: vm.address.clone(),
                group: item.multi_vm_group.clone().filter(|g| !g.is_empty()),
                // Data written after the failover started is on the failed-over VM whatever point it runs on; the
                // loss a point implies is counted up to the failover.
                failover_at: item.last_successful_failover.unwrap_or(now),
                current,
                points: pts,
            });
        }
        let mut chosen: BTreeMap<usize, PlannedPoint> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<&Member>> = BTreeMap::new();
        for m in &members {
            match &m.group {
                Some(g) => groups.entry(g.clone()).or_default().push(m),
                None => match points::select(&policy, &m.name, &m.points, now, false) {
                    Ok(p) => {
                        chosen.insert(m.index, planned(&p.point, now, m.failover_at));
                    }
                    Err(e) => {
                        problems.push(Diagnostic::error("plan::no_recovery_point", e.to_string()))
                    }
                },
            }
        }
        for list in groups.values() {
            let input: Vec<(String, Vec<PointInfo>)> = list
                .iter()
                .map(|m| (m.name.clone(), m.points.clone()))
                .collect();
            match points::select_group(&policy, &input, now, false) {
                Ok(ps) => {
                    for (m, p) in list.iter().zip(ps) {
                        chosen.insert(m.index, planned(&p.point, now, m.failover_at));
                    }
                }
                Err(e) => {
                    problems.push(Diagnostic::error("plan::no_recovery_point", e.to_string()))
                }
            }
        }
        for m in &members {
            if let Some(p) = chosen.remove(&m.index) {
                step.vms[m.index].points = Some(VmPoints {
                    current: m.current.as_ref().map(|c| planned(c, now, m.failover_at)),
                    chosen: p,
                });
            }
        }
        // The step's headline: the oldest chosen point and the largest loss among its VMs, before and after.
        let worst = step
            .vms
            .iter()
            .filter_map(|v| v.points.as_ref())
            .max_by_key(|p| p.chosen.data_loss_seconds);
        let worst_now = step
            .vms
            .iter()
            .filter_map(|v| v.points.as_ref()?.current.as_ref())
            .map(|c| c.data_loss_seconds)
            .max();
        if let (Some(w), Some(rp)) = (worst, step.recovery_point.as_mut()) {
            rp.time = Some(w.chosen.time.clone());
            rp.age_seconds = Some(w.chosen.age_seconds);
            step.expected_data_loss_seconds = Some(w.chosen.data_loss_seconds);
            step.expected_data_loss = Some(format!(
                "up to {}{}: the failed-over VMs will hold the data of their new point; writes after it up to the failover are lost",
                format_secs(w.chosen.data_loss_seconds),
                worst_now.map_or(String::new(), |n| format!(
                    " (now up to {})",
                    format_secs(n)
                ))
            ));
        }
    }
    Ok(problems)
}
