//! The single writer of state during an apply, with group commit.
//!
//! Every completed operation (and every operation about to start) commits a change to the state, and the commit
//! returns only once a write that includes the change is stored: that is the crash-safety promise. Writing the
//! whole document once per commit would make a large apply wait on its state store one write at a time (a blob
//! PUT of a few megabytes per operation, thousands of operations), so commits arriving while a write is in
//! progress are gathered and stored by the next write together (group commit, as databases do with their log).
//! The state in memory is always current; each write moves the serial and is conditional on the version read or
//! last written. It owns no policy about *what* is committed and never prints (events go to [`Hooks`]).

use std::sync::{Arc, Mutex};

use crate::state::{State, StateError, StateStore, Version};

use super::hooks::{Event, Hooks};

/// The state being applied and where it is stored.
pub(crate) struct Writer {
    /// The state with every commit applied, and how many commits that is.
    staged: Mutex<Staged>,
    /// What is stored; held across a write, so commits that arrive meanwhile queue here and are written together.
    stored: tokio::sync::Mutex<Persisted>,
}

struct Staged {
    /// Shared with a write in progress, which stores it as it was; a commit meanwhile copies it first
    /// (`Arc::make_mut`), so a write never holds the lock and an apply without overlapping commits copies nothing.
    state: Arc<State>,
    commits: u64,
}

struct Persisted {
    store: Arc<dyn StateStore>,
    version: Option<Version>,
    /// Commits included in the last stored write.
    commits: u64,
    serial: u64,
}

impl Writer {
    pub(crate) fn new(store: Arc<dyn StateStore>, state: State, version: Option<Version>) -> Self {
        let serial = state.serial;
        Writer {
            staged: Mutex::new(Staged {
                state: Arc::new(state),
                commits: 0,
            }),
            stored: tokio::sync::Mutex::new(Persisted {
                store,
                version,
                commits: 0,
                serial,
            }),
        }
    }

    /// Reads the current state (with every commit applied, stored or not yet).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.staged.lock().expect("staged state lock").state)
    }

    /// Applies `f` to the state and returns once a write including it is stored, with that write's serial.
    pub(crate) async fn commit(
        &self,
        hooks: &dyn Hooks,
        f: impl FnOnce(&mut State),
    ) -> Result<u64, StateError> {
        let mine = {
            let mut s = self.staged.lock().expect("staged state lock");
            f(Arc::make_mut(&mut s.state));
            s.commits += 1;
            s.commits
        };
        let mut p = self.stored.lock().await;
        if p.commits >= mine {
            // A write that started after this commit was staged already stored it.
            return Ok(p.serial);
        }
        let (doc, commits) = {
            let mut s = self.staged.lock().expect("staged state lock");
            Arc::make_mut(&mut s.state).serial += 1;
            (Arc::clone(&s.state), s.commits)
        };
        let version = p.store.write(&doc, p.version.as_ref()).await?;
        p.version = Some(version);
        p.commits = commits;
        p.serial = doc.serial;
        hooks.on_event(&Event::StateSaved { serial: doc.serial });
        Ok(doc.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use crate::state::{LockGuard, LockInfo, Stored};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store whose writes take a while (a blob PUT): each write waits for a permit the test hands out.
    #[derive(Debug)]
    struct SlowStore {
        inner: MemoryStore,
        gate: tokio::sync::Semaphore,
        writes: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl StateStore for SlowStore {
        async fn read(&self) -> Result<Option<Stored>, StateError> {
            self.inner.read().await
        }
        async fn write(
            &self,
            state: &State,
            expected: Option<&Version>,
        ) -> Result<Version, StateError> {
            self.gate.acquire().await.expect("gate open").forget();
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.inner.write(state, expected).await
        }
        async fn try_lock(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
            self.inner.try_lock(info).await
        }
        async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
            self.inner.force_unlock(id).await
        }
        fn describe(&self) -> String {
            "slow memory".into()
        }
    }

    fn mark(n: usize) -> impl FnOnce(&mut State) {
        move |s: &mut State| s.lineage = format!("{}{n}", s.lineage)
    }

    #[tokio::test]
    async fn commits_during_a_write_are_stored_together_and_each_waits_for_its_own() {
        let store = Arc::new(SlowStore {
            inner: MemoryStore::new(),
            gate: tokio::sync::Semaphore::new(0),
            writes: AtomicUsize::new(0),
        });
        let w = Arc::new(Writer::new(store.clone(), State::new(), None));
        let hooks: Arc<dyn Hooks> = Arc::new(super::super::hooks::NoHooks);
        // The first commit starts a write and blocks in the store.
        let first = {
            let (w, h) = (w.clone(), hooks.clone());
            tokio::spawn(async move { w.commit(h.as_ref(), mark(0)).await })
        };
        while w.stored.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        // Five more arrive while it is in progress.
        let rest: Vec<_> = (1..=5)
            .map(|n| {
                let (w, h) = (w.clone(), hooks.clone());
                tokio::spawn(async move { w.commit(h.as_ref(), mark(n)).await })
            })
            .collect();
        while w.read(|s| s.lineage.len()) < State::new().lineage.len() + 6 {
            tokio::task::yield_now().await;
        }
        for r in &rest {
            assert!(
                !r.is_finished(),
                "no commit returns before its write is stored"
            );
        }
        store.gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert!(rest.iter().all(|r| !r.is_finished()));
        // One more write stores all five.
        store.gate.add_permits(1);
        for r in rest {
            assert_eq!(r.await.unwrap().unwrap(), 2);
        }
        assert_eq!(store.writes.load(Ordering::SeqCst), 2);
        let stored = store.read().await.unwrap().unwrap().state;
        assert_eq!(stored.serial, 2);
        for n in 0..=5 {
            assert!(stored.lineage.contains(&n.to_string()), "commit {n} stored");
        }
    }

    #[tokio::test]
    async fn a_failed_write_fails_its_commits_and_the_next_write_retries_them() {
        let store = Arc::new(MemoryStore::new());
        // Someone else wrote the state meanwhile: the conditional write must be refused.
        store.write(&State::new(), None).await.unwrap();
        let w = Writer::new(store.clone(), State::new(), None);
        let hooks = super::super::hooks::NoHooks;
        assert!(matches!(
            w.commit(&hooks, mark(7)).await,
            Err(StateError::Conflict { .. })
        ));
        // Nothing was lost in memory: the change is still there to be stored.
        assert!(w.read(|s| s.lineage.ends_with('7')));
    }
}
