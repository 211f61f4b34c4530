//! The ARM client: one place where requests are built, throttled, retried, counted and turned into typed results,
//! plus the typed operations `apply` uses on ASR and ARM objects.
//!
//! Retry policy (azure_core's is off, see `pipeline.rs`):
//! - 429 is retried for every method, because ARM did not process the request; the throttle blocks the scope named
//!   by the error code until `Retry-After`, and nothing on that scope is sent before then.
//! - 5xx/408 and dropped connections are retried only for idempotent methods (GET, PUT, PATCH, DELETE), with capped
//!   exponential back-off on the client's clock. A POST (an ASR action: failover, commit, …) that fails
//!   ambiguously is NOT re-sent: the caller gets `Transient` and must re-read state before trying again, so no
//!   action runs twice. A connection that was refused before sending is retried for any method.
//! - LRO polls are GETs; on top of that the LRO driver tolerates `max_poll_failures` consecutive failed polls.
//! - Every wait for throttling (a 429's `Retry-After`, bucket pacing, back-off) goes through `throttle::idle`, so
//!   the caller's [`throttle::WaitHook`] can give its place back meanwhile.
//!
//! This module must not know the planner's types; it speaks ARM paths, JSON values and wire DTOs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::Headers;
use azure_core::http::{Method, Request, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::{self, map_status, parse_error_body, retry_after, throttle_scope};
use super::lro::{self, JobLister, JobTracker, LroOptions, Poll, PollVia, Start};
use super::pipeline::{ArmPipeline, Endpoint};
use super::throttle::{self, RequestScope, Throttle, ThrottleLimits};
use super::wire;
use crate::clock::Clock;
use crate::provider::{ArmId, ErrorContext, OpKind, ProviderError};

/// api-versions per resource provider; defaults from the reference (asr-api.md §0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersions {
    /// `Microsoft.RecoveryServices/vaults/replication*`.
    pub asr: String,
    /// `Microsoft.RecoveryServices/vaults`.
    pub vault: String,
    /// `Microsoft.Resources` (resource groups).
    pub resources: String,
    /// `Microsoft.Network`.
    pub network: String,
    /// `Microsoft.Storage`.
    pub storage: String,
    /// `Microsoft.Compute` (VMs, availability sets, PPGs).
    pub compute: String,
    /// `Microsoft.Compute/disks` and disk encryption sets.
    pub disk: String,
}

impl Default for ApiVersions {
    fn default() -> Self {
        Self {
            asr: "2025-08-01".into(),
            vault: "2025-08-01".into(),
            resources: "2025-04-01".into(),
            network: "2026-03-01".into(),
            storage: "2026-09-01".into(),
            compute: "2026-04-01".into(),
            disk: "2026-03-02".into(),
        }
    }
}

impl ApiVersions {
    /// The api-version for an ARM path.
    pub fn for_path(&self, path: &str) -> &str {
        let p = path.to_ascii_lowercase();
        if p.contains("/providers/microsoft.recoveryservices/vaults/")
            && p.split("/vaults/")
                .nth(1)
                .is_some_and(|rest| rest.contains("/replication"))
        {
            &self.asr
        } else if p.contains("/providers/microsoft.recoveryservices/") {
            &self.vault
        } else if p.contains("/providers/microsoft.network/") {
            &self.network
        } else if p.contains("/providers/microsoft.storage/") {
            &self.storage
        } else if p.contains("/providers/microsoft.compute/disks")
            || p.contains("/providers/microsoft.compute/diskencryptionsets")
        {
            &self.disk
        } else if p.contains("/providers/microsoft.compute/") {
            &self.compute
        } else {
            &self.resources
        }
    }
}

/// Retry limits of individual requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryOptions {
    /// Attempts for idempotent requests failing with 5xx or a dropped connection (including the first).
    pub max_attempts: u32,
    /// 429 responses tolerated per request before giving up.
    pub max_throttled: u32,
    /// First back-off.
    pub initial_backoff: Duration,
    /// Largest back-off.
    pub max_backoff: Duration,
    /// Wait after a 429 that carries no `Retry-After`.
    pub default_retry_after: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_throttled: 30,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            default_retry_after: Duration::from_secs(10),
        }
    }
}

