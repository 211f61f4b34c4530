//! Recovery point selection: turns a policy (`latest`, `latest-processed`, `latest-app-consistent`,
//! `latest-multi-vm`, an RFC 3339 time, `not-older-than=15m`) into the point each VM will fail over to.
//!
//! Pure: recovery point lists and "now" come in as values; no I/O, no clock. It never decides *whether* to fail
//! over, only *to which point*, and it reports the data loss that choice implies.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::provider::arm::wire;

/// A recovery point policy, as given on the command line or in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum PointPolicy {
    /// ASR's "Latest": processes pending data first (lowest RPO, slower). Reported as the newest listed point.
    Latest,
    /// The newest point already processed (fastest).
    LatestProcessed,
    /// The newest application-consistent point.
    LatestAppConsistent,
    /// The newest multi-VM consistent point.
    LatestMultiVm,
    /// The newest point at or before this time.
    #[serde(with = "time::serde::rfc3339")]
    At(OffsetDateTime),
    /// The newest point, refused if it is older than this (seconds).
    NotOlderThan(u64),
}

impl fmt::Display for PointPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::LatestProcessed => f.write_str("latest-processed"),
            Self::LatestAppConsistent => f.write_str("latest-app-consistent"),
            Self::LatestMultiVm => f.write_str("latest-multi-vm"),
            Self::At(t) => f.write_str(&t.format(&Rfc3339).unwrap_or_default()),
            Self::NotOlderThan(s) => write!(f, "not-older-than={}", human(Duration::from_secs(*s))),
        }
    }
}

/// A policy string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("invalid recovery point '{text}': {reason}")]
#[diagnostic(
    code(asrform::dr::recovery_point),
    help(
        "use latest, latest-processed, latest-app-consistent, latest-multi-vm, an RFC 3339 time such as \
         2026-03-01T10:15:00Z, or not-older-than=15m"
    )
)]
pub struct PolicyParseError {
    /// The text given.
    pub text: String,
    /// Why it is wrong.
    pub reason: String,
}

impl FromStr for PointPolicy {
    type Err = PolicyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| PolicyParseError {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "latest" => return Ok(Self::Latest),
            "latest-processed" => return Ok(Self::LatestProcessed),
            "latest-app-consistent" => return Ok(Self::LatestAppConsistent),
            "latest-multi-vm" => return Ok(Self::LatestMultiVm),
            _ => {}
        }
        if let Some(rest) = t.strip_prefix("not-older-than=") {
            let d = crate::config::values::parse_duration(rest)
                .ok()
                .ok_or_else(|| {
                    err("the age must be a number with a unit: s, m, h or d (e.g. 15m)")
                })?;
            if d.is_zero() {
                return Err(err("the age must be greater than zero"));
            }
            return Ok(Self::NotOlderThan(d.as_secs()));
        }
        if t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return OffsetDateTime::parse(t, &Rfc3339)
                .map(Self::At)
                .map_err(|e| err(&format!("not an RFC 3339 time ({e})")));
        }
        Err(err("unknown policy"))
    }
}

/// Renders a duration as the configuration language writes it (`1d2h3m`), so ages and policies read alike.
pub fn human(d: Duration) -> String {
    crate::config::values::format_duration(d)
}

/// One listed recovery point of one RPI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointInfo {
    /// Its ARM id (what a single-RPI failover takes).
    pub id: String,
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// `CrashConsistent` or `ApplicationConsistent`.
    pub kind: String,
    /// `MultiVmSyncRecoveryPoint` or `PerVmRecoveryPoint`, when known.
    pub sync: Option<String>,
}

impl PointInfo {
    /// Reads a wire recovery point; `None` when it has no parseable time.
    pub fn from_wire(p: &wire::RecoveryPoint) -> Option<Self> {
        let time =
            OffsetDateTime::parse(p.properties.recovery_point_time.as_deref()?, &Rfc3339).ok()?;
        let sync = match &p.properties.provider_specific_details {
            Some(wire::Poly::Known(d)) => d.recovery_point_sync_type.clone(),
            _ => None,
        };
        Some(Self {
            id: p.id.clone()?,
            time,
            kind: p
                .properties
                .recovery_point_type
                .clone()
                .unwrap_or_else(|| "CrashConsistent".into()),
            sync,
        })
    }

