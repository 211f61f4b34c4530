//! Apply overlaps ASR's infrastructure chain where ASR's own order allows it (fabrics and containers without the
//! replication policy, network mappings once both fabrics exist) and the simulator answers work it finishes at once
//! (the vault) synchronously; the ARM client takes a vault PUT in either shape. Timings come from the simulator's
//! request log on the paused clock.

use asrform::clock::Clock;
use asrform::sim::LogEntry;
use azure_core::http::Method;
use serde_json::json;

use crate::apply_scale::{Scale, estate, load};
use crate::arm_fake::{Recorded, Reply, SUB, ScriptedArm, client_with, clock};

/// Simulated seconds from `t0` to the first (`last`: last) request of `operation`.
fn at(run: &[&LogEntry], t0: time::OffsetDateTime, operation: &str, last: bool) -> f64 {
    let times = run
        .iter()
        .filter(|e| e.operation == operation)
        .map(|e| (e.time - t0).as_seconds_f64());
    let t = if last {
        times.fold(f64::NAN, f64::max)
    } else {
        times.fold(f64::NAN, f64::min)
    };
    assert!(!t.is_nan(), "no {operation} request in the run");
    t
}

#[tokio::test(start_paused = true)]
async fn the_infrastructure_chain_overlaps_where_asr_allows_it() {
    let e = estate(20, 1);
    let cloud = Scale::new(&e, load(&e), 100);
    let plan = cloud.plan().await;
    let seq0 = cloud.sim.world().log_seq;
    let t0 = cloud.client.clock().now();
    let report = cloud.apply(&plan, false).await;
    assert!(report.success(), "{report:#?}");
    let config = cloud.sim.world().config.durations.config_secs as f64;
    let log = cloud.sim.request_log();
    let run: Vec<&LogEntry> = log.iter().filter(|e| e.seq > seq0).collect();
    let t = |op: &str| at(&run, t0, op, false);

    // The vault is answered at once (200, nothing to poll), so the policy is sent right after it.
    let vault_puts: Vec<&&LogEntry> = run
        .iter()
        .filter(|e| e.method == "PUT" && e.operation.starts_with("Vaults_"))
        .collect();
    assert_eq!(vault_puts.len(), 1);
    assert_eq!(vault_puts[0].status, 200);
    assert!(
        !run.iter().any(|e| e.method == "GET"
            && e.path
                .to_ascii_lowercase()
                .contains("/vaults/rsv-dr/operationstatus")),
        "the vault's operation is not polled"
    );
    let policy = t("ReplicationPolicies_Create");
    assert!(policy < 2.0, "policy sent at {policy} s");

    // Fabrics go out before the policy's job (config_secs) is done; containers follow the fabrics; the container
    // mappings still wait for the policy.
    let fabric = t("ReplicationFabrics_Create");
    assert!(
        fabric < policy + config,
        "first fabric PUT at {fabric} s, policy done at {} s",
        policy + config
    );
    let container = t("ReplicationProtectionContainers_Create");
    assert!(container >= fabric + config, "containers need the fabrics");
    let mapping = t("ReplicationProtectionContainerMappings_Create");
    assert!(mapping >= policy + config, "a mapping needs the policy");
    assert!(
        mapping >= container + config,
        "a mapping needs the containers"
    );

    // Network mappings need the two fabrics (and the networks), not the containers or the container mappings.
    let network = t("ReplicationNetworkMappings_Create");
    assert!(
        network >= fabric + config,
        "network mappings need the fabrics"
    );
    assert!(
        network < mapping,
        "network mappings at {network} s start before the container mappings ({mapping} s), let alone their end"
    );

    // Enables need both kinds of mapping done: about three configuration jobs after the start, not five.
    let enable = t("ReplicationProtectedItems_Create");
    assert!(enable >= mapping + config && enable >= network + config);
    assert!(
        enable <= 3.0 * config + 10.0,
        "first enable at {enable} s (chain of three {config} s jobs)"
    );
    assert!(!cloud.plan().await.has_changes(), "a re-plan is a no-op");
}

/// A vault PUT answered either way the spec's example shows: 201 `Provisioning` with an operation to follow, or
/// 200 already provisioned.
#[tokio::test(start_paused = true)]
async fn a_vault_put_completes_whether_answered_synchronously_or_with_an_operation() {
    let vault = format!(
        "/subscriptions/{SUB}/resourceGroups/dr/providers/Microsoft.RecoveryServices/vaults/v9"
    );
    let body = |state: &str| {
        json!({"id": vault, "name": "v9", "type": "Microsoft.RecoveryServices/vaults", "location": "westus",
            "properties": {"provisioningState": state}})
    };
    let status =
        format!("https://management.azure.com{vault}/operationStatus/op1?api-version=2025-08-01");
    for with_operation in [true, false] {
        let c = clock();
        let (vault2, status2) = (vault.clone(), status.clone());
        let (created, done) = (body("Provisioning"), body("Succeeded"));
        let arm = ScriptedArm::new(
            c.clone(),
            Box::new(move |r: &Recorded, n| match (r.method.as_str(), n) {
                ("PUT", 0) if with_operation => Reply::Json(
                    201,
                    vec![
                        ("azure-asyncoperation", status2.clone()),
                        ("retry-after", "10".into()),
                    ],
                    created.clone(),
                ),
                ("PUT", 0) => Reply::Json(200, vec![], done.clone()),
                ("GET", _) if r.path().contains("operationStatus") => {
                    Reply::Json(200, vec![], json!({"status": "Succeeded"}))
                }
                ("GET", _) if r.path() == vault2 => Reply::Json(200, vec![], done.clone()),
                _ => Reply::unexpected(r),
            }),
        );
        let client = client_with(arm.clone(), c.clone(), |_| {});
        let start = c.now();
        let out = client
            .execute(
                Method::Put,
                &vault,
                Some(&json!({"location": "westus", "sku": {"name": "Standard"}})),
            )
            .await
            .expect("the vault PUT completes");
        let reqs = arm.requests();
        if with_operation {
            assert!(reqs.len() >= 2, "the operation is followed: {reqs:#?}");
            assert!(
                reqs[1].at - start >= time::Duration::seconds(10),
                "after its Retry-After"
            );
        } else {
            assert_eq!(reqs.len(), 1, "nothing to poll: {reqs:#?}");
            assert_eq!(
                out.body.expect("the final body")["properties"]["provisioningState"],
                "Succeeded"
            );
        }
    }
}
