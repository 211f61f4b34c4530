//! Generated configurations for scale tests and benchmarks: a CSV-driven fleet of any size, as a user would write it.
//!
//! The scale test of the loader and graph and the `load_graph` benchmark measure the same configuration, so it lives
//! here once. It produces source text only (file name, content) for [`super::load_sources`]; it must not read or
//! write files.

/// A fleet of `n` VMs spread over four source subscriptions (2,500 disks each at 10,000 VMs, under ASR's 3,000),
/// with a cache account and a target resource group per subscription, consistency groups of 8 and one recovery plan
/// of the first 50 VMs.
pub fn inventory_fleet(n: usize) -> Vec<(String, String)> {
    let sub = |i: usize| format!("00000000-0000-0000-0000-{:012}", i % 4 + 1);
    let mut csv = String::from("name,sub,id,size,group,ip,plan\n");
    for i in 0..n {
        let name = format!("vm{i:05}");
        let s = sub(i);
        let ip =
            std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 10)) + i as u32);
        let plan = if i < 50 { "first" } else { "" };
        csv.push_str(&format!(
            "{name},{s},/subscriptions/{s}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name},Standard_D2s_v5,g{},{ip},{plan}\n",
            i / 8
        ));
    }
    let hcl = r#"
provider "azure" { subscription_id = "00000000-0000-0000-0000-000000000001" }

locals {
  rows  = csvdecode(file("inventory.csv"))
  fleet = { for row in local.rows : row.name => row }
  subs  = toset([for row in local.rows : row.sub])
}

resource_group "dr" {
  for_each        = local.subs
  name            = "rg-dr"
  location        = "westus2"
  subscription_id = each.key
}

vault "dr" {
  name           = "rsv-dr"
  resource_group = "rg-dr"
  location       = "westus2"
}

replication_policy "standard" { vault = vault.dr }

region_pair "primary" {
  vault  = vault.dr
  source = "eastus"
  target = "westus2"
  policy = replication_policy.standard
}

virtual_network "dr" {
  name           = "vnet-dr"
  resource_group = "rg-dr"
  location       = "westus2"
  address_space  = ["10.0.0.0/8"]
  subnet "app" { address_prefix = "10.0.0.0/9" }
}

storage_account "cache" {
  for_each        = local.subs
  name            = "stcache${substr(each.key, 32, 4)}"
  resource_group  = "rg-app"
  location        = "eastus"
  subscription_id = each.key
}

protected_vm "vm" {
  for_each              = local.fleet
  source_vm             = each.value.id
  region_pair           = region_pair.primary
  cache_storage         = storage_account.cache[each.value.sub]
  target_resource_group = resource_group.dr[each.value.sub]
  target_network        = virtual_network.dr
  target_subnet         = "app"
  target_vm_size        = each.value.size
  consistency_group     = each.value.group
  disk "*" { target_disk_type = "Premium_LRS" }
  nic "nic0" { target_static_ip = each.value.ip }
}

recovery_plan "first" {
  vault       = vault.dr
  region_pair = region_pair.primary
  group { vms = [for name, row in local.fleet : protected_vm.vm[name] if row.plan == "first"] }
}
"#;
    vec![
        ("main.asr.hcl".into(), hcl.into()),
        ("inventory.csv".into(), csv),
    ]
}
