//! State: what asrform last applied, and the stores that keep it safe between runs.
//!
//! [`State`] records the state lineage and serial, every managed address with its ARM ids and ASR lifecycle id, the
//! attributes last applied, the active site per VM and recovery plan, and operations that were in flight when the
//! state was written (so a re-run after a crash adopts them instead of repeating them). [`StateStore`] is the
//! one trait behind the local-file store and (later) the Azure Blob store; `conformance` holds the tests every store
//! must pass. This module must not call the cloud or decide what to change: that is `plan` and `apply`.

pub mod blob;
pub mod conformance;
pub mod local;
pub mod memory;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::Clock;

/// Version of the state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Which side of a region pair is running the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    /// The source region (before failover, or after failback).
    #[default]
    Primary,
    /// The target region (after failover).
    Recovery,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Site::Primary => "primary",
            Site::Recovery => "recovery",
        })
    }
}

/// The whole state document (`schemas/state.schema.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Must equal [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Identity of this state's history, fixed when the state is created; a saved plan from another lineage never
    /// applies.
    pub lineage: String,
    /// Incremented on every write; a saved plan from an older serial is stale.
    pub serial: u64,
    /// The asrform version that wrote it.
    pub asrform_version: String,
    /// Managed objects by address (`protected_vm.web["web01"]`).
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    /// Operations started but not known to be finished when this state was written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight: Vec<InFlight>,
}

/// What is known about one managed address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    /// Block kind (`protected_vm`, `vault`, …).
    pub kind: String,
    /// The ARM ids the address owns, by role (`"id"` for the main object; `"source_fabric"`, `"forward_mapping"`, …
    /// for a region pair's several objects).
    #[serde(default)]
    pub arm_ids: BTreeMap<String, String>,
    /// ASR's `lifecycleId` for a protected VM: its identity across reprotect, when its ARM id changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_id: Option<String>,
    /// The attributes as last applied (the desired values that were sent), for drift detection.
    #[serde(default)]
    pub attributes: serde_json::Value,
    /// For protected VMs and recovery plans: which site is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<Site>,
    /// When the address was last changed by asrform.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An operation recorded before it was started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InFlight {
    /// The address it acts on.
    pub address: String,
    /// What it does (`create`, `enable_protection`, `failover`, …).
    pub operation: String,
    /// The URL to poll (Azure-AsyncOperation / Location) or the ASR job id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}

impl State {
    /// A new, empty state with a fresh lineage.
    pub fn new() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            lineage: new_lineage(),
            serial: 0,
            asrform_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: BTreeMap::new(),
            in_flight: Vec::new(),
        }
    }

    /// Parses a state document, checking its version; `origin` names it in errors.
    pub fn from_json(origin: &str, text: &str) -> Result<Self, StateError> {
        let state: State = serde_json::from_str(text).map_err(|e| StateError::Corrupt {
            origin: origin.to_string(),
            message: format!("{e} (line {}, column {})", e.line(), e.column()),
        })?;
        if state.format_version != FORMAT_VERSION {
            return Err(StateError::Corrupt {
                origin: origin.to_string(),
                message: format!(
                    "format_version {} is not supported by this build (it reads {FORMAT_VERSION})",
                    state.format_version
                ),
            });
        }
        if state.lineage.trim().is_empty() {
            return Err(StateError::Corrupt {
                origin: origin.to_string(),
                message: "lineage is empty".into(),
            });
        }
        Ok(state)
    }

    /// The document as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("state always serialises") + "\n"
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// A random lineage in UUID v4 form.
pub fn new_lineage() -> String {
    let mut b: [u8; 16] = rand::thread_rng().r#gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An opaque version of the stored document (the serial and a content hash for files, the ETag for blobs); writes
/// are conditional on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(pub String);

/// A state as read, with the version to make the next write conditional on.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The document.
    pub state: State,
    /// Its version.
    pub version: Version,
}

