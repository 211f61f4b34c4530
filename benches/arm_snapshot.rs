//! Benchmark: read the live snapshot of a 10,000-VM protected estate from the in-process simulator and print the
//! wall time, the simulated time and the requests by type. Run with `cargo bench --bench arm_snapshot`
//! (optionally `-- <vms>`). The estate is built through the client's typed operations first (not timed).

#[path = "../tests/it/arm_sim_env.rs"]
mod arm_sim_env;

use std::time::Instant;

use asrform::clock::Clock;
use asrform::provider::arm::snapshot;

fn main() {
    let vms: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    // A paused tokio clock: throttling and LRO waits are virtual, so wall time measures the client's own work.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let setup = Instant::now();
        let env = arm_sim_env::SimEnv::protected(vms).await;
        println!("setup: {vms} VMs protected in {:.2?} wall", setup.elapsed());
        for latency_ms in [0u64, 100] {
            env.sim.world().config.latency_ms = latency_ms;
            let client = env.client(|_| {});
            let sim_start = env.clock.now();
            let wall = Instant::now();
            let snap = snapshot::read(&client, &env.request()).await.expect("snapshot");
            let wall = wall.elapsed();
            let c = client.counts();
            println!(
                "arm_snapshot vms={vms} latency={latency_ms}ms protected_items={} wall={wall:.2?} simulated={} requests={} (GET {}) throttled={} retries={}",
                snap.protected_items.len(),
                env.clock.now() - sim_start,
                c.total,
                c.get,
                c.throttled,
                c.retries
            );
        }
    });
}
