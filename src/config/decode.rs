//! Typed decoding: evaluated block bodies in, model structs out.
//!
//! Owns required attributes, defaults, per-attribute types and per-value checks that need no other block (regions,
//! durations, ARM ids, CIDRs, enums), and the ARM id each instance will have. Rules that relate several resources live
//! in `config::validate`. Pure: values in, values and diagnostics out.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::{Map, Value};
use ipnet::Ipv4Net;

use super::diag::{Diagnostic, did_you_mean};
use super::funcs::display_scalar;
use super::model::*;
use super::naming;
use super::schema;
use super::source::{Span, Spanned};
use super::values::{ArmId, DiskType, parse_duration};
use crate::addr::{ResourceAddr, ResourceKind};

/// An evaluated attribute.
#[derive(Clone)]
pub(crate) struct EvalAttr {
    pub name: String,
    pub value: Value,
    pub span: Span,
}

/// An evaluated nested block.
#[derive(Clone)]
pub(crate) struct EvalBlock {
    pub ident: String,
    pub labels: Vec<Spanned<String>>,
    pub header: Span,
    pub body: EvalBody,
}

/// An evaluated block body.
#[derive(Clone)]
pub(crate) struct EvalBody {
    pub attrs: Vec<EvalAttr>,
    pub blocks: Vec<EvalBlock>,
}

/// What decoding a resource may look at besides its own body.
pub(crate) struct DecodeEnv<'a> {
    /// Resources decoded so far (everything this one references, thanks to the evaluation order).
    pub resources: &'a Resources,
    pub default_subscription: Option<&'a str>,
    pub label: &'a str,
    pub key: Option<&'a str>,
}

/// A decoded resource instance.
#[derive(Clone)]
pub(crate) struct Decoded {
    pub body: ResourceBody,
    pub id: Option<String>,
    pub lifecycle: Lifecycle,
    /// Computed attributes added to the reference value (`location` defaults, subnet map, ASR object ids).
    pub extras: Vec<(&'static str, Value)>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(o) if o.contains_key("address") => "a resource reference",
        Value::Object(_) => "an object",
    }
}

fn addr_of(v: &Value) -> Option<ResourceAddr> {
    v.as_object()?.get("address")?.as_str()?.parse().ok()
}

/// Field access with diagnostics; `ok` turns false on the first problem.
struct F<'a> {
    body: &'a EvalBody,
    header: Span,
    what: String,
    diags: &'a mut Vec<Diagnostic>,
    ok: bool,
}

impl<'a> F<'a> {
    fn new(
        body: &'a EvalBody,
        header: Span,
        what: impl Into<String>,
        diags: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Self {
            body,
            header,
            what: what.into(),
            diags,
            ok: true,
        }
    }

