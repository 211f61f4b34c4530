//! Load + graph time for generated fleets of 1,000 and 10,000 protected VMs, and their ratio (a linear loader gives
//! about 10). Run with `cargo bench --bench load_graph` (release). Target: well under 1 s at 10,000, ratio ≤ 12.
//!
//! A plain `main` (`harness = false`): it prints its measurements and exits non-zero when a load fails.

use std::time::{Duration, Instant};

use asrform::config::{self, LoadOptions};
use asrform::graph;

/// A fleet of `n` VMs spread over four source subscriptions (2,500 disks each at 10,000 VMs, under ASR's 3,000),
/// with a cache account and a target resource group per subscription, consistency groups of 8 and one recovery plan
/// of the first 50 VMs.
fn fleet(n: usize) -> Vec<(String, String)> {
    let sub = |i: usize| format!("00000000-0000-0000-0000-{:012}", i % 4 + 1);
    let mut csv = String::from("name,sub,id,size,group,ip,plan\n");
    for i in 0..n {
        let name = format!("vm{i:05}");
        let s = sub(i);
        let ip =
            std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 10)) + i as u32);
        let plan = if i < 50 { "first" } else { "" };
        csv.push_str(&format!(
            "{name},{s},/subscriptions/{s}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name},Standard_D2s_v5,g{},{ip},{plan}\n",
            i / 8
        ));
    }
    let hcl = r#"
provider "azure" { subscription_id = "00000000-0000-0000-0000-000000000001" }

locals {
  rows  = csvdecode(file("inventory.csv"))
  fleet = { for row in local.rows : row.name => row }
  subs  = toset([for row in local.rows : row.sub])
}

resource_group "dr" {
  for_each        = local.subs
  name            = "rg-dr"
  location        = "westus2"
  subscription_id = each.key
}

vault "dr" {
  name           = "rsv-dr"
  resource_group = "rg-dr"
  location       = "westus2"
}

replication_policy "standard" { vault = vault.dr }

region_pair "primary" {
  vault  = vault.dr
  source = "eastus"
  target = "westus2"
  policy = replication_policy.standard
}

virtual_network "dr" {
  name           = "vnet-dr"
  resource_group = "rg-dr"
  location       = "westus2"
  address_space  = ["10.0.0.0/8"]
  subnet "app" { address_prefix = "10.0.0.0/9" }
}

storage_account "cache" {
  for_each        = local.subs
  name            = "stcache${substr(each.key, 32, 4)}"
  resource_group  = "rg-app"
  location        = "eastus"
  subscription_id = each.key
}

protected_vm "vm" {
  for_each              = local.fleet
  source_vm             = each.value.id
  region_pair           = region_pair.primary
  cache_storage         = storage_account.cache[each.value.sub]
  target_resource_group = resource_group.dr[each.value.sub]
  target_network        = virtual_network.dr
  target_subnet         = "app"
  target_vm_size        = each.value.size
  consistency_group     = each.value.group
  disk "*" { target_disk_type = "Premium_LRS" }
  nic "nic0" { target_static_ip = each.value.ip }
}

recovery_plan "first" {
  vault       = vault.dr
  region_pair = region_pair.primary
  group { vms = [for name, row in local.fleet : protected_vm.vm[name] if row.plan == "first"] }
}
"#;
    vec![
        ("main.asr.hcl".into(), hcl.into()),
        ("inventory.csv".into(), csv),
    ]
}

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`), so a loaded machine (the build hosts are
/// shared) does not count time spent waiting for a core; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Best of `runs` CPU times (wall-clock times where CPU time is unavailable) of load + graph for `n` VMs.
fn measure(n: usize, runs: usize) -> (Duration, Duration) {
    let sources = fleet(n);
    let mut best_load = Duration::MAX;
    let mut best_total = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let cpu_start = cpu_time();
        let loaded = match config::load_sources(sources.clone(), &LoadOptions::default()) {
            Ok(l) => l,
            Err(d) => {
                eprintln!("load of {n} VMs failed: {d}");
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

fn main() {
    let (load_1k, total_1k) = measure(1_000, 5);
    let (load_10k, total_10k) = measure(10_000, 3);
    println!(
        "{}",
        if cpu_time().is_some() {
            "CPU time (best of runs):"
        } else {
            "wall-clock time (best of runs):"
        }
    );
    println!(
        "load+graph   1,000 VMs: {:>8.1} ms (load {:.1} ms)",
        total_1k.as_secs_f64() * 1e3,
        load_1k.as_secs_f64() * 1e3
    );
    println!(
        "load+graph  10,000 VMs: {:>8.1} ms (load {:.1} ms)",
        total_10k.as_secs_f64() * 1e3,
        load_10k.as_secs_f64() * 1e3
    );
    println!(
        "ratio 10k/1k: {:.2}",
        total_10k.as_secs_f64() / total_1k.as_secs_f64()
    );
}
