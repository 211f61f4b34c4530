//! The simulator's Azure Resource Graph endpoint (`sim::graph`): rows from the live world in ARG's shape, paging
//! with `$skipToken`, the per-user quota with its headers and 429, refusal of queries outside the supported KQL
//! subset, per-page latency, and the index lag after a change.

use std::time::Duration;

use asrform::sim::{SimRequest, SimResponse, Simulator};
use serde_json::{Value, json};

use crate::import_small::sim_for;

const URL: &str = "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
const SUB: &str = "00000000-0000-0000-0000-000000000001";
const VMS: &str = "resources | where type =~ 'Microsoft.Compute/virtualMachines' | order by id asc";

async fn query(sim: &Simulator, body: Value) -> (SimResponse, Value) {
    let r = sim.handle(SimRequest::new("POST", URL, Some(body))).await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r, v)
}

fn body(q: &str, top: u64, token: Option<&str>) -> Value {
    let mut options = json!({"$top": top, "resultFormat": "objectArray"});
    if let Some(t) = token {
        options["$skipToken"] = json!(t);
    }
    json!({"subscriptions": [SUB], "query": q, "options": options})
}

#[tokio::test(start_paused = true)]
async fn rows_come_from_the_live_world_in_pages_with_skip_tokens() {
    let (sim, _) = sim_for("quickstart");
    let live: Vec<String> = {
        let w = sim.world();
        w.resources
            .values()
            .filter(|r| r.kind() == "microsoft.compute/virtualmachines")
            .map(|r| r.id.to_ascii_lowercase())
            .collect()
    };
    assert!(live.len() >= 3, "{live:?}");
    let (mut ids, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let (r, v) = query(&sim, body(VMS, 2, token.as_deref())).await;
        assert_eq!(r.status, 200, "{v}");
        pages += 1;
        assert_eq!(v["totalRecords"], json!(live.len()));
        let data = v["data"].as_array().unwrap();
        assert_eq!(v["count"], json!(data.len()));
        assert!(data.len() <= 2);
        for row in data {
            assert_eq!(row["type"], "microsoft.compute/virtualmachines");
            assert_eq!(row["subscriptionId"], SUB);
            assert_eq!(row["resourceGroup"], "rg-app");
            assert!(
                row["properties"]["hardwareProfile"]["vmSize"].is_string(),
                "{row}"
            );
            assert!(row.get("etag").is_none(), "ARG rows carry no etag: {row}");
            ids.push(row["id"].as_str().unwrap().to_ascii_lowercase());
        }
        match v["$skipToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, live.len().div_ceil(2));
    assert_eq!(ids, live, "every VM once, in id order");
    // Another subscription sees nothing; the other table has no VMs.
    let mut other = body(VMS, 1000, None);
    other["subscriptions"] = json!(["00000000-0000-0000-0000-00000000ffff"]);
    assert_eq!(query(&sim, other).await.1["totalRecords"], json!(0));
    let (_, v) = query(
        &sim,
        body(
            "recoveryservicesresources | where type =~ 'microsoft.compute/virtualmachines'",
            1000,
            None,
        ),
    )
    .await;
    assert_eq!(v["totalRecords"], json!(0));
    // `project` keeps only the named columns.
    let (_, v) = query(&sim, body(&format!("{VMS} | project id, name"), 1, None)).await;
    let row = v["data"][0].as_object().unwrap();
    assert_eq!(row.keys().collect::<Vec<_>>(), ["id", "name"]);
}

#[tokio::test(start_paused = true)]
async fn the_user_quota_is_counted_per_query_with_headers_and_a_429_when_used_up() {
    let (sim, _) = sim_for("quickstart");
    for i in 1..=15u32 {
        let (r, v) = query(&sim, body(VMS, 1000, None)).await;
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(
            r.header("x-ms-user-quota-remaining"),
            Some((15 - i).to_string().as_str())
        );
        assert_eq!(r.header("x-ms-user-quota-resets-after"), Some("00:00:05"));
    }
    sim.advance(Duration::from_millis(1500));
    let (r, v) = query(&sim, body(VMS, 1000, None)).await;
    assert_eq!(r.status, 429, "{v}");
    assert_eq!(v["error"]["code"], "RateLimiting");
    assert_eq!(r.header("x-ms-user-quota-remaining"), Some("0"));
    // 3.5 s left in the window, rounded up.
    assert_eq!(r.header("x-ms-user-quota-resets-after"), Some("00:00:04"));
    assert_eq!(r.header("Retry-After"), Some("4"));
    sim.advance(Duration::from_millis(3500));
    let (r, _) = query(&sim, body(VMS, 1000, None)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ms-user-quota-remaining"), Some("14"));
    // Every request is in the log under the ARG operation, the 429 too.
    let log = sim.request_log();
    assert_eq!(
        log.iter()
            .filter(|e| e.operation == "ResourceGraph_Resources")
            .count(),
        17
    );
}

#[tokio::test(start_paused = true)]
async fn queries_outside_the_supported_subset_are_refused_with_args_error_shape() {
    let (sim, _) = sim_for("quickstart");
    for (q, says) in [
        (
            "resources | extend size = properties.hardwareProfile.vmSize",
            "unsupported operator `extend size = properties.hardwareProfile.vmSize` (stage 2",
        ),
        (
            "resources | where name =~ 'vm1'",
            "unsupported operator `where name =~ 'vm1'`",
        ),
        ("securityresources", "unsupported table `securityresources`"),
        (
            "resources | summarize count() by type",
            "unsupported operator `summarize count() by type`",
        ),
    ] {
        let (r, v) = query(&sim, body(q, 1000, None)).await;
        assert_eq!(r.status, 400, "{q}: {v}");
        assert_eq!(v["error"]["code"], "BadRequest", "{v}");
        assert_eq!(v["error"]["details"][0]["code"], "InvalidQuery", "{v}");
        let msg = v["error"]["details"][1]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{q}: {msg}");
        assert!(msg.contains("supports only"), "{msg}");
    }
    let (r, v) = query(&sim, body(VMS, 5000, None)).await;
    assert_eq!(r.status, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("$top"),
        "{v}"
    );
    let (r, _) = query(&sim, body(VMS, 10, Some("not-a-token"))).await;
    assert_eq!(r.status, 400);
}

#[tokio::test(start_paused = true)]
async fn a_page_costs_five_times_the_arm_latency_unless_set() {
    let (sim, _) = sim_for("quickstart");
    sim.world().config.latency_ms = 100;
    let t0 = sim.now();
    query(&sim, body(VMS, 1000, None)).await;
    assert_eq!(sim.now() - t0, time::Duration::milliseconds(500));
    sim.world().config.graph.latency_ms = Some(50);
    let t0 = sim.now();
    query(&sim, body(VMS, 1000, None)).await;
    assert_eq!(sim.now() - t0, time::Duration::milliseconds(50));
}

#[tokio::test(start_paused = true)]
async fn with_a_lag_the_index_shows_the_row_before_a_change_until_the_lag_has_passed() {
    let (sim, client) = sim_for("quickstart");
    sim.world().config.graph.lag_secs = 60;
    let groups =
        "resourcecontainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups'";
    let tags_of = |v: &Value, name: &str| -> Option<Value> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["tags"].clone())
    };
    let put = |name: &str, tags: Value| {
        let url = client
            .url(&format!("/subscriptions/{SUB}/resourceGroups/{name}"), &[])
            .unwrap();
        SimRequest::new(
            "PUT",
            url.as_str(),
            Some(json!({"location": "westus2", "tags": tags})),
        )
    };
    // A new group: absent from the index for 60 s.
    assert!(sim.handle(put("rg-new", json!({}))).await.status < 300);
    let (_, v) = query(&sim, body(groups, 1000, None)).await;
    assert_eq!(tags_of(&v, "rg-new"), None, "{v}");
    assert!(tags_of(&v, "rg-app").is_some());
    sim.advance(Duration::from_secs(61));
    let (_, v) = query(&sim, body(groups, 1000, None)).await;
    assert_eq!(tags_of(&v, "rg-new"), Some(json!({})));
    // A change: the old row until 60 s after the last change.
    assert!(sim.handle(put("rg-new", json!({"v": "1"}))).await.status < 300);
    sim.advance(Duration::from_secs(30));
    assert!(sim.handle(put("rg-new", json!({"v": "2"}))).await.status < 300);
    sim.advance(Duration::from_secs(45));
    let (_, v) = query(&sim, body(groups, 1000, None)).await;
    assert_eq!(
        tags_of(&v, "rg-new"),
        Some(json!({})),
        "still the row before both changes"
    );
    sim.advance(Duration::from_secs(16));
    let (_, v) = query(&sim, body(groups, 1000, None)).await;
    assert_eq!(tags_of(&v, "rg-new"), Some(json!({"v": "2"})));
    // ARM GETs are never lagged.
    sim.world().config.graph.lag_secs = 600;
    assert!(sim.handle(put("rg-new", json!({"v": "3"}))).await.status < 300);
    let got = client
        .get_value(&format!("/subscriptions/{SUB}/resourceGroups/rg-new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["tags"], json!({"v": "3"}));
    let (_, v) = query(&sim, body(groups, 1000, None)).await;
    assert_eq!(tags_of(&v, "rg-new"), Some(json!({"v": "2"})));
}
