//! Simulator fidelity fixes: recovery-plan failover of a large group in parallel, jobs suspended at a manual action
//! until resumed, the job named by an action's operation status, and fault rules keyed by the spec's operation ids.

use asrform::sim::SimConfig;
use asrform::sim::faults::FaultSet;
use serde_json::{Value, json};

use crate::sim_support::*;

fn no_throttle() -> SimConfig {
    SimConfig {
        throttling: false,
        ..SimConfig::default()
    }
}

fn failover_body() -> Value {
    json!({"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
        "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}})
}

async fn put_plan(env: &Env, name: &str, groups: Value) -> String {
    let plan = format!("{}/replicationRecoveryPlans/{name}", vault());
    env.lro("PUT", &plan, Some(json!({"properties": {"primaryFabricId": fabric("src"), "recoveryFabricId": fabric("tgt"),
        "failoverDeploymentModel": "ResourceManager", "groups": groups, "providerSpecificInput": [{"instanceType": "A2A"}]}})))
        .await;
    plan
}

/// Simulated seconds from `r` (a 202) until its operation is terminal, and the final status.
async fn timed(env: &Env, r: &asrform::sim::SimResponse) -> (i64, Value) {
    let t0 = env.sim.now();
    let s = env.wait(r).await;
    ((env.sim.now() - t0).whole_seconds(), s)
}

#[tokio::test]
async fn sim_plan_failover_of_80_vms_runs_the_group_in_parallel() {
    let n = 80;
    let env = Env::new(&estate(n, 1.0), no_throttle());
    env.topology().await;
    let names: Vec<String> = (1..=n).map(|i| format!("vm{i:05}")).collect();
    for v in &names {
        env.enable(v).await;
    }
    for v in &names {
        env.until_protected(&rpi(v)).await;
    }
    env.advance(900);
    // One item failed over on its own: the yardstick.
    let single = env
        .ok(
            "POST",
            &format!("{}/unplannedFailover", rpi(&names[0])),
            Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
            "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}})),
            &[202],
        )
        .await;
    let (one, s) = timed(&env, &single).await;
    assert_eq!(s["status"], json!("Succeeded"));
    let items: Vec<Value> = names[1..].iter().map(|v| json!({"id": rpi(v)})).collect();
    let plan = put_plan(
        &env,
        "fleet",
        json!([{"groupType": "Shutdown", "replicationProtectedItems": []},
            {"groupType": "Failover", "replicationProtectedItems": []},
            {"groupType": "Boot", "replicationProtectedItems": items}]),
    )
    .await;
    let r = env
        .ok(
            "POST",
            &format!("{plan}/unplannedFailover"),
            Some(failover_body()),
            &[202],
        )
        .await;
    let (all, s) = timed(&env, &r).await;
    assert_eq!(s["status"], json!("Succeeded"), "{s}");
    // 79 VMs one after another would take 79 x 180 s (almost four hours, past a 3-hour client timeout); together
    // they take as long as one VM, give or take a polling interval.
    assert!(
        all <= one + 60,
        "plan failover took {all} s, one item {one} s"
    );
    for v in &names {
        assert_eq!(
            env.get(&rpi(v)).await["properties"]["protectionState"],
            json!("UnplannedFailoverCommitPendingStatesBegin"),
            "{v}"
        );
    }
    // The job still lists one task per VM, all finished at the same time.
    let job_id = s["properties"]["jobId"].as_str().unwrap().to_string();
    let job = env.get(&job_id).await;
    let ends: Vec<&str> = job["properties"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == json!("Failover"))
        .map(|t| t["endTime"].as_str().unwrap())
        .collect();
    assert_eq!(ends.len(), n - 1);
    assert!(ends.iter().all(|e| *e == ends[0]), "{ends:?}");
}

#[tokio::test]
async fn sim_plan_job_suspends_at_a_manual_action_until_resumed() {
    let env = Env::new(&estate(2, 1.0), no_throttle());
    env.topology().await;
    for v in ["vm00001", "vm00002"] {
        env.enable(v).await;
        env.until_protected(&rpi(v)).await;
    }
    env.advance(900);
    let plan = put_plan(
        &env,
        "app",
        json!([{"groupType": "Shutdown", "replicationProtectedItems": []},
            {"groupType": "Failover", "replicationProtectedItems": []},
            {"groupType": "Boot", "replicationProtectedItems": [{"id": rpi("vm00001")}],
             "endGroupActions": [{"actionName": "check-db", "failoverTypes": ["UnplannedFailover"],
                "failoverDirections": ["PrimaryToRecovery"],
                "customDetails": {"instanceType": "ManualActionDetails", "description": "Check the database"}}]},
            {"groupType": "Boot", "replicationProtectedItems": [{"id": rpi("vm00002")}]}]),
    )
    .await;
    let r = env
        .ok(
            "POST",
            &format!("{plan}/unplannedFailover"),
            Some(failover_body()),
            &[202],
        )
        .await;
    let status_url = r.header("azure-asyncoperation").unwrap().to_string();
    env.advance(600);
    let st = env.get(&status_url).await;
    assert_eq!(
        st["status"],
        json!("InProgress"),
        "a suspended job is a running operation"
    );
    let job_id = st["properties"]["jobId"].as_str().unwrap().to_string();
    let job = env.get(&job_id).await;
    assert_eq!(job["properties"]["state"], json!("Suspended"), "{job}");
    assert_eq!(job["properties"]["allowedActions"], json!(["Resume"]));
    let tasks = job["properties"]["tasks"].as_array().unwrap();
    let manual = tasks
        .iter()
        .find(|t| t["name"] == json!("check-db"))
        .unwrap();
    assert_eq!(manual["state"], json!("Suspended"));
    assert_eq!(manual["allowedActions"], json!(["Resume"]));
    assert_eq!(
        manual["customDetails"]["instanceType"],
        json!("ManualActionTaskDetails")
    );
    // Group 1 is done, group 2 waits: it stays that way however long nobody resumes.
    env.advance(6 * 3600);
    assert_eq!(
        env.get(&job_id).await["properties"]["state"],
        json!("Suspended")
    );
    assert_eq!(
        env.get(&rpi("vm00001")).await["properties"]["protectionState"],
        json!("Protected"),
        "the plan's effects land when the whole job ends"
    );
    let restart = env.call("POST", &format!("{job_id}/restart"), None).await;
    assert_eq!(restart.json()["error"]["code"], json!("28121"));
    // Resume releases it; the rest of the plan runs and the plan's operation completes.
    let t_resume = env.sim.now();
    let rr = env
        .ok(
            "POST",
            &format!("{job_id}/resume"),
            Some(json!({"properties": {"comments": "db ok"}})),
            &[202],
        )
        .await;
    let rs = env.wait(&rr).await;
    assert_eq!(rs["status"], json!("Succeeded"));
    let job = env.get(&job_id).await;
    assert_eq!(job["properties"]["state"], json!("InProgress"));
    assert_eq!(job["properties"]["allowedActions"], json!(["Cancel"]));
    let s = env.wait(&r).await;
    assert_eq!(s["status"], json!("Succeeded"), "{s}");
    let job = env.get(&job_id).await;
    let manual = job["properties"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!("check-db"))
        .unwrap()
        .clone();
    assert_eq!(manual["state"], json!("Succeeded"));
    assert_eq!(manual["endTime"], json!(asrform::sim::world::ts(t_resume)));
    for v in ["vm00001", "vm00002"] {
        assert_eq!(
            env.get(&rpi(v)).await["properties"]["protectionState"],
            json!("UnplannedFailoverCommitPendingStatesBegin"),
            "{v}"
        );
    }
    // A job that is not suspended cannot be resumed.
    let again = env.call("POST", &format!("{job_id}/resume"), None).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"]["code"], json!("28122"));
}

#[tokio::test]
async fn sim_item_action_operation_status_names_its_job() {
    let env = Env::new(&estate(1, 1.0), no_throttle());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(900);
    let r = env.ok("POST", &format!("{}/unplannedFailover", rpi("vm00001")), Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "A2A"}}})), &[202]).await;
    let url = r.header("azure-asyncoperation").unwrap().to_string();
    let first = env.get(&url).await;
    assert_eq!(first["status"], json!("InProgress"));
    let current = env.get(&rpi("vm00001")).await["properties"]["currentScenario"]["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first["properties"]["jobId"], json!(current));
    // The provider's LRO reader finds it there.
    assert_eq!(
        asrform::provider::arm::lro::job_id(None, Some(&first)).as_deref(),
        Some(current.as_str())
    );
    let job = env.get(&current).await;
    assert_eq!(
        job["properties"]["scenarioName"],
        json!("UnplannedFailover")
    );
    let done = env.wait(&r).await;
    assert_eq!(done["status"], json!("Succeeded"));
    assert_eq!(done["properties"]["jobId"], json!(current));
}

