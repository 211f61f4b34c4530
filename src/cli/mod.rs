//! The command line: argument parsing, dispatch to one `cmd_*` per command, and everything that is printed.
//!
//! This is the only module that writes to the terminal. Commands are thin: they turn flags into the library's
//! option structs, call the engine, and render what comes back through [`ui::Ui`]. Failures travel as
//! [`error::CliError`], which decides the exit code in one place.

pub mod apply;
pub mod backend;
pub mod cancel_failover;
pub mod change_point;
pub mod destroy;
pub mod dr_ops;
pub mod drill;
pub mod error;
pub mod fmt;
pub mod graph;
pub mod import;
pub mod plan;
pub mod progress;
pub mod session;
pub mod show;
pub mod signals;
pub mod sim;
pub mod state;
pub mod status;
pub mod ui;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::LoadOptions;
use crate::plan::operation::DrCommand;
use ui::{ColorChoice, Ui};

/// Disaster recovery as code for Azure VMs.
///
/// Declare in HCL which VMs Azure Site Recovery protects and how each comes up in the target region; asrform
/// validates, graphs, plans and applies it against real Azure or its embedded simulated Azure.
#[derive(Debug, Parser)]
#[command(
    name = "asrform",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Examples:\n  asrform validate examples/quickstart\n  asrform graph examples/quickstart | dot -Tsvg > graph.svg\n\nTerraform-style single-dash flags (-var, -var-file, -json, ...) are accepted too."
)]
pub struct Cli {
    /// When to colour output: auto (terminal and no NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration in a directory and report every problem at once.
    #[command(
        after_help = "Examples:\n  asrform validate\n  asrform validate examples/fleet --json\n  asrform validate . --var target_region=westus3\n\nExit status: 0 when valid, 1 when any error is found."
    )]
    Validate(validate::ValidateArgs),
    /// Print the resource graph (DOT for Graphviz, or JSON).
    #[command(
        after_help = "Examples:\n  asrform graph examples/quickstart | dot -Tsvg > graph.svg\n  asrform graph examples/fleet --format json"
    )]
    Graph(graph::GraphArgs),
    /// Operate the embedded simulated Azure: generate estates, inspect it, move its clock, cause outages and
    /// faults, or serve it over HTTP on 127.0.0.1.
    #[command(
        after_help = "Examples:\n  asrform sim generate --vms 1000 --out estate.json\n  asrform sim --dir examples/quickstart init --estate examples/quickstart/estate.json\n  asrform sim --dir examples/quickstart status\n  asrform sim --dir examples/quickstart advance 30m\n  asrform sim --dir examples/quickstart outage eastus\n  asrform sim --dir examples/quickstart serve --port 8443\n\nThe simulator's world is stored under DIR/.asrform/sim and its clock keeps running between commands."
    )]
    Sim(SimArgs),
    /// Inspect and repair stored state without touching Azure: list, show, rm, pull, push, unlock.
    #[command(
        after_help = "Examples:\n  asrform state list examples/quickstart --kind protected_vm\n  asrform state show 'protected_vm.app[\"db01\"]' examples/quickstart\n  asrform state rm 'protected_vm.app[\"web02\"]' examples/quickstart\n  asrform state pull > backup.json\n  asrform state push backup.json --force\n  asrform state unlock 3f2c9a1e-0b7d-4c55-9a43-2d1e8f6b7c90\n\nExit status: 0 on success, 1 on errors, 3 when the state is locked by someone else."
    )]
    State(state::StateArgs),
    /// Rewrite `*.asr.hcl` files in the canonical layout (two-space indents, aligned `=`, comments kept).
    #[command(
        after_help = "Examples:\n  asrform fmt\n  asrform fmt examples --recursive\n  asrform fmt --check --diff .\n\nExit status: 0 when done (or, with --check, when every file is formatted); 1 when a file does not parse or, with --check, is not formatted."
    )]
    Fmt(fmt::FmtArgs),
    /// Show DR posture per protected VM: replication health, RPO, latest recovery point, active site and last
    /// successful drill.
    #[command(
        after_help = "Examples:\n  asrform status\n  asrform status examples/quickstart --json\n\nDrill reports are read from DIR/.asrform/drills/."
    )]
    Status(status::StatusArgs),
    /// Show what apply would change: creates, updates, re-seeds, deletes, DR operations and drift.
    #[command(
        after_help = "Examples:\n  asrform plan examples/quickstart\n  asrform plan --out plan.json --detailed-exitcode\n  asrform plan --format markdown > comment.md\n  asrform plan --target 'protected_vm.app[\"db01\"]'\n  asrform plan --refresh-only\n\nExit status with --detailed-exitcode: 0 no changes, 2 changes, 1 error."
    )]
    Plan(plan::PlanArgs),
    /// Apply the configuration (after showing the plan and asking), or apply a saved plan file.
    #[command(
        after_help = "Examples:\n  asrform apply examples/quickstart\n  asrform apply --auto-approve --wait protected\n  asrform plan --out plan.json && asrform apply plan.json\n\nA saved plan is refused when the state, the configuration or the live objects it relied on changed."
    )]
    Apply(apply::ApplyArgs),
    /// Render a saved plan file as text, JSON or Markdown.
    #[command(
        after_help = "Examples:\n  asrform show plan.json\n  asrform show plan.json --json\n  asrform show plan.json --format markdown"
    )]
    Show(show::ShowArgs),
    /// Disable protection and remove everything asrform manages.
    #[command(
        after_help = "Examples:\n  asrform destroy examples/quickstart\n  asrform destroy --auto-approve"
    )]
    Destroy(apply::ApplyArgs),
    /// Adopt a live vault: write `*.asr.hcl` (and CSV inventories) and a state that adopts what exists, without
    /// changing anything in the cloud.
    #[command(
        after_help = "Examples:\n  asrform import --vault /subscriptions/S/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/rsv-dr\n  asrform import --vault ID --out adopted --include 'web*' --split-by resource-group\n  asrform import --vault ID --subscription S --auth cli --out adopted\n\nImport only reads. It refuses to overwrite files or state unless --force, and prints what it could not express as warnings."
    )]
    Import(import::ImportArgs),
    /// Fail over to the recovery region, as a reviewed plan (planned: the source is shut down first; outage:
    /// `--source-unavailable`).
    #[command(
        after_help = "Examples:\n  asrform failover recovery_plan.app -d examples/quickstart\n  asrform failover recovery_plan.app --out failover.json\n  asrform failover recovery_plan.app --source-unavailable --recovery-point latest-processed --allow-failover\n\nA plan with failovers needs --allow-failover or typing the number of VMs at the prompt."
    )]
    Failover(dr_ops::DrArgs),
    /// Drill a recovery plan: test failover into the isolated network, check every VM, always clean up, and write
    /// the evidence report (JSON + Markdown) under DIR/.asrform/drills/.
    #[command(
        after_help = "Examples:\n  asrform drill recovery_plan.app -d examples/quickstart\n  asrform drill recovery_plan.app --network virtual_network.drill --recovery-point latest-app-consistent\n\nCtrl-C stops the drill and cleans up; an interrupted drill is also cleaned up by the next drill or test-failover-cleanup."
    )]
    Drill(drill::DrillArgs),
    /// Test failover (drill) into an isolated network, as a reviewed plan; clean up with `test-failover-cleanup`.
    #[command(
        after_help = "Examples:\n  asrform test-failover recovery_plan.app -d examples/quickstart --auto-approve\n  asrform test-failover \'protected_vm.app[\"db01\"]\' --network VNET_ID --recovery-point latest-app-consistent"
    )]
    TestFailover(dr_ops::DrArgs),
    /// Clean up a test failover.
    #[command(
        after_help = "Examples:\n  asrform test-failover-cleanup recovery_plan.app --auto-approve"
    )]
    TestFailoverCleanup(dr_ops::DrArgs),
    /// Commit a failover or failback.
    #[command(after_help = "Examples:\n  asrform commit recovery_plan.app --auto-approve")]
    Commit(dr_ops::DrArgs),
    /// Reverse replication after a committed failover or failback.
    #[command(
        after_help = "Examples:\n  asrform reprotect recovery_plan.app --auto-approve --wait protected"
    )]
    Reprotect(dr_ops::DrArgs),
    /// Fail back to the primary region (a failover in the reverse direction).
    #[command(
        after_help = "Examples:\n  asrform failback recovery_plan.app --allow-failover --continue"
    )]
    Failback(dr_ops::DrArgs),
    /// After a failover and before its commit, move the failed-over VMs to another recovery point.
    #[command(
        after_help = "Examples:\n  asrform change-recovery-point recovery_plan.app --recovery-point latest-app-consistent\n  asrform change-recovery-point 'protected_vm.app[\"db01\"]' --recovery-point 2026-03-01T10:15:00Z --out pit.json\n\nThe plan shows per VM the point it runs on now and the new one, with time, age and data loss."
    )]
    ChangeRecoveryPoint(dr_ops::DrArgs),
    /// Roll back a failover (or failback) that is not committed yet: the failed-over VMs are removed and the
    /// source VMs run again.
    #[command(
        after_help = "Examples:\n  asrform cancel-failover recovery_plan.app --allow-failover\n\nOnly a failover that awaits its commit can be cancelled; a running failover must finish first and a committed one is undone by reprotect and failback."
    )]
    CancelFailover(dr_ops::DrArgs),
}

