//! Apply under ARM throttling (`limits.md` §6 G4): a change whose request waits out a 429's `Retry-After` gives its
//! place among `--parallelism` back, so work on another subscription keeps flowing, and nothing is re-sent to a
//! throttled scope before its `Retry-After` has passed (checked from the simulator's request log times).
//!
//! Scenario, on the paused clock: two subscriptions A and B with their infrastructure applied first, except B's
//! network mapping. The second apply, at parallelism 2, enables two VMs of A and creates B's network mapping and
//! then enables one VM of B (its enable waits for the mapping). A's first enable request gets
//! `SubscriptionRequestsThrottled` with `Retry-After: 900`, which blocks every write to A for 900 s. The walk
//! starts A's first VM and B's mapping (one per subscription); the mapping gives its place back while its job
//! runs and A's second VM takes it; both A changes then wait for A's block. Holding their places, they would keep
//! B's mapping from resuming and B's VM from starting until the block ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::apply::hooks::{Event, Hooks, OperationOutcome};
use asrform::apply::{self, ApplyOptions};
use asrform::config::{self, LoadOptions};
use asrform::estate::Estate;
use asrform::sim::{FaultEffect, FaultRule, FaultSet, LogEntry};

use crate::apply_scale::{Scale, estate, per_subscription_hcl, subscription_of};

const RETRY_AFTER: u64 = 900;

