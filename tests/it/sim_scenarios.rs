//! Simulator scenarios on the virtual clock, each asserting numbers: recovery-point cadence and retention, RPO and
//! health under over-churn, failover content equality and data loss, planned failover without loss, region outage,
//! throttling, latency, faults.

use std::time::Duration;

use asrform::sim::{FaultSet, SimConfig, SimRequest};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::sim_support::*;

fn unix(v: &Value) -> i64 {
    OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp()
}

async fn point_times(env: &Env, item: &str) -> Vec<(i64, String)> {
    let pts = env.get(&format!("{item}/recoveryPoints")).await;
    let mut v: Vec<(i64, String)> = pts["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                unix(&p["properties"]["recoveryPointTime"]),
                p["properties"]["recoveryPointType"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn sim_recovery_points_every_5_minutes_and_expire_after_retention() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.topology_with(60, 60).await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    let start = env.sim.now().unix_timestamp();
    env.advance(30 * 60);
    let pts = point_times(&env, &rpi("vm00001")).await;
    assert!(pts.len() >= 6, "{pts:?}");
    for w in pts.windows(2) {
        assert_eq!(
            w[1].0 - w[0].0,
            300,
            "crash-consistent points are 5 minutes apart: {pts:?}"
        );
    }
    assert!(pts[0].0 <= start && pts.last().unwrap().0 > start + 25 * 60);
    // One app-consistent point per hour (policy 60 min).
    let apps: Vec<i64> = pts
        .iter()
        .filter(|p| p.1 == "ApplicationConsistent")
        .map(|p| p.0)
        .collect();
    assert_eq!(apps.len(), 1, "{pts:?}");
    // Three hours later only the last 60 minutes remain: 12 or 13 points, none older than the retention.
    env.advance(3 * 3600);
    let now = env.sim.now().unix_timestamp();
    let pts = point_times(&env, &rpi("vm00001")).await;
    assert!(
        (12..=13).contains(&pts.len()),
        "{} points: {pts:?}",
        pts.len()
    );
    assert!(
        pts.iter().all(|p| p.0 >= now - 3600),
        "expired points still listed"
    );
    assert!(
        pts.iter().all(|p| p.0 > start + 3600),
        "the first points have expired"
    );
    // A point outside the window is gone from GET as well.
    let r = env
        .call(
            "GET",
            &format!("{}/recoveryPoints/{}", rpi("vm00001"), start),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn sim_overchurn_vm_rpo_grows_with_health_warning() {
    let mut e = estate(2, 1.0);
    // vm00001 churns 80 MB/s in total over its disks; vm00002 stays at 1 MB/s per disk.
    let v = &mut e.subscriptions[0].resource_groups[0].vms[0];
    let n = 1 + v.data_disks.len();
    v.os_disk.churn_mb_s = 80.0 / n as f64;
    for d in &mut v.data_disks {
        d.churn_mb_s = 80.0 / n as f64;
    }
    let env = Env::new(&e, SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.enable("vm00002").await;
    env.until_protected(&rpi("vm00001")).await;
    env.until_protected(&rpi("vm00002")).await;
    let p0 = env
        .sim
        .world()
        .rpis
        .values()
        .find(|r| r.name == "vm00001")
        .unwrap()
        .protected_at
        .unwrap();
    let mut last = -1;
    for hour in 1..=3 {
        env.advance(3600);
        let item = env.get(&rpi("vm00001")).await;
        let psd = &item["properties"]["providerSpecificDetails"];
        let rpo = psd["rpoInSeconds"].as_i64().unwrap();
        let elapsed = (env.sim.now() - p0).whole_seconds();
        // Replication keeps up with 54 of the 80 MB/s: the backlog grows by 26/80 of the elapsed time.
        let expected = elapsed * 26 / 80;
        assert!(
            rpo >= expected - 400 && rpo <= expected + 600,
            "hour {hour}: rpo {rpo}, expected about {expected}"
        );
        assert!(rpo > last, "RPO must grow: {rpo} after {last}");
        last = rpo;
        assert_eq!(item["properties"]["replicationHealth"], json!("Warning"));
        let errs = item["properties"]["healthErrors"].as_array().unwrap();
        assert!(
            errs.iter().any(|h| h["errorCode"] == json!("153041")),
            "{errs:?}"
        );
        assert_eq!(psd["churnOptionSelected"], json!("High"));
        let calm = env.get(&rpi("vm00002")).await;
        assert!(
            calm["properties"]["providerSpecificDetails"]["rpoInSeconds"]
                .as_i64()
                .unwrap()
                <= 300
        );
        assert_eq!(calm["properties"]["replicationHealth"], json!("Normal"));
    }
    assert!(last > 3000);
}

pub(crate) async fn failover(env: &Env, item: &str, sso: &str, point: Option<&str>) -> Value {
    let mut psd = json!({"instanceType": "A2A"});
    if let Some(p) = point {
        psd["recoveryPointId"] = json!(p);
    }
    env.lro(
        "POST",
        &format!("{item}/unplannedFailover"),
        Some(
            json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": sso, "providerSpecificDetails": psd}}),
        ),
    )
    .await;
    env.get(item).await
}

fn target_disks(item: &Value) -> Vec<(String, String)> {
    item["properties"]["providerSpecificDetails"]["protectedManagedDisks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["diskId"].as_str().unwrap().to_string(),
                d["recoveryTargetDiskId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sim_failover_to_point_t_copies_source_content_at_t() {
    // Durations are multiples of Retry-After, so the LRO is seen done exactly when the job ends and the new VM has
    // not written yet.
    let env = Env::new(&estate(1, 3.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(2 * 3600);
    let pts = env.get(&format!("{}/recoveryPoints", rpi("vm00001"))).await;
    // Pick a point about an hour old, not the latest.
    let now = env.sim.now().unix_timestamp();
    let chosen = pts["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| unix(&p["properties"]["recoveryPointTime"]) <= now - 3600)
        .unwrap()
        .clone();
    let t = unix(&chosen["properties"]["recoveryPointTime"]);
    let item = failover(&env, &rpi("vm00001"), "NotRequired", chosen["id"].as_str()).await;
    assert_eq!(item["properties"]["failoverRecoveryPointId"], chosen["id"]);
    let at_t = OffsetDateTime::from_unix_timestamp(t).unwrap();
    let mut lost = 0;
    for (src, tgt) in target_disks(&item) {
        let src_at_t = env.sim.world().disk_content(&src, at_t).unwrap();
        let tgt_now = env.get(&tgt).await["properties"]["simulatorContentVersion"]
            .as_u64()
            .unwrap();
        assert_eq!(
            tgt_now, src_at_t,
            "target disk {tgt} must hold the source content at T"
        );
        let src_now = env.sim.disk_content(&src).unwrap();
        assert!(src_now > src_at_t, "the source kept writing after T");
        lost += src_now - src_at_t;
    }
    // 3 MB/s per disk for at least an hour since T: measurable loss.
    assert!(lost >= 3 * 3600, "lost {lost}");
    // The source was not touched (NotRequired).
    let v = env.get(&vm("vm00001")).await;
    assert_eq!(
        v["properties"]["instanceView"]["statuses"][1]["code"],
        json!("PowerState/running")
    );
    // Change recovery point to the latest before commit: target content moves to that point.
    let latest = pts["value"][0].clone();
    let lt = OffsetDateTime::from_unix_timestamp(unix(&latest["properties"]["recoveryPointTime"]))
        .unwrap();
    env.lro(
        "POST",
        &format!("{}/applyRecoveryPoint", rpi("vm00001")),
        Some(json!({"properties": {"recoveryPointId": latest["id"],
        "providerSpecificDetails": {"instanceType": "A2A"}}})),
    )
    .await;
    for (src, tgt) in target_disks(&env.get(&rpi("vm00001")).await) {
        let expect = env.sim.world().disk_content(&src, lt).unwrap();
        assert_eq!(env.sim.world().disk_content_at_base(&tgt), Some(expect));
    }
}

#[tokio::test]
async fn sim_planned_failover_loses_nothing() {
    let env = Env::new(&estate(1, 5.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(3600 + 123);
    let item = failover(&env, &rpi("vm00001"), "Required", None).await;
    let v = env.get(&vm("vm00001")).await;
    assert_eq!(
        v["properties"]["instanceView"]["statuses"][1]["code"],
        json!("PowerState/stopped"),
        "source shut down first"
    );
    for (src, tgt) in target_disks(&item) {
        let src_now = env.sim.disk_content(&src).unwrap();
        let tgt_now = env.get(&tgt).await["properties"]["simulatorContentVersion"]
            .as_u64()
            .unwrap();
        assert!(src_now > 0);
        assert_eq!(tgt_now, src_now, "no data lost on {src}");
    }
    // The final point taken at shutdown (between two 5-minute points) is the one applied.
    let rp = item["properties"]["failoverRecoveryPointId"]
        .as_str()
        .unwrap();
    let t: i64 = rp.rsplit('/').next().unwrap().parse().unwrap();
    assert_ne!(
        t % 300,
        (env.sim
            .world()
            .rpis
            .values()
            .next()
            .unwrap()
            .protected_at
            .unwrap()
            .unix_timestamp())
            % 300
    );
}

#[tokio::test]
async fn sim_illegal_transitions_get_asr_errors() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(600);
    let commit = env
        .call("POST", &format!("{}/failoverCommit", rpi("vm00001")), None)
        .await;
    assert_eq!(commit.status, 400);
    let e = commit.json();
    assert_eq!(e["error"]["code"], json!("28126"));
    assert!(e["error"]["message"].as_str().unwrap().contains("commit"));
    assert!(
        e["error"]["recommendedAction"].is_string(),
        "ASR envelope: {e}"
    );
    let cleanup = env
        .call(
            "POST",
            &format!("{}/testFailoverCleanup", rpi("vm00001")),
            Some(json!({"properties": {}})),
        )
        .await;
    assert_eq!(cleanup.json()["error"]["code"], json!("28126"));
    failover(&env, &rpi("vm00001"), "NotRequired", None).await;
    let sw = json!({"properties": {"replicationProtectedItemName": "vm00001", "providerSpecificDetails": {"instanceType": "A2A",
        "recoveryContainerId": container("src", "src-c")}}});
    let r = env
        .call(
            "POST",
            &format!("{}/switchprotection", container("src", "src-c")),
            Some(sw),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("28126"))
    );
    let planned = env
        .call(
            "POST",
            &format!("{}/plannedFailover", rpi("vm00001")),
            Some(json!({"properties": {}})),
        )
        .await;
    assert_eq!(planned.json()["error"]["code"], json!("28127"));
    // Unknown provider payloads are validation errors naming the field.
    let r = env
        .call(
            "POST",
            &format!("{}/applyRecoveryPoint", rpi("vm00001")),
            Some(json!({"properties": {"recoveryPointId": "x",
        "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("properties.providerSpecificDetails.instanceType")
    );
}

#[tokio::test]
async fn sim_region_outage_source_fails_but_notrequired_failover_succeeds() {
    let env = Env::new(&estate(2, 2.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.enable("vm00002").await;
    env.until_protected(&rpi("vm00001")).await;
    env.until_protected(&rpi("vm00002")).await;
    env.advance(1800);
    env.sim.set_outage("eastus", true);
    let r = env.call("GET", &vm("vm00001"), None).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (503, json!("RegionUnavailable"))
    );
    let r = env.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet-app"), None).await;
    assert_eq!(r.status, 503);
    assert!(
        !env.sim.world().vm_running(&vm("vm00001"), env.sim.now()),
        "VMs in the region stop"
    );
    let item = env.get(&rpi("vm00001")).await;
    assert_eq!(item["properties"]["replicationHealth"], json!("Critical"));
    // Required needs the source: the job fails with an ASR error.
    let r = env
        .ok(
            "POST",
            &format!("{}/unplannedFailover", rpi("vm00002")),
            Some(
                json!({"properties": {"failoverDirection": "PrimaryToRecovery",
        "sourceSiteOperations": "Required", "providerSpecificDetails": {"instanceType": "A2A"}}}),
            ),
            &[202],
        )
        .await;
    let s = env.wait(&r).await;
    assert_eq!(s["status"], json!("Failed"));
    assert_eq!(s["error"]["code"], json!("150094"));
    // NotRequired does not touch the source and succeeds into the target region.
    let item = failover(&env, &rpi("vm00001"), "NotRequired", None).await;
    assert_eq!(
        item["properties"]["protectionState"],
        json!("UnplannedFailoverCommitPendingStatesBegin")
    );
    let target = item["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"]
        .as_str()
        .unwrap();
    let t = env.get(target).await;
    assert_eq!(t["location"], json!("westus"));
    assert_eq!(
        t["properties"]["instanceView"]["statuses"][1]["code"],
        json!("PowerState/running")
    );
    env.sim.set_outage("eastus", false);
    env.ok("GET", &vm("vm00001"), None, &[200]).await;
}

#[tokio::test]
async fn sim_throttling_400_reads_in_one_virtual_second() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    let path = vm("vm00001");
    let mut ok = 0;
    let mut throttled = 0;
    for i in 0..400 {
        let r = env.call("GET", &path, None).await;
        match r.status {
            200 => {
                ok += 1;
                assert_eq!(
                    r.header("x-ms-ratelimit-remaining-subscription-reads"),
                    Some((249 - i).to_string().as_str())
                );
                assert!(
                    r.header("x-ms-ratelimit-remaining-subscription-global-reads")
                        .is_some()
                );
            }
            429 => {
                throttled += 1;
                assert_eq!(r.header("retry-after"), Some("1"));
                assert_eq!(
                    r.json()["error"]["code"],
                    json!("SubscriptionRequestsThrottled")
                );
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!((ok, throttled), (250, 150));
    // Writes have their own bucket.
    env.ok(
        "PUT",
        &rg("rg-new"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    // One virtual second refills 25 read tokens.
    env.advance(1);
    let again: Vec<u16> = futures_statuses(&env, &path, 30).await;
    assert_eq!(again.iter().filter(|s| **s == 200).count(), 25);
}

async fn futures_statuses(env: &Env, path: &str, n: usize) -> Vec<u16> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(env.call("GET", path, None).await.status);
    }
    v
}

#[tokio::test(start_paused = true)]
async fn sim_latency_waits_on_the_virtual_clock() {
    use std::sync::Arc;
    let clock = Arc::new(asrform::clock::ScaledClock::new(T0, 1.0));
    let sim = asrform::sim::Simulator::from_estate(
        &estate(1, 1.0),
        clock,
        SimConfig {
            latency_ms: 1500,
            ..SimConfig::default()
        },
    );
    let wall = std::time::Instant::now();
    let r = sim
        .handle(SimRequest::new(
            "GET",
            &format!("{BASE}{}?api-version=2026-04-01", vm("vm00001")),
            None,
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(sim.now() - T0 >= time::Duration::milliseconds(1500));
    assert!(wall.elapsed() < Duration::from_secs(1));
    assert_eq!(
        sim.request_log()[0].time,
        T0 + time::Duration::milliseconds(1500)
    );
}

#[tokio::test]
async fn sim_faults_throttle_5xx_drop_and_failed_job() {
    let env = Env::new(&estate(1, 1.0), SimConfig::default());
    env.topology().await;
    env.sim.set_faults(FaultSet::parse(r#"{"seed": 1, "rules": [
        {"method": "GET", "path": "/virtualMachines/vm00001", "effect": {"kind": "throttle", "retryAfter": 7}, "times": 1},
        {"method": "GET", "path": "/virtualMachines/vm00001", "effect": {"kind": "status", "status": 503}, "times": 1},
        {"method": "GET", "path": "/virtualMachines/vm00001", "effect": {"kind": "drop"}, "times": 1},
        {"operation": "ReplicationProtectedItems_Create", "effect": {"kind": "failJob", "code": "150261", "message": "injected"}, "times": 1}
    ]}"#).unwrap());
    let r = env.call("GET", &vm("vm00001"), None).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    assert_eq!(env.call("GET", &vm("vm00001"), None).await.status, 503);
    assert!(env.call("GET", &vm("vm00001"), None).await.drop_connection);
    assert_eq!(env.call("GET", &vm("vm00001"), None).await.status, 200);
    let r = env
        .ok(
            "PUT",
            &rpi("vm00001"),
            Some(env.enable_body("vm00001")),
            &[202],
        )
        .await;
    let s = env.wait(&r).await;
    assert_eq!(
        (s["status"].clone(), s["error"]["code"].clone()),
        (json!("Failed"), json!("150261"))
    );
    let jobs = env
        .get(&format!(
            "{}/replicationJobs?$filter=state eq 'Failed'",
            vault()
        ))
        .await;
    let j = &jobs["value"][0];
    assert_eq!(j["properties"]["scenarioName"], json!("EnableDr"));
    assert_eq!(
        j["properties"]["errors"][0]["serviceErrorDetails"]["code"],
        json!("150261")
    );
    assert_eq!(j["properties"]["allowedActions"], json!(["Restart"]));
    // The log shows each fault.
    let statuses: Vec<u16> = env
        .sim
        .request_log()
        .iter()
        .filter(|l| l.path.ends_with("vm00001"))
        .map(|l| l.status)
        .collect();
    assert_eq!(&statuses[..4], &[429, 503, 0, 200]);
}
