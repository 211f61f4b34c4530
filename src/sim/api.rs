//! The ARM REST facade: routing, api-version checks, throttling, faults, outages, request bodies, error envelopes,
//! long-running operations and pagination, for resource groups, networks, storage, compute, vaults and ASR.
//!
//! Owns the wire format (camelCase JSON, `/Subscriptions/` casing of ASR ids, status codes of the Python SDK's
//! `initialStatusCodes`, LRO headers with absolute URLs on the base the request came in on) and the validation of
//! every request. State changes go through [`World`]; this module must not keep state of its own.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::faults::FaultEffect;
use super::throttle::{Buckets, Kind};
use super::world::{
    self, Effect, Job, LogEntry, Op, Res, Rpi, RpiDisk, Task, World, key, last_segment, parent_id,
    ts,
};
use super::{SimRequest, SimResponse};

/// ASR api-versions accepted (asr-api.md §0: 2025-08-01 and the earlier stable ones).
pub const ASR_VERSIONS: &[&str] = &[
    "2025-08-01",
    "2025-02-01",
    "2025-01-01",
    "2024-10-01",
    "2024-04-01",
    "2024-02-01",
    "2024-01-01",
    "2023-08-01",
    "2023-06-01",
    "2023-04-01",
    "2023-02-01",
    "2023-01-01",
    "2022-10-01",
    "2022-09-10",
    "2022-05-01",
    "2022-03-01",
];
/// Vault api-versions.
pub const VAULT_VERSIONS: &[&str] = &[
    "2026-11-01",
    "2025-08-01",
    "2025-02-01",
    "2025-01-01",
    "2024-10-01",
    "2024-04-01",
    "2023-04-01",
];
/// Resource-group api-versions.
pub const RESOURCES_VERSIONS: &[&str] = &[
    "2025-04-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2022-09-01",
    "2021-04-01",
];
/// Network api-versions.
pub const NETWORK_VERSIONS: &[&str] = &[
    "2026-03-01",
    "2025-05-01",
    "2025-01-01",
    "2024-07-01",
    "2024-05-01",
    "2024-03-01",
    "2023-09-01",
];
/// Storage api-versions.
pub const STORAGE_VERSIONS: &[&str] = &[
    "2026-09-01",
    "2025-06-01",
    "2025-01-01",
    "2024-01-01",
    "2023-05-01",
    "2023-01-01",
];
/// Compute api-versions (VMs, availability sets).
pub const COMPUTE_VERSIONS: &[&str] = &[
    "2026-04-01",
    "2025-04-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2023-09-01",
];
/// Disk api-versions.
pub const DISK_VERSIONS: &[&str] = &[
    "2026-03-02",
    "2025-01-02",
    "2024-03-02",
    "2023-10-02",
    "2023-04-02",
];

const V: &str = "subscriptions/*/resourcegroups/*/providers/microsoft.recoveryservices/vaults/*";
const RG: &str = "subscriptions/*/resourcegroups/*";

/// What a request is about, after routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum H {
    RgList,
    Rg,
    NetList,
    Net,
    Subnet,
    SubnetList,
    NicList,
    Nic,
    SaList,
    Sa,
    AvsetList,
    Avset,
    VmList,
    Vm,
    VmAction,
    DiskList,
    Disk,
    VaultList,
    Vault,
    OpStatus,
    FabricList,
    Fabric,
    FabricAction,
    NetworksList,
    Network,
    NetMapList,
    NetMap,
    ContainerList,
    Container,
    ContainerAction,
    MappingList,
    Mapping,
    MappingAction,
    RpiList,
    Rpi,
    RpiAction,
    PointList,
    Point,
    ComputeSizes,
    PolicyList,
    Policy,
    PlanList,
    Plan,
    PlanAction,
    JobList,
    Job,
    JobAction,
    Eligibility,
}

/// Route table: method (`*` any), pattern (lower case, `*` one segment, `V`/`RG` prefixes), operation name, handler.
fn routes() -> &'static [(&'static str, String, &'static str, H)] {
    use std::sync::OnceLock;
    static R: OnceLock<Vec<(&'static str, String, &'static str, H)>> = OnceLock::new();
    R.get_or_init(|| {
        let v = |s: &str| format!("{V}{s}");
        let rg = |s: &str| format!("{RG}{s}");
        let f = "/replicationfabrics/*";
        let c = "/replicationfabrics/*/replicationprotectioncontainers/*";
        let rpi =
            "/replicationfabrics/*/replicationprotectioncontainers/*/replicationprotecteditems/*";
        vec![
            (
                "GET",
                "subscriptions/*/resourcegroups".into(),
                "ResourceGroups_List",
                H::RgList,
            ),
            ("*", rg(""), "ResourceGroups", H::Rg),
            (
                "GET",
                "subscriptions/*/providers/microsoft.network/virtualnetworks".into(),
                "VirtualNetworks_ListAll",
                H::NetList,
            ),
            (
                "GET",
                rg("/providers/microsoft.network/virtualnetworks"),
                "VirtualNetworks_List",
                H::NetList,
            ),
            (
                "*",
                rg("/providers/microsoft.network/virtualnetworks/*"),
                "VirtualNetworks",
                H::Net,
            ),
            (
                "GET",
                rg("/providers/microsoft.network/virtualnetworks/*/subnets"),
                "Subnets_List",
                H::SubnetList,
            ),
            (
                "*",
                rg("/providers/microsoft.network/virtualnetworks/*/subnets/*"),
                "Subnets",
                H::Subnet,
            ),
            (
                "GET",
                rg("/providers/microsoft.network/networkinterfaces"),
                "NetworkInterfaces_List",
                H::NicList,
            ),
            (
                "GET",
                "subscriptions/*/providers/microsoft.network/networkinterfaces".into(),
                "NetworkInterfaces_ListAll",
                H::NicList,
            ),
            (
                "GET",
                rg("/providers/microsoft.network/networkinterfaces/*"),
                "NetworkInterfaces_Get",
                H::Nic,
            ),
            (
                "GET",
                "subscriptions/*/providers/microsoft.storage/storageaccounts".into(),
                "StorageAccounts_List",
                H::SaList,
            ),
            (
                "GET",
                rg("/providers/microsoft.storage/storageaccounts"),
                "StorageAccounts_ListByResourceGroup",
                H::SaList,
            ),
            (
                "*",
                rg("/providers/microsoft.storage/storageaccounts/*"),
                "StorageAccounts",
                H::Sa,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/availabilitysets"),
                "AvailabilitySets_List",
                H::AvsetList,
            ),
            (
                "*",
                rg("/providers/microsoft.compute/availabilitysets/*"),
                "AvailabilitySets",
                H::Avset,
            ),
            (
                "GET",
                "subscriptions/*/providers/microsoft.compute/virtualmachines".into(),
                "VirtualMachines_ListAll",
                H::VmList,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/virtualmachines"),
                "VirtualMachines_List",
                H::VmList,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/virtualmachines/*"),
                "VirtualMachines_Get",
                H::Vm,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/virtualmachines/*/providers/microsoft.recoveryservices/replicationeligibilityresults"),
                "ReplicationEligibilityResults_List",
                H::Eligibility,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/virtualmachines/*/providers/microsoft.recoveryservices/replicationeligibilityresults/default"),
                "ReplicationEligibilityResults_Get",
                H::Eligibility,
            ),
            (
                "POST",
                rg("/providers/microsoft.compute/virtualmachines/*/*"),
                "VirtualMachines_Action",
                H::VmAction,
            ),
            (
                "GET",
                "subscriptions/*/providers/microsoft.compute/disks".into(),
                "Disks_List",
                H::DiskList,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/disks"),
                "Disks_ListByResourceGroup",
                H::DiskList,
            ),
            (
                "GET",
                rg("/providers/microsoft.compute/disks/*"),
                "Disks_Get",
                H::Disk,
            ),
            (
                "GET",
                rg("/providers/microsoft.recoveryservices/vaults"),
                "Vaults_ListByResourceGroup",
                H::VaultList,
            ),
            (
                "GET",
                "subscriptions/*/providers/microsoft.recoveryservices/vaults".into(),
                "Vaults_ListBySubscriptionId",
                H::VaultList,
            ),
            (
                "GET",
                v("/replicationoperationstatus/*"),
                "OperationStatus_Get",
                H::OpStatus,
            ),
            (
                "GET",
                v("/replicationoperationresults/*"),
                "OperationResults_Get",
                H::OpStatus,
            ),
            (
                "GET",
                v("/operationstatus/*"),
                "VaultOperationStatus_Get",
                H::OpStatus,
            ),
            (
                "GET",
                v("/operationresults/*"),
                "VaultOperationResults_Get",
                H::OpStatus,
            ),
            (
                "GET",
                "subscriptions/*/providers/*/locations/*/operations/*".into(),
                "Operations_Get",
                H::OpStatus,
            ),
            (
                "GET",
                "subscriptions/*/providers/*/locations/*/asyncoperations/*".into(),
                "AsyncOperations_Get",
                H::OpStatus,
            ),
            (
                "GET",
                "subscriptions/*/providers/*/locations/*/operationresults/*".into(),
                "OperationResults_Get",
                H::OpStatus,
            ),
            ("*", v(""), "Vaults", H::Vault),
            (
                "GET",
                v("/replicationfabrics"),
                "ReplicationFabrics_List",
                H::FabricList,
            ),
            ("*", v(f), "ReplicationFabrics", H::Fabric),
            (
                "GET",
                v("/replicationnetworks"),
                "ReplicationNetworks_List",
                H::NetworksList,
            ),
            (
                "GET",
                v(&format!("{f}/replicationnetworks")),
                "ReplicationNetworks_ListByReplicationFabrics",
                H::NetworksList,
            ),
            (
                "GET",
                v(&format!("{f}/replicationnetworks/*")),
                "ReplicationNetworks_Get",
                H::Network,
            ),
            (
                "GET",
                v("/replicationnetworkmappings"),
                "ReplicationNetworkMappings_List",
                H::NetMapList,
            ),
            (
                "GET",
                v(&format!(
                    "{f}/replicationnetworks/*/replicationnetworkmappings"
                )),
                "ReplicationNetworkMappings_ListByReplicationNetworks",
                H::NetMapList,
            ),
            (
                "*",
                v(&format!(
                    "{f}/replicationnetworks/*/replicationnetworkmappings/*"
                )),
                "ReplicationNetworkMappings",
                H::NetMap,
            ),
            (
                "GET",
                v("/replicationprotectioncontainers"),
                "ReplicationProtectionContainers_List",
                H::ContainerList,
            ),
            (
                "GET",
                v(&format!("{f}/replicationprotectioncontainers")),
                "ReplicationProtectionContainers_ListByReplicationFabrics",
                H::ContainerList,
            ),
            (
                "GET",
                v("/replicationprotectioncontainermappings"),
                "ReplicationProtectionContainerMappings_List",
                H::MappingList,
            ),
            (
                "GET",
                v(&format!("{c}/replicationprotectioncontainermappings")),
                "ReplicationProtectionContainerMappings_ListByReplicationProtectionContainers",
                H::MappingList,
            ),
            (
                "POST",
                v(&format!("{c}/replicationprotectioncontainermappings/*/*")),
                "ReplicationProtectionContainerMappings_Action",
                H::MappingAction,
            ),
            (
                "*",
                v(&format!("{c}/replicationprotectioncontainermappings/*")),
                "ReplicationProtectionContainerMappings",
                H::Mapping,
            ),
            (
                "GET",
                v("/replicationprotecteditems"),
                "ReplicationProtectedItems_List",
                H::RpiList,
            ),
            (
                "GET",
                v(&format!("{c}/replicationprotecteditems")),
                "ReplicationProtectedItems_ListByReplicationProtectionContainers",
                H::RpiList,
            ),
            (
                "GET",
                v(&format!("{rpi}/recoverypoints")),
                "RecoveryPoints_ListByReplicationProtectedItems",
                H::PointList,
            ),
            (
                "GET",
                v(&format!("{rpi}/recoverypoints/*")),
                "RecoveryPoints_Get",
                H::Point,
            ),
            (
                "GET",
                v(&format!("{rpi}/targetcomputesizes")),
                "TargetComputeSizes_ListByReplicationProtectedItems",
                H::ComputeSizes,
            ),
            (
                "POST",
                v(&format!("{rpi}/*")),
                "ReplicationProtectedItems_Action",
                H::RpiAction,
            ),
            ("*", v(rpi), "ReplicationProtectedItems", H::Rpi),
            (
                "POST",
                v(&format!("{c}/*")),
                "ReplicationProtectionContainers_Action",
                H::ContainerAction,
            ),
            ("*", v(c), "ReplicationProtectionContainers", H::Container),
            (
                "POST",
                v(&format!("{f}/*")),
                "ReplicationFabrics_Action",
                H::FabricAction,
            ),
            (
                "GET",
                v("/replicationpolicies"),
                "ReplicationPolicies_List",
                H::PolicyList,
            ),
            (
                "*",
                v("/replicationpolicies/*"),
                "ReplicationPolicies",
                H::Policy,
            ),
            (
                "GET",
                v("/replicationrecoveryplans"),
                "ReplicationRecoveryPlans_List",
                H::PlanList,
            ),
            (
                "POST",
                v("/replicationrecoveryplans/*/*"),
                "ReplicationRecoveryPlans_Action",
                H::PlanAction,
            ),
            (
                "*",
                v("/replicationrecoveryplans/*"),
                "ReplicationRecoveryPlans",
                H::Plan,
            ),
            (
                "GET",
                v("/replicationjobs"),
                "ReplicationJobs_List",
                H::JobList,
            ),
            (
                "POST",
                v("/replicationjobs/export"),
                "ReplicationJobs_Export",
                H::JobAction,
            ),
            (
                "GET",
                v("/replicationjobs/*"),
                "ReplicationJobs_Get",
                H::Job,
            ),
            (
                "POST",
                v("/replicationjobs/*/*"),
                "ReplicationJobs_Action",
                H::JobAction,
            ),
        ]
        .into_iter()
        .collect()
    })
}

fn matches(segs: &[String], pattern: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    pat.len() == segs.len()
        && pat
            .iter()
            .zip(segs)
            .all(|(p, s)| *p == "*" || p.eq_ignore_ascii_case(s))
}

fn versions(h: H, segs: &[String]) -> &'static [&'static str] {
    use H::*;
    match h {
        RgList | Rg => RESOURCES_VERSIONS,
        NetList | Net | Subnet | SubnetList | NicList | Nic => NETWORK_VERSIONS,
        SaList | Sa => STORAGE_VERSIONS,
        AvsetList | Avset | VmList | Vm | VmAction => COMPUTE_VERSIONS,
        DiskList | Disk => DISK_VERSIONS,
        VaultList | Vault => VAULT_VERSIONS,
        OpStatus => {
            let ns = segs
                .iter()
                .position(|s| s.eq_ignore_ascii_case("providers"))
                .and_then(|i| segs.get(i + 1))
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            match ns.as_str() {
                // A resource group's delete polls `providers/Microsoft.Resources/.../operationresults`.
                "microsoft.resources" => RESOURCES_VERSIONS,
                "microsoft.network" => NETWORK_VERSIONS,
                "microsoft.storage" => STORAGE_VERSIONS,
                "microsoft.compute" => COMPUTE_VERSIONS,
                _ if segs.len() > 8 && segs[8].to_ascii_lowercase().starts_with("replication") => {
                    ASR_VERSIONS
                }
                _ => VAULT_VERSIONS,
            }
        }
        _ => ASR_VERSIONS,
    }
}

/// Per-request context.
struct Cx<'a> {
    w: &'a mut World,
    req: &'a SimRequest,
    now: OffsetDateTime,
    base: String,
    api: String,
    segs: Vec<String>,
    /// The request path as sent (no trailing slash).
    path: String,
    h: H,
    method: String,
    /// A `failJob` fault for this request.
    fail_job: Option<(String, String)>,
}

type Reply = Result<SimResponse, SimResponse>;

fn resp(status: u16, body: Option<Value>) -> SimResponse {
    let mut r = SimResponse {
        status,
        ..Default::default()
    };
    if let Some(b) = body {
        r.body = serde_json::to_vec(&b).unwrap_or_default();
        r.headers.push((
            "Content-Type".into(),
            "application/json; charset=utf-8".into(),
        ));
    }
    r
}

/// ARM error envelope.
pub fn arm_error(status: u16, code: &str, message: &str) -> SimResponse {
    resp(
        status,
        Some(json!({"error": {"code": code, "message": message}})),
    )
}

/// ASR error envelope: numeric code plus possible causes and recommended action.
pub fn asr_error(status: u16, code: &str, message: &str, action: &str) -> SimResponse {
    resp(
        status,
        Some(
            json!({"error": {"code": code, "message": message, "possibleCauses": message,
            "recommendedAction": action, "activityId": format!("sim-{code}")}}),
        ),
    )
}

fn bad(field: &str, message: &str) -> SimResponse {
    arm_error(
        400,
        "InvalidRequestContent",
        &format!("The request content is invalid: '{field}': {message}"),
    )
}

fn not_found(id: &str) -> SimResponse {
    arm_error(
        404,
        "ResourceNotFound",
        &format!("The Resource '{id}' was not found."),
    )
}

/// ASR-casing of an id: `/Subscriptions/` as the service returns it.
fn asr_id(id: &str) -> String {
    match id.strip_prefix("/subscriptions/") {
        Some(rest) => format!("/Subscriptions/{rest}"),
        None => id.to_string(),
    }
}

/// Answers one request against the world at `now`.
pub fn handle(w: &mut World, req: &SimRequest, now: OffsetDateTime) -> SimResponse {
    w.settle(now);
    let path = req.url.path().trim_end_matches('/').to_string();
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let method = req.method.to_ascii_uppercase();
    let sub = if segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("subscriptions"))
    {
        segs.get(1).cloned()
    } else {
        None
    };
    let route = routes()
        .iter()
        .find(|(m, p, _, _)| (*m == "*" || *m == method) && matches(&segs, p));
    let op_label = route
        .map(|(_, _, o, _)| op_name(o, &method))
        .unwrap_or_else(|| "Unknown".into());
    // Throttling first: ARM counts every request against the buckets, whatever its fate.
    let kind = Kind::of(&method);
    let mut limit_headers = Vec::new();
    if let Some(s) = &sub
        && w.config.throttling
    {
        let b = w
            .buckets
            .entry(s.to_ascii_lowercase())
            .or_insert_with(|| Buckets::new(now));
        match b.take(kind, now) {
            Ok((left, global)) => {
                limit_headers.push((
                    format!("x-ms-ratelimit-remaining-subscription-{}", kind.plural()),
                    left.to_string(),
                ));
                limit_headers.push((
                    format!(
                        "x-ms-ratelimit-remaining-subscription-global-{}",
                        kind.plural()
                    ),
                    global.to_string(),
                ));
            }
            Err(after) => {
                let mut r = arm_error(
                    429,
                    "SubscriptionRequestsThrottled",
                    &format!(
                        "Number of '{}' requests for subscription '{s}' actor 'asrform-sim' exceeded. Please try again after '{after}' seconds after additional tokens are available.",
                        match kind {
                            Kind::Read => "read",
                            Kind::Write => "write",
                            Kind::Delete => "delete",
                        }
                    ),
                );
                r.headers.push(("Retry-After".into(), after.to_string()));
                r.headers.push((
                    format!("x-ms-ratelimit-remaining-subscription-{}", kind.plural()),
                    "0".into(),
                ));
                return finish(w, req, &path, &op_label, r, now, &[]);
            }
        }
    }
    let base = match req.url.port() {
        Some(p) => format!(
            "{}://{}:{p}",
            req.url.scheme(),
            req.url.host_str().unwrap_or("localhost")
        ),
        None => format!(
            "{}://{}",
            req.url.scheme(),
            req.url.host_str().unwrap_or("localhost")
        ),
    };
    let (op, h) = match route {
        Some((_, _, o, h)) => (op_name(o, &method), *h),
        None => {
            let r = arm_error(
                404,
                "InvalidResourceType",
                &format!("No route for {method} '{path}' in the simulator."),
            );
            return finish(w, req, &path, "Unknown", r, now, &limit_headers);
        }
    };
    // api-version first, as ARM does.
    let api = req
        .url
        .query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.to_string());
    let accepted = versions(h, &segs);
    let api = match api {
        None => {
            let r = arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
            return finish(w, req, &path, &op, r, now, &limit_headers);
        }
        Some(v) if !accepted.contains(&v.as_str()) => {
            let r = arm_error(
                400,
                "InvalidApiVersionParameter",
                &format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    accepted.join(",")
                ),
            );
            return finish(w, req, &path, &op, r, now, &limit_headers);
        }
        Some(v) => v,
    };
    // Faults.
    let mut fail_job = None;
    let spec_op = spec_operation(&op, &segs);
    let ops: Vec<&str> = std::iter::once(op.as_str())
        .chain(spec_op.as_deref())
        .collect();
    if let Some(effect) = w.faults.check_any(&method, &path, &ops) {
        let r = match effect {
            FaultEffect::Throttle {
                retry_after, code, ..
            } => {
                let mut r = arm_error(
                    429,
                    code.as_deref().unwrap_or("SubscriptionRequestsThrottled"),
                    &format!(
                        "Injected throttling. Please try again after '{retry_after}' seconds."
                    ),
                );
                r.headers
                    .push(("Retry-After".into(), retry_after.to_string()));
                Some(r)
            }
            FaultEffect::Status { status, code } => Some(arm_error(
                status,
                code.as_deref().unwrap_or("InternalServerError"),
                "Injected fault.",
            )),
            FaultEffect::Drop => Some(SimResponse {
                status: 0,
                drop_connection: true,
                ..Default::default()
            }),
            FaultEffect::FailJob { code, message } => {
                fail_job = Some((code, message));
                None
            }
        };
        if let Some(r) = r {
            return finish(w, req, &path, &op, r, now, &limit_headers);
        }
    }
    // Region outage: the region of the addressed resource (or its vault for ASR objects, RG for RG-level calls).
    if let Some(region) = region_of(w, &segs)
        && w.region_down(&region)
    {
        let r = arm_error(
            503,
            "RegionUnavailable",
            &format!("The region '{region}' is currently unavailable."),
        );
        return finish(w, req, &path, &op, r, now, &limit_headers);
    }
    let mut cx = Cx {
        w,
        req,
        now,
        base,
        api,
        segs,
        path: path.clone(),
        h,
        method: method.clone(),
        fail_job,
    };
    let r = match dispatch(&mut cx) {
        Ok(r) | Err(r) => r,
    };
    finish(cx.w, req, &path, &op, r, now, &limit_headers)
}

