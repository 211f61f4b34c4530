//! Choosing the state store from the configuration's `backend` block.
//!
//! `local` maps to a [`LocalStore`] at a path relative to the configuration directory; `azurerm` maps to a
//! [`BlobStore`] authenticated by a SAS from a named environment variable or by an Entra ID credential. This module
//! only builds stores: it reads environment variables but sends no request (the blob store connects lazily) and
//! never prints.

use std::path::Path;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::config::model::Backend;
use crate::state::StateStore;
use crate::state::blob::{BlobAuth, BlobStore, BlobStoreOptions};
use crate::state::local::LocalStore;

/// Lease length of the blob lock; its heartbeat renews it every third, so a crashed holder frees it within a minute.
const LEASE_SECONDS: u32 = 60;

/// Why a backend could not be opened.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BackendError {
    /// A setting of the `backend` block is missing or wrong.
    #[error("backend \"{backend}\": {message}")]
    #[diagnostic(code(backend::config))]
    Config {
        /// `local` or `azurerm`.
        backend: &'static str,
        /// What is missing or wrong.
        message: String,
        /// How to fix it.
        #[help]
        help: Option<String>,
    },
    /// The store refused its options.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] crate::state::StateError),
}

/// Opens the state store `backend` describes for the configuration in `config_dir`, using the system clock for
/// lock heartbeats.
pub fn open_store(
    config_dir: &Path,
    backend: &Backend,
    credential: Option<Arc<dyn TokenCredential>>,
) -> Result<Box<dyn StateStore>, BackendError> {
    open_store_with(
        config_dir,
        backend,
        credential,
        Arc::new(SystemClock),
        |name| std::env::var(name).ok(),
    )
}

/// [`open_store`] with the clock and the environment lookup injected (for tests).
pub fn open_store_with(
    config_dir: &Path,
    backend: &Backend,
    credential: Option<Arc<dyn TokenCredential>>,
    clock: Arc<dyn Clock>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn StateStore>, BackendError> {
    match backend {
        Backend::Local { path } => {
            if path.as_os_str().is_empty() {
                return Err(BackendError::Config {
                    backend: "local",
                    message: "`path` is empty".into(),
                    help: Some(
                        "omit `path` to use asrform.state.json beside the configuration".into(),
                    ),
                });
            }
            Ok(Box::new(LocalStore::new(config_dir.join(path))))
        }
        Backend::AzureRm {
            storage_account,
            container,
            key,
            endpoint,
            sas_token_env,
        } => {
            let fail = |message: String, help: Option<&str>| BackendError::Config {
                backend: "azurerm",
                message,
                help: help.map(str::to_string),
            };
            for (name, value) in [
                ("storage_account", storage_account),
                ("container", container),
                ("key", key),
            ] {
                if value.trim().is_empty() {
                    return Err(fail(format!("`{name}` is empty"), None));
                }
            }
            let endpoint = endpoint
                .clone()
                .unwrap_or_else(|| format!("https://{storage_account}.blob.core.windows.net"));
            let account_url = Url::parse(&endpoint).map_err(|e| {
                fail(
                    format!("`endpoint` `{endpoint}` is not a URL: {e}"),
                    Some("write it like https://<account>.blob.core.windows.net"),
                )
            })?;
            let auth = match sas_token_env {
                Some(var) => match env(var) {
                    Some(sas) if !sas.trim().is_empty() => BlobAuth::Sas(sas.trim().to_string()),
                    _ => {
                        return Err(fail(
                            format!(
                                "`sas_token_env` names `{var}`, but that environment variable is not set"
                            ),
                            Some("export the SAS token (without the leading `?`) in that variable"),
                        ));
                    }
                },
                None => match credential {
                    Some(c) => BlobAuth::Token(c),
                    None => {
                        return Err(fail(
                            "no credential to reach the storage account".into(),
                            Some(
                                "sign in (az login, a managed identity or AZURE_CLIENT_ID/…), or set `sas_token_env`",
                            ),
                        ));
                    }
                },
            };
            let store = BlobStore::new(BlobStoreOptions {
                account_url,
                container: container.clone(),
                key: key.clone(),
                auth,
                lease_seconds: LEASE_SECONDS,
                clock,
            })?;
            Ok(Box::new(store))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn azurerm(endpoint: Option<&str>, sas_env: Option<&str>) -> Backend {
        Backend::AzureRm {
            storage_account: "acct".into(),
            container: "tfstate".into(),
            key: "prod.state".into(),
            endpoint: endpoint.map(str::to_string),
            sas_token_env: sas_env.map(str::to_string),
        }
    }

    fn open(b: &Backend, env: &[(&str, &str)]) -> Result<Box<dyn StateStore>, BackendError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        open_store_with(
            Path::new("/cfg"),
            b,
            None,
            Arc::new(SystemClock),
            move |n| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn local_paths_are_relative_to_the_config_dir() {
        let s = open(
            &Backend::Local {
                path: PathBuf::from("state/x.json"),
            },
            &[],
        )
        .unwrap();
        assert_eq!(s.describe(), "local file /cfg/state/x.json");
        let s = open(
            &Backend::Local {
                path: PathBuf::from("/abs/y.json"),
            },
            &[],
        )
        .unwrap();
        assert_eq!(s.describe(), "local file /abs/y.json");
    }

    #[test]
    fn azurerm_errors_name_the_backend_and_what_is_missing() {
        let e = open(&azurerm(None, None), &[]).unwrap_err().to_string();
        assert!(
            e.contains("backend \"azurerm\"") && e.contains("credential"),
            "{e}"
        );
        let e = open(&azurerm(None, Some("MY_SAS")), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MY_SAS") && e.contains("not set"), "{e}");
        let e = open(&azurerm(Some("not a url"), Some("S")), &[("S", "sv=1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`endpoint`"), "{e}");
        // Plain http to a remote host would send the SAS in clear text.
        let e = open(
            &azurerm(Some("http://example.com/acct"), Some("S")),
            &[("S", "sv=1")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("https"), "{e}");
    }

    #[test]
    fn azurerm_with_a_sas_opens_lazily() {
        let s = open(
            &azurerm(Some("http://127.0.0.1:1/devstoreaccount1"), Some("S")),
            &[("S", "?sv=2021&sig=x")],
        )
        .unwrap();
        assert!(s.describe().contains("tfstate"), "{}", s.describe());
        let s = open(&azurerm(None, Some("S")), &[("S", "sv=1")]).unwrap();
        assert!(
            s.describe().contains("https://acct.blob.core.windows.net"),
            "{}",
            s.describe()
        );
    }
}
