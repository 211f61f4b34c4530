//! Vaults whose ASR objects are not named asrform's way: `import` of a portal-style vault built with raw ARM calls
//! writes the names it found as explicit `*_name` attributes and plans to a no-op, and a configuration that declares
//! such names creates, plans, fails over and back, and destroys exactly those objects.

use asrform::apply::WaitFor;
use asrform::import::{self, SplitBy};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{PlanMode, PlanOptions};
use serde_json::Value;

use crate::import_env::{self, id, portal_names};
use crate::import_small::{import_and_plan, sim_for};
use crate::plan_env::Env;

/// `attr = "value"` inside `text`, whatever the alignment `fmt` gave the `=`.
fn has_attr(text: &str, attr: &str, value: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .split_once('=')
            .is_some_and(|(a, v)| a.trim() == attr && v.trim() == format!("{value:?}"))
    })
}

#[tokio::test(start_paused = true)]
async fn a_portal_named_vault_imports_with_explicit_names_and_plans_to_no_op() {
    let (sim, client) = sim_for("quickstart");
    let vault = import_env::build_named(&client, &sim, &import_env::small(), true).await;
    sim.advance(std::time::Duration::from_secs(6 * 3600));

    let (dir, generated, plan) =
        import_and_plan("quickstart", &client, &vault, SplitBy::RecoveryPlan).await;
    assert!(generated.warnings.is_empty(), "{:#?}", generated.warnings);
    assert!(
        !plan.has_changes(),
        "{}",
        render::text(&plan, TextOptions::default())
    );
    let main = &generated.files["main.asr.hcl"];
    for (attr, name) in portal_names("eastus", "westus2").attributes() {
        assert!(
            has_attr(main, attr, name),
            "no {attr} = {name:?} in\n{main}"
        );
    }
    assert!(
        has_attr(main, "name", "vnet-app-vnet-app-dr-mapping"),
        "{main}"
    );
    assert!(
        has_attr(main, "reverse_name", "vnet-app-dr-vnet-app-mapping"),
        "{main}"
    );
    let all: String = generated.files.values().cloned().collect();
    assert_eq!(all.matches("protected_vm \"").count(), 4, "{all}");
    assert_eq!(all.matches("recovery_plan \"").count(), 1, "{all}");
    for (name, text) in generated.files.iter().filter(|(n, _)| n.ends_with(".hcl")) {
        assert_eq!(
            &asrform::fmt::format_source(text).unwrap(),
            text,
            "{name} would fail fmt --check"
        );
    }
    // The adopted state points at the portal's objects, not at asrform-named ones.
    let (loaded, _) = crate::plan_env::load(dir.path());
    let snap = import::io::read(&client, &id(&vault)).await.unwrap();
    let state = import::adopt(&loaded.config, &snap, client.clock().now());
    let pair = state
        .resources
        .iter()
        .find(|(_, r)| r.kind == "region_pair")
        .map(|(_, r)| r)
        .unwrap();
    assert!(
        pair.arm_ids["source_container"]
            .ends_with("/replicationFabrics/asr-a2a-default-eastus/replicationProtectionContainers/asr-a2a-default-eastus-container"),
        "{:?}",
        pair.arm_ids
    );
    assert!(
        pair.arm_ids["reverse_mapping"].ends_with("/westus2-eastus-24-hour-retention-policy"),
        "{:?}",
        pair.arm_ids
    );
}

const NAMES: &str = r#"policy = replication_policy.standard

  source_fabric_name    = "asr-a2a-default-eastus"
  target_fabric_name    = "asr-a2a-default-westus2"
  source_container_name = "asr-a2a-default-eastus-container"
  target_container_name = "asr-a2a-default-westus2-container"
  forward_mapping_name  = "eastus-westus2-24-hour-retention-policy"
  reverse_mapping_name  = "westus2-eastus-24-hour-retention-policy""#;

#[tokio::test(start_paused = true)]
async fn declared_names_are_created_failed_over_and_destroyed() {
    let mut env = Env::new("quickstart");
    env.edit("policy = replication_policy.standard", NAMES);
    env.edit(
        "target_network = virtual_network.dr\n}",
        "target_network = virtual_network.dr\n  name           = \"app-to-dr\"\n  reverse_name   = \"dr-to-app\"\n}",
    );
    let plan = env.plan().await;
    let report = env.apply(&plan, WaitFor::Protected).await;
    assert!(report.success(), "{:#?}", report.failed);
    let again = env.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        render::text(&again, TextOptions::default())
    );

    let vault = env
        .loaded
        .config
        .resources
        .values()
        .find(|r| r.addr.kind == asrform::addr::ResourceKind::Vault)
        .and_then(|r| r.id.clone())
        .unwrap();
    let client = env.client.clone();
    let live = |path: String| {
        let client = client.clone();
        async move { client.get::<Value>(&path).await.unwrap().is_some() }
    };
    let names = portal_names("eastus", "westus2");
    let declared = [
        names.forward_mapping_id(&vault),
        names.reverse_mapping_id(&vault),
        names.network_mapping_id(&vault, "vnet-app", "app-to-dr"),
        names.reverse_network_mapping_id(&vault, "vnet-app-dr", "dr-to-app"),
        names.protected_item_id(&vault, "db01"),
    ];
    for path in &declared {
        assert!(live(path.clone()).await, "{path} was not created");
    }
    // Nothing was created under asrform's own names.
    let defaults = asrform::config::naming::PairNames::defaults("primary", "eastus", "westus2");
    for path in [
        defaults.source_fabric_id(&vault),
        defaults.target_fabric_id(&vault),
    ] {
        assert!(!live(path.clone()).await, "{path} exists");
    }

    // Failover and failback through the recovery plan: the reprotected items move between the declared containers.
    let in_container = |container: String| {
        let client = client.clone();
        async move {
            let items: Vec<Value> = client
                .list(&format!("{container}/replicationProtectedItems"))
                .await
                .unwrap();
            items.len()
        }
    };
    env.edit(r#"active_site = "primary""#, r#"active_site = "recovery""#);
    let failover = env.plan().await;
    let report = env.apply(&failover, WaitFor::Accepted).await;
    assert!(report.success(), "{:#?}", report.failed);
    assert_eq!(in_container(names.target_container_id(&vault)).await, 4);
    let again = env.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        render::text(&again, TextOptions::default())
    );
    // Reverse replication finishes before the failback.
    env.sim.advance(std::time::Duration::from_secs(48 * 3600));
    env.edit(r#"active_site = "recovery""#, r#"active_site = "primary""#);
    let failback = env.plan().await;
    let report = env.apply(&failback, WaitFor::Accepted).await;
    assert!(report.success(), "{:#?}", report.failed);
    assert_eq!(in_container(names.source_container_id(&vault)).await, 4);

    let destroy = env
        .plan_with(PlanOptions {
            mode: PlanMode::Destroy,
            ..PlanOptions::default()
        })
        .await
        .unwrap();
    let report = env.apply(&destroy, WaitFor::Protected).await;
    assert!(report.success(), "{:#?}", report.failed);
    for path in &declared {
        assert!(!live(path.clone()).await, "{path} survived destroy");
    }
}
