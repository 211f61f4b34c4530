//! JSON outputs and inputs against the published schemas in `schemas/`: every example's estate, a generated estate,
//! and samples that must be rejected.

use asrform::estate;
use serde_json::Value;

use crate::common;

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(common::path(&format!("schemas/{name}"))).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schemas/{name} is not a valid schema: {e}"))
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
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
    assert!(seen >= 2, "expected the quickstart and fleet estates, found {seen}");
}

#[test]
fn generated_estates_match_the_schema() {
    let v = validator("estate.schema.json");
    let generated = estate::generate(&estate::GenerateOptions { vms: 300, subscriptions: 2, ..Default::default() });
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
        assert!(estate::parse("bad.json", &doc.to_string()).is_err(), "loader accepted {doc}");
    }
}
