//! Convergence: random configurations and random changes, applied one after another on the simulator, always end
//! in a plan with no changes.

use asrform::apply::WaitFor;
use asrform::plan::render::{self, TextOptions};
use proptest::prelude::*;

use crate::plan_env::Env;

const SIZES: &[&str] = &[
    "Standard_D2s_v5",
    "Standard_D4s_v5",
    "Standard_E4s_v5",
    "Standard_D8s_v5",
];

/// One configuration of the quickstart's VM map: which optional web VMs exist, and each VM's size and target IP.
#[derive(Clone, Debug)]
struct Shape {
    web01: bool,
    web02: bool,
    sizes: [usize; 4],
    ips: [u8; 4],
}

fn shape() -> impl Strategy<Value = Shape> {
    let ips = proptest::sample::subsequence((10u8..250).collect::<Vec<_>>(), 4).prop_shuffle();
    (
        any::<bool>(),
        any::<bool>(),
        proptest::array::uniform4(0..SIZES.len()),
        ips,
    )
        .prop_map(|(web01, web02, sizes, ips)| Shape {
            web01,
            web02,
            sizes,
            ips: [ips[0], ips[1], ips[2], ips[3]],
        })
}

/// The `vms = { … }` local for a shape (db01 and app01 are named by the recovery plan, so they always exist).
fn vms_local(s: &Shape) -> String {
    let mut out = String::from("vms = {\n");
    let rows = [
        ("db01", "db", true),
        ("app01", "app", true),
        ("web01", "web", s.web01),
        ("web02", "web", s.web02),
    ];
    for (i, (name, tier, on)) in rows.into_iter().enumerate() {
        if on {
            out.push_str(&format!(
                "    {name} = {{ tier = \"{tier}\", size = \"{}\", ip = \"10.20.1.{}\" }}\n",
                SIZES[s.sizes[i]], s.ips[i]
            ));
        }
    }
    out.push_str("  }");
    out
}

const ORIGINAL: &str = r#"vms = {
    db01  = { tier = "db", size = "Standard_E4s_v5", ip = "10.20.1.10" }
    app01 = { tier = "app", size = "Standard_D4s_v5", ip = "10.20.1.20" }
    web01 = { tier = "web", size = "Standard_D2s_v5", ip = "10.20.1.30" }
    web02 = { tier = "web", size = "Standard_D2s_v5", ip = "10.20.1.31" }
  }"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn applied_changes_always_converge_to_a_no_op_plan(steps in proptest::collection::vec(shape(), 1..=3)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        rt.block_on(async {
            let mut env = Env::new("quickstart");
            let mut current = ORIGINAL.to_string();
            for s in &steps {
                let next = vms_local(s);
                env.edit(&current, &next);
                current = next;
                let plan = env.plan().await;
                let report = env.apply(&plan, WaitFor::Protected).await;
                assert!(report.success(), "{:#?}", report.failed);
                let again = env.plan().await;
                assert!(!again.has_changes(), "after applying {s:?}:\n{}", render::text(&again, TextOptions::default()));
            }
        });
    }
}
