//! JSON outputs and inputs against the published schemas in `schemas/`: every example's estate, a generated estate,
//! and samples that must be rejected.

use asrform::estate;
use serde_json::Value;

use crate::common;

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(common::path(&format!("schemas/{name}"))).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schemas/{name} is not a valid schema: {e}"))
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn example_estates_match_the_schema_and_load() {
    let v = validator("estate.schema.json");
    let mut seen = 0;
    for entry in std::fs::read_dir(common::path("examples")).unwrap() {
        let path = entry.unwrap().path().join("estate.json");
        if !path.exists() {
            continue;
        }
        seen += 1;
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{}", path.display());
        estate::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    }
    assert!(
        seen >= 2,
        "expected the quickstart and fleet estates, found {seen}"
    );
}

#[test]
fn generated_estates_match_the_schema() {
    let v = validator("estate.schema.json");
    let generated = estate::generate(&estate::GenerateOptions {
        vms: 300,
        subscriptions: 2,
        ..Default::default()
    });
    let doc = serde_json::to_value(&generated).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let v = validator("estate.schema.json");
    let bad = [
        serde_json::json!({ "version": 2, "subscriptions": [] }),
        serde_json::json!({ "version": 1, "subscriptions": [{ "id": "not-a-guid" }] }),
        serde_json::json!({ "version": 1, "subscriptions": [], "extra": true }),
    ];
    for doc in bad {
        assert!(!errors(&v, &doc).is_empty(), "schema accepted {doc}");
        assert!(
            estate::parse("bad.json", &doc.to_string()).is_err(),
            "loader accepted {doc}"
        );
    }
}

#[test]
fn state_documents_match_the_schema() {
    use asrform::state::{InFlight, ResourceState, Site, State};
    let v = validator("state.schema.json");
    let mut state = State::new();
    assert_eq!(
        errors(&v, &serde_json::from_str(&state.to_json()).unwrap()),
        Vec::<String>::new()
    );
    state.serial = 7;
    state.resources.insert(
        "protected_vm.app[\"db01\"]".into(),
        ResourceState {
            kind: "protected_vm".into(),
            arm_ids: [(
                "id".to_string(),
                "/subscriptions/s/resourceGroups/rg/providers/x".to_string(),
            )]
            .into(),
            lifecycle_id: Some("f0e1".into()),
            attributes: serde_json::json!({ "target_vm_size": "Standard_E4s_v5" }),
            active_site: Some(Site::Recovery),
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        },
    );
    state.in_flight.push(InFlight {
        address: "protected_vm.app[\"db01\"]".into(),
        operation: "enable_protection".into(),
        operation_id: Some("https://management.azure.com/x".into()),
        started_at: time::OffsetDateTime::UNIX_EPOCH,
    });
    let doc: Value = serde_json::from_str(&state.to_json()).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let mut bad = doc.clone();
    bad["resources"]["protected_vm.app[\"db01\"]"]["active_site"] = "sideways".into();
    assert!(!errors(&v, &bad).is_empty());
}
