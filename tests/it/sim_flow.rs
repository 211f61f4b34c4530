//! Simulator: the whole A2A lifecycle over the ARM facade (enable → Protected → test failover → cleanup →
//! failover → commit → switch protection → failback), plus the ARM envelope rules (api-version, 404s, bad bodies,
//! pagination, ETags) and the azure_core in-process transport.

use asrform::sim::{InProcessTransport, SimConfig};
use serde_json::json;

use crate::sim_support::*;

#[tokio::test]
async fn sim_lifecycle_enable_to_failback() {
    let env = Env::new(&estate(2, 1.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    let item = env.get(&rpi("vm00001")).await;
    let p = &item["properties"];
    assert!(
        item["id"].as_str().unwrap().starts_with("/Subscriptions/"),
        "ASR ids use /Subscriptions/: {}",
        item["id"]
    );
    assert_eq!(
        p["providerSpecificDetails"]["vmProtectionState"],
        json!("InitialReplicationInProgress")
    );
    assert_eq!(p["allowedOperations"], json!(["DisableProtection"]));
    let lifecycle = p["providerSpecificDetails"]["lifecycleId"]
        .as_str()
        .unwrap()
        .to_string();
    // Test failover before Protected is refused with ASR's error.
    let r = env.call("POST", &format!("{}/testFailover", rpi("vm00001")), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "networkType": "VmNetworkAsInput", "networkId": format!("{}/providers/Microsoft.Network/virtualNetworks/vnet-test", rg("rg-dr")),
        "providerSpecificDetails": {"instanceType": "A2A"}}}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], json!("28126"));
    let waited = env.until_protected(&rpi("vm00001")).await;
    assert!(waited > 0);
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(item["properties"]["protectionState"], json!("Protected"));
    assert_eq!(item["properties"]["replicationHealth"], json!("Normal"));
    env.advance(3600);
    let points = env.get(&format!("{}/recoveryPoints", rpi("vm00001"))).await;
    assert!(points["value"].as_array().unwrap().len() >= 12, "{points}");

    // Test failover into vnet-test, then cleanup.
    let test_net = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-test",
        rg("rg-dr")
    );
    env.lro("POST", &format!("{}/testFailover", rpi("vm00001")), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "networkType": "VmNetworkAsInput", "networkId": test_net, "providerSpecificDetails": {"instanceType": "A2A"}}}))).await;
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(
        item["properties"]["testFailoverState"],
        json!("WaitingForCompletion")
    );
    let tfo_vm =
        item["properties"]["providerSpecificDetails"]["testFailoverRecoveryFabricObjectId"]
            .as_str()
            .unwrap()
            .to_string();
    let v = env.get(&tfo_vm).await;
    assert_eq!(v["location"], json!("westus"));
    let nic = v["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let nic = env.get(&nic).await;
    assert!(
        nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
            .as_str()
            .unwrap()
            .contains("vnet-test")
    );
    env.lro(
        "POST",
        &format!("{}/testFailoverCleanup", rpi("vm00001")),
        Some(json!({"properties": {"comments": "ok"}})),
    )
    .await;
    assert_eq!(
        env.call("GET", &tfo_vm, None).await.status,
        404,
        "cleanup removes the test VM"
    );

    // Commit before failover: ASR error.
    let r = env
        .call("POST", &format!("{}/failoverCommit", rpi("vm00001")), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], json!("28126"));

    // Failover (planned style), commit, switch protection.
    env.lro(
        "POST",
        &format!("{}/unplannedFailover", rpi("vm00001")),
        Some(
            json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "Required", "providerSpecificDetails": {"instanceType": "A2A"}}}),
        ),
    )
    .await;
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(
        item["properties"]["protectionState"],
        json!("UnplannedFailoverCommitPendingStatesBegin")
    );
    assert_eq!(item["properties"]["activeLocation"], json!("Recovery"));
    // Reprotect before commit: ASR error.
    let sw = json!({"properties": {"replicationProtectedItemName": "vm00001", "providerSpecificDetails": {"instanceType": "A2A",
        "recoveryContainerId": container("src", "src-c"), "policyId": format!("{}/replicationPolicies/pol", vault())}}});
    let r = env
        .call(
            "POST",
            &format!("{}/switchprotection", container("src", "src-c")),
            Some(sw.clone()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], json!("28126"));
    env.lro("POST", &format!("{}/failoverCommit", rpi("vm00001")), None)
        .await;
    let target_vm = env.get(&rpi("vm00001")).await["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"].as_str().unwrap().to_string();
    assert!(
        target_vm
            .to_ascii_lowercase()
            .contains("/resourcegroups/rg-dr/"),
        "{target_vm}"
    );
    // recoveryContainerId is the reverse mapping's target (the primary container), not the recovery container.
    let wrong = json!({"properties": {"replicationProtectedItemName": "vm00001", "providerSpecificDetails": {"instanceType": "A2A",
        "recoveryContainerId": container("tgt", "tgt-c"), "policyId": format!("{}/replicationPolicies/pol", vault()),
        "recoveryResourceGroupId": rg("rg-app")}}});
    let r = env
        .call(
            "POST",
            &format!("{}/switchprotection", container("src", "src-c")),
            Some(wrong),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("150095"))
    );
    let sw = json!({"properties": {"replicationProtectedItemName": "vm00001", "providerSpecificDetails": {"instanceType": "A2A",
        "recoveryContainerId": container("src", "src-c"), "policyId": format!("{}/replicationPolicies/pol", vault()),
        "recoveryResourceGroupId": rg("rg-app")}}});
    env.lro(
        "POST",
        &format!("{}/switchprotection", container("src", "src-c")),
        Some(sw),
    )
    .await;
    assert_eq!(
        env.call("GET", &rpi("vm00001"), None).await.status,
        404,
        "the old RPI id is gone"
    );
    let list = env
        .get(&format!("{}/replicationProtectedItems", vault()))
        .await;
    let moved = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["properties"]["providerSpecificDetails"]["lifecycleId"] == json!(lifecycle))
        .expect("same lifecycleId")
        .clone();
    let new_id = moved["id"].as_str().unwrap().to_string();
    assert!(
        new_id.contains("/replicationFabrics/tgt/replicationProtectionContainers/tgt-c/"),
        "{new_id}"
    );
    env.until_protected(&new_id).await;

    // Failback: fail over the reprotected item, commit, switch protection again.
    env.lro(
        "POST",
        &format!("{new_id}/unplannedFailover"),
        Some(
            json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "Required", "providerSpecificDetails": {"instanceType": "A2A"}}}),
        ),
    )
    .await;
    env.lro("POST", &format!("{new_id}/failoverCommit"), None)
        .await;
    let back = env.get(&new_id).await;
    assert_eq!(
        back["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"]
            .as_str()
            .map(|s| s.to_ascii_lowercase()),
        Some(vm("vm00001").to_ascii_lowercase()),
        "failback lands on the original VM"
    );
    // The original VM's disks hold the failed-over VM's content at the failback point: nothing lost (Required).
    for d in back["properties"]["providerSpecificDetails"]["protectedManagedDisks"]
        .as_array()
        .unwrap()
    {
        let src = d["diskId"].as_str().unwrap();
        let tgt = d["recoveryTargetDiskId"]
            .as_str()
            .expect("target disk recorded");
        // The source (the failed-over VM) is stopped, so its content now is its content at the final point.
        let at_failback = env.sim.world().disk_content_at_base(tgt);
        assert_eq!(at_failback, env.sim.disk_content(src), "{tgt} vs {src}");
    }
    let sw2 = json!({"properties": {"replicationProtectedItemName": "vm00001", "providerSpecificDetails": {"instanceType": "A2A",
        "recoveryContainerId": container("tgt", "tgt-c"), "policyId": format!("{}/replicationPolicies/pol", vault()),
        "recoveryResourceGroupId": rg("rg-dr")}}});
    env.lro(
        "POST",
        &format!("{}/switchprotection", container("tgt", "tgt-c")),
        Some(sw2),
    )
    .await;
    let again = env.get(&rpi("vm00001")).await;
    assert_eq!(
        again["properties"]["providerSpecificDetails"]["lifecycleId"],
        json!(lifecycle)
    );
    // Jobs were recorded for every mutation, newest first.
    let jobs = env.get(&format!("{}/replicationJobs", vault())).await;
    let names: Vec<&str> = jobs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["properties"]["scenarioName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"EnableDr")
            && names.contains(&"SwitchProtection")
            && names.contains(&"TestFailoverCleanup"),
        "{names:?}"
    );
}

