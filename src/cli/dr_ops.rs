//! `asrform failover | test-failover | test-failover-cleanup | commit | reprotect | failback TARGET…`: DR
//! operations as reviewed plans.
//!
//! Each command builds a normal, bound plan for the operation (`plan::operation`), renders it like `plan`, and
//! either saves it (`--out FILE`, applied later with `asrform apply FILE`) or confirms and applies it through the
//! ordinary apply engine. Plans that fail over or fail back need `--allow-failover` or the operator typing the
//! number of VMs at the prompt. Thin: no DR logic lives here.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::plan::{
    PlanFormat, lock_err, parse_targets, parse_timeout, read_state, render_plan, title_of,
};
use super::session::Session;
use super::ui::Ui;
use crate::apply::{ApplyOptions, WaitFor};
use crate::dr::PointPolicy;
use crate::plan::operation::{DrCommand, OperationRequest};
use crate::plan::{Action, Plan, PlanMode, PlanOptions, saved};
use crate::state::{LockInfo, lock_with_timeout};

/// Flags shared by the DR commands.
#[derive(Debug, Args)]
pub struct DrArgs {
    /// What to act on: `recovery_plan.NAME` or `protected_vm.NAME[...]` (several allowed).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Directory holding the `*.asr.hcl` files.
    #[arg(long, short = 'd', default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variable file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Recovery point: latest, latest-processed, latest-app-consistent, latest-multi-vm, an RFC 3339 time, or
    /// not-older-than=15m. Used when the source is not shut down first (outage failover, test failover).
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub recovery_point: Option<PointPolicy>,
    /// The source region is down: fail over without touching it (data since the recovery point is lost).
    #[arg(long)]
    pub source_unavailable: bool,
    /// Test failover network (ARM id of a VNet); default: each VM's configured test network.
    #[arg(long, value_name = "VNET_ID")]
    pub network: Option<String>,
    /// Apply without asking (failover and failback plans also need --allow-failover).
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow a plan that fails over or fails back without typing the count at the prompt.
    #[arg(long)]
    pub allow_failover: bool,
    /// Save the plan to FILE for review instead of applying it (apply it later with `asrform apply FILE`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON and progress as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Plan output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// How long to wait for the state lock (e.g. 30s, 2m).
    #[arg(long, default_value = "0s", value_parser = parse_timeout)]
    pub lock_timeout: Duration,
    /// Confirm the recovery plan's manual steps (otherwise the run stops at the first one; run again with
    /// --continue once it is done).
    #[arg(long = "continue")]
    pub continue_manual: bool,
    /// What to wait for after a reprotect: `accepted` (the job) or `protected` (initial replication done).
    #[arg(long, value_enum, default_value_t = WaitFor::Accepted)]
    pub wait: WaitFor,
    /// Readiness gate: refuse a failover or test failover of VMs whose RPO is above this (e.g. 15m); default: the
    /// recovery plan's `max_rpo`.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_max_rpo)]
    pub max_rpo: Option<Duration>,
}

fn parse_policy(s: &str) -> Result<PointPolicy, String> {
    s.parse::<PointPolicy>().map_err(|e| e.to_string())
}

/// Runs one DR command.
pub async fn cmd_dr(ui: &mut Ui, command: DrCommand, args: &DrArgs) -> Result<ExitCode, CliError> {
    let targets = parse_targets(&args.targets)?;
    let config = ConfigArgs {
        dir: args.dir.clone(),
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
    };
    let session = Session::open(&config)?;
    let request = OperationRequest {
        command,
        targets,
        recovery_point: args.recovery_point.as_ref().map(ToString::to_string),
        source_unavailable: args.source_unavailable,
        network: args.network.clone(),
    };
    let result = run_in(ui, &session, args, request).await;
    let closed = session.close();
    let code = result?;
    closed?;
    Ok(code)
}

/// How many VM failovers (or failbacks) a plan contains: what the operator must type to confirm.
pub fn failover_count(plan: &Plan) -> usize {
    plan.effective_changes()
        .filter(|c| {
            matches!(
                c.action,
                Action::Failover | Action::Failback | Action::CancelFailover
            )
        })
        .map(|c| c.dr.as_ref().map_or(1, |d| d.vms.len()))
        .sum()
}

