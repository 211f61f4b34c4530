//! `asrform status [DIR] [--json]`: per protected VM, replication health, RPO, latest recovery point, active site
//! and last successful drill, as a table or JSON; then each recovery plan's active site.
//!
//! It opens the same session as plan and apply (client and state store from the configuration), reads live state,
//! the state file and the drill reports in `DIR/.asrform/drills/`, and renders what `dr::status` computes. The
//! active site is shown as live state has it; where the state file records another one, both are shown (someone
//! failed over outside asrform, or an apply was interrupted). It must not change anything: it never creates a
//! simulated world, never takes the state lock and never saves the simulator.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::ConfigArgs;
use super::error::{CliError, CliErrorKind};
use super::session::Session;
use super::ui::Ui;
use crate::addr::{ResourceAddr, ResourceKind};
use crate::config::model::{Config, ResourceBody};
use crate::config::{self, Provider};
use crate::dr::{self, drill};
use crate::provider::model::ProtectedItem;
use crate::provider::{ArmId, SnapshotRequest};
use crate::sim::SimStore;
use crate::state::State;

/// Flags of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the configuration is and how its variables are set.
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Print the status as JSON (one object per VM).
    #[arg(long)]
    pub json: bool,
}

/// One VM row: the engine's status (active site as ASR reports it) plus the site relative to the configuration and
/// what the state file records.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    status: dr::status::VmStatus,
    /// `primary` or `recovery`: the region the workload runs in per live state, relative to the configured pair.
    live_site: Option<&'static str>,
    /// What the state file records for the VM.
    state_site: Option<String>,
    /// Live and state disagree.
    site_mismatch: bool,
    /// The recovery plan the VM belongs to, with its recorded and live site.
    recovery_plan: Option<PlanSite>,
}

/// A recovery plan's active site per state and per live state of its members.
#[derive(Debug, Clone, Serialize)]
struct PlanSite {
    address: String,
    /// From the state file.
    state_site: Option<String>,
    /// From its members in live state: `primary`, `recovery` or `mixed`.
    live_site: Option<&'static str>,
}

/// The region the workload runs in per live state, relative to the configured pair (a reprotected item's primary
/// is the old target, so ASR's `activeLocation` alone does not say it).
fn live_site(item: &ProtectedItem, source_region: &str) -> &'static str {
    if crate::plan::diff::runs_in_recovery(item, source_region) {
        "recovery"
    } else {
        "primary"
    }
}

fn source_region(config: &Config, address: &str) -> Option<String> {
    let addr: ResourceAddr = address.parse().ok()?;
    let ResourceBody::ProtectedVm(vm) = &config.get(&addr)?.body else {
        return None;
    };
    crate::plan::attrs::pair_regions(config, &vm.region_pair.value).map(|(s, _)| s)
}

/// The rows, and the recovery plans with their sites.
fn rows(
    config: &Config,
    snap: &crate::provider::Snapshot,
    state: Option<&State>,
    reports: &[drill::DrillReport],
) -> Vec<Row> {
    // Addresses come from state (by lifecycle id); the active site column keeps ASR's view.
    let with_state = dr::status::status(snap, state, reports);
    let live = dr::status::status(snap, None, reports);
    let mut plan_of: BTreeMap<String, String> = BTreeMap::new();
    for r in config.of_kind(ResourceKind::RecoveryPlan) {
        if let ResourceBody::RecoveryPlan(p) = &r.body {
            for g in &p.groups {
                for v in &g.vms {
                    plan_of.insert(v.value.to_string(), r.addr.to_string());
                }
            }
        }
    }
    let recorded = |address: &str| -> Option<String> {
        state
            .and_then(|s| s.resources.get(address))
            .and_then(|r| r.active_site)
            .map(|s| s.to_string())
    };
    let mut out: Vec<Row> = with_state
        .into_iter()
        .zip(live)
        .map(|(s, l)| {
            let item = ArmId::parse(&s.rpi)
                .ok()
                .and_then(|id| snap.protected_items.get(&id));
            let site = match (
                item,
                s.address.as_deref().and_then(|a| source_region(config, a)),
            ) {
                (Some(i), Some(src)) => Some(live_site(i, &src)),
                _ => None,
            };
            let state_site = s.address.as_deref().and_then(recorded);
            let mismatch = matches!((site, &state_site), (Some(a), Some(b)) if a != b);
            let recovery_plan =
                s.address
                    .as_deref()
                    .and_then(|a| plan_of.get(a))
                    .map(|p| PlanSite {
                        address: p.clone(),
                        state_site: recorded(p),
                        live_site: None,
                    });
            Row {
                status: dr::status::VmStatus {
                    active_site: l.active_site,
                    ..s
                },
                live_site: site,
                state_site,
                site_mismatch: mismatch,
                recovery_plan,
            }
        })
        .collect();
    // A plan's live site is its members' when they agree.
    let mut sites: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for r in &out {
        if let (Some(p), Some(s)) = (&r.recovery_plan, r.live_site) {
            sites.entry(p.address.clone()).or_default().push(s);
        }
    }
    for r in &mut out {
        if let Some(p) = r.recovery_plan.as_mut() {
            p.live_site = sites.get(&p.address).map(|v| {
                if v.iter().all(|s| *s == v[0]) {
                    v[0]
                } else {
                    "mixed"
                }
            });
        }
    }
    out
}

