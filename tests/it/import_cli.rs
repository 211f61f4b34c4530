//! `asrform import` end to end on a simulator store: files and state written, `validate` and `plan
//! --detailed-exitcode` agree the result is a no-op, and a second import without `--force` is refused.

use std::process::Command;

use asrform::sim::SimStore;
use assert_cmd::prelude::*;

use crate::common;
use crate::import_env;

fn asrform(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("asrform").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

#[test]
fn import_writes_files_and_state_that_plan_to_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        common::path("examples/quickstart/estate.json"),
        dir.join("estate.json"),
    )
    .unwrap();
    // A directory holding only a provider block, like a team's fresh repository.
    std::fs::write(
        dir.join("provider.asr.hcl"),
        "provider \"simulator\" {\n  estate = \"estate.json\"\n}\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let vault = rt.block_on(async {
        let (sim, client) = crate::import_small::sim_for("quickstart");
        let vault = import_env::build(&client, &sim, &import_env::small()).await;
        sim.advance(std::time::Duration::from_secs(6 * 3600));
        let store = SimStore::open(dir, std::time::Duration::from_secs(5)).unwrap();
        store
            .save_simulator(&sim, time::OffsetDateTime::now_utc(), 1.0)
            .unwrap();
        vault
    });

    let out = asrform(dir)
        .args(["import", "--vault", &vault])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("wrote"), "{stdout}");
    let main = std::fs::read_to_string(dir.join("main.asr.hcl")).unwrap();
    assert!(
        !main.contains("provider \"simulator\""),
        "the directory's own provider block is kept, not repeated:\n{main}"
    );

    asrform(dir).args(["validate", "."]).assert().success();
    let plan = asrform(dir)
        .args(["plan", ".", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );

    let again = asrform(dir)
        .args(["import", "--vault", &vault])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
