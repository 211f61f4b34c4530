//! Shared setup of the import tests: a vault built on the in-process simulator with raw ARM client calls (not
//! asrform's apply), the way a team that protected VMs with scripts would have built it.

#![allow(dead_code)]

use std::collections::BTreeMap;

use asrform::config::naming as n;
use asrform::provider::ArmId;
use asrform::provider::arm::{ArmClient, wire};
use asrform::sim::Simulator;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

pub fn id(s: &str) -> ArmId {
    ArmId::parse(s).unwrap()
}

/// One VM to protect.
pub struct VmSpec {
    pub name: String,
    pub source_rg: &'static str,
    pub size: Option<String>,
    pub group: Option<String>,
    pub disk_type: String,
}

/// The vault's shape.
pub struct VaultSpec {
    pub rg: &'static str,
    pub vault: &'static str,
    pub pair: &'static str,
    pub cache_rg: &'static str,
    pub cache: &'static str,
    pub source_vnet: &'static str,
    pub target_vnet: &'static str,
    pub target_prefix: &'static str,
    pub subnet: &'static str,
    pub vms: Vec<VmSpec>,
    /// Recovery plans: name → boot groups of VM names.
    pub plans: Vec<(String, Vec<Vec<String>>)>,
}

/// The names the Azure portal gives the objects of an Azure-to-Azure pair (fabric `asr-a2a-default-<region>`,
/// container `…-container`, mappings `<from>-<to>-24-hour-retention-policy`), and its network mappings' names.
pub fn portal_names(src: &str, tgt: &str) -> n::PairNames {
    n::PairNames {
        source_fabric: format!("asr-a2a-default-{src}"),
        target_fabric: format!("asr-a2a-default-{tgt}"),
        source_container: format!("asr-a2a-default-{src}-container"),
        target_container: format!("asr-a2a-default-{tgt}-container"),
        forward_mapping: format!("{src}-{tgt}-24-hour-retention-policy"),
        reverse_mapping: format!("{tgt}-{src}-24-hour-retention-policy"),
    }
}

impl VaultSpec {
    pub fn vault_id(&self) -> String {
        n::resource_id(
            SUB,
            self.rg,
            "Microsoft.RecoveryServices/vaults",
            self.vault,
        )
    }
}

/// Builds the vault with ARM calls and returns the vault id.
pub async fn build(client: &ArmClient, sim: &Simulator, s: &VaultSpec) -> String {
    build_named(client, sim, s, false).await
}

