//! Apply at scale: a generated fleet of N VMs over S subscriptions (one vault, policy, region pair, cache account,
//! DR network and network mapping per subscription), the lower bound of `limits.md` §6 G3 computed from a run's
//! request log, and a test that an apply of such a fleet on the simulator's ASR-like durations and ARM throttling
//! stays within 1.10 × that bound. `benches/apply_makespan.rs` includes this file by path for the same fleet and
//! bound; it must stay free of timing prints (the bench prints).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use asrform::apply::{self, ApplyOptions, ApplyReport};
use asrform::clock::ScaledClock;
use asrform::config::{self, LoadOptions, Loaded};
use asrform::estate::{self, Estate, GenerateOptions};
use asrform::graph::ResourceGraph;
use asrform::plan::{Plan, PlanOptions};
use asrform::provider::arm::ArmClient;
use asrform::sim::world::Durations;
use asrform::sim::{LogEntry, SimConfig, Simulator};
use asrform::state::memory::MemoryStore;

/// `n` VMs over `subs` source subscriptions (`estate::generate`, East US → West US). VMs keep at most one data
/// disk (about two disks each), so 1,250 VMs fit a subscription's 3,000 protected disks.
pub fn estate(n: usize, subs: usize) -> Estate {
    let mut e = estate::generate(&GenerateOptions {
        vms: n,
        subscriptions: subs,
        region: "eastus".into(),
        seed: 3,
    });
    for s in &mut e.subscriptions {
        for rg in &mut s.resource_groups {
            for vm in &mut rg.vms {
                vm.data_disks.truncate(1);
            }
        }
    }
    e
}

/// The configuration of `e`'s VMs, one vault per subscription; the VM list is a CSV as a user would keep it.
/// No recovery plans and no per-VM target settings beyond the network: G3 bounds enabling protection.
pub fn sources(e: &Estate) -> Vec<(String, String)> {
    let mut csv = String::from("name,sub,id\n");
    for (s, rg, vm) in e.vms() {
        csv.push_str(&format!(
            "{},{},{}\n",
            vm.name,
            s.id,
            estate::ids::vm(&s.id, &rg.name, &vm.name)
        ));
    }
    let locals = r#"
  rows = csvdecode(file("inventory.csv"))
  vms  = { for row in local.rows : row.name => row }
  subs = toset([for row in local.rows : row.sub])
"#;
    let hcl = per_subscription_hcl(locals, "local.subs");
    vec![
        ("main.asr.hcl".into(), hcl),
        ("inventory.csv".into(), csv),
        (
            "estate.json".into(),
            serde_json::to_string(e).expect("estate serialises"),
        ),
    ]
}

/// A fleet with one vault per subscription: per subscription `local.subs` a DR resource group, vault, policy, region
/// pair (eastus → westus), DR network and cache account; network mappings for the subscriptions in `mapped` (an HCL
/// set expression); a `protected_vm` per entry of `local.vms` (`{ sub, id }` objects). `locals` is the body of the
/// `locals` block, which must define `subs` and `vms`.
pub fn per_subscription_hcl(locals: &str, mapped: &str) -> String {
    r#"
provider "simulator" {
  estate = "estate.json"
}

locals {LOCALS}

resource_group "dr" {
  for_each        = local.subs
  name            = "rg-dr"
  location        = "westus"
  subscription_id = each.key
}

vault "dr" {
  for_each       = local.subs
  name           = "rsv-dr"
  resource_group = resource_group.dr[each.key]
  location       = "westus"
}

replication_policy "p" {
  for_each = local.subs
  vault    = vault.dr[each.key]
}

region_pair "main" {
  for_each = local.subs
  vault    = vault.dr[each.key]
  source   = "eastus"
  target   = "westus"
  policy   = replication_policy.p[each.key]
}

virtual_network "dr" {
  for_each       = local.subs
  name           = "vnet-dr"
  resource_group = resource_group.dr[each.key]
  address_space  = ["10.50.0.0/16"]
  subnet "app" {
    address_prefix = "10.50.0.0/17"
  }
}

storage_account "cache" {
  for_each        = local.subs
  name            = "cacheeast${substr(each.key, 30, 6)}"
  resource_group  = "rg-app"
  location        = "eastus"
  subscription_id = each.key
}

network_mapping "m" {
  for_each       = MAPPED
  region_pair    = region_pair.main[each.key]
  source_network = "/subscriptions/${each.key}/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet-app"
  target_network = virtual_network.dr[each.key]
}

protected_vm "vm" {
  for_each              = local.vms
  source_vm             = each.value.id
  region_pair           = region_pair.main[each.value.sub]
  cache_storage         = storage_account.cache[each.value.sub]
  target_resource_group = resource_group.dr[each.value.sub]
  target_network        = virtual_network.dr[each.value.sub]
  target_subnet         = "app"
}
"#
    .replace("{LOCALS}", &format!("{{{locals}}}"))
    .replace("MAPPED", mapped)
}

