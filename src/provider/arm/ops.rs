//! Typed operations on ASR and ARM objects: each is one ARM call (run to completion through the LRO driver) with a
//! wire body, so `apply` never builds URLs or JSON itself.
//!
//! Paths follow asr-api.md §3; bodies are `{"properties": …}` wrappers around the wire inputs of `wire.rs`. The
//! body builders are public pure functions so tests can check exactly what is sent against the service's models.
//! This module must not decide whether an operation is allowed (that is `apply`'s job, using
//! `allowedOperations`), and must not retry POSTs (see `client.rs`).

use std::collections::BTreeMap;

use azure_core::http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::client::{ArmClient, LroOutcome};
use super::wire::{self, Input, Poly};
use crate::provider::{ArmId, ProviderError};

/// Wraps properties in `{"properties": …}` and serializes them: the body of every ASR input.
pub fn body<P: Serialize>(properties: P) -> Value {
    serde_json::to_value(Input { properties }).unwrap_or(Value::Null)
}

/// Body of a fabric create for an A2A region.
pub fn fabric_body(location: &str) -> Value {
    body(wire::FabricCreationInputProperties {
        custom_details: Some(Poly::Known(wire::AzureFabricCreationInput {
            location: Some(location.into()),
        })),
    })
}

/// Body of an A2A container create.
pub fn container_body() -> Value {
    body(wire::CreateProtectionContainerInputProperties {
        provider_specific_input: vec![Poly::Known(wire::A2AContainerCreationInput {})],
    })
}

/// Body of an A2A policy create.
pub fn policy_create_body(p: &wire::A2APolicyCreationInput) -> Value {
    body(wire::CreatePolicyInputProperties {
        provider_specific_input: Some(Poly::Known(p.clone())),
    })
}

/// Body of an A2A policy update.
pub fn policy_update_body(p: &wire::A2APolicyCreationInput) -> Value {
    body(wire::UpdatePolicyInputProperties {
        replication_provider_settings: Some(Poly::Known(p.clone())),
    })
}

/// Body of a container mapping create.
pub fn container_mapping_body(
    target_container: &ArmId,
    policy: &ArmId,
    a2a: wire::A2AContainerMappingInput,
) -> Value {
    body(wire::CreateProtectionContainerMappingInputProperties {
        target_protection_container_id: Some(target_container.to_string()),
        policy_id: Some(policy.to_string()),
        provider_specific_input: Some(Poly::Known(a2a)),
    })
}

/// Body of a network mapping create.
pub fn network_mapping_body(
    recovery_fabric_name: &str,
    source_vnet: &ArmId,
    target_vnet: &ArmId,
) -> Value {
    body(wire::CreateNetworkMappingInputProperties {
        recovery_fabric_name: Some(recovery_fabric_name.into()),
        recovery_network_id: target_vnet.to_string(),
        fabric_specific_details: Some(Poly::Known(wire::AzureToAzureCreateNetworkMappingInput {
            primary_network_id: source_vnet.to_string(),
        })),
    })
}

/// Body of an enable protection.
pub fn enable_protection_body(policy: &ArmId, a2a: wire::A2AEnableProtectionInput) -> Value {
    body(wire::EnableProtectionInputProperties {
        policy_id: Some(policy.to_string()),
        protectable_item_id: None,
        provider_specific_details: Some(Poly::Known(a2a)),
    })
}

/// Body of a disable protection (`POST …/remove`).
pub fn disable_protection_body() -> Value {
    body(wire::DisableProtectionInputProperties {
        disable_protection_reason: Some("NotSpecified".into()),
        replication_provider_input: Some(
            json!({"instanceType": "DisableProtectionProviderSpecificInput"}),
        ),
    })
}

