//! Operation plans: the request behind `asrform failover|test-failover|commit|reprotect|failback …` and the rules
//! that map a requested DR command and a target's live position to the one ASR operation it means.
//!
//! The differ ([`super::diff()`]) builds the plan itself (it owns the live maps); this module only holds the request
//! type and the pure decision table, so both stay testable without a snapshot. It must not do I/O or read a clock.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Action, Direction};
use crate::addr::ResourceAddr;

/// A DR command run as a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrCommand {
    /// Fail over from the primary region to the recovery region.
    Failover,
    /// Test failover (drill) into an isolated network.
    TestFailover,
    /// Clean up a test failover.
    TestFailoverCleanup,
    /// Commit a failover or failback.
    Commit,
    /// Reverse replication after a committed failover or failback.
    Reprotect,
    /// Fail back from the recovery region to the primary region.
    Failback,
    /// Move failed-over, uncommitted VMs to another recovery point.
    ChangeRecoveryPoint,
    /// Roll back a failover (or failback) that is not committed yet.
    CancelFailover,
}

impl DrCommand {
    /// The command's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Failover => "failover",
            Self::TestFailover => "test-failover",
            Self::TestFailoverCleanup => "test-failover-cleanup",
            Self::Commit => "commit",
            Self::Reprotect => "reprotect",
            Self::Failback => "failback",
            Self::ChangeRecoveryPoint => "change-recovery-point",
            Self::CancelFailover => "cancel-failover",
        }
    }
}

impl fmt::Display for DrCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an operation plan is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationRequest {
    /// The command.
    pub command: DrCommand,
    /// `recovery_plan.x` or `protected_vm.y[...]` addresses (at least one).
    pub targets: Vec<ResourceAddr>,
    /// `--recovery-point` as given (already validated by the caller with `dr::points::PointPolicy`).
    pub recovery_point: Option<String>,
    /// `--source-unavailable`: never touch the source region (an outage failover).
    pub source_unavailable: bool,
    /// `--network` for a test failover (ARM id); default: each VM's configured test network.
    pub network: Option<String>,
}

/// Where a set of replicated VMs stands, as far as choosing the next operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Replicating primary → recovery, running in the primary region.
    Primary,
    /// Failed over, commit pending.
    FailedOver,
    /// Failed over and committed, not reprotected yet.
    Committed,
    /// Running in the recovery region and replicating back.
    Recovery,
    /// Failed back, commit pending or not reprotected yet.
    FailedBack,
    /// A test failover waits for its cleanup.
    TestFailedOver,
}

impl Position {
    /// Words for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Primary => "protected and running in the primary region",
            Self::FailedOver => "failed over to the recovery region, commit pending",
            Self::Committed => "failed over and committed, not reprotected yet",
            Self::Recovery => "running in the recovery region and replicating back (reprotected)",
            Self::FailedBack => "failed back to the primary region, commit or reprotect pending",
            Self::TestFailedOver => "test-failed-over, waiting for test failover cleanup",
        }
    }
}

