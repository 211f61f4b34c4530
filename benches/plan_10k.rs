//! Planning 10,000 protected VMs against the in-process simulator: wall time of the whole plan (live reads
//! included), CPU time of the pure part (diff + text, JSON and Markdown rendering) and the request count.
//!
//! Run: `cargo bench --bench plan_10k` (release). Plain `main`, no harness; prints numbers for BENCHMARKS.md.

#[path = "../tests/it/plan_scale.rs"]
mod plan_scale;

use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::ScaledClock;
use asrform::estate::{self, GenerateOptions};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{PlanOptions, diff, saved};
use asrform::sim::{SimConfig, Simulator};

/// CPU time of this thread so far (Linux `schedstat`), falling back to zero elsewhere.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn main() {
    let n: usize = std::env::var("PLAN_VMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let e = estate::generate(&GenerateOptions {
            vms: n,
            subscriptions: n.div_ceil(plan_scale::VMS_PER_SUBSCRIPTION),
            region: "eastus".into(),
            seed: 1,
        });
        let clock = Arc::new(ScaledClock::new(time::macros::datetime!(2026-03-01 00:00 UTC), 1.0));
        let sim = Simulator::from_estate(&e, clock, SimConfig::default());
        let client = asrform::cli::session::sim_client(&sim);
        let config = plan_scale::scaled(n);
        let graph = asrform::graph::build(&config).unwrap();

        let wall = Instant::now();
        let req = asrform::plan::snapshot_request(&config);
        let snap = asrform::provider::arm::snapshot::read(&client, &req).await.unwrap();
        let read_wall = wall.elapsed();

        let cpu0 = thread_cpu();
        let pure = Instant::now();
        let plan = diff(&config, &graph, &snap, None, &PlanOptions::default()).unwrap();
        let diff_time = pure.elapsed();
        let text = render::text(&plan, TextOptions::default());
        let json = saved::to_json(&plan);
        let md = render::markdown(&plan, "bench");
        let pure_wall = pure.elapsed();
        let pure_cpu = thread_cpu().saturating_sub(cpu0);
        let total = wall.elapsed();
        let counts = client.counts();

        println!("plan_10k: {n} protected VMs, {} resources, {} changes", config.resources.len(), plan.effective_changes().count());
        println!("  wall time (live read + diff + render): {total:?}");
        println!("  live read wall time: {read_wall:?}");
        println!("  pure part (diff + text + JSON + Markdown): wall {pure_wall:?}, CPU {pure_cpu:?} (diff alone {diff_time:?})");
        println!("  output sizes: text {} B, JSON {} B, Markdown {} chars", text.len(), json.len(), md.chars().count());
        println!("  requests: {counts:?}");
    });
}