/// Body of a test failover of one RPI.
pub fn test_failover_body(direction: &str, network: &ArmId, recovery_point: Option<&str>) -> Value {
    body(wire::TestFailoverInputProperties {
        failover_direction: Some(direction.into()),
        network_type: Some("VmNetworkAsInput".into()),
        network_id: Some(network.to_string()),
        provider_specific_details: Some(Poly::Known(wire::A2AFailoverInput {
            recovery_point_id: recovery_point.map(str::to_string),
            cloud_service_creation_option: None,
        })),
    })
}

/// Body of an unplanned failover of one RPI.
pub fn unplanned_failover_body(
    direction: &str,
    shut_down_source: bool,
    recovery_point: Option<&str>,
) -> Value {
    body(wire::UnplannedFailoverInputProperties {
        failover_direction: Some(direction.into()),
        source_site_operations: Some(
            if shut_down_source {
                "Required"
            } else {
                "NotRequired"
            }
            .into(),
        ),
        provider_specific_details: Some(Poly::Known(wire::A2AFailoverInput {
            recovery_point_id: recovery_point.map(str::to_string),
            cloud_service_creation_option: None,
        })),
    })
}

/// Body of an apply-recovery-point.
pub fn apply_recovery_point_body(recovery_point: &str) -> Value {
    body(wire::ApplyRecoveryPointInputProperties {
        recovery_point_id: Some(recovery_point.into()),
        provider_specific_details: Some(Poly::Known(wire::A2AApplyRecoveryPointInput {})),
    })
}

/// Body of a container switch protection (A2A reprotect).
pub fn switch_protection_body(rpi_name: &str, a2a: wire::A2ASwitchProtectionInput) -> Value {
    body(wire::SwitchProtectionInputProperties {
        replication_protected_item_name: Some(rpi_name.into()),
        provider_specific_details: Some(Poly::Known(a2a)),
    })
}

/// Body of a recovery plan create.
pub fn recovery_plan_body(
    primary_fabric: &ArmId,
    recovery_fabric: &ArmId,
    groups: Vec<wire::RecoveryPlanGroup>,
    zones: Option<wire::RecoveryPlanA2AInput>,
) -> Value {
    body(wire::CreateRecoveryPlanInputProperties {
        primary_fabric_id: primary_fabric.to_string(),
        recovery_fabric_id: recovery_fabric.to_string(),
        failover_deployment_model: Some("ResourceManager".into()),
        groups,
        provider_specific_input: zones.map(Poly::Known).into_iter().collect(),
    })
}

/// Body of a recovery plan test failover.
pub fn recovery_plan_test_failover_body(
    direction: &str,
    network: &ArmId,
    point: &str,
    multi_vm_sync: bool,
) -> Value {
    body(wire::RecoveryPlanFailoverInputProperties {
        failover_direction: direction.into(),
        network_type: Some("VmNetworkAsInput".into()),
        network_id: Some(network.to_string()),
        source_site_operations: None,
        provider_specific_details: vec![Poly::Known(plan_point(point, multi_vm_sync))],
    })
}

/// Body of a recovery plan unplanned failover.
pub fn recovery_plan_unplanned_failover_body(
    direction: &str,
    shut_down_source: bool,
    point: &str,
    multi_vm_sync: bool,
) -> Value {
    body(wire::RecoveryPlanFailoverInputProperties {
        failover_direction: direction.into(),
        network_type: None,
        network_id: None,
        source_site_operations: Some(
            if shut_down_source {
                "Required"
            } else {
                "NotRequired"
            }
            .into(),
        ),
        provider_specific_details: vec![Poly::Known(plan_point(point, multi_vm_sync))],
    })
}

fn plan_point(point: &str, multi_vm_sync: bool) -> wire::RecoveryPlanA2AFailoverInput {
    wire::RecoveryPlanA2AFailoverInput {
        recovery_point_type: point.into(),
        cloud_service_creation_option: None,
        multi_vm_sync_point_option: Some(
            if multi_vm_sync {
                "UseMultiVmSyncRecoveryPoint"
            } else {
                "UsePerVmRecoveryPoint"
            }
            .into(),
        ),
    }
}

