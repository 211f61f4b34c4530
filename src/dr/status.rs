//! DR posture: per-VM status (health, RPO, latest recovery point, active site, last successful drill) and the
//! readiness gates that plan and apply evaluate before a failover or drill.
//!
//! Pure: a live snapshot, the state and drill reports come in as values, with "now" as an argument; no I/O, no
//! clock. Reading drill reports from disk lives in `drill`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::drill::DrillReport;
use crate::provider::ArmId;
use crate::provider::model::{ProtectedItem, Snapshot};
use crate::state::{Site, State};

/// One VM's DR status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmStatus {
    /// Friendly name (or RPI name).
    pub vm: String,
    /// State address of the protected VM, when state knows it.
    pub address: Option<String>,
    /// Current RPI id.
    pub rpi: String,
    /// Replication health (`Normal`, `Warning`, `Critical`).
    pub replication_health: Option<String>,
    /// `protectionState`.
    pub protection_state: Option<String>,
    /// RPO in seconds.
    pub rpo_seconds: Option<i64>,
    /// Time of the latest recovery point (`lastRpoCalculatedTime - rpoInSeconds`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub latest_recovery_point: Option<OffsetDateTime>,
    /// Active site: from state when recorded, else from ASR's `activeLocation`.
    pub active_site: Option<String>,
    /// Last successful drill: the newer of the drill reports and ASR's `lastSuccessfulTestFailoverTime`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_successful_drill: Option<OffsetDateTime>,
}

/// Per-VM status of every protected item in the snapshot, ordered by name.
pub fn status(
    snapshot: &Snapshot,
    state: Option<&State>,
    reports: &[DrillReport],
) -> Vec<VmStatus> {
    // lifecycle id -> (address, active site) from state.
    let mut by_lifecycle: BTreeMap<String, (String, Option<Site>)> = BTreeMap::new();
    if let Some(st) = state {
        for (addr, r) in &st.resources {
            if let Some(l) = &r.lifecycle_id {
                by_lifecycle.insert(l.to_ascii_lowercase(), (addr.clone(), r.active_site));
            }
        }
    }
    let mut drills: BTreeMap<String, OffsetDateTime> = BTreeMap::new();
    for r in reports.iter().filter(|r| r.succeeded) {
        for v in &r.vms {
            for k in [v.lifecycle_id.clone(), Some(v.rpi.clone())]
                .into_iter()
                .flatten()
            {
                let e = drills.entry(k.to_ascii_lowercase()).or_insert(r.ended);
                if r.ended > *e {
                    *e = r.ended;
                }
            }
        }
    }
    let mut out: Vec<VmStatus> = snapshot
        .protected_items
        .values()
        .map(|p| {
            let lc = p.lifecycle_id.as_deref().map(str::to_ascii_lowercase);
            let st = lc.as_ref().and_then(|l| by_lifecycle.get(l));
            let from_reports = [lc.clone(), Some(p.id.as_str().to_ascii_lowercase())]
                .into_iter()
                .flatten()
                .filter_map(|k| drills.get(&k).copied())
                .max();
            VmStatus {
                vm: p
                    .friendly_name
                    .clone()
                    .unwrap_or_else(|| p.id.name().to_string()),
                address: st.map(|(a, _)| a.clone()),
                rpi: p.id.to_string(),
                replication_health: p.replication_health.clone(),
                protection_state: p.protection_state.clone(),
                rpo_seconds: p.rpo_seconds,
                latest_recovery_point: latest_point(p),
                active_site: st
                    .and_then(|(_, s)| s.map(|s| s.to_string()))
                    .or_else(|| p.active_location.clone()),
                last_successful_drill: from_reports.max(p.last_successful_test_failover),
            }
        })
        .collect();
    out.sort_by(|a, b| a.vm.cmp(&b.vm).then(a.rpi.cmp(&b.rpi)));
    out
}

/// `lastRpoCalculatedTime - rpoInSeconds`: the time of the newest data ASR has as a point.
pub fn latest_point(p: &ProtectedItem) -> Option<OffsetDateTime> {
    Some(p.last_rpo_calculated? - time::Duration::seconds(p.rpo_seconds?))
}

/// Severity of a readiness finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks the operation.
    Error,
    /// Shown, does not block.
    Warning,
}

/// One readiness finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The VM (or the subnet, for capacity findings).
    pub vm: String,
    /// Which gate: `health`, `rpo`, `recovery_point`, `capacity`, `drill_age`.
    pub gate: String,
    /// What is wrong.
    pub message: String,
}

/// Thresholds of the readiness gates.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// Maximum RPO in seconds (`--max-rpo`); `None` disables the gate.
    pub max_rpo_secs: Option<i64>,
    /// Maximum age of the last successful drill in seconds (warning); `None` disables the gate.
    pub max_drill_age_secs: Option<i64>,
}

