//! `asrform graph`: print the resource graph for Graphviz (DOT) or as JSON.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::ConfigArgs;
use super::error::CliError;
use super::ui::Ui;
use crate::{config, graph};

/// Output formats of `graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    /// Graphviz DOT (`asrform graph | dot -Tsvg`).
    #[default]
    Dot,
    /// JSON: nodes and edges with the reason for each edge.
    Json,
}

/// Flags of `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Where the configuration is and how its variables are set.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

/// Runs `graph`.
pub fn cmd_graph(ui: &mut Ui, args: &GraphArgs) -> Result<ExitCode, CliError> {
    let opts = args.config.load_options(std::env::vars());
    let loaded = config::load(&args.config.dir, &opts).map_err(CliError::user)?;
    if !loaded.warnings.is_empty() {
        ui.report(&loaded.warnings)?;
    }
    let graph = graph::build(&loaded.config).map_err(CliError::user)?;
    let text = match args.format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Json => {
            serde_json::to_string_pretty(&graph.to_json()).expect("JSON values always serialise")
                + "\n"
        }
    };
    ui.out().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