/// A recovery plan action that runs on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAction {
    /// `testFailover` (body required).
    TestFailover,
    /// `testFailoverCleanup`.
    TestFailoverCleanup,
    /// `unplannedFailover` (body required).
    UnplannedFailover,
    /// `failoverCommit`.
    FailoverCommit,
    /// `failoverCancel`.
    FailoverCancel,
    /// `reProtect`.
    ReProtect,
}

impl PlanAction {
    fn path(self) -> &'static str {
        match self {
            Self::TestFailover => "testFailover",
            Self::TestFailoverCleanup => "testFailoverCleanup",
            Self::UnplannedFailover => "unplannedFailover",
            Self::FailoverCommit => "failoverCommit",
            Self::FailoverCancel => "failoverCancel",
            Self::ReProtect => "reProtect",
        }
    }
}

impl ArmClient {
    async fn run(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<LroOutcome, ProviderError> {
        self.execute(method, path, body.as_ref()).await
    }

    // --- ARM resources -------------------------------------------------------------------------------------------

    /// Creates or updates a resource group.
    pub async fn create_resource_group(
        &self,
        rg: &ArmId,
        location: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Put,
            rg.as_str(),
            Some(json!({"location": location, "tags": tags})),
        )
        .await
    }

    /// Creates or updates a Recovery Services vault (`sku` `Standard` or `RS0`, system-assigned identity).
    pub async fn create_vault(
        &self,
        vault: &ArmId,
        location: &str,
        sku: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<LroOutcome, ProviderError> {
        let b = json!({"location": location, "sku": {"name": sku}, "identity": {"type": "SystemAssigned"}, "tags": tags, "properties": {"publicNetworkAccess": "Enabled"}});
        self.run(Method::Put, vault.as_str(), Some(b)).await
    }

    /// Creates or updates a VNet with subnets `(name, prefix)`.
    pub async fn create_vnet(
        &self,
        vnet: &ArmId,
        location: &str,
        prefixes: &[String],
        subnets: &[(String, String)],
    ) -> Result<LroOutcome, ProviderError> {
        let subnets: Vec<Value> = subnets
            .iter()
            .map(|(n, p)| json!({"name": n, "properties": {"addressPrefix": p}}))
            .collect();
        let b = json!({"location": location, "properties": {"addressSpace": {"addressPrefixes": prefixes}, "subnets": subnets}});
        self.run(Method::Put, vnet.as_str(), Some(b)).await
    }

    /// Creates a storage account (cache accounts: `Standard_LRS`, `StorageV2`).
    pub async fn create_storage_account(
        &self,
        account: &ArmId,
        location: &str,
        sku: &str,
    ) -> Result<LroOutcome, ProviderError> {
        let b = json!({"location": location, "sku": {"name": sku}, "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false}});
        self.run(Method::Put, account.as_str(), Some(b)).await
    }

    /// Creates an availability set.
    pub async fn create_availability_set(
        &self,
        set: &ArmId,
        location: &str,
        fault_domains: i64,
        update_domains: i64,
    ) -> Result<LroOutcome, ProviderError> {
        let b = json!({"location": location, "sku": {"name": "Aligned"}, "properties": {"platformFaultDomainCount": fault_domains, "platformUpdateDomainCount": update_domains}});
        self.run(Method::Put, set.as_str(), Some(b)).await
    }

    /// Deletes any resource (RG, VNet, storage account, availability set, vault, ASR policy/network mapping purge).
    pub async fn delete(&self, id: &ArmId) -> Result<LroOutcome, ProviderError> {
        match self.run(Method::Delete, id.as_str(), None).await {
            Err(e) if e.is_not_found() => Ok(LroOutcome::default()),
            r => r,
        }
    }

    // --- ASR infrastructure --------------------------------------------------------------------------------------

    /// Creates a replication policy.
    pub async fn create_policy(
        &self,
        policy: &ArmId,
        p: &wire::A2APolicyCreationInput,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Put, policy.as_str(), Some(policy_create_body(p)))
            .await
    }

    /// Updates a replication policy.
    pub async fn update_policy(
        &self,
        policy: &ArmId,
        p: &wire::A2APolicyCreationInput,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Patch, policy.as_str(), Some(policy_update_body(p)))
            .await
    }

    /// Creates a fabric for a region.
    pub async fn create_fabric(
        &self,
        fabric: &ArmId,
        location: &str,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Put, fabric.as_str(), Some(fabric_body(location)))
            .await
    }

