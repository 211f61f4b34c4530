//! The ARM client against the simulator (in-process and over loopback HTTP): building a protected estate with
//! the typed operations, bulk snapshot request counts and latency, a 429 storm, failures during LRO polling, and
//! an ASR job failure.

use std::sync::Arc;
use std::time::Duration;

use asrform::clock::{Clock, ScaledClock};
use asrform::estate::{self, GenerateOptions};
use asrform::provider::arm::auth::StaticCredential;
use asrform::provider::arm::{ArmClient, ArmClientOptions, Endpoint, snapshot, wire};
use asrform::provider::{ProviderError, SnapshotRequest};
use asrform::sim::{FaultEffect, FaultRule, FaultSet, SimConfig, Simulator};
use serde_json::Value;

use crate::arm_sim_env::{SimEnv, id};

#[tokio::test(start_paused = true)]
async fn sim_snapshot_of_1000_protected_vms_costs_pages_and_stays_under_5s_with_latency() {
    let env = SimEnv::protected(1000).await;
    let page = env.sim.world().config.page_size;
    env.sim.world().config.latency_ms = 100;
    let client = env.client(|_| {});
    let start = env.clock.now();
    let snap = snapshot::read(&client, &env.request()).await.unwrap();
    let took = env.clock.now() - start;
    assert_eq!(snap.protected_items.len(), 1000);
    let item = snap
        .protected_item_for_vm(&env.vms[0])
        .expect("item by source VM");
    assert!(item.lifecycle_id.is_some() && item.allowed_operations.iter().all(|o| !o.is_empty()));
    assert_eq!(item.id, env.rpi(&env.vms[0]));
    assert_eq!(snap.fabrics.len(), 2);
    assert_eq!(snap.container_mappings.len(), 2);
    assert_eq!(snap.network_mappings.len(), 1);
    // 2 scopes of GET + lists: vault (1 + 7) and two RGs (1 + 4 each); the RPI list and the VM list page.
    let pages = |n: usize| n.div_ceil(page) as u64;
    let expected = (1 + 7) + 2 * (1 + 4) + (pages(1000) - 1) * 2;
    let counts = client.counts();
    assert!(
        counts.total <= expected + 2,
        "{} requests for 1,000 VMs (expected about {expected} with page size {page})",
        counts.total
    );
    assert!(
        counts.total < 100,
        "requests must grow with pages, not VMs: {}",
        counts.total
    );
    assert!(
        took < time::Duration::seconds(5),
        "1,000-VM read with 100 ms latency took {took}"
    );
}

#[tokio::test(start_paused = true)]
async fn sim_a_20_percent_429_storm_completes_without_early_resends() {
    let env = SimEnv::protected(300).await;
    let baseline = {
        let c = env.client(|_| {});
        snapshot::read(&c, &env.request()).await.unwrap();
        c.counts().total
    };
    let seq0 = env.sim.request_log().last().map(|e| e.seq).unwrap_or(0);
    env.sim.set_faults(FaultSet {
        seed: 11,
        rules: vec![FaultRule {
            method: Some("GET".into()),
            path: None,
            operation: None,
            effect: FaultEffect::Throttle {
                retry_after: 7,
                retry_after_max: None,
                code: None,
            },
            times: None,
            probability: Some(0.2),
            fired: 0,
        }],
        draws: 0,
    });
    let mut totals = 0;
    let mut throttled = 0;
    for _ in 0..5 {
        let c = env.client(|_| {});
        let snap = snapshot::read(&c, &env.request())
            .await
            .expect("every read completes");
        assert_eq!(snap.protected_items.len(), 300);
        assert!(snap.unreadable_scopes.is_empty());
        totals += c.counts().total;
        throttled += c.counts().throttled;
    }
    assert!(throttled > 0, "the storm happened");
    let extra = totals - 5 * baseline - throttled;
    assert!(
        extra * 20 <= 5 * baseline,
        "extra requests beyond the throttled ones: {extra} of {}",
        5 * baseline
    );
    // No request reached the simulator inside a Retry-After window that an earlier 429 opened.
    let log: Vec<_> = env
        .sim
        .request_log()
        .into_iter()
        .filter(|e| e.seq > seq0)
        .collect();
    for (i, e) in log.iter().enumerate().filter(|(_, e)| e.status == 429) {
        let until = e.time + time::Duration::seconds(7);
        let early = log[i + 1..]
            .iter()
            .filter(|x| x.time > e.time && x.time < until)
            .count();
        assert_eq!(
            early, 0,
            "requests sent before Retry-After of the 429 at {}",
            e.time
        );
    }
}

