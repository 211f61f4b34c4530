//! The I/O edge of import: reading the vault and the objects its protected items point at (read-only: only GETs
//! through the ARM client's snapshot reader), and writing the generated files without clobbering existing ones.
//!
//! It must not generate anything (that is [`super::generate`]) and never sends a write request to the cloud.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Generated, ImportError};
use crate::provider::ArmId;
use crate::provider::arm::ArmClient;
use crate::provider::arm::snapshot;
use crate::provider::model::{Snapshot, SnapshotRequest};

fn rg_of(id: &str) -> Option<ArmId> {
    let a = ArmId::parse(id).ok()?;
    ArmId::parse(&crate::config::naming::resource_group_id(
        a.subscription()?,
        a.resource_group()?,
    ))
    .ok()
}

/// Reads the vault, then the resource groups of the target resource groups, networks, cache storage accounts and
/// availability sets its protected items and network mappings use (vault-scope and resource-group list calls, so
/// the request count grows with pages, not VMs).
pub async fn read(client: &ArmClient, vault: &ArmId) -> Result<Snapshot, ImportError> {
    let mut snap = snapshot::read(
        client,
        &SnapshotRequest {
            vaults: vec![vault.clone()],
            resource_groups: Vec::new(),
            subscriptions: Vec::new(),
            ..Default::default()
        },
    )
    .await?;
    let mut groups: BTreeSet<ArmId> = BTreeSet::new();
    groups.extend(rg_of(vault.as_str()));
    for i in snap.protected_items.values() {
        for id in [
            &i.target_resource_group_id,
            &i.target_network_id,
            &i.tfo_network_id,
            &i.target_availability_set_id,
        ]
        .into_iter()
        .flatten()
        {
            groups.extend(rg_of(id));
        }
        for d in &i.disks {
            groups.extend(d.staging_account_id.as_deref().and_then(rg_of));
        }
    }
    for m in snap.network_mappings.values() {
        groups.extend(
            m.recovery_network_id
                .as_ref()
                .and_then(|n| rg_of(n.as_str())),
        );
    }
    let more = snapshot::read(
        client,
        &SnapshotRequest {
            vaults: Vec::new(),
            resource_groups: groups.into_iter().collect(),
            subscriptions: Vec::new(),
            ..Default::default()
        },
    )
    .await?;
    snap.merge(more);
    Ok(snap)
}

/// Writes the generated files into `dir` (created if needed). Refuses, before writing anything, when one of them
/// exists and `force` is false. Returns the paths written.
pub fn write(dir: &Path, generated: &Generated, force: bool) -> Result<Vec<PathBuf>, ImportError> {
    let paths: Vec<(PathBuf, &String)> = generated
        .files
        .iter()
        .map(|(n, t)| (dir.join(n), t))
        .collect();
    if !force && let Some((p, _)) = paths.iter().find(|(p, _)| p.exists()) {
        return Err(ImportError::Exists(p.display().to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|source| ImportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (p, t) in paths {
        std::fs::write(&p, t).map_err(|source| ImportError::Write {
            path: p.display().to_string(),
            source,
        })?;
        out.push(p);
    }
    Ok(out)
}
