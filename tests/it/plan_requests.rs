//! Requests a plan sends (limits.md §6 G1/G2, ARM-only): a zero-drift plan of an imported vault reads each resource
//! group only for the kinds of object the configuration has there, gets only the groups it declares, and lists a
//! vault's children only when the vault exists; the plan is still a no-op, and a missing vault still plans creates.

use std::collections::BTreeMap;

use asrform::import::SplitBy;
use asrform::plan::PlanOptions;
use asrform::sim::Simulator;

use crate::import_env;
use crate::import_small::{import_and_plan, sim_for};

/// Requests logged after `seq0`, by "METHOD operation".
fn by_op(sim: &Simulator, seq0: u64) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in sim.request_log().iter().filter(|e| e.seq > seq0) {
        *out.entry(format!("{} {}", e.method, e.operation))
            .or_insert(0) += 1;
    }
    out
}

/// The requests of a zero-drift plan read through Resource Graph (one page per query): the three queries and the
/// source region's probe (one ARM GET of a source VM).
fn graph_read_requests() -> BTreeMap<String, usize> {
    BTreeMap::from([
        ("GET VirtualMachines_Get".to_string(), 1),
        ("POST ResourceGraph_Resources".to_string(), 3),
    ])
}

/// The quickstart's vault built with raw ARM calls and imported; `edit` then changes the generated configuration,
/// and the plan of the result (without state) is returned with its snapshot and the requests it sent, by type.
async fn replan_imported(
    edit: impl FnOnce(&std::path::Path),
) -> (
    asrform::plan::Plan,
    asrform::provider::Snapshot,
    BTreeMap<String, usize>,
) {
    let (sim, client) = sim_for("quickstart");
    let vault = import_env::build(&client, &sim, &import_env::small()).await;
    sim.advance(std::time::Duration::from_secs(6 * 3600));
    let (dir, _, plan) =
        import_and_plan("quickstart", &client, &vault, SplitBy::RecoveryPlan).await;
    assert!(!plan.has_changes());
    edit(dir.path());
    let (loaded, graph) = crate::plan_env::load(dir.path());
    let seq0 = sim.world().log_seq;
    let (plan, snap) = asrform::apply::plan_live(
        &loaded.config,
        &graph,
        &client,
        None,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    (plan, snap, by_op(&sim, seq0))
}

#[tokio::test(start_paused = true)]
async fn a_zero_drift_plan_reads_only_the_kinds_the_configuration_has() {
    let (plan, _, ops) = replan_imported(|_| {}).await;
    let total: usize = ops.values().sum();
    // The vault: its GET and 7 lists. The target group `rg-app-dr` (declared: its GET, and its VNet list) and the
    // source group `rg-app` (the VMs and the cache account; not declared, so no GET: its lists prove it exists).
    assert_eq!(ops.get("GET ResourceGroups_Get"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("GET Vaults_Get"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("GET VirtualMachines_List"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("GET VirtualNetworks_List"), Some(&1), "{ops:?}");
    assert_eq!(
        ops.get("GET StorageAccounts_ListByResourceGroup"),
        Some(&1),
        "{ops:?}"
    );
    assert!(
        !ops.keys().any(|k| k.contains("AvailabilitySets")),
        "{ops:?}"
    );
    assert_eq!(total, 12, "{ops:?}");
    assert_eq!(
        plan.live_read, None,
        "ARM lists are Azure itself: no index age to report"
    );
    // Without state the plan adopts nothing, but it still sees every live object (no creates).
    assert!(
        plan.effective_changes()
            .all(|c| c.action != asrform::plan::Action::Create),
        "{:?}",
        plan.effective_changes()
            .map(|c| &c.address)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_vault_that_does_not_exist_is_not_listed_and_plans_creates() {
    // The same configuration with another vault name: that vault does not exist.
    let (plan, snap, ops) = replan_imported(|dir| {
        let main = dir.join("main.asr.hcl");
        let text = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, text.replace("\"rsv-app-dr\"", "\"rsv-app-dr-new\"")).unwrap();
    })
    .await;
    assert_eq!(ops.get("GET Vaults_Get"), Some(&1), "{ops:?}");
    assert!(
        !ops.keys().any(|k| k.contains("Replication")),
        "no child list of a vault that does not exist: {ops:?}"
    );
    assert!(
        snap.missing_scopes
            .iter()
            .any(|s| s.ends_with("rsv-app-dr-new"))
    );
    let creates: Vec<&str> = plan
        .effective_changes()
        .filter(|c| c.action == asrform::plan::Action::Create)
        .map(|c| c.address.as_str())
        .collect();
    assert!(creates.contains(&"vault.rsv_app_dr"), "{creates:?}");
    assert!(
        creates.iter().any(|a| a.starts_with("protected_vm.")),
        "{creates:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn several_declared_groups_of_one_subscription_are_read_with_one_list() {
    let (plan, snap, ops) = replan_imported(|dir| {
        std::fs::write(
            dir.join("extra.asr.hcl"),
            "resource_group \"extra\" {\n  name     = \"rg-extra\"\n  location = \"westus2\"\n}\n",
        )
        .unwrap();
    })
    .await;
    assert_eq!(ops.get("GET ResourceGroups_List"), Some(&1), "{ops:?}");
    assert_eq!(ops.get("GET ResourceGroups_Get"), None, "{ops:?}");
    // The group that exists is read (no change to it); the new one is missing, so it is created.
    assert!(
        snap.resource_groups
            .keys()
            .any(|g| g.as_str().ends_with("rg-app-dr"))
    );
    assert!(snap.missing_scopes.iter().any(|s| s.ends_with("rg-extra")));
    let changed: Vec<(&str, asrform::plan::Action)> = plan
        .effective_changes()
        .filter(|c| c.address.starts_with("resource_group."))
        .map(|c| (c.address.as_str(), c.action))
        .collect();
    assert_eq!(
        changed,
        vec![("resource_group.extra", asrform::plan::Action::Create)]
    );
}

/// `vms` VMs in `subs` vaults/subscriptions (the benches' fast setup), imported into one configuration with adopted
/// state, as a plan environment with 100 ms latency and ARM throttling; the clock is an hour past the adoption.
async fn fleet_env(vms: usize, subs: usize) -> crate::plan_env::Env {
    use asrform::state::StateStore;
    let fleet = crate::bench_vaults::build(&crate::bench_vaults::FleetSpec {
        vms,
        subscriptions: subs,
        seed: 7,
        vault: "rsv-arg",
        cache: "stcachearg",
    })
    .await;
    let (files, snap) = crate::bench_vaults::import_all(&fleet).await;
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in &files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let (loaded, graph) = crate::plan_env::load(tmp.path());
    let state = asrform::import::adopt(&loaded.config, &snap, fleet.sim.now());
    let store = std::sync::Arc::new(asrform::state::memory::MemoryStore::new());
    store.write(&state, None).await.unwrap();
    {
        let mut w = fleet.sim.world();
        w.config.latency_ms = 100;
        w.config.throttling = true;
    }
    fleet.sim.advance(std::time::Duration::from_secs(3600));
    crate::plan_env::Env {
        tmp,
        sim: fleet.sim,
        client: fleet.client,
        loaded,
        graph,
        store,
    }
}

#[tokio::test(start_paused = true)]
async fn a_plan_over_many_vaults_reads_through_resource_graph_and_sees_what_arm_lists_see() {
    use asrform::provider::arm::snapshot::{self, Strategy};
    let env = fleet_env(40, 4).await;
    let req = asrform::plan::snapshot_request(&env.loaded.config);
    assert!(
        snapshot::arm_request_estimate(&req) > snapshot::GRAPH_ABOVE_REQUESTS,
        "4 vaults are above the ARG threshold: {}",
        snapshot::arm_request_estimate(&req)
    );
    let seq0 = env.sim.world().log_seq;
    let t0 = env.sim.now();
    let plan = env.plan().await;
    let ops = by_op(&env.sim, seq0);
    assert!(
        !plan.has_changes(),
        "{:?}",
        plan.effective_changes()
            .map(|c| &c.address)
            .collect::<Vec<_>>()
    );
    // Three queries (resources and vaults; the vaults' ASR objects; resource groups), one page each, and one ARM
    // request: the source region's probe (a source VM's GET). Nothing differs, so nothing is confirmed. ARM lists
    // would need 8 per vault.
    assert_eq!(ops, graph_read_requests(), "{ops:?}");
    // The three queries run concurrently: one 500 ms page of wall time, then the region probe's 100 ms GET (it
    // needs the source VMs the index returned).
    assert_eq!(env.sim.now() - t0, time::Duration::milliseconds(600));
    // The same objects as the ARM lists.
    let graph = snapshot::read_with(&env.client, &req, Strategy::Graph)
        .await
        .unwrap();
    let arm = snapshot::read_with(&env.client, &req, Strategy::ArmLists)
        .await
        .unwrap();
    assert!(graph.graph_read_at.is_some() && arm.graph_read_at.is_none());
    fn keys<V>(m: &BTreeMap<asrform::provider::ArmId, V>) -> Vec<String> {
        m.keys().map(|k| k.as_str().to_ascii_lowercase()).collect()
    }
    assert_eq!(keys(&graph.vaults), keys(&arm.vaults));
    assert_eq!(keys(&graph.resource_groups), keys(&arm.resource_groups));
    assert_eq!(keys(&graph.resources), keys(&arm.resources));
    assert_eq!(keys(&graph.fabrics), keys(&arm.fabrics));
    assert_eq!(keys(&graph.containers), keys(&arm.containers));
    assert_eq!(keys(&graph.policies), keys(&arm.policies));
    assert_eq!(
        keys(&graph.container_mappings),
        keys(&arm.container_mappings)
    );
    assert_eq!(keys(&graph.network_mappings), keys(&arm.network_mappings));
    assert_eq!(keys(&graph.protected_items), keys(&arm.protected_items));
    assert_eq!(keys(&graph.recovery_plans), keys(&arm.recovery_plans));
    assert_eq!(graph.protected_items.len(), 40);
    assert_eq!(graph.missing_scopes, arm.missing_scopes);
    for (id, a) in &arm.protected_items {
        let g = &graph.protected_items[id];
        assert_eq!(
            (
                &g.target_vm_size,
                &g.protection_state,
                &g.policy_id,
                &g.disks.len()
            ),
            (
                &a.target_vm_size,
                &a.protection_state,
                &a.policy_id,
                &a.disks.len()
            ),
            "{id}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_index_row_after_an_apply_does_not_make_a_wrong_plan() {
    fn changed(plan: &asrform::plan::Plan) -> Vec<&str> {
        plan.effective_changes()
            .map(|c| c.address.as_str())
            .collect()
    }
    use asrform::provider::arm::snapshot::{self, Strategy};
    let mut env = fleet_env(40, 4).await;
    // The index lags every change by 10 minutes from now on.
    env.sim.world().config.graph.lag_secs = 600;
    env.edit(
        "recovery_point_retention = \"24h\"",
        "recovery_point_retention = \"48h\"",
    );
    let plan = env.plan().await;
    assert_eq!(changed(&plan), ["replication_policy.policy_24h"]);
    env.apply(&plan, asrform::apply::WaitFor::Accepted).await;
    let policy_of = |s: &asrform::provider::Snapshot| {
        s.policies
            .values()
            .find(|p| p.id.as_str().ends_with("/replicationPolicies/policy-24h"))
            .and_then(|p| p.recovery_point_history_minutes)
    };
    // The index still shows the policy as it was before the apply…
    let req = asrform::plan::snapshot_request(&env.loaded.config);
    let stale = snapshot::read_with(&env.client, &req, Strategy::Graph)
        .await
        .unwrap();
    assert_eq!(policy_of(&stale), Some(24 * 60), "the lag is in effect");
    // …yet the plan is a no-op: the row differs from the configuration, so it was re-read with a GET.
    let seq0 = env.sim.world().log_seq;
    let plan = env.plan().await;
    assert!(
        !plan.has_changes(),
        "{:?}",
        plan.effective_changes()
            .map(|c| &c.address)
            .collect::<Vec<_>>()
    );
    let ops = by_op(&env.sim, seq0);
    assert_eq!(ops.get("POST ResourceGraph_Resources"), Some(&3), "{ops:?}");
    assert_eq!(
        ops.get("GET ReplicationPolicies_Get"),
        Some(&1),
        "only the object asrform just changed is confirmed: {ops:?}"
    );
    // The plan says how it read Azure: when the index was queried and how much was re-read from ARM (G2).
    let read = plan
        .live_read
        .as_ref()
        .expect("read through Resource Graph");
    assert_eq!(
        (read.source.as_str(), read.confirmed),
        ("resource_graph", 1)
    );
    assert!(read.age_seconds < 60, "{read:?}");
    let text = asrform::plan::render::text(&plan, Default::default());
    assert!(
        text.contains(&format!(
            "Live state: read from Azure Resource Graph at {}",
            read.read_at
        )) && text.contains("1 object re-read from ARM"),
        "{text}"
    );
    assert!(asrform::plan::render::markdown(&plan, "t").contains("Azure Resource Graph"));
    // Reverting the configuration to the value the stale row shows: the row agrees with the configuration, but
    // state says asrform changed the policy minutes ago, so it is re-read and the plan changes it back.
    env.edit(
        "recovery_point_retention = \"48h\"",
        "recovery_point_retention = \"24h\"",
    );
    let plan = env.plan().await;
    assert_eq!(changed(&plan), ["replication_policy.policy_24h"]);
    // Once the index has caught up and the change is no longer recent, ARG alone decides a no-drift plan (beside the
    // source region's probe).
    env.sim.advance(std::time::Duration::from_secs(3600));
    env.edit(
        "recovery_point_retention = \"24h\"",
        "recovery_point_retention = \"48h\"",
    );
    let seq0 = env.sim.world().log_seq;
    let plan = env.plan().await;
    assert!(!plan.has_changes());
    let ops = by_op(&env.sim, seq0);
    assert_eq!(ops, graph_read_requests(), "{ops:?}");
}

/// A snapshot read through Resource Graph.
async fn graph_read(
    env: &crate::plan_env::Env,
    req: &asrform::provider::SnapshotRequest,
) -> asrform::provider::Snapshot {
    use asrform::provider::arm::snapshot::{self, Strategy};
    snapshot::read_with(&env.client, req, Strategy::Graph)
        .await
        .unwrap()
}

/// Asserts that a plan warns that `region` could not be read.
async fn assert_plan_warns_region_down(env: &crate::plan_env::Env, region: &str) {
    let plan = env.plan().await;
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains(&format!("region {}", region.to_ascii_lowercase()))),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn a_region_down_is_found_by_a_resource_graph_read_as_by_arm_lists() {
    use asrform::provider::arm::snapshot::{self, Strategy};
    let env = fleet_env(40, 4).await;
    let req = asrform::plan::snapshot_request(&env.loaded.config);
    let seq0 = env.sim.world().log_seq;
    let up = graph_read(&env, &req).await;
    assert!(
        up.unreachable_regions.is_empty(),
        "{:?}",
        up.unreachable_regions
    );
    // One ARM GET of a source VM per primary region asks the region itself (the index alone cannot tell).
    let ops = by_op(&env.sim, seq0);
    assert_eq!(ops.get("GET VirtualMachines_Get"), Some(&1), "{ops:?}");
    let region = up
        .protected_items
        .values()
        .find_map(|p| p.primary_location.clone())
        .expect("protected items");
    env.sim.set_outage(&region, true);
    let down = graph_read(&env, &req).await;
    // The index still lists the region's objects (unknown, not absent), and the region is marked unreachable, as
    // the ARM lists mark it.
    assert_eq!(down.protected_items.len(), up.protected_items.len());
    assert!(
        down.unreachable_regions
            .contains(&region.to_ascii_lowercase())
    );
    let arm = snapshot::read_with(&env.client, &req, Strategy::ArmLists)
        .await
        .unwrap();
    assert!(
        arm.unreachable_regions
            .contains(&region.to_ascii_lowercase())
    );
    assert_plan_warns_region_down(&env, &region).await;
}

/// After a failover the workloads run in the recovery region, which a failback leaves: a Resource Graph read probes
/// that region too (with the failed-over VM), so a recovery region that is down is found as the primary one is.
#[tokio::test(start_paused = true)]
async fn a_recovery_region_down_after_a_failover_is_found_by_a_resource_graph_read() {
    use asrform::sim::SimRequest;
    let env = fleet_env(40, 4).await;
    let req = asrform::plan::snapshot_request(&env.loaded.config);
    let before = graph_read(&env, &req).await;
    let item = before
        .protected_items
        .values()
        .next()
        .expect("protected items")
        .clone();
    let recovery = item.recovery_location.clone().expect("recovery region");
    let body = serde_json::json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}});
    let url = format!(
        "https://management.azure.com{}/unplannedFailover?api-version=2025-08-01",
        item.id.as_str()
    );
    let r = env
        .sim
        .handle(SimRequest::new("POST", &url, Some(body)))
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    env.sim.advance(std::time::Duration::from_secs(3600));

    let seq0 = env.sim.world().log_seq;
    let up = graph_read(&env, &req).await;
    let failed_over = up
        .protected_items
        .values()
        .find(|p| p.lifecycle_id == item.lifecycle_id)
        .expect("the item");
    assert_eq!(failed_over.active_location.as_deref(), Some("Recovery"));
    assert!(failed_over.recovery_vm_id.is_some());
    assert!(
        up.unreachable_regions.is_empty(),
        "{:?}",
        up.unreachable_regions
    );
    // One probe per region a workload runs in: the primary region's source VM, the recovery region's failed-over VM.
    let ops = by_op(&env.sim, seq0);
    assert_eq!(ops.get("GET VirtualMachines_Get"), Some(&2), "{ops:?}");

    env.sim.set_outage(&recovery, true);
    let down = graph_read(&env, &req).await;
    assert!(
        down.unreachable_regions
            .contains(&recovery.to_ascii_lowercase()),
        "{:?}",
        down.unreachable_regions
    );
    // The plan says so (and a failback would be planned as leaving a region that is down).
    assert_plan_warns_region_down(&env, &recovery).await;
}
