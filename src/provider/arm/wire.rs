//! Serde DTOs for the ARM and ASR (A2A) request and response bodies the client uses, at api-version 2025-08-01.
//!
//! Field names are the wire names (camelCase, including the service's misspellings `isSeletedForFailover` and
//! `recoveryOrignalTargetDiskId`). Every response type is `#[serde(default)]` and ignores unknown fields, so newer
//! api-versions and partial bodies decode; polymorphic objects ([`Poly`]) keep an unknown `instanceType` payload
//! raw instead of failing. Input types skip `None` fields so request bodies carry only what we set. This module
//! owns shapes only: no conversions to planner types (see `snapshot.rs`) and no I/O.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A type that is one case of a polymorphic (`instanceType`-discriminated) object.
pub trait Tagged {
    /// The discriminator value.
    const TAG: &'static str;
}

/// A polymorphic object: the case we know, or any other provider's payload kept raw.
#[derive(Debug, Clone, PartialEq)]
pub enum Poly<T> {
    /// The case we model.
    Known(T),
    /// Another `instanceType` (or an unreadable payload), kept as is.
    Other(Value),
}

impl<T> Poly<T> {
    /// The known case, if it is one.
    pub fn known(&self) -> Option<&T> {
        match self {
            Self::Known(t) => Some(t),
            Self::Other(_) => None,
        }
    }
    /// The `instanceType` of an unknown payload, or `None` for the known case.
    pub fn other_instance_type(&self) -> Option<&str> {
        match self {
            Self::Known(_) => None,
            Self::Other(v) => v.get("instanceType").and_then(Value::as_str),
        }
    }
}

impl<T: Tagged> Poly<T> {
    /// The discriminator of this value.
    pub fn instance_type(&self) -> Option<&str> {
        match self {
            Self::Known(_) => Some(T::TAG),
            Self::Other(v) => v.get("instanceType").and_then(Value::as_str),
        }
    }
}

impl<T: Default> Default for Poly<T> {
    fn default() -> Self {
        Self::Known(T::default())
    }
}

impl<T: Tagged + Serialize> Serialize for Poly<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Known(t) => {
                let mut v = serde_json::to_value(t).map_err(serde::ser::Error::custom)?;
                if let Value::Object(m) = &mut v {
                    m.insert("instanceType".into(), Value::String(T::TAG.into()));
                }
                v.serialize(s)
            }
            Self::Other(v) => v.serialize(s),
        }
    }
}

impl<'de, T: Tagged + DeserializeOwned> Deserialize<'de> for Poly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let tag = v.get("instanceType").and_then(Value::as_str);
        if tag.is_some_and(|t| t.eq_ignore_ascii_case(T::TAG)) {
            // A known tag with a malformed body is kept raw rather than failing the whole read.
            Ok(serde_json::from_value(v.clone())
                .map(Self::Known)
                .unwrap_or(Self::Other(v)))
        } else {
            Ok(Self::Other(v))
        }
    }
}

macro_rules! tagged {
    ($($t:ty => $tag:literal),* $(,)?) => { $(impl Tagged for $t { const TAG: &'static str = $tag; })* };
}

/// A page of a list response.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page, absent on the last.
    #[serde(default)]
    pub next_link: Option<String>,
}

/// The ARM envelope of a resource.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Resource<P> {
    /// ARM id.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// ARM type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Region.
    pub location: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Zones.
    pub zones: Option<Vec<String>>,
    /// SKU.
    pub sku: Option<Sku>,
    /// Storage account kind.
    #[serde(rename = "kind")]
    pub account_kind: Option<String>,
    /// Managed identity.
    pub identity: Option<Value>,
    /// Properties.
    pub properties: P,
}

/// A SKU.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Sku {
    /// Name.
    pub name: String,
    /// Tier.
    pub tier: Option<String>,
}

/// An edge zone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ExtendedLocation {
    /// Name.
    pub name: String,
    /// `EdgeZone`.
    #[serde(rename = "type")]
    pub kind: String,
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

/// `{"properties": …}`: every ASR input has this shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Input<P> {
    /// Properties.
    pub properties: P,
}

/// Fabric create properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct FabricCreationInputProperties {
    /// `Azure` custom details.
    pub custom_details: Option<Poly<AzureFabricCreationInput>>,
}

/// A2A fabric details: the region the fabric stands for.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureFabricCreationInput {
    /// Region.
    pub location: Option<String>,
}

/// Container create properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateProtectionContainerInputProperties {
    /// `[{"instanceType":"A2A"}]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_specific_input: Vec<Poly<A2AContainerCreationInput>>,
}

/// A2A container input (no fields besides the tag).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct A2AContainerCreationInput {}

/// Policy create properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CreatePolicyInputProperties {
    /// A2A settings.
    pub provider_specific_input: Option<Poly<A2APolicyCreationInput>>,
}

/// Policy update properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdatePolicyInputProperties {
    /// A2A settings.
    pub replication_provider_settings: Option<Poly<A2APolicyCreationInput>>,
}

/// A2A policy settings.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2APolicyCreationInput {
    /// Retention in minutes.
    pub recovery_point_history: Option<i64>,
    /// Crash-consistent frequency in minutes.
    pub crash_consistent_frequency_in_minutes: Option<i64>,
    /// App-consistent frequency in minutes.
    pub app_consistent_frequency_in_minutes: Option<i64>,
    /// `Enable` or `Disable` (required).
    pub multi_vm_sync_status: String,
}

/// Container mapping create properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateProtectionContainerMappingInputProperties {
    /// Full ARM id of the target container.
    pub target_protection_container_id: Option<String>,
    /// Policy id.
    pub policy_id: Option<String>,
    /// A2A settings.
    pub provider_specific_input: Option<Poly<A2AContainerMappingInput>>,
}

