//! Saved plan files: writing, reading with clear errors, and the binding check that refuses a stale plan.
//!
//! A saved plan is the plan's JSON form. It binds to the state lineage and serial, the configuration hash and the
//! live facts it used; [`check_binding`] compares them with the present and names every difference. Applying a
//! plan writes state, which moves the serial, so the same file never applies twice. No I/O beyond the explicit
//! file read/write helpers.

use std::collections::BTreeMap;
use std::path::Path;

use super::{FORMAT_VERSION, Plan};
use crate::state::State;

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    /// Unreadable file.
    #[error("cannot read the plan file {path}: {source}")]
    #[diagnostic(code(asrform::plan::file))]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a plan.
    #[error("{path} is not a valid asrform plan file: {message}")]
    #[diagnostic(
        code(asrform::plan::corrupt),
        help("create it again with `asrform plan --out FILE`")
    )]
    Corrupt {
        /// File.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// Another major version.
    #[error("{path} has plan format_version {found}, but this asrform reads {FORMAT_VERSION}")]
    #[diagnostic(
        code(asrform::plan::version),
        help("plan again with this asrform version")
    )]
    Version {
        /// File.
        path: String,
        /// Its version.
        found: String,
    },
    /// The world moved since the plan was made.
    #[error("the saved plan is stale and was not applied:\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    #[diagnostic(
        code(asrform::plan::stale),
        help("run `asrform plan --out FILE` again, review it, and apply the new file")
    )]
    Stale {
        /// Every binding that changed.
        reasons: Vec<String>,
    },
}

/// The plan as a file's text.
pub fn to_json(plan: &Plan) -> String {
    // Sized up front (about 3 KB per change when pretty-printed) so a 10,000-resource plan is not copied by each
    // doubling of the buffer, nor once more for the final newline.
    let mut buf = Vec::with_capacity(4096 + plan.resource_changes.len() * 3072);
    write_pretty(&mut buf, plan);
    buf.push(b'\n');
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

fn write_pretty<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(buf, Pretty::default());
    value.serialize(&mut ser).expect("plans always serialise");
}

/// `serde_json`'s pretty layout (two spaces per level, `": "` after keys), with each line's indentation written in
/// one piece: the stock formatter writes it two bytes at a time, a tenth of writing a 10,000-change plan.
#[derive(Default)]
struct Pretty {
    depth: usize,
    /// Whether the array or object being written has an element yet (an empty one closes on the same line).
    has_value: bool,
}

impl Pretty {
    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        w.write_all(if comma { b",\n" } else { b"\n" })?;
        let mut n = self.depth * 2;
        while n > 0 {
            let k = n.min(SPACES.len());
            w.write_all(&SPACES[..k])?;
            n -= k;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(c)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Parses a plan file's text; `path` names it in errors.
pub fn from_json(path: &str, text: &str) -> Result<Plan, SavedPlanError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| SavedPlanError::Corrupt {
        path: path.into(),
        message: format!("{e}"),
    })?;
    let found = v
        .get("format_version")
        .and_then(|f| f.as_str())
        .ok_or_else(|| SavedPlanError::Corrupt {
            path: path.into(),
            message: "format_version is missing: this is not a plan file".into(),
        })?;
    let major = |s: &str| s.split('.').next().unwrap_or("").to_string();
    if major(found) != major(FORMAT_VERSION) {
        return Err(SavedPlanError::Version {
            path: path.into(),
            found: found.into(),
        });
    }
    serde_json::from_value(v).map_err(|e| SavedPlanError::Corrupt {
        path: path.into(),
        message: e.to_string(),
    })
}

/// Reads a plan file.
pub fn read(path: &Path) -> Result<Plan, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_json(&path.display().to_string(), &text)
}

/// Checks a saved plan against the present: the state (lineage, serial), the configuration hash, and live facts
/// freshly computed for the same objects (`fresh`, e.g. from a new plan's binding).
pub fn check_binding(
    plan: &Plan,
    state: Option<&State>,
    config_hash: &str,
    fresh: &BTreeMap<String, String>,
) -> Result<(), SavedPlanError> {
    let mut reasons = Vec::new();
    let b = &plan.binding;
    match (b.lineage.as_deref(), state) {
        (Some(l), Some(s)) if l != s.lineage => reasons.push(format!(
            "the state has lineage {} but the plan was made for lineage {l}: it belongs to another state",
            s.lineage
        )),
        (Some(l), None) => reasons.push(format!(
            "the plan was made for state lineage {l}, but there is no state now"
        )),
        _ => {}
    }
    let serial = state.map_or(0, |s| s.serial);
    let fresh_state_then = b.lineage.is_none();
    if serial != b.serial || (fresh_state_then && state.is_some()) {
        reasons.push(format!(
            "the state changed since the plan was made (serial {} then, {serial} now): another apply ran, or this plan was already applied",
            b.serial
        ));
    }
    if config_hash != b.config_hash {
        reasons.push(
            "the configuration (files or variable values) changed since the plan was made".into(),
        );
    }
    for (k, then) in &b.facts {
        let now = fresh.get(k).map_or("absent", String::as_str);
        if now != then {
            reasons.push(format!(
                "live state of {k} changed since the plan was made ({then} then, {now} now)"
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(SavedPlanError::Stale { reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_files_are_laid_out_as_serde_json_pretty_prints() {
        let mut deep = serde_json::json!("leaf");
        for i in 0..40 {
            deep = serde_json::json!({ format!("k{i}"): [deep, [], {}, 1, null] });
        }
        let v = serde_json::json!({
            "empty": {}, "list": [], "nested": {"a": [1, {"b": "c\"d"}], "e": {}}, "deep": deep
        });
        let mut buf = Vec::new();
        write_pretty(&mut buf, &v);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
    }

    #[test]
    fn bad_files_get_clear_errors() {
        assert!(matches!(
            from_json("p.json", "{"),
            Err(SavedPlanError::Corrupt { .. })
        ));
        assert!(matches!(
            from_json("p.json", "{}"),
            Err(SavedPlanError::Corrupt { message, .. }) if message.contains("format_version")
        ));
        assert!(matches!(
            from_json("p.json", r#"{"format_version":"9.0"}"#),
            Err(SavedPlanError::Version { .. })
        ));
    }
}
