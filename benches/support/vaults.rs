//! Shared setup of the benchmarks that need protected vaults (`plan_e2e`, `import_2000`): a generated estate in the
//! in-process simulator and one vault per source subscription (ASR allows 3,000 protected disks per subscription,
//! so large fleets need several), each protecting its subscription's VMs with recovery plans of 100 VMs in two boot
//! groups and consistency groups of 10.
//!
//! The vaults are built by handing the same ARM requests the client would send (`arm::ops` bodies) straight to the
//! simulator's handler with no latency: no HTTP client, no LRO polling, and every enable job finished at once by
//! advancing the simulated clock. That is what made the setup of 10,000 VMs take minutes instead of a quarter of an
//! hour through the client. Setup only: nothing here is measured, and tests keep building vaults with the real
//! client (`tests/it/import_env.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use asrform::clock::ScaledClock;
use asrform::config::naming as n;
use asrform::estate::{self, Estate, GenerateOptions};
use asrform::provider::ArmId;
use asrform::provider::arm::{ArmClient, ops, wire};
use asrform::sim::{SimConfig, SimRequest, Simulator};
use serde_json::{Value, json};

/// Source and target regions of every vault.
pub const SOURCE: &str = "eastus";
/// See [`SOURCE`].
pub const TARGET: &str = "westus2";

/// One built vault.
pub struct Vault {
    /// The vault's ARM id.
    pub id: String,
    /// Its subscription (the source VMs' subscription too).
    pub subscription: String,
    /// VMs it protects.
    pub vms: usize,
}

/// The simulated cloud with its vaults.
pub struct Fleet {
    pub estate: Estate,
    pub sim: Simulator,
    pub client: ArmClient,
    pub vaults: Vec<Vault>,
}

/// How big, and how the VMs spread.
pub struct FleetSpec {
    /// Protected VMs in all.
    pub vms: usize,
    /// Source subscriptions (one vault each).
    pub subscriptions: usize,
    /// Estate seed.
    pub seed: u64,
    /// Base name of the vaults (`rsv-bench`, `rsv-bench-02`, …).
    pub vault: &'static str,
    /// Name of the cache storage account of the first subscription (later ones get a number appended).
    pub cache: &'static str,
}

/// Subscriptions needed for `vms` VMs of `estate::generate` (one OS disk and up to three data disks each, 2.5 on
/// average) under ASR's 3,000 protected disks per subscription, with room for the spread: 1,000 VMs each.
pub fn subscriptions_for(vms: usize) -> usize {
    vms.div_ceil(1000).max(1)
}

/// `base` for the first subscription, `base-NN` for the others, so one subscription keeps the names the single-vault
/// benches always used and several vaults' imported configurations do not collide when merged.
fn name(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_string()
    } else {
        format!("{base}-{:02}", i + 1)
    }
}

/// Sends one request to the simulator's handler and insists it was accepted.
async fn send(sim: &Simulator, client: &ArmClient, method: &str, path: &str, body: Option<Value>) {
    let url = client.url(path, &[]).expect("ARM url");
    let rsp = sim
        .handle(SimRequest::new(method, url.as_str(), body))
        .await;
    assert!(
        rsp.status < 300,
        "setup: {method} {path} answered {}: {}",
        rsp.status,
        String::from_utf8_lossy(&rsp.body)
    );
}

/// Finishes whatever jobs the requests so far started.
fn settle(sim: &Simulator) {
    sim.advance(Duration::from_secs(6 * 3600));
}

