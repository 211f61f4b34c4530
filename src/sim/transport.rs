//! The in-process transport: an `azure_core` [`HttpClient`] that hands each request to the simulator without a
//! socket, so the real ARM client code runs against the simulated Azure in tests and in the default CLI mode.
//!
//! Owns the conversion between `azure_core` requests/responses and [`SimRequest`]/[`SimResponse`](super::SimResponse) only. A dropped
//! connection (fault injection) becomes an `Io` error, which azure_core's retry policy treats like a reset socket.

use async_trait::async_trait;
use azure_core::http::headers::Headers;
use azure_core::http::request::Body;
use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode};

use super::{SimRequest, Simulator};

/// `azure_core` transport backed by a [`Simulator`].
#[derive(Clone, Debug)]
pub struct InProcessTransport {
    sim: Simulator,
}

impl InProcessTransport {
    /// A transport to `sim`.
    pub fn new(sim: Simulator) -> Self {
        Self { sim }
    }
    /// The simulator behind it.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

#[async_trait]
impl HttpClient for InProcessTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let body = match request.body() {
            Body::Bytes(b) => b.to_vec(),
            Body::SeekableStream(_) => {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    "the simulator transport does not accept streamed request bodies",
                ));
            }
        };
        let req = SimRequest {
            method: request.method().to_string().to_ascii_uppercase(),
            url: request.url().clone(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string()))
                .collect(),
            body,
        };
        let rsp = self.sim.handle(req).await;
        if rsp.drop_connection {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Io,
                "connection reset by the simulator (injected fault)",
            ));
        }
        let mut headers = Headers::new();
        for (k, v) in rsp.headers {
            headers.insert(k.to_ascii_lowercase(), v);
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(rsp.status),
            headers,
            rsp.body,
        ))
    }
}
