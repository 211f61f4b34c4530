//! Large plans: a synthetic configuration of N protected VMs over the subscriptions of a generated estate
//! (`estate::generate`), planned purely against an empty live snapshot; the Markdown of a 5,000-VM first plan stays
//! under the comment limit and still counts every action. `benches/plan_10k.rs` includes this file by path for
//! the same configuration.

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

#[cfg(test)]
mod tests {
    use asrform::plan::render::{MARKDOWN_LIMIT, markdown};
    use asrform::plan::{PlanOptions, diff};
    use asrform::provider::Snapshot;

    #[test]
    fn markdown_of_a_5000_vm_first_plan_fits_a_comment_and_counts_everything() {
        let loaded = super::load(std::env::var("N").ok().and_then(|x| x.parse().ok()).unwrap_or(5000));
        let graph = asrform::graph::build(&loaded.config).unwrap();
        let plan = diff(&loaded.config, &graph, &Snapshot::default(), None, &PlanOptions::default()).unwrap();
        assert_eq!(plan.summary.add, loaded.config.resources.len());
        let md = markdown(&plan, "synthetic");
        assert!(md.chars().count() <= MARKDOWN_LIMIT, "{} characters", md.chars().count());
        assert!(md.contains(&plan.summary.line()), "the summary line is missing");
        // Counts per recovery plan instead of rows: 50 plans of 100 VMs each, nothing cut mid-table.
        assert!(md.contains("| recovery_plan.rp000 | + create | 101 |"), "{}", &md[..md.len().min(3000)]);
        assert!(md.lines().filter(|l| l.starts_with('|')).all(|l| l.ends_with('|')));
    }
}
