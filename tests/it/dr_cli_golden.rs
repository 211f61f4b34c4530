//! Golden Markdown and text of operation plans (`asrform failover …`) on the quickstart: a planned failover and an
//! outage failover (source region down, chosen recovery point, data-loss window, warnings). The simulator runs on
//! tokio's paused clock, so times and ages are reproducible.

use asrform::addr::ResourceAddr;
use asrform::apply::WaitFor;
use asrform::plan::operation::{DrCommand, OperationRequest};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{Action, Plan, PlanOptions};
use insta::assert_snapshot;

use crate::plan_env::{Env, checked_json, masked};

pub(crate) fn request(cmd: DrCommand, source_unavailable: bool, rp: Option<&str>) -> PlanOptions {
    PlanOptions {
        operation: Some(OperationRequest {
            command: cmd,
            targets: vec!["recovery_plan.app".parse::<ResourceAddr>().unwrap()],
            recovery_point: rp.map(str::to_string),
            source_unavailable,
            network: None,
        }),
        ..Default::default()
    }
}

async fn plan(env: &Env, opts: PlanOptions) -> Plan {
    env.plan_now(opts).await
}

#[tokio::test(start_paused = true)]
async fn dr_golden_failover_plans_name_vms_points_loss_and_warnings() {
    let env = Env::new("quickstart");
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());
    env.sim.advance(std::time::Duration::from_secs(1800));

    let planned = plan(&env, request(DrCommand::Failover, false, None)).await;
    let ops: Vec<Action> = planned.effective_changes().map(|c| c.action).collect();
    assert_eq!(ops, [Action::Failover]);
    let dr = planned.resource_changes[0].dr.as_ref().unwrap();
    assert!(dr.shut_down_source);
    assert_eq!(dr.expected_data_loss_seconds, Some(0));
    assert_eq!(dr.vms.len(), 4);
    checked_json(&planned);
    assert_snapshot!(
        "dr_planned_failover_markdown",
        masked(&render::markdown(&planned, "quickstart"))
    );

    env.sim.set_outage("eastus", true);
    let outage = plan(
        &env,
        request(DrCommand::Failover, true, Some("latest-processed")),
    )
    .await;
    let dr = outage.resource_changes[0].dr.as_ref().unwrap();
    assert!(
        !dr.shut_down_source,
        "an unreachable source region is never touched"
    );
    let age = dr.recovery_point.as_ref().unwrap().age_seconds.unwrap();
    assert!(age > 0);
    assert_eq!(dr.expected_data_loss_seconds, Some(age));
    assert!(
        outage
            .warnings
            .iter()
            .any(|w| w.contains("outage failover")),
        "{:?}",
        outage.warnings
    );
    checked_json(&outage);
    assert_snapshot!(
        "dr_outage_failover_markdown",
        masked(&render::markdown(&outage, "quickstart"))
    );
    assert_snapshot!(
        "dr_outage_failover_text",
        masked(&render::text(&outage, TextOptions::default()))
    );

    // Commit makes no sense before a failover: a plan error naming the VM and its state.
    let err = env
        .plan_with(request(DrCommand::Commit, false, None))
        .await
        .unwrap_err();
    let msg = format!("{err:?}");
    assert!(msg.contains("commit is not possible"), "{msg}");
}