#[tokio::test]
async fn sim_fault_rules_accept_spec_operation_ids() {
    let env = Env::new(&estate(1, 1.0), no_throttle());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(900);
    env.sim.set_faults(
        FaultSet::parse(
            r#"{"rules": [{"operation": "ReplicationProtectedItems_TestFailover",
            "effect": {"kind": "status", "status": 503, "code": "ServiceUnavailable"}, "times": 1}]}"#,
        )
        .unwrap(),
    );
    let test_net = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-test",
        rg("rg-dr")
    );
    let body = json!({"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
        "networkId": test_net, "providerSpecificDetails": {"instanceType": "A2A"}}});
    // Another action on the same item is untouched by the rule.
    let other = env
        .call(
            "POST",
            &format!("{}/repairReplication", rpi("vm00001")),
            None,
        )
        .await;
    assert_eq!(
        other.status,
        202,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    env.wait(&other).await;
    let hit = env
        .call(
            "POST",
            &format!("{}/testFailover", rpi("vm00001")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(hit.status, 503);
    assert_eq!(hit.json()["error"]["code"], json!("ServiceUnavailable"));
    let log = env.sim.request_log();
    assert_eq!(
        log.last().unwrap().operation,
        "ReplicationProtectedItems_Action"
    );
    // Spent after one firing: the retry goes through.
    let ok = env
        .call(
            "POST",
            &format!("{}/testFailover", rpi("vm00001")),
            Some(body),
        )
        .await;
    assert_eq!(ok.status, 202, "{}", String::from_utf8_lossy(&ok.body));
}
