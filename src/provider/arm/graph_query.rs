//! Azure Resource Graph queries: one KQL query over many subscriptions, sent in groups of at most 300
//! subscriptions (ARG's recommended group size, limits.md §1.6) and paged with `$skipToken` at 1,000 rows a page.
//!
//! ARG is a separate tenant-level endpoint (`/providers/Microsoft.ResourceGraph/resources`) on the same host and
//! token as ARM, so queries go through the one [`ArmClient`]: its throttle recognises the path and paces queries by
//! ARG's per-user quota (`x-ms-user-quota-*` headers) instead of ARM's per-subscription buckets. This module only
//! builds and pages queries; it must not interpret rows (that is `snapshot`'s job) and must not write anything.

use azure_core::http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::ArmClient;
use crate::provider::ProviderError;

/// The query endpoint.
pub const PATH: &str = "/providers/Microsoft.ResourceGraph/resources";
/// The api-version sent.
pub const API_VERSION: &str = "2022-10-01";
/// Subscriptions per query (ARG recommends fewer than 300).
pub const SUBSCRIPTIONS_PER_QUERY: usize = 300;
/// Rows per page (ARG's maximum `$top`).
pub const PAGE_ROWS: usize = 1000;

/// A query of rows of some types of one table, in id order (stable pages): `table | where type in~ (…) | order by
/// id asc`. Types are compared case-insensitively by ARG; they are sent lower-case.
pub fn of_types(table: &str, types: &[&str]) -> String {
    let list: Vec<String> = types
        .iter()
        .map(|t| format!("'{}'", t.to_ascii_lowercase()))
        .collect();
    format!(
        "{table} | where type in~ ({}) | order by id asc",
        list.join(", ")
    )
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(rename = "$skipToken", default)]
    skip_token: Option<String>,
}

/// Runs `query` over `subscriptions` and returns every row (all groups, all pages). Groups run concurrently; the
/// pages of one group follow each other (each needs the previous page's `$skipToken`).
pub async fn query(
    client: &ArmClient,
    subscriptions: &[String],
    query: &str,
) -> Result<Vec<Value>, ProviderError> {
    let groups: Vec<&[String]> = subscriptions.chunks(SUBSCRIPTIONS_PER_QUERY).collect();
    let results =
        futures_util::future::join_all(groups.into_iter().map(|g| query_group(client, g, query)))
            .await;
    let mut rows = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    Ok(rows)
}

async fn query_group(
    client: &ArmClient,
    subscriptions: &[String],
    query: &str,
) -> Result<Vec<Value>, ProviderError> {
    let mut url = client.url(PATH, &[])?;
    // `ArmClient::url` picks an ARM api-version by path; ARG has its own.
    url.set_query(Some(&format!("api-version={API_VERSION}")));
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut options = json!({"$top": PAGE_ROWS, "resultFormat": "objectArray"});
        if let Some(t) = &token {
            options["$skipToken"] = json!(t);
        }
        let body = json!({"subscriptions": subscriptions, "query": query, "options": options});
        let rsp = client.send(Method::Post, url.clone(), Some(&body)).await?;
        let page: Page =
            serde_json::from_value(rsp.json_value()?.unwrap_or(Value::Null)).map_err(|e| {
                ProviderError::Decode {
                    what: format!("Resource Graph answer to `{query}`"),
                    message: e.to_string(),
                }
            })?;
        rows.extend(page.data);
        match page.skip_token.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(rows),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_type_query_lists_lower_case_types_in_id_order() {
        assert_eq!(
            super::of_types("resources", &["Microsoft.Compute/virtualMachines", "a/b"]),
            "resources | where type in~ ('microsoft.compute/virtualmachines', 'a/b') | order by id asc"
        );
    }
}