#[tokio::test(start_paused = true)]
async fn sim_lro_polling_survives_5xx_and_dropped_connections() {
    let env = SimEnv::protected(2).await;
    env.sim.set_faults(FaultSet {
        seed: 1,
        rules: vec![
            FaultRule {
                method: Some("GET".into()),
                path: Some("replicationOperation".into()),
                operation: None,
                effect: FaultEffect::Status {
                    status: 503,
                    code: None,
                },
                times: Some(2),
                probability: None,
                fired: 0,
            },
            FaultRule {
                method: Some("GET".into()),
                path: Some("replicationOperation".into()),
                operation: None,
                effect: FaultEffect::Drop,
                times: Some(2),
                probability: None,
                fired: 0,
            },
        ],
        draws: 0,
    });
    let net = env
        .rg("rg-dr")
        .child("providers/Microsoft.Network/virtualNetworks", "vnet-test");
    env.client
        .create_vnet(
            &net,
            "westus",
            &["10.30.0.0/16".into()],
            &[("snet000".into(), "10.30.0.0/24".into())],
        )
        .await
        .unwrap();
    // Wait for initial replication so a test failover is allowed.
    env.clock.sleep(Duration::from_secs(24 * 3600)).await;
    let rpi = env.rpi(&env.vms[0]);
    let out = env
        .client
        .test_failover(&rpi, "PrimaryToRecovery", &net, None)
        .await
        .expect("test failover completes despite faults");
    let counts = env.client.counts();
    assert!(
        counts.server_errors >= 2 && counts.transport_errors >= 2,
        "{counts:?}"
    );
    let item = env
        .client
        .get::<wire::ReplicationProtectedItem>(rpi.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        item.properties.test_failover_state.as_deref(),
        Some("WaitingForCompletion"),
        "{:?}",
        item.properties
    );
    let _ = out;
}

#[tokio::test(start_paused = true)]
async fn sim_a_failed_asr_job_surfaces_its_code_and_message() {
    let env = SimEnv::protected(1).await;
    env.clock.sleep(Duration::from_secs(24 * 3600)).await;
    env.sim.set_faults(FaultSet {
        seed: 1,
        rules: vec![FaultRule {
            method: Some("POST".into()),
            path: Some("/testFailover".into()),
            operation: None,
            effect: FaultEffect::FailJob {
                code: "150039".into(),
                message: "Disk not found.".into(),
            },
            times: Some(1),
            probability: None,
            fired: 0,
        }],
        draws: 0,
    });
    let net = env.dr_vnet();
    let err = env
        .client
        .test_failover(&env.rpi(&env.vms[0]), "PrimaryToRecovery", &net, None)
        .await
        .unwrap_err();
    match &err {
        ProviderError::OperationFailed { code, message, .. } => {
            assert_eq!(code, "150039", "{err}");
            assert!(message.contains("Disk not found."), "{message}");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
}

#[test]
fn sim_serve_over_loopback_http() {
    // Real sockets: run on a real-time runtime (a paused clock would fire socket timeouts while idle).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = estate::generate(&GenerateOptions {
            vms: 5,
            subscriptions: 1,
            region: "eastus".into(),
            seed: 3,
        });
        let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(&e, clock.clone(), SimConfig::default());
        let server = asrform::sim::serve(sim.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = url::Url::parse(&server.url()).unwrap();
        assert!(url.scheme() == "http" && url.host_str() == Some("127.0.0.1"));
        let client = ArmClient::new(ArmClientOptions::new(
            Endpoint::Loopback(url),
            StaticCredential::new("loopback"),
            clock,
        ))
        .unwrap();
        let rg = id(&format!(
            "/subscriptions/{}/resourceGroups/{}",
            e.subscriptions[0].id, e.subscriptions[0].resource_groups[0].name
        ));
        let snap = snapshot::read(
            &client,
            &SnapshotRequest {
                vaults: vec![],
                resource_groups: vec![rg.clone()],
                subscriptions: vec![e.subscriptions[0].id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let vms = snap
            .resources
            .values()
            .filter(|r| {
                r.kind
                    .eq_ignore_ascii_case("Microsoft.Compute/virtualMachines")
            })
            .count();
        assert_eq!(vms, 5);
        assert!(snap.resource_groups.contains_key(&rg));
        // A write and its LRO over HTTP.
        let out = client
            .create_resource_group(
                &id(&format!(
                    "/subscriptions/{}/resourceGroups/rg-new",
                    e.subscriptions[0].id
                )),
                "westus",
                &Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            out.body
                .as_ref()
                .and_then(|b| b.get("location"))
                .and_then(Value::as_str),
            Some("westus")
        );
        server.stop().await;
    });
}

#[tokio::test(start_paused = true)]
async fn sim_job_tracker_follows_many_enable_jobs_with_few_lists() {
    let env = SimEnv::protected(40).await;
    let client = env.client(|o| o.job_poll_interval = Duration::from_secs(15));
    let items = client
        .list::<wire::ReplicationProtectedItem>(&env.vault().join("replicationProtectedItems"))
        .await
        .unwrap();
    let jobs: Vec<String> = items
        .iter()
        .filter_map(|i| {
            i.properties
                .current_scenario
                .as_ref()
                .and_then(|c| c.job_id.clone())
        })
        .filter(|j| !j.ends_with("/None"))
        .collect();
    assert_eq!(jobs.len(), 40, "every enable has a running job");
    let tracker = client.job_tracker();
    let before = client.counts().get;
    let mut set = tokio::task::JoinSet::new();
    for j in jobs {
        let t = tracker.clone();
        set.spawn(async move { t.wait(&j).await });
    }
    while let Some(r) = set.join_next().await {
        let o = r.unwrap().unwrap();
        assert!(
            asrform::provider::arm::lro::job_state_is_terminal(&o.state),
            "{o:?}"
        );
    }
    let lists = client.counts().get - before;
    assert!(lists < 40, "40 jobs tracked with {lists} list requests");
}
