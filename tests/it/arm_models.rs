//! The request bodies the ARM client builds, checked against the service's own models (api-version 2025-08-01),
//! and the spec's example responses decoded into the client's response types.

use std::collections::BTreeMap;

use asrform::provider::ArmId;
use asrform::provider::arm::ops;
use asrform::provider::arm::wire;
use serde_json::Value;

struct Models {
    models: serde_json::Map<String, Value>,
    enums: serde_json::Map<String, Value>,
}

fn models() -> Models {
    let text = std::fs::read_to_string(crate::common::path(
        "tests/fixtures/models/asr-models-subset.json",
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    Models {
        models: v["models"].as_object().unwrap().clone(),
        enums: v["enums"].as_object().unwrap().clone(),
    }
}

/// A parsed Python type annotation.
#[derive(Debug)]
enum Ty {
    Name(String),
    Generic(String, Vec<Ty>),
}

fn parse_ty(s: &str) -> Ty {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
        .collect();
    let cleaned = cleaned.split('=').next().unwrap().to_string();
    let (t, _) = parse_at(cleaned.as_bytes(), 0);
    t
}

fn parse_at(b: &[u8], mut i: usize) -> (Ty, usize) {
    let start = i;
    while i < b.len() && b[i] != b'[' && b[i] != b']' && b[i] != b',' {
        i += 1;
    }
    let name = String::from_utf8_lossy(&b[start..i]).to_string();
    if i < b.len() && b[i] == b'[' {
        let mut args = Vec::new();
        i += 1;
        loop {
            let (t, j) = parse_at(b, i);
            args.push(t);
            i = j;
            if i < b.len() && b[i] == b',' {
                i += 1;
                continue;
            }
            i += 1; // ']'
            break;
        }
        (Ty::Generic(name, args), i)
    } else {
        (Ty::Name(name), i)
    }
}

impl Models {
    fn fields(&self, model: &str) -> Vec<Value> {
        let m = &self.models[model];
        let mut out: Vec<Value> = m["fields"].as_array().unwrap().clone();
        for b in m["bases"].as_array().unwrap() {
            out.extend(self.fields(b.as_str().unwrap()));
        }
        out
    }

    /// Checks `v` against `model`, appending "where: what" problems.
    fn check_model(&self, model: &str, v: &Value, at: &str, errs: &mut Vec<String>) {
        let Some(obj) = v.as_object() else {
            errs.push(format!("{at}: expected an object for {model}, got {v}"));
            return;
        };
        let Some(m) = self.models.get(model) else {
            errs.push(format!("{at}: model {model} is not in the fixture"));
            return;
        };
        // Resolve the discriminator to the concrete model.
        let mut model = model.to_string();
        if let Some(tag) = obj.get("instanceType").and_then(Value::as_str) {
            if let Some(sub) = m
                .get("subtypes")
                .and_then(|s| s.get(tag))
                .and_then(Value::as_str)
            {
                model = sub.to_string();
                if !self.models.contains_key(&model) {
                    errs.push(format!("{at}: subtype {model} is not in the fixture"));
                    return;
                }
            } else if m["discriminator_value"].as_str() != Some(tag) && tag != model {
                // (Swagger's rule: a polymorphic base's own discriminator value is its model name.)
                errs.push(format!(
                    "{at}: instanceType {tag:?} is not a subtype of {model}"
                ));
                return;
            }
        } else if m
            .get("subtypes")
            .is_some_and(|s| s.as_object().is_some_and(|o| !o.is_empty()))
        {
            errs.push(format!("{at}: polymorphic {model} without instanceType"));
        }
        if let Some(d) = self.models[&model]["discriminator_value"].as_str()
            && obj.get("instanceType").and_then(Value::as_str) != Some(d)
        {
            errs.push(format!("{at}: {model} needs instanceType {d:?}"));
        }
        let fields = self.fields(&model);
        let by_wire: BTreeMap<&str, &Value> = fields
            .iter()
            .map(|f| (f["json"].as_str().unwrap(), f))
            .collect();
        for (k, val) in obj {
            match by_wire.get(k.as_str()) {
                None => errs.push(format!("{at}.{k}: no such field in {model}")),
                Some(f) => {
                    if f["readonly"].as_bool() == Some(true) {
                        errs.push(format!("{at}.{k}: read-only field sent"));
                    }
                    self.check_ty(
                        &parse_ty(f["type"].as_str().unwrap()),
                        val,
                        &format!("{at}.{k}"),
                        errs,
                    );
                }
            }
        }
        for f in &fields {
            let required = f["doc"].as_str().unwrap_or_default().contains("Required.")
                && f["readonly"].as_bool() != Some(true);
            let name = f["json"].as_str().unwrap();
            if required && !obj.contains_key(name) {
                errs.push(format!("{at}: required field {name} of {model} is missing"));
            }
        }
    }

    fn check_ty(&self, ty: &Ty, v: &Value, at: &str, errs: &mut Vec<String>) {
        match ty {
            Ty::Generic(g, args) if g == "Optional" => {
                if !v.is_null() {
                    self.check_ty(&args[0], v, at, errs)
                }
            }
            Ty::Generic(g, args) if g == "list" || g == "List" => match v.as_array() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .for_each(|(i, x)| self.check_ty(&args[0], x, &format!("{at}[{i}]"), errs)),
                None => errs.push(format!("{at}: expected a list, got {v}")),
            },
            Ty::Generic(g, args) if g == "dict" || g == "Dict" => match v.as_object() {
                Some(o) => o
                    .iter()
                    .for_each(|(k, x)| self.check_ty(&args[1], x, &format!("{at}.{k}"), errs)),
                None => errs.push(format!("{at}: expected an object, got {v}")),
            },
            Ty::Generic(g, args) if g == "Literal" => {
                let Ty::Name(lit) = &args[0] else {
                    unreachable!()
                };
                if v.as_str() != Some(lit.as_str()) {
                    errs.push(format!("{at}: expected {lit:?}, got {v}"));
                }
            }
            Ty::Generic(g, args) if g == "Union" => {
                // Union[str, Enum]: a string, within the enum's values when the enum is known.
                let Some(s) = v.as_str() else {
                    errs.push(format!("{at}: expected a string, got {v}"));
                    return;
                };
                for a in args {
                    if let Ty::Name(n) = a
                        && let Some(values) = self.enums.get(n)
                        && !values
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|x| x.as_str() == Some(s))
                    {
                        errs.push(format!("{at}: {s:?} is not one of {n} {values}"));
                    }
                }
            }
            Ty::Name(n) => match n.as_str() {
                "str" | "datetime.datetime" => {
                    if !v.is_string() {
                        errs.push(format!("{at}: expected a string, got {v}"))
                    }
                }
                "int" => {
                    if !(v.is_i64() || v.is_u64()) {
                        errs.push(format!("{at}: expected an integer, got {v}"))
                    }
                }
                "float" => {
                    if !v.is_number() {
                        errs.push(format!("{at}: expected a number, got {v}"))
                    }
                }
                "bool" => {
                    if !v.is_boolean() {
                        errs.push(format!("{at}: expected a bool, got {v}"))
                    }
                }
                "Any" => {}
                model => self.check_model(model, v, at, errs),
            },
            other => errs.push(format!("{at}: unsupported annotation {other:?}")),
        }
    }

    fn assert_valid(&self, model: &str, body: &Value) {
        let mut errs = Vec::new();
        self.check_model(model, body, model, &mut errs);
        assert!(
            errs.is_empty(),
            "{model} body does not match the spec model:\n{}\nbody: {body:#}",
            errs.join("\n")
        );
    }
}

