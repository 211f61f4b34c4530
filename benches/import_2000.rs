//! Benchmark: import a 2,000-VM vault from the in-process simulator and print the wall time, the requests sent
//! (all reads) and the size of what was generated. Run with `cargo bench --bench import_2000` (optionally
//! `-- <vms>`). The vault is built first with raw ARM client calls (not timed).

#[path = "../tests/it/common.rs"]
mod common;
#[path = "../tests/it/import_env.rs"]
mod import_env;

use std::sync::Arc;
use std::time::Instant;

use asrform::clock::ScaledClock;
use asrform::estate::{self, GenerateOptions};
use asrform::import::{self, ImportOptions};
use asrform::sim::{SimConfig, Simulator};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn main() {
    let vms: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let e = estate::generate(&GenerateOptions {
            vms,
            subscriptions: 1,
            region: "eastus".into(),
            seed: 11,
        });
        assert_eq!(e.subscriptions[0].id, import_env::SUB);
        let rg = &e.subscriptions[0].resource_groups[0];
        let source_rg = leak(rg.name.clone());
        let source_vnet = leak(rg.networks[0].name.clone());
        let clock = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(&e, clock, SimConfig::default());
        let client = asrform::cli::session::sim_client(&sim);
        // 120 plans of at most 100 VMs in two boot groups; consistency groups of 10.
        let names: Vec<String> = rg.vms.iter().map(|v| v.name.clone()).collect();
        let spec = import_env::VaultSpec {
            rg: "rg-dr",
            vault: "rsv-big",
            pair: "primary",
            cache_rg: source_rg,
            cache: "stcachebig",
            source_vnet,
            target_vnet: "vnet-dr",
            target_prefix: "10.40.0.0/16",
            subnet: "app",
            vms: names
                .iter()
                .enumerate()
                .map(|(i, n)| import_env::VmSpec {
                    name: n.clone(),
                    source_rg,
                    size: Some("Standard_D2s_v5".into()),
                    group: Some(format!("cg-{}", i / 10)),
                    disk_type: "Premium_LRS".into(),
                })
                .collect(),
            plans: names
                .chunks(100)
                .enumerate()
                .map(|(i, c)| {
                    let (a, b) = c.split_at(c.len() / 2);
                    (format!("rp-{i:03}"), vec![a.to_vec(), b.to_vec()])
                })
                .collect(),
        };
        let setup = Instant::now();
        let vault = import_env::build(&client, &sim, &spec).await;
        sim.advance(std::time::Duration::from_secs(24 * 3600));
        println!("setup: {vms} VMs protected in {:.2?} wall", setup.elapsed());

        let log_before = sim.request_log().len();
        let wall = Instant::now();
        let snap = import::io::read(&client, &import_env::id(&vault))
            .await
            .expect("read");
        let read = wall.elapsed();
        let mut opts = ImportOptions::new(
            import_env::id(&vault),
            "provider \"simulator\" {\n  estate = \"estate.json\"\n}",
        );
        opts.default_subscription = Some(import_env::SUB.into());
        let generated = import::generate(&snap, &opts).expect("generate");
        let total = wall.elapsed();
        let log = sim.request_log();
        let requests = &log[log_before..];
        let writes = requests.iter().filter(|r| r.method != "GET").count();
        assert_eq!(writes, 0, "import must only read");
        let bytes: usize = generated.files.values().map(String::len).sum();
        println!(
            "import_2000 vms={vms} protected_items={} wall={total:.2?} (read {read:.2?}, generate {:.2?}) requests={} writes={writes} files={} bytes={bytes} warnings={}",
            snap.protected_items.len(),
            total - read,
            requests.len(),
            generated.files.len(),
            generated.warnings.len()
        );
    });
}
