//! `plan`/`apply` on the simulator with state in Azure Blob Storage (Azurite): the state lives in the blob, not on
//! disk, and a second run while the lock is held waits for `--lock-timeout` and then names the holder.

use std::sync::Arc;

use asrform::clock::SystemClock;
use asrform::state::blob::{BlobAuth, BlobStore, BlobStoreOptions};
use asrform::state::{LockInfo, StateStore};
use assert_cmd::prelude::*;

use crate::azurite::{Azurite, account_sas, create_container};
use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_plan_keep_state_in_blob_storage_and_respect_its_lock() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let tmp = tempfile::tempdir().unwrap();
    common::fast_quickstart(tmp.path(), |text| text);
    let backend = format!(
        "backend \"azurerm\" {{\n  storage_account = \"devstoreaccount1\"\n  container       = \"tfstate\"\n  key             = \"qs.state.json\"\n  endpoint        = \"{}\"\n  sas_token_env   = \"ASRFORM_TEST_SAS\"\n}}\n",
        azurite.account_url()
    );
    std::fs::write(tmp.path().join("backend.asr.hcl"), backend).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::cargo_bin("asrform")
            .unwrap()
            .current_dir(tmp.path())
            .env("ASRFORM_TEST_SAS", &sas)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };

    let out = run(&["apply", "--auto-approve", "--wait", "protected", "."]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !tmp.path().join("asrform.state.json").exists(),
        "no local state with an azurerm backend"
    );
    let store = BlobStore::new(BlobStoreOptions {
        account_url: azurite.account_url().parse().unwrap(),
        container: "tfstate".into(),
        key: "qs.state.json".into(),
        auth: BlobAuth::Sas(sas.clone()),
        lease_seconds: 15,
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    let stored = store
        .read()
        .await
        .unwrap()
        .expect("state written to the blob");
    assert_eq!(stored.state.resources.len(), 13);
    let out = run(&["plan", "--detailed-exitcode", "."]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Someone else holds the lock: apply waits for --lock-timeout, then exits 3 naming them.
    let holder = store
        .try_lock(&LockInfo::for_this_process(
            "apply",
            time::OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
    let out = run(&["apply", "--auto-approve", "--lock-timeout", "2s", "."]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&holder.info().id),
        "the holder's lock id is named"
    );
    holder.release().await.unwrap();
}
