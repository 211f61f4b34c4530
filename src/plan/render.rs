//! Renderers of one [`Plan`] value: human text (Terraform-like, concise by default) and Markdown for a pull
//! request comment (always under [`MARKDOWN_LIMIT`] characters).
//!
//! Both take the plan value itself, which is also the JSON form, so `show` of a saved plan prints exactly what
//! `plan` printed. Colour is ANSI escapes chosen by the caller. Pure string building; the CLI prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use similar::TextDiff;

use super::{Action, Plan, ResourceChange, format_secs};

/// GitHub's comment limit is 65,536; stay below with margin.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Text rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// Show every attribute, not only the changed ones.
    pub verbose: bool,
    /// ANSI colours.
    pub color: bool,
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn action_color(a: Action) -> &'static str {
    match a {
        Action::Create => "32",
        Action::Update => "33",
        Action::Replace | Action::Delete => "31",
        Action::NoOp => "0",
        _ => "35",
    }
}

/// The glyph of a change: an import that changes nothing shows `<-` (adopted into state), otherwise the action's.
fn glyph(c: &ResourceChange) -> &'static str {
    if c.change.importing.is_some() && c.action == Action::NoOp {
        "<-"
    } else {
        c.action.glyph()
    }
}

/// The action's name, with `import` for an adoption (`import`, or `update (import)`).
fn action_label(c: &ResourceChange) -> std::borrow::Cow<'static, str> {
    match (&c.change.importing, c.action) {
        (Some(_), Action::NoOp) => "import".into(),
        (Some(_), a) => format!("{} (import)", a.as_str()).into(),
        (None, a) => a.as_str().into(),
    }
}

fn headline(c: &ResourceChange) -> String {
    let a = &c.address;
    if let Some(imp) = &c.change.importing {
        return match c.action {
            Action::NoOp => format!("{a} will be imported from {}", imp.id),
            _ => format!("{a} will be imported from {} and updated in place", imp.id),
        };
    }
    match c.action {
        Action::NoOp => format!("{a} has no changes"),
        Action::Create => format!("{a} will be created"),
        Action::Update => format!("{a} will be updated in place"),
        Action::Replace if c.reseed_required => format!(
            "{a} must be RE-SEEDED (protection disabled and enabled again: full initial replication, no recovery points meanwhile)"
        ),
        Action::Replace => format!("{a} must be replaced"),
        Action::Delete if c.kind == "protected_vm" => {
            format!("{a} will be destroyed (protection disabled)")
        }
        Action::Delete => format!("{a} will be destroyed"),
        op => {
            let n = c.dr.as_ref().map_or(0, |d| d.vms.len());
            format!(
                "{a}: {} of {n} VM{}",
                op.as_str().replace('_', " "),
                if n == 1 { "" } else { "s" }
            )
        }
    }
}

fn scalar(v: &Value) -> String {
    let mut out = String::new();
    push_scalar(&mut out, v);
    out
}

/// Appends a scalar in HCL syntax (a nested value as JSON); the text rendering writes every attribute of every
/// change through this, so it appends in place instead of returning a string per value.
fn push_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::String(s) => push_hcl_string(out, s),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// A string as an HCL quoted template: JSON's escapes are HCL's, plus `${`/`%{` escaped so that a value reads back
/// as the literal it is.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_hcl_string(&mut out, s);
    out
}

