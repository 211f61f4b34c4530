//! `asrform state`: inspect and repair stored state without touching the cloud (`list`, `show`, `rm`, `pull`,
//! `push`, `unlock`).
//!
//! Every subcommand finds its store through the configuration's `backend` block (`cli::backend`). Commands that
//! change state take the lock (honouring `--lock-timeout`), write conditionally on the version they read and bump
//! the serial, so they compose safely with a concurrent apply. Nothing here calls ARM: `state rm` only forgets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::backend::open_store;
use super::error::{CliError, CliErrorKind};
use super::ui::Ui;
use crate::addr::ResourceKind;
use crate::clock::{Clock, SystemClock};
use crate::config::{self, LoadOptions, model::Backend};
use crate::provider::arm::auth::{AuthKind, AuthOptions, credential};
use crate::state::{LockInfo, State, StateError, StateStore, Stored, lock_with_timeout};

/// Flags of `state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// How long to wait for the state lock before giving up (`0s`: try once).
    #[arg(long, global = true, default_value = "0s", value_name = "DURATION", value_parser = parse_timeout)]
    pub lock_timeout: Duration,

    /// Set a variable the configuration needs to load (repeatable), as for `validate`.
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = super::parse_var)]
    pub vars: Vec<(String, String)>,

    /// Read variable values from a file (repeatable), as for `validate`.
    #[arg(long = "var-file", global = true, value_name = "FILE")]
    pub var_files: Vec<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: StateCommand,
}