/// Container mapping update properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateProtectionContainerMappingInputProperties {
    /// A2A settings.
    pub provider_specific_input: Option<Poly<A2AUpdateContainerMappingInput>>,
}

/// A2A container mapping settings (agent auto-update).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AContainerMappingInput {
    /// `Enabled`/`Disabled`.
    pub agent_auto_update_status: Option<String>,
    /// Automation account.
    pub automation_account_arm_id: Option<String>,
    /// `SystemAssignedIdentity` (RunAsAccount is retired).
    pub automation_account_authentication_type: Option<String>,
}

/// The same fields for updates (a distinct type on the wire).
pub type A2AUpdateContainerMappingInput = A2AContainerMappingInputUpdate;

/// A2A container mapping update settings.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AContainerMappingInputUpdate {
    /// `Enabled`/`Disabled`.
    pub agent_auto_update_status: Option<String>,
    /// Automation account.
    pub automation_account_arm_id: Option<String>,
    /// Authentication type.
    pub automation_account_authentication_type: Option<String>,
}

/// Network mapping create properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateNetworkMappingInputProperties {
    /// Target fabric NAME.
    pub recovery_fabric_name: Option<String>,
    /// Target VNet id.
    pub recovery_network_id: String,
    /// `AzureToAzure` details.
    pub fabric_specific_details: Option<Poly<AzureToAzureCreateNetworkMappingInput>>,
}

/// A2A network mapping details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureToAzureCreateNetworkMappingInput {
    /// Source VNet id.
    pub primary_network_id: String,
}

/// Enable protection properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct EnableProtectionInputProperties {
    /// Policy id.
    pub policy_id: Option<String>,
    /// Not needed for A2A.
    pub protectable_item_id: Option<String>,
    /// A2A input.
    pub provider_specific_details: Option<Poly<A2AEnableProtectionInput>>,
}

/// ADE key details.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DiskEncryptionInfo {
    /// Disk encryption key.
    pub disk_encryption_key_info: Option<DiskEncryptionKeyInfo>,
    /// Key encryption key.
    pub key_encryption_key_info: Option<KeyEncryptionKeyInfo>,
}

/// Disk encryption key.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DiskEncryptionKeyInfo {
    /// Secret URL.
    pub secret_identifier: Option<String>,
    /// Key vault id.
    pub key_vault_resource_arm_id: Option<String>,
}

/// Key encryption key.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyEncryptionKeyInfo {
    /// Key URL.
    pub key_identifier: Option<String>,
    /// Key vault id.
    pub key_vault_resource_arm_id: Option<String>,
}

/// One managed disk to replicate.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AVmManagedDiskInputDetails {
    /// Source disk id.
    pub disk_id: String,
    /// Cache storage account in the source region.
    pub primary_staging_azure_storage_account_id: String,
    /// Target RG for replica and target disks.
    pub recovery_resource_group_id: String,
    /// Replica disk type.
    pub recovery_replica_disk_account_type: Option<String>,
    /// Target disk type.
    pub recovery_target_disk_account_type: Option<String>,
    /// Target DES.
    pub recovery_disk_encryption_set_id: Option<String>,
    /// ADE keys.
    pub disk_encryption_info: Option<DiskEncryptionInfo>,
}

/// One unmanaged disk to replicate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AVmDiskInputDetails {
    /// VHD URI.
    pub disk_uri: String,
    /// Target storage account.
    pub recovery_azure_storage_account_id: String,
    /// Cache storage account.
    pub primary_staging_azure_storage_account_id: String,
}

/// A2A enable protection input.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AEnableProtectionInput {
    /// Source VM id (required).
    pub fabric_object_id: String,
    /// Target container id.
    pub recovery_container_id: Option<String>,
    /// Target RG id.
    pub recovery_resource_group_id: Option<String>,
    /// Target availability set.
    pub recovery_availability_set_id: Option<String>,
    /// Target zone.
    pub recovery_availability_zone: Option<String>,
    /// Target PPG.
    pub recovery_proximity_placement_group_id: Option<String>,
    /// Target VMSS.
    pub recovery_virtual_machine_scale_set_id: Option<String>,
    /// Target capacity reservation group.
    pub recovery_capacity_reservation_group_id: Option<String>,
    /// Boot diagnostics account.
    pub recovery_boot_diag_storage_account_id: Option<String>,
    /// Target VNet.
    pub recovery_azure_network_id: Option<String>,
    /// Target subnet.
    pub recovery_subnet_name: Option<String>,
    /// Edge zone.
    pub recovery_extended_location: Option<ExtendedLocation>,
    /// Fault domain.
    pub platform_fault_domain: Option<i64>,
    /// Unmanaged disks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_disks: Vec<A2AVmDiskInputDetails>,
    /// Managed disks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_managed_disks: Vec<A2AVmManagedDiskInputDetails>,
    /// Multi-VM group name.
    pub multi_vm_group_name: Option<String>,
    /// Multi-VM group id.
    pub multi_vm_group_id: Option<String>,
    /// ADE two-pass keys.
    pub disk_encryption_info: Option<DiskEncryptionInfo>,
    /// `Enabled`/`Disabled`.
    pub auto_protection_of_data_disk: Option<String>,
}