    /// Removes a fabric, container or container mapping gracefully (`POST …/remove`).
    pub async fn remove(&self, id: &ArmId) -> Result<LroOutcome, ProviderError> {
        let b = if id
            .as_str()
            .to_ascii_lowercase()
            .contains("/replicationprotectioncontainermappings/")
        {
            Some(json!({"properties": {"providerSpecificInput": {}}}))
        } else {
            None
        };
        self.run(Method::Post, &id.join("remove"), b).await
    }

    /// Creates a protection container.
    pub async fn create_container(&self, container: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Put, container.as_str(), Some(container_body()))
            .await
    }

    /// Creates a container mapping.
    pub async fn create_container_mapping(
        &self,
        mapping: &ArmId,
        target_container: &ArmId,
        policy: &ArmId,
        a2a: wire::A2AContainerMappingInput,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Put,
            mapping.as_str(),
            Some(container_mapping_body(target_container, policy, a2a)),
        )
        .await
    }

    /// Updates a container mapping's agent auto-update settings.
    pub async fn update_container_mapping(
        &self,
        mapping: &ArmId,
        a2a: wire::A2AUpdateContainerMappingInput,
    ) -> Result<LroOutcome, ProviderError> {
        let b = body(wire::UpdateProtectionContainerMappingInputProperties {
            provider_specific_input: Some(Poly::Known(a2a)),
        });
        self.run(Method::Patch, mapping.as_str(), Some(b)).await
    }

    /// Creates a network mapping (`mapping` is under `replicationNetworks/{source VNet name}`).
    pub async fn create_network_mapping(
        &self,
        mapping: &ArmId,
        recovery_fabric_name: &str,
        source_vnet: &ArmId,
        target_vnet: &ArmId,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Put,
            mapping.as_str(),
            Some(network_mapping_body(
                recovery_fabric_name,
                source_vnet,
                target_vnet,
            )),
        )
        .await
    }

    // --- Protected items -----------------------------------------------------------------------------------------

    /// Enables protection of a VM.
    pub async fn enable_protection(
        &self,
        rpi: &ArmId,
        policy: &ArmId,
        a2a: wire::A2AEnableProtectionInput,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Put,
            rpi.as_str(),
            Some(enable_protection_body(policy, a2a)),
        )
        .await
    }

    /// Updates an RPI's target settings.
    pub async fn update_protected_item(
        &self,
        rpi: &ArmId,
        p: wire::UpdateReplicationProtectedItemInputProperties,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Patch, rpi.as_str(), Some(body(p))).await
    }

    /// Disables protection (clean removal).
    pub async fn disable_protection(&self, rpi: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Post,
            &rpi.join("remove"),
            Some(disable_protection_body()),
        )
        .await
    }

    /// Purges an RPI (force delete).
    pub async fn purge_protected_item(&self, rpi: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.delete(rpi).await
    }

    /// Starts and waits for a test failover.
    pub async fn test_failover(
        &self,
        rpi: &ArmId,
        direction: &str,
        network: &ArmId,
        recovery_point: Option<&str>,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Post,
            &rpi.join("testFailover"),
            Some(test_failover_body(direction, network, recovery_point)),
        )
        .await
    }

    /// Cleans up a test failover.
    pub async fn test_failover_cleanup(
        &self,
        rpi: &ArmId,
        comments: &str,
    ) -> Result<LroOutcome, ProviderError> {
        let b = body(wire::TestFailoverCleanupInputProperties {
            comments: Some(comments.into()),
        });
        self.run(Method::Post, &rpi.join("testFailoverCleanup"), Some(b))
            .await
    }

    /// Fails over (A2A "planned" failover is this with `shut_down_source`).
    pub async fn unplanned_failover(
        &self,
        rpi: &ArmId,
        direction: &str,
        shut_down_source: bool,
        recovery_point: Option<&str>,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Post,
            &rpi.join("unplannedFailover"),
            Some(unplanned_failover_body(
                direction,
                shut_down_source,
                recovery_point,
            )),
        )
        .await
    }

    /// Changes the recovery point of a failed-over item before commit.
    pub async fn apply_recovery_point(
        &self,
        rpi: &ArmId,
        recovery_point: &str,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Post,
            &rpi.join("applyRecoveryPoint"),
            Some(apply_recovery_point_body(recovery_point)),
        )
        .await
    }

    /// Commits a failover.
    pub async fn failover_commit(&self, rpi: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Post, &rpi.join("failoverCommit"), None)
            .await
    }

    /// Cancels a failover.
    pub async fn failover_cancel(&self, rpi: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Post, &rpi.join("failoverCancel"), None)
            .await
    }

    /// Reprotects an A2A item through its container's `switchprotection`.
    pub async fn switch_protection(
        &self,
        rpi: &ArmId,
        a2a: wire::A2ASwitchProtectionInput,
    ) -> Result<LroOutcome, ProviderError> {
        let container = rpi
            .parent()
            .ok_or_else(|| ProviderError::Config(format!("{rpi} is not a protected item id")))?;
        self.run(
            Method::Post,
            &container.join("switchprotection"),
            Some(switch_protection_body(rpi.name(), a2a)),
        )
        .await
    }

    /// Lists an RPI's recovery points.
    pub async fn recovery_points(
        &self,
        rpi: &ArmId,
    ) -> Result<Vec<wire::RecoveryPoint>, ProviderError> {
        self.list(&rpi.join("recoveryPoints")).await
    }

    // --- Recovery plans ------------------------------------------------------------------------------------------

    /// Creates a recovery plan.
    pub async fn create_recovery_plan(
        &self,
        plan: &ArmId,
        body: Value,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Put, plan.as_str(), Some(body)).await
    }

    /// Replaces a recovery plan's groups.
    pub async fn update_recovery_plan(
        &self,
        plan: &ArmId,
        groups: Vec<wire::RecoveryPlanGroup>,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(
            Method::Patch,
            plan.as_str(),
            Some(body(wire::UpdateRecoveryPlanInputProperties { groups })),
        )
        .await
    }

    /// Runs a recovery plan action. `body` is required for failovers, ignored otherwise except cleanup comments.
    pub async fn recovery_plan_action(
        &self,
        plan: &ArmId,
        action: PlanAction,
        body: Option<Value>,
    ) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Post, &plan.join(action.path()), body)
            .await
    }

    // --- Jobs ----------------------------------------------------------------------------------------------------

    /// The job an RPI or recovery plan is running now (`properties.currentScenario.jobId`), if any: how an
    /// operation started with [`ArmClient::begin`] is tied to its ASR job when the LRO headers do not name it.
    pub async fn current_job(&self, item: &ArmId) -> Result<Option<String>, ProviderError> {
        let v = self.get_value(item.as_str()).await?;
        Ok(super::lro::job_id(None, v.as_ref()))
    }

    /// Reads a job.
    pub async fn job(&self, job: &str) -> Result<Option<wire::Job>, ProviderError> {
        self.get(job).await
    }

    /// Cancels a job.
    pub async fn cancel_job(&self, job: &ArmId) -> Result<LroOutcome, ProviderError> {
        self.run(Method::Post, &job.join("cancel"), None).await
    }
}
