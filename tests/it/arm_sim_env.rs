//! A simulated, protected estate built through the ARM client's typed operations; shared by the simulator tests
//! (`arm_sim.rs`) and the snapshot benchmark (`benches/arm_snapshot.rs`, which includes this file by path).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use asrform::clock::ScaledClock;
use asrform::estate::{self, GenerateOptions};
use asrform::provider::arm::auth::StaticCredential;
use asrform::provider::arm::{ArmClient, ArmClientOptions, Endpoint, ops, wire};
use asrform::provider::{ArmId, SnapshotRequest};
use asrform::sim::{SimConfig, Simulator};
use azure_core::http::Method;

pub fn id(s: &str) -> ArmId {
    ArmId::parse(s).unwrap()
}

pub struct SimEnv {
    pub sim: Simulator,
    pub clock: Arc<ScaledClock>,
    pub client: ArmClient,
    pub sub: String,
    pub app_rg: ArmId,
    pub vms: Vec<ArmId>,
}

impl SimEnv {
    pub fn vault(&self) -> ArmId {
        id(&format!(
            "/subscriptions/{}/resourceGroups/rg-vault/providers/Microsoft.RecoveryServices/vaults/vault1",
            self.sub
        ))
    }
    pub fn rg(&self, name: &str) -> ArmId {
        id(&format!(
            "/subscriptions/{}/resourceGroups/{name}",
            self.sub
        ))
    }
    pub fn fabric(&self, f: &str) -> ArmId {
        self.vault().child("replicationFabrics", f)
    }
    pub fn container(&self, f: &str) -> ArmId {
        self.fabric(f)
            .child("replicationProtectionContainers", &format!("{f}-c"))
    }
    pub fn policy(&self) -> ArmId {
        self.vault().child("replicationPolicies", "pol")
    }
    pub fn dr_vnet(&self) -> ArmId {
        self.rg("rg-dr")
            .child("providers/Microsoft.Network/virtualNetworks", "vnet-dr")
    }
    pub fn rpi(&self, vm: &ArmId) -> ArmId {
        self.container("src")
            .child("replicationProtectedItems", vm.name())
    }
    pub fn client(&self, tweak: impl FnOnce(&mut ArmClientOptions)) -> ArmClient {
        let mut o = asrform::cli::session::sim_client_options(&self.sim);
        tweak(&mut o);
        ArmClient::new(o).unwrap()
    }
    pub fn request(&self) -> SnapshotRequest {
        SnapshotRequest {
            vaults: vec![self.vault()],
            resource_groups: vec![self.app_rg.clone(), self.rg("rg-dr")],
            subscriptions: vec![],
            ..Default::default()
        }
    }

