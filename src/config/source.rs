//! Source files of one configuration and spans into them.
//!
//! Owns [`SourceFile`] (a name relative to the configuration directory plus the text), [`Span`] (file index and
//! byte range) and [`Spanned`], and the byte-offset → line/column arithmetic used by the JSON form of diagnostics.
//! It must not read files: the loader hands it text.

use std::ops::Range;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// One source file: `main.asr.hcl`, a `-var-file`, or a synthetic source for a `-var`/environment value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Name as shown in diagnostics (relative to the configuration directory where possible).
    pub name: String,
    /// Full text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A source file from a name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The miette source for diagnostics (cheap: shares the text).
    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(&self.name, self.text.clone())
    }

    /// One-based line and column (in characters) of a byte offset; offsets past the end map to the end.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

/// A byte range in one source file of the configuration (`file` indexes `Config::sources`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Index of the file in the configuration's source list.
    pub file: u32,
    /// Start byte offset (inclusive).
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}

impl Span {
    /// A span from a file index and an hcl-edit byte range.
    pub fn new(file: usize, range: Range<usize>) -> Self {
        Self {
            file: file as u32,
            start: range.start as u32,
            end: range.end.max(range.start) as u32,
        }
    }

    /// The span as a miette span (offset + length).
    pub fn source_span(&self) -> SourceSpan {
        SourceSpan::from((self.start as usize, (self.end - self.start) as usize))
    }

    /// The byte range.
    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written (for defaults: the block that would have held it).
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    /// Spans never take part in equality: two configurations that say the same thing are equal.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let f = SourceFile::new("a", "ab\nçd\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (2, 2)); // after the two-byte `ç`
        assert_eq!(f.line_col(4), (2, 1)); // inside `ç`: snaps back to its start
        assert_eq!(f.line_col(100), (3, 1));
    }
}
