//! The Azure Blob state store against Azurite (installed by `.ci/run` from npm, started here on 127.0.0.1): the
//! shared store conformance suite, two concurrent lockers, and a stale write refused by ETag.
//!
//! Azurite is a real external process with its own clock, so lease expiry happens on wall time; these tests use
//! the shortest lease Azure allows (15 s) to keep that wait short. Nothing here is skipped when Azurite is missing:
//! the tests fail and say how to install it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::SystemClock;
use asrform::state::blob::{BlobAuth, BlobStore, BlobStoreOptions};
use asrform::state::{LockInfo, State, StateError, StateStore, conformance, lock_with_timeout};

use crate::azurite::{Azurite, account_sas, create_container};

fn store(azurite: &Azurite, sas: &str, container: &str, key: &str) -> BlobStore {
    BlobStore::new(BlobStoreOptions {
        account_url: azurite.account_url().parse().unwrap(),
        container: container.into(),
        key: key.into(),
        auth: BlobAuth::Sas(sas.into()),
        lease_seconds: 15,
        clock: Arc::new(SystemClock),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_store_passes_the_conformance_suite() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let s = store(&azurite, &sas, "tfstate", "prod/asrform.state.json");
    conformance::run_all(&s, &SystemClock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_locker_waits_then_names_the_holder_and_stale_writes_are_refused() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let a = store(&azurite, &sas, "tfstate", "app.state");
    let b = store(&azurite, &sas, "tfstate", "app.state");

    let holder = a
        .try_lock(&LockInfo::for_this_process(
            "apply",
            time::OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let waiter = LockInfo::for_this_process("apply", time::OffsetDateTime::now_utc());
    match lock_with_timeout(&b, &waiter, Duration::from_secs(2), &SystemClock).await {
        Err(StateError::Locked { holder: h }) => {
            assert_eq!(h.id, holder.info().id);
            assert_eq!(h.operation, "apply");
        }
        other => panic!("expected the second apply to be refused naming the holder, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it must wait for the lock timeout first"
    );
    holder.release().await.unwrap();
    b.try_lock(&waiter)
        .await
        .expect("free once released")
        .release()
        .await
        .unwrap();

    // Two writers read the same version; the second write is refused by ETag.
    let v0 = a.write(&State::new(), None).await.unwrap();
    let mut first = a.read().await.unwrap().unwrap().state;
    first.serial += 1;
    a.write(&first, Some(&v0)).await.unwrap();
    let mut stale = first.clone();
    stale.serial += 1;
    assert!(matches!(
        b.write(&stale, Some(&v0)).await,
        Err(StateError::Conflict { .. })
    ));
}
