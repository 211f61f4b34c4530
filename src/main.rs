//! The `asrform` binary: parses arguments, builds the async runtime and hands over to [`asrform::cli`]; nothing
//! else lives here.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = asrform::cli::normalize_args(std::env::args_os());
    let cli = match asrform::cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2) itself.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // `ASRFORM_LOG=debug` (any tracing filter, e.g. `asrform::arm=trace`) logs to stderr; the ARM client redacts
    // the Authorization header itself, so nothing secret reaches this output.
    if let Some(filter) = std::env::var("ASRFORM_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
    {
        let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
            eprintln!("warning: ASRFORM_LOG={filter} is not a valid filter ({e}); using `debug`");
            tracing_subscriber::EnvFilter::new("debug")
        });
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let mut ui = asrform::cli::ui::Ui::stdio(cli.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(255);
        }
    };
    runtime.block_on(asrform::cli::run(cli, &mut ui))
}
