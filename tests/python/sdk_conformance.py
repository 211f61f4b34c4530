"""Conformance of the asrform simulator with the official Python SDK.

Drives a running simulator (``asrform sim serve`` or ``asrform::sim::serve`` in a Rust test) with
``azure-mgmt-recoveryservicessiterecovery==2.0.0``, unchanged apart from a fake credential and a static bearer
policy (the simulator is plain http on 127.0.0.1). Every long-running operation is driven by the SDK's own poller
(``begin_*().result()``), so any status code, header or body the SDK rejects fails the script.

Environment (set by tests/it/sim_python.rs):
  ASRFORM_SIM_URL   base URL, e.g. http://127.0.0.1:PORT
  ASRFORM_SIM_SUB   subscription id
The resource groups ``rg-vault``/``rg-dr``, VNets ``vnet-dr``/``vnet-test``, cache account ``cacheeast`` and vault
``vault1`` are created by the caller; the estate holds ``vm00001`` and ``vm00002`` in ``rg-app`` (eastus).
"""

import json
import os
import sys
import time
import urllib.request

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery import models as m

BASE = os.environ["ASRFORM_SIM_URL"].rstrip("/")
SUB = os.environ["ASRFORM_SIM_SUB"]
RG = "rg-vault"
VAULT = "vault1"


class FakeCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("fake-token", int(time.time()) + 3600)


class StaticBearer(SansIOHTTPPolicy):
    def on_request(self, request):
        request.http_request.headers["Authorization"] = "Bearer fake-token"


