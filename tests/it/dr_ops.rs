//! DR engine end to end on the in-process simulator's virtual clock: drills (report, schema, cleanup, RTO/RPO,
//! interruption), planned failover → commit → reprotect → failback → commit → reprotect, outage failover at
//! latest-processed, a multi-VM group at one common point, and manual steps awaited between groups.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::dr::drill::{self, DrillOptions, Expectation};
use asrform::dr::{
    self, Confirm, DrError, Event, Hooks, ManualStep, NoHooks, Operation, PointPolicy, SourceSite,
    Step, Target,
};
use serde_json::Value;

use crate::common;
use crate::dr_env::{DrEnv, Options};

fn step(target: Target, operation: Operation) -> Step {
    Step {
        target,
        operation,
        direction: Default::default(),
        points: BTreeMap::new(),
        confirm: None,
    }
}

fn drill_opts(env: &DrEnv, dir: Option<std::path::PathBuf>) -> DrillOptions {
    let expect = env
        .vms
        .iter()
        .enumerate()
        .map(|(i, (n, _, _))| {
            (
                n.clone(),
                Expectation {
                    subnet: Some("app".into()),
                    ip: Some(format!("10.99.1.{}", 100 + i)),
                },
            )
        })
        .collect();
    DrillOptions {
        network: env.vnet("vnet-app-drill"),
        recovery_point: PointPolicy::LatestProcessed,
        expect,
        config_hash: "sha256:test".into(),
        report_dir: dir,
    }
}