/// The operation (and its direction) a command means in a position, or why it cannot run there.
pub fn operation_for(cmd: DrCommand, at: Position) -> Result<(Action, Direction), String> {
    use Direction::{PrimaryToRecovery as P2R, RecoveryToPrimary as R2P};
    let ok = match (cmd, at) {
        (DrCommand::Failover, Position::Primary) => Some((Action::Failover, P2R)),
        (DrCommand::Failback, Position::Recovery) => Some((Action::Failback, R2P)),
        (DrCommand::Commit, Position::FailedOver) => Some((Action::Commit, P2R)),
        (DrCommand::Commit, Position::FailedBack) => Some((Action::Commit, R2P)),
        (DrCommand::Reprotect, Position::Committed) => Some((Action::Reprotect, R2P)),
        (DrCommand::Reprotect, Position::FailedBack) => Some((Action::Reprotect, P2R)),
        (DrCommand::TestFailover, Position::Primary) => Some((Action::TestFailover, P2R)),
        (DrCommand::TestFailover, Position::Recovery) => Some((Action::TestFailover, R2P)),
        (DrCommand::TestFailoverCleanup, Position::TestFailedOver) => {
            Some((Action::TestFailoverCleanup, P2R))
        }
        // Both act on a failover that awaits its commit, in the direction it went.
        (DrCommand::ChangeRecoveryPoint, Position::FailedOver) => {
            Some((Action::ChangeRecoveryPoint, P2R))
        }
        (DrCommand::ChangeRecoveryPoint, Position::FailedBack) => {
            Some((Action::ChangeRecoveryPoint, R2P))
        }
        (DrCommand::CancelFailover, Position::FailedOver) => Some((Action::CancelFailover, P2R)),
        (DrCommand::CancelFailover, Position::FailedBack) => Some((Action::CancelFailover, R2P)),
        _ => None,
    };
    ok.ok_or_else(|| {
        let hint = match (cmd, at) {
            (DrCommand::Failover, Position::Recovery) => "; to go back run `failback`",
            (DrCommand::Failover | DrCommand::Failback, Position::FailedOver)
            | (DrCommand::Failover | DrCommand::Failback, Position::FailedBack) => {
                "; run `commit` first"
            }
            (DrCommand::ChangeRecoveryPoint | DrCommand::CancelFailover, Position::Committed) => {
                "; the failover is committed and can no longer be changed or rolled back (reprotect, then fail back)"
            }
            (DrCommand::ChangeRecoveryPoint | DrCommand::CancelFailover, _) => {
                "; it acts only on a failover that awaits its commit"
            }
            (_, Position::Committed) => "; run `reprotect` next",
            (_, Position::TestFailedOver) => "; run `test-failover-cleanup` first",
            (DrCommand::Failback, Position::Primary) => "; it already runs in the primary region",
            _ => "",
        };
        format!("{cmd} is not possible: it is {}{hint}", at.describe())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_lifecycle_is_a_chain_of_commands() {
        let chain = [
            (DrCommand::Failover, Position::Primary, Action::Failover),
            (DrCommand::Commit, Position::FailedOver, Action::Commit),
            (DrCommand::Reprotect, Position::Committed, Action::Reprotect),
            (DrCommand::Failback, Position::Recovery, Action::Failback),
            (DrCommand::Commit, Position::FailedBack, Action::Commit),
        ];
        for (cmd, at, want) in chain {
            assert_eq!(operation_for(cmd, at).unwrap().0, want, "{cmd} at {at:?}");
        }
        // After failback the reprotect goes back to the original direction.
        assert_eq!(
            operation_for(DrCommand::Reprotect, Position::FailedBack).unwrap(),
            (Action::Reprotect, Direction::PrimaryToRecovery)
        );
    }

    #[test]
    fn impossible_commands_say_where_the_vms_are_and_what_to_do() {
        let e = operation_for(DrCommand::Failover, Position::Recovery).unwrap_err();
        assert!(
            e.contains("replicating back") && e.contains("failback"),
            "{e}"
        );
        let e = operation_for(DrCommand::Reprotect, Position::FailedOver).unwrap_err();
        assert!(e.contains("commit pending"), "{e}");
        let e = operation_for(DrCommand::Failover, Position::TestFailedOver).unwrap_err();
        assert!(e.contains("test-failover-cleanup"), "{e}");
    }

    #[test]
    fn change_point_and_cancel_act_only_before_commit() {
        for cmd in [DrCommand::ChangeRecoveryPoint, DrCommand::CancelFailover] {
            assert_eq!(
                operation_for(cmd, Position::FailedOver).unwrap().1,
                Direction::PrimaryToRecovery
            );
            assert_eq!(
                operation_for(cmd, Position::FailedBack).unwrap().1,
                Direction::RecoveryToPrimary
            );
            let e = operation_for(cmd, Position::Committed).unwrap_err();
            assert!(e.contains("committed and can no longer"), "{e}");
            let e = operation_for(cmd, Position::Primary).unwrap_err();
            assert!(e.contains("awaits its commit"), "{e}");
        }
    }
}
