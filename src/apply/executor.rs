//! The bounded-concurrency walk of a dependency graph that `apply` runs its operations on.
//!
//! A node starts once every node it depends on has succeeded, and at most `parallelism` nodes run at once. A node
//! that fails marks everything downstream of it skipped (naming the failed node as the cause, so the user sees the
//! root cause once, not a cascade) while independent branches go on. When the stop signal fires (Ctrl-C), nothing
//! new starts; running nodes finish and everything else is reported as not started. The walker knows nothing of
//! ARM, ASR or state: it calls the closure it is given and records outcomes.
//!
//! `parallelism` bounds nodes that are *working* (sending requests). A node that only waits for the cloud (an ASR
//! job that a shared tracker watches) gives its place back with [`Slot::release_while`], so a thousand enable jobs
//! can run in ASR at once while at most `parallelism` nodes talk to ARM; the client's token buckets pace the rest.
//! The same goes for a node whose request waits out ARM throttling: `Slot` is the client's throttle wait hook.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// What happened to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    /// Ran and succeeded.
    Applied,
    /// Ran and failed.
    Failed(E),
    /// Not run because the node at this index (a dependency, directly or transitively) failed or was skipped.
    Skipped {
        /// Index of the failed node that caused the skip.
        because: usize,
    },
    /// Not run because the walk was stopped first.
    NotStarted,
}

impl<E> Outcome<E> {
    /// Whether the node ran and succeeded.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied)
    }
}

/// A stop signal shared with the walk (set by the Ctrl-C handler).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    fired: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Stop {
    /// A signal that has not fired.
    pub fn new() -> Self {
        Self::default()
    }
    /// Fires the signal: no new node starts after this, and every [`Stop::wait`] returns.
    pub fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// Whether it fired.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
    /// Resolves once the signal has fired.
    pub async fn wait(&self) {
        loop {
            // Created before the check, so a `fire` between the check and the await still wakes it.
            let notified = self.notify.notified();
            if self.fired() {
                return;
            }
            notified.await;
        }
    }
}

/// A running node's place among the walk's `parallelism`.
#[derive(Debug)]
pub struct Slot {
    places: Arc<Semaphore>,
    held: std::sync::Mutex<Option<OwnedSemaphorePermit>>,
    freed: Arc<tokio::sync::Notify>,
}

impl Slot {
    /// A slot outside any walk (nothing to give back).
    pub fn detached() -> Arc<Self> {
        Arc::new(Self {
            places: Arc::new(Semaphore::new(1)),
            held: std::sync::Mutex::new(None),
            freed: Arc::default(),
        })
    }

    /// Gives the place up while `fut` runs (it must send few requests: waiting for a job the shared tracker
    /// watches), then takes a place again before returning; nodes resuming this way are served before new ones
    /// start (the semaphore is fair), so started work finishes first.
    pub async fn release_while<T>(&self, fut: impl Future<Output = T>) -> T {
        let had = self.held.lock().expect("slot").take();
        if had.is_none() {
            return fut.await;
        }
        drop(had);
        self.freed.notify_one();
        let out = fut.await;
        let permit = self
            .places
            .clone()
            .acquire_owned()
            .await
            .expect("the walk's semaphore is never closed");
        *self.held.lock().expect("slot") = Some(permit);
        out
    }
}

/// A change waiting out ARM throttling (a 429's `Retry-After`, the token bucket's pacing, a back-off) sends
/// nothing meanwhile: it gives its place back like a job wait, so work on other subscriptions and resources flows.
#[async_trait::async_trait]
impl crate::provider::arm::throttle::WaitHook for Slot {
    async fn idle_while(&self, wait: crate::provider::arm::throttle::IdleWait<'_>) {
        self.release_while(wait).await
    }
}

