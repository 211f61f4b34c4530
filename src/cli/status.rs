//! `asrform status [DIR] [--json]`: per protected VM, replication health, RPO, latest recovery point, active site
//! and last successful drill, as a table or JSON.
//!
//! It reads live state through the provider and drill reports from `DIR/.asrform/drills/`, and renders what
//! `dr::status` computes; it must not change anything (the simulator's world is read, never saved).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::ui::Ui;
use crate::clock::ScaledClock;
use crate::config::{self, Provider};
use crate::dr::{self, drill};
use crate::provider::arm::auth::StaticCredential;
use crate::provider::arm::{ArmClient, ArmClientOptions, Endpoint, snapshot};
use crate::provider::{ArmId, SnapshotRequest};
use crate::sim::{InProcessTransport, SimStore};

/// Flags of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the configuration is and how its variables are set.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Print the status as JSON (one object per VM).
    #[arg(long)]
    pub json: bool,
}

fn provider_err(e: impl miette::Diagnostic + Send + Sync + 'static) -> CliError {
    CliError {
        kind: CliErrorKind::Provider,
        report: miette::Report::new(e),
    }
}

/// Builds a client for the configuration's provider. Private stop-gap until the shared session
/// (`cli/session.rs`) lands: it handles the simulator; real Azure needs the session's credential wiring.
fn client_for(dir: &std::path::Path, provider: &Provider) -> Result<ArmClient, CliError> {
    match provider {
        Provider::Simulator { .. } => {
            if !SimStore::exists(dir) {
                return Err(CliError {
                    kind: CliErrorKind::User,
                    report: miette::miette!(
                        help = "run `asrform sim --dir DIR init --estate ESTATE` (or apply the configuration) first",
                        "no simulated Azure under {}",
                        SimStore::dir_for(dir).display()
                    ),
                });
            }
            let store = SimStore::open(dir, Duration::from_secs(10)).map_err(CliError::user)?;
            let (sim, speed) = store
                .simulator(time::OffsetDateTime::now_utc(), None)
                .map_err(CliError::user)?;
            // Status only reads; the client's clock just has to follow the simulated timeline.
            let clock = Arc::new(ScaledClock::new(sim.now(), speed));
            ArmClient::new(ArmClientOptions::new(
                Endpoint::InProcess(Arc::new(InProcessTransport::new(sim))),
                StaticCredential::new("simulator"),
                clock,
            ))
            .map_err(provider_err)
        }
        Provider::Azure { .. } => Err(CliError {
            kind: CliErrorKind::User,
            report: miette::miette!(
                help = "use the simulator provider for now; Azure support arrives with the shared provider session",
                "`asrform status` cannot reach real Azure yet"
            ),
        }),
    }
}

/// Runs `status`.
pub async fn cmd_status(ui: &mut Ui, args: &StatusArgs) -> Result<ExitCode, CliError> {
    let opts = args.config.load_options(std::env::vars());
    let loaded = config::load(&args.config.dir, &opts).map_err(CliError::user)?;
    let cfg = &loaded.config;
    let client = client_for(&args.config.dir, &cfg.provider.value)?;
    let vaults: Vec<ArmId> = cfg
        .of_kind(crate::addr::ResourceKind::Vault)
        .filter_map(|r| r.id.as_deref().and_then(|i| ArmId::parse(i).ok()))
        .collect();
    let snap = snapshot::read(
        &client,
        &SnapshotRequest {
            vaults,
            ..Default::default()
        },
    )
    .await
    .map_err(provider_err)?;
    let reports = drill::load_reports(&args.config.dir.join(".asrform").join("drills"));
    let rows = dr::status::status(&snap, None, &reports);
    let out = ui.out();
    if args.json {
        let text = serde_json::to_string_pretty(&rows).expect("status rows serialise");
        writeln!(out, "{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(out, "No protected VMs found in the configured vaults.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let fmt_t = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "-".into())
    };
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.vm.clone(),
                r.replication_health.clone().unwrap_or_else(|| "-".into()),
                r.rpo_seconds
                    .map(|s| dr::points::human(Duration::from_secs(s.max(0) as u64)))
                    .unwrap_or_else(|| "-".into()),
                fmt_t(r.latest_recovery_point),
                r.active_site.clone().unwrap_or_else(|| "-".into()),
                fmt_t(r.last_successful_drill),
            ]
        })
        .collect();
    let head = [
        "VM",
        "HEALTH",
        "RPO",
        "LATEST POINT",
        "ACTIVE SITE",
        "LAST DRILL",
    ];
    let mut width = head.map(str::len);
    for row in &table {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&head.map(String::from)))?;
    for row in &table {
        writeln!(out, "{}", line(row))?;
    }
    Ok(ExitCode::SUCCESS)
}