/// The `state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in state, one per line.
    List {
        /// Configuration directory (its `backend` block says where state is).
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
        /// Only addresses of this kind (`protected_vm`, `vault`, …).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Show what state records for one address.
    Show {
        /// The address (`protected_vm.app["db01"]`).
        address: String,
        /// Configuration directory.
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Forget addresses without touching the cloud (the objects keep running; a later plan adopts or recreates).
    Rm {
        /// Addresses to forget, optionally followed by the configuration directory.
        #[arg(required = true, value_name = "ADDR... [DIR]")]
        args: Vec<String>,
    },
    /// Print the stored state document.
    Pull {
        /// Configuration directory.
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Replace the stored state with a file (same lineage and a higher serial, unless --force).
    Push {
        /// The state file to store.
        file: PathBuf,
        /// Configuration directory.
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
        /// Store it even if the lineage differs or the serial is not newer.
        #[arg(long)]
        force: bool,
    },
    /// Remove a lock left by a process that is gone.
    Unlock {
        /// The lock id shown in the "state is locked" error.
        lock_id: String,
        /// Configuration directory.
        #[arg(default_value = ".", value_name = "DIR")]
        dir: PathBuf,
    },
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    config::values::parse_duration(s)
}

/// Maps a state error to its CLI failure: a held lock exits 3.
pub fn state_error(e: StateError) -> CliError {
    let kind = match &e {
        StateError::Locked { .. } => CliErrorKind::Locked,
        _ => CliErrorKind::User,
    };
    CliError {
        kind,
        report: miette::Report::new(e),
    }
}

/// The backend a configuration directory declares (the configuration must load: its variables may decide the
/// backend's settings).
pub fn backend_of(
    dir: &Path,
    vars: &[(String, String)],
    var_files: &[PathBuf],
) -> Result<Backend, CliError> {
    let opts = LoadOptions {
        vars: vars.to_vec(),
        var_files: var_files.to_vec(),
        env_vars: std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("ASRFORM_VAR_").map(|n| (n.to_string(), v)))
            .filter(|(n, _)| !n.is_empty())
            .collect(),
        ..LoadOptions::default()
    };
    let loaded = config::load(dir, &opts).map_err(CliError::user)?;
    Ok(loaded.config.backend.value)
}

/// Opens the store of the configuration in `dir`, signing in only when an Entra token is needed.
pub fn store_for(args: &StateArgs, dir: &Path) -> Result<Box<dyn StateStore>, CliError> {
    let backend = backend_of(dir, &args.vars, &args.var_files)?;
    let cred = match &backend {
        Backend::AzureRm {
            sas_token_env: None,
            ..
        } => Some(
            credential(
                AuthKind::Default,
                &AuthOptions::from_process_env(Arc::new(SystemClock)),
            )
            .map_err(CliError::user)?,
        ),
        _ => None,
    };
    open_store(dir, &backend, cred).map_err(CliError::user)
}

/// Runs `state`.
pub async fn cmd_state(ui: &mut Ui, args: &StateArgs) -> Result<ExitCode, CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match &args.command {
        StateCommand::List { dir, kind } => {
            let store = store_for(args, dir)?;
            if let Some(k) = kind
                && ResourceKind::from_name(k).is_none()
            {
                let known: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(CliError::usage(format!(
                    "--kind `{k}` is not a resource kind; use one of {}",
                    known.join(", ")
                )));
            }
            if let Some(stored) = store.read().await.map_err(state_error)? {
                for (addr, r) in &stored.state.resources {
                    if kind.as_deref().is_none_or(|k| r.kind == k) {
                        writeln!(ui.out(), "{addr}")?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { address, dir } => {
            let store = store_for(args, dir)?;
            let stored = read_existing(store.as_ref()).await?;
            let Some(r) = stored.state.resources.get(address) else {
                return Err(not_in_state(address, &stored.state, store.as_ref()));
            };
            let text = show_text(address, r);
            ui.out().write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Rm { args: words } => {
            let (addrs, dir) = split_rm_args(words);
            let store = store_for(args, &dir)?;
            let info = LockInfo::for_this_process("state rm", clock.now());
            let guard = lock_with_timeout(store.as_ref(), &info, args.lock_timeout, clock.as_ref())
                .await
                .map_err(state_error)?;
            let result = async {
                let stored = read_existing(store.as_ref()).await?;
                let mut state = stored.state.clone();
                for a in &addrs {
                    if state.resources.remove(a).is_none() {
                        return Err(not_in_state(a, &stored.state, store.as_ref()));
                    }
                }
                state.in_flight.retain(|op| !addrs.contains(&op.address));
                state.serial += 1;
                store
                    .write(&state, Some(&stored.version))
                    .await
                    .map_err(state_error)?;
                Ok(state.serial)
            }
            .await;
            guard.release().await.map_err(state_error)?;
            let serial = result?;
            for a in &addrs {
                writeln!(ui.out(), "Removed {a}")?;
            }
            writeln!(
                ui.out(),
                "Successfully removed {} resource instance(s) from state (serial {serial}); nothing was changed in Azure.",
                addrs.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Pull { dir } => {
            let store = store_for(args, dir)?;
            match store.read().await.map_err(state_error)? {
                Some(stored) => ui.out().write_all(stored.state.to_json().as_bytes())?,
                None => writeln!(ui.err(), "No state is stored in {}.", store.describe())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Push { file, dir, force } => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                CliError::user(PushError(format!("cannot read {}: {e}", file.display())))
            })?;
            let new = validate_state_document(&file.display().to_string(), &text)?;
            let store = store_for(args, dir)?;
            let info = LockInfo::for_this_process("state push", clock.now());
            let guard = lock_with_timeout(store.as_ref(), &info, args.lock_timeout, clock.as_ref())
                .await
                .map_err(state_error)?;
            let result = async {
                let current = store.read().await.map_err(state_error)?;
                if let Some(cur) = &current {
                    check_push(&cur.state, &new, *force)?;
                }
                store
                    .write(&new, current.as_ref().map(|c| &c.version))
                    .await
                    .map_err(state_error)
            }
            .await;
            guard.release().await.map_err(state_error)?;
            result?;
            writeln!(
                ui.out(),
                "Pushed {} to {} (lineage {}, serial {}).",
                file.display(),
                store.describe(),
                new.lineage,
                new.serial
            )?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Unlock { lock_id, dir } => {
            let store = store_for(args, dir)?;
            let info = store.force_unlock(lock_id).await.map_err(state_error)?;
            writeln!(
                ui.out(),
                "Unlocked {}: the lock held by {info} is released.",
                store.describe()
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `state rm ADDR... [DIR]`: the last word is the directory when it names one (an address never does).
fn split_rm_args(words: &[String]) -> (Vec<String>, PathBuf) {
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() && Path::new(last).is_dir() => {
            (rest.to_vec(), PathBuf::from(last))
        }
        _ => (words.to_vec(), PathBuf::from(".")),
    }
}

async fn read_existing(store: &dyn StateStore) -> Result<Stored, CliError> {
    store.read().await.map_err(state_error)?.ok_or_else(|| {
        CliError::user(PushError(format!(
            "no state is stored in {} yet (run apply first)",
            store.describe()
        )))
    })
}

fn not_in_state(address: &str, state: &State, store: &dyn StateStore) -> CliError {
    let near = state
        .resources
        .keys()
        .map(|k| (strsim::jaro_winkler(k, address), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    CliError::user(PushError(format!(
        "`{address}` is not in the state in {}{near}",
        store.describe()
    )))
}

/// What `state show` prints for one address.
pub fn show_text(address: &str, r: &crate::state::ResourceState) -> String {
    let mut s = format!("# {address}\n");
    s.push_str(&format!("kind          = {}\n", r.kind));
    if let Some(id) = &r.lifecycle_id {
        s.push_str(&format!("lifecycle_id  = {id}\n"));
    }
    if let Some(site) = r.active_site {
        s.push_str(&format!("active_site   = {site}\n"));
    }
    let updated = r
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    s.push_str(&format!("updated_at    = {updated}\n"));
    if !r.arm_ids.is_empty() {
        s.push_str("arm_ids:\n");
        let width = r.arm_ids.keys().map(String::len).max().unwrap_or(0);
        for (role, id) in &r.arm_ids {
            s.push_str(&format!("  {role:<width$} = {id}\n"));
        }
    }
    s.push_str("attributes:\n");
    let attrs = serde_json::to_string_pretty(&r.attributes).expect("JSON values always serialise");
    for line in attrs.lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s
}

/// A problem with the command's input (a pushed file, an address).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{0}")]
#[diagnostic(code(state::command))]
pub struct PushError(String);

const STATE_SCHEMA: &str = include_str!("../../schemas/state.schema.json");

/// Checks a state document against `schemas/state.schema.json` and parses it.
pub fn validate_state_document(origin: &str, text: &str) -> Result<State, CliError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        CliError::user(PushError(format!(
            "{origin} is not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        )))
    })?;
    let schema: serde_json::Value =
        serde_json::from_str(STATE_SCHEMA).expect("the bundled state schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the bundled state schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&doc)
        .take(10)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{} at {}", e, if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if !problems.is_empty() {
        return Err(CliError::user(PushError(format!(
            "{origin} does not match the state schema:\n  {}",
            problems.join("\n  ")
        ))));
    }
    State::from_json(origin, text).map_err(state_error)
}

/// Refuses a push that would rewrite history, unless forced.
fn check_push(current: &State, new: &State, force: bool) -> Result<(), CliError> {
    if force {
        return Ok(());
    }
    if current.lineage != new.lineage {
        return Err(CliError::user(PushError(format!(
            "the file's lineage {} differs from the stored state's {}: it is the state of another configuration (use --force to replace it anyway)",
            new.lineage, current.lineage
        ))));
    }
    if new.serial <= current.serial {
        return Err(CliError::user(PushError(format!(
            "the file's serial {} is not greater than the stored serial {}: it is older than what is stored (use --force to replace it anyway)",
            new.serial, current.serial
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rm_args_take_a_trailing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let (a, p) = split_rm_args(&["vault.dr".into(), d.clone()]);
        assert_eq!(a, ["vault.dr"]);
        assert_eq!(p, PathBuf::from(&d));
        let (a, p) = split_rm_args(&["vault.dr".into(), "protected_vm.x".into()]);
        assert_eq!(a.len(), 2);
        assert_eq!(p, PathBuf::from("."));
        let (a, _) = split_rm_args(std::slice::from_ref(&d));
        assert_eq!(a, [d], "a lone word is an address");
    }

    #[test]
    fn push_rules() {
        let cur = State::new();
        let mut same = cur.clone();
        assert!(check_push(&cur, &same, false).is_err(), "equal serial");
        same.serial = 1;
        assert!(check_push(&cur, &same, false).is_ok());
        let other = State::new();
        let e = check_push(&cur, &other, false).unwrap_err();
        assert!(e.report.to_string().contains("lineage"));
        assert!(check_push(&cur, &other, true).is_ok());
    }

    #[test]
    fn locked_maps_to_exit_3() {
        let e = state_error(StateError::Locked {
            holder: Box::new(LockInfo::for_this_process(
                "apply",
                time::OffsetDateTime::UNIX_EPOCH,
            )),
        });
        assert_eq!(e.kind, CliErrorKind::Locked);
    }
}