    /// A simulated estate of `n` VMs in eastus, with the DR topology to westus built through the client's typed
    /// operations and every VM's protection enabled (enable jobs accepted, not awaited).
    pub async fn protected(n: usize) -> Self {
        let e = estate::generate(&GenerateOptions {
            vms: n,
            subscriptions: 1,
            region: "eastus".into(),
            seed: 7,
        });
        let sub = e.subscriptions[0].id.clone();
        let app_rg_name = e.subscriptions[0].resource_groups[0].name.clone();
        let clock = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(&e, clock.clone(), SimConfig::default());
        let mut env = SimEnv {
            sim,
            clock,
            client: ArmClient::new(ArmClientOptions::new(
                Endpoint::Public,
                StaticCredential::new("x"),
                Arc::new(asrform::clock::SystemClock),
            ))
            .unwrap(),
            sub: sub.clone(),
            app_rg: id(&format!(
                "/subscriptions/{sub}/resourceGroups/{app_rg_name}"
            )),
            vms: vec![],
        };
        env.client = env.client(|o| o.lro.default_delay = Duration::from_secs(10));
        let c = env.client.clone();
        let tags = Default::default();
        c.create_resource_group(&env.rg("rg-vault"), "westus", &tags)
            .await
            .unwrap();
        c.create_resource_group(&env.rg("rg-dr"), "westus", &tags)
            .await
            .unwrap();
        c.create_vnet(
            &env.dr_vnet(),
            "westus",
            &["10.20.0.0/16".into()],
            &[("snet000".into(), "10.20.0.0/24".into())],
        )
        .await
        .unwrap();
        let cache = env
            .app_rg
            .child("providers/Microsoft.Storage/storageAccounts", "cacheeast");
        c.create_storage_account(&cache, "eastus", "Standard_LRS")
            .await
            .unwrap();
        c.create_vault(&env.vault(), "westus", "Standard", &tags)
            .await
            .unwrap();
        let pol = wire::A2APolicyCreationInput {
            recovery_point_history: Some(1440),
            crash_consistent_frequency_in_minutes: Some(5),
            app_consistent_frequency_in_minutes: Some(240),
            multi_vm_sync_status: "Disable".into(),
        };
        c.create_policy(&env.policy(), &pol).await.unwrap();
        for (f, loc) in [("src", "eastus"), ("tgt", "westus")] {
            c.create_fabric(&env.fabric(f), loc).await.unwrap();
            c.create_container(&env.container(f)).await.unwrap();
        }
        for (from, to, name) in [("src", "tgt", "fwd"), ("tgt", "src", "rev")] {
            let a2a = wire::A2AContainerMappingInput {
                agent_auto_update_status: Some("Disabled".into()),
                ..Default::default()
            };
            c.create_container_mapping(
                &env.container(from)
                    .child("replicationProtectionContainerMappings", name),
                &env.container(to),
                &env.policy(),
                a2a,
            )
            .await
            .unwrap();
        }
        let src_vnet = env
            .app_rg
            .child("providers/Microsoft.Network/virtualNetworks", "vnet-app");
        let nm = env
            .fabric("src")
            .child("replicationNetworks", "vnet-app")
            .child("replicationNetworkMappings", "fwd");
        c.create_network_mapping(&nm, "tgt", &src_vnet, &env.dr_vnet())
            .await
            .unwrap();

        // Discover the VMs and their disks with a list, as the applier would, then enable them all.
        let vms = c
            .list::<wire::VirtualMachine>(
                &env.app_rg
                    .join("providers/Microsoft.Compute/virtualMachines"),
            )
            .await
            .unwrap();
        assert_eq!(vms.len(), n);
        let mut set = tokio::task::JoinSet::new();
        for vm in vms {
            let vm_id = id(vm.id.as_deref().unwrap());
            let sp = &vm.properties.storage_profile;
            let disks: Vec<String> = std::iter::once(&sp["osDisk"])
                .chain(sp["dataDisks"].as_array().into_iter().flatten())
                .filter_map(|d| d["managedDisk"]["id"].as_str().map(str::to_string))
                .collect();
            let a2a = wire::A2AEnableProtectionInput {
                fabric_object_id: vm_id.to_string(),
                recovery_container_id: Some(env.container("tgt").to_string()),
                recovery_resource_group_id: Some(env.rg("rg-dr").to_string()),
                recovery_azure_network_id: Some(env.dr_vnet().to_string()),
                recovery_subnet_name: Some("snet000".into()),
                vm_managed_disks: disks
                    .into_iter()
                    .map(|d| wire::A2AVmManagedDiskInputDetails {
                        disk_id: d,
                        primary_staging_azure_storage_account_id: cache.to_string(),
                        recovery_resource_group_id: env.rg("rg-dr").to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let body = ops::enable_protection_body(&env.policy(), a2a);
            let (c, path) = (c.clone(), env.rpi(&vm_id));
            env.vms.push(vm_id);
            set.spawn(async move {
                c.begin(Method::Put, path.as_str(), Some(&body))
                    .await
                    .map(|r| r.status)
            });
        }
        while let Some(r) = set.join_next().await {
            let status = r.unwrap().unwrap();
            assert!(matches!(status, 200..=202), "{status}");
        }
        env
    }
}
