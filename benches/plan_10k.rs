//! The local CPU budget of a plan (limits.md §6 G1): load + graph + diff + render (text, JSON, Markdown) of a
//! 10,000-VM configuration, single-threaded, against 1,000 VMs in the same process (time(10k)/time(1k) ≤ 12), with
//! the peak memory; plus the live read of the same plan against the in-process simulator (wall time, requests).
//!
//! The configuration is `config::synthetic::inventory_fleet` (a CSV-driven `for_each`, as users write fleets), loaded
//! from source text. It is a first plan: the simulator holds the estate's resource groups and no vault, so every
//! resource is a create and the renderers print all of them (the largest output a plan of this size has).
//!
//! Run: `cargo bench --bench plan_10k` (release). `PLAN_VMS` overrides the sizes (comma-separated, default
//! `1000,10000`; the first is the ratio's base), `PLAN_RUNS` the rounds (one run of each size per round, in turn; best
//! CPU time is kept, default 7).
//! Plain `main`, no harness; prints numbers for BENCHMARKS.md.

#[path = "support/measure.rs"]
mod measure;

use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::ScaledClock;
use asrform::config::{self, LoadOptions};
use asrform::estate::{self, GenerateOptions};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{PlanOptions, diff, saved};
use asrform::provider::Snapshot;
use asrform::sim::{SimConfig, Simulator};

/// CPU times of one pure run, by phase.
#[derive(Clone, Copy, Default)]
struct Phases {
    load: Duration,
    graph: Duration,
    diff: Duration,
    render: Duration,
    /// The saved-plan JSON's share of `render` (written only with `--out`; text is what `asrform plan` prints).
    json: Duration,
    /// Minor page faults during the run.
    faults: u64,
}

impl Phases {
    fn total(&self) -> Duration {
        self.load + self.graph + self.diff + self.render
    }
}

/// One pure run: load + graph + diff + the three renderings, CPU time per phase. Returns the output sizes too.
fn pure_run(sources: &[(String, String)], snap: &Snapshot) -> (Phases, [usize; 3], usize) {
    let f0 = measure::minor_faults();
    let t0 = measure::thread_cpu();
    let loaded =
        config::load_sources(sources.to_vec(), &LoadOptions::default()).unwrap_or_else(|d| {
            eprintln!("the configuration does not load: {d:?}");
            std::process::exit(1);
        });
    let t1 = measure::thread_cpu();
    let graph = asrform::graph::build(&loaded.config).expect("graph");
    let t2 = measure::thread_cpu();
    let plan = diff(&loaded.config, &graph, snap, None, &PlanOptions::default()).expect("plan");
    let t3 = measure::thread_cpu();
    let text = render::text(&plan, TextOptions::default());
    let tj = measure::thread_cpu();
    let json = saved::to_json(&plan);
    let tj2 = measure::thread_cpu();
    let md = render::markdown(&plan, "bench");
    let t4 = measure::thread_cpu();
    let changes = plan.effective_changes().count();
    (
        Phases {
            load: t1 - t0,
            graph: t2 - t1,
            diff: t3 - t2,
            render: t4 - t3,
            json: tj2 - tj,
            faults: measure::minor_faults() - f0,
        },
        [text.len(), json.len(), md.chars().count()],
        changes,
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let sizes: Vec<usize> = std::env::var("PLAN_VMS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("PLAN_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    // Every size is prepared first, then the pure runs go round the sizes in turn: on a shared machine the speed
    // drifts over seconds, and measuring all runs of one size before the next put the drift into the ratio.
    struct Size {
        n: usize,
        sources: Vec<(String, String)>,
        snap: Snapshot,
        read_wall: Duration,
        counts: String,
        runs: Vec<Phases>,
        outputs: [usize; 3],
        changes: usize,
    }
    let mut prepared: Vec<Size> = Vec::new();
    for n in sizes {
        let sources = config::synthetic::inventory_fleet(n);
        let loaded = config::load_sources(sources.clone(), &LoadOptions::default()).expect("loads");

        // The live read (not part of the CPU budget): the estate's subscriptions, an empty vault.
        let (snap, read_wall, counts) = rt.block_on(async {
            let e = estate::generate(&GenerateOptions {
                vms: n.min(1000),
                subscriptions: 4,
                region: "eastus".into(),
                seed: 1,
            });
            let clock = Arc::new(ScaledClock::new(
                time::macros::datetime!(2026-03-01 00:00 UTC),
                1.0,
            ));
            let sim = Simulator::from_estate(&e, clock, SimConfig::default());
            let client = asrform::cli::session::sim_client(&sim);
            let wall = Instant::now();
            let req = asrform::plan::snapshot_request(&loaded.config);
            let snap = asrform::provider::arm::snapshot::read(&client, &req)
                .await
                .unwrap();
            (snap, wall.elapsed(), client.counts())
        });
        drop(loaded);
        prepared.push(Size {
            n,
            sources,
            snap,
            read_wall,
            counts: format!("{counts:?}"),
            runs: Vec::with_capacity(runs),
            outputs: [0; 3],
            changes: 0,
        });
    }
    for _ in 0..runs {
        for size in prepared.iter_mut() {
            let (p, s, c) = pure_run(&size.sources, &size.snap);
            size.outputs = s;
            size.changes = c;
            size.runs.push(p);
        }
    }
    let base = &prepared[0];
    for size in &prepared {
        let n = size.n;
        let mut all = size.runs.clone();
        all.sort_by_key(Phases::total);
        let p = *all.first().expect("at least one run");
        // The machine is shared: the median says how far the best run is from a typical one.
        let median = all[all.len() / 2].total();
        let ratio = if size.n == base.n {
            String::new()
        } else {
            let best = |r: &[Phases]| r.iter().map(Phases::total).min().expect("runs");
            // Runs of the same round ran back to back, so their ratio is the least disturbed by drift.
            let mut paired: Vec<f64> = size
                .runs
                .iter()
                .zip(&base.runs)
                .map(|(a, b)| a.total().as_secs_f64() / b.total().as_secs_f64())
                .collect();
            paired.sort_by(f64::total_cmp);
            format!(
                "; ratio to {}: {:.2} (best runs), {:.2} (median of {} back-to-back pairs)",
                base.n,
                best(&size.runs).as_secs_f64() / best(&base.runs).as_secs_f64(),
                paired[paired.len() / 2],
                paired.len()
            )
        };
        println!(
            "plan_10k: {n} protected VMs (inventory fleet), {} changes (first plan)",
            size.changes
        );
        println!(
            "  pure part, CPU of the thread (best of {runs}): {:.1} ms = load {:.1} + graph {:.1} + diff {:.1} + render {:.1} (of which JSON {:.1}){ratio}",
            ms(p.total()),
            ms(p.load),
            ms(p.graph),
            ms(p.diff),
            ms(p.render),
            ms(p.json)
        );
        println!(
            "  median of {runs}: {:.1} ms; minor page faults in the best run: {}",
            ms(median),
            p.faults
        );
        println!(
            "  output sizes: text {} B, JSON {} B, Markdown {} chars",
            size.outputs[0], size.outputs[1], size.outputs[2],
        );
        println!(
            "  live read: host wall {:?}, requests {}",
            size.read_wall, size.counts
        );
    }
    println!("peak memory of the process: {:.0} MB", measure::peak_mb());
}