/// Flags of `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Configuration directory whose simulator to operate (its world lives in DIR/.asrform/sim).
    #[arg(long, short = 'd', default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: sim::SimCommand,
}

/// Flags shared by every command that loads a configuration.
#[derive(Debug, Args, Clone)]
pub struct ConfigArgs {
    /// Directory holding the `*.asr.hcl` files.
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// Set a variable (repeatable; later values win over earlier ones and over -var-file).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Read variable values from an HCL file of `name = value` lines (repeatable, applied in order).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl ConfigArgs {
    /// The loader options for these flags, with `ASRFORM_VAR_<name>` variables from `env`.
    pub fn load_options(&self, env: impl IntoIterator<Item = (String, String)>) -> LoadOptions {
        LoadOptions {
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
            env_vars: env
                .into_iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("ASRFORM_VAR_")
                        .map(|name| (name.to_string(), v))
                })
                .filter(|(name, _)| !name.is_empty())
                .collect(),
            ..LoadOptions::default()
        }
    }
}

/// `--max-rpo` parser: a duration in the configuration language's form (`15m`, `1h30m`).
pub(crate) fn parse_max_rpo(s: &str) -> Result<std::time::Duration, String> {
    crate::config::values::parse_duration(s)
}

/// The readiness gate inputs of a command run on the configuration in `dir`: `--max-rpo`, and the drill reports
/// under `DIR/.asrform/drills` for the drill-age gate.
pub(crate) fn readiness_options(
    dir: &std::path::Path,
    max_rpo: Option<std::time::Duration>,
) -> crate::plan::ReadinessOptions {
    crate::plan::ReadinessOptions {
        max_rpo,
        drill_reports: Some(dir.join(".asrform").join("drills")),
    }
}

