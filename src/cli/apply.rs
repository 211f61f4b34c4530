//! `asrform apply [DIR | PLANFILE]`: plan and apply after confirmation, or apply a saved plan after rechecking
//! its binding (state lineage and serial, configuration hash, live facts). Also the shared engine of `destroy`.
//!
//! Thin: the session does the I/O, `apply::apply` does the work, this prints the plan, asks, and prints the
//! report. The state lock is held for the whole apply.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::plan::{lock_err, parse_targets, parse_timeout, title_of};
use super::session::Session;
use super::ui::Ui;
use crate::apply::hooks::{Event, Hooks};
use crate::apply::{ApplyOptions, WaitFor};
use crate::plan::render::{self, TextOptions};
use crate::plan::{Plan, PlanMode, PlanOptions, saved};
use crate::state::{LockInfo, lock_with_timeout};

/// Flags of `apply` and `destroy`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The configuration directory, or a plan file written by `plan --out`.
    #[arg(default_value = ".", value_name = "DIR|PLANFILE")]
    pub path: PathBuf,
    /// With a plan file: the configuration directory it was made from (default: the plan file's directory).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variable file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Apply without asking (plans with failovers, failbacks, re-seeds or deletions also need --allow-failover).
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow a plan (from DIR or a plan file) with failovers, failbacks, re-seeds or deletions without typing
    /// their count at the prompt.
    #[arg(long)]
    pub allow_failover: bool,
    /// Operations at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// What to wait for after enabling protection.
    #[arg(long, value_enum, default_value_t = WaitFor::Accepted)]
    pub wait: WaitFor,
    /// Only this address and its dependencies (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// How long to wait for the state lock.
    #[arg(long, default_value = "0s", value_parser = parse_timeout)]
    pub lock_timeout: Duration,
    /// Accept drift into state instead of changing anything.
    #[arg(long)]
    pub refresh_only: bool,
    /// Print progress events as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Confirm the manual steps of recovery plans (otherwise a failover stops at the first one).
    #[arg(long = "continue")]
    pub continue_manual: bool,
    /// Readiness gate: refuse failovers and test failovers of VMs whose RPO is above this (e.g. 15m); default:
    /// each recovery plan's `max_rpo`.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_max_rpo)]
    pub max_rpo: Option<Duration>,
}

/// Counts running operations for the Ctrl-C notice while passing every event on to the renderer.
struct Counting {
    inner: Arc<dyn Hooks>,
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl Hooks for Counting {
    fn on_event(&self, e: &Event) {
        use std::sync::atomic::Ordering;
        match e {
            Event::OperationStarted { .. } => {
                self.running.fetch_add(1, Ordering::SeqCst);
            }
            Event::OperationFinished { .. } => {
                // Saturating: a finish without a start (adopted in-flight work) must not wrap.
                let _ = self
                    .running
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        Some(n.saturating_sub(1))
                    });
            }
            _ => {}
        }
        self.inner.on_event(e);
    }
}

/// The progress renderer for this run (live on a terminal, plain lines otherwise, JSON lines with `--json`) with
/// Ctrl-C handling: the first Ctrl-C fires `stop`, the second exits at once.
pub(crate) fn progress_and_signals(
    ui: &Ui,
    json: bool,
    clock: Arc<dyn crate::clock::Clock>,
    stop: &crate::apply::executor::Stop,
) -> (Arc<dyn Hooks>, tokio::task::JoinHandle<()>) {
    let mode = super::progress::ProgressMode::choose(json, ui.interactive);
    let renderer = super::progress::hooks_for(mode, Box::new(std::io::stdout()), clock);
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hooks: Arc<dyn Hooks> = Arc::new(Counting {
        inner: renderer,
        running: running.clone(),
    });
    let count = running.clone();
    let signals = super::signals::install(
        stop.clone(),
        Arc::new(move || count.load(std::sync::atomic::Ordering::SeqCst)),
        hooks.clone(),
    );
    (hooks, signals)
}

fn config_args(args: &ApplyArgs, dir: PathBuf) -> ConfigArgs {
    ConfigArgs {
        dir,
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
    }
}

/// Runs `apply`.
pub async fn cmd_apply(ui: &mut Ui, args: &ApplyArgs) -> Result<ExitCode, CliError> {
    let mode = if args.refresh_only {
        PlanMode::RefreshOnly
    } else {
        PlanMode::Normal
    };
    run(ui, args, mode).await
}

