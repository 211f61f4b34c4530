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
//!
//! An edge may ask for less than "done" ([`walk_staged`]): a running node announces milestones
//! ([`Stages::reached`]) and a dependent that needs only a milestone starts then; an edge may also be needed only
//! at a later stage of the dependent, which starts early and awaits that stage ([`Stages::stage`]). What a change
//! needs of another is the caller's knowledge (apply's `ops::edge`); the walker only keeps the books, so failures
//! still skip what needed the failed node (a running node waiting at a shut stage ends as skipped).

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

/// A point a running node announces before it ends (`Stages::reached`), numbered upwards from 1 in the order the
/// node reaches them; [`DONE`] is the node's success, which implies every milestone.
pub type Milestone = u8;

/// The milestone of a node that ended well.
pub const DONE: Milestone = Milestone::MAX;

/// One dependency of a node: node `on` must have reached `milestone` before the dependent passes `stage`. Stage 0
/// is the dependent's start; a later stage is a point inside it that it awaits with [`Stages::stage`] (so the
/// dependent can do the part of its work that does not need `on` while `on` runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The node depended on.
    pub on: usize,
    /// What the dependent needs of it.
    pub milestone: Milestone,
    /// Where in the dependent it is needed (0: before it starts).
    pub stage: u8,
}

impl Edge {
    /// The plain edge: `on` must have succeeded before the dependent starts.
    pub fn done(on: usize) -> Self {
        Self {
            on,
            milestone: DONE,
            stage: 0,
        }
    }
}

/// Why a node cannot pass one of its stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// A node this stage needs failed (or was skipped because of the node at this index).
    #[error("a change it depends on failed")]
    Failed {
        /// Index of the failed node (the root cause).
        because: usize,
    },
    /// The walk was stopped before a node this stage needs could run.
    #[error("apply was stopped before a change it depends on ran")]
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Pending,
    Open,
    Shut(Blocked),
}

/// A running node's link to the walk for milestones and stages: it announces milestones it reached and awaits
/// its later stages. Outside a walk ([`Stages::detached`]) announcing does nothing and every stage is open.
#[derive(Debug)]
pub struct Stages {
    node: usize,
    reached: Option<tokio::sync::mpsc::UnboundedSender<(usize, Milestone)>>,
    /// Gate of stage `k` at `k - 1`; stages beyond the list have no dependencies.
    gates: Vec<tokio::sync::watch::Receiver<Gate>>,
    blocked: std::sync::Mutex<Option<Blocked>>,
}

impl Stages {
    /// Stages outside any walk.
    pub fn detached() -> Arc<Self> {
        Arc::new(Self {
            node: 0,
            reached: None,
            gates: Vec::new(),
            blocked: std::sync::Mutex::new(None),
        })
    }

    /// Announces that this node reached `milestone`: dependents that need no more of it may start.
    pub fn reached(&self, milestone: Milestone) {
        if let Some(tx) = &self.reached {
            // The walk outlives its nodes; a send can only fail after it ended, when nobody listens.
            let _ = tx.send((self.node, milestone));
        }
    }

    /// Waits until every dependency of `stage` has reached what it needs. On `Err` the node must end with an error
    /// without doing that stage's work; the walk then reports it skipped (or not started when stopped), not failed.
    /// Send no requests meanwhile: wrap it in [`Slot::release_while`] to give the place back while waiting.
    pub async fn stage(&self, stage: u8) -> Result<(), Blocked> {
        let Some(gate) = usize::from(stage)
            .checked_sub(1)
            .and_then(|k| self.gates.get(k))
        else {
            return Ok(());
        };
        let mut gate = gate.clone();
        let state = match gate.wait_for(|g| *g != Gate::Pending).await {
            Ok(g) => *g,
            // The walk dropped the gate without deciding: it ended (stopped); nothing will open it.
            Err(_) => Gate::Shut(Blocked::Stopped),
        };
        match state {
            Gate::Open => Ok(()),
            Gate::Shut(why) => {
                *self.blocked.lock().expect("stages") = Some(why);
                Err(why)
            }
            Gate::Pending => unreachable!("waited for a decided gate"),
        }
    }
}

