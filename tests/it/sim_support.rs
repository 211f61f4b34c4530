//! Shared setup for the simulator tests: a small estate, a simulator on a manually stepped virtual clock, and the
//! ARM calls that build the DR topology (vault, fabrics, containers, mappings, networks, policy, protection).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use asrform::clock::ScaledClock;
use asrform::estate::{self, Estate, GenerateOptions};
use asrform::sim::{SimConfig, SimRequest, SimResponse, Simulator};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub const BASE: &str = "https://management.azure.com";
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub fn vault() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-vault/providers/Microsoft.RecoveryServices/vaults/vault1"
    )
}
pub fn fabric(name: &str) -> String {
    format!("{}/replicationFabrics/{name}", vault())
}
pub fn container(f: &str, c: &str) -> String {
    format!("{}/replicationProtectionContainers/{c}", fabric(f))
}
pub fn rpi(name: &str) -> String {
    format!(
        "{}/replicationProtectedItems/{name}",
        container("src", "src-c")
    )
}
pub fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}
pub fn vm(name: &str) -> String {
    estate::ids::vm(SUB, "rg-app", name)
}

/// The api-version a path needs.
pub fn api_for(path: &str) -> &'static str {
    let p = path.to_ascii_lowercase();
    if p.contains("/replication") || p.contains("microsoft.recoveryservices") {
        "2025-08-01"
    } else if p.contains("microsoft.network") {
        "2026-03-01"
    } else if p.contains("microsoft.storage") {
        "2026-09-01"
    } else if p.contains("/disks") {
        "2026-03-02"
    } else if p.contains("microsoft.compute") {
        "2026-04-01"
    } else {
        "2025-04-01"
    }
}

/// A generated estate of `n` VMs in eastus with churn forced to `churn` MB/s per disk (OS + data disks).
pub fn estate(n: usize, churn: f64) -> Estate {
    let mut e = estate::generate(&GenerateOptions {
        vms: n,
        subscriptions: 1,
        region: "eastus".into(),
        seed: 7,
    });
    for s in &mut e.subscriptions {
        for g in &mut s.resource_groups {
            for v in &mut g.vms {
                v.os_disk.churn_mb_s = churn;
                for d in &mut v.data_disks {
                    d.churn_mb_s = churn;
                }
            }
        }
    }
    e
}

pub struct Env {
    pub sim: Simulator,
    pub clock: Arc<ScaledClock>,
}

impl Env {
    /// A simulator seeded with `e` on a clock that only moves when stepped (speed tiny, tokio paused or not).
    pub fn new(e: &Estate, config: SimConfig) -> Self {
        let clock = Arc::new(ScaledClock::new(T0, 1e-9));
        let sim = Simulator::from_estate(e, clock.clone(), config);
        Self { sim, clock }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> SimResponse {
        let url = if path.starts_with("http") {
            path.to_string()
        } else if path.contains("api-version=") {
            format!("{BASE}{path}")
        } else {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{BASE}{path}{sep}api-version={}", api_for(path))
        };
        self.sim.handle(SimRequest::new(method, &url, body)).await
    }

    /// Calls, asserts the status is one of `ok`, returns the response.
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        ok: &[u16],
    ) -> SimResponse {
        let r = self.call(method, path, body).await;
        assert!(
            ok.contains(&r.status),
            "{method} {path} -> {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r
    }

    pub fn advance(&self, secs: u64) {
        self.sim.advance(Duration::from_secs(secs));
    }

    /// Polls an LRO's Azure-AsyncOperation URL, stepping the clock by Retry-After, until it is terminal.
    pub async fn wait(&self, r: &SimResponse) -> Value {
        let url = r
            .header("azure-asyncoperation")
            .expect("Azure-AsyncOperation header")
            .to_string();
        for _ in 0..10_000 {
            let s = self.ok("GET", &url, None, &[200]).await.json();
            if s["status"] != json!("InProgress") {
                return s;
            }
            self.advance(
                r.header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10)
                    .max(1),
            );
        }
        panic!("operation never finished");
    }

    /// Starts an LRO and waits for it to succeed.
    pub async fn lro(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.ok(method, path, body, &[200, 201, 202, 204]).await;
        if r.header("azure-asyncoperation").is_none() {
            return r.json();
        }
        let s = self.wait(&r).await;
        assert_eq!(s["status"], json!("Succeeded"), "{method} {path}: {s}");
        s
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok("GET", path, None, &[200]).await.json()
    }

    /// Everything up to (not including) enabling protection: target RG/VNets, cache account, vault, policy,
    /// fabrics, containers, container mappings and network mappings in both directions.
    pub async fn topology(&self) {
        self.topology_with(1440, 240).await
    }

