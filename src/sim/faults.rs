//! Fault injection: rules loaded from a JSON file (`asrform sim faults FILE`) that make matching requests fail.
//!
//! Owns the rule format, matching (method, path substring, operation kind) and the seeded RNG behind probabilistic
//! rules, so a run with the same seed fails the same requests. It must not build HTTP responses itself.
//!
//! `operation` matches the request log's name (`ReplicationProtectedItems_Action` for every item POST) or, for POST
//! actions, the spec's operation id (`ReplicationProtectedItems_TestFailover`, `ReplicationJobs_Resume`, …).
//!
//! ```json
//! {"seed": 7, "rules": [
//!   {"method": "PUT", "path": "replicationFabrics", "effect": {"kind": "throttle", "retryAfter": 5}, "times": 2},
//!   {"effect": {"kind": "throttle", "retryAfter": 1, "retryAfterMax": 30,
//!    "code": "RetryableErrorDueToAnotherOperation"}, "probability": 0.2},
//!   {"operation": "ReplicationProtectedItems_Create", "effect": {"kind": "failJob", "code": "150261",
//!    "message": "Policy creation failed"}},
//!   {"path": "/virtualMachines", "effect": {"kind": "status", "status": 503}, "probability": 0.5},
//!   {"method": "GET", "effect": {"kind": "drop"}, "times": 1}]}
//! ```

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What a matching rule does.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultEffect {
    /// 429 with `Retry-After`.
    #[serde(rename_all = "camelCase")]
    Throttle {
        /// Seconds in `Retry-After` (the lower end when `retryAfterMax` is given).
        retry_after: u64,
        /// When given, each firing draws `Retry-After` uniformly from `retryAfter..=retryAfterMax` with the set's
        /// seeded RNG (limits.md §6 G4: uniform 1–30 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_max: Option<u64>,
        /// ARM error code: `SubscriptionRequestsThrottled` (default; the subscription's bucket),
        /// `ResourceRequestsThrottled` (a resource provider's quota) or `RetryableErrorDueToAnotherOperation`
        /// (one contended resource). Clients back off on the scope the code names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Any status (5xx usually) with an ARM error body.
    Status {
        /// HTTP status.
        status: u16,
        /// Error code (default `InternalServerError`).
        #[serde(default)]
        code: Option<String>,
    },
    /// The connection drops without an answer.
    Drop,
    /// The request succeeds but the job it starts fails with this ASR error.
    FailJob {
        /// ASR error code (a numeric string).
        code: String,
        /// Message.
        message: String,
    },
}

/// One rule. Every condition given must match.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method, any case.
    #[serde(default)]
    pub method: Option<String>,
    /// Substring of the path (case-insensitive).
    #[serde(default)]
    pub path: Option<String>,
    /// Operation kind as in the request log (`ReplicationFabrics_Create`).
    #[serde(default)]
    pub operation: Option<String>,
    /// The effect.
    pub effect: FaultEffect,
    /// Fire only this many times (then the rule is spent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire with this probability (0..=1), drawn from the seeded RNG.
    #[serde(default)]
    pub probability: Option<f64>,
    /// How many times it has fired.
    #[serde(default)]
    pub fired: u32,
}

/// All rules plus the RNG state.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FaultSet {
    /// Seed of the RNG behind `probability`.
    #[serde(default)]
    pub seed: u64,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Draws made so far (the RNG is re-derived from seed + draws, so the state persists as one number).
    #[serde(default)]
    pub draws: u64,
}

