//! The Azure Blob state store (`backend "azurerm"`): state in one blob, the lock in a sibling `.lock` blob held by a
//! finite lease that a heartbeat renews.
//!
//! Why not Terraform's way: it takes an *infinite* lease on the state blob and writes the holder info in a second
//! request, so a crash in between (or any crash at all) leaves a lease nobody can name or safely break. Here:
//!
//! ```text
//!   1. PUT  key.lock  body = holder info      If-Match: <etag seen> (or If-None-Match: * when absent)
//!                                             fails while a lease is active (no lease id given)
//!   2. PUT  key.lock?comp=lease  acquire      If-Match: <etag of step 1>, proposed id = lock id, 15-60 s
//!   3. every lease/3: renew + x-ms-meta-asrform_heartbeat = now
//! ```
//!
//! Step 2 only succeeds on the very content written in step 1, so the active lease always belongs to the holder
//! the blob names. A holder that dies stops renewing and its lease lapses within one lease period; `state unlock`
//! breaks a lease only when its heartbeat has stopped. State writes are compare-and-swap on the state blob's ETag.
//! This module does network I/O to the storage account only and must not interpret state beyond its serial.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{
    ClientOptions, Etag, ExponentialRetryOptions, RequestContent, RetryOptions, StatusCode, Url,
};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResultHeaders,
    BlobClientBreakLeaseOptions, BlobClientDeleteOptions, BlobClientGetPropertiesResultHeaders,
    BlobClientSetMetadataOptions, BlobClientUploadOptions, LeaseState,
};
use azure_storage_blob::{BlobClient, BlobClientOptions};

use super::{LockGuard, LockInfo, State, StateError, StateStore, Stored, Version};
use crate::clock::Clock;

/// How the store authenticates.
#[derive(Clone)]
pub enum BlobAuth {
    /// An Entra ID credential (the same chain as ARM); needs an https endpoint.
    Token(Arc<dyn TokenCredential>),
    /// A SAS token (query string without the leading `?`), e.g. for Azurite; never logged.
    Sas(String),
}

impl std::fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlobAuth::Token(_) => "Token(..)",
            BlobAuth::Sas(_) => "Sas(<redacted>)",
        })
    }
}

/// Where the state blob is and how to reach it.
#[derive(Clone, Debug)]
pub struct BlobStoreOptions {
    /// The account's blob endpoint: `https://<account>.blob.core.windows.net`, or for Azurite
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    pub account_url: Url,
    /// Container name.
    pub container: String,
    /// Blob name of the state.
    pub key: String,
    /// Credentials.
    pub auth: BlobAuth,
    /// Lease length in seconds (Azure allows 15 to 60); the heartbeat renews every third of it.
    pub lease_seconds: u32,
    /// Clock for heartbeats.
    pub clock: Arc<dyn Clock>,
}

/// State in an Azure Blob container.
#[derive(Clone)]
pub struct BlobStore {
    opts: BlobStoreOptions,
    state: Arc<BlobClient>,
    lock: Arc<BlobClient>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("origin", &self.origin())
            .finish()
    }
}

const HEARTBEAT_KEY: &str = "asrform_heartbeat";

