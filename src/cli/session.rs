//! A command's session: the loaded configuration and graph, the `ArmClient` its provider block asks for, and the
//! state store its backend block asks for.
//!
//! `provider "simulator"` opens (or initialises from the provider's `estate` file on first use) the simulator
//! store under `<config dir>/.asrform/sim`, runs an in-process simulator on its persisted clock, and saves the world
//! back when the session ends ([`Session::close`], also after an error). `provider "azure"` builds the credential
//! chain per `auth` and the endpoint per `cloud`/`endpoint`. `provider "simulator" { endpoint = … }` talks to an
//! `asrform sim serve` in another process over loopback instead (the server owns the world and its store). State is the local file beside the configuration (or
//! what `backend` names, once the progress developer's `cli/backend.rs` lands). It prints nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::ConfigArgs;
use super::error::CliError;
use crate::clock::{Clock, ScaledClock, SystemClock};
use crate::config::{self, Backend, Config, Diagnostics, Loaded, Provider};
use crate::graph::{self, ResourceGraph};
use crate::provider::arm::auth::{AuthKind, AuthOptions, StaticCredential, credential};
use crate::provider::arm::{ArmClient, ArmClientOptions, Endpoint};
use crate::sim::{InProcessTransport, SimClock, SimConfig, SimStore, Simulator};
use crate::state::StateStore;
use crate::state::local::LocalStore;

/// The simulator's timeline as a [`Clock`], so the client's waits and the simulator's time are one.
#[derive(Debug)]
pub struct SimTimeline(pub Arc<SimClock>);

#[async_trait::async_trait]
impl Clock for SimTimeline {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
    async fn sleep(&self, d: Duration) {
        self.0.sleep(d).await
    }
}

/// The options of a client talking to `sim` in process, on the simulator's clock (tests and benches adjust them).
pub fn sim_client_options(sim: &Simulator) -> ArmClientOptions {
    let mut o = ArmClientOptions::new(
        Endpoint::InProcess(Arc::new(InProcessTransport::new(sim.clone()))),
        StaticCredential::new("simulator"),
        Arc::new(SimTimeline(sim.clock().clone())),
    );
    // ASR's own pace for its operations (asr-api.md: `Retry-After: 10`), for answers that carry none.
    o.lro.default_delay = Duration::from_secs(10);
    o
}

/// An `ArmClient` talking to `sim` in process, on the simulator's clock.
pub fn sim_client(sim: &Simulator) -> ArmClient {
    ArmClient::new(sim_client_options(sim)).expect("an in-process client always builds")
}

struct SimSession {
    store: SimStore,
    sim: Simulator,
    speed: f64,
}

/// Everything a plan/apply/destroy command works with.
pub struct Session {
    /// The configuration directory.
    pub dir: PathBuf,
    /// The configuration and its warnings.
    pub loaded: Loaded,
    /// Its graph.
    pub graph: ResourceGraph,
    /// The ARM client.
    pub client: ArmClient,
    /// The state store.
    pub store: Arc<dyn StateStore>,
    sim: Option<SimSession>,
}

fn diags(d: Diagnostics) -> CliError {
    CliError::user(d)
}

/// Loads and graphs the configuration of `args`.
pub fn load(args: &ConfigArgs) -> Result<(Loaded, ResourceGraph), CliError> {
    let opts = args.load_options(std::env::vars());
    let loaded = config::load(&args.dir, &opts).map_err(diags)?;
    let graph = graph::build(&loaded.config).map_err(diags)?;
    Ok((loaded, graph))
}

/// The state store the configuration's backend names.
pub fn state_store(
    dir: &Path,
    config: &Config,
    credential: Option<Arc<dyn azure_core::credentials::TokenCredential>>,
) -> Result<Arc<dyn StateStore>, CliError> {
    match &config.backend.value {
        Backend::Local { path } => {
            let p = if path.is_absolute() {
                path.clone()
            } else {
                dir.join(path)
            };
            Ok(Arc::new(LocalStore::new(p)))
        }
        // Azure Blob: a SAS from the environment variable the block names, or the provider's Entra credential.
        backend @ Backend::AzureRm { .. } => super::backend::open_store(dir, backend, credential)
            .map(Arc::from)
            .map_err(CliError::user),
    }
}

