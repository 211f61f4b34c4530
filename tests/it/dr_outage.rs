//! The outage path on the quickstart, on tokio's paused clock (the simulator's virtual time, reproducible): with
//! the source region down, a snapshot marks it unreachable, the source-region resources (the cache account) are
//! unknown rather than deleted, a plain `failover` plans an outage failover that never touches the source, and the
//! data lost by an outage failover at `latest-processed` is exactly the age of the chosen point: the target disks
//! hold the source's content at that point, and the source wrote for exactly that long after it.

use std::time::Duration;

use asrform::apply::WaitFor;
use asrform::plan::operation::DrCommand;
use asrform::plan::{Action, Plan, PlanOptions};

use crate::plan_env::Env;

fn failover(source_unavailable: bool, rp: Option<&str>) -> PlanOptions {
    crate::dr_cli_golden::request(DrCommand::Failover, source_unavailable, rp)
}

async fn plan(env: &Env, opts: PlanOptions) -> Plan {
    env.plan_now(opts).await
}

/// A protected quickstart whose source region went down after `up` of replication.
async fn protected_then_outage(up: Duration) -> Env {
    let env = Env::new("quickstart");
    let first = env.plan().await;
    assert!(env.apply(&first, WaitFor::Protected).await.success());
    env.sim.advance(up);
    env.sim.set_outage("eastus", true);
    env
}

#[tokio::test(start_paused = true)]
async fn dr_outage_snapshot_marks_the_source_unreachable_and_nothing_there_is_deleted_or_recreated()
{
    let env = protected_then_outage(Duration::from_secs(1800)).await;

    let p = env.plan().await;
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("region eastus could not be read")),
        "the snapshot marks eastus unreachable: {:?}",
        p.warnings
    );
    assert!(
        p.resource_drift.is_empty(),
        "nothing in the unreachable region is 'deleted outside asrform': {:#?}",
        p.resource_drift
    );
    let cache = p
        .resource_changes
        .iter()
        .find(|c| c.address == "storage_account.cache")
        .expect("the cache account is in the plan");
    assert_eq!(cache.action, Action::NoOp, "{cache:#?}");
    assert_eq!(cache.action_reason.as_deref(), Some("unreachable"));
    assert!(!p.has_changes(), "{:#?}", p.resource_changes);

    // A plain failover (no --source-unavailable): the snapshot says the source is down, so the plan is an outage
    // failover that never touches it, and it says why.
    let plain = plan(&env, failover(false, None)).await;
    let dr = plain.resource_changes[0].dr.as_ref().unwrap();
    assert!(!dr.shut_down_source, "{dr:#?}");
    let text = dr.expected_data_loss.as_deref().unwrap();
    assert!(
        text.contains("are not touched (eastus is unreachable)"),
        "{text}"
    );
    let age = dr.recovery_point.as_ref().unwrap().age_seconds.unwrap();
    assert_eq!(dr.expected_data_loss_seconds, Some(age));
    assert!(age > 0);

    // Back up: everything is readable again and nothing changes.
    env.sim.set_outage("eastus", false);
    let p = env.plan().await;
    assert!(
        !p.warnings.iter().any(|w| w.contains("could not be read")),
        "{:?}",
        p.warnings
    );
    assert!(!p.has_changes());
    assert!(p.resource_drift.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dr_outage_failover_loses_exactly_the_age_of_the_chosen_point() {
    // 47 minutes: the outage falls between two 5-minute crash-consistent points, so some data is really lost.
    let env = protected_then_outage(Duration::from_secs(47 * 60)).await;
    let down_at = env.sim.now();

    let p = plan(&env, failover(true, Some("latest-processed"))).await;
    let dr = p.resource_changes[0].dr.as_ref().unwrap();
    assert!(!dr.shut_down_source);
    let rp = dr.recovery_point.as_ref().unwrap();
    assert_eq!(rp.choice, "latest_processed");
    let age = rp.age_seconds.unwrap();
    let point_time = time::OffsetDateTime::parse(
        rp.time.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        (down_at - point_time).whole_seconds(),
        age,
        "the age is counted from the point to now"
    );
    assert!(age > 0 && age < 5 * 60, "the newest 5-minute point: {age}s");
    assert_eq!(dr.expected_data_loss_seconds, Some(age));

    let report = env.apply(&p, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");

    // Achieved: per VM, the failover applied one common point (a multi-VM group), each target disk holds the
    // source's content at that point, and the source kept writing after it until the region went down: exactly
    // `age` seconds of writes are lost.
    let w = env.sim.world();
    let outage_start = w.outages["eastus"];
    assert_eq!(outage_start, down_at);
    assert_eq!(w.rpis.len(), 4);
    let mut disks = 0;
    for r in w.rpis.values() {
        let f = r.failover.as_ref().expect("failed over");
        assert!(!f.source_shut_down, "the source was not touched");
        assert_eq!(f.point_time.unix_timestamp(), point_time.unix_timestamp());
        let run = &w.vm_runs[&r.source_vm_id.to_ascii_lowercase()];
        let lost = run.running_secs(f.point_time, outage_start);
        assert_eq!(lost, age as f64, "{}: seconds of writes lost", r.name);
        assert!(
            !run.running_at(outage_start),
            "the outage stopped the source"
        );
        for d in &r.disks {
            let tgt = d.target_disk_id.as_deref().unwrap();
            let at_point = w.disk_content(&d.disk_id, f.point_time).unwrap();
            let at_stop = w.disk_content(&d.disk_id, outage_start).unwrap();
            assert_eq!(w.disk_content_at_base(tgt), Some(at_point), "{tgt}");
            let churn = w.disk_content[&d.disk_id.to_ascii_lowercase()].churn;
            if churn > 0.0 {
                assert!(at_stop > at_point, "{}: writes after the point", d.disk_id);
            }
            disks += 1;
        }
    }
    assert!(disks >= 4);
}