impl BlobStore {
    /// Connects (lazily: no request is sent until the first operation).
    pub fn new(opts: BlobStoreOptions) -> Result<Self, StateError> {
        let origin = format!("{}/{}/{}", opts.account_url, opts.container, opts.key);
        let fail = |message: String| StateError::Io {
            origin: origin.clone(),
            message,
        };
        if !(15..=60).contains(&opts.lease_seconds) {
            return Err(fail(format!(
                "lease_seconds must be between 15 and 60, not {}",
                opts.lease_seconds
            )));
        }
        let loopback = matches!(
            opts.account_url.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]")
        );
        if opts.account_url.scheme() != "https" && !loopback {
            return Err(fail(
                "the storage endpoint must use https (plain http is only allowed on loopback)"
                    .into(),
            ));
        }
        if opts.container.is_empty() || opts.key.is_empty() {
            return Err(fail("container and key must not be empty".into()));
        }
        let state = Arc::new(blob_client(&opts, &opts.key).map_err(|e| fail(e.to_string()))?);
        let lock = Arc::new(
            blob_client(&opts, &format!("{}.lock", opts.key)).map_err(|e| fail(e.to_string()))?,
        );
        Ok(Self { opts, state, lock })
    }

    fn origin(&self) -> String {
        format!(
            "{}/{}/{}",
            self.opts.account_url, self.opts.container, self.opts.key
        )
    }

    fn io(&self, what: &str, e: azure_core::Error) -> StateError {
        StateError::Io {
            origin: self.origin(),
            message: format!("{what}: {}", describe(&e)),
        }
    }

    async fn download(
        &self,
        client: &BlobClient,
    ) -> Result<Option<(String, Etag)>, azure_core::Error> {
        match client.download(None).await {
            Ok(res) => {
                let etag = res
                    .properties
                    .etag
                    .clone()
                    .unwrap_or_else(|| Etag::from(""));
                let bytes = res.body.collect().await?;
                Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), etag)))
            }
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn holder(&self) -> Option<LockInfo> {
        let (text, _) = self.download(&self.lock).await.ok()??;
        serde_json::from_str(&text).ok()
    }

    fn locked_by(&self, holder: Option<LockInfo>, fallback: &LockInfo) -> StateError {
        StateError::Locked {
            holder: Box::new(holder.unwrap_or_else(|| LockInfo {
                id: "unknown".into(),
                who: "unknown".into(),
                host: "unknown".into(),
                pid: 0,
                operation: "(holder info unreadable)".into(),
                created: fallback.created,
            })),
        }
    }
}

fn blob_client(opts: &BlobStoreOptions, name: &str) -> azure_core::Result<BlobClient> {
    let mut url = opts.account_url.clone();
    url.path_segments_mut()
        .map_err(|()| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                "endpoint cannot be a base URL",
            )
        })?
        .pop_if_empty()
        .push(&opts.container)
        .push(name);
    let credential = match &opts.auth {
        BlobAuth::Token(c) => Some(c.clone()),
        BlobAuth::Sas(sas) => {
            url.set_query(Some(sas.trim_start_matches('?')));
            None
        }
    };
    // Short retries: a lock attempt that hangs for the SDK's default minute looks like a freeze to the user.
    let client_options = ClientOptions {
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 4,
            max_total_elapsed: azure_core::time::Duration::seconds(20),
            max_delay: azure_core::time::Duration::seconds(5),
        }),
        ..Default::default()
    };
    BlobClient::new(
        url,
        credential,
        Some(BlobClientOptions {
            client_options,
            ..Default::default()
        }),
    )
}

/// The status and service error code of a failed request, without URLs (they may carry a SAS).
fn describe(e: &azure_core::Error) -> String {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            status, error_code, ..
        } => {
            format!(
                "HTTP {} {}",
                u16::from(*status),
                error_code.clone().unwrap_or_default()
            )
        }
        other => format!("{other:?}"),
    }
}

