//! Shared setup of the plan and apply tests: an example configuration copied to a temporary directory, an
//! in-process simulator seeded from its estate on a paused clock, an ARM client on the simulator's timeline and an
//! in-memory state store.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use asrform::apply::{self, ApplyOptions, ApplyReport, WaitFor};
use asrform::clock::ScaledClock;
use asrform::config::{self, LoadOptions, Loaded};
use asrform::graph::{self, ResourceGraph};
use asrform::plan::{Plan, PlanOptions};
use asrform::provider::arm::ArmClient;
use asrform::sim::{SimConfig, Simulator};
use asrform::state::memory::MemoryStore;
use asrform::state::{StateStore, Stored};
use serde_json::Value;

use crate::common;

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub sim: Simulator,
    pub client: ArmClient,
    pub loaded: Loaded,
    pub graph: ResourceGraph,
    pub store: Arc<MemoryStore>,
}

impl Env {
    /// `examples/<name>` on a fresh simulator (call inside a paused tokio runtime).
    pub fn new(example: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(common::path(&format!("examples/{example}"))).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        let e = asrform::estate::load(&tmp.path().join("estate.json")).unwrap();
        let clock = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(&e, clock, SimConfig::default());
        let client = asrform::cli::session::sim_client(&sim);
        let (loaded, graph) = load(tmp.path());
        Env {
            tmp,
            sim,
            client,
            loaded,
            graph,
            store: Arc::new(MemoryStore::new()),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().to_path_buf()
    }

    /// Replaces text in `main.asr.hcl` (the edit must apply) and reloads.
    pub fn edit(&mut self, from: &str, to: &str) {
        let p = self.tmp.path().join("main.asr.hcl");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "`{from}` is not in the configuration");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        let (loaded, graph) = load(self.tmp.path());
        self.loaded = loaded;
        self.graph = graph;
    }

    pub async fn stored(&self) -> Option<Stored> {
        self.store.read().await.unwrap()
    }

    pub async fn plan_with(&self, opts: PlanOptions) -> Result<Plan, apply::PlanLiveError> {
        let stored = self.stored().await;
        apply::plan_live(
            &self.loaded.config,
            &self.graph,
            &self.client,
            stored.as_ref().map(|s| &s.state),
            &opts,
        )
        .await
        .map(|(p, _)| p)
    }

    pub async fn plan(&self) -> Plan {
        self.plan_with(PlanOptions::default()).await.unwrap()
    }

    /// A plan with `opts` at the simulator's current time (DR plans age recovery points against it).
    pub async fn plan_now(&self, mut opts: PlanOptions) -> Plan {
        opts.now = Some(self.sim.now());
        self.plan_with(opts).await.unwrap()
    }

    pub async fn apply(&self, plan: &Plan, wait: WaitFor) -> ApplyReport {
        apply::apply(
            plan,
            Arc::new(self.loaded.config.clone()),
            self.client.clone(),
            self.store.clone(),
            self.stored().await,
            Arc::new(apply::hooks::NoHooks),
            &ApplyOptions {
                wait,
                // The plans under test were reviewed: confirm recovery plans' manual steps like `--continue`.
                continue_manual: true,
                ..ApplyOptions::default()
            },
        )
        .await
        .unwrap()
    }
}

pub fn load(dir: &Path) -> (Loaded, ResourceGraph) {
    let loaded = config::load(dir, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"));
    let graph = graph::build(&loaded.config).unwrap();
    (loaded, graph)
}

/// The plan's JSON form, checked against `schemas/plan.schema.json`, with volatile values (times, ETags,
/// fingerprints, RPOs) redacted.
pub fn checked_json(plan: &Plan) -> Value {
    let text = std::fs::read_to_string(common::path("schemas/plan.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let doc = serde_json::to_value(plan).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "plan JSON does not match its schema: {errors:#?}"
    );
    redact(doc)
}

fn redact(mut v: Value) -> Value {
    let b = &mut v["binding"];
    if !b["lineage"].is_null() {
        b["lineage"] = "[lineage]".into();
    }
    b["live_fingerprint"] = "[fingerprint]".into();
    b["config_hash"] = "[config]".into();
    if let Some(f) = b["facts"].as_object_mut() {
        for x in f.values_mut() {
            *x = "[fact]".into();
        }
    }
    v["asrform_version"] = "[version]".into();
    let r = &mut v["readiness"];
    for k in ["worst_rpo_seconds", "oldest_test_failover", "healthy"] {
        if !r[k].is_null() {
            r[k] = "[volatile]".into();
        }
    }
    if let Some(vms) = r["vms"].as_array_mut() {
        for vm in vms {
            for k in [
                "rpo_seconds",
                "latest_recovery_point",
                "replication_health",
                "protection_state",
                "last_test_failover",
            ] {
                if !vm[k].is_null() {
                    vm[k] = "[volatile]".into();
                }
            }
        }
    }
    if let Some(cs) = v["resource_changes"].as_array_mut() {
        for c in cs {
            if let Some(ps) = c["preconditions"].as_array_mut() {
                for p in ps {
                    if p["check"] == "etag" {
                        p["expected"] = "[etag]".into();
                    }
                }
            }
            if let Some(rp) = c["dr"]["recovery_point"].as_object_mut() {
                rp.insert("time".into(), "[time]".into());
                rp.insert("age_seconds".into(), "[age]".into());
            }
        }
    }
    v
}

/// Text and Markdown with volatile numbers masked.
pub fn masked(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        for (k, end) in [
            ("worst RPO ", " "),
            ("healthy ", "/"),
            ("(age ", ")"),
            ("fingerprint ", "\n"),
            ("config ", " "),
        ] {
            if let Some(i) = l.find(k) {
                let start = i + k.len();
                let stop = l[start..].find(end).map_or(l.len(), |j| start + j);
                l.replace_range(start..stop, "[v]");
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}
