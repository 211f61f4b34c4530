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

/// The quickstart (without `active_site`) with the simulator at `speed`. Commands that pick a recovery point and
/// use it later (drills, outage failovers) need a speed at which a loaded machine's pauses between commands stay
/// well within the 24h retention: at the default fast speed one wall second is more than a simulated day.
fn quickstart_at(speed: u32) -> tempfile::TempDir {
    let tmp = quickstart();
    let main = tmp.path().join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        text.replace("clock_speed = 100000", &format!("clock_speed = {speed}")),
    )
    .unwrap();
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

/// `plan --detailed-exitcode` exits 0 and says so: nothing to change.
fn assert_no_op(dir: &Path, after: &str) {
    let (code, out, err) = run(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "plan after {after} is not a no-op:\n{out}\n{err}");
    assert!(
        out.contains("No changes."),
        "plan after {after} is not a no-op:\n{out}\n{err}"
    );
}

/// The simulator's world as the last command saved it.
fn world(dir: &Path) -> (asrform::sim::World, time::OffsetDateTime) {
    let store = asrform::sim::SimStore::open(dir, std::time::Duration::from_secs(5)).unwrap();
    let saved = store.load().unwrap();
    (saved.world, saved.sim_time)
}

/// The live topology of every protected item, by VM name: where it replicates from and to, which VM it
/// protects, which site is active, and every recovery setting (cache, resource groups, disk SKUs, networks, VM
/// name and size, placement, NIC/IP settings). Ids are compared case-insensitively.
fn topology(dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let (w, _) = world(dir);
    let lc = |v: &serde_json::Value| match v.as_str() {
        Some(s) => serde_json::Value::String(s.to_ascii_lowercase()),
        None => v.clone(),
    };
    w.rpis
        .values()
        .map(|r| {
            let s = &r.settings;
            let net = if s["selectedRecoveryAzureNetworkId"].is_null() {
                &s["recoveryAzureNetworkId"]
            } else {
                &s["selectedRecoveryAzureNetworkId"]
            };
            let settings: serde_json::Value = [
                "recoveryResourceGroupId",
                "recoveryAzureVMName",
                "recoveryAzureVMSize",
                "recoveryAvailabilitySetId",
                "recoveryAvailabilityZone",
                "selectedTfoAzureNetworkId",
                "multiVmGroupName",
            ]
            .iter()
            .map(|k| (k.to_string(), lc(&s[*k])))
            .chain([("network".to_string(), lc(net))])
            .collect::<serde_json::Map<_, _>>()
            .into();
            let disks: Vec<_> = r
                .disks
                .iter()
                .map(|d| {
                    serde_json::json!([
                        d.disk_id.to_ascii_lowercase(),
                        d.cache_account.to_ascii_lowercase(),
                        d.recovery_rg.to_ascii_lowercase(),
                        d.replica_type,
                        d.target_type
                    ])
                })
                .collect();
            let nics: Vec<_> = r
                .vm_nics
                .iter()
                .map(|n| {
                    let ip = &n["ipConfigs"][0];
                    serde_json::json!([
                        lc(&n["sourceNicArmId"]),
                        ip["recoverySubnetName"],
                        ip["recoveryStaticIPAddress"],
                        ip["tfoSubnetName"],
                        ip["tfoStaticIPAddress"]
                    ])
                })
                .collect();
            (
                r.name.clone(),
                serde_json::json!({
                    "id": r.id.to_ascii_lowercase(),
                    "source_vm": r.source_vm_id.to_ascii_lowercase(),
                    "recovery_container": r.recovery_container_id.to_ascii_lowercase(),
                    "policy": r.policy_id.to_ascii_lowercase(),
                    "protection_state": r.protection_state,
                    "active_location": r.active_location,
                    "primary_location": r.primary_location,
                    "settings": settings,
                    "disks": disks,
                    "nics": nics,
                }),
            )
        })
        .collect()
}