def operator(path, body=None, method="POST"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + "/_sim/" + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def rid(*parts):
    return "/subscriptions/%s/resourceGroups/%s" % (SUB, "/".join(parts))


def step(name):
    print("==>", name, flush=True)


client = SiteRecoveryManagementClient(FakeCredential(), SUB, base_url=BASE, authentication_policy=StaticBearer())
vault_id = rid(RG, "providers/Microsoft.RecoveryServices/vaults/" + VAULT)
policy_id = vault_id + "/replicationPolicies/pol"
src_vnet = rid("rg-app", "providers/Microsoft.Network/virtualNetworks/vnet-app")
dr_vnet = rid("rg-dr", "providers/Microsoft.Network/virtualNetworks/vnet-dr")
test_vnet = rid("rg-dr", "providers/Microsoft.Network/virtualNetworks/vnet-test")
cache = rid("rg-app", "providers/Microsoft.Storage/storageAccounts/cacheeast")

step("policy")
pol = client.replication_policies.begin_create(RG, VAULT, "pol", m.CreatePolicyInput(properties=m.CreatePolicyInputProperties(
    provider_specific_input=m.A2APolicyCreationInput(recovery_point_history=1440, app_consistent_frequency_in_minutes=240,
                                                     crash_consistent_frequency_in_minutes=5, multi_vm_sync_status="Enable")))).result()
assert pol.properties.provider_specific_details.instance_type == "A2A", pol
assert pol.properties.provider_specific_details.recovery_point_history == 1440

step("fabrics and containers")
for fabric, loc in (("src", "eastus"), ("tgt", "westus")):
    f = client.replication_fabrics.begin_create(RG, VAULT, fabric, m.FabricCreationInput(properties=m.FabricCreationInputProperties(
        custom_details=m.AzureFabricCreationInput(location=loc)))).result()
    assert f.properties.custom_details.instance_type == "Azure" and f.properties.custom_details.location == loc, f
    c = client.replication_protection_containers.begin_create(RG, VAULT, fabric, fabric + "-c", m.CreateProtectionContainerInput(
        properties=m.CreateProtectionContainerInputProperties(provider_specific_input=[m.A2AContainerCreationInput()]))).result()
    assert c.name == fabric + "-c", c
fabrics = list(client.replication_fabrics.list(RG, VAULT))
assert sorted(f.name for f in fabrics) == ["src", "tgt"], fabrics


def container_id(fabric):
    return vault_id + "/replicationFabrics/%s/replicationProtectionContainers/%s-c" % (fabric, fabric)


step("container mappings, both directions")
for frm, to, name in (("src", "tgt", "fwd"), ("tgt", "src", "rev")):
    mp = client.replication_protection_container_mappings.begin_create(RG, VAULT, frm, frm + "-c", name,
        m.CreateProtectionContainerMappingInput(properties=m.CreateProtectionContainerMappingInputProperties(
            target_protection_container_id=container_id(to), policy_id=policy_id,
            provider_specific_input=m.A2AContainerMappingInput(agent_auto_update_status="Disabled")))).result()
    assert mp.properties.state == "Paired", mp

step("network mappings, both directions")
for fabric, net, rec_fabric, prim, rec, name in (("src", "vnet-app", "tgt", src_vnet, dr_vnet, "fwd"), ("tgt", "vnet-dr", "src", dr_vnet, src_vnet, "rev")):
    nm = client.replication_network_mappings.begin_create(RG, VAULT, fabric, net, name, m.CreateNetworkMappingInput(
        properties=m.CreateNetworkMappingInputProperties(recovery_fabric_name=rec_fabric, recovery_network_id=rec,
            fabric_specific_details=m.AzureToAzureCreateNetworkMappingInput(primary_network_id=prim)))).result()
    assert nm.properties.state == "Paired", nm
nets = list(client.replication_networks.list_by_replication_fabrics(RG, VAULT, "src"))
assert any(n.name == "vnet-app" for n in nets), nets

step("enable protection for two VMs")
disks = json.loads(os.environ["ASRFORM_SIM_DISKS"])
pollers = []
for vm in ("vm00001", "vm00002"):
    vm_id = rid("rg-app", "providers/Microsoft.Compute/virtualMachines/" + vm)
    managed = [m.A2AVmManagedDiskInputDetails(disk_id=d, primary_staging_azure_storage_account_id=cache,
                                              recovery_resource_group_id=rid("rg-dr")) for d in disks[vm]]
    pollers.append(client.replication_protected_items.begin_create(RG, VAULT, "src", "src-c", vm, m.EnableProtectionInput(
        properties=m.EnableProtectionInputProperties(policy_id=policy_id, provider_specific_details=m.A2AEnableProtectionInput(
            fabric_object_id=vm_id, recovery_container_id=container_id("tgt"), recovery_resource_group_id=rid("rg-dr"),
            recovery_azure_network_id=dr_vnet, recovery_subnet_name="snet000", vm_managed_disks=managed)))))
items = [p.result() for p in pollers]
for it in items:
    assert it.properties.provider_specific_details.instance_type == "A2A", it

step("wait for Protected (advancing the simulator clock)")
for _ in range(500):
    states = [client.replication_protected_items.get(RG, VAULT, "src", "src-c", vm).properties.provider_specific_details.vm_protection_state
              for vm in ("vm00001", "vm00002")]
    if states == ["Protected", "Protected"]:
        break
    operator("advance", {"seconds": 1800})
else:
    raise SystemExit("items never became Protected: %s" % states)
operator("advance", {"seconds": 3600})
listed = list(client.replication_protected_items.list(RG, VAULT))
assert len(listed) == 2, listed

step("recovery points")
points = list(client.recovery_points.list_by_replication_protected_items(RG, VAULT, "src", "src-c", "vm00001"))
assert len(points) >= 12, len(points)
assert all(p.properties.recovery_point_type in ("CrashConsistent", "ApplicationConsistent") for p in points)

step("test failover and cleanup")
tfo = client.replication_protected_items.begin_test_failover(RG, VAULT, "src", "src-c", "vm00001", m.TestFailoverInput(
    properties=m.TestFailoverInputProperties(failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput",
        network_id=test_vnet, provider_specific_details=m.A2ATestFailoverInput(recovery_point_id=points[0].id)))).result()
assert tfo.properties.test_failover_state == "WaitingForCompletion", tfo.properties.test_failover_state
done = client.replication_protected_items.begin_test_failover_cleanup(RG, VAULT, "src", "src-c", "vm00001", m.TestFailoverCleanupInput(
    properties=m.TestFailoverCleanupInputProperties(comments="drill ok"))).result()
assert done.properties.test_failover_state == "None", done.properties.test_failover_state

step("unplanned failover")
fo = client.replication_protected_items.begin_unplanned_failover(RG, VAULT, "src", "src-c", "vm00001", m.UnplannedFailoverInput(
    properties=m.UnplannedFailoverInputProperties(failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
        provider_specific_details=m.A2AUnplannedFailoverInput()))).result()
assert fo.properties.protection_state == "UnplannedFailoverCommitPendingStatesBegin", fo.properties.protection_state
assert "Commit" in fo.properties.allowed_operations, fo.properties.allowed_operations

step("commit")
co = client.replication_protected_items.begin_failover_commit(RG, VAULT, "src", "src-c", "vm00001").result()
assert co.properties.protection_state == "UnplannedFailoverCommitted", co.properties.protection_state
lifecycle = co.properties.provider_specific_details.lifecycle_id
target_vm = co.properties.provider_specific_details.recovery_fabric_object_id
target_disks = [d.recovery_target_disk_id for d in co.properties.provider_specific_details.protected_managed_disks]

step("switch protection")
cache_west = rid("rg-dr", "providers/Microsoft.Storage/storageAccounts/cachewest")
sw = client.replication_protection_containers.begin_switch_protection(RG, VAULT, "src", "src-c", m.SwitchProtectionInput(
    properties=m.SwitchProtectionInputProperties(replication_protected_item_name="vm00001", provider_specific_details=m.A2ASwitchProtectionInput(
        recovery_container_id=container_id("src"), policy_id=policy_id, recovery_resource_group_id=rid("rg-app"),
        vm_managed_disks=[m.A2AVmManagedDiskInputDetails(disk_id=d, primary_staging_azure_storage_account_id=cache_west,
                                                         recovery_resource_group_id=rid("rg-app")) for d in target_disks])))).result()
assert sw.name == "src-c", sw
moved = [i for i in client.replication_protected_items.list(RG, VAULT) if i.properties.provider_specific_details.lifecycle_id == lifecycle]
assert len(moved) == 1 and "/replicationFabrics/tgt/" in moved[0].id, [i.id for i in moved]
assert moved[0].properties.provider_specific_details.fabric_object_id.lower() == target_vm.lower()

step("jobs")
jobs = list(client.replication_jobs.list(RG, VAULT))
scenarios = {j.properties.scenario_name for j in jobs}
for s in ("EnableDr", "TestFailover", "TestFailoverCleanup", "UnplannedFailover", "CommitFailover", "SwitchProtection"):
    assert s in scenarios, (s, scenarios)
print("SDK conformance: OK", flush=True)
