//! Client-side throttling: token buckets that mirror ARM's limits, corrected from its headers, plus scoped
//! back-off after a 429.
//!
//! Buckets are kept per (subscription, read/write/delete) at ARM's 250/25 s⁻¹ reads and 200/10 s⁻¹ writes and
//! deletes, plus a per-subscription global bucket 15× as large that every principal shares. After each response the
//! `x-ms-ratelimit-remaining-*` headers replace our estimate (they are the truth). A 429 blocks exactly its scope
//! (subscription bucket, RP quota, or one contended resource) until `Retry-After` has passed, so one throttled
//! subscription or RP never stalls work elsewhere. State sits behind a short-held `std::sync::Mutex`; nothing
//! waits while holding it, and all waits go through the injected [`Clock`]. This module must not send requests.
//!
//! Every throttling wait (a block's `Retry-After`, the bucket's pacing, the client's back-off before a retry) goes
//! through [`idle`], which hands it to the task's [`WaitHook`] when the caller set one with [`with_wait_hook`]:
//! apply gives the change's place among `--parallelism` back meanwhile, so a throttled change never stalls
//! independent work. The provider knows nothing of who implements the hook.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::http::headers::{HeaderName, Headers};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::provider::{OpKind, ThrottleScope};

/// A wait that sends nothing, handed to a [`WaitHook`].
pub type IdleWait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Told about every wait the client does in the task that set it without sending (a throttling wait, or the wait
/// between polls of a long-running operation), so the caller can give back what it holds (apply: the change's
/// place among `--parallelism`) while the request only waits.
#[async_trait::async_trait]
pub trait WaitHook: Send + Sync {
    /// Runs `wait` with whatever the caller holds given back, and takes it again before returning.
    async fn idle_while(&self, wait: IdleWait<'_>);
}

tokio::task_local! {
    static WAIT_HOOK: Arc<dyn WaitHook>;
}

/// Runs `fut` with `hook` around every throttling wait the client does in this task. Tasks spawned from `fut` do
/// not inherit it (they hold nothing of the caller's).
pub async fn with_wait_hook<F: Future>(hook: Arc<dyn WaitHook>, fut: F) -> F::Output {
    WAIT_HOOK.scope(hook, fut).await
}

/// Sleeps `d` on `clock` for throttling, through the task's [`WaitHook`] when it has one.
pub async fn idle(clock: &dyn Clock, d: Duration) {
    match WAIT_HOOK.try_with(Arc::clone) {
        Ok(hook) => hook.idle_while(Box::pin(clock.sleep(d))).await,
        Err(_) => clock.sleep(d).await,
    }
}

/// Size and refill rate of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimit {
    /// Maximum tokens.
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

/// The limits to mirror; defaults are ARM's documented token-bucket limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleLimits {
    /// Per-principal reads.
    pub reads: BucketLimit,
    /// Per-principal writes.
    pub writes: BucketLimit,
    /// Per-principal deletes.
    pub deletes: BucketLimit,
    /// The global bucket is this multiple of the per-principal one.
    pub global_factor: f64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            reads: BucketLimit {
                capacity: 250.0,
                refill_per_sec: 25.0,
            },
            writes: BucketLimit {
                capacity: 200.0,
                refill_per_sec: 10.0,
            },
            deletes: BucketLimit {
                capacity: 200.0,
                refill_per_sec: 10.0,
            },
            global_factor: 15.0,
        }
    }
}