/// Appends `s` quoted the way [`hcl_string`] says: the escapes `serde_json` writes (`\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`, other control characters as `\u00xx`; everything else as it is), and `$${`/`%%{` for template
/// sequences. Runs that need no escape are copied whole.
fn push_hcl_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            b'{' if i > 0 && matches!(bytes[i - 1], b'$' | b'%') => {
                // `${` → `$${`, `%{` → `%%{`: repeat the sigil before the brace.
                out.push_str(&s[start..i - 1]);
                out.push(bytes[i - 1] as char);
                start = i - 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `k` padded with spaces to `width` characters (what `{k:width$}` does, without the formatting machinery
/// that wrote the padding a character at a time).
fn push_padded(out: &mut String, k: &str, width: usize) {
    out.push_str(k);
    let n = k.chars().count();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
}

/// A map key bare when HCL would read it as an identifier, quoted otherwise.
fn hcl_key(k: &str) -> String {
    let mut chars = k.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident { k.to_string() } else { hcl_string(k) }
}

/// Writes `v` in HCL syntax (objects as `{ key = value }`, lists with trailing commas), one element per line and
/// `indent` spaces deep, the way the configuration would spell it: reviewers compare a plan with `*.asr.hcl`, not
/// with JSON.
fn write_hcl(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let width = m.keys().map(|k| hcl_key(k).len()).max().unwrap_or(0);
            out.push_str("{\n");
            for (k, v) in m {
                let _ = write!(
                    out,
                    "{:indent$}  {:width$} = ",
                    "",
                    hcl_key(k),
                    indent = indent
                );
                write_hcl(out, v, indent + 2);
                out.push('\n');
            }
            let _ = write!(out, "{:indent$}}}", "", indent = indent);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for v in a {
                let _ = write!(out, "{:indent$}  ", "", indent = indent);
                write_hcl(out, v, indent + 2);
                out.push_str(",\n");
            }
            let _ = write!(out, "{:indent$}]", "", indent = indent);
        }
        other => push_scalar(out, other),
    }
}

