//! `asrform state …` through the binary: list/show/rm/pull/push/unlock against a local state file in a temporary
//! configuration directory, the lock exit code, and the same commands against an azurerm backend on Azurite.

use std::collections::BTreeMap;
use std::path::Path;

use asrform::state::local::LocalStore;
use asrform::state::{LockInfo, ResourceState, Site, State, StateStore};
use assert_cmd::Command;
use time::OffsetDateTime;

use crate::azurite::{Azurite, account_sas, create_container};
use crate::common;

/// A copy of the quickstart configuration (the local backend: `asrform.state.json` beside it).
fn config_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["main.asr.hcl", "estate.json"] {
        std::fs::copy(
            common::path(&format!("examples/quickstart/{f}")),
            dir.path().join(f),
        )
        .unwrap();
    }
    if !extra.is_empty() {
        std::fs::write(dir.path().join("backend.asr.hcl"), extra).unwrap();
    }
    dir
}

fn sample_state() -> State {
    let mut s = State::new();
    s.lineage = "0b8a3c1e-5f2d-4e6a-9c7b-1d2e3f4a5b6c".into();
    s.serial = 4;
    let at = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    s.resources.insert(
        "protected_vm.app[\"db01\"]".into(),
        ResourceState {
            kind: "protected_vm".into(),
            arm_ids: BTreeMap::from([
                ("id".into(), "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-dr/providers/Microsoft.RecoveryServices/vaults/rsv-app-dr/replicationFabrics/asr-eastus/replicationProtectionContainers/asr-eastus-container/replicationProtectedItems/db01".into()),
                ("source_vm".into(), "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/db01".into()),
            ]),
            lifecycle_id: Some("7c1f0d52-3b3e-4d8e-8a1c-9f0e6b2d4a11".into()),
            attributes: serde_json::json!({"target_vm_size": "Standard_E4s_v5", "target_ip": "10.20.1.10"}),
            active_site: Some(Site::Primary),
            updated_at: at,
        },
    );
    for (addr, kind) in [
        ("protected_vm.app[\"web01\"]", "protected_vm"),
        ("vault.dr", "vault"),
        ("resource_group.dr", "resource_group"),
    ] {
        s.resources.insert(
            addr.into(),
            ResourceState {
                kind: kind.into(),
                arm_ids: BTreeMap::new(),
                lifecycle_id: None,
                attributes: serde_json::json!({}),
                active_site: None,
                updated_at: at,
            },
        );
    }
    s
}

