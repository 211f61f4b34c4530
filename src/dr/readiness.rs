//! Readiness gates wired into plan and apply: before a plan fails over, fails back or test-fails-over a set of
//! VMs, check that their replication health is not critical, their RPO is under the threshold (`--max-rpo`, or the
//! recovery plan's `max_rpo`), a recovery point exists, the target subnets have free addresses for them, and
//! (warning only) their last successful drill is younger than the recovery plan's `max_drill_age`.
//!
//! It gathers what the pure evaluation in [`super::status::readiness`] needs (the VMs of each DR step, their
//! address demands from the configuration, the addresses already used in the target subnets from live NICs, the
//! drill reports) and records the findings in the plan: every finding in `readiness.gates`, warnings also in the
//! plan's warnings, errors returned as diagnostics that refuse the plan, one per VM. It must not change anything
//! live, print, or decide which operations a plan contains.

use std::collections::BTreeMap;

use super::status::{self, Finding, Gates, IpDemand, Severity};
use crate::addr::ResourceAddr;
use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::model::{Config, ResourceBody};
use crate::plan::{Action, Direction, GateFinding, Plan, ReadinessOptions};
use crate::provider::arm::ArmClient;
use crate::provider::model::{ProtectedItem, Snapshot};
use crate::provider::{ArmId, ProviderError};
use crate::state::State;

/// Whether a step of this kind is gated: operations that bring VMs up from recovery points.
fn gated(action: Action) -> bool {
    matches!(
        action,
        Action::Failover | Action::Failback | Action::TestFailover
    )
}

fn code(gate: &str) -> &'static str {
    match gate {
        "health" => "plan::readiness_health",
        "rpo" => "plan::readiness_rpo",
        "recovery_point" => "plan::readiness_recovery_point",
        "capacity" => "plan::readiness_capacity",
        _ => "plan::readiness",
    }
}

fn help(gate: &str) -> &'static str {
    match gate {
        "health" => {
            "fix the replication health errors (asrform status), or wait for replication to recover"
        }
        "rpo" => {
            "wait until replication catches up, or accept the data loss with a higher --max-rpo (or the recovery plan's max_rpo)"
        }
        "recovery_point" => "wait for initial replication to finish",
        "capacity" => {
            "free addresses in the target subnet, or give the VMs another target subnet or static IP"
        }
        _ => "",
    }
}

/// The addresses each VM of a step needs: one per configured NIC (or one for a VM without `nic` blocks) in the
/// subnet it fails over into (the target network for a failover, the test network for a test failover).
fn demands(
    config: &Config,
    address: &str,
    action: Action,
    network_override: Option<&str>,
) -> Vec<IpDemand> {
    let Ok(addr) = address.parse::<ResourceAddr>() else {
        return Vec::new();
    };
    let Some(ResourceBody::ProtectedVm(vm)) = config.get(&addr).map(|r| &r.body) else {
        return Vec::new();
    };
    let test = action == Action::TestFailover;
    let net_addr = if test {
        vm.test_network.as_ref().map(|n| &n.value)
    } else {
        Some(&vm.target_network.value)
    };
    let vnet = match (test, network_override) {
        (true, Some(n)) => ArmId::parse(n).ok(),
        _ => net_addr
            .and_then(|a| config.get(a))
            .and_then(|r| r.id.as_deref())
            .and_then(|i| ArmId::parse(i).ok()),
    };
    let Some(vnet) = vnet else {
        return Vec::new();
    };
    let default_subnet = vm.target_subnet.value.clone();
    if vm.nics.is_empty() {
        return vec![IpDemand {
            vm: address.to_string(),
            vnet,
            subnet: default_subnet,
            ip: None,
        }];
    }
    vm.nics
        .iter()
        .map(|n| {
            let (subnet, ip) = if test {
                (n.test_subnet.as_ref(), n.test_static_ip.as_ref())
            } else {
                (n.target_subnet.as_ref(), n.target_static_ip.as_ref())
            };
            IpDemand {
                vm: address.to_string(),
                vnet: vnet.clone(),
                subnet: subnet.map_or_else(|| default_subnet.clone(), |s| s.value.clone()),
                ip: ip.map(|i| i.value.to_string()),
            }
        })
        .collect()
}

/// Addresses in use per (lower-case VNet id, lower-case subnet name), from the NICs of the VNets' subscriptions.
async fn used_addresses(
    client: &ArmClient,
    demands: &[IpDemand],
) -> Result<BTreeMap<(String, String), u64>, ProviderError> {
    let mut subs: Vec<String> = demands
        .iter()
        .filter_map(|d| d.vnet.subscription().map(str::to_string))
        .collect();
    subs.sort();
    subs.dedup();
    let mut used: BTreeMap<(String, String), u64> = BTreeMap::new();
    for sub in subs {
        let nics: Vec<serde_json::Value> = client
            .list(&format!(
                "/subscriptions/{sub}/providers/Microsoft.Network/networkInterfaces"
            ))
            .await?;
        for nic in &nics {
            let configs = nic["properties"]["ipConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for c in configs {
                let Some(subnet) = c["properties"]["subnet"]["id"].as_str() else {
                    continue;
                };
                let lower = subnet.to_ascii_lowercase();
                if let Some((vnet, name)) = lower.split_once("/subnets/") {
                    *used
                        .entry((vnet.to_string(), name.to_string()))
                        .or_default() += 1;
                }
            }
        }
    }
    Ok(used)
}