/// `NAME=VALUE` parser shared by commands with their own flags.
pub(crate) fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// Long flags that Terraform users type with one dash (`-var`, `-out=plan`); they are rewritten to `--var` before
/// parsing so muscle memory works. Short flags are single letters, so no long name here collides with them.
const TERRAFORM_STYLE_FLAGS: &[&str] = &[
    "var",
    "var-file",
    "json",
    "out",
    "format",
    "auto-approve",
    "target",
    "refresh-only",
    "detailed-exitcode",
    "parallelism",
    "lock-timeout",
    "verbose",
    "color",
    "check",
    "diff",
    "recursive",
    "force",
    "wait",
    "config-dir",
    "max-rpo",
];

/// Rewrites `-var=x` / `-var x` style arguments to their `--` form.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut after_double_dash = false;
    args.into_iter()
        .map(|arg| {
            if after_double_dash {
                return arg;
            }
            let Some(s) = arg.to_str() else { return arg };
            if s == "--" {
                after_double_dash = true;
                return arg;
            }
            match s.strip_prefix('-') {
                Some(rest) if !rest.starts_with('-') => {
                    let name = rest.split_once('=').map_or(rest, |(n, _)| n);
                    if TERRAFORM_STYLE_FLAGS.contains(&name) {
                        format!("-{s}").into()
                    } else {
                        arg
                    }
                }
                _ => arg,
            }
        })
        .collect()
}

