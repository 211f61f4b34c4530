# Fleet: 240 VMs from a CSV inventory, protected from East US into West US 2.
#
# Two consistency-group tiers (databases in groups of 10, application servers in groups of 15: ASR allows 16 per
# group) and three recovery plans, one per business unit, each failing over its databases before its app tier.
# Adding a VM is one line in inventory.csv.

provider "simulator" {
  estate = "estate.json"
}

variable "source_subscription" {
  description = "Subscription of the source VMs."
  default     = "00000000-0000-0000-0000-000000000001"
}

variable "target_region" {
  description = "Region the fleet fails over to."
  default     = "westus2"

  validation {
    condition     = var.target_region != "eastus"
    error_message = "The target region must differ from the source region (eastus)."
  }
}

locals {
  inventory = csvdecode(file("inventory.csv"))
  vms       = { for row in local.inventory : row.name => row }
  plans     = toset([for row in local.inventory : row.plan])
  source_rg = "/subscriptions/${var.source_subscription}/resourceGroups/rg-fleet"
}

resource_group "dr" {
  name     = "rg-fleet-dr"
  location = var.target_region
}

vault "dr" {
  name           = "rsv-fleet-dr"
  resource_group = resource_group.dr
  location       = var.target_region
}

replication_policy "standard" {
  vault                    = vault.dr
  recovery_point_retention = "72h"
  app_consistent_interval  = "4h"
  multi_vm_sync            = true
}

region_pair "primary" {
  vault  = vault.dr
  source = "eastus"
  target = var.target_region
  policy = replication_policy.standard
}

virtual_network "dr" {
  name           = "vnet-fleet-dr"
  resource_group = resource_group.dr
  address_space  = ["10.30.0.0/16"]

  subnet "db" {
    address_prefix = cidrsubnet("10.30.0.0/16", 8, 1)
  }
  subnet "app" {
    address_prefix = cidrsubnet("10.30.0.0/16", 8, 2)
  }
}

virtual_network "drill" {
  name           = "vnet-fleet-drill"
  resource_group = resource_group.dr
  address_space  = ["10.98.0.0/16"]

  subnet "db" {
    address_prefix = "10.98.1.0/24"
  }
  subnet "app" {
    address_prefix = "10.98.2.0/24"
  }
}

network_mapping "fleet" {
  region_pair    = region_pair.primary
  source_network = "${local.source_rg}/providers/Microsoft.Network/virtualNetworks/vnet-fleet"
  target_network = virtual_network.dr
}

storage_account "cache" {
  name           = "stasrcachefleeteus"
  resource_group = "rg-fleet"
  location       = "eastus"
}

protected_vm "fleet" {
  for_each = local.vms

  source_vm             = "${local.source_rg}/providers/Microsoft.Compute/virtualMachines/${each.key}"
  region_pair           = region_pair.primary
  cache_storage         = storage_account.cache
  target_resource_group = resource_group.dr
  target_network        = virtual_network.dr
  target_subnet         = each.value.tier
  test_network          = virtual_network.drill
  target_vm_size        = each.value.size
  consistency_group     = each.value.consistency_group

  disk "*" {
    target_disk_type = each.value.disk_type
  }

  nic "nic0" {
    target_static_ip = each.value.dr_ip
    test_subnet      = each.value.tier
    test_static_ip   = each.value.drill_ip
  }

  lifecycle {
    prevent_reseed = true
  }
}

recovery_plan "unit" {
  for_each = local.plans

  vault       = vault.dr
  region_pair = region_pair.primary
  name        = "rp-${each.key}"

  group {
    vms = [for name, vm in protected_vm.fleet : vm if local.vms[name].plan == each.key && local.vms[name].tier == "db"]
  }

  group {
    vms = [for name, vm in protected_vm.fleet : vm if local.vms[name].plan == each.key && local.vms[name].tier == "app"]

    pre_action "smoke-db" {
      type         = "manual"
      instructions = "Check that the ${each.key} databases are up before the app tier starts."
    }
  }
}
