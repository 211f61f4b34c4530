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
//!
//! A `region_pair` may name its fabrics, containers and container mappings explicitly (and a `network_mapping` its
//! two mappings), to adopt objects built by the portal, PowerShell or an SDK; [`PairNames`] carries the resolved
//! names, and every id of a pair's objects is built from it, so the defaults above are only its starting point.

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

/// Why `name` cannot name an ASR object, if it cannot. ARM puts the name into a URL path segment unescaped, so it
/// must be non-empty, at most 260 characters, free of whitespace, control characters and `<>*%&:\?/+#"`, and must
/// not end with `.` (ARM trims it).
pub fn check_name(name: &str) -> Result<(), String> {
    const BAD: &str = "<>*%&:\\?/+#\"";
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > 260 {
        return Err("must be at most 260 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || BAD.contains(*c))
    {
        return Err(format!(
            "must not contain {c:?} (ARM names exclude whitespace and <>*%&:\\?/+#\")"
        ));
    }
    if name.ends_with('.') {
        return Err("must not end with `.`".into());
    }
    Ok(())
}

/// The names of the ASR objects one region pair owns: a fabric and a protection container per region, and the
/// container mapping in each direction. Ids of everything under them (network mappings, protected items) are built
/// from these names too, so no code derives a fabric or container name on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairNames {
    /// Fabric of the source region.
    pub source_fabric: String,
    /// Fabric of the target region.
    pub target_fabric: String,
    /// Protection container of the source region.
    pub source_container: String,
    /// Protection container of the target region.
    pub target_container: String,
    /// Container mapping source → target (in the source container).
    pub forward_mapping: String,
    /// Container mapping target → source (in the target container).
    pub reverse_mapping: String,
}

impl PairNames {
    /// asrform's names for pair instance `pair` (label or `label-key`) from `source` to `target`.
    pub fn defaults(pair: &str, source: &str, target: &str) -> Self {
        Self {
            source_fabric: fabric(source),
            target_fabric: fabric(target),
            source_container: container(source),
            target_container: container(target),
            forward_mapping: container_mapping(pair, source, target),
            reverse_mapping: container_mapping(pair, target, source),
        }
    }

    /// The attributes of a `region_pair` block that set each name, with the name (same order as the fields).
    pub fn attributes(&self) -> [(&'static str, &str); 6] {
        [
            ("source_fabric_name", &self.source_fabric),
            ("target_fabric_name", &self.target_fabric),
            ("source_container_name", &self.source_container),
            ("target_container_name", &self.target_container),
            ("forward_mapping_name", &self.forward_mapping),
            ("reverse_mapping_name", &self.reverse_mapping),
        ]
    }

    /// Sets the name of attribute `attr` (one of [`PairNames::attributes`]); false for another attribute.
    pub fn set(&mut self, attr: &str, name: String) -> bool {
        let slot = match attr {
            "source_fabric_name" => &mut self.source_fabric,
            "target_fabric_name" => &mut self.target_fabric,
            "source_container_name" => &mut self.source_container,
            "target_container_name" => &mut self.target_container,
            "forward_mapping_name" => &mut self.forward_mapping,
            "reverse_mapping_name" => &mut self.reverse_mapping,
            _ => return false,
        };
        *slot = name;
        true
    }

    /// ARM id of the source fabric.
    pub fn source_fabric_id(&self, vault_id: &str) -> String {
        format!("{vault_id}/replicationFabrics/{}", self.source_fabric)
    }

    /// ARM id of the target fabric.
    pub fn target_fabric_id(&self, vault_id: &str) -> String {
        format!("{vault_id}/replicationFabrics/{}", self.target_fabric)
    }

    /// ARM id of the source protection container.
    pub fn source_container_id(&self, vault_id: &str) -> String {
        format!(
            "{}/replicationProtectionContainers/{}",
            self.source_fabric_id(vault_id),
            self.source_container
        )
    }

    /// ARM id of the target protection container.
    pub fn target_container_id(&self, vault_id: &str) -> String {
        format!(
            "{}/replicationProtectionContainers/{}",
            self.target_fabric_id(vault_id),
            self.target_container
        )
    }

    /// ARM id of the forward container mapping (the region pair's own id).
    pub fn forward_mapping_id(&self, vault_id: &str) -> String {
        format!(
            "{}/replicationProtectionContainerMappings/{}",
            self.source_container_id(vault_id),
            self.forward_mapping
        )
    }

    /// ARM id of the reverse container mapping.
    pub fn reverse_mapping_id(&self, vault_id: &str) -> String {
        format!(
            "{}/replicationProtectionContainerMappings/{}",
            self.target_container_id(vault_id),
            self.reverse_mapping
        )
    }

    /// ARM id of network mapping `name` from source VNet `vnet` (source → target).
    pub fn network_mapping_id(&self, vault_id: &str, vnet: &str, name: &str) -> String {
        format!(
            "{}/replicationNetworks/{vnet}/replicationNetworkMappings/{name}",
            self.source_fabric_id(vault_id)
        )
    }

    /// ARM id of reverse network mapping `name` from target VNet `vnet` (target → source).
    pub fn reverse_network_mapping_id(&self, vault_id: &str, vnet: &str, name: &str) -> String {
        format!(
            "{}/replicationNetworks/{vnet}/replicationNetworkMappings/{name}",
            self.target_fabric_id(vault_id)
        )
    }

    /// ARM id of the protected item of source VM `vm_name` (before any reprotect).
    pub fn protected_item_id(&self, vault_id: &str, vm_name: &str) -> String {
        // Built in one string of the final size: this runs for every VM of a configuration, and the nested
        // `format!`s of the container and fabric ids were three allocations and copies each.
        let parts = [
            vault_id,
            "/replicationFabrics/",
            &self.source_fabric,
            "/replicationProtectionContainers/",
            &self.source_container,
            "/replicationProtectedItems/",
            vm_name,
        ];
        let mut id = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| id.push_str(p));
        id
    }
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

/// The ARM id of a fabric of a vault under asrform's default name. Code that has a region pair must use its
/// [`PairNames`] instead (the pair may name its fabrics explicitly).
pub fn fabric_id(vault_id: &str, region: &str) -> String {
    format!("{vault_id}/replicationFabrics/{}", fabric(region))
}

/// The ARM id of the protection container of a region under asrform's default names (see [`fabric_id`]).
pub fn container_id(vault_id: &str, region: &str) -> String {
    format!(
        "{}/replicationProtectionContainers/{}",
        fabric_id(vault_id, region),
        container(region)
    )
}

/// The ARM id of a container mapping under asrform's default names (see [`fabric_id`]).
pub fn container_mapping_id(vault_id: &str, pair: &str, from: &str, to: &str) -> String {
    format!(
        "{}/replicationProtectionContainerMappings/{}",
        container_id(vault_id, from),
        container_mapping(pair, from, to)
    )
}

/// The ARM id of a network mapping from a source VNet under asrform's default fabric name (see [`fabric_id`]).
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

/// The ARM id of a protected item under asrform's default names (see [`fabric_id`]; it changes after reprotect;
/// identity is ASR's `lifecycleId`).
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

    #[test]
    fn default_pair_names_give_the_region_based_ids() {
        let v = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v";
        let n = PairNames::defaults("p", "eastus", "westus2");
        assert_eq!(
            n.forward_mapping_id(v),
            container_mapping_id(v, "p", "eastus", "westus2")
        );
        assert_eq!(
            n.reverse_mapping_id(v),
            container_mapping_id(v, "p", "westus2", "eastus")
        );
        assert_eq!(
            n.protected_item_id(v, "vm"),
            protected_item_id(v, "eastus", "vm")
        );
        assert_eq!(
            n.reverse_network_mapping_id(v, "net", "m"),
            network_mapping_id(v, "westus2", "net", "m")
        );
        let mut named = n.clone();
        assert!(named.set("source_fabric_name", "asr-a2a-default-eastus".into()));
        assert!(!named.set("source", "x".into()));
        assert!(
            named
                .source_container_id(v)
                .contains("/replicationFabrics/asr-a2a-default-eastus/")
        );
    }

    #[test]
    fn names_follow_arm_rules() {
        assert!(check_name("asr-a2a-default-eastus-container").is_ok());
        assert!(check_name("eastus-westus2-24-hour-retention-policy").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("abc.").is_err());
        assert!(check_name(&"x".repeat(261)).is_err());
    }
}