/// One simulated cloud with the fleet loaded: ARM throttling on, `latency_ms` per request, default ASR durations.
pub struct Scale {
    pub sim: Simulator,
    pub client: ArmClient,
    pub loaded: Loaded,
    pub graph: ResourceGraph,
    pub store: Arc<MemoryStore>,
}

impl Scale {
    /// A fresh cloud seeded from `e` (call inside a paused tokio runtime), for the configuration `loaded`.
    pub fn new(e: &Estate, loaded: Loaded, latency_ms: u64) -> Self {
        let graph = asrform::graph::build(&loaded.config).expect("graph");
        let clock = Arc::new(ScaledClock::new(
            time::macros::datetime!(2026-03-01 00:00 UTC),
            1.0,
        ));
        let sim = Simulator::from_estate(
            e,
            clock,
            SimConfig {
                latency_ms,
                throttling: true,
                log_limit: 2_000_000,
                ..SimConfig::default()
            },
        );
        let client = asrform::cli::session::sim_client(&sim);
        Scale {
            sim,
            client,
            loaded,
            graph,
            store: Arc::new(MemoryStore::new()),
        }
    }

    pub async fn plan(&self) -> Plan {
        let stored = asrform::state::StateStore::read(self.store.as_ref())
            .await
            .unwrap();
        apply::plan_live(
            &self.loaded.config,
            &self.graph,
            &self.client,
            stored.as_ref().map(|s| &s.state),
            &PlanOptions::default(),
        )
        .await
        .expect("plan")
        .0
    }

    /// Applies `plan` the way `asrform apply` does (`per_operation`: the Terraform-style baseline instead).
    pub async fn apply(&self, plan: &Plan, per_operation: bool) -> ApplyReport {
        self.apply_with(plan, per_operation, Arc::new(apply::hooks::NoHooks))
            .await
    }

    /// [`Scale::apply`] reporting to `hooks`.
    pub async fn apply_with(
        &self,
        plan: &Plan,
        per_operation: bool,
        hooks: Arc<dyn apply::hooks::Hooks>,
    ) -> ApplyReport {
        let stored = asrform::state::StateStore::read(self.store.as_ref())
            .await
            .unwrap();
        let args = (
            plan,
            Arc::new(self.loaded.config.clone()),
            self.client.clone(),
            self.store.clone() as Arc<dyn asrform::state::StateStore>,
            stored,
            hooks,
        );
        let opts = ApplyOptions::default();
        if per_operation {
            apply::apply_per_operation(args.0, args.1, args.2, args.3, args.4, args.5, &opts).await
        } else {
            apply::apply(args.0, args.1, args.2, args.3, args.4, args.5, &opts).await
        }
        .expect("apply")
    }
}

