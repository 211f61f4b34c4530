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

/// G3's completion-detection lag of the enable jobs (target: at most max(Retry-After, 15 s) after a job ends), measured
/// from the job's end to the change being seen finished: detection by the job tracker plus the change's follow-up
/// read of its item (so an upper bound of the detection lag).
fn print_lags(seen: &apply_scale::Finishes) {
    let lags = seen.enable_lags();
    if lags.is_empty() {
        return;
    }
    let at = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {:<22} enable job end → change finished ({} VMs; G3 detection lag ≤ max(Retry-After, 15 s)): p50 {:.1} s, p90 {:.1} s, max {:.1} s",
        "",
        lags.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
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
        "  {name:<22} LB {:.0} s = max(write floor {:.1} s [writes {}], critical path {:.0} s + d_enable {:.0} s); makespan/LB {ratio:.3}; 1.10×LB+30 s = {:.0} s (infrastructure one after another: {:.0} s)",
        bound.lb,
        bound.write_floor,
        writes.join(" "),
        bound.d_chain,
        bound.d_enable,
        1.10 * bound.lb + 30.0,
        bound.d_infra,
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

/// The `Retry-After` waits of a fault run that no client could have avoided: they lie on the critical path
/// (infrastructure chain, then the slowest enable request), so the G4 bound adds them to the lower bound.
///
/// - `provider`: the resource-provider 429 blocks every Recovery Services request of its subscription for its
///   whole `Retry-After`; it fires early (on the chain), where all remaining work needs that provider.
/// - `chain`: per stage of the chain (vault, policy, fabrics, containers, mappings, network mappings; the longest
///   path over the stages as the apply overlaps them), the slowest object's waits: the `Retry-After`s of the 429s on that object's own requests, the
///   largest over the stage's objects (the two sides of a region pair run at once, so their waits overlap and are
///   not added), plus the 429s on the stage's operation-status polls (time-attributed to the stage).
/// - `enable`: the largest total `Retry-After` one VM's requests met before its enable request was accepted
///   (its source VM read and the enable PUT, one after the other): that VM's job cannot start earlier.
///
/// Waits on item reads after the enable, on job-list reads and on objects off the chain (cache account, DR
/// network, which are ready long before they are needed) are not counted. All of it per subscription (see
/// [`Unavoidable::from_log`]).
struct Unavoidable {
    provider: f64,
    chain: f64,
    stages: Vec<String>,
    enable: f64,
}

impl Unavoidable {
    fn total(&self) -> f64 {
        self.provider + self.chain + self.enable
    }

    /// Each subscription's chain runs beside the others' on its own buckets and provider quota, so its waits are
    /// counted on their own and the bound takes the subscription whose waits delay its enables most.
    fn from_log(log: &[LogEntry]) -> Self {
        let mut by_sub: std::collections::BTreeMap<String, Vec<LogEntry>> = Default::default();
        for e in log {
            by_sub
                .entry(apply_scale::subscription_of(&e.path).unwrap_or_default())
                .or_default()
                .push(e.clone());
        }
        by_sub
            .values()
            .map(|entries| Self::of_subscription(entries))
            .max_by(|a, b| a.total().total_cmp(&b.total()))
            .unwrap_or(Unavoidable {
                provider: 0.0,
                chain: 0.0,
                stages: Vec::new(),
                enable: 0.0,
            })
    }

    fn of_subscription(log: &[LogEntry]) -> Self {
        use std::collections::BTreeMap;
        const STAGES: [(&str, &str); 6] = [
            ("vault", "Vaults_"),
            ("policy", "ReplicationPolicies_"),
            ("fabrics", "ReplicationFabrics_"),
            ("containers", "ReplicationProtectionContainers_"),
            ("mappings", "ReplicationProtectionContainerMappings_"),
            ("network mappings", "ReplicationNetworkMappings_"),
        ];
        let wait = |e: &LogEntry| e.retry_after.unwrap_or(0) as f64;
        let is_rp =
            |e: &LogEntry| e.status == 429 && e.retry_after == Some(measure::RP_RETRY_AFTER);
        let provider = log.iter().filter(|e| is_rp(e)).map(wait).sum();
        let mut stages = Vec::new();
        let mut by_stage: BTreeMap<&str, f64> = BTreeMap::new();
        for (name, prefix) in STAGES {
            let own: Vec<&LogEntry> = log
                .iter()
                .filter(|e| e.operation.starts_with(prefix))
                .collect();
            let (Some(first), Some(last)) = (own.first(), own.last()) else {
                continue;
            };
            let mut per_object: BTreeMap<String, f64> = BTreeMap::new();
            for e in own.iter().filter(|e| e.status == 429 && !is_rp(e)) {
                *per_object.entry(e.path.to_ascii_lowercase()).or_default() += wait(e);
            }
            let polls: f64 = log
                .iter()
                .filter(|e| {
                    e.status == 429 && !is_rp(e) && e.time >= first.time && e.time <= last.time
                })
                .filter(|e| {
                    apply_scale::is_polling(e)
                        && !e.operation.starts_with("ReplicationJobs_")
                        && e.path
                            .to_ascii_lowercase()
                            .contains("/microsoft.recoveryservices/")
                })
                .map(wait)
                .sum();
            let stage = per_object.values().copied().fold(0.0, f64::max) + polls;
            stages.push(format!("{name} {stage:.0}"));
            by_stage.insert(name, stage);
        }
        // The stages overlap where ASR allows it (the apply's order): the policy beside the fabrics and
        // containers, the network mappings beside the containers and mappings. Only the longest path of waits
        // delays the enables.
        let s = |n: &str| by_stage.get(n).copied().unwrap_or(0.0);
        let chain = s("vault")
            + [
                s("fabrics") + s("containers") + s("mappings"),
                s("policy") + s("mappings"),
                s("fabrics") + s("network mappings"),
            ]
            .into_iter()
            .fold(0.0, f64::max);
        // One VM's waits before its enable was accepted, keyed by the VM's name (the item is named after it).
        let mut per_vm: BTreeMap<String, f64> = BTreeMap::new();
        for e in log.iter().filter(|e| e.status == 429 && !is_rp(e)) {
            if matches!(
                e.operation.as_str(),
                "VirtualMachines_Get" | "ReplicationProtectedItems_Create"
            ) {
                let name = e.path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
                *per_vm.entry(name).or_default() += wait(e);
            }
        }
        Unavoidable {
            provider,
            chain,
            stages,
            enable: per_vm.values().copied().fold(0.0, f64::max),
        }
    }
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

    let seen = apply_scale::Finishes::new(&cloud.sim);
    let (report_a, run) = measured(&cloud.sim, cloud.apply_with(&plan, false, seen.clone())).await;
    assert!(report_a.success(), "{:#?}", report_a.failed);
    run.print("asrform apply");
    let (bound, _) = report("", &cloud, &run);
    print_lags(&seen);
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
        let seen_f = apply_scale::Finishes::new(&cloud_f.sim);
        let (report_f, faulted) = measured(
            &cloud_f.sim,
            cloud_f.apply_with(&plan_f, false, seen_f.clone()),
        )
        .await;
        cloud_f.sim.set_faults(Default::default());
        faulted.print("apply, G4 429s");
        if !report_f.success() {
            println!("  {:<22} FAILED: {:#?}", "", report_f.failed);
        }
        let (fb, _) = report("", &cloud_f, &faulted);
        print_lags(&seen_f);
        let log = entries(&cloud_f, &faulted);
        let successful = faulted.requests - faulted.throttled;
        let rp_blocks: Vec<&LogEntry> = log
            .iter()
            .filter(|e| e.status == 429 && e.retry_after == Some(measure::RP_RETRY_AFTER))
            .collect();
        let u = Unavoidable::from_log(&log);
        let allowed = (fb.lb + u.total()) * 1.10;
        // Against the ordered bound, the enable requests' own waits overlap the write bucket's pacing of the
        // enables (a waiting item hands its token to the next): only what exceeds the pacing adds.
        let pacing = fb.ordered - fb.d_chain - fb.d_enable;
        let ordered_allowed =
            (fb.ordered + u.provider + u.chain + (u.enable - pacing).max(0.0)) * 1.10;
        println!(
            "  {:<22} 429s {} (provider-quota {}); early re-sends {}; extra non-429 requests {} ({:.1}% of {})",
            "",
            faulted.throttled,
            rp_blocks.len(),
            early_resends(&cloud_f.sim, faulted.seq0),
            successful.saturating_sub(run.requests),
            100.0 * successful.saturating_sub(run.requests) as f64 / run.requests.max(1) as f64,
            run.requests,
        );
        println!(
            "  {:<22} unavoidable Retry-After on the critical path {:.0} s = provider block {:.0} s + chain {:.0} s (longest path over the overlapped stages [{}]) + slowest enable {:.0} s",
            "",
            u.total(),
            u.provider,
            u.chain,
            u.stages.join(", "),
            u.enable
        );
        println!(
            "  {:<22} makespan {:.0} s vs (LB {:.0} + {:.0}) × 1.10 = {allowed:.0} s ({}); vs (ordered {:.0} + provider + chain + enable waits beyond pacing) × 1.10 = {ordered_allowed:.0} s ({})",
            "",
            faulted.sim_wall.as_secs_f64(),
            fb.lb,
            u.total(),
            if faulted.sim_wall.as_secs_f64() <= allowed {
                "met"
            } else {
                "MISSED"
            },
            fb.ordered,
            if faulted.sim_wall.as_secs_f64() <= ordered_allowed {
                "met"
            } else {
                "MISSED"
            },
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
