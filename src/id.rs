//! ARM resource ids as values: parsing, case-insensitive identity, and navigation (parent, name, subscription).
//!
//! ARM and ASR echo ids back with inconsistent casing (`/Subscriptions/` with a capital S, lower-cased resource
//! group names), so identity is case-insensitive while the original spelling is kept for display and for
//! requests. One type serves the configuration (ids users write, parsed strictly) and the provider (ids ARM returns,
//! parsed leniently). This module is pure: it must not know about HTTP, api-versions or any particular resource type beyond
//! the generic `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}/...` grammar.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An ARM resource id such as `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`.
///
/// Equality, hashing and ordering ignore ASCII case and a trailing slash; `Display` keeps the original text.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ArmId(String);

/// Why a string is not an ARM id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("`{text}` is not an ARM resource id: {reason}")]
#[diagnostic(
    code(asrform::provider::arm_id),
    help(
        "ARM ids look like /subscriptions/<id>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>"
    )
)]
pub struct ArmIdError {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ArmId {
    /// Parses an id leniently: it must start with `/subscriptions/` (any case) or `/providers/` and have no empty
    /// segments; a trailing slash is dropped.
    pub fn parse(text: &str) -> Result<Self, ArmIdError> {
        let trimmed = text.trim().trim_end_matches('/');
        let err = |reason| ArmIdError {
            text: text.to_string(),
            reason,
        };
        if !trimmed.starts_with('/') {
            return Err(err("it must start with `/`"));
        }
        let segs: Vec<&str> = trimmed[1..].split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(err("it has an empty path segment"));
        }
        let first = segs[0].to_ascii_lowercase();
        if first == "subscriptions" {
            if segs.len() < 2 {
                return Err(err("the subscription id is missing"));
            }
        } else if first != "providers" {
            return Err(err("it must start with /subscriptions/ or /providers/"));
        }
        Ok(Self(trimmed.to_string()))
    }