fn is_nested(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn pretty(v: &Value) -> String {
    let mut out = String::new();
    write_hcl(&mut out, v, 0);
    out
}

/// The attribute names of the change last printed, as found and sorted: consecutive changes of one kind nearly
/// always have the same names, so the sort (a fifth of the text rendering of 10,000 VMs) is done once per run.
/// With the names, where each sorted name sits in `after` and `before`: the values are then read by position, not
/// looked up by name (hashing every name of every change twice was a third of the text rendering).
#[derive(Default)]
struct SortedKeys {
    found: Vec<String>,
    /// How many of `found` are `after`'s (the rest are `before`'s).
    after_len: usize,
    sorted: Vec<String>,
    after_pos: Vec<Option<usize>>,
    before_pos: Vec<Option<usize>>,
}

fn attr_lines(out: &mut String, c: &ResourceChange, opts: TextOptions, cache: &mut SortedKeys) {
    let before = c.change.before.as_object();
    let after = c.change.after.as_object();
    let unknown = c.change.after_unknown.as_object();
    let after_len = after.map_or(0, |m| m.len());
    let found: Vec<&String> = after
        .into_iter()
        .chain(before)
        .flat_map(|m| m.keys())
        .collect();
    if after_len != cache.after_len || !found.iter().copied().eq(cache.found.iter()) {
        cache.found = found.into_iter().cloned().collect();
        cache.after_len = after_len;
        cache.sorted = cache.found.clone();
        cache.sorted.sort();
        cache.sorted.dedup();
        let (in_after, in_before) = cache.found.split_at(after_len);
        let pos = |names: &[String], k: &String| names.iter().position(|n| n == k);
        cache.after_pos = cache.sorted.iter().map(|k| pos(in_after, k)).collect();
        cache.before_pos = cache.sorted.iter().map(|k| pos(in_before, k)).collect();
    }
    let after_values: Vec<&Value> = after.into_iter().flat_map(|m| m.values()).collect();
    let before_values: Vec<&Value> = before.into_iter().flat_map(|m| m.values()).collect();
    let keys = &cache.sorted;
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    let plus = paint("+", "32", opts.color);
    for (i, k) in keys.iter().enumerate() {
        let b = cache.before_pos[i].map_or(&Value::Null, |p| before_values[p]);
        let a = cache.after_pos[i].map_or(&Value::Null, |p| after_values[p]);
        // `after_unknown` names a few attributes at most: a scan beats hashing the name.
        let is_unknown = unknown.is_some_and(|u| u.keys().any(|x| x == k));
        let changed = c.changed_attributes.iter().any(|x| x == k);
        let forces = c.change.replace_paths.iter().any(|x| x == k);
        let note = if forces {
            if c.reseed_required {
                paint(" # forces re-seed", "31", opts.color)
            } else {
                paint(" # forces replacement", "31", opts.color)
            }
        } else {
            String::new()
        };
        match c.action {
            Action::Create => {
                // Skipped before formatting: most unset attributes of a create print nothing.
                if a.is_null() && !is_unknown && !opts.verbose {
                    continue;
                }
                out.push_str("      ");
                out.push_str(&plus);
                out.push(' ');
                push_padded(out, k, width);
                out.push_str(" = ");
                if is_unknown {
                    out.push_str("(known after apply)");
                } else {
                    push_scalar_or_block(out, a);
                }
                out.push('\n');
            }
            Action::Delete => {
                if b.is_null() && !opts.verbose {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "      {} {k:width$} = {}",
                    paint("-", "31", opts.color),
                    scalar_or_block(b)
                );
            }
            _ if changed => {
                if is_nested(a) || is_nested(b) {
                    let _ = writeln!(out, "      {} {k} = {note}", paint("~", "33", opts.color));
                    let (ob, oa) = (pretty(b) + "\n", pretty(a) + "\n");
                    let diff = TextDiff::from_lines(&ob, &oa);
                    for line in diff.unified_diff().context_radius(2).to_string().lines() {
                        if line.starts_with("@@") {
                            continue;
                        }
                        let colored = match line.chars().next() {
                            Some('+') => paint(line, "32", opts.color),
                            Some('-') => paint(line, "31", opts.color),
                            _ => line.to_string(),
                        };
                        let _ = writeln!(out, "          {colored}");
                    }
                } else {
                    let _ = writeln!(
                        out,
                        "      {} {k:width$} = {} -> {}{note}",
                        paint("~", "33", opts.color),
                        scalar(b),
                        scalar(a)
                    );
                }
            }
            _ if opts.verbose => {
                let _ = writeln!(out, "        {k:width$} = {}", scalar_or_block(a));
            }
            _ => {}
        }
    }
}

fn scalar_or_block(v: &Value) -> String {
    let mut out = String::new();
    push_scalar_or_block(&mut out, v);
    out
}

fn push_scalar_or_block(out: &mut String, v: &Value) {
    if is_nested(v) {
        out.push_str(&pretty(v).replace('\n', "\n        "));
    } else {
        push_scalar(out, v);
    }
}

/// The plan as text.
pub fn text(plan: &Plan, opts: TextOptions) -> String {
    // About 1 KB per change (a created VM prints 20 lines): sized once instead of regrown (and copied) by doubling.
    let mut out = String::with_capacity(1024 + plan.resource_changes.len() * 1024);
    if !plan.resource_drift.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint("Objects have changed outside asrform:", "1", opts.color)
        );
        let _ = writeln!(out);
        for d in &plan.resource_drift {
            let _ = writeln!(
                out,
                "  # {} has changed: {}",
                d.address,
                d.changed_attributes.join(", ")
            );
            for k in &d.changed_attributes {
                let b = d.before.get(k).unwrap_or(&Value::Null);
                let a = d.after.get(k).unwrap_or(&Value::Null);
                let _ = writeln!(out, "      ~ {k} = {} -> {}", scalar(b), scalar(a));
            }
        }
        let _ = writeln!(out);
    }
    let effective: Vec<&ResourceChange> = plan
        .resource_changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.change.importing.is_some() || opts.verbose)
        .collect();
    if plan.effective_changes().next().is_none() {
        let _ = writeln!(out, "No changes. Live state matches the configuration.");
    } else {
        let _ = writeln!(out, "asrform will perform the following actions:");
        let _ = writeln!(out);
        let mut sorted_keys = SortedKeys::default();
        for c in effective {
            if c.action == Action::NoOp && c.change.importing.is_none() {
                continue;
            }
            let _ = writeln!(out, "  # {}", headline(c));
            let glyph = paint(glyph(c), action_color(c.action), opts.color);
            if let Some(dr) = &c.dr {
                let _ = writeln!(out, "  {glyph} {} {{", c.key);
                let _ = writeln!(out, "        direction          = {:?}", dr.direction);
                if let Some(rp) = &dr.recovery_point {
                    let age = rp
                        .age_seconds
                        .map_or(String::new(), |a| format!(" (age {})", format_secs(a)));
                    let _ = writeln!(out, "        recovery_point     = {}{age}", rp.choice);
                }
                if let Some(l) = &dr.expected_data_loss {
                    let _ = writeln!(out, "        expected_data_loss = {l}");
                }
                let names: Vec<&str> = dr.vms.iter().map(|v| v.address.as_str()).collect();
                let shown = if names.len() > 8 && !opts.verbose {
                    format!("{} … and {} more", names[..8].join(", "), names.len() - 8)
                } else {
                    names.join(", ")
                };
                let _ = writeln!(out, "        vms                = [{shown}]");
                point_lines(&mut out, dr);
                let _ = writeln!(out, "    }}");
            } else {
                let _ = writeln!(out, "  {glyph} {} {{", c.address);
                if let Some(imp) = &c.change.importing {
                    let _ = writeln!(out, "        id = {:?}", imp.id);
                }
                attr_lines(&mut out, c, opts, &mut sorted_keys);
                let _ = writeln!(out, "    }}");
            }
            let _ = writeln!(out);
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}", paint("Warning:", "33", opts.color));
    }
    if plan.readiness.protected > 0 || !plan.readiness.vms.is_empty() {
        let _ = writeln!(out, "Readiness: {}", plan.readiness.line());
    }
    if let Some(l) = &plan.live_read {
        let _ = writeln!(out, "{}", l.line());
    }
    let _ = writeln!(out, "{}", paint(&plan.summary.line(), "1", opts.color));
    out
}

