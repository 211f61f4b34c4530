//! The behaviour every [`StateStore`] must have, as plain async functions run against each store (the local file,
//! memory, and the Azure Blob store against Azurite), in the manner of Terraform's `statemgr.TestFull`.
//!
//! Each check panics with a message on failure; it is test code compiled into the library so that every store's
//! tests (unit and integration) call the same suite. It must not depend on any particular store. Where a store
//! needs time to notice a dead holder (a blob lease lapses only after its period), the checks wait on the given
//! clock, bounded; stores that notice at once (an OS file lock) do not wait at all.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{LockInfo, State, StateError, StateStore, lock_with_timeout};
use crate::clock::{Clock, ScaledClock};

fn info(op: &str) -> LockInfo {
    LockInfo::for_this_process(op, OffsetDateTime::UNIX_EPOCH)
}

/// How long the checks wait for a dead holder's lock to become free (longer than a blob lease).
const DEAD_HOLDER_WAIT: Duration = Duration::from_secs(90);

/// Runs every check against an empty store; `clock` paces the waits for dead holders.
pub async fn run_all(store: &dyn StateStore, clock: &dyn Clock) {
    read_write_and_conditional_writes(store).await;
    lock_excludes_and_names_holder(store).await;
    abandoned_lock_is_recovered(store, clock).await;
    force_unlock_only_breaks_dead_holders(store, clock).await;
}

/// Empty read, create, update, and refusal of stale or duplicate-create writes.
pub async fn read_write_and_conditional_writes(store: &dyn StateStore) {
    assert!(
        store.read().await.unwrap().is_none(),
        "{}: a new store must be empty",
        store.describe()
    );
    let mut state = State::new();
    let v1 = store.write(&state, None).await.unwrap();
    let read = store.read().await.unwrap().expect("state after write");
    assert_eq!(read.state, state);
    assert_eq!(read.version, v1);

    assert!(
        matches!(
            store.write(&state, None).await,
            Err(StateError::Conflict { .. })
        ),
        "creating over an existing state must be refused"
    );
    state.serial += 1;
    let v2 = store.write(&state, Some(&v1)).await.unwrap();
    assert_ne!(v1, v2, "every write gets a new version");
    state.serial += 1;
    match store.write(&state, Some(&v1)).await {
        Err(StateError::Conflict { .. }) => {}
        other => panic!("a write based on a stale version must be refused, got {other:?}"),
    }
    assert_eq!(
        store.read().await.unwrap().unwrap().state.serial,
        1,
        "the refused write changed nothing"
    );
}

/// A second holder is refused with the first one's info; release lets it in.
pub async fn lock_excludes_and_names_holder(store: &dyn StateStore) {
    let first = info("apply");
    let guard = store.try_lock(&first).await.unwrap();
    assert_eq!(guard.info(), &first);
    match store.try_lock(&info("plan")).await {
        Err(StateError::Locked { holder }) => {
            assert_eq!(holder.id, first.id);
            assert_eq!(holder.operation, "apply");
            assert_eq!(holder.pid, std::process::id());
        }
        other => panic!("second lock must be refused naming the holder, got {other:?}"),
    }
    guard.release().await.unwrap();
    let second = store
        .try_lock(&info("plan"))
        .await
        .expect("lock is free after release");
    assert!(second.replaced().is_none(), "a released lock is not stale");
    second.release().await.unwrap();
}

/// A holder that dies without releasing does not block the next one for ever, and is reported as replaced.
pub async fn abandoned_lock_is_recovered(store: &dyn StateStore, clock: &dyn Clock) {
    let dead = info("apply");
    store.try_lock(&dead).await.unwrap().abandon();
    let next = lock_with_timeout(store, &info("apply"), DEAD_HOLDER_WAIT, clock)
        .await
        .expect("a dead holder's lock is recovered");
    assert_eq!(
        next.replaced().map(|i| i.id.as_str()),
        Some(dead.id.as_str()),
        "the stale holder is reported"
    );
    next.release().await.unwrap();
}

/// `state unlock` refuses a live holder and a wrong id, and breaks a dead holder's lock.
pub async fn force_unlock_only_breaks_dead_holders(store: &dyn StateStore, clock: &dyn Clock) {
    let live = store.try_lock(&info("apply")).await.unwrap();
    let id = live.info().id.clone();
    assert!(
        matches!(
            store.force_unlock(&id).await,
            Err(StateError::Unlock { .. })
        ),
        "a live holder is never broken"
    );
    live.abandon();
    assert!(matches!(
        store.force_unlock("wrong-id").await,
        Err(StateError::Unlock { .. })
    ));
    let start = clock.now();
    let broken = loop {
        match store.force_unlock(&id).await {
            Ok(info) => break info,
            Err(StateError::Unlock { message }) if clock.now() - start < DEAD_HOLDER_WAIT => {
                let _ = message;
                clock.sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("a dead holder's lock can be broken, got {e:?}"),
        }
    };
    assert_eq!(broken.id, id);
    store
        .try_lock(&info("apply"))
        .await
        .expect("free after unlock")
        .release()
        .await
        .unwrap();
}

/// `--lock-timeout`: waits with back-off, gets the lock once it is released, and otherwise names the holder after
/// the timeout. Needs a paused tokio runtime (virtual time).
pub async fn lock_timeout_waits_then_names_holder(store: Arc<dyn StateStore>) {
    let clock = Arc::new(ScaledClock::new(OffsetDateTime::UNIX_EPOCH, 1.0));
    let holder = store.try_lock(&info("apply")).await.unwrap();
    let start = clock.now();
    match lock_with_timeout(
        store.as_ref(),
        &info("plan"),
        Duration::from_secs(10),
        clock.as_ref(),
    )
    .await
    {
        Err(StateError::Locked { holder: h }) => assert_eq!(h.id, holder.info().id),
        other => panic!("expected a timeout naming the holder, got {other:?}"),
    }
    let waited = clock.now() - start;
    assert!(
        waited >= time::Duration::seconds(10),
        "gave up after {waited}, before the timeout"
    );

    let release_after = {
        let clock = clock.clone();
        tokio::spawn(async move {
            clock.sleep(Duration::from_secs(5)).await;
            holder.release().await.unwrap();
        })
    };
    let start = clock.now();
    let got = lock_with_timeout(
        store.as_ref(),
        &info("plan"),
        Duration::from_secs(60),
        clock.as_ref(),
    )
    .await;
    release_after.await.unwrap();
    let waited = clock.now() - start;
    let guard = got.expect("lock was released after 5 s");
    assert!(
        waited >= time::Duration::seconds(5) && waited <= time::Duration::seconds(20),
        "waited {waited}"
    );
    guard.release().await.unwrap();
}