/// The spec's operation id of a POST action (`ReplicationProtectedItems_TestFailover`), which the route table names
/// only by group (`ReplicationProtectedItems_Action`): fault rules may use either.
fn spec_operation(op: &str, segs: &[String]) -> Option<String> {
    let group = op.strip_suffix("_Action")?;
    let action = segs.last()?.to_ascii_lowercase();
    // Path segment (lower case) to operation name, from the 2025-08-01 operation list; `remove` is ASR's delete.
    const ACTIONS: &[(&str, &str)] = &[
        ("adddisks", "AddDisks"),
        ("applyrecoverypoint", "ApplyRecoveryPoint"),
        ("failovercancel", "FailoverCancel"),
        ("failovercommit", "FailoverCommit"),
        ("plannedfailover", "PlannedFailover"),
        ("remove", "Delete"),
        ("removedisks", "RemoveDisks"),
        ("repairreplication", "RepairReplication"),
        ("reprotect", "Reprotect"),
        ("resolvehealtherrors", "ResolveHealthErrors"),
        ("switchprovider", "SwitchProvider"),
        ("testfailover", "TestFailover"),
        ("testfailovercleanup", "TestFailoverCleanup"),
        ("unplannedfailover", "UnplannedFailover"),
        ("updateappliance", "UpdateAppliance"),
        ("updatemobilityservice", "UpdateMobilityService"),
        ("reinstallmobilityservice", "ReinstallMobilityService"),
        ("checkconsistency", "CheckConsistency"),
        ("migratetoaad", "MigrateToAad"),
        ("reassociategateway", "ReassociateGateway"),
        ("renewcertificate", "RenewCertificate"),
        ("removeinfra", "RemoveInfra"),
        ("discoverprotectableitem", "DiscoverProtectableItem"),
        ("switchclusterprotection", "SwitchClusterProtection"),
        ("switchprotection", "SwitchProtection"),
        ("cancel", "Cancel"),
        ("restart", "Restart"),
        ("resume", "Resume"),
        ("export", "Export"),
        ("refreshprovider", "RefreshProvider"),
        ("refresh", "Refresh"),
    ];
    let name = ACTIONS.iter().find(|(a, _)| *a == action)?.1;
    Some(format!("{group}_{name}"))
}

fn op_name(o: &str, method: &str) -> String {
    if o.contains('_') {
        return o.to_string();
    }
    let verb = match method {
        "GET" => "Get",
        "PUT" => "Create",
        "PATCH" => "Update",
        "DELETE" => "Delete",
        "HEAD" => "CheckExistence",
        _ => "Action",
    };
    format!("{o}_{verb}")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

fn region_of(w: &World, segs: &[String]) -> Option<String> {
    if w.outages.is_empty() || segs.len() < 4 {
        return None;
    }
    // The top-level resource: `subscriptions/s/resourceGroups/rg/providers/ns/type/name`.
    let top = if segs.len() >= 8 {
        segs[..8].join("/")
    } else {
        segs[..4].join("/")
    };
    w.res(&format!("/{top}")).and_then(|r| r.location.clone())
}

pub(crate) fn finish(
    w: &mut World,
    req: &SimRequest,
    path: &str,
    op: &str,
    mut r: SimResponse,
    now: OffsetDateTime,
    extra: &[(String, String)],
) -> SimResponse {
    r.headers.extend(extra.iter().cloned());
    w.log_seq += 1;
    let seq = w.log_seq;
    r.headers
        .push(("x-ms-request-id".into(), format!("sim-{seq:08}")));
    let entry = LogEntry {
        seq,
        method: req.method.clone(),
        path: path.to_string(),
        status: r.status,
        time: now,
        operation: op.to_string(),
        retry_after: r.header("Retry-After").and_then(|v| v.parse().ok()),
    };
    w.log.push(entry);
    let limit = w.config.log_limit.max(1);
    if w.log.len() > limit {
        let excess = w.log.len() - limit;
        w.log.drain(..excess);
    }
    r
}

fn body_json(cx: &Cx) -> Result<Value, SimResponse> {
    if cx.req.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&cx.req.body).map_err(|e| {
        arm_error(400, "InvalidRequestContent", &format!("The request content was invalid and could not be deserialized: line {} column {}: {e}", e.line(), e.column()))
    })
}

/// The id the request addresses, as sent (no trailing slash).
fn req_id(cx: &Cx) -> String {
    format!("/{}", cx.segs.join("/"))
}

fn rg_id(cx: &Cx) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        cx.segs[1], cx.segs[3]
    )
}

fn require_rg(cx: &Cx) -> Result<(), SimResponse> {
    let id = rg_id(cx);
    if cx.w.res(&id).is_none() {
        return Err(arm_error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{}' could not be found.", cx.segs[3]),
        ));
    }
    Ok(())
}

fn vault_key(cx: &Cx) -> String {
    key(&format!("/{}", cx.segs[..8].join("/")))
}

fn vault_id(cx: &Cx) -> String {
    let v =
        cx.w.res(&vault_key(cx))
            .map(|r| r.id.clone())
            .unwrap_or_else(|| format!("/{}", cx.segs[..8].join("/")));
    asr_id(&v)
}

fn require_vault(cx: &Cx) -> Result<(), SimResponse> {
    require_rg(cx)?;
    let k = vault_key(cx);
    match cx.w.resources.get(&k) {
        Some(r) if r.kind() == "microsoft.recoveryservices/vaults" => Ok(()),
        _ => Err(arm_error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource 'Microsoft.RecoveryServices/vaults/{}' under resource group '{}' was not found.",
                cx.segs[7], cx.segs[3]
            ),
        )),
    }
}

fn with_etag(mut r: SimResponse, res: &Res) -> SimResponse {
    r.headers
        .push(("ETag".into(), format!("W/\"{}\"", res.etag)));
    r
}

fn check_if_match(cx: &Cx, existing: Option<&Res>) -> Result<(), SimResponse> {
    if let Some(want) = cx.req.header("if-match") {
        let have = existing.map(|r| format!("W/\"{}\"", r.etag));
        if want != "*" && have.as_deref() != Some(want) {
            return Err(arm_error(
                412,
                "PreconditionFailed",
                &format!("The ETag '{want}' does not match the resource's current ETag."),
            ));
        }
        if want == "*" && existing.is_none() {
            return Err(arm_error(
                412,
                "PreconditionFailed",
                "If-Match '*' but the resource does not exist.",
            ));
        }
    }
    if cx.req.header("if-none-match") == Some("*") && existing.is_some() {
        return Err(arm_error(
            412,
            "PreconditionFailed",
            "If-None-Match '*' but the resource exists.",
        ));
    }
    Ok(())
}

fn query(cx: &Cx, name: &str) -> Option<String> {
    cx.req
        .url
        .query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_string())
}

/// One page of `items` with `nextLink` when more remain.
fn page(cx: &Cx, items: Vec<Value>, asr: bool) -> SimResponse {
    let (start, size) = window(cx);
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    page_of(cx, slice, start, total, asr)
}

/// The `(skipToken, page size)` of a list request.
fn window(cx: &Cx) -> (usize, usize) {
    let start = query(cx, "skipToken")
        .or_else(|| query(cx, "$skipToken"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (start, cx.w.config.page_size.max(1))
}

/// A page whose items were already cut out of a list of `total` starting at `start`.
fn page_of(cx: &Cx, slice: Vec<Value>, start: usize, total: usize, asr: bool) -> SimResponse {
    let size = cx.w.config.page_size.max(1);
    let mut body = json!({"value": slice});
    if start + size < total {
        let mut u = url::Url::parse(&format!("{}{}", cx.base, cx.path)).expect("base url parses");
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in cx.req.url.query_pairs() {
                if !k.eq_ignore_ascii_case("skipToken") && !k.eq_ignore_ascii_case("$skipToken") {
                    q.append_pair(&k, &v);
                }
            }
            q.append_pair(
                if asr { "skipToken" } else { "$skipToken" },
                &(start + size).to_string(),
            );
        }
        body["nextLink"] = json!(u.to_string());
    }
    resp(200, Some(body))
}

/// One page of the resources of `kind` under `scope`, rendering (copying) only the items on that page: a resource
/// group of 10,000 VMs is listed page by page, and copying every VM for each page made listing it quadratic.
fn page_kind(
    cx: &Cx,
    scope: &str,
    kind: &str,
    render: impl Fn(&World, &Res) -> Value,
    asr: bool,
) -> SimResponse {
    let prefix = format!("{}/", key(scope));
    let (start, size) = window(cx);
    let mut total = 0;
    let mut items = Vec::new();
    for (_, r) in
        cx.w.resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, r)| is_kind(r, kind))
    {
        if total >= start && items.len() < size {
            items.push(render(cx.w, r));
        }
        total += 1;
    }
    page_of(cx, items, start, total, asr)
}

/// Whether `r` has the (lower-case) resource type `kind`, without allocating a lower-cased copy of its type.
fn is_kind(r: &Res, kind: &str) -> bool {
    r.body
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
}

/// A resource's stored body, as the plain list endpoints answer it.
fn body_of(_: &World, r: &Res) -> Value {
    r.body.clone()
}

fn dispatch(cx: &mut Cx) -> Reply {
    use H::*;
    let m = cx.method.clone();
    let m = m.as_str();
    match cx.h {
        RgList => {
            let sub = format!("/subscriptions/{}", cx.segs[1]);
            Ok(page_kind(
                cx,
                &sub,
                "microsoft.resources/resourcegroups",
                body_of,
                false,
            ))
        }
        Rg => rg(cx, m),
        NetList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.network/virtualnetworks",
            body_of,
            false,
        )),
        Net => vnet(cx, m),
        SubnetList => {
            let id = parent_id(&format!("{}/x", req_id(cx)));
            let v = cx.w.res(&parent_id(&format!("{id}/x"))).cloned();
            let _ = id;
            let vnet_id = format!("/{}", cx.segs[..8].join("/"));
            let v = v
                .or_else(|| cx.w.res(&vnet_id).cloned())
                .ok_or_else(|| not_found(&vnet_id))?;
            let subs = v.body["properties"]["subnets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            Ok(page(cx, subs, false))
        }
        Subnet => subnet(cx, m),
        NicList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.network/networkinterfaces",
            body_of,
            false,
        )),
        Nic => get_generic(cx, "microsoft.network/networkinterfaces"),
        SaList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.storage/storageaccounts",
            body_of,
            false,
        )),
        Sa => storage(cx, m),
        AvsetList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.compute/availabilitysets",
            body_of,
            false,
        )),
        Avset => avset(cx, m),
        VmList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.compute/virtualmachines",
            |w, r| vm_view(w, r.body.clone(), cx.now),
            false,
        )),
        Vm => {
            let id = req_id(cx);
            let r =
                cx.w.res(&id)
                    .filter(|r| r.kind() == "microsoft.compute/virtualmachines")
                    .cloned()
                    .ok_or_else(|| not_found(&id))?;
            Ok(with_etag(
                resp(200, Some(vm_view(cx.w, r.body.clone(), cx.now))),
                &r,
            ))
        }
        VmAction => vm_action(cx),
        DiskList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.compute/disks",
            |w, r| disk_view(w, r.body.clone(), cx.now),
            false,
        )),
        Disk => {
            let id = req_id(cx);
            let r =
                cx.w.res(&id)
                    .filter(|r| r.kind() == "microsoft.compute/disks")
                    .cloned()
                    .ok_or_else(|| not_found(&id))?;
            Ok(with_etag(
                resp(200, Some(disk_view(cx.w, r.body.clone(), cx.now))),
                &r,
            ))
        }
        VaultList => Ok(page_kind(
            cx,
            &scope(cx),
            "microsoft.recoveryservices/vaults",
            body_of,
            false,
        )),
        Vault => vault(cx, m),
        OpStatus => op_status(cx),
        Eligibility => eligibility(cx),
        _ => {
            require_vault(cx)?;
            asr(cx, m)
        }
    }
}

/// The list scope: subscription or resource group of the request.
fn scope(cx: &Cx) -> String {
    if cx.segs.len() > 3 && cx.segs[2].eq_ignore_ascii_case("resourcegroups") {
        rg_id(cx)
    } else {
        format!("/subscriptions/{}", cx.segs[1])
    }
}

fn get_generic(cx: &Cx, kind: &str) -> Reply {
    let id = req_id(cx);
    let r =
        cx.w.res(&id)
            .filter(|r| r.kind() == kind)
            .ok_or_else(|| not_found(&id))?;
    Ok(with_etag(resp(200, Some(r.body.clone())), r))
}

fn location_of(body: &Value) -> Result<String, SimResponse> {
    let loc = body["location"]
        .as_str()
        .ok_or_else(|| bad("location", "is required"))?;
    let l = loc.to_ascii_lowercase().replace(' ', "");
    crate::region::canonical(&l)
        .map(str::to_string)
        .ok_or_else(|| {
            arm_error(
                400,
                "LocationNotAvailableForResourceType",
                &format!("The provided location '{loc}' is not available for this resource type."),
            )
        })
}

fn rg(cx: &mut Cx, m: &str) -> Reply {
    let id = format!(
        "/subscriptions/{}/resourceGroups/{}",
        cx.segs[1], cx.segs[3]
    );
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" | "HEAD" => {
            let r = existing.ok_or_else(|| {
                arm_error(
                    404,
                    "ResourceGroupNotFound",
                    &format!("Resource group '{}' could not be found.", cx.segs[3]),
                )
            })?;
            Ok(resp(200, if m == "GET" { Some(r.body) } else { None }))
        }
        "PUT" | "PATCH" => {
            let body = body_json(cx)?;
            if !body.is_object() {
                return Err(bad("body", "a JSON object is required"));
            }
            let loc = match (&existing, m) {
                (Some(e), _) => e.location.clone().unwrap_or_default(),
                (None, "PATCH") => {
                    return Err(arm_error(
                        404,
                        "ResourceGroupNotFound",
                        &format!("Resource group '{}' could not be found.", cx.segs[3]),
                    ));
                }
                (None, _) => location_of(&body)?,
            };
            if let (Some(e), Some(l)) = (&existing, body["location"].as_str())
                && !e
                    .location
                    .as_deref()
                    .unwrap_or("")
                    .eq_ignore_ascii_case(&l.replace(' ', ""))
            {
                return Err(arm_error(
                    409,
                    "InvalidResourceGroupLocation",
                    &format!(
                        "Invalid resource group location '{l}'. The Resource group already exists in location '{}'.",
                        e.location.as_deref().unwrap_or("")
                    ),
                ));
            }
            let id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(id);
            let name = last_segment(&id).to_string();
            let tags = body
                .get("tags")
                .cloned()
                .or_else(|| existing.as_ref().and_then(|e| e.body.get("tags").cloned()))
                .unwrap_or(json!({}));
            let b = json!({"id": id, "name": name, "type": "Microsoft.Resources/resourceGroups", "location": loc,
                "tags": tags, "properties": {"provisioningState": "Succeeded"}});
            cx.w.put_res(Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: Some(loc),
                body: b.clone(),
                etag: 0,
            });
            Ok(resp(if existing.is_some() { 200 } else { 201 }, Some(b)))
        }
        "DELETE" => {
            if existing.is_none() {
                return Ok(resp(204, None));
            }
            let k = key(&id);
            let prefix = format!("{k}/");
            let vms: Vec<String> =
                cx.w.resources
                    .iter()
                    .filter(|(kk, r)| {
                        kk.starts_with(&prefix) && r.kind() == "microsoft.compute/virtualmachines"
                    })
                    .map(|(kk, _)| kk.clone())
                    .collect();
            for vm in vms {
                cx.w.vm_runs.remove(&vm);
            }
            cx.w.resources
                .retain(|kk, _| kk != &k && !kk.starts_with(&prefix));
            cx.w.rpis.retain(|kk, _| !kk.starts_with(&prefix));
            let op = new_op(cx, None, cx.now, None);
            let mut r = resp(202, None);
            r.headers
                .push(("Location".into(), op_url(cx, &op, "operationresults")));
            r.headers.push((
                "Retry-After".into(),
                cx.w.config.retry_after_secs.to_string(),
            ));
            Ok(r)
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on resource groups."),
        )),
    }
}

/// Creates an operation record and returns its id.
fn new_op(
    cx: &mut Cx,
    job: Option<String>,
    done_at: OffsetDateTime,
    result: Option<String>,
) -> String {
    let id = cx.w.guid("op");
    cx.w.ops.insert(
        id.clone(),
        Op {
            id: id.clone(),
            job,
            done_at,
            start: cx.now,
            result,
        },
    );
    id
}

/// A status URL for a non-ASR operation: `{base}/subscriptions/{s}/providers/{ns}/locations/{loc}/{kind}/{id}`.
fn op_url(cx: &Cx, op: &str, kind: &str) -> String {
    let ns = cx
        .segs
        .get(5)
        .cloned()
        .unwrap_or_else(|| "Microsoft.Resources".into());
    format!(
        "{}/subscriptions/{}/providers/{ns}/locations/global/{kind}/{op}?api-version={}",
        cx.base, cx.segs[1], cx.api
    )
}

fn vnet(cx: &mut Cx, m: &str) -> Reply {
    let id = req_id(cx);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => {
            let r = existing
                .filter(|r| r.kind() == "microsoft.network/virtualnetworks")
                .ok_or_else(|| not_found(&id))?;
            Ok(with_etag(resp(200, Some(r.body.clone())), &r))
        }
        "PUT" => {
            require_rg(cx)?;
            check_if_match(cx, existing.as_ref())?;
            let body = body_json(cx)?;
            let loc = location_of(&body)?;
            let space: Vec<String> = body["properties"]["addressSpace"]["addressPrefixes"]
                .as_array()
                .ok_or_else(|| bad("properties.addressSpace.addressPrefixes", "is required"))?
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        bad("properties.addressSpace.addressPrefixes", "must be strings")
                    })
                })
                .collect::<Result<_, _>>()?;
            let nets: Vec<ipnet::Ipv4Net> = space
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    s.parse().map_err(|_| {
                        bad(
                            &format!("properties.addressSpace.addressPrefixes[{i}]"),
                            &format!("'{s}' is not a valid CIDR"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            let mut subnets = Vec::new();
            for (i, s) in body["properties"]["subnets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let name = s["name"]
                    .as_str()
                    .ok_or_else(|| bad(&format!("properties.subnets[{i}].name"), "is required"))?;
                let p = s["properties"]["addressPrefix"].as_str().ok_or_else(|| {
                    bad(
                        &format!("properties.subnets[{i}].properties.addressPrefix"),
                        "is required",
                    )
                })?;
                let pn: ipnet::Ipv4Net = p.parse().map_err(|_| {
                    bad(
                        &format!("properties.subnets[{i}].properties.addressPrefix"),
                        &format!("'{p}' is not a valid CIDR"),
                    )
                })?;
                if !nets.iter().any(|n| n.contains(&pn)) {
                    return Err(arm_error(
                        400,
                        "NetcfgSubnetRangeOutsideVnet",
                        &format!(
                            "Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network '{}'.",
                            cx.segs[7]
                        ),
                    ));
                }
                subnets.push((name.to_string(), p.to_string()));
            }
            let sub = cx.segs[1].clone();
            let rg =
                cx.w.res(&rg_id(cx))
                    .map(|r| last_segment(&r.id).to_string())
                    .unwrap_or_else(|| cx.segs[3].clone());
            cx.w.put_vnet(&sub, &rg, &cx.segs[7], &loc, &space, &subnets);
            let r = cx.w.res(&id).cloned().expect("just created");
            let op = new_op(cx, None, cx.now, Some(r.id.clone()));
            let mut out = with_etag(
                resp(
                    if existing.is_some() { 200 } else { 201 },
                    Some(r.body.clone()),
                ),
                &r,
            );
            out.headers
                .push(("Azure-AsyncOperation".into(), op_url(cx, &op, "operations")));
            out.headers.push((
                "Retry-After".into(),
                cx.w.config.retry_after_secs.to_string(),
            ));
            Ok(out)
        }
        "DELETE" => {
            if existing.is_none() {
                return Ok(resp(204, None));
            }
            cx.w.resources.remove(&key(&id));
            let op = new_op(cx, None, cx.now, None);
            let mut out = resp(202, None);
            out.headers
                .push(("Azure-AsyncOperation".into(), op_url(cx, &op, "operations")));
            out.headers
                .push(("Location".into(), op_url(cx, &op, "operationresults")));
            Ok(out)
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported here."),
        )),
    }
}