/// [`build`], naming the fabrics, containers and mappings the way the Azure portal does when `portal` is set.
pub async fn build_named(
    client: &ArmClient,
    sim: &Simulator,
    s: &VaultSpec,
    portal: bool,
) -> String {
    let (src, tgt) = ("eastus", "westus2");
    let names = if portal {
        portal_names(src, tgt)
    } else {
        n::PairNames::defaults(s.pair, src, tgt)
    };
    let (fwd_net, rev_net) = if portal {
        (
            format!("{}-{}-mapping", s.source_vnet, s.target_vnet),
            format!("{}-{}-mapping", s.target_vnet, s.source_vnet),
        )
    } else {
        ("app".to_string(), "app".to_string())
    };
    let none = BTreeMap::new();
    let rg = n::resource_group_id(SUB, s.rg);
    client
        .create_resource_group(&id(&rg), tgt, &none)
        .await
        .unwrap();
    let vault = s.vault_id();
    client
        .create_vault(&id(&vault), tgt, "Standard", &none)
        .await
        .unwrap();
    let vnet = n::resource_id(
        SUB,
        s.rg,
        "Microsoft.Network/virtualNetworks",
        s.target_vnet,
    );
    client
        .create_vnet(
            &id(&vnet),
            tgt,
            &[s.target_prefix.to_string()],
            &[(s.subnet.to_string(), s.target_prefix.replace("/16", "/24"))],
        )
        .await
        .unwrap();
    let cache = n::resource_id(
        SUB,
        s.cache_rg,
        "Microsoft.Storage/storageAccounts",
        s.cache,
    );
    client
        .create_storage_account(&id(&cache), src, "Standard_LRS")
        .await
        .unwrap();
    let policy = format!("{vault}/replicationPolicies/policy-24h");
    client
        .create_policy(
            &id(&policy),
            &wire::A2APolicyCreationInput {
                recovery_point_history: Some(24 * 60),
                crash_consistent_frequency_in_minutes: Some(5),
                app_consistent_frequency_in_minutes: Some(240),
                multi_vm_sync_status: "Enable".into(),
            },
        )
        .await
        .unwrap();
    for (fabric, container, r) in [
        (
            names.source_fabric_id(&vault),
            names.source_container_id(&vault),
            src,
        ),
        (
            names.target_fabric_id(&vault),
            names.target_container_id(&vault),
            tgt,
        ),
    ] {
        client.create_fabric(&id(&fabric), r).await.unwrap();
        client.create_container(&id(&container)).await.unwrap();
    }
    for (mapping, target) in [
        (
            names.forward_mapping_id(&vault),
            names.target_container_id(&vault),
        ),
        (
            names.reverse_mapping_id(&vault),
            names.source_container_id(&vault),
        ),
    ] {
        client
            .create_container_mapping(
                &id(&mapping),
                &id(&target),
                &id(&policy),
                wire::A2AContainerMappingInput {
                    agent_auto_update_status: Some("Disabled".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let source_vnet = n::resource_id(
        SUB,
        s.cache_rg,
        "Microsoft.Network/virtualNetworks",
        s.source_vnet,
    );
    client
        .create_network_mapping(
            &id(&names.network_mapping_id(&vault, s.source_vnet, &fwd_net)),
            &names.target_fabric,
            &id(&source_vnet),
            &id(&vnet),
        )
        .await
        .unwrap();
    client
        .create_network_mapping(
            &id(&names.reverse_network_mapping_id(&vault, s.target_vnet, &rev_net)),
            &names.source_fabric,
            &id(&vnet),
            &id(&source_vnet),
        )
        .await
        .unwrap();

    let mut rpis = BTreeMap::new();
    for vm in &s.vms {
        let source = n::resource_id(
            SUB,
            vm.source_rg,
            "Microsoft.Compute/virtualMachines",
            &vm.name,
        );
        let machine: wire::VirtualMachine = client.get(&source).await.unwrap().unwrap();
        let sp = &machine.properties.storage_profile;
        let disks = std::iter::once(&sp["osDisk"])
            .chain(sp["dataDisks"].as_array().into_iter().flatten())
            .filter_map(|d| d["managedDisk"]["id"].as_str())
            .map(|d| wire::A2AVmManagedDiskInputDetails {
                disk_id: d.to_string(),
                primary_staging_azure_storage_account_id: cache.clone(),
                recovery_resource_group_id: rg.clone(),
                recovery_target_disk_account_type: Some(vm.disk_type.to_string()),
                ..Default::default()
            })
            .collect();
        let rpi = names.protected_item_id(&vault, &vm.name);
        client
            .enable_protection(
                &id(&rpi),
                &id(&policy),
                wire::A2AEnableProtectionInput {
                    fabric_object_id: source.clone(),
                    recovery_container_id: Some(names.target_container_id(&vault)),
                    recovery_resource_group_id: Some(rg.clone()),
                    recovery_azure_network_id: Some(vnet.clone()),
                    recovery_subnet_name: Some(s.subnet.to_string()),
                    vm_managed_disks: disks,
                    multi_vm_group_name: vm.group.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if let Some(size) = &vm.size {
            client
                .update_protected_item(
                    &id(&rpi),
                    wire::UpdateReplicationProtectedItemInputProperties {
                        recovery_azure_vm_size: Some(size.to_string()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        rpis.insert(vm.name.clone(), (rpi, source));
    }
    for (name, groups) in &s.plans {
        let groups = groups
            .iter()
            .map(|g| wire::RecoveryPlanGroup {
                group_type: "Boot".into(),
                replication_protected_items: g
                    .iter()
                    .map(|v| wire::RecoveryPlanProtectedItem {
                        id: Some(rpis[v.as_str()].0.clone()),
                        virtual_machine_id: Some(rpis[v.as_str()].1.clone()),
                    })
                    .collect(),
                start_group_actions: Vec::new(),
                end_group_actions: Vec::new(),
            })
            .collect();
        let plan = format!("{vault}/replicationRecoveryPlans/{name}");
        client
            .create_recovery_plan(
                &id(&plan),
                asrform::provider::arm::ops::recovery_plan_body(
                    &id(&names.source_fabric_id(&vault)),
                    &id(&names.target_fabric_id(&vault)),
                    groups,
                    None,
                ),
            )
            .await
            .unwrap();
    }
    let _ = sim;
    vault
}

/// The quickstart estate's four VMs in one vault with one recovery plan.
pub fn small() -> VaultSpec {
    let vm = |name: &str, size: Option<&str>, group: Option<&str>| VmSpec {
        name: name.into(),
        source_rg: "rg-app",
        size: size.map(Into::into),
        group: group.map(Into::into),
        disk_type: "Premium_LRS".into(),
    };
    VaultSpec {
        rg: "rg-app-dr",
        vault: "rsv-app-dr",
        pair: "primary",
        cache_rg: "rg-app",
        cache: "stasrcacheeus01",
        source_vnet: "vnet-app",
        target_vnet: "vnet-app-dr",
        target_prefix: "10.20.0.0/16",
        subnet: "app",
        vms: vec![
            vm("db01", Some("Standard_E4s_v5"), Some("app-tier")),
            vm("app01", None, Some("app-tier")),
            vm("web01", Some("Standard_D2s_v5"), None),
            vm("web02", Some("Standard_D2s_v5"), None),
        ],
        plans: vec![(
            "rp-app".into(),
            vec![
                vec!["db01".into()],
                vec!["app01".into(), "web01".into(), "web02".into()],
            ],
        )],
    }
}

/// The fleet example's 240 VMs from its inventory (size, consistency group, disk type), in three recovery plans of
/// a database group and an application group each.
pub fn fleet() -> VaultSpec {
    let text =
        std::fs::read_to_string(crate::common::path("examples/fleet/inventory.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let mut vms = Vec::new();
    let mut plans: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for row in r.records() {
        let row = row.unwrap();
        let (name, tier, plan) = (&row[0], &row[1], &row[2]);
        vms.push(VmSpec {
            name: name.into(),
            source_rg: "rg-fleet",
            size: Some(row[4].into()),
            group: Some(row[3].into()),
            disk_type: row[7].into(),
        });
        let groups = plans
            .entry(format!("rp-{plan}"))
            .or_insert_with(|| vec![Vec::new(), Vec::new()]);
        groups[usize::from(tier != "db")].push(name.into());
    }
    VaultSpec {
        rg: "rg-fleet-dr",
        vault: "rsv-fleet-dr",
        pair: "primary",
        cache_rg: "rg-fleet",
        cache: "stasrcachefleeteus",
        source_vnet: "vnet-fleet",
        target_vnet: "vnet-fleet-dr",
        target_prefix: "10.30.0.0/16",
        subnet: "app",
        vms,
        plans: plans.into_iter().collect(),
    }
}