/// Walks nodes `0..deps.len()`, where `deps[i]` lists the [`Edge`]s of node `i`, running `run(i, slot, stages)` with
/// at most `parallelism` (at least 1) in flight; each node gets its [`Slot`], which it may give back while it only
/// waits, and ready nodes start lowest `priority[i]` first (ties by index; an empty `priority` means index order:
/// apply gives each change its rank within its subscription, so ready work is spread over subscriptions, each with
/// its own ARM buckets). Returns one outcome per node, in node order. Dependencies must form a DAG; a node on a cycle
/// would never become ready and is reported as [`Outcome::NotStarted`] rather than hanging the walk.
///
/// A node starts once every stage-0 edge is met (its source reached the milestone),
/// and its later stages open as their edges are met. A failed node skips every not-yet-started node whose unmet
/// edges lead to it (transitively) and shuts the pending stages of running nodes that need it; a node that then
/// ends because a stage was shut is reported skipped with the same root cause. An edge already met stays met: a
/// node that reached a milestone and failed later does not take down dependents that needed only the milestone.
pub async fn walk_staged<E, F, Fut>(
    deps: &[Vec<Edge>],
    priority: &[usize],
    parallelism: usize,
    stop: &Stop,
    run: F,
) -> Vec<Outcome<E>>
where
    E: Send + 'static,
    F: Fn(usize, Arc<Slot>, Arc<Stages>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    use std::cmp::Reverse;
    let mut w = Graph::new(deps, priority);
    let mut running: JoinSet<(usize, Result<(), E>)> = JoinSet::new();
    let mut handles: std::collections::HashMap<usize, Arc<Stages>> = Default::default();
    let places = Arc::new(Semaphore::new(parallelism.max(1)));
    let freed = Arc::new(tokio::sync::Notify::new());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Milestone)>();

    loop {
        while !stop.fired() && !w.ready.is_empty() {
            let Ok(permit) = places.clone().try_acquire_owned() else {
                break;
            };
            let Reverse((_, node)) = w.ready.pop().expect("checked non-empty");
            let slot = Arc::new(Slot {
                places: places.clone(),
                held: std::sync::Mutex::new(Some(permit)),
                freed: freed.clone(),
            });
            let stages = Arc::new(Stages {
                node,
                reached: Some(tx.clone()),
                gates: w.gates[node].iter().map(|g| g.subscribe()).collect(),
                blocked: std::sync::Mutex::new(None),
            });
            w.started[node] = true;
            handles.insert(node, stages.clone());
            let fut = run(node, slot.clone(), stages);
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
        tokio::select! {
            j = running.join_next() => {
                // Milestones a node announced before it ended count first (they were reached before any failure).
                while let Ok((node, m)) = rx.try_recv() {
                    w.reach(node, m);
                }
                let (node, result) = match j.expect("running is not empty") {
                    Ok(done) => done,
                    // A panicking operation is a bug; surface it rather than reporting a half-walked graph as fine.
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => panic!("apply task was cancelled unexpectedly: {e}"),
                };
                let blocked = handles
                    .remove(&node)
                    .and_then(|h| *h.blocked.lock().expect("stages"));
                w.end(node, result, blocked);
            }
            // A node gave its place back while waiting: start another.
            () = freed.notified() => {}
            Some((node, m)) = rx.recv() => w.reach(node, m),
            // Nothing new starts now: stages waiting for nodes that will not run must not wait forever.
            () = stop.wait(), if !stop.fired() => {}
        }
        if stop.fired() {
            w.shut_stopped_stages();
        }
    }
    w.outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::NotStarted))
        .collect()
}

/// The walk's bookkeeping: which edges are met, which nodes are ready, started or ended, and the stage gates.
struct Graph<'d, E> {
    deps: &'d [Vec<Edge>],
    priority: &'d [usize],
    /// Unmet edges per node and stage (stage 0 first).
    unmet: Vec<Vec<usize>>,
    /// Per source: (dependent, index of the edge in `deps[dependent]`).
    dependents: Vec<Vec<(usize, usize)>>,
    met: Vec<Vec<bool>>,
    reached: Vec<Milestone>,
    /// Per node, the gate of stage `k` at `k - 1`.
    gates: Vec<Vec<tokio::sync::watch::Sender<Gate>>>,
    started: Vec<bool>,
    outcomes: Vec<Option<Outcome<E>>>,
    ready: std::collections::BinaryHeap<std::cmp::Reverse<(usize, usize)>>,
}

