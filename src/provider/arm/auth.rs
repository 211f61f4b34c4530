//! Credentials: which azure_identity credential to use, and the default chain users expect.
//!
//! azure_identity 1.0 has no `DefaultAzureCredential`, so [`credential`] builds one: client secret from the
//! environment → workload identity federation (`AZURE_FEDERATED_TOKEN_FILE`, as GitHub Actions OIDC and AKS set up)
//! → managed identity (bounded by a short probe timeout, so a laptop without IMDS does not hang) → Azure CLI →
//! Azure Developer CLI. The environment is read through an injected lookup, and the HTTP transport and process
//! executor of the identity credentials can be injected, so tests control all of it. When every source fails the
//! error lists what was tried and why each failed, with a hint. This module never logs or formats a token or a
//! secret: `Debug` of everything here is redacted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, HttpClient, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, Executor, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

use crate::clock::Clock;

/// Which credential to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// The chain described in the module doc.
    Default,
    /// Azure CLI (`az login`).
    Cli,
    /// Azure Developer CLI (`azd auth login`).
    Azd,
    /// Managed identity (IMDS, App Service).
    ManagedIdentity,
    /// Workload identity federation from a token file.
    WorkloadIdentity,
    /// Service principal with a client secret.
    ClientSecret,
}

/// Looks up an environment variable.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Inputs of [`credential`].
#[derive(Clone)]
pub struct AuthOptions {
    /// Environment lookup (the process environment in production, a map in tests).
    pub env: EnvLookup,
    /// Tenant id (overrides `AZURE_TENANT_ID`).
    pub tenant_id: Option<String>,
    /// Client id of a service principal or user-assigned identity (overrides `AZURE_CLIENT_ID`).
    pub client_id: Option<String>,
    /// Transport for token requests (Entra ID, IMDS); `None` uses the default https client.
    pub identity_transport: Option<Arc<dyn HttpClient>>,
    /// Process runner for the CLI credentials; `None` runs the real `az`/`azd`.
    pub executor: Option<Arc<dyn Executor>>,
    /// How long a managed-identity attempt may take inside the default chain.
    pub managed_identity_timeout: Duration,
    /// How long any one source of the chain may take.
    pub source_timeout: Duration,
    /// Clock for the timeouts.
    pub clock: Arc<dyn Clock>,
}

impl AuthOptions {
    /// Options reading the process environment.
    pub fn from_process_env(clock: Arc<dyn Clock>) -> Self {
        Self {
            env: Arc::new(|k| std::env::var(k).ok().filter(|v| !v.is_empty())),
            tenant_id: None,
            client_id: None,
            identity_transport: None,
            executor: None,
            managed_identity_timeout: Duration::from_secs(3),
            source_timeout: Duration::from_secs(60),
            clock,
        }
    }
}

impl std::fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthOptions")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A credential could not be built or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum AuthError {
    /// The chosen credential is missing configuration.
    #[error("{kind:?} credential is not configured: {reason}")]
    #[diagnostic(code(asrform::auth::not_configured), help("{hint}"))]
    NotConfigured {
        /// Which credential.
        kind: AuthKind,
        /// What is missing.
        reason: String,
        /// How to fix it.
        hint: String,
    },
    /// Every source of the default chain failed.
    #[error("no Azure credential worked; tried:\n{}", attempts.iter().map(|(n, w)| format!("  - {n}: {w}")).collect::<Vec<_>>().join("\n"))]
    #[diagnostic(
        code(asrform::auth::chain_failed),
        help(
            "run `az login` (or `azd auth login`), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or AZURE_FEDERATED_TOKEN_FILE for workload identity"
        )
    )]
    ChainFailed {
        /// Source name and why it failed, in order.
        attempts: Vec<(String, String)>,
    },
}

/// A fixed token, for the simulator (which accepts any bearer token). `Debug` never shows it.
pub struct StaticCredential(Secret);

impl StaticCredential {
    /// A credential that always returns `token`.
    pub fn new(token: impl Into<String>) -> Arc<Self> {
        Arc::new(Self(Secret::new(token.into())))
    }
}

impl std::fmt::Debug for StaticCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticCredential(<redacted>)")
    }
}

#[async_trait::async_trait]
impl TokenCredential for StaticCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _o: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0.secret().to_string(),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}

fn client_options(opts: &AuthOptions) -> ClientOptions {
    ClientOptions {
        transport: opts.identity_transport.clone().map(Transport::new),
        ..Default::default()
    }
}

fn env(opts: &AuthOptions, key: &str) -> Option<String> {
    (opts.env)(key).filter(|v| !v.trim().is_empty())
}

