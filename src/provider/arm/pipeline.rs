//! The HTTP pipeline under the ARM client: endpoint choice, transport, bearer auth, user agent, request ids and
//! request logging, built on `azure_core::http::Pipeline`.
//!
//! This module owns how bytes reach ARM (https to a public or sovereign cloud, the in-process simulator, or a
//! simulator server on loopback with https ARM URLs rewritten in the transport) and what every request carries.
//! It deliberately turns azure_core's retry policy OFF: azure_core would re-send non-idempotent POSTs (ASR actions)
//! on 429/5xx and hide 429s from our throttle, so all retrying happens one layer up in `client.rs`, which knows
//! the method, the throttle scope and the clock. It must not retry, wait, parse bodies, or log secrets: the
//! logging policy writes method, URL, status, duration and request id, and never a header value other than the
//! request id (the Authorization header is shown as `<redacted>`).

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, HttpClient, Pipeline, PipelineSendOptions,
    RawResponse, Request, RetryOptions, Transport, Url,
};

use crate::provider::ProviderError;

/// Where ARM is.
#[derive(Clone)]
pub enum Endpoint {
    /// `https://management.azure.com`.
    Public,
    /// Azure US Government: `https://management.usgovcloudapi.net`.
    UsGov,
    /// Azure China: `https://management.chinacloudapi.cn`.
    China,
    /// Another https ARM endpoint (Azure Stack, a proxy). Must be https unless it is a loopback address.
    Custom(Url),
    /// A simulator server on loopback (`http://127.0.0.1:PORT`). Requests keep https ARM URLs and the transport
    /// rewrites scheme, host and port, because azure_core's bearer policy refuses non-TLS URLs.
    Loopback(Url),
    /// An in-process transport (the simulator); no sockets.
    InProcess(Arc<dyn HttpClient>),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Public => f.write_str("Public"),
            Self::UsGov => f.write_str("UsGov"),
            Self::China => f.write_str("China"),
            Self::Custom(u) => write!(f, "Custom({u})"),
            Self::Loopback(u) => write!(f, "Loopback({u})"),
            Self::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

const PUBLIC: &str = "https://management.azure.com";

impl Endpoint {
    /// The base URL requests are built against.
    pub fn base_url(&self) -> Url {
        let s = match self {
            Self::Public | Self::Loopback(_) | Self::InProcess(_) => PUBLIC,
            Self::UsGov => "https://management.usgovcloudapi.net",
            Self::China => "https://management.chinacloudapi.cn",
            Self::Custom(u) => return u.clone(),
        };
        Url::parse(s).expect("static URL")
    }

    /// The OAuth scope of tokens for this endpoint.
    pub fn scope(&self) -> String {
        let base = self.base_url();
        format!(
            "{}://{}/.default",
            base.scheme(),
            base.host_str().unwrap_or_default()
        )
    }