/// When each change of an apply was seen finished, on the simulator's clock (the hooks of [`Scale::apply_with`]).
pub struct Finishes {
    sim: Simulator,
    at: std::sync::Mutex<Vec<(String, time::OffsetDateTime)>>,
}

impl Finishes {
    pub fn new(sim: &Simulator) -> Arc<Self> {
        Arc::new(Self {
            sim: sim.clone(),
            at: Default::default(),
        })
    }

    /// G3's completion-detection lag of the enables, from above: for each protected VM applied, the time from its
    /// enable-protection job's end (the simulator's job timeline) to the change finishing (the tracker seeing the
    /// job, then the change's read of its item), in seconds, sorted.
    pub fn enable_lags(&self) -> Vec<f64> {
        let w = self.sim.world();
        let ends: BTreeMap<&str, time::OffsetDateTime> = w
            .jobs
            .values()
            .filter(|j| j.scenario == "EnableDr")
            .filter_map(|j| Some((j.target_name.as_str(), j.end()?)))
            .collect();
        let mut lags: Vec<f64> = self
            .at
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(address, seen)| {
                let addr: asrform::addr::ResourceAddr = address.parse().ok()?;
                if addr.kind != asrform::addr::ResourceKind::ProtectedVm {
                    return None;
                }
                let end = ends.get(addr.key.as_deref()?)?;
                Some((*seen - *end).as_seconds_f64())
            })
            .collect();
        lags.sort_by(f64::total_cmp);
        lags
    }
}

impl apply::hooks::Hooks for Finishes {
    fn on_event(&self, event: &apply::hooks::Event) {
        if let apply::hooks::Event::OperationFinished {
            address,
            outcome: apply::hooks::OperationOutcome::Applied,
            ..
        } = event
        {
            self.at
                .lock()
                .unwrap()
                .push((address.clone(), self.sim.now()));
        }
    }
}

/// Loads the fleet's configuration.
pub fn load(e: &Estate) -> Loaded {
    config::load_sources(sources(e), &LoadOptions::default()).unwrap_or_else(|d| panic!("{d:?}"))
}

/// The subscription a logged request addressed (lower-case), if any.
pub fn subscription_of(path: &str) -> Option<String> {
    let mut it = path.trim_start_matches('/').split('/');
    (it.next()?.eq_ignore_ascii_case("subscriptions"))
        .then(|| it.next().map(str::to_ascii_lowercase))?
}

/// Whether a logged request only asks how long-running work is doing (operation status, job lists, job reads).
pub fn is_polling(e: &LogEntry) -> bool {
    e.method == "GET"
        && (e.operation.starts_with("ReplicationJobs_")
            || e.operation.ends_with("OperationStatus_Get")
            || e.operation.ends_with("OperationResults_Get")
            || e.operation.ends_with("Operations_Get"))
}

/// The lower bound of `limits.md` §6 G3 for one run, from what the run sent.
#[derive(Debug, Clone)]
pub struct Bound {
    /// Writes (PUT, PATCH, POST) per subscription.
    pub writes: BTreeMap<String, usize>,
    /// max over subscriptions of max(0, (W_s − 200) / 10) seconds.
    pub write_floor: f64,
    /// The infrastructure (vault, policy, fabric, container, mapping, network mapping, cache account) one after
    /// another, with the simulator's durations (vaults and storage accounts complete at once there). Printed for
    /// comparison only: these objects do not all depend on each other, and an apply that overlaps them finishes
    /// 100 VMs in less than `d_infra + d_enable`, so that sum is no lower bound.
    pub d_infra: f64,
    /// G3's critical path through the infrastructure: the longest chain ASR's own order forces, fabric →
    /// container → container mapping (the policy runs beside the fabrics and containers, the network mapping
    /// beside the containers and mappings; vault and cache account complete at once).
    pub d_chain: f64,
    /// The longest enable-protection job.
    pub d_enable: f64,
    /// G3's LB: max(write floor, d_chain + d_enable).
    pub lb: f64,
    /// Enable-protection requests per subscription.
    pub enables: BTreeMap<String, usize>,
    /// The bound once the order is counted: the enable requests can only start when the chain is done, so the
    /// last one starts no earlier than d_chain + max(0, (E_s − 200) / 10) and ends d_enable later.
    pub ordered: f64,
}

