//! `destroy` through the binary: after applying the quickstart on the simulator, `destroy` disables protection and
//! removes everything asrform created (including the target resource group, whose delete is a polled LRO), leaving
//! the state empty and a fresh plan wanting to create it all again.

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

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A copy of the quickstart with a fast simulator clock.
fn quickstart() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::fast_quickstart(tmp.path(), |text| text);
    tmp
}

#[test]
fn destroy_after_apply_empties_state_and_removes_live_objects() {
    let tmp = quickstart();
    let dir = tmp.path();
    let (code, text, err) = out(asrform(dir).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("Apply complete! 13 applied"), "{text}");
    let (code, listed, err) = out(asrform(dir).args(["state", "list"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed.lines().count(), 13, "{listed}");

    let (code, text, err) = out(asrform(dir).args(["destroy", "--auto-approve"]));
    assert_eq!(code, 0, "destroy failed:\n{text}{err}");
    assert!(text.contains("13 applied, 0 failed, 0 skipped"), "{text}");

    let (code, listed, err) = out(asrform(dir).args(["state", "list"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        listed.trim(),
        "",
        "state is not empty after destroy:\n{listed}"
    );

    // The live objects are gone: a plan against the live simulator wants all 13 again.
    let (code, text, err) = out(asrform(dir).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{text}{err}");
    assert!(
        text.contains("Plan: 13 to add, 0 to change, 0 to destroy"),
        "{text}"
    );
}
