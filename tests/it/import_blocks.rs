//! `import` blocks during a normal plan/apply: a quickstart estate that exists live but not in state is adopted by
//! address (golden text, JSON and Markdown), apply records it without writing to the cloud, and the next plan is a
//! no-op; an id that names another object is refused with a diagnostic on the block.

use std::sync::Arc;

use asrform::apply::WaitFor;
use asrform::plan::render::{self, TextOptions};
use asrform::plan::{Action, PlanOptions};
use asrform::state::Site;
use asrform::state::memory::MemoryStore;
use insta::{assert_json_snapshot, assert_snapshot};

use crate::plan_env::{Env, checked_json, load, masked};

const WEB01: &str = r#"protected_vm.app["web01"]"#;
const WEB02: &str = r#"protected_vm.app["web02"]"#;

/// The quickstart applied, then its state forgotten (a new empty store): everything exists only live.
/// Returns the env and the ARM ids the forgotten state held for web01, web02 and the resource group.
async fn live_without_state() -> (Env, String, String, String) {
    let mut env = Env::new("quickstart");
    let first = env.plan().await;
    let report = env.apply(&first, WaitFor::Protected).await;
    assert!(report.success(), "{report:#?}");
    let st = env.stored().await.unwrap().state;
    let rpi = |a: &str| st.resources[a].arm_ids["rpi"].clone();
    let (w1, w2) = (rpi(WEB01), rpi(WEB02));
    let rg = st.resources["resource_group.dr"].arm_ids["id"].clone();
    env.store = Arc::new(MemoryStore::new());
    (env, w1, w2, rg)
}

fn add_imports(env: &mut Env, blocks: &str) {
    let p = env.dir().join("imports.asr.hcl");
    std::fs::write(&p, blocks).unwrap();
    let (loaded, graph) = load(&env.dir());
    env.loaded = loaded;
    env.graph = graph;
}

fn writes(env: &Env) -> usize {
    env.sim
        .request_log()
        .iter()
        .filter(|e| e.method != "GET")
        .count()
}

#[tokio::test(start_paused = true)]
async fn import_blocks_adopt_live_objects_without_writing_to_the_cloud() {
    let (mut env, web01, _, rg) = live_without_state().await;
    add_imports(
        &mut env,
        &format!(
            "import {{\n  to = {WEB01}\n  id = \"{web01}\"\n}}\n\nimport {{\n  to = resource_group.dr\n  id = \"{rg}\"\n}}\n"
        ),
    );
    let p = env.plan().await;
    let imports: Vec<(String, Action, String)> = p
        .effective_changes()
        .map(|c| {
            (
                c.address.clone(),
                c.action,
                c.change.importing.as_ref().unwrap().id.clone(),
            )
        })
        .collect();
    assert_eq!(
        imports,
        [
            ("resource_group.dr".to_string(), Action::NoOp, rg.clone()),
            (WEB01.to_string(), Action::NoOp, web01.clone()),
        ]
    );
    assert_eq!(p.summary.import, 2);
    assert!(p.has_changes(), "an import is something to apply");
    let text = masked(&render::text(&p, TextOptions::default()));
    assert!(text.contains("Plan: 2 to import, 0 to add"), "{text}");
    assert_snapshot!("import_blocks_text", text);
    assert_json_snapshot!("import_blocks_json", checked_json(&p));
    assert_snapshot!(
        "import_blocks_markdown",
        masked(&render::markdown(&p, "quickstart"))
    );

    let before = writes(&env);
    let report = env.apply(&p, WaitFor::Accepted).await;
    assert!(report.success(), "{report:#?}");
    assert_eq!(report.applied.len(), 2);
    // The state write aside, the cloud saw reads only: no re-seed, no PUT.
    assert_eq!(writes(&env), before, "import must not write to the cloud");
    let st = env.stored().await.unwrap().state;
    let w = &st.resources[WEB01];
    assert_eq!(w.kind, "protected_vm");
    assert!(w.arm_ids["rpi"].eq_ignore_ascii_case(&web01), "{w:?}");
    assert!(w.lifecycle_id.is_some(), "{w:?}");
    assert_eq!(w.active_site, Some(Site::Primary));
    assert!(w.attributes.is_object());
    assert!(st.resources["resource_group.dr"].arm_ids["id"].eq_ignore_ascii_case(&rg));
    assert_eq!(st.resources.len(), 2, "only the imported addresses");

    // Applied: the import blocks now name managed objects and the plan is a no-op.
    let again = env.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        render::text(&again, TextOptions::default())
    );
    assert_eq!(again.summary.import, 0);
}

#[tokio::test(start_paused = true)]
async fn import_of_the_wrong_object_is_refused_at_the_block() {
    let (mut env, _, web02, _) = live_without_state().await;
    let block = format!("import {{\n  to = {WEB01}\n  id = \"{web02}\"\n}}\n");
    add_imports(&mut env, &block);
    let err = env.plan_with(PlanOptions::default()).await.unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("plan::import_id_mismatch"), "{text}");
    // The label is on the id's value in imports.asr.hcl (the first file by name).
    let at = block.find("id = ").unwrap() + "id = ".len();
    assert!(
        text.contains(&format!(
            "span: Span {{ file: 0, start: {at}, end: {} }}",
            at + web02.len() + 2
        )),
        "{text}"
    );
    // An import whose object does not exist is refused too.
    let missing = web02.replace("web02", "web09");
    add_imports(
        &mut env,
        &format!("import {{\n  to = {WEB01}\n  id = \"{missing}\"\n}}\n"),
    );
    let text = format!(
        "{:?}",
        env.plan_with(PlanOptions::default()).await.unwrap_err()
    );
    assert!(text.contains("plan::import_id_mismatch"), "{text}");
}