/// RPI update properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateReplicationProtectedItemInputProperties {
    /// Target VM name.
    #[serde(
        rename = "recoveryAzureVMName",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_azure_vm_name: Option<String>,
    /// Target VM size.
    #[serde(
        rename = "recoveryAzureVMSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_azure_vm_size: Option<String>,
    /// Failover VNet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_recovery_azure_network_id: Option<String>,
    /// Test failover VNet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_tfo_azure_network_id: Option<String>,
    /// Primary NIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_source_nic_id: Option<String>,
    /// RDP option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_rdp_on_target_option: Option<String>,
    /// NICs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_nics: Vec<VmNicInputDetails>,
    /// `NotSpecified|NoLicenseType|WindowsServer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_type: Option<String>,
    /// Target availability set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_availability_set_id: Option<String>,
    /// A2A part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_specific_details: Option<Poly<A2AUpdateReplicationProtectedItemInput>>,
}

/// One NIC's target settings in an update.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct VmNicInputDetails {
    /// ASR's opaque NIC id (from the RPI's `vmNics[].nicId`).
    pub nic_id: String,
    /// IP configurations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_configs: Vec<IpConfigInputDetails>,
    /// Selection type.
    pub selection_type: Option<String>,
    /// Target NSG.
    pub recovery_network_security_group_id: Option<String>,
    /// Accelerated networking on failover.
    pub enable_accelerated_networking_on_recovery: Option<bool>,
    /// Test failover NSG.
    pub tfo_network_security_group_id: Option<String>,
    /// Accelerated networking on test failover.
    pub enable_accelerated_networking_on_tfo: Option<bool>,
    /// Target NIC name.
    pub recovery_nic_name: Option<String>,
    /// Target NIC RG.
    pub recovery_nic_resource_group_name: Option<String>,
    /// Reuse an existing NIC.
    pub reuse_existing_nic: Option<bool>,
    /// Test failover NIC name.
    pub tfo_nic_name: Option<String>,
    /// Test failover NIC RG.
    pub tfo_nic_resource_group_name: Option<String>,
    /// Reuse an existing test failover NIC.
    pub tfo_reuse_existing_nic: Option<bool>,
    /// Target NIC name.
    pub target_nic_name: Option<String>,
}

/// One IP configuration's target settings in an update.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct IpConfigInputDetails {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_config_name: Option<String>,
    /// Primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    /// Selected for failover (the service's spelling).
    #[serde(
        rename = "isSeletedForFailover",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_selected_for_failover: Option<bool>,
    /// Target subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_subnet_name: Option<String>,
    /// Target static IP.
    #[serde(
        rename = "recoveryStaticIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_static_ip_address: Option<String>,
    /// Target public IP.
    #[serde(
        rename = "recoveryPublicIPAddressId",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_public_ip_address_id: Option<String>,
    /// Target LB pools.
    #[serde(
        rename = "recoveryLBBackendAddressPoolIds",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub recovery_lb_backend_address_pool_ids: Vec<String>,
    /// Test failover subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tfo_subnet_name: Option<String>,
    /// Test failover static IP.
    #[serde(rename = "tfoStaticIPAddress", skip_serializing_if = "Option::is_none")]
    pub tfo_static_ip_address: Option<String>,
    /// Test failover public IP.
    #[serde(
        rename = "tfoPublicIPAddressId",
        skip_serializing_if = "Option::is_none"
    )]
    pub tfo_public_ip_address_id: Option<String>,
    /// Test failover LB pools.
    #[serde(
        rename = "tfoLBBackendAddressPoolIds",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tfo_lb_backend_address_pool_ids: Vec<String>,
}

/// A2A part of an RPI update.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AUpdateReplicationProtectedItemInput {
    /// Target RG.
    pub recovery_resource_group_id: Option<String>,
    /// Per-disk updates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_disk_update_details: Vec<A2AVmManagedDiskUpdateDetails>,
    /// Boot diagnostics account.
    pub recovery_boot_diag_storage_account_id: Option<String>,
    /// ADE keys.
    pub disk_encryption_info: Option<DiskEncryptionInfo>,
    /// Test failover VM name.
    #[serde(rename = "tfoAzureVMName")]
    pub tfo_azure_vm_name: Option<String>,
    /// Target PPG.
    pub recovery_proximity_placement_group_id: Option<String>,
    /// Target VMSS.
    pub recovery_virtual_machine_scale_set_id: Option<String>,
    /// Target capacity reservation group.
    pub recovery_capacity_reservation_group_id: Option<String>,
    /// Target zone.
    pub recovery_availability_zone: Option<String>,
    /// Fault domain.
    pub platform_fault_domain: Option<i64>,
}

/// Per-disk update.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AVmManagedDiskUpdateDetails {
    /// Disk id.
    pub disk_id: String,
    /// Target disk type.
    pub recovery_target_disk_account_type: Option<String>,
    /// Replica disk type.
    pub recovery_replica_disk_account_type: Option<String>,
    /// ADE keys.
    pub disk_encryption_info: Option<DiskEncryptionInfo>,
    /// Failover disk name.
    pub failover_disk_name: Option<String>,
    /// Test failover disk name.
    pub tfo_disk_name: Option<String>,
}

/// Disable protection properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DisableProtectionInputProperties {
    /// `NotSpecified` or `MigrationComplete`.
    pub disable_protection_reason: Option<String>,
    /// `{"instanceType":"DisableProtectionProviderSpecificInput"}`.
    pub replication_provider_input: Option<Value>,
}

/// Test failover properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct TestFailoverInputProperties {
    /// `PrimaryToRecovery` or `RecoveryToPrimary`.
    pub failover_direction: Option<String>,
    /// `VmNetworkAsInput`.
    pub network_type: Option<String>,
    /// Test VNet.
    pub network_id: Option<String>,
    /// A2A part.
    pub provider_specific_details: Option<Poly<A2AFailoverInput>>,
}

/// A2A part of (test) failover: the recovery point.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AFailoverInput {
    /// Recovery point id; absent means latest.
    pub recovery_point_id: Option<String>,
    /// Classic only.
    pub cloud_service_creation_option: Option<String>,
}

