//! Long-running operations: the ARM polling state machine (pure) and ASR job tracking (batched).
//!
//! ARM answers a mutation with 200/201 (done, or done-with-async-header), 202 (accepted) or 204 (done, no body).
//! We poll `Azure-AsyncOperation` if present, else `Location`, waiting `Retry-After` between polls; an operation
//! status body says `InProgress|Succeeded|Failed|Canceled|Cancelled`, a `Location` poll answers 202 until done and
//! then 200/204. The decision functions here are pure (response in, next step out) so they can be tested without
//! a transport; the async driver lives in `client.rs`, which owns retries of individual polls and the deadline.
//! [`JobTracker`] waits for many ASR jobs with one `replicationJobs` list per vault per interval instead of one
//! poll loop per job. This module must not build URLs for specific resources or touch the wall clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::http::headers::{HeaderName, Headers};
use serde_json::Value;
use tokio::sync::oneshot;

use super::errors::{parse_error_value, retry_after};
use crate::provider::{ArmId, ProviderError};

/// Polling limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LroOptions {
    /// Wait between polls when the service sends no `Retry-After`.
    pub default_delay: Duration,
    /// Upper bound on any single wait (a hostile `Retry-After` must not park us for a day).
    pub max_delay: Duration,
    /// Give up after this long.
    pub deadline: Duration,
    /// Consecutive failed polls (5xx, dropped connection) tolerated before giving up.
    pub max_poll_failures: u32,
}

impl Default for LroOptions {
    fn default() -> Self {
        Self {
            default_delay: Duration::from_secs(15),
            max_delay: Duration::from_secs(300),
            deadline: Duration::from_secs(3 * 3600),
            max_poll_failures: 10,
        }
    }
}

/// How an operation is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollVia {
    /// `Azure-AsyncOperation`: a status body.
    AsyncOperation,
    /// `Location`: 202 until done, then the result.
    Location,
}

/// What to do after the initial response of a mutation.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Finished already; the body (if any) is the result.
    Done(Option<Value>),
    /// Poll `url` after `delay`.
    Poll {
        /// Poll URL.
        url: String,
        /// How.
        via: PollVia,
        /// First wait.
        delay: Duration,
        /// `Location`, kept for the final GET of POST actions.
        location: Option<String>,
    },
}

const ASYNC_OP: HeaderName = HeaderName::from_static("azure-asyncoperation");
const LOCATION: HeaderName = HeaderName::from_static("location");

/// Decides from the initial (2xx) response whether and how to poll.
pub fn start(
    status: u16,
    headers: &Headers,
    body: Option<Value>,
    opts: &LroOptions,
    now: time::OffsetDateTime,
) -> Start {
    let delay = retry_after(headers, now)
        .unwrap_or(opts.default_delay)
        .min(opts.max_delay);
    let async_op = headers.get_optional_string(&ASYNC_OP);
    let location = headers.get_optional_string(&LOCATION);
    match (status, async_op, location) {
        (204, _, _) => Start::Done(None),
        (200..=202, Some(url), location) => Start::Poll {
            url,
            via: PollVia::AsyncOperation,
            delay,
            location,
        },
        (202, None, Some(url)) => Start::Poll {
            url: url.clone(),
            via: PollVia::Location,
            delay,
            location: Some(url),
        },
        // 201 with only Location: the resource exists; the result is the body.
        _ => Start::Done(body),
    }
}

/// One poll's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// Still running; wait `delay`.
    InProgress(Duration),
    /// Finished well; `body` is the status or result body.
    Succeeded(Option<Value>),
    /// Finished badly.
    Failed {
        /// Service error code.
        code: String,
        /// Service message.
        message: String,
        /// The terminal status string (`Failed`, `Canceled`, …).
        status: String,
    },
}

/// Interprets a 2xx poll response.
pub fn poll(
    via: PollVia,
    status: u16,
    headers: &Headers,
    body: Option<Value>,
    opts: &LroOptions,
    now: time::OffsetDateTime,
) -> Poll {
    let delay = retry_after(headers, now)
        .unwrap_or(opts.default_delay)
        .min(opts.max_delay);
    match via {
        PollVia::Location => {
            if status == 202 {
                Poll::InProgress(delay)
            } else {
                Poll::Succeeded(body)
            }
        }
        PollVia::AsyncOperation => {
            let st = body
                .as_ref()
                .and_then(|b| {
                    b.get("status")
                        .or_else(|| b.pointer("/properties/provisioningState"))
                })
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match st.to_ascii_lowercase().as_str() {
                "succeeded" => Poll::Succeeded(body),
                "failed" | "canceled" | "cancelled" => {
                    let e = body.as_ref().map(parse_error_value).unwrap_or_default();
                    let code = if e.code.is_empty() {
                        st.clone()
                    } else {
                        e.code
                    };
                    let message = if e.message.is_empty() {
                        format!("the operation ended with status {st}")
                    } else {
                        e.message
                    };
                    Poll::Failed {
                        code,
                        message,
                        status: st,
                    }
                }
                // InProgress, Accepted, Running, NotStarted, or missing: a 200 without a status while the
                // header is present is still running by ARM's rules only if 202; a bare 200 with no status is done.
                "" if status != 202 => Poll::Succeeded(body),
                _ => Poll::InProgress(delay),
            }
        }
    }
}

