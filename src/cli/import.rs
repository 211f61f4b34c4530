//! `asrform import`: adopt a live vault into configuration files and state, read-only on the cloud.
//!
//! The provider is the one the `--from` directory's provider block names (by default the current directory, e.g.
//! its simulator), or Azure with `--subscription` (and `--auth`). The generated files go to `--out` (default: the
//! `--from` directory, which with the simulator keeps the imported files next to the simulator's world); the state
//! goes where the generated configuration's backend says (the local state file). Existing files and an existing
//! state are refused unless `--force`. Thin: the library reads, generates and adopts; this prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::ConfigArgs;
use super::error::CliError;
use super::session::{self, Session};
use super::ui::Ui;
use crate::config::{self, Provider};
use crate::import::{self, ImportOptions, SplitBy};
use crate::provider::ArmId;

/// Flags of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// ARM id of the Recovery Services vault to import.
    #[arg(long, value_name = "VAULT_ID")]
    pub vault: String,
    /// Directory whose provider block to read from (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub from: PathBuf,
    /// Where to write the files and the state (default: the --from directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only VMs whose name matches this glob (e.g. 'web*').
    #[arg(long, value_name = "GLOB")]
    pub include: Option<String>,
    /// How to split the generated files.
    #[arg(long, value_enum, default_value_t = SplitBy::RecoveryPlan)]
    pub split_by: SplitBy,
    /// Overwrite existing files and state.
    #[arg(long)]
    pub force: bool,
    /// Read from Azure in this subscription instead of the --from directory's provider.
    #[arg(long, value_name = "ID")]
    pub subscription: Option<String>,
    /// Credential for --subscription (default, cli, azd, managed_identity, workload_identity, client_secret).
    #[arg(
        long,
        value_name = "KIND",
        default_value = "default",
        requires = "subscription"
    )]
    pub auth: String,
    /// VMs of one shape at least this many become a `for_each` over a CSV inventory.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub csv_threshold: usize,
}

fn provider_block(p: &Provider, from: &Path, out: &Path) -> String {
    match p {
        Provider::Simulator { estate, .. } => {
            let path = if estate.value.is_absolute() {
                estate.value.clone()
            } else {
                from.join(&estate.value)
            };
            // Same directory: keep the path as written; otherwise an absolute path still finds the estate.
            let shown = if same_dir(from, out) {
                estate.value.display().to_string()
            } else {
                std::fs::canonicalize(&path)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            };
            format!(
                "provider \"simulator\" {{\n  estate = {}\n}}",
                quote(&shown)
            )
        }
        Provider::Azure {
            subscription_id,
            auth,
            ..
        } => azure_block(&subscription_id.value, auth_name(*auth)),
    }
}

fn azure_block(sub: &str, auth: &str) -> String {
    format!(
        "provider \"azure\" {{\n  subscription_id = {}\n  auth = {}\n}}",
        quote(sub),
        quote(auth)
    )
}

fn auth_name(a: config::AzureAuth) -> &'static str {
    use config::AzureAuth as A;
    match a {
        A::Default => "default",
        A::Cli => "cli",
        A::Azd => "azd",
        A::ManagedIdentity => "managed_identity",
        A::WorkloadIdentity => "workload_identity",
        A::ClientSecret => "client_secret",
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn default_subscription(p: &Provider, vault: &ArmId) -> Option<String> {
    match p {
        Provider::Azure {
            subscription_id, ..
        } => Some(subscription_id.value.clone()),
        // The simulator's default is its estate's first subscription; the vault's is the best stand-in here.
        Provider::Simulator { .. } => vault.subscription().map(str::to_string),
    }
}

/// Runs `asrform import`.
pub async fn cmd_import(ui: &mut Ui, args: &ImportArgs) -> Result<ExitCode, CliError> {
    let vault = ArmId::parse(&args.vault)
        .map_err(|e| CliError::usage(format!("--vault `{}` is not an ARM id: {e}", args.vault)))?;
    let out = args.out.clone().unwrap_or_else(|| args.from.clone());

    // With --subscription the provider block is ours: stage it in a scratch directory to open the session.
    let scratch = args
        .subscription
        .as_ref()
        .map(|_| std::env::temp_dir().join(format!("asrform-import-{}", std::process::id())));
    let from = match (&args.subscription, &scratch) {
        (Some(sub), Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::usage(e.to_string()))?;
            std::fs::write(dir.join("provider.asr.hcl"), azure_block(sub, &args.auth))
                .map_err(|e| CliError::usage(e.to_string()))?;
            dir.clone()
        }
        _ => args.from.clone(),
    };
    let session = Session::open(&ConfigArgs {
        dir: from.clone(),
        vars: Vec::new(),
        var_files: Vec::new(),
    })?;
    let provider = session.config().provider.value.clone();

    let result = async {
        let snap = import::io::read(&session.client, &vault)
            .await
            .map_err(CliError::user)?;
        let mut opts = ImportOptions::new(vault.clone(), provider_block(&provider, &from, &out));
        opts.include = args.include.clone();
        opts.split_by = args.split_by;
        opts.default_subscription = default_subscription(&provider, &vault);
        opts.csv_threshold = args.csv_threshold.max(1);
        // A directory that already holds other configuration files keeps its own provider block.
        let mut generated = import::generate(&snap, &opts).map_err(CliError::user)?;
        let others = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .any(|n| n.ends_with(".asr.hcl") && !generated.files.contains_key(&n));
        if others {
            opts.provider_block = String::new();
            generated = import::generate(&snap, &opts).map_err(CliError::user)?;
        }
        // Refuse an existing state before writing anything.
        let state_path = out.join("asrform.tfstate.json");
        if !args.force && (state_path.exists() || out.join("asrform.state.json").exists()) {
            return Err(CliError::usage(format!(
                "a state file already exists in {}; pass --force to replace it",
                out.display()
            )));
        }
        let written = import::io::write(&out, &generated, args.force).map_err(CliError::user)?;
        let loaded = config::load(&out, &Default::default()).map_err(CliError::user)?;
        let store = session::state_store(&out, &loaded.config, None)?;
        let mut state = import::adopt(&loaded.config, &snap, session.now());
        let existing = store.read().await.map_err(CliError::user)?;
        if let Some(s) = &existing {
            state.lineage = s.state.lineage.clone();
            state.serial = s.state.serial + 1;
        }
        store
            .write(&state, existing.as_ref().map(|s| &s.version))
            .await
            .map_err(CliError::user)?;
        Ok((written, generated.warnings, state.resources.len()))
    }
    .await;
    session.close()?;
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (written, warnings, count) = result?;
    for p in &written {
        writeln!(ui.out(), "wrote {}", p.display())?;
    }
    for w in &warnings {
        writeln!(ui.err(), "warning: {w}")?;
    }
    writeln!(
        ui.out(),
        "Imported {count} resources into state. `asrform plan` on {} should show no changes.",
        out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
