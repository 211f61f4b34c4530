//! Benchmark: planned failover of a 100-VM recovery plan (three boot groups) on the in-process simulator, and the
//! orchestration overhead beyond the simulated ASR job durations (limits.md §6 G3: target < 30 s of simulated
//! time). Run with `cargo bench --bench dr_failover_100` (optionally `-- <vms>`). Setup is not timed.

#[path = "../tests/it/dr_env.rs"]
mod dr_env;

use std::time::Instant;

use asrform::dr::{self, NoHooks};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn main() {
    let vms: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let setup = Instant::now();
        let env = dr_env::DrEnv::generated(vms, 7, 3).await;
        env.sleep(3600).await;
        println!("setup: {vms} VMs protected in {:.2?} wall", setup.elapsed());
        let step = env.planned_failover();
        let mark = env.log_mark();
        let before = env.client.counts();
        let wall = Instant::now();
        let out = dr::execute(&env.client, &step, &NoHooks)
            .await
            .expect("failover");
        let wall = wall.elapsed();
        let failed = out.failed().count();
        let makespan = (out.ended - out.started).whole_seconds();
        // The floor: groups run one after another, each as long as its slowest ASR job (from the jobs' own times).
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        };
        let mut floor = 0i64;
        for g in &out.groups {
            let mut longest = 0i64;
            for v in out.vms.iter().filter(|v| v.group == g.name) {
                for j in &v.jobs {
                    if let Ok(Some(job)) = env.client.job(j).await
                        && let (Some(a), Some(b)) = (
                            parse(&job.properties.start_time),
                            parse(&job.properties.end_time),
                        ) {
                            longest = longest.max((b - a).whole_seconds());
                        }
                }
            }
            floor += longest;
        }
        let c = env.client.counts();
        // Status reads: job lists and gets and operation polls the step sent (G3: at most one a second overall).
        let status = env
            .requests_since(mark)
            .iter()
            .filter(|e| e.method == "GET")
            .filter(|e| ["Job", "Operation", "Status"].iter().any(|k| e.operation.contains(k)))
            .count();
        println!(
            "dr_failover vms={vms} groups={} failed={failed} makespan={makespan}s asr_job_floor={floor}s overhead={}s (target < 30s) requests={} status_reads={status} ({:.2}/s, target <= 1/s) wall={wall:.2?}",
            out.groups.len(),
            makespan - floor,
            c.total - before.total,
            status as f64 / makespan.max(1) as f64,
        );
    });
}