impl<'d, E> Graph<'d, E> {
    fn new(deps: &'d [Vec<Edge>], priority: &'d [usize]) -> Self {
        let n = deps.len();
        let unmet: Vec<Vec<usize>> = deps
            .iter()
            .map(|es| {
                let stages = es
                    .iter()
                    .map(|e| usize::from(e.stage) + 1)
                    .max()
                    .unwrap_or(1);
                let mut c = vec![0; stages];
                for e in es {
                    c[usize::from(e.stage)] += 1;
                }
                c
            })
            .collect();
        let mut dependents: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for (node, es) in deps.iter().enumerate() {
            for (k, e) in es.iter().enumerate() {
                dependents[e.on].push((node, k));
            }
        }
        let gates = unmet
            .iter()
            .map(|c| {
                c.iter()
                    .skip(1)
                    .map(|&k| {
                        tokio::sync::watch::channel(if k == 0 { Gate::Open } else { Gate::Pending })
                            .0
                    })
                    .collect()
            })
            .collect();
        let mut g = Self {
            deps,
            priority,
            met: deps.iter().map(|es| vec![false; es.len()]).collect(),
            reached: vec![0; n],
            started: vec![false; n],
            outcomes: (0..n).map(|_| None).collect(),
            ready: Default::default(),
            unmet,
            dependents,
            gates,
        };
        for i in 0..n {
            if g.unmet[i][0] == 0 {
                g.ready.push(g.rank(i));
            }
        }
        g
    }

    fn rank(&self, i: usize) -> std::cmp::Reverse<(usize, usize)> {
        std::cmp::Reverse((self.priority.get(i).copied().unwrap_or(0), i))
    }

    /// Records that `node` reached `m`: meets the edges that needed no more, readies nodes and opens stages.
    fn reach(&mut self, node: usize, m: Milestone) {
        if m <= self.reached[node] {
            return;
        }
        self.reached[node] = m;
        for i in 0..self.dependents[node].len() {
            let (d, k) = self.dependents[node][i];
            let e = self.deps[d][k];
            if self.met[d][k] || e.milestone > m {
                continue;
            }
            self.met[d][k] = true;
            let stage = usize::from(e.stage);
            self.unmet[d][stage] -= 1;
            if self.unmet[d][stage] > 0 {
                continue;
            }
            if stage > 0 {
                set_if_pending(&self.gates[d][stage - 1], Gate::Open);
            } else if self.outcomes[d].is_none() && !self.started[d] {
                let r = self.rank(d);
                self.ready.push(r);
            }
        }
    }

    /// Records how a running node ended.
    fn end(&mut self, node: usize, result: Result<(), E>, blocked: Option<Blocked>) {
        match (result, blocked) {
            (Ok(()), _) => {
                self.outcomes[node] = Some(Outcome::Applied);
                self.reach(node, DONE);
            }
            (Err(_), Some(Blocked::Failed { because })) => {
                self.outcomes[node] = Some(Outcome::Skipped { because });
                self.skip_downstream(node, because);
            }
            (Err(_), Some(Blocked::Stopped)) => self.outcomes[node] = Some(Outcome::NotStarted),
            (Err(e), None) => {
                self.outcomes[node] = Some(Outcome::Failed(e));
                self.skip_downstream(node, node);
            }
        }
    }