/// Test failover cleanup properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct TestFailoverCleanupInputProperties {
    /// Comments.
    pub comments: Option<String>,
}

/// Unplanned failover properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct UnplannedFailoverInputProperties {
    /// Direction.
    pub failover_direction: Option<String>,
    /// `Required` (shut the source down first) or `NotRequired`.
    pub source_site_operations: Option<String>,
    /// A2A part.
    pub provider_specific_details: Option<Poly<A2AFailoverInput>>,
}

/// Apply recovery point properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplyRecoveryPointInputProperties {
    /// Recovery point id.
    pub recovery_point_id: Option<String>,
    /// `{"instanceType":"A2A"}`.
    pub provider_specific_details: Option<Poly<A2AApplyRecoveryPointInput>>,
}

/// A2A apply recovery point (tag only).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct A2AApplyRecoveryPointInput {}

/// Switch protection properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SwitchProtectionInputProperties {
    /// The RPI's name.
    pub replication_protected_item_name: Option<String>,
    /// A2A part.
    pub provider_specific_details: Option<Poly<A2ASwitchProtectionInput>>,
}

/// A2A switch protection (reprotect) input.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2ASwitchProtectionInput {
    /// Target container of the reverse mapping.
    pub recovery_container_id: Option<String>,
    /// Unmanaged disks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_disks: Vec<A2AVmDiskInputDetails>,
    /// Managed disks, with cache accounts in the now-active region.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm_managed_disks: Vec<A2AVmManagedDiskInputDetails>,
    /// Target RG.
    pub recovery_resource_group_id: Option<String>,
    /// Target availability set.
    pub recovery_availability_set_id: Option<String>,
    /// Policy of the reverse mapping.
    pub policy_id: Option<String>,
    /// Boot diagnostics account.
    pub recovery_boot_diag_storage_account_id: Option<String>,
    /// Target zone.
    pub recovery_availability_zone: Option<String>,
    /// Target PPG.
    pub recovery_proximity_placement_group_id: Option<String>,
    /// Target VMSS.
    pub recovery_virtual_machine_scale_set_id: Option<String>,
    /// Target capacity reservation group.
    pub recovery_capacity_reservation_group_id: Option<String>,
    /// Fault domain.
    pub platform_fault_domain: Option<i64>,
    /// ADE keys.
    pub disk_encryption_info: Option<DiskEncryptionInfo>,
}

/// Recovery plan create properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateRecoveryPlanInputProperties {
    /// Source fabric id.
    pub primary_fabric_id: String,
    /// Target fabric id.
    pub recovery_fabric_id: String,
    /// `ResourceManager`.
    pub failover_deployment_model: Option<String>,
    /// Groups.
    pub groups: Vec<RecoveryPlanGroup>,
    /// A2A zone settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_specific_input: Vec<Poly<RecoveryPlanA2AInput>>,
}

/// Recovery plan update properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateRecoveryPlanInputProperties {
    /// Groups.
    pub groups: Vec<RecoveryPlanGroup>,
}

/// A recovery plan group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanGroup {
    /// `Shutdown`, `Failover` or `Boot`.
    pub group_type: String,
    /// Members.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replication_protected_items: Vec<RecoveryPlanProtectedItem>,
    /// Actions before the group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_group_actions: Vec<RecoveryPlanAction>,
    /// Actions after the group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub end_group_actions: Vec<RecoveryPlanAction>,
}

/// A member of a group.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanProtectedItem {
    /// RPI id.
    pub id: Option<String>,
    /// VM id.
    pub virtual_machine_id: Option<String>,
}

/// A plan action (runbook, manual step or script).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanAction {
    /// Name.
    pub action_name: String,
    /// Failover types it applies to.
    pub failover_types: Vec<String>,
    /// Directions it applies to.
    pub failover_directions: Vec<String>,
    /// Details (polymorphic; kept raw: `AutomationRunbookActionDetails`, `ManualActionDetails`, `ScriptActionDetails`).
    pub custom_details: Value,
}

/// A2A zone settings of a plan.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanA2AInput {
    /// Source zone.
    pub primary_zone: Option<String>,
    /// Target zone.
    pub recovery_zone: Option<String>,
    /// Source edge zone.
    pub primary_extended_location: Option<ExtendedLocation>,
    /// Target edge zone.
    pub recovery_extended_location: Option<ExtendedLocation>,
}

/// Recovery plan (test) failover properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanFailoverInputProperties {
    /// Direction.
    pub failover_direction: String,
    /// `VmNetworkAsInput` (test failover only).
    pub network_type: Option<String>,
    /// Test VNet (test failover only).
    pub network_id: Option<String>,
    /// `Required`/`NotRequired` (unplanned failover only).
    pub source_site_operations: Option<String>,
    /// A2A recovery point choice.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_specific_details: Vec<Poly<RecoveryPlanA2AFailoverInput>>,
}

/// A2A recovery point choice for a plan.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanA2AFailoverInput {
    /// `Latest|LatestApplicationConsistent|LatestCrashConsistent|LatestProcessed`.
    pub recovery_point_type: String,
    /// Classic only.
    pub cloud_service_creation_option: Option<String>,
    /// `UseMultiVmSyncRecoveryPoint|UsePerVmRecoveryPoint`.
    pub multi_vm_sync_point_option: Option<String>,
}

/// Recovery plan test failover cleanup properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanTestFailoverCleanupInputProperties {
    /// Comments.
    pub comments: Option<String>,
}

