//! Typed scalar values of the configuration language: ARM ids, durations and disk types.
//!
//! Owns their parsing and comparison rules. Pure: strings in, values or a reason out; no spans here (the loader
//! attaches the span when it turns a reason into a diagnostic).

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// An Azure Resource Manager id such as
/// `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>`.
///
/// ARM returns ids in varying case (`/Subscriptions/`, `resourcegroups`), so comparison and hashing ignore ASCII case.
/// The original text is kept for display and for requests.
#[derive(Clone, Debug, Eq)]
pub struct ArmId {
    text: String,
    folded: String,
}

impl ArmId {
    /// Parses an id: it must start with `/subscriptions/<id>/` (any case), have an even number of non-empty segments,
    /// and contain `resourceGroups/<name>` when it has a provider part.
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed != s || s.is_empty() {
            return Err("an ARM id must not be empty or have surrounding spaces".into());
        }
        let body = s
            .strip_prefix('/')
            .ok_or("an ARM id starts with `/subscriptions/`")?;
        let body = body.strip_suffix('/').unwrap_or(body);
        let segments: Vec<&str> = body.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err("an ARM id has no empty segments (`//`)".into());
        }
        if !segments[0].eq_ignore_ascii_case("subscriptions") || segments.len() < 2 {
            return Err("an ARM id starts with `/subscriptions/<subscription id>`".into());
        }
        if let Some(p) = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("providers"))
        {
            if p + 2 >= segments.len() {
                return Err(
                    "the provider part must be `providers/<namespace>/<type>/<name>`".into(),
                );
            }
            if !(segments.len() - p - 2).is_multiple_of(2) {
                return Err("every resource type in an ARM id must be followed by a name".into());
            }
        } else if !segments.len().is_multiple_of(2) {
            return Err("every segment type in an ARM id must be followed by a name".into());
        }
        let text = format!("/{body}");
        Ok(Self {
            folded: text.to_ascii_lowercase(),
            text,
        })
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.text[1..].split('/')
    }

    /// The value following a segment type, matched case-insensitively (`resourceGroups` → the group name).
    pub fn segment(&self, kind: &str) -> Option<&str> {
        let mut it = self.segments();
        while let Some(s) = it.next() {
            if s.eq_ignore_ascii_case(kind) {
                return it.next();
            }
        }
        None
    }

    /// The subscription id.
    pub fn subscription(&self) -> &str {
        self.segments().nth(1).unwrap_or_default()
    }

    /// The resource group name, if the id is inside one.
    pub fn resource_group(&self) -> Option<&str> {
        self.segment("resourceGroups")
    }

    /// The last segment: the resource's own name.
    pub fn name(&self) -> &str {
        self.segments().last().unwrap_or_default()
    }

    /// The full resource type (`Microsoft.Compute/virtualMachines`), if there is a provider part.
    pub fn resource_type(&self) -> Option<String> {
        let segs: Vec<&str> = self.segments().collect();
        let p = segs
            .iter()
            .position(|s| s.eq_ignore_ascii_case("providers"))?;
        let mut ty = segs[p + 1].to_string();
        let mut i = p + 2;
        while i < segs.len() {
            ty.push('/');
            ty.push_str(segs[i]);
            i += 2;
        }
        Some(ty)
    }

    /// Whether the id is of the given resource type (compared case-insensitively).
    pub fn is_type(&self, ty: &str) -> bool {
        self.resource_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(ty))
    }
}

impl PartialEq for ArmId {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl std::hash::Hash for ArmId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}

impl PartialOrd for ArmId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ArmId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded.cmp(&other.folded)
    }
}

