//! Load + graph time for generated fleets of 1,000 and 10,000 protected VMs, and their ratio (a linear loader gives
//! about 10). Run with `cargo bench --bench load_graph` (release). Target: well under 1 s at 10,000, ratio ≤ 12.
//!
//! Three configuration shapes (`LOAD_SHAPES=inventory,fleet,grouped`; `LOAD_SIZES=1000,10000`): `inventory` (a CSV-driven `for_each` with one
//! recovery plan), `fleet` (the `examples/fleet` idiom: one recovery plan per 100 VMs whose groups filter every VM by
//! `local.vms[name]`, so plans × VMs work by construction) and `fleet-grouped` (the same plans built from a local
//! grouped once with `...`, linear).
//!
//! A plain `main` (`harness = false`): it prints its measurements and exits non-zero when a load fails.

#[path = "support/measure.rs"]
mod measure;

use std::time::{Duration, Instant};

use asrform::config::{self, LoadOptions};
use asrform::graph;

/// The CSV-driven fleet shared with the scale test (`asrform::config::synthetic`).
fn fleet(n: usize) -> Vec<(String, String)> {
    config::synthetic::inventory_fleet(n)
}

/// The `examples/fleet` shape scaled to `n` VMs: a CSV inventory, recovery plans of 100 VMs (ASR's maximum) in two
/// tiers, and plan groups written as a `for` over every protected VM filtered by `local.vms[name]` (the idiom the
/// example teaches). Each plan scans the whole fleet, so the work grows with plans × VMs whatever the loader does;
/// what the loader must not add is a copy of `local.vms` per element.
fn fleet_example(n: usize, grouped: bool) -> Vec<(String, String)> {
    // 2,500 VMs (one disk each) per subscription keeps every subscription under ASR's 3,000 protected disks.
    let mut csv = String::from("name,sub,tier,plan,consistency_group,size,dr_ip,disk_type\n");
    for i in 0..n {
        let tier = if i % 4 == 0 { "db" } else { "app" };
        // Each tier's addresses come from its own target subnet.
        let base = if tier == "db" {
            [10, 64, 0, 10]
        } else {
            [10, 96, 0, 10]
        };
        let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::from(base)) + i as u32);
        csv.push_str(&format!(
            "vm{i:05},00000000-0000-0000-0000-{:012},{tier},unit{:03},cg-{tier}-{},Standard_D2s_v5,{ip},Premium_LRS\n",
            i / 2500 + 1,
            i / 100,
            i / 10
        ));
    }
    let groups = if grouped {
        r#"
  group { vms = [for name in lookup(local.by_plan, "${each.key}/db", []) : protected_vm.fleet[name]] }
  group { vms = [for name in lookup(local.by_plan, "${each.key}/app", []) : protected_vm.fleet[name]] }"#
    } else {
        r#"
  group { vms = [for name, vm in protected_vm.fleet : vm if local.vms[name].plan == each.key && local.vms[name].tier == "db"] }
  group { vms = [for name, vm in protected_vm.fleet : vm if local.vms[name].plan == each.key && local.vms[name].tier == "app"] }"#
    };
    let hcl = format!(
        r#"
provider "azure" {{ subscription_id = "00000000-0000-0000-0000-000000000001" }}

locals {{
  inventory = csvdecode(file("inventory.csv"))
  vms       = {{ for row in local.inventory : row.name => row }}
  plans     = toset([for row in local.inventory : row.plan])
  subs      = toset([for row in local.inventory : row.sub])
  by_plan   = {{ for row in local.inventory : "${{row.plan}}/${{row.tier}}" => row.name... }}
}}

resource_group "dr" {{
  for_each        = local.subs
  name            = "rg-fleet-dr"
  location        = "westus2"
  subscription_id = each.key
}}

vault "dr" {{
  name           = "rsv-fleet-dr"
  resource_group = "rg-fleet-dr"
  location       = "westus2"
}}

replication_policy "standard" {{ vault = vault.dr }}

region_pair "primary" {{
  vault  = vault.dr
  source = "eastus"
  target = "westus2"
  policy = replication_policy.standard
}}

virtual_network "dr" {{
  name           = "vnet-fleet-dr"
  resource_group = "rg-fleet-dr"
  location       = "westus2"
  address_space  = ["10.64.0.0/10"]
  subnet "db" {{ address_prefix = "10.64.0.0/11" }}
  subnet "app" {{ address_prefix = "10.96.0.0/11" }}
}}

storage_account "cache" {{
  for_each        = local.subs
  name            = "stcache${{substr(each.key, 32, 4)}}"
  resource_group  = "rg-fleet"
  location        = "eastus"
  subscription_id = each.key
}}

protected_vm "fleet" {{
  for_each              = local.vms
  source_vm             = "/subscriptions/${{each.value.sub}}/resourceGroups/rg-fleet/providers/Microsoft.Compute/virtualMachines/${{each.key}}"
  region_pair           = region_pair.primary
  cache_storage         = storage_account.cache[each.value.sub]
  target_resource_group = resource_group.dr[each.value.sub]
  target_network        = virtual_network.dr
  target_subnet         = each.value.tier
  target_vm_size        = each.value.size
  consistency_group     = each.value.consistency_group
  disk "*" {{ target_disk_type = each.value.disk_type }}
  nic "nic0" {{ target_static_ip = each.value.dr_ip }}
}}

recovery_plan "unit" {{
  for_each    = local.plans
  vault       = vault.dr
  region_pair = region_pair.primary
  name        = "rp-${{each.key}}"{groups}
}}
"#
    );
    vec![("main.asr.hcl".into(), hcl), ("inventory.csv".into(), csv)]
}

