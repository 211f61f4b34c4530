//! End-to-end plan benchmark against the in-process simulator, with the per-object baseline measured in the same
//! process on the same simulated cloud.
//!
//! For each size it protects that many VMs (the shared bench setup `benches/support/vaults.rs`, not timed: one vault
//! per 1,000 VMs, each in its own subscription, under ASR's 3,000 disks per subscription), imports the vaults into one
//! configuration and adopted state (so the configuration matches the cloud: zero drift), then, with 100 ms of
//! simulated latency per request and ARM throttling on:
//! - plans it the way `asrform plan` does (`apply::plan_live`: list reads following `nextLink`, then diff);
//! - refreshes it the way a Terraform-style tool does: one GET per managed object, 10 in flight;
//! - optionally (`PLAN_FAULTS=1`) plans again with 20% of requests answered 429 + `Retry-After`, and checks that no
//!   request was re-sent before its `Retry-After` and how many extra requests the retries cost.
//!
//! Printed per run: simulated wall time (the paused tokio clock, which is where the 100 ms latencies are spent), host
//! wall and CPU time, peak memory (`VmHWM`), requests by operation, 429s.
//!
//! Run: `cargo bench --bench plan_e2e` (release). Environment: `PLAN_SIZES` (default `100,1000`), `PLAN_PAGE_SIZE`
//! (simulator page size, default 1000), `PLAN_LATENCY_MS` (default 100), `PLAN_FAULTS` (default off), `PLAN_BASELINE` (default on).
//! Plain `main` (`harness = false`), so it never runs under `cargo test`.

#[path = "support/measure.rs"]
mod measure;
#[path = "support/vaults.rs"]
#[allow(dead_code)]
mod vaults;

use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::config::{self, LoadOptions};
use asrform::import;
use asrform::plan::PlanOptions;
use asrform::provider::arm::ArmClient;
use asrform::sim::faults::FaultSet;
use measure::{measured, peak_mb};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The Terraform-style refresh: one GET per managed object, at most 10 in flight.
async fn per_object_refresh(client: &ArmClient, ids: &[String]) -> usize {
    let sem = Arc::new(tokio::sync::Semaphore::new(10));
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let client = client.clone();
        let id = id.clone();
        let permit = sem.clone().acquire_owned().await.expect("semaphore open");
        set.spawn(async move {
            let r = client.get_value(&id).await;
            drop(permit);
            r
        });
    }
    let mut found = 0;
    while let Some(r) = set.join_next().await {
        if matches!(r, Ok(Ok(Some(_)))) {
            found += 1;
        }
    }
    found
}

async fn bench(vms: usize, page_size: usize, latency_ms: u64, faults: bool, baseline: bool) {
    let setup = Instant::now();
    let subscriptions = vaults::subscriptions_for(vms);
    let fleet = vaults::build(&vaults::FleetSpec {
        vms,
        subscriptions,
        seed: 11,
        vault: "rsv-bench",
        cache: "stcachebench",
    })
    .await;
    let built = setup.elapsed();
    let (sim, client) = (&fleet.sim, &fleet.client);
    let (files, snap) = vaults::import_all(&fleet).await;
    let loaded = config::load_sources(files, &LoadOptions::default()).unwrap_or_else(|d| {
        eprintln!("imported configuration does not load:");
        for x in d.iter().take(10) {
            eprintln!("  {}: {}", x.code, x.message);
        }
        std::process::exit(1);
    });
    let graph = asrform::graph::build(&loaded.config).expect("graph");
    assert_eq!(
        loaded.config.protected_vms().count(),
        vms,
        "the merged configuration manages every protected VM"
    );
    let state = import::adopt(&loaded.config, &snap, client.clock().now());
    drop(snap);
    println!(
        "plan_e2e: {vms} protected VMs in {} vaults/subscriptions, {} resources in configuration, page size {page_size}, latency {latency_ms} ms (setup {:.1?}: vaults {built:.1?}, import + load {:.1?})",
        fleet.vaults.len(),
        loaded.config.resources.len(),
        setup.elapsed(),
        setup.elapsed() - built
    );

    {
        let mut w = sim.world();
        w.config.page_size = page_size;
        w.config.latency_ms = latency_ms;
        w.config.throttling = true;
    }
    // Let the buckets refill after the setup.
    sim.advance(Duration::from_secs(3600));

    let ((plan, live), run) = measured(sim, async {
        asrform::apply::plan_live(
            &loaded.config,
            &graph,
            client,
            Some(&state),
            &PlanOptions::default(),
        )
        .await
        .expect("plan")
    })
    .await;
    let changes = plan.effective_changes().count();
    run.print(if live.graph_read_at.is_some() {
        "asrform plan (ARG)"
    } else {
        "asrform plan (ARM lists)"
    });
    println!("  {:<22} effective changes: {changes}", "");

    // `PLAN_BASELINE=0` skips the per-object baseline (minutes of host time at 10,000 VMs).
    if baseline {
        sim.advance(Duration::from_secs(3600));
        let ids: Vec<String> = loaded
            .config
            .resources
            .values()
            .filter_map(|r| r.id.clone())
            .collect();
        let (found, base) = measured(sim, per_object_refresh(client, &ids)).await;
        base.print("per-object baseline");
        println!(
            "  {:<22} {} objects, {found} found; speed-up {:.1}x (simulated time), {:.1}x fewer requests",
            "",
            ids.len(),
            base.sim_wall.as_secs_f64() / run.sim_wall.as_secs_f64().max(1e-9),
            base.requests as f64 / run.requests.max(1) as f64
        );
    }

    if faults {
        sim.advance(Duration::from_secs(3600));
        // limits.md §6 G4: 20% 429s with Retry-After uniform 1–30 s, plus one 307 s provider-quota 429.
        sim.set_faults(measure::g4_faults(8));
        let seq0 = sim.world().log_seq;
        let ((plan2, _), faulted) = measured(sim, async {
            asrform::apply::plan_live(
                &loaded.config,
                &graph,
                client,
                Some(&state),
                &PlanOptions::default(),
            )
            .await
            .expect("plan under 429s")
        })
        .await;
        sim.set_faults(FaultSet::default());
        faulted.print("plan, 20% 429s");
        let successful = faulted.requests - faulted.throttled;
        println!(
            "  {:<22} changes {}; early re-sends {}; extra non-429 requests {} ({:.1}%)",
            "",
            plan2.effective_changes().count(),
            measure::early_resends(sim, seq0),
            successful.saturating_sub(run.requests),
            100.0 * successful.saturating_sub(run.requests) as f64 / run.requests.max(1) as f64
        );
    }
    println!("  peak memory so far (VmHWM): {:.0} MB", peak_mb());
}

fn main() {
    let sizes: Vec<usize> = std::env::var("PLAN_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let page_size = env_or("PLAN_PAGE_SIZE", 1000usize);
    let latency = env_or("PLAN_LATENCY_MS", 100u64);
    let faults = env_or("PLAN_FAULTS", 0u8) == 1;
    let baseline = env_or("PLAN_BASELINE", 1u8) == 1;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    for n in sizes {
        rt.block_on(bench(n, page_size, latency, faults, baseline));
    }
}