/// After a planned failover (or failback) every VM's target disks hold exactly what its source disks held when
/// they were shut down: the source is stopped (so its content no longer changes) and each target disk was created
/// from the final point taken after the shutdown. Returns the number of disks compared.
fn assert_zero_data_loss(dir: &Path, what: &str) -> usize {
    let (w, now) = world(dir);
    let mut compared = 0;
    for r in w.rpis.values() {
        let f = r
            .failover
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: {} has no failover in effect", r.name));
        assert!(f.source_shut_down, "{what}: {} was not planned", r.name);
        assert!(
            !w.vm_running(&r.source_vm_id, now),
            "{what}: the source VM of {} still runs",
            r.name
        );
        for d in &r.disks {
            let tgt = d
                .target_disk_id
                .as_deref()
                .unwrap_or_else(|| panic!("{what}: {} disk {} has no target disk", r.name, d.name));
            let src = w.disk_content(&d.disk_id, now).unwrap();
            assert!(src > 0, "{what}: {} was never written", d.disk_id);
            assert_eq!(
                w.disk_content_at_base(tgt),
                Some(src),
                "{what}: {tgt} does not hold the content of {} (data lost)",
                d.disk_id
            );
            // The point applied is the one taken after the shutdown: nothing was written after it.
            assert_eq!(
                w.disk_content(&d.disk_id, f.point_time),
                Some(src),
                "{what}: writes after the recovery point of {}",
                r.name
            );
            compared += 1;
        }
    }
    compared
}

pub(crate) fn status(dir: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap()
}

#[test]
fn dr_cli_planned_lifecycle_with_a_manual_step_and_the_failover_guard() {
    let tmp = quickstart_at(5000);
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    assert_no_op(dir, "apply");
    let original = topology(dir);
    assert_eq!(original.len(), 4);
    ok(dir, &["drill", "recovery_plan.app"]);
    assert_no_op(dir, "drill");
    assert_eq!(topology(dir), original, "a drill changes nothing");

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
    assert!(assert_zero_data_loss(dir, "failover") >= 4);

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
    assert!(assert_zero_data_loss(dir, "failback") >= 4);
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
    assert_no_op(dir, "final reprotect");
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
    // Live state equals the original: same items, same protected VMs, same settings, active site primary.
    assert_eq!(topology(dir), original);
}

