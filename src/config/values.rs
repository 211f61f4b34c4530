//! Typed scalar values of the configuration language: durations and disk types (ARM ids are [`crate::id`]).
//!
//! Owns their parsing and comparison rules. Pure: strings in, values or a reason out; no spans here (the loader
//! attaches the span when it turns a reason into a diagnostic).

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

pub use crate::id::ArmId;

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
