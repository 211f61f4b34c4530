//! The design.md §3 sketch as a complete configuration: loads without problems, has the expected typed values and
//! graphs with the expected edges.

use asrform::addr::ResourceAddr;
use asrform::config::{self, EdgeReason, LoadOptions, ResourceBody};
use asrform::graph;

use crate::common;

fn addr(s: &str) -> ResourceAddr {
    s.parse().unwrap()
}

fn load_sketch(opts: &LoadOptions) -> config::Loaded {
    match config::load(&common::path("tests/fixtures/configs/design_sketch"), opts) {
        Ok(l) => l,
        Err(d) => panic!("{}", render(&d)),
    }
}

fn render(d: &config::Diagnostics) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, d)
        .unwrap();
    out
}

#[test]
fn config_design_sketch_loads_without_problems() {
    let loaded = load_sketch(&LoadOptions::default());
    assert!(loaded.warnings.is_empty(), "{}", render(&loaded.warnings));
    let c = &loaded.config;
    let names: Vec<String> = c.resources.keys().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "resource_group.dr",
            "virtual_network.dr",
            "virtual_network.drill",
            "storage_account.cache",
            "vault.dr",
            "replication_policy.standard",
            "region_pair.primary",
            "network_mapping.app",
            "protected_vm.db[\"db01\"]",
            "protected_vm.web[\"web01\"]",
            "protected_vm.web[\"web02\"]",
            "recovery_plan.app",
        ]
    );
    let sub = "00000000-0000-0000-0000-000000000001";
    assert_eq!(c.get(&addr("vault.dr")).unwrap().id.as_deref(), Some(format!("/subscriptions/{sub}/resourceGroups/rg-app-dr/providers/Microsoft.RecoveryServices/vaults/rsv-app-dr").as_str()));
    let ResourceBody::ProtectedVm(web01) =
        &c.get(&addr("protected_vm.web[\"web01\"]")).unwrap().body
    else {
        panic!()
    };
    assert_eq!(web01.target_vm_name.value, "web01");
    assert_eq!(
        web01.nics[0]
            .target_static_ip
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "10.20.1.10"
    );
    assert_eq!(
        web01.nics[0]
            .test_static_ip
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "10.30.1.10"
    );
    assert_eq!(web01.consistency_group.as_ref().unwrap().value, "web");
    let ResourceBody::RecoveryPlan(plan) = &c.get(&addr("recovery_plan.app")).unwrap().body else {
        panic!()
    };
    let groups: Vec<Vec<String>> = plan
        .groups
        .iter()
        .map(|g| g.vms.iter().map(|v| v.value.to_string()).collect())
        .collect();
    assert_eq!(
        groups,
        [
            vec!["protected_vm.db[\"db01\"]".to_string()],
            vec![
                "protected_vm.web[\"web01\"]".into(),
                "protected_vm.web[\"web02\"]".into()
            ]
        ]
    );
    assert_eq!(plan.groups[1].pre_actions[0].name.value, "check-db");
    let db = c.get(&addr("protected_vm.db[\"db01\"]")).unwrap();
    assert!(db.lifecycle.prevent_destroy);
    assert_eq!(db.lifecycle.ignore_changes, ["target_vm_size"]);
    assert_eq!(c.outputs["web_vm_ids"].value.as_array().unwrap().len(), 2);
    assert_eq!(c.fingerprint.len(), 64);
}

#[test]
fn config_design_sketch_graphs_with_expected_edges() {
    let loaded = load_sketch(&LoadOptions::default());
    let g = graph::build(&loaded.config).unwrap();
    assert_eq!(g.len(), 12);
    let deps = |a: &str| -> Vec<(String, EdgeReason)> {
        g.dependencies(&addr(a))
            .into_iter()
            .map(|(a, r)| (a.to_string(), r))
            .collect()
    };
    let reference = |a: &str| (a.to_string(), EdgeReason::Reference);
    assert_eq!(
        deps("protected_vm.web[\"web01\"]"),
        [
            reference("resource_group.dr"),
            reference("virtual_network.dr"),
            reference("virtual_network.drill"),
            reference("storage_account.cache"),
            reference("region_pair.primary"),
            ("network_mapping.app".to_string(), EdgeReason::Implicit),
        ]
    );
    let plan_deps = deps("recovery_plan.app");
    assert!(plan_deps.contains(&("protected_vm.db[\"db01\"]".into(), EdgeReason::Reference)));
    assert!(plan_deps.contains(&("protected_vm.web[\"web02\"]".into(), EdgeReason::Reference)));
    let order: Vec<String> = g.topo_order().iter().map(ToString::to_string).collect();
    let pos = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(pos("resource_group.dr") < pos("vault.dr"));
    assert!(pos("vault.dr") < pos("replication_policy.standard"));
    assert!(pos("network_mapping.app") < pos("protected_vm.web[\"web01\"]"));
    assert!(pos("protected_vm.web[\"web02\"]") < pos("recovery_plan.app"));
    insta::assert_snapshot!("config_design_sketch_dot", g.to_dot());
    insta::assert_json_snapshot!("config_design_sketch_graph_json", g.to_json());
}

#[test]
fn config_variables_follow_precedence() {
    // default < env < var-file < -var
    let mut opts = LoadOptions {
        env_vars: vec![("target_region".into(), "centralus".into())],
        ..LoadOptions::default()
    };
    let region = |l: &config::Loaded| {
        l.config.variables["target_region"]
            .value
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(region(&load_sketch(&LoadOptions::default())), "westus2");
    assert_eq!(region(&load_sketch(&opts)), "centralus");
    let tmp = tempfile::tempdir().unwrap();
    let vf = tmp.path().join("prod.asrvars.hcl");
    std::fs::write(&vf, "target_region = \"westus3\"\n").unwrap();
    opts.var_files.push(vf);
    assert_eq!(region(&load_sketch(&opts)), "westus3");
    opts.vars
        .push(("target_region".into(), "northcentralus".into()));
    let last = load_sketch(&opts);
    assert_eq!(region(&last), "northcentralus");
    assert_ne!(
        last.config.fingerprint,
        load_sketch(&LoadOptions::default()).config.fingerprint
    );
}
