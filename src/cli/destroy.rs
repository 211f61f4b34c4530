//! `asrform destroy [DIR]`: disable protection and remove everything asrform manages, with the same guards,
//! confirmation and lock as `apply` (it is `apply` in destroy mode).

use std::process::ExitCode;

use super::apply::{ApplyArgs, run};
use super::error::CliError;
use super::ui::Ui;
use crate::plan::PlanMode;

/// Runs `destroy`.
pub async fn cmd_destroy(ui: &mut Ui, args: &ApplyArgs) -> Result<ExitCode, CliError> {
    run(ui, args, PlanMode::Destroy).await
}