fn build(kind: AuthKind, opts: &AuthOptions) -> Result<Arc<dyn TokenCredential>, AuthError> {
    let not_configured = |reason: String, hint: &str| AuthError::NotConfigured {
        kind,
        reason,
        hint: hint.to_string(),
    };
    let tenant = opts
        .tenant_id
        .clone()
        .or_else(|| env(opts, "AZURE_TENANT_ID"));
    let client = opts
        .client_id
        .clone()
        .or_else(|| env(opts, "AZURE_CLIENT_ID"));
    // azure_identity's messages never include secrets; keep only the first line.
    let why = |e: azure_core::Error| e.to_string().lines().next().unwrap_or_default().to_string();
    match kind {
        AuthKind::ClientSecret => {
            let hint = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET";
            let tenant =
                tenant.ok_or_else(|| not_configured("AZURE_TENANT_ID is not set".into(), hint))?;
            let client =
                client.ok_or_else(|| not_configured("AZURE_CLIENT_ID is not set".into(), hint))?;
            let secret = env(opts, "AZURE_CLIENT_SECRET")
                .ok_or_else(|| not_configured("AZURE_CLIENT_SECRET is not set".into(), hint))?;
            let o = ClientSecretCredentialOptions {
                client_options: client_options(opts),
            };
            Ok(
                ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(o))
                    .map_err(|e| not_configured(why(e), hint))?,
            )
        }
        AuthKind::WorkloadIdentity => {
            let hint = "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (e.g. azure/login with OIDC)";
            let file = env(opts, "AZURE_FEDERATED_TOKEN_FILE").ok_or_else(|| {
                not_configured("AZURE_FEDERATED_TOKEN_FILE is not set".into(), hint)
            })?;
            let tenant =
                tenant.ok_or_else(|| not_configured("AZURE_TENANT_ID is not set".into(), hint))?;
            let client =
                client.ok_or_else(|| not_configured("AZURE_CLIENT_ID is not set".into(), hint))?;
            let o = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(opts),
                },
                client_id: Some(client),
                tenant_id: Some(tenant),
                token_file_path: Some(file.into()),
            };
            Ok(WorkloadIdentityCredential::new(Some(o))
                .map_err(|e| not_configured(why(e), hint))?)
        }
        AuthKind::ManagedIdentity => {
            let o = ManagedIdentityCredentialOptions {
                user_assigned_id: opts.client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options(opts),
            };
            Ok(ManagedIdentityCredential::new(Some(o)).map_err(|e| {
                not_configured(
                    why(e),
                    "run on an Azure host with a managed identity assigned",
                )
            })?)
        }
        AuthKind::Cli => {
            let o = AzureCliCredentialOptions {
                tenant_id: opts.tenant_id.clone(),
                executor: opts.executor.clone(),
                ..Default::default()
            };
            Ok(AzureCliCredential::new(Some(o))
                .map_err(|e| not_configured(why(e), "run `az login`"))?)
        }
        AuthKind::Azd => {
            let o = AzureDeveloperCliCredentialOptions {
                tenant_id: opts.tenant_id.clone(),
                executor: opts.executor.clone(),
            };
            Ok(AzureDeveloperCliCredential::new(Some(o))
                .map_err(|e| not_configured(why(e), "run `azd auth login`"))?)
        }
        AuthKind::Default => Ok(Arc::new(ChainCredential::new(opts))),
    }
}

/// Builds the credential of `kind`.
pub fn credential(
    kind: AuthKind,
    opts: &AuthOptions,
) -> Result<Arc<dyn TokenCredential>, AuthError> {
    build(kind, opts)
}

const CHAIN: [(AuthKind, &str); 5] = [
    (AuthKind::ClientSecret, "client secret from environment"),
    (AuthKind::WorkloadIdentity, "workload identity"),
    (AuthKind::ManagedIdentity, "managed identity"),
    (AuthKind::Cli, "Azure CLI"),
    (AuthKind::Azd, "Azure Developer CLI"),
];

/// One source of the chain: its name, kind, and the credential or why it could not be built.
type Source = (
    &'static str,
    AuthKind,
    Result<Arc<dyn TokenCredential>, String>,
);

/// The default chain. Remembers the first source that worked and uses only it afterwards.
pub struct ChainCredential {
    sources: Vec<Source>,
    chosen: Mutex<Option<usize>>,
    mi_timeout: Duration,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ChainCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainCredential")
            .field(
                "sources",
                &self.sources.iter().map(|s| s.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ChainCredential {
    /// Builds every source now (construction reads only the environment); failures are kept as reasons.
    pub fn new(opts: &AuthOptions) -> Self {
        let sources = CHAIN
            .iter()
            .map(|(kind, name)| {
                let built = build(*kind, opts).map_err(|e| match e {
                    AuthError::NotConfigured { reason, .. } => reason,
                    other => other.to_string(),
                });
                (*name, *kind, built)
            })
            .collect();
        Self {
            sources,
            chosen: Mutex::new(None),
            mi_timeout: opts.managed_identity_timeout,
            timeout: opts.source_timeout,
            clock: opts.clock.clone(),
        }
    }

    /// Tries each source in order; returns the first token or the reasons of all failures.
    pub async fn try_all(&self, scopes: &[&str]) -> Result<AccessToken, AuthError> {
        let chosen = *self.chosen.lock().expect("chain state");
        let order: Vec<usize> = match chosen {
            Some(i) => vec![i],
            None => (0..self.sources.len()).collect(),
        };
        let mut attempts = Vec::new();
        for i in order {
            let (name, kind, built) = &self.sources[i];
            let cred = match built {
                Ok(c) => c,
                Err(reason) => {
                    attempts.push((name.to_string(), reason.clone()));
                    continue;
                }
            };
            let limit = if *kind == AuthKind::ManagedIdentity {
                self.mi_timeout
            } else {
                self.timeout
            };
            let result = tokio::select! {
                r = cred.get_token(scopes, None) => r.map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string()),
                _ = self.clock.sleep(limit) => Err(format!("no answer within {limit:?}")),
            };
            match result {
                Ok(t) => {
                    *self.chosen.lock().expect("chain state") = Some(i);
                    return Ok(t);
                }
                Err(why) => attempts.push((name.to_string(), why)),
            }
        }
        Err(AuthError::ChainFailed { attempts })
    }
}

#[async_trait::async_trait]
impl TokenCredential for ChainCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _o: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.try_all(scopes)
            .await
            .map_err(|e| azure_core::Error::with_message(ErrorKind::Credential, e.to_string()))
    }
}