    /// Marks every node that still needs `from` (directly or through another skipped node) skipped because of
    /// `because`; running nodes that need it at a later stage have that stage shut instead (they end and are
    /// skipped then).
    fn skip_downstream(&mut self, from: usize, because: usize) {
        let mut stack = vec![from];
        while let Some(src) = stack.pop() {
            for &(d, k) in &self.dependents[src] {
                if self.met[d][k] || self.outcomes[d].is_some() {
                    continue;
                }
                if self.started[d] {
                    let stage = usize::from(self.deps[d][k].stage);
                    if stage > 0 {
                        set_if_pending(
                            &self.gates[d][stage - 1],
                            Gate::Shut(Blocked::Failed { because }),
                        );
                    }
                } else {
                    self.outcomes[d] = Some(Outcome::Skipped { because });
                    stack.push(d);
                }
            }
        }
    }

    /// After a stop: shuts every pending stage of a running node that needs a node which cannot succeed now (not
    /// started, so it never will, or ended without success).
    fn shut_stopped_stages(&self) {
        for (node, es) in self.deps.iter().enumerate() {
            if !self.started[node] || self.outcomes[node].is_some() || self.gates[node].is_empty() {
                continue;
            }
            for (k, e) in es.iter().enumerate() {
                let hopeless = !self.started[e.on]
                    || self.outcomes[e.on]
                        .as_ref()
                        .is_some_and(|o| !o.is_applied());
                if e.stage > 0 && !self.met[node][k] && hopeless {
                    set_if_pending(
                        &self.gates[node][usize::from(e.stage) - 1],
                        Gate::Shut(Blocked::Stopped),
                    );
                }
            }
        }
    }
}

