//! Resource addresses: `kind.name` or `kind.name["key"]`, the key of every map of resources in the crate.
//!
//! Owns the closed list of resource kinds ([`ResourceKind`]), the address syntax and its ordering. It must not know
//! anything about a resource's attributes, ARM ids or state: an address only names a block instance of the
//! configuration.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The resource block kinds of the configuration language, in the implicit ASR dependency order of `asr-api.md` §1
/// (a kind never depends implicitly on a kind listed after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// `resource_group`: a target resource group.
    ResourceGroup,
    /// `virtual_network`: a target (or test-failover) virtual network with its subnets.
    VirtualNetwork,
    /// `storage_account`: the cache (staging) storage account in the source region.
    StorageAccount,
    /// `availability_set`: a target availability set.
    AvailabilitySet,
    /// `vault`: the Recovery Services vault.
    Vault,
    /// `replication_policy`: an A2A replication policy.
    ReplicationPolicy,
    /// `region_pair`: both fabrics, both protection containers and both container mappings.
    RegionPair,
    /// `network_mapping`: forward and reverse network mappings.
    NetworkMapping,
    /// `protected_vm`: one replication protected item.
    ProtectedVm,
    /// `recovery_plan`: a recovery plan.
    RecoveryPlan,
}

impl ResourceKind {
    /// Every kind, in dependency order.
    pub const ALL: [ResourceKind; 10] = [
        Self::ResourceGroup,
        Self::VirtualNetwork,
        Self::StorageAccount,
        Self::AvailabilitySet,
        Self::Vault,
        Self::ReplicationPolicy,
        Self::RegionPair,
        Self::NetworkMapping,
        Self::ProtectedVm,
        Self::RecoveryPlan,
    ];

    /// The block type name as written in HCL (`protected_vm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceGroup => "resource_group",
            Self::VirtualNetwork => "virtual_network",
            Self::StorageAccount => "storage_account",
            Self::AvailabilitySet => "availability_set",
            Self::Vault => "vault",
            Self::ReplicationPolicy => "replication_policy",
            Self::RegionPair => "region_pair",
            Self::NetworkMapping => "network_mapping",
            Self::ProtectedVm => "protected_vm",
            Self::RecoveryPlan => "recovery_plan",
        }
    }

    /// The kind named by a block type, if it is a resource kind.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address of one resource instance: `protected_vm.web` or `protected_vm.web["vm01"]`.
///
/// Ordering is by kind (dependency order), then name, then key (an unkeyed address sorts before keyed ones), so a
/// sorted map of addresses lists resources in a stable, readable order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddr {
    /// The block kind.
    pub kind: ResourceKind,
    /// The block label.
    pub name: String,
    /// The `for_each` key, for an instance of a `for_each` block.
    pub key: Option<String>,
}

impl ResourceAddr {
    /// An address without a key.
    pub fn new(kind: ResourceKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            key: None,
        }
    }

    /// An address of a `for_each` instance.
    pub fn keyed(kind: ResourceKind, name: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            key: Some(key.into()),
        }
    }

    /// The address of the block this instance belongs to (the address without its key).
    pub fn block(&self) -> ResourceAddr {
        Self {
            kind: self.kind,
            name: self.name.clone(),
            key: None,
        }
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        f.write_str(".")?;
        f.write_str(&self.name)?;
        if let Some(key) = &self.key {
            f.write_str("[\"")?;
            // Runs without a quote or backslash are written whole (addresses are formatted 10,000s of times a plan).
            let mut rest = key.as_str();
            while let Some(i) = rest.find(['"', '\\']) {
                f.write_str(&rest[..i])?;
                f.write_str(if rest.as_bytes()[i] == b'"' {
                    "\\\""
                } else {
                    "\\\\"
                })?;
                rest = &rest[i + 1..];
            }
            f.write_str(rest)?;
            f.write_str("\"]")?;
        }
        Ok(())
    }
}

/// Why a string is not a resource address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("`{input}` is not a resource address: {reason}")]
#[diagnostic(
    code(addr::invalid),
    help("addresses look like `protected_vm.web` or `protected_vm.web[\"vm01\"]`")
)]
pub struct AddrParseError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl FromStr for ResourceAddr {
    type Err = AddrParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| AddrParseError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (kind, rest) = input
            .split_once('.')
            .ok_or_else(|| err("expected `kind.name`"))?;
        let kind = ResourceKind::from_name(kind).ok_or_else(|| err("unknown resource kind"))?;
        let (name, key) = match rest.find('[') {
            None => (rest, None),
            Some(open) => {
                let inner = rest[open + 1..]
                    .strip_suffix(']')
                    .ok_or_else(|| err("missing `]`"))?;
                let quoted = inner
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .filter(|s| !s.is_empty() || inner.len() == 2)
                    .ok_or_else(|| err("the key must be a quoted string"))?;
                let mut key = String::with_capacity(quoted.len());
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => key.push(chars.next().ok_or_else(|| err("dangling `\\` in key"))?),
                        '"' => return Err(err("unescaped `\"` in key")),
                        c => key.push(c),
                    }
                }
                (&rest[..open], Some(key))
            }
        };
        if !is_ident(name) {
            return Err(err("the name must be an identifier"));
        }
        Ok(Self {
            kind,
            name: name.to_string(),
            key,
        })
    }
}

impl Serialize for ResourceAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_plain_and_keyed() {
        for text in [
            "vault.dr",
            "protected_vm.web[\"vm01\"]",
            "protected_vm.web[\"a \\\"q\\\" b\"]",
        ] {
            let addr: ResourceAddr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
        }
        let addr: ResourceAddr = "protected_vm.web[\"vm01\"]".parse().unwrap();
        assert_eq!(
            addr,
            ResourceAddr::keyed(ResourceKind::ProtectedVm, "web", "vm01")
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        for text in [
            "vault",
            "nope.x",
            "vault.",
            "vault.x[vm]",
            "vault.x[\"a\"",
            "vault.1x",
            "vault.x[\"a\"b\"]",
        ] {
            assert!(
                text.parse::<ResourceAddr>().is_err(),
                "{text} should not parse"
            );
        }
    }

    #[test]
    fn orders_by_kind_then_name_then_key() {
        let mut addrs: Vec<ResourceAddr> = [
            "recovery_plan.a",
            "vault.z",
            "protected_vm.w[\"b\"]",
            "protected_vm.w",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        addrs.sort();
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "vault.z",
                "protected_vm.w",
                "protected_vm.w[\"b\"]",
                "recovery_plan.a"
            ]
        );
    }

    #[test]
    fn serialises_as_a_string() {
        let addr = ResourceAddr::keyed(ResourceKind::ProtectedVm, "web", "vm01");
        let json = serde_json::to_string(&addr).unwrap();
        assert_eq!(json, r#""protected_vm.web[\"vm01\"]""#);
        let back: ResourceAddr = serde_json::from_str(&json).unwrap();
        assert_eq!(back, addr);
    }
}