/// `2026-03-01T10:00:00Z (age 2h, data loss 5m, CrashConsistent)`.
fn point_text(p: &super::PlannedPoint) -> String {
    format!(
        "{} (age {}, data loss {}{})",
        p.time,
        format_secs(p.age_seconds),
        format_secs(p.data_loss_seconds),
        p.kind
            .as_deref()
            .map_or(String::new(), |k| format!(", {k}"))
    )
}

fn point_rows(dr: &super::DrStep) -> Vec<(&super::DrVm, &super::VmPoints)> {
    dr.vms
        .iter()
        .filter_map(|v| Some((v, v.points.as_ref()?)))
        .collect()
}

/// Per VM, the recovery point it runs on now and the one the step applies (change-recovery-point plans).
fn point_lines(out: &mut String, dr: &super::DrStep) {
    let rows = point_rows(dr);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "        points             = {{");
    for (v, p) in rows {
        let now = p.current.as_ref().map_or("unknown".into(), point_text);
        let _ = writeln!(out, "          {}", v.address);
        let _ = writeln!(out, "            from {now}");
        let _ = writeln!(out, "            to   {}", point_text(&p.chosen));
    }
    let _ = writeln!(out, "        }}");
}

/// The Markdown table of [`point_lines`].
fn point_table(out: &mut impl std::fmt::Write, dr: &super::DrStep) {
    let rows = point_rows(dr);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| VM | Runs on now | Data loss now | New point | Age | Data loss after |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- |");
    for (v, p) in rows {
        let c = &p.chosen;
        let (now, loss_now) = p
            .current
            .as_ref()
            .map_or(("unknown".to_string(), "-".to_string()), |o| {
                (o.time.clone(), format_secs(o.data_loss_seconds))
            });
        let _ = writeln!(
            out,
            "| `{}` | {now} | {loss_now} | {}{} | {} | {} |",
            md_escape(&v.address),
            c.time,
            c.kind
                .as_deref()
                .map_or(String::new(), |k| format!(" ({k})")),
            format_secs(c.age_seconds),
            format_secs(c.data_loss_seconds),
        );
    }
    let _ = writeln!(out);
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The plan as Markdown for a pull request comment, titled `title`: always at most [`MARKDOWN_LIMIT`] characters.
/// When the full table would not fit, it is replaced by counts per recovery plan and action (never cut mid-table).
pub fn markdown(plan: &Plan, title: &str) -> String {
    let s = &plan.summary;
    let mut head = String::new();
    let _ = writeln!(head, "## DR plan: {title}");
    let _ = writeln!(head);
    if s.reseed > 0 {
        let _ = writeln!(
            head,
            "> ⚠️ **Re-seed required for {} VM{}** (full initial replication; no recovery points until it completes)",
            s.reseed,
            if s.reseed == 1 { "" } else { "s" }
        );
    }
    if s.destroy > 0 {
        let _ = writeln!(
            head,
            "> ⚠️ **{} resource{} will be destroyed** — check the plan carefully",
            s.destroy,
            if s.destroy == 1 { "" } else { "s" }
        );
    }
    let failovers = plan
        .resource_changes
        .iter()
        .filter(|c| matches!(c.action, Action::Failover | Action::Failback))
        .count();
    if failovers > 0 {
        let _ = writeln!(
            head,
            "> ⚠️ **{failovers} failover/failback operation{}** will move workloads between regions",
            if failovers == 1 { "" } else { "s" }
        );
    }
    if s.reseed + s.destroy + failovers > 0 {
        let _ = writeln!(head);
    }
    let _ = writeln!(head, "**{}**", s.line());
    let _ = writeln!(head);
    let _ = writeln!(head, "Readiness: {}", plan.readiness.line());
    let _ = writeln!(head);
    if let Some(l) = &plan.live_read {
        let _ = writeln!(head, "{}", l.line());
        let _ = writeln!(head);
    }
    let _ = writeln!(
        head,
        "Binds to state serial {} · config {} · live fingerprint {}",
        plan.binding.serial,
        short(&plan.binding.config_hash),
        short(&plan.binding.live_fingerprint)
    );
    let _ = writeln!(head);
    for w in &plan.warnings {
        let _ = writeln!(head, "- ⚠️ {}", md_escape(w));
    }
    if !plan.warnings.is_empty() {
        // A table right after a list would be swallowed by the last list item.
        let _ = writeln!(head);
    }

    // Rows grouped by recovery plan.
    let mut groups: BTreeMap<&str, Vec<&ResourceChange>> = BTreeMap::new();
    for c in plan.effective_changes() {
        groups
            .entry(c.recovery_plan.as_deref().unwrap_or("(infrastructure)"))
            .or_default()
            .push(c);
    }
    // The table and the per-change sections stop being written once they cannot fit: at 10,000 changes they would
    // be megabytes built only to be replaced by the counts below.
    let mut table = Capped::new(head.chars().count());
    'full: {
        if !groups.is_empty() {
            let _ = writeln!(
                table,
                "| Recovery plan | Resource | Action | Recovery point (age) | Why |"
            );
            let _ = writeln!(table, "| --- | --- | --- | --- | --- |");
            for (g, cs) in &groups {
                for c in cs {
                    if table.over() {
                        break 'full;
                    }
                    let rp =
                        c.dr.as_ref()
                            .and_then(|d| d.recovery_point.as_ref())
                            .map(|r| {
                                format!(
                                    "{}{}",
                                    r.choice,
                                    r.age_seconds.map_or(String::new(), |a| format!(
                                        " (age {})",
                                        format_secs(a)
                                    ))
                                )
                            })
                            .unwrap_or_default();
                    let why = if c.change.replace_paths.is_empty() {
                        c.changed_attributes.join(", ")
                    } else {
                        format!("forced by {}", c.change.replace_paths.join(", "))
                    };
                    let _ = writeln!(
                        table,
                        "| {} | `{}` | {} {} | {} | {} |",
                        md_escape(g),
                        md_escape(&c.key),
                        glyph(c),
                        action_label(c),
                        rp,
                        md_escape(&why)
                    );
                }
            }
            let _ = writeln!(table);
        }
        // DR operations in full: who moves, from which point, how the source is treated and what may be lost.
        for c in plan.effective_changes() {
            if table.over() {
                break 'full;
            }
            let Some(dr) = &c.dr else { continue };
            let dir = match dr.direction {
                super::Direction::PrimaryToRecovery => "primary → recovery",
                super::Direction::RecoveryToPrimary => "recovery → primary",
            };
            let _ = writeln!(table, "#### `{}` ({dir})", md_escape(&c.key));
            let _ = writeln!(table);
            if matches!(c.action, Action::Failover | Action::Failback) {
                let _ = writeln!(
                    table,
                    "- Source: {}",
                    if dr.shut_down_source {
                        "shut down first (planned failover)"
                    } else {
                        "**not touched** (outage failover)"
                    }
                );
            }
            if let Some(rp) = &dr.recovery_point {
                let _ = writeln!(
                    table,
                    "- Recovery point: {}{}{}",
                    md_escape(&rp.choice),
                    rp.time
                        .as_deref()
                        .map_or(String::new(), |t| format!(" at {t}")),
                    rp.age_seconds
                        .map_or(String::new(), |a| format!(" (age {})", format_secs(a)))
                );
            }
            if let Some(l) = &dr.expected_data_loss {
                let _ = writeln!(table, "- Expected data loss: {}", md_escape(l));
            }
            if let Some(n) = &dr.network {
                let _ = writeln!(table, "- Test network: `{}`", md_escape(n));
            }
            let names: Vec<String> = dr
                .vms
                .iter()
                .map(|v| format!("`{}`", md_escape(&v.address)))
                .collect();
            let _ = writeln!(table, "- VMs ({}): {}", names.len(), names.join(", "));
            let _ = writeln!(table);
            point_table(&mut table, dr);
        }
        let details = &mut table;
        let changed: Vec<&ResourceChange> = plan
            .effective_changes()
            .filter(|c| matches!(c.action, Action::Update | Action::Replace))
            .collect();
        if !changed.is_empty() {
            let _ = writeln!(
                details,
                "<details><summary>Attribute changes ({})</summary>",
                changed.len()
            );
            let _ = writeln!(details);
            let _ = writeln!(details, "```diff");
            for c in &changed {
                if details.over() {
                    break 'full;
                }
                let _ = writeln!(details, "~ {}", c.address);
                for k in &c.changed_attributes {
                    let b = c.change.before.get(k).unwrap_or(&Value::Null);
                    let a = c.change.after.get(k).unwrap_or(&Value::Null);
                    let _ = writeln!(
                        details,
                        "-   {k} = {}",
                        serde_json::to_string(b).unwrap_or_default()
                    );
                    let _ = writeln!(
                        details,
                        "+   {k} = {}",
                        serde_json::to_string(a).unwrap_or_default()
                    );
                }
            }
            let _ = writeln!(details, "```");
            let _ = writeln!(details, "</details>");
            let _ = writeln!(details);
        }
    }
    let mut drift = String::new();
    if !plan.resource_drift.is_empty() {
        let _ = writeln!(
            drift,
            "<details><summary>Changed outside asrform (drift: {})</summary>",
            plan.resource_drift.len()
        );
        let _ = writeln!(drift);
        for d in &plan.resource_drift {
            let _ = writeln!(
                drift,
                "- `{}`: {}",
                md_escape(&d.address),
                md_escape(&d.changed_attributes.join(", "))
            );
        }
        let _ = writeln!(drift, "</details>");
        let _ = writeln!(drift);
    }
    let mermaid = mermaid(plan);

    if !table.over() {
        let full = format!("{head}{}{drift}{mermaid}", table.out);
        if full.chars().count() <= MARKDOWN_LIMIT {
            return full;
        }
    }
    // Too big: counts per recovery plan and action instead of one row per change.
    let mut counts = String::new();
    let _ = writeln!(
        counts,
        "_The plan has {} changes: too many to list here; counts per recovery plan follow. Run `asrform show PLANFILE` for every change._",
        plan.effective_changes().count()
    );
    let _ = writeln!(counts);
    let _ = writeln!(counts, "| Recovery plan | Action | Count |");
    let _ = writeln!(counts, "| --- | --- | ---: |");
    for (g, cs) in &groups {
        let mut by: BTreeMap<Action, usize> = BTreeMap::new();
        for c in cs {
            *by.entry(c.action).or_default() += 1;
        }
        for (a, n) in by {
            let _ = writeln!(
                counts,
                "| {} | {} {} | {n} |",
                md_escape(g),
                a.glyph(),
                a.as_str()
            );
        }
    }
    let _ = writeln!(counts);
    let mut out = format!("{head}{counts}");
    for extra in [drift, mermaid] {
        if out.chars().count() + extra.chars().count() <= MARKDOWN_LIMIT {
            out.push_str(&extra);
        }
    }
    if out.chars().count() > MARKDOWN_LIMIT {
        // Only the per-group table can still be large (thousands of recovery plans): keep the head and say so.
        out = format!(
            "{head}_The change table is too large for a comment; run `asrform show PLANFILE`._\n"
        );
    }
    out
}

