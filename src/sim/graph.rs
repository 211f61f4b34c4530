//! Azure Resource Graph in the simulator: `POST /providers/Microsoft.ResourceGraph/resources` answered from the
//! live world (the same rendering the ARM GETs and lists use), with ARG's per-user quota, its own latency and an
//! optional index lag.
//!
//! It owns the query endpoint, the KQL subset the client sends, the quota windows and the lag bookkeeping. It does
//! not implement KQL: a query is a table (`resources`, `recoveryservicesresources`, `resourcecontainers`) followed
//! only by `where type in~ (…)` / `where type =~ '…'`, `project <columns>` and `order by id [asc|desc]`; anything
//! else is refused with ARG's 400 error shape naming the operator, so a client change that needs more is caught in
//! tests instead of silently answered wrong. It must not change the world's resources: the only state it keeps is
//! its quota windows and the pre-change rows of the lag model.
//!
//! Lag model (limits.md §2.6, §6(c)): with `lag_secs > 0`, a successful PUT/PATCH/DELETE (or POST action) on an
//! object records the object's row as it was before the request; queries show that old row (or no row, for an
//! object that did not exist) until `lag_secs` after the object's last change, then the live row. Changes the
//! simulated cloud makes on its own over time (a job finishing) are not lagged. Quota (§1.6): `quota` queries per
//! `window_secs` per user (the bearer token), every request counted (pages too), with `x-ms-user-quota-remaining`
//! and `x-ms-user-quota-resets-after` on every answer and a 429 (with `Retry-After`) once the window is used up.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::api::{self, render_res, render_rpi, vm_view};
use super::faults::FaultEffect;
use super::world::{Res, Rpi, World, key};
use super::{SimRequest, SimResponse};

/// The query path (lower case).
pub const PATH: &str = "/providers/microsoft.resourcegraph/resources";
/// The operation name in the request log.
pub const OPERATION: &str = "ResourceGraph_Resources";
/// api-versions accepted.
pub const API_VERSIONS: [&str; 2] = ["2022-10-01", "2021-03-01"];
/// Most rows per page (`$top` maximum, and the default).
pub const MAX_TOP: usize = 1000;

/// ARG tunables of the simulator (`SimConfig::graph`; `PATCH /_sim/config {"graph": {"lagSecs": 30}}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphConfig {
    /// Queries per window per user (ARG's documented example: 15).
    pub quota: u32,
    /// Quota window, seconds (5).
    pub window_secs: u64,
    /// Latency per query page, ms. `None`: five times the ARM latency of the profile (100 ms ARM → 500 ms per
    /// page, limits.md §6(b)).
    pub latency_ms: Option<u64>,
    /// Index lag on the virtual clock, seconds (0: ARG is current).
    pub lag_secs: u64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            quota: 15,
            window_secs: 5,
            latency_ms: None,
            lag_secs: 0,
        }
    }
}

/// The pre-change row of an object whose change the index has not caught up with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// When the live row becomes visible.
    pub visible_at: OffsetDateTime,
    /// The row shown until then (`None`: the object did not exist).
    pub old: Option<Value>,
}

/// ARG state of the world: quota windows and pending (lagged) rows. (The tunables are `SimConfig::graph`.)
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphState {
    /// Per user: window start and queries counted in it.
    pub windows: BTreeMap<String, (OffsetDateTime, u32)>,
    /// Lagged objects by lower-cased id.
    pub pending: BTreeMap<String, Pending>,
}

/// Whether the request is an ARG query.
pub fn is_query(req: &SimRequest) -> bool {
    req.method.eq_ignore_ascii_case("POST")
        && req
            .url
            .path()
            .trim_end_matches('/')
            .eq_ignore_ascii_case(PATH)
}

/// Latency of one ARG page on this world's profile.
pub fn latency_ms(w: &World) -> u64 {
    w.config
        .graph
        .latency_ms
        .unwrap_or(w.config.latency_ms.saturating_mul(5))
}

/// The tables the simulator can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Resources,
    RecoveryServices,
    Containers,
}

impl Table {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "resources" => Some(Self::Resources),
            "recoveryservicesresources" => Some(Self::RecoveryServices),
            "resourcecontainers" => Some(Self::Containers),
            _ => None,
        }
    }

    /// Whether a row of this (ARG, lower-case) type is in the table.
    fn holds(self, kind: &str) -> bool {
        let rs = kind.starts_with("microsoft.recoveryservices/vaults/");
        let container = kind.starts_with("microsoft.resources/");
        match self {
            Self::Resources => !rs && !container,
            Self::RecoveryServices => rs,
            Self::Containers => kind == "microsoft.resources/subscriptions/resourcegroups",
        }
    }
}