/// `apply` or `destroy`.
pub async fn run(ui: &mut Ui, args: &ApplyArgs, mode: PlanMode) -> Result<ExitCode, CliError> {
    let saved_plan = if args.path.is_file() {
        if mode == PlanMode::Destroy {
            return Err(CliError::usage(
                "destroy takes a configuration directory, not a plan file",
            ));
        }
        Some(saved::read(&args.path).map_err(CliError::user)?)
    } else {
        None
    };
    let dir = match (&saved_plan, &args.config_dir) {
        (_, Some(d)) => d.clone(),
        (Some(_), None) => args
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        (None, None) => args.path.clone(),
    };
    let targets = parse_targets(&args.targets)?;
    let session = Session::open(&config_args(args, dir.clone()))?;
    let result = run_in(ui, &session, args, mode, saved_plan, targets, &dir).await;
    let closed = session.close();
    let code = result?;
    closed?;
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
async fn run_in(
    ui: &mut Ui,
    session: &Session,
    args: &ApplyArgs,
    mode: PlanMode,
    saved_plan: Option<Plan>,
    targets: Vec<crate::addr::ResourceAddr>,
    dir: &Path,
) -> Result<ExitCode, CliError> {
    let op = if mode == PlanMode::Destroy {
        "destroy"
    } else {
        "apply"
    };
    let info = LockInfo::for_this_process(op, time::OffsetDateTime::now_utc());
    let guard = lock_with_timeout(
        session.store.as_ref(),
        &info,
        args.lock_timeout,
        &crate::clock::SystemClock,
    )
    .await
    .map_err(lock_err)?;
    let outcome = locked(ui, session, args, mode, saved_plan, targets, dir).await;
    guard.release().await.map_err(CliError::user)?;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    ui: &mut Ui,
    session: &Session,
    args: &ApplyArgs,
    mode: PlanMode,
    saved_plan: Option<Plan>,
    targets: Vec<crate::addr::ResourceAddr>,
    dir: &Path,
) -> Result<ExitCode, CliError> {
    let stored = session.store.read().await.map_err(CliError::user)?;
    let opts = PlanOptions {
        mode,
        targets,
        now: Some(session.now()),
        operation: None,
        readiness: super::readiness_options(&session.dir, args.max_rpo),
    };
    let (fresh, snap) = crate::apply::plan_live(
        session.config(),
        &session.graph,
        &session.client,
        stored.as_ref().map(|s| &s.state),
        &opts,
    )
    .await
    .map_err(CliError::user)?;
    let plan = match saved_plan {
        Some(p) => {
            saved::check_binding(
                &p,
                stored.as_ref().map(|s| &s.state),
                &session.config().fingerprint,
                &fresh.binding.facts,
            )
            .map_err(CliError::user)?;
            // The readiness gates hold again right before a saved failover runs (RPO and capacity move on).
            let mut p = p;
            let refused = crate::dr::readiness::gate(
                &session.client,
                session.config(),
                stored.as_ref().map(|s| &s.state),
                &snap,
                &mut p,
                &opts.readiness,
            )
            .await
            .map_err(CliError::user)?;
            if refused.has_errors() {
                return Err(CliError::user(refused));
            }
            // A reviewed plan file is applied without the yes prompt, but not past the failover guard rail.
            guard_rail(ui, &p, args)?;
            p
        }
        None => {
            let text = render::text(
                &fresh,
                TextOptions {
                    verbose: false,
                    color: ui.color_out,
                },
            );
            write!(ui.out(), "{text}")?;
            if !fresh.has_changes() {
                return Ok(ExitCode::SUCCESS);
            }
            if !args.auto_approve {
                confirm(ui, &fresh, mode, &title_of(dir))?;
            }
            guard_rail(ui, &fresh, args)?;
            fresh
        }
    };
    let stop = crate::apply::executor::Stop::new();
    let (hooks, signals) =
        progress_and_signals(ui, args.json, session.client.clock().clone(), &stop);
    let report = crate::apply::apply(
        &plan,
        Arc::new(session.config().clone()),
        session.client.clone(),
        session.store.clone(),
        stored,
        hooks,
        &ApplyOptions {
            parallelism: args.parallelism.max(1),
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
    for d in &report.deferred {
        writeln!(ui.out(), "Deferred: {d}")?;
    }
    writeln!(ui.out(), "{}", report.line())?;
    if report.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::silent(CliErrorKind::User))
    }
}

/// The changes the failover guard rail counts: VMs failed over or failed back, re-seeds and deletions. A
/// destroy plan is all deletions and has its own command and prompt, so its deletions are not counted.
fn guarded_count(plan: &Plan) -> usize {
    let s = &plan.summary;
    let deletions = if plan.mode == PlanMode::Destroy {
        0
    } else {
        s.destroy
    };
    super::dr_ops::failover_count(plan) + s.reseed + deletions
}

/// The guard rail of `apply DIR` and `apply PLANFILE` alike: a plan that moves workloads or throws replication
/// away needs `--allow-failover`, or the count typed at the prompt; `--auto-approve` is not enough.
fn guard_rail(ui: &mut Ui, plan: &Plan, args: &ApplyArgs) -> Result<(), CliError> {
    let n = guarded_count(plan);
    if n == 0 || args.allow_failover {
        return Ok(());
    }
    let what = if n == 1 {
        "failover, failback, re-seed or deletion"
    } else {
        "failovers, failbacks, re-seeds or deletions"
    };
    if !ui.interactive {
        return Err(CliError::usage(format!(
            "refusing to run {n} {what} without confirmation: stdin is not a terminal. Review the plan and pass --allow-failover"
        )));
    }
    writeln!(
        ui.err(),
        "\nThis plan includes {n} {what}. Type {n} to confirm."
    )?;
    write!(ui.err(), "  Enter a value: ")?;
    ui.err().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == n.to_string() {
        Ok(())
    } else {
        Err(CliError::usage("cancelled: the confirmation did not match"))
    }
}

fn confirm(ui: &mut Ui, plan: &Plan, mode: PlanMode, title: &str) -> Result<(), CliError> {
    if !ui.interactive {
        return Err(CliError::usage(
            "refusing to apply without confirmation: stdin is not a terminal. Review the plan and pass --auto-approve, or save it with `plan --out FILE` and apply the file",
        ));
    }
    let s = &plan.summary;
    let risky = s.reseed + s.destroy + s.dr;
    writeln!(
        ui.err(),
        "\nDo you want to {} {title}? {}Only 'yes' will be accepted.",
        if mode == PlanMode::Destroy {
            "destroy everything asrform manages in"
        } else {
            "apply these changes to"
        },
        if risky > 0 {
            format!(
                "This includes {} re-seed(s), {} deletion(s) and {} DR operation(s). ",
                s.reseed, s.destroy, s.dr
            )
        } else {
            String::new()
        }
    )?;
    write!(ui.err(), "  Enter a value: ")?;
    ui.err().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::usage("apply cancelled"))
    }
}
