//! Scale: 10,000 protected VMs from a generated inventory (for_each over a csvdecode'd map) load and graph, with the
//! edges each instance should have and none it should not.

use asrform::addr::ResourceAddr;
use asrform::config::{self, EdgeReason, LoadOptions};
use asrform::graph;

#[test]
fn graph_scale_ten_thousand_protected_vms() {
    let loaded = match config::load_sources(
        config::synthetic::inventory_fleet(10_000),
        &LoadOptions::default(),
    ) {
        Ok(l) => l,
        Err(d) => panic!(
            "{:?}",
            d.iter()
                .take(3)
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
        ),
    };
    let c = &loaded.config;
    assert_eq!(c.protected_vms().count(), 10_000);
    let g = graph::build(c).unwrap();
    assert_eq!(g.len(), 10_000 + 4 + 1 + 1 + 1 + 1 + 4 + 1);
    let vm: ResourceAddr = "protected_vm.vm[\"vm00005\"]".parse().unwrap();
    let deps: Vec<String> = g
        .dependencies(&vm)
        .into_iter()
        .map(|(a, _)| a.to_string())
        .collect();
    // Sub 2 (index 5 % 4 + 1): exactly its own cache account and resource group, not the other three.
    assert_eq!(
        deps,
        [
            "resource_group.dr[\"00000000-0000-0000-0000-000000000002\"]",
            "virtual_network.dr",
            "storage_account.cache[\"00000000-0000-0000-0000-000000000002\"]",
            "region_pair.primary",
        ]
    );
    let plan: ResourceAddr = "recovery_plan.first".parse().unwrap();
    let plan_deps = g.dependencies(&plan);
    assert_eq!(
        plan_deps
            .iter()
            .filter(|(a, r)| a.kind == asrform::addr::ResourceKind::ProtectedVm
                && *r == EdgeReason::Reference)
            .count(),
        50
    );
    let order = g.topo_order();
    assert_eq!(order.len(), g.len());
    assert_eq!(
        order.last().map(|a| a.to_string()),
        Some("recovery_plan.first".into())
    );
}
