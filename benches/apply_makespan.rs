//! Apply makespan against the in-process simulator, with the lower bound of `limits.md` §6 G3 computed for the same
//! run and the Terraform-style baseline measured in the same process on an identical simulated cloud.
//!
//! For each size `N:S` (N VMs over S subscriptions, one vault per subscription; `tests/it/apply_scale.rs` builds
//! the fleet and computes the bound) it plans and then applies the fleet the way `asrform apply` does
//! (`apply::apply`: shared job tracker, parallelism 10, the client's token buckets) on the simulator's default
//! ASR-like durations (configuration jobs 30 s, enable-protection jobs 120 s), ARM throttling (per subscription:
//! writes 200 burst, 10/s) and `APPLY_LATENCY_MS` (default 100) per request, all on the paused tokio clock. Then:
//! - the baseline on a fresh cloud seeded from the same estate: `apply::apply_per_operation` (one poll loop per
//!   long-running operation, each holding one of 10 places);
//! - with `APPLY_FAULTS=1`, the apply again on a fresh cloud under the G4 fault profile (20% 429s with
//!   `Retry-After` uniform 1–30 s plus one 307 s resource-provider 429).
//!
//! Printed per run: simulated makespan, host wall, process CPU, requests by type, 429s, polling reads per second
//! (busiest subscription), the bound and the ratio. Run: `cargo bench --bench apply_makespan` (release).
//! Environment: `APPLY_SIZES` (default `1000:1,5000:4`), `APPLY_LATENCY_MS`, `APPLY_FAULTS`, `APPLY_BASELINE`
//! (default 1). Plain `main` (`harness = false`), so it never runs under `cargo test`.

#[path = "../tests/it/apply_scale.rs"]
mod apply_scale;
#[path = "support/measure.rs"]
mod measure;

use std::time::{Duration, Instant};

use apply_scale::{Bound, Scale};
use asrform::sim::LogEntry;
use measure::{Run, early_resends, g4_faults, measured, peak_mb};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The run's log entries.
fn entries(cloud: &Scale, run: &Run) -> Vec<LogEntry> {
    cloud
        .sim
        .request_log()
        .into_iter()
        .filter(|e| e.seq > run.seq0)
        .collect()
}

/// Prints the bound, ratio and polling rate of one run; returns the ratio.
fn report(name: &str, cloud: &Scale, run: &Run) -> (Bound, f64) {
    let log = entries(cloud, run);
    let refs: Vec<&LogEntry> = log.iter().collect();
    let bound = Bound::from_run(&refs, &cloud.sim.world().config.durations);
    let makespan = run.sim_wall.as_secs_f64();
    let ratio = makespan / bound.lb;
    let writes: Vec<String> = bound
        .writes
        .iter()
        .map(|(s, w)| format!("…{}={w}", &s[s.len().saturating_sub(4)..]))
        .collect();
    println!(
        "  {name:<22} LB {:.0} s = max(write floor {:.1} s [writes {}], d_infra {:.0} s + d_enable {:.0} s); makespan/LB {ratio:.3}; 1.10×LB+30 s = {:.0} s",
        bound.lb,
        bound.write_floor,
        writes.join(" "),
        bound.d_infra,
        bound.d_enable,
        1.10 * bound.lb + 30.0
    );
    println!(
        "  {name:<22} ordered bound {:.0} s (chain {:.0} s + enable pacing {:.0} s + d_enable); makespan/ordered {:.3}",
        bound.ordered,
        bound.d_chain,
        bound.ordered - bound.d_chain - bound.d_enable,
        makespan / bound.ordered
    );
    if std::env::var("APPLY_TRACE").is_ok_and(|v| v == "1") {
        // When each kind of request was first and last sent, relative to the run's start: where the time went.
        let t0 = log.first().map(|e| e.time);
        let mut span: std::collections::BTreeMap<String, (f64, f64, usize)> = Default::default();
        for e in &log {
            let t = t0.map_or(0.0, |t0| (e.time - t0).as_seconds_f64());
            let s = span
                .entry(format!("{} {}", e.method, e.operation))
                .or_insert((t, t, 0));
            s.1 = t;
            s.2 += 1;
        }
        let mut rows: Vec<_> = span.into_iter().collect();
        rows.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
        for (op, (first, last, n)) in rows {
            println!(
                "  {:<22}   {first:>8.1} s – {last:>8.1} s  {n:>6}  {op}",
                ""
            );
        }
    }
    println!(
        "  {:<22} polling {:.2} reads/s per subscription (busiest), {} polling reads",
        "",
        apply_scale::polling_rate(&refs, run.sim_wall),
        refs.iter().filter(|e| apply_scale::is_polling(e)).count()
    );
    (bound, ratio)
}

