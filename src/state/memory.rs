//! An in-memory state store with the same semantics as the real ones, for tests of the engine.
//!
//! It must stay behaviourally identical to the file and blob stores: it passes the same `conformance` suite.

use std::sync::{Arc, Mutex};

use super::{LockGuard, LockInfo, State, StateError, StateStore, Stored, Version};

#[derive(Debug, Default)]
struct Inner {
    doc: Option<(State, u64)>,
    writes: u64,
    /// The lock record and whether its holder is alive.
    lock: Option<(LockInfo, bool)>,
}

/// State kept in memory; clones share the same state.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn version(n: u64) -> Version {
    Version(format!("w{n}"))
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn read(&self) -> Result<Option<Stored>, StateError> {
        let inner = self.inner.lock().expect("memory store lock");
        Ok(inner.doc.as_ref().map(|(state, n)| Stored {
            state: state.clone(),
            version: version(*n),
        }))
    }

    async fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        let mut inner = self.inner.lock().expect("memory store lock");
        let found = inner.doc.as_ref().map(|(_, n)| version(*n));
        if found.as_ref() != expected {
            return Err(StateError::Conflict {
                origin: "memory".into(),
                expected: expected.map_or_else(|| "no state".into(), |v| v.0.clone()),
                found: found.map_or_else(|| "no state".into(), |v| v.0),
            });
        }
        inner.writes += 1;
        let n = inner.writes;
        inner.doc = Some((state.clone(), n));
        Ok(version(n))
    }

    async fn try_lock(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        let mut inner = self.inner.lock().expect("memory store lock");
        let replaced = match &inner.lock {
            Some((holder, true)) => {
                return Err(StateError::Locked {
                    holder: Box::new(holder.clone()),
                });
            }
            Some((holder, false)) => Some(holder.clone()),
            None => None,
        };
        inner.lock = Some((info.clone(), true));
        Ok(Box::new(MemoryLockGuard {
            store: self.clone(),
            info: info.clone(),
            replaced,
            released: false,
        }))
    }

    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let mut inner = self.inner.lock().expect("memory store lock");
        match inner.lock.clone() {
            None => Err(StateError::Unlock {
                message: "no lock is held".into(),
            }),
            Some((holder, true)) => Err(StateError::Unlock {
                message: format!(
                    "the lock is held by a running process: {holder}; stop it instead"
                ),
            }),
            Some((holder, false)) if holder.id == id => {
                inner.lock = None;
                Ok(holder)
            }
            Some((holder, false)) => Err(StateError::Unlock {
                message: format!("lock id `{id}` does not match the lock on record ({holder})"),
            }),
        }
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[derive(Debug)]
struct MemoryLockGuard {
    store: MemoryStore,
    info: LockInfo,
    replaced: Option<LockInfo>,
    released: bool,
}

#[async_trait::async_trait]
impl LockGuard for MemoryLockGuard {
    async fn release(self: Box<Self>) -> Result<(), StateError> {
        drop(self);
        Ok(())
    }
    fn info(&self) -> &LockInfo {
        &self.info
    }
    fn replaced(&self) -> Option<&LockInfo> {
        self.replaced.as_ref()
    }
    fn abandon(mut self: Box<Self>) {
        let mut inner = self.store.inner.lock().expect("memory store lock");
        if let Some((holder, alive)) = &mut inner.lock
            && holder.id == self.info.id
        {
            *alive = false;
        }
        self.released = true;
    }
}

impl Drop for MemoryLockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let mut inner = self.store.inner.lock().expect("memory store lock");
        if inner
            .lock
            .as_ref()
            .is_some_and(|(h, _)| h.id == self.info.id)
        {
            inner.lock = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance_suite() {
        super::super::conformance::run_all(&super::MemoryStore::new(), &crate::clock::SystemClock)
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn lock_timeout() {
        super::super::conformance::lock_timeout_waits_then_names_holder(std::sync::Arc::new(
            super::MemoryStore::new(),
        ))
        .await;
    }
}