/// Builds the estate and the vaults. The simulator comes back with no latency and no throttling (callers set their
/// own), the clock a day after the last enable.
pub async fn build(spec: &FleetSpec) -> Fleet {
    let estate = estate::generate(&GenerateOptions {
        vms: spec.vms,
        subscriptions: spec.subscriptions,
        region: SOURCE.into(),
        seed: spec.seed,
    });
    let clock = Arc::new(ScaledClock::new(
        time::macros::datetime!(2026-03-01 00:00 UTC),
        1.0,
    ));
    let sim = Simulator::from_estate(
        &estate,
        clock,
        SimConfig {
            throttling: false,
            latency_ms: 0,
            ..SimConfig::default()
        },
    );
    let client = asrform::cli::session::sim_client(&sim);
    let none: BTreeMap<String, String> = BTreeMap::new();

    // Infrastructure of every vault first, then all enables (one settle for all the jobs), then sizes, then plans.
    struct Built {
        vault: String,
        policy: String,
        rg: String,
        vnet: String,
        cache: String,
        source_rg: String,
        vms: Vec<String>,
        sub: String,
        i: usize,
    }
    let mut built = Vec::new();
    for (i, s) in estate.subscriptions.iter().enumerate() {
        let sub = s.id.as_str();
        let src_rg = &s.resource_groups[0];
        let rg = n::resource_group_id(sub, &name("rg-dr", i));
        send(
            &sim,
            &client,
            "PUT",
            &rg,
            Some(json!({"location": TARGET, "tags": none})),
        )
        .await;
        let vault = n::resource_id(
            sub,
            &name("rg-dr", i),
            "Microsoft.RecoveryServices/vaults",
            &name(spec.vault, i),
        );
        send(
            &sim,
            &client,
            "PUT",
            &vault,
            Some(json!({"location": TARGET, "sku": {"name": "Standard"}, "identity": {"type": "SystemAssigned"}, "tags": none, "properties": {"publicNetworkAccess": "Enabled"}})),
        )
        .await;
        let prefix = format!("10.{}.0.0/16", 40 + i);
        let vnet = n::resource_id(
            sub,
            &name("rg-dr", i),
            "Microsoft.Network/virtualNetworks",
            &name("vnet-dr", i),
        );
        send(
            &sim,
            &client,
            "PUT",
            &vnet,
            Some(json!({"location": TARGET, "properties": {"addressSpace": {"addressPrefixes": [prefix]}, "subnets": [{"name": "app", "properties": {"addressPrefix": prefix.replace("/16", "/24")}}]}})),
        )
        .await;
        let cache_name = if i == 0 {
            spec.cache.to_string()
        } else {
            format!("{}{:02}", spec.cache, i + 1)
        };
        let cache = n::resource_id(
            sub,
            &src_rg.name,
            "Microsoft.Storage/storageAccounts",
            &cache_name,
        );
        send(
            &sim,
            &client,
            "PUT",
            &cache,
            Some(json!({"location": SOURCE, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false}})),
        )
        .await;
        let policy = format!("{vault}/replicationPolicies/{}", name("policy-24h", i));
        send(
            &sim,
            &client,
            "PUT",
            &policy,
            Some(ops::policy_create_body(&wire::A2APolicyCreationInput {
                recovery_point_history: Some(24 * 60),
                crash_consistent_frequency_in_minutes: Some(5),
                app_consistent_frequency_in_minutes: Some(240),
                multi_vm_sync_status: "Enable".into(),
            })),
        )
        .await;
        for r in [SOURCE, TARGET] {
            send(
                &sim,
                &client,
                "PUT",
                &n::fabric_id(&vault, r),
                Some(ops::fabric_body(r)),
            )
            .await;
            settle(&sim);
            send(
                &sim,
                &client,
                "PUT",
                &n::container_id(&vault, r),
                Some(ops::container_body()),
            )
            .await;
        }
        settle(&sim);
        // Region pair names become HCL labels on import, so no hyphen.
        let pair = name("primary", i).replace('-', "_");
        for (a, b) in [(SOURCE, TARGET), (TARGET, SOURCE)] {
            send(
                &sim,
                &client,
                "PUT",
                &n::container_mapping_id(&vault, &pair, a, b),
                Some(ops::container_mapping_body(
                    &ArmId::parse(&n::container_id(&vault, b)).unwrap(),
                    &ArmId::parse(&policy).unwrap(),
                    wire::A2AContainerMappingInput {
                        agent_auto_update_status: Some("Disabled".into()),
                        ..Default::default()
                    },
                )),
            )
            .await;
        }
        let source_vnet = n::resource_id(
            sub,
            &src_rg.name,
            "Microsoft.Network/virtualNetworks",
            &src_rg.networks[0].name,
        );
        let mapping = name("app", i).replace('-', "_");
        for (from, net, to_fabric, other, other_net) in [
            (
                SOURCE,
                &src_rg.networks[0].name,
                TARGET,
                &source_vnet,
                &vnet,
            ),
            (TARGET, &name("vnet-dr", i), SOURCE, &vnet, &source_vnet),
        ] {
            send(
                &sim,
                &client,
                "PUT",
                &n::network_mapping_id(&vault, from, net, &mapping),
                Some(ops::network_mapping_body(
                    &n::fabric(to_fabric),
                    &ArmId::parse(other).unwrap(),
                    &ArmId::parse(other_net).unwrap(),
                )),
            )
            .await;
        }
        settle(&sim);
        built.push(Built {
            vault,
            policy,
            rg,
            vnet,
            cache,
            source_rg: src_rg.name.clone(),
            vms: src_rg.vms.iter().map(|v| v.name.clone()).collect(),
            sub: sub.to_string(),
            i,
        });
    }

    for b in &built {
        for (k, vm) in b.vms.iter().enumerate() {
            let source = n::resource_id(
                &b.sub,
                &b.source_rg,
                "Microsoft.Compute/virtualMachines",
                vm,
            );
            let disks = {
                let w = sim.world();
                w.vm_disks(&source)
            };
            let disks = disks
                .into_iter()
                .map(|(id, _)| wire::A2AVmManagedDiskInputDetails {
                    disk_id: id,
                    primary_staging_azure_storage_account_id: b.cache.clone(),
                    recovery_resource_group_id: b.rg.clone(),
                    recovery_target_disk_account_type: Some("Premium_LRS".into()),
                    ..Default::default()
                })
                .collect();
            send(
                &sim,
                &client,
                "PUT",
                &n::protected_item_id(&b.vault, SOURCE, vm),
                Some(ops::enable_protection_body(
                    &ArmId::parse(&b.policy).unwrap(),
                    wire::A2AEnableProtectionInput {
                        fabric_object_id: source,
                        recovery_container_id: Some(n::container_id(&b.vault, TARGET)),
                        recovery_resource_group_id: Some(b.rg.clone()),
                        recovery_azure_network_id: Some(b.vnet.clone()),
                        recovery_subnet_name: Some("app".into()),
                        vm_managed_disks: disks,
                        multi_vm_group_name: Some(format!("cg-{}", k / 10)),
                        ..Default::default()
                    },
                )),
            )
            .await;
        }
    }
    settle(&sim);
    for b in &built {
        for vm in &b.vms {
            send(
                &sim,
                &client,
                "PATCH",
                &n::protected_item_id(&b.vault, SOURCE, vm),
                Some(ops::body(
                    wire::UpdateReplicationProtectedItemInputProperties {
                        recovery_azure_vm_size: Some("Standard_D2s_v5".into()),
                        ..Default::default()
                    },
                )),
            )
            .await;
        }
    }
    settle(&sim);
    for b in &built {
        for (p, chunk) in b.vms.chunks(100).enumerate() {
            let (first, second) = chunk.split_at(chunk.len() / 2);
            let groups = [first, second]
                .iter()
                .map(|g| wire::RecoveryPlanGroup {
                    group_type: "Boot".into(),
                    replication_protected_items: g
                        .iter()
                        .map(|vm| wire::RecoveryPlanProtectedItem {
                            id: Some(n::protected_item_id(&b.vault, SOURCE, vm)),
                            virtual_machine_id: Some(n::resource_id(
                                &b.sub,
                                &b.source_rg,
                                "Microsoft.Compute/virtualMachines",
                                vm,
                            )),
                        })
                        .collect(),
                    start_group_actions: Vec::new(),
                    end_group_actions: Vec::new(),
                })
                .collect();
            let plan = if b.i == 0 {
                format!("rp-{p:03}")
            } else {
                format!("rp-{:02}-{p:03}", b.i + 1)
            };
            send(
                &sim,
                &client,
                "PUT",
                &format!("{}/replicationRecoveryPlans/{plan}", b.vault),
                Some(ops::recovery_plan_body(
                    &ArmId::parse(&n::fabric_id(&b.vault, SOURCE)).unwrap(),
                    &ArmId::parse(&n::fabric_id(&b.vault, TARGET)).unwrap(),
                    groups,
                    None,
                )),
            )
            .await;
        }
    }
    settle(&sim);
    sim.advance(Duration::from_secs(24 * 3600));
    // Every VM must have ended up protected: a failed enable job would silently shrink the benchmark.
    {
        let now = sim.now();
        let w = sim.world();
        let failed: Vec<String> = w
            .jobs
            .values()
            .filter(|j| j.state(now) == "Failed")
            .take(3)
            .map(|j| format!("{j:?}").chars().take(400).collect())
            .collect();
        for b in &built {
            let key = asrform::sim::world::key(&b.vault);
            let items = w.rpis.values().filter(|r| r.vault == key).count();
            assert_eq!(
                items,
                b.vms.len(),
                "setup: vault {} protects {items} of {} VMs; failed jobs: {failed:#?}",
                b.vault,
                b.vms.len()
            );
        }
    }
    let vaults = built
        .iter()
        .map(|b| Vault {
            id: b.vault.clone(),
            subscription: b.sub.clone(),
            vms: b.vms.len(),
        })
        .collect();
    Fleet {
        estate,
        sim,
        client,
        vaults,
    }
}