impl fmt::Display for ArmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for ArmId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Parses a duration written as a sequence of `<integer><unit>` with units `d`, `h`, `m`, `s`, largest first, e.g.
/// `"15d"`, `"24h"`, `"1h30m"`, `"90s"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const HELP: &str = "write a duration like \"24h\", \"15m\", \"1h30m\", \"15d\" or \"90s\"";
    if s.is_empty() {
        return Err(format!("empty duration; {HELP}"));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{s}` is not a duration; {HELP}"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{s}` is too large"))?;
        rest = &rest[digits..];
        let unit = rest
            .chars()
            .next()
            .ok_or_else(|| format!("`{s}` is missing a unit (d, h, m or s)"))?;
        let (secs, rank) = match unit {
            'd' => (86_400, 0),
            'h' => (3_600, 1),
            'm' => (60, 2),
            's' => (1, 3),
            other if other.is_alphabetic() => {
                return Err(format!("unknown duration unit `{other}` in `{s}`; {HELP}"));
            }
            _ => return Err(format!("`{s}` is not a duration; {HELP}")),
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(format!(
                "`{s}`: units must go from largest to smallest, each at most once"
            ));
        }
        last_rank = rank;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too large"))?;
        rest = &rest[1..];
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way [`parse_duration`] reads it (`1h30m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Managed disk types, ASR's `DiskAccountType` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiskType {
    /// `Standard_LRS`
    StandardLrs,
    /// `Premium_LRS`
    PremiumLrs,
    /// `StandardSSD_LRS`
    StandardSsdLrs,
    /// `PremiumV2_LRS`
    PremiumV2Lrs,
    /// `UltraSSD_LRS`
    UltraSsdLrs,
    /// `StandardSSD_ZRS`
    StandardSsdZrs,
    /// `Premium_ZRS`
    PremiumZrs,
}

impl DiskType {
    /// Every disk type.
    pub const ALL: [DiskType; 7] = [
        Self::StandardLrs,
        Self::PremiumLrs,
        Self::StandardSsdLrs,
        Self::PremiumV2Lrs,
        Self::UltraSsdLrs,
        Self::StandardSsdZrs,
        Self::PremiumZrs,
    ];

    /// The ARM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardLrs => "Standard_LRS",
            Self::PremiumLrs => "Premium_LRS",
            Self::StandardSsdLrs => "StandardSSD_LRS",
            Self::PremiumV2Lrs => "PremiumV2_LRS",
            Self::UltraSsdLrs => "UltraSSD_LRS",
            Self::StandardSsdZrs => "StandardSSD_ZRS",
            Self::PremiumZrs => "Premium_ZRS",
        }
    }

    /// Parses the ARM spelling (exact case, as ASR requires).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DiskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DiskType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm01";

    #[test]
    fn arm_ids_compare_case_insensitively() {
        let a = ArmId::parse(VM).unwrap();
        let b = ArmId::parse(
            &VM.replace("/subscriptions/", "/Subscriptions/")
                .replace("resourceGroups", "resourcegroups"),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(b.subscription(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(b.resource_group(), Some("rg-app"));
        assert_eq!(b.name(), "vm01");
        assert!(b.is_type("microsoft.compute/virtualmachines"));
        assert_eq!(a.to_string(), VM);
    }

    #[test]
    fn nested_types_are_joined() {
        let id = ArmId::parse(&format!("{VM}/extensions/x")).unwrap();
        assert_eq!(
            id.resource_type().as_deref(),
            Some("Microsoft.Compute/virtualMachines/extensions")
        );
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "vm01",
            "/subscriptions",
            "/subscriptions//resourceGroups/x",
            "/tenants/x",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute",
            " /subscriptions/s",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines",
        ] {
            assert!(ArmId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(ArmId::parse("/subscriptions/s/resourceGroups/rg").is_ok());
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15d"), Ok(Duration::from_secs(15 * 86_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "30m1h",
            "1h1h",
            "-1h",
            "1.5h",
            "99999999999999999999d",
            "1 h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(86_401)), "1d1s");
    }

    #[test]
    fn disk_types_use_the_arm_spelling() {
        assert_eq!(DiskType::parse("Premium_LRS"), Some(DiskType::PremiumLrs));
        assert_eq!(DiskType::parse("premium_lrs"), None);
        assert!(
            DiskType::ALL
                .iter()
                .all(|d| DiskType::parse(d.as_str()) == Some(*d))
        );
        assert_eq!(
            DiskType::ALL.map(DiskType::as_str),
            *crate::estate::DISK_TYPES
        );
    }
}