/// CPU time this thread has run ([`measure::thread_cpu`]), so a loaded machine (the build hosts are shared) does not
/// count time spent waiting for a core; `None` where the clock is unavailable.
fn cpu_time() -> Option<Duration> {
    Some(measure::thread_cpu()).filter(|d| !d.is_zero())
}

/// Best of `runs` CPU times (wall-clock times where CPU time is unavailable) of load + graph for `n` VMs.
fn measure(sources: Vec<(String, String)>, n: usize, runs: usize) -> (Duration, Duration) {
    let mut best_load = Duration::MAX;
    let mut best_total = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let cpu_start = cpu_time();
        let loaded = match config::load_sources(sources.clone(), &LoadOptions::default()) {
            Ok(l) => l,
            Err(d) => {
                eprintln!("load of {n} VMs failed: {d}");
                for x in d.iter().take(3) {
                    eprintln!("  {}: {}", x.code, x.message);
                }
                std::process::exit(1);
            }
        };
        let loaded_at = match (cpu_start, cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => start.elapsed(),
        };
        let g = graph::build(&loaded.config).unwrap_or_else(|d| {
            eprintln!("graph of {n} VMs failed: {d}");
            std::process::exit(1);
        });
        assert_eq!(loaded.config.protected_vms().count(), n);
        assert!(g.len() > n);
        best_load = best_load.min(loaded_at);
        let total = match (cpu_start, cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => start.elapsed(),
        };
        best_total = best_total.min(total);
    }
    (best_load, best_total)
}

fn report(name: &str, make: impl Fn(usize) -> Vec<(String, String)>, sizes: &[usize]) {
    let mut first: Option<Duration> = None;
    for &n in sizes {
        let runs = std::env::var("LOAD_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(if n >= 10_000 { 3 } else { 5 });
        let (load, total) = measure(make(n), n, runs);
        let ratio = first.map_or(String::new(), |f| {
            format!(
                " ratio to {}: {:.2}",
                sizes[0],
                total.as_secs_f64() / f.as_secs_f64()
            )
        });
        first.get_or_insert(total);
        println!(
            "{name:<14} {n:>6} VMs: load+graph {:>9.1} ms (load {:>9.1} ms){ratio}; peak memory so far {:.0} MB",
            total.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
            measure::peak_mb()
        );
    }
}

fn main() {
    // `LOAD_SHAPES` picks shapes (comma-separated: inventory, fleet, grouped); default all.
    let shapes = std::env::var("LOAD_SHAPES").unwrap_or_else(|_| "inventory,fleet,grouped".into());
    println!(
        "{}",
        if cpu_time().is_some() {
            "CPU time of the loading thread (best of runs):"
        } else {
            "wall-clock time (best of runs):"
        }
    );
    // `LOAD_SIZES` overrides the sizes (comma-separated VM counts; default 1000,10000).
    let sizes: Vec<usize> = std::env::var("LOAD_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for shape in shapes.split(',') {
        match shape.trim() {
            "inventory" => report("inventory", fleet, &sizes),
            "fleet" => report("fleet", |n| fleet_example(n, false), &sizes),
            "grouped" => report("fleet-grouped", |n| fleet_example(n, true), &sizes),
            other => eprintln!("unknown shape {other}"),
        }
    }
}