/// Imports every vault of the fleet (`asrform import`'s library) into one configuration: each vault imported on its
/// own (the names of the vaults' objects do not collide), the shared `main.asr.hcl` of the second and later vaults
/// renamed and without its provider block, plus `estate.json`. Returns the files and the merged import snapshot
/// (for `import::adopt`).
pub async fn import_all(fleet: &Fleet) -> (Vec<(String, String)>, asrform::provider::Snapshot) {
    use asrform::import::{self, ImportOptions};
    let provider = "provider \"simulator\" {\n  estate = \"estate.json\"\n}";
    let mut files: Vec<(String, String)> = Vec::new();
    let mut snap = asrform::provider::Snapshot::default();
    for (i, v) in fleet.vaults.iter().enumerate() {
        let vault = ArmId::parse(&v.id).expect("vault id");
        let one = import::io::read(&fleet.client, &vault)
            .await
            .expect("read vault");
        let mut opts = ImportOptions::new(vault, provider);
        opts.default_subscription = Some(fleet.vaults[0].subscription.clone());
        let generated = import::generate(&one, &opts).expect("generate");
        for (name, text) in generated.files {
            if i > 0 && name == "main.asr.hcl" {
                files.push((
                    format!("main-{:02}.asr.hcl", i + 1),
                    text.replacen(provider, "", 1),
                ));
            } else {
                files.push((name, text));
            }
        }
        snap.merge(one);
    }
    files.push((
        "estate.json".into(),
        serde_json::to_string(&fleet.estate).expect("estate serialises"),
    ));
    (files, snap)
}