fn asrform() -> Command {
    let mut c = Command::cargo_bin("asrform").unwrap();
    c.args(["--color", "never"]);
    c
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = asrform().args(args).arg(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn seed(dir: &Path) -> State {
    let s = sample_state();
    std::fs::write(dir.join("asrform.state.json"), s.to_json()).unwrap();
    s
}

fn stored(dir: &Path) -> State {
    State::from_json(
        "t",
        &std::fs::read_to_string(dir.join("asrform.state.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn list_and_show_read_local_state() {
    let dir = config_dir("");
    seed(dir.path());
    let (code, out, err) = run(dir.path(), &["state", "list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "protected_vm.app[\"db01\"]\nprotected_vm.app[\"web01\"]\nresource_group.dr\nvault.dr\n"
    );
    let (_, out, _) = run(dir.path(), &["state", "list", "--kind", "vault"]);
    assert_eq!(out, "vault.dr\n");
    let (code, _, err) = run(dir.path(), &["state", "list", "--kind", "vm"]);
    assert_eq!(code, 2);
    assert!(err.contains("protected_vm"), "lists the kinds: {err}");

    let (code, out, err) = run(dir.path(), &["state", "show", "protected_vm.app[\"db01\"]"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("state_show_db01", out);

    let (code, _, err) = run(dir.path(), &["state", "show", "protected_vm.app[\"db1\"]"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not in the state")
            && err.contains("did you mean `protected_vm.app[\"db01\"]`"),
        "{err}"
    );
}

#[test]
fn list_without_state_is_empty_and_pull_says_so() {
    let dir = config_dir("");
    let (code, out, _) = run(dir.path(), &["state", "list"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, err) = run(dir.path(), &["state", "pull"]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("No state is stored"), "{err}");
}

#[test]
fn rm_forgets_bumps_the_serial_and_keeps_a_backup() {
    let dir = config_dir("");
    let before = seed(dir.path());
    let out = asrform()
        .args(["state", "rm", "vault.dr", "protected_vm.app[\"web01\"]"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Removed vault.dr"), "{stdout}");
    let after = stored(dir.path());
    assert_eq!(after.serial, before.serial + 1);
    assert_eq!(after.lineage, before.lineage);
    assert_eq!(
        after.resources.keys().collect::<Vec<_>>(),
        ["protected_vm.app[\"db01\"]", "resource_group.dr"]
    );
    let backup = LocalStore::new(dir.path().join("asrform.state.json")).backup_path();
    assert_eq!(
        State::from_json("b", &std::fs::read_to_string(backup).unwrap()).unwrap(),
        before
    );
    assert!(
        !dir.path().join("asrform.state.json.lock").exists(),
        "the lock is released"
    );

    // An unknown address changes nothing.
    let (code, _, err) = run(dir.path(), &["state", "rm", "vault.nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("`vault.nope` is not in the state"), "{err}");
    assert_eq!(stored(dir.path()), after);
}

#[test]
fn pull_prints_the_document_and_push_enforces_lineage_and_serial() {
    let dir = config_dir("");
    let current = seed(dir.path());
    let (code, out, _) = run(dir.path(), &["state", "pull"]);
    assert_eq!(code, 0);
    assert_eq!(State::from_json("pulled", &out).unwrap(), current);

    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, s: &State| {
        let p = files.path().join(name);
        std::fs::write(&p, s.to_json()).unwrap();
        p.display().to_string()
    };
    let mut older = current.clone();
    older.serial = 2;
    let older = write("older.json", &older);
    let (code, _, err) = run(dir.path(), &["state", "push", &older]);
    assert_eq!(code, 1);
    assert!(
        err.contains("serial 2 is not greater than the stored serial 4"),
        "{err}"
    );

    let mut foreign = sample_state();
    foreign.lineage = "11111111-2222-4333-8444-555555555555".into();
    foreign.serial = 9;
    let foreign_path = write("foreign.json", &foreign);
    let (code, _, err) = run(dir.path(), &["state", "push", &foreign_path]);
    assert_eq!(code, 1);
    assert!(err.contains("lineage"), "{err}");
    assert_eq!(stored(dir.path()), current, "refused pushes write nothing");

    let mut newer = current.clone();
    newer.serial = 5;
    newer.resources.remove("vault.dr");
    let newer_path = write("newer.json", &newer);
    let (code, out, err) = run(dir.path(), &["state", "push", &newer_path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("serial 5"), "{out}");
    assert_eq!(stored(dir.path()), newer);

    let (code, _, err) = run(dir.path(), &["state", "push", "--force", &foreign_path]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stored(dir.path()).lineage, foreign.lineage);

    // Schema problems are named with their location, before anything is locked or written.
    let bad = files.path().join("bad.json");
    std::fs::write(
        &bad,
        foreign
            .to_json()
            .replace("\"serial\": 9", "\"serial\": \"nine\""),
    )
    .unwrap();
    let (code, _, err) = run(
        dir.path(),
        &["state", "push", bad.to_str().unwrap(), "--force"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("does not match the state schema") && err.contains("/serial"),
        "{err}"
    );
    let (code, _, err) = run(dir.path(), &["state", "push", "/nonexistent/x.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent/x.json"), "{err}");
}

#[tokio::test]
async fn a_held_lock_exits_3_naming_the_holder_and_unlock_needs_a_dead_holder() {
    let dir = config_dir("");
    seed(dir.path());
    let store = LocalStore::new(dir.path().join("asrform.state.json"));
    let info = LockInfo::for_this_process("apply", OffsetDateTime::now_utc());
    let guard = store.try_lock(&info).await.unwrap();

    let (code, _, err) = run(dir.path(), &["state", "rm", "vault.dr"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("state is locked by") && err.contains(&info.id),
        "{err}"
    );
    let (code, _, err) = run(dir.path(), &["state", "unlock", &info.id]);
    assert_eq!(code, 1);
    assert!(err.contains("held by a running process"), "{err}");

    // The holder dies without releasing: the record stays, and unlock by its id clears it.
    guard.abandon();
    assert!(dir.path().join("asrform.state.json.lock").exists());
    let (code, _, err) = run(dir.path(), &["state", "unlock", "not-the-id"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not match"), "{err}");
    let (code, out, err) = run(dir.path(), &["state", "unlock", &info.id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Unlocked"), "{out}");
    let (code, _, err) = run(dir.path(), &["state", "rm", "vault.dr"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_bad_configuration_or_backend_is_reported() {
    let dir = config_dir(
        "backend \"azurerm\" {\n  storage_account = \"acct\"\n  container = \"c\"\n  key = \"k\"\n  sas_token_env = \"ASRFORM_TEST_NO_SUCH_SAS\"\n}\n",
    );
    let out = asrform()
        .args(["state", "list"])
        .arg(dir.path())
        .env_remove("ASRFORM_TEST_NO_SUCH_SAS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("backend \"azurerm\"") && err.contains("ASRFORM_TEST_NO_SUCH_SAS"),
        "{err}"
    );
    // Variables the configuration needs are given as for validate.
    let dir = config_dir("variable \"needed\" {\n  type = string\n}\n");
    let (code, _, err) = run(dir.path(), &["state", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("needed"), "{err}");
    let (code, _, err) = run(dir.path(), &["state", "list", "--var", "needed=x"]);
    assert_eq!(code, 0, "{err}");

    let (code, _, err) = run(
        dir.path(),
        &["state", "rm", "x.y", "--lock-timeout", "5 parsecs"],
    );
    assert_eq!(code, 2, "a bad --lock-timeout is a usage error: {err}");
    assert!(err.contains("--lock-timeout"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(empty.path(), &["state", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains(".asr.hcl"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commands_work_against_an_azurerm_backend_on_azurite() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let dir = config_dir(&format!(
        "backend \"azurerm\" {{\n  storage_account = \"devstoreaccount1\"\n  container = \"tfstate\"\n  key = \"quickstart.state.json\"\n  endpoint = \"{}\"\n  sas_token_env = \"ASRFORM_TEST_SAS\"\n}}\n",
        azurite.account_url()
    ));
    let cmd = |args: &[&str]| {
        let out = asrform()
            .args(args)
            .arg(dir.path())
            .env("ASRFORM_TEST_SAS", &sas)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, err) = cmd(&["state", "list"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");

    let file = dir.path().join("seed.json");
    let seeded = sample_state();
    std::fs::write(&file, seeded.to_json()).unwrap();
    let (code, out, err) = cmd(&["state", "push", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Azure Blob"), "{out}");

    let (code, out, err) = cmd(&["state", "rm", "resource_group.dr"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("serial 5"), "{out}");
    let (code, out, _) = cmd(&["state", "list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "protected_vm.app[\"db01\"]\nprotected_vm.app[\"web01\"]\nvault.dr\n"
    );
    let (code, out, _) = cmd(&["state", "pull"]);
    assert_eq!(code, 0);
    let pulled = State::from_json("pulled", &out).unwrap();
    assert_eq!(
        (pulled.lineage.as_str(), pulled.serial),
        (seeded.lineage.as_str(), 5)
    );
    assert!(
        !dir.path().join("asrform.state.json").exists(),
        "nothing went to the local default"
    );
}