/// Decides a gate that is still pending (a decided gate stays as it is).
fn set_if_pending(gate: &tokio::sync::watch::Sender<Gate>, to: Gate) {
    gate.send_if_modified(|g| {
        let pending = *g == Gate::Pending;
        if pending {
            *g = to;
        }
        pending
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain "done" edges (`deps[i]` lists the nodes node `i` waits for), the shape most tests need; apply and the
    /// DR commands build staged edges.
    fn done_edges(deps: &[Vec<usize>]) -> Vec<Vec<Edge>> {
        deps.iter()
            .map(|ds| ds.iter().map(|&d| Edge::done(d)).collect())
            .collect()
    }

    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Runs a walk where node `i` takes `i % 3 + 1` seconds and fails when listed in `fail`. Every caller is a
    /// `#[tokio::test(start_paused = true)]`: the sleeps are on tokio's paused clock, which jumps to the next timer.
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
        let outcomes = walk_staged(
            &done_edges(deps),
            &[],
            parallelism,
            &stop.clone(),
            |i, _, _| {
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
            },
        )
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
        let outcomes = walk_staged(&done_edges(&deps), &[], 2, &Stop::new(), |_, slot, _| {
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

    /// Node timings for the staged tests: `(node, what, at seconds)`. Every caller is a
    /// `#[tokio::test(start_paused = true)]`, so the `tokio::time::sleep`s below are virtual time (the paused clock
    /// jumps to the next timer) and cost no wall time.
    type Log = Arc<Mutex<Vec<(usize, &'static str, u64)>>>;

    /// 0: "policy" (10 s, fails when `fail_policy`); 1: "pair" (fabrics 2 s, milestone 1, containers 2 s,
    /// milestone 2, then its stage 1 needs 0, then mappings 1 s); 2: "network mapping" needs 1's milestone 1
    /// (5 s); 3: "VM" needs 1 and 2 done (1 s).
    async fn staged(
        places: usize,
        fail_policy: bool,
        stop_at: Option<u64>,
        deps: Vec<Vec<Edge>>,
    ) -> (Vec<Outcome<String>>, Vec<(usize, &'static str, u64)>) {
        let log: Log = Arc::default();
        let t0 = tokio::time::Instant::now();
        let stop = Stop::new();
        if let Some(at) = stop_at {
            let s = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(at)).await;
                s.fire();
            });
        }
        let outcomes = walk_staged(&deps, &[], places, &stop, |i, slot, stages| {
            let log = log.clone();
            async move {
                let note = |what| log.lock().unwrap().push((i, what, t0.elapsed().as_secs()));
                let sleep = |s| tokio::time::sleep(Duration::from_secs(s));
                note("start");
                match i {
                    0 => {
                        sleep(10).await;
                        if fail_policy {
                            return Err("policy failed".to_string());
                        }
                    }
                    1 => {
                        sleep(2).await;
                        stages.reached(1);
                        sleep(2).await;
                        stages.reached(2);
                        slot.release_while(stages.stage(1))
                            .await
                            .map_err(|e| e.to_string())?;
                        note("stage 1");
                        sleep(1).await;
                    }
                    2 => sleep(5).await,
                    _ => sleep(1).await,
                }
                note("end");
                Ok(())
            }
        })
        .await;
        let log = log.lock().unwrap().clone();
        (outcomes, log)
    }

    fn pair_graph() -> Vec<Vec<Edge>> {
        vec![
            vec![],
            vec![Edge {
                on: 0,
                milestone: DONE,
                stage: 1,
            }],
            vec![Edge {
                on: 1,
                milestone: 1,
                stage: 0,
            }],
            vec![Edge::done(1), Edge::done(2)],
        ]
    }

    fn at(log: &[(usize, &'static str, u64)], node: usize, what: &str) -> Option<u64> {
        log.iter()
            .find(|(n, w, _)| *n == node && *w == what)
            .map(|(_, _, t)| *t)
    }

    #[tokio::test(start_paused = true)]
    async fn milestones_and_stages_overlap_what_does_not_need_the_dependency() {
        let (outcomes, log) = staged(3, false, None, pair_graph()).await;
        assert!(outcomes.iter().all(Outcome::is_applied), "{outcomes:?}");
        assert_eq!(
            at(&log, 1, "start"),
            Some(0),
            "the pair starts without the policy"
        );
        assert_eq!(
            at(&log, 2, "start"),
            Some(2),
            "the network mapping starts at the pair's first milestone"
        );
        assert_eq!(
            at(&log, 1, "stage 1"),
            Some(10),
            "the pair's mappings wait for the policy"
        );
        assert_eq!(
            at(&log, 3, "start"),
            Some(11),
            "the VM waits for the pair to finish"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_dependency_of_a_later_stage_skips_the_running_node_and_its_dependents() {
        let (outcomes, log) = staged(3, true, None, pair_graph()).await;
        assert_eq!(
            outcomes,
            vec![
                Outcome::Failed("policy failed".into()),
                Outcome::Skipped { because: 0 },
                // Needed only the pair's fabrics, which exist: it is not taken down by the policy.
                Outcome::Applied,
                Outcome::Skipped { because: 0 },
            ]
        );
        assert_eq!(
            at(&log, 1, "stage 1"),
            None,
            "the pair never created its mappings"
        );
        // The plain graph is unchanged: a failed node skips what had not started.
        let plain: Vec<Vec<Edge>> = pair_graph()
            .into_iter()
            .map(|es| es.into_iter().map(|e| Edge::done(e.on)).collect())
            .collect();
        let (outcomes, _) = staged(3, true, None, plain).await;
        assert_eq!(
            outcomes,
            vec![
                Outcome::Failed("policy failed".into()),
                Outcome::Skipped { because: 0 },
                Outcome::Skipped { because: 0 },
                Outcome::Skipped { because: 0 },
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_does_not_leave_a_stage_waiting_for_a_node_that_will_not_run() {
        // The policy (0) now also waits for node 4. One place: the pair runs 0–4 s, then the network mapping
        // takes the place it gave back (4–9 s); the walk is stopped at 5 s, so node 4 and the policy never start
        // and the pair, waiting at its stage, must end rather than hang.
        let mut deps = pair_graph();
        deps[0].push(Edge::done(4));
        deps.push(vec![]);
        let (outcomes, log) = staged(1, false, Some(5), deps).await;
        assert_eq!(outcomes[0], Outcome::NotStarted);
        assert_eq!(
            outcomes[1],
            Outcome::NotStarted,
            "stopped at its stage: not applied"
        );
        assert_eq!(outcomes[2], Outcome::Applied, "running nodes finish");
        assert_eq!(outcomes[3], Outcome::NotStarted);
        assert_eq!(outcomes[4], Outcome::NotStarted);
        assert_eq!(at(&log, 1, "stage 1"), None);
    }
}
