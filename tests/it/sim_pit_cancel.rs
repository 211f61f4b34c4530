//! Simulator support for the two pre-commit operations on one protected item: `applyRecoveryPoint` (ASR's
//! ChangePit) moves a failed-over VM to another point and is refused before a failover and after its commit;
//! `failoverCancel` rolls a failover back (the failed-over VM goes away, the shut-down source runs again,
//! replication continues as before) and is refused once the failover is committed.

use asrform::sim::SimConfig;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::sim_scenarios::failover;
use crate::sim_support::*;

fn recovery_vm(item: &Value) -> String {
    item["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn apply_point_body(id: &Value) -> Value {
    json!({"properties": {"recoveryPointId": id, "providerSpecificDetails": {"instanceType": "A2A"}}})
}

async fn refused(env: &Env, path: &str, body: Option<Value>) -> String {
    let r = env.call("POST", path, body).await;
    assert_eq!(
        r.status,
        400,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["error"]["message"].as_str().unwrap().to_string()
}

fn allowed(item: &Value) -> Vec<String> {
    item["properties"]["allowedOperations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn sim_change_pit_only_between_failover_and_commit_and_it_moves_the_point() {
    let env = Env::new(&estate(1, 5.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(3 * 3600);
    let item = rpi("vm00001");
    let pts = env.get(&format!("{item}/recoveryPoints")).await;
    let mut list: Vec<(i64, Value)> = pts["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = OffsetDateTime::parse(
                p["properties"]["recoveryPointTime"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
            .unix_timestamp();
            (t, p["id"].clone())
        })
        .collect();
    list.sort_by_key(|(t, _)| *t);
    let (newest_t, newest) = list.last().cloned().unwrap();
    let (_, older) = list[list.len() - 4].clone();

    // Not failed over: ChangePit is not an allowed operation.
    let msg = refused(
        &env,
        &format!("{item}/applyRecoveryPoint"),
        Some(apply_point_body(&newest)),
    )
    .await;
    assert!(msg.contains("change recovery point"), "{msg}");

    let after = failover(&env, &item, "NotRequired", older.as_str()).await;
    assert_eq!(after["properties"]["failoverRecoveryPointId"], older);
    assert!(allowed(&after).contains(&"ChangePit".to_string()));

    env.lro(
        "POST",
        &format!("{item}/applyRecoveryPoint"),
        Some(apply_point_body(&newest)),
    )
    .await;
    let moved = env.get(&item).await;
    assert_eq!(moved["properties"]["failoverRecoveryPointId"], newest);
    assert_eq!(
        moved["properties"]["protectionState"],
        "UnplannedFailoverCommitPendingStatesBegin"
    );
    // The failed-over disks now hold the source content as of the newer point.
    let newest_at = OffsetDateTime::from_unix_timestamp(newest_t).unwrap();
    for d in moved["properties"]["providerSpecificDetails"]["protectedManagedDisks"]
        .as_array()
        .unwrap()
    {
        let src = d["diskId"].as_str().unwrap();
        let tgt = d["recoveryTargetDiskId"].as_str().unwrap();
        let expect = env.sim.world().disk_content(src, newest_at).unwrap();
        assert_eq!(env.sim.world().disk_content_at_base(tgt), Some(expect));
    }

    env.lro("POST", &format!("{item}/failoverCommit"), None)
        .await;
    let msg = refused(
        &env,
        &format!("{item}/applyRecoveryPoint"),
        Some(apply_point_body(&older)),
    )
    .await;
    assert!(msg.contains("UnplannedFailoverCommitted"), "{msg}");
}

#[tokio::test]
async fn sim_failover_cancel_rolls_back_and_is_refused_after_commit() {
    let env = Env::new(&estate(1, 5.0), SimConfig::default());
    env.topology().await;
    env.enable("vm00001").await;
    env.until_protected(&rpi("vm00001")).await;
    env.advance(3600);
    let item = rpi("vm00001");
    let power = |v: &Value| v["properties"]["instanceView"]["statuses"][1]["code"].clone();

    // Nothing to cancel before a failover.
    let msg = refused(&env, &format!("{item}/failoverCancel"), None).await;
    assert!(msg.contains("cancel failover"), "{msg}");

    let after = failover(&env, &item, "Required", None).await;
    let target = recovery_vm(&after);
    assert!(!target.is_empty(), "{after}");
    assert_eq!(
        power(&env.get(&vm("vm00001")).await),
        json!("PowerState/stopped")
    );
    assert!(allowed(&after).contains(&"CancelFailover".to_string()));

    env.lro("POST", &format!("{item}/failoverCancel"), None)
        .await;
    let back = env.get(&item).await;
    assert_eq!(back["properties"]["protectionState"], "Protected", "{back}");
    assert_eq!(back["properties"]["activeLocation"], "Primary");
    assert!(allowed(&back).contains(&"UnplannedFailover".to_string()));
    // The source runs again and the failed-over VM is gone.
    assert_eq!(
        power(&env.get(&vm("vm00001")).await),
        json!("PowerState/running")
    );
    assert_eq!(env.call("GET", &target, None).await.status, 404);
    // Replication continued: new points keep coming after the cancel.
    env.advance(900);
    let rpo = env.get(&item).await["properties"]["providerSpecificDetails"]["rpoInSeconds"]
        .as_i64()
        .unwrap();
    assert!(rpo < 900, "rpo {rpo}");

    failover(&env, &item, "Required", None).await;
    env.lro("POST", &format!("{item}/failoverCommit"), None)
        .await;
    let msg = refused(&env, &format!("{item}/failoverCancel"), None).await;
    assert!(msg.contains("UnplannedFailoverCommitted"), "{msg}");
}
