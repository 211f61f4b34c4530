//! The loopback server: the simulator over HTTP on 127.0.0.1 (axum), plus the operator API under `/_sim/`.
//!
//! Owns binding, the axum ↔ [`SimRequest`] conversion, closing the connection for injected drops, and the
//! operator endpoints. The operator API is the simulator's own control surface for tests and operators, **not
//! ARM**:
//!
//! | method | path | effect |
//! | --- | --- | --- |
//! | `POST` | `/_sim/advance` | body `{"seconds": N}`: move the clock forward |
//! | `GET` | `/_sim/status` | clock, counts, regions down, items by state |
//! | `GET` | `/_sim/log` | the request log (JSON array) |
//! | `POST` / `DELETE` | `/_sim/faults` | set fault rules (body = fault file) / clear them |
//! | `POST` / `DELETE` | `/_sim/outage/{region}` | take a region down / bring it back |
//! | `PATCH` | `/_sim/config` | merge simulator settings (`pageSize`, `retryAfterSecs`, `throttling`, `graph` (ARG quota, latency, lag), …) |
//!
//! It must not implement ARM behaviour itself: everything else goes to [`Simulator::handle`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{FaultSet, SimError, SimRequest, SimResponse, Simulator};

/// A running server: its address and a way to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    /// The bound address (port 0 resolved).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
    /// Waits until the server ends (it runs until stopped).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Serves `sim` on `addr` (use `127.0.0.1:0` to pick a free port); returns once bound.
pub async fn serve(sim: Simulator, addr: SocketAddr) -> Result<ServerHandle, SimError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(SimError::Server)?;
    let addr = listener.local_addr().map_err(SimError::Server)?;
    let app = axum::Router::new().fallback(entry).with_state(sim);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task,
    })
}

async fn entry(State(sim): State<Simulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let url = url::Url::parse(&format!("http://{host}{pq}"))
        .unwrap_or_else(|_| url::Url::parse("http://127.0.0.1/").expect("static"));
    let sreq = SimRequest {
        method: parts.method.as_str().to_ascii_uppercase(),
        url,
        headers: header_pairs(&parts.headers),
        body: bytes,
    };
    let rsp = if sreq.url.path().starts_with("/_sim/") || sreq.url.path() == "/_sim" {
        operator(&sim, &sreq)
    } else {
        sim.handle(sreq).await
    };
    to_axum(rsp)
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect()
}

fn to_axum(rsp: SimResponse) -> Response {
    if rsp.drop_connection {
        // Headers go out, then the body stream errors: hyper aborts the connection, the client sees a reset.
        let stream = futures_like_error();
        let mut r = Response::new(Body::from_stream(stream));
        r.headers_mut()
            .insert("content-length", HeaderValue::from_static("100"));
        return r;
    }
    let mut r = Response::new(Body::from(rsp.body));
    *r.status_mut() = StatusCode::from_u16(rsp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in rsp.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn futures_like_error()
-> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::once(async {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected drop",
        ))
    })
}

fn json_resp(status: u16, v: Value) -> SimResponse {
    SimResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: serde_json::to_vec(&v).unwrap_or_default(),
        drop_connection: false,
    }
}

/// The operator API (also reachable in-process through [`Simulator::operator`]).
pub fn operator(sim: &Simulator, req: &SimRequest) -> SimResponse {
    let path = req.url.path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path
        .trim_start_matches("/_sim")
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let err = |status: u16, m: &str| {
        json_resp(
            status,
            json!({"error": {"code": "SimOperatorError", "message": m}}),
        )
    };
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["advance"]) => {
            // Bounded so the timeline cannot overflow (100 years is far beyond any retention).
            let Some(secs) = body["seconds"]
                .as_f64()
                .filter(|s| (0.0..=3.2e9).contains(s))
            else {
                return err(400, "body must be {\"seconds\": N} with 0 <= N <= 3.2e9");
            };
            sim.advance(Duration::from_secs_f64(secs));
            json_resp(200, json!({"now": super::world::ts(sim.now())}))
        }
        ("GET", ["status"]) => json_resp(200, sim.status()),
        ("GET", ["log"]) => json_resp(
            200,
            serde_json::to_value(sim.request_log()).unwrap_or(Value::Null),
        ),
        ("POST", ["faults"]) => match FaultSet::parse(&String::from_utf8_lossy(&req.body)) {
            Ok(f) => {
                sim.set_faults(f);
                json_resp(200, json!({"ok": true}))
            }
            Err(e) => err(400, &e),
        },
        ("DELETE", ["faults"]) => {
            sim.set_faults(FaultSet::default());
            json_resp(200, json!({"ok": true}))
        }
        ("POST", ["outage", region]) | ("DELETE", ["outage", region]) => {
            let Some(r) = crate::region::canonical(&region.to_ascii_lowercase()) else {
                return err(400, &format!("unknown region '{region}'"));
            };
            sim.set_outage(r, req.method == "POST");
            json_resp(200, json!({"region": r, "down": req.method == "POST"}))
        }
        ("PATCH", ["config"]) => {
            let mut w = sim.world();
            let mut cfg = serde_json::to_value(&w.config).unwrap_or(Value::Null);
            super::world::merge(&mut cfg, &body);
            match serde_json::from_value(cfg) {
                Ok(c) => {
                    w.config = c;
                    json_resp(200, serde_json::to_value(&w.config).unwrap_or(Value::Null))
                }
                Err(e) => err(400, &format!("invalid config: {e}")),
            }
        }
        _ => err(404, &format!("no operator endpoint {} {path}", req.method)),
    }
}