    /// Rejects endpoints that would send a bearer token in clear text to a non-loopback host.
    pub fn validate(&self) -> Result<(), ProviderError> {
        match self {
            Self::Custom(u) if u.scheme() != "https" => Err(ProviderError::Config(format!(
                "endpoint {u} is not https; ARM endpoints must use https (use a loopback endpoint for a local simulator)"
            ))),
            Self::Loopback(u) => {
                if !is_loopback(u) {
                    return Err(ProviderError::Config(format!(
                        "endpoint {u} is not a loopback address; only 127.0.0.1, ::1 or localhost may be plain http"
                    )));
                }
                if u.scheme() != "http" && u.scheme() != "https" {
                    return Err(ProviderError::Config(format!(
                        "endpoint {u} must be http or https"
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Rewrites https ARM URLs to a loopback server (see [`Endpoint::Loopback`]).
#[derive(Debug)]
struct RewriteTransport {
    inner: Arc<dyn HttpClient>,
    base: Url,
}

#[async_trait::async_trait]
impl HttpClient for RewriteTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut r = request.clone();
        let u = r.url_mut();
        // The setters only fail for cannot-be-a-base URLs, which ARM URLs never are.
        let _ = u.set_scheme(self.base.scheme());
        let _ = u.set_host(self.base.host_str());
        let _ = u.set_port(self.base.port());
        self.inner.execute_request(&r).await
    }
}

/// Prefixes the User-Agent with `asrform/<version>` (azure_core's own policy writes `azsdk-rust-…` and its
/// application id may not contain `/`).
#[derive(Debug)]
struct UserAgentPrefix;

const USER_AGENT: HeaderName = HeaderName::from_static("user-agent");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");
const AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");

/// The User-Agent product token of this build.
pub fn user_agent() -> String {
    format!("asrform/{}", env!("CARGO_PKG_VERSION"))
}

#[async_trait::async_trait]
impl Policy for UserAgentPrefix {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let ua = match request.headers().get_optional_str(&USER_AGENT) {
            Some(rest) if !rest.starts_with("asrform/") => format!("{} {rest}", user_agent()),
            Some(rest) => rest.to_string(),
            None => user_agent(),
        };
        request.insert_header(USER_AGENT, ua);
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// Logs each attempt at debug level: method, URL, status, duration, client request id. Never header values.
#[derive(Debug)]
struct RequestLog;

#[async_trait::async_trait]
impl Policy for RequestLog {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let started = tokio::time::Instant::now();
        let method = request.method();
        let url = request.url().to_string();
        let request_id = request
            .headers()
            .get_optional_string(&CLIENT_REQUEST_ID)
            .unwrap_or_default();
        let authorization = if request.headers().get_optional_str(&AUTHORIZATION).is_some() {
            "<redacted>"
        } else {
            "none"
        };
        let result = next[0].send(ctx, request, &next[1..]).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(rsp) => tracing::debug!(
                target: "asrform::arm",
                %method, %url, status = u16::from(rsp.status()), elapsed_ms, request_id, authorization,
                "ARM request"
            ),
            Err(e) => tracing::debug!(
                target: "asrform::arm",
                %method, %url, error = %e.kind(), elapsed_ms, request_id, authorization,
                "ARM request failed"
            ),
        }
        result
    }
}

/// Transport and authentication of an [`ArmClient`](super::ArmClient).
pub struct ArmPipeline {
    pipeline: Pipeline,
    base: Url,
    /// The loopback server the transport rewrites to, whose own links (LRO status URLs) name it.
    loopback: Option<Url>,
}

impl std::fmt::Debug for ArmPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmPipeline")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ArmPipeline {
    /// Builds the pipeline for an endpoint and credential. Fails on a non-https, non-loopback endpoint.
    pub fn new(
        endpoint: &Endpoint,
        credential: Arc<dyn TokenCredential>,
    ) -> Result<Self, ProviderError> {
        endpoint.validate()?;
        let transport: Arc<dyn HttpClient> = match endpoint {
            Endpoint::InProcess(t) => t.clone(),
            Endpoint::Loopback(base) => Arc::new(RewriteTransport {
                inner: reqwest_client()?,
                base: base.clone(),
            }),
            _ => reqwest_client()?,
        };
        let options = ClientOptions {
            transport: Some(Transport::new(transport)),
            // Retries happen in client.rs (see module doc).
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential,
            [endpoint.scope()],
        ));
        let pipeline = Pipeline::new(
            Some("asrform"),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![Arc::new(UserAgentPrefix), auth, Arc::new(RequestLog)],
            None,
        );
        Ok(Self {
            pipeline,
            base: endpoint.base_url(),
            loopback: match endpoint {
                Endpoint::Loopback(u) => Some(u.clone()),
                _ => None,
            },
        })
    }

    /// A link a loopback server returned (it names itself, `http://127.0.0.1:PORT/...`) mapped back onto the
    /// base URL, so it passes the same-origin check and is rewritten again on the way out. Other links unchanged.
    pub fn unloop(&self, mut link: Url) -> Url {
        if let Some(lb) = &self.loopback
            && link.scheme() == lb.scheme()
            && link.host_str() == lb.host_str()
            && link.port_or_known_default() == lb.port_or_known_default()
        {
            let _ = link.set_scheme(self.base.scheme());
            let _ = link.set_host(self.base.host_str());
            let _ = link.set_port(self.base.port());
        }
        link
    }

    /// The base URL ARM paths are resolved against.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Sends one attempt and returns the raw response for any status. Errors are transport-level only.
    pub async fn send(&self, request: &mut Request) -> azure_core::Result<RawResponse> {
        request.insert_header(CLIENT_REQUEST_ID, new_request_id());
        self.pipeline
            .send(
                &Context::new(),
                request,
                Some(PipelineSendOptions {
                    skip_checks: true,
                    ..Default::default()
                }),
            )
            .await
    }
}

fn reqwest_client() -> Result<Arc<dyn HttpClient>, ProviderError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(20))
        .read_timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
    Ok(Arc::new(client))
}

/// A fresh random request id (UUID v4 format), so each attempt can be found in ARM's logs.
fn new_request_id() -> String {
    azure_core::Uuid::new_v4().to_string()
}