/// Everything needed to build an [`ArmClient`]; the CLI maps the configuration's provider block to this.
#[derive(Clone)]
pub struct ArmClientOptions {
    /// Where ARM is.
    pub endpoint: Endpoint,
    /// Token source.
    pub credential: Arc<dyn TokenCredential>,
    /// api-versions.
    pub api_versions: ApiVersions,
    /// All waits go through this clock.
    pub clock: Arc<dyn Clock>,
    /// In-flight request limit.
    pub max_concurrency: usize,
    /// Per-request retries.
    pub retry: RetryOptions,
    /// Long-running operation polling.
    pub lro: LroOptions,
    /// Client-side throttle limits.
    pub throttle: ThrottleLimits,
    /// Interval of the batched job tracker.
    pub job_poll_interval: Duration,
}

impl ArmClientOptions {
    /// Options with defaults for everything but the endpoint, credential and clock.
    pub fn new(
        endpoint: Endpoint,
        credential: Arc<dyn TokenCredential>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            endpoint,
            credential,
            api_versions: ApiVersions::default(),
            clock,
            max_concurrency: 32,
            retry: RetryOptions::default(),
            lro: LroOptions::default(),
            throttle: ThrottleLimits::default(),
            job_poll_interval: Duration::from_secs(15),
        }
    }
}

impl std::fmt::Debug for ArmClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClientOptions")
            .field("endpoint", &self.endpoint)
            .field("credential", &"<credential>")
            .field("api_versions", &self.api_versions)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// Request counts since the client was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Every attempt sent (including retries and polls).
    pub total: u64,
    /// GETs.
    pub get: u64,
    /// PUTs.
    pub put: u64,
    /// PATCHes.
    pub patch: u64,
    /// POSTs.
    pub post: u64,
    /// DELETEs.
    pub delete: u64,
    /// 429 responses.
    pub throttled: u64,
    /// Attempts that were retries of an earlier attempt.
    pub retries: u64,
    /// 5xx responses.
    pub server_errors: u64,
    /// Transport failures (no response).
    pub transport_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    get: AtomicU64,
    put: AtomicU64,
    patch: AtomicU64,
    post: AtomicU64,
    delete: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
}

impl Counters {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    fn snapshot(&self) -> RequestCounts {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            total: l(&self.total),
            get: l(&self.get),
            put: l(&self.put),
            patch: l(&self.patch),
            post: l(&self.post),
            delete: l(&self.delete),
            throttled: l(&self.throttled),
            retries: l(&self.retries),
            server_errors: l(&self.server_errors),
            transport_errors: l(&self.transport_errors),
        }
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl ArmResponse {
    /// The body as JSON, or `None` if empty.
    pub fn json_value(&self) -> Result<Option<Value>, ProviderError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|e| ProviderError::Decode {
                what: "response body".into(),
                message: e.to_string(),
            })
    }
}

/// The result of a mutation that ran to completion.
#[derive(Debug, Clone, Default)]
pub struct LroOutcome {
    /// The final body: the resource for PUT/PATCH, the operation result for POST (if any).
    pub body: Option<Value>,
    /// The ASR job that carried the operation, when one was named.
    pub job_id: Option<String>,
    /// Number of polls made.
    pub polls: u32,
}

struct Inner {
    pipeline: ArmPipeline,
    versions: ApiVersions,
    clock: Arc<dyn Clock>,
    throttle: Throttle,
    counters: Counters,
    retry: RetryOptions,
    lro: LroOptions,
    limit: tokio::sync::Semaphore,
    max_concurrency: usize,
    job_poll_interval: Duration,
}

/// The ARM REST client. Cheap to clone; clones share throttle state, counters and the concurrency limit.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("pipeline", &self.inner.pipeline)
            .finish_non_exhaustive()
    }
}

fn method_kind(m: &Method) -> OpKind {
    match m {
        Method::Get | Method::Head => OpKind::Read,
        Method::Delete => OpKind::Delete,
        _ => OpKind::Write,
    }
}

fn idempotent(m: &Method) -> bool {
    !matches!(m, Method::Post)
}

