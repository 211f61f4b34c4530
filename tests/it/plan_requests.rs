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
