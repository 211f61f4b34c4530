//! Freshness of a plan read through Azure Resource Graph (limits.md §6 G2): no plan proposes a write from index
//! data alone.
//!
//! ARG lags the source of truth (limits.md §2.6), so after a snapshot read through it
//! (`Snapshot::graph_read_at`), every object the plan would create, change, delete or report as drifted is re-read
//! with an ARM GET (`arm::snapshot::confirm`) and the plan is computed again, until no unconfirmed object is left
//! to change (the cost is C_drift: one GET per such object, none when nothing differs). Objects asrform's state
//! says it changed within `GRAPH_RECENT` before the read are re-read too, because their index row may still show
//! the value from before that change: if that old value happens to equal the configuration, the plan would
//! otherwise show a no-op while the cloud holds asrform's newer value. This module owns that loop only; it must
//! not change how objects are diffed (the pure `plan::diff` does that) and must not write anything.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::plan::{Plan, PlanOptions};
use crate::provider::arm::{ArmClient, snapshot};
use crate::provider::{ArmId, Snapshot};
use crate::state::State;

use super::PlanLiveError;

/// Rounds of confirm-and-rediff at most: a confirmed object can change what another object's diff shows, so a
/// second round picks those up; a third is a guard, not expected.
const ROUNDS: usize = 3;

/// ARM ids (by role) that parse as ids, from a role map.
fn ids_of<'a>(roles: impl IntoIterator<Item = &'a String>) -> impl Iterator<Item = ArmId> {
    roles
        .into_iter()
        .filter(|v| v.starts_with('/'))
        .filter_map(|v| ArmId::parse(v).ok())
}

/// The objects the plan would touch or reports as drifted.
fn touched(plan: &Plan, state: Option<&State>) -> BTreeSet<ArmId> {
    let mut out: BTreeSet<ArmId> = plan
        .effective_changes()
        .flat_map(|c| ids_of(c.arm_ids.values()))
        .collect();
    if let Some(s) = state {
        for d in &plan.resource_drift {
            if let Some(r) = s.resources.get(&d.address) {
                out.extend(ids_of(r.arm_ids.values()));
            }
        }
    }
    out
}

/// Confirms `plan` (diffed from `snap`) when `snap` came from ARG; returns the plan to use and how many objects
/// were re-read. A snapshot from ARM lists is returned as is.
pub async fn confirm_graph_plan(
    client: &ArmClient,
    config: &Config,
    graph: &crate::graph::ResourceGraph,
    state: Option<&State>,
    opts: &PlanOptions,
    snap: &mut Snapshot,
    mut plan: Plan,
) -> Result<(Plan, usize), PlanLiveError> {
    let Some(read_at) = snap.graph_read_at else {
        return Ok((plan, 0));
    };
    let since = read_at - snapshot::GRAPH_RECENT;
    let mut pending: BTreeSet<ArmId> = state
        .map(|s| {
            s.resources
                .values()
                .filter(|r| r.updated_at >= since)
                .flat_map(|r| ids_of(r.arm_ids.values()).collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default();
    let mut confirmed: BTreeSet<ArmId> = BTreeSet::new();
    let mut sent = 0;
    for _ in 0..ROUNDS {
        pending.extend(touched(&plan, state));
        pending.retain(|i| !confirmed.contains(i));
        if pending.is_empty() {
            break;
        }
        sent += snapshot::confirm(client, snap, &pending).await?;
        confirmed.append(&mut pending);
        plan = crate::plan::diff(config, graph, snap, state, opts)?;
    }
    Ok((plan, sent))
}