fn subnet(cx: &mut Cx, m: &str) -> Reply {
    let vnet_id = format!("/{}", cx.segs[..8].join("/"));
    let name = cx.segs[9].clone();
    let v =
        cx.w.res(&vnet_id)
            .cloned()
            .ok_or_else(|| not_found(&vnet_id))?;
    let subs = v.body["properties"]["subnets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = subs
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        })
        .cloned();
    match m {
        "GET" => found
            .map(|s| resp(200, Some(s)))
            .ok_or_else(|| not_found(&format!("{vnet_id}/subnets/{name}"))),
        "PUT" => {
            let body = body_json(cx)?;
            let p = body["properties"]["addressPrefix"]
                .as_str()
                .ok_or_else(|| bad("properties.addressPrefix", "is required"))?;
            let pn: ipnet::Ipv4Net = p.parse().map_err(|_| {
                bad(
                    "properties.addressPrefix",
                    &format!("'{p}' is not a valid CIDR"),
                )
            })?;
            let space: Vec<String> = v.body["properties"]["addressSpace"]["addressPrefixes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            if !space
                .iter()
                .filter_map(|s| s.parse::<ipnet::Ipv4Net>().ok())
                .any(|n| n.contains(&pn))
            {
                return Err(arm_error(
                    400,
                    "NetcfgSubnetRangeOutsideVnet",
                    &format!(
                        "Subnet '{name}' is outside the address space of '{}'.",
                        v.id
                    ),
                ));
            }
            let mut list: Vec<(String, String)> = subs
                .iter()
                .filter(|s| {
                    !s["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                })
                .map(|s| {
                    (
                        s["name"].as_str().unwrap_or("").to_string(),
                        s["properties"]["addressPrefix"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect();
            list.push((name.clone(), p.to_string()));
            let parts: Vec<&str> = v.id.split('/').collect();
            let (sub, rg, vn) = (
                parts[2].to_string(),
                parts[4].to_string(),
                parts[8].to_string(),
            );
            cx.w.put_vnet(
                &sub,
                &rg,
                &vn,
                v.location.as_deref().unwrap_or(""),
                &space,
                &list,
            );
            let nv = cx.w.res(&vnet_id).cloned().expect("vnet");
            let s = nv.body["properties"]["subnets"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == json!(name)).cloned())
                .unwrap_or(Value::Null);
            let op = new_op(cx, None, cx.now, None);
            let mut out = resp(if found.is_some() { 200 } else { 201 }, Some(s));
            out.headers
                .push(("Azure-AsyncOperation".into(), op_url(cx, &op, "operations")));
            Ok(out)
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on subnets."),
        )),
    }
}

fn storage(cx: &mut Cx, m: &str) -> Reply {
    let id = req_id(cx);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_generic(cx, "microsoft.storage/storageaccounts"),
        "PUT" => {
            require_rg(cx)?;
            let body = body_json(cx)?;
            let loc = location_of(&body)?;
            let kind = body["kind"]
                .as_str()
                .ok_or_else(|| bad("kind", "is required"))?
                .to_string();
            let sku = body["sku"]["name"]
                .as_str()
                .ok_or_else(|| bad("sku.name", "is required"))?
                .to_string();
            let name = cx.segs[7].clone();
            if !(3..=24).contains(&name.len())
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                return Err(arm_error(
                    400,
                    "AccountNameInvalid",
                    &format!(
                        "'{name}' is not a valid storage account name: 3-24 lower-case letters and digits."
                    ),
                ));
            }
            let id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(id);
            let b = json!({"id": id, "name": name, "type": "Microsoft.Storage/storageAccounts", "location": loc, "kind": kind,
                "sku": {"name": sku}, "properties": {"provisioningState": "Succeeded", "primaryLocation": loc}});
            cx.w.put_res(Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: Some(loc),
                body: b,
                etag: 0,
            });
            let op = new_op(cx, None, cx.now, Some(id));
            let mut out = resp(202, None);
            out.headers
                .push(("Location".into(), op_url(cx, &op, "asyncoperations")));
            out.headers.push((
                "Retry-After".into(),
                cx.w.config.retry_after_secs.to_string(),
            ));
            Ok(out)
        }
        "DELETE" => {
            cx.w.resources.remove(&key(&id));
            Ok(resp(if existing.is_some() { 200 } else { 204 }, None))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on storage accounts."),
        )),
    }
}

fn avset(cx: &mut Cx, m: &str) -> Reply {
    let id = req_id(cx);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_generic(cx, "microsoft.compute/availabilitysets"),
        "PUT" => {
            require_rg(cx)?;
            let body = body_json(cx)?;
            let loc = location_of(&body)?;
            let fd = body["properties"]["platformFaultDomainCount"]
                .as_i64()
                .unwrap_or(2);
            let ud = body["properties"]["platformUpdateDomainCount"]
                .as_i64()
                .unwrap_or(5);
            if !(1..=3).contains(&fd) {
                return Err(bad(
                    "properties.platformFaultDomainCount",
                    "must be between 1 and 3",
                ));
            }
            let id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(id);
            let b = json!({"id": id, "name": cx.segs[7], "type": "Microsoft.Compute/availabilitySets", "location": loc,
                "sku": body.get("sku").cloned().unwrap_or(json!({"name": "Aligned"})),
                "properties": {"platformFaultDomainCount": fd, "platformUpdateDomainCount": ud, "virtualMachines": []}});
            cx.w.put_res(Res {
                id,
                sub: cx.segs[1].clone(),
                location: Some(loc),
                body: b.clone(),
                etag: 0,
            });
            Ok(resp(if existing.is_some() { 200 } else { 201 }, Some(b)))
        }
        "DELETE" => {
            cx.w.resources.remove(&key(&id));
            Ok(resp(if existing.is_some() { 200 } else { 204 }, None))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on availability sets."),
        )),
    }
}

pub(crate) fn vm_view(w: &World, mut b: Value, now: OffsetDateTime) -> Value {
    let id = b["id"].as_str().unwrap_or("").to_string();
    let running = w.vm_running(&id, now);
    b["properties"]["instanceView"] = json!({"statuses": [
        {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
        {"code": if running { "PowerState/running" } else { "PowerState/stopped" }, "level": "Info",
         "displayStatus": if running { "VM running" } else { "VM stopped" }}]});
    b
}

fn disk_view(w: &World, mut b: Value, now: OffsetDateTime) -> Value {
    let id = b["id"].as_str().unwrap_or("").to_string();
    if let Some(v) = w.disk_content(&id, now) {
        // Simulator-only field: the content version (MB written) that failover tests compare.
        b["properties"]["simulatorContentVersion"] = json!(v);
    }
    b
}

fn vm_action(cx: &mut Cx) -> Reply {
    let vm_id = format!("/{}", cx.segs[..8].join("/"));
    let action = cx.segs[8].to_ascii_lowercase();
    if cx.w.res(&vm_id).is_none() {
        return Err(not_found(&vm_id));
    }
    match action.as_str() {
        "poweroff" | "deallocate" => cx.w.stop_vm(&vm_id, cx.now),
        "start" | "restart" => cx.w.start_vm(&vm_id, cx.now),
        other => {
            return Err(arm_error(
                404,
                "InvalidResourceType",
                &format!("Unknown VM action '{other}'."),
            ));
        }
    }
    let op = new_op(cx, None, cx.now, None);
    let mut out = resp(202, None);
    out.headers
        .push(("Azure-AsyncOperation".into(), op_url(cx, &op, "operations")));
    out.headers
        .push(("Location".into(), op_url(cx, &op, "operationresults")));
    out.headers.push((
        "Retry-After".into(),
        cx.w.config.retry_after_secs.to_string(),
    ));
    Ok(out)
}

fn vault(cx: &mut Cx, m: &str) -> Reply {
    let id = req_id(cx);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_generic(cx, "microsoft.recoveryservices/vaults"),
        "PUT" | "PATCH" => {
            require_rg(cx)?;
            check_if_match(cx, existing.as_ref())?;
            let body = body_json(cx)?;
            if m == "PATCH" && existing.is_none() {
                return Err(not_found(&id));
            }
            let loc = match &existing {
                Some(e) => e.location.clone().unwrap_or_default(),
                None => location_of(&body)?,
            };
            let sku = body["sku"]["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    existing
                        .as_ref()
                        .and_then(|e| e.body["sku"]["name"].as_str().map(str::to_string))
                });
            let sku = match (sku, m) {
                (Some(s), _) => s,
                (None, _) => return Err(bad("sku.name", "is required (Standard or RS0)")),
            };
            if !["Standard", "RS0"].contains(&sku.as_str()) {
                return Err(bad(
                    "sku.name",
                    &format!("'{sku}' is not one of Standard, RS0"),
                ));
            }
            let id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(id);
            let mut b = existing.as_ref().map(|e| e.body.clone()).unwrap_or_else(|| json!({
                "id": id, "name": cx.segs[7], "type": "Microsoft.RecoveryServices/vaults", "location": loc, "tags": {},
                "properties": {"provisioningState": "Succeeded", "privateEndpointStateForBackup": "None",
                    "privateEndpointStateForSiteRecovery": "None", "publicNetworkAccess": "Enabled"}}));
            b["sku"] = json!({"name": sku});
            for k in ["tags", "identity"] {
                if let Some(v) = body.get(k) {
                    b[k] = v.clone();
                }
            }
            if body["properties"].is_object() {
                world::merge(&mut b["properties"], &body["properties"]);
                b["properties"]["provisioningState"] = json!("Succeeded");
            }
            if let Some(ident) = b.get_mut("identity")
                && ident["type"]
                    .as_str()
                    .is_some_and(|t| t.contains("SystemAssigned"))
            {
                ident["principalId"] = json!("00000000-0000-0000-0000-0000000000aa");
                ident["tenantId"] = json!("00000000-0000-0000-0000-0000000000bb");
            }
            cx.w.put_res(Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: Some(loc),
                body: b.clone(),
                etag: 0,
            });
            // The simulated vault takes no time to provision, so the PUT answers as the RP does when the work is
            // already done: 200 with the final body (provisioningState Succeeded) and nothing to poll. The spec's
            // example (PUTVault_WithSourceScanConfiguration) has both shapes: that 200, and 201 `Provisioning`
            // with `Azure-AsyncOperation` and `Retry-After: 10` for work still running.
            Ok(resp(200, Some(b)))
        }
        "DELETE" => {
            let Some(e) = existing else {
                return Ok(resp(204, None));
            };
            let k = key(&e.id);
            let busy =
                cx.w.resources
                    .keys()
                    .any(|kk| kk.starts_with(&format!("{k}/replicationfabrics/")))
                    || cx.w.rpis.keys().any(|kk| kk.starts_with(&format!("{k}/")));
            if busy {
                return Err(arm_error(
                    400,
                    "ServiceResourceNotEmpty",
                    "Vault cannot be deleted as there are existing resources within the vault.",
                ));
            }
            cx.w.resources.remove(&k);
            Ok(resp(200, None))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on vaults."),
        )),
    }
}

