//! `plan`, `show`, `apply` and `destroy` through the binary on a copy of the quickstart (the simulator store lives
//! in the copy's `.asrform/sim`; its clock is sped up so the binary's waits are short).

use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;

use crate::common;

fn asrform(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("asrform").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ASRFORM_VAR_target_region");
    c
}

fn quickstart() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::fast_quickstart(tmp.path(), |text| text);
    tmp
}

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn plan_show_apply_and_a_stale_saved_plan() {
    let tmp = quickstart();
    let dir = tmp.path();

    let (code, text, err) =
        out(asrform(dir).args(["plan", "--detailed-exitcode", "--out", "plan.json"]));
    assert_eq!(code, 2, "{text}{err}");
    assert!(
        text.contains("Plan: 13 to add, 0 to change, 0 to destroy, 0 to re-seed, 0 DR operations."),
        "{text}"
    );

    // `show` prints what `plan` printed.
    let (code, shown, err) = out(asrform(dir).args(["show", "plan.json"]));
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with(&shown), "show differs from plan:\n{shown}");
    let (_, md, _) = out(asrform(dir).args(["show", "plan.json", "--format", "markdown"]));
    assert!(md.starts_with("## DR plan: plan"), "{md}");

    // No confirmation on a non-terminal without --auto-approve.
    let (code, _, err) = out(asrform(dir).arg("apply"));
    assert_ne!(code, 0);
    assert!(err.contains("--auto-approve"), "{err}");

    // The saved plan applies once.
    let (code, text, err) = out(asrform(dir).args(["apply", "plan.json"]));
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("Apply complete! 13 applied"), "{text}");
    // Whether initial replication finished before the NIC settings were due depends on how much simulated time the
    // (wall-clock paced) simulator let pass; the apply says which happened, and the next plan must agree with it.
    let deferred = format!("{text}{err}").contains("NIC/IP settings wait for initial replication");
    let (code, _, err) = out(asrform(dir).args(["apply", "plan.json"]));
    assert_eq!(code, 1);
    assert!(err.contains("saved plan is stale"), "{err}");
    assert!(err.contains("already applied"), "{err}");

    // Afterwards the configuration plans clean.
    let (code, text, _) = out(asrform(dir).args(["plan", "--detailed-exitcode"]));
    if deferred {
        assert_eq!(
            code, 2,
            "the deferred NIC settings are still to apply: {text}"
        );
        assert!(
            text.contains("0 to add") && text.contains("0 to destroy"),
            "{text}"
        );
        let (code, text, err) =
            out(asrform(dir).args(["apply", "--auto-approve", "--wait", "protected"]));
        assert_eq!(code, 0, "{text}{err}");
        let (code, text, _) = out(asrform(dir).args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{text}");
    } else {
        assert_eq!(
            code, 0,
            "NIC settings were applied with the protection: {text}"
        );
    }
}
