//! Credentials: the default chain's failure report (with no network and nothing configured), and proof that no
//! token or client secret reaches the debug log.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::clock::Clock;
use asrform::provider::arm::auth::{self, AuthError, AuthKind, AuthOptions};
use asrform::provider::arm::{ArmClient, ArmClientOptions, Endpoint};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode};
use serde_json::json;

use crate::arm_fake::{Recorded, Reply, ScriptedArm, clock, vault};

/// An identity transport that answers nothing and records which hosts were asked.
#[derive(Debug, Default)]
struct NoNetwork {
    hosts: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl HttpClient for NoNetwork {
    async fn execute_request(&self, req: &Request) -> azure_core::Result<AsyncRawResponse> {
        self.hosts
            .lock()
            .unwrap()
            .push(req.url().host_str().unwrap_or_default().to_string());
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Connection,
            "no network in tests",
        ))
    }
}

/// A process runner with no `az` or `azd` installed.
#[derive(Debug)]
struct NoTools;

#[async_trait::async_trait]
impl azure_identity::Executor for NoTools {
    async fn run(&self, program: &OsStr, _args: &[&OsStr]) -> io::Result<Output> {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", program.to_string_lossy()),
        ))
    }
}

fn options(
    env: HashMap<&'static str, String>,
    transport: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
) -> AuthOptions {
    AuthOptions {
        env: Arc::new(move |k| env.get(k).cloned()),
        tenant_id: None,
        client_id: None,
        identity_transport: Some(transport),
        executor: Some(Arc::new(NoTools)),
        managed_identity_timeout: Duration::from_secs(3),
        source_timeout: Duration::from_secs(60),
        clock,
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_chain_reports_every_source_and_a_hint() {
    let c = clock();
    let net = Arc::new(NoNetwork::default());
    let opts = options(HashMap::new(), net.clone(), c.clone());
    let chain = auth::ChainCredential::new(&opts);
    let start = c.now();
    let err = chain
        .try_all(&["https://management.azure.com/.default"])
        .await
        .unwrap_err();
    let AuthError::ChainFailed { attempts } = &err else {
        panic!("{err:?}")
    };
    let names: Vec<&str> = attempts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "client secret from environment",
            "workload identity",
            "managed identity",
            "Azure CLI",
            "Azure Developer CLI"
        ]
    );
    assert!(attempts[0].1.contains("AZURE_TENANT_ID"), "{attempts:?}");
    assert!(
        attempts[1].1.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{attempts:?}"
    );
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("az login"), "{help}");
    assert!(
        c.now() - start <= time::Duration::seconds(5),
        "the chain must not take long when nothing is configured"
    );
    // Managed identity was probed only through the injected transport (no socket was opened).
    assert!(
        net.hosts
            .lock()
            .unwrap()
            .iter()
            .all(|h| h == "169.254.169.254"),
        "{:?}",
        net.hosts.lock().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn an_explicit_kind_says_what_is_missing() {
    let c = clock();
    let opts = options(
        HashMap::from([(
            "AZURE_TENANT_ID",
            "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
        )]),
        Arc::new(NoNetwork::default()),
        c,
    );
    let err = auth::credential(AuthKind::ClientSecret, &opts).unwrap_err();
    assert!(
        err.to_string().contains("AZURE_CLIENT_ID is not set"),
        "{err}"
    );
    let err = auth::credential(AuthKind::WorkloadIdentity, &opts).unwrap_err();
    assert!(
        err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
}

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const TOKEN: &str = "eyJ0eXAiOiJKV1Qi.SECRET-ACCESS-TOKEN-9f8e7d";
const CLIENT_SECRET: &str = "cs~SECRET-CLIENT-SECRET-1a2b3c";

/// Answers Entra ID's token endpoint with a known token.
#[derive(Debug)]
struct TokenEndpoint;

#[async_trait::async_trait]
impl HttpClient for TokenEndpoint {
    async fn execute_request(&self, req: &Request) -> azure_core::Result<AsyncRawResponse> {
        assert!(
            req.url().path().ends_with("/oauth2/v2.0/token"),
            "{}",
            req.url()
        );
        let body = json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": TOKEN});
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::Ok,
            azure_core::http::headers::Headers::new(),
            serde_json::to_vec(&body).unwrap(),
        ))
    }
}

#[test]
fn no_secret_reaches_the_debug_log() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (seen_auth, debug_texts) = rt.block_on(async {
        let c = clock();
        let env = HashMap::from([
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string()),
            ("AZURE_CLIENT_ID", "04b07795-8ddb-461a-bbee-02f9e1bf7b46".to_string()),
            ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ]);
        let opts = options(env, Arc::new(TokenEndpoint), c.clone());
        let cred = auth::credential(AuthKind::Default, &opts).unwrap();
        let arm = ScriptedArm::new(
            c.clone(),
            Box::new(|r: &Recorded, n| if n == 0 { Reply::Json(401, vec![], json!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})) } else { let _ = r; Reply::Json(200, vec![], json!({"value": []})) }),
        );
        let client = ArmClient::new(ArmClientOptions::new(Endpoint::InProcess(arm.clone()), cred.clone(), c.clone())).unwrap();
        let err = client.get_value(&vault()).await.unwrap_err();
        client.list_values(&format!("{}/replicationFabrics", vault()), &[]).await.unwrap();
        let texts = vec![format!("{err:?}"), format!("{err}"), format!("{cred:?}"), format!("{opts:?}"), format!("{client:?}")];
        (arm.requests()[1].authorization.clone(), texts)
    });
    assert_eq!(
        seen_auth.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the token from the chain was used"
    );
    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("ARM request"),
        "debug logging is on and captured:\n{log}"
    );
    assert!(log.contains("<redacted>"));
    for text in debug_texts.iter().chain(std::iter::once(&log)) {
        assert!(
            !text.contains("SECRET-ACCESS-TOKEN"),
            "token leaked:\n{text}"
        );
        assert!(
            !text.contains("SECRET-CLIENT-SECRET"),
            "client secret leaked:\n{text}"
        );
    }
}
