//! Conformance with the official Python SDK: `tests/python/sdk_conformance.py` runs against the simulator served
//! over loopback by `sim::serve` in this process. Python comes from `$ASRFORM_PYTHON`, else `<repo>/.venv/bin/python`;
//! if neither exists or the SDK is not importable the test fails with the install command.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use asrform::clock::ScaledClock;
use asrform::sim::{SimConfig, Simulator};
use serde_json::json;

use crate::sim_support::*;

const INSTALL: &str =
    "python3 -m venv .venv && .venv/bin/pip install azure-mgmt-recoveryservicessiterecovery==2.0.0";

fn python() -> std::path::PathBuf {
    let candidate = std::env::var_os("ASRFORM_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::common::path(".venv/bin/python"));
    assert!(
        candidate.exists(),
        "no Python at {} (set ASRFORM_PYTHON or run: {INSTALL})",
        candidate.display()
    );
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import azure.mgmt.recoveryservicessiterecovery"])
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "the SDK is not importable with {} (run: {INSTALL})",
        candidate.display()
    );
    candidate
}

/// Runs the SDK conformance scenario against a fresh simulator and returns it, with the estate the scenario built
/// left in place (protected items, a failed-over, committed and reprotected VM, jobs).
async fn sdk_scenario() -> Simulator {
    let py = python();
    // A fast real-time clock (10 simulated minutes per second) so that the SDK's own pollers see jobs finish;
    // Retry-After 1 keeps each SDK poll to one real second (the SDK treats 0 as "use the 30 s default").
    let clock = Arc::new(ScaledClock::new(T0, 600.0));
    let sim = Simulator::from_estate(
        &estate(2, 1.0),
        clock.clone(),
        SimConfig {
            retry_after_secs: 1,
            ..SimConfig::default()
        },
    );
    let env = Env {
        sim: sim.clone(),
        clock,
    };
    // Plain ARM prerequisites, in-process.
    env.ok(
        "PUT",
        &rg("rg-vault"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    env.ok(
        "PUT",
        &rg("rg-dr"),
        Some(json!({"location": "westus"})),
        &[201],
    )
    .await;
    for (name, space) in [("vnet-dr", "10.20"), ("vnet-test", "10.30")] {
        env.ok("PUT", &format!("{}/providers/Microsoft.Network/virtualNetworks/{name}", rg("rg-dr")), Some(json!({"location": "westus",
            "properties": {"addressSpace": {"addressPrefixes": [format!("{space}.0.0/16")]},
                "subnets": [{"name": "snet000", "properties": {"addressPrefix": format!("{space}.0.0/24")}}]}})), &[201]).await;
    }
    env.ok(
        "PUT",
        &format!(
            "{}/providers/Microsoft.Storage/storageAccounts/cacheeast",
            rg("rg-app")
        ),
        Some(json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})),
        &[202],
    )
    .await;
    env.ok(
        "PUT",
        &format!(
            "{}/providers/Microsoft.Storage/storageAccounts/cachewest",
            rg("rg-dr")
        ),
        Some(json!({"location": "westus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})),
        &[202],
    )
    .await;
    env.ok(
        "PUT",
        &vault(),
        Some(json!({"location": "westus", "sku": {"name": "Standard"}})),
        &[200],
    )
    .await;
    let disks: BTreeMap<String, Vec<String>> = ["vm00001", "vm00002"]
        .iter()
        .map(|v| {
            (
                v.to_string(),
                sim.world()
                    .vm_disks(&vm(v))
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
            )
        })
        .collect();

    let server = asrform::sim::serve(sim.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = server.url();
    let script = crate::common::path("tests/python/sdk_conformance.py");
    let out = tokio::process::Command::new(py)
        .arg(script)
        .env("ASRFORM_SIM_URL", &url)
        .env("ASRFORM_SIM_SUB", SUB)
        .env("ASRFORM_SIM_DISKS", serde_json::to_string(&disks).unwrap())
        .output()
        .await
        .unwrap();
    server.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK conformance failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("SDK conformance: OK"));
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_python_sdk_conformance() {
    let sim = sdk_scenario().await;
    // The SDK's pollers followed the simulator's LRO URLs (status polls show up in the log).
    let log = sim.request_log();
    assert!(
        log.iter().any(|l| l.operation == "OperationStatus_Get"),
        "no operation-status polls"
    );
    assert!(
        log.iter()
            .all(|l| l.status != 404 || l.path.contains("/_sim")),
        "unexpected 404s: {:?}",
        log.iter().filter(|l| l.status == 404).collect::<Vec<_>>()
    );
}

/// Issue 9's round trip for an estate the Python SDK built (its own object names, one VM reprotected): save the
/// simulator beside a provider block, run `asrform import` on its vault, and `plan` the result: nothing to do.
/// What import had to infer is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_python_sdk_estate_imports_to_a_no_op_plan() {
    let sim = sdk_scenario().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("estate.json"),
        serde_json::to_string_pretty(&estate(2, 1.0)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("provider.asr.hcl"),
        "provider \"simulator\" {\n  estate = \"estate.json\"\n}\n",
    )
    .unwrap();
    let store = asrform::sim::SimStore::open(dir, std::time::Duration::from_secs(5)).unwrap();
    store
        .save_simulator(&sim, time::OffsetDateTime::now_utc(), 1.0)
        .unwrap();
    // The store's lock is held while it is open; the CLI runs below open it themselves.
    drop(store);
    let bin = assert_cmd::cargo::cargo_bin("asrform");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&["import", "--vault", &vault()]);
    assert_eq!(code, Some(0), "{out}");
    let mut hcl = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".asr.hcl") {
            hcl.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    // The SDK named its fabrics `src`/`tgt`, containers `src-c`/`tgt-c`, container and network mappings `fwd`/`rev`:
    // import adopts them as they are, writing those names explicitly.
    for (attr, name) in [
        ("source_fabric_name", "src"),
        ("target_fabric_name", "tgt"),
        ("source_container_name", "src-c"),
        ("target_container_name", "tgt-c"),
        ("forward_mapping_name", "fwd"),
        ("reverse_mapping_name", "rev"),
        ("reverse_name", "rev"),
    ] {
        assert!(
            hcl.lines().any(|l| l
                .split_once('=')
                .is_some_and(|(a, v)| a.trim() == attr && v.trim() == format!("{name:?}"))),
            "no {attr} = {name:?}:\n{out}\n--- generated\n{hcl}"
        );
    }
    assert!(hcl.contains("network_mapping \"fwd\""), "{hcl}");
    // Both VMs, including the reprotected vm00001 (running in westus, replicating back), written in the pair's
    // forward direction; what was inferred for it rather than read is reported.
    assert_eq!(hcl.matches("protected_vm \"").count(), 2, "{out}\n{hcl}");
    assert!(
        hcl.contains("virtualMachines/vm00001\""),
        "vm00001 is not written with its original VM:\n{hcl}"
    );
    assert!(!out.contains("not imported"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("warning:")
            && l.contains("replicationProtectedItems/vm00001")
            && l.contains("cache storage account")),
        "the inferred cache account of vm00001 is not reported:\n{out}"
    );
    assert!(hcl.contains("vault \"vault1\""), "{hcl}");
    let (code, out) = run(&["validate", "."]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["fmt", "--check", "."]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["plan", ".", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "plan after import is not a no-op:\n{out}");
}