impl Session {
    /// Opens the session for `args`.
    pub fn open(args: &ConfigArgs) -> Result<Self, CliError> {
        let (loaded, graph) = load(args)?;
        let dir = args.dir.clone();
        // The Azure provider's credential also authenticates an `azurerm` state backend.
        let mut backend_credential = None;
        let (client, sim) = match &loaded.config.provider.value {
            Provider::Simulator {
                endpoint: Some(endpoint),
                clock_speed,
                ..
            } => {
                let url = url::Url::parse(endpoint).map_err(|err| {
                    CliError::usage(format!(
                        "simulator endpoint `{endpoint}` is not a URL: {err}"
                    ))
                })?;
                // The server keeps the world and its clock; our waits run on a clock of the same speed so a
                // Retry-After of simulated seconds is not waited for in wall seconds.
                let clock: Arc<dyn Clock> =
                    Arc::new(ScaledClock::new(OffsetDateTime::now_utc(), *clock_speed));
                let mut o = ArmClientOptions::new(
                    Endpoint::Loopback(url),
                    StaticCredential::new("simulator"),
                    clock,
                );
                o.lro.default_delay = Duration::from_secs(10);
                (ArmClient::new(o).map_err(CliError::user)?, None)
            }
            Provider::Simulator {
                estate,
                clock_speed,
                endpoint: None,
                ..
            } => {
                let sim_store =
                    SimStore::open(&dir, Duration::from_secs(30)).map_err(CliError::user)?;
                let wall = OffsetDateTime::now_utc();
                let (sim, speed) = if SimStore::exists(&dir) {
                    sim_store.simulator(wall, None).map_err(CliError::user)?
                } else {
                    // The loader already resolved the estate path against the configuration directory.
                    let e = crate::estate::load(&estate.value).map_err(CliError::user)?;
                    let clock = Arc::new(ScaledClock::new(wall, *clock_speed));
                    let sim = Simulator::from_estate(&e, clock, SimConfig::default());
                    sim_store
                        .save_simulator(&sim, wall, *clock_speed)
                        .map_err(CliError::user)?;
                    (sim, *clock_speed)
                };
                (
                    sim_client(&sim),
                    Some(SimSession {
                        store: sim_store,
                        sim,
                        speed,
                    }),
                )
            }
            Provider::Azure {
                tenant_id,
                auth,
                client_id,
                cloud,
                endpoint,
                ..
            } => {
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                let mut ao = AuthOptions::from_process_env(clock.clone());
                ao.tenant_id = tenant_id.clone();
                ao.client_id = client_id.clone();
                let kind = match auth {
                    config::AzureAuth::Default => AuthKind::Default,
                    config::AzureAuth::Cli => AuthKind::Cli,
                    config::AzureAuth::Azd => AuthKind::Azd,
                    config::AzureAuth::ManagedIdentity => AuthKind::ManagedIdentity,
                    config::AzureAuth::WorkloadIdentity => AuthKind::WorkloadIdentity,
                    config::AzureAuth::ClientSecret => AuthKind::ClientSecret,
                };
                let cred = credential(kind, &ao).map_err(CliError::user)?;
                backend_credential = Some(cred.clone());
                let ep = match (endpoint, cloud) {
                    (Some(e), _) => {
                        let url = url::Url::parse(e).map_err(|err| {
                            CliError::usage(format!("provider endpoint `{e}` is not a URL: {err}"))
                        })?;
                        Endpoint::Custom(url)
                    }
                    (None, config::AzureCloud::Public) => Endpoint::Public,
                    (None, config::AzureCloud::UsGovernment) => Endpoint::UsGov,
                    (None, config::AzureCloud::China) => Endpoint::China,
                };
                let client = ArmClient::new(ArmClientOptions::new(ep, cred, clock))
                    .map_err(CliError::user)?;
                (client, None)
            }
        };
        let store = state_store(&dir, &loaded.config, backend_credential)?;
        Ok(Self {
            dir,
            loaded,
            graph,
            client,
            store,
            sim,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.loaded.config
    }

    /// The live clock's time (the simulator's for the simulator).
    pub fn now(&self) -> OffsetDateTime {
        self.client.clock().now()
    }

    /// Ends the session: saves the simulator's world (whatever happened in the command).
    pub fn close(self) -> Result<(), CliError> {
        if let Some(s) = self.sim {
            s.store
                .save_simulator(&s.sim, OffsetDateTime::now_utc(), s.speed)
                .map_err(CliError::user)?;
        }
        Ok(())
    }
}