tagged!(
    AzureFabricCreationInput => "Azure",
    A2AContainerCreationInput => "A2A",
    A2APolicyCreationInput => "A2A",
    A2AContainerMappingInput => "A2A",
    A2AContainerMappingInputUpdate => "A2A",
    AzureToAzureCreateNetworkMappingInput => "AzureToAzure",
    A2AEnableProtectionInput => "A2A",
    A2AUpdateReplicationProtectedItemInput => "A2A",
    A2AFailoverInput => "A2A",
    A2AApplyRecoveryPointInput => "A2A",
    A2ASwitchProtectionInput => "A2A",
    RecoveryPlanA2AInput => "A2A",
    RecoveryPlanA2AFailoverInput => "A2A",
);

// ---------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------

/// Fabric properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct FabricProperties {
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// Internal id.
    pub internal_identifier: Option<String>,
    /// BCDR state.
    pub bcdr_state: Option<String>,
    /// Health.
    pub health: Option<String>,
    /// Health errors.
    pub health_error_details: Vec<HealthError>,
    /// Custom details (`Azure` for A2A).
    pub custom_details: Option<Poly<AzureFabricSpecificDetails>>,
}

/// A2A fabric details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureFabricSpecificDetails {
    /// Region.
    pub location: Option<String>,
    /// Container ids.
    pub container_ids: Vec<String>,
    /// Zones.
    pub zones: Vec<Value>,
}

/// Container properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ProtectionContainerProperties {
    /// Fabric name.
    pub fabric_friendly_name: Option<String>,
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// Fabric type.
    pub fabric_type: Option<String>,
    /// Number of protected items.
    pub protected_item_count: Option<i64>,
    /// `Paired`/`NotPaired`.
    pub pairing_status: Option<String>,
    /// Role.
    pub role: Option<String>,
}

/// Policy properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct PolicyProperties {
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// A2A details.
    pub provider_specific_details: Option<Poly<A2APolicyDetails>>,
}

/// A2A policy details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2APolicyDetails {
    /// RPO threshold.
    pub recovery_point_threshold_in_minutes: Option<i64>,
    /// Retention in minutes.
    pub recovery_point_history: Option<i64>,
    /// App-consistent frequency.
    pub app_consistent_frequency_in_minutes: Option<i64>,
    /// `Enable`/`Disable`.
    pub multi_vm_sync_status: Option<String>,
    /// Crash-consistent frequency.
    pub crash_consistent_frequency_in_minutes: Option<i64>,
}

/// Container mapping properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ProtectionContainerMappingProperties {
    /// Target container id.
    pub target_protection_container_id: Option<String>,
    /// Target container name.
    pub target_protection_container_friendly_name: Option<String>,
    /// Policy id.
    pub policy_id: Option<String>,
    /// Policy name.
    pub policy_friendly_name: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Health.
    pub health: Option<String>,
    /// Health errors.
    pub health_error_details: Vec<HealthError>,
    /// Source fabric name.
    pub source_fabric_friendly_name: Option<String>,
    /// Target fabric name.
    pub target_fabric_friendly_name: Option<String>,
    /// A2A details.
    pub provider_specific_details: Option<Poly<A2AProtectionContainerMappingDetails>>,
}

/// A2A container mapping details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AProtectionContainerMappingDetails {
    /// Auto-update.
    pub agent_auto_update_status: Option<String>,
    /// Automation account.
    pub automation_account_arm_id: Option<String>,
    /// Auth type.
    pub automation_account_authentication_type: Option<String>,
    /// Schedule.
    pub schedule_name: Option<String>,
    /// Job schedule.
    pub job_schedule_name: Option<String>,
}

/// Network mapping properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct NetworkMappingProperties {
    /// State.
    pub state: Option<String>,
    /// Source VNet name.
    pub primary_network_friendly_name: Option<String>,
    /// Source VNet id.
    pub primary_network_id: Option<String>,
    /// Source fabric name.
    pub primary_fabric_friendly_name: Option<String>,
    /// Target VNet name.
    pub recovery_network_friendly_name: Option<String>,
    /// Target VNet id.
    pub recovery_network_id: Option<String>,
    /// Target fabric id.
    pub recovery_fabric_arm_id: Option<String>,
    /// Target fabric name.
    pub recovery_fabric_friendly_name: Option<String>,
    /// A2A settings.
    pub fabric_specific_settings: Option<Poly<AzureToAzureNetworkMappingSettings>>,
}

/// A2A network mapping settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureToAzureNetworkMappingSettings {
    /// Source region.
    pub primary_fabric_location: Option<String>,
    /// Target region.
    pub recovery_fabric_location: Option<String>,
}

/// ASR health error.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct HealthError {
    /// Code.
    pub error_code: Option<String>,
    /// Level.
    pub error_level: Option<String>,
    /// Category.
    pub error_category: Option<String>,
    /// Summary.
    pub summary_message: Option<String>,
    /// Message.
    pub error_message: Option<String>,
    /// Causes.
    pub possible_causes: Option<String>,
    /// Action.
    pub recommended_action: Option<String>,
    /// When.
    pub creation_time_utc: Option<String>,
    /// Entity.
    pub entity_id: Option<String>,
    /// Id.
    pub error_id: Option<String>,
    /// Nested errors.
    pub inner_health_errors: Vec<Value>,
}

/// What ASR is doing to an object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CurrentScenarioDetails {
    /// Scenario (`None` when idle).
    pub scenario_name: Option<String>,
    /// Job id.
    pub job_id: Option<String>,
    /// Start.
    pub start_time: Option<String>,
}

