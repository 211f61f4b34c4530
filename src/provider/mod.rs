//! The provider: the engine's only door to Azure (or the simulator, which speaks the same ARM REST API).
//!
//! This module owns the neutral vocabulary that crosses into `plan` and `apply`: [`ProviderError`], the live
//! [`Snapshot`] and its object types, ARM ids ([`ArmId`]) and the small [`Provider`] trait. The one
//! implementation lives in [`arm`]. Nothing here may expose wire DTOs or HTTP types to callers, print, or read the
//! wall clock.

pub mod arm;
/// ARM ids live at the crate root (the configuration parses them too); re-exported where the provider always had them.
pub use crate::id;
pub mod model;

use std::time::Duration;

pub use id::{ArmId, ArmIdError};
pub use model::{Snapshot, SnapshotRequest};

/// Which budget a throttling response (429) charged, so back-off is applied to exactly that scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleScope {
    /// ARM's per-subscription token bucket (`SubscriptionRequestsThrottled`) for one kind of operation.
    Subscription {
        /// Subscription id (lower-case).
        subscription: String,
        /// Read, write or delete.
        kind: OpKind,
    },
    /// A resource provider's own quota (`ResourceRequestsThrottled`), e.g. `microsoft.network`.
    ResourceProvider {
        /// Subscription id (lower-case).
        subscription: String,
        /// Provider namespace (lower-case).
        namespace: String,
    },
    /// Contention on one resource (`RetryableErrorDueToAnotherOperation`): only that resource waits.
    Resource {
        /// The resource path (lower-case, no query).
        path: String,
    },
}

impl std::fmt::Display for ThrottleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subscription { subscription, kind } => {
                write!(f, "subscription {subscription} ({kind:?} requests)")
            }
            Self::ResourceProvider {
                subscription,
                namespace,
            } => {
                write!(
                    f,
                    "resource provider {namespace} in subscription {subscription}"
                )
            }
            Self::Resource { path } => {
                write!(f, "resource {path} (another operation is in progress)")
            }
        }
    }
}

/// The kind of ARM operation, as ARM's throttling counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// GET and HEAD.
    Read,
    /// PUT, PATCH and POST.
    Write,
    /// DELETE.
    Delete,
}

/// What went wrong, where, and what ARM said, common to the error variants that come from a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorContext {
    /// HTTP method of the failing request.
    pub method: String,
    /// URL path of the failing request (no query string, so no api-version noise and nothing secret).
    pub path: String,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// ARM or ASR error code (`ResourceNotFound`, `150261`, …), when the body carried one.
    pub code: String,
    /// The service's message, with ASR's possible causes and recommended action appended when present.
    pub message: String,
    /// `x-ms-correlation-request-id`, for a support ticket.
    pub correlation_id: Option<String>,
}

impl std::fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(s) = self.status {
            write!(f, " → {s}")?;
        }
        if !self.code.is_empty() {
            write!(f, " [{}]", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(c) = &self.correlation_id {
            write!(f, " (correlation id {c})")?;
        }
        Ok(())
    }
}

/// Every failure the provider reports. Variants are about what the caller can do next, not about HTTP.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ProviderError {
    /// The object does not exist (404).
    #[error("not found: {ctx}")]
    #[diagnostic(code(asrform::provider::not_found))]
    NotFound {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// The object changed or is busy (409, 412): re-read and decide again.
    #[error("conflict: {ctx}")]
    #[diagnostic(
        code(asrform::provider::conflict),
        help(
            "another operation changed or is changing this object; re-run plan to see its current state"
        )
    )]
    Conflict {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// Throttled (429) and the retry budget ran out.
    #[error("throttled on {scope}; retry after {retry_after:?}: {ctx}")]
    #[diagnostic(
        code(asrform::provider::throttled),
        help("ARM limits requests per subscription; lower --parallelism or retry later")
    )]
    Throttled {
        /// The budget that was exhausted.
        scope: ThrottleScope,
        /// How long the service asked us to wait.
        retry_after: Duration,
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// A failure that may succeed later (5xx, dropped connection) and the retry budget ran out.
    #[error("transient failure: {ctx}")]
    #[diagnostic(
        code(asrform::provider::transient),
        help("Azure or the network failed temporarily; retry later")
    )]
    Transient {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// 401: no valid credential.
    #[error("not authenticated: {ctx}")]
    #[diagnostic(
        code(asrform::provider::unauthorized),
        help(
            "run `az login` (or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET) and try again"
        )
    )]
    Unauthorized {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// 403: the identity lacks a role assignment.
    #[error("forbidden: {ctx}")]
    #[diagnostic(
        code(asrform::provider::forbidden),
        help(
            "the signed-in identity needs a role such as Site Recovery Contributor on the vault and Contributor on the target resource groups"
        )
    )]
    Forbidden {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// 400 and other client errors: the request was rejected as invalid.
    #[error("rejected as invalid: {ctx}")]
    #[diagnostic(code(asrform::provider::validation))]
    Validation {
        /// Request and service details.
        ctx: Box<ErrorContext>,
    },
    /// A long-running operation or ASR job ended in failure.
    #[error("operation failed [{code}]: {message}{}", job.as_ref().map(|j| format!(" (job {j})")).unwrap_or_default())]
    #[diagnostic(code(asrform::provider::operation_failed))]
    OperationFailed {
        /// The service's error code (ASR codes are numeric strings such as `150261`).
        code: String,
        /// The service's message.
        message: String,
        /// The ASR job that records the failure, when known.
        job: Option<String>,
        /// The request that started the operation.
        ctx: Box<ErrorContext>,
    },
    /// A long-running operation did not finish before its deadline.
    #[error("timed out after {after:?} waiting for {what}")]
    #[diagnostic(
        code(asrform::provider::timeout),
        help("the operation may still complete; re-run plan to see its state")
    )]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
    /// The response could not be understood.
    #[error("could not decode {what}: {message}")]
    #[diagnostic(code(asrform::provider::decode))]
    Decode {
        /// What was being decoded.
        what: String,
        /// The decoder's message.
        message: String,
    },
    /// The client was configured wrongly (endpoint, api-version, credential).
    #[error("invalid provider configuration: {0}")]
    #[diagnostic(code(asrform::provider::config))]
    Config(String),
    /// A credential could not be obtained.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Auth(#[from] arm::auth::AuthError),
}

impl ProviderError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Transient { .. } | Self::Timeout { .. }
        )
    }

    /// Whether the object is absent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The request context, when the error came from a response.
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            Self::NotFound { ctx }
            | Self::Conflict { ctx }
            | Self::Throttled { ctx, .. }
            | Self::Transient { ctx }
            | Self::Unauthorized { ctx }
            | Self::Forbidden { ctx }
            | Self::Validation { ctx }
            | Self::OperationFailed { ctx, .. } => Some(ctx),
            _ => None,
        }
    }
}

/// The engine's view of a live Azure: read everything a plan needs in one go, and report concurrency.
///
/// Mutations are typed methods on [`arm::ArmClient`] (there is one implementation, the ARM REST client, and the
/// simulator is reached through its transport), so the trait stays small on purpose.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Reads the live state of the given vaults, resource groups and subscriptions.
    async fn snapshot(&self, request: &SnapshotRequest) -> Result<Snapshot, ProviderError>;
    /// How many mutating calls may run at once.
    fn concurrency(&self) -> usize;
}
