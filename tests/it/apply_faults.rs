//! Faults during apply on the in-process simulator: one VM's enable-protection job fails (simulator rule
//! `failJob`). Its recovery plan is skipped because of it, every other VM is protected, the report says why, and
//! the next apply retries only what is left (the failed VM, its recovery plan, and the NIC settings deferred until
//! initial replication). The simulator keeps the item whose enable job failed (as ASR does); the plan proposes
//! enabling it anew (disable, then enable), and `--wait protected` refuses to wait for such an item.

use asrform::apply::WaitFor;
use asrform::plan::Action;
use asrform::sim::FaultSet;

use crate::plan_env::Env;

#[tokio::test(start_paused = true)]
async fn a_failed_enable_job_skips_its_recovery_plan_and_the_next_apply_retries_only_it() {
    let env = Env::new("quickstart");
    env.sim.set_faults(
        FaultSet::parse(
            r#"{"rules": [{"operation": "ReplicationProtectedItems_Create", "path": "web02",
                "effect": {"kind": "failJob", "code": "150261", "message": "Injected: the VM agent did not answer"},
                "times": 1}]}"#,
        )
        .unwrap(),
    );
    let p = env.plan().await;
    let total = p.effective_changes().count();
    let report = env.apply(&p, WaitFor::Accepted).await;

    assert_eq!(report.failed.len(), 1, "{report:#?}");
    let (failed, why) = &report.failed[0];
    assert!(failed.contains("web02"), "{failed}");
    assert!(
        why.contains("150261") || why.contains("VM agent did not answer"),
        "{why}"
    );
    let plan_key = p
        .effective_changes()
        .find(|c| c.kind == "recovery_plan")
        .map(|c| c.key.clone())
        .expect("the quickstart has a recovery plan");
    assert!(
        report
            .skipped
            .iter()
            .any(|(k, because)| k == &plan_key && because == failed),
        "the recovery plan is not skipped because of {failed}: {:#?}",
        report.skipped
    );
    assert_eq!(
        report.applied.len() + report.failed.len() + report.skipped.len(),
        total
    );
    for vm in ["db01", "app01", "web01"] {
        assert!(
            report.applied.iter().any(|k| k.contains(vm)),
            "{vm} is not protected: {report:#?}"
        );
    }
    assert!(
        !report.line().starts_with("Apply complete!"),
        "{}",
        report.line()
    );

    // The next plan holds only what is left: the failed VM, the recovery plan, and the NIC settings the first
    // apply deferred (they wait for initial replication) — nothing the first apply completed is done again.
    let deferred: Vec<&String> = report.deferred.iter().collect();
    let next = env.plan().await;
    let left: Vec<(String, Action)> = next
        .effective_changes()
        .map(|c| (c.key.clone(), c.action))
        .collect();
    assert!(left.iter().any(|(k, _)| k == failed), "{left:#?}");
    assert!(left.iter().any(|(k, _)| k == &plan_key), "{left:#?}");
    for (k, a) in &left {
        assert!(
            k == failed
                || k == &plan_key
                || (*a == Action::Update && deferred.iter().any(|d| d.starts_with(k.as_str()))),
            "{k} ({a:?}) is planned again though the first apply completed it: {left:#?}"
        );
    }

    let report = env.apply(&next, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");
    assert_eq!(report.applied.len(), left.len());
    assert!(report.applied.contains(&plan_key), "{report:#?}");
}

/// The item a failed enable job leaves behind is planned for a new enable (disable, then enable) rather than an
/// update, a `--wait protected` retry then protects it, and an apply that would only update such an item and
/// wait for it fails at once with the reason instead of waiting for ever.
#[tokio::test(start_paused = true)]
async fn a_failed_enable_is_enabled_again_and_wait_protected_fails_fast_on_it() {
    use std::time::Duration;
    let env = Env::new("quickstart");
    env.sim.set_faults(
        FaultSet::parse(
            r#"{"rules": [{"operation": "ReplicationProtectedItems_Create", "path": "web02",
                "effect": {"kind": "failJob", "code": "150261", "message": "Injected: the VM agent did not answer"},
                "times": 1}]}"#,
        )
        .unwrap(),
    );
    let first = env.apply(&env.plan().await, WaitFor::Accepted).await;
    let (failed, _) = first.failed.first().expect("web02's enable failed").clone();

    let next = env.plan().await;
    let again = next
        .effective_changes()
        .find(|c| c.key == failed)
        .expect("the failed VM is planned again");
    assert_eq!(again.action, Action::Replace, "{again:#?}");
    assert!(
        again
            .action_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("enable_failed") && r.contains("150261")),
        "{:?}",
        again.action_reason
    );

    // A plan that would only update the failed item (as one made before its job failed would) and wait for it
    // to be protected: refused at once with the reason.
    // (Only that change: the other VMs' deferred NIC settings would rightly wait hours for initial replication.)
    let mut update_only = next.clone();
    update_only.resource_changes.retain(|c| c.key == failed);
    for c in &mut update_only.resource_changes {
        c.action = Action::Update;
    }
    let stuck = tokio::time::timeout(
        Duration::from_secs(3600),
        env.apply(&update_only, WaitFor::Protected),
    )
    .await
    .expect("--wait protected must not wait for an item that can never be protected");
    let why = stuck
        .failed
        .iter()
        .find(|(k, _)| k == &failed)
        .map(|(_, w)| w.clone())
        .unwrap_or_else(|| panic!("{stuck:#?}"));
    assert!(
        why.contains("can never become protected") && why.contains("150261"),
        "{why}"
    );

    // The real retry enables it anew and waits for initial replication.
    let retry = env.plan().await;
    let report = tokio::time::timeout(
        Duration::from_secs(24 * 3600),
        env.apply(&retry, WaitFor::Protected),
    )
    .await
    .expect("the retry finishes");
    assert!(report.success(), "{report:#?}");
    let done = env.plan().await;
    assert!(
        !done.has_changes(),
        "{:#?}",
        done.effective_changes().collect::<Vec<_>>()
    );
    let status = env.sim.status();
    assert_eq!(
        status["protectedItems"]["Protected"], 4,
        "every VM ends protected: {status}"
    );
}
