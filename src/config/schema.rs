//! The block and attribute names of the configuration language.
//!
//! Owns the static schema every block is checked against (which attributes and nested blocks exist, how many labels
//! blocks take) so unknown names can be reported with "did you mean" help. Required attributes, types and defaults
//! live with the typed decoders in `config::decode`; this module knows names only.

use crate::addr::ResourceKind;

/// Names allowed inside one block.
#[derive(Debug)]
pub struct Schema {
    /// Attribute names.
    pub attrs: &'static [&'static str],
    /// Nested blocks.
    pub blocks: &'static [BlockSchema],
}

/// A nested block type.
#[derive(Debug)]
pub struct BlockSchema {
    /// Block type name.
    pub name: &'static str,
    /// Number of labels it takes.
    pub labels: usize,
    /// Its contents.
    pub schema: &'static Schema,
}

const EMPTY: &[BlockSchema] = &[];

/// Top-level block types other than resources.
pub const TOP_LEVEL: &[&str] = &["provider", "backend", "variable", "locals", "output"];

/// Meta-arguments allowed on every resource block.
pub const META_ATTRS: &[&str] = &["for_each", "depends_on"];

pub const PROVIDER_SIMULATOR: Schema = Schema {
    attrs: &["estate", "clock_speed", "page_size", "endpoint"],
    blocks: EMPTY,
};
pub const PROVIDER_AZURE: Schema = Schema {
    attrs: &[
        "subscription_id",
        "tenant_id",
        "auth",
        "client_id",
        "cloud",
        "endpoint",
    ],
    blocks: EMPTY,
};
pub const BACKEND_LOCAL: Schema = Schema {
    attrs: &["path"],
    blocks: EMPTY,
};
pub const BACKEND_AZURERM: Schema = Schema {
    attrs: &[
        "storage_account",
        "container",
        "key",
        "endpoint",
        "sas_token_env",
    ],
    blocks: EMPTY,
};

const VALIDATION: Schema = Schema {
    attrs: &["condition", "error_message"],
    blocks: EMPTY,
};
pub const VARIABLE: Schema = Schema {
    attrs: &["type", "default", "description", "sensitive"],
    blocks: &[BlockSchema {
        name: "validation",
        labels: 0,
        schema: &VALIDATION,
    }],
};
pub const OUTPUT: Schema = Schema {
    attrs: &["value", "description", "sensitive"],
    blocks: EMPTY,
};

pub const LIFECYCLE: Schema = Schema {
    attrs: &["prevent_destroy", "ignore_changes"],
    blocks: EMPTY,
};
pub const LIFECYCLE_VM: Schema = Schema {
    attrs: &["prevent_destroy", "prevent_reseed", "ignore_changes"],
    blocks: EMPTY,
};

const SUBNET: Schema = Schema {
    attrs: &["address_prefix"],
    blocks: EMPTY,
};
const DISK: Schema = Schema {
    attrs: &["target_disk_type", "replica_disk_type"],
    blocks: EMPTY,
};
const NIC: Schema = Schema {
    attrs: &[
        "target_subnet",
        "target_static_ip",
        "test_subnet",
        "test_static_ip",
    ],
    blocks: EMPTY,
};
const ACTION: Schema = Schema {
    attrs: &["type", "instructions", "script", "timeout"],
    blocks: EMPTY,
};
const GROUP: Schema = Schema {
    attrs: &["vms"],
    blocks: &[
        BlockSchema {
            name: "pre_action",
            labels: 1,
            schema: &ACTION,
        },
        BlockSchema {
            name: "post_action",
            labels: 1,
            schema: &ACTION,
        },
    ],
};

/// The schema of a resource kind (without meta-arguments).
pub fn resource(kind: ResourceKind) -> &'static Schema {
    const RG: Schema = Schema {
        attrs: &["name", "location", "subscription_id", "tags"],
        blocks: EMPTY,
    };
    const VNET: Schema = Schema {
        attrs: &[
            "name",
            "resource_group",
            "location",
            "address_space",
            "subscription_id",
            "tags",
        ],
        blocks: &[BlockSchema {
            name: "subnet",
            labels: 1,
            schema: &SUBNET,
        }],
    };
    const SA: Schema = Schema {
        attrs: &[
            "name",
            "resource_group",
            "location",
            "kind",
            "subscription_id",
            "tags",
        ],
        blocks: EMPTY,
    };
    const AVSET: Schema = Schema {
        attrs: &[
            "name",
            "resource_group",
            "location",
            "fault_domains",
            "update_domains",
            "subscription_id",
            "tags",
        ],
        blocks: EMPTY,
    };
    const VAULT: Schema = Schema {
        attrs: &[
            "name",
            "resource_group",
            "location",
            "subscription_id",
            "tags",
        ],
        blocks: EMPTY,
    };
    const POLICY: Schema = Schema {
        attrs: &[
            "vault",
            "name",
            "recovery_point_retention",
            "app_consistent_interval",
            "multi_vm_sync",
        ],
        blocks: EMPTY,
    };
    const PAIR: Schema = Schema {
        attrs: &[
            "vault",
            "source",
            "target",
            "policy",
            "agent_auto_update",
            "automation_account",
            "source_fabric_name",
            "target_fabric_name",
            "source_container_name",
            "target_container_name",
            "forward_mapping_name",
            "reverse_mapping_name",
        ],
        blocks: EMPTY,
    };
    const NETMAP: Schema = Schema {
        attrs: &[
            "region_pair",
            "source_network",
            "target_network",
            "name",
            "reverse_name",
        ],
        blocks: EMPTY,
    };
    const VM: Schema = Schema {
        attrs: &[
            "source_vm",
            "region_pair",
            "cache_storage",
            "target_resource_group",
            "target_network",
            "target_subnet",
            "target_vm_name",
            "target_vm_size",
            "target_availability_set",
            "target_zone",
            "test_network",
            "consistency_group",
        ],
        blocks: &[
            BlockSchema {
                name: "disk",
                labels: 1,
                schema: &DISK,
            },
            BlockSchema {
                name: "nic",
                labels: 1,
                schema: &NIC,
            },
        ],
    };
    const PLAN: Schema = Schema {
        attrs: &[
            "vault",
            "region_pair",
            "name",
            "active_site",
            "max_rpo",
            "max_drill_age",
        ],
        blocks: &[BlockSchema {
            name: "group",
            labels: 0,
            schema: &GROUP,
        }],
    };
    match kind {
        ResourceKind::ResourceGroup => &RG,
        ResourceKind::VirtualNetwork => &VNET,
        ResourceKind::StorageAccount => &SA,
        ResourceKind::AvailabilitySet => &AVSET,
        ResourceKind::Vault => &VAULT,
        ResourceKind::ReplicationPolicy => &POLICY,
        ResourceKind::RegionPair => &PAIR,
        ResourceKind::NetworkMapping => &NETMAP,
        ResourceKind::ProtectedVm => &VM,
        ResourceKind::RecoveryPlan => &PLAN,
    }
}

/// Every top-level block type name (for "did you mean").
pub fn top_level_names() -> impl Iterator<Item = &'static str> {
    TOP_LEVEL
        .iter()
        .copied()
        .chain(ResourceKind::ALL.iter().map(|k| k.as_str()))
}
