//! Benchmark: import a 2,000-VM vault from the in-process simulator and print the wall time, the requests sent
//! (all reads) and the size of what was generated. Run with `cargo bench --bench import_2000` (optionally
//! `-- <vms>`). The vault is built first by the shared bench setup (`benches/support/vaults.rs`, not timed).

#[path = "support/vaults.rs"]
#[allow(dead_code)]
mod vaults;

use std::time::Instant;

use asrform::import::{self, ImportOptions};
use asrform::provider::ArmId;

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
        // One subscription and one vault: an import reads one vault.
        let setup = Instant::now();
        let fleet = vaults::build(&vaults::FleetSpec {
            vms,
            subscriptions: 1,
            seed: 11,
            vault: "rsv-big",
            cache: "stcachebig",
        })
        .await;
        let (sim, client) = (&fleet.sim, &fleet.client);
        let vault = ArmId::parse(&fleet.vaults[0].id).expect("vault id");
        // The import reads under ARM's throttling, as it did when the vault was built through the client.
        sim.world().config.throttling = true;
        println!("setup: {vms} VMs protected in {:.2?} wall", setup.elapsed());

        let log_before = sim.request_log().len();
        let wall = Instant::now();
        let snap = import::io::read(client, &vault)
            .await
            .expect("read");
        let read = wall.elapsed();
        let mut opts = ImportOptions::new(
            vault.clone(),
            "provider \"simulator\" {\n  estate = \"estate.json\"\n}",
        );
        opts.default_subscription = Some(fleet.vaults[0].subscription.clone());
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