/// Walks nodes `0..deps.len()`, where `deps[i]` lists the nodes node `i` waits for, running `run(i)` with at most
/// `parallelism` (at least 1) in flight. Returns one outcome per node, in node order.
///
/// Dependencies must form a DAG (the graph module guarantees it); a node on a cycle would never become ready and
/// is reported as [`Outcome::NotStarted`] rather than hanging the walk.
pub async fn walk<E, F, Fut>(
    deps: &[Vec<usize>],
    parallelism: usize,
    stop: &Stop,
    run: F,
) -> Vec<Outcome<E>>
where
    E: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    walk_slots(deps, &[], parallelism, stop, |i, _| run(i)).await
}

/// [`walk`] where each node gets its [`Slot`], which it may give back while it only waits, and ready nodes start
/// lowest `priority[i]` first (ties by index; an empty `priority` means index order). Apply gives each change its
/// rank within its subscription, so ready work is spread over subscriptions (each has its own ARM buckets) instead
/// of queueing every place on one subscription's bucket.
pub async fn walk_slots<E, F, Fut>(
    deps: &[Vec<usize>],
    priority: &[usize],
    parallelism: usize,
    stop: &Stop,
    run: F,
) -> Vec<Outcome<E>>
where
    E: Send + 'static,
    F: Fn(usize, Arc<Slot>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let rank = |i: usize| Reverse((priority.get(i).copied().unwrap_or(0), i));
    let n = deps.len();
    let mut waiting_on: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (node, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(node);
        }
    }
    let mut outcomes: Vec<Option<Outcome<E>>> = (0..n).map(|_| None).collect();
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> =
        (0..n).filter(|&i| waiting_on[i] == 0).map(rank).collect();
    let mut running: JoinSet<(usize, Result<(), E>)> = JoinSet::new();
    let places = Arc::new(Semaphore::new(parallelism.max(1)));
    let freed = Arc::new(tokio::sync::Notify::new());

    loop {
        while !stop.fired() && !ready.is_empty() {
            let Ok(permit) = places.clone().try_acquire_owned() else {
                break;
            };
            let Reverse((_, node)) = ready.pop().expect("checked non-empty");
            let slot = Arc::new(Slot {
                places: places.clone(),
                held: std::sync::Mutex::new(Some(permit)),
                freed: freed.clone(),
            });
            let fut = run(node, slot.clone());
            running.spawn(async move {
                let out = fut.await;
                // The place goes back when the node ends, before the walk hears of it.
                drop(slot);
                (node, out)
            });
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            j = running.join_next() => j.expect("running is not empty"),
            // A node gave its place back while waiting: start another.
            () = freed.notified() => continue,
        };
        let (node, result) = match joined {
            Ok(done) => done,
            // A panicking operation is a bug; surface it rather than reporting a half-walked graph as fine.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("apply task was cancelled unexpectedly: {e}"),
        };
        match result {
            Ok(()) => {
                outcomes[node] = Some(Outcome::Applied);
                for &d in &dependents[node] {
                    waiting_on[d] -= 1;
                    if waiting_on[d] == 0 && outcomes[d].is_none() {
                        ready.push(rank(d));
                    }
                }
            }
            Err(e) => {
                outcomes[node] = Some(Outcome::Failed(e));
                skip_downstream(node, &dependents, &mut outcomes);
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::NotStarted))
        .collect()
}

