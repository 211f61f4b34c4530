//! Simulator conformance with Microsoft's spec examples (`tests/fixtures/spec/`): each example is replayed in a
//! realistic order against a seeded simulator. The operation (method + path template) comes from the derived
//! operation list; path names are mapped onto the seeded world; HyperV-only payloads are replaced by their A2A
//! equivalents (the simulator supports A2A only) while the original HyperV payload must get the simulator's
//! validation error. The answer must carry a documented status code, the documented LRO headers, and the example
//! body's keys at the top level and inside `properties` (minus the HyperV-only ones listed per example).

use std::collections::{BTreeMap, BTreeSet};

use asrform::sim::{SimConfig, SimRequest, SimResponse};
use serde_json::{Value, json};

use crate::sim_support::*;

fn fixture(name: &str) -> Value {
    let p = crate::common::path(&format!("tests/fixtures/spec/examples/{name}.json"));
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

fn operations() -> BTreeMap<String, (String, String)> {
    let p =
        crate::common::path("tests/fixtures/spec/asr-operations-2025-08-01.from-python-sdk.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["approxOperationId"].as_str().unwrap().to_string(),
                (
                    o["method"].as_str().unwrap().to_string(),
                    o["path"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

struct Replay<'a> {
    env: &'a Env,
    ops: BTreeMap<String, (String, String)>,
    names: BTreeMap<&'static str, String>,
    checked: BTreeSet<String>,
}

impl Replay<'_> {
    fn path(&self, template: &str, over: &[(&str, &str)]) -> String {
        let mut p = template.to_string();
        for (k, v) in over
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain(self.names.iter().map(|(k, v)| (*k, v.clone())))
        {
            p = p.replace(&format!("{{{k}}}"), &v);
        }
        assert!(!p.contains('{'), "unmapped parameter in {p}");
        p
    }

    /// Sends the example's operation with `body` (None: the example's own body) and checks the envelope.
    async fn send(
        &mut self,
        file: &str,
        over: &[(&str, &str)],
        body: Option<Value>,
    ) -> (Value, SimResponse) {
        let ex = fixture(file);
        let (method, template) = if file.starts_with("PUTVault") {
            ("PUT".to_string(), "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.RecoveryServices/vaults/{vaultName}".to_string())
        } else {
            self.ops
                .get(file)
                .cloned()
                .unwrap_or_else(|| panic!("no operation {file}"))
        };
        let path = self.path(&template, over);
        let api = ex["parameters"]["api-version"].as_str().unwrap();
        let ex_body = ex["parameters"]
            .as_object()
            .unwrap()
            .values()
            .find(|v| v.is_object())
            .cloned();
        let body = body.or(ex_body);
        let r = self
            .env
            .sim
            .handle(SimRequest::new(
                &method,
                &format!("{BASE}{path}?api-version={api}"),
                body,
            ))
            .await;
        let documented: Vec<u16> = ex["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(
            documented.contains(&r.status),
            "{file}: status {} not in {documented:?}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let ex_headers = &ex["responses"][r.status.to_string()]["headers"];
        // GET examples also show LRO headers (a recording artefact); they are checked on mutations only.
        for h in ["Azure-AsyncOperation", "Location", "Retry-After"] {
            if !ex_headers[h].is_null() && method != "GET" {
                assert!(r.header(h).is_some(), "{file}: missing {h} (documented)");
            }
        }
        if let Some(u) = r.header("azure-asyncoperation") {
            let doc = ex_headers["Azure-AsyncOperation"].as_str().unwrap_or("");
            let seg = |s: &str| {
                s.split('?')
                    .next()
                    .unwrap_or("")
                    .rsplit('/')
                    .nth(1)
                    .unwrap_or("")
                    .to_ascii_lowercase()
            };
            if !doc.is_empty() {
                assert_eq!(seg(u), seg(doc), "{file}: status URL shape {u} vs {doc}");
            }
            assert!(
                u.starts_with(BASE),
                "{file}: absolute URL on the request's base: {u}"
            );
        }
        // The initial answer of an ASR LRO carries Location too: the Python SDK reads it.
        if r.status == 202 && !file.starts_with("PUTVault") {
            assert!(
                r.header("location").is_some() && r.header("retry-after").is_some(),
                "{file}: 202 without Location/Retry-After"
            );
        }
        self.checked.insert(file.to_string());
        (ex, r)
    }

    /// Compares key sets of the documented 200 body with `mine` (top level and `properties`).
    fn keys(&self, file: &str, ex: &Value, mine: &Value, hyperv_only: &[&str]) {
        let doc = &ex["responses"]["200"]["body"];
        let (doc, mine) = if doc["value"].is_array() {
            (doc["value"][0].clone(), mine["value"][0].clone())
        } else {
            (doc.clone(), mine.clone())
        };
        for level in [None, Some("properties")] {
            let (d, m) = match level {
                None => (&doc, &mine),
                Some(k) => (&doc[k], &mine[k]),
            };
            let Some(d) = d.as_object() else { continue };
            let m = m
                .as_object()
                .unwrap_or_else(|| panic!("{file}: no {level:?} object in {mine}"));
            let missing: Vec<&String> = d
                .keys()
                .filter(|k| !m.contains_key(*k) && !hyperv_only.contains(&k.as_str()))
                .collect();
            assert!(
                missing.is_empty(),
                "{file}: keys missing at {level:?}: {missing:?}"
            );
        }
    }

    /// The original (HyperV) payload is refused with a validation error naming the instanceType.
    async fn hyperv_refused(&mut self, file: &str, over: &[(&str, &str)]) {
        let (_, r) = {
            let ex = fixture(file);
            let (method, template) = self.ops.get(file).cloned().unwrap();
            let path = self.path(&template, over);
            let body = ex["parameters"]
                .as_object()
                .unwrap()
                .values()
                .find(|v| v.is_object())
                .cloned();
            (
                ex.clone(),
                self.env
                    .sim
                    .handle(SimRequest::new(
                        &method,
                        &format!("{BASE}{path}?api-version=2025-08-01"),
                        body,
                    ))
                    .await,
            )
        };
        assert_eq!(
            r.status,
            400,
            "{file}: HyperV payload must be refused: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("instanceType"),
            "{file}: {}",
            r.json()
        );
    }
}

#[tokio::test]
async fn sim_spec_examples_replay() {
    let env = Env::new(&estate(2, 1.0), SimConfig::default());
    let names: BTreeMap<&'static str, String> = [
        ("subscriptionId", SUB.to_string()),
        ("resourceGroupName", "rg-vault".into()),
        ("resourceName", "vault1".into()),
        ("vaultName", "vault1".into()),
        ("fabricName", "src".into()),
        ("protectionContainerName", "src-c".into()),
        ("policyName", "pol".into()),
        ("mappingName", "fwd".into()),
        ("networkName", "vnet-app".into()),
        ("networkMappingName", "fwd".into()),
        ("replicatedProtectedItemName", "vm00001".into()),
        ("recoveryPlanName", "plan1".into()),
    ]
    .into_iter()
    .collect();
    let mut rp = Replay {
        env: &env,
        ops: operations(),
        names,
        checked: BTreeSet::new(),
    };
    // Plain ARM prerequisites (not ASR examples).
    env.ok(
        "PUT",
        &rg("rg-vault"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    env.ok(
        "PUT",
        &rg("rg-dr"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    env.lro("PUT", &format!("{}/providers/Microsoft.Network/virtualNetworks/vnet-dr", rg("rg-dr")), Some(json!({"location": "westus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}, "subnets": [{"name": "snet000", "properties": {"addressPrefix": "10.20.0.0/24"}}]}}))).await;
    env.ok(
        "PUT",
        &format!(
            "{}/providers/Microsoft.Storage/storageAccounts/cacheeast",
            rg("rg-app")
        ),
        Some(json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})),
        &[202],
    )
    .await;

    // Vault (the example is provider-neutral: replayed as is).
    let (ex, r) = rp
        .send("PUTVault_WithSourceScanConfiguration", &[], None)
        .await;
    // The simulated vault is provisioned at once: the example's synchronous 200 (Succeeded, nothing to poll).
    assert_eq!(r.status, 200);
    rp.keys(
        "PUTVault",
        &json!({"responses": {"200": {"body": ex["responses"]["200"]["body"]}}}),
        &r.json(),
        &["systemData", "etag"],
    );

    // Policy.
    rp.hyperv_refused("ReplicationPolicies_Create", &[]).await;
    let (ex, r) = rp.send("ReplicationPolicies_Create", &[], Some(json!({"properties": {"providerSpecificInput": {"instanceType": "A2A",
        "recoveryPointHistory": 1440, "appConsistentFrequencyInMinutes": 240, "crashConsistentFrequencyInMinutes": 5, "multiVmSyncStatus": "Enable"}}}))).await;
    env.wait(&r).await;
    let pol = format!("{}/replicationPolicies/pol", vault());
    rp.keys("ReplicationPolicies_Create", &ex, &env.get(&pol).await, &[]);
    let (ex, r) = rp.send("ReplicationPolicies_Get", &[], None).await;
    rp.keys("ReplicationPolicies_Get", &ex, &r.json(), &[]);

    // Fabrics and containers.
    rp.hyperv_refused("ReplicationFabrics_Create", &[]).await;
    let (ex, r) = rp.send("ReplicationFabrics_Create", &[], Some(json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "eastus"}}}))).await;
    env.wait(&r).await;
    rp.keys(
        "ReplicationFabrics_Create",
        &ex,
        &env.get(&fabric("src")).await,
        &[],
    );
    env.lro("PUT", &fabric("tgt"), Some(json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "westus"}}}))).await;
    rp.hyperv_refused("ReplicationProtectionContainers_Create", &[])
        .await;
    let (ex, r) = rp
        .send(
            "ReplicationProtectionContainers_Create",
            &[],
            Some(json!({"properties": {"providerSpecificInput": [{"instanceType": "A2A"}]}})),
        )
        .await;
    env.wait(&r).await;
    rp.keys(
        "ReplicationProtectionContainers_Create",
        &ex,
        &env.get(&container("src", "src-c")).await,
        &[],
    );
    env.lro(
        "PUT",
        &container("tgt", "tgt-c"),
        Some(json!({"properties": {}})),
    )
    .await;

    // Container mappings.
    rp.hyperv_refused("ReplicationProtectionContainerMappings_Create", &[])
        .await;
    let (ex, r) = rp.send("ReplicationProtectionContainerMappings_Create", &[], Some(json!({"properties": {"targetProtectionContainerId": container("tgt", "tgt-c"),
        "policyId": pol, "providerSpecificInput": {"instanceType": "A2A", "agentAutoUpdateStatus": "Disabled"}}}))).await;
    env.wait(&r).await;
    let fwd = format!(
        "{}/replicationProtectionContainerMappings/fwd",
        container("src", "src-c")
    );
    rp.keys(
        "ReplicationProtectionContainerMappings_Create",
        &ex,
        &env.get(&fwd).await,
        &[],
    );
    env.lro("PUT", &format!("{}/replicationProtectionContainerMappings/rev", container("tgt", "tgt-c")), Some(json!({"properties": {
        "targetProtectionContainerId": container("src", "src-c"), "policyId": pol, "providerSpecificInput": {"instanceType": "A2A"}}}))).await;
    // The only true A2A example: replayed unchanged.
    let (ex, r) = rp
        .send("ReplicationProtectionContainerMappings_Update", &[], None)
        .await;
    env.wait(&r).await;
    let m = env.get(&fwd).await;
    assert_eq!(
        m["properties"]["providerSpecificDetails"]["agentAutoUpdateStatus"],
        json!("Enabled")
    );
    rp.keys(
        "ReplicationProtectionContainerMappings_Update",
        &ex,
        &m,
        &[],
    );

    // Network mapping.
    rp.hyperv_refused("ReplicationNetworkMappings_Create", &[])
        .await;
    let dr_vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
        rg("rg-dr")
    );
    let (ex, r) = rp.send("ReplicationNetworkMappings_Create", &[], Some(json!({"properties": {"recoveryFabricName": "tgt", "recoveryNetworkId": dr_vnet,
        "fabricSpecificDetails": {"instanceType": "AzureToAzure", "primaryNetworkId": asrform::estate::ids::vnet(SUB, "rg-app", "vnet-app")}}}))).await;
    env.wait(&r).await;
    let (ex2, r2) = rp.send("ReplicationNetworkMappings_Get", &[], None).await;
    rp.keys("ReplicationNetworkMappings_Create", &ex, &r2.json(), &[]);
    rp.keys("ReplicationNetworkMappings_Get", &ex2, &r2.json(), &[]);

    // Enable protection.
    rp.hyperv_refused("ReplicationProtectedItems_Create", &[])
        .await;
    let (ex, r) = rp
        .send(
            "ReplicationProtectedItems_Create",
            &[],
            Some(env.enable_body("vm00001")),
        )
        .await;
    env.wait(&r).await;
    env.enable("vm00002").await;
    env.until_protected(&rpi("vm00001")).await;
    env.until_protected(&rpi("vm00002")).await;
    env.advance(3600);
    // HyperV-only RPI properties the A2A item does not have.
    let rpi_hv: &[&str] = &["recoveryServicesProviderId", "protectableItemId"];
    rp.keys(
        "ReplicationProtectedItems_Create",
        &ex,
        &env.get(&rpi("vm00001")).await,
        rpi_hv,
    );

    // Update: A2A body with the NIC id read from the item.
    let item = env.get(&rpi("vm00001")).await;
    let nic_id = item["properties"]["providerSpecificDetails"]["vmNics"][0]["nicId"].clone();
    let (ex, r) = rp.send("ReplicationProtectedItems_Update", &[], Some(json!({"properties": {"recoveryAzureVMName": "vm00001-dr",
        "recoveryAzureVMSize": "Standard_D4s_v5", "selectedRecoveryAzureNetworkId": dr_vnet,
        "vmNics": [{"nicId": nic_id, "ipConfigs": [{"ipConfigName": "ipconfig1", "isPrimary": true, "isSeletedForFailover": true,
            "recoverySubnetName": "snet000", "recoveryStaticIPAddress": "10.20.0.50"}], "selectionType": "SelectedByUser"}],
        "providerSpecificDetails": {"instanceType": "A2A"}}}))).await;
    let done = env.wait(&r).await;
    assert_eq!(done["status"], json!("Succeeded"));
    rp.keys(
        "ReplicationProtectedItems_Update",
        &ex,
        &env.get(&rpi("vm00001")).await,
        rpi_hv,
    );

    let (ex, r) = rp
        .send("RecoveryPoints_ListByReplicationProtectedItems", &[], None)
        .await;
    rp.keys("RecoveryPoints", &ex, &r.json(), &[]);

    // Test failover, cleanup, failover, commit, reprotect.
    rp.hyperv_refused("ReplicationProtectedItems_TestFailover", &[])
        .await;
    let (ex, r) = rp.send("ReplicationProtectedItems_TestFailover", &[], Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "networkType": "VmNetworkAsInput", "networkId": dr_vnet, "providerSpecificDetails": {"instanceType": "A2A"}}}))).await;
    env.wait(&r).await;
    rp.keys(
        "ReplicationProtectedItems_TestFailover",
        &ex,
        &env.get(&rpi("vm00001")).await,
        rpi_hv,
    );
    let (ex, r) = rp
        .send("ReplicationProtectedItems_TestFailoverCleanup", &[], None)
        .await;
    env.wait(&r).await;
    rp.keys(
        "ReplicationProtectedItems_TestFailoverCleanup",
        &ex,
        &env.get(&rpi("vm00001")).await,
        rpi_hv,
    );
    rp.hyperv_refused("ReplicationProtectedItems_UnplannedFailover", &[])
        .await;
    let (ex, r) = rp.send("ReplicationProtectedItems_UnplannedFailover", &[], Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}}))).await;
    env.wait(&r).await;
    let item = env.get(&rpi("vm00001")).await;
    rp.keys(
        "ReplicationProtectedItems_UnplannedFailover",
        &ex,
        &item,
        rpi_hv,
    );
    // The static IP and name set by the update are used by the failover.
    let target = item["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(target.ends_with("/vm00001-dr"), "{target}");
    let nic = env
        .get(
            env.get(&target).await["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
                .as_str()
                .unwrap(),
        )
        .await;
    assert_eq!(
        nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        json!("10.20.0.50")
    );
    let (ex, r) = rp
        .send("ReplicationProtectedItems_FailoverCommit", &[], None)
        .await;
    env.wait(&r).await;
    rp.keys(
        "ReplicationProtectedItems_FailoverCommit",
        &ex,
        &env.get(&rpi("vm00001")).await,
        rpi_hv,
    );
    rp.hyperv_refused("ReplicationProtectedItems_Reprotect", &[])
        .await;
    let (ex, r) = rp.send("ReplicationProtectedItems_Reprotect", &[], Some(json!({"properties": {"failoverDirection": "RecoveryToPrimary",
        "providerSpecificDetails": {"instanceType": "A2A", "recoveryContainerId": container("src", "src-c"), "policyId": pol,
            "recoveryResourceGroupId": rg("rg-app")}}}))).await;
    env.wait(&r).await;
    let moved = format!(
        "{}/replicationProtectedItems/vm00001",
        container("tgt", "tgt-c")
    );
    rp.keys(
        "ReplicationProtectedItems_Reprotect",
        &ex,
        &env.get(&moved).await,
        rpi_hv,
    );

    // Jobs.
    let jobs = env.get(&format!("{}/replicationJobs", vault())).await;
    let job_name = jobs["value"][0]["name"].as_str().unwrap().to_string();
    let (ex, r) = rp
        .send("ReplicationJobs_Get", &[("jobName", &job_name)], None)
        .await;
    rp.keys("ReplicationJobs_Get", &ex, &r.json(), &[]);

    // Recovery plan over vm00002, then its failover.
    let (ex, r) = rp.send("ReplicationRecoveryPlans_Create", &[], Some(json!({"properties": {"primaryFabricId": fabric("src"), "recoveryFabricId": fabric("tgt"),
        "failoverDeploymentModel": "ResourceManager", "groups": [
            {"groupType": "Shutdown", "replicationProtectedItems": []},
            {"groupType": "Failover", "replicationProtectedItems": []},
            {"groupType": "Boot", "replicationProtectedItems": [{"id": rpi("vm00002")}],
             "startGroupActions": [{"actionName": "check-dns", "failoverTypes": ["UnplannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
                "customDetails": {"instanceType": "ManualActionDetails", "description": "check DNS"}}]}],
        "providerSpecificInput": [{"instanceType": "A2A"}]}}))).await;
    env.wait(&r).await;
    let plan = format!("{}/replicationRecoveryPlans/plan1", vault());
    rp.keys(
        "ReplicationRecoveryPlans_Create",
        &ex,
        &env.get(&plan).await,
        &[],
    );
    let (_ex, r) = rp.send("ReplicationRecoveryPlans_UnplannedFailover", &[], Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "Required", "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}))).await;
    // The manual action holds the job (Suspended) until it is resumed, as ASR does.
    let url = r.header("azure-asyncoperation").unwrap().to_string();
    env.advance(60);
    let st = env.get(&url).await;
    let job_id = st["properties"]["jobId"].as_str().unwrap().to_string();
    assert_eq!(
        env.get(&job_id).await["properties"]["state"],
        json!("Suspended")
    );
    let rr = env
        .ok("POST", &format!("{job_id}/resume"), None, &[202])
        .await;
    env.wait(&rr).await;
    env.wait(&r).await;
    let p = env.get(&plan).await;
    assert_eq!(
        p["properties"]["allowedOperations"],
        json!(["Commit", "CancelFailover"])
    );
    let jobs = env.get(&format!("{}/replicationJobs", vault())).await;
    let tasks: Vec<String> = jobs["value"][0]["properties"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["friendlyName"].as_str().unwrap().to_string())
        .collect();
    assert!(
        tasks.iter().any(|t| t.contains("check-dns"))
            && tasks.iter().any(|t| t.contains("fail over vm00002")),
        "{tasks:?}"
    );

    // Disable protection of the reprotected item (POST remove): 202.
    let (_ex, r) = rp
        .send(
            "ReplicationProtectedItems_Delete",
            &[("fabricName", "tgt"), ("protectionContainerName", "tgt-c")],
            None,
        )
        .await;
    env.wait(&r).await;
    assert_eq!(env.call("GET", &moved, None).await.status, 404);

    let all: BTreeSet<String> =
        std::fs::read_dir(crate::common::path("tests/fixtures/spec/examples"))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
    assert_eq!(rp.checked, all, "every example is replayed");
}