fn op_status(cx: &mut Cx) -> Reply {
    let op_id = cx.segs.last().cloned().unwrap_or_default();
    let kind = cx.segs[cx.segs.len() - 2].to_ascii_lowercase();
    let op =
        cx.w.ops
            .get(&op_id)
            .cloned()
            .ok_or_else(|| not_found(&req_id(cx)))?;
    let (status, error, end) = match &op.job {
        Some(j) => {
            let job = cx.w.jobs.get(j).cloned().ok_or_else(|| not_found(j))?;
            let st = job.state(cx.now);
            let status = match st {
                // A job held at a manual action is still a running operation for the client.
                "InProgress" | "Suspended" => "InProgress",
                "Succeeded" => "Succeeded",
                "Cancelled" => "Canceled",
                _ => "Failed",
            };
            let err = job
                .fail
                .as_ref()
                .map(|(c, m)| json!({"code": c, "message": m}));
            let end = if status == "InProgress" {
                None
            } else {
                job.cancelled_at.or(job.end())
            };
            (status, err, end)
        }
        None => {
            if cx.now >= op.done_at {
                ("Succeeded", None, Some(op.done_at))
            } else {
                ("InProgress", None, None)
            }
        }
    };
    let is_result = kind.contains("result") || kind == "asyncoperations";
    if is_result {
        // A `Location` poll: 202 until done, then the resource (200) or 204; a failure answers the error.
        return match status {
            "InProgress" => {
                let mut r = resp(202, None);
                r.headers.push((
                    "Location".into(),
                    format!(
                        "{}{}?{}",
                        cx.base,
                        cx.path,
                        cx.req.url.query().unwrap_or("")
                    ),
                ));
                r.headers.push((
                    "Retry-After".into(),
                    cx.w.config.retry_after_secs.to_string(),
                ));
                Ok(r)
            }
            "Succeeded" => match op
                .result
                .as_deref()
                .and_then(|id| render_any(cx.w, id, cx.now))
            {
                Some(b) => Ok(resp(200, Some(b))),
                None => Ok(resp(204, None)),
            },
            _ => {
                let e = error.unwrap_or(
                    json!({"code": "OperationCanceled", "message": "The operation was canceled."}),
                );
                Ok(asr_error(
                    400,
                    e["code"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or(""),
                    "Check the job for details.",
                ))
            }
        };
    }
    let mut b = json!({"id": asr_id(&format!("/{}", cx.segs.join("/"))), "name": op_id, "status": status,
        "startTime": ts(op.start)});
    if let Some(e) = end {
        b["endTime"] = json!(ts(e));
    }
    if let Some(e) = error {
        b["error"] = e;
    }
    // ASR answers an action's operation status with the job behind it, so a client that only holds the
    // `Azure-AsyncOperation` URL can follow (or report) the job; `properties.jobId` is the ARM operation-status
    // schema's free-form `properties` slot, where the provider's LRO reader looks for it.
    if let Some(j) = op.job.as_ref().and_then(|j| cx.w.jobs.get(j)) {
        b["properties"] = json!({"jobId": asr_id(&j.id), "jobName": j.name});
    }
    let mut r = resp(200, Some(b));
    if status == "InProgress" {
        r.headers.push((
            "Retry-After".into(),
            cx.w.config.retry_after_secs.to_string(),
        ));
    }
    Ok(r)
}

/// The body of any resource by id (generic, RPI, job), as GET answers it.
pub fn render_any(w: &World, id: &str, now: OffsetDateTime) -> Option<Value> {
    let k = key(id);
    if let Some(r) = w.rpis.get(&k) {
        let loads = w.cache_loads();
        return Some(render_rpi(w, r, now, &loads));
    }
    if let Some(j) = w.jobs.get(&k) {
        return Some(render_job(j, now));
    }
    let r = w.resources.get(&k)?;
    Some(render_res(w, r, now))
}

pub(crate) fn render_res(w: &World, r: &Res, now: OffsetDateTime) -> Value {
    let kind = r.kind();
    let mut b = r.body.clone();
    if kind.ends_with("/replicationprotectioncontainers") {
        let k = key(&r.id);
        let count = w
            .rpis
            .keys()
            .filter(|kk| kk.starts_with(&format!("{k}/")))
            .count();
        let paired = w
            .resources
            .keys()
            .any(|kk| kk.starts_with(&format!("{k}/replicationprotectioncontainermappings/")));
        b["properties"]["protectedItemCount"] = json!(count);
        b["properties"]["pairingStatus"] = json!(if paired { "Paired" } else { "NotPaired" });
    } else if kind.ends_with("/replicationrecoveryplans") {
        let items = plan_items(&b);
        let rpis: Vec<&Rpi> = items.iter().filter_map(|i| w.rpis.get(&key(i))).collect();
        let mut allowed: Vec<&str> = Vec::new();
        if !rpis.is_empty() {
            let all = |op: &str| rpis.iter().all(|r| w.allowed_ops(r, now).contains(&op));
            for (op, plan_op) in [
                ("TestFailover", "TestFailover"),
                ("TestFailoverCleanup", "TestFailoverCleanup"),
                ("UnplannedFailover", "UnplannedFailover"),
                ("Commit", "Commit"),
                ("CancelFailover", "CancelFailover"),
                ("SwitchProtection", "ReverseReplicate"),
            ] {
                if all(op) {
                    allowed.push(plan_op);
                }
            }
        }
        b["properties"]["allowedOperations"] = json!(allowed);
        let running = w
            .jobs
            .values()
            .find(|j| j.holders.contains(&key(&r.id)) && j.is_active(now));
        b["properties"]["currentScenario"] = match running {
            Some(j) => {
                json!({"scenarioName": j.scenario, "jobId": asr_id(&j.id), "startTime": ts(j.start)})
            }
            None => {
                json!({"scenarioName": "None", "jobId": format!("{}/replicationJobs/None", asr_id(&parent_id(&r.id))), "startTime": ts(now)})
            }
        };
        b["properties"]["currentScenarioStatus"] = json!(if running.is_some() {
            "InProgress"
        } else {
            "Succeeded"
        });
    }
    b
}

fn plan_items(b: &Value) -> Vec<String> {
    b["properties"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| {
            g["replicationProtectedItems"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect()
}

fn render_job(j: &Job, now: OffsetDateTime) -> Value {
    let state = j.state(now);
    let tl = j.timeline();
    let mut tasks = Vec::new();
    let stop = j.cancelled_at.unwrap_or(now);
    for (i, task) in j.tasks.iter().enumerate() {
        let last = i + 1 == j.tasks.len();
        let waiting = tl
            .suspended
            .is_some_and(|(at, since)| at == i && since <= stop);
        let span = tl.spans[i];
        let started = span.is_some_and(|(t, _)| stop >= t) || waiting;
        let ended = span.is_some_and(|(_, e)| stop >= e);
        let (ts_state, desc) = if waiting && j.cancelled_at.is_none() {
            ("Suspended", "Waiting for the manual action to be resumed")
        } else if !started {
            (
                if j.cancelled_at.is_some() {
                    "Cancelled"
                } else {
                    "NotStarted"
                },
                "Not started",
            )
        } else if !ended {
            (
                if j.cancelled_at.is_some() {
                    "Cancelled"
                } else {
                    "InProgress"
                },
                "In progress",
            )
        } else if last && j.fail.is_some() {
            ("Failed", "Failed")
        } else {
            ("Succeeded", "Completed")
        };
        let errors = if ts_state == "Failed" {
            let (c, m) = j.fail.clone().unwrap_or_default();
            json!([{"serviceErrorDetails": {"code": c, "message": m}, "errorLevel": "Error"}])
        } else {
            json!([])
        };
        let allowed = if ts_state == "Suspended" {
            json!(["Resume"])
        } else {
            json!([])
        };
        let mut tj = json!({"taskId": format!("{}-{i}", j.name), "name": task.name, "friendlyName": task.friendly_name,
            "state": ts_state, "stateDescription": desc, "taskType": "TaskDetails", "allowedActions": allowed,
            "customDetails": {"instanceType": task.kind}, "errors": errors});
        if started {
            let t = span.map(|(t, _)| t).or(tl.suspended.map(|(_, s)| s));
            if let Some(t) = t {
                tj["startTime"] = json!(ts(t));
            }
        }
        if let Some((_, e)) = span
            && ended
        {
            tj["endTime"] = json!(ts(e));
        }
        tasks.push(tj);
    }
    let errors = match &j.fail {
        Some((c, m)) if state == "Failed" => {
            json!([{"serviceErrorDetails": {"code": c, "message": m}, "errorLevel": "Error",
            "taskId": format!("{}-{}", j.name, j.tasks.len().saturating_sub(1))}])
        }
        _ => json!([]),
    };
    let allowed: Vec<&str> = match state {
        "InProgress" => vec!["Cancel"],
        // ASR offers only Resume on a job held at a manual action.
        "Suspended" => vec!["Resume"],
        "Failed" | "Cancelled" => vec!["Restart"],
        _ => vec![],
    };
    let mut b = json!({"id": asr_id(&j.id), "name": j.name, "type": "Microsoft.RecoveryServices/vaults/replicationJobs",
        "properties": {"activityId": format!("sim-{}", j.name), "scenarioName": j.scenario, "friendlyName": j.friendly_name,
            "state": state, "stateDescription": match state { "InProgress" => "In progress", "Succeeded" => "Completed", "Suspended" => "Waiting for a manual action", s => s },
            "tasks": tasks, "errors": errors, "startTime": ts(j.start), "allowedActions": allowed,
            "targetObjectId": j.target_id, "targetObjectName": j.target_name, "targetInstanceType": j.target_type,
            "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}}}});
    if let Some(e) = j.cancelled_at.or(tl.end)
        && !matches!(state, "InProgress" | "Suspended")
    {
        b["properties"]["endTime"] = json!(ts(e));
    }
    b
}

fn state_desc(s: &str) -> &str {
    match s {
        "Protected" => "Protected",
        "UnprotectedStatesBegin" => "Enabling protection",
        "UnplannedFailoverCommitPendingStatesBegin" => "Failover completed",
        "UnplannedFailoverCommitted" => "Failover committed",
        other => other,
    }
}

/// The RPI as GET answers it, computed from its state and the clock.
pub fn render_rpi(w: &World, r: &Rpi, now: OffsetDateTime, loads: &BTreeMap<String, f64>) -> Value {
    let protected = r.protected_at.is_some_and(|p| p <= now) && r.replication_started.is_some();
    let enabling = r.replication_started.is_none();
    let stopped_replicating = r.failover.is_some();
    let protection_state = if r.protection_state == "UnprotectedStatesBegin" && protected {
        "Protected"
    } else {
        r.protection_state.as_str()
    };
    let (vm_state, vm_desc, pct) = if stopped_replicating {
        (
            protection_state.to_string(),
            state_desc(protection_state).to_string(),
            100,
        )
    } else if enabling {
        ("EnablingProtection".into(), "Enabling protection".into(), 0)
    } else if !protected {
        let start = r.replication_started.unwrap_or(now);
        let end = r.protected_at.unwrap_or(now);
        let total = (end - start).as_seconds_f64().max(1.0);
        let done = ((now - start).as_seconds_f64() / total * 100.0).clamp(0.0, 99.0) as i64;
        (
            "InitialReplicationInProgress".into(),
            "Initial replication in progress".into(),
            done,
        )
    } else {
        ("Protected".into(), "Protected".into(), 100)
    };
    let churn = w.vm_churn(&r.source_vm_id);
    let source_down = w.region_down(&r.primary_location);
    let mut health_errors = Vec::new();
    let rpo = if protected && !stopped_replicating {
        w.rpo_secs(r, now, loads)
    } else {
        0
    };
    if protected && !stopped_replicating {
        if churn > world::VM_CHURN_LIMIT_MB_S {
            health_errors.push(json!({"errorCode": "153041", "errorLevel": "Warning", "errorCategory": "Replication",
                "summaryMessage": "High data change rate", "errorMessage": format!(
                    "The data change rate ({churn:.1} MB/s) of the virtual machine exceeds the supported limit ({} MB/s).", world::VM_CHURN_LIMIT_MB_S),
                "possibleCauses": "The workload writes more than Site Recovery can replicate.",
                "recommendedAction": "Reduce the write load or enable high churn.", "creationTimeUtc": ts(now),
                "entityId": r.lifecycle_id, "errorId": "153041", "customerResolvability": "Allowed", "innerHealthErrors": []}));
        }
        for d in &r.disks {
            let load = loads.get(&key(&d.cache_account)).copied().unwrap_or(0.0);
            if load > world::CACHE_ACCOUNT_BUDGET_MB_S {
                health_errors.push(json!({"errorCode": "153049", "errorLevel": "Warning", "errorCategory": "Replication",
                    "summaryMessage": "Cache storage account overloaded", "errorMessage": format!(
                        "The cache storage account '{}' receives {load:.0} MB/s, more than its budget of {} MB/s.", d.cache_account, world::CACHE_ACCOUNT_BUDGET_MB_S),
                    "possibleCauses": "Too many replicating disks share one cache account.",
                    "recommendedAction": "Spread disks over more cache storage accounts.", "creationTimeUtc": ts(now),
                    "entityId": d.disk_id, "errorId": "153049", "customerResolvability": "Allowed", "innerHealthErrors": []}));
                break;
            }
        }
        if source_down {
            health_errors.push(json!({"errorCode": "153050", "errorLevel": "Error", "errorCategory": "Replication",
                "summaryMessage": "Source region unavailable", "errorMessage": format!("The source region '{}' is unavailable.", r.primary_location),
                "possibleCauses": "Regional outage.", "recommendedAction": "Fail over with sourceSiteOperations NotRequired.",
                "creationTimeUtc": ts(now), "entityId": r.lifecycle_id, "errorId": "153050", "customerResolvability": "NotAllowed", "innerHealthErrors": []}));
        }
    }
    // An item whose enable job failed stays (as in ASR) until protection is disabled; it never replicates, and
    // says so: critical health with the job's error, and a state description that names the failure.
    let enable_failed = if enabling {
        r.enable_failed.clone()
    } else {
        None
    };
    let (vm_state, vm_desc) = match &enable_failed {
        Some((code, message)) => {
            health_errors.push(json!({"errorCode": code, "errorLevel": "Error", "errorCategory": "Replication",
                "summaryMessage": "Enable protection failed", "errorMessage": message,
                "possibleCauses": "The enable protection job failed.",
                "recommendedAction": "Disable protection of the item, fix the cause and enable protection again.",
                "creationTimeUtc": ts(now), "entityId": r.lifecycle_id, "errorId": code,
                "customerResolvability": "Allowed", "innerHealthErrors": []}));
            (vm_state, "Enabling protection failed".to_string())
        }
        None => (vm_state, vm_desc),
    };
    let health = if (source_down && protected) || enable_failed.is_some() {
        "Critical"
    } else if !health_errors.is_empty() || rpo > 30 * 60 {
        "Warning"
    } else if protected {
        "Normal"
    } else {
        "None"
    };
    let running = r
        .current_job
        .as_ref()
        .and_then(|j| w.jobs.get(j))
        .filter(|j| j.is_active(now));
    let vault_id = w
        .resources
        .get(&r.vault)
        .map(|v| asr_id(&v.id))
        .unwrap_or_default();
    let current = match running {
        Some(j) => {
            json!({"scenarioName": j.scenario, "jobId": asr_id(&j.id), "startTime": ts(j.start)})
        }
        None => {
            json!({"scenarioName": "None", "jobId": format!("{vault_id}/replicationJobs/None"), "startTime": "0001-01-01T00:00:00Z"})
        }
    };
    let policy_name = last_segment(&r.policy_id).to_string();
    let src_vm = w.res(&r.source_vm_id);
    let disks: Vec<Value> = r.disks.iter().map(|d| json!({
        "diskId": d.disk_id, "diskName": d.name, "diskCapacityInBytes": d.capacity_bytes,
        "diskType": "Standard", "diskState": if protected { "Protected" } else { "InitialReplicationPending" },
        "monitoringPercentageCompletion": pct, "resyncRequired": false,
        "dataPendingInStagingStorageAccountInMB": 0.0, "dataPendingAtSourceAgentInMB": 0.0,
        "primaryStagingAzureStorageAccountId": d.cache_account, "recoveryResourceGroupId": d.recovery_rg,
        "recoveryReplicaDiskAccountType": d.replica_type, "recoveryTargetDiskAccountType": d.target_type,
        "recoveryReplicaDiskId": format!("{}/providers/Microsoft.Compute/disks/{}-ASRReplica", d.recovery_rg, d.name),
        "recoveryTargetDiskId": d.target_disk_id, "recoveryOrignalTargetDiskId": d.target_disk_id,
        "isDiskEncrypted": false, "isDiskKeyEncrypted": false, "allowedDiskLevelOperation": [],
        "failoverDiskName": format!("{}-asr", d.name), "tfoDiskName": format!("{}-test", d.name)
    })).collect();
    let s = &r.settings;
    let recovery_vm = r.failover.as_ref().map(|f| f.target_vm_id.clone());
    let psd = json!({
        "instanceType": "A2A",
        "fabricObjectId": r.source_vm_id,
        "lifecycleId": r.lifecycle_id,
        "vmProtectionState": vm_state, "vmProtectionStateDescription": vm_desc,
        "monitoringPercentageCompletion": pct,
        "monitoringJobType": if protected || stopped_replicating { Value::Null } else { json!("InitialReplication") },
        "rpoInSeconds": rpo,
        "lastRpoCalculatedTime": ts(now),
        "lastHeartbeat": ts(now),
        "agentVersion": "9.62.7172.1", "isReplicationAgentUpdateRequired": false, "isReplicationAgentCertificateUpdateRequired": false,
        "multiVmGroupName": s["multiVmGroupName"], "multiVmGroupId": s["multiVmGroupId"],
        "recoveryFabricObjectId": recovery_vm,
        "testFailoverRecoveryFabricObjectId": r.tfo_vm_id,
        "recoveryAzureVMName": s["recoveryAzureVMName"].as_str().map(str::to_string).unwrap_or_else(|| last_segment(&r.source_vm_id).to_string()),
        "tfoAzureVMName": s["tfoAzureVMName"],
        "recoveryAzureVMSize": s["recoveryAzureVMSize"].as_str().map(str::to_string)
            .or_else(|| src_vm.and_then(|v| v.body["properties"]["hardwareProfile"]["vmSize"].as_str().map(str::to_string))),
        "recoveryAzureResourceGroupId": s["recoveryResourceGroupId"],
        "recoveryAvailabilitySet": s["recoveryAvailabilitySetId"],
        "recoveryAvailabilityZone": s["recoveryAvailabilityZone"],
        "primaryAvailabilityZone": src_vm.and_then(|v| v.body["zones"].get(0).cloned()),
        "recoveryProximityPlacementGroupId": s["recoveryProximityPlacementGroupId"],
        "recoveryBootDiagStorageAccountId": s["recoveryBootDiagStorageAccountId"],
        "recoveryCapacityReservationGroupId": s["recoveryCapacityReservationGroupId"],
        "recoveryVirtualMachineScaleSetId": s["recoveryVirtualMachineScaleSetId"],
        "selectedRecoveryAzureNetworkId": s["selectedRecoveryAzureNetworkId"].as_str().or(s["recoveryAzureNetworkId"].as_str()),
        "selectedTfoAzureNetworkId": s["selectedTfoAzureNetworkId"],
        "vmNics": r.vm_nics,
        "protectedManagedDisks": disks,
        "protectedDisks": [], "unprotectedDisks": [],
        "primaryFabricLocation": r.primary_location, "recoveryFabricLocation": r.recovery_location,
        "initialPrimaryFabricLocation": r.primary_location, "initialRecoveryFabricLocation": r.recovery_location,
        "osType": src_vm.and_then(|v| v.body["properties"]["storageProfile"]["osDisk"]["osType"].as_str().map(str::to_string)),
        "vmEncryptionType": "NotEncrypted",
        "churnOptionSelected": if churn > world::VM_CHURN_LIMIT_MB_S { "High" } else { "Normal" },
        "autoProtectionOfDataDisk": s["autoProtectionOfDataDisk"].as_str().unwrap_or("Disabled"),
        "platformFaultDomain": s["platformFaultDomain"],
    });
    let allowed = w.allowed_ops(r, now);
    json!({
        "id": asr_id(&r.id), "name": r.name,
        "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
        "properties": {
            "friendlyName": last_segment(&r.source_vm_id),
            "protectedItemType": "A2A",
            "protectableItemId": Value::Null,
            "recoveryServicesProviderId": "",
            "primaryFabricFriendlyName": last_segment(&r.fabric_id),
            "primaryFabricProvider": "Azure",
            "recoveryFabricFriendlyName": last_segment(&r.recovery_fabric_id),
            "recoveryFabricId": asr_id(&r.recovery_fabric_id),
            "primaryProtectionContainerFriendlyName": last_segment(&r.container_id),
            "recoveryProtectionContainerFriendlyName": last_segment(&r.recovery_container_id),
            "recoveryContainerId": asr_id(&r.recovery_container_id),
            "protectionState": protection_state,
            "protectionStateDescription": state_desc(protection_state),
            "activeLocation": r.active_location,
            "testFailoverState": r.test_failover_state,
            "testFailoverStateDescription": if r.test_failover_state == "WaitingForCompletion" { "Waiting for user input" } else { "None" },
            "allowedOperations": allowed,
            "replicationHealth": health,
            "failoverHealth": if source_down { "Warning" } else { "Normal" },
            "healthErrors": health_errors,
            "policyId": asr_id(&r.policy_id),
            "policyFriendlyName": policy_name,
            "lastSuccessfulFailoverTime": r.last_failover.map(ts),
            "lastSuccessfulTestFailoverTime": r.last_test_failover.map(ts),
            "currentScenario": current,
            "failoverRecoveryPointId": r.failover.as_ref().map(|f| f.point_id.clone()),
            "providerSpecificDetails": psd,
            "eventCorrelationId": r.lifecycle_id,
        }
    })
}

// ---------------------------------------------------------------------------------------------------------------
// ASR

fn asr_res_body(cx: &Cx, id: &str, kind: &str, props: Value) -> Value {
    json!({"id": asr_id(id), "name": last_segment(id), "type": kind, "location": cx.w.res(&vault_key(cx)).and_then(|v| v.location.clone()), "properties": props})
}

/// Starts a job and answers the LRO's initial 202 (or 204 for `status204`).
#[allow(clippy::too_many_arguments)]
fn start_job(
    cx: &mut Cx,
    scenario: &str,
    friendly: &str,
    target: (&str, &str, &str),
    tasks: Vec<Task>,
    effect: Effect,
    holders: Vec<String>,
    result: Option<String>,
) -> SimResponse {
    let name = cx.w.guid(scenario);
    let vault = vault_id(cx);
    let id = format!("{vault}/replicationJobs/{name}");
    let job = Job {
        id: id.clone(),
        name: name.clone(),
        vault: vault_key(cx),
        scenario: scenario.to_string(),
        friendly_name: friendly.to_string(),
        target_id: target.0.to_string(),
        target_name: target.1.to_string(),
        target_type: target.2.to_string(),
        start: cx.now,
        tasks,
        fail: cx.fail_job.take(),
        cancelled_at: None,
        effect,
        settled: false,
        holders: holders.clone(),
        resumes: vec![],
    };
    let jk = key(&id);
    for h in &holders {
        if let Some(r) = cx.w.rpis.get_mut(h) {
            r.current_job = Some(jk.clone());
        }
    }
    // A job held at a manual action has no end yet: `resume` files it in the due index.
    let end = job.end();
    if let Some(end) = end {
        cx.w.due.insert((end, jk.clone()));
    }
    cx.w.jobs.insert(jk.clone(), job);
    let op = new_op(cx, Some(jk), end.unwrap_or(cx.now), result);
    let status_url = format!(
        "{}{vault}/replicationOperationStatus/{op}?api-version={}",
        cx.base, cx.api
    );
    let result_url = format!(
        "{}{vault}/replicationOperationResults/{op}?api-version={}",
        cx.base, cx.api
    );
    let mut r = resp(202, None);
    r.headers.push(("Azure-AsyncOperation".into(), status_url));
    r.headers.push(("Location".into(), result_url));
    r.headers.push((
        "Retry-After".into(),
        cx.w.config.retry_after_secs.to_string(),
    ));
    r
}

fn task(name: &str, friendly: &str, secs: u64) -> Task {
    Task {
        name: name.into(),
        friendly_name: friendly.into(),
        secs,
        kind: "TaskDetails".into(),
        parallel: false,
    }
}

/// Splits `secs` into a prerequisite check and the main task, like ASR's job layout.
fn tasks2(main: &str, friendly: &str, secs: u64) -> Vec<Task> {
    let pre = secs.min(10);
    vec![
        task("PrerequisitesCheck", "Prerequisites check", pre),
        task(main, friendly, secs - pre),
    ]
}

fn instance_type<'a>(v: &'a Value, field: &str, allowed: &[&str]) -> Result<&'a str, SimResponse> {
    let it = v["instanceType"]
        .as_str()
        .ok_or_else(|| bad(&format!("{field}.instanceType"), "is required"))?;
    if !allowed.contains(&it) {
        return Err(asr_error(
            400,
            "150052",
            &format!(
                "'{field}.instanceType' is '{it}', which this service does not support; expected one of: {}.",
                allowed.join(", ")
            ),
            "Use the Azure-to-Azure (A2A) replication provider.",
        ));
    }
    Ok(it)
}

fn asr(cx: &mut Cx, m: &str) -> Reply {
    use H::*;
    let vk = vault_key(cx);
    match cx.h {
        FabricList => Ok(page_kind(
            cx,
            &vk,
            "microsoft.recoveryservices/vaults/replicationfabrics",
            |w, r| render_res(w, r, cx.now),
            true,
        )),
        ContainerList => {
            let scope = if cx.segs.len() > 10 {
                format!("/{}", cx.segs[..10].join("/"))
            } else {
                vk.clone()
            };
            Ok(page_kind(
                cx,
                &scope,
                "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers",
                |w, r| render_res(w, r, cx.now),
                true,
            ))
        }
        MappingList => {
            let scope = if cx.segs.len() > 12 {
                format!("/{}", cx.segs[..12].join("/"))
            } else {
                vk.clone()
            };
            Ok(page_kind(
                cx,
                &scope,
                "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers/replicationprotectioncontainermappings",
                |w, r| render_res(w, r, cx.now),
                true,
            ))
        }
        NetMapList => {
            let scope = if cx.segs.len() > 12 {
                format!("/{}", cx.segs[..12].join("/"))
            } else {
                vk.clone()
            };
            Ok(page_kind(
                cx,
                &scope,
                "microsoft.recoveryservices/vaults/replicationfabrics/replicationnetworks/replicationnetworkmappings",
                |w, r| render_res(w, r, cx.now),
                true,
            ))
        }
        PolicyList => Ok(page_kind(
            cx,
            &vk,
            "microsoft.recoveryservices/vaults/replicationpolicies",
            |w, r| render_res(w, r, cx.now),
            true,
        )),
        PlanList => Ok(page_kind(
            cx,
            &vk,
            "microsoft.recoveryservices/vaults/replicationrecoveryplans",
            |w, r| render_res(w, r, cx.now),
            true,
        )),
        NetworksList => {
            let fabrics: Vec<Res> = if cx.segs.len() > 10 {
                let fid = format!("/{}", cx.segs[..10].join("/"));
                vec![cx.w.res(&fid).cloned().ok_or_else(|| not_found(&fid))?]
            } else {
                cx.w.resources
                    .values()
                    .filter(|r| {
                        r.kind() == "microsoft.recoveryservices/vaults/replicationfabrics"
                            && key(&r.id).starts_with(&vk)
                    })
                    .cloned()
                    .collect()
            };
            let mut items = Vec::new();
            for f in fabrics {
                items.extend(replication_networks(cx, &f));
            }
            Ok(page(cx, items, true))
        }
        Network => {
            let fid = format!("/{}", cx.segs[..10].join("/"));
            let f = cx.w.res(&fid).cloned().ok_or_else(|| not_found(&fid))?;
            let want = cx.segs[11].to_ascii_lowercase();
            replication_networks(cx, &f)
                .into_iter()
                .find(|n| {
                    n["name"]
                        .as_str()
                        .is_some_and(|x| x.eq_ignore_ascii_case(&want))
                })
                .map(|n| resp(200, Some(n)))
                .ok_or_else(|| not_found(&req_id(cx)))
        }
        RpiList => {
            let scope = if cx.segs.len() > 12 {
                key(&format!("/{}", cx.segs[..12].join("/")))
            } else {
                vk.clone()
            };
            let prefix = format!("{scope}/");
            let loads = cx.w.cache_loads();
            let (start, size) = window(cx);
            // Render only the page: a vault of 10,000 items is listed page by page.
            let keys: Vec<&String> =
                cx.w.rpis
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k)
                    .collect();
            let total = keys.len();
            let items: Vec<Value> = keys
                .iter()
                .skip(start)
                .take(size)
                .filter_map(|k| cx.w.rpis.get(*k))
                .map(|r| render_rpi(cx.w, r, cx.now, &loads))
                .collect();
            Ok(page_of(cx, items, start, total, true))
        }
        PointList | Point => points(cx),
        ComputeSizes => {
            let r = get_rpi(cx)?;
            let _ = r;
            let sizes: Vec<Value> = ["Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_E4s_v5", "Standard_E16s_v5"]
                .iter().map(|s| json!({"name": s, "friendlyName": s, "cpuCoresCount": 2, "memoryInGB": 8.0, "maxDataDiskCount": 8,
                    "maxNicsCount": 2, "errors": [], "highIopsSupported": "Supported", "hyperVGenerations": ["V1", "V2"]})).collect();
            Ok(page(cx, sizes, true))
        }
        JobList => {
            let filter = query(cx, "$filter").unwrap_or_default();
            let (after, state) = parse_job_filter(&filter);
            let prefix = format!("{vk}/replicationjobs/");
            let now = cx.now;
            let mut jobs: Vec<&world::Job> =
                cx.w.jobs
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, j)| j)
                    .filter(|j| after.is_none_or(|a| j.start >= a))
                    .filter(|j| {
                        state
                            .as_ref()
                            .is_none_or(|s| j.state(now).eq_ignore_ascii_case(s))
                    })
                    .collect();
            jobs.sort_by_key(|j| (std::cmp::Reverse(j.start), j.name.clone()));
            let items = jobs.into_iter().map(|j| render_job(j, now)).collect();
            Ok(page(cx, items, true))
        }
        Job => {
            let id = req_id(cx);
            let j = cx.w.jobs.get(&key(&id)).ok_or_else(|| {
                asr_error(
                    404,
                    "28117",
                    &format!("Job '{}' was not found.", cx.segs[9]),
                    "Check the job name.",
                )
            })?;
            Ok(resp(200, Some(render_job(j, cx.now))))
        }
        JobAction => job_action(cx),
        Fabric => fabric(cx, m),
        FabricAction => {
            let fid = format!("/{}", cx.segs[..10].join("/"));
            let f = cx.w.res(&fid).cloned().ok_or_else(|| not_found(&fid))?;
            match cx.segs[10].to_ascii_lowercase().as_str() {
                "remove" => remove_fabric(cx, &f),
                "checkconsistency" | "renewcertificate" | "reassociategateway" => {
                    let d = cx.w.config.durations.config_secs;
                    Ok(start_job(
                        cx,
                        "FabricAction",
                        "Fabric action",
                        (&f.id, last_segment(&f.id), "Fabric"),
                        tasks2("FabricTask", "Fabric task", d),
                        Effect::None,
                        vec![],
                        Some(f.id.clone()),
                    ))
                }
                other => Err(arm_error(
                    404,
                    "InvalidResourceType",
                    &format!("Unknown fabric action '{other}'."),
                )),
            }
        }
        Container => container(cx, m),
        ContainerAction => {
            let cid = format!("/{}", cx.segs[..12].join("/"));
            let c = cx.w.res(&cid).cloned().ok_or_else(|| not_found(&cid))?;
            match cx.segs[12].to_ascii_lowercase().as_str() {
                "switchprotection" => switch_protection(cx, &c),
                "remove" => {
                    let ck = key(&c.id);
                    if cx.w.rpis.keys().any(|k| k.starts_with(&format!("{ck}/"))) {
                        return Err(asr_error(
                            400,
                            "150035",
                            "The protection container has protected items.",
                            "Disable protection of the items first.",
                        ));
                    }
                    if cx.w.resources.keys().any(|k| {
                        k.starts_with(&format!("{ck}/replicationprotectioncontainermappings/"))
                    }) {
                        return Err(asr_error(
                            400,
                            "150036",
                            "The protection container has container mappings.",
                            "Remove the mappings first.",
                        ));
                    }
                    let d = cx.w.config.durations.config_secs;
                    Ok(start_job(
                        cx,
                        "RemoveProtectionContainer",
                        "Remove protection container",
                        (&c.id, last_segment(&c.id), "ProtectionContainer"),
                        tasks2("RemoveContainer", "Remove container", d),
                        Effect::Remove(vec![ck]),
                        vec![],
                        None,
                    ))
                }
                "discoverprotectableitem" => {
                    let d = cx.w.config.durations.config_secs;
                    Ok(start_job(
                        cx,
                        "DiscoverProtectableItem",
                        "Discover protectable item",
                        (&c.id, last_segment(&c.id), "ProtectionContainer"),
                        tasks2("Discover", "Discover", d),
                        Effect::None,
                        vec![],
                        Some(c.id.clone()),
                    ))
                }
                other => Err(arm_error(
                    404,
                    "InvalidResourceType",
                    &format!("Unknown container action '{other}'."),
                )),
            }
        }
        Mapping => mapping(cx, m),
        MappingAction => {
            let mid = format!("/{}", cx.segs[..14].join("/"));
            let mres = cx.w.res(&mid).cloned().ok_or_else(|| not_found(&mid))?;
            if !cx.segs[14].eq_ignore_ascii_case("remove") {
                return Err(arm_error(
                    404,
                    "InvalidResourceType",
                    &format!("Unknown mapping action '{}'.", cx.segs[14]),
                ));
            }
            remove_mapping(cx, &mres)
        }
        NetMap => net_mapping(cx, m),
        Policy => policy(cx, m),
        Rpi => rpi(cx, m),
        RpiAction => rpi_action(cx),
        Plan => plan(cx, m),
        PlanAction => plan_action(cx),
        _ => Err(arm_error(404, "InvalidResourceType", "Unsupported route.")),
    }
}

fn parse_job_filter(f: &str) -> (Option<OffsetDateTime>, Option<String>) {
    // Cheap subset of OData: `startTime eq '...'` / `startTime ge '...'` and `state eq '...'` joined by `and`.
    let mut after = None;
    let mut state = None;
    for part in f.split(" and ") {
        let p: Vec<&str> = part.trim().splitn(3, ' ').collect();
        if p.len() == 3 {
            let v = p[2].trim_matches('\'');
            if p[0].eq_ignore_ascii_case("startTime") {
                after =
                    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok();
            } else if p[0].eq_ignore_ascii_case("state") {
                state = Some(v.to_string());
            }
        }
    }
    (after, state)
}

fn replication_networks(cx: &Cx, fabric: &Res) -> Vec<Value> {
    let loc = fabric.body["properties"]["customDetails"]["location"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    let fid = asr_id(&fabric.id);
    let mut seen = std::collections::BTreeSet::new();
    cx.w.resources.values().filter(|r| r.kind() == "microsoft.network/virtualnetworks" && r.location.as_deref() == Some(loc.as_str()))
        .filter(|r| seen.insert(last_segment(&r.id).to_ascii_lowercase()))
        .map(|r| {
            let name = last_segment(&r.id);
            json!({"id": format!("{fid}/replicationNetworks/{name}"), "name": name, "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks",
                "location": loc, "properties": {"fabricType": "Azure", "friendlyName": name, "networkType": "AzureNetwork",
                    "subnets": r.body["properties"]["subnets"].as_array().cloned().unwrap_or_default().iter().map(|s| json!({
                        "name": s["name"], "friendlyName": s["name"], "addressList": [s["properties"]["addressPrefix"]]})).collect::<Vec<_>>()}})
        }).collect()
}

fn get_asr_res(cx: &Cx) -> Reply {
    let id = req_id(cx);
    let r = cx.w.res(&id).ok_or_else(|| not_found(&id))?;
    Ok(with_etag(resp(200, Some(render_res(cx.w, r, cx.now))), r))
}

fn fabric(cx: &mut Cx, m: &str) -> Reply {
    let id = format!("{}/replicationFabrics/{}", vault_id(cx), cx.segs[9]);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_asr_res(cx),
        "PUT" => {
            let body = body_json(cx)?;
            let cd = &body["properties"]["customDetails"];
            if !cd.is_object() {
                return Err(bad("properties.customDetails", "is required"));
            }
            instance_type(cd, "properties.customDetails", &["Azure"])?;
            let loc = cd["location"]
                .as_str()
                .ok_or_else(|| bad("properties.customDetails.location", "is required"))?;
            let loc = crate::region::canonical(&loc.to_ascii_lowercase().replace(' ', ""))
                .ok_or_else(|| {
                    bad(
                        "properties.customDetails.location",
                        &format!("'{loc}' is not an Azure region"),
                    )
                })?;
            if let Some(e) = &existing {
                let have = e.body["properties"]["customDetails"]["location"]
                    .as_str()
                    .unwrap_or("");
                if have != loc {
                    return Err(asr_error(
                        400,
                        "150006",
                        &format!(
                            "Fabric '{}' already exists for location '{have}'.",
                            cx.segs[9]
                        ),
                        "Use another fabric name.",
                    ));
                }
            }
            let vk = vault_key(cx);
            let dup = cx.w.resources.values().any(|r| {
                r.kind() == "microsoft.recoveryservices/vaults/replicationfabrics"
                    && key(&r.id).starts_with(&vk)
                    && key(&r.id) != key(&id)
                    && r.body["properties"]["customDetails"]["location"].as_str() == Some(loc)
            });
            if dup {
                return Err(asr_error(
                    409,
                    "150005",
                    &format!("A fabric for location '{loc}' already exists in this vault."),
                    "Use the existing fabric.",
                ));
            }
            let internal = cx.w.guid(&id);
            let props = json!({"friendlyName": cx.segs[9], "encryptionDetails": {"kekState": "None"},
                "rolloverEncryptionDetails": {"kekState": "None"}, "internalIdentifier": internal, "bcdrState": "Valid",
                "customDetails": {"instanceType": "Azure", "location": loc, "containerIds": [], "zones": [], "extendedLocations": [], "locationDetails": []},
                "healthErrorDetails": [], "health": "Normal"});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationFabrics",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: Some(loc.to_string()),
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "CreateFabric",
                "Create fabric",
                (&id, &cx.segs[9].clone(), "Fabric"),
                tasks2("CreateFabricTask", "Creating fabric", d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        "DELETE" => {
            let f = existing.ok_or_else(|| not_found(&id))?;
            // Purge: removes the fabric and everything under it.
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "PurgeFabric",
                "Purge fabric",
                (&f.id, last_segment(&f.id), "Fabric"),
                tasks2("PurgeFabric", "Purge fabric", d),
                Effect::Remove(vec![key(&f.id)]),
                vec![],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on fabrics."),
        )),
    }
}

fn remove_fabric(cx: &mut Cx, f: &Res) -> Reply {
    let fk = key(&f.id);
    if cx
        .w
        .resources
        .keys()
        .any(|k| k.starts_with(&format!("{fk}/replicationprotectioncontainers/")))
    {
        return Err(asr_error(
            400,
            "150034",
            "The fabric has protection containers.",
            "Remove the containers first.",
        ));
    }
    let d = cx.w.config.durations.config_secs;
    Ok(start_job(
        cx,
        "RemoveFabric",
        "Remove fabric",
        (&f.id, last_segment(&f.id), "Fabric"),
        tasks2("RemoveFabric", "Remove fabric", d),
        Effect::Remove(vec![fk]),
        vec![],
        None,
    ))
}

fn container(cx: &mut Cx, m: &str) -> Reply {
    let fid = format!("{}/replicationFabrics/{}", vault_id(cx), cx.segs[9]);
    let f = cx.w.res(&fid).cloned().ok_or_else(|| not_found(&fid))?;
    let id = format!("{}/replicationProtectionContainers/{}", f.id, cx.segs[11]);
    match m {
        "GET" => get_asr_res(cx),
        "PUT" => {
            let body = body_json(cx)?;
            if !body.is_null() && !body["properties"].is_object() {
                return Err(bad("properties", "is required"));
            }
            if let Some(list) = body["properties"]["providerSpecificInput"].as_array() {
                for (i, p) in list.iter().enumerate() {
                    instance_type(
                        p,
                        &format!("properties.providerSpecificInput[{i}]"),
                        &["A2A", "A2ACrossClusterMigration"],
                    )?;
                }
            }
            let props = json!({"fabricFriendlyName": last_segment(&f.id), "friendlyName": cx.segs[11], "fabricType": "Azure",
                "protectedItemCount": 0, "pairingStatus": "NotPaired", "role": "Primary", "fabricSpecificDetails": {"instanceType": "A2A"}});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: f.location.clone(),
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "CreateProtectionContainer",
                "Create protection container",
                (&id, &cx.segs[11].clone(), "ProtectionContainer"),
                tasks2("CreateContainer", "Creating protection container", d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on protection containers; use POST .../remove."),
        )),
    }
}

fn mapping(cx: &mut Cx, m: &str) -> Reply {
    let cid = format!("/{}", cx.segs[..12].join("/"));
    let c = cx.w.res(&cid).cloned().ok_or_else(|| not_found(&cid))?;
    let id = format!(
        "{}/replicationProtectionContainerMappings/{}",
        c.id, cx.segs[13]
    );
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_asr_res(cx),
        "PUT" | "PATCH" => {
            let body = body_json(cx)?;
            let p = &body["properties"];
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            let psi = &p["providerSpecificInput"];
            if psi.is_object() {
                instance_type(psi, "properties.providerSpecificInput", &["A2A"])?;
            }
            let (target, policy) = if m == "PUT" {
                let t = p["targetProtectionContainerId"]
                    .as_str()
                    .ok_or_else(|| bad("properties.targetProtectionContainerId", "is required"))?;
                let pol = p["policyId"]
                    .as_str()
                    .ok_or_else(|| bad("properties.policyId", "is required"))?;
                (t.to_string(), pol.to_string())
            } else {
                let e = existing.as_ref().ok_or_else(|| not_found(&id))?;
                (
                    e.body["properties"]["targetProtectionContainerId"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    e.body["properties"]["policyId"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            };
            let tc =
                cx.w.res(&target)
                    .cloned()
                    .filter(|r| r.kind().ends_with("/replicationprotectioncontainers"))
                    .ok_or_else(|| {
                        asr_error(
                            400,
                            "150051",
                            &format!("Target protection container '{target}' was not found."),
                            "Create the container first.",
                        )
                    })?;
            if key(&tc.id) == key(&c.id) {
                return Err(asr_error(
                    400,
                    "150053",
                    "The source and target protection containers are the same.",
                    "Map to a container in the other fabric.",
                ));
            }
            let pol =
                cx.w.res(&policy)
                    .cloned()
                    .filter(|r| r.kind().ends_with("/replicationpolicies"))
                    .ok_or_else(|| {
                        asr_error(
                            400,
                            "150054",
                            &format!("Policy '{policy}' was not found."),
                            "Create the policy first.",
                        )
                    })?;
            let prev = existing
                .as_ref()
                .map(|e| e.body["properties"]["providerSpecificDetails"].clone())
                .unwrap_or(json!({}));
            let auto = psi["agentAutoUpdateStatus"]
                .as_str()
                .or(prev["agentAutoUpdateStatus"].as_str())
                .unwrap_or("Disabled");
            if !["Enabled", "Disabled"].contains(&auto) {
                return Err(bad(
                    "properties.providerSpecificInput.agentAutoUpdateStatus",
                    &format!("'{auto}' is not one of Enabled, Disabled"),
                ));
            }
            let tfab = cx.w.res(&parent_id(&tc.id)).cloned();
            let props = json!({"targetProtectionContainerId": asr_id(&tc.id), "targetProtectionContainerFriendlyName": last_segment(&tc.id),
                "policyId": asr_id(&pol.id), "policyFriendlyName": last_segment(&pol.id), "state": "Paired", "health": "Normal", "healthErrorDetails": [],
                "sourceProtectionContainerFriendlyName": last_segment(&c.id), "sourceFabricFriendlyName": last_segment(&parent_id(&c.id)),
                "targetFabricFriendlyName": tfab.map(|f| last_segment(&f.id).to_string()),
                "providerSpecificDetails": {"instanceType": "A2A", "agentAutoUpdateStatus": auto,
                    "automationAccountArmId": psi["automationAccountArmId"].as_str().or(prev["automationAccountArmId"].as_str()),
                    "automationAccountAuthenticationType": psi["automationAccountAuthenticationType"].as_str().or(prev["automationAccountAuthenticationType"].as_str()).unwrap_or("RunAsAccount"),
                    "scheduleName": Value::Null, "jobScheduleName": Value::Null}});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: c.location.clone(),
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            let (sc, fr) = if m == "PUT" {
                ("PairCloud", "Pair protection containers")
            } else {
                ("UpdateCloudPairing", "Update container mapping")
            };
            Ok(start_job(
                cx,
                sc,
                fr,
                (&id, &cx.segs[13].clone(), "ProtectionContainerMapping"),
                tasks2("PairTask", fr, d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        "DELETE" => {
            let e = existing.ok_or_else(|| not_found(&id))?;
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "PurgeCloudPairing",
                "Purge container mapping",
                (&e.id, last_segment(&e.id), "ProtectionContainerMapping"),
                tasks2("Unpair", "Unpair", d),
                Effect::Remove(vec![key(&e.id)]),
                vec![],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on container mappings."),
        )),
    }
}

fn remove_mapping(cx: &mut Cx, mres: &Res) -> Reply {
    let ck = key(&parent_id(&mres.id));
    let target = key(mres.body["properties"]["targetProtectionContainerId"]
        .as_str()
        .unwrap_or(""));
    let in_use =
        cx.w.rpis
            .values()
            .any(|r| key(&r.container_id) == ck && key(&r.recovery_container_id) == target);
    if in_use {
        return Err(asr_error(
            400,
            "150055",
            "The container mapping is used by protected items.",
            "Disable protection of the items first.",
        ));
    }
    let d = cx.w.config.durations.config_secs;
    Ok(start_job(
        cx,
        "UnpairCloud",
        "Remove container mapping",
        (
            &mres.id,
            last_segment(&mres.id),
            "ProtectionContainerMapping",
        ),
        tasks2("Unpair", "Unpair", d),
        Effect::Remove(vec![key(&mres.id)]),
        vec![],
        None,
    ))
}

fn net_mapping(cx: &mut Cx, m: &str) -> Reply {
    let fid = format!("{}/replicationFabrics/{}", vault_id(cx), cx.segs[9]);
    let f = cx.w.res(&fid).cloned().ok_or_else(|| not_found(&fid))?;
    let id = format!(
        "{}/replicationNetworks/{}/replicationNetworkMappings/{}",
        f.id, cx.segs[11], cx.segs[13]
    );
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_asr_res(cx),
        "PUT" | "PATCH" => {
            let body = body_json(cx)?;
            let p = &body["properties"];
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            let prev = existing.as_ref().map(|e| e.body["properties"].clone());
            if m == "PATCH" && prev.is_none() {
                return Err(not_found(&id));
            }
            let fsd = &p["fabricSpecificDetails"];
            if m == "PUT" && !fsd.is_object() {
                return Err(bad("properties.fabricSpecificDetails", "is required"));
            }
            if fsd.is_object() {
                instance_type(fsd, "properties.fabricSpecificDetails", &["AzureToAzure"])?;
            }
            let rec_fabric_name = p["recoveryFabricName"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    prev.as_ref().and_then(|pp| {
                        pp["recoveryFabricFriendlyName"]
                            .as_str()
                            .map(str::to_string)
                    })
                })
                .ok_or_else(|| bad("properties.recoveryFabricName", "is required"))?;
            let rf_id = format!("{}/replicationFabrics/{rec_fabric_name}", vault_id(cx));
            let rf = cx.w.res(&rf_id).cloned().ok_or_else(|| {
                asr_error(
                    400,
                    "150056",
                    &format!("Recovery fabric '{rec_fabric_name}' was not found."),
                    "Create the fabric first.",
                )
            })?;
            let rec_net = p["recoveryNetworkId"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    prev.as_ref()
                        .and_then(|pp| pp["recoveryNetworkId"].as_str().map(str::to_string))
                })
                .ok_or_else(|| bad("properties.recoveryNetworkId", "is required"))?;
            let rn =
                cx.w.res(&rec_net)
                    .cloned()
                    .filter(|r| r.kind() == "microsoft.network/virtualnetworks")
                    .ok_or_else(|| {
                        asr_error(
                            400,
                            "150057",
                            &format!("Recovery network '{rec_net}' was not found."),
                            "Create the network first.",
                        )
                    })?;
            let prim = fsd["primaryNetworkId"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    prev.as_ref()
                        .and_then(|pp| pp["primaryNetworkId"].as_str().map(str::to_string))
                })
                .ok_or_else(|| {
                    bad(
                        "properties.fabricSpecificDetails.primaryNetworkId",
                        "is required",
                    )
                })?;
            let pn =
                cx.w.res(&prim)
                    .cloned()
                    .filter(|r| r.kind() == "microsoft.network/virtualnetworks")
                    .ok_or_else(|| {
                        asr_error(
                            400,
                            "150058",
                            &format!("Primary network '{prim}' was not found."),
                            "Check the network id.",
                        )
                    })?;
            if !last_segment(&pn.id).eq_ignore_ascii_case(&cx.segs[11]) {
                return Err(bad(
                    "properties.fabricSpecificDetails.primaryNetworkId",
                    &format!(
                        "network '{}' does not match the path's network '{}'",
                        last_segment(&pn.id),
                        cx.segs[11]
                    ),
                ));
            }
            let floc = f.body["properties"]["customDetails"]["location"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let rloc = rf.body["properties"]["customDetails"]["location"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if pn.location.as_deref() != Some(floc.as_str()) {
                return Err(asr_error(
                    400,
                    "150059",
                    &format!(
                        "Primary network is in '{}', not in the fabric's region '{floc}'.",
                        pn.location.as_deref().unwrap_or("")
                    ),
                    "Use a network of the fabric's region.",
                ));
            }
            if rn.location.as_deref() != Some(rloc.as_str()) {
                return Err(asr_error(
                    400,
                    "150060",
                    &format!(
                        "Recovery network is in '{}', not in the recovery fabric's region '{rloc}'.",
                        rn.location.as_deref().unwrap_or("")
                    ),
                    "Use a network of the recovery region.",
                ));
            }
            let props = json!({"state": "Paired", "primaryNetworkFriendlyName": last_segment(&pn.id), "primaryNetworkId": pn.id,
                "primaryFabricFriendlyName": last_segment(&f.id), "recoveryNetworkFriendlyName": last_segment(&rn.id), "recoveryNetworkId": rn.id,
                "recoveryFabricArmId": asr_id(&rf.id), "recoveryFabricFriendlyName": last_segment(&rf.id),
                "fabricSpecificSettings": {"instanceType": "AzureToAzure", "primaryFabricLocation": floc, "recoveryFabricLocation": rloc}});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks/replicationNetworkMappings",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: f.location.clone(),
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "MapNetwork",
                "Map networks",
                (&id, &cx.segs[13].clone(), "NetworkMapping"),
                tasks2("MapNetwork", "Map networks", d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        "DELETE" => {
            let e = existing.ok_or_else(|| not_found(&id))?;
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "UnmapNetwork",
                "Remove network mapping",
                (&e.id, last_segment(&e.id), "NetworkMapping"),
                tasks2("Unmap", "Unmap", d),
                Effect::Remove(vec![key(&e.id)]),
                vec![],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on network mappings."),
        )),
    }
}

fn policy(cx: &mut Cx, m: &str) -> Reply {
    let id = format!("{}/replicationPolicies/{}", vault_id(cx), cx.segs[9]);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_asr_res(cx),
        "PUT" | "PATCH" => {
            let body = body_json(cx)?;
            let (field, input) = if m == "PUT" {
                (
                    "properties.providerSpecificInput",
                    &body["properties"]["providerSpecificInput"],
                )
            } else {
                (
                    "properties.replicationProviderSettings",
                    &body["properties"]["replicationProviderSettings"],
                )
            };
            if !input.is_object() {
                return Err(bad(field, "is required"));
            }
            instance_type(input, field, &["A2A"])?;
            let prev = existing
                .as_ref()
                .map(|e| e.body["properties"]["providerSpecificDetails"].clone())
                .unwrap_or(json!({}));
            if m == "PATCH" && existing.is_none() {
                return Err(not_found(&id));
            }
            let int = |name: &str, default: Option<i64>| -> Result<i64, SimResponse> {
                match &input[name] {
                    Value::Null => prev[name]
                        .as_i64()
                        .or(default)
                        .ok_or_else(|| bad(&format!("{field}.{name}"), "is required")),
                    v => v
                        .as_i64()
                        .ok_or_else(|| bad(&format!("{field}.{name}"), "must be an integer")),
                }
            };
            let history = int("recoveryPointHistory", Some(1440))?;
            let app = int("appConsistentFrequencyInMinutes", Some(240))?;
            let crash = int("crashConsistentFrequencyInMinutes", Some(5))?;
            let sync = input["multiVmSyncStatus"]
                .as_str()
                .or(prev["multiVmSyncStatus"].as_str())
                .ok_or_else(|| {
                    bad(
                        &format!("{field}.multiVmSyncStatus"),
                        "is required (Enable or Disable)",
                    )
                })?;
            if !["Enable", "Disable"].contains(&sync) {
                return Err(bad(
                    &format!("{field}.multiVmSyncStatus"),
                    &format!("'{sync}' is not one of Enable, Disable"),
                ));
            }
            if !(0..=21600).contains(&history) {
                return Err(asr_error(
                    400,
                    "150261",
                    &format!(
                        "Recovery point retention {history} minutes is outside 0..21600 (15 days)."
                    ),
                    "Use a retention of at most 15 days.",
                ));
            }
            if app < 0 || app > history.max(0) && app != 0 {
                return Err(asr_error(
                    400,
                    "150262",
                    &format!(
                        "App-consistent snapshot frequency ({app} minutes) must not exceed the retention ({history} minutes)."
                    ),
                    "Lower the frequency or raise the retention.",
                ));
            }
            if app != 0 && app < 60 {
                return Err(asr_error(
                    400,
                    "150263",
                    &format!(
                        "App-consistent snapshot frequency must be at least 60 minutes, got {app}."
                    ),
                    "Use 60 minutes or more.",
                ));
            }
            let props = json!({"friendlyName": cx.segs[9], "providerSpecificDetails": {"instanceType": "A2A",
                "recoveryPointThresholdInMinutes": 60, "recoveryPointHistory": history, "appConsistentFrequencyInMinutes": app,
                "crashConsistentFrequencyInMinutes": crash, "multiVmSyncStatus": sync}});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationPolicies",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: None,
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            let (sc, fr) = if m == "PUT" {
                ("AddProtectionProfile", "Create replication policy")
            } else {
                ("UpdateProtectionProfile", "Update replication policy")
            };
            Ok(start_job(
                cx,
                sc,
                fr,
                (&id, &cx.segs[9].clone(), "ProtectionProfile"),
                tasks2("PolicyTask", fr, d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        "DELETE" => {
            let e = existing.ok_or_else(|| not_found(&id))?;
            let used = cx.w.resources.values().any(|r| {
                r.kind()
                    .ends_with("/replicationprotectioncontainermappings")
                    && r.body["properties"]["policyId"]
                        .as_str()
                        .is_some_and(|p| key(p) == key(&e.id))
            });
            if used {
                return Err(asr_error(
                    400,
                    "150264",
                    "The policy is associated with container mappings.",
                    "Remove the container mappings first.",
                ));
            }
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "RemoveProtectionProfile",
                "Remove replication policy",
                (&e.id, last_segment(&e.id), "ProtectionProfile"),
                tasks2("Remove", "Remove", d),
                Effect::Remove(vec![key(&e.id)]),
                vec![],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on policies."),
        )),
    }
}

fn get_rpi(cx: &Cx) -> Result<Rpi, SimResponse> {
    let id = format!("/{}", cx.segs[..14].join("/"));
    let cid = format!("/{}", cx.segs[..12].join("/"));
    if cx.w.res(&cid).is_none() {
        return Err(not_found(&cid));
    }
    cx.w.rpis
        .get(&key(&id))
        .cloned()
        .ok_or_else(|| not_found(&id))
}

fn busy(cx: &Cx, r: &Rpi) -> Result<(), SimResponse> {
    if let Some(j) = r.current_job.as_ref().and_then(|j| cx.w.jobs.get(j))
        && j.is_active(cx.now)
    {
        return Err(asr_error(
            409,
            "28095",
            &format!(
                "Another operation ('{}', job '{}') is in progress on '{}'.",
                j.scenario, j.name, r.name
            ),
            "Wait for the running job to finish, then retry.",
        ));
    }
    Ok(())
}

fn guard(cx: &Cx, r: &Rpi, op: &str, what: &str) -> Result<(), SimResponse> {
    busy(cx, r)?;
    let allowed = cx.w.allowed_ops(r, cx.now);
    if !allowed.contains(&op) {
        return Err(asr_error(
            400,
            "28126",
            &format!(
                "The operation '{what}' is not allowed on '{}' in its current state (protectionState '{}', testFailoverState '{}'); allowed operations: [{}].",
                r.name,
                r.protection_state,
                r.test_failover_state,
                allowed.join(", ")
            ),
            "Check allowedOperations of the protected item before acting.",
        ));
    }
    Ok(())
}

fn rpi(cx: &mut Cx, m: &str) -> Reply {
    match m {
        "GET" => {
            let r = get_rpi(cx)?;
            let loads = cx.w.cache_loads();
            Ok(resp(200, Some(render_rpi(cx.w, &r, cx.now, &loads))))
        }
        "PUT" => enable(cx),
        "PATCH" => {
            let r = get_rpi(cx)?;
            busy(cx, &r)?;
            let body = body_json(cx)?;
            let p = &body["properties"];
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            let psd = &p["providerSpecificDetails"];
            if psd.is_object() {
                instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
            }
            let mut settings = json!({});
            for k in [
                "recoveryAzureVMName",
                "recoveryAzureVMSize",
                "selectedRecoveryAzureNetworkId",
                "selectedTfoAzureNetworkId",
                "selectedSourceNicId",
                "enableRdpOnTargetOption",
                "licenseType",
                "recoveryAvailabilitySetId",
            ] {
                if !p[k].is_null() {
                    settings[k] = p[k].clone();
                }
            }
            if let Some(obj) = psd.as_object() {
                for (k, v) in obj {
                    if k != "instanceType" && k != "managedDiskUpdateDetails" {
                        settings[k] = v.clone();
                    }
                }
            }
            for (k, kind) in [
                (
                    "selectedRecoveryAzureNetworkId",
                    "microsoft.network/virtualnetworks",
                ),
                (
                    "selectedTfoAzureNetworkId",
                    "microsoft.network/virtualnetworks",
                ),
                (
                    "recoveryAvailabilitySetId",
                    "microsoft.compute/availabilitysets",
                ),
                (
                    "recoveryResourceGroupId",
                    "microsoft.resources/resourcegroups",
                ),
            ] {
                if let Some(id) = settings[k].as_str().filter(|s| !s.is_empty())
                    && cx.w.res(id).is_none_or(|r| r.kind() != kind)
                {
                    return Err(asr_error(
                        400,
                        "150070",
                        &format!("'{k}' refers to '{id}', which does not exist."),
                        "Create the resource first.",
                    ));
                }
            }
            if let Some(z) = settings["recoveryAvailabilityZone"].as_str()
                && !["", "1", "2", "3"].contains(&z)
            {
                return Err(bad(
                    "properties.providerSpecificDetails.recoveryAvailabilityZone",
                    &format!("'{z}' is not one of 1, 2, 3"),
                ));
            }
            let mut nics = r.vm_nics.clone();
            if let Some(list) = p["vmNics"].as_array() {
                let protected = r.protected_at.is_some_and(|t| t <= cx.now);
                if !protected {
                    return Err(asr_error(
                        400,
                        "150080",
                        "NIC settings can be changed only after initial replication completes.",
                        "Wait for the item to be Protected.",
                    ));
                }
                for (i, n) in list.iter().enumerate() {
                    let nic_id = n["nicId"].as_str().ok_or_else(|| {
                        bad(&format!("properties.vmNics[{i}].nicId"), "is required")
                    })?;
                    let slot = nics.iter_mut().find(|x| x["nicId"].as_str() == Some(nic_id)).ok_or_else(|| {
                        asr_error(400, "150081", &format!("properties.vmNics[{i}].nicId '{nic_id}' is not a NIC of this item (use providerSpecificDetails.vmNics[].nicId)."), "Read the item first.")
                    })?;
                    world::merge(slot, n);
                }
            }
            let d = cx.w.config.durations.other_secs;
            let k = key(&r.id);
            let effect = Effect::UpdateRpi(k.clone(), settings, nics);
            Ok(start_job(
                cx,
                "UpdateVmProperties",
                "Update the virtual machine",
                (&r.lifecycle_id, &r.name, "ProtectionEntity"),
                tasks2("UpdateVm", "Update the virtual machine", d),
                effect,
                vec![k],
                Some(r.id.clone()),
            ))
        }
        "DELETE" => {
            let r = get_rpi(cx)?;
            let k = key(&r.id);
            let d = cx.w.config.durations.other_secs.min(30);
            Ok(start_job(
                cx,
                "PurgeProtection",
                "Purge protection",
                (&r.lifecycle_id, &r.name, "ProtectionEntity"),
                tasks2("Purge", "Purge", d),
                Effect::Disable(k.clone()),
                vec![k],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on protected items."),
        )),
    }
}

fn enable(cx: &mut Cx) -> Reply {
    let cid = format!("/{}", cx.segs[..12].join("/"));
    let c = cx.w.res(&cid).cloned().ok_or_else(|| not_found(&cid))?;
    let f =
        cx.w.res(&parent_id(&c.id))
            .cloned()
            .ok_or_else(|| not_found(&parent_id(&c.id)))?;
    let id = format!("{}/replicationProtectedItems/{}", c.id, cx.segs[13]);
    if let Some(e) = cx.w.rpis.get(&key(&id)) {
        return Err(asr_error(
            409,
            "150083",
            &format!("Protected item '{}' already exists.", e.name),
            "Use PATCH to change it.",
        ));
    }
    let body = body_json(cx)?;
    let p = &body["properties"];
    if !p.is_object() {
        return Err(bad("properties", "is required"));
    }
    let psd = &p["providerSpecificDetails"];
    if !psd.is_object() {
        return Err(bad("properties.providerSpecificDetails", "is required"));
    }
    instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
    let policy_id = p["policyId"]
        .as_str()
        .ok_or_else(|| bad("properties.policyId", "is required"))?;
    let pol =
        cx.w.res(policy_id)
            .cloned()
            .filter(|r| r.kind().ends_with("/replicationpolicies"))
            .ok_or_else(|| {
                asr_error(
                    400,
                    "150054",
                    &format!("Policy '{policy_id}' was not found."),
                    "Create the policy first.",
                )
            })?;
    let vm_id = psd["fabricObjectId"].as_str().ok_or_else(|| {
        bad(
            "properties.providerSpecificDetails.fabricObjectId",
            "is required",
        )
    })?;
    let vm =
        cx.w.res(vm_id)
            .cloned()
            .filter(|r| r.kind() == "microsoft.compute/virtualmachines")
            .ok_or_else(|| {
                asr_error(
                    400,
                    "150039",
                    &format!("Virtual machine '{vm_id}' was not found."),
                    "Check fabricObjectId.",
                )
            })?;
    let floc = f.body["properties"]["customDetails"]["location"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if vm.location.as_deref() != Some(floc.as_str()) {
        return Err(asr_error(
            400,
            "150084",
            &format!(
                "The VM is in '{}' but the fabric '{}' is for '{floc}'.",
                vm.location.as_deref().unwrap_or(""),
                last_segment(&f.id)
            ),
            "Use the fabric of the VM's region.",
        ));
    }
    if let Some(other) =
        cx.w.rpis
            .values()
            .find(|r| r.source_vm_id.eq_ignore_ascii_case(&vm.id))
    {
        return Err(asr_error(
            400,
            "150085",
            &format!(
                "The VM '{}' is already protected by '{}'.",
                last_segment(&vm.id),
                other.id
            ),
            "Disable the existing protection first.",
        ));
    }
    let rc = psd["recoveryContainerId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            // Without recoveryContainerId ASR uses the container's mapping with this policy.
            container_mappings(cx.w, &c.id)
                .into_iter()
                .find(|r| {
                    r.body["properties"]["policyId"]
                        .as_str()
                        .is_some_and(|pp| key(pp) == key(&pol.id))
                })
                .and_then(|r| {
                    r.body["properties"]["targetProtectionContainerId"]
                        .as_str()
                        .map(str::to_string)
                })
        })
        .ok_or_else(|| {
            bad(
                "properties.providerSpecificDetails.recoveryContainerId",
                "is required",
            )
        })?;
    let rcres = cx.w.res(&rc).cloned().ok_or_else(|| {
        asr_error(
            400,
            "150051",
            &format!("Recovery container '{rc}' was not found."),
            "Create it first.",
        )
    })?;
    let mapped = container_mappings(cx.w, &c.id).into_iter().any(|r| {
        r.body["properties"]["targetProtectionContainerId"]
            .as_str()
            .is_some_and(|t| key(t) == key(&rcres.id))
    });
    if !mapped {
        return Err(asr_error(
            400,
            "150086",
            &format!(
                "No container mapping from '{}' to '{}'.",
                last_segment(&c.id),
                last_segment(&rcres.id)
            ),
            "Create the container mapping first.",
        ));
    }
    let rfab =
        cx.w.res(&parent_id(&rcres.id))
            .cloned()
            .ok_or_else(|| not_found(&parent_id(&rcres.id)))?;
    let rloc = rfab.body["properties"]["customDetails"]["location"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let rrg = psd["recoveryResourceGroupId"].as_str().ok_or_else(|| {
        bad(
            "properties.providerSpecificDetails.recoveryResourceGroupId",
            "is required",
        )
    })?;
    if cx
        .w
        .res(rrg)
        .is_none_or(|r| r.kind() != "microsoft.resources/resourcegroups")
    {
        return Err(asr_error(
            400,
            "150076",
            &format!("Recovery resource group '{rrg}' does not exist."),
            "Create the resource group first.",
        ));
    }
    for (k, kind) in [
        (
            "recoveryAzureNetworkId",
            "microsoft.network/virtualnetworks",
        ),
        (
            "recoveryAvailabilitySetId",
            "microsoft.compute/availabilitysets",
        ),
        (
            "recoveryBootDiagStorageAccountId",
            "microsoft.storage/storageaccounts",
        ),
    ] {
        if let Some(id) = psd[k].as_str().filter(|s| !s.is_empty())
            && cx.w.res(id).is_none_or(|r| r.kind() != kind)
        {
            return Err(asr_error(
                400,
                "150070",
                &format!("properties.providerSpecificDetails.{k} '{id}' does not exist."),
                "Create the resource first.",
            ));
        }
    }
    if let Some(z) = psd["recoveryAvailabilityZone"].as_str()
        && !["", "1", "2", "3"].contains(&z)
    {
        return Err(bad(
            "properties.providerSpecificDetails.recoveryAvailabilityZone",
            &format!("'{z}' is not one of 1, 2, 3"),
        ));
    }
    let vm_disks = cx.w.vm_disks(&vm.id);
    let inputs = psd["vmManagedDisks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if inputs.is_empty() {
        return Err(asr_error(
            400,
            "150087",
            "No managed disks to replicate: vmManagedDisks is empty.",
            "List the VM's managed disks in vmManagedDisks.",
        ));
    }
    let mut disks = Vec::new();
    for (i, d) in inputs.iter().enumerate() {
        let f = |n: &str| format!("properties.providerSpecificDetails.vmManagedDisks[{i}].{n}");
        let did = d["diskId"]
            .as_str()
            .ok_or_else(|| bad(&f("diskId"), "is required"))?;
        let (did, dname) = vm_disks
            .iter()
            .find(|(x, _)| key(x) == key(did))
            .cloned()
            .ok_or_else(|| {
                asr_error(
                    400,
                    "150039",
                    &format!("{}: disk '{did}' is not attached to the VM.", f("diskId")),
                    "List only the VM's disks.",
                )
            })?;
        let cache = d["primaryStagingAzureStorageAccountId"]
            .as_str()
            .ok_or_else(|| bad(&f("primaryStagingAzureStorageAccountId"), "is required"))?;
        let sa =
            cx.w.res(cache)
                .cloned()
                .filter(|r| r.kind() == "microsoft.storage/storageaccounts")
                .ok_or_else(|| {
                    asr_error(
                        400,
                        "150088",
                        &format!(
                            "{}: storage account '{cache}' was not found.",
                            f("primaryStagingAzureStorageAccountId")
                        ),
                        "Create the cache storage account in the source region.",
                    )
                })?;
        if sa.location.as_deref() != Some(floc.as_str()) {
            return Err(asr_error(
                400,
                "150089",
                &format!(
                    "{}: the cache storage account is in '{}', not in the source region '{floc}'.",
                    f("primaryStagingAzureStorageAccountId"),
                    sa.location.as_deref().unwrap_or("")
                ),
                "Use a cache account in the source region.",
            ));
        }
        let drg = d["recoveryResourceGroupId"]
            .as_str()
            .ok_or_else(|| bad(&f("recoveryResourceGroupId"), "is required"))?;
        if cx.w.res(drg).is_none() {
            return Err(asr_error(
                400,
                "150076",
                &format!(
                    "{}: resource group '{drg}' does not exist.",
                    f("recoveryResourceGroupId")
                ),
                "Create it first.",
            ));
        }
        let disk = cx.w.res(&did).cloned();
        let sku = disk
            .as_ref()
            .and_then(|x| x.body["sku"]["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| "Premium_LRS".into());
        for t in [
            "recoveryReplicaDiskAccountType",
            "recoveryTargetDiskAccountType",
        ] {
            if let Some(v) = d[t].as_str()
                && !crate::estate::DISK_TYPES.contains(&v)
            {
                return Err(bad(
                    &f(t),
                    &format!(
                        "'{v}' is not a disk account type ({})",
                        crate::estate::DISK_TYPES.join(", ")
                    ),
                ));
            }
        }
        disks.push(RpiDisk {
            disk_id: did.clone(),
            name: dname,
            capacity_bytes: disk
                .and_then(|x| x.body["properties"]["diskSizeBytes"].as_u64())
                .unwrap_or(0),
            cache_account: sa.id.clone(),
            recovery_rg: drg.to_string(),
            replica_type: d["recoveryReplicaDiskAccountType"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| sku.clone()),
            target_type: d["recoveryTargetDiskAccountType"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(sku),
            target_disk_id: None,
        });
    }
    let lifecycle = cx.w.guid(&format!("lifecycle{}", vm.id));
    let vm_nics: Vec<Value> = cx.w.vm_nics(&vm.id).iter().enumerate().map(|(i, n)| {
        let ip = cx.w.res(n).and_then(|x| x.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"].as_str().map(str::to_string));
        json!({"nicId": format!("{lifecycle}-nic{i}"), "sourceNicArmId": n, "replicaNicId": Value::Null,
            "recoveryVMNetworkId": psd["recoveryAzureNetworkId"], "vMNetworkName": Value::Null,
            "ipConfigs": [{"name": "ipconfig1", "isPrimary": true, "isSeletedForFailover": true, "subnetName": Value::Null,
                "staticIPAddress": ip, "recoverySubnetName": psd["recoverySubnetName"], "recoveryStaticIPAddress": Value::Null,
                "tfoSubnetName": Value::Null, "tfoStaticIPAddress": Value::Null}],
            "selectionType": "SelectedByUser", "enableAcceleratedNetworkingOnRecovery": false, "reuseExistingNic": false})
    }).collect();
    let mut settings = psd.clone();
    if let Some(o) = settings.as_object_mut() {
        o.remove("instanceType");
        o.remove("vmManagedDisks");
    }
    let rpi = Rpi {
        id: id.clone(),
        name: cx.segs[13].clone(),
        vault: vault_key(cx),
        fabric_id: f.id.clone(),
        container_id: c.id.clone(),
        lifecycle_id: lifecycle,
        source_vm_id: vm.id.clone(),
        policy_id: pol.id.clone(),
        recovery_container_id: rcres.id.clone(),
        recovery_fabric_id: rfab.id.clone(),
        primary_location: floc,
        recovery_location: rloc,
        settings,
        vm_nics,
        disks,
        replication_started: None,
        protected_at: None,
        protection_state: "UnprotectedStatesBegin".into(),
        active_location: "Primary".into(),
        test_failover_state: "None".into(),
        tfo_vm_id: None,
        failover: None,
        current_job: None,
        extra_points: Vec::new(),
        failback_vm_id: None,
        last_failover: None,
        last_test_failover: None,
        enable_failed: None,
    };
    let k = key(&id);
    let name = rpi.name.clone();
    let lc = rpi.lifecycle_id.clone();
    cx.w.rpis.insert(k.clone(), rpi);
    let d = cx.w.config.durations.enable_secs;
    let tasks = vec![
        task(
            "PrerequisitesCheck",
            "Prerequisites check for enabling protection",
            d.min(10),
        ),
        task(
            "IdentifyingReplicationTarget",
            "Identifying replication target",
            d.saturating_sub(d.min(10)) / 3,
        ),
        task(
            "EnableProtection",
            "Enable replication",
            d - d.min(10) - d.saturating_sub(d.min(10)) / 3,
        ),
        task("StartInitialReplication", "Starting initial replication", 0),
    ];
    Ok(start_job(
        cx,
        "EnableDr",
        "Enable replication",
        (&lc, &name, "ProtectionEntity"),
        tasks,
        Effect::EnableDone(k.clone()),
        vec![k],
        Some(id),
    ))
}

/// Finds a recovery point by id or name among the item's points; `None` id means the latest.
fn pick_point(cx: &Cx, r: &Rpi, rp: Option<&str>) -> Result<(i64, String), SimResponse> {
    let loads = cx.w.cache_loads();
    let points = cx.w.recovery_points(r, cx.now, &loads);
    let chosen = match rp.filter(|s| !s.is_empty()) {
        Some(id) => {
            let name = last_segment(id);
            let t: i64 = name.parse().map_err(|_| {
                asr_error(
                    400,
                    "150090",
                    &format!("Recovery point '{id}' was not found."),
                    "List the recovery points first.",
                )
            })?;
            points
                .iter()
                .find(|(p, _)| *p == t)
                .map(|(p, _)| *p)
                .ok_or_else(|| {
                    asr_error(
                        400,
                        "150090",
                        &format!("Recovery point '{id}' was not found or has expired."),
                        "List the recovery points first.",
                    )
                })?
        }
        None => points.last().map(|(p, _)| *p).ok_or_else(|| {
            asr_error(
                400,
                "150091",
                "No recovery point is available yet.",
                "Wait for initial replication to complete.",
            )
        })?,
    };
    Ok((chosen, format!("{}/recoveryPoints/{chosen}", asr_id(&r.id))))
}

fn points(cx: &mut Cx) -> Reply {
    let r = get_rpi(cx)?;
    let loads = cx.w.cache_loads();
    let pts = cx.w.recovery_points(&r, cx.now, &loads);
    let disk_ids: Vec<String> = r.disks.iter().map(|d| d.disk_id.clone()).collect();
    let sync = if r.settings["multiVmGroupName"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        "MultiVmSyncRecoveryPoint"
    } else {
        "PerVmRecoveryPoint"
    };
    let render = |(t, app): &(i64, bool)| {
        let id = format!("{}/recoveryPoints/{t}", asr_id(&r.id));
        json!({"id": id, "name": t.to_string(), "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems/recoveryPoints",
            "properties": {"recoveryPointTime": ts(OffsetDateTime::from_unix_timestamp(*t).unwrap_or(cx.now)),
                "recoveryPointType": if *app { "ApplicationConsistent" } else { "CrashConsistent" },
                "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointSyncType": sync, "disks": disk_ids}}})
    };
    if cx.h == H::Point {
        let name = &cx.segs[15];
        let t: i64 = name.parse().map_err(|_| not_found(&req_id(cx)))?;
        let p = pts
            .iter()
            .find(|(x, _)| *x == t)
            .ok_or_else(|| not_found(&req_id(cx)))?;
        return Ok(resp(200, Some(render(p))));
    }
    let items: Vec<Value> = pts.iter().rev().map(render).collect();
    Ok(page(cx, items, true))
}

fn rpi_action(cx: &mut Cx) -> Reply {
    let r = get_rpi(cx)?;
    let action = cx.segs[14].to_ascii_lowercase();
    let body = body_json(cx)?;
    let p = body["properties"].clone();
    let k = key(&r.id);
    let target = (r.lifecycle_id.clone(), r.name.clone());
    let tgt = (target.0.as_str(), target.1.as_str(), "ProtectionEntity");
    let dur = cx.w.config.durations.clone();
    let result = Some(r.id.clone());
    match action.as_str() {
        "testfailover" => {
            guard(cx, &r, "TestFailover", "test failover")?;
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            direction(&p)?;
            let psd = &p["providerSpecificDetails"];
            if psd.is_object() {
                instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
            }
            let net = p["networkId"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .or_else(|| {
                    r.settings["selectedTfoAzureNetworkId"]
                        .as_str()
                        .map(str::to_string)
                })
                .ok_or_else(|| {
                    bad(
                        "properties.networkId",
                        "is required (the test-failover network)",
                    )
                })?;
            let vnet =
                cx.w.res(&net)
                    .cloned()
                    .filter(|x| x.kind() == "microsoft.network/virtualnetworks")
                    .ok_or_else(|| {
                        asr_error(
                            400,
                            "150071",
                            &format!("Test network '{net}' was not found."),
                            "Create the test network first.",
                        )
                    })?;
            if vnet.location.as_deref() != Some(r.recovery_location.as_str()) {
                return Err(asr_error(
                    400,
                    "150073",
                    &format!(
                        "Test network is in '{}', not in the recovery region '{}'.",
                        vnet.location.as_deref().unwrap_or(""),
                        r.recovery_location
                    ),
                    "Use a network in the recovery region.",
                ));
            }
            let (pt, _) = pick_point(cx, &r, psd["recoveryPointId"].as_str())?;
            let tasks = vec![
                task(
                    "PrerequisitesCheck",
                    "Prerequisites check for test failover",
                    dur.test_failover_secs.min(10),
                ),
                task(
                    "CreateTestVm",
                    "Create test virtual machine",
                    dur.test_failover_secs - dur.test_failover_secs.min(10),
                ),
                task("StartTestVm", "Start the virtual machine", 0),
            ];
            Ok(start_job(
                cx,
                "TestFailover",
                "Test failover",
                tgt,
                tasks,
                Effect::TestFailover(k.clone(), pt, vnet.id.clone()),
                vec![k],
                result,
            ))
        }
        "testfailovercleanup" => {
            guard(cx, &r, "TestFailoverCleanup", "test failover cleanup")?;
            Ok(start_job(
                cx,
                "TestFailoverCleanup",
                "Test failover cleanup",
                tgt,
                tasks2(
                    "CleanupTestVm",
                    "Delete test virtual machine",
                    dur.cleanup_secs,
                ),
                Effect::Cleanup(k.clone()),
                vec![k],
                result,
            ))
        }
        "unplannedfailover" => {
            guard(cx, &r, "UnplannedFailover", "failover")?;
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            direction(&p)?;
            let sso = p["sourceSiteOperations"].as_str().unwrap_or("NotRequired");
            if !["Required", "NotRequired"].contains(&sso) {
                return Err(bad(
                    "properties.sourceSiteOperations",
                    &format!("'{sso}' is not one of Required, NotRequired"),
                ));
            }
            let psd = &p["providerSpecificDetails"];
            if psd.is_object() {
                instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
            }
            let (effect, tasks) =
                failover_plan(cx, &r, sso == "Required", psd["recoveryPointId"].as_str())?;
            Ok(start_job(
                cx,
                "UnplannedFailover",
                "Failover",
                tgt,
                tasks,
                effect,
                vec![k],
                result,
            ))
        }
        "plannedfailover" => Err(asr_error(
            400,
            "28127",
            "Planned failover is not supported for Azure-to-Azure replication.",
            "Use unplannedFailover with sourceSiteOperations 'Required'.",
        )),
        "applyrecoverypoint" => {
            guard(cx, &r, "ChangePit", "change recovery point")?;
            let rp = p["recoveryPointId"]
                .as_str()
                .ok_or_else(|| bad("properties.recoveryPointId", "is required"))?;
            let psd = &p["providerSpecificDetails"];
            if psd.is_object() {
                instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
            }
            // Points stay listable after failover up to the failover start.
            let (pt, pid) = pick_point(cx, &r, Some(rp))?;
            Ok(start_job(
                cx,
                "ChangePit",
                "Change recovery point",
                tgt,
                tasks2("ChangePit", "Change recovery point", dur.other_secs),
                Effect::ChangePit(k.clone(), pt, pid),
                vec![k],
                result,
            ))
        }
        "failovercommit" => {
            guard(cx, &r, "Commit", "commit")?;
            Ok(start_job(
                cx,
                "CommitFailover",
                "Commit",
                tgt,
                tasks2("Commit", "Commit failover", dur.commit_secs),
                Effect::Commit(k.clone()),
                vec![k],
                result,
            ))
        }
        "failovercancel" => {
            guard(cx, &r, "CancelFailover", "cancel failover")?;
            Ok(start_job(
                cx,
                "CancelFailover",
                "Cancel failover",
                tgt,
                tasks2("CancelFailover", "Cancel failover", dur.other_secs),
                Effect::Cancel(k.clone()),
                vec![k],
                result,
            ))
        }
        "remove" => {
            busy(cx, &r)?;
            if r.protection_state == "UnplannedFailoverCommitPendingStatesBegin" {
                return Err(asr_error(
                    400,
                    "28126",
                    "Disable protection is not allowed while a failover awaits commit.",
                    "Commit or cancel the failover first.",
                ));
            }
            let reason = p["disableProtectionReason"]
                .as_str()
                .unwrap_or("NotSpecified");
            if !["NotSpecified", "MigrationComplete"].contains(&reason) {
                return Err(bad(
                    "properties.disableProtectionReason",
                    &format!("'{reason}' is not one of NotSpecified, MigrationComplete"),
                ));
            }
            Ok(start_job(
                cx,
                "DisableDr",
                "Disable replication",
                tgt,
                tasks2("DisableProtection", "Disable replication", dur.disable_secs),
                Effect::Disable(k.clone()),
                vec![k],
                None,
            ))
        }
        "reprotect" => {
            // A2A reprotect through the item: same semantics as the container's switchprotection.
            guard(cx, &r, "ReverseReplicate", "reprotect")?;
            let mut psd = p["providerSpecificDetails"].clone();
            if !psd.is_object() {
                return Err(bad("properties.providerSpecificDetails", "is required"));
            }
            instance_type(&psd, "properties.providerSpecificDetails", &["A2A"])?;
            if psd["recoveryContainerId"].is_null() {
                // Default: the reverse mapping's target, i.e. the item's primary container.
                psd["recoveryContainerId"] = json!(r.container_id);
            }
            let input = json!({"properties": {"replicationProtectedItemName": r.name, "providerSpecificDetails": psd}});
            let cid = r.container_id.clone();
            do_switch(cx, &r, input, cid)
        }
        "repairreplication"
        | "resolvehealtherrors"
        | "updatemobilityservice"
        | "adddisks"
        | "removedisks" => {
            busy(cx, &r)?;
            if action == "repairreplication" {
                guard(cx, &r, "RepairReplication", "repair replication")?;
            }
            Ok(start_job(
                cx,
                "RpiAction",
                &format!("Protected item action {action}"),
                tgt,
                tasks2("Action", "Action", dur.other_secs),
                Effect::None,
                vec![k],
                result,
            ))
        }
        other => Err(arm_error(
            404,
            "InvalidResourceType",
            &format!("Unknown protected item action '{other}'."),
        )),
    }
}

fn direction(p: &Value) -> Result<(), SimResponse> {
    match p["failoverDirection"].as_str() {
        None | Some("PrimaryToRecovery") | Some("RecoveryToPrimary") => Ok(()),
        Some(d) => Err(bad(
            "properties.failoverDirection",
            &format!("'{d}' is not one of PrimaryToRecovery, RecoveryToPrimary"),
        )),
    }
}

/// Prepares a failover: with `shutdown`, the source VM stops now and a final point is taken now (nothing lost); a
/// source region that is down makes that impossible, so the job will fail. Without it the source is not touched
/// and the latest (or given) point is used.
fn failover_plan(
    cx: &mut Cx,
    r: &Rpi,
    shutdown: bool,
    rp: Option<&str>,
) -> Result<(Effect, Vec<Task>), SimResponse> {
    let k = key(&r.id);
    let d = cx.w.config.durations.failover_secs;
    let mut tasks = vec![task(
        "PrerequisitesCheck",
        "Prerequisites check for failover",
        d.min(10),
    )];
    let (pt, pid) = if shutdown {
        if cx.w.region_down(&r.primary_location) {
            cx.fail_job = Some((
                "150094".into(),
                format!(
                    "Shutting down the source VM failed: region '{}' is unavailable.",
                    r.primary_location
                ),
            ));
            pick_point(cx, r, rp).unwrap_or((cx.now.unix_timestamp(), String::new()))
        } else {
            // Recovery points have whole-second times: the shutdown is taken at the second the final point
            // names, so the point holds every write the source made (nothing between the point and the stop).
            let t = cx.now.unix_timestamp();
            let stop_at = OffsetDateTime::from_unix_timestamp(t).unwrap_or(cx.now);
            cx.w.stop_vm(&r.source_vm_id, stop_at);
            if let Some(x) = cx.w.rpis.get_mut(&k)
                && !x.extra_points.contains(&t)
            {
                x.extra_points.push(t);
            }
            tasks.push(task("ShutdownSourceVm", "Shut down the virtual machine", 0));
            (t, format!("{}/recoveryPoints/{t}", asr_id(&r.id)))
        }
    } else {
        pick_point(cx, r, rp)?
    };
    tasks.push(task(
        "Failover",
        "Fail over the virtual machine",
        d - d.min(10),
    ));
    tasks.push(task("StartVm", "Start the replica virtual machine", 0));
    Ok((Effect::Failover(k, pt, pid, shutdown), tasks))
}

fn switch_protection(cx: &mut Cx, c: &Res) -> Reply {
    let body = body_json(cx)?;
    let p = &body["properties"];
    let name = p["replicationProtectedItemName"]
        .as_str()
        .ok_or_else(|| bad("properties.replicationProtectedItemName", "is required"))?;
    let rk = format!(
        "{}/replicationprotecteditems/{}",
        key(&c.id),
        name.to_ascii_lowercase()
    );
    let r =
        cx.w.rpis
            .get(&rk)
            .cloned()
            .ok_or_else(|| not_found(&format!("{}/replicationProtectedItems/{name}", c.id)))?;
    guard(cx, &r, "SwitchProtection", "switch protection (reprotect)")?;
    let result = c.id.clone();
    do_switch(cx, &r, body.clone(), result)
}

/// Validates and starts reverse replication of a committed item (container `switchprotection` and RPI `reProtect`).
fn do_switch(cx: &mut Cx, r: &Rpi, body: Value, result: String) -> Reply {
    let p = &body["properties"];
    let psd = &p["providerSpecificDetails"];
    if !psd.is_object() {
        return Err(bad("properties.providerSpecificDetails", "is required"));
    }
    instance_type(psd, "properties.providerSpecificDetails", &["A2A"])?;
    let rc = psd["recoveryContainerId"].as_str().ok_or_else(|| {
        bad(
            "properties.providerSpecificDetails.recoveryContainerId",
            "is required",
        )
    })?;
    let rcres = cx.w.res(rc).cloned().ok_or_else(|| {
        asr_error(
            400,
            "150051",
            &format!("Recovery container '{rc}' was not found."),
            "Create it first.",
        )
    })?;
    // Reverse replication runs from the container the item failed over to (its recovery container) back to the
    // original one; `recoveryContainerId` names the *target* of that reverse mapping (asr-api.md §3.8), which is
    // the item's current primary container.
    if key(&rcres.id) != key(&r.container_id) {
        return Err(asr_error(
            400,
            "150095",
            &format!(
                "recoveryContainerId '{rc}' is not the target of a reverse container mapping of this item; \
                 reprotect replicates back to its primary container '{}'.",
                r.container_id
            ),
            "Pass the target container of the reverse mapping (recovery container -> primary container).",
        ));
    }
    let mapped = cx.w.resources.values().any(|m| {
        m.kind()
            .ends_with("/replicationprotectioncontainermappings")
            && key(&parent_id(&m.id)) == key(&r.recovery_container_id)
            && m.body["properties"]["targetProtectionContainerId"]
                .as_str()
                .is_some_and(|t| key(t) == key(&rcres.id))
    });
    if !mapped {
        return Err(asr_error(
            400,
            "150086",
            "No reverse container mapping from the recovery container to the primary container.",
            "Create the reverse container mapping first.",
        ));
    }
    if let Some(pol) = psd["policyId"].as_str()
        && cx.w.res(pol).is_none()
    {
        return Err(asr_error(
            400,
            "150054",
            &format!("Policy '{pol}' was not found."),
            "Create the policy first.",
        ));
    }
    if let Some(f) = &r.failover {
        let target_disks = cx.w.vm_disks(&f.target_vm_id);
        for (i, d) in psd["vmManagedDisks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let did = d["diskId"].as_str().unwrap_or("");
            if !target_disks.iter().any(|(x, _)| key(x) == key(did)) {
                return Err(asr_error(
                    400,
                    "150039",
                    &format!(
                        "properties.providerSpecificDetails.vmManagedDisks[{i}].diskId '{did}' is not a disk of the failed-over VM."
                    ),
                    "Use the disks of the VM now running in the recovery region.",
                ));
            }
            if let Some(sa) = d["primaryStagingAzureStorageAccountId"].as_str() {
                let ok = cx
                    .w
                    .res(sa)
                    .is_some_and(|s| s.location.as_deref() == Some(r.recovery_location.as_str()));
                if !ok {
                    return Err(asr_error(
                        400,
                        "150089",
                        &format!(
                            "vmManagedDisks[{i}].primaryStagingAzureStorageAccountId '{sa}' must exist in '{}'.",
                            r.recovery_location
                        ),
                        "Use a cache account in the now-active region.",
                    ));
                }
            }
        }
    }
    let k = key(&r.id);
    let lc = r.lifecycle_id.clone();
    let d = cx.w.config.durations.switch_protection_secs;
    Ok(start_job(
        cx,
        "SwitchProtection",
        "Switch protection",
        (&lc, &r.name, "ProtectionEntity"),
        tasks2("SwitchProtection", "Reverse replication", d),
        Effect::Switch(k.clone(), body.clone()),
        vec![k],
        Some(result),
    ))
}

fn job_action(cx: &mut Cx) -> Reply {
    let vk = vault_key(cx);
    if cx.segs.len() == 10 {
        // export
        let d = cx.w.config.durations.config_secs;
        return Ok(start_job(
            cx,
            "ExportJobs",
            "Export jobs",
            (&vk.clone(), "jobs", "Vault"),
            tasks2("Export", "Export", d),
            Effect::None,
            vec![],
            None,
        ));
    }
    let id = format!("/{}", cx.segs[..10].join("/"));
    let jk = key(&id);
    let j = cx.w.jobs.get(&jk).cloned().ok_or_else(|| {
        asr_error(
            404,
            "28117",
            &format!("Job '{}' was not found.", cx.segs[9]),
            "Check the job name.",
        )
    })?;
    let state = j.state(cx.now);
    match cx.segs[10].to_ascii_lowercase().as_str() {
        "cancel" => {
            if state != "InProgress" && state != "Suspended" {
                return Err(asr_error(
                    400,
                    "28120",
                    &format!("Job '{}' is {state} and cannot be cancelled.", j.name),
                    "Only running jobs can be cancelled.",
                ));
            }
            if let Some(x) = cx.w.jobs.get_mut(&jk) {
                x.cancelled_at = Some(cx.now);
            }
            cx.w.due.insert((cx.now, jk.clone()));
            cx.w.settle(cx.now);
            let op = new_op(cx, None, cx.now, Some(j.id.clone()));
            let vault = vault_id(cx);
            let mut r = resp(202, None);
            r.headers.push((
                "Azure-AsyncOperation".into(),
                format!(
                    "{}{vault}/replicationOperationStatus/{op}?api-version={}",
                    cx.base, cx.api
                ),
            ));
            r.headers.push((
                "Location".into(),
                format!(
                    "{}{vault}/replicationOperationResults/{op}?api-version={}",
                    cx.base, cx.api
                ),
            ));
            r.headers.push((
                "Retry-After".into(),
                cx.w.config.retry_after_secs.to_string(),
            ));
            Ok(r)
        }
        "restart" => {
            if state != "Failed" && state != "Cancelled" {
                return Err(asr_error(
                    400,
                    "28121",
                    &format!(
                        "Job '{}' is {state}; only failed or cancelled jobs can be restarted.",
                        j.name
                    ),
                    "Wait for the job to end.",
                ));
            }
            for h in &j.holders {
                if let Some(r) = cx.w.rpis.get(h) {
                    busy(cx, r)?;
                }
            }
            let holders = j.holders.clone();
            Ok(start_job(
                cx,
                &j.scenario,
                &j.friendly_name,
                (&j.target_id, &j.target_name, &j.target_type),
                j.tasks.clone(),
                j.effect.clone(),
                holders,
                None,
            ))
        }
        "resume" => {
            if state != "Suspended" {
                return Err(asr_error(
                    400,
                    "28122",
                    &format!("Job '{}' is {state}, not suspended.", j.name),
                    "Only suspended jobs (manual actions) can be resumed.",
                ));
            }
            // The body (`ResumeJobParams`) may carry a comment; it is optional, but when given it must be an object.
            if !cx.req.body.is_empty() {
                let b = body_json(cx)?;
                if !b.is_null() && !b.is_object() {
                    return Err(bad("body", "must be a JSON object (ResumeJobParams)"));
                }
            }
            let Some(x) = cx.w.jobs.get_mut(&jk) else {
                return Err(not_found(&id));
            };
            x.resumes.push(cx.now);
            if let Some(end) = x.end() {
                cx.w.due.insert((end, jk.clone()));
            }
            let job_id = j.id.clone();
            cx.w.settle(cx.now);
            // The resume call itself is done at once (its result is the job); the job goes on by itself.
            let op = new_op(cx, None, cx.now, Some(job_id));
            let vault = vault_id(cx);
            let mut r = resp(202, None);
            r.headers.push((
                "Azure-AsyncOperation".into(),
                format!(
                    "{}{vault}/replicationOperationStatus/{op}?api-version={}",
                    cx.base, cx.api
                ),
            ));
            r.headers.push((
                "Location".into(),
                format!(
                    "{}{vault}/replicationOperationResults/{op}?api-version={}",
                    cx.base, cx.api
                ),
            ));
            r.headers.push((
                "Retry-After".into(),
                cx.w.config.retry_after_secs.to_string(),
            ));
            Ok(r)
        }
        other => Err(arm_error(
            404,
            "InvalidResourceType",
            &format!("Unknown job action '{other}'."),
        )),
    }
}

fn plan(cx: &mut Cx, m: &str) -> Reply {
    let id = format!("{}/replicationRecoveryPlans/{}", vault_id(cx), cx.segs[9]);
    let existing = cx.w.res(&id).cloned();
    match m {
        "GET" => get_asr_res(cx),
        "PUT" | "PATCH" => {
            let body = body_json(cx)?;
            let p = &body["properties"];
            if !p.is_object() {
                return Err(bad("properties", "is required"));
            }
            if m == "PATCH" && existing.is_none() {
                return Err(not_found(&id));
            }
            let prev = existing
                .as_ref()
                .map(|e| e.body["properties"].clone())
                .unwrap_or(json!({}));
            let pf = p["primaryFabricId"]
                .as_str()
                .or(prev["primaryFabricId"].as_str())
                .ok_or_else(|| bad("properties.primaryFabricId", "is required"))?
                .to_string();
            let rf = p["recoveryFabricId"]
                .as_str()
                .or(prev["recoveryFabricId"].as_str())
                .ok_or_else(|| bad("properties.recoveryFabricId", "is required"))?
                .to_string();
            for (f, v) in [("primaryFabricId", &pf), ("recoveryFabricId", &rf)] {
                if cx.w.res(v).is_none() {
                    return Err(asr_error(
                        400,
                        "150056",
                        &format!("properties.{f} '{v}' was not found."),
                        "Create the fabric first.",
                    ));
                }
            }
            if let Some(list) = p["providerSpecificInput"].as_array() {
                for (i, x) in list.iter().enumerate() {
                    instance_type(
                        x,
                        &format!("properties.providerSpecificInput[{i}]"),
                        &["A2A"],
                    )?;
                }
            }
            let groups = p["groups"]
                .as_array()
                .cloned()
                .or_else(|| prev["groups"].as_array().cloned())
                .ok_or_else(|| bad("properties.groups", "is required"))?;
            let mut count = 0;
            let mut out_groups = Vec::new();
            for (gi, g) in groups.iter().enumerate() {
                let gt = g["groupType"].as_str().ok_or_else(|| {
                    bad(&format!("properties.groups[{gi}].groupType"), "is required")
                })?;
                if !["Shutdown", "Failover", "Boot"].contains(&gt) {
                    return Err(bad(
                        &format!("properties.groups[{gi}].groupType"),
                        &format!("'{gt}' is not one of Shutdown, Failover, Boot"),
                    ));
                }
                let mut items = Vec::new();
                for (ii, it) in g["replicationProtectedItems"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let rid = it["id"].as_str().ok_or_else(|| {
                        bad(
                            &format!("properties.groups[{gi}].replicationProtectedItems[{ii}].id"),
                            "is required",
                        )
                    })?;
                    let r = cx.w.rpis.get(&key(rid)).ok_or_else(|| asr_error(400, "150096", &format!(
                        "properties.groups[{gi}].replicationProtectedItems[{ii}].id '{rid}' is not a protected item."), "Enable protection first."))?;
                    items.push(json!({"id": asr_id(&r.id), "virtualMachineId": r.source_vm_id}));
                    count += 1;
                }
                for key_name in ["startGroupActions", "endGroupActions"] {
                    for (ai, a) in g[key_name]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                    {
                        let f = format!("properties.groups[{gi}].{key_name}[{ai}]");
                        a["actionName"]
                            .as_str()
                            .ok_or_else(|| bad(&format!("{f}.actionName"), "is required"))?;
                        instance_type(
                            &a["customDetails"],
                            &format!("{f}.customDetails"),
                            &[
                                "AutomationRunbookActionDetails",
                                "ManualActionDetails",
                                "ScriptActionDetails",
                            ],
                        )?;
                    }
                }
                let mut ng = g.clone();
                ng["replicationProtectedItems"] = json!(items);
                for kk in ["startGroupActions", "endGroupActions"] {
                    if ng[kk].is_null() {
                        ng[kk] = json!([]);
                    }
                }
                out_groups.push(ng);
            }
            if count > 100 {
                return Err(asr_error(
                    400,
                    "150097",
                    &format!("A recovery plan holds at most 100 protected items; got {count}."),
                    "Split the plan.",
                ));
            }
            let boot_groups = out_groups
                .iter()
                .filter(|g| g["groupType"] == json!("Boot"))
                .count();
            if boot_groups > 7 {
                return Err(asr_error(
                    400,
                    "150099",
                    &format!("A recovery plan has at most 7 boot groups; got {boot_groups}."),
                    "Merge groups.",
                ));
            }
            let props = json!({"friendlyName": cx.segs[9], "primaryFabricId": asr_id(&pf), "primaryFabricFriendlyName": last_segment(&pf),
                "recoveryFabricId": asr_id(&rf), "recoveryFabricFriendlyName": last_segment(&rf),
                "failoverDeploymentModel": p["failoverDeploymentModel"].as_str().or(prev["failoverDeploymentModel"].as_str()).unwrap_or("ResourceManager"),
                "replicationProviders": ["A2A"], "allowedOperations": [], "groups": out_groups,
                "currentScenarioStatus": "Succeeded", "providerSpecificDetails": [{"instanceType": "A2A"}]});
            let b = asr_res_body(
                cx,
                &id,
                "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
                props,
            );
            let res = Res {
                id: id.clone(),
                sub: cx.segs[1].clone(),
                location: None,
                body: b,
                etag: 0,
            };
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                if m == "PUT" {
                    "CreateRecoveryPlan"
                } else {
                    "UpdateRecoveryPlan"
                },
                "Recovery plan",
                (&id, &cx.segs[9].clone(), "RecoveryPlan"),
                tasks2("RecoveryPlan", "Recovery plan", d),
                Effect::Upsert(Box::new(res)),
                vec![],
                Some(id.clone()),
            ))
        }
        "DELETE" => {
            let e = existing.ok_or_else(|| not_found(&id))?;
            let d = cx.w.config.durations.config_secs;
            Ok(start_job(
                cx,
                "DeleteRecoveryPlan",
                "Delete a recovery plan",
                (&e.id, last_segment(&e.id), "RecoveryPlan"),
                tasks2("DeleteRecoveryPlanTask", "Delete a recovery plan task", d),
                Effect::Remove(vec![key(&e.id)]),
                vec![],
                None,
            ))
        }
        _ => Err(arm_error(
            405,
            "MethodNotAllowed",
            &format!("{m} is not supported on recovery plans."),
        )),
    }
}

/// Runs a plan operation: one job whose tasks walk the groups in order (Shutdown, Failover, then each Boot group),
/// recording every VM and every manual/script/runbook action, and whose effect applies each item's change in order.
fn plan_action(cx: &mut Cx) -> Reply {
    let pid = format!("/{}", cx.segs[..10].join("/"));
    let plan = cx.w.res(&pid).cloned().ok_or_else(|| not_found(&pid))?;
    let action = cx.segs[10].to_ascii_lowercase();
    let body = body_json(cx)?;
    let p = body["properties"].clone();
    let (op, scenario) = match action.as_str() {
        "testfailover" => ("TestFailover", "TestFailover"),
        "testfailovercleanup" => ("TestFailoverCleanup", "TestFailoverCleanup"),
        "unplannedfailover" => ("UnplannedFailover", "UnplannedFailover"),
        "failovercommit" => ("Commit", "CommitFailover"),
        "failovercancel" => ("CancelFailover", "CancelFailover"),
        "reprotect" => ("SwitchProtection", "SwitchProtection"),
        "plannedfailover" => {
            return Err(asr_error(
                400,
                "28127",
                "Planned failover is not supported for Azure-to-Azure replication.",
                "Use unplannedFailover with sourceSiteOperations 'Required'.",
            ));
        }
        other => {
            return Err(arm_error(
                404,
                "InvalidResourceType",
                &format!("Unknown recovery plan action '{other}'."),
            ));
        }
    };
    if matches!(op, "TestFailover" | "UnplannedFailover") {
        if !p.is_object() {
            return Err(bad("properties", "is required"));
        }
        direction(&p)?;
        for (i, x) in p["providerSpecificDetails"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            instance_type(
                x,
                &format!("properties.providerSpecificDetails[{i}]"),
                &["A2A"],
            )?;
            if let Some(t) = x["recoveryPointType"].as_str()
                && ![
                    "Latest",
                    "LatestApplicationConsistent",
                    "LatestCrashConsistent",
                    "LatestProcessed",
                ]
                .contains(&t)
            {
                return Err(bad(
                    &format!("properties.providerSpecificDetails[{i}].recoveryPointType"),
                    &format!("'{t}' is not a recovery point type"),
                ));
            }
        }
    }
    if op == "SwitchProtection" {
        return Err(asr_error(
            400,
            "28128",
            "Recovery-plan reprotect is not available for managed-disk A2A items in the simulator (as in the portal caveat of asr-api.md §3.9).",
            "Reprotect per item with the container's switchprotection action.",
        ));
    }
    let groups = plan.body["properties"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ordered: Vec<&Value> = ["Shutdown", "Failover", "Boot"]
        .iter()
        .flat_map(|t| groups.iter().filter(move |g| g["groupType"] == json!(t)))
        .collect();
    let mut tasks = Vec::new();
    let mut effects = Vec::new();
    let mut holders = Vec::new();
    let dur = cx.w.config.durations.clone();
    let sso = p["sourceSiteOperations"].as_str().unwrap_or("NotRequired") == "Required";
    let point_type = p["providerSpecificDetails"][0]["recoveryPointType"]
        .as_str()
        .unwrap_or("Latest")
        .to_string();
    let test_net = p["networkId"].as_str().map(str::to_string);
    let mut boot_no = 0;
    for g in ordered {
        let gt = g["groupType"].as_str().unwrap_or("Boot");
        let gname = if gt == "Boot" {
            boot_no += 1;
            format!("Group {boot_no}")
        } else {
            gt.to_string()
        };
        for a in g["startGroupActions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            tasks.push(plan_action_task(&a, &gname, "start"));
        }
        // The VMs of one group are worked on together (ASR runs them concurrently): every VM task after the
        // group's first runs alongside it, so a group of 80 takes as long as its slowest VM.
        let group_first = tasks.len();
        for it in g["replicationProtectedItems"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let rid = it["id"].as_str().unwrap_or("");
            let r = cx.w.rpis.get(&key(rid)).cloned().ok_or_else(|| {
                asr_error(
                    400,
                    "150096",
                    &format!("Plan item '{rid}' is no longer protected."),
                    "Update the plan.",
                )
            })?;
            guard(cx, &r, op, &format!("recovery plan {action}"))?;
            let k = key(&r.id);
            holders.push(k.clone());
            let vm = last_segment(&r.source_vm_id).to_string();
            match (op, gt) {
                ("TestFailover", "Boot") => {
                    let net = test_net
                        .clone()
                        .ok_or_else(|| bad("properties.networkId", "is required"))?;
                    let net = cx.w.res(&net).map(|x| x.id.clone()).ok_or_else(|| {
                        asr_error(
                            400,
                            "150071",
                            &format!("Test network '{net}' was not found."),
                            "Create it first.",
                        )
                    })?;
                    let (pt, _) = plan_point(cx, &r, &point_type)?;
                    tasks.push(task(
                        "TestFailover",
                        &format!("{gname}: test failover of {vm}"),
                        dur.test_failover_secs,
                    ));
                    effects.push(Effect::TestFailover(k, pt, net));
                }
                ("TestFailoverCleanup", "Boot") => {
                    tasks.push(task(
                        "Cleanup",
                        &format!("{gname}: clean up test VM of {vm}"),
                        dur.cleanup_secs,
                    ));
                    effects.push(Effect::Cleanup(k));
                }
                ("UnplannedFailover", "Boot") => {
                    let (effect, t) = if sso {
                        failover_plan(cx, &r, true, None)?
                    } else {
                        let (pt, pid) = plan_point(cx, &r, &point_type)?;
                        (Effect::Failover(k.clone(), pt, pid, false), vec![])
                    };
                    let secs: u64 = t.iter().map(|x| x.secs).sum::<u64>().max(dur.failover_secs);
                    tasks.push(task("Failover", &format!("{gname}: fail over {vm}"), secs));
                    effects.push(effect);
                }
                ("Commit", "Boot") => {
                    tasks.push(task(
                        "Commit",
                        &format!("{gname}: commit {vm}"),
                        dur.commit_secs,
                    ));
                    effects.push(Effect::Commit(k));
                }
                ("CancelFailover", "Boot") => {
                    tasks.push(task(
                        "Cancel",
                        &format!("{gname}: cancel failover of {vm}"),
                        dur.other_secs,
                    ));
                    effects.push(Effect::Cancel(k));
                }
                _ => {}
            }
        }
        for t in tasks.iter_mut().skip(group_first + 1) {
            t.parallel = true;
        }
        if gt != "Boot" {
            tasks.push(task(&format!("{gt}Group"), &format!("{gname} group"), 0));
        }
        for a in g["endGroupActions"].as_array().cloned().unwrap_or_default() {
            tasks.push(plan_action_task(&a, &gname, "end"));
        }
    }
    if holders.is_empty() {
        return Err(asr_error(
            400,
            "150096",
            "The recovery plan has no protected items.",
            "Add items to the plan.",
        ));
    }
    Ok(start_job(
        cx,
        scenario,
        &format!("Recovery plan {action}"),
        (&plan.id, last_segment(&plan.id), "RecoveryPlan"),
        tasks,
        Effect::Many(effects),
        {
            let mut h = holders;
            h.push(key(&plan.id));
            h
        },
        Some(plan.id.clone()),
    ))
}

fn plan_point(cx: &Cx, r: &Rpi, kind: &str) -> Result<(i64, String), SimResponse> {
    let loads = cx.w.cache_loads();
    let points = cx.w.recovery_points(r, cx.now, &loads);
    let pick = match kind {
        "LatestApplicationConsistent" => points.iter().rev().find(|(_, app)| *app),
        _ => points.last(),
    };
    let (t, _) = pick.ok_or_else(|| {
        asr_error(
            400,
            "150091",
            &format!("No {kind} recovery point is available for '{}'.", r.name),
            "Wait for replication.",
        )
    })?;
    Ok((*t, format!("{}/recoveryPoints/{t}", asr_id(&r.id))))
}

fn plan_action_task(a: &Value, group: &str, when: &str) -> Task {
    let it = a["customDetails"]["instanceType"]
        .as_str()
        .unwrap_or("ManualActionDetails");
    let kind = match it {
        "ManualActionDetails" => "ManualActionTaskDetails",
        "ScriptActionDetails" => "ScriptActionTaskDetails",
        _ => "AutomationRunbookTaskDetails",
    };
    let name = a["actionName"].as_str().unwrap_or("action");
    Task {
        name: name.to_string(),
        friendly_name: format!("{group} ({when}): {name}"),
        secs: 0,
        kind: kind.to_string(),
        parallel: false,
    }
}

/// Replication eligibility of a VM: errors for a VM that is already protected or stopped by an outage.
fn eligibility(cx: &mut Cx) -> Reply {
    let vm_id = format!("/{}", cx.segs[..8].join("/"));
    let vm = cx.w.res(&vm_id).cloned().ok_or_else(|| not_found(&vm_id))?;
    let mut errors = Vec::new();
    if let Some(r) =
        cx.w.rpis
            .values()
            .find(|r| r.source_vm_id.eq_ignore_ascii_case(&vm.id))
    {
        errors.push(json!({"code": "150085", "message": format!("The VM is already protected by '{}'.", asr_id(&r.id)),
            "possibleCauses": "Protection is enabled.", "recommendedAction": "None.", "status": "Error"}));
    }
    let id = format!(
        "{}/providers/Microsoft.RecoveryServices/replicationEligibilityResults/default",
        vm.id
    );
    let one = json!({"id": id, "name": "default", "type": "Microsoft.RecoveryServices/replicationEligibilityResults",
        "properties": {"clientRequestId": format!("sim-{}", cx.w.log_seq), "errors": errors}});
    if cx.segs.len() == 12 {
        Ok(resp(200, Some(one)))
    } else {
        Ok(resp(200, Some(json!({"value": [one]}))))
    }
}

/// The container mappings of a container (a range scan under its id, not a scan of the world).
fn container_mappings<'w>(w: &'w World, container_id: &str) -> Vec<&'w Res> {
    let prefix = format!(
        "{}/replicationprotectioncontainermappings/",
        key(container_id)
    );
    w.resources
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, r)| r)
        .collect()
}
