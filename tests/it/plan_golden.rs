//! Golden plans of the quickstart and fleet examples (text, JSON validated against the schema, Markdown) through
//! their life: first plan, no-op after apply, update in place, re-seed, a refused re-seed, delete, drift, failover
//! via `active_site`.

use asrform::apply::WaitFor;
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{Action, Plan};
use insta::{assert_json_snapshot, assert_snapshot};

use crate::plan_env::{Env, checked_json, masked};

fn text(p: &Plan) -> String {
    masked(&render::text(p, TextOptions::default()))
}

fn md(p: &Plan) -> String {
    masked(&render::markdown(p, "quickstart"))
}

async fn applied_quickstart() -> Env {
    let env = Env::new("quickstart");
    let first = env.plan().await;
    let report = env.apply(&first, WaitFor::Protected).await;
    assert!(report.success(), "{report:#?}");
    env
}

#[tokio::test(start_paused = true)]
async fn first_plan_of_the_quickstart() {
    let env = Env::new("quickstart");
    let p = env.plan().await;
    assert_eq!(p.summary.add, 13);
    assert_eq!(
        p.summary.destroy + p.summary.change + p.summary.reseed + p.summary.dr,
        0
    );
    assert_snapshot!("quickstart_first_text", text(&p));
    assert_json_snapshot!("quickstart_first_json", checked_json(&p));
    assert_snapshot!("quickstart_first_markdown", md(&p));
}

