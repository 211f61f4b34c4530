//! Simulator at scale: 1,000 generated VMs all enabled, then listed through the vault-scope endpoint page by page
//! (`benches/sim_throughput.rs` does the same with 10,000).

use asrform::sim::SimConfig;
use serde_json::json;

use crate::sim_support::*;

#[tokio::test]
async fn sim_enable_1000_and_list_all_through_next_links() {
    let e = asrform::estate::generate(&asrform::estate::GenerateOptions {
        vms: 1000,
        subscriptions: 1,
        region: "eastus".into(),
        seed: 3,
    });
    // Throttling off: the point here is scale, not ARM's write budget.
    let env = Env::new(
        &e,
        SimConfig {
            throttling: false,
            ..SimConfig::default()
        },
    );
    env.topology().await;
    let names: Vec<String> = e.vms().map(|(_, _, v)| v.name.clone()).collect();
    for n in &names {
        env.ok("PUT", &rpi(n), Some(env.enable_body(n)), &[202])
            .await;
    }
    env.advance(2 * 86400);
    let mut url = format!("{}/replicationProtectedItems", vault());
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = env.get(&url).await;
        pages += 1;
        for i in page["value"].as_array().unwrap() {
            seen.push(i["name"].as_str().unwrap().to_string());
            assert_eq!(
                i["properties"]["providerSpecificDetails"]["vmProtectionState"],
                json!("Protected"),
                "{}",
                i["name"]
            );
        }
        match page["nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 10);
    seen.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(seen, want);
}