/// The configuration: every subscription's vault, policy, region pair, DR network and cache account, network
/// mappings for `mapped` subscriptions only, and a `protected_vm` per VM name in `vms`.
fn load(e: &Estate, vms: &[&str], mapped: &[&str]) -> config::Loaded {
    let quote = |xs: Vec<String>| xs.join(", ");
    let subs = quote(
        e.subscriptions
            .iter()
            .map(|s| format!("\"{}\"", s.id))
            .collect(),
    );
    let mapped = quote(mapped.iter().map(|s| format!("\"{s}\"")).collect());
    let rows = e
        .vms()
        .filter(|(_, _, vm)| vms.contains(&vm.name.as_str()))
        .map(|(s, rg, vm)| {
            format!(
                "    \"{}\" = {{ sub = \"{}\", id = \"{}\" }}",
                vm.name,
                s.id,
                asrform::estate::ids::vm(&s.id, &rg.name, &vm.name)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let locals = format!(
        r#"
  subs   = toset([{subs}])
  mapped = toset([{mapped}])
  vms = {{
{rows}
  }}
"#
    );
    let hcl = per_subscription_hcl(&locals, "local.mapped");
    let sources = vec![
        ("main.asr.hcl".to_string(), hcl),
        (
            "estate.json".to_string(),
            serde_json::to_string(e).expect("estate serialises"),
        ),
    ];
    config::load_sources(sources, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"))
}

/// Records when each operation finished (virtual time since the apply began).
struct Finished {
    t0: tokio::time::Instant,
    at: Mutex<Vec<(String, Duration)>>,
}

impl Hooks for Finished {
    fn on_event(&self, event: &Event) {
        if let Event::OperationFinished {
            address,
            outcome: OperationOutcome::Applied,
            ..
        } = event
        {
            self.at
                .lock()
                .unwrap()
                .push((address.clone(), self.t0.elapsed()));
        }
    }
}

struct Run {
    a: String,
    b_vm: String,
    latency: Duration,
    /// The second apply's log entries.
    log: Vec<LogEntry>,
    finished: Vec<(String, Duration)>,
    makespan: Duration,
}

/// Applies the infrastructure, then the scenario of the module doc at parallelism 2 under A's 900 s block.
async fn run() -> Run {
    let e = estate(8, 2);
    let (a, b) = (e.subscriptions[0].id.clone(), e.subscriptions[1].id.clone());
    let vm_names = |sub: &str| -> Vec<String> {
        let mut v: Vec<String> = e
            .vms()
            .filter(|(s, _, _)| s.id == sub)
            .map(|(_, _, vm)| vm.name.clone())
            .collect();
        v.sort();
        v
    };
    // A's two smallest names and B's largest: when B's mapping ends, A's second VM (same rank as B's VM) is
    // first in plan order, so without giving places back it takes the freed place and B's VM is stuck.
    let a_vms: Vec<String> = vm_names(&a).into_iter().take(2).collect();
    let b_vms: Vec<String> = vm_names(&b).into_iter().last().into_iter().collect();
    assert_eq!((a_vms.len(), b_vms.len()), (2, 1), "the estate spreads VMs");

    let mut cloud = Scale::new(&e, load(&e, &[], &[&a]), 100);
    let first = cloud.plan().await;
    assert!(cloud.apply(&first, false).await.success());

    let names: Vec<&str> = a_vms.iter().chain(&b_vms).map(String::as_str).collect();
    cloud.loaded = load(&e, &names, &[&a, &b]);
    cloud.graph = asrform::graph::build(&cloud.loaded.config).expect("graph");
    let plan = cloud.plan().await;
    let order: Vec<&str> = plan.effective_changes().map(|c| c.key.as_str()).collect();
    assert_eq!(
        order.len(),
        4,
        "A's two VMs, B's mapping and B's VM: {order:?}"
    );
    let at = |name: &str| order.iter().position(|k| k.contains(name));
    assert!(
        at(&a_vms[1]) < at(&b_vms[0]),
        "the scenario needs A's VMs before B's in plan order: {order:?}"
    );
    cloud.sim.set_faults(FaultSet {
        seed: 1,
        rules: vec![FaultRule {
            method: Some("PUT".into()),
            path: Some(format!("/subscriptions/{a}/")),
            operation: Some("ReplicationProtectedItems_Create".into()),
            effect: FaultEffect::Throttle {
                retry_after: RETRY_AFTER,
                retry_after_max: None,
                code: Some("SubscriptionRequestsThrottled".into()),
            },
            times: Some(1),
            probability: None,
            fired: 0,
        }],
        draws: 0,
    });

    let seq0 = cloud.sim.world().log_seq;
    let hooks = Arc::new(Finished {
        t0: tokio::time::Instant::now(),
        at: Mutex::default(),
    });
    let stored = asrform::state::StateStore::read(cloud.store.as_ref())
        .await
        .unwrap();
    let report = apply::apply(
        &plan,
        Arc::new(cloud.loaded.config.clone()),
        cloud.client.clone(),
        cloud.store.clone(),
        stored,
        hooks.clone(),
        &ApplyOptions {
            parallelism: 2,
            ..ApplyOptions::default()
        },
    )
    .await
    .expect("apply");
    let makespan = hooks.t0.elapsed();
    assert!(report.success(), "{report:#?}");
    assert!(!cloud.plan().await.has_changes(), "a re-plan is a no-op");
    let b_vm = format!("protected_vm.vm[\"{}\"]", b_vms[0]);
    let finished = hooks.at.lock().unwrap().clone();
    let latency = Duration::from_millis(cloud.sim.world().config.latency_ms);
    Run {
        a: a.to_ascii_lowercase(),
        b_vm,
        latency,
        log: cloud
            .sim
            .request_log()
            .into_iter()
            .filter(|e| e.seq > seq0)
            .collect(),
        finished,
        makespan,
    }
}

#[tokio::test(start_paused = true)]
async fn a_throttled_subscription_gives_its_places_back_and_another_keeps_flowing() {
    let r = run().await;
    let throttled: Vec<&LogEntry> = r.log.iter().filter(|e| e.status == 429).collect();
    assert_eq!(throttled.len(), 1, "one 429: {throttled:#?}");
    let blocked_from = throttled[0].time;
    let b_done = r
        .finished
        .iter()
        .find(|(addr, _)| addr == &r.b_vm)
        .map(|(_, at)| *at)
        .unwrap_or_else(|| panic!("{} did not finish: {:#?}", r.b_vm, r.finished));
    // B's VM had to wait for B's mapping job (30 s) and then run its own enable job (120 s): it is done long before
    // A's block ends at about 900 s, because neither A change kept a place while waiting.
    assert!(
        b_done < Duration::from_secs(RETRY_AFTER / 2),
        "B's VM finished at {b_done:?}, behind A's {RETRY_AFTER} s block (429 at {blocked_from})"
    );
    // A's changes still finished: after the block, plus their enable jobs.
    assert!(
        r.makespan >= Duration::from_secs(RETRY_AFTER + 120),
        "{:?}",
        r.makespan
    );
}

#[tokio::test(start_paused = true)]
async fn no_request_reaches_a_throttled_scope_before_its_retry_after() {
    let r = run().await;
    let block = r
        .log
        .iter()
        .find(|e| e.status == 429)
        .expect("A's enable was throttled");
    let until = block.time + Duration::from_secs(block.retry_after.expect("Retry-After"));
    // `SubscriptionRequestsThrottled` names A's write bucket: no write to A may be sent in [429, 429 + Retry-After).
    // The log holds when the simulator answered, one latency after the request was sent.
    let writes_to_a: Vec<&LogEntry> = r
        .log
        .iter()
        .filter(|e| e.seq > block.seq && e.method != "GET")
        .filter(|e| subscription_of(&e.path).as_deref() == Some(r.a.as_str()))
        .collect();
    assert_eq!(writes_to_a.len(), 2, "A's two enables: {writes_to_a:#?}");
    for e in writes_to_a {
        let sent = e.time - r.latency;
        assert!(
            sent >= until,
            "{} {} sent at {sent}, before the block ended at {until}",
            e.method,
            e.path
        );
    }
}