/// Columns `project` may name.
const COLUMNS: [&str; 14] = [
    "id",
    "name",
    "type",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "properties",
    "tags",
    "sku",
    "zones",
    "identity",
    "managedBy",
    "plan",
];

/// A parsed query of the supported subset.
#[derive(Debug)]
struct Query {
    table: Table,
    /// Allowed types (lower case); every `where` narrows further.
    types: Option<BTreeSet<String>>,
    project: Option<Vec<String>>,
    descending: bool,
}

const SUPPORTED: &str = "the simulator's Resource Graph supports only `resources`, `recoveryservicesresources` or `resourcecontainers` followed by `| where type in~ ('…', …)`, `| where type =~ '…'`, `| project <columns>` and `| order by id [asc|desc]`";

/// Splits on `|` outside quotes.
fn stages(q: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in q.chars() {
        match (quote, c) {
            (Some(qc), _) if c == qc => {
                quote = None;
                cur.push(c);
            }
            (Some(_), _) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '|') => out.push(std::mem::take(&mut cur).trim().to_string()),
            (None, _) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated string literal".into());
    }
    out.push(cur.trim().to_string());
    Ok(out)
}

/// The quoted string literals of `('a', "b")` or `'a'`.
fn literals(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    let inner = match (s.strip_prefix('('), s.strip_suffix(')')) {
        (Some(_), Some(_)) => &s[1..s.len() - 1],
        _ => s,
    };
    let mut out = Vec::new();
    for part in inner.split(',') {
        let p = part.trim();
        let unq = p
            .strip_prefix('\'')
            .and_then(|x| x.strip_suffix('\''))
            .or_else(|| p.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            .ok_or_else(|| format!("expected a quoted type name, found `{p}`"))?;
        out.push(unq.to_ascii_lowercase());
    }
    Ok(out)
}

fn parse(q: &str) -> Result<Query, String> {
    let st = stages(q)?;
    let table = Table::parse(&st[0]).ok_or_else(|| {
        format!(
            "unsupported table `{}`: {SUPPORTED}",
            st[0].chars().take(80).collect::<String>()
        )
    })?;
    let mut query = Query {
        table,
        types: None,
        project: None,
        descending: false,
    };
    for (n, s) in st.iter().enumerate().skip(1) {
        let words: Vec<&str> = s.split_whitespace().collect();
        let unsupported = || {
            format!(
                "unsupported operator `{}` (stage {} of the query): {SUPPORTED}",
                s.chars().take(80).collect::<String>(),
                n + 1
            )
        };
        match words.as_slice() {
            ["where", "type", op, ..] if *op == "in~" || *op == "=~" => {
                let rest = s.split_once(op).map(|(_, r)| r).ok_or_else(unsupported)?;
                let list = literals(rest).map_err(|e| format!("{e} in `{s}`"))?;
                if *op == "=~" && list.len() != 1 {
                    return Err(format!("`=~` takes one value in `{s}`"));
                }
                let set: BTreeSet<String> = list.into_iter().collect();
                query.types = Some(match query.types.take() {
                    Some(prev) => prev.intersection(&set).cloned().collect(),
                    None => set,
                });
            }
            ["project", ..] => {
                let cols: Vec<String> = s["project".len()..]
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .collect();
                if let Some(bad) = cols.iter().find(|c| !COLUMNS.contains(&c.as_str())) {
                    return Err(format!(
                        "unsupported column `{bad}` in `project` (the simulator knows {})",
                        COLUMNS.join(", ")
                    ));
                }
                query.project = Some(cols);
            }
            ["order", "by", "id"] | ["order", "by", "id", "asc"] => query.descending = false,
            ["order", "by", "id", "desc"] => query.descending = true,
            _ => return Err(unsupported()),
        }
    }
    Ok(query)
}

/// ARG's type of a stored resource (lower case; resource groups are `…/subscriptions/resourcegroups` in ARG).
fn graph_type(stored: &str) -> String {
    let t = stored.to_ascii_lowercase();
    if t == "microsoft.resources/resourcegroups" {
        "microsoft.resources/subscriptions/resourcegroups".into()
    } else {
        t
    }
}

/// An ARM body as an ARG row: lower-case type, `resourceGroup` (lower case, as ARG answers it) and
/// `subscriptionId` added, no `etag` (ARG rows have none).
fn to_row(mut b: Value) -> Value {
    let id = b["id"].as_str().unwrap_or("").to_string();
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let sub = segs.get(1).copied().unwrap_or("");
    let rg = if segs
        .get(2)
        .is_some_and(|s| s.eq_ignore_ascii_case("resourcegroups"))
    {
        segs.get(3).copied().unwrap_or("").to_ascii_lowercase()
    } else {
        String::new()
    };
    let kind = graph_type(b["type"].as_str().unwrap_or(""));
    if let Some(o) = b.as_object_mut() {
        o.insert("type".into(), json!(kind));
        o.insert("resourceGroup".into(), json!(rg));
        o.insert("subscriptionId".into(), json!(sub));
        o.remove("etag");
    }
    b
}

fn render_resource(w: &World, r: &Res, now: OffsetDateTime) -> Value {
    let kind = r.kind();
    let body = if kind == "microsoft.compute/virtualmachines" {
        vm_view(w, r.body.clone(), now)
    } else if kind.starts_with("microsoft.recoveryservices/vaults/") {
        render_res(w, r, now)
    } else {
        r.body.clone()
    };
    to_row(body)
}

/// The current row of an object, if it exists.
pub fn row_of(w: &World, id: &str, now: OffsetDateTime) -> Option<Value> {
    let k = key(id);
    if let Some(r) = w.rpis.get(&k) {
        return Some(to_row(render_rpi(w, r, now, &w.cache_loads())));
    }
    w.resources.get(&k).map(|r| render_resource(w, r, now))
}

/// Where a candidate row comes from.
enum Src<'a> {
    Res(&'a Res),
    Rpi(&'a Rpi),
    Old(&'a Value),
}

fn sub_of(k: &str) -> &str {
    k.trim_start_matches('/').split('/').nth(1).unwrap_or("")
}

/// The rows the index shows for `q` over `subs` (`None`: every subscription), in id order (keys only: rendering
/// waits until the page is cut).
fn candidates<'a>(
    w: &'a World,
    q: &Query,
    subs: Option<&BTreeSet<String>>,
    now: OffsetDateTime,
) -> Vec<(&'a str, Src<'a>)> {
    let wanted = |k: &str, kind: &str| {
        q.table.holds(kind)
            && q.types.as_ref().is_none_or(|t| t.contains(kind))
            && subs.is_none_or(|s| s.contains(sub_of(k)))
    };
    let lagged = |k: &str| w.graph.pending.get(k).filter(|p| p.visible_at > now);
    let mut out: Vec<(&str, Src)> = Vec::new();
    for (k, r) in &w.resources {
        if lagged(k).is_none() && wanted(k, &graph_type(r.body["type"].as_str().unwrap_or(""))) {
            out.push((k.as_str(), Src::Res(r)));
        }
    }
    if q.table == Table::RecoveryServices {
        let kind = "microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers/replicationprotecteditems";
        for (k, r) in &w.rpis {
            if lagged(k).is_none() && wanted(k, kind) {
                out.push((k.as_str(), Src::Rpi(r)));
            }
        }
    }
    for (k, p) in &w.graph.pending {
        if p.visible_at > now
            && let Some(old) = &p.old
            && wanted(k, old["type"].as_str().unwrap_or(""))
        {
            out.push((k.as_str(), Src::Old(old)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    if q.descending {
        out.reverse();
    }
    out
}

/// ARG's error envelope: a `BadRequest` whose details say the query is invalid and why.
fn invalid(message: &str) -> SimResponse {
    json_response(
        400,
        json!({"error": {"code": "BadRequest", "message": format!("Query is invalid: {message}"),
        "details": [
            {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."},
            {"code": "UnsupportedQuery", "message": message}
        ]}}),
    )
}

fn json_response(status: u16, body: Value) -> SimResponse {
    let mut r = SimResponse {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        ..Default::default()
    };
    r.headers.push((
        "Content-Type".into(),
        "application/json; charset=utf-8".into(),
    ));
    r
}

/// `hh:mm:ss`, rounded up so a client that waits that long finds the window reset.
fn hms(secs: f64) -> String {
    let s = secs.max(0.0).ceil() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Counts the request against its user's window: `Ok(headers)` or `Err(429)`.
fn take_quota(
    w: &mut World,
    user: &str,
    now: OffsetDateTime,
) -> Result<Vec<(String, String)>, SimResponse> {
    let cfg = w.config.graph.clone();
    let window = time::Duration::seconds(cfg.window_secs as i64);
    let e = w.graph.windows.entry(user.to_string()).or_insert((now, 0));
    if now >= e.0 + window {
        *e = (now, 0);
    }
    let resets = (e.0 + window - now).as_seconds_f64();
    let over = e.1 >= cfg.quota;
    if !over {
        e.1 += 1;
    }
    let headers = vec![
        (
            "x-ms-user-quota-remaining".to_string(),
            cfg.quota.saturating_sub(e.1).to_string(),
        ),
        ("x-ms-user-quota-resets-after".to_string(), hms(resets)),
    ];
    if over {
        let mut r = json_response(
            429,
            json!({"error": {"code": "RateLimiting", "message": format!(
                "Please provide below info when asking for support: the user's quota of {} queries per {} s is used up; it resets after {}.",
                cfg.quota, cfg.window_secs, hms(resets))}}),
        );
        r.headers.extend(headers);
        r.headers.push((
            "Retry-After".into(),
            (resets.ceil() as u64).max(1).to_string(),
        ));
        return Err(r);
    }
    Ok(headers)
}

/// Answers one ARG query (the latency was already waited by the caller).
pub fn handle(w: &mut World, req: &SimRequest, now: OffsetDateTime) -> SimResponse {
    w.settle(now);
    let path = req.url.path().trim_end_matches('/').to_string();
    let user = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "anonymous".into());
    let headers = match take_quota(w, &user, now) {
        Ok(h) => h,
        Err(r) => return api::finish(w, req, &path, OPERATION, r, now, &[]),
    };
    let r = answer(w, req, now);
    api::finish(w, req, &path, OPERATION, r, now, &headers)
}

fn answer(w: &mut World, req: &SimRequest, now: OffsetDateTime) -> SimResponse {
    let api = req
        .url
        .query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.to_string());
    match api {
        Some(v) if API_VERSIONS.contains(&v.as_str()) => {}
        other => {
            return api::arm_error(
                400,
                if other.is_some() {
                    "InvalidApiVersionParameter"
                } else {
                    "MissingApiVersionParameter"
                },
                &format!(
                    "The api-version '{}' is invalid. The supported versions are '{}'.",
                    other.unwrap_or_default(),
                    API_VERSIONS.join(",")
                ),
            );
        }
    }
    if let Some(effect) = w.faults.check_any("POST", PATH, &[OPERATION]) {
        match effect {
            FaultEffect::Throttle { retry_after, .. } => {
                let mut r = json_response(
                    429,
                    json!({"error": {"code": "RateLimiting", "message": "Injected throttling."}}),
                );
                r.headers
                    .push(("Retry-After".into(), retry_after.to_string()));
                return r;
            }
            FaultEffect::Status { status, code } => {
                return api::arm_error(
                    status,
                    code.as_deref().unwrap_or("InternalServerError"),
                    "Injected fault.",
                );
            }
            FaultEffect::Drop => {
                return SimResponse {
                    status: 0,
                    drop_connection: true,
                    ..Default::default()
                };
            }
            FaultEffect::FailJob { .. } => {}
        }
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return invalid(&format!("the request body is not JSON: {e}")),
    };
    let Some(text) = body.get("query").and_then(Value::as_str) else {
        return invalid("the request body has no `query` string");
    };
    let subs: Option<BTreeSet<String>> = match body.get("subscriptions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut set = BTreeSet::new();
            for s in a {
                match s.as_str() {
                    Some(s) => set.insert(s.to_ascii_lowercase()),
                    None => return invalid("`subscriptions` must be an array of subscription ids"),
                };
            }
            Some(set)
        }
        Some(_) => return invalid("`subscriptions` must be an array of subscription ids"),
    };
    let opts = body.get("options").cloned().unwrap_or(Value::Null);
    if let Some(f) = opts.get("resultFormat").and_then(Value::as_str)
        && !f.eq_ignore_ascii_case("objectArray")
    {
        return invalid(&format!(
            "options.resultFormat '{f}' is not supported by the simulator (use objectArray)"
        ));
    }
    let top = match opts.get("$top") {
        None | Some(Value::Null) => MAX_TOP,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_TOP as u64).contains(&n) => n as usize,
            _ => return invalid(&format!("options.$top must be 1 to {MAX_TOP}, got {v}")),
        },
    };
    let start = match opts.get("$skipToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => match t.strip_prefix("sim-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => {
                return invalid(&format!(
                    "options.$skipToken '{t}' is not a token this service issued"
                ));
            }
        },
    };
    let q = match parse(text) {
        Ok(q) => q,
        Err(m) => return invalid(&m),
    };
    w.graph.pending.retain(|_, p| p.visible_at > now);
    let rows = candidates(w, &q, subs.as_ref(), now);
    let total = rows.len();
    let loads = if rows
        .iter()
        .skip(start)
        .take(top)
        .any(|(_, s)| matches!(s, Src::Rpi(_)))
    {
        w.cache_loads()
    } else {
        Default::default()
    };
    let data: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(top)
        .map(|(_, s)| {
            let row = match s {
                Src::Res(r) => render_resource(w, r, now),
                Src::Rpi(r) => to_row(render_rpi(w, r, now, &loads)),
                Src::Old(v) => (*v).clone(),
            };
            match &q.project {
                Some(cols) => Value::Object(
                    cols.iter()
                        .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
                        .collect(),
                ),
                None => row,
            }
        })
        .collect();
    let mut out = json!({"totalRecords": total, "count": data.len(), "data": data, "facets": [],
        "resultTruncated": "false"});
    if start + top < total {
        out["$skipToken"] = json!(format!("sim-{}", start + top));
    }
    json_response(200, out)
}

/// What a mutating request is about to change, captured before it runs (only when the index lags).
pub struct Capture {
    key: String,
    old: Option<Value>,
}

/// The object a mutating request changes: the addressed id, or for a POST action its parent.
pub fn before(w: &World, req: &SimRequest, now: OffsetDateTime) -> Option<Capture> {
    if w.config.graph.lag_secs == 0 || is_query(req) {
        return None;
    }
    let m = req.method.to_ascii_uppercase();
    let path = req.url.path().trim_end_matches('/');
    let id = match m.as_str() {
        "PUT" | "PATCH" | "DELETE" => path.to_string(),
        "POST" => path.rsplit_once('/')?.0.to_string(),
        _ => return None,
    };
    let k = key(&id);
    let exists = w.rpis.contains_key(&k) || w.resources.contains_key(&k);
    if !exists && m != "PUT" {
        return None;
    }
    Some(Capture {
        old: row_of(w, &id, now),
        key: k,
    })
}

/// Records a captured change once the request succeeded: the index keeps the old row until `lag_secs` after it.
pub fn after(w: &mut World, c: Option<Capture>, status: u16, now: OffsetDateTime) {
    let Some(c) = c else { return };
    if !(200..300).contains(&status) {
        return;
    }
    let visible_at = now + time::Duration::seconds(w.config.graph.lag_secs as i64);
    match w.graph.pending.get_mut(&c.key) {
        // Still lagging: the index still holds the older row; the live one shows after the latest change.
        Some(p) if p.visible_at > now => p.visible_at = visible_at,
        _ => {
            w.graph.pending.insert(
                c.key,
                Pending {
                    visible_at,
                    old: c.old,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_subset_parses_and_the_rest_is_refused_by_name() {
        let q = parse("recoveryservicesresources | where type in~ ('A/B', \"c/d\") | where type =~ 'a/b' | project id, name, properties | order by id desc").unwrap();
        assert_eq!(q.table, Table::RecoveryServices);
        assert_eq!(q.types.unwrap().into_iter().collect::<Vec<_>>(), ["a/b"]);
        assert_eq!(q.project.unwrap(), ["id", "name", "properties"]);
        assert!(q.descending);
        let e = parse("resources | extend x = 1").unwrap_err();
        assert!(
            e.contains("unsupported operator `extend x = 1` (stage 2"),
            "{e}"
        );
        let e = parse("securityresources").unwrap_err();
        assert!(e.contains("unsupported table `securityresources`"), "{e}");
        let e = parse("resources | project id, secret").unwrap_err();
        assert!(e.contains("unsupported column `secret`"), "{e}");
        let e = parse("resources | where name =~ 'x'").unwrap_err();
        assert!(e.contains("unsupported operator"), "{e}");
        // A `|` inside a literal is not a stage separator.
        let q = parse("resources | where type =~ 'a|b'").unwrap();
        assert!(q.types.unwrap().contains("a|b"));
    }

    #[test]
    fn resets_after_rounds_up() {
        assert_eq!(hms(4.2), "00:00:05");
        assert_eq!(hms(0.0), "00:00:00");
        assert_eq!(hms(3725.0), "01:02:05");
    }
}