/// A static IP a VM needs in a target subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpDemand {
    /// The VM.
    pub vm: String,
    /// Target VNet.
    pub vnet: ArmId,
    /// Subnet name.
    pub subnet: String,
    /// Static IP wanted, if any (counted as a demand for one address either way).
    pub ip: Option<String>,
}

/// Evaluates the readiness gates for `items` (pure). `used_ips` counts addresses already in use per
/// (lower-case VNet id, lower-case subnet name), read from live state by the caller.
pub fn readiness(
    items: &[&ProtectedItem],
    snapshot: &Snapshot,
    status: &[VmStatus],
    demands: &[IpDemand],
    used_ips: &BTreeMap<(String, String), u64>,
    gates: &Gates,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = |p: &ProtectedItem| {
        p.friendly_name
            .clone()
            .unwrap_or_else(|| p.id.name().to_string())
    };
    for p in items {
        let vm = name(p);
        let mut push = |severity, gate: &str, message: String| {
            out.push(Finding {
                severity,
                vm: vm.clone(),
                gate: gate.into(),
                message,
            })
        };
        if p.replication_health
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case("Critical"))
        {
            let why = p
                .health_errors
                .first()
                .map(|e| format!(": {}", e.message))
                .unwrap_or_default();
            push(
                Severity::Error,
                "health",
                format!("replication health is Critical{why}"),
            );
        }
        if let (Some(max), Some(rpo)) = (gates.max_rpo_secs, p.rpo_seconds)
            && rpo > max
        {
            push(
                Severity::Error,
                "rpo",
                format!("RPO is {rpo}s, above the {max}s threshold"),
            );
        }
        match latest_point(p) {
            None => push(
                Severity::Error,
                "recovery_point",
                "no recovery point is available yet".into(),
            ),
            Some(t) if t > now => {}
            Some(_) => {}
        }
        if let Some(max) = gates.max_drill_age_secs {
            let last = status
                .iter()
                .find(|s| s.rpi.eq_ignore_ascii_case(p.id.as_str()))
                .and_then(|s| s.last_successful_drill);
            match last {
                None => push(
                    Severity::Warning,
                    "drill_age",
                    "never drilled successfully".into(),
                ),
                Some(t) if (now - t).whole_seconds() > max => push(
                    Severity::Warning,
                    "drill_age",
                    format!(
                        "last successful drill was {} ago (limit {})",
                        super::points::human(std::time::Duration::from_secs(
                            (now - t).whole_seconds() as u64
                        )),
                        super::points::human(std::time::Duration::from_secs(max as u64))
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    // Capacity: free addresses per target subnet versus the VMs that need one.
    let mut need: BTreeMap<(String, String), Vec<&IpDemand>> = BTreeMap::new();
    for d in demands {
        need.entry((
            d.vnet.as_str().to_ascii_lowercase(),
            d.subnet.to_ascii_lowercase(),
        ))
        .or_default()
        .push(d);
    }
    for ((vnet, subnet), ds) in need {
        let Some(res) = snapshot.resources.get(&ds[0].vnet) else {
            out.push(Finding {
                severity: Severity::Error,
                vm: ds[0].vm.clone(),
                gate: "capacity".into(),
                message: format!("target VNet {} was not found", ds[0].vnet),
            });
            continue;
        };
        let Some(prefix) = res
            .subnets
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&subnet))
            .and_then(|(_, p)| p.first())
        else {
            out.push(Finding {
                severity: Severity::Error,
                vm: ds[0].vm.clone(),
                gate: "capacity".into(),
                message: format!("subnet '{}' does not exist in {}", ds[0].subnet, ds[0].vnet),
            });
            continue;
        };
        let Ok(net) = prefix.parse::<ipnet::IpNet>() else {
            continue;
        };
        // Azure reserves five addresses per subnet.
        let size: u64 = match net {
            ipnet::IpNet::V4(n) => 1u64 << (32 - n.prefix_len() as u32),
            ipnet::IpNet::V6(_) => u64::MAX,
        };
        let usable = size.saturating_sub(5);
        let used = used_ips
            .get(&(vnet.clone(), subnet.clone()))
            .copied()
            .unwrap_or(0);
        let free = usable.saturating_sub(used);
        if (ds.len() as u64) > free {
            out.push(Finding {
                severity: Severity::Error,
                vm: ds
                    .iter()
                    .map(|d| d.vm.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                gate: "capacity".into(),
                message: format!(
                    "subnet '{}' ({prefix}) has {free} free addresses, {} VMs need one",
                    ds[0].subnet,
                    ds.len()
                ),
            });
        }
        for d in &ds {
            if let Some(ip) = d.ip.as_deref() {
                match ip.parse::<std::net::IpAddr>() {
                    Ok(a) if net.contains(&a) => {}
                    _ => out.push(Finding {
                        severity: Severity::Error,
                        vm: d.vm.clone(),
                        gate: "capacity".into(),
                        message: format!(
                            "static IP {ip} is not inside subnet '{}' ({prefix})",
                            d.subnet
                        ),
                    }),
                }
            }
        }
    }
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.vm.cmp(&b.vm)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::model::Resource;
    use time::macros::datetime;

    fn item(name: &str, health: &str, rpo: Option<i64>) -> ProtectedItem {
        let id = ArmId::parse(&format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/{name}"
        ))
        .unwrap();
        ProtectedItem {
            id,
            lifecycle_id: Some(format!("lc-{name}")),
            instance_type: Some("A2A".into()),
            source_vm_id: None,
            friendly_name: Some(name.into()),
            policy_id: None,
            recovery_container_id: None,
            recovery_fabric_id: None,
            protection_state: Some("Protected".into()),
            vm_protection_state: Some("Protected".into()),
            active_location: Some("Primary".into()),
            replication_health: Some(health.into()),
            failover_health: None,
            health_errors: vec![],
            rpo_seconds: rpo,
            last_rpo_calculated: rpo.map(|_| datetime!(2026-03-01 12:00 UTC)),
            allowed_operations: Default::default(),
            current_scenario: None,
            test_failover_state: None,
            last_successful_failover: None,
            last_successful_test_failover: Some(datetime!(2026-01-01 00:00 UTC)),
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
            primary_location: None,
            recovery_location: None,
            etag: None,
        }
    }

    #[test]
    fn status_takes_latest_point_and_newer_drill() {
        let mut snap = Snapshot::default();
        let a = item("a", "Normal", Some(120));
        snap.protected_items.insert(a.id.clone(), a);
        let s = status(&snap, None, &[]);
        assert_eq!(
            s[0].latest_recovery_point,
            Some(datetime!(2026-03-01 11:58 UTC))
        );
        assert_eq!(
            s[0].last_successful_drill,
            Some(datetime!(2026-01-01 00:00 UTC))
        );
        assert_eq!(s[0].active_site.as_deref(), Some("Primary"));
    }

    #[test]
    fn gates_find_health_rpo_point_drill_and_capacity() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let bad = item("bad", "Critical", Some(900));
        let fresh = item("fresh", "Normal", None);
        let vnet = ArmId::parse(
            "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Network/virtualNetworks/v",
        )
        .unwrap();
        let mut snap = Snapshot::default();
        snap.resources.insert(
            vnet.clone(),
            Resource {
                id: vnet.clone(),
                kind: "Microsoft.Network/virtualNetworks".into(),
                location: "westus".into(),
                zones: vec![],
                sku: None,
                vm_size: None,
                address_prefixes: vec!["10.0.0.0/16".into()],
                subnets: [("app".to_string(), vec!["10.0.1.0/29".to_string()])].into(),
                tags: Default::default(),
                etag: None,
            },
        );
        let st = status(&snap, None, &[]);
        let demands = vec![
            IpDemand {
                vm: "bad".into(),
                vnet: vnet.clone(),
                subnet: "app".into(),
                ip: Some("10.0.1.4".into()),
            },
            IpDemand {
                vm: "fresh".into(),
                vnet: vnet.clone(),
                subnet: "app".into(),
                ip: Some("10.0.2.9".into()),
            },
        ];
        let used = [(
            (vnet.as_str().to_ascii_lowercase(), "app".to_string()),
            2u64,
        )]
        .into();
        let gates = Gates {
            max_rpo_secs: Some(600),
            max_drill_age_secs: Some(86_400 * 30),
        };
        let f = readiness(&[&bad, &fresh], &snap, &st, &demands, &used, &gates, now);
        let has = |vm: &str, gate: &str, sev| {
            f.iter()
                .any(|x| x.vm.contains(vm) && x.gate == gate && x.severity == sev)
        };
        assert!(has("bad", "health", Severity::Error), "{f:#?}");
        assert!(has("bad", "rpo", Severity::Error), "{f:#?}");
        assert!(has("fresh", "recovery_point", Severity::Error), "{f:#?}");
        assert!(has("bad", "drill_age", Severity::Warning), "{f:#?}");
        // /29 = 8 addresses, 5 reserved, 2 used: 1 free for 2 VMs.
        assert!(
            f.iter()
                .any(|x| x.gate == "capacity" && x.message.contains("1 free addresses")),
            "{f:#?}"
        );
        assert!(has("fresh", "capacity", Severity::Error), "{f:#?}");
        assert!(!f.iter().any(|x| x.vm == "fresh" && x.gate == "rpo"));
    }
}