/// The ASR job id a response points at, when it names one: an id under `/replicationJobs/` in the body
/// (`id`, `properties.jobId`, `properties.currentScenario.jobId`) or in `x-ms-request-id`.
pub fn job_id(headers: Option<&Headers>, body: Option<&Value>) -> Option<String> {
    let is_job = |s: &str| {
        s.to_ascii_lowercase().contains("/replicationjobs/")
            && !s.to_ascii_lowercase().ends_with("/replicationjobs/none")
    };
    if let Some(b) = body {
        for p in [
            "/id",
            "/properties/jobId",
            "/jobId",
            "/properties/currentScenario/jobId",
        ] {
            if let Some(s) = b.pointer(p).and_then(Value::as_str)
                && is_job(s)
            {
                return Some(s.to_string());
            }
        }
    }
    let h = headers?.get_optional_str(&HeaderName::from_static("x-ms-request-id"))?;
    is_job(h).then(|| h.to_string())
}

/// A job's terminal state as the tracker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// The job id.
    pub id: String,
    /// `Succeeded`, `Failed`, `Cancelled`, …
    pub state: String,
    /// Error code and message of a failed job (first error).
    pub error: Option<(String, String)>,
}

impl JobOutcome {
    /// The job as the result of the request `method path` that started it: its id when it succeeded, else the
    /// failure the request's own poll would have reported (with the job named, for the user to look it up).
    pub fn into_result(self, method: &str, path: &str) -> Result<String, ProviderError> {
        if self.state.eq_ignore_ascii_case("succeeded")
            || self.state.eq_ignore_ascii_case("completedwithinformation")
        {
            return Ok(self.id);
        }
        let (code, message) = self
            .error
            .unwrap_or_else(|| (self.state.clone(), format!("the job ended {}", self.state)));
        Err(ProviderError::OperationFailed {
            code,
            message,
            job: Some(self.id),
            ctx: Box::new(crate::provider::ErrorContext {
                method: method.to_string(),
                path: path.to_string(),
                ..Default::default()
            }),
        })
    }
}

/// Whether an ASR job state is terminal.
pub fn job_state_is_terminal(state: &str) -> bool {
    matches!(
        state.to_ascii_lowercase().as_str(),
        "succeeded" | "failed" | "cancelled" | "canceled" | "completedwithinformation" | "skipped"
    )
}

/// Reads a job's state and first error from a `replicationJobs` item.
pub fn job_outcome(item: &Value) -> Option<JobOutcome> {
    let id = item.get("id")?.as_str()?.to_string();
    let state = item
        .pointer("/properties/state")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let error = item.pointer("/properties/errors/0").map(|e| {
        let code = e
            .pointer("/providerErrorDetails/errorCode")
            .or_else(|| e.pointer("/serviceErrorDetails/code"))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        let msg = e
            .pointer("/providerErrorDetails/errorMessage")
            .or_else(|| e.pointer("/serviceErrorDetails/message"))
            .and_then(Value::as_str);
        (
            code.unwrap_or_default(),
            msg.unwrap_or_default().to_string(),
        )
    });
    Some(JobOutcome { id, state, error })
}

/// Lists one vault's recent jobs: implemented by the client (`GET {vault}/replicationJobs?$filter=…`).
#[async_trait::async_trait]
pub trait JobLister: Send + Sync + 'static {
    /// All jobs of `vault` started at or after `since`, as raw items.
    async fn list_jobs(
        &self,
        vault: &ArmId,
        since: time::OffsetDateTime,
    ) -> Result<Vec<Value>, ProviderError>;
    /// Waits on the client's clock.
    async fn sleep(&self, d: Duration);
    /// The client's clock.
    fn now(&self) -> time::OffsetDateTime;
}

/// The waiters of one job, and the earliest start time any of them gave for it.
type Waiters = HashMap<
    String,
    (
        time::OffsetDateTime,
        Vec<oneshot::Sender<Result<JobOutcome, String>>>,
    ),
>;

#[derive(Default)]
struct VaultWaiters {
    jobs: Waiters,
    running: bool,
}