/// Marks every node reachable from `failed` as skipped because of it.
fn skip_downstream<E>(
    failed: usize,
    dependents: &[Vec<usize>],
    outcomes: &mut [Option<Outcome<E>>],
) {
    let mut stack: Vec<usize> = dependents[failed].clone();
    while let Some(node) = stack.pop() {
        if outcomes[node].is_none() {
            outcomes[node] = Some(Outcome::Skipped { because: failed });
            stack.extend(dependents[node].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Runs a walk where node `i` takes `i % 3 + 1` virtual seconds and fails when listed in `fail`.
    async fn run_walk(
        deps: &[Vec<usize>],
        parallelism: usize,
        fail: &[usize],
        stop: Stop,
    ) -> (Vec<Outcome<String>>, Vec<usize>, usize) {
        let order = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let fail = fail.to_vec();
        let outcomes = walk(deps, parallelism, &stop.clone(), |i| {
            let (order, in_flight, peak, fail) =
                (order.clone(), in_flight.clone(), peak.clone(), fail.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs((i % 3 + 1) as u64)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                order.lock().unwrap().push(i);
                if fail.contains(&i) {
                    Err(format!("node {i} failed"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let order = order.lock().unwrap().clone();
        (outcomes, order, peak.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn dependencies_run_first_and_parallelism_is_bounded() {
        // 0 -> {1..=8} -> 9
        let mut deps = vec![vec![]];
        deps.extend((1..=8).map(|_| vec![0]));
        deps.push((1..=8).collect());
        let (outcomes, order, peak) = run_walk(&deps, 3, &[], Stop::new()).await;
        assert!(outcomes.iter().all(Outcome::is_applied));
        assert_eq!(order.first(), Some(&0));
        assert_eq!(order.last(), Some(&9));
        assert_eq!(peak, 3, "eight ready nodes, three at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn failure_skips_dependents_and_independent_work_goes_on() {
        // 0 -> 1 -> 2 ; 3 -> 4 ; 1 fails
        let deps = vec![vec![], vec![0], vec![1], vec![], vec![3]];
        let (outcomes, _, _) = run_walk(&deps, 10, &[1], Stop::new()).await;
        assert_eq!(
            outcomes,
            vec![
                Outcome::Applied,
                Outcome::Failed("node 1 failed".into()),
                Outcome::Skipped { because: 1 },
                Outcome::Applied,
                Outcome::Applied
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stop_lets_running_nodes_finish_and_starts_nothing_new() {
        let deps = vec![vec![], vec![0], vec![1]];
        let stop = Stop::new();
        let s2 = stop.clone();
        let fire = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            s2.fire();
        });
        let (outcomes, order, _) = run_walk(&deps, 10, &[], stop).await;
        fire.await.unwrap();
        assert_eq!(
            outcomes,
            vec![Outcome::Applied, Outcome::NotStarted, Outcome::NotStarted]
        );
        assert_eq!(order, vec![0], "the running node finished");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_returns_once_fired() {
        let stop = Stop::new();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.wait().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        stop.fire();
        waiter.await.unwrap();
        stop.wait().await; // already fired: returns at once
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_does_not_hang() {
        let deps = vec![vec![1], vec![0], vec![]];
        let (outcomes, _, _) = run_walk(&deps, 2, &[], Stop::new()).await;
        assert_eq!(
            outcomes,
            vec![Outcome::NotStarted, Outcome::NotStarted, Outcome::Applied]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_nodes_give_their_place_back() {
        // On tokio's paused clock (start_paused): the sleeps below are virtual time, they cost no wall time.
        // Six independent nodes, two places: each works 1 s, then waits 100 s with its place given back, then works
        // 1 s more. Holding places while waiting would take three rounds (over 300 s); giving them back, all six
        // wait at once.
        let deps: Vec<Vec<usize>> = vec![vec![]; 6];
        let working = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let t0 = tokio::time::Instant::now();
        let outcomes = walk_slots(&deps, &[], 2, &Stop::new(), |_, slot| {
            let (working, peak) = (working.clone(), peak.clone());
            async move {
                let work = || async {
                    peak.fetch_max(working.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    working.fetch_sub(1, Ordering::SeqCst);
                };
                work().await;
                slot.release_while(tokio::time::sleep(Duration::from_secs(100)))
                    .await;
                work().await;
                Ok::<(), String>(())
            }
        })
        .await;
        assert!(outcomes.iter().all(Outcome::is_applied));
        assert!(peak.load(Ordering::SeqCst) <= 2, "at most two work at once");
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(110), "took {took:?}");
    }
}