    fn get(&self, name: &str) -> Option<&'a EvalAttr> {
        self.body
            .attrs
            .iter()
            .find(|a| a.name == name && !a.value.is_null())
    }

    fn err(&mut self, d: Diagnostic) {
        self.ok = false;
        self.diags.push(d);
    }

    fn missing(&mut self, name: &str) {
        let d = Diagnostic::error(
            "config::missing_attribute",
            format!("`{}` needs the attribute `{name}`", self.what),
        )
        .label(self.header, format!("`{name}` is missing"));
        self.err(d);
    }

    fn wrong(&mut self, a: &EvalAttr, expected: &str) {
        let d = Diagnostic::error(
            "config::type",
            format!(
                "`{}` must be {expected}, found {}",
                a.name,
                type_name(&a.value)
            ),
        )
        .label(a.span, format!("expected {expected}"));
        self.err(d);
    }

    fn string(&mut self, name: &str) -> Option<Spanned<String>> {
        let a = self.get(name)?;
        match display_scalar(&a.value) {
            Some(s) if !a.value.is_boolean() => Some(Spanned::new(s, a.span)),
            _ => {
                self.wrong(a, "a string");
                None
            }
        }
    }

    fn req_string(&mut self, name: &str) -> Option<Spanned<String>> {
        if self.get(name).is_none() {
            self.missing(name);
            return None;
        }
        let s = self.string(name)?;
        if s.value.is_empty() {
            let d = Diagnostic::error("config::bad_value", format!("`{name}` must not be empty"))
                .label(s.span, "empty");
            self.err(d);
            return None;
        }
        Some(s)
    }

    /// An optional explicit name of an ASR object (`config::asr_name` when ARM would refuse it).
    fn asr_name(&mut self, name: &str) -> Option<Spanned<String>> {
        let s = self.string(name)?;
        if let Err(why) = naming::check_name(&s.value) {
            let d = Diagnostic::error(
                "config::asr_name",
                format!("`{name}` {why}: {:?} cannot name an ASR object", s.value),
            )
            .label(s.span, "not a valid ARM name")
            .help(
                "leave it out to use asrform's name, or give the name the object has in the vault",
            );
            self.err(d);
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, name: &str, default: bool) -> Spanned<bool> {
        match self.get(name) {
            None => Spanned::new(default, self.header),
            Some(a) => match &a.value {
                Value::Bool(b) => Spanned::new(*b, a.span),
                _ => {
                    self.wrong(a, "true or false");
                    Spanned::new(default, a.span)
                }
            },
        }
    }

    fn number(&mut self, name: &str) -> Option<(f64, Span)> {
        let a = self.get(name)?;
        match &a.value {
            Value::Number(n) => n.as_f64().map(|f| (f, a.span)),
            _ => {
                self.wrong(a, "a number");
                None
            }
        }
    }

    fn uint(&mut self, name: &str, default: u32, range: std::ops::RangeInclusive<u32>) -> u32 {
        let Some((f, span)) = self.number(name) else {
            return default;
        };
        if f.fract() != 0.0 || f < *range.start() as f64 || f > *range.end() as f64 {
            let d = Diagnostic::error(
                "config::bad_value",
                format!(
                    "`{name}` must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
            .label(span, "out of range");
            self.err(d);
            return default;
        }
        f as u32
    }

    fn one_of(&mut self, name: &str, allowed: &[&str]) -> Option<Spanned<String>> {
        let s = self.string(name)?;
        if allowed.contains(&s.value.as_str()) {
            return Some(s);
        }
        let list = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let d = Diagnostic::error(
            "config::bad_value",
            format!("`{name}` must be one of {list}, found \"{}\"", s.value),
        )
        .label(s.span, "not an allowed value")
        .maybe_help(did_you_mean(&s.value, allowed.iter().copied()));
        self.err(d);
        None
    }

    fn region(&mut self, name: &str, required: bool) -> Option<Spanned<String>> {
        let s = if required {
            self.req_string(name)?
        } else {
            self.string(name)?
        };
        match crate::region::canonical(&s.value) {
            Some(r) => Some(Spanned::new(r.to_string(), s.span)),
            None => {
                let d = Diagnostic::error(
                    "config::region",
                    format!("unknown Azure region `{}`", s.value),
                )
                .label(s.span, "not a region")
                .maybe_help(
                    crate::region::suggest(&s.value).map(|r| format!("did you mean `{r}`?")),
                );
                self.err(d);
                None
            }
        }
    }

    fn duration(&mut self, name: &str) -> Option<Spanned<Duration>> {
        let s = self.string(name)?;
        match parse_duration(&s.value) {
            Ok(d) => Some(Spanned::new(d, s.span)),
            Err(msg) => {
                let d = Diagnostic::error("config::duration", msg).label(s.span, "not a duration");
                self.err(d);
                None
            }
        }
    }

    fn arm_id(&mut self, name: &str, required: bool, ty: Option<&str>) -> Option<Spanned<ArmId>> {
        let s = if required {
            self.req_string(name)?
        } else {
            self.string(name)?
        };
        match ArmId::parse_declared(&s.value) {
            Ok(id) => {
                if let Some(ty) = ty
                    && !id.is_type(ty)
                {
                    let d = Diagnostic::error(
                        "config::arm_id",
                        format!("`{name}` must be the ARM id of a `{ty}`"),
                    )
                    .label(
                        s.span,
                        format!(
                            "this is {}",
                            id.resource_type()
                                .map_or("not a resource id".into(), |t| format!("a `{t}`"))
                        ),
                    );
                    self.err(d);
                    return None;
                }
                Some(Spanned::new(id, s.span))
            }
            Err(msg) => {
                let d = Diagnostic::error("config::arm_id", format!("`{name}` is not an ARM id: {msg}")).label(s.span, "not an ARM id").help(
                    "ARM ids look like /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>",
                );
                self.err(d);
                None
            }
        }
    }

    fn reference(
        &mut self,
        name: &str,
        kind: ResourceKind,
        required: bool,
    ) -> Option<Spanned<ResourceAddr>> {
        let Some(a) = self.get(name) else {
            if required {
                self.missing(name);
            }
            return None;
        };
        match addr_of(&a.value) {
            Some(addr) if addr.kind == kind => Some(Spanned::new(addr, a.span)),
            Some(addr) => {
                let d = Diagnostic::error(
                    "config::reference_kind",
                    format!("`{name}` must refer to a `{kind}` block, not `{addr}`"),
                )
                .label(a.span, format!("expected `{kind}.<name>`"));
                self.err(d);
                None
            }
            None => {
                let help = match &a.value {
                    Value::Object(o)
                        if o.values().all(|v| addr_of(v).is_some()) && !o.is_empty() =>
                    {
                        format!(
                            "this block uses for_each: pick one instance, e.g. `{kind}.<name>[\"{}\"]`",
                            o.keys().next().map_or("", |k| k)
                        )
                    }
                    _ => format!("write a reference such as `{kind}.<name>`"),
                };
                let d = Diagnostic::error(
                    "config::type",
                    format!(
                        "`{name}` must be a reference to a `{kind}` block, found {}",
                        type_name(&a.value)
                    ),
                )
                .label(a.span, format!("expected `{kind}.<name>`"))
                .help(help);
                self.err(d);
                None
            }
        }
    }

    fn rg(
        &mut self,
        env: &DecodeEnv,
        name: &str,
    ) -> Option<(Spanned<RgRef>, Option<&'static str>, Option<String>)> {
        let Some(a) = self.get(name) else {
            self.missing(name);
            return None;
        };
        if let Value::Object(_) = a.value {
            let r = self.reference(name, ResourceKind::ResourceGroup, true)?;
            let Some(Resource {
                body: ResourceBody::ResourceGroup(g),
                ..
            }) = env.resources.get(&r.value)
            else {
                return None;
            };
            let rg = RgRef {
                name: g.name.value.clone(),
                block: Some(r.value.clone()),
            };
            let loc = crate::region::canonical(&g.location.value);
            return Some((Spanned::new(rg, r.span), loc, g.subscription_id.clone()));
        }
        let s = self.req_string(name)?;
        Some((
            Spanned::new(
                RgRef {
                    name: s.value,
                    block: None,
                },
                s.span,
            ),
            None,
            None,
        ))
    }

    fn tags(&mut self, name: &str) -> Tags {
        let Some(a) = self.get(name) else {
            return Tags::new();
        };
        let Value::Object(o) = &a.value else {
            self.wrong(a, "a map of strings");
            return Tags::new();
        };
        let mut out = Tags::new();
        for (k, v) in o {
            match display_scalar(v) {
                Some(s) => {
                    out.insert(k.clone(), s);
                }
                None => {
                    self.wrong(a, "a map of strings");
                    break;
                }
            }
        }
        out
    }

    fn cidr_value(&mut self, v: &Value, span: Span, what: &str) -> Option<Ipv4Net> {
        let Some(s) = v.as_str() else {
            let d = Diagnostic::error(
                "config::type",
                format!("{what} must be a CIDR string like \"10.0.0.0/16\""),
            )
            .label(span, "not a string");
            self.err(d);
            return None;
        };
        match s.parse::<Ipv4Net>() {
            Ok(n) if n.network() == n.addr() => Some(n),
            Ok(n) => {
                let d = Diagnostic::error("config::cidr", format!("`{s}` has host bits set"))
                    .label(span, "not a network address")
                    .help(format!("did you mean `{}`?", n.trunc()));
                self.err(d);
                None
            }
            Err(_) => {
                let d =
                    Diagnostic::error("config::cidr", format!("`{s}` is not an IPv4 CIDR prefix"))
                        .label(span, "expected something like \"10.20.0.0/16\"");
                self.err(d);
                None
            }
        }
    }

    fn ip(&mut self, name: &str) -> Option<Spanned<Ipv4Addr>> {
        let s = self.string(name)?;
        match s.value.parse::<Ipv4Addr>() {
            Ok(ip) => Some(Spanned::new(ip, s.span)),
            Err(_) => {
                let d = Diagnostic::error(
                    "config::ip",
                    format!("`{}` is not an IPv4 address", s.value),
                )
                .label(s.span, "expected something like \"10.20.1.4\"");
                self.err(d);
                None
            }
        }
    }

    fn blocks(&self, ident: &str) -> Vec<&'a EvalBlock> {
        self.body
            .blocks
            .iter()
            .filter(|b| b.ident == ident)
            .collect()
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn subscription_or(env: &DecodeEnv, f: &mut F, from_rg: Option<String>) -> Option<String> {
    f.string("subscription_id")
        .map(|s| s.value)
        .or(from_rg)
        .or_else(|| env.default_subscription.map(str::to_string))
}

/// Decodes one resource instance.
pub(crate) fn resource(
    kind: ResourceKind,
    env: &DecodeEnv,
    body: &EvalBody,
    header: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<Decoded> {
    let lifecycle = lifecycle(kind, body, diags)?;
    let mut f = F::new(body, header, kind.as_str(), diags);
    let mut extras: Vec<(&'static str, Value)> = Vec::new();
    let (rbody, id) = match kind {
        ResourceKind::ResourceGroup => {
            let name = f.req_string("name");
            let location = f.region("location", true);
            let sub = subscription_or(env, &mut f, None);
            let tags = f.tags("tags");
            let (name, location) = (name?, location?);
            let id = sub.as_deref().map(|s| naming::resource_group_id(s, &name));
            (
                ResourceBody::ResourceGroup(ResourceGroup {
                    name,
                    location,
                    subscription_id: sub,
                    tags,
                }),
                id,
            )
        }
        ResourceKind::VirtualNetwork => {
            let name = f.req_string("name");
            let rg = f.rg(env, "resource_group");
            let loc = f.region("location", false);
            let mut space = Vec::new();
            match f.get("address_space") {
                None => f.missing("address_space"),
                Some(a) => match &a.value {
                    Value::Array(items) if !items.is_empty() => {
                        for v in items {
                            if let Some(n) = f.cidr_value(v, a.span, "each address space entry") {
                                space.push(Spanned::new(n, a.span));
                            }
                        }
                    }
                    _ => f.wrong(a, "a non-empty list of CIDR prefixes"),
                },
            }
            let mut subnets: Vec<Subnet> = Vec::new();
            for b in f.blocks("subnet") {
                let label = b.labels[0].clone();
                let mut sf = F::new(
                    &b.body,
                    b.header,
                    format!("subnet \"{}\"", label.value),
                    f.diags,
                );
                let prefix = match sf.get("address_prefix") {
                    None => {
                        sf.missing("address_prefix");
                        None
                    }
                    Some(a) => sf
                        .cidr_value(&a.value, a.span, "`address_prefix`")
                        .map(|n| Spanned::new(n, a.span)),
                };
                f.ok &= sf.ok;
                let Some(prefix) = prefix else { continue };
                if let Some(first) = subnets.iter().find(|s| s.name.value == label.value) {
                    f.err(
                        Diagnostic::error(
                            "config::duplicate",
                            format!("subnet `{}` is declared twice", label.value),
                        )
                        .label(label.span, "declared again here")
                        .label(first.name.span, "first declared here"),
                    );
                    continue;
                }
                if !space.is_empty() && !space.iter().any(|n| n.value.contains(&prefix.value)) {
                    f.err(
                        Diagnostic::error(
                            "config::subnet_outside",
                            format!(
                                "subnet `{}` ({}) is outside the network's address space",
                                label.value, prefix.value
                            ),
                        )
                        .label(prefix.span, "not inside any address_space prefix"),
                    );
                }
                if let Some(other) = subnets.iter().find(|s| {
                    s.address_prefix.value.contains(&prefix.value.network())
                        || prefix.value.contains(&s.address_prefix.value.network())
                }) {
                    f.err(
                        Diagnostic::error(
                            "config::subnet_overlap",
                            format!(
                                "subnets `{}` and `{}` overlap",
                                other.name.value, label.value
                            ),
                        )
                        .label(prefix.span, "overlaps")
                        .label(other.address_prefix.span, "this subnet"),
                    );
                }
                subnets.push(Subnet {
                    name: label,
                    address_prefix: prefix,
                });
            }
            let tags = f.tags("tags");
            let (name, (rg, rg_loc, rg_sub)) = (name?, rg?);
            let location = match (loc, rg_loc) {
                (Some(l), _) => l,
                (None, Some(l)) => Spanned::new(l.to_string(), rg.span),
                (None, None) => {
                    f.err(
                        Diagnostic::error("config::missing_attribute", "`virtual_network` needs `location` when `resource_group` is a name")
                            .label(header, "`location` is missing")
                            .help("set `location`, or refer to a `resource_group` block to inherit its location"),
                    );
                    return None;
                }
            };
            let sub = subscription_or(env, &mut f, rg_sub);
            let id = sub.as_deref().map(|s| {
                naming::resource_id(s, &rg.name, "Microsoft.Network/virtualNetworks", &name)
            });
            let mut smap = Map::new();
            for sn in &subnets {
                let mut o = Map::new();
                o.insert("name".into(), s(&sn.name));
                o.insert(
                    "address_prefix".into(),
                    s(&sn.address_prefix.value.to_string()),
                );
                o.insert(
                    "id".into(),
                    id.as_ref().map_or(Value::Null, |i| {
                        s(&format!("{i}/subnets/{}", sn.name.value))
                    }),
                );
                smap.insert(sn.name.value.clone(), Value::Object(o));
            }
            extras.push(("subnet", Value::Object(smap)));
            extras.push(("location", s(&location)));
            (
                ResourceBody::VirtualNetwork(VirtualNetwork {
                    name,
                    resource_group: rg,
                    location,
                    address_space: space,
                    subnets,
                    subscription_id: sub,
                    tags,
                }),
                id,
            )
        }
        ResourceKind::StorageAccount => {
            let name = f.req_string("name");
            if let Some(n) = &name {
                let valid = (3..=24).contains(&n.len())
                    && n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                if !valid {
                    f.err(
                        Diagnostic::error(
                            "config::bad_value",
                            format!("`{}` is not a valid storage account name", n.value),
                        )
                        .label(n.span, "3–24 lowercase letters and digits"),
                    );
                }
            }
            let rg = f.rg(env, "resource_group");
            let location = f.region("location", true);
            let kind_s = f.one_of("kind", &["StorageV2", "Storage", "BlockBlobStorage"]);
            let skind = match kind_s.as_ref().map(|k| k.value.as_str()) {
                Some("Storage") => StorageKind::Storage,
                Some("BlockBlobStorage") => StorageKind::BlockBlobStorage,
                _ => StorageKind::StorageV2,
            };
            let tags = f.tags("tags");
            let (name, (rg, _, rg_sub), location) = (name?, rg?, location?);
            let sub = subscription_or(env, &mut f, rg_sub);
            let id = sub.as_deref().map(|s| {
                naming::resource_id(s, &rg.name, "Microsoft.Storage/storageAccounts", &name)
            });
            (
                ResourceBody::StorageAccount(StorageAccount {
                    name,
                    resource_group: rg,
                    location,
                    kind: skind,
                    subscription_id: sub,
                    tags,
                }),
                id,
            )
        }
        ResourceKind::AvailabilitySet => {
            let name = f.req_string("name");
            let rg = f.rg(env, "resource_group");
            let loc = f.region("location", false);
            let fault_domains = f.uint("fault_domains", 2, 1..=3);
            let update_domains = f.uint("update_domains", 5, 1..=20);
            let tags = f.tags("tags");
            let (name, (rg, rg_loc, rg_sub)) = (name?, rg?);
            let Some(location) =
                loc.or_else(|| rg_loc.map(|l| Spanned::new(l.to_string(), rg.span)))
            else {
                f.err(
                    Diagnostic::error(
                        "config::missing_attribute",
                        "`availability_set` needs `location` when `resource_group` is a name",
                    )
                    .label(header, "`location` is missing"),
                );
                return None;
            };
            extras.push(("location", s(&location)));
            let sub = subscription_or(env, &mut f, rg_sub);
            let id = sub.as_deref().map(|s| {
                naming::resource_id(s, &rg.name, "Microsoft.Compute/availabilitySets", &name)
            });
            (
                ResourceBody::AvailabilitySet(AvailabilitySet {
                    name,
                    resource_group: rg,
                    location,
                    fault_domains,
                    update_domains,
                    subscription_id: sub,
                    tags,
                }),
                id,
            )
        }
        ResourceKind::Vault => {
            let name = f.req_string("name");
            let rg = f.rg(env, "resource_group");
            let location = f.region("location", true);
            let tags = f.tags("tags");
            let (name, (rg, _, rg_sub), location) = (name?, rg?, location?);
            let sub = subscription_or(env, &mut f, rg_sub);
            let id = sub.as_deref().map(|s| {
                naming::resource_id(s, &rg.name, "Microsoft.RecoveryServices/vaults", &name)
            });
            (
                ResourceBody::Vault(Vault {
                    name,
                    resource_group: rg,
                    location,
                    subscription_id: sub,
                    tags,
                }),
                id,
            )
        }
        ResourceKind::ReplicationPolicy => {
            let vault = f.reference("vault", ResourceKind::Vault, true);
            let name = f
                .string("name")
                .unwrap_or_else(|| Spanned::new(naming::instance_name(env.label, env.key), header));
            let retention = match f.get("recovery_point_retention") {
                Some(_) => f.duration("recovery_point_retention"),
                None => Some(Spanned::new(Duration::from_secs(24 * 3600), header)),
            };
            let app = f.duration("app_consistent_interval");
            let multi_vm_sync = f.bool("multi_vm_sync", true);
            let (vault, retention) = (vault?, retention?);
            let id = env
                .resources
                .get(&vault.value)
                .and_then(|v| v.id.as_ref())
                .map(|v| format!("{v}/replicationPolicies/{}", name.value));
            extras.push(("name", s(&name)));
            (
                ResourceBody::ReplicationPolicy(ReplicationPolicy {
                    vault,
                    name,
                    recovery_point_retention: retention,
                    app_consistent_interval: app,
                    multi_vm_sync,
                }),
                id,
            )
        }
        ResourceKind::RegionPair => {
            let vault = f.reference("vault", ResourceKind::Vault, true);
            let source = f.region("source", true);
            let target = f.region("target", true);
            let policy = f.reference("policy", ResourceKind::ReplicationPolicy, true);
            let auto = f.bool("agent_auto_update", false);
            let account = f.arm_id(
                "automation_account",
                false,
                Some("Microsoft.Automation/automationAccounts"),
            );
            if auto.value && account.is_none() && f.get("automation_account").is_none() {
                f.err(
                    Diagnostic::error("config::missing_attribute", "`agent_auto_update = true` needs an `automation_account`")
                        .label(auto.span, "auto-update is on here")
                        .help("set `automation_account` to the ARM id of the Automation account ASR should use"),
                );
            }
            let (vault, source, target, policy) = (vault?, source?, target?, policy?);
            if let Some(Resource {
                body: ResourceBody::ReplicationPolicy(p),
                ..
            }) = env.resources.get(&policy.value)
                && p.vault.value != vault.value
            {
                f.err(
                    Diagnostic::error(
                        "config::vault_mismatch",
                        format!(
                            "`{}` belongs to `{}`, not `{}`",
                            policy.value, p.vault.value, vault.value
                        ),
                    )
                    .label(policy.span, "policy of another vault"),
                );
            }
            let mut names = naming::PairNames::defaults(
                &naming::instance_name(env.label, env.key),
                &source.value,
                &target.value,
            );
            let mut name_spans = BTreeMap::new();
            for (attr, _) in names.clone().attributes() {
                if let Some(n) = f.asr_name(attr) {
                    names.set(attr, n.value);
                    name_spans.insert(attr, n.span);
                }
            }
            let vault_id = env.resources.get(&vault.value).and_then(|v| v.id.clone());
            if let Some(v) = &vault_id {
                extras.push(("source_fabric_id", s(&names.source_fabric_id(v))));
                extras.push(("target_fabric_id", s(&names.target_fabric_id(v))));
                extras.push(("source_container_id", s(&names.source_container_id(v))));
                extras.push(("target_container_id", s(&names.target_container_id(v))));
                extras.push(("forward_mapping_id", s(&names.forward_mapping_id(v))));
                extras.push(("reverse_mapping_id", s(&names.reverse_mapping_id(v))));
            }
            let id = vault_id.map(|v| names.forward_mapping_id(&v));
            (
                ResourceBody::RegionPair(RegionPair {
                    vault,
                    source,
                    target,
                    policy,
                    agent_auto_update: auto,
                    automation_account: account,
                    names,
                    name_spans,
                }),
                id,
            )
        }
        ResourceKind::NetworkMapping => {
            let pair = f.reference("region_pair", ResourceKind::RegionPair, true);
            let source = f.arm_id(
                "source_network",
                true,
                Some("Microsoft.Network/virtualNetworks"),
            );
            let target = match f.get("target_network") {
                None => {
                    f.missing("target_network");
                    None
                }
                Some(a) if matches!(a.value, Value::Object(_)) => f
                    .reference("target_network", ResourceKind::VirtualNetwork, true)
                    .map(|r| Spanned::new(NetworkRef::Block(r.value), r.span)),
                Some(_) => f
                    .arm_id(
                        "target_network",
                        true,
                        Some("Microsoft.Network/virtualNetworks"),
                    )
                    .map(|r| Spanned::new(NetworkRef::Id(r.value), r.span)),
            };
            let name = f
                .asr_name("name")
                .unwrap_or_else(|| Spanned::new(naming::instance_name(env.label, env.key), header));
            let reverse_name = f.asr_name("reverse_name").unwrap_or_else(|| name.clone());
            extras.push(("name", s(&name)));
            extras.push(("reverse_name", s(&reverse_name)));
            let (pair, source, target) = (pair?, source?, target?);
            let id = pair_info(env, &pair.value)
                .map(|(v, names)| names.network_mapping_id(&v, source.value.name(), &name.value));
            (
                ResourceBody::NetworkMapping(NetworkMapping {
                    region_pair: pair,
                    source_network: source,
                    target_network: target,
                    name,
                    reverse_name,
                }),
                id,
            )
        }
        ResourceKind::ProtectedVm => {
            let source_vm = f.arm_id("source_vm", true, Some("Microsoft.Compute/virtualMachines"));
            let pair = f.reference("region_pair", ResourceKind::RegionPair, true);
            let cache = f.reference("cache_storage", ResourceKind::StorageAccount, true);
            let trg = f.reference("target_resource_group", ResourceKind::ResourceGroup, true);
            let tnet = f.reference("target_network", ResourceKind::VirtualNetwork, true);
            let tsub = f.req_string("target_subnet");
            let tname = f.string("target_vm_name");
            let tsize = f.string("target_vm_size");
            let avset = f.reference(
                "target_availability_set",
                ResourceKind::AvailabilitySet,
                false,
            );
            let zone = f.one_of("target_zone", &["1", "2", "3"]);
            let test_network = f.reference("test_network", ResourceKind::VirtualNetwork, false);
            let group = f.string("consistency_group");
            let mut disks = Vec::new();
            for b in f.blocks("disk") {
                let selector = b.labels[0].clone();
                glob_check(&mut f, &selector);
                let mut df = F::new(
                    &b.body,
                    b.header,
                    format!("disk \"{}\"", selector.value),
                    f.diags,
                );
                let target = disk_type(&mut df, "target_disk_type", true);
                let replica = disk_type(&mut df, "replica_disk_type", false);
                f.ok &= df.ok;
                if let Some(target) = target {
                    disks.push(DiskSettings {
                        selector,
                        target_disk_type: target,
                        replica_disk_type: replica,
                    });
                }
            }
            let mut nics = Vec::new();
            for b in f.blocks("nic") {
                let selector = b.labels[0].clone();
                if !is_nic_index(&selector.value) {
                    glob_check(&mut f, &selector);
                }
                let mut nf = F::new(
                    &b.body,
                    b.header,
                    format!("nic \"{}\"", selector.value),
                    f.diags,
                );
                let n = NicSettings {
                    selector,
                    target_subnet: nf.string("target_subnet"),
                    target_static_ip: nf.ip("target_static_ip"),
                    test_subnet: nf.string("test_subnet"),
                    test_static_ip: nf.ip("test_static_ip"),
                };
                f.ok &= nf.ok;
                nics.push(n);
            }
            let (source_vm, pair, cache, trg, tnet, tsub) =
                (source_vm?, pair?, cache?, trg?, tnet?, tsub?);
            let target_vm_name = tname.unwrap_or_else(|| {
                Spanned::new(source_vm.value.name().to_string(), source_vm.span)
            });
            extras.push(("target_vm_name", s(&target_vm_name)));
            let id = pair_info(env, &pair.value)
                .map(|(v, names)| names.protected_item_id(&v, source_vm.value.name()));
            (
                ResourceBody::ProtectedVm(ProtectedVm {
                    source_vm,
                    region_pair: pair,
                    cache_storage: cache,
                    target_resource_group: trg,
                    target_network: tnet,
                    target_subnet: tsub,
                    target_vm_name,
                    target_vm_size: tsize,
                    target_availability_set: avset,
                    target_zone: zone,
                    test_network,
                    consistency_group: group,
                    disks,
                    nics,
                }),
                id,
            )
        }
        ResourceKind::RecoveryPlan => {
            let vault = f.reference("vault", ResourceKind::Vault, true);
            let pair = f.reference("region_pair", ResourceKind::RegionPair, true);
            let name = f
                .string("name")
                .unwrap_or_else(|| Spanned::new(naming::instance_name(env.label, env.key), header));
            let active = f.one_of("active_site", &["primary", "recovery"]).map(|a| {
                Spanned::new(
                    if a.value == "recovery" {
                        ActiveSite::Recovery
                    } else {
                        ActiveSite::Primary
                    },
                    a.span,
                )
            });
            let max_rpo = f.duration("max_rpo");
            let max_drill_age = f.duration("max_drill_age");
            let mut groups = Vec::new();
            for b in f.blocks("group") {
                let mut gf = F::new(&b.body, b.header, "group", f.diags);
                let mut vms = Vec::new();
                match gf.get("vms") {
                    None => gf.missing("vms"),
                    Some(a) => {
                        if !collect_vms(&a.value, a.span, &mut vms) {
                            gf.wrong(a, "a list of `protected_vm` references");
                        } else if let Some(bad) = vms.iter().find(|v: &&Spanned<ResourceAddr>| {
                            v.value.kind != ResourceKind::ProtectedVm
                        }) {
                            let d = Diagnostic::error(
                                "config::reference_kind",
                                format!(
                                    "recovery plan groups hold protected VMs, not `{}`",
                                    bad.value
                                ),
                            )
                            .label(a.span, "expected `protected_vm` references");
                            gf.err(d);
                        }
                    }
                }
                let pre = actions(&mut gf, b, "pre_action");
                let post = actions(&mut gf, b, "post_action");
                f.ok &= gf.ok;
                groups.push(PlanGroup {
                    vms,
                    pre_actions: pre,
                    post_actions: post,
                    span: b.header,
                });
            }
            let (vault, pair) = (vault?, pair?);
            let id = env
                .resources
                .get(&vault.value)
                .and_then(|v| v.id.as_ref())
                .map(|v| format!("{v}/replicationRecoveryPlans/{}", name.value));
            extras.push(("name", s(&name)));
            (
                ResourceBody::RecoveryPlan(RecoveryPlan {
                    vault,
                    region_pair: pair,
                    name,
                    groups,
                    active_site: active,
                    max_rpo,
                    max_drill_age,
                }),
                id,
            )
        }
    };
    if !f.ok {
        return None;
    }
    Some(Decoded {
        body: rbody,
        id,
        lifecycle,
        extras,
    })
}

/// The vault id and the object names of a region pair decoded earlier.
fn pair_info<'e>(
    env: &'e DecodeEnv,
    pair: &ResourceAddr,
) -> Option<(String, &'e naming::PairNames)> {
    let Resource {
        body: ResourceBody::RegionPair(p),
        ..
    } = env.resources.get(pair)?
    else {
        return None;
    };
    let vault_id = env.resources.get(&p.vault.value)?.id.clone()?;
    Some((vault_id, &p.names))
}

fn is_nic_index(s: &str) -> bool {
    s.strip_prefix("nic")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn glob_check(f: &mut F, selector: &Spanned<String>) {
    if let Err(e) = globset::Glob::new(&selector.value) {
        let d = Diagnostic::error(
            "config::glob",
            format!("`{}` is not a valid glob: {}", selector.value, e.kind()),
        )
        .label(
            selector.span,
            "selectors are globs such as \"*\" or \"*-data*\"",
        );
        f.err(d);
    }
}

fn disk_type(f: &mut F, name: &str, required: bool) -> Option<Spanned<DiskType>> {
    if required && f.get(name).is_none() {
        f.missing(name);
        return None;
    }
    let s = f.string(name)?;
    match DiskType::parse(&s.value) {
        Some(d) => Some(Spanned::new(d, s.span)),
        None => {
            let d = Diagnostic::error(
                "config::bad_value",
                format!("unknown disk type \"{}\"", s.value),
            )
            .label(s.span, "not one of ASR's disk types")
            .help(
                match super::diag::suggest(&s.value, DiskType::ALL.iter().map(|d| d.as_str())) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!(
                        "use one of {}",
                        DiskType::ALL.map(|d| d.as_str()).join(", ")
                    ),
                },
            );
            f.err(d);
            None
        }
    }
}

fn collect_vms(v: &Value, span: Span, out: &mut Vec<Spanned<ResourceAddr>>) -> bool {
    if let Some(addr) = addr_of(v) {
        out.push(Spanned::new(addr, span));
        return true;
    }
    match v {
        Value::Array(items) => items.iter().all(|i| collect_vms(i, span, out)),
        // A whole for_each block (`protected_vm.web`) is a map of instances: take them in key order.
        Value::Object(o) if !o.is_empty() => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            keys.into_iter().all(|k| collect_vms(&o[k], span, out))
        }
        _ => false,
    }
}

fn actions(f: &mut F, group: &EvalBlock, ident: &str) -> Vec<PlanAction> {
    let mut out = Vec::new();
    for b in group.body.blocks.iter().filter(|b| b.ident == ident) {
        let label = b.labels[0].clone();
        let mut af = F::new(
            &b.body,
            b.header,
            format!("{ident} \"{}\"", label.value),
            f.diags,
        );
        let ty = af.one_of("type", &["manual", "script"]);
        if af.get("type").is_none() {
            af.missing("type");
        }
        let timeout = af.duration("timeout").map(|d| d.value);
        let kind = match ty.as_ref().map(|t| t.value.as_str()) {
            Some("manual") => af.req_string("instructions").map(|i| ActionKind::Manual {
                instructions: i.value,
            }),
            Some("script") => af
                .req_string("script")
                .map(|s| ActionKind::Script { script: s.value }),
            _ => None,
        };
        f.ok &= af.ok;
        if let Some(kind) = kind {
            out.push(PlanAction {
                name: label,
                kind,
                timeout,
            });
        }
    }
    out
}

fn lifecycle(
    kind: ResourceKind,
    body: &EvalBody,
    diags: &mut Vec<Diagnostic>,
) -> Option<Lifecycle> {
    let mut out = Lifecycle::default();
    let Some(b) = body.blocks.iter().find(|b| b.ident == "lifecycle") else {
        return Some(out);
    };
    let mut f = F::new(&b.body, b.header, "lifecycle", diags);
    out.prevent_destroy = f.bool("prevent_destroy", false).value;
    out.prevent_reseed = f.bool("prevent_reseed", false).value;
    if let Some(a) = f.get("ignore_changes") {
        let known = schema::resource(kind).attrs;
        for v in a.value.as_array().into_iter().flatten() {
            let name = v.as_str().unwrap_or_default();
            if !known.contains(&name) {
                let d = Diagnostic::error(
                    "config::unknown_attribute",
                    format!("`ignore_changes` names `{name}`, which `{kind}` does not have"),
                )
                .label(a.span, "unknown attribute name")
                .maybe_help(did_you_mean(name, known.iter().copied()));
                f.err(d);
            } else {
                out.ignore_changes.push(name.to_string());
            }
        }
    }
    f.ok.then_some(out)
}

/// The value a reference to this instance evaluates to: its attributes as written, computed attributes, `id` and
/// `address`.
pub(crate) fn reference_value(addr: &ResourceAddr, body: EvalBody, d: &mut Decoded) -> Value {
    // The evaluated body is not needed once decoded, so its values move into the reference value instead of being
    // copied (a copy of every attribute of every instance was a tenth of the 10,000-VM load).
    let mut o = Map::with_capacity(body.attrs.len() + d.extras.len() + 2);
    for a in body.attrs {
        o.insert(a.name, compact(a.value));
    }
    for (k, v) in std::mem::take(&mut d.extras) {
        o.insert(k.to_string(), v);
    }
    o.insert("id".into(), d.id.as_ref().map_or(Value::Null, |i| s(i)));
    o.insert("address".into(), Value::String(addr.to_string()));
    Value::Object(o)
}

/// The value of an instance that nothing reads beyond `address`, `id` and `name` (no `__resource` call or template
/// names its block): exactly what `__ref` makes of [`reference_value`]'s map (`funcs::compact`), built without
/// building that map, whose attributes a 10,000-VM fleet would otherwise hash, copy and keep for the whole load.
pub(crate) fn compact_reference_value(addr: &ResourceAddr, body: EvalBody, d: &Decoded) -> Value {
    let mut o = Map::with_capacity(3);
    o.insert("address".into(), Value::String(addr.to_string()));
    o.insert("id".into(), d.id.as_ref().map_or(Value::Null, |i| s(i)));
    // `reference_value` inserts the attributes, then the computed ones over them.
    let name = match d.extras.iter().rev().find(|(k, _)| *k == "name") {
        Some((_, v)) => Some(v.clone()),
        None => body
            .attrs
            .into_iter()
            .rev()
            .find(|a| a.name == "name")
            .map(|a| compact(a.value)),
    };
    if let Some(name) = name {
        o.insert("name".into(), name);
    }
    Value::Object(o)
}

/// A referenced resource inside another resource's value keeps only `address`, `id` and `name`: enough to follow it,
/// and it keeps a VM's value from embedding its region pair, vault and policy (10,000 times over).
fn compact(v: Value) -> Value {
    const KEPT: [&str; 3] = ["address", "id", "name"];
    match v {
        // Already compact (what `__ref` returns for a whole-value reference): kept as it is.
        Value::Object(o) if o.keys().eq(KEPT.iter().copied()) => Value::Object(o),
        Value::Object(mut o) if o.contains_key("address") => Value::Object(
            KEPT.iter()
                .filter_map(|k| o.swap_remove(*k).map(|x| (k.to_string(), x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

/// `description` and `sensitive` of a variable or output.
pub(crate) fn description_sensitive(
    body: &EvalBody,
    diags: &mut Vec<Diagnostic>,
) -> (Option<String>, bool) {
    let mut f = F::new(body, Span::default(), "variable", diags);
    let description = f.string("description").map(|s| s.value);
    let sensitive = f.bool("sensitive", false).value;
    (description, sensitive)
}

/// Decodes an `output` block.
pub(crate) fn output(
    name: &str,
    body: &EvalBody,
    header: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<Output> {
    let value = match body.attrs.iter().find(|a| a.name == "value") {
        Some(a) => a.value.clone(),
        None => {
            F::new(body, header, "output", diags).missing("value");
            return None;
        }
    };
    let (description, sensitive) = description_sensitive(body, diags);
    Some(Output {
        name: name.to_string(),
        value,
        sensitive,
        description,
        span: header,
    })
}

/// Decodes the provider block.
pub(crate) fn provider(
    label: &str,
    body: &EvalBody,
    header: Span,
    dir: Option<&Path>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Spanned<Provider>> {
    let mut f = F::new(body, header, format!("provider \"{label}\""), diags);
    let p = if label == "simulator" {
        let estate = f.req_string("estate");
        let speed = f.number("clock_speed").map_or(60.0, |n| n.0);
        if speed <= 0.0 {
            let span = f.get("clock_speed").map_or(header, |a| a.span);
            f.err(
                Diagnostic::error(
                    "config::bad_value",
                    "`clock_speed` must be greater than zero",
                )
                .label(span, "not positive"),
            );
        }
        let page_size = f.uint("page_size", 100, 1..=100_000);
        let endpoint = f.string("endpoint");
        if let Some(e) = &endpoint {
            let ok = url::Url::parse(&e.value).ok().filter(|u| {
                u.scheme() == "http"
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
            });
            if ok.is_none() {
                f.err(
                    Diagnostic::error(
                        "config::endpoint",
                        format!(
                            "the simulator endpoint `{}` must be an http URL on 127.0.0.1, localhost or [::1]",
                            e.value
                        ),
                    )
                    .label(e.span, "not a loopback URL"),
                );
            }
        }
        let estate = estate?;
        let path = match dir {
            Some(d) => d.join(&estate.value),
            None => PathBuf::from(&estate.value),
        };
        Provider::Simulator {
            estate: Spanned::new(path, estate.span),
            clock_speed: speed,
            page_size,
            endpoint: endpoint.map(|e| e.value),
        }
    } else {
        let sub = f.req_string("subscription_id");
        let tenant = f.string("tenant_id").map(|s| s.value);
        let auth = f
            .one_of("auth", &AzureAuth::NAMES)
            .and_then(|a| AzureAuth::parse(&a.value))
            .unwrap_or(AzureAuth::Default);
        let client_id = f.string("client_id").map(|s| s.value);
        let cloud = match f
            .one_of("cloud", &["public", "usgovernment", "china"])
            .as_ref()
            .map(|c| c.value.as_str())
        {
            Some("usgovernment") => AzureCloud::UsGovernment,
            Some("china") => AzureCloud::China,
            _ => AzureCloud::Public,
        };
        let endpoint = f.string("endpoint");
        if let Some(e) = &endpoint {
            let loopback =
                |u: &url::Url| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            match url::Url::parse(&e.value) {
                Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && loopback(&u)) => {}
                Ok(_) => f.err(
                    Diagnostic::error("config::endpoint", "the endpoint must use https (http is allowed only on 127.0.0.1 or localhost)")
                        .label(e.span, "insecure endpoint"),
                ),
                Err(err) => f.err(Diagnostic::error("config::endpoint", format!("`{}` is not a URL: {err}", e.value)).label(e.span, "not a URL")),
            }
        }
        let sub = sub?;
        Provider::Azure {
            subscription_id: sub,
            tenant_id: tenant,
            auth,
            client_id,
            cloud,
            endpoint: endpoint.map(|e| e.value),
        }
    };
    f.ok.then(|| Spanned::new(p, header))
}

/// Decodes the backend block.
pub(crate) fn backend(
    label: &str,
    body: &EvalBody,
    header: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<Spanned<Backend>> {
    let mut f = F::new(body, header, format!("backend \"{label}\""), diags);
    let b = if label == "local" {
        Backend::Local {
            path: PathBuf::from(
                f.string("path")
                    .map_or_else(|| "asrform.state.json".to_string(), |s| s.value),
            ),
        }
    } else {
        let account = f.req_string("storage_account");
        let container = f.req_string("container");
        let key = f.req_string("key");
        let endpoint = f.string("endpoint").map(|s| s.value);
        let sas = f.string("sas_token_env").map(|s| s.value);
        Backend::AzureRm {
            storage_account: account?.value,
            container: container?.value,
            key: key?.value,
            endpoint,
            sas_token_env: sas,
        }
    };
    f.ok.then(|| Spanned::new(b, header))
}
