//! The DR commands through the binary on a copy of the quickstart (the simulator's clock persists between
//! commands and is sped up so waits are short): the planned lifecycle failover → commit → reprotect → failback →
//! commit → reprotect with a manual step that stops the run until `--continue`, the failover guard rail, and an
//! outage failover that never touches the source region.

use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;

use crate::common;

pub(crate) fn asrform(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("asrform").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ASRFORM_VAR_target_region");
    c
}

/// The quickstart without `active_site` (so ordinary plans must leave a failed-over workload alone).
pub(crate) fn quickstart() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::fast_quickstart(tmp.path(), |text| {
        assert!(text.contains("active_site = \"primary\""));
        text.replace("active_site = \"primary\"", "")
    });
    tmp
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = asrform(dir).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args);
    assert_eq!(code, 0, "asrform {args:?}\n{out}\n{err}");
    out
}

/// `plan --detailed-exitcode` exits 0: nothing to change.
fn assert_no_op(dir: &Path, after: &str) {
    let (code, out, err) = run(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "plan after {after} is not a no-op:\n{out}\n{err}");
}

pub(crate) fn status(dir: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap()
}

#[test]
fn dr_cli_planned_lifecycle_with_a_manual_step_and_the_failover_guard() {
    let tmp = quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    assert_no_op(dir, "apply");

    // Guard rail: a failover plan needs --allow-failover (or the count typed); --auto-approve is not enough.
    let (code, out, err) = run(dir, &["failover", "recovery_plan.app", "--auto-approve"]);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to run 4 failovers"), "{err}");
    assert!(out.contains("recovery_plan.app#failover"), "{out}");
    assert!(
        out.contains("expected_data_loss = none: the source VMs in eastus are shut down"),
        "{out}"
    );
    assert!(status(dir).iter().all(|v| v["active_site"] == "Primary"));

    // Commands that make no sense in this position are plan errors naming the VM and its state.
    let (code, _, err) = run(dir, &["commit", "recovery_plan.app", "--auto-approve"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("protected_vm.app[\"db01\"]: commit is not possible: it is protected"),
        "{err}"
    );

    // The manual step before group 2 stops the run; db01 (group 1) has failed over, the rest has not.
    let (code, _, err) = run(dir, &["failover", "recovery_plan.app", "--allow-failover"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("manual step") && err.contains("--continue"),
        "{err}"
    );
    let st = status(dir);
    let site = |vm: &str| {
        st.iter()
            .find(|v| v["vm"] == vm)
            .map(|v| v["protection_state"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    assert!(site("db01").contains("CommitPending"), "{st:?}");
    assert_eq!(site("web01"), "Protected", "{st:?}");

    // Resumed with --continue: the rest fails over, db01 is not failed over twice.
    let out = ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--allow-failover",
            "--continue",
        ],
    );
    assert!(out.contains("already failed over"), "{out}");
    assert_no_op(dir, "failover");

    ok(dir, &["commit", "recovery_plan.app", "--auto-approve"]);
    assert_no_op(dir, "commit");
    ok(
        dir,
        &[
            "reprotect",
            "recovery_plan.app",
            "--auto-approve",
            "--wait",
            "protected",
        ],
    );
    assert_no_op(dir, "reprotect");
    assert!(
        status(dir).iter().all(|v| v["rpi"]
            .as_str()
            .unwrap()
            .contains("/replicationFabrics/asrform-westus2/")),
        "reprotected items live in the recovery fabric"
    );

    // A plan file for review, applied later.
    let plan = dir.join("failback.json");
    ok(
        dir,
        &[
            "failback",
            "recovery_plan.app",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["resource_changes"][0]["action"], "failback");
    ok(
        dir,
        &[
            "failback",
            "recovery_plan.app",
            "--allow-failover",
            "--continue",
        ],
    );
    assert_no_op(dir, "failback");
    ok(dir, &["commit", "recovery_plan.app", "--auto-approve"]);
    assert_no_op(dir, "commit of the failback");
    ok(
        dir,
        &[
            "reprotect",
            "recovery_plan.app",
            "--auto-approve",
            "--wait",
            "protected",
        ],
    );
    // Back to the original topology: every item replicates from the source fabric again.
    let st = status(dir);
    assert_eq!(st.len(), 4);
    for v in &st {
        assert!(
            v["rpi"]
                .as_str()
                .unwrap()
                .contains("/replicationFabrics/asrform-eastus/"),
            "{v}"
        );
        assert_eq!(v["active_site"], "Primary", "{v}");
        assert_eq!(v["protection_state"], "Protected", "{v}");
    }
}

#[test]
fn dr_cli_outage_failover_never_touches_the_source_and_shows_the_data_loss_window() {
    let tmp = quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    ok(dir, &["sim", "--dir", ".", "advance", "30m"]);
    ok(dir, &["sim", "--dir", ".", "outage", "eastus"]);
    let plan = dir.join("outage.json");
    let out = ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--source-unavailable",
            "--recovery-point",
            "latest-processed",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("recovery_point     = latest_processed"),
        "{out}"
    );
    assert!(
        out.contains("are not touched (--source-unavailable)"),
        "{out}"
    );
    assert!(out.contains("outage failover"), "{out}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let dr = &saved["resource_changes"][0]["dr"];
    assert_eq!(dr["shut_down_source"], false);
    let loss = dr["expected_data_loss_seconds"].as_i64().unwrap();
    assert_eq!(
        Some(loss),
        dr["recovery_point"]["age_seconds"].as_i64(),
        "the data-loss window is the age of the point"
    );
    let md = ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--source-unavailable",
            "--format",
            "markdown",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    assert!(md.contains("latest_processed"), "{md}");

    ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--source-unavailable",
            "--recovery-point",
            "latest-processed",
            "--allow-failover",
            "--continue",
        ],
    );
    let st = status(dir);
    assert!(
        st.iter().all(|v| v["protection_state"]
            .as_str()
            .unwrap()
            .contains("CommitPending")),
        "{st:?}"
    );
}

#[test]
fn dr_cli_drill_writes_its_report_and_always_cleans_up() {
    let tmp = quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    let out = ok(dir, &["drill", "recovery_plan.app"]);
    assert!(
        out.contains("Drill succeeded") && out.contains("cleanup done"),
        "{out}"
    );
    assert!(out.contains(".asrform/drills"), "{out}");
    let reports: Vec<_> = std::fs::read_dir(dir.join(".asrform/drills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let json = reports
        .iter()
        .find(|p| {
            p.extension().is_some_and(|e| e == "json") && !p.ends_with(".drill-in-progress.json")
        })
        .expect("a JSON report");
    assert!(
        reports
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "md")),
        "{reports:?}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(r["succeeded"], true, "{r}");
    assert_eq!(r["cleanup_ok"], true, "{r}");
    assert_eq!(r["vms"].as_array().unwrap().len(), 4, "{r}");
    let rto = r["rto_secs"].as_u64().unwrap();
    assert!(rto > 0, "{r}");
    for v in r["vms"].as_array().unwrap() {
        let rpo = v["rpo_secs"].as_u64().expect("achieved RPO per VM");
        assert!(rpo < 24 * 3600, "an RPO within the retention: {v}");
        assert!(
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["ok"] == true),
            "{v}"
        );
    }
    // Nothing of the drill is left: every item is plainly protected again and plan is a no-op.
    for v in status(dir) {
        assert_eq!(v["protection_state"], "Protected", "{v}");
    }
    assert_no_op(dir, "drill");
}

#[test]
fn dr_cli_interrupted_drill_leaves_no_test_failover_vm() {
    use std::io::BufRead as _;
    let tmp = quickstart();
    let dir = tmp.path();
    // Slower simulated time, so the drill is still running when the signal arrives.
    let main = dir.join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        text.replace("clock_speed = 100000", "clock_speed = 2000"),
    )
    .unwrap();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    let vms_before = ok(dir, &["sim", "--dir", ".", "status"]);
    let mut child = asrform(dir)
        .args(["drill", "recovery_plan.app"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let started = line.contains("test failover of Group 1 started");
        seen.push(line);
        if started {
            // Mid-way: the first group's test failover has begun.
            let st = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(st.success());
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{seen:?}\n{err}");
    assert!(err.contains("Drill interrupted"), "{seen:?}\n{err}");
    // The next command finds nothing to clean up and no test-failover VM exists.
    let (code, text, err) = run(
        dir,
        &[
            "test-failover-cleanup",
            "recovery_plan.app",
            "--auto-approve",
        ],
    );
    assert_ne!(code, 0, "{text}");
    assert!(
        err.contains("test-failover-cleanup is not possible"),
        "{err}"
    );
    let vms = |s: &str| {
        s.lines()
            .find(|l| l.contains("Microsoft.Compute/virtualMachines "))
            .map(str::to_string)
    };
    assert!(vms(&vms_before).is_some(), "{vms_before}");
    assert_eq!(
        vms(&ok(dir, &["sim", "--dir", ".", "status"])),
        vms(&vms_before),
        "a test-failover VM is left"
    );
    for v in status(dir) {
        assert_eq!(v["protection_state"], "Protected", "{v}");
    }
}