/// RPI properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicationProtectedItemProperties {
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// Item type.
    pub protected_item_type: Option<String>,
    /// Protectable item id.
    pub protectable_item_id: Option<String>,
    /// Primary fabric name.
    pub primary_fabric_friendly_name: Option<String>,
    /// Primary fabric provider.
    pub primary_fabric_provider: Option<String>,
    /// Recovery fabric name.
    pub recovery_fabric_friendly_name: Option<String>,
    /// Recovery fabric id (may be a friendly string for HyperV).
    pub recovery_fabric_id: Option<String>,
    /// Primary container name.
    pub primary_protection_container_friendly_name: Option<String>,
    /// Recovery container name.
    pub recovery_protection_container_friendly_name: Option<String>,
    /// Protection state.
    pub protection_state: Option<String>,
    /// Its description.
    pub protection_state_description: Option<String>,
    /// `Primary`/`Recovery`.
    pub active_location: Option<String>,
    /// Test failover state.
    pub test_failover_state: Option<String>,
    /// Its description.
    pub test_failover_state_description: Option<String>,
    /// Switch provider state.
    pub switch_provider_state: Option<String>,
    /// Allowed operations.
    pub allowed_operations: Vec<String>,
    /// Replication health.
    pub replication_health: Option<String>,
    /// Failover health.
    pub failover_health: Option<String>,
    /// Health errors.
    pub health_errors: Vec<HealthError>,
    /// Policy id.
    pub policy_id: Option<String>,
    /// Policy name.
    pub policy_friendly_name: Option<String>,
    /// Last successful failover.
    pub last_successful_failover_time: Option<String>,
    /// Last successful test failover.
    pub last_successful_test_failover_time: Option<String>,
    /// Current scenario.
    pub current_scenario: Option<CurrentScenarioDetails>,
    /// Recovery point used by the last failover.
    pub failover_recovery_point_id: Option<String>,
    /// A2A details.
    pub provider_specific_details: Option<Poly<A2AReplicationDetails>>,
    /// Recovery container id.
    pub recovery_container_id: Option<String>,
    /// Event correlation id.
    pub event_correlation_id: Option<String>,
}

/// A2A replication details (the fields the planner and state machine use; others are ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AReplicationDetails {
    /// Source VM id.
    pub fabric_object_id: Option<String>,
    /// Failed-over VM id.
    pub recovery_fabric_object_id: Option<String>,
    /// Test-failed-over VM id.
    pub test_failover_recovery_fabric_object_id: Option<String>,
    /// Stable identity.
    pub lifecycle_id: Option<String>,
    /// Multi-VM group id.
    pub multi_vm_group_id: Option<String>,
    /// Multi-VM group name.
    pub multi_vm_group_name: Option<String>,
    /// Multi-VM group create option.
    pub multi_vm_group_create_option: Option<String>,
    /// Management id.
    pub management_id: Option<String>,
    /// Protection state of the VM (`Protected` after initial replication).
    pub vm_protection_state: Option<String>,
    /// Its description.
    pub vm_protection_state_description: Option<String>,
    /// Initial replication progress.
    pub monitoring_percentage_completion: Option<i64>,
    /// Job type monitored.
    pub monitoring_job_type: Option<String>,
    /// RPO.
    pub rpo_in_seconds: Option<i64>,
    /// When the RPO was computed.
    pub last_rpo_calculated_time: Option<String>,
    /// Last heartbeat.
    pub last_heartbeat: Option<String>,
    /// Agent version.
    pub agent_version: Option<String>,
    /// Agent update needed.
    pub is_replication_agent_update_required: Option<bool>,
    /// Target VM name.
    #[serde(rename = "recoveryAzureVMName")]
    pub recovery_azure_vm_name: Option<String>,
    /// Target VM size.
    #[serde(rename = "recoveryAzureVMSize")]
    pub recovery_azure_vm_size: Option<String>,
    /// Test failover VM name.
    #[serde(rename = "tfoAzureVMName")]
    pub tfo_azure_vm_name: Option<String>,
    /// Target RG.
    pub recovery_azure_resource_group_id: Option<String>,
    /// Target availability set.
    pub recovery_availability_set: Option<String>,
    /// Target zone.
    pub recovery_availability_zone: Option<String>,
    /// Source zone.
    pub primary_availability_zone: Option<String>,
    /// Target PPG.
    pub recovery_proximity_placement_group_id: Option<String>,
    /// Target VMSS.
    pub recovery_virtual_machine_scale_set_id: Option<String>,
    /// Target capacity reservation group.
    pub recovery_capacity_reservation_group_id: Option<String>,
    /// Boot diagnostics account.
    pub recovery_boot_diag_storage_account_id: Option<String>,
    /// Failover VNet.
    pub selected_recovery_azure_network_id: Option<String>,
    /// Test failover VNet.
    pub selected_tfo_azure_network_id: Option<String>,
    /// NICs.
    pub vm_nics: Vec<VmNicDetails>,
    /// Managed disks.
    pub protected_managed_disks: Vec<A2AProtectedManagedDiskDetails>,
    /// Unmanaged disks.
    pub protected_disks: Vec<Value>,
    /// Disks not protected.
    pub unprotected_disks: Vec<Value>,
    /// Primary region.
    pub primary_fabric_location: Option<String>,
    /// Recovery region.
    pub recovery_fabric_location: Option<String>,
    /// OS.
    pub os_type: Option<String>,
    /// Encryption type.
    pub vm_encryption_type: Option<String>,
    /// Auto-protect new data disks.
    pub auto_protection_of_data_disk: Option<String>,
    /// Fault domain.
    pub platform_fault_domain: Option<i64>,
}

/// An RPI NIC.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct VmNicDetails {
    /// ASR's opaque NIC id.
    pub nic_id: Option<String>,
    /// Source NIC id.
    pub source_nic_arm_id: Option<String>,
    /// Replica NIC id.
    pub replica_nic_id: Option<String>,
    /// Target VNet.
    #[serde(rename = "recoveryVMNetworkId")]
    pub recovery_vm_network_id: Option<String>,
    /// IP configurations.
    pub ip_configs: Vec<IpConfigDetails>,
    /// Selection type.
    pub selection_type: Option<String>,
    /// Target NSG.
    pub recovery_network_security_group_id: Option<String>,
    /// Accelerated networking.
    pub enable_accelerated_networking_on_recovery: Option<bool>,
    /// Target NIC name.
    pub target_nic_name: Option<String>,
    /// Recovery NIC name.
    pub recovery_nic_name: Option<String>,
}

