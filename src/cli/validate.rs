//! `asrform validate`: load the configuration, build its graph, and report every problem at once.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::ui::Ui;
use crate::config::{self, Diagnostics};
use crate::graph;

/// Flags of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Where the configuration is and how its variables are set.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Print the result as JSON (`valid`, counts and every diagnostic with file, line and column).
    #[arg(long)]
    pub json: bool,
}

/// Outcome of loading and graphing, with every diagnostic found on the way.
struct Checked {
    diagnostics: Diagnostics,
    nodes: Option<usize>,
}

fn check(args: &ValidateArgs) -> Checked {
    let opts = args.config.load_options(std::env::vars());
    match config::load(&args.config.dir, &opts) {
        Err(diagnostics) => Checked {
            diagnostics,
            nodes: None,
        },
        Ok(loaded) => match graph::build(&loaded.config) {
            Ok(g) => Checked {
                diagnostics: loaded.warnings,
                nodes: Some(g.len()),
            },
            Err(mut errors) => {
                for w in loaded.warnings {
                    errors.push(w);
                }
                Checked {
                    diagnostics: errors,
                    nodes: None,
                }
            }
        },
    }
}

/// Runs `validate`.
pub fn cmd_validate(ui: &mut Ui, args: &ValidateArgs) -> Result<ExitCode, CliError> {
    let checked = check(args);
    let errors = checked.diagnostics.error_count();
    let warnings = checked.diagnostics.len() - errors;
    if args.json {
        let doc = json!({
            "format_version": "1.0",
            "valid": errors == 0,
            "error_count": errors,
            "warning_count": warnings,
            "diagnostics": checked.diagnostics.to_json(),
        });
        writeln!(
            ui.out(),
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values always serialise")
        )?;
    } else {
        if !checked.diagnostics.is_empty() {
            ui.report(&checked.diagnostics)?;
        }
        if errors == 0 {
            let nodes = checked.nodes.unwrap_or_default();
            writeln!(
                ui.out(),
                "Success! The configuration is valid ({nodes} resources in the graph)."
            )?;
        }
    }
    if errors == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::silent(CliErrorKind::User))
    }
}
