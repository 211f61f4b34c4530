//! `import` of a small vault built with raw ARM calls: golden HCL, a plan on the result that is a no-op, no write
//! request sent, and no file overwritten without `--force`.

use std::sync::Arc;

use asrform::clock::ScaledClock;
use asrform::import::{self, ImportOptions, SplitBy};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{PlanOptions, diff};
use asrform::sim::{SimConfig, Simulator};
use insta::assert_snapshot;

use crate::common;
use crate::import_env::{self, SUB, id};

pub const PROVIDER: &str = "provider \"simulator\" {\n  estate = \"estate.json\"\n}";

pub fn sim_for(example: &str) -> (Simulator, asrform::provider::arm::ArmClient) {
    let e =
        asrform::estate::load(&common::path(&format!("examples/{example}/estate.json"))).unwrap();
    let clock = Arc::new(ScaledClock::new(
        time::macros::datetime!(2026-03-01 00:00 UTC),
        1.0,
    ));
    let sim = Simulator::from_estate(&e, clock, SimConfig::default());
    let client = asrform::cli::session::sim_client(&sim);
    (sim, client)
}

/// Imports `vault` into a fresh directory holding the example's estate; returns the directory, the generated
/// files and the plan on the result.
pub async fn import_and_plan(
    example: &str,
    client: &asrform::provider::arm::ArmClient,
    vault: &str,
    split: SplitBy,
) -> (tempfile::TempDir, import::Generated, asrform::plan::Plan) {
    let snap = import::io::read(client, &id(vault)).await.unwrap();
    let mut opts = ImportOptions::new(id(vault), PROVIDER);
    opts.default_subscription = Some(SUB.into());
    opts.split_by = split;
    let generated = import::generate(&snap, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::path(&format!("examples/{example}/estate.json")),
        dir.path().join("estate.json"),
    )
    .unwrap();
    import::io::write(dir.path(), &generated, false).unwrap();
    let (loaded, graph) = crate::plan_env::load(dir.path());
    let state = import::adopt(&loaded.config, &snap, client.clock().now());
    let (plan, _) = asrform::apply::plan_live(
        &loaded.config,
        &graph,
        client,
        Some(&state),
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    // The same snapshot, diffed purely, agrees.
    let again = diff(
        &loaded.config,
        &graph,
        &snap,
        Some(&state),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(again.has_changes(), plan.has_changes());
    (dir, generated, plan)
}

#[tokio::test(start_paused = true)]
async fn a_small_vault_imports_to_golden_hcl_and_plans_to_no_op() {
    let (sim, client) = sim_for("quickstart");
    let spec = import_env::small();
    let vault = import_env::build(&client, &sim, &spec).await;
    sim.advance(std::time::Duration::from_secs(6 * 3600));

    let writes_before = sim
        .request_log()
        .iter()
        .filter(|e| e.method != "GET")
        .count();
    let (dir, generated, plan) =
        import_and_plan("quickstart", &client, &vault, SplitBy::RecoveryPlan).await;
    let writes_after = sim
        .request_log()
        .iter()
        .filter(|e| e.method != "GET")
        .count();
    assert_eq!(writes_before, writes_after, "import sent a write request");

    assert!(
        !plan.has_changes(),
        "{}",
        render::text(&plan, TextOptions::default())
    );
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    for (name, text) in &generated.files {
        assert_snapshot!(format!("import_small_{name}"), text);
        if name.ends_with(".hcl") {
            assert_eq!(
                &asrform::fmt::format_source(text).unwrap(),
                text,
                "{name} is not canonical"
            );
        }
    }
    // Refuses to overwrite without --force, and writes nothing.
    let err = import::io::write(dir.path(), &generated, false).unwrap_err();
    assert!(matches!(err, import::ImportError::Exists(_)), "{err}");
    import::io::write(dir.path(), &generated, true).unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_fleet_with_a_failed_over_recovery_plan_imports_to_a_no_op_plan() {
    let (sim, client) = sim_for("fleet");
    let spec = import_env::fleet();
    let vault = import_env::build(&client, &sim, &spec).await;
    // Initial replication, then fail the finance plan's VMs over (commit pending) with raw ARM calls.
    sim.advance(std::time::Duration::from_secs(48 * 3600));
    let finance = spec
        .plans
        .iter()
        .find(|(n, _)| n == "rp-finance")
        .unwrap()
        .1
        .concat();
    for vm in &finance {
        let rpi = asrform::config::naming::protected_item_id(&vault, "eastus", vm);
        client
            .unplanned_failover(&id(&rpi), "PrimaryToRecovery", true, None)
            .await
            .unwrap();
    }

    let writes = |sim: &Simulator| {
        sim.request_log()
            .iter()
            .filter(|e| e.method != "GET")
            .count()
    };
    let before = writes(&sim);
    let (dir, generated, plan) =
        import_and_plan("fleet", &client, &vault, SplitBy::RecoveryPlan).await;
    assert_eq!(before, writes(&sim), "import sent a write request");
    assert!(
        !plan.has_changes(),
        "{}",
        render::text(&plan, TextOptions::default())
    );
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    for (name, text) in generated.files.iter().filter(|(n, _)| n.ends_with(".hcl")) {
        assert_eq!(
            &asrform::fmt::format_source(text).unwrap(),
            text,
            "{name} would fail fmt --check"
        );
    }
    // Shared shapes became for_each blocks over CSV inventories: one per recovery plan here.
    let csvs: Vec<&String> = generated
        .files
        .keys()
        .filter(|f| f.ends_with(".csv"))
        .collect();
    assert_eq!(csvs.len(), 3, "{csvs:?}");
    let text = generated
        .files
        .get("rp_finance.asr.hcl")
        .unwrap_or_else(|| panic!("{:?}", generated.files.keys()));
    assert!(text.contains("for_each"), "{text}");
    assert!(text.contains("# live: failed over"), "{text}");
    // The state records the finance plan and its VMs as running in the recovery region.
    let (loaded, _) = crate::plan_env::load(dir.path());
    let snap = import::io::read(&client, &id(&vault)).await.unwrap();
    let state = import::adopt(&loaded.config, &snap, client.clock().now());
    assert_eq!(
        state.resources["recovery_plan.rp_finance"].active_site,
        Some(asrform::state::Site::Recovery)
    );
    assert_eq!(
        state.resources["recovery_plan.rp_retail"].active_site,
        Some(asrform::state::Site::Primary)
    );
    let recovered = state
        .resources
        .values()
        .filter(|r| {
            r.kind == "protected_vm" && r.active_site == Some(asrform::state::Site::Recovery)
        })
        .count();
    assert_eq!(recovered, finance.len());
    assert!(
        state
            .resources
            .values()
            .all(|r| r.kind != "protected_vm" || r.lifecycle_id.is_some())
    );
}

#[tokio::test(start_paused = true)]
async fn what_cannot_be_expressed_is_reported_not_dropped() {
    let (sim, client) = sim_for("quickstart");
    let vault = import_env::build(&client, &sim, &import_env::small()).await;
    let mut snap = import::io::read(&client, &id(&vault)).await.unwrap();
    // A Hyper-V item beside the Azure ones, and a second container mapping named outside asrform's scheme.
    let mut hv = snap.protected_items.values().next().unwrap().clone();
    hv.id = id(&format!("{}-hyperv", hv.id));
    hv.instance_type = Some("HyperVReplicaAzure".into());
    snap.protected_items.insert(hv.id.clone(), hv);
    let mut foreign = snap.container_mappings.values().next().unwrap().clone();
    let parent = foreign.id.as_str().rsplit_once('/').unwrap().0.to_string();
    foreign.id = id(&format!("{parent}/portal-made-mapping"));
    snap.container_mappings.insert(foreign.id.clone(), foreign);
    // A network mapping in the target fabric that is no forward mapping's reverse.
    let mut lone = snap
        .network_mappings
        .values()
        .find(|x| {
            x.id.as_str()
                .contains("/replicationFabrics/asrform-westus2/")
        })
        .unwrap()
        .clone();
    let parent = lone.id.as_str().rsplit_once('/').unwrap().0.to_string();
    lone.id = id(&format!("{parent}/lone-mapping"));
    lone.recovery_network_id = Some(id(&format!(
        "/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Network/virtualNetworks/vnet-other"
    )));
    snap.network_mappings.insert(lone.id.clone(), lone);

    let mut opts = ImportOptions::new(id(&vault), PROVIDER);
    opts.default_subscription = Some(SUB.into());
    let g = import::generate(&snap, &opts).unwrap();
    let warned = |parts: &[&str]| {
        assert!(
            g.warnings
                .iter()
                .any(|w| parts.iter().all(|p| w.contains(p))),
            "no warning with {parts:?}: {:?}",
            g.warnings
        );
    };
    warned(&["HyperVReplicaAzure", "not imported"]);
    warned(&["portal-made-mapping", "not imported"]);
    warned(&["lone-mapping", "not imported"]);
    // The Azure items are still all there.
    let text: String = g.files.values().cloned().collect();
    assert_eq!(text.matches("protected_vm \"").count(), 4);

    // --include keeps only matching VMs, and the recovery plan keeps only those members.
    opts.include = Some("web*".into());
    let g = import::generate(&snap, &opts).unwrap();
    let text: String = g.files.values().cloned().collect();
    assert_eq!(text.matches("protected_vm \"").count(), 2, "{text}");
    assert!(!text.contains("protected_vm.db01"), "{text}");
    // The partial import is still a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::path("examples/quickstart/estate.json"),
        dir.path().join("estate.json"),
    )
    .unwrap();
    import::io::write(dir.path(), &g, false).unwrap();
    crate::plan_env::load(dir.path());
    opts.include = Some("[".into());
    assert!(matches!(
        import::generate(&snap, &opts),
        Err(import::ImportError::Include(..))
    ));
}

#[tokio::test(start_paused = true)]
async fn splitting_by_resource_group_also_plans_to_no_op() {
    let (sim, client) = sim_for("quickstart");
    let vault = import_env::build(&client, &sim, &import_env::small()).await;
    let (_dir, generated, plan) =
        import_and_plan("quickstart", &client, &vault, SplitBy::ResourceGroup).await;
    let names: Vec<&str> = generated.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "main.asr.hcl",
            "recovery_plans.asr.hcl",
            "rg_app_dr.asr.hcl"
        ]
    );
    assert!(
        !plan.has_changes(),
        "{}",
        render::text(&plan, TextOptions::default())
    );
}
