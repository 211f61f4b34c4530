//! The local CPU budget of a plan (limits.md §6 G1): load + graph + diff + render (text, JSON, Markdown) of a
//! 10,000-VM configuration, single-threaded, against 1,000 VMs in the same process (time(10k)/time(1k) ≤ 12), with
//! the peak memory; plus the live read of the same plan against the in-process simulator (wall time, requests).
//!
//! The configuration is `config::synthetic::inventory_fleet` (a CSV-driven `for_each`, as users write fleets), loaded
//! from source text. It is a first plan: the simulator holds the estate's resource groups and no vault, so every
//! resource is a create and the renderers print all of them (the largest output a plan of this size has).
//!
//! Run: `cargo bench --bench plan_10k` (release). `PLAN_VMS` overrides the sizes (comma-separated, default
//! `1000,10000`; the first is the ratio's base), `PLAN_RUNS` the runs per size (best CPU time is kept, default 3).
//! Plain `main`, no harness; prints numbers for BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::ScaledClock;
use asrform::config::{self, LoadOptions};
use asrform::estate::{self, GenerateOptions};
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{PlanOptions, diff, saved};
use asrform::provider::Snapshot;
use asrform::sim::{SimConfig, Simulator};

/// CPU time of this thread so far. On Linux `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, which is exact: the
/// `schedstat` counter used before advances only at scheduler ticks (4 ms here), so the 1,000-VM base of the ratio
/// (≈ 35 ms in four phases) carried up to ±15% of quantisation. Zero elsewhere.
fn thread_cpu() -> Duration {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        unsafe extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec (64-bit `time_t` and `long` on the 64-bit Linux targets this
        // bench runs on); the call writes only into it.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

/// Minor page faults of the process so far (`/proc/self/stat` field 10): first touches of memory the allocator got
/// from (or gave back to) the kernel. They are what grows faster than the VM count (see BENCHMARKS.md).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Peak resident memory of the process so far (`VmHWM`), in MB.
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

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
    let f0 = minor_faults();
    let t0 = thread_cpu();
    let loaded =
        config::load_sources(sources.to_vec(), &LoadOptions::default()).unwrap_or_else(|d| {
            eprintln!("the configuration does not load: {d:?}");
            std::process::exit(1);
        });
    let t1 = thread_cpu();
    let graph = asrform::graph::build(&loaded.config).expect("graph");
    let t2 = thread_cpu();
    let plan = diff(&loaded.config, &graph, snap, None, &PlanOptions::default()).expect("plan");
    let t3 = thread_cpu();
    let text = render::text(&plan, TextOptions::default());
    let tj = thread_cpu();
    let json = saved::to_json(&plan);
    let tj2 = thread_cpu();
    let md = render::markdown(&plan, "bench");
    let t4 = thread_cpu();
    let changes = plan.effective_changes().count();
    (
        Phases {
            load: t1 - t0,
            graph: t2 - t1,
            diff: t3 - t2,
            render: t4 - t3,
            json: tj2 - tj,
            faults: minor_faults() - f0,
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
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let mut base: Option<(usize, Duration)> = None;
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

        let mut all: Vec<Phases> = Vec::with_capacity(runs);
        let mut sizes_out = [0; 3];
        let mut changes = 0;
        for _ in 0..runs {
            let (p, s, c) = pure_run(&sources, &snap);
            sizes_out = s;
            changes = c;
            all.push(p);
        }
        all.sort_by_key(Phases::total);
        let p = *all.first().expect("at least one run");
        // The machine is shared: the median says how far the best run is from a typical one.
        let median = all[all.len() / 2].total();
        let ratio = base.map_or(String::new(), |(bn, bt)| {
            format!(
                "; ratio to {bn}: {:.2}",
                p.total().as_secs_f64() / bt.as_secs_f64()
            )
        });
        base.get_or_insert((n, p.total()));
        println!("plan_10k: {n} protected VMs (inventory fleet), {changes} changes (first plan)");
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
            "  output sizes: text {} B, JSON {} B, Markdown {} chars; peak memory so far {:.0} MB",
            sizes_out[0],
            sizes_out[1],
            sizes_out[2],
            peak_mb()
        );
        println!("  live read: host wall {read_wall:?}, requests {counts:?}");
    }
}