/// An RPI NIC's IP configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct IpConfigDetails {
    /// Name.
    pub name: Option<String>,
    /// Primary.
    pub is_primary: Option<bool>,
    /// Source subnet.
    pub subnet_name: Option<String>,
    /// Source static IP.
    #[serde(rename = "staticIPAddress")]
    pub static_ip_address: Option<String>,
    /// Selected for failover (the service's spelling).
    #[serde(rename = "isSeletedForFailover")]
    pub is_selected_for_failover: Option<bool>,
    /// Target subnet.
    pub recovery_subnet_name: Option<String>,
    /// Target static IP.
    #[serde(rename = "recoveryStaticIPAddress")]
    pub recovery_static_ip_address: Option<String>,
    /// Target IP type.
    #[serde(rename = "recoveryIPAddressType")]
    pub recovery_ip_address_type: Option<String>,
    /// Target public IP.
    #[serde(rename = "recoveryPublicIPAddressId")]
    pub recovery_public_ip_address_id: Option<String>,
    /// Test failover subnet.
    pub tfo_subnet_name: Option<String>,
    /// Test failover static IP.
    #[serde(rename = "tfoStaticIPAddress")]
    pub tfo_static_ip_address: Option<String>,
}

/// A protected managed disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2AProtectedManagedDiskDetails {
    /// Source disk id.
    pub disk_id: Option<String>,
    /// Name.
    pub disk_name: Option<String>,
    /// Size.
    pub disk_capacity_in_bytes: Option<i64>,
    /// State.
    pub disk_state: Option<String>,
    /// Progress.
    pub monitoring_percentage_completion: Option<i64>,
    /// Resync needed.
    pub resync_required: Option<bool>,
    /// Cache account.
    pub primary_staging_azure_storage_account_id: Option<String>,
    /// Replica disk id.
    pub recovery_replica_disk_id: Option<String>,
    /// Target disk id.
    pub recovery_target_disk_id: Option<String>,
    /// Original target disk (the service's spelling).
    #[serde(rename = "recoveryOrignalTargetDiskId")]
    pub recovery_original_target_disk_id: Option<String>,
    /// Replica disk type.
    pub recovery_replica_disk_account_type: Option<String>,
    /// Target disk type.
    pub recovery_target_disk_account_type: Option<String>,
    /// Target DES.
    pub recovery_disk_encryption_set_id: Option<String>,
    /// Source DES.
    pub primary_disk_encryption_set_id: Option<String>,
    /// Target RG.
    pub recovery_resource_group_id: Option<String>,
    /// Failover disk name.
    pub failover_disk_name: Option<String>,
    /// Test failover disk name.
    pub tfo_disk_name: Option<String>,
    /// Data pending in cache (MB).
    #[serde(rename = "dataPendingInStagingStorageAccountInMB")]
    pub data_pending_in_staging_storage_account_in_mb: Option<f64>,
    /// Data pending at source (MB).
    #[serde(rename = "dataPendingAtSourceAgentInMB")]
    pub data_pending_at_source_agent_in_mb: Option<f64>,
}

/// Recovery point properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPointProperties {
    /// Time.
    pub recovery_point_time: Option<String>,
    /// `CrashConsistent`/`ApplicationConsistent`.
    pub recovery_point_type: Option<String>,
    /// A2A details.
    pub provider_specific_details: Option<Poly<A2ARecoveryPointDetails>>,
}

/// A2A recovery point details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct A2ARecoveryPointDetails {
    /// `MultiVmSyncRecoveryPoint`/`PerVmRecoveryPoint`.
    pub recovery_point_sync_type: Option<String>,
    /// Disks.
    pub disks: Vec<String>,
}

/// Recovery plan properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct RecoveryPlanProperties {
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// Source fabric id.
    pub primary_fabric_id: Option<String>,
    /// Source fabric name.
    pub primary_fabric_friendly_name: Option<String>,
    /// Target fabric id.
    pub recovery_fabric_id: Option<String>,
    /// Target fabric name.
    pub recovery_fabric_friendly_name: Option<String>,
    /// Deployment model.
    pub failover_deployment_model: Option<String>,
    /// Providers.
    pub replication_providers: Vec<String>,
    /// Allowed operations.
    pub allowed_operations: Vec<String>,
    /// Last planned failover.
    pub last_planned_failover_time: Option<String>,
    /// Last unplanned failover.
    pub last_unplanned_failover_time: Option<String>,
    /// Last test failover.
    pub last_test_failover_time: Option<String>,
    /// Current scenario.
    pub current_scenario: Option<CurrentScenarioDetails>,
    /// Scenario status.
    pub current_scenario_status: Option<String>,
    /// Its description.
    pub current_scenario_status_description: Option<String>,
    /// Groups.
    pub groups: Vec<RecoveryPlanGroup>,
    /// Provider details (raw).
    pub provider_specific_details: Vec<Value>,
}

