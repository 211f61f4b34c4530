//! `asrform drill recovery_plan.NAME`: a test failover into the isolated network with checks, ALWAYS followed by
//! cleanup (also on Ctrl-C), and an evidence report (JSON + Markdown) under `<dir>/.asrform/drills/`.
//!
//! Thin: resolves the target, the test network and the expectations from the configuration, runs `dr::drill`, and
//! prints where the report went. The engine owns the sequence and the cancel-safe cleanup; this module only makes
//! sure the first Ctrl-C drops the drill and then waits for the cleanup instead of exiting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::session::Session;
use super::ui::Ui;
use crate::addr::{ResourceAddr, ResourceKind};
use crate::config::model::ResourceBody;
use crate::dr::drill::{DrillOptions, Expectation, cleanup_pending, drill};
use crate::dr::{PointPolicy, Target};
use crate::provider::ArmId;

/// Flags of `drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The recovery plan to drill: `recovery_plan.NAME`.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Directory holding the `*.asr.hcl` files.
    #[arg(long, short = 'd', default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variable file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Test network: a `virtual_network.NAME` address or a VNet ARM id (default: the VMs' `test_network`).
    #[arg(long, value_name = "ADDR|ID")]
    pub network: Option<String>,
    /// Recovery point policy (default latest-processed).
    #[arg(long, value_name = "POLICY", default_value = "latest-processed", value_parser = parse_policy)]
    pub recovery_point: PointPolicy,
    /// Print the report JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

fn parse_policy(s: &str) -> Result<PointPolicy, String> {
    s.parse::<PointPolicy>().map_err(|e| e.to_string())
}

fn id_of(session: &Session, a: &ResourceAddr) -> Option<String> {
    session.config().get(a).and_then(|r| r.id.clone())
}

/// Resolves once Ctrl-C has fired `stop`.
async fn fired(stop: &crate::apply::executor::Stop) {
    stop.wait().await;
}

/// Runs `drill`.
pub async fn cmd_drill(ui: &mut Ui, args: &DrillArgs) -> Result<ExitCode, CliError> {
    let session = Session::open(&ConfigArgs {
        dir: args.dir.clone(),
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
    })?;
    let result = run(ui, &session, args).await;
    let closed = session.close();
    let code = result?;
    closed?;
    Ok(code)
}

async fn run(ui: &mut Ui, session: &Session, args: &DrillArgs) -> Result<ExitCode, CliError> {
    let addr: ResourceAddr = args
        .target
        .parse()
        .map_err(|e| CliError::usage(format!("{}: {e}", args.target)))?;
    if addr.kind != ResourceKind::RecoveryPlan {
        return Err(CliError::usage(format!(
            "{addr}: drill takes a recovery_plan address (its groups run in order)"
        )));
    }
    let Some(ResourceBody::RecoveryPlan(plan)) = session.config().get(&addr).map(|r| &r.body)
    else {
        return Err(CliError::usage(format!(
            "{addr} is not declared in the configuration"
        )));
    };
    let plan_id =
        id_of(session, &addr).ok_or_else(|| CliError::usage(format!("{addr} has no id")))?;
    let mut network = args.network.clone().map(|n| {
        n.parse::<ResourceAddr>()
            .ok()
            .and_then(|a| id_of(session, &a))
            .unwrap_or(n)
    });
    let mut expect = std::collections::BTreeMap::new();
    for a in plan.groups.iter().flat_map(|g| &g.vms) {
        let Some(ResourceBody::ProtectedVm(vm)) = session.config().get(&a.value).map(|r| &r.body)
        else {
            continue;
        };
        if network.is_none() {
            network = vm
                .test_network
                .as_ref()
                .and_then(|t| id_of(session, &t.value));
        }
        let nic = vm.nics.first();
        let name = vm
            .source_vm
            .value
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        expect.insert(
            name,
            Expectation {
                subnet: Some(
                    nic.and_then(|n| n.test_subnet.as_ref())
                        .map_or_else(|| vm.target_subnet.value.clone(), |s| s.value.clone()),
                ),
                ip: nic
                    .and_then(|n| n.test_static_ip.as_ref())
                    .map(|ip| ip.value.to_string()),
            },
        );
    }
    let network = network.ok_or_else(|| {
        CliError::usage(format!(
            "{addr}: no test network: pass --network or set test_network on its VMs"
        ))
    })?;
    let parse = |s: &str| ArmId::parse(s).map_err(|e| CliError::usage(format!("{s}: {e}")));
    let target = Target::RecoveryPlan {
        id: parse(&plan_id)?,
    };
    let report_dir = args.dir.join(".asrform").join("drills");
    let opts = DrillOptions {
        network: parse(&network)?,
        recovery_point: args.recovery_point.clone(),
        expect,
        config_hash: session.config().fingerprint.clone(),
        report_dir: Some(report_dir.clone()),
    };
    let stop = crate::apply::executor::Stop::new();
    let (hooks, signals) =
        super::apply::progress_and_signals(ui, args.json, session.client.clock().clone(), &stop);
    let hooks: Arc<dyn crate::apply::hooks::Hooks> = hooks;
    // The first Ctrl-C fires `stop`: drop the drill and finish its cleanup here rather than exiting with a
    // test-failover VM left behind.
    let outcome = tokio::select! {
        r = drill(&session.client, &target, &opts, hooks.as_ref()) => Some(r),
        () = fired(&stop) => None,
    };
    signals.abort();
    let Some(result) = outcome else {
        writeln!(
            ui.err(),
            "Drill interrupted; cleaning up its test failover…"
        )?;
        // Dropping the drill already started a cleanup in the background (the engine's guard); while its jobs
        // run the items are busy, so retry until nothing is left to clean up (or a real error).
        let mut tries = 0u32;
        loop {
            match cleanup_pending(&session.client, &target, Some(&report_dir), hooks.as_ref()).await
            {
                Ok(_) => break,
                Err(e) if tries < 900 && e.to_string().contains("busy") => {
                    tries += 1;
                    // ASR's own polling pace, on the session's clock (simulated time on the simulator).
                    session
                        .client
                        .clock()
                        .sleep(std::time::Duration::from_secs(30))
                        .await;
                }
                Err(e) => return Err(CliError::user(e)),
            }
        }
        writeln!(ui.err(), "Cleanup done: no test-failover VM is left.")?;
        return Err(CliError::silent(CliErrorKind::User));
    };
    let report = result.map_err(CliError::user)?;
    if args.json {
        writeln!(
            ui.out(),
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )?;
    } else {
        writeln!(
            ui.out(),
            "Drill {}: RTO {}s, worst RPO {}, cleanup {}.",
            if report.succeeded {
                "succeeded"
            } else {
                "FAILED"
            },
            report.rto_secs,
            report
                .max_rpo_secs
                .map_or("n/a".to_string(), |s| format!("{s}s")),
            if report.cleanup_ok { "done" } else { "FAILED" }
        )?;
        for e in &report.errors {
            writeln!(ui.err(), "  {e}")?;
        }
        writeln!(
            ui.out(),
            "Report (JSON and Markdown) written under {}",
            report_dir.display()
        )?;
    }
    Ok(if report.succeeded && report.cleanup_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
