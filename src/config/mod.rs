//! The configuration language: `*.asr.hcl` files in, a typed [`Config`] (or every problem found) out.
//!
//! Owns parsing (hcl-edit, spans kept), evaluation (hcl-rs eval plus asrform's function library), variables, `for_each`
//! expansion, the typed model and the semantic checks. It is pure apart from the edge: [`load`] reads the `*.asr.hcl`
//! files of one directory and the `-var-file`s, and `file()` reads data files relative to the configuration directory.
//! It never prints, never reads the environment (the CLI passes `ASRFORM_VAR_*` values in [`LoadOptions`]) and never
//! looks at a clock.
//!
//! Entry points: [`load`] for a directory, [`load_sources`] for in-memory texts (tests, fuzzing).

pub mod diag;
pub mod model;
pub mod naming;
pub mod source;
pub mod synthetic;
pub mod types;
pub mod validate;
pub mod values;

mod decode;
mod funcs;
mod load;
mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use funcs::NAMES as FUNCTIONS;
pub use model::*;
pub use source::{SourceFile, Span, Spanned};
pub use values::{ArmId, DiskType, format_duration, parse_duration};

/// Inputs of a load besides the configuration files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-var name=value`, in command-line order (later wins).
    pub vars: Vec<(String, String)>,
    /// `-var-file` paths, in command-line order (later wins).
    pub var_files: Vec<PathBuf>,
    /// `ASRFORM_VAR_<name>` environment variables, already filtered by the CLI, names without the prefix.
    pub env_vars: Vec<(String, String)>,
    /// Protected disk count per source VM ARM id (from the estate or live state), for the 3,000 disks per
    /// subscription rule; without it every VM counts as one disk.
    pub source_disk_counts: Option<BTreeMap<String, u32>>,
}

/// A loaded configuration and its warnings.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Non-fatal problems.
    pub warnings: Diagnostics,
}

/// Configuration file suffix.
pub const SUFFIX: &str = ".asr.hcl";

fn no_files(message: String) -> Diagnostics {
    Diagnostics(vec![
        Diagnostic::error("config::no_files", message)
            .help("asrform reads every `*.asr.hcl` file of the configuration directory; pass the directory with `-chdir` or run it there"),
    ])
}

/// Loads every `*.asr.hcl` file of `dir` (sorted by name) as one configuration.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(no_files(format!(
                "cannot read the configuration directory `{}`: {e}",
                dir.display()
            )));
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(SUFFIX))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(no_files(format!(
            "no `*.asr.hcl` files in `{}`",
            dir.display()
        )));
    }
    let mut problems = Diagnostics::default();
    let mut config_files = Vec::new();
    for n in names {
        match std::fs::read_to_string(dir.join(&n)) {
            Ok(text) => config_files.push(SourceFile::new(n, text)),
            Err(e) => problems.push(Diagnostic::error(
                "config::file",
                format!("cannot read `{n}`: {e}"),
            )),
        }
    }
    let mut var_files = Vec::new();
    for p in &opts.var_files {
        match std::fs::read_to_string(p) {
            Ok(text) => var_files.push(SourceFile::new(p.display().to_string(), text)),
            Err(e) => problems.push(Diagnostic::error(
                "config::var_file",
                format!("cannot read the variable file `{}`: {e}", p.display()),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    load::run(
        load::Input {
            config_files,
            var_files,
            dir: Some(dir.to_path_buf()),
            data: BTreeMap::new(),
        },
        opts,
    )
}

/// Loads a configuration from memory: files named `*.asr.hcl` are configuration files (sorted by name), any other
/// file is a data file that `file()` and the simulator `estate` can read, and `opts.var_files` are looked up among
/// them by name before the disk.
pub fn load_sources(
    files: Vec<(String, String)>,
    opts: &LoadOptions,
) -> Result<Loaded, Diagnostics> {
    let mut config_files = Vec::new();
    let mut data = BTreeMap::new();
    for (name, text) in files {
        if name.ends_with(SUFFIX) {
            config_files.push(SourceFile::new(name, text));
        } else {
            data.insert(name, text);
        }
    }
    config_files.sort_by(|a, b| a.name.cmp(&b.name));
    if config_files.is_empty() {
        return Err(no_files("no `*.asr.hcl` files were given".into()));
    }
    let mut var_files = Vec::new();
    let mut problems = Diagnostics::default();
    for p in &opts.var_files {
        let name = p.display().to_string();
        match data
            .get(&name)
            .cloned()
            .map(Ok)
            .unwrap_or_else(|| std::fs::read_to_string(p))
        {
            Ok(text) => var_files.push(SourceFile::new(name, text)),
            Err(e) => problems.push(Diagnostic::error(
                "config::var_file",
                format!("cannot read the variable file `{name}`: {e}"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    load::run(
        load::Input {
            config_files,
            var_files,
            dir: None,
            data,
        },
        opts,
    )
}
