//! Large plans: a synthetic configuration of N protected VMs over the subscriptions of a generated estate
//! (`estate::generate`), planned purely against an empty live snapshot; the Markdown of a 5,000-VM first plan stays
//! under the comment limit and still counts every action. (`benches/plan_10k.rs` measures the loader-built
//! `config::synthetic::inventory_fleet` instead, so the CPU budget includes loading.)

#![allow(dead_code)]

/// VMs per source subscription in the synthetic estate (ASR allows 3,000 disks per subscription).
pub const VMS_PER_SUBSCRIPTION: usize = 1000;

/// The configuration text for `n` VMs of `estate::generate` (region eastus → westus), one recovery plan per 100
/// VMs.
pub fn synthetic_config(n: usize) -> String {
    let subs = n.div_ceil(VMS_PER_SUBSCRIPTION).max(1);
    // The VM map is written out literally (the language has no integer division to derive it).
    let entries: String = (0..n)
        .map(|i| {
            format!(
                "    \"vm{:05}\" = {{ sub = \"{}\", plan = \"rp{:03}\" }}\n",
                i + 1,
                asrform::estate::subscription_id(i / VMS_PER_SUBSCRIPTION + 1),
                i / 100
            )
        })
        .collect();
    // Recovery plans list their members literally too (a comprehension per plan over every VM is quadratic).
    let plans: String = (0..n.div_ceil(100))
        .map(|p| {
            let members: Vec<String> = (p * 100..((p + 1) * 100).min(n))
                .map(|i| format!("protected_vm.vm[\"vm{:05}\"]", i + 1))
                .collect();
            format!(
                "recovery_plan \"rp{p:03}\" {{\n  vault = vault.dr\n  region_pair = region_pair.main\n  group {{\n    vms = [{}]\n  }}\n}}\n",
                members.join(", ")
            )
        })
        .collect();
    format!(
        r#"
provider "simulator" {{
  estate = "estate.json"
}}

locals {{
  subs = [for s in range(1, {subs} + 1) : format("00000000-0000-0000-0000-%012d", s)]
  vms = {{
{entries}  }}
}}

resource_group "dr" {{
  for_each        = toset(local.subs)
  name            = "rg-dr"
  location        = "westus"
  subscription_id = each.key
}}

vault "dr" {{
  name           = "rsv-dr"
  resource_group = resource_group.dr["00000000-0000-0000-0000-000000000001"]
  location       = "westus"
}}

replication_policy "p" {{
  vault = vault.dr
}}

region_pair "main" {{
  vault  = vault.dr
  source = "eastus"
  target = "westus"
  policy = replication_policy.p
}}

virtual_network "dr" {{
  for_each       = toset(local.subs)
  name           = "vnet-dr"
  resource_group = resource_group.dr[each.key]
  address_space  = ["10.50.0.0/16"]
  subnet "app" {{
    address_prefix = "10.50.0.0/17"
  }}
}}

storage_account "cache" {{
  for_each        = toset(local.subs)
  name            = "cacheeast${{substr(each.key, 30, 6)}}"
  resource_group  = "rg-app"
  location        = "eastus"
  subscription_id = each.key
}}

network_mapping "m" {{
  for_each       = toset(local.subs)
  region_pair    = region_pair.main
  source_network = "/subscriptions/${{each.key}}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet-app"
  target_network = virtual_network.dr[each.key]
}}

protected_vm "vm" {{
  for_each              = local.vms
  source_vm             = "/subscriptions/${{each.value.sub}}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${{each.key}}"
  region_pair           = region_pair.main
  cache_storage         = storage_account.cache[each.value.sub]
  target_resource_group = resource_group.dr[each.value.sub]
  target_network        = virtual_network.dr[each.value.sub]
  target_subnet         = "app"
}}

{plans}"#,
    )
}

/// Loads the synthetic configuration from memory.
pub fn load(n: usize) -> asrform::config::Loaded {
    asrform::config::load_sources(
        vec![
            ("main.asr.hcl".into(), synthetic_config(n)),
            ("estate.json".into(), "{}".into()),
        ],
        &Default::default(),
    )
    .unwrap_or_else(|d| panic!("{:#?}", d.iter().map(|x| x.to_string()).collect::<Vec<_>>()))
}