#[tokio::test]
async fn sim_second_operation_while_job_runs_is_refused() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(600);
    let r = env.ok("POST", &format!("{}/unplannedFailover", rpi("vm00001")), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}})), &[202]).await;
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(
        item["properties"]["currentScenario"]["scenarioName"],
        json!("UnplannedFailover")
    );
    assert_eq!(item["properties"]["allowedOperations"], json!([]));
    let again = env
        .call("POST", &format!("{}/failoverCommit", rpi("vm00001")), None)
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["error"]["code"], json!("28095"));
    env.wait(&r).await;
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(
        item["properties"]["currentScenario"]["scenarioName"],
        json!("None")
    );
    assert_eq!(
        item["properties"]["allowedOperations"],
        json!(["Commit", "ChangePit", "CancelFailover"])
    );
}

#[tokio::test]
async fn sim_arm_envelopes() {
    let env = Env::new(
        &estate(3, 1.0),
        SimConfig {
            page_size: 2,
            ..SimConfig::default()
        },
    );
    let vmp = vm("vm00001");
    let r = env
        .sim
        .handle(asrform::sim::SimRequest::new(
            "GET",
            &format!("{BASE}{vmp}?x=1"),
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("MissingApiVersionParameter"))
    );
    let r = env
        .call("GET", &format!("{vmp}?api-version=1999-01-01"), None)
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("InvalidApiVersionParameter"))
    );
    // ASR accepts the earlier stable versions too.
    env.topology().await;
    for v in ["2025-08-01", "2024-04-01", "2025-01-01"] {
        env.ok(
            "GET",
            &format!("{}/replicationFabrics?api-version={v}", vault()),
            None,
            &[200],
        )
        .await;
    }
    let r = env
        .call(
            "GET",
            &format!("{}/replicationFabrics?api-version=2019-01-01", vault()),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    // Case-insensitive routing.
    let up = vmp
        .replace("resourceGroups", "RESOURCEGROUPS")
        .replace("virtualMachines", "VirtualMACHINES");
    env.ok("GET", &up, None, &[200]).await;
    // 404s.
    let r = env.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Compute/virtualMachines/x"), None).await;
    assert_eq!(r.json()["error"]["code"], json!("ResourceNotFound"));
    let r = env.call("PUT", &format!("/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Network/virtualNetworks/v"),
        Some(json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}))).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (404, json!("ResourceGroupNotFound"))
    );
    // Bad bodies name the field.
    let r = env
        .call(
            "PUT",
            &format!("{}/replicationFabrics/x", vault()),
            Some(json!({"properties": {"customDetails": {"instanceType": "Azure"}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("properties.customDetails.location"),
        "{}",
        r.json()
    );
    let r = env
        .call(
            "PUT",
            &format!("{}/replicationFabrics/x", vault()),
            Some(json!({"properties": {"customDetails": {"instanceType": "HyperVSite"}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HyperVSite")
    );
    let mut raw = asrform::sim::SimRequest::new(
        "PUT",
        &format!("{BASE}{}?api-version=2025-04-01", rg("bad")),
        None,
    );
    raw.body = b"{not json".to_vec();
    let r = env.sim.handle(raw).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("InvalidRequestContent"))
    );
    // Policy misspelled enum named.
    let r = env.call("PUT", &format!("{}/replicationPolicies/p2", vault()), Some(json!({"properties": {"providerSpecificInput": {
        "instanceType": "A2A", "recoveryPointHistory": 60, "appConsistentFrequencyInMinutes": 0, "multiVmSyncStatus": "Enabled"}}}))).await;
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("multiVmSyncStatus")
    );
    // Pagination with nextLink on the base URL of the request.
    let p1 = env
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines"
        ))
        .await;
    assert_eq!(p1["value"].as_array().unwrap().len(), 2);
    let next = p1["nextLink"].as_str().unwrap().to_string();
    assert!(next.starts_with(BASE), "{next}");
    let p2 = env.get(&next).await;
    assert_eq!(p2["value"].as_array().unwrap().len(), 1);
    assert!(p2.get("nextLink").is_none());
    // ETags and If-Match.
    let vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
        rg("rg-dr")
    );
    let r = env.ok("GET", &vnet, None, &[200]).await;
    let etag = r.header("etag").unwrap().to_string();
    let mut body = r.json();
    body["properties"]["subnets"] = json!([]);
    let mut req = asrform::sim::SimRequest::new(
        "PUT",
        &format!("{BASE}{vnet}?api-version=2026-03-01"),
        Some(body.clone()),
    );
    req.headers.push(("If-Match".into(), "W/\"999\"".into()));
    assert_eq!(env.sim.handle(req).await.status, 412);
    let mut req = asrform::sim::SimRequest::new(
        "PUT",
        &format!("{BASE}{vnet}?api-version=2026-03-01"),
        Some(body),
    );
    req.headers.push(("If-Match".into(), etag.clone()));
    let r = env.sim.handle(req).await;
    assert_eq!(r.status, 200);
    assert_ne!(r.header("etag").unwrap(), etag);
    // Request log records the calls.
    let log = env.sim.request_log();
    assert!(
        log.iter()
            .any(|l| l.operation == "ReplicationFabrics_Create" && l.status == 202)
    );
    assert!(log.iter().any(|l| l.status == 412));
}

#[tokio::test]
async fn sim_in_process_transport_with_azure_core_pipeline() {
    use azure_core::http::{
        ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, Transport, Url,
    };
    use std::sync::Arc;
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    let options = ClientOptions {
        transport: Some(Transport::new(Arc::new(InProcessTransport::new(
            env.sim.clone(),
        )))),
        ..Default::default()
    };
    let pipeline = Pipeline::new(
        Some("asrform-test"),
        Some("0.1.0"),
        options,
        vec![],
        vec![],
        None,
    );
    let url: Url = format!("{BASE}{}?api-version=2025-04-01", rg("rg-x"))
        .parse()
        .unwrap();
    let mut req = Request::new(url, Method::Put);
    req.insert_header("content-type", "application/json");
    req.set_json(&json!({"location": "westus"})).unwrap();
    let rsp = pipeline
        .send(
            &Context::new(),
            &mut req,
            Some(PipelineSendOptions {
                skip_checks: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert_eq!(u16::from(rsp.status()), 201);
    let body: serde_json::Value = rsp.into_body().json().unwrap();
    assert_eq!(body["location"], json!("westus"));
    // An injected drop surfaces as an error (after azure_core's own retries).
    env.sim.set_faults(
        asrform::sim::FaultSet::parse(r#"{"rules":[{"effect":{"kind":"drop"}}]}"#).unwrap(),
    );
    let url: Url = format!("{BASE}{}?api-version=2025-04-01", rg("rg-x"))
        .parse()
        .unwrap();
    let mut req = Request::new(url, Method::Get);
    let mut opts = ClientOptions {
        transport: Some(Transport::new(Arc::new(InProcessTransport::new(
            env.sim.clone(),
        )))),
        ..Default::default()
    };
    opts.retry = azure_core::http::RetryOptions::none();
    let p2 = Pipeline::new(Some("t"), Some("0"), opts, vec![], vec![], None);
    assert!(p2.send(&Context::new(), &mut req, None).await.is_err());
}