fn id(s: &str) -> ArmId {
    ArmId::parse(s).unwrap()
}

const VAULT: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/dr-rg/providers/Microsoft.RecoveryServices/vaults/dr-vault";

fn managed_disk(n: u32) -> wire::A2AVmManagedDiskInputDetails {
    wire::A2AVmManagedDiskInputDetails {
        disk_id: format!("/subscriptions/s/resourceGroups/app/providers/Microsoft.Compute/disks/vm1-disk{n}"),
        primary_staging_azure_storage_account_id: "/subscriptions/s/resourceGroups/app/providers/Microsoft.Storage/storageAccounts/cache1".into(),
        recovery_resource_group_id: "/subscriptions/s/resourceGroups/app-dr".into(),
        recovery_replica_disk_account_type: Some("Premium_LRS".into()),
        recovery_target_disk_account_type: Some("StandardSSD_LRS".into()),
        recovery_disk_encryption_set_id: Some("/subscriptions/s/resourceGroups/app-dr/providers/Microsoft.Compute/diskEncryptionSets/des".into()),
        disk_encryption_info: None,
    }
}

#[test]
fn enable_protection_body_matches_the_spec_model() {
    let m = models();
    let a2a = wire::A2AEnableProtectionInput {
        fabric_object_id: "/subscriptions/s/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/vm1".into(),
        recovery_container_id: Some(format!("{VAULT}/replicationFabrics/westus/replicationProtectionContainers/westus-c")),
        recovery_resource_group_id: Some("/subscriptions/s/resourceGroups/app-dr".into()),
        recovery_availability_zone: Some("2".into()),
        recovery_azure_network_id: Some("/subscriptions/s/resourceGroups/net-dr/providers/Microsoft.Network/virtualNetworks/vnet-dr".into()),
        recovery_subnet_name: Some("app".into()),
        recovery_boot_diag_storage_account_id: Some("/subscriptions/s/resourceGroups/app-dr/providers/Microsoft.Storage/storageAccounts/diag".into()),
        platform_fault_domain: Some(1),
        vm_managed_disks: vec![managed_disk(0), managed_disk(1)],
        multi_vm_group_name: Some("app".into()),
        auto_protection_of_data_disk: Some("Enabled".into()),
        recovery_extended_location: None,
        disk_encryption_info: Some(wire::DiskEncryptionInfo {
            disk_encryption_key_info: Some(wire::DiskEncryptionKeyInfo { secret_identifier: Some("https://kv/secrets/x".into()), key_vault_resource_arm_id: Some("/kv".into()) }),
            key_encryption_key_info: None,
        }),
        ..Default::default()
    };
    let body = ops::enable_protection_body(&id(&format!("{VAULT}/replicationPolicies/p24h")), a2a);
    m.assert_valid("EnableProtectionInput", &body);
    assert_eq!(
        body["properties"]["providerSpecificDetails"]["instanceType"],
        "A2A"
    );
}

