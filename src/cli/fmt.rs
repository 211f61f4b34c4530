//! `asrform fmt`: rewrite `*.asr.hcl` files in the canonical layout, or check / show what would change.
//!
//! The layout itself is `crate::fmt` (pure); this module finds the files, reads them, writes changed ones
//! atomically (temporary file + rename in the same directory, keeping permissions), prints the changed names or
//! unified diffs, and reports unparseable files with the same syntax diagnostic the configuration loader gives.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::error::{CliError, CliErrorKind};
use super::ui::Ui;
use crate::config::SUFFIX;
use crate::config::diag::Diagnostic;
use crate::config::source::{SourceFile, Span};
use crate::fmt::{FormatError, format_source};

/// Flags of `fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Directories (their `*.asr.hcl` files) or files to format; `-` formats standard input to standard output.
    #[arg(default_value = ".", value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,

    /// Write nothing; exit 1 and list the files that are not formatted.
    #[arg(long)]
    pub check: bool,

    /// Print a unified diff of the changes.
    #[arg(long)]
    pub diff: bool,

    /// Also format files in subdirectories (hidden ones and `.asrform` are skipped).
    #[arg(long)]
    pub recursive: bool,
}

/// The files `paths` name, in a stable order.
fn collect(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, recursive, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, recursive: bool, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if recursive && !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&path, recursive, files)?;
            }
        } else if name.ends_with(SUFFIX) {
            files.push(path);
        }
    }
    Ok(())
}

/// Writes `text` to `path` atomically, keeping the file's permissions.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.asrform-fmt.{}", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The diagnostic for a file that does not parse, as the loader reports it.
pub fn parse_diagnostic(name: &str, text: &str, e: &FormatError) -> Diagnostic {
    let file = SourceFile::new(name, text);
    match e {
        FormatError::Parse { message, offset } => {
            let start = (*offset).min(text.len());
            let end = (start + 1).min(text.len());
            Diagnostic::error("config::parse", format!("syntax error: {message}"))
                .label(Span::new(0, start..end), "here")
                .help("only the first syntax error of a file is reported; fix it and run again")
                .resolve(&[file])
        }
        FormatError::MeaningChanged => Diagnostic::error("fmt::meaning_changed", e.to_string())
            .label(Span::new(0, 0..0), "in this file")
            .resolve(&[file]),
    }
}

/// `fmt -`: standard input to standard output (for editors); with --check only the exit code tells.
fn fmt_stdin(ui: &mut Ui, args: &FmtArgs) -> Result<ExitCode, CliError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
    match format_source(&text) {
        Ok(formatted) => {
            if args.diff && formatted != text {
                let diff = similar::TextDiff::from_lines(&text, &formatted);
                write!(
                    ui.out(),
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header("<stdin> (original)", "<stdin> (formatted)")
                )?;
            } else if !args.check {
                ui.out().write_all(formatted.as_bytes())?;
            }
            if args.check && formatted != text {
                Err(CliError::silent(CliErrorKind::User))
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
        Err(e) => {
            ui.report(&parse_diagnostic("<stdin>", &text, &e))?;
            Err(CliError::silent(CliErrorKind::User))
        }
    }
}

/// Runs `fmt`.
pub fn cmd_fmt(ui: &mut Ui, args: &FmtArgs) -> Result<ExitCode, CliError> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        if args.paths.len() > 1 {
            return Err(CliError::usage(
                "`-` (standard input) cannot be mixed with other paths",
            ));
        }
        return fmt_stdin(ui, args);
    }
    let files = collect(&args.paths, args.recursive)?;
    let mut failed = false;
    let mut unformatted = false;
    for path in files {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                writeln!(ui.err(), "Error: cannot read {shown}: {e}")?;
                failed = true;
                continue;
            }
        };
        let formatted = match format_source(&text) {
            Ok(f) => f,
            Err(e) => {
                ui.report(&parse_diagnostic(&shown, &text, &e))?;
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted = true;
        if args.diff {
            let diff = similar::TextDiff::from_lines(&text, &formatted);
            write!(
                ui.out(),
                "{}",
                diff.unified_diff().context_radius(3).header(
                    &format!("{shown} (original)"),
                    &format!("{shown} (formatted)")
                )
            )?;
        } else {
            writeln!(ui.out(), "{shown}")?;
        }
        if !args.check {
            write_atomic(&path, &formatted)
                .map_err(|e| CliError::user(FmtIoError(format!("cannot write {shown}: {e}"))))?;
        }
    }
    if failed || (args.check && unformatted) {
        Err(CliError::silent(CliErrorKind::User))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
#[diagnostic(code(fmt::io))]
struct FmtIoError(String);