#[tokio::test(start_paused = true)]
async fn no_op_after_apply_then_update_in_place() {
    let mut env = applied_quickstart().await;
    let p = env.plan().await;
    assert!(
        !p.has_changes(),
        "{}",
        render::text(&p, TextOptions::default())
    );
    assert_snapshot!("quickstart_noop_text", text(&p));
    assert_json_snapshot!("quickstart_noop_json", checked_json(&p));
    assert_snapshot!("quickstart_noop_markdown", md(&p));

    env.edit(r#"size = "Standard_D4s_v5""#, r#"size = "Standard_D8s_v5""#);
    let p = env.plan().await;
    let changed: Vec<_> = p
        .effective_changes()
        .map(|c| (c.address.clone(), c.action))
        .collect();
    assert_eq!(
        changed,
        [(r#"protected_vm.app["app01"]"#.to_string(), Action::Update)]
    );
    assert_snapshot!("quickstart_update_text", text(&p));
    assert_json_snapshot!("quickstart_update_json", checked_json(&p));
    assert_snapshot!("quickstart_update_markdown", md(&p));
    let report = env.apply(&p, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");
    assert!(!env.plan().await.has_changes());
}

#[tokio::test(start_paused = true)]
async fn reseed_is_refused_by_prevent_reseed_and_planned_without_it() {
    let mut env = applied_quickstart().await;
    env.edit(
        r#"consistency_group     = "app-tier""#,
        r#"consistency_group     = "app-tier-2""#,
    );
    let err = env.plan_with(Default::default()).await.unwrap_err();
    let msg = format!("{err}");
    let all: Vec<String> = match &err {
        asrform::apply::PlanLiveError::Refused(d) => d.iter().map(|x| x.to_string()).collect(),
        other => panic!("expected a refusal, got {other}"),
    };
    assert_eq!(all.len(), 4, "{msg}");
    assert_snapshot!("quickstart_reseed_refused", all.join("\n"));

    env.edit("prevent_reseed = true", "prevent_reseed = false");
    let p = env.plan().await;
    assert_eq!(p.summary.reseed, 4);
    assert!(
        p.effective_changes()
            .all(|c| c.reseed_required && c.change.replace_paths == ["consistency_group"])
    );
    assert_snapshot!("quickstart_reseed_text", text(&p));
    assert_json_snapshot!("quickstart_reseed_json", checked_json(&p));
    assert_snapshot!("quickstart_reseed_markdown", md(&p));
}

#[tokio::test(start_paused = true)]
async fn deleting_a_block_plans_a_delete_and_applies_it() {
    let mut env = applied_quickstart().await;
    let text_now = std::fs::read_to_string(env.dir().join("main.asr.hcl")).unwrap();
    let start = text_now.find("recovery_plan \"app\" {").unwrap();
    let end = text_now.find("output \"protected_vms\"").unwrap();
    env.edit(&text_now[start..end], "");
    let p = env.plan().await;
    let changed: Vec<_> = p
        .effective_changes()
        .map(|c| (c.address.clone(), c.action))
        .collect();
    assert_eq!(changed, [("recovery_plan.app".to_string(), Action::Delete)]);
    assert_snapshot!("quickstart_delete_text", text(&p));
    assert_json_snapshot!("quickstart_delete_json", checked_json(&p));
    assert_snapshot!("quickstart_delete_markdown", md(&p));
    let report = env.apply(&p, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");
    assert!(!env.plan().await.has_changes());
    assert!(
        !env.stored()
            .await
            .unwrap()
            .state
            .resources
            .contains_key("recovery_plan.app")
    );
}

#[tokio::test(start_paused = true)]
async fn drift_is_its_own_section_and_the_plan_reverts_it() {
    let env = applied_quickstart().await;
    let state = env.stored().await.unwrap().state;
    let rpi = state.resources[r#"protected_vm.app["web01"]"#].arm_ids["rpi"].clone();
    env.client
        .update_protected_item(
            &asrform::provider::ArmId::parse(&rpi).unwrap(),
            asrform::provider::arm::wire::UpdateReplicationProtectedItemInputProperties {
                recovery_azure_vm_size: Some("Standard_B2s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = env.plan().await;
    assert_eq!(p.resource_drift.len(), 1);
    assert_eq!(p.resource_drift[0].changed_attributes, ["target_vm_size"]);
    assert_eq!(p.summary.change, 1);
    assert_snapshot!("quickstart_drift_text", text(&p));
    assert_json_snapshot!("quickstart_drift_json", checked_json(&p));
    assert_snapshot!("quickstart_drift_markdown", md(&p));
}

#[tokio::test(start_paused = true)]
async fn failover_via_active_site_then_ordinary_plans_leave_the_workload_alone() {
    let mut env = applied_quickstart().await;
    env.edit(r#"active_site = "primary""#, r#"active_site = "recovery""#);
    let p = env.plan().await;
    let ops: Vec<Action> = p.effective_changes().map(|c| c.action).collect();
    assert_eq!(ops, [Action::Failover, Action::Commit, Action::Reprotect]);
    assert_eq!(p.summary.dr, 3);
    assert_snapshot!("quickstart_failover_text", text(&p));
    assert_json_snapshot!("quickstart_failover_json", checked_json(&p));
    assert_snapshot!("quickstart_failover_markdown", md(&p));

    let report = env.apply(&p, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");
    let again = env.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        render::text(&again, TextOptions::default())
    );

    // Without active_site a plan never moves workloads: no change to the failed-over VMs.
    env.edit(r#"active_site = "recovery""#, "");
    let p = env.plan().await;
    let vm_changes: Vec<_> = p
        .effective_changes()
        .filter(|c| c.kind == "protected_vm" || c.dr.is_some())
        .map(|c| c.key.clone())
        .collect();
    assert_eq!(
        vm_changes,
        Vec::<String>::new(),
        "{}",
        render::text(&p, TextOptions::default())
    );
}

#[tokio::test(start_paused = true)]
async fn refresh_only_accepts_drift_into_state() {
    let env = applied_quickstart().await;
    let state = env.stored().await.unwrap().state;
    let rpi = state.resources[r#"protected_vm.app["db01"]"#].arm_ids["rpi"].clone();
    env.client
        .update_protected_item(
            &asrform::provider::ArmId::parse(&rpi).unwrap(),
            asrform::provider::arm::wire::UpdateReplicationProtectedItemInputProperties {
                recovery_azure_vm_size: Some("Standard_E8s_v5".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = env
        .plan_with(asrform::plan::PlanOptions {
            mode: asrform::plan::PlanMode::RefreshOnly,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(p.effective_changes().count(), 0);
    assert_eq!(p.resource_drift.len(), 1);
    assert!(p.has_changes());
    assert!(env.apply(&p, WaitFor::Accepted).await.success());
    let after = env.stored().await.unwrap().state;
    assert_eq!(
        after.resources[r#"protected_vm.app["db01"]"#].attributes["target_vm_size"],
        "Standard_E8s_v5"
    );
    // The drift is accepted: no drift any more, and the configuration still asks to change it back.
    let p = env.plan().await;
    assert!(p.resource_drift.is_empty());
    assert_eq!(p.summary.change, 1);
}