    /// Parses an id written in a configuration, strictly: no surrounding spaces, `/subscriptions/<id>` first, and
    /// every segment type followed by a name (`providers/<namespace>/<type>/<name>` with `resourceGroups/<name>`
    /// before it). ARM's own responses go through the lenient [`parse`](Self::parse); what a user writes should be
    /// an id ARM would accept in a request. The reason is a sentence for a diagnostic.
    pub fn parse_declared(s: &str) -> Result<Self, String> {
        if s.trim() != s || s.is_empty() {
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
        Ok(Self(format!("/{body}")))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full resource type (`Microsoft.Compute/virtualMachines`), if there is a provider part.
    pub fn resource_type(&self) -> Option<String> {
        let segs: Vec<&str> = self.segments().collect();
        let p = segs
            .iter()
            .position(|s| s.eq_ignore_ascii_case("providers"))?;
        let mut ty = (*segs.get(p + 1)?).to_string();
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

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0[1..].split('/')
    }

    /// The value that follows the first segment named `key` (case-insensitive), e.g. `resourceGroups`.
    pub fn segment_after(&self, key: &str) -> Option<&str> {
        let mut it = self.segments();
        while let Some(s) = it.next() {
            if s.eq_ignore_ascii_case(key) {
                return it.next();
            }
        }
        None
    }

    /// The subscription id, if the id is subscription-scoped.
    pub fn subscription(&self) -> Option<&str> {
        self.segment_after("subscriptions")
    }

    /// The resource group name, if any.
    pub fn resource_group(&self) -> Option<&str> {
        self.segment_after("resourceGroups")
    }

    /// The last segment: the resource's own name.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The provider namespace of the last `providers/` segment, e.g. `Microsoft.RecoveryServices`.
    pub fn namespace(&self) -> Option<&str> {
        let segs: Vec<&str> = self.segments().collect();
        segs.iter()
            .rposition(|s| s.eq_ignore_ascii_case("providers"))
            .and_then(|i| segs.get(i + 1).copied())
    }

    /// The id with `/{child_type}/{name}` appended.
    pub fn child(&self, child_type: &str, name: &str) -> ArmId {
        ArmId(format!("{}/{}/{}", self.0, child_type, name))
    }

    /// The id with a raw suffix appended (e.g. `/replicationProtectedItems` or `/testFailover`).
    pub fn join(&self, suffix: &str) -> String {
        format!("{}/{}", self.0, suffix.trim_start_matches('/'))
    }

    /// The id with its last `type/name` pair removed; `None` at the subscription or resource-group level.
    pub fn parent(&self) -> Option<ArmId> {
        let segs: Vec<&str> = self.segments().collect();
        if segs.len() <= 4 {
            return None;
        }
        let mut cut = segs.len() - 2;
        // `/providers/{ns}/{type}/{name}`: the parent of a top-level resource is the resource group.
        if cut >= 2 && segs[cut - 2].eq_ignore_ascii_case("providers") {
            cut -= 2;
        }
        Some(ArmId(format!("/{}", segs[..cut].join("/"))))
    }

    /// Feeds the lower-cased id to `f` a stack buffer at a time: hashing byte by byte cost a tenth of the
    /// 10,000-VM validation (ids are ~150 bytes and SipHash has a per-call overhead).
    fn lowered_chunks(&self, mut f: impl FnMut(&[u8])) {
        let mut buf = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(buf.len()) {
            let out = &mut buf[..chunk.len()];
            out.copy_from_slice(chunk);
            out.make_ascii_lowercase();
            f(out);
        }
    }
}

impl PartialEq for ArmId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for ArmId {}
impl Hash for ArmId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.lowered_chunks(|c| state.write(c));
        // Like `str`'s hash: a terminator keeps `a/b` + `c` apart from `a` + `/bc` in composite keys.
        state.write_u8(0xff);
    }
}
impl PartialOrd for ArmId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ArmId {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.iter()
            .zip(b)
            .map(|(x, y)| x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len()))
    }
}
impl fmt::Display for ArmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for ArmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArmId({})", self.0)
    }
}
impl std::str::FromStr for ArmId {
    type Err = ArmIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Compares two optional id strings the way ARM means them: case-insensitively, ignoring a trailing slash.
pub fn same_id(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_compare_case_insensitively_and_tolerate_capital_subscriptions() {
        let a = ArmId::parse(
            "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1",
        )
        .unwrap();
        let b = ArmId::parse(
            "/Subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualMachines/VM1/",
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let set: HashSet<ArmId> = [a.clone(), b.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(b.subscription(), Some("s1"));
        assert_eq!(b.resource_group(), Some("rg"));
        assert_eq!(b.name(), "VM1");
        assert_eq!(b.namespace(), Some("microsoft.compute"));
        assert_eq!(
            a.parent().unwrap().as_str(),
            "/subscriptions/S1/resourceGroups/RG"
        );
    }

    #[test]
    fn parent_walks_nested_asr_ids() {
        let rpi = ArmId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i").unwrap();
        let c = rpi.parent().unwrap();
        assert_eq!(c.name(), "c");
        assert_eq!(c.parent().unwrap().parent().unwrap().name(), "v");
        assert_eq!(c.segment_after("replicationFabrics"), Some("f"));
    }

    #[test]
    fn bad_ids_are_rejected_with_a_reason() {
        for bad in [
            "",
            "subscriptions/x",
            "/subscriptions",
            "/foo/bar",
            "/subscriptions//resourceGroups",
        ] {
            assert!(ArmId::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(same_id("/a/B/", "/A/b"));
    }

    const VM: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm01";

    #[test]
    fn declared_ids_are_strict_and_typed() {
        let b = ArmId::parse_declared(
            &VM.replace("/subscriptions/", "/Subscriptions/")
                .replace("resourceGroups", "resourcegroups"),
        )
        .unwrap();
        assert_eq!(b, ArmId::parse_declared(VM).unwrap());
        assert!(b.is_type("microsoft.compute/virtualmachines"));
        assert_eq!(
            ArmId::parse_declared(&format!("{VM}/extensions/x"))
                .unwrap()
                .resource_type()
                .as_deref(),
            Some("Microsoft.Compute/virtualMachines/extensions")
        );
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
            assert!(
                ArmId::parse_declared(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(ArmId::parse_declared("/subscriptions/s/resourceGroups/rg").is_ok());
    }
}
