//! The one error type at the CLI boundary and its mapping to exit codes.
//!
//! Library errors arrive as typed miette diagnostics; this module decides what kind of failure each one is for the
//! user (their input, the command line, a held lock, the cloud, or a bug) and which exit code that means. It must
//! not format or print anything: `cli::ui` renders the report.

use std::process::ExitCode;

/// What kind of failure ended a command; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CliErrorKind {
    /// Bad configuration, variables, state or plan files: the user can fix the input. Exit 1.
    User,
    /// The command line itself is wrong (bad flag value, missing argument). Exit 2, as clap does.
    Usage,
    /// The state is locked by someone else. Exit 3.
    Locked,
    /// The cloud (or simulator) refused or failed an operation. Exit 1.
    Provider,
    /// A bug in asrform. Exit 255.
    Internal,
}

/// A failed command: a kind and the diagnostic to show.
#[derive(Debug)]
pub struct CliError {
    /// What kind of failure.
    pub kind: CliErrorKind,
    /// The report to render (may carry many related diagnostics).
    pub report: miette::Report,
}

impl CliError {
    /// A user error from any diagnostic.
    pub fn user(diag: impl miette::Diagnostic + Send + Sync + 'static) -> Self {
        Self {
            kind: CliErrorKind::User,
            report: miette::Report::new(diag),
        }
    }

    /// A usage error with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: CliErrorKind::Usage,
            report: miette::miette!("{}", message.into()),
        }
    }

    /// A failure already reported in full on the output (e.g. diagnostics printed by `validate --json`); the exit
    /// code still says it failed, but nothing more is rendered.
    pub fn silent(kind: CliErrorKind) -> Self {
        Self {
            kind,
            report: miette::Report::new(Silent),
        }
    }

    /// Whether the report should be rendered (false for [`CliError::silent`]).
    pub fn should_render(&self) -> bool {
        self.report.downcast_ref::<Silent>().is_none()
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            CliErrorKind::User | CliErrorKind::Provider => 1,
            CliErrorKind::Usage => 2,
            CliErrorKind::Locked => 3,
            CliErrorKind::Internal => 255,
        })
    }
}

/// Marker for failures whose explanation is already on the output.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("command failed")]
struct Silent;

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self {
            kind: CliErrorKind::User,
            report: miette::Report::msg(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_documented_exit_codes() {
        let code = |k| {
            CliError {
                kind: k,
                report: miette::miette!("x"),
            }
            .exit_code()
        };
        assert_eq!(code(CliErrorKind::User), ExitCode::from(1));
        assert_eq!(code(CliErrorKind::Usage), ExitCode::from(2));
        assert_eq!(code(CliErrorKind::Locked), ExitCode::from(3));
        assert_eq!(code(CliErrorKind::Internal), ExitCode::from(255));
    }

    #[test]
    fn silent_errors_are_not_rendered() {
        assert!(!CliError::silent(CliErrorKind::User).should_render());
        assert!(CliError::usage("bad").should_render());
    }
}