    /// [`Env::topology`] with the policy's retention and app-consistent frequency (minutes).
    pub async fn topology_with(&self, retention: i64, app: i64) {
        self.ok(
            "PUT",
            &rg("rg-vault"),
            Some(json!({"location": "westus"})),
            &[201],
        )
        .await;
        self.ok(
            "PUT",
            &rg("rg-dr"),
            Some(json!({"location": "westus"})),
            &[201],
        )
        .await;
        let vnet = |space: &str, sub: &str| {
            json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": [space]},
            "subnets": [{"name": "snet000", "properties": {"addressPrefix": sub}}]}})
        };
        self.lro(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
                rg("rg-dr")
            ),
            Some(vnet("10.20.0.0/16", "10.20.0.0/24")),
        )
        .await;
        self.lro(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Network/virtualNetworks/vnet-test",
                rg("rg-dr")
            ),
            Some(vnet("10.30.0.0/16", "10.30.0.0/24")),
        )
        .await;
        // Cache account in the source region; reverse-direction cache in the target region.
        self.ok(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/cacheeast",
                rg("rg-app")
            ),
            Some(
                json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
            ),
            &[202],
        )
        .await;
        self.ok(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/cachewest",
                rg("rg-dr")
            ),
            Some(
                json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
            ),
            &[202],
        )
        .await;
        self.lro(
            "PUT",
            &vault(),
            Some(json!({"location": "westus", "sku": {"name": "Standard"}, "properties": {}})),
        )
        .await;
        self.lro("PUT", &format!("{}/replicationPolicies/pol", vault()), Some(json!({"properties": {"providerSpecificInput": {
            "instanceType": "A2A", "recoveryPointHistory": retention, "appConsistentFrequencyInMinutes": app,
            "crashConsistentFrequencyInMinutes": 5, "multiVmSyncStatus": "Disable"}}}))).await;
        for (f, loc) in [("src", "eastus"), ("tgt", "westus")] {
            self.lro("PUT", &fabric(f), Some(json!({"properties": {"customDetails": {"instanceType": "Azure", "location": loc}}}))).await;
            self.lro(
                "PUT",
                &container(f, &format!("{f}-c")),
                Some(json!({"properties": {"providerSpecificInput": [{"instanceType": "A2A"}]}})),
            )
            .await;
        }
        let pol = format!("{}/replicationPolicies/pol", vault());
        for (from, to, name) in [("src", "tgt", "fwd"), ("tgt", "src", "rev")] {
            self.lro("PUT", &format!("{}/replicationProtectionContainerMappings/{name}", container(from, &format!("{from}-c"))),
                Some(json!({"properties": {"targetProtectionContainerId": container(to, &format!("{to}-c")), "policyId": pol,
                    "providerSpecificInput": {"instanceType": "A2A", "agentAutoUpdateStatus": "Disabled"}}}))).await;
        }
        let src_vnet = estate::ids::vnet(SUB, "rg-app", "vnet-app");
        let dr_vnet = format!(
            "{}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
            rg("rg-dr")
        );
        self.lro("PUT", &format!("{}/replicationNetworks/vnet-app/replicationNetworkMappings/fwd", fabric("src")),
            Some(json!({"properties": {"recoveryFabricName": "tgt", "recoveryNetworkId": dr_vnet,
                "fabricSpecificDetails": {"instanceType": "AzureToAzure", "primaryNetworkId": src_vnet}}}))).await;
        self.lro("PUT", &format!("{}/replicationNetworks/vnet-dr/replicationNetworkMappings/rev", fabric("tgt")),
            Some(json!({"properties": {"recoveryFabricName": "src", "recoveryNetworkId": src_vnet,
                "fabricSpecificDetails": {"instanceType": "AzureToAzure", "primaryNetworkId": dr_vnet}}}))).await;
    }

    /// The A2A enable body for `vm_name`.
    pub fn enable_body(&self, vm_name: &str) -> Value {
        let disks: Vec<Value> = self.sim.world().vm_disks(&vm(vm_name)).into_iter().map(|(id, _)| json!({
            "diskId": id, "primaryStagingAzureStorageAccountId": format!("{}/providers/Microsoft.Storage/storageAccounts/cacheeast", rg("rg-app")),
            "recoveryResourceGroupId": rg("rg-dr")})).collect();
        json!({"properties": {"policyId": format!("{}/replicationPolicies/pol", vault()), "providerSpecificDetails": {
            "instanceType": "A2A", "fabricObjectId": vm(vm_name), "recoveryContainerId": container("tgt", "tgt-c"),
            "recoveryResourceGroupId": rg("rg-dr"), "recoveryAzureNetworkId": format!("{}/providers/Microsoft.Network/virtualNetworks/vnet-dr", rg("rg-dr")),
            "recoverySubnetName": "snet000", "vmManagedDisks": disks}}})
    }

    /// Enables protection of `vm_name` as item `vm_name` and waits for the enable job (not for Protected).
    pub async fn enable(&self, vm_name: &str) {
        self.lro("PUT", &rpi(vm_name), Some(self.enable_body(vm_name)))
            .await;
    }

    /// Steps the clock until the item reports Protected; returns the simulated seconds waited.
    pub async fn until_protected(&self, item: &str) -> u64 {
        let mut waited = 0;
        loop {
            let r = self.get(item).await;
            if r["properties"]["providerSpecificDetails"]["vmProtectionState"] == json!("Protected")
            {
                return waited;
            }
            assert!(waited < 30 * 86400, "never protected: {r}");
            self.advance(60);
            waited += 60;
        }
    }
}