fn now_rfc3339(clock: &dyn Clock) -> String {
    clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl StateStore for BlobStore {
    async fn read(&self) -> Result<Option<Stored>, StateError> {
        let Some((text, etag)) = self
            .download(&self.state)
            .await
            .map_err(|e| self.io("cannot read state", e))?
        else {
            return Ok(None);
        };
        let state = State::from_json(&self.origin(), &text)?;
        Ok(Some(Stored {
            state,
            version: Version(etag.to_string()),
        }))
    }

    async fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        let options = BlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            if_match: expected.map(|v| Etag::from(v.0.clone())),
            if_none_match: if expected.is_none() {
                Some(Etag::from("*"))
            } else {
                None
            },
            ..Default::default()
        };
        let body = RequestContent::from(state.to_json().into_bytes());
        match self.state.upload(body, Some(options)).await {
            Ok(res) => Ok(Version(res.etag.map(|e| e.to_string()).unwrap_or_default())),
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::PreconditionFailed | StatusCode::Conflict)
                ) =>
            {
                let found = self
                    .read()
                    .await
                    .ok()
                    .flatten()
                    .map_or_else(|| "no state".into(), |s| s.version.0);
                Err(StateError::Conflict {
                    origin: self.origin(),
                    expected: expected.map_or_else(|| "no state".into(), |v| v.0.clone()),
                    found,
                })
            }
            Err(e) => Err(self.io("cannot write state", e)),
        }
    }

    async fn try_lock(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        let props = match self.lock.get_properties(None).await {
            Ok(p) => Some(p),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => None,
            Err(e) => return Err(self.io("cannot read lock", e)),
        };
        let (previous, etag) = match &props {
            Some(p) => {
                if matches!(p.lease_state(), Ok(Some(LeaseState::Leased))) {
                    return Err(self.locked_by(self.holder().await, info));
                }
                (self.holder().await, p.etag().ok().flatten())
            }
            None => (None, None),
        };
        // Step 1: our holder info, only over the content we just saw and only while no lease is active.
        let upload = BlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            if_match: etag.clone(),
            if_none_match: if etag.is_none() {
                Some(Etag::from("*"))
            } else {
                None
            },
            ..Default::default()
        };
        let body = RequestContent::from(
            serde_json::to_vec_pretty(info).expect("lock info always serialises"),
        );
        let written = match self.lock.upload(body, Some(upload)).await {
            Ok(res) => res.etag,
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::PreconditionFailed | StatusCode::Conflict)
                ) =>
            {
                return Err(self.locked_by(self.holder().await, info));
            }
            Err(e) => return Err(self.io("cannot write lock", e)),
        };
        // Step 2: the lease, only on the content of step 1.
        let acquire = BlobClientAcquireLeaseOptions {
            if_match: written,
            proposed_lease_id: Some(info.id.clone()),
            ..Default::default()
        };
        let lease_id = match self
            .lock
            .acquire_lease(self.opts.lease_seconds as i32, Some(acquire))
            .await
        {
            Ok(res) => res
                .lease_id()
                .ok()
                .flatten()
                .unwrap_or_else(|| info.id.clone()),
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::PreconditionFailed | StatusCode::Conflict)
                ) =>
            {
                return Err(self.locked_by(self.holder().await, info));
            }
            Err(e) => return Err(self.io("cannot acquire lease", e)),
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        let heartbeat = tokio::spawn(heartbeat(
            self.lock.clone(),
            lease_id.clone(),
            Duration::from_secs(u64::from(self.opts.lease_seconds) / 3),
            self.opts.clock.clone(),
            stop.clone(),
        ));
        Ok(Box::new(BlobLockGuard {
            lock: self.lock.clone(),
            lease_id,
            info: info.clone(),
            replaced: previous.filter(|p| p.id != info.id),
            heartbeat: Some(heartbeat),
            stop,
        }))
    }

    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let props = match self.lock.get_properties(None).await {
            Ok(p) => p,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => {
                return Err(StateError::Unlock {
                    message: format!("no lock is held on {}", self.origin()),
                });
            }
            Err(e) => return Err(self.io("cannot read lock", e)),
        };
        let Some(holder) = self.holder().await else {
            return Err(StateError::Unlock {
                message: "the lock blob holds no holder info".into(),
            });
        };
        if holder.id != id {
            return Err(StateError::Unlock {
                message: format!("lock id `{id}` does not match the lock on record ({holder})"),
            });
        }
        if matches!(props.lease_state(), Ok(Some(LeaseState::Leased))) {
            // Alive means the heartbeat touched the blob within two periods. Both times are the storage service's
            // (Last-Modified, which each heartbeat's metadata write moves, and the response's Date), so clock skew
            // between machines cannot make a live holder look dead.
            let period = time::Duration::seconds(i64::from(self.opts.lease_seconds / 3).max(1));
            let server_now = props
                .headers()
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static("date"))
                .and_then(|d| azure_core::time::parse_rfc7231(d).ok())
                .unwrap_or_else(|| self.opts.clock.now());
            let last = props.last_modified().ok().flatten().unwrap_or(server_now);
            if server_now - last < period * 2 {
                return Err(StateError::Unlock {
                    message: format!(
                        "the holder's heartbeat is {}s old; it is still running: {holder}",
                        (server_now - last).whole_seconds()
                    ),
                });
            }
            let options = BlobClientBreakLeaseOptions {
                break_period: Some(0),
                ..Default::default()
            };
            self.lock
                .break_lease(Some(options))
                .await
                .map_err(|e| self.io("cannot break lease", e))?;
        }
        match self.lock.delete(None).await {
            Ok(_) => Ok(holder),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(holder),
            Err(e) => Err(self.io("cannot remove lock", e)),
        }
    }

    fn describe(&self) -> String {
        format!("Azure Blob {}", self.origin())
    }
}

