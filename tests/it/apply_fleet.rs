//! The fleet example (240 VMs, three recovery plans) planned and applied on the simulator: golden first plan, a
//! report that matches the plan, and a no-op re-plan.

use asrform::apply::WaitFor;
use asrform::plan::Action;
use asrform::plan::render::{self, TextOptions};
use insta::assert_snapshot;

use crate::plan_env::{Env, checked_json, masked};

#[tokio::test(start_paused = true)]
async fn the_fleet_applies_with_matching_counts_and_replans_to_no_op() {
    let env = Env::new("fleet");
    let p = env.plan().await;
    assert!(p.summary.add >= 240, "{:?}", p.summary);
    let vms = p
        .effective_changes()
        .filter(|c| c.kind == "protected_vm" && c.action == Action::Create)
        .count();
    assert_eq!(vms, 240);
    // The whole first plan of 240 VMs, in every rendering, is reviewed as a golden file.
    insta::assert_json_snapshot!("fleet_first_json", checked_json(&p));
    let md = render::markdown(&p, "fleet");
    assert!(md.chars().count() <= render::MARKDOWN_LIMIT);
    assert_snapshot!("fleet_first_markdown", masked(&md));
    let text = render::text(&p, TextOptions::default());
    assert_snapshot!("fleet_first_text", masked(&text));
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert_snapshot!("fleet_first_summary", masked(&tail.join("\n")));

    let report = env.apply(&p, WaitFor::Protected).await;
    assert!(report.success(), "{:#?}", report.failed);
    assert_eq!(report.applied.len(), p.effective_changes().count());
    assert_eq!(report.counts.get("create").copied(), Some(p.summary.add));

    let again = env.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        render::text(&again, TextOptions::default())
    );
}