/// Evaluates the gates for every gated DR step of `plan`, records the findings in the plan and returns the
/// blocking ones as diagnostics (empty when the plan may run).
pub async fn gate(
    client: &ArmClient,
    config: &Config,
    state: Option<&State>,
    snap: &Snapshot,
    plan: &mut Plan,
    opts: &ReadinessOptions,
) -> Result<Diagnostics, ProviderError> {
    let mut problems = Diagnostics::default();
    // Per gated change: address, action, direction, shut down the source, network, and its VMs (address, item id).
    type Step = (
        String,
        Action,
        Direction,
        bool,
        Option<String>,
        Vec<(String, String)>,
    );
    let steps: Vec<Step> = plan
        .effective_changes()
        .filter(|c| gated(c.action))
        .filter_map(|c| {
            let d = c.dr.as_ref()?;
            Some((
                c.address.clone(),
                c.action,
                d.direction,
                d.shut_down_source,
                d.network.clone(),
                d.vms
                    .iter()
                    .map(|v| (v.address.clone(), v.rpi_id.clone().unwrap_or_default()))
                    .collect(),
            ))
        })
        .collect();
    if steps.is_empty() {
        return Ok(problems);
    }
    let reports = opts
        .drill_reports
        .as_deref()
        .map(super::drill::load_reports)
        .unwrap_or_default();
    let vm_status = status::status(snap, state, &reports);
    let now = client.clock().now();
    let mut findings: Vec<GateFinding> = Vec::new();
    for (plan_addr, action, direction, shut_down, network, vms) in steps {
        let declared = plan_addr
            .parse::<ResourceAddr>()
            .ok()
            .and_then(|a| config.get(&a))
            .and_then(|r| match &r.body {
                ResourceBody::RecoveryPlan(p) => Some(p.clone()),
                _ => None,
            });
        let gates = Gates {
            max_rpo_secs: opts
                .max_rpo
                .or_else(|| {
                    declared
                        .as_ref()
                        .and_then(|p| p.max_rpo.as_ref().map(|d| d.value))
                })
                .map(|d| d.as_secs() as i64),
            max_drill_age_secs: declared
                .as_ref()
                .and_then(|p| p.max_drill_age.as_ref())
                .map(|d| d.value.as_secs() as i64),
        };
        // Only VMs that still have to come up are gated: in a resumed recovery plan the earlier groups already
        // run on the other side.
        let mut items: Vec<&ProtectedItem> = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut wanted = Vec::new();
        for (address, rpi) in &vms {
            let Some(item) = snap
                .protected_items
                .values()
                .find(|p| p.id.as_str().eq_ignore_ascii_case(rpi))
            else {
                continue;
            };
            if action != Action::TestFailover
                && item
                    .active_location
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case("Recovery"))
            {
                continue;
            }
            names.insert(
                item.friendly_name
                    .clone()
                    .unwrap_or_else(|| item.id.name().to_string()),
                address.clone(),
            );
            items.push(item);
            wanted.push(address.clone());
        }
        // The target subnet matters going out to the recovery network (a failback returns the VMs to their own
        // NICs in the primary region).
        let ip_demands: Vec<IpDemand> = if direction == Direction::PrimaryToRecovery {
            wanted
                .iter()
                .flat_map(|a| demands(config, a, action, network.as_deref()))
                .collect()
        } else {
            Vec::new()
        };
        let used = used_addresses(client, &ip_demands).await?;
        let found: Vec<Finding> =
            status::readiness(&items, snap, &vm_status, &ip_demands, &used, &gates, now);
        // An outage failover is what a critical replication health is for: it is shown, not blocking.
        let outage = matches!(action, Action::Failover | Action::Failback) && !shut_down;
        for f in found {
            let address =
                f.vm.split(", ")
                    .map(|n| names.get(n).cloned().unwrap_or_else(|| n.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ");
            let blocking = f.severity == Severity::Error && !(outage && f.gate == "health");
            if blocking {
                problems.push(
                    Diagnostic::error(
                        code(&f.gate),
                        format!(
                            "{address}: not ready for {} ({} gate): {}",
                            action.as_str().replace('_', " "),
                            f.gate.replace('_', " "),
                            f.message
                        ),
                    )
                    .help(help(&f.gate)),
                );
            } else {
                plan.warnings.push(format!(
                    "{address}: {} ({} gate)",
                    f.message,
                    f.gate.replace('_', " ")
                ));
            }
            findings.push(GateFinding {
                severity: if blocking { "error" } else { "warning" }.into(),
                gate: f.gate,
                address,
                message: f.message,
            });
        }
    }
    plan.readiness.gates.extend(findings);
    Ok(problems)
}