/// Who holds (or asks for) the lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Lock id, for `asrform state unlock ID`.
    pub id: String,
    /// OS user.
    pub who: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// What the holder is doing (`apply`, `plan`, `state push`).
    pub operation: String,
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl LockInfo {
    /// Holder info for this process doing `operation` at `now`.
    pub fn for_this_process(operation: &str, now: OffsetDateTime) -> Self {
        Self {
            id: new_lineage(),
            who: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            operation: operation.to_string(),
            created: now,
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let created = self
            .created
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.created.to_string());
        write!(
            f,
            "{}@{} (pid {}) since {created}, operation: {}, lock id {}",
            self.who, self.host, self.pid, self.operation, self.id
        )
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// A held lock. Call [`LockGuard::release`]; dropping it also releases, as well as a synchronous drop can (the
/// blob store's release is a request, started but not awaited on drop).
#[async_trait::async_trait]
pub trait LockGuard: Send + fmt::Debug {
    /// Releases the lock and waits until the store confirms it.
    async fn release(self: Box<Self>) -> Result<(), StateError>;
    /// The holder info recorded with the lock.
    fn info(&self) -> &LockInfo;
    /// A stale lock this acquisition replaced (its holder stopped without releasing), if any.
    fn replaced(&self) -> Option<&LockInfo>;
    /// Stops holding without cleaning up, exactly as a killed process would (the lock record stays behind). Tests
    /// use it to prove stale locks are recovered.
    fn abandon(self: Box<Self>);
}

/// Problems with state and its stores.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// The stored document is unreadable or of an unknown version.
    #[error("state in {origin} is not valid: {message}")]
    #[diagnostic(
        code(state::corrupt),
        help("the previous version is kept beside it as a .backup file")
    )]
    Corrupt {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Someone else holds the lock.
    #[error("state is locked by {holder}")]
    #[diagnostic(
        code(state::locked),
        help("wait for it to finish, retry with --lock-timeout, or if that process is gone run `asrform state unlock {}`", holder.id)
    )]
    Locked {
        /// The current holder.
        holder: Box<LockInfo>,
    },
    /// The state changed since it was read (another writer, or a stale serial).
    #[error("state in {origin} changed since it was read (expected {expected}, found {found})")]
    #[diagnostic(
        code(state::conflict),
        help("re-run the command so it starts from the current state")
    )]
    Conflict {
        /// Where.
        origin: String,
        /// The version the writer expected.
        expected: String,
        /// The version found.
        found: String,
    },
    /// `state unlock ID` named a lock that is not the current one, or one whose holder is still alive.
    #[error("cannot unlock: {message}")]
    #[diagnostic(code(state::unlock))]
    Unlock {
        /// Why.
        message: String,
    },
    /// The store could not be reached or written.
    #[error("state store {origin}: {message}")]
    #[diagnostic(code(state::io))]
    Io {
        /// Which store / path.
        origin: String,
        /// What failed.
        message: String,
    },
}

/// Where state lives; the local file and Azure Blob stores implement it, and both pass `conformance`.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Reads the current state, `None` when none has been written yet.
    async fn read(&self) -> Result<Option<Stored>, StateError>;
    /// Writes `state` if the stored version still equals `expected` (`None`: only if nothing is stored yet), keeping
    /// the previous version as a backup. Returns the new version.
    async fn write(&self, state: &State, expected: Option<&Version>)
    -> Result<Version, StateError>;
    /// Tries once to take the lock.
    async fn try_lock(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError>;
    /// Removes the lock with id `id`, only if its holder is gone (`state unlock`).
    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError>;
    /// A short description for messages (`local file ./asrform.state.json`).
    fn describe(&self) -> String;
}

/// Takes the lock, retrying with doubling delays (1 s, 2 s, … 16 s) on the `clock` until `timeout` has passed; the
/// final error names the holder. A zero timeout tries once (Terraform's `-lock-timeout=0s`).
pub async fn lock_with_timeout(
    store: &dyn StateStore,
    info: &LockInfo,
    timeout: Duration,
    clock: &dyn Clock,
) -> Result<Box<dyn LockGuard>, StateError> {
    let start = clock.now();
    let mut delay = Duration::from_secs(1);
    loop {
        match store.try_lock(info).await {
            Err(StateError::Locked { holder }) => {
                let waited: Duration = (clock.now() - start).try_into().unwrap_or_default();
                if waited >= timeout {
                    return Err(StateError::Locked { holder });
                }
                clock.sleep(delay.min(timeout - waited)).await;
                delay = (delay * 2).min(Duration::from_secs(16));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_is_a_uuid_v4() {
        let l = new_lineage();
        assert_eq!(l.len(), 36);
        assert_eq!(&l[14..15], "4");
        assert_ne!(l, new_lineage());
    }

    #[test]
    fn state_round_trips_and_rejects_bad_documents() {
        let mut s = State::new();
        s.resources.insert(
            "protected_vm.web[\"web01\"]".into(),
            ResourceState {
                kind: "protected_vm".into(),
                arm_ids: BTreeMap::from([("id".into(), "/subscriptions/x/rpi".into())]),
                lifecycle_id: Some("abc".into()),
                attributes: serde_json::json!({"target_vm_size": "Standard_D2s_v5"}),
                active_site: Some(Site::Primary),
                updated_at: OffsetDateTime::UNIX_EPOCH,
            },
        );
        assert_eq!(State::from_json("t", &s.to_json()).unwrap(), s);
        let wrong_version = s
            .to_json()
            .replace("\"format_version\": 1", "\"format_version\": 9");
        assert!(
            matches!(State::from_json("t", &wrong_version), Err(StateError::Corrupt { message, .. }) if message.contains("format_version 9"))
        );
        assert!(matches!(
            State::from_json("t", "{"),
            Err(StateError::Corrupt { .. })
        ));
        let unknown = s.to_json().replacen("{", "{\"surprise\": 1,", 1);
        assert!(
            State::from_json("t", &unknown).is_err(),
            "unknown fields are refused, not dropped"
        );
    }
}
