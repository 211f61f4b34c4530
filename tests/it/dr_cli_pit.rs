//! `change-recovery-point`, `cancel-failover` and `status` through the binary on a copy of the quickstart (sped-up
//! simulator clock persisted between commands): a saved change-recovery-point plan shows both points per VM and
//! `apply PLANFILE` moves the VMs to exactly the reviewed point; cancel needs the failover guard rail and returns
//! the VMs to the primary site; status shows live and recorded active sites where they disagree; `--max-rpo`
//! refuses a failover naming the VMs.

use serde_json::Value;

use crate::common;
use crate::dr_cli_commands::{ok, quickstart, run, status};

/// The quickstart on a slower clock (2000 simulated seconds per second): recovery points are kept 24h, and at the
/// fast clock a slow machine can spend that between two commands.
fn slower_quickstart() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::fast_quickstart(tmp.path(), |text| {
        text.replace("active_site = \"primary\"", "")
            .replace("clock_speed = 100000", "clock_speed = 2000")
    });
    tmp
}

#[test]
fn dr_cli_change_recovery_point_saved_plan_applies_the_reviewed_point() {
    let tmp = slower_quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    ok(dir, &["sim", "--dir", ".", "advance", "3h"]);

    // The policy is required, and the command is refused before a failover.
    let (code, _, err) = run(dir, &["change-recovery-point", "recovery_plan.app"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs --recovery-point"), "{err}");
    let (code, _, err) = run(
        dir,
        &[
            "change-recovery-point",
            "recovery_plan.app",
            "--recovery-point",
            "latest",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("acts only on a failover that awaits its commit"),
        "{err}"
    );

    ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--allow-failover",
            "--continue",
        ],
    );
    let plan = dir.join("pit.json");
    let out = ok(
        dir,
        &[
            "change-recovery-point",
            "recovery_plan.app",
            "--recovery-point",
            "latest-processed",
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("recovery_plan.app#change_recovery_point"),
        "{out}"
    );
    assert!(out.contains("points             = {"), "{out}");
    assert!(out.contains("            from 20"), "{out}");
    assert!(out.contains("            to   20"), "{out}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let vms = saved["resource_changes"][0]["dr"]["vms"]
        .as_array()
        .unwrap();
    assert_eq!(vms.len(), 4);
    let chosen: Vec<(String, String)> = vms
        .iter()
        .map(|v| {
            (
                v["rpi_id"].as_str().unwrap().to_string(),
                v["points"]["chosen"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    // Time passes between review and apply; the reviewed point is applied, not a newer one.
    ok(dir, &["sim", "--dir", ".", "advance", "10m"]);
    let out = ok(dir, &["apply", "pit.json"]);
    assert!(out.contains("Apply complete!"), "{out}");
    let store = asrform::sim::SimStore::open(dir, std::time::Duration::from_secs(10)).unwrap();
    let (sim, _) = store
        .simulator(time::OffsetDateTime::now_utc(), None)
        .unwrap();
    let world = sim.world();
    for (rpi, point) in &chosen {
        let r = world
            .rpis
            .values()
            .find(|r| r.id.eq_ignore_ascii_case(rpi))
            .unwrap_or_else(|| panic!("{rpi} is gone"));
        assert_eq!(
            r.protection_state, "UnplannedFailoverCommitPendingStatesBegin",
            "{rpi}"
        );
        let applied = &r.failover.as_ref().unwrap().point_id;
        assert!(
            applied.eq_ignore_ascii_case(point),
            "{rpi}: applied {applied}, reviewed {point}"
        );
    }
}

#[test]
fn dr_cli_cancel_failover_needs_the_guard_and_status_shows_site_disagreement() {
    let tmp = quickstart();
    let dir = tmp.path();
    ok(dir, &["apply", "--auto-approve", "--wait", "protected"]);
    ok(dir, &["sim", "--dir", ".", "advance", "30m"]);

    // Readiness gate: with the source region down replication stops, and an RPO above --max-rpo refuses the
    // failover, naming every VM.
    ok(dir, &["sim", "--dir", ".", "outage", "eastus"]);
    ok(dir, &["sim", "--dir", ".", "advance", "2h"]);
    let (code, _, err) = run(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--source-unavailable",
            "--max-rpo",
            "30m",
            "--allow-failover",
        ],
    );
    assert_ne!(code, 0);
    for vm in ["db01", "app01", "web01", "web02"] {
        assert!(
            err.contains(&format!("protected_vm.app[\"{vm}\"]")),
            "{vm}: {err}"
        );
    }
    assert!(err.contains("rpo gate"), "{err}");
    ok(dir, &["sim", "--dir", ".", "restore", "eastus"]);
    ok(dir, &["sim", "--dir", ".", "advance", "30m"]);

    ok(
        dir,
        &[
            "failover",
            "recovery_plan.app",
            "--allow-failover",
            "--continue",
        ],
    );
    let rows = status(dir);
    assert!(
        rows.iter().all(|r| r["live_site"] == "recovery"),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["state_site"] == "recovery"),
        "{rows:?}"
    );

    // Status: the state file says primary for db01 (an interrupted apply, say) while live state says recovery.
    let state_path = dir.join("asrform.state.json");
    let mut st: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    st["resources"]["protected_vm.app[\"db01\"]"]["active_site"] = "primary".into();
    std::fs::write(&state_path, serde_json::to_string_pretty(&st).unwrap()).unwrap();
    let rows = status(dir);
    let db = rows.iter().find(|r| r["vm"] == "db01").unwrap();
    assert_eq!(db["site_mismatch"], true, "{db}");
    assert_eq!(db["state_site"], "primary");
    assert_eq!(db["live_site"], "recovery");
    assert_eq!(db["recovery_plan"]["address"], "recovery_plan.app");
    assert_eq!(db["recovery_plan"]["state_site"], "recovery");
    assert_eq!(db["recovery_plan"]["live_site"], "recovery");
    let web = rows.iter().find(|r| r["vm"] == "web01").unwrap();
    assert_eq!(web["site_mismatch"], false, "{web}");
    let text = ok(dir, &["status"]);
    assert!(text.contains("recovery (state: primary)"), "{text}");
    assert!(text.contains("RECOVERY PLAN"), "{text}");
    assert!(
        text.contains("records another active site for db01"),
        "{text}"
    );
    st["resources"]["protected_vm.app[\"db01\"]"]["active_site"] = "recovery".into();
    std::fs::write(&state_path, serde_json::to_string_pretty(&st).unwrap()).unwrap();

    // Cancel moves workloads back: --auto-approve alone is not enough.
    let (code, out, err) = run(
        dir,
        &["cancel-failover", "recovery_plan.app", "--auto-approve"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("refusing to run 4 failovers"), "{err}");
    assert!(out.contains("recovery_plan.app#cancel_failover"), "{out}");
    let (code, _, err) = run(
        dir,
        &[
            "cancel-failover",
            "recovery_plan.app",
            "--recovery-point",
            "latest",
        ],
    );
    assert_eq!(code, 2, "{err}");

    ok(
        dir,
        &["cancel-failover", "recovery_plan.app", "--allow-failover"],
    );
    let rows = status(dir);
    for r in &rows {
        assert_eq!(r["live_site"], "primary", "{r}");
        assert_eq!(r["state_site"], "primary", "{r}");
        assert_eq!(r["protection_state"], "Protected", "{r}");
    }
    let (code, out, err) = run(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "plan after cancel is not a no-op:\n{out}\n{err}");
    let (code, _, err) = run(
        dir,
        &["cancel-failover", "recovery_plan.app", "--allow-failover"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("cancel-failover is not possible"), "{err}");
}