#[test]
fn dr_cli_outage_failover_never_touches_the_source_and_shows_the_data_loss_window() {
    let tmp = quickstart_at(2000);
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    ok(dir, &["sim", "--dir", ".", "advance", "30m"]);
    ok(dir, &["sim", "--dir", ".", "outage", "eastus"]);
    // The snapshot sees the outage: the source region is unknown, not deleted, and nothing is proposed there.
    let (code, out, err) = run(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("region eastus could not be read") && !out.contains("deleted outside"),
        "{out}"
    );
    // A plain failover (no --source-unavailable) is an outage failover that says why.
    let out = ok(
        dir,
        &["failover", "recovery_plan.app", "--out", "plain.json"],
    );
    assert!(
        out.contains("are not touched (eastus is unreachable)"),
        "{out}"
    );
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
    let tmp = quickstart_at(5000);
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
    // Slower simulated time, so the drill is still running when the signal arrives.
    let tmp = quickstart_at(2000);
    let dir = tmp.path();
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

#[test]
fn dr_cli_guard_rail_holds_for_plan_files_and_for_apply_dir() {
    let tmp = quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);

    // `apply DIR`: a deletion (web02 taken out of the configuration) needs --allow-failover too.
    let main = dir.join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    let web02 = "    web02 = { tier = \"web\", size = \"Standard_D2s_v5\", ip = \"10.20.1.31\" }\n";
    assert!(text.contains(web02));
    std::fs::write(&main, text.replace(web02, "")).unwrap();
    let (code, out, err) = run(dir, &["apply", "--auto-approve"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("protected_vm.app[\"web02\"] will be destroyed")
            || out.contains("- protected_vm.app[\"web02\"]"),
        "{out}"
    );
    assert!(
        err.contains("refusing to run 1 failover, failback, re-seed or deletion"),
        "{err}"
    );
    std::fs::write(&main, text).unwrap();
    assert_no_op(dir, "a refused deletion");

    // A failover plan saved for review: applying the file is not a way around --allow-failover.
    let plan = dir.join("failover.json");
    ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    let (code, out, err) = run(dir, &["apply", plan.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("refusing to run 4 failovers, failbacks, re-seeds or deletions")
            && err.contains("--allow-failover"),
        "{err}"
    );
    let (code, out, err) = run(dir, &["apply", plan.to_str().unwrap(), "--auto-approve"]);
    assert_ne!(code, 0, "--auto-approve is not enough:\n{out}");
    assert!(err.contains("refusing to run 4"), "{err}");
    assert!(
        status(dir).iter().all(|v| v["active_site"] == "Primary"),
        "nothing failed over"
    );
    ok(
        dir,
        &[
            "apply",
            plan.to_str().unwrap(),
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

/// The DR steps of a saved plan, in order: `(action, direction)`.
fn dr_steps(dir: &Path, args: &[&str]) -> Vec<(String, String)> {
    let file = dir.join("steps.json");
    let mut a = args.to_vec();
    a.extend(["--out", file.to_str().unwrap()]);
    ok(dir, &a);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["dr"].is_null())
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["dr"]["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn dr_cli_active_site_converges_like_the_commands_and_reverting_it_fails_back() {
    // The same estate twice: one moved with the commands, one by setting active_site.
    let by_commands = quickstart();
    let cmd = by_commands.path();
    let declared = tempfile::tempdir().unwrap();
    let dir = declared.path();
    common::fast_quickstart(dir, |t| t);
    let main = dir.join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    let set = |site: &str| {
        std::fs::write(
            &main,
            text.replace(
                "active_site = \"primary\"",
                &format!("active_site = \"{site}\""),
            ),
        )
        .unwrap()
    };
    for d in [cmd, dir] {
        ok(d, &["apply", "--auto-approve", "--wait", "protected"]);
        assert_no_op(d, "apply");
    }
    let original = topology(dir);
    assert_eq!(topology(cmd), original);

    // The commands, one step at a time.
    let mut commanded = Vec::new();
    for (step, args) in [
        ("failover", vec!["failover", "recovery_plan.app"]),
        ("commit", vec!["commit", "recovery_plan.app"]),
        ("reprotect", vec!["reprotect", "recovery_plan.app"]),
    ] {
        commanded.extend(dr_steps(cmd, &args));
        let mut run_args = args.clone();
        run_args.extend([
            "--auto-approve",
            "--allow-failover",
            "--continue",
            "--wait",
            "protected",
        ]);
        ok(cmd, &run_args);
        assert_no_op(cmd, step);
    }

    // active_site = "recovery": the plan is the same sequence, guarded like the commands.
    set("recovery");
    let declared_steps = dr_steps(dir, &["plan"]);
    assert_eq!(declared_steps, commanded);
    assert_eq!(
        declared_steps,
        [
            ("failover".to_string(), "primary_to_recovery".to_string()),
            ("commit".to_string(), "primary_to_recovery".to_string()),
            ("reprotect".to_string(), "recovery_to_primary".to_string()),
        ]
    );
    let (code, _, err) = run(dir, &["apply", "--auto-approve", "--continue"]);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to run 4"), "{err}");
    ok(
        dir,
        &[
            "apply",
            "--auto-approve",
            "--allow-failover",
            "--continue",
            "--wait",
            "protected",
        ],
    );
    assert_no_op(dir, "active_site = recovery");
    let failed_over = topology(dir);
    assert_eq!(
        failed_over,
        topology(cmd),
        "active_site ends where the commands end"
    );
    // Live: every VM runs in the recovery region and replicates back to the primary.
    assert!(
        failed_over
            .values()
            .all(|t| t["primary_location"] == "westus2" && t["active_location"] == "Primary"),
        "{failed_over:?}"
    );

    // Unset: ordinary plans leave the failed-over workload alone.
    std::fs::write(&main, text.replace("active_site = \"primary\"", "")).unwrap();
    assert_no_op(dir, "unsetting active_site");

    // Reverted to "primary": failback, commit, reprotect, then nothing more to do and the original topology.
    set("primary");
    assert_eq!(
        dr_steps(dir, &["plan"]),
        [
            ("failback".to_string(), "recovery_to_primary".to_string()),
            ("commit".to_string(), "recovery_to_primary".to_string()),
            ("reprotect".to_string(), "primary_to_recovery".to_string()),
        ]
    );
    ok(
        dir,
        &[
            "apply",
            "--auto-approve",
            "--allow-failover",
            "--continue",
            "--wait",
            "protected",
        ],
    );
    assert_no_op(dir, "active_site back to primary");
    assert_eq!(topology(dir), original);
    assert!(
        original
            .values()
            .all(|t| t["primary_location"] == "eastus" && t["active_location"] == "Primary")
    );
}