/// The synthetic configuration for `n` VMs, built by loading it for one subscription's worth of shape (one VM, one
/// recovery plan) and replicating those typed resources: the loader's cost grows faster than linearly with
/// `for_each` size, and these tests measure the planner, not the loader.
pub fn scaled(n: usize) -> asrform::config::Config {
    use asrform::addr::{ResourceAddr, ResourceKind};
    use asrform::config::model::{Dependency, EdgeReason, ResourceBody};
    let subs = n.div_ceil(VMS_PER_SUBSCRIPTION).max(1);
    let mut config = load(subs.max(1)).config;
    // `load(subs)` has `subs` VMs (vm00001…) all in subscription 1; use vm00001 and rp000 as templates.
    let vm_t =
        config.resources[&ResourceAddr::keyed(ResourceKind::ProtectedVm, "vm", "vm00001")].clone();
    let rp_t = config.resources[&ResourceAddr::new(ResourceKind::RecoveryPlan, "rp000")].clone();
    config.resources.retain(|a, _| {
        !matches!(
            a.kind,
            ResourceKind::ProtectedVm | ResourceKind::RecoveryPlan
        )
    });
    for i in 0..n {
        let sub = asrform::estate::subscription_id(i / VMS_PER_SUBSCRIPTION + 1);
        let name = format!("vm{:05}", i + 1);
        let mut r = vm_t.clone();
        r.addr = ResourceAddr::keyed(ResourceKind::ProtectedVm, "vm", name.clone());
        let ResourceBody::ProtectedVm(vm) = &mut r.body else {
            unreachable!()
        };
        let source = format!(
            "/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name}"
        );
        vm.source_vm.value = asrform::config::ArmId::parse(&source).unwrap();
        vm.target_vm_name.value = name.clone();
        let key = |k: &str| {
            ResourceAddr::keyed(
                k.parse::<ResourceAddr>().unwrap().kind,
                k.split('.').nth(1).unwrap().split('[').next().unwrap(),
                sub.clone(),
            )
        };
        vm.cache_storage.value = key("storage_account.cache");
        vm.target_resource_group.value = key("resource_group.dr");
        vm.target_network.value = key("virtual_network.dr");
        for d in &mut r.depends {
            if d.to
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("00000000-"))
            {
                d.to.key = Some(sub.clone());
            }
        }
        r.id = r.id.map(|id| id.replace("vm00001", &name));
        config.resources.insert(r);
    }
    for p in 0..n.div_ceil(100) {
        let mut r = rp_t.clone();
        let label = format!("rp{p:03}");
        r.addr = ResourceAddr::new(ResourceKind::RecoveryPlan, label.clone());
        r.id = r.id.map(|id| id.replace("rp000", &label));
        let members: Vec<ResourceAddr> = (p * 100..((p + 1) * 100).min(n))
            .map(|i| {
                ResourceAddr::keyed(ResourceKind::ProtectedVm, "vm", format!("vm{:05}", i + 1))
            })
            .collect();
        let ResourceBody::RecoveryPlan(plan) = &mut r.body else {
            unreachable!()
        };
        plan.name.value = label.clone();
        let span = plan.groups[0].span;
        plan.groups[0].vms = members
            .iter()
            .map(|a| asrform::config::Spanned::new(a.clone(), span))
            .collect();
        r.depends.retain(|d| d.to.kind != ResourceKind::ProtectedVm);
        r.depends.extend(members.into_iter().map(|to| Dependency {
            to,
            reason: EdgeReason::Reference,
            span,
        }));
        config.resources.insert(r);
    }
    config
}

#[cfg(test)]
#[allow(unused_imports)]
mod tests {
    use asrform::plan::render::{MARKDOWN_LIMIT, markdown};
    use asrform::plan::{PlanOptions, diff};
    use asrform::provider::Snapshot;

    #[test]
    fn markdown_of_a_5000_vm_first_plan_fits_a_comment_and_counts_everything() {
        let config = super::scaled(5000);
        let graph = asrform::graph::build(&config).unwrap();
        let plan = diff(
            &config,
            &graph,
            &Snapshot::default(),
            None,
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(plan.summary.add, config.resources.len());
        assert_eq!(
            plan.effective_changes()
                .filter(|c| c.kind == "protected_vm")
                .count(),
            5000
        );
        let md = markdown(&plan, "synthetic");
        assert!(
            md.chars().count() <= MARKDOWN_LIMIT,
            "{} characters",
            md.chars().count()
        );
        assert!(
            md.contains(&plan.summary.line()),
            "the summary line is missing"
        );
        // Counts per recovery plan instead of rows: 50 plans of 100 VMs each, nothing cut mid-table.
        assert!(
            md.contains("| recovery_plan.rp000 | + create | 101 |"),
            "{}",
            &md[..md.len().min(3000)]
        );
        assert!(
            md.lines()
                .filter(|l| l.starts_with('|'))
                .all(|l| l.ends_with('|'))
        );
    }
}