/// Job properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct JobProperties {
    /// Activity id.
    pub activity_id: Option<String>,
    /// Scenario.
    pub scenario_name: Option<String>,
    /// Friendly name.
    pub friendly_name: Option<String>,
    /// `NotStarted|InProgress|Succeeded|Failed|Cancelled|Suspended|Other`.
    pub state: Option<String>,
    /// Its description.
    pub state_description: Option<String>,
    /// Tasks (raw).
    pub tasks: Vec<Value>,
    /// Errors (raw).
    pub errors: Vec<Value>,
    /// Start.
    pub start_time: Option<String>,
    /// End.
    pub end_time: Option<String>,
    /// Allowed actions.
    pub allowed_actions: Vec<String>,
    /// Target object id.
    pub target_object_id: Option<String>,
    /// Target object name.
    pub target_object_name: Option<String>,
    /// Target type.
    pub target_instance_type: Option<String>,
    /// Details (raw).
    pub custom_details: Option<Value>,
}

/// Vault properties (the read fields the planner needs).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct VaultProperties {
    /// Provisioning state.
    pub provisioning_state: Option<String>,
    /// Public network access.
    pub public_network_access: Option<String>,
}

/// Resource group properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    /// Provisioning state.
    pub provisioning_state: Option<String>,
}

/// VNet properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct VirtualNetworkProperties {
    /// Address space.
    pub address_space: AddressSpace,
    /// Subnets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Resource<SubnetProperties>>,
    /// Provisioning state.
    pub provisioning_state: Option<String>,
}

/// Address space.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AddressSpace {
    /// Prefixes.
    pub address_prefixes: Vec<String>,
}

/// Subnet properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SubnetProperties {
    /// Prefix.
    pub address_prefix: Option<String>,
    /// Prefixes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub address_prefixes: Vec<String>,
}

/// Storage account properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct StorageAccountProperties {
    /// Provisioning state.
    pub provisioning_state: Option<String>,
    /// Primary region.
    pub primary_location: Option<String>,
}

/// Availability set properties.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AvailabilitySetProperties {
    /// Fault domains.
    pub platform_fault_domain_count: Option<i64>,
    /// Update domains.
    pub platform_update_domain_count: Option<i64>,
}

/// VM properties (read side).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct VirtualMachineProperties {
    /// Size.
    pub hardware_profile: HardwareProfile,
    /// Disks.
    pub storage_profile: Value,
    /// NICs.
    pub network_profile: Value,
    /// Provisioning state.
    pub provisioning_state: Option<String>,
}

/// VM size.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct HardwareProfile {
    /// Size.
    pub vm_size: Option<String>,
}

/// Operation status body (`Azure-AsyncOperation`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationStatus {
    /// Id.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Start.
    pub start_time: Option<String>,
    /// End.
    pub end_time: Option<String>,
    /// Error.
    pub error: Option<Value>,
}

tagged!(
    AzureFabricSpecificDetails => "Azure",
    A2APolicyDetails => "A2A",
    A2AProtectionContainerMappingDetails => "A2A",
    AzureToAzureNetworkMappingSettings => "AzureToAzure",
    A2AReplicationDetails => "A2A",
    A2ARecoveryPointDetails => "A2A",
);

/// Shorthands for the full resource types.
pub type Fabric = Resource<FabricProperties>;
/// Container.
pub type ProtectionContainer = Resource<ProtectionContainerProperties>;
/// Policy.
pub type Policy = Resource<PolicyProperties>;
/// Container mapping.
pub type ProtectionContainerMapping = Resource<ProtectionContainerMappingProperties>;
/// Network mapping.
pub type NetworkMapping = Resource<NetworkMappingProperties>;
/// RPI.
pub type ReplicationProtectedItem = Resource<ReplicationProtectedItemProperties>;
/// Recovery point.
pub type RecoveryPoint = Resource<RecoveryPointProperties>;
/// Recovery plan.
pub type RecoveryPlan = Resource<RecoveryPlanProperties>;
/// Job.
pub type Job = Resource<JobProperties>;
/// Vault.
pub type Vault = Resource<VaultProperties>;
/// Resource group.
pub type ResourceGroup = Resource<ResourceGroupProperties>;
/// VNet.
pub type VirtualNetwork = Resource<VirtualNetworkProperties>;
/// Storage account.
pub type StorageAccount = Resource<StorageAccountProperties>;
/// Availability set.
pub type AvailabilitySet = Resource<AvailabilitySetProperties>;
/// VM.
pub type VirtualMachine = Resource<VirtualMachineProperties>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_instance_types_are_kept_raw_and_round_trip() {
        let v = json!({"providerSpecificDetails": {"instanceType": "HyperVReplicaAzure", "foo": 1}, "newField": true});
        let p: ReplicationProtectedItemProperties = serde_json::from_value(v).unwrap();
        let d = p.provider_specific_details.unwrap();
        assert_eq!(d.other_instance_type(), Some("HyperVReplicaAzure"));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"instanceType": "HyperVReplicaAzure", "foo": 1})
        );
    }

    #[test]
    fn misspellings_are_kept_on_the_wire() {
        let ip = IpConfigInputDetails {
            is_selected_for_failover: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&ip).unwrap(),
            json!({"isSeletedForFailover": true})
        );
        let d: A2AProtectedManagedDiskDetails =
            serde_json::from_value(json!({"recoveryOrignalTargetDiskId": "/x"})).unwrap();
        assert_eq!(d.recovery_original_target_disk_id.as_deref(), Some("/x"));
    }

    #[test]
    fn known_tags_serialize_with_their_instance_type() {
        let p = Poly::Known(A2AApplyRecoveryPointInput {});
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"instanceType": "A2A"})
        );
        let fab = Input {
            properties: FabricCreationInputProperties {
                custom_details: Some(Poly::Known(AzureFabricCreationInput {
                    location: Some("eastus".into()),
                })),
            },
        };
        assert_eq!(
            serde_json::to_value(&fab).unwrap(),
            json!({"properties":{"customDetails":{"instanceType":"Azure","location":"eastus"}}})
        );
    }
}
