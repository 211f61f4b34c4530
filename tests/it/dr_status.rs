//! `asrform status` end to end: a protected quickstart estate on the simulator, one drill whose report lands in
//! `DIR/.asrform/drills/`, the simulator saved under `DIR/.asrform/sim`, then the binary's table and JSON.

use std::process::Command;
use std::time::Duration;

use asrform::dr::NoHooks;
use asrform::dr::PointPolicy;
use asrform::dr::drill::{self, DrillOptions};
use asrform::sim::SimStore;
use assert_cmd::prelude::*;
use serde_json::Value;

use crate::common;
use crate::dr_env::{DrEnv, Options};

fn asrform() -> Command {
    let mut cmd = Command::cargo_bin("asrform").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

#[tokio::test(start_paused = true)]
async fn dr_status_cli_shows_health_rpo_active_site_and_last_drill() {
    let env = DrEnv::quickstart(Options::default()).await;
    env.sleep(3600).await;
    let dir = tempfile::tempdir().unwrap();
    for f in ["main.asr.hcl", "estate.json"] {
        std::fs::copy(
            common::path(&format!("examples/quickstart/{f}")),
            dir.path().join(f),
        )
        .unwrap();
    }
    let opts = DrillOptions {
        network: env.vnet("vnet-app-drill"),
        recovery_point: PointPolicy::LatestProcessed,
        expect: Default::default(),
        config_hash: "sha256:status-test".into(),
        report_dir: Some(dir.path().join(".asrform").join("drills")),
    };
    let report = drill::drill(&env.client, &env.plan_target(), &opts, &NoHooks)
        .await
        .unwrap();
    assert!(report.succeeded, "{:#?}", report.errors);
    {
        let store = SimStore::open(dir.path(), Duration::from_secs(5)).unwrap();
        store
            .save_simulator(&env.sim, time::OffsetDateTime::now_utc(), 1.0)
            .unwrap();
    }

    let out = asrform()
        .args(["status", dir.path().to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["vm"].as_str().unwrap()).collect();
    assert_eq!(names, ["app01", "db01", "web01", "web02"]);
    for r in rows {
        assert_eq!(r["replication_health"], "Normal", "{r}");
        assert_eq!(r["active_site"], "Primary", "{r}");
        assert!(r["rpo_seconds"].as_i64().unwrap() <= 15 * 60, "{r}");
        let last = time::OffsetDateTime::parse(
            r["last_successful_drill"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(last >= report.started, "{r}");
        assert!(r["latest_recovery_point"].is_string(), "{r}");
    }

    let out = asrform()
        .args(["status", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("VM "), "{text}");
    assert!(
        text.contains("LAST DRILL") && text.contains("web02") && text.contains("Normal"),
        "{text}"
    );

    // Without a simulator world: a clear error, exit 1.
    let empty = tempfile::tempdir().unwrap();
    for f in ["main.asr.hcl", "estate.json"] {
        std::fs::copy(
            common::path(&format!("examples/quickstart/{f}")),
            empty.path().join(f),
        )
        .unwrap();
    }
    let out = asrform()
        .args(["status", empty.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no simulated Azure"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
