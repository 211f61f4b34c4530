//! Measuring one benchmark run against the in-process simulator: simulated time (the paused tokio clock), host
//! wall and process CPU time, peak memory, and the requests the run sent (from the simulator's request log, by
//! operation, with 429s). Shared by the benches (`plan_e2e`, `apply_makespan`, `plan_10k`, `load_graph`) through `#[path]`; it
//! prints only when asked to (`Run::print`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use asrform::sim::Simulator;

/// User + system CPU time of the whole process (`/proc/self/stat`, clock ticks of 10 ms).
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// CPU time of this thread so far. On Linux `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, which is exact: the
/// `schedstat` counter used before advances only at scheduler ticks (4 ms here), so the 1,000-VM base of the ratio
/// (≈ 35 ms in four phases) carried up to ±15% of quantisation. Zero elsewhere.
pub fn thread_cpu() -> Duration {
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
pub fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Peak resident memory so far (`VmHWM`), in MB.
pub fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What one measured run cost.
pub struct Run {
    pub sim_wall: Duration,
    pub host_wall: Duration,
    pub cpu: Duration,
    pub requests: usize,
    pub throttled: usize,
    pub by_op: BTreeMap<String, usize>,
    /// Request-log sequence number before the run (entries after it are the run's).
    pub seq0: u64,
}

impl Run {
    pub fn print(&self, name: &str) {
        println!(
            "  {name:<22} simulated {:>8.2} s | host wall {:>8.1} ms | CPU {:>8.1} ms | requests {:>6} | 429s {:>4}",
            self.sim_wall.as_secs_f64(),
            self.host_wall.as_secs_f64() * 1e3,
            self.cpu.as_secs_f64() * 1e3,
            self.requests,
            self.throttled
        );
        let ops: Vec<String> = self.by_op.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("  {:<22} by type: {}", "", ops.join(", "));
    }
}

/// Runs `f` and measures it from the simulator's request log (requests sent while it ran).
pub async fn measured<F, T>(sim: &Simulator, f: F) -> (T, Run)
where
    F: std::future::Future<Output = T>,
{
    let seq0 = sim.world().log_seq;
    let t_sim = tokio::time::Instant::now();
    let t_host = Instant::now();
    let cpu0 = process_cpu();
    let out = f.await;
    let cpu = process_cpu().saturating_sub(cpu0);
    let host_wall = t_host.elapsed();
    let sim_wall = t_sim.elapsed();
    let log = sim.request_log();
    let mut by_op = BTreeMap::new();
    let mut requests = 0;
    let mut throttled = 0;
    for e in log.iter().filter(|e| e.seq > seq0) {
        requests += 1;
        if e.status == 429 {
            throttled += 1;
        }
        *by_op
            .entry(format!("{} {}", e.method, e.operation))
            .or_insert(0) += 1;
    }
    (
        out,
        Run {
            sim_wall,
            host_wall,
            cpu,
            requests,
            throttled,
            by_op,
            seq0,
        },
    )
}

/// `Retry-After` of the one resource-provider 429 (the observed `Microsoft.Network` quota message of limits.md §1.3).
pub const RP_RETRY_AFTER: u64 = 307;

/// The fault profile of `limits.md` §6 G4: 20% of requests answered 429 with `Retry-After` drawn uniformly from
/// 1–30 s, plus one resource-provider 429 (`ResourceRequestsThrottled`, `Retry-After: 307`) on a Recovery Services
/// request. Seeded, so a run fails the same requests every time.
///
/// A random 20% cannot be ARM's subscription bucket (an empty bucket refuses every request, not one in five), so
/// they carry a code that names one resource (`RetryableErrorDueToAnotherOperation`): the client backs off on
/// that resource only, as it must for per-resource throttling, while the 307 s one blocks the provider's quota.
pub fn g4_faults(seed: u64) -> asrform::sim::FaultSet {
    use asrform::sim::{FaultEffect, FaultRule, FaultSet};
    FaultSet {
        seed,
        rules: vec![
            FaultRule {
                method: None,
                path: Some("Microsoft.RecoveryServices".into()),
                operation: None,
                effect: FaultEffect::Throttle {
                    retry_after: RP_RETRY_AFTER,
                    retry_after_max: None,
                    code: Some("ResourceRequestsThrottled".into()),
                },
                times: Some(1),
                probability: Some(0.05),
                fired: 0,
            },
            FaultRule {
                method: None,
                path: None,
                operation: None,
                effect: FaultEffect::Throttle {
                    retry_after: 1,
                    retry_after_max: Some(30),
                    code: Some("RetryableErrorDueToAnotherOperation".into()),
                },
                times: None,
                probability: Some(0.2),
                fired: 0,
            },
        ],
        draws: 0,
    }
}

/// Requests of a run (log entries after `seq0`) sent before the `Retry-After` of a 429 had passed, for the scope
/// that 429 named: the same path for a per-resource code, every request to the provider in that subscription for
/// `ResourceRequestsThrottled` (should be none). The log holds when the simulator answered, `latency` after the
/// request was sent; a request already on its way when the 429 was answered could not know of it and is not
/// counted.
pub fn early_resends(sim: &Simulator, seq0: u64) -> usize {
    let latency = Duration::from_millis(sim.world().config.latency_ms);
    // Resource Graph pages have their own latency: a query sent before a 429 may arrive 500 ms later.
    let graph_latency = Duration::from_millis(asrform::sim::graph::latency_ms(&sim.world()));
    let log = sim.request_log();
    let mut blocked: BTreeMap<String, (time::OffsetDateTime, time::OffsetDateTime)> =
        BTreeMap::new();
    let mut rp_blocked: Vec<(String, time::OffsetDateTime, time::OffsetDateTime)> = Vec::new();
    let mut early = 0;
    for e in log.iter().filter(|e| e.seq > seq0) {
        let path = e.path.to_ascii_lowercase();
        let sent = e.time
            - if path == asrform::sim::graph::PATH {
                graph_latency
            } else {
                latency
            };
        // A request sent at the very instant a 429 was answered (another task's, on the paused clock) was already
        // on its way; the Resource Graph path is shared by every query, so this tie is common there.
        let hit_path = blocked
            .get(&path)
            .is_some_and(|(at, until)| sent > *at && sent < *until);
        let hit_rp = rp_blocked.iter().any(|(prefix, at, until)| {
            path.starts_with(prefix.as_str())
                && path.contains("/providers/microsoft.recoveryservices/")
                && sent >= *at
                && sent < *until
        });
        if hit_path || hit_rp {
            early += 1;
        }

        if e.status == 429 {
            let until = e.time + Duration::from_secs(e.retry_after.unwrap_or(0));
            if e.retry_after == Some(RP_RETRY_AFTER) {
                // The provider-quota 429: its scope is the subscription's Recovery Services requests.
                let sub: String = path.split('/').take(3).collect::<Vec<_>>().join("/");
                rp_blocked.push((sub, e.time, until));
            } else {
                blocked.insert(path, (e.time, until));
            }
        }
    }
    early
}
