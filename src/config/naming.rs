//! asrform's naming scheme for the ARM objects a block owns, and the ARM ids derived from it.
//!
//! ASR objects that the configuration does not name explicitly (fabrics, protection containers, container and network
//! mappings, protected items) get deterministic names from this module, so the same configuration always maps to the
//! same ARM ids and the planner can find what a previous apply created. Pure string building; no I/O.
//!
//! | object | name |
//! | --- | --- |
//! | fabric of a region | `asrform-<region>` |
//! | protection container of a region | `asrform-<region>-container` |
//! | container mapping (pair label `p`, from → to) | `<p>-<from>-to-<to>` |
//! | network mapping (block label `m`, optional key) | `<m>` or `<m>-<key>` |
//! | replication protected item | the source VM's name |

/// Makes a `for_each` key usable inside an ARM name: characters other than ASCII letters, digits, `-` and `_` become
/// `-`.
pub fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `label` or `label-key` for an instance of a `for_each` block.
pub fn instance_name(label: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("{label}-{}", sanitize(k)),
        None => label.to_string(),
    }
}

/// Fabric name for a region.
pub fn fabric(region: &str) -> String {
    format!("asrform-{region}")
}

/// Protection container name for a region.
pub fn container(region: &str) -> String {
    format!("asrform-{region}-container")
}

/// Container mapping name for a region pair in one direction.
pub fn container_mapping(pair: &str, from: &str, to: &str) -> String {
    format!("{pair}-{from}-to-{to}")
}

/// `/subscriptions/<sub>/resourceGroups/<rg>`
pub fn resource_group_id(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// An ARM id of a top-level resource in a resource group.
pub fn resource_id(sub: &str, rg: &str, provider_type: &str, name: &str) -> String {
    format!(
        "{}/providers/{provider_type}/{name}",
        resource_group_id(sub, rg)
    )
}

/// The ARM id of a fabric of a vault.
pub fn fabric_id(vault_id: &str, region: &str) -> String {
    format!("{vault_id}/replicationFabrics/{}", fabric(region))
}

/// The ARM id of the protection container of a region.
pub fn container_id(vault_id: &str, region: &str) -> String {
    format!(
        "{}/replicationProtectionContainers/{}",
        fabric_id(vault_id, region),
        container(region)
    )
}

/// The ARM id of a container mapping.
pub fn container_mapping_id(vault_id: &str, pair: &str, from: &str, to: &str) -> String {
    format!(
        "{}/replicationProtectionContainerMappings/{}",
        container_id(vault_id, from),
        container_mapping(pair, from, to)
    )
}

/// The ARM id of a network mapping from a source VNet.
pub fn network_mapping_id(
    vault_id: &str,
    source_region: &str,
    source_vnet_name: &str,
    name: &str,
) -> String {
    format!(
        "{}/replicationNetworks/{source_vnet_name}/replicationNetworkMappings/{name}",
        fabric_id(vault_id, source_region)
    )
}

/// The ARM id of a protected item (it changes after reprotect; identity is ASR's `lifecycleId`).
pub fn protected_item_id(vault_id: &str, source_region: &str, vm_name: &str) -> String {
    format!(
        "{}/replicationProtectedItems/{vm_name}",
        container_id(vault_id, source_region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_asr_hierarchy() {
        let vault = resource_id("s", "rg", "Microsoft.RecoveryServices/vaults", "v");
        assert_eq!(
            vault,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
        );
        assert_eq!(
            container_mapping_id(&vault, "p", "eastus", "westus2"),
            format!(
                "{vault}/replicationFabrics/asrform-eastus/replicationProtectionContainers/asrform-eastus-container/replicationProtectionContainerMappings/p-eastus-to-westus2"
            )
        );
        assert_eq!(instance_name("m", Some("a b/c")), "m-a-b-c");
    }
}
