//! `asrform cancel-failover TARGET…`: roll back a failover (or failback) that has not been committed, as a
//! reviewed plan: ASR's `failoverCancel` on every protected item removes the failed-over VMs, starts the source VMs
//! again when the failover had shut them down, and leaves replication as it was before the failover.
//!
//! What it does per state (decided by the planner, `plan::operation`): failed over and awaiting commit → cancel;
//! a failover still running → refused (wait for its job, then cancel); committed → refused (a committed failover
//! cannot be rolled back: reprotect, then fail back); not failed over → refused. Thin: flags are checked here and
//! the shared DR command runner (`dr_ops`) does the rest.

use std::process::ExitCode;

use super::dr_ops::{DrArgs, cmd_dr};
use super::error::CliError;
use super::ui::Ui;
use crate::plan::operation::DrCommand;

/// Runs `cancel-failover`.
pub async fn cmd_cancel_failover(ui: &mut Ui, args: &DrArgs) -> Result<ExitCode, CliError> {
    if args.recovery_point.is_some() || args.source_unavailable || args.network.is_some() {
        return Err(CliError::usage(
            "cancel-failover takes no --recovery-point, --source-unavailable or --network: it rolls the failover back",
        ));
    }
    cmd_dr(ui, DrCommand::CancelFailover, args).await
}
