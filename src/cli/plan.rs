//! `asrform plan`: read live state and the state file, diff against the configuration, render the plan (text,
//! JSON or Markdown), optionally save it bound to what it saw.
//!
//! Thin: flags → [`crate::plan::PlanOptions`], the session does the I/O, the library diffs and renders. The state
//! lock is held only while state is read (like Terraform). Exit codes follow `--detailed-exitcode`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::session::Session;
use super::ui::Ui;
use crate::addr::ResourceAddr;
use crate::plan::render::{self, TextOptions};
use crate::plan::{Plan, PlanMode, PlanOptions, saved};
use crate::state::{LockInfo, Stored, lock_with_timeout};

/// Output formats of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    /// Human text.
    #[default]
    Text,
    /// The JSON form (`schemas/plan.schema.json`).
    Json,
    /// Markdown for a pull request comment (under 65,000 characters).
    Markdown,
}

/// Flags of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Where the configuration is and how its variables are set.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Save the plan to FILE (bound to the state serial, configuration hash and live facts) for `apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the JSON form (same as --format json).
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Show every attribute, not only the changed ones.
    #[arg(long)]
    pub verbose: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only this address and its dependencies (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Only show drift (what changed outside asrform); `apply --refresh-only` accepts it into state.
    #[arg(long)]
    pub refresh_only: bool,
    /// Accepted for symmetry with apply (planning reads with bounded concurrency anyway).
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// How long to wait for the state lock (e.g. 30s, 2m).
    #[arg(long, default_value = "0s", value_parser = parse_timeout)]
    pub lock_timeout: Duration,
    /// Readiness gate: refuse failovers and test failovers (from `active_site`) of VMs whose RPO is above this
    /// (e.g. 15m); default: each recovery plan's `max_rpo`.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_max_rpo)]
    pub max_rpo: Option<Duration>,
}

/// Parses `30s`, `2m`, `1h`, `0s`.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}"))
}

/// Parses `--target` values.
pub fn parse_targets(list: &[String]) -> Result<Vec<ResourceAddr>, CliError> {
    list.iter()
        .map(|t| {
            t.parse::<ResourceAddr>().map_err(|e| {
                CliError::usage(format!("--target `{t}` is not a resource address: {e}"))
            })
        })
        .collect()
}

/// Reads state under the lock (released at once).
pub async fn read_state(
    session: &Session,
    op: &str,
    timeout: Duration,
) -> Result<Option<Stored>, CliError> {
    let info = LockInfo::for_this_process(op, time::OffsetDateTime::now_utc());
    let clock = crate::clock::SystemClock;
    let guard = lock_with_timeout(session.store.as_ref(), &info, timeout, &clock)
        .await
        .map_err(lock_err)?;
    let read = session.store.read().await;
    guard.release().await.map_err(CliError::user)?;
    read.map_err(CliError::user)
}

/// Maps a lock failure to the "locked" exit code.
pub fn lock_err(e: crate::state::StateError) -> CliError {
    let locked = matches!(e, crate::state::StateError::Locked { .. });
    let mut err = CliError::user(e);
    if locked {
        err.kind = CliErrorKind::Locked;
    }
    err
}

/// Renders a plan in a format.
pub fn render_plan(
    plan: &Plan,
    format: PlanFormat,
    verbose: bool,
    color: bool,
    title: &str,
) -> String {
    match format {
        PlanFormat::Text => render::text(plan, TextOptions { verbose, color }),
        PlanFormat::Json => saved::to_json(plan),
        PlanFormat::Markdown => render::markdown(plan, title),
    }
}

/// A title for Markdown: the configuration directory's name.
pub fn title_of(dir: &std::path::Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}

/// Runs `plan`.
pub async fn cmd_plan(ui: &mut Ui, args: &PlanArgs) -> Result<ExitCode, CliError> {
    let targets = parse_targets(&args.targets)?;
    let session = Session::open(&args.config)?;
    let result = plan_in(&session, args, targets).await;
    let closed = session.close();
    let plan = result?;
    closed?;
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let text = render_plan(
        &plan,
        format,
        args.verbose,
        ui.color_out,
        &title_of(&args.config.dir),
    );
    write!(ui.out(), "{text}")?;
    if let Some(out) = &args.out {
        std::fs::write(out, saved::to_json(&plan))?;
        if format == PlanFormat::Text {
            writeln!(
                ui.out(),
                "\nSaved the plan to {}. Apply exactly this plan with `asrform apply {}`.",
                out.display(),
                out.display()
            )?;
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn plan_in(
    session: &Session,
    args: &PlanArgs,
    targets: Vec<ResourceAddr>,
) -> Result<Plan, CliError> {
    let stored = read_state(session, "plan", args.lock_timeout).await?;
    let opts = PlanOptions {
        mode: if args.refresh_only {
            PlanMode::RefreshOnly
        } else {
            PlanMode::Normal
        },
        targets,
        now: Some(session.now()),
        operation: None,
        readiness: super::readiness_options(&session.dir, args.max_rpo),
    };
    let (plan, _) = crate::apply::plan_live(
        session.config(),
        &session.graph,
        &session.client,
        stored.as_ref().map(|s| &s.state),
        &opts,
    )
    .await
    .map_err(CliError::user)?;
    Ok(plan)
}
