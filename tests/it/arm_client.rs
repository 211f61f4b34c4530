//! The ARM client's request logic against scripted transports: LRO polling through failures, ASR error
//! surfacing, retry rules per method, throttling under a 429 storm, bulk snapshot request counts, region outage,
//! the loopback transport, and endpoint validation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::clock::Clock;
use asrform::provider::arm::snapshot;
use asrform::provider::arm::{ArmClient, Endpoint};
use asrform::provider::{ArmId, ProviderError, SnapshotRequest};
use azure_core::http::{Method, Url};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::arm_fake::{Recorded, Reply, SUB, ScriptedArm, client_with, clock, page, vault};

fn rpi_path(i: usize) -> String {
    format!(
        "{}/replicationFabrics/eastus/replicationProtectionContainers/eastus-c/replicationProtectedItems/vm{i}",
        vault()
    )
}

fn op_url(name: &str) -> String {
    format!(
        "https://management.azure.com/Subscriptions/{SUB}/resourceGroups/dr/providers/Microsoft.RecoveryServices/vaults/v1/replicationOperationStatus/{name}?api-version=2025-08-01"
    )
}

#[tokio::test(start_paused = true)]
async fn lro_survives_5xx_and_dropped_connections_while_polling() {
    let c = clock();
    let rpi = rpi_path(1);
    let rpi2 = rpi.clone();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, n| match (r.method.as_str(), n) {
            ("PUT", 0) => Reply::Json(
                202,
                vec![
                    ("azure-asyncoperation", op_url("op1")),
                    ("retry-after", "5".into()),
                ],
                json!({}),
            ),
            ("GET", 1) => Reply::Json(
                503,
                vec![],
                json!({"error": {"code": "ServiceUnavailable", "message": "try later"}}),
            ),
            ("GET", 2) => Reply::Drop,
            ("GET", 3) => Reply::Json(
                200,
                vec![("retry-after", "5".into())],
                json!({"status": "InProgress"}),
            ),
            ("GET", 4) => Reply::Json(500, vec![], json!({})),
            ("GET", 5) => Reply::Json(200, vec![], json!({"status": "Succeeded"})),
            ("GET", _) if r.path() == rpi2 => Reply::Json(
                200,
                vec![],
                json!({"id": rpi2, "properties": {"protectionState": "UnprotectedStatesBegin"}}),
            ),
            _ => Reply::unexpected(r),
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let start = c.now();
    let out = client
        .execute(Method::Put, &rpi, Some(&json!({"properties": {}})))
        .await
        .expect("LRO completes");
    assert_eq!(
        out.body.unwrap()["properties"]["protectionState"],
        "UnprotectedStatesBegin"
    );
    let reqs = arm.requests();
    assert_eq!(reqs.len(), 7, "{reqs:#?}");
    assert_eq!(
        reqs.last().unwrap().path(),
        rpi,
        "final GET of the resource after success"
    );
    // The first poll waited for Retry-After.
    assert!(reqs[1].at - start >= time::Duration::seconds(5));
    let counts = client.counts();
    assert_eq!(
        (counts.put, counts.server_errors, counts.transport_errors),
        (1, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn location_polling_returns_the_result_and_the_job() {
    let c = clock();
    let job = format!("{}/replicationJobs/job-42", vault());
    let (job2, loc) = (
        job.clone(),
        format!(
            "https://management.azure.com{}/replicationOperationResults/job-42?api-version=2025-08-01",
            vault()
        ),
    );
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, n| match (r.method.as_str(), n) {
            ("POST", 0) => Reply::Empty(
                202,
                vec![("location", loc.clone()), ("retry-after", "30".into())],
            ),
            ("GET", 1 | 2) => Reply::Empty(202, vec![("retry-after", "30".into())]),
            ("GET", 3) => Reply::Json(
                200,
                vec![],
                json!({"id": job2, "properties": {"state": "Succeeded", "scenarioName": "TestFailover"}}),
            ),
            _ => Reply::Json(400, vec![], json!({})),
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let start = c.now();
    let net = ArmId::parse(&format!(
        "/subscriptions/{SUB}/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/test"
    ))
    .unwrap();
    let out = client
        .test_failover(
            &ArmId::parse(&rpi_path(1)).unwrap(),
            "PrimaryToRecovery",
            &net,
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.job_id.as_deref(), Some(job.as_str()));
    assert_eq!(out.polls, 3);
    assert!(
        c.now() - start >= time::Duration::seconds(90),
        "three polls, 30 s apart"
    );
    let post = &arm.requests()[0];
    assert!(post.path().ends_with("/testFailover"));
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(
        body["properties"]["providerSpecificDetails"]["instanceType"],
        "A2A"
    );
}

#[tokio::test(start_paused = true)]
async fn an_asr_failure_surfaces_its_code_and_message() {
    let c = clock();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(|r: &Recorded, n| match (r.method.as_str(), n) {
            ("POST", 0) => Reply::Empty(
                202,
                vec![
                    ("azure-asyncoperation", op_url("op9")),
                    ("retry-after", "10".into()),
                ],
            ),
            ("GET", _) => Reply::Json(
                200,
                vec![],
                json!({"status": "Failed", "error": {"code": "150261", "message": "Policy creation failed.", "possibleCauses": "Retention is too long."}}),
            ),
            _ => Reply::Json(400, vec![], json!({})),
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let err = client
        .failover_commit(&ArmId::parse(&rpi_path(3)).unwrap())
        .await
        .unwrap_err();
    match &err {
        ProviderError::OperationFailed { code, message, .. } => {
            assert_eq!(code, "150261");
            assert!(
                message.contains("Policy creation failed.")
                    && message.contains("Retention is too long."),
                "{message}"
            );
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert!(err.to_string().contains("150261"));
    // Commit sends no body.
    assert!(arm.requests()[0].body.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failing_post_is_not_resent_but_a_get_is_retried() {
    let c = clock();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(|_r: &Recorded, _| {
            Reply::Json(
                500,
                vec![],
                json!({"error": {"code": "InternalServerError", "message": "boom"}}),
            )
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let err = client
        .failover_cancel(&ArmId::parse(&rpi_path(1)).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Transient { .. }), "{err:?}");
    assert_eq!(
        arm.requests().len(),
        1,
        "an ambiguous POST failure must not be re-sent"
    );
    let err = client.get_value(&rpi_path(1)).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(
        client.counts().get,
        5,
        "GETs are retried up to max_attempts"
    );
    assert!(err.context().unwrap().message.contains("boom"));
}

#[tokio::test(start_paused = true)]
async fn the_client_identifies_itself_and_each_request() {
    let c = clock();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(|_r: &Recorded, _| Reply::Json(200, vec![], json!({"value": []}))),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    client
        .list_values(&format!("{}/replicationFabrics", vault()), &[])
        .await
        .unwrap();
    client
        .list_values(&format!("{}/replicationFabrics", vault()), &[])
        .await
        .unwrap();
    let reqs = arm.requests();
    assert!(
        reqs[0]
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with(&format!("asrform/{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer test-token"));
    assert_eq!(reqs[0].query("api-version").as_deref(), Some("2025-08-01"));
    let (a, b) = (
        reqs[0].request_id.clone().unwrap(),
        reqs[1].request_id.clone().unwrap(),
    );
    assert!(
        !a.is_empty() && a != b,
        "a fresh x-ms-client-request-id per request"
    );
}

#[tokio::test(start_paused = true)]
async fn next_links_to_another_host_are_refused() {
    let c = clock();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(|_r: &Recorded, _| {
            Reply::Json(
                200,
                vec![],
                json!({"value": [], "nextLink": "https://evil.example/steal"}),
            )
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let err = client
        .list_values(&format!("{}/replicationFabrics", vault()), &[])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("refusing to send credentials"),
        "{err}"
    );
    assert_eq!(arm.requests().len(), 1);
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let cred = asrform::provider::arm::auth::StaticCredential::new("t");
    let mk = |e: Endpoint| {
        ArmClient::new(asrform::provider::arm::ArmClientOptions::new(
            e,
            cred.clone(),
            Arc::new(asrform::clock::SystemClock),
        ))
    };
    let err = mk(Endpoint::Custom(
        Url::parse("http://arm.example.com").unwrap(),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("must use https"), "{err}");
    let err = mk(Endpoint::Loopback(
        Url::parse("http://10.1.2.3:8080").unwrap(),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("not a loopback"), "{err}");
    assert!(
        mk(Endpoint::Loopback(
            Url::parse("http://127.0.0.1:8080").unwrap()
        ))
        .is_ok()
    );
    assert!(
        mk(Endpoint::Custom(
            Url::parse("https://management.azure.com").unwrap()
        ))
        .is_ok()
    );
    assert_eq!(
        Endpoint::UsGov.scope(),
        "https://management.usgovcloudapi.net/.default"
    );
    assert_eq!(
        Endpoint::China.base_url().as_str(),
        "https://management.chinacloudapi.cn/"
    );
}

// --- Bulk reads ---------------------------------------------------------------------------------------------------

fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

fn rpi_item(i: usize) -> Value {
    json!({
        "id": rpi_path(i).replace("/subscriptions/", "/Subscriptions/"),
        "name": format!("vm{i}"),
        "properties": {
            "friendlyName": format!("vm{i}"),
            "protectionState": "Protected",
            "activeLocation": "Primary",
            "replicationHealth": "Normal",
            "allowedOperations": ["TestFailover", "UnplannedFailover", "DisableProtection"],
            "currentScenario": {"scenarioName": "None", "jobId": format!("{}/replicationJobs/None", vault())},
            "testFailoverState": "None",
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "fabricObjectId": format!("/subscriptions/{SUB}/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/vm{i}"),
                "lifecycleId": format!("life-{i}"),
                "vmProtectionState": "Protected",
                "rpoInSeconds": 30 + i as i64 % 60,
                "monitoringPercentageCompletion": 100,
                "recoveryAzureVMSize": "Standard_D2s_v5",
                "recoveryAzureVMName": format!("vm{i}-dr"),
                "selectedRecoveryAzureNetworkId": format!("/subscriptions/{SUB}/resourceGroups/net-dr/providers/Microsoft.Network/virtualNetworks/dr"),
                "vmNics": [{"nicId": format!("nic-{i}"), "sourceNicArmId": format!("/subscriptions/{SUB}/resourceGroups/app/providers/Microsoft.Network/networkInterfaces/vm{i}-nic"),
                            "ipConfigs": [{"name": "ipconfig1", "isPrimary": true, "recoverySubnetName": "app", "recoveryStaticIPAddress": format!("10.1.{}.{}", i / 250, i % 250 + 4)}]}],
                "protectedManagedDisks": [{"diskId": format!("/subscriptions/{SUB}/resourceGroups/app/providers/Microsoft.Compute/disks/vm{i}-os"), "recoveryTargetDiskAccountType": "Premium_LRS", "diskState": "Protected"}]
            }
        }
    })
}

/// A fake ARM with one vault holding `n` protected items and one resource group holding `n` VMs.
fn estate_handler(n: usize, page_size: usize) -> crate::arm_fake::Handler {
    Box::new(move |r: &Recorded, _| {
        let p = r.path().to_ascii_lowercase();
        let v = vault().to_ascii_lowercase();
        if p == v {
            return Reply::Json(
                200,
                vec![],
                json!({"id": vault(), "location": "westus", "sku": {"name": "Standard"}, "properties": {"provisioningState": "Succeeded"}}),
            );
        }
        if p == rg("app").to_ascii_lowercase() {
            return Reply::Json(
                200,
                vec![],
                json!({"id": rg("app"), "location": "eastus", "properties": {}}),
            );
        }
        if p.ends_with("/replicationprotecteditems") {
            return Reply::Json(200, vec![], page(r, n, page_size, rpi_item));
        }
        if p.ends_with("/virtualmachines") {
            return Reply::Json(
                200,
                vec![],
                page(
                    r,
                    n,
                    page_size,
                    |i| json!({"id": format!("{}/providers/Microsoft.Compute/virtualMachines/vm{i}", rg("app")), "type": "Microsoft.Compute/virtualMachines", "location": "eastus", "zones": ["1"], "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v5"}}}),
                ),
            );
        }
        if p.ends_with("/replicationpolicies") {
            return Reply::Json(
                200,
                vec![],
                json!({"value": [{"id": format!("{}/replicationPolicies/p24", vault()), "properties": {"providerSpecificDetails": {"instanceType": "A2A", "recoveryPointHistory": 1440, "appConsistentFrequencyInMinutes": 240, "crashConsistentFrequencyInMinutes": 5, "multiVmSyncStatus": "Enable"}}}]}),
            );
        }
        Reply::Json(200, vec![], json!({"value": []}))
    })
}

fn request() -> SnapshotRequest {
    SnapshotRequest {
        vaults: vec![ArmId::parse(&vault()).unwrap()],
        resource_groups: vec![ArmId::parse(&rg("app")).unwrap()],
        subscriptions: vec![],
        ..Default::default()
    }
}

const PAGE: usize = 200;

/// Requests a snapshot needs: per vault one GET + 7 lists, per RG one GET + 4 lists, plus one extra page per
/// `PAGE` items beyond the first page in the two big lists.
fn expected_requests(n: usize) -> u64 {
    let pages = n.div_ceil(PAGE).max(1) as u64;
    (1 + 7) + (1 + 4) + 2 * (pages - 1)
}

#[tokio::test(start_paused = true)]
async fn a_1000_vm_snapshot_costs_pages_not_vms_and_is_fast_with_latency() {
    let c = clock();
    let arm = ScriptedArm::with_latency(
        c.clone(),
        Duration::from_millis(100),
        estate_handler(1000, PAGE),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let start = c.now();
    let snap = snapshot::read(&client, &request()).await.unwrap();
    let took = c.now() - start;
    assert_eq!(snap.protected_items.len(), 1000);
    assert_eq!(snap.resources.len(), 1000);
    assert_eq!(
        client.counts().total,
        expected_requests(1000),
        "requests grow with pages, not VMs"
    );
    assert!(
        took < time::Duration::seconds(5),
        "1,000 VMs with 100 ms latency took {took}"
    );
    // The neutral view carries what the differ needs.
    let vm7 = ArmId::parse(&format!(
        "/subscriptions/{SUB}/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/VM7"
    ))
    .unwrap();
    let item = snap
        .protected_item_for_vm(&vm7)
        .expect("found by source VM, case-insensitively");
    assert_eq!(item.lifecycle_id.as_deref(), Some("life-7"));
    assert_eq!(item.rpo_seconds, Some(37));
    assert!(item.is_idle() && item.allows("testfailover"));
    assert_eq!(
        item.nics[0].ip_configs["ipconfig1"]
            .recovery_static_ip
            .as_deref(),
        Some("10.1.0.11")
    );
    assert_eq!(
        item.disks[0].target_disk_type.as_deref(),
        Some("Premium_LRS")
    );
    assert_eq!(
        snap.policies
            .values()
            .next()
            .unwrap()
            .recovery_point_history_minutes,
        Some(1440)
    );
    assert_eq!(snap.vaults.values().next().unwrap().location, "westus");

    // Double the estate: only the page count grows.
    let arm2 = ScriptedArm::new(c.clone(), estate_handler(2000, PAGE));
    let client2 = client_with(arm2, c.clone(), |_| {});
    snapshot::read(&client2, &request()).await.unwrap();
    assert_eq!(client2.counts().total, expected_requests(2000));
    assert_eq!(
        client2.counts().total - client.counts().total,
        2 * (1000 / PAGE) as u64
    );
}

#[tokio::test(start_paused = true)]
async fn a_region_outage_marks_the_region_instead_of_failing() {
    let c = clock();
    let inner = estate_handler(10, PAGE);
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, n| {
            // Everything under the source resource group's lists is down (eastus outage), its GET still answers.
            if r.path()
                .to_ascii_lowercase()
                .starts_with(&format!("{}/providers", rg("app")).to_ascii_lowercase())
            {
                return if n % 2 == 0 {
                    Reply::Drop
                } else {
                    Reply::Json(
                        503,
                        vec![],
                        json!({"error": {"code": "ServiceUnavailable", "message": "region down"}}),
                    )
                };
            }
            inner(r, n)
        }),
    );
    let client = client_with(arm, c.clone(), |_| {});
    let snap = snapshot::read(&client, &request()).await.unwrap();
    assert_eq!(
        snap.protected_items.len(),
        10,
        "the vault (target region) still reads"
    );
    assert!(
        snap.unreachable_regions.contains("eastus"),
        "{:?}",
        snap.unreachable_regions
    );
    assert_eq!(snap.unreadable_scopes.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_is_ridden_out_without_early_resends() {
    let c = clock();
    // The fake ARM throttles 20% of fresh requests with Retry-After 1–30 s; any request that arrives while its
    // subscription is blocked is a violation (ARM would not process it).
    struct Storm {
        rng: rand::rngs::StdRng,
        blocked_until: Option<time::OffsetDateTime>,
        violations: usize,
        throttled: usize,
    }
    let storm = Arc::new(Mutex::new(Storm {
        rng: rand::rngs::StdRng::seed_from_u64(7),
        blocked_until: None,
        violations: 0,
        throttled: 0,
    }));
    let inner = estate_handler(1000, PAGE);
    let s2 = storm.clone();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, n| {
            let mut s = s2.lock().unwrap();
            if let Some(until) = s.blocked_until
                && r.at < until
            {
                s.violations += 1;
                return Reply::Json(
                    429,
                    vec![("retry-after", "1".into())],
                    json!({"error": {"code": "SubscriptionRequestsThrottled", "message": "early"}}),
                );
            }
            if s.rng.gen_bool(0.2) {
                let secs: i64 = s.rng.gen_range(1..=30);
                s.blocked_until = Some(r.at + time::Duration::seconds(secs));
                s.throttled += 1;
                return Reply::Json(
                    429,
                    vec![("retry-after", secs.to_string())],
                    json!({"error": {"code": "SubscriptionRequestsThrottled", "message": format!("Number of 'read' requests for subscription exceeded. Please try again after '{secs}' seconds")}}),
                );
            }
            inner(r, n)
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let snap = snapshot::read(&client, &request())
        .await
        .expect("every read completes");
    assert_eq!(snap.protected_items.len(), 1000);
    let s = storm.lock().unwrap();
    assert_eq!(
        s.violations, 0,
        "no request was sent before its Retry-After"
    );
    let baseline = expected_requests(1000);
    let counts = client.counts();
    assert!(s.throttled > 0);
    assert_eq!(counts.throttled as usize, s.throttled);
    let extra = counts.total - baseline - counts.throttled;
    assert!(
        extra * 20 <= baseline,
        "extra requests beyond the throttled ones: {extra} of baseline {baseline}"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_one_subscription_does_not_stall_another() {
    let c = clock();
    let other = "00000000-0000-0000-0000-00000000000b";
    let first = Arc::new(Mutex::new(true));
    let f2 = first.clone();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, _| {
            if r.path().contains(SUB) {
                let mut f = f2.lock().unwrap();
                if *f {
                    *f = false;
                    return Reply::Json(
                        429,
                        vec![("retry-after", "300".into())],
                        json!({"error": {"code": "ResourceRequestsThrottled", "message": "RP quota"}}),
                    );
                }
            }
            Reply::Json(200, vec![], json!({"value": []}))
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |_| {});
    let start = c.now();
    let throttled_path = format!("{}/replicationFabrics", vault());
    let (a, b) = tokio::join!(client.list_values(&throttled_path, &[]), async {
        // Let the first request be throttled before we start.
        c.sleep(Duration::from_secs(1)).await;
        let r = client.list_values(&format!("/subscriptions/{other}/resourceGroups/x/providers/Microsoft.RecoveryServices/vaults/v2/replicationFabrics"), &[]).await;
        (r, c.now())
    });
    a.unwrap();
    let (b, b_done) = b;
    b.unwrap();
    assert!(
        b_done - start < time::Duration::seconds(5),
        "the other subscription was not held up"
    );
    assert!(
        c.now() - start >= time::Duration::seconds(300),
        "the throttled RP scope waited its Retry-After"
    );
    let hits: HashMap<String, usize> = arm.requests().iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.path()).or_default() += 1;
        m
    });
    assert_eq!(hits.values().sum::<usize>(), 3);
}

#[tokio::test(start_paused = true)]
async fn job_tracker_waits_for_many_jobs_with_one_list_per_interval() {
    let c = clock();
    let state = Arc::new(Mutex::new(0usize)); // number of list calls
    let s2 = state.clone();
    let arm = ScriptedArm::new(
        c.clone(),
        Box::new(move |r: &Recorded, _| {
            assert!(r.path().ends_with("/replicationJobs"), "{}", r.path());
            assert!(r.query("$filter").unwrap().starts_with("startTime eq '"));
            let mut calls = s2.lock().unwrap();
            *calls += 1;
            // Job k finishes on list call k+1.
            let jobs: Vec<Value> = (0..50)
                .map(|k| {
                    let st = if k < *calls * 10 { "Succeeded" } else { "InProgress" };
                    json!({"id": format!("{}/replicationJobs/j{k}", vault()), "properties": {"state": st}})
                })
                .collect();
            Reply::Json(200, vec![], json!({"value": jobs}))
        }),
    );
    let client = client_with(arm.clone(), c.clone(), |o| {
        o.job_poll_interval = Duration::from_secs(15)
    });
    let tracker = client.job_tracker();
    let mut set = tokio::task::JoinSet::new();
    for k in 0..50 {
        let t = tracker.clone();
        set.spawn(async move { t.wait(&format!("{}/replicationJobs/j{k}", vault())).await });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap().unwrap().state, "Succeeded");
    }
    assert_eq!(*state.lock().unwrap(), 5, "50 waiters, 5 list calls");
}