#[test]
fn update_body_matches_the_spec_model_and_keeps_the_misspelling() {
    let m = models();
    let props = wire::UpdateReplicationProtectedItemInputProperties {
        recovery_azure_vm_name: Some("vm1-dr".into()),
        recovery_azure_vm_size: Some("Standard_D4s_v5".into()),
        selected_recovery_azure_network_id: Some("/vnet-dr".into()),
        selected_tfo_azure_network_id: Some("/vnet-test".into()),
        selected_source_nic_id: Some("nic-opaque-1".into()),
        license_type: Some("NoLicenseType".into()),
        vm_nics: vec![wire::VmNicInputDetails {
            nic_id: "nic-opaque-1".into(),
            ip_configs: vec![wire::IpConfigInputDetails {
                ip_config_name: Some("ipconfig1".into()),
                is_primary: Some(true),
                is_selected_for_failover: Some(true),
                recovery_subnet_name: Some("app".into()),
                recovery_static_ip_address: Some("10.1.0.4".into()),
                tfo_subnet_name: Some("app".into()),
                tfo_static_ip_address: Some("10.9.0.4".into()),
                ..Default::default()
            }],
            enable_accelerated_networking_on_recovery: Some(true),
            recovery_nic_name: Some("vm1-nic-dr".into()),
            ..Default::default()
        }],
        provider_specific_details: Some(wire::Poly::Known(
            wire::A2AUpdateReplicationProtectedItemInput {
                recovery_resource_group_id: Some("/subscriptions/s/resourceGroups/app-dr".into()),
                tfo_azure_vm_name: Some("vm1-test".into()),
                recovery_availability_zone: Some("1".into()),
                managed_disk_update_details: vec![wire::A2AVmManagedDiskUpdateDetails {
                    disk_id: "/d0".into(),
                    recovery_target_disk_account_type: Some("Premium_LRS".into()),
                    failover_disk_name: Some("vm1-disk0-dr".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let body = ops::body(props);
    m.assert_valid("UpdateReplicationProtectedItemInput", &body);
    assert_eq!(
        body["properties"]["vmNics"][0]["ipConfigs"][0]["isSeletedForFailover"],
        true
    );
}

#[test]
fn failover_family_bodies_match_the_spec_models() {
    let m = models();
    let net = id(
        "/subscriptions/s/resourceGroups/net-dr/providers/Microsoft.Network/virtualNetworks/vnet-test",
    );
    let rp = format!(
        "{VAULT}/replicationFabrics/eastus/replicationProtectionContainers/c/replicationProtectedItems/vm1/recoveryPoints/rp1"
    );
    m.assert_valid(
        "TestFailoverInput",
        &ops::test_failover_body("PrimaryToRecovery", &net, Some(&rp)),
    );
    m.assert_valid(
        "TestFailoverInput",
        &ops::test_failover_body("PrimaryToRecovery", &net, None),
    );
    m.assert_valid(
        "UnplannedFailoverInput",
        &ops::unplanned_failover_body("PrimaryToRecovery", true, Some(&rp)),
    );
    m.assert_valid(
        "UnplannedFailoverInput",
        &ops::unplanned_failover_body("RecoveryToPrimary", false, None),
    );
    m.assert_valid(
        "ApplyRecoveryPointInput",
        &ops::apply_recovery_point_body(&rp),
    );
    m.assert_valid("DisableProtectionInput", &ops::disable_protection_body());
    m.assert_valid(
        "TestFailoverCleanupInput",
        &ops::body(wire::TestFailoverCleanupInputProperties {
            comments: Some("drill 42".into()),
        }),
    );
    let sw = wire::A2ASwitchProtectionInput {
        recovery_container_id: Some(format!(
            "{VAULT}/replicationFabrics/eastus/replicationProtectionContainers/eastus-c"
        )),
        policy_id: Some(format!("{VAULT}/replicationPolicies/p24h")),
        recovery_resource_group_id: Some("/subscriptions/s/resourceGroups/app".into()),
        vm_managed_disks: vec![managed_disk(0)],
        recovery_availability_zone: Some("1".into()),
        ..Default::default()
    };
    m.assert_valid(
        "SwitchProtectionInput",
        &ops::switch_protection_body("vm1", sw),
    );
}

#[test]
fn infrastructure_and_plan_bodies_match_the_spec_models() {
    let m = models();
    let policy = wire::A2APolicyCreationInput {
        recovery_point_history: Some(1440),
        crash_consistent_frequency_in_minutes: Some(5),
        app_consistent_frequency_in_minutes: Some(240),
        multi_vm_sync_status: "Enable".into(),
    };
    m.assert_valid("CreatePolicyInput", &ops::policy_create_body(&policy));
    m.assert_valid("UpdatePolicyInput", &ops::policy_update_body(&policy));
    m.assert_valid("FabricCreationInput", &ops::fabric_body("eastus"));
    m.assert_valid("CreateProtectionContainerInput", &ops::container_body());
    let mapping = wire::A2AContainerMappingInput {
        agent_auto_update_status: Some("Enabled".into()),
        automation_account_arm_id: Some("/subscriptions/s/resourceGroups/ops/providers/Microsoft.Automation/automationAccounts/aa".into()),
        automation_account_authentication_type: Some("SystemAssignedIdentity".into()),
    };
    m.assert_valid(
        "CreateProtectionContainerMappingInput",
        &ops::container_mapping_body(
            &id(&format!(
                "{VAULT}/replicationFabrics/westus/replicationProtectionContainers/w"
            )),
            &id(&format!("{VAULT}/replicationPolicies/p")),
            mapping,
        ),
    );
    m.assert_valid(
        "CreateNetworkMappingInput",
        &ops::network_mapping_body(
            "westus",
            &id("/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/a"),
            &id("/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/b"),
        ),
    );
    let groups = vec![
        wire::RecoveryPlanGroup {
            group_type: "Shutdown".into(),
            ..Default::default()
        },
        wire::RecoveryPlanGroup {
            group_type: "Failover".into(),
            ..Default::default()
        },
        wire::RecoveryPlanGroup {
            group_type: "Boot".into(),
            replication_protected_items: vec![wire::RecoveryPlanProtectedItem {
                id: Some(format!(
                    "{VAULT}/replicationFabrics/e/replicationProtectionContainers/c/replicationProtectedItems/vm1"
                )),
                virtual_machine_id: None,
            }],
            start_group_actions: vec![wire::RecoveryPlanAction {
                action_name: "warn".into(),
                failover_types: vec!["TestFailover".into(), "UnplannedFailover".into()],
                failover_directions: vec!["PrimaryToRecovery".into()],
                custom_details: serde_json::json!({"instanceType": "ManualActionDetails", "description": "tell the DBA"}),
            }],
            ..Default::default()
        },
    ];
    let zones = wire::RecoveryPlanA2AInput {
        primary_zone: Some("1".into()),
        recovery_zone: Some("2".into()),
        ..Default::default()
    };
    let plan = ops::recovery_plan_body(
        &id(&format!("{VAULT}/replicationFabrics/e")),
        &id(&format!("{VAULT}/replicationFabrics/w")),
        groups.clone(),
        Some(zones),
    );
    m.assert_valid("CreateRecoveryPlanInput", &plan);
    m.assert_valid(
        "UpdateRecoveryPlanInput",
        &ops::body(wire::UpdateRecoveryPlanInputProperties { groups }),
    );
    let net =
        id("/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/test");
    m.assert_valid(
        "RecoveryPlanTestFailoverInput",
        &ops::recovery_plan_test_failover_body("PrimaryToRecovery", &net, "LatestProcessed", true),
    );
    m.assert_valid(
        "RecoveryPlanUnplannedFailoverInput",
        &ops::recovery_plan_unplanned_failover_body("PrimaryToRecovery", false, "Latest", false),
    );
}

#[test]
fn the_walker_rejects_what_the_service_would_reject() {
    // The checker must be able to fail: wrong field names, wrong enum values, wrong tags, missing required.
    let m = models();
    let mut errs = Vec::new();
    let bad = serde_json::json!({"properties": {"providerSpecificInput": {"instanceType": "A2A", "recoveryPointHistory": "24h", "multiVmSyncStatus": "Enabled", "bogus": 1}}});
    m.check_model("CreatePolicyInput", &bad, "x", &mut errs);
    let all = errs.join("\n");
    assert!(all.contains("bogus"), "{all}");
    assert!(all.contains("expected an integer"), "{all}");
    assert!(all.contains("\"Enabled\" is not one of"), "{all}");
    let mut errs = Vec::new();
    m.check_model(
        "CreatePolicyInput",
        &serde_json::json!({"properties": {"providerSpecificInput": {"instanceType": "Nope"}}}),
        "x",
        &mut errs,
    );
    assert!(errs.join("\n").contains("not a subtype"), "{errs:?}");
    let mut errs = Vec::new();
    m.check_model(
        "CreatePolicyInput",
        &serde_json::json!({"properties": {"providerSpecificInput": {"instanceType": "A2A"}}}),
        "x",
        &mut errs,
    );
    assert!(
        errs.join("\n").contains("required field multiVmSyncStatus"),
        "{errs:?}"
    );
}

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(crate::common::path(&format!(
        "tests/fixtures/models/examples/{name}"
    )))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn spec_example_responses_decode_into_the_response_types() {
    let nm: wire::NetworkMapping = serde_json::from_value(
        example("ReplicationNetworkMappings_Get.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(nm.properties.recovery_network_id.is_some());
    let p: wire::Policy = serde_json::from_value(
        example("ReplicationPolicies_Get.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(p.properties.provider_specific_details.is_some());
    let f: wire::Fabric = serde_json::from_value(
        example("ReplicationFabrics_Create.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(f.id.is_some());
    let c: wire::ProtectionContainer = serde_json::from_value(
        example("ReplicationProtectionContainers_Create.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(c.properties.friendly_name.is_some());
    let cm: wire::ProtectionContainerMapping = serde_json::from_value(
        example("ReplicationProtectionContainerMappings_Update.json")["responses"]["200"]["body"]
            .clone(),
    )
    .unwrap();
    let a2a = cm
        .properties
        .provider_specific_details
        .as_ref()
        .and_then(|d| d.known())
        .expect("the only A2A example decodes as A2A");
    assert!(a2a.agent_auto_update_status.is_some());
    for ex in [
        "ReplicationProtectedItems_Create.json",
        "ReplicationProtectedItems_TestFailover.json",
        "ReplicationProtectedItems_UnplannedFailover.json",
    ] {
        let rpi: wire::ReplicationProtectedItem =
            serde_json::from_value(example(ex)["responses"]["200"]["body"].clone()).unwrap();
        // HyperV examples: the provider details stay raw, the common fields decode.
        assert!(rpi.properties.protection_state.is_some(), "{ex}");
        let d = rpi.properties.provider_specific_details.as_ref().unwrap();
        assert!(
            d.known().is_none() && d.other_instance_type().is_some(),
            "{ex}"
        );
        let item = asrform::provider::arm::snapshot::protected_item(rpi).unwrap();
        assert!(!item.allowed_operations.is_empty(), "{ex}");
    }
    let rps: wire::Page<wire::RecoveryPoint> = serde_json::from_value(
        example("RecoveryPoints_ListByReplicationProtectedItems.json")["responses"]["200"]["body"]
            .clone(),
    )
    .unwrap();
    assert!(!rps.value.is_empty() && rps.value[0].properties.recovery_point_time.is_some());
    let plan: wire::RecoveryPlan = serde_json::from_value(
        example("ReplicationRecoveryPlans_Create.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(!plan.properties.groups.is_empty());
    let job: wire::Job = serde_json::from_value(
        example("ReplicationJobs_Get.json")["responses"]["200"]["body"].clone(),
    )
    .unwrap();
    assert!(job.properties.state.is_some());
}