    fn is_app(&self) -> bool {
        self.kind.eq_ignore_ascii_case("ApplicationConsistent")
    }

    fn is_multi_vm(&self) -> bool {
        self.sync
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("MultiVmSyncRecoveryPoint"))
    }
}

/// The point chosen for one VM and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenPoint {
    /// The VM (or RPI) it was chosen for.
    pub vm: String,
    /// The point.
    pub point: PointInfo,
    /// Age of the point at planning time, in seconds.
    pub age_secs: u64,
    /// Data lost by failing over to it, in seconds: the time between the point and the failover, or zero for a
    /// planned failover that shuts the source down first.
    pub data_loss_secs: u64,
}

/// No point satisfies the policy for a VM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("no recovery point of {vm} satisfies '{policy}': {reason}")]
#[diagnostic(
    code(asrform::dr::no_recovery_point),
    help(
        "list the VM's recovery points (asrform status) or choose another --recovery-point policy"
    )
)]
pub struct NoPointError {
    /// The VM.
    pub vm: String,
    /// The policy.
    pub policy: String,
    /// Why.
    pub reason: String,
}

fn secs_between(a: OffsetDateTime, b: OffsetDateTime) -> u64 {
    (b - a).whole_seconds().max(0) as u64
}

/// Filters candidates by the policy and returns the newest one that fits.
fn pick<'a>(
    policy: &PointPolicy,
    points: impl Iterator<Item = &'a PointInfo>,
    now: OffsetDateTime,
) -> Result<&'a PointInfo, String> {
    let mut all: Vec<&PointInfo> = points.collect();
    if all.is_empty() {
        return Err("it has no recovery points yet (initial replication not finished?)".into());
    }
    all.sort_by_key(|p| p.time);
    let newest = all[all.len() - 1];
    match policy {
        PointPolicy::Latest | PointPolicy::LatestProcessed => Ok(newest),
        PointPolicy::LatestAppConsistent => all
            .iter()
            .rev()
            .find(|p| p.is_app())
            .copied()
            .ok_or_else(|| "it has no application-consistent point".into()),
        PointPolicy::LatestMultiVm => all
            .iter()
            .rev()
            .find(|p| p.is_multi_vm())
            .copied()
            .ok_or_else(|| {
                "it has no multi-VM consistent point (is it in a multi-VM group?)".into()
            }),
        PointPolicy::At(t) => all
            .iter()
            .rev()
            .find(|p| p.time <= *t)
            .copied()
            .ok_or_else(|| {
                format!(
                    "its oldest point ({}) is after that time",
                    all[0].time.format(&Rfc3339).unwrap_or_default()
                )
            }),
        PointPolicy::NotOlderThan(max) => {
            let age = secs_between(newest.time, now);
            if age <= *max {
                Ok(newest)
            } else {
                Err(format!(
                    "its newest point is {} old",
                    human(Duration::from_secs(age))
                ))
            }
        }
    }
}

fn chosen(vm: &str, p: &PointInfo, now: OffsetDateTime, planned: bool) -> ChosenPoint {
    let age = secs_between(p.time, now);
    ChosenPoint {
        vm: vm.to_string(),
        point: p.clone(),
        age_secs: age,
        data_loss_secs: if planned { 0 } else { age },
    }
}

/// Chooses one VM's point. `planned` means the source is shut down first (zero data loss).
pub fn select(
    policy: &PointPolicy,
    vm: &str,
    points: &[PointInfo],
    now: OffsetDateTime,
    planned: bool,
) -> Result<ChosenPoint, NoPointError> {
    pick(policy, points.iter(), now)
        .map(|p| chosen(vm, p, now, planned))
        .map_err(|reason| NoPointError {
            vm: vm.to_string(),
            policy: policy.to_string(),
            reason,
        })
}

