//! `asrform show PLANFILE`: render a saved plan exactly as `plan` printed it (text, JSON or Markdown).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::error::CliError;
use super::plan::{PlanFormat, render_plan};
use super::ui::Ui;
use crate::plan::saved;

/// Flags of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `asrform plan --out FILE`.
    #[arg(value_name = "PLANFILE")]
    pub file: PathBuf,
    /// Print the JSON form.
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Show every attribute.
    #[arg(long)]
    pub verbose: bool,
}

/// Runs `show`.
pub fn cmd_show(ui: &mut Ui, args: &ShowArgs) -> Result<ExitCode, CliError> {
    let plan = saved::read(&args.file).map_err(CliError::user)?;
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let title = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = render_plan(&plan, format, args.verbose, ui.color_out, &title);
    write!(ui.out(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}