async fn heartbeat(
    lock: Arc<BlobClient>,
    lease_id: String,
    every: Duration,
    clock: Arc<dyn Clock>,
    stop: Arc<tokio::sync::Notify>,
) {
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = clock.sleep(every) => {}
        }
        if let Err(e) = lock.renew_lease(lease_id.clone(), None).await {
            tracing::warn!(error = %describe(&e), "state lock lease renewal failed");
            continue;
        }
        let metadata = HashMap::from([(HEARTBEAT_KEY.to_string(), now_rfc3339(clock.as_ref()))]);
        let options = BlobClientSetMetadataOptions {
            lease_id: Some(lease_id.clone()),
            ..Default::default()
        };
        if let Err(e) = lock.set_metadata(&metadata, Some(options)).await {
            tracing::warn!(error = %describe(&e), "state lock heartbeat failed");
        }
    }
}

/// A held blob lock.
pub struct BlobLockGuard {
    lock: Arc<BlobClient>,
    lease_id: String,
    info: LockInfo,
    replaced: Option<LockInfo>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    stop: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for BlobLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobLockGuard")
            .field("info", &self.info)
            .finish()
    }
}

#[async_trait::async_trait]
impl LockGuard for BlobLockGuard {
    async fn release(mut self: Box<Self>) -> Result<(), StateError> {
        if let Some(h) = self.heartbeat.take() {
            self.stop.notify_one();
            h.abort();
        }
        // Deleting the lock blob under our lease removes the holder info and the lease in one request, so the next
        // holder does not mistake a clean release for a dead holder.
        let options = BlobClientDeleteOptions {
            lease_id: Some(self.lease_id.clone()),
            ..Default::default()
        };
        match self.lock.delete(Some(options)).await {
            Ok(_) => Ok(()),
            // The lease already lapsed or was broken: it is not ours any more, which is what release wants.
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(
                        StatusCode::Conflict
                            | StatusCode::PreconditionFailed
                            | StatusCode::NotFound
                    )
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(StateError::Io {
                origin: self.lock.url().path().to_string(),
                message: format!("cannot release lock: {}", describe(&e)),
            }),
        }
    }
    fn info(&self) -> &LockInfo {
        &self.info
    }
    fn replaced(&self) -> Option<&LockInfo> {
        self.replaced.as_ref()
    }
    fn abandon(mut self: Box<Self>) {
        // Stop renewing but do not release: the lease lapses on its own, as when the process is killed.
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl Drop for BlobLockGuard {
    fn drop(&mut self) {
        let Some(h) = self.heartbeat.take() else {
            return;
        };
        self.stop.notify_one();
        h.abort();
        // Dropped without `release`: Drop cannot wait for a request, so the release runs on the runtime; if the
        // process exits first, the lease still lapses within one lease period.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let lock = self.lock.clone();
            let id = self.lease_id.clone();
            rt.spawn(async move {
                lock.delete(Some(BlobClientDeleteOptions {
                    lease_id: Some(id),
                    ..Default::default()
                }))
                .await
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn opts(url: &str, auth: BlobAuth) -> BlobStoreOptions {
        BlobStoreOptions {
            account_url: url.parse().unwrap(),
            container: "tfstate".into(),
            key: "prod.asrform.state".into(),
            auth,
            lease_seconds: 60,
            clock: Arc::new(SystemClock),
        }
    }

    #[test]
    fn refuses_plain_http_off_loopback_and_bad_lease_lengths() {
        let err = BlobStore::new(opts(
            "http://example.invalid/acct",
            BlobAuth::Sas("sig=x".into()),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        let mut o = opts(
            "http://127.0.0.1:10000/devstoreaccount1",
            BlobAuth::Sas("sig=x".into()),
        );
        assert!(BlobStore::new(o.clone()).is_ok());
        o.lease_seconds = 5;
        assert!(BlobStore::new(o).is_err());
    }

    #[test]
    fn sas_is_never_in_debug_output() {
        let s = format!("{:?}", BlobAuth::Sas("sig=SECRET".into()));
        assert!(!s.contains("SECRET"));
    }
}