async fn test_vms_left(env: &DrEnv) -> Vec<String> {
    env.vm_ids("rg-app-dr")
        .await
        .into_iter()
        .filter(|v| v.ends_with("-test"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn dr_drill_on_the_quickstart_plan_writes_valid_evidence_and_cleans_up() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let report = drill::drill(
        &env.client,
        &env.plan_target(),
        &drill_opts(&env, Some(dir.path().into())),
        &NoHooks,
    )
    .await
    .unwrap();
    assert!(report.succeeded, "{:#?}", report.errors);
    assert!(report.cleanup_ok);
    assert_eq!(report.vms.len(), 4);
    assert!(
        test_vms_left(&env).await.is_empty(),
        "no test-failover VM is left"
    );
    for (_, _, rpi) in &env.vms {
        let p = dr::read_item(&env.client, rpi).await.unwrap().unwrap();
        assert_eq!(p.test_failover_state.as_deref(), Some("None"), "{p:?}");
    }
    // RTO: three boot groups of one test failover job each (180 s in the simulator), plus polling slack.
    let tfo = 180;
    assert!(
        report.rto_secs >= tfo && report.rto_secs <= 3 * tfo + 120,
        "RTO {}",
        report.rto_secs
    );
    for s in report
        .steps
        .iter()
        .filter(|s| s.name.starts_with("test failover"))
    {
        let rto = s.rto_secs.unwrap();
        assert!(rto >= tfo && rto <= tfo + 60, "{s:?}");
    }
    for v in &report.vms {
        let rpo = v.rpo_secs.unwrap();
        let age_at_end = (report.ended - v.recovery_point_time.unwrap()).whole_seconds() as u64;
        assert!(rpo <= age_at_end && rpo <= 15 * 60, "{v:?}");
        assert!(v.checks.iter().all(|c| c.ok), "{v:?}");
        assert!(v.checks.iter().any(|c| c.name == "ip"), "{v:?}");
    }
    // Multi-VM group: every VM tested at one common point.
    let times: std::collections::BTreeSet<_> =
        report.vms.iter().map(|v| v.recovery_point_time).collect();
    assert_eq!(times.len(), 1, "{times:?}");
    // Files: JSON validating against the schema, Markdown with a gantt timeline; no marker left.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let json = files
        .iter()
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("json report");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::path("schemas/drill-report.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errs: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{errs:#?}");
    let md = std::fs::read_to_string(json.with_extension("md")).unwrap();
    assert!(
        md.contains("```mermaid\ngantt") && md.contains("web02"),
        "{md}"
    );
    assert!(!drill::interrupted(dir.path()));
    assert_eq!(drill::load_reports(dir.path()), vec![report.clone()]);
    // Status picks the drill up.
    let snap = asrform::provider::arm::snapshot::read(
        &env.client,
        &asrform::provider::SnapshotRequest {
            vaults: vec![env.vault()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let st = dr::status::status(&snap, None, std::slice::from_ref(&report));
    assert_eq!(st.len(), 4);
    assert!(
        st.iter()
            .all(|s| s.last_successful_drill.is_some() && s.latest_recovery_point.is_some()),
        "{st:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dr_interrupted_drill_leaves_no_test_vm_after_cleanup_or_next_drill() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = drill_opts(&env, Some(dir.path().into()));
    // Cancel the drill 250 s in: group 1 has a test-failover VM, group 2 is running.
    let r = tokio::time::timeout(
        Duration::from_secs(250),
        drill::drill(&env.client, &env.plan_target(), &opts, &NoHooks),
    )
    .await;
    assert!(r.is_err(), "the drill was cancelled");
    assert!(
        drill::interrupted(dir.path()),
        "an interrupted drill leaves its marker"
    );
    assert!(
        !test_vms_left(&env).await.is_empty(),
        "the cancelled drill had created test VMs"
    );
    // An explicit cleanup (what `test-failover-cleanup` runs) leaves nothing behind, whether or not the guard's
    // background cleanup got there first.
    drill::cleanup_pending(&env.client, &env.plan_target(), Some(dir.path()), &NoHooks)
        .await
        .unwrap();
    env.sleep(600).await;
    drill::cleanup_pending(&env.client, &env.plan_target(), Some(dir.path()), &NoHooks)
        .await
        .unwrap();
    assert!(test_vms_left(&env).await.is_empty());
    assert!(!drill::interrupted(dir.path()));
    // The next drill runs normally.
    let report = drill::drill(&env.client, &env.plan_target(), &opts, &NoHooks)
        .await
        .unwrap();
    assert!(report.succeeded, "{:#?}", report.errors);
    assert!(test_vms_left(&env).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dr_next_drill_cleans_up_a_leftover_test_failover_first() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    // A test failover somebody left (no marker, only live state says so).
    let (_, _, rpi) = &env.vms[0];
    env.client
        .test_failover(rpi, "PrimaryToRecovery", &env.vnet("vnet-app-drill"), None)
        .await
        .unwrap();
    assert_eq!(test_vms_left(&env).await.len(), 1);
    let report = drill::drill(
        &env.client,
        &env.plan_target(),
        &drill_opts(&env, None),
        &NoHooks,
    )
    .await
    .unwrap();
    assert!(report.succeeded, "{:#?}", report.errors);
    assert_eq!(report.steps[0].name, "pre-cleanup");
    assert!(test_vms_left(&env).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dr_planned_failover_commit_reprotect_failback_returns_to_the_original_topology() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    let before: BTreeMap<String, String> = {
        let mut m = BTreeMap::new();
        for (n, _, rpi) in &env.vms {
            m.insert(
                n.clone(),
                dr::read_item(&env.client, rpi)
                    .await
                    .unwrap()
                    .unwrap()
                    .lifecycle_id
                    .unwrap(),
            );
        }
        m
    };
    let fo = dr::execute(&env.client, &env.planned_failover(), &NoHooks)
        .await
        .unwrap();
    assert_eq!(fo.failed().count(), 0, "{fo:#?}");
    assert_eq!(
        fo.groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["Group 1", "Group 2", "Group 3"]
    );
    // Boot order: each group starts after the previous one ended.
    for w in fo.groups.windows(2) {
        assert!(w[1].started >= w[0].ended, "{w:?}");
    }
    for v in &fo.vms {
        assert_eq!(
            v.data_loss_secs,
            Some(0),
            "planned failover loses nothing: {v:?}"
        );
    }
    // Target disks hold the source's final content (source shut down first).
    for (_, _, rpi) in &env.vms {
        for (src, tgt) in env.target_disks(rpi).await {
            assert!(!tgt.is_empty());
            assert_eq!(
                env.sim.disk_content(&src),
                env.sim.world().disk_content_at_base(&tgt),
                "{src} → {tgt}"
            );
        }
    }
    // A second failover is refused by the guard, naming the state.
    let again = dr::execute(
        &env.client,
        &step(
            Target::Items {
                items: env.items()[..1].to_vec(),
            },
            Operation::Failover {
                source_site_operations: SourceSite::Required,
                recovery_point: PointPolicy::Latest,
            },
        ),
        &NoHooks,
    )
    .await
    .unwrap();
    let err = again.vms[0].error.as_deref().unwrap();
    assert!(
        err.contains("UnplannedFailoverCommitPendingStatesBegin") && err.contains("expected"),
        "{err}"
    );

    let commit = dr::execute(
        &env.client,
        &step(env.plan_target(), Operation::Commit),
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(commit.failed().count(), 0, "{commit:#?}");
    let rep = dr::execute(
        &env.client,
        &step(env.plan_target(), Operation::Reprotect(env.reverse())),
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(rep.failed().count(), 0, "{rep:#?}");
    let reversed: Vec<dr::ItemRef> = rep
        .vms
        .iter()
        .map(|v| dr::ItemRef {
            rpi: v.new_rpi.clone().unwrap(),
            lifecycle_id: v.lifecycle_id.clone(),
        })
        .collect();
    for r in &reversed {
        assert!(
            r.rpi.as_str().contains("/replicationFabrics/tgt/"),
            "{}",
            r.rpi
        );
    }
    env.sleep(600).await;
    let fb = dr::execute(
        &env.client,
        &step(
            Target::Items { items: reversed },
            Operation::Failback {
                source_site_operations: SourceSite::Required,
                recovery_point: PointPolicy::Latest,
                reprotect: env.forward(),
            },
        ),
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(fb.failed().count(), 0, "{fb:#?}");
    for v in &fb.vms {
        let new = v.new_rpi.clone().unwrap();
        assert!(new.as_str().contains("/replicationFabrics/src/"), "{new}");
        let p = dr::read_item(&env.client, &new).await.unwrap().unwrap();
        assert_eq!(p.active_location.as_deref(), Some("Primary"), "{p:?}");
        assert_eq!(p.protection_state.as_deref(), Some("Protected"), "{p:?}");
        assert!(
            p.recovery_container_id
                .as_ref()
                .unwrap()
                .as_str()
                .eq_ignore_ascii_case(env.container("tgt").as_str())
        );
        assert_eq!(
            Some(&p.lifecycle_id.clone().unwrap()),
            before.get(&v.name),
            "same lifecycle id for {}",
            v.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn dr_outage_failover_at_latest_processed_loses_exactly_the_points_age() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600 + 170).await;
    env.sim.set_outage("eastus", true);
    let fo = dr::execute(
        &env.client,
        &step(
            env.plan_target(),
            Operation::Failover {
                source_site_operations: SourceSite::NotRequired,
                recovery_point: PointPolicy::LatestProcessed,
            },
        ),
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(fo.failed().count(), 0, "{fo:#?}");
    let mut times = std::collections::BTreeSet::new();
    for v in &fo.vms {
        let c = v.recovery_point.as_ref().unwrap();
        times.insert(c.point.time);
        assert_eq!(
            v.data_loss_secs,
            Some((v.started - c.point.time).whole_seconds() as u64),
            "{v:?}"
        );
        assert!(v.data_loss_secs.unwrap() > 0);
        let p = dr::read_item(&env.client, &v.rpi).await.unwrap().unwrap();
        assert_eq!(p.active_location.as_deref(), Some("Recovery"));
    }
    assert_eq!(
        times.len(),
        1,
        "the multi-VM group failed over at one common point: {times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dr_group_without_multi_vm_picks_per_vm_points_and_policy_errors_name_the_vm() {
    let env = DrEnv::quickstart(Options {
        multi_vm: false,
        ..Default::default()
    })
    .await;
    env.sleep(1800).await;
    let fo = dr::execute(
        &env.client,
        &step(
            Target::Items { items: env.items() },
            Operation::TestFailover {
                network: env.vnet("vnet-app-drill"),
                recovery_point: PointPolicy::LatestMultiVm,
            },
        ),
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(fo.failed().count(), 4);
    let e = fo.vms[0].error.as_deref().unwrap();
    assert!(e.contains(&fo.vms[0].name) && e.contains("multi-VM"), "{e}");
    assert!(test_vms_left(&env).await.is_empty());
}

struct Recorder(Mutex<Vec<String>>);

impl Hooks for Recorder {
    fn on_event(&self, e: &Event) {
        if let Event::OperationStarted { address, .. } = e
            && address.starts_with("Group")
        {
            self.0.lock().unwrap().push(format!("start {address}"));
        }
    }
}

#[async_trait::async_trait]
impl Confirm for Recorder {
    async fn confirm(&self, s: &ManualStep) -> bool {
        self.0.lock().unwrap().push(format!("confirm {}", s.name));
        true
    }
}

#[tokio::test(start_paused = true)]
async fn dr_manual_step_is_confirmed_before_the_next_group_starts() {
    let env = DrEnv::quickstart(Options {
        manual_step: true,
        ..Default::default()
    })
    .await;
    env.sleep(3600).await;
    // Without a confirmation callback, the run stops at the manual step.
    let s = step(
        env.plan_target(),
        Operation::TestFailover {
            network: env.vnet("vnet-app-drill"),
            recovery_point: PointPolicy::LatestProcessed,
        },
    );
    match dr::execute(&env.client, &s, &NoHooks).await {
        Err(DrError::ManualStep(m)) => {
            assert_eq!((m.name.as_str(), m.group.as_str()), ("check-db", "Group 2"))
        }
        other => panic!("expected a manual step error, got {other:?}"),
    }
    drill::cleanup_pending(&env.client, &env.plan_target(), None, &NoHooks)
        .await
        .unwrap();
    let rec = Arc::new(Recorder(Mutex::new(vec![])));
    let s = Step {
        confirm: Some(rec.clone()),
        ..s
    };
    let out = dr::execute(&env.client, &s, rec.as_ref()).await.unwrap();
    assert_eq!(out.failed().count(), 0);
    assert_eq!(
        *rec.0.lock().unwrap(),
        [
            "start Group 1",
            "start Group 2",
            "confirm check-db",
            "start Group 3"
        ]
    );
    let g2 = &out.groups[1];
    assert_eq!(g2.manual_steps.len(), 1);
    let app = out.vms.iter().find(|v| v.name == "app01").unwrap();
    let db = out.vms.iter().find(|v| v.name == "db01").unwrap();
    assert!(app.started >= db.ended);
    drill::cleanup_pending(&env.client, &env.plan_target(), None, &NoHooks)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn dr_outcome_names_the_asr_jobs_that_carried_each_vm() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    let out = dr::execute(
        &env.client,
        &step(
            Target::Items {
                items: env.items()[..1].to_vec(),
            },
            Operation::TestFailover {
                network: env.vnet("vnet-app-drill"),
                recovery_point: PointPolicy::LatestProcessed,
            },
        ),
        &NoHooks,
    )
    .await
    .unwrap();
    let jobs = out.jobs();
    assert_eq!(jobs.len(), 1, "{out:#?}");
    let job = env
        .client
        .job(&jobs[0])
        .await
        .unwrap()
        .expect("the job exists");
    assert_eq!(
        job.properties.state.as_deref(),
        Some("Succeeded"),
        "{job:?}"
    );
    assert!(
        job.properties.start_time.is_some() && job.properties.end_time.is_some(),
        "{job:?}"
    );
}

/// limits.md §6 G3: a recovery plan's failover reads status at most once a second overall. The VMs' ASR jobs are
/// waited for through one `replicationJobs` list per vault per interval, not one poll loop per VM.
#[tokio::test(start_paused = true)]
async fn dr_failover_of_many_vms_waits_for_their_jobs_with_one_list_per_vault() {
    let env = DrEnv::generated(30, 11, 1).await;
    env.sleep(3600).await;
    let mark = env.log_mark();
    let out = dr::execute(&env.client, &env.planned_failover(), &NoHooks)
        .await
        .unwrap();
    assert_eq!(out.failed().count(), 0, "{out:#?}");
    let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
    for e in env.requests_since(mark) {
        *by_op
            .entry(format!("{} {}", e.method, e.operation))
            .or_default() += 1;
    }
    let status = |op: &str| op.contains("Job") || op.contains("Operation") || op.contains("Status");
    let status_reads: usize = by_op
        .iter()
        .filter(|(k, _)| k.starts_with("GET ") && status(k))
        .map(|(_, n)| n)
        .sum();
    let secs = (out.ended - out.started).whole_seconds().max(1) as f64;
    assert!(
        status_reads as f64 / secs <= 1.0,
        "{status_reads} status reads in {secs} s: {by_op:#?}"
    );
    assert!(
        by_op.keys().any(|k| k.contains("ReplicationJobs_List")),
        "jobs are waited for through the vault's job list: {by_op:#?}"
    );
}
