# Quickstart: four VMs of a small web application in East US, protected by Azure Site Recovery into West US 2,
# failing over as one recovery plan (database first, then the app and web tiers).
#
# It runs against the embedded simulated Azure: the simulator seeds the source VMs from estate.json.
#   asrform validate examples/quickstart
#   asrform graph examples/quickstart | dot -Tsvg > graph.svg

provider "simulator" {
  estate = "estate.json"

  # Simulated seconds per real second: initial replication of these disks takes a few simulated hours, so
  # `apply --wait protected` finishes in about half a minute.
  clock_speed = 600
}

variable "source_subscription" {
  description = "Subscription of the source VMs (the simulator's first subscription)."
  default     = "00000000-0000-0000-0000-000000000001"
}

variable "target_region" {
  description = "Region the VMs fail over to."
  default     = "westus2"
}

locals {
  source_rg = "/subscriptions/${var.source_subscription}/resourceGroups/rg-app"

  # name => settings in the target region
  vms = {
    db01  = { tier = "db", size = "Standard_E4s_v5", ip = "10.20.1.10" }
    app01 = { tier = "app", size = "Standard_D4s_v5", ip = "10.20.1.20" }
    web01 = { tier = "web", size = "Standard_D2s_v5", ip = "10.20.1.30" }
    web02 = { tier = "web", size = "Standard_D2s_v5", ip = "10.20.1.31" }
  }
}

resource_group "dr" {
  name     = "rg-app-dr"
  location = var.target_region
}

vault "dr" {
  name           = "rsv-app-dr"
  resource_group = resource_group.dr
  location       = var.target_region
}

replication_policy "standard" {
  vault                    = vault.dr
  recovery_point_retention = "24h"
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
  name           = "vnet-app-dr"
  resource_group = resource_group.dr
  address_space  = ["10.20.0.0/16"]

  subnet "app" {
    address_prefix = "10.20.1.0/24"
  }
}

virtual_network "drill" {
  name           = "vnet-app-drill"
  resource_group = resource_group.dr
  address_space  = ["10.99.0.0/16"]

  subnet "app" {
    address_prefix = "10.99.1.0/24"
  }
}

network_mapping "app" {
  region_pair    = region_pair.primary
  source_network = "${local.source_rg}/providers/Microsoft.Network/virtualNetworks/vnet-app"
  target_network = virtual_network.dr
}

# The cache account lives in the SOURCE region, in the source VMs' subscription.
storage_account "cache" {
  name           = "stasrcacheeus01"
  resource_group = "rg-app"
  location       = "eastus"
}

protected_vm "app" {
  for_each = local.vms

  source_vm             = "${local.source_rg}/providers/Microsoft.Compute/virtualMachines/${each.key}"
  region_pair           = region_pair.primary
  cache_storage         = storage_account.cache
  target_resource_group = resource_group.dr
  target_network        = virtual_network.dr
  target_subnet         = "app"
  test_network          = virtual_network.drill
  target_vm_size        = each.value.size
  consistency_group     = "app-tier"

  disk "*" {
    target_disk_type = "Premium_LRS"
  }

  nic "nic0" {
    target_static_ip = each.value.ip
    test_static_ip   = replace(each.value.ip, "10.20.", "10.99.")
  }

  lifecycle {
    prevent_reseed = true
  }
}

recovery_plan "app" {
  vault       = vault.dr
  region_pair = region_pair.primary

  group {
    vms = [protected_vm.app["db01"]]
  }

  group {
    vms = [protected_vm.app["app01"]]

    pre_action "check-db" {
      type         = "manual"
      instructions = "Confirm the database accepts connections in the target region."
    }
  }

  group {
    vms = [for name, vm in protected_vm.app : vm if local.vms[name].tier == "web"]
  }

  active_site = "primary"
}

output "protected_vms" {
  description = "Addresses of the protected VMs."
  value       = keys(protected_vm.app)
}