async fn run_in(
    ui: &mut Ui,
    session: &Session,
    args: &DrArgs,
    request: OperationRequest,
) -> Result<ExitCode, CliError> {
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let title = title_of(&args.dir);
    let opts = PlanOptions {
        mode: PlanMode::Normal,
        targets: Vec::new(),
        now: Some(session.now()),
        operation: Some(request),
        readiness: super::readiness_options(&args.dir, args.max_rpo),
    };
    if let Some(out) = &args.out {
        // Review path: plan only; the state lock is held just while reading, like `plan`.
        let stored = read_state(session, "plan", args.lock_timeout).await?;
        let (plan, _) = crate::apply::plan_live(
            session.config(),
            &session.graph,
            &session.client,
            stored.as_ref().map(|s| &s.state),
            &opts,
        )
        .await
        .map_err(CliError::user)?;
        let text = render_plan(&plan, format, false, ui.color_out, &title);
        write!(ui.out(), "{text}")?;
        std::fs::write(out, saved::to_json(&plan))?;
        if format == PlanFormat::Text {
            writeln!(
                ui.out(),
                "\nSaved the plan to {}. Apply exactly this plan with `asrform apply {}`.",
                out.display(),
                out.display()
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let info = LockInfo::for_this_process("apply", time::OffsetDateTime::now_utc());
    let guard = lock_with_timeout(
        session.store.as_ref(),
        &info,
        args.lock_timeout,
        &crate::clock::SystemClock,
    )
    .await
    .map_err(lock_err)?;
    let outcome = locked(ui, session, args, &opts, format, &title).await;
    guard.release().await.map_err(CliError::user)?;
    outcome
}

async fn locked(
    ui: &mut Ui,
    session: &Session,
    args: &DrArgs,
    opts: &PlanOptions,
    format: PlanFormat,
    title: &str,
) -> Result<ExitCode, CliError> {
    let stored = session.store.read().await.map_err(CliError::user)?;
    let (plan, _) = crate::apply::plan_live(
        session.config(),
        &session.graph,
        &session.client,
        stored.as_ref().map(|s| &s.state),
        opts,
    )
    .await
    .map_err(CliError::user)?;
    let text = render_plan(&plan, format, false, ui.color_out, title);
    write!(ui.out(), "{text}")?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    confirm(ui, &plan, args)?;
    let stop = crate::apply::executor::Stop::new();
    let (hooks, signals) =
        super::apply::progress_and_signals(ui, args.json, session.client.clock().clone(), &stop);
    let report = crate::apply::apply(
        &plan,
        Arc::new(session.config().clone()),
        session.client.clone(),
        session.store.clone(),
        stored,
        hooks,
        &ApplyOptions {
            parallelism: 10,
            wait: args.wait,
            stop: stop.clone(),
            continue_manual: args.continue_manual,
        },
    )
    .await;
    signals.abort();
    let report = report.map_err(CliError::user)?;
    for (k, e) in &report.failed {
        writeln!(ui.err(), "Error: {k}: {e}")?;
    }
    for (k, because) in &report.skipped {
        writeln!(ui.err(), "Skipped: {k} (because {because} failed)")?;
    }
    writeln!(ui.out(), "{}", report.line())?;
    if report.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::silent(CliErrorKind::User))
    }
}

/// The guard rail: failovers need `--allow-failover` or the count typed; other operations `--auto-approve` or
/// `yes`.
fn confirm(ui: &mut Ui, plan: &Plan, args: &DrArgs) -> Result<(), CliError> {
    let n = failover_count(plan);
    if n == 0 && args.auto_approve {
        return Ok(());
    }
    if n > 0 && args.allow_failover {
        return Ok(());
    }
    if !ui.interactive {
        return Err(CliError::usage(if n > 0 {
            format!(
                "refusing to run {n} failover{} without confirmation: stdin is not a terminal. Review the plan and pass --allow-failover (or save it with --out FILE and apply the file)",
                if n == 1 { "" } else { "s" }
            )
        } else {
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan and pass --auto-approve".to_string()
        }));
    }
    let expected = if n > 0 {
        writeln!(
            ui.err(),
            "\nThis plan moves workloads between regions. Type {n} to confirm {n} failover{}.",
            if n == 1 { "" } else { "s" }
        )?;
        n.to_string()
    } else {
        writeln!(
            ui.err(),
            "\nDo you want to run these DR operations? Only 'yes' will be accepted."
        )?;
        "yes".to_string()
    };
    write!(ui.err(), "  Enter a value: ")?;
    ui.err().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == expected {
        Ok(())
    } else {
        Err(CliError::usage("cancelled: the confirmation did not match"))
    }
}
