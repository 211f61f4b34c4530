//! A protected quickstart estate on the in-process simulator, built through the ARM client's typed operations
//! (until `apply` lands): vault, policy, fabrics, containers, both container mappings, network mapping, the DR and
//! drill VNets, protection of the four VMs with static IPs, and the `app` recovery plan (db01 → app01 → web01+02,
//! with an optional manual step before the app group). Shared by the `dr_*` tests and `benches/dr_failover_100.rs`.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use asrform::clock::{Clock, ScaledClock};
use asrform::dr::{self, ItemRef, ReprotectInput, Target};
use asrform::estate::Estate;
use asrform::provider::ArmId;
use asrform::provider::arm::{ArmClient, ops, wire};
use asrform::sim::{SimConfig, Simulator};
use azure_core::http::Method;
use serde_json::json;

pub fn id(s: &str) -> ArmId {
    ArmId::parse(s).unwrap()
}

pub struct DrEnv {
    pub sim: Simulator,
    pub clock: Arc<ScaledClock>,
    pub client: ArmClient,
    pub sub: String,
    /// (VM name, source VM id, RPI id), in estate order.
    pub vms: Vec<(String, ArmId, ArmId)>,
}

pub struct Options {
    pub multi_vm: bool,
    pub manual_step: bool,
    /// Boot groups of VM names; default: the quickstart's three groups.
    pub groups: Option<Vec<Vec<String>>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            multi_vm: true,
            manual_step: false,
            groups: None,
        }
    }
}

impl DrEnv {
    pub fn rg(&self, name: &str) -> ArmId {
        id(&format!(
            "/subscriptions/{}/resourceGroups/{name}",
            self.sub
        ))
    }
    pub fn vault(&self) -> ArmId {
        self.rg("rg-app-dr")
            .child("providers/Microsoft.RecoveryServices/vaults", "rsv-app-dr")
    }
    pub fn fabric(&self, f: &str) -> ArmId {
        self.vault().child("replicationFabrics", f)
    }
    pub fn container(&self, f: &str) -> ArmId {
        self.fabric(f)
            .child("replicationProtectionContainers", &format!("{f}-c"))
    }
    pub fn policy(&self) -> ArmId {
        self.vault().child("replicationPolicies", "standard")
    }
    pub fn vnet(&self, name: &str) -> ArmId {
        self.rg("rg-app-dr")
            .child("providers/Microsoft.Network/virtualNetworks", name)
    }
    pub fn plan(&self) -> ArmId {
        self.vault().child("replicationRecoveryPlans", "app")
    }
    pub fn items(&self) -> Vec<ItemRef> {
        self.vms
            .iter()
            .map(|(_, _, r)| ItemRef {
                rpi: r.clone(),
                lifecycle_id: None,
            })
            .collect()
    }
    pub fn plan_target(&self) -> Target {
        Target::RecoveryPlan { id: self.plan() }
    }
    /// Reprotect back to the source region (after a forward failover is committed).
    ///
    /// `recoveryContainerId` is the reverse mapping's *target* container (asr-api.md §3.8): the source container.
    pub fn reverse(&self) -> ReprotectInput {
        ReprotectInput {
            recovery_container_id: self.container("src"),
            policy_id: self.policy(),
            recovery_resource_group_id: Some(self.rg("rg-app")),
            cache_storage_account_id: None,
            wait_protected: true,
            items: Default::default(),
        }
    }
    /// Reprotect in the original direction (after failback is committed).
    pub fn forward(&self) -> ReprotectInput {
        ReprotectInput {
            recovery_container_id: self.container("tgt"),
            policy_id: self.policy(),
            recovery_resource_group_id: Some(self.rg("rg-app-dr")),
            cache_storage_account_id: None,
            wait_protected: true,
            items: Default::default(),
        }
    }