/// Chooses one common point for a multi-VM consistency group: the newest time every member has (preferring
/// multi-VM sync points when every member has one at that time), filtered by the policy.
pub fn select_group(
    policy: &PointPolicy,
    members: &[(String, Vec<PointInfo>)],
    now: OffsetDateTime,
    planned: bool,
) -> Result<Vec<ChosenPoint>, NoPointError> {
    let Some((first_vm, first)) = members.first() else {
        return Ok(Vec::new());
    };
    let common = |p: &PointInfo| {
        members
            .iter()
            .all(|(_, pts)| pts.iter().any(|q| q.time == p.time))
    };
    let shared: Vec<&PointInfo> = first.iter().filter(|p| common(p)).collect();
    let group_err = |reason: String| NoPointError {
        vm: format!(
            "{first_vm} (multi-VM group of {}: {})",
            members.len(),
            members
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        policy: policy.to_string(),
        reason,
    };
    if shared.is_empty() {
        return Err(group_err("the members share no recovery point time".into()));
    }
    let multi: Vec<&PointInfo> = shared
        .iter()
        .copied()
        .filter(|p| {
            members
                .iter()
                .all(|(_, pts)| pts.iter().any(|q| q.time == p.time && q.is_multi_vm()))
        })
        .collect();
    let t = match (!multi.is_empty()).then(|| pick(policy, multi.iter().copied(), now)) {
        Some(Ok(p)) => p.time,
        _ => {
            pick(policy, shared.into_iter(), now)
                .map_err(group_err)?
                .time
        }
    };
    members
        .iter()
        .map(|(vm, pts)| {
            // Every member has a point at `t`; prefer its multi-VM one when it has both.
            let p = pts
                .iter()
                .filter(|q| q.time == t)
                .max_by_key(|q| q.is_multi_vm())
                .expect("common time is present in every member");
            Ok(chosen(vm, p, now, planned))
        })
        .collect()
}

/// ASR's symbolic recovery point for a recovery-plan failover, and whether to use multi-VM sync points.
/// Time-based policies have no symbolic form: ASR would take `LatestProcessed`, and the per-VM selection says
/// which point that is; callers that need an exact point fail over item by item.
pub fn symbolic(policy: &PointPolicy) -> (&'static str, bool) {
    match policy {
        PointPolicy::Latest => ("Latest", false),
        PointPolicy::LatestProcessed | PointPolicy::NotOlderThan(_) | PointPolicy::At(_) => {
            ("LatestProcessed", false)
        }
        PointPolicy::LatestAppConsistent => ("LatestApplicationConsistent", false),
        PointPolicy::LatestMultiVm => ("LatestProcessed", true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn pt(name: &str, t: OffsetDateTime, app: bool, multi: bool) -> PointInfo {
        PointInfo {
            id: format!("/rp/{name}"),
            time: t,
            kind: if app {
                "ApplicationConsistent"
            } else {
                "CrashConsistent"
            }
            .into(),
            sync: Some(
                if multi {
                    "MultiVmSyncRecoveryPoint"
                } else {
                    "PerVmRecoveryPoint"
                }
                .into(),
            ),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn points() -> Vec<PointInfo> {
        vec![
            pt("a", datetime!(2026-03-01 11:00 UTC), true, false),
            pt("b", datetime!(2026-03-01 11:30 UTC), false, false),
            pt("c", datetime!(2026-03-01 11:50 UTC), false, false),
        ]
    }

    #[test]
    fn parses_every_policy_form() {
        assert_eq!(
            "latest".parse::<PointPolicy>().unwrap(),
            PointPolicy::Latest
        );
        assert_eq!(
            "Latest-Processed".parse::<PointPolicy>().unwrap(),
            PointPolicy::LatestProcessed
        );
        assert_eq!(
            "not-older-than=15m".parse::<PointPolicy>().unwrap(),
            PointPolicy::NotOlderThan(900)
        );
        assert_eq!(
            "2026-03-01T11:40:00Z".parse::<PointPolicy>().unwrap(),
            PointPolicy::At(datetime!(2026-03-01 11:40 UTC))
        );
        let e = "not-older-than=15x".parse::<PointPolicy>().unwrap_err();
        assert!(e.reason.contains("unit"), "{e}");
        let e = "2026-13-01".parse::<PointPolicy>().unwrap_err();
        assert!(e.reason.contains("RFC 3339"), "{e}");
        assert!("newest".parse::<PointPolicy>().is_err());
        assert_eq!(
            PointPolicy::NotOlderThan(900).to_string(),
            "not-older-than=15m"
        );
    }

    #[test]
    fn latest_processed_is_newest_and_loss_is_its_age() {
        let c = select(&PointPolicy::LatestProcessed, "vm1", &points(), NOW, false).unwrap();
        assert_eq!(c.point.id, "/rp/c");
        assert_eq!(c.age_secs, 600);
        assert_eq!(c.data_loss_secs, 600);
        let planned = select(&PointPolicy::Latest, "vm1", &points(), NOW, true).unwrap();
        assert_eq!(planned.data_loss_secs, 0);
        assert_eq!(planned.age_secs, 600);
    }

    #[test]
    fn app_consistent_time_and_age_policies() {
        let c = select(
            &PointPolicy::LatestAppConsistent,
            "vm1",
            &points(),
            NOW,
            false,
        )
        .unwrap();
        assert_eq!(c.point.id, "/rp/a");
        let c = select(
            &PointPolicy::At(datetime!(2026-03-01 11:45 UTC)),
            "vm1",
            &points(),
            NOW,
            false,
        )
        .unwrap();
        assert_eq!(c.point.id, "/rp/b");
        let e = select(
            &PointPolicy::At(datetime!(2026-03-01 10:00 UTC)),
            "vm1",
            &points(),
            NOW,
            false,
        )
        .unwrap_err();
        assert_eq!(e.vm, "vm1");
        assert!(e.reason.contains("after that time"), "{e}");
        assert!(
            select(
                &PointPolicy::NotOlderThan(900),
                "vm1",
                &points(),
                NOW,
                false
            )
            .is_ok()
        );
        let e = select(
            &PointPolicy::NotOlderThan(300),
            "web-1",
            &points(),
            NOW,
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("web-1") && e.reason.contains("10m"),
            "{e}"
        );
        let e = select(&PointPolicy::LatestMultiVm, "vm1", &points(), NOW, false).unwrap_err();
        assert!(e.reason.contains("multi-VM"), "{e}");
        let e = select(&PointPolicy::Latest, "vm9", &[], NOW, false).unwrap_err();
        assert!(e.reason.contains("no recovery points"), "{e}");
    }

    #[test]
    fn group_uses_newest_common_time_preferring_multi_vm_points() {
        let a = vec![
            pt("a1", datetime!(2026-03-01 11:40 UTC), false, true),
            pt("a2", datetime!(2026-03-01 11:45 UTC), false, false),
            pt("a3", datetime!(2026-03-01 11:55 UTC), false, false),
        ];
        let b = vec![
            pt("b1", datetime!(2026-03-01 11:40 UTC), false, true),
            pt("b2", datetime!(2026-03-01 11:45 UTC), false, false),
        ];
        let members = vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
        let got = select_group(&PointPolicy::LatestProcessed, &members, NOW, false).unwrap();
        assert_eq!(got[0].point.id, "/rp/a1");
        assert_eq!(got[1].point.id, "/rp/b1");
        assert_eq!(got[0].point.time, got[1].point.time);
        // Without multi-VM points, the newest shared time wins.
        let strip = |v: &[PointInfo]| {
            v.iter()
                .map(|p| PointInfo {
                    sync: Some("PerVmRecoveryPoint".into()),
                    ..p.clone()
                })
                .collect::<Vec<_>>()
        };
        let members = vec![("a".to_string(), strip(&a)), ("b".to_string(), strip(&b))];
        let got = select_group(&PointPolicy::LatestProcessed, &members, NOW, false).unwrap();
        assert_eq!(got[0].point.time, datetime!(2026-03-01 11:45 UTC));
        assert_eq!(got[1].point.id, "/rp/b2");
        let members = vec![
            (
                "a".to_string(),
                vec![pt("x", datetime!(2026-03-01 11:41 UTC), false, false)],
            ),
            ("b".to_string(), b),
        ];
        let e = select_group(&PointPolicy::LatestProcessed, &members, NOW, false).unwrap_err();
        assert!(
            e.vm.contains("multi-VM group of 2") && e.reason.contains("share no"),
            "{e}"
        );
    }

    #[test]
    fn symbolic_mapping() {
        assert_eq!(
            symbolic(&PointPolicy::LatestAppConsistent).0,
            "LatestApplicationConsistent"
        );
        assert_eq!(
            symbolic(&PointPolicy::LatestMultiVm),
            ("LatestProcessed", true)
        );
        assert_eq!(symbolic(&PointPolicy::Latest).0, "Latest");
    }
}