impl FaultSet {
    /// Parses a fault file's text; errors name the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let set: FaultSet = serde_json::from_str(text)
            .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))?;
        for (i, r) in set.rules.iter().enumerate() {
            if let Some(p) = r.probability
                && !(0.0..=1.0).contains(&p)
            {
                return Err(format!(
                    "rules[{i}].probability: {p} is not between 0 and 1"
                ));
            }
            if let FaultEffect::Throttle {
                retry_after,
                retry_after_max: Some(max),
                ..
            } = r.effect
                && max < retry_after
            {
                return Err(format!(
                    "rules[{i}].effect.retryAfterMax: {max} is below retryAfter {retry_after}"
                ));
            }
            if let FaultEffect::Status { status, .. } = r.effect
                && !(400..=599).contains(&status)
            {
                return Err(format!(
                    "rules[{i}].effect.status: {status} is not an error status (400-599)"
                ));
            }
        }
        Ok(set)
    }

    /// The next RNG of the seeded sequence (re-derived from seed + draws, so the state persists as one number).
    fn rng(&mut self) -> SmallRng {
        let rng = SmallRng::seed_from_u64(
            self.seed
                .wrapping_add(self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        self.draws += 1;
        rng
    }

    /// The effect for this request, if a rule fires (and counts it). A throttle with a `Retry-After` range comes
    /// back with the value drawn for this request.
    pub fn check(&mut self, method: &str, path: &str, operation: &str) -> Option<FaultEffect> {
        self.check_any(method, path, &[operation])
    }

    /// Like [`FaultSet::check`] for a request known by several operation names (the route's generic
    /// `ReplicationProtectedItems_Action` and the spec's `ReplicationProtectedItems_TestFailover`): a rule's
    /// `operation` matches any of them.
    pub fn check_any(
        &mut self,
        method: &str,
        path: &str,
        operations: &[&str],
    ) -> Option<FaultEffect> {
        let lpath = path.to_ascii_lowercase();
        for i in 0..self.rules.len() {
            let r = &self.rules[i];
            let matches = r
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path
                    .as_ref()
                    .is_none_or(|p| lpath.contains(&p.to_ascii_lowercase()))
                && r.operation
                    .as_ref()
                    .is_none_or(|o| operations.iter().any(|x| o.eq_ignore_ascii_case(x)))
                && r.times.is_none_or(|t| r.fired < t);
            if !matches {
                continue;
            }
            if let Some(p) = r.probability
                && self.rng().r#gen::<f64>() >= p
            {
                continue;
            }
            self.rules[i].fired += 1;
            let mut effect = self.rules[i].effect.clone();
            if let FaultEffect::Throttle {
                retry_after,
                retry_after_max,
                ..
            } = &mut effect
                && let Some(max) = retry_after_max.take()
            {
                let mut rng = self.rng();
                *retry_after = rng.gen_range(*retry_after..=max.max(*retry_after));
            }
            return Some(effect);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_limits_and_probability_is_seeded() {
        let mut f = FaultSet::parse(
            r#"{"rules":[{"method":"get","path":"Fabrics","effect":{"kind":"drop"},"times":2}]}"#,
        )
        .unwrap();
        assert_eq!(
            f.check("GET", "/x/replicationfabrics/a", "op"),
            Some(FaultEffect::Drop)
        );
        assert_eq!(f.check("PUT", "/x/replicationfabrics/a", "op"), None);
        assert_eq!(
            f.check("GET", "/x/replicationfabrics/a", "op"),
            Some(FaultEffect::Drop)
        );
        assert_eq!(f.check("GET", "/x/replicationfabrics/a", "op"), None);
        let text =
            r#"{"seed":3,"rules":[{"effect":{"kind":"status","status":503},"probability":0.5}]}"#;
        let run = || {
            let mut f = FaultSet::parse(text).unwrap();
            (0..100)
                .map(|_| f.check("GET", "/", "x").is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|x| **x).count();
        assert!((30..70).contains(&hits), "{hits}");
        assert!(
            FaultSet::parse(r#"{"rules":[{"effect":{"kind":"status","status":200}}]}"#)
                .unwrap_err()
                .contains("rules[0].effect.status")
        );
        assert!(FaultSet::parse(r#"{"rules":[{"effect":{"kind":"nope"}}]}"#).is_err());
    }

    #[test]
    fn operation_matches_any_of_the_request_names() {
        let mut f = FaultSet::parse(
            r#"{"rules":[{"operation":"ReplicationProtectedItems_TestFailover","effect":{"kind":"drop"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            f.check_any("POST", "/x", &["ReplicationProtectedItems_Action"]),
            None
        );
        assert_eq!(
            f.check_any(
                "POST",
                "/x",
                &[
                    "ReplicationProtectedItems_Action",
                    "ReplicationProtectedItems_TestFailover"
                ]
            ),
            Some(FaultEffect::Drop)
        );
    }

    #[test]
    fn retry_after_ranges_are_drawn_uniformly_and_seeded() {
        let text = r#"{"seed":5,"rules":[{"effect":{"kind":"throttle","retryAfter":1,"retryAfterMax":30,
            "code":"ResourceRequestsThrottled"}}]}"#;
        let run = || {
            let mut f = FaultSet::parse(text).unwrap();
            (0..200)
                .map(|_| match f.check("GET", "/", "x") {
                    Some(FaultEffect::Throttle {
                        retry_after,
                        retry_after_max: None,
                        code,
                    }) => {
                        assert_eq!(code.as_deref(), Some("ResourceRequestsThrottled"));
                        retry_after
                    }
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<u64>>()
        };
        let a = run();
        assert_eq!(a, run(), "same seed, same draws");
        assert!(a.iter().all(|s| (1..=30).contains(s)), "{a:?}");
        assert!(a.contains(&1) && a.contains(&30), "both ends are drawn");
        let mean = a.iter().sum::<u64>() as f64 / a.len() as f64;
        assert!((12.0..19.0).contains(&mean), "mean {mean}");
        assert!(
            FaultSet::parse(
                r#"{"rules":[{"effect":{"kind":"throttle","retryAfter":9,"retryAfterMax":3}}]}"#
            )
            .unwrap_err()
            .contains("retryAfterMax")
        );
    }
}
