//! Simulator operations beyond the happy path: job cancel/restart, `Location` polling, ARM LROs of storage and
//! VNets, VM power actions, recovery-plan drills, cache-account overload, and the operator API over loopback
//! (including a dropped connection closing the socket).

use std::net::SocketAddr;

use asrform::sim::SimConfig;
use serde_json::json;

use crate::sim_support::*;

#[tokio::test]
async fn sim_job_cancel_restart_and_location_polling() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(900);
    let r = env.ok("POST", &format!("{}/unplannedFailover", rpi("vm00001")), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}})), &[202]).await;
    // The Location URL answers 202 while the job runs.
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.contains("/replicationOperationResults/"), "{loc}");
    let p = env.ok("GET", &loc, None, &[202]).await;
    assert!(p.header("retry-after").is_some());
    let job_id = env.get(&rpi("vm00001")).await["properties"]["currentScenario"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    env.advance(20);
    let job = env.get(&job_id).await;
    assert_eq!(job["properties"]["state"], json!("InProgress"));
    assert_eq!(job["properties"]["allowedActions"], json!(["Cancel"]));
    assert_eq!(job["properties"]["tasks"][0]["state"], json!("Succeeded"));
    assert_eq!(job["properties"]["tasks"][1]["state"], json!("InProgress"));
    env.lro("POST", &format!("{job_id}/cancel"), None).await;
    let job = env.get(&job_id).await;
    assert_eq!(job["properties"]["state"], json!("Cancelled"));
    let s = env.wait(&r).await;
    assert_eq!(s["status"], json!("Canceled"));
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(
        item["properties"]["protectionState"],
        json!("Protected"),
        "a cancelled failover changes nothing"
    );
    assert_eq!(
        item["properties"]["currentScenario"]["scenarioName"],
        json!("None")
    );
    // Cancelling a finished job is refused; restarting the cancelled one runs the failover again.
    let again = env.call("POST", &format!("{job_id}/cancel"), None).await;
    assert_eq!(again.json()["error"]["code"], json!("28120"));
    let rr = env
        .ok("POST", &format!("{job_id}/restart"), None, &[202])
        .await;
    env.wait(&rr).await;
    assert_eq!(
        env.get(&rpi("vm00001")).await["properties"]["protectionState"],
        json!("UnplannedFailoverCommitPendingStatesBegin")
    );
    // A finished Location poll answers the resource.
    let r = env
        .ok(
            "POST",
            &format!("{}/failoverCommit", rpi("vm00001")),
            None,
            &[202],
        )
        .await;
    let loc = r.header("location").unwrap().to_string();
    env.advance(3600);
    let done = env.ok("GET", &loc, None, &[200]).await.json();
    assert_eq!(
        done["properties"]["protectionState"],
        json!("UnplannedFailoverCommitted")
    );
    // Job list filters by state and start time.
    let running = env
        .get(&format!(
            "{}/replicationJobs?$filter=state eq 'InProgress'",
            vault()
        ))
        .await;
    assert_eq!(running["value"].as_array().unwrap().len(), 0);
    let late = env
        .get(&format!(
            "{}/replicationJobs?$filter=startTime ge '2030-01-01T00:00:00Z'",
            vault()
        ))
        .await;
    assert_eq!(late["value"].as_array().unwrap().len(), 0);
    let cancelled = env
        .get(&format!(
            "{}/replicationJobs?$filter=state eq 'Cancelled'",
            vault()
        ))
        .await;
    assert_eq!(cancelled["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sim_arm_lros_and_vm_power() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.ok(
        "PUT",
        &rg("rg-x"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    env.ok(
        "PUT",
        &rg("rg-x"),
        Some(json!({"location": "westus"})),
        &[200],
    )
    .await;
    let r = env
        .call("PUT", &rg("rg-x"), Some(json!({"location": "eastus"})))
        .await;
    assert_eq!(
        r.json()["error"]["code"],
        json!("InvalidResourceGroupLocation")
    );
    let sa = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/cachex",
        rg("rg-x")
    );
    let r = env
        .ok(
            "PUT",
            &sa,
            Some(
                json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
            ),
            &[202],
        )
        .await;
    let loc = r.header("location").unwrap().to_string();
    let done = env.ok("GET", &loc, None, &[200]).await.json();
    assert_eq!(done["name"], json!("cachex"));
    let bad = env
        .call(
            "PUT",
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/Bad_Name",
                rg("rg-x")
            ),
            Some(
                json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
            ),
        )
        .await;
    assert_eq!(bad.json()["error"]["code"], json!("AccountNameInvalid"));
    let vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/v",
        rg("rg-x")
    );
    let r = env.ok("PUT", &vnet, Some(json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "a", "properties": {"addressPrefix": "10.9.1.0/24"}}]}})), &[201]).await;
    assert!(r.header("azure-asyncoperation").unwrap().starts_with(BASE));
    let r = env
        .call(
            "PUT",
            &format!("{vnet}/subnets/b"),
            Some(json!({"properties": {"addressPrefix": "10.10.0.0/24"}})),
        )
        .await;
    assert_eq!(
        r.json()["error"]["code"],
        json!("NetcfgSubnetRangeOutsideVnet")
    );
    env.ok(
        "PUT",
        &format!("{vnet}/subnets/b"),
        Some(json!({"properties": {"addressPrefix": "10.9.2.0/24"}})),
        &[201],
    )
    .await;
    assert_eq!(
        env.get(&format!("{vnet}/subnets")).await["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let av = format!(
        "{}/providers/Microsoft.Compute/availabilitySets/av",
        rg("rg-x")
    );
    env.ok(
        "PUT",
        &av,
        Some(json!({"location": "westus", "properties": {"platformFaultDomainCount": 2}})),
        &[201],
    )
    .await;
    // VM power actions and lists.
    let v = vm("vm00001");
    env.ok("POST", &format!("{v}/powerOff"), None, &[202]).await;
    assert_eq!(
        env.get(&v).await["properties"]["instanceView"]["statuses"][1]["code"],
        json!("PowerState/stopped")
    );
    let disk = env.sim.world().vm_disks(&v)[0].0.clone();
    let before = env.sim.disk_content(&disk).unwrap();
    env.advance(600);
    assert_eq!(
        env.sim.disk_content(&disk).unwrap(),
        before,
        "a stopped VM writes nothing"
    );
    env.ok("POST", &format!("{v}/start"), None, &[202]).await;
    env.advance(600);
    assert!(env.sim.disk_content(&disk).unwrap() > before);
    let el = env.ok("GET", &format!("{v}/providers/Microsoft.RecoveryServices/replicationEligibilityResults/default?api-version=2025-08-01"), None, &[200]).await.json();
    assert_eq!(el["properties"]["errors"], json!([]));
    let all = env
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines"
        ))
        .await;
    assert_eq!(all["value"].as_array().unwrap().len(), 1);
    let disks = env
        .get(&format!(
            "{}/providers/Microsoft.Compute/disks",
            rg("rg-app")
        ))
        .await;
    assert!(!disks["value"].as_array().unwrap().is_empty());
    let nics = env
        .get(&format!(
            "{}/providers/Microsoft.Network/networkInterfaces",
            rg("rg-app")
        ))
        .await;
    assert_eq!(nics["value"].as_array().unwrap().len(), 1);
    env.ok("DELETE", &rg("rg-x"), None, &[202]).await;
    assert_eq!(env.call("GET", &rg("rg-x"), None).await.status, 404);
}