/// Runs a parsed command line and returns the process exit code, printing through `ui`.
pub async fn run(cli: Cli, ui: &mut Ui) -> ExitCode {
    let result = match &cli.command {
        Command::Validate(args) => validate::cmd_validate(ui, args),
        Command::Graph(args) => graph::cmd_graph(ui, args),
        Command::Status(args) => status::cmd_status(ui, args).await,
        Command::Sim(args) => sim::run(&args.command, &args.dir, ui.out())
            .await
            .map(|()| ExitCode::SUCCESS)
            .map_err(error::CliError::user),
        Command::State(args) => state::cmd_state(ui, args).await,
        Command::Fmt(args) => fmt::cmd_fmt(ui, args),
        Command::Plan(args) => plan::cmd_plan(ui, args).await,
        Command::Apply(args) => apply::cmd_apply(ui, args).await,
        Command::Show(args) => show::cmd_show(ui, args),
        Command::Destroy(args) => destroy::cmd_destroy(ui, args).await,
        Command::Import(args) => import::cmd_import(ui, args).await,
        Command::Drill(args) => drill::cmd_drill(ui, args).await,
        Command::Failover(args) => dr_ops::cmd_dr(ui, DrCommand::Failover, args).await,
        Command::TestFailover(args) => dr_ops::cmd_dr(ui, DrCommand::TestFailover, args).await,
        Command::TestFailoverCleanup(args) => {
            dr_ops::cmd_dr(ui, DrCommand::TestFailoverCleanup, args).await
        }
        Command::Commit(args) => dr_ops::cmd_dr(ui, DrCommand::Commit, args).await,
        Command::Reprotect(args) => dr_ops::cmd_dr(ui, DrCommand::Reprotect, args).await,
        Command::Failback(args) => dr_ops::cmd_dr(ui, DrCommand::Failback, args).await,
        Command::ChangeRecoveryPoint(args) => {
            change_point::cmd_change_recovery_point(ui, args).await
        }
        Command::CancelFailover(args) => cancel_failover::cmd_cancel_failover(ui, args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.should_render() {
                // A failed write to stderr leaves nothing better to do than exit with the code.
                let _ = ui.report(e.report.as_ref());
            }
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn terraform_style_flags_are_accepted() {
        assert_eq!(
            norm(&["asrform", "validate", "-var", "a=b", "-json"]),
            ["asrform", "validate", "--var", "a=b", "--json"]
        );
        assert_eq!(
            norm(&["x", "-var-file=f.hcl", "-h"]),
            ["x", "--var-file=f.hcl", "-h"]
        );
        assert_eq!(
            norm(&["x", "--", "-var"]),
            ["x", "--", "-var"],
            "after -- nothing is rewritten"
        );
        assert_eq!(norm(&["x", "-unknown"]), ["x", "-unknown"]);
    }

    #[test]
    fn var_flags_parse_and_env_vars_are_filtered() {
        let cli = Cli::try_parse_from([
            "asrform", "validate", "dir", "--var", "a=1=2", "--var", "b=",
        ])
        .unwrap();
        let Command::Validate(args) = cli.command else {
            panic!()
        };
        let opts = args.config.load_options([
            ("ASRFORM_VAR_region".to_string(), "westus".to_string()),
            ("ASRFORM_VAR_".to_string(), "ignored".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        assert_eq!(
            opts.vars,
            [
                ("a".to_string(), "1=2".to_string()),
                ("b".to_string(), String::new())
            ]
        );
        assert_eq!(
            opts.env_vars,
            [("region".to_string(), "westus".to_string())]
        );
        assert!(Cli::try_parse_from(["asrform", "validate", "--var", "novalue"]).is_err());
    }

    #[test]
    fn every_command_has_help_with_examples() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        for sub in cmd.get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Examples:"),
                "`{}` --help has no examples",
                sub.get_name()
            );
        }
    }
}