/// `recovery` or `recovery (state: primary)` when they disagree.
fn site_cell(live: Option<&str>, state: Option<&str>, fallback: Option<&str>) -> String {
    match (live, state) {
        (Some(l), Some(s)) if l != s => format!("{l} (state: {s})"),
        (Some(l), _) => l.to_string(),
        (None, Some(s)) => format!("? (state: {s})"),
        (None, None) => fallback.unwrap_or("-").to_string(),
    }
}

/// Runs `status`.
pub async fn cmd_status(ui: &mut Ui, args: &StatusArgs) -> Result<ExitCode, CliError> {
    // Status only looks: without a simulated world there is nothing to show (opening the session would create one).
    let opts = args.config.load_options(std::env::vars());
    let loaded = config::load(&args.config.dir, &opts).map_err(CliError::user)?;
    if let Provider::Simulator { endpoint: None, .. } = &loaded.config.provider.value
        && !SimStore::exists(&args.config.dir)
    {
        return Err(CliError {
            kind: CliErrorKind::User,
            report: miette::miette!(
                help = "run `asrform sim --dir DIR init --estate ESTATE` (or apply the configuration) first",
                "no simulated Azure under {}",
                SimStore::dir_for(&args.config.dir).display()
            ),
        });
    }
    let session = Session::open(&args.config)?;
    // The session is dropped without `close`: the simulator's world is read, never saved.
    let cfg = session.config();
    let vaults: Vec<ArmId> = cfg
        .of_kind(ResourceKind::Vault)
        .filter_map(|r| r.id.as_deref().and_then(|i| ArmId::parse(i).ok()))
        .collect();
    let snap = crate::provider::arm::snapshot::read(
        &session.client,
        &SnapshotRequest {
            vaults,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| CliError {
        kind: CliErrorKind::Provider,
        report: miette::Report::new(e),
    })?;
    let stored = session.store.read().await.map_err(CliError::user)?;
    let reports = drill::load_reports(&args.config.dir.join(".asrform").join("drills"));
    let rows = rows(cfg, &snap, stored.as_ref().map(|s| &s.state), &reports);
    let out = ui.out();
    if args.json {
        let text = serde_json::to_string_pretty(&rows).expect("status rows serialise");
        writeln!(out, "{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        writeln!(out, "No protected VMs found in the configured vaults.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let fmt_t = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "-".into())
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = &r.status;
            vec![
                s.vm.clone(),
                s.replication_health.clone().unwrap_or_else(|| "-".into()),
                s.rpo_seconds
                    .map(|s| dr::points::human(Duration::from_secs(s.max(0) as u64)))
                    .unwrap_or_else(|| "-".into()),
                fmt_t(s.latest_recovery_point),
                site_cell(
                    r.live_site,
                    r.state_site.as_deref(),
                    s.active_site.as_deref(),
                ),
                fmt_t(s.last_successful_drill),
            ]
        })
        .collect();
    let head = [
        "VM",
        "HEALTH",
        "RPO",
        "LATEST POINT",
        "ACTIVE SITE",
        "LAST DRILL",
    ];
    print_table(out, &head, &table)?;
    let mut plans: BTreeMap<String, PlanSite> = BTreeMap::new();
    for r in &rows {
        if let Some(p) = &r.recovery_plan {
            plans.insert(p.address.clone(), p.clone());
        }
    }
    if !plans.is_empty() {
        writeln!(out)?;
        let table: Vec<Vec<String>> = plans
            .values()
            .map(|p| {
                vec![
                    p.address.clone(),
                    site_cell(p.live_site, p.state_site.as_deref(), None),
                ]
            })
            .collect();
        print_table(out, &["RECOVERY PLAN", "ACTIVE SITE"], &table)?;
    }
    let mismatched: Vec<&str> = rows
        .iter()
        .filter(|r| r.site_mismatch)
        .map(|r| r.status.vm.as_str())
        .collect();
    if !mismatched.is_empty() {
        writeln!(
            out,
            "\nWarning: the state file records another active site for {} than live state shows (changed outside asrform, or an interrupted apply); run `asrform plan` to see what converging would do.",
            mismatched.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(
    out: &mut dyn std::io::Write,
    head: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(&head.iter().map(|h| h.to_string()).collect::<Vec<_>>())
    )?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}
