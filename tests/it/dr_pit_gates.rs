//! Change recovery point, cancel failover and the readiness gates, planned and applied through the library on the
//! quickstart (simulator on tokio's paused clock, so times are reproducible): the change-recovery-point plan
//! names per VM the point it runs on and the one it gets (golden Markdown), apply moves every VM to exactly that
//! point; cancel rolls a failover back; an RPO above --max-rpo and a full target subnet refuse a failover naming
//! the VMs, and an old drill is a warning in the plan.

use std::time::Duration;

use asrform::addr::ResourceAddr;
use asrform::apply::WaitFor;
use asrform::dr::drill::{self, DrillOptions};
use asrform::dr::{ItemRef, NoHooks, PointPolicy, Target};
use asrform::plan::operation::DrCommand;
use asrform::plan::render;
use asrform::plan::{Action, Plan, PlanOptions, ReadinessOptions};
use asrform::provider::ArmId;
use insta::assert_snapshot;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::dr_cli_golden::request;
use crate::plan_env::{Env, checked_json, masked};

async fn plan(env: &Env, mut opts: PlanOptions) -> Result<Plan, String> {
    opts.now = Some(env.sim.now());
    env.plan_with(opts).await.map_err(|e| match e {
        asrform::apply::PlanLiveError::Refused(d) => d
            .iter()
            .map(|x| format!("{} [{}]", x.message, x.help.clone().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    })
}

async fn live_item(env: &Env, rpi: &str) -> Value {
    env.client.get::<Value>(rpi).await.unwrap().unwrap()
}

fn config_id(env: &Env, addr: &str) -> String {
    env.loaded
        .config
        .get(&addr.parse::<ResourceAddr>().unwrap())
        .unwrap()
        .id
        .clone()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn dr_change_recovery_point_plan_names_both_points_and_apply_uses_the_reviewed_one() {
    let env = Env::new("quickstart");
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());
    env.sim.advance(Duration::from_secs(3 * 3600));

    // Not failed over: nothing to change yet.
    let e = plan(
        &env,
        request(DrCommand::ChangeRecoveryPoint, false, Some("latest")),
    )
    .await
    .unwrap_err();
    assert!(e.contains("awaits its commit"), "{e}");

    // An outage failover to a point 90 minutes back ...
    let back = (env.sim.now() - time::Duration::minutes(90))
        .format(&Rfc3339)
        .unwrap();
    let fo = plan(&env, request(DrCommand::Failover, true, Some(&back)))
        .await
        .unwrap();
    let r = env.apply(&fo, WaitFor::Accepted).await;
    assert!(r.success(), "{:?}", r.failed);

    // ... then forward to the newest point before the failover.
    let pit = plan(
        &env,
        request(
            DrCommand::ChangeRecoveryPoint,
            false,
            Some("latest-processed"),
        ),
    )
    .await
    .unwrap();
    let ops: Vec<Action> = pit.effective_changes().map(|c| c.action).collect();
    assert_eq!(ops, [Action::ChangeRecoveryPoint]);
    let dr = pit.resource_changes[0].dr.as_ref().unwrap();
    assert_eq!(dr.vms.len(), 4);
    let mut chosen_times = Vec::new();
    for v in &dr.vms {
        let p = v.points.as_ref().unwrap_or_else(|| panic!("{v:?}"));
        let current = p.current.as_ref().unwrap();
        assert!(current.time <= back, "{current:?} after {back}");
        assert!(p.chosen.time > current.time, "{p:?}");
        assert!(
            p.chosen.data_loss_seconds < current.data_loss_seconds,
            "{p:?}"
        );
        assert!(p.chosen.age_seconds >= p.chosen.data_loss_seconds, "{p:?}");
        chosen_times.push(p.chosen.time.clone());
    }
    // One consistency group: one common point.
    chosen_times.dedup();
    assert_eq!(chosen_times.len(), 1, "{chosen_times:?}");
    assert!(dr.expected_data_loss_seconds.is_some());
    checked_json(&pit);
    assert_snapshot!(
        "dr_change_recovery_point_markdown",
        masked(&render::markdown(&pit, "quickstart"))
    );

    assert!(env.apply(&pit, WaitFor::Accepted).await.success());
    for v in &dr.vms {
        let item = live_item(&env, v.rpi_id.as_deref().unwrap()).await;
        assert_eq!(
            item["properties"]["failoverRecoveryPointId"].as_str(),
            Some(v.points.as_ref().unwrap().chosen.id.as_str()),
            "{}",
            v.address
        );
        assert_eq!(
            item["properties"]["protectionState"],
            "UnplannedFailoverCommitPendingStatesBegin"
        );
    }

    // After the commit the point is final.
    let commit = plan(&env, request(DrCommand::Commit, false, None))
        .await
        .unwrap();
    assert!(env.apply(&commit, WaitFor::Accepted).await.success());
    let e = plan(
        &env,
        request(DrCommand::ChangeRecoveryPoint, false, Some("latest")),
    )
    .await
    .unwrap_err();
    assert!(e.contains("committed and can no longer"), "{e}");
    let e = plan(&env, request(DrCommand::CancelFailover, false, None))
        .await
        .unwrap_err();
    assert!(e.contains("committed and can no longer"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn dr_cancel_failover_rolls_back_to_the_primary_site() {
    let env = Env::new("quickstart");
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());
    env.sim.advance(Duration::from_secs(1800));
    let e = plan(&env, request(DrCommand::CancelFailover, false, None))
        .await
        .unwrap_err();
    assert!(e.contains("cancel-failover is not possible"), "{e}");

    let fo = plan(&env, request(DrCommand::Failover, false, None))
        .await
        .unwrap();
    assert!(env.apply(&fo, WaitFor::Accepted).await.success());
    let cancel = plan(&env, request(DrCommand::CancelFailover, false, None))
        .await
        .unwrap();
    let c = &cancel.resource_changes[0];
    assert_eq!(c.action, Action::CancelFailover);
    assert_eq!(c.dr.as_ref().unwrap().vms.len(), 4);
    assert!(
        c.preconditions
            .iter()
            .any(|p| p.check == "allowed_operation" && p.expected == "CancelFailover")
    );
    checked_json(&cancel);
    assert!(env.apply(&cancel, WaitFor::Accepted).await.success());

    for v in &c.dr.as_ref().unwrap().vms {
        let item = live_item(&env, v.rpi_id.as_deref().unwrap()).await;
        assert_eq!(item["properties"]["protectionState"], "Protected", "{item}");
        assert_eq!(item["properties"]["activeLocation"], "Primary");
        let vm = env
            .client
            .get::<Value>(&v.source_vm)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            vm["properties"]["instanceView"]["statuses"][1]["code"], "PowerState/running",
            "{}",
            v.address
        );
    }
    let st = env.stored().await.unwrap().state;
    for a in [
        "recovery_plan.app",
        "protected_vm.app[\"db01\"]",
        "protected_vm.app[\"web02\"]",
    ] {
        assert_eq!(
            st.resources[a].active_site,
            Some(asrform::state::Site::Primary),
            "{a}"
        );
    }
    // Back where it started: the configuration plans no change, and a failover is possible again.
    assert!(!env.plan().await.has_changes());
    plan(&env, request(DrCommand::Failover, false, None))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn dr_readiness_gates_refuse_high_rpo_and_full_subnets_and_warn_on_old_drills() {
    let mut env = Env::new("quickstart");
    env.edit(
        "active_site = \"primary\"",
        "active_site   = \"primary\"\n  max_drill_age = \"1h\"",
    );
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());
    env.sim.advance(Duration::from_secs(1800));
    let reports = env.dir().join(".asrform").join("drills");
    let gated = |mut o: PlanOptions, max_rpo: Option<Duration>| {
        o.readiness = ReadinessOptions {
            max_rpo,
            drill_reports: Some(reports.clone()),
        };
        o
    };
    // An outage failover plan at the newest processed point, gated by `max_rpo`.
    let outage_failover = |max_rpo: Duration| {
        plan(
            &env,
            gated(
                request(DrCommand::Failover, true, Some("latest-processed")),
                Some(max_rpo),
            ),
        )
    };

    // Never drilled: a warning per VM, not a refusal.
    let p = plan(&env, gated(request(DrCommand::Failover, false, None), None))
        .await
        .unwrap();
    assert_eq!(p.readiness.gates.len(), 4, "{:#?}", p.readiness.gates);
    assert!(
        p.readiness
            .gates
            .iter()
            .all(|g| g.gate == "drill_age" && g.severity == "warning")
    );

    // A drill, then three hours: older than max_drill_age.
    let first_plan = p.resource_changes[0].dr.clone().unwrap();
    let items = first_plan
        .vms
        .iter()
        .map(|v| ItemRef {
            rpi: ArmId::parse(v.rpi_id.as_deref().unwrap()).unwrap(),
            lifecycle_id: v.lifecycle_id.clone(),
        })
        .collect();
    let report = drill::drill(
        &env.client,
        &Target::Items { items },
        &DrillOptions {
            network: ArmId::parse(&config_id(&env, "virtual_network.drill")).unwrap(),
            recovery_point: PointPolicy::LatestProcessed,
            expect: Default::default(),
            config_hash: "sha256:gates".into(),
            report_dir: Some(reports.clone()),
        },
        &NoHooks,
    )
    .await
    .unwrap();
    assert!(report.succeeded, "{:#?}", report.errors);
    env.sim.advance(Duration::from_secs(3 * 3600));
    let p = plan(&env, gated(request(DrCommand::Failover, false, None), None))
        .await
        .unwrap();
    let drill_warnings: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("last successful drill was") && w.contains("(limit 1h)"))
        .collect();
    assert_eq!(drill_warnings.len(), 4, "{:#?}", p.warnings);
    assert!(
        drill_warnings
            .iter()
            .any(|w| w.starts_with("protected_vm.app[\"db01\"]: "))
    );
    checked_json(&p);
    let md = render::markdown(&p, "quickstart");
    assert!(md.contains("last successful drill was"), "{md}");

    // The source region goes down and replication stops: RPO grows past --max-rpo.
    env.sim.set_outage("eastus", true);
    env.sim.advance(Duration::from_secs(2 * 3600));
    let e = outage_failover(Duration::from_secs(1800))
        .await
        .unwrap_err();
    for vm in ["db01", "app01", "web01", "web02"] {
        assert!(
            e.contains(&format!(
                "protected_vm.app[\"{vm}\"]: not ready for failover (rpo gate): RPO is"
            )),
            "{vm}: {e}"
        );
    }
    assert!(e.contains("above the 1800s threshold"), "{e}");
    // A threshold that accepts the loss lets the outage failover plan (critical health does not block it).
    let p = outage_failover(Duration::from_secs(6 * 3600))
        .await
        .unwrap();
    assert_eq!(p.effective_changes().count(), 1);
    assert!(!p.readiness.gates.iter().any(|g| g.gate == "rpo"));

    // A target subnet with one free address for four VMs refuses the failover.
    let vnet = config_id(&env, "virtual_network.dr");
    let sub = ArmId::parse(&vnet)
        .unwrap()
        .subscription()
        .unwrap()
        .to_string();
    {
        let mut w = env.sim.world();
        // 10.20.1.0/24: 256 addresses, 5 reserved by Azure; 250 taken leaves 1.
        for i in 0..250 {
            w.put_nic(
                &format!(
                    "/subscriptions/{sub}/resourceGroups/rg-app-dr/providers/Microsoft.Network/networkInterfaces/filler{i}"
                ),
                &sub,
                "westus2",
                &format!("{vnet}/subnets/app"),
                &format!("10.20.1.{}", 40 + i % 200),
                None,
                true,
            );
        }
    }
    let e = outage_failover(Duration::from_secs(6 * 3600))
        .await
        .unwrap_err();
    assert!(e.contains("capacity gate"), "{e}");
    assert!(e.contains("has 1 free addresses, 4 VMs need one"), "{e}");
    assert!(e.contains("protected_vm.app[\"db01\"]"), "{e}");

    // `plan` converging `active_site = "recovery"` runs the same gates as the failover command.
    env.edit(
        "active_site   = \"primary\"",
        "active_site   = \"recovery\"",
    );
    let mut opts = PlanOptions {
        now: Some(env.sim.now()),
        ..Default::default()
    };
    opts.readiness = ReadinessOptions {
        max_rpo: Some(Duration::from_secs(1800)),
        drill_reports: None,
    };
    let e = match env.plan_with(opts).await {
        Err(asrform::apply::PlanLiveError::Refused(d)) => d
            .iter()
            .map(|x| x.message.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        other => panic!("not refused by the gates: {other:?}"),
    };
    assert!(e.contains("(rpo gate)"), "{e}");
    assert!(e.contains("(capacity gate)"), "{e}");
}