async fn bench(n: usize, subs: usize, latency_ms: u64, baseline: bool, faults: bool) {
    let setup = Instant::now();
    let e = apply_scale::estate(n, subs);
    let loaded = apply_scale::load(&e);
    let load_time = setup.elapsed();
    let cloud = Scale::new(&e, loaded.clone(), latency_ms);
    let plan = cloud.plan().await;
    println!(
        "apply_makespan: {n} VMs over {subs} subscription(s), {} changes, latency {latency_ms} ms (load {load_time:.1?}, setup {:.1?})",
        plan.effective_changes().count(),
        setup.elapsed()
    );

    let (report_a, run) = measured(&cloud.sim, cloud.apply(&plan, false)).await;
    assert!(report_a.success(), "{:#?}", report_a.failed);
    run.print("asrform apply");
    let (bound, _) = report("", &cloud, &run);
    let again = cloud.plan().await;
    println!(
        "  {:<22} re-plan: {} changes",
        "",
        again.effective_changes().count()
    );

    if baseline {
        let cloud_b = Scale::new(&e, loaded.clone(), latency_ms);
        let plan_b = cloud_b.plan().await;
        let (report_b, base) = measured(&cloud_b.sim, cloud_b.apply(&plan_b, true)).await;
        assert!(report_b.success(), "{:#?}", report_b.failed);
        base.print("Terraform-style");
        report("", &cloud_b, &base);
        println!(
            "  {:<22} baseline/asrform: {:.1}x simulated time, {:.2}x requests",
            "",
            base.sim_wall.as_secs_f64() / run.sim_wall.as_secs_f64(),
            base.requests as f64 / run.requests.max(1) as f64
        );
    }

    if faults {
        let cloud_f = Scale::new(&e, loaded, latency_ms);
        let plan_f = cloud_f.plan().await;
        cloud_f.sim.set_faults(g4_faults(8));
        let (report_f, faulted) = measured(&cloud_f.sim, cloud_f.apply(&plan_f, false)).await;
        cloud_f.sim.set_faults(Default::default());
        faulted.print("apply, G4 429s");
        if !report_f.success() {
            println!("  {:<22} FAILED: {:#?}", "", report_f.failed);
        }
        let (fb, _) = report("", &cloud_f, &faulted);
        let log = entries(&cloud_f, &faulted);
        let successful = faulted.requests - faulted.throttled;
        let rp_blocks: Vec<&LogEntry> = log
            .iter()
            .filter(|e| e.status == 429 && e.retry_after == Some(measure::RP_RETRY_AFTER))
            .collect();
        // Unavoidable waits on the critical path: the provider block stalls every Recovery Services request of its
        // subscription (the chain or the enable jobs' requests) for its whole Retry-After; the per-resource 429s
        // on the infrastructure chain's objects (vault, policy, fabrics, containers, mappings and their status
        // polls) delay the chain by their Retry-After each, one after another.
        let chain: u64 = log
            .iter()
            .filter(|e| e.status == 429 && e.retry_after != Some(measure::RP_RETRY_AFTER))
            .filter(|e| {
                let p = e.path.to_ascii_lowercase();
                !p.contains("replicationprotecteditems")
                    && !p.contains("replicationjobs")
                    && p.contains("microsoft.recoveryservices")
            })
            .filter_map(|e| e.retry_after)
            .sum();
        let rp: u64 = rp_blocks.len() as u64 * measure::RP_RETRY_AFTER;
        let allowed = (fb.lb + (rp + chain) as f64) * 1.10;
        println!(
            "  {:<22} 429s {} (provider-quota {}); early re-sends {}; extra non-429 requests {} ({:.1}% of {}); makespan {:.0} s vs (LB + Σ unavoidable Retry-After {} s [provider {rp}, chain {chain}]) × 1.10 = {allowed:.0} s",
            "",
            faulted.throttled,
            rp_blocks.len(),
            early_resends(&cloud_f.sim, faulted.seq0),
            successful.saturating_sub(run.requests),
            100.0 * successful.saturating_sub(run.requests) as f64 / run.requests.max(1) as f64,
            run.requests,
            faulted.sim_wall.as_secs_f64(),
            rp + chain
        );
        // Other work kept flowing: requests answered successfully while the provider block was in force.
        for b in &rp_blocks {
            let until = b.time + Duration::from_secs(measure::RP_RETRY_AFTER);
            let flowing = log
                .iter()
                .filter(|e| e.time > b.time && e.time < until && e.status / 100 == 2)
                .count();
            println!(
                "  {:<22} during the {} s provider block from {} (+{:.0} s): {flowing} other requests succeeded",
                "",
                measure::RP_RETRY_AFTER,
                b.path.rsplit('/').next().unwrap_or(""),
                (b.time - log[0].time).as_seconds_f64()
            );
        }
    }
    let _ = bound;
    println!("  peak memory so far (VmHWM): {:.0} MB", peak_mb());
}

fn main() {
    let sizes: Vec<(usize, usize)> = std::env::var("APPLY_SIZES")
        .unwrap_or_else(|_| "1000:1,5000:4".into())
        .split(',')
        .filter_map(|s| {
            let (n, k) = s.trim().split_once(':').unwrap_or((s.trim(), "1"));
            Some((n.parse().ok()?, k.parse().ok()?))
        })
        .collect();
    let latency = env_or("APPLY_LATENCY_MS", 100u64);
    let faults = env_or("APPLY_FAULTS", 0u8) == 1;
    let baseline = env_or("APPLY_BASELINE", 1u8) == 1;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    for (n, subs) in sizes {
        rt.block_on(bench(n, subs, latency, baseline, faults));
    }
}