    pub async fn quickstart(o: Options) -> Self {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/quickstart/estate.json"
        ))
        .unwrap();
        let e: Estate = serde_json::from_str(&text).unwrap();
        Self::from_estate(&e, "rg-app", o).await
    }

    /// A generated estate of `vms` VMs (one subscription), protected in one recovery plan whose VMs are split
    /// into `groups` boot groups in estate order, without consistency groups or manual steps.
    pub async fn generated(vms: usize, seed: u64, groups: usize) -> Self {
        let e = asrform::estate::generate(&asrform::estate::GenerateOptions {
            vms,
            subscriptions: 1,
            region: "eastus".into(),
            seed,
        });
        let rg = &e.subscriptions[0].resource_groups[0];
        let names: Vec<String> = rg.vms.iter().map(|v| v.name.clone()).collect();
        let per = names.len().div_ceil(groups.max(1));
        let o = Options {
            multi_vm: false,
            manual_step: false,
            groups: Some(names.chunks(per).map(|c| c.to_vec()).collect()),
        };
        Self::from_estate(&e, &rg.name.clone(), o).await
    }

    /// A planned failover (zero data loss) of the whole recovery plan.
    pub fn planned_failover(&self) -> dr::Step {
        dr::Step {
            target: self.plan_target(),
            operation: dr::Operation::Failover {
                source_site_operations: dr::SourceSite::Required,
                recovery_point: dr::PointPolicy::Latest,
            },
            direction: Default::default(),
            points: Default::default(),
            confirm: None,
        }
    }

    /// The simulator's last logged request (its sequence number), to count what a step sends after it.
    pub fn log_mark(&self) -> u64 {
        self.sim.request_log().last().map_or(0, |e| e.seq)
    }

    /// Requests the simulator logged after `mark`.
    pub fn requests_since(&self, mark: u64) -> Vec<asrform::sim::LogEntry> {
        self.sim
            .request_log()
            .into_iter()
            .filter(|e| e.seq > mark)
            .collect()
    }

    pub async fn from_estate(e: &Estate, app_rg: &str, o: Options) -> Self {
        let sub = e.subscriptions[0].id.clone();
        let clock = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(e, clock.clone(), SimConfig::default());
        let mut opts = asrform::cli::session::sim_client_options(&sim);
        opts.max_concurrency = 32;
        let client = ArmClient::new(opts).unwrap();
        let mut env = DrEnv {
            sim,
            clock,
            client,
            sub,
            vms: vec![],
        };
        let c = env.client.clone();
        let tags = Default::default();
        let tgt_region = "westus2";
        c.create_resource_group(&env.rg("rg-app-dr"), tgt_region, &tags)
            .await
            .unwrap();
        for (name, space, prefix) in [
            ("vnet-app-dr", "10.20.0.0/16", "10.20.1.0/24"),
            ("vnet-app-drill", "10.99.0.0/16", "10.99.1.0/24"),
        ] {
            let body = json!({"location": tgt_region, "properties": {"addressSpace": {"addressPrefixes": [space]}, "subnets": [{"name": "app", "properties": {"addressPrefix": prefix}}]}});
            c.begin(Method::Put, env.vnet(name).as_str(), Some(&body))
                .await
                .unwrap();
        }
        let app_rg_id = env.rg(app_rg);
        let cache = app_rg_id.child(
            "providers/Microsoft.Storage/storageAccounts",
            "stasrcacheeus01",
        );
        let sa = json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {}});
        c.begin(Method::Put, cache.as_str(), Some(&sa))
            .await
            .unwrap();
        c.create_vault(&env.vault(), tgt_region, "Standard", &tags)
            .await
            .unwrap();
        let pol = wire::A2APolicyCreationInput {
            recovery_point_history: Some(1440),
            crash_consistent_frequency_in_minutes: Some(5),
            app_consistent_frequency_in_minutes: Some(240),
            multi_vm_sync_status: if o.multi_vm { "Enable" } else { "Disable" }.into(),
        };
        c.create_policy(&env.policy(), &pol).await.unwrap();
        for (f, loc) in [("src", "eastus"), ("tgt", tgt_region)] {
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
        let src_vnet = app_rg_id.child("providers/Microsoft.Network/virtualNetworks", "vnet-app");
        let nm = env
            .fabric("src")
            .child("replicationNetworks", "vnet-app")
            .child("replicationNetworkMappings", "fwd");
        c.create_network_mapping(&nm, "tgt", &src_vnet, &env.vnet("vnet-app-dr"))
            .await
            .unwrap();

        let vms = c
            .list::<wire::VirtualMachine>(
                &app_rg_id.join("providers/Microsoft.Compute/virtualMachines"),
            )
            .await
            .unwrap();
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
                recovery_resource_group_id: Some(env.rg("rg-app-dr").to_string()),
                recovery_azure_network_id: Some(env.vnet("vnet-app-dr").to_string()),
                recovery_subnet_name: Some("app".into()),
                multi_vm_group_name: o.multi_vm.then(|| "app-tier".to_string()),
                vm_managed_disks: disks
                    .into_iter()
                    .map(|d| wire::A2AVmManagedDiskInputDetails {
                        disk_id: d,
                        primary_staging_azure_storage_account_id: cache.to_string(),
                        recovery_resource_group_id: env.rg("rg-app-dr").to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let rpi = env
                .container("src")
                .child("replicationProtectedItems", vm_id.name());
            env.vms
                .push((vm_id.name().to_string(), vm_id.clone(), rpi.clone()));
            let (c, policy) = (c.clone(), env.policy());
            set.spawn(async move { c.enable_protection(&rpi, &policy, a2a).await.map(|_| ()) });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
        env.vms.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, _, rpi) in &env.vms {
            dr::wait_protected(&c, rpi).await.unwrap();
        }
        // Static IPs in the DR and drill networks: 10.20.x.y → 10.99.x.y, kept from the source's last octets.
        for (i, (_, _, rpi)) in env.vms.iter().enumerate() {
            let w = c.get_value(rpi.as_str()).await.unwrap().unwrap();
            let nic = w["properties"]["providerSpecificDetails"]["vmNics"][0]["nicId"]
                .as_str()
                .unwrap()
                .to_string();
            let body = json!({"properties": {"vmNics": [{"nicId": nic, "ipConfigs": [{"ipConfigName": "ipconfig1", "isPrimary": true,
                "recoverySubnetName": "app", "recoveryStaticIPAddress": format!("10.20.1.{}", 100 + i),
                "tfoSubnetName": "app", "tfoStaticIPAddress": format!("10.99.1.{}", 100 + i)}]}]}});
            c.execute(Method::Patch, rpi.as_str(), Some(&body))
                .await
                .unwrap();
        }
        // The recovery plan.
        let groups: Vec<Vec<String>> = o.groups.clone().unwrap_or_else(|| {
            vec![
                vec!["db01".into()],
                vec!["app01".into()],
                vec!["web01".into(), "web02".into()],
            ]
        });
        let rpi_of = |n: &str| {
            env.vms
                .iter()
                .find(|v| v.0.eq_ignore_ascii_case(n))
                .map(|v| v.2.clone())
                .unwrap()
        };
        let mut wire_groups = vec![];
        for (gi, g) in groups.iter().enumerate() {
            let mut grp = wire::RecoveryPlanGroup {
                group_type: "Boot".into(),
                replication_protected_items: g
                    .iter()
                    .map(|n| wire::RecoveryPlanProtectedItem {
                        id: Some(rpi_of(n).to_string()),
                        virtual_machine_id: None,
                    })
                    .collect(),
                ..Default::default()
            };
            if o.manual_step && gi == 1 {
                grp.start_group_actions.push(wire::RecoveryPlanAction {
                    action_name: "check-db".into(),
                    failover_types: vec!["TestFailover".into(), "UnplannedFailover".into(), "PlannedFailover".into()],
                    failover_directions: vec!["PrimaryToRecovery".into(), "RecoveryToPrimary".into()],
                    custom_details: json!({"instanceType": "ManualActionDetails", "description": "Confirm the database accepts connections."}),
                });
            }
            wire_groups.push(grp);
        }
        c.create_recovery_plan(
            &env.plan(),
            ops::recovery_plan_body(&env.fabric("src"), &env.fabric("tgt"), wire_groups, None),
        )
        .await
        .unwrap();
        env
    }

    pub async fn sleep(&self, secs: u64) {
        self.clock.sleep(Duration::from_secs(secs)).await
    }

    /// Every VM id in a resource group.
    pub async fn vm_ids(&self, rg: &str) -> Vec<String> {
        self.client
            .list::<wire::VirtualMachine>(
                &self
                    .rg(rg)
                    .join("providers/Microsoft.Compute/virtualMachines"),
            )
            .await
            .unwrap()
            .into_iter()
            .filter_map(|v| v.id)
            .collect()
    }

    /// (source disk, target disk) pairs of an item, from live state.
    pub async fn target_disks(&self, rpi: &ArmId) -> Vec<(String, String)> {
        let w = self.client.get_value(rpi.as_str()).await.unwrap().unwrap();
        w["properties"]["providerSpecificDetails"]["protectedManagedDisks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["diskId"].as_str().unwrap().to_string(),
                    d["recoveryTargetDiskId"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