impl ArmClient {
    /// Builds a client. Fails on an invalid endpoint (e.g. plain http to a non-loopback host).
    pub fn new(opts: ArmClientOptions) -> Result<Self, ProviderError> {
        let pipeline = ArmPipeline::new(&opts.endpoint, opts.credential.clone())?;
        let max = opts.max_concurrency.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                pipeline,
                versions: opts.api_versions,
                throttle: Throttle::new(opts.clock.clone(), opts.throttle),
                clock: opts.clock,
                counters: Counters::default(),
                retry: opts.retry,
                lro: opts.lro,
                limit: tokio::sync::Semaphore::new(max),
                max_concurrency: max,
                job_poll_interval: opts.job_poll_interval,
            }),
        })
    }

    /// Request counts so far.
    pub fn counts(&self) -> RequestCounts {
        self.inner.counters.snapshot()
    }

    /// The client's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The in-flight request limit.
    pub fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency
    }

    /// The configured api-versions.
    pub fn api_versions(&self) -> &ApiVersions {
        &self.inner.versions
    }

    /// The throttle (for inspection in tests).
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// The URL of an ARM path with the right api-version and extra query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ProviderError> {
        let mut url = self
            .inner
            .pipeline
            .base()
            .join(path)
            .map_err(|e| ProviderError::Config(format!("bad ARM path {path}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", self.inner.versions.for_path(path));
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Parses a URL the service gave us (nextLink, polling URL) and refuses other hosts, so a bearer token never
    /// leaves the configured endpoint.
    fn service_url(&self, link: &str) -> Result<Url, ProviderError> {
        let url = Url::parse(link)
            .or_else(|_| self.inner.pipeline.base().join(link))
            .map_err(|e| ProviderError::Decode {
                what: "link".into(),
                message: format!("{link}: {e}"),
            })?;
        let url = self.inner.pipeline.unloop(url);
        let base = self.inner.pipeline.base();
        if url.host_str().map(str::to_ascii_lowercase)
            != base.host_str().map(str::to_ascii_lowercase)
            || url.scheme() != base.scheme()
        {
            return Err(ProviderError::Decode {
                what: "link".into(),
                message: format!(
                    "{link} points outside {base}; refusing to send credentials there"
                ),
            });
        }
        Ok(url)
    }

    /// Sends a request with throttling and retries; returns 2xx responses and maps everything else to an error.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<ArmResponse, ProviderError> {
        let path = url.path().to_string();
        let id = ArmId::parse(&path).ok();
        let scope = RequestScope {
            subscription: id
                .as_ref()
                .and_then(|i| i.subscription())
                .unwrap_or_default()
                .to_ascii_lowercase(),
            kind: method_kind(&method),
            namespace: id
                .as_ref()
                .and_then(|i| i.namespace())
                .unwrap_or_default()
                .to_ascii_lowercase(),
            path: path.to_ascii_lowercase(),
        };
        let body_bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ProviderError::Decode {
                what: "request body".into(),
                message: e.to_string(),
            })?),
            None => None,
        };
        let c = &self.inner.counters;
        let r = &self.inner.retry;
        let mut attempts = 0u32;
        let mut throttled = 0u32;
        loop {
            if attempts + throttled > 0 {
                Counters::inc(&c.retries);
            }
            self.inner.throttle.acquire(&scope).await;
            let mut req = Request::new(url.clone(), method);
            req.insert_header("accept", "application/json");
            if let Some(b) = &body_bytes {
                req.insert_header("content-type", "application/json");
                req.set_body(b.clone());
            }
            Counters::inc(&c.total);
            Counters::inc(match method {
                Method::Get => &c.get,
                Method::Put => &c.put,
                Method::Patch => &c.patch,
                Method::Post => &c.post,
                Method::Delete => &c.delete,
                _ => &c.get,
            });
            let result = {
                let _permit = self
                    .inner
                    .limit
                    .acquire()
                    .await
                    .map_err(|_| ProviderError::Config("client closed".into()))?;
                self.inner.pipeline.send(&mut req).await
            };
            attempts += 1;
            let rsp = match result {
                Ok(rsp) => rsp,
                Err(e) => {
                    Counters::inc(&c.transport_errors);
                    let refused = matches!(e.kind(), ErrorKind::Connection);
                    let ctx = Box::new(ErrorContext {
                        method: method.to_string(),
                        path: path.clone(),
                        message: format!("{e}"),
                        ..Default::default()
                    });
                    if matches!(e.kind(), ErrorKind::Credential) {
                        return Err(ProviderError::Unauthorized { ctx });
                    }
                    if (idempotent(&method) || refused) && attempts < r.max_attempts {
                        throttle::idle(self.inner.clock.as_ref(), self.backoff(attempts)).await;
                        continue;
                    }
                    return Err(ProviderError::Transient { ctx });
                }
            };
            let status = u16::from(rsp.status());
            let (_, headers, body) = rsp.deconstruct();
            self.inner.throttle.observe(&scope.subscription, &headers);
            if (200..300).contains(&status) {
                return Ok(ArmResponse {
                    status,
                    headers,
                    body: body.to_vec(),
                });
            }
            let err = parse_error_body(&body);
            let wait = retry_after(&headers, self.inner.clock.now());
            let ctx = errors::context(method.as_ref(), &path, Some(status), Some(&headers), &err);
            if status == 429 {
                Counters::inc(&c.throttled);
                let tscope = throttle_scope(
                    &err.code,
                    &scope.subscription,
                    &scope.namespace,
                    &scope.path,
                    scope.kind,
                );
                let wait = wait.unwrap_or(r.default_retry_after);
                self.inner.throttle.block(tscope.clone(), wait);
                throttled += 1;
                if throttled <= r.max_throttled {
                    tracing::debug!(target: "asrform::arm", %method, path, scope = %tscope, wait_ms = wait.as_millis() as u64, "throttled; waiting");
                    continue;
                }
                return Err(map_status(status, ctx, Some(tscope), Some(wait)));
            }
            if status >= 500 || status == 408 {
                Counters::inc(&c.server_errors);
                if idempotent(&method) && attempts < r.max_attempts {
                    let d = wait
                        .unwrap_or(Duration::ZERO)
                        .max(self.backoff(attempts))
                        .min(r.max_backoff.max(wait.unwrap_or_default()));
                    throttle::idle(self.inner.clock.as_ref(), d).await;
                    continue;
                }
            }
            return Err(map_status(status, ctx, None, wait));
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let r = &self.inner.retry;
        let exp = r
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(r.max_backoff);
        // Jitter keeps many clients from retrying in lock-step.
        capped
            .mul_f64(0.75 + rand::random::<f64>() * 0.5)
            .min(r.max_backoff)
    }

    /// GET a path; `None` on 404.
    pub async fn get_value(&self, path: &str) -> Result<Option<Value>, ProviderError> {
        match self.send(Method::Get, self.url(path, &[])?, None).await {
            Ok(r) => r.json_value(),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a path into a wire type; `None` on 404.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ProviderError> {
        match self.get_value(path).await? {
            Some(v) => decode(path, v).map(Some),
            None => Ok(None),
        }
    }

    /// Lists a collection, following `nextLink` to the end. Returns raw items.
    pub async fn list_values(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, ProviderError> {
        let mut url = self.url(path, query)?;
        let mut items = Vec::new();
        loop {
            let page: wire::Page<Value> = decode(
                path,
                self.send(Method::Get, url, None)
                    .await?
                    .json_value()?
                    .unwrap_or(Value::Null),
            )?;
            items.extend(page.value);
            match page.next_link.filter(|l| !l.is_empty()) {
                Some(next) => url = self.service_url(&next)?,
                None => return Ok(items),
            }
        }
    }

    /// Lists a collection into a wire type.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ProviderError> {
        self.list_values(path, &[])
            .await?
            .into_iter()
            .map(|v| decode(path, v))
            .collect()
    }

    /// Sends a mutation and returns its initial response without waiting.
    pub async fn begin(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, ProviderError> {
        self.send(method, self.url(path, &[])?, body).await
    }

    /// Runs a mutation to completion: send, poll, final GET for PUT/PATCH.
    pub async fn execute<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<LroOutcome, ProviderError> {
        let body =
            body.map(serde_json::to_value)
                .transpose()
                .map_err(|e| ProviderError::Decode {
                    what: "request body".into(),
                    message: e.to_string(),
                })?;
        let initial = self.begin(method, path, body.as_ref()).await?;
        self.wait(method, path, initial).await
    }

    /// Drives a started mutation to completion.
    pub async fn wait(
        &self,
        method: Method,
        path: &str,
        initial: ArmResponse,
    ) -> Result<LroOutcome, ProviderError> {
        let lro_opts = self.inner.lro;
        let first_body = initial.json_value().ok().flatten();
        let mut job = lro::job_id(Some(&initial.headers), first_body.as_ref());
        let started = self.inner.clock.now();
        let op_ctx = || {
            Box::new(ErrorContext {
                method: method.to_string(),
                path: path.to_string(),
                ..Default::default()
            })
        };
        let (url, via, mut delay, location) = match lro::start(
            initial.status,
            &initial.headers,
            first_body,
            &lro_opts,
            started,
        ) {
            Start::Done(body) => {
                return Ok(LroOutcome {
                    job_id: job.or_else(|| lro::job_id(None, body.as_ref())),
                    body,
                    polls: 0,
                });
            }
            Start::Poll {
                url,
                via,
                delay,
                location,
            } => (self.service_url(&url)?, via, delay, location),
        };
        let mut polls = 0u32;
        let mut failures = 0u32;
        loop {
            let elapsed = Duration::try_from(self.inner.clock.now() - started).unwrap_or_default();
            if elapsed + delay > lro_opts.deadline {
                return Err(ProviderError::Timeout {
                    what: format!("{method} {path}"),
                    after: elapsed + delay,
                });
            }
            // Between polls the caller only waits for the service: its place (apply's parallelism) goes back too.
            throttle::idle(self.inner.clock.as_ref(), delay).await;
            polls += 1;
            let rsp = match self.send(Method::Get, url.clone(), None).await {
                Ok(r) => r,
                Err(e) if e.is_transient() || matches!(e, ProviderError::Decode { .. }) => {
                    failures += 1;
                    if failures > lro_opts.max_poll_failures {
                        return Err(e);
                    }
                    delay = lro_opts.default_delay;
                    continue;
                }
                Err(ProviderError::NotFound { ctx })
                | Err(ProviderError::Validation { ctx })
                | Err(ProviderError::Conflict { ctx })
                    if via == PollVia::Location =>
                {
                    // A Location poll that ends in a client error is the operation's failure.
                    return Err(ProviderError::OperationFailed {
                        code: ctx.code.clone(),
                        message: ctx.message.clone(),
                        job,
                        ctx,
                    });
                }
                Err(e) => return Err(e),
            };
            failures = 0;
            let body = rsp.json_value().ok().flatten();
            if job.is_none() {
                job = lro::job_id(Some(&rsp.headers), body.as_ref());
            }
            match lro::poll(
                via,
                rsp.status,
                &rsp.headers,
                body,
                &lro_opts,
                self.inner.clock.now(),
            ) {
                Poll::InProgress(d) => delay = d,
                Poll::Failed { code, message, .. } => {
                    return Err(ProviderError::OperationFailed {
                        code,
                        message,
                        job,
                        ctx: op_ctx(),
                    });
                }
                Poll::Succeeded(body) => {
                    let result = match (method, via) {
                        (Method::Put | Method::Patch, _) => self.get_value(path).await?,
                        (_, PollVia::Location) => body,
                        (_, PollVia::AsyncOperation) => {
                            match location.as_deref().map(|l| self.service_url(l)) {
                                // POST actions: the Location carries the result (ASR: the job); fetch it once.
                                Some(Ok(loc)) => match self.send(Method::Get, loc, None).await {
                                    Ok(r) => r.json_value().ok().flatten().or(body),
                                    Err(_) => body,
                                },
                                _ => body,
                            }
                        }
                    };
                    if job.is_none() {
                        job = lro::job_id(None, result.as_ref());
                    }
                    return Ok(LroOutcome {
                        body: result,
                        job_id: job,
                        polls,
                    });
                }
            }
        }
    }

    /// A job tracker that lists `replicationJobs` through this client.
    pub fn job_tracker(&self) -> JobTracker {
        JobTracker::new(Arc::new(self.clone()), self.inner.job_poll_interval)
    }
}

#[async_trait::async_trait]
impl JobLister for ArmClient {
    async fn list_jobs(
        &self,
        vault: &ArmId,
        since: time::OffsetDateTime,
    ) -> Result<Vec<Value>, ProviderError> {
        let ts = since
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let filter = format!("startTime eq '{ts}'");
        self.list_values(&vault.join("replicationJobs"), &[("$filter", &filter)])
            .await
    }
    async fn sleep(&self, d: Duration) {
        self.inner.clock.sleep(d).await
    }
    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }
}

fn decode<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, ProviderError> {
    serde_json::from_value(v).map_err(|e| ProviderError::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}
