//! Test transports for the ARM client tests: a scripted in-process `HttpClient` that records every request with
//! its virtual send time, and a paging responder that serves ARM list pages. These drive the client logic only;
//! they are not the simulator.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::clock::{Clock, ScaledClock};
use asrform::provider::arm::auth::StaticCredential;
use asrform::provider::arm::{ArmClient, ArmClientOptions, Endpoint};
use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode, Url};
use serde_json::Value;
use time::OffsetDateTime;

/// One request as the transport saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: Url,
    pub at: OffsetDateTime,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn path(&self) -> String {
        self.url.path().to_string()
    }
    pub fn query(&self, key: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string())
    }
}

/// What the transport answers.
pub enum Reply {
    Json(u16, Vec<(&'static str, String)>, Value),
    Empty(u16, Vec<(&'static str, String)>),
    /// The connection drops: an I/O error, no response.
    Drop,
}

impl Reply {
    /// A 400 naming the request: the answer of a script to a request it does not expect.
    pub fn unexpected(r: &Recorded) -> Reply {
        Reply::Json(
            400,
            vec![],
            serde_json::json!({"error": {"code": "Unexpected", "message": format!("{} {}", r.method, r.url)}}),
        )
    }
}

pub type Handler = Box<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

pub struct ScriptedArm {
    pub clock: Arc<dyn Clock>,
    pub latency: Duration,
    handler: Handler,
    pub log: Mutex<Vec<Recorded>>,
}

impl std::fmt::Debug for ScriptedArm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptedArm")
    }
}

impl ScriptedArm {
    pub fn new(clock: Arc<dyn Clock>, handler: Handler) -> Arc<Self> {
        Arc::new(Self {
            clock,
            latency: Duration::ZERO,
            handler,
            log: Mutex::new(Vec::new()),
        })
    }
    pub fn with_latency(clock: Arc<dyn Clock>, latency: Duration, handler: Handler) -> Arc<Self> {
        Arc::new(Self {
            clock,
            latency,
            handler,
            log: Mutex::new(Vec::new()),
        })
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

fn header(req: &Request, name: &'static str) -> Option<String> {
    req.headers()
        .get_optional_string(&HeaderName::from_static(name))
}

#[async_trait::async_trait]
impl HttpClient for ScriptedArm {
    async fn execute_request(&self, req: &Request) -> azure_core::Result<AsyncRawResponse> {
        let body = match req.body() {
            azure_core::http::Body::Bytes(b) => b.to_vec(),
            _ => Vec::new(),
        };
        let rec = Recorded {
            method: req.method().to_string(),
            url: req.url().clone(),
            at: self.clock.now(),
            authorization: header(req, "authorization"),
            user_agent: header(req, "user-agent"),
            request_id: header(req, "x-ms-client-request-id"),
            body,
        };
        let n = {
            let mut log = self.log.lock().unwrap();
            log.push(rec.clone());
            log.len() - 1
        };
        if !self.latency.is_zero() {
            self.clock.sleep(self.latency).await;
        }
        let (status, headers, body) = match (self.handler)(&rec, n) {
            Reply::Json(s, h, v) => (s, h, serde_json::to_vec(&v).unwrap()),
            Reply::Empty(s, h) => (s, h, Vec::new()),
            Reply::Drop => {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    "connection reset by peer",
                ));
            }
        };
        let mut hs = Headers::new();
        for (k, v) in headers {
            hs.insert(k, v);
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(status),
            hs,
            body,
        ))
    }
}

pub fn clock() -> Arc<ScaledClock> {
    Arc::new(ScaledClock::new(
        time::macros::datetime!(2026-06-01 00:00 UTC),
        1.0,
    ))
}

pub fn client_with(
    transport: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    tweak: impl FnOnce(&mut ArmClientOptions),
) -> ArmClient {
    let mut o = ArmClientOptions::new(
        Endpoint::InProcess(transport),
        StaticCredential::new("test-token"),
        clock,
    );
    tweak(&mut o);
    ArmClient::new(o).unwrap()
}

pub const SUB: &str = "00000000-0000-0000-0000-00000000000a";

pub fn vault() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/dr/providers/Microsoft.RecoveryServices/vaults/v1")
}

/// A list responder: `count(path)` says how many items a collection has; pages hold `page_size` items and link
/// with `$skiptoken`. Items are minimal but realistic ARM objects.
pub fn page(
    rec: &Recorded,
    total: usize,
    page_size: usize,
    item: impl Fn(usize) -> Value,
) -> Value {
    let start: usize = rec
        .query("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = (start + page_size).min(total);
    let value: Vec<Value> = (start..end).map(item).collect();
    let mut body = serde_json::json!({ "value": value });
    if end < total {
        let mut next = rec.url.clone();
        next.query_pairs_mut()
            .clear()
            .append_pair("api-version", &rec.query("api-version").unwrap())
            .append_pair("$skiptoken", &end.to_string());
        body["nextLink"] = Value::String(next.to_string());
    }
    body
}
