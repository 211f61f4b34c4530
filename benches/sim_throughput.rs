//! Simulator throughput: generates a 10,000-VM estate, enables protection for every VM, lists all protected items
//! through the vault-scope endpoint, and prints requests per second served in-process and over loopback.
//! Plain `main` (harness = false): `cargo bench --bench sim_throughput [-- VMS]`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::ScaledClock;
use asrform::estate::{self, GenerateOptions};
use asrform::sim::{SimConfig, SimRequest, Simulator};
use serde_json::{Value, json};
use time::macros::datetime;

const BASE: &str = "https://management.azure.com";
const SUB: &str = "00000000-0000-0000-0000-000000000001";

async fn call(sim: &Simulator, method: &str, path: &str, api: &str, body: Option<Value>) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{BASE}{path}{sep}api-version={api}")
    };
    let r = sim.handle(SimRequest::new(method, &url, body)).await;
    assert!(
        r.status < 300,
        "{method} {path}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

#[tokio::main]
async fn main() {
    let vms: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let e = estate::generate(&GenerateOptions {
        vms,
        subscriptions: vms.div_ceil(1000),
        region: "eastus".into(),
        seed: 42,
    });
    let clock = Arc::new(ScaledClock::new(datetime!(2026-01-01 00:00 UTC), 1e-9));
    let sim = Simulator::from_estate(
        &e,
        clock,
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    );
    let vault = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-vault/providers/Microsoft.RecoveryServices/vaults/v"
    );
    let rg = |s: &str, n: &str| format!("/subscriptions/{s}/resourceGroups/{n}");
    let t = Instant::now();
    call(
        &sim,
        "PUT",
        &rg(SUB, "rg-vault"),
        "2025-04-01",
        Some(json!({"location": "westus"})),
    )
    .await;
    call(
        &sim,
        "PUT",
        &rg(SUB, "rg-dr"),
        "2025-04-01",
        Some(json!({"location": "westus"})),
    )
    .await;
    call(
        &sim,
        "PUT",
        &vault,
        "2025-08-01",
        Some(json!({"location": "westus", "sku": {"name": "Standard"}})),
    )
    .await;
    call(&sim, "PUT", &format!("{vault}/replicationPolicies/p"), "2025-08-01", Some(json!({"properties": {"providerSpecificInput": {
        "instanceType": "A2A", "recoveryPointHistory": 1440, "appConsistentFrequencyInMinutes": 0, "multiVmSyncStatus": "Disable"}}}))).await;
    for (f, loc) in [("s", "eastus"), ("t", "westus")] {
        call(&sim, "PUT", &format!("{vault}/replicationFabrics/{f}"), "2025-08-01", Some(json!({"properties": {"customDetails": {"instanceType": "Azure", "location": loc}}}))).await;
    }
    sim.advance(Duration::from_secs(60));
    for f in ["s", "t"] {
        call(
            &sim,
            "PUT",
            &format!("{vault}/replicationFabrics/{f}/replicationProtectionContainers/{f}c"),
            "2025-08-01",
            Some(json!({"properties": {}})),
        )
        .await;
    }
    sim.advance(Duration::from_secs(60));
    let sc = format!("{vault}/replicationFabrics/s/replicationProtectionContainers/sc");
    let tc = format!("{vault}/replicationFabrics/t/replicationProtectionContainers/tc");
    call(&sim, "PUT", &format!("{sc}/replicationProtectionContainerMappings/m"), "2025-08-01", Some(json!({"properties": {
        "targetProtectionContainerId": tc, "policyId": format!("{vault}/replicationPolicies/p"), "providerSpecificInput": {"instanceType": "A2A"}}}))).await;
    // One cache account per 300 VMs per subscription, in the source region.
    let mut caches = std::collections::BTreeMap::new();
    for (i, (s, g, v)) in e.vms().enumerate() {
        let name = format!("cache{:04}", i / 300);
        let id = format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{name}",
            rg(&s.id, &g.name)
        );
        if !caches.contains_key(&id) {
            call(&sim, "PUT", &id, "2026-09-01", Some(json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
            caches.insert(id.clone(), ());
        }
        let _ = v;
    }
    sim.advance(Duration::from_secs(60));
    println!("setup: {:?}", t.elapsed());
    let t = Instant::now();
    for (i, (s, g, v)) in e.vms().enumerate() {
        let vm_id = estate::ids::vm(&s.id, &g.name, &v.name);
        let cache = format!(
            "{}/providers/Microsoft.Storage/storageAccounts/cache{:04}",
            rg(&s.id, &g.name),
            i / 300
        );
        let disks: Vec<Value> = sim.world().vm_disks(&vm_id).into_iter().map(|(d, _)| json!({"diskId": d,
            "primaryStagingAzureStorageAccountId": cache, "recoveryResourceGroupId": rg(SUB, "rg-dr")})).collect();
        call(&sim, "PUT", &format!("{sc}/replicationProtectedItems/{}", v.name), "2025-08-01", Some(json!({"properties": {
            "policyId": format!("{vault}/replicationPolicies/p"), "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": vm_id,
                "recoveryContainerId": tc, "recoveryResourceGroupId": rg(SUB, "rg-dr"), "vmManagedDisks": disks}}}))).await;
    }
    let el = t.elapsed();
    println!(
        "enable {vms} items in-process: {el:?} ({:.0} req/s)",
        vms as f64 / el.as_secs_f64()
    );
    sim.advance(Duration::from_secs(3 * 86400));
    let t = Instant::now();
    let mut url = format!("{vault}/replicationProtectedItems");
    let (mut n, mut pages) = (0, 0);
    loop {
        let p = call(&sim, "GET", &url, "2025-08-01", None).await;
        n += p["value"].as_array().unwrap().len();
        pages += 1;
        match p["nextLink"].as_str() {
            Some(u) => url = u.to_string(),
            None => break,
        }
    }
    assert_eq!(n, vms);
    let el = t.elapsed();
    println!(
        "vault-scope list of {n} items in {pages} pages in-process: {el:?} ({:.1} pages/s)",
        pages as f64 / el.as_secs_f64()
    );
    // Point reads: in-process and over loopback.
    let vm_path = estate::ids::vm(SUB, "rg-app", "vm00001");
    let reads = 20_000;
    let t = Instant::now();
    for _ in 0..reads {
        call(&sim, "GET", &vm_path, "2026-04-01", None).await;
    }
    let el = t.elapsed();
    println!(
        "in-process GET VM: {reads} requests in {el:?} = {:.0} req/s",
        reads as f64 / el.as_secs_f64()
    );
    let server = asrform::sim::serve(sim.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}{vm_path}?api-version=2026-04-01", server.url());
    let loop_reads = 5_000;
    let t = Instant::now();
    for _ in 0..loop_reads {
        let r = client.get(&url).send().await.unwrap();
        assert!(r.status().is_success());
        let _ = r.bytes().await.unwrap();
    }
    let el = t.elapsed();
    println!(
        "loopback GET VM: {loop_reads} requests in {el:?} = {:.0} req/s",
        loop_reads as f64 / el.as_secs_f64()
    );
    server.stop().await;
}