impl ThrottleLimits {
    fn limit(&self, kind: OpKind) -> BucketLimit {
        match kind {
            OpKind::Read => self.reads,
            OpKind::Write => self.writes,
            OpKind::Delete => self.deletes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BucketKey {
    Principal(String, OpKind),
    Global(String, OpKind),
}

#[derive(Debug)]
struct Bucket {
    limit: BucketLimit,
    tokens: f64,
    at: OffsetDateTime,
}

impl Bucket {
    fn refill(&mut self, now: OffsetDateTime) {
        let dt = (now - self.at).as_seconds_f64().max(0.0);
        self.tokens = (self.tokens + dt * self.limit.refill_per_sec).min(self.limit.capacity);
        self.at = now;
    }
    /// How long until the tokens taken on credit are paid back by the refill.
    fn debt(&self) -> Duration {
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.limit.refill_per_sec)
        }
    }
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<BucketKey, Bucket>,
    blocked: HashMap<ThrottleScope, OffsetDateTime>,
    graph: GraphQuota,
}

/// The path of Azure Resource Graph queries (lower case): a tenant-level endpoint with its own per-user quota
/// instead of ARM's per-subscription buckets.
pub const GRAPH_PATH: &str = "/providers/microsoft.resourcegraph/resources";
/// ARG's documented quota example (limits.md §1.6): queries per window per user, before any header is seen.
pub const GRAPH_QUOTA: u32 = 15;
/// ARG's quota window.
pub const GRAPH_WINDOW: Duration = Duration::from_secs(5);

/// Our mirror of ARG's quota window, corrected from `x-ms-user-quota-remaining` / `-resets-after`.
#[derive(Debug, Default)]
struct GraphQuota {
    /// Queries left in the window (`None`: no window open yet).
    remaining: Option<u32>,
    /// When the window resets.
    resets_at: Option<OffsetDateTime>,
}

impl GraphQuota {
    /// Takes one query from the window, or says how long to wait for the next one.
    fn take(&mut self, now: OffsetDateTime) -> Duration {
        if self.resets_at.is_none_or(|r| now >= r) {
            self.remaining = Some(GRAPH_QUOTA);
            self.resets_at = Some(now + GRAPH_WINDOW);
        }
        match self.remaining {
            Some(0) => self
                .resets_at
                .and_then(|r| Duration::try_from(r - now).ok())
                .unwrap_or(Duration::ZERO),
            Some(n) => {
                self.remaining = Some(n - 1);
                Duration::ZERO
            }
            None => Duration::ZERO,
        }
    }
}

/// `hh:mm:ss` (ARG's `x-ms-user-quota-resets-after`), or plain seconds.
fn parse_hms(v: &str) -> Option<Duration> {
    let parts: Vec<f64> = v
        .trim()
        .split(':')
        .map(|p| p.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let secs = parts.iter().fold(0.0, |acc, p| acc * 60.0 + p);
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// What a request is, for throttling purposes.
#[derive(Debug, Clone)]
pub struct RequestScope {
    /// Subscription id (lower-case; empty for tenant-level calls).
    pub subscription: String,
    /// Read, write or delete.
    pub kind: OpKind,
    /// Provider namespace (lower-case; empty if none).
    pub namespace: String,
    /// Resource path (lower-case, no query).
    pub path: String,
}

impl RequestScope {
    /// Whether this is an Azure Resource Graph query (paced by ARG's quota, not ARM's buckets).
    pub fn is_graph(&self) -> bool {
        self.path.trim_end_matches('/') == GRAPH_PATH
    }

    fn scopes(&self) -> [ThrottleScope; 3] {
        [
            ThrottleScope::Subscription {
                subscription: self.subscription.clone(),
                kind: self.kind,
            },
            ThrottleScope::ResourceProvider {
                subscription: self.subscription.clone(),
                namespace: self.namespace.clone(),
            },
            ThrottleScope::Resource {
                path: self.path.clone(),
            },
        ]
    }
}

/// The shared throttle of one client.
#[derive(Debug, Clone)]
pub struct Throttle {
    clock: Arc<dyn Clock>,
    limits: ThrottleLimits,
    state: Arc<Mutex<State>>,
}

impl Throttle {
    /// A throttle with full buckets.
    pub fn new(clock: Arc<dyn Clock>, limits: ThrottleLimits) -> Self {
        Self {
            clock,
            limits,
            state: Arc::default(),
        }
    }

    /// Waits until a request of this scope may be sent (no block in force, its token in both buckets), taking the
    /// tokens. Never holds the lock while waiting; waits go through [`idle`].
    ///
    /// The token is taken at once, on credit when the bucket is empty, and the request waits until the refill has
    /// paid it back: waiters are served in the order they came, each sleeping once, instead of all of them waking
    /// at every refill to race for one token (a herd of a thousand changes at 10 writes/s).
    pub async fn acquire(&self, req: &RequestScope) {
        let keys = [
            BucketKey::Principal(req.subscription.clone(), req.kind),
            BucketKey::Global(req.subscription.clone(), req.kind),
        ];
        let mut paid = false;
        loop {
            let wait = {
                let now = self.clock.now();
                let mut st = self.state.lock().expect("throttle state");
                let blocked = req
                    .scopes()
                    .iter()
                    .filter_map(|s| st.blocked.get(s).copied())
                    .filter(|until| *until > now)
                    .max();
                if let Some(until) = blocked {
                    Duration::try_from(until - now).unwrap_or(Duration::ZERO)
                } else if paid {
                    return;
                } else if req.is_graph() {
                    let wait = st.graph.take(now);
                    if wait.is_zero() {
                        return;
                    }
                    wait
                } else {
                    let mut wait = Duration::ZERO;
                    for key in &keys {
                        let b = self.bucket(&mut st, key, now);
                        b.refill(now);
                        b.tokens -= 1.0;
                        wait = wait.max(b.debt());
                    }
                    paid = true;
                    if wait.is_zero() {
                        return;
                    }
                    wait
                }
            };
            // A block set while we waited is checked again on the next turn; the token stays paid.
            idle(self.clock.as_ref(), wait.max(Duration::from_millis(1))).await;
        }
    }

    fn bucket<'a>(
        &self,
        st: &'a mut State,
        key: &BucketKey,
        now: OffsetDateTime,
    ) -> &'a mut Bucket {
        st.buckets.entry(key.clone()).or_insert_with(|| {
            let mut limit = self.limits.limit(match key {
                BucketKey::Principal(_, k) | BucketKey::Global(_, k) => *k,
            });
            if matches!(key, BucketKey::Global(..)) {
                limit.capacity *= self.limits.global_factor;
                limit.refill_per_sec *= self.limits.global_factor;
            }
            Bucket {
                limit,
                tokens: limit.capacity,
                at: now,
            }
        })
    }

    /// Replaces the estimate of the subscription's buckets with ARM's `x-ms-ratelimit-remaining-*` headers.
    pub fn observe(&self, subscription: &str, headers: &Headers) {
        self.observe_graph(headers);
        if subscription.is_empty() {
            return;
        }
        let now = self.clock.now();
        let mut st = self.state.lock().expect("throttle state");
        for (header, kind, global) in [
            (
                "x-ms-ratelimit-remaining-subscription-reads",
                OpKind::Read,
                false,
            ),
            (
                "x-ms-ratelimit-remaining-subscription-writes",
                OpKind::Write,
                false,
            ),
            (
                "x-ms-ratelimit-remaining-subscription-deletes",
                OpKind::Delete,
                false,
            ),
            (
                "x-ms-ratelimit-remaining-subscription-global-reads",
                OpKind::Read,
                true,
            ),
            (
                "x-ms-ratelimit-remaining-subscription-global-writes",
                OpKind::Write,
                true,
            ),
            (
                "x-ms-ratelimit-remaining-subscription-global-deletes",
                OpKind::Delete,
                true,
            ),
        ] {
            let Some(v) = headers.get_optional_str(&HeaderName::from_static(header)) else {
                continue;
            };
            let Ok(remaining) = v.trim().parse::<f64>() else {
                continue;
            };
            let key = if global {
                BucketKey::Global(subscription.to_string(), kind)
            } else {
                BucketKey::Principal(subscription.to_string(), kind)
            };
            let b = self.bucket(&mut st, &key, now);
            b.refill(now);
            // The server's count is authoritative, but it was taken before our in-flight requests landed, so
            // only ever lower our estimate from it.
            b.tokens = b.tokens.min(remaining.max(0.0));
        }
    }

    /// Corrects the ARG quota mirror from `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` (sent only
    /// by ARG). Like the ARM buckets, the remaining count only ever lowers our estimate (our in-flight queries are
    /// not in it yet); the reset time is the server's.
    fn observe_graph(&self, headers: &Headers) {
        let get = |h: &'static str| headers.get_optional_str(&HeaderName::from_static(h));
        let remaining = get("x-ms-user-quota-remaining").and_then(|v| v.trim().parse::<u32>().ok());
        let resets = get("x-ms-user-quota-resets-after").and_then(parse_hms);
        if remaining.is_none() && resets.is_none() {
            return;
        }
        let now = self.clock.now();
        let mut st = self.state.lock().expect("throttle state");
        let q = &mut st.graph;
        if let Some(after) = resets {
            q.resets_at = Some(now + after);
        }
        if let Some(r) = remaining {
            q.remaining = Some(q.remaining.map_or(r, |mine| mine.min(r)));
        }
    }

    /// Blocks `scope` until `retry_after` from now (extending, never shortening, an existing block).
    pub fn block(&self, scope: ThrottleScope, retry_after: Duration) {
        let until = self.clock.now() + retry_after;
        let mut st = self.state.lock().expect("throttle state");
        if let ThrottleScope::Subscription { subscription, kind } = &scope {
            // A subscription-level 429 means the server's bucket is empty: mirror that.
            if let Some(b) = st
                .buckets
                .get_mut(&BucketKey::Principal(subscription.clone(), *kind))
            {
                b.tokens = b.tokens.min(0.0);
            }
        }
        let e = st.blocked.entry(scope).or_insert(until);
        if *e < until {
            *e = until;
        }
    }

    /// The instant until which `scope` is blocked, if it is.
    pub fn blocked_until(&self, scope: &ThrottleScope) -> Option<OffsetDateTime> {
        let now = self.clock.now();
        self.state
            .lock()
            .expect("throttle state")
            .blocked
            .get(scope)
            .copied()
            .filter(|u| *u > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ScaledClock;
    use time::macros::datetime;

    fn scope(sub: &str, kind: OpKind) -> RequestScope {
        RequestScope {
            subscription: sub.into(),
            kind,
            namespace: "microsoft.compute".into(),
            path: format!("/subscriptions/{sub}/x"),
        }
    }

    fn setup() -> (Arc<ScaledClock>, Throttle) {
        let clock = Arc::new(ScaledClock::new(datetime!(2026-01-01 00:00 UTC), 1.0));
        let t = Throttle::new(clock.clone(), ThrottleLimits::default());
        (clock, t)
    }

    #[tokio::test(start_paused = true)]
    async fn reads_burst_to_the_bucket_then_refill_at_25_per_second() {
        let (clock, t) = setup();
        let start = clock.now();
        for _ in 0..250 {
            t.acquire(&scope("s1", OpKind::Read)).await;
        }
        assert_eq!(clock.now(), start, "a full bucket serves 250 reads at once");
        for _ in 0..50 {
            t.acquire(&scope("s1", OpKind::Read)).await;
        }
        let took = (clock.now() - start).as_seconds_f64();
        assert!(
            (1.9..2.2).contains(&took),
            "50 more reads need ~2 s of refill, took {took}"
        );
        // Writes have their own bucket.
        let before = clock.now();
        t.acquire(&scope("s1", OpKind::Write)).await;
        assert_eq!(clock.now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn resource_graph_queries_follow_the_user_quota_and_its_headers() {
        let (clock, t) = setup();
        let graph = RequestScope {
            subscription: String::new(),
            kind: OpKind::Write,
            namespace: String::new(),
            path: GRAPH_PATH.into(),
        };
        assert!(graph.is_graph());
        let start = clock.now();
        for _ in 0..GRAPH_QUOTA {
            t.acquire(&graph).await;
        }
        assert_eq!(
            clock.now(),
            start,
            "a fresh window serves 15 queries at once"
        );
        t.acquire(&graph).await;
        assert_eq!(
            clock.now() - start,
            time::Duration::seconds(5),
            "the 16th waits for the reset"
        );
        // The server says fewer are left, and when its window resets: that is the truth.
        let mut h = Headers::new();
        h.insert("x-ms-user-quota-remaining", "0");
        h.insert("x-ms-user-quota-resets-after", "00:00:03");
        t.observe("", &h);
        let before = clock.now();
        t.acquire(&graph).await;
        assert_eq!(clock.now() - before, time::Duration::seconds(3));
        // ARM buckets are untouched by queries.
        let before = clock.now();
        for _ in 0..200 {
            t.acquire(&scope("", OpKind::Write)).await;
        }
        assert_eq!(clock.now(), before);
        assert_eq!(parse_hms("01:02:03"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_hms("x"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn headers_lower_the_estimate() {
        let (clock, t) = setup();
        let mut h = Headers::new();
        h.insert("x-ms-ratelimit-remaining-subscription-writes", "0");
        t.observe("s1", &h);
        let start = clock.now();
        t.acquire(&scope("s1", OpKind::Write)).await;
        let took = (clock.now() - start).as_seconds_f64();
        assert!(
            (0.09..0.2).contains(&took),
            "an empty write bucket refills one token in 0.1 s, took {took}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_subscription_does_not_stall_another() {
        let (clock, t) = setup();
        t.block(
            ThrottleScope::Subscription {
                subscription: "s1".into(),
                kind: OpKind::Read,
            },
            Duration::from_secs(30),
        );
        let start = clock.now();
        let t2 = t.clone();
        let blocked = tokio::spawn(async move { t2.acquire(&scope("s1", OpKind::Read)).await });
        t.acquire(&scope("s2", OpKind::Read)).await;
        assert_eq!(clock.now(), start, "s2 is not delayed by s1's block");
        blocked.await.unwrap();
        assert!(
            clock.now() - start >= time::Duration::seconds(30),
            "s1 waited for its Retry-After"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rp_and_resource_blocks_only_hit_their_scope() {
        let (clock, t) = setup();
        t.block(
            ThrottleScope::ResourceProvider {
                subscription: "s1".into(),
                namespace: "microsoft.network".into(),
            },
            Duration::from_secs(300),
        );
        t.block(
            ThrottleScope::Resource {
                path: "/subscriptions/s1/y".into(),
            },
            Duration::from_secs(60),
        );
        let start = clock.now();
        t.acquire(&scope("s1", OpKind::Write)).await; // compute, other path
        assert_eq!(clock.now(), start);
        let mut net = scope("s1", OpKind::Write);
        net.namespace = "microsoft.network".into();
        t.acquire(&net).await;
        assert!(clock.now() - start >= time::Duration::seconds(300));
    }

    /// Counts the waits it is handed and how long they took.
    #[derive(Default)]
    struct Counting(Mutex<Vec<Duration>>);

    #[async_trait::async_trait]
    impl WaitHook for Counting {
        async fn idle_while(&self, wait: IdleWait<'_>) {
            let t0 = tokio::time::Instant::now();
            wait.await;
            self.0.lock().unwrap().push(t0.elapsed());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_s_wait_hook_sees_every_throttling_wait() {
        let (_, t) = setup();
        let hook = Arc::new(Counting::default());
        t.block(
            ThrottleScope::Resource {
                path: "/subscriptions/s1/x".into(),
            },
            Duration::from_secs(20),
        );
        with_wait_hook(hook.clone(), t.acquire(&scope("s1", OpKind::Write))).await;
        assert_eq!(*hook.0.lock().unwrap(), vec![Duration::from_secs(20)]);
        // Without a hook (another task), the same wait just sleeps.
        t.block(
            ThrottleScope::Resource {
                path: "/subscriptions/s1/x".into(),
            },
            Duration::from_secs(5),
        );
        t.acquire(&scope("s1", OpKind::Write)).await;
        assert_eq!(hook.0.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_waiters_are_served_in_arrival_order_and_sleep_once() {
        let (clock, t) = setup();
        let mut h = Headers::new();
        h.insert("x-ms-ratelimit-remaining-subscription-writes", "0");
        t.observe("s1", &h);
        let start = clock.now();
        let hook = Arc::new(Counting::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (t, hook, order, clock) = (t.clone(), hook.clone(), order.clone(), clock.clone());
            tasks.push(tokio::spawn(with_wait_hook(hook, async move {
                t.acquire(&scope("s1", OpKind::Write)).await;
                order
                    .lock()
                    .unwrap()
                    .push((i, (clock.now() - start).as_seconds_f64()));
            })));
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(
            order.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        let last = order.last().unwrap().1;
        assert!(
            (0.49..0.6).contains(&last),
            "five tokens at 10/s, took {last}"
        );
        assert_eq!(hook.0.lock().unwrap().len(), 5, "one wait per request");
    }
}
