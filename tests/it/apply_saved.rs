//! Saved plans: bound to state, configuration and live facts; refused when any of them changed, and never applied
//! twice.

use asrform::apply::WaitFor;
use asrform::plan::saved::{self, SavedPlanError};

use crate::plan_env::Env;

async fn refused(env: &Env, file: &str) -> Vec<String> {
    let plan = saved::from_json("plan.json", file).unwrap();
    let fresh = env.plan().await;
    let stored = env.stored().await;
    match saved::check_binding(
        &plan,
        stored.as_ref().map(|s| &s.state),
        &env.loaded.config.fingerprint,
        &fresh.binding.facts,
    ) {
        Err(SavedPlanError::Stale { reasons }) => reasons,
        other => panic!("expected a stale plan, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_saved_plan_is_refused_after_protection_is_disabled_out_of_band() {
    let mut env = Env::new("quickstart");
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());

    env.edit(r#"size = "Standard_D4s_v5""#, r#"size = "Standard_D8s_v5""#);
    let file = saved::to_json(&env.plan().await);
    // Still fresh: the binding holds.
    let plan = saved::from_json("plan.json", &file).unwrap();
    let stored = env.stored().await;
    saved::check_binding(
        &plan,
        stored.as_ref().map(|s| &s.state),
        &env.loaded.config.fingerprint,
        &env.plan().await.binding.facts,
    )
    .unwrap();

    // Someone disables protection of web01 through the ARM API.
    let rpi =
        stored.unwrap().state.resources[r#"protected_vm.app["web01"]"#].arm_ids["rpi"].clone();
    env.client
        .disable_protection(&asrform::provider::ArmId::parse(&rpi).unwrap())
        .await
        .unwrap();
    let reasons = refused(&env, &file).await;
    assert_eq!(reasons.len(), 1, "{reasons:#?}");
    assert!(
        reasons[0].starts_with(r#"live state of protected_vm.app["web01"] changed"#),
        "{reasons:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_saved_plan_applies_once() {
    let env = Env::new("quickstart");
    let file = saved::to_json(&env.plan().await);
    let plan = saved::from_json("plan.json", &file).unwrap();
    let fresh = env.plan().await;
    saved::check_binding(
        &plan,
        None,
        &env.loaded.config.fingerprint,
        &fresh.binding.facts,
    )
    .unwrap();
    let report = env.apply(&plan, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");

    let reasons = refused(&env, &file).await;
    assert!(
        reasons.iter().any(|r| r.contains("already applied")),
        "{reasons:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_changed_configuration_refuses_the_saved_plan() {
    let mut env = Env::new("quickstart");
    let file = saved::to_json(&env.plan().await);
    env.edit(
        r#"recovery_point_retention = "24h""#,
        r#"recovery_point_retention = "48h""#,
    );
    let reasons = refused(&env, &file).await;
    assert_eq!(
        reasons,
        ["the configuration (files or variable values) changed since the plan was made"]
    );
}
