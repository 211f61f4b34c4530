//! Configuration diagnostics: one problem with a stable code, a severity, a message, labelled spans and help.
//!
//! Owns [`Diagnostic`] and the collection [`Diagnostics`] that `config::load` and `graph::build` return, their miette
//! rendering and their JSON form. Problems are collected (knuffel's `emit_error`) and returned together, so a user
//! sees every problem of a run at once. This module must not print or decide exit codes: that is the CLI's job.
//!
//! Rendered with miette's graphical handler a diagnostic looks like:
//!
//! ```text
//!   × unknown attribute `retention`
//!    ╭─[main.asr.hcl:3:3]
//!  2 │   vault     = vault.dr
//!  3 │   retention = "24h"
//!    ·   ────┬────
//!    ·       ╰── not an attribute of `replication_policy`
//!    ╰────
//!   help: did you mean `recovery_point_retention`?
//! ```

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};
use serde_json::json;

use super::source::{SourceFile, Span};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// Suspicious but usable.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// One label: a span and what it marks.
#[derive(Clone, Debug)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
}

/// One problem found in a configuration.
///
/// The first label is the primary location; it decides which file the diagnostic renders against. Labels in other
/// files (say "first declared here" in another `.asr.hcl`) cannot be drawn in the same excerpt, so they are turned into
/// `file:line:col` notes in the help text when the diagnostic is resolved.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Stable code such as `config::unknown_attribute`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line summary.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// Labelled spans; the first is primary.
    pub labels: Vec<Label>,
    source: Option<SourceFile>,
    named: Option<NamedSource<Arc<str>>>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            source: None,
            named: None,
        }
    }

    /// Adds a labelled span (the first one added is primary).
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line when there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Attaches the source text of the primary label's file; labels in other files become notes.
    pub(crate) fn resolve(mut self, sources: &[SourceFile]) -> Self {
        let Some(primary) = self.labels.first().map(|l| l.span.file) else {
            return self;
        };
        let Some(file) = sources.get(primary as usize) else {
            return self;
        };
        let mut notes = Vec::new();
        self.labels.retain(|l| {
            if l.span.file == primary {
                return true;
            }
            if let Some(other) = sources.get(l.span.file as usize) {
                let (line, col) = other.line_col(l.span.start as usize);
                notes.push(format!("{} at {}:{line}:{col}", l.message, other.name));
            }
            false
        });
        if !notes.is_empty() {
            let mut help = self
                .help
                .take()
                .map(|h| format!("{h}\n"))
                .unwrap_or_default();
            help.push_str(&notes.join("\n"));
            self.help = Some(help);
        }
        self.named = Some(file.named_source());
        self.source = Some(file.clone());
        self
    }

    /// The file the diagnostic points into, if any.
    pub fn file(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.name.as_str())
    }

    /// The JSON form: `{code, severity, message, file, line, column, end_line, end_column, help, labels}`.
    pub fn to_json(&self) -> serde_json::Value {
        let pos = |span: &Span| {
            self.source.as_ref().map(|s| {
                (
                    s.line_col(span.start as usize),
                    s.line_col(span.end as usize),
                )
            })
        };
        let primary = self.labels.first().and_then(|l| pos(&l.span));
        let labels: Vec<serde_json::Value> = self
            .labels
            .iter()
            .filter_map(|l| pos(&l.span).map(|((line, column), _)| json!({"message": l.message, "line": line, "column": column})))
            .collect();
        json!({
            "code": self.code,
            "severity": self.severity.as_str(),
            "message": self.message,
            "file": self.file(),
            "line": primary.map(|p| p.0.0),
            "column": primary.map(|p| p.0.1),
            "end_line": primary.map(|p| p.1.0),
            "end_column": primary.map(|p| p.1.1),
            "help": self.help,
            "labels": labels,
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.named.as_ref().map(|n| n as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.named.as_ref()?;
        let text = |m: &str| (!m.is_empty()).then(|| m.to_string());
        Some(Box::new(self.labels.iter().enumerate().map(
            move |(i, l)| {
                if i == 0 {
                    LabeledSpan::new_primary_with_span(text(&l.message), l.span.source_span())
                } else {
                    LabeledSpan::new_with_span(text(&l.message), l.span.source_span())
                }
            },
        )))
    }
}

/// All problems of one run, in the order they were found (files in name order, blocks in file order).
///
/// Renders as one report whose related diagnostics are the items, so the CLI can hand the whole collection to
/// miette's `GraphicalReportHandler`.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No problems at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Whether any problem is an error (not only warnings).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Adds a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// The JSON form: an array of [`Diagnostic::to_json`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.0.iter().map(Diagnostic::to_json).collect())
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.error_count();
        let warnings = self.len() - errors;
        match (errors, warnings) {
            (0, w) => write!(f, "configuration has {w} warning(s)"),
            (e, 0) => write!(f, "configuration has {e} error(s)"),
            (e, w) => write!(f, "configuration has {e} error(s) and {w} warning(s)"),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl miette::Diagnostic for Diagnostics {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.has_errors() {
            miette::Severity::Error
        } else {
            miette::Severity::Warning
        })
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.0.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// The nearest candidate to `name` by edit distance, for "did you mean" help (`None` when nothing is close).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= limit || (c.len() > 3 && (c.contains(name) && name.len() > 3)))
        .min()
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the nearest candidate, if any.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Vec<SourceFile> {
        vec![
            SourceFile::new("a.asr.hcl", "vault \"x\" {\n  nme = 1\n}\n"),
            SourceFile::new("b.asr.hcl", "\nvault \"x\" {}\n"),
        ]
    }

    #[test]
    fn json_has_one_based_positions() {
        let d = Diagnostic::error("config::unknown_attribute", "unknown attribute `nme`")
            .label(Span::new(0, 14..17), "here")
            .help("did you mean `name`?")
            .resolve(&sources());
        let j = d.to_json();
        assert_eq!(j["file"], "a.asr.hcl");
        assert_eq!(
            (j["line"].as_u64(), j["column"].as_u64()),
            (Some(2), Some(3))
        );
        assert_eq!(
            (j["end_line"].as_u64(), j["end_column"].as_u64()),
            (Some(2), Some(6))
        );
        assert_eq!(j["labels"][0]["message"], "here");
        assert_eq!(j["severity"], "error");
    }

    #[test]
    fn labels_in_other_files_become_notes() {
        let d = Diagnostic::error("config::duplicate", "dup")
            .label(Span::new(1, 1..10), "declared again here")
            .label(Span::new(0, 0..9), "first declared here")
            .resolve(&sources());
        assert_eq!(d.labels.len(), 1);
        assert_eq!(d.file(), Some("b.asr.hcl"));
        assert_eq!(
            d.help.as_deref(),
            Some("first declared here at a.asr.hcl:1:1")
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("nme", ["name", "location"]), Some("name"));
        assert_eq!(
            suggest("retention", ["recovery_point_retention", "vault"]),
            Some("recovery_point_retention")
        );
        assert_eq!(suggest("zzz", ["name", "location"]), None);
    }

    #[test]
    fn collection_counts_errors_and_warnings() {
        let mut all = Diagnostics::default();
        assert!(all.is_empty() && !all.has_errors());
        all.push(Diagnostic::warning("config::w", "w"));
        assert!(!all.has_errors());
        all.push(Diagnostic::error("config::e", "e"));
        assert!(all.has_errors());
        assert_eq!(
            all.to_string(),
            "configuration has 1 error(s) and 1 warning(s)"
        );
        assert_eq!(all.to_json().as_array().unwrap().len(), 2);
    }
}