#[tokio::test]
async fn sim_recovery_plan_drill_and_cache_overload() {
    // Twelve VMs at 300 MB/s per disk share one cache account: over its 3,000 MB/s budget.
    let env = Env::new(
        &estate(12, 300.0),
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    );
    env.topology().await;
    for i in 1..=12 {
        env.enable(&format!("vm{i:05}")).await;
    }
    for i in 1..=12 {
        env.until_protected(&rpi(&format!("vm{i:05}"))).await;
    }
    env.advance(3600);
    let item = env.get(&rpi("vm00003")).await;
    let codes: Vec<&str> = item["properties"]["healthErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["errorCode"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"153049"),
        "cache overload warning expected: {codes:?}"
    );
    let plan = format!("{}/replicationRecoveryPlans/drill", vault());
    env.lro("PUT", &plan, Some(json!({"properties": {"primaryFabricId": fabric("src"), "recoveryFabricId": fabric("tgt"), "failoverDeploymentModel": "ResourceManager",
        "groups": [{"groupType": "Shutdown", "replicationProtectedItems": []}, {"groupType": "Failover", "replicationProtectedItems": []},
            {"groupType": "Boot", "replicationProtectedItems": [{"id": rpi("vm00001")}],
             "endGroupActions": [{"actionName": "smoke-test", "failoverTypes": ["TestFailover"], "failoverDirections": ["PrimaryToRecovery"],
                "customDetails": {"instanceType": "ScriptActionDetails", "path": "/scripts/smoke.sh", "fabricLocation": "Recovery"}}]},
            {"groupType": "Boot", "replicationProtectedItems": [{"id": rpi("vm00002")}]}],
        "providerSpecificInput": [{"instanceType": "A2A"}]}}))).await;
    let p = env.get(&plan).await;
    assert_eq!(
        p["properties"]["allowedOperations"],
        json!(["TestFailover", "UnplannedFailover"])
    );
    let test_net = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-test",
        rg("rg-dr")
    );
    env.lro("POST", &format!("{plan}/testFailover"), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
        "networkId": test_net, "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "LatestProcessed", "multiVmSyncPointOption": "UsePerVmRecoveryPoint"}]}}))).await;
    for v in ["vm00001", "vm00002"] {
        assert_eq!(
            env.get(&rpi(v)).await["properties"]["testFailoverState"],
            json!("WaitingForCompletion"),
            "{v}"
        );
    }
    let jobs = env.get(&format!("{}/replicationJobs", vault())).await;
    let tasks: Vec<String> = jobs["value"][0]["properties"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["friendlyName"].as_str().unwrap().to_string())
        .collect();
    let pos = |s: &str| {
        tasks
            .iter()
            .position(|t| t.contains(s))
            .unwrap_or_else(|| panic!("{s} not in {tasks:?}"))
    };
    assert!(
        pos("Group 1: test failover of vm00001") < pos("smoke-test")
            && pos("smoke-test") < pos("Group 2: test failover of vm00002"),
        "{tasks:?}"
    );
    assert_eq!(
        jobs["value"][0]["properties"]["tasks"][pos("smoke-test")]["customDetails"]["instanceType"],
        json!("ScriptActionTaskDetails")
    );
    env.lro(
        "POST",
        &format!("{plan}/testFailoverCleanup"),
        Some(json!({"properties": {"comments": "done"}})),
    )
    .await;
    assert_eq!(
        env.get(&rpi("vm00002")).await["properties"]["testFailoverState"],
        json!("None")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_operator_api_over_loopback() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    let server = asrform::sim::serve(env.sim.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = server.url();
    let c = reqwest::Client::new();
    let vm_url = format!("{base}{}?api-version=2026-04-01", vm("vm00001"));
    let r = c.get(&vm_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()
            .get("x-ms-ratelimit-remaining-subscription-reads")
            .is_some()
    );
    let r = c
        .post(format!("{base}/_sim/advance"))
        .body(r#"{"seconds": 3600}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(env.sim.now(), T0 + time::Duration::hours(1));
    let bad = c
        .post(format!("{base}/_sim/advance"))
        .body(r#"{"seconds": -1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    c.post(format!("{base}/_sim/outage/eastus"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.get(&vm_url).send().await.unwrap().status().as_u16(), 503);
    c.delete(format!("{base}/_sim/outage/eastus"))
        .send()
        .await
        .unwrap();
    assert_eq!(c.get(&vm_url).send().await.unwrap().status().as_u16(), 200);
    let r = c
        .post(format!("{base}/_sim/faults"))
        .body(r#"{"rules":[{"method":"GET","effect":{"kind":"drop"},"times":1}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A dropped connection: the client sees a transport error, not an HTTP answer.
    let dropped = match c.get(&vm_url).send().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(dropped, "the connection must be cut");
    assert_eq!(c.get(&vm_url).send().await.unwrap().status().as_u16(), 200);
    let log: serde_json::Value = c
        .get(format!("{base}/_sim/log"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let statuses: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![200, 503, 200, 0, 200]);
    let status: serde_json::Value = c
        .get(format!("{base}/_sim/status"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(
        status["resources"]["Microsoft.Compute/virtualMachines"],
        json!(1)
    );
    let cfg: serde_json::Value = c
        .patch(format!("{base}/_sim/config"))
        .body(r#"{"pageSize": 7}"#)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(cfg["pageSize"], json!(7));
    assert_eq!(env.sim.world().config.page_size, 7);
    server.stop().await;
}
