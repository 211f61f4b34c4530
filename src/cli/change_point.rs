//! `asrform change-recovery-point TARGET… --recovery-point POLICY`: after a failover and before its commit, move
//! the failed-over VMs to another recovery point, as a reviewed plan that names per VM the point it runs on now,
//! the one it gets, and the data loss of each.
//!
//! Thin: it checks the flags that make sense for this command and hands over to the shared DR command runner
//! (`dr_ops`); the per-VM points are resolved by `dr::change_point` while planning. No DR logic lives here.

use std::process::ExitCode;

use super::dr_ops::{DrArgs, cmd_dr};
use super::error::CliError;
use super::ui::Ui;
use crate::plan::operation::DrCommand;

/// Runs `change-recovery-point`.
pub async fn cmd_change_recovery_point(ui: &mut Ui, args: &DrArgs) -> Result<ExitCode, CliError> {
    if args.recovery_point.is_none() {
        return Err(CliError::usage(
            "change-recovery-point needs --recovery-point POLICY (latest, latest-processed, latest-app-consistent, latest-multi-vm, an RFC 3339 time, or not-older-than=15m)",
        ));
    }
    if args.source_unavailable || args.network.is_some() {
        return Err(CliError::usage(
            "change-recovery-point takes no --source-unavailable or --network: it acts on VMs that already failed over",
        ));
    }
    cmd_dr(ui, DrCommand::ChangeRecoveryPoint, args).await
}