impl Bound {
    pub fn from_run(log: &[&LogEntry], d: &Durations) -> Self {
        let mut writes: BTreeMap<String, usize> = BTreeMap::new();
        let mut enables: BTreeMap<String, usize> = BTreeMap::new();
        for e in log {
            if e.operation == "ReplicationProtectedItems_Create"
                && let Some(s) = subscription_of(&e.path)
            {
                *enables.entry(s).or_default() += 1;
            }
            if matches!(e.method.as_str(), "PUT" | "PATCH" | "POST")
                && let Some(s) = subscription_of(&e.path)
            {
                *writes.entry(s).or_default() += 1;
            }
        }
        let write_floor = writes
            .values()
            .map(|&w| (w as f64 - 200.0).max(0.0) / 10.0)
            .fold(0.0, f64::max);
        // vault 0 + policy + fabric + container + mapping + network mapping + cache account 0.
        let d_infra = 5.0 * d.config_secs as f64;
        let d_chain = 3.0 * d.config_secs as f64;
        let d_enable = d.enable_secs as f64;
        let pacing = enables
            .values()
            .map(|&w| (w as f64 - 200.0).max(0.0) / 10.0)
            .fold(0.0, f64::max);
        Bound {
            writes,
            write_floor,
            d_infra,
            d_chain,
            d_enable,
            lb: write_floor.max(d_chain + d_enable),
            enables,
            ordered: d_chain + pacing + d_enable,
        }
    }
}

/// Polling reads per second per subscription over `makespan` (the busiest subscription).
pub fn polling_rate(log: &[&LogEntry], makespan: Duration) -> f64 {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for e in log.iter().filter(|e| is_polling(e)) {
        *per.entry(subscription_of(&e.path).unwrap_or_default())
            .or_default() += 1;
    }
    per.values().copied().max().unwrap_or(0) as f64 / makespan.as_secs_f64().max(1e-9)
}

#[tokio::test(start_paused = true)]
async fn a_fleet_over_two_subscriptions_applies_within_the_g3_bound() {
    let e = estate(60, 2);
    let cloud = Scale::new(&e, load(&e), 100);
    let plan = cloud.plan().await;
    let seq0 = cloud.sim.world().log_seq;
    let t0 = tokio::time::Instant::now();
    let seen = Finishes::new(&cloud.sim);
    let report = cloud.apply_with(&plan, false, seen.clone()).await;
    let makespan = t0.elapsed();
    assert!(report.success(), "{report:#?}");
    assert_eq!(report.counts.get("create").copied(), Some(plan.summary.add));
    // G3: every enable is seen finished at most 15 s after its job ends (no 429s here, so no Retry-After).
    let lags = seen.enable_lags();
    assert_eq!(lags.len(), 60);
    assert!(
        lags.iter().all(|l| (0.0..=15.0).contains(l)),
        "completion-detection lags {lags:?}"
    );
    let log = cloud.sim.request_log();
    let run: Vec<&LogEntry> = log.iter().filter(|e| e.seq > seq0).collect();
    let bound = Bound::from_run(&run, &cloud.sim.world().config.durations);
    let ratio = makespan.as_secs_f64() / bound.lb;
    assert!(
        ratio <= 1.10,
        "makespan {makespan:?}, {bound:?}, ratio {ratio:.2}"
    );
    assert!(
        polling_rate(&run, makespan) <= 2.5,
        "polling {:.2} reads/s",
        polling_rate(&run, makespan)
    );
    assert_eq!(run.iter().filter(|e| e.status == 429).count(), 0);
    assert!(!cloud.plan().await.has_changes(), "a re-plan is a no-op");
}