/// A string that counts its characters as it grows, so a renderer can stop once it is past [`MARKDOWN_LIMIT`].
struct Capped {
    out: String,
    chars: usize,
}

impl Capped {
    /// Starts counting at `used` characters (what precedes this text in the document).
    fn new(used: usize) -> Self {
        Capped {
            out: String::new(),
            chars: used,
        }
    }

    fn over(&self) -> bool {
        self.chars > MARKDOWN_LIMIT
    }
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.chars += s.chars().count();
        self.out.push_str(s);
        Ok(())
    }
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// A mermaid flowchart of the operation order, aggregated by kind and action so it stays small at any size.
fn mermaid(plan: &Plan) -> String {
    // One node per kind and action (a DR step is a node of its own), counted. The name is written into one reused
    // buffer and looked up by hash, so a 10,000-change plan allocates per node, not per change.
    let mut nodes: foldhash::HashMap<String, (usize, usize)> = foldhash::HashMap::default();
    let mut node_of: foldhash::HashMap<&str, usize> = foldhash::HashMap::default();
    let mut name = String::new();
    for c in plan.effective_changes() {
        name.clear();
        let _ = if c.dr.is_some() {
            write!(name, "{} {}", c.address, c.action.as_str())
        } else {
            write!(name, "{} {}", c.kind, action_label(c))
        };
        let next = nodes.len();
        let node = match nodes.get_mut(name.as_str()) {
            Some((node, count)) => {
                *count += 1;
                *node
            }
            None => {
                nodes.insert(name.clone(), (next, 1));
                next
            }
        };
        node_of.insert(c.key.as_str(), node);
    }
    if nodes.is_empty() || nodes.len() > 60 {
        return String::new();
    }
    // Nodes are numbered in name order, so the chart does not depend on the order of the changes.
    let mut sorted: Vec<(&String, usize, usize)> =
        nodes.iter().map(|(k, &(node, n))| (k, node, n)).collect();
    sorted.sort_unstable();
    let mut id = vec![0; sorted.len()];
    for (i, (_, node, _)) in sorted.iter().enumerate() {
        id[*node] = i;
    }
    let mut edges = std::collections::BTreeSet::new();
    for c in plan.effective_changes() {
        let to = node_of[c.key.as_str()];
        for d in &c.depends_on {
            if let Some(&from) = node_of.get(d.as_str())
                && from != to
            {
                edges.insert((id[from], id[to]));
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "<details><summary>Operation order</summary>");
    let _ = writeln!(out);
    let _ = writeln!(out, "```mermaid");
    let _ = writeln!(out, "flowchart LR");
    for (i, (k, _, n)) in sorted.iter().enumerate() {
        let label = k.replace('"', "'");
        let _ = writeln!(out, "  n{i}[\"{label} ×{n}\"]");
    }
    for (a, b) in edges {
        let _ = writeln!(out, "  n{a} --> n{b}");
    }
    let _ = writeln!(out, "```");
    let _ = writeln!(out, "</details>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hcl_strings_escape_as_json_does_plus_template_sequences() {
        // The reference: serde_json's quoting, then the template sequences doubled.
        let oracle = |s: &str| {
            serde_json::to_string(s)
                .unwrap()
                .replace("${", "$${")
                .replace("%{", "%%{")
        };
        for s in [
            "",
            "plain",
            "quote \" and back\\slash",
            "lines\nand\ttabs\r",
            "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1f}\u{7f}",
            "${var} %{if} $${x} %%{y} $ { %",
            "{${",
            "ünïcødé ✓ ${ü}",
        ] {
            assert_eq!(hcl_string(s), oracle(s), "{s:?}");
        }
        let mut out = String::new();
        push_padded(&mut out, "ké", 4);
        assert_eq!(out, "ké  ");
    }

    #[test]
    fn nested_values_render_as_hcl() {
        let v = json!({
            "app": "10.0.1.0/24",
            "2nd subnet": ["a", "${not a template}"],
            "empty": {},
            "rules": [{"name": "x", "port": 443}]
        });
        assert_eq!(
            pretty(&v),
            r#"{
  app          = "10.0.1.0/24"
  "2nd subnet" = [
    "a",
    "$${not a template}",
  ]
  empty        = {}
  rules        = [
    {
      name = "x"
      port = 443
    },
  ]
}"#
        );
        assert_eq!(pretty(&json!([])), "[]");
        assert_eq!(
            scalar(&json!("quote \" and %{x}")),
            r#""quote \" and %%{x}""#
        );
    }
}