impl VaultWaiters {
    /// The list filter: back to the earliest start among the jobs still waited for. It moves forward as jobs end,
    /// so the list shrinks to the jobs still running instead of paging through every job of the apply each time.
    fn since(&self) -> Option<time::OffsetDateTime> {
        self.jobs.values().map(|(since, _)| *since).min()
    }
}

/// Waits for many ASR jobs with one list call per vault per interval, however many waiters there are.
#[derive(Clone)]
pub struct JobTracker {
    lister: Arc<dyn JobLister>,
    interval: Duration,
    max_failures: u32,
    vaults: Arc<Mutex<HashMap<ArmId, VaultWaiters>>>,
}

impl std::fmt::Debug for JobTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTracker")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl JobTracker {
    /// A tracker that lists each vault's jobs every `interval`.
    pub fn new(lister: Arc<dyn JobLister>, interval: Duration) -> Self {
        Self {
            lister,
            interval,
            max_failures: 10,
            vaults: Arc::default(),
        }
    }

    /// Waits until the job reaches a terminal state. `job_id` is the job's ARM id (it names its vault).
    pub async fn wait(&self, job_id: &str) -> Result<JobOutcome, ProviderError> {
        // A job id we wait for was created just now, so a margin of one hour is ample on a real clock.
        self.wait_since(job_id, self.lister.now() - time::Duration::hours(1))
            .await
    }

    /// [`JobTracker::wait`] for a job known to have started at or after `since` (e.g. the time before the request
    /// that started it): the list filter must reach back that far, however fast the clock runs.
    pub async fn wait_since(
        &self,
        job_id: &str,
        since: time::OffsetDateTime,
    ) -> Result<JobOutcome, ProviderError> {
        let id = ArmId::parse(job_id).map_err(|e| ProviderError::Decode {
            what: "job id".into(),
            message: e.to_string(),
        })?;
        let vault = id.parent().ok_or_else(|| ProviderError::Decode {
            what: "job id".into(),
            message: format!("{job_id} has no vault"),
        })?;
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut all = self.vaults.lock().expect("job tracker");
            let v = all.entry(vault.clone()).or_default();
            // Jobs started before we began waiting are found by the filter only if `since` reaches back far
            // enough.
            let w = v
                .jobs
                .entry(id.as_str().to_ascii_lowercase())
                .or_insert_with(|| (since, Vec::new()));
            w.0 = w.0.min(since);
            w.1.push(tx);
            !std::mem::replace(&mut v.running, true)
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.run(vault).await });
        }
        match rx.await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(message)) => Err(ProviderError::Transient {
                ctx: Box::new(crate::provider::ErrorContext {
                    method: "GET".into(),
                    path: format!("{job_id} (via replicationJobs list)"),
                    message,
                    ..Default::default()
                }),
            }),
            Err(_) => Err(ProviderError::Config("job tracker stopped".into())),
        }
    }

    async fn run(self, vault: ArmId) {
        let mut failures = 0u32;
        loop {
            self.lister.sleep(self.interval).await;
            let since = {
                let all = self.vaults.lock().expect("job tracker");
                all.get(&vault)
                    .and_then(VaultWaiters::since)
                    .unwrap_or_else(|| self.lister.now())
            };
            let listed = self.lister.list_jobs(&vault, since).await;
            let mut all = self.vaults.lock().expect("job tracker");
            let Some(v) = all.get_mut(&vault) else { return };
            match listed {
                Ok(items) => {
                    failures = 0;
                    for o in items.iter().filter_map(job_outcome) {
                        if job_state_is_terminal(&o.state)
                            && let Some((_, txs)) = v.jobs.remove(&o.id.to_ascii_lowercase())
                        {
                            for tx in txs {
                                let _ = tx.send(Ok(o.clone()));
                            }
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures >= self.max_failures {
                        for (_, (_, txs)) in v.jobs.drain() {
                            for tx in txs {
                                let _ = tx.send(Err(e.to_string()));
                            }
                        }
                    }
                }
            }
            if v.jobs.is_empty() {
                v.running = false;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&'static str, &'static str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.insert(*k, *v);
        }
        h
    }
    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn start_prefers_async_operation_then_location() {
        let o = LroOptions::default();
        let hs = h(&[
            ("azure-asyncoperation", "https://x/op"),
            ("location", "https://x/loc"),
            ("retry-after", "3"),
        ]);
        assert_eq!(
            start(202, &hs, None, &o, NOW),
            Start::Poll {
                url: "https://x/op".into(),
                via: PollVia::AsyncOperation,
                delay: Duration::from_secs(3),
                location: Some("https://x/loc".into())
            }
        );
        let hs = h(&[("location", "https://x/loc")]);
        assert!(
            matches!(start(202, &hs, None, &o, NOW), Start::Poll { via: PollVia::Location, delay, .. } if delay == o.default_delay)
        );
        assert_eq!(start(204, &hs, None, &o, NOW), Start::Done(None));
        assert_eq!(
            start(200, &Headers::new(), Some(json!({"a":1})), &o, NOW),
            Start::Done(Some(json!({"a":1})))
        );
        let hs = h(&[("azure-asyncoperation", "https://x/op")]);
        assert!(matches!(
            start(201, &hs, None, &o, NOW),
            Start::Poll {
                via: PollVia::AsyncOperation,
                ..
            }
        ));
    }

    #[test]
    fn status_bodies_drive_the_machine() {
        let o = LroOptions::default();
        let hs = h(&[("retry-after", "1")]);
        assert_eq!(
            poll(
                PollVia::AsyncOperation,
                200,
                &hs,
                Some(json!({"status":"InProgress"})),
                &o,
                NOW
            ),
            Poll::InProgress(Duration::from_secs(1))
        );
        assert!(matches!(
            poll(
                PollVia::AsyncOperation,
                200,
                &hs,
                Some(json!({"status":"Succeeded"})),
                &o,
                NOW
            ),
            Poll::Succeeded(_)
        ));
        for st in ["Failed", "Canceled", "Cancelled"] {
            let b = json!({"status": st, "error": {"code": "150261", "message": "Policy creation failed"}});
            assert_eq!(
                poll(PollVia::AsyncOperation, 200, &hs, Some(b), &o, NOW),
                Poll::Failed {
                    code: "150261".into(),
                    message: "Policy creation failed".into(),
                    status: st.into()
                }
            );
        }
        assert_eq!(
            poll(PollVia::Location, 202, &hs, None, &o, NOW),
            Poll::InProgress(Duration::from_secs(1))
        );
        assert_eq!(
            poll(PollVia::Location, 204, &hs, None, &o, NOW),
            Poll::Succeeded(None)
        );
        let big = h(&[("retry-after", "999999")]);
        assert_eq!(
            poll(PollVia::Location, 202, &big, None, &o, NOW),
            Poll::InProgress(o.max_delay)
        );
    }

    #[test]
    fn job_ids_are_found_in_bodies_and_headers() {
        let job = "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/j1";
        assert_eq!(
            job_id(
                None,
                Some(&json!({"properties":{"currentScenario":{"jobId": job}}}))
            )
            .as_deref(),
            Some(job)
        );
        assert_eq!(
            job_id(
                None,
                Some(
                    &json!({"properties":{"currentScenario":{"jobId": "/x/replicationJobs/None"}}})
                )
            ),
            None
        );
        let mut hs = Headers::new();
        hs.insert("x-ms-request-id", job);
        assert_eq!(job_id(Some(&hs), None).as_deref(), Some(job));
    }

    /// Lists what a script says for each call and records the `since` it was asked for.
    struct ScriptedLister {
        calls: Mutex<Vec<time::OffsetDateTime>>,
        answers: Vec<Vec<Value>>,
    }

    #[async_trait::async_trait]
    impl JobLister for ScriptedLister {
        async fn list_jobs(
            &self,
            _vault: &ArmId,
            since: time::OffsetDateTime,
        ) -> Result<Vec<Value>, ProviderError> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(since);
            Ok(self.answers[(calls.len() - 1).min(self.answers.len() - 1)].clone())
        }
        async fn sleep(&self, d: Duration) {
            // Virtual: the test runs on tokio's paused clock, which jumps to the next timer.
            tokio::time::sleep(d).await
        }
        fn now(&self) -> time::OffsetDateTime {
            NOW
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tracker_lists_back_only_to_the_jobs_still_waited_for() {
        let vault =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v";
        let (a, b) = (
            format!("{vault}/replicationJobs/a"),
            format!("{vault}/replicationJobs/b"),
        );
        let job = |id: &str, state: &str| json!({"id": id, "properties": {"state": state}});
        let lister = Arc::new(ScriptedLister {
            calls: Mutex::default(),
            answers: vec![
                vec![job(&a, "Succeeded"), job(&b, "InProgress")],
                vec![job(&b, "InProgress")],
                vec![job(&b, "Succeeded")],
            ],
        });
        let tracker = JobTracker::new(lister.clone(), Duration::from_secs(10));
        let later = NOW + time::Duration::minutes(5);
        let (ra, rb) = tokio::join!(tracker.wait_since(&a, NOW), tracker.wait_since(&b, later));
        assert_eq!(ra.unwrap().state, "Succeeded");
        assert_eq!(rb.unwrap().state, "Succeeded");
        // The first list reaches back to job a; once a has ended, only to b.
        assert_eq!(*lister.calls.lock().unwrap(), vec![NOW, later, later]);
    }
}
