//! The canonical layout of `*.asr.hcl` files (`asrform fmt`), in the spirit of `terraform fmt`.
//!
//! [`format_source`] is a careful token-level pass: a small lexer that knows exactly what HCL treats as opaque
//! (quoted strings with nested `${ }`/`%{ }` templates, heredocs, comments) splits the text into lines of tokens;
//! the layout is then rebuilt: two spaces per nesting level, single spaces between tokens that were apart, one space
//! around `=`, `=` aligned within runs of consecutive one-line attributes, at most one blank line in a row, a space
//! before a block's `{`, one trailing newline. Comments and heredoc bodies are kept verbatim where they are. Since
//! only whitespace between tokens changes, meaning cannot change; the result is still parsed and compared with the
//! input (`hcl::Body` equality) so a bug here can never rewrite a file into something else. Pure: no I/O.

use std::ops::Range;

/// Why a source could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The input is not valid HCL.
    #[error("syntax error: {message}")]
    Parse {
        /// The parser's first message line.
        message: String,
        /// Byte offset of the error.
        offset: usize,
    },
    /// The formatted text would mean something else (a formatter bug); the input is left alone.
    #[error(
        "formatting would change the meaning of this file (a bug in asrform fmt; the file is left unchanged)"
    )]
    MeaningChanged,
}

/// Formats HCL source canonically. Idempotent; refuses input that does not parse.
pub fn format_source(src: &str) -> Result<String, FormatError> {
    let before = parse(src)?;
    let out = layout(src);
    match hcl::parse(&out) {
        Ok(after) if after == before => Ok(out),
        _ => Err(FormatError::MeaningChanged),
    }
}

fn parse(src: &str) -> Result<hcl::Body, FormatError> {
    if let Err(e) = hcl_edit::parser::parse_body(src) {
        return Err(FormatError::Parse {
            message: e
                .message()
                .lines()
                .next()
                .unwrap_or("syntax error")
                .to_string(),
            offset: e.location().offset(),
        });
    }
    hcl::parse(src).map_err(|e| FormatError::Parse {
        message: e.to_string().lines().next().unwrap_or_default().to_string(),
        offset: 0,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Identifiers, numbers, operators: anything not otherwise special.
    Word,
    /// A quoted string (template), possibly with nested templates.
    Str,
    /// `<<EOF … EOF`, through the end of the closing marker.
    Heredoc,
    /// `# …` or `// …` up to the end of the line.
    LineComment,
    /// `/* … */`.
    BlockComment,
    /// `{`, `[`, `(`.
    Open,
    /// `}`, `]`, `)`.
    Close,
    /// A lone `=` (not `==`, `=>`, `!=`, `<=`, `>=`).
    Assign,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    range: Range<usize>,
    /// Whether whitespace separated it from the previous token on the same line.
    space_before: bool,
}

/// Splits `src` into lines of tokens. Lines end at newlines outside multi-line tokens.
fn lex(src: &str) -> Vec<Vec<Token>> {
    let b = src.as_bytes();
    let mut lines = vec![Vec::new()];
    let mut i = 0;
    let mut space = false;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            b'\n' => {
                lines.push(Vec::new());
                i += 1;
                space = false;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                space = true;
                continue;
            }
            b'"' => {
                i = skip_string(b, i);
                Kind::Str
            }
            b'#' => {
                i = line_end(b, i);
                Kind::LineComment
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = line_end(b, i);
                Kind::LineComment
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2);
                Kind::BlockComment
            }
            b'<' if b.get(i + 1) == Some(&b'<') => match heredoc_end(b, i) {
                Some(end) => {
                    i = end;
                    Kind::Heredoc
                }
                None => {
                    i += 2;
                    Kind::Word
                }
            },
            b'{' | b'[' | b'(' => {
                i += 1;
                Kind::Open
            }
            b'}' | b']' | b')' => {
                i += 1;
                Kind::Close
            }
            b'=' => {
                if matches!(b.get(i + 1), Some(b'=' | b'>')) {
                    i += 2;
                    Kind::Word
                } else {
                    i += 1;
                    Kind::Assign
                }
            }
            b'!' | b'<' | b'>' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                Kind::Word
            }
            _ => {
                while i < b.len() && !ends_word(b, i) {
                    i += 1;
                }
                if i == start {
                    // A lone character no other rule took (never a boundary itself); keep it as a word.
                    i += 1;
                }
                Kind::Word
            }
        };
        lines
            .last_mut()
            .expect("there is always a current line")
            .push(Token {
                kind,
                range: start..i,
                space_before: space,
            });
        space = false;
    }
    lines
}

fn ends_word(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'\n' | b' ' | b'\t' | b'\r' | b'"' | b'#' | b'{' | b'}' | b'[' | b']' | b'(' | b')'
        | b'=' | b'!' | b'<' | b'>' => true,
        b'/' => matches!(b.get(i + 1), Some(b'/' | b'*')),
        _ => false,
    }
}

fn line_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && b[j] != b'\n' {
        j += 1;
    }
    // Trailing blanks (and a CRLF file's `\r`) are line-ending noise, not part of the comment.
    while j > i && matches!(b[j - 1], b'\r' | b' ' | b'\t') {
        j -= 1;
    }
    j
}

fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    (from..b.len().saturating_sub(pat.len() - 1)).find(|&p| b[p..].starts_with(pat))
}

/// End of the quoted string starting at `i` (just past its closing quote), following nested templates.
fn skip_string(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            b'$' | b'%' if b.get(j + 1) == Some(&b'{') => j = skip_template(b, j + 2),
            // `$${` and `%%{` are escapes: literal text, not a template.
            b'$' | b'%' if b.get(j + 1) == Some(&b[j]) && b.get(j + 2) == Some(&b'{') => j += 3,
            b'\n' => return j,
            _ => j += 1,
        }
    }
    j
}

/// End of a template interpolation whose body starts at `j` (just past its closing `}`).
fn skip_template(b: &[u8], mut j: usize) -> usize {
    let mut depth = 1;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = skip_string(b, j);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

/// If a heredoc starts at `i` (`<<ID` or `<<-ID` then a newline), the end of its closing marker.
///
/// The marker is found exactly as hcl-edit finds it, since the formatter must agree with the parser on where the
/// heredoc ends: a line ending, optional blanks, the identifier, then anything but an identifier character. The
/// line right after the opener has no line ending before it inside the template, so it only closes an empty heredoc
/// when no later line could.
fn heredoc_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 2;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    let id_start = j;
    while j < b.len() && is_id_continue(b[j]) {
        j += 1;
    }
    let id = &b[id_start..j];
    if id.is_empty() {
        return None;
    }
    if b.get(j) == Some(&b'\r') {
        j += 1;
    }
    if b.get(j) != Some(&b'\n') {
        return None;
    }
    let first_line = j + 1;
    let closes_at = |line: usize| -> Option<usize> {
        let mut k = line;
        while k < b.len() && matches!(b[k], b' ' | b'\t') {
            k += 1;
        }
        (b[k..].starts_with(id) && !b.get(k + id.len()).is_some_and(|&c| is_id_continue(c)))
            .then_some(k + id.len())
    };
    // Later lines: each follows a line ending that belongs to the template.
    let mut nl = first_line;
    while let Some(p) = (nl..b.len()).find(|&p| b[p] == b'\n') {
        if let Some(end) = closes_at(p + 1) {
            return Some(end);
        }
        nl = p + 1;
    }
    closes_at(first_line).or(Some(b.len()))
}

fn is_id_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// One output line before alignment.
struct Line {
    indent: usize,
    /// Rendered tokens; for a one-line attribute, the key and the text after `=` separately.
    text: String,
    attr: Option<(String, String)>,
}

fn layout(src: &str) -> String {
    let lines = lex(src);
    // Open-bracket counts per indentation level: a line that opens several brackets (`[{`) adds one level.
    let mut levels: Vec<usize> = Vec::new();
    let mut out: Vec<Option<Line>> = Vec::new();
    for toks in &lines {
        if toks.is_empty() {
            out.push(None);
            continue;
        }
        let mut k = 0;
        while k < toks.len() && toks[k].kind == Kind::Close {
            close(&mut levels);
            k += 1;
        }
        let indent = levels.len();
        let mut pending = 0usize;
        for t in &toks[k..] {
            match t.kind {
                Kind::Open => pending += 1,
                Kind::Close if pending > 0 => pending -= 1,
                Kind::Close => close(&mut levels),
                _ => {}
            }
        }
        let balanced = k == 0 && pending == 0 && levels.len() == indent;
        if pending > 0 {
            levels.push(pending);
        }
        let text = join(src, toks);
        let multi_line = toks.iter().any(|t| src[t.range.clone()].contains('\n'));
        let attr = (balanced
            && !multi_line
            && toks.len() >= 3
            && matches!(toks[0].kind, Kind::Word | Kind::Str)
            && toks[1].kind == Kind::Assign)
            .then(|| {
                (
                    src[toks[0].range.clone()].to_string(),
                    join(src, &toks[2..]),
                )
            });
        out.push(Some(Line { indent, text, attr }));
    }

    // Alignment runs: consecutive one-line attributes at the same indentation.
    let mut widths = vec![0usize; out.len()];
    let mut i = 0;
    while i < out.len() {
        let Some(Line {
            indent,
            attr: Some(_),
            ..
        }) = &out[i]
        else {
            i += 1;
            continue;
        };
        let indent = *indent;
        let mut j = i;
        let mut width = 0;
        while let Some(Some(Line {
            indent: ind,
            attr: Some((key, _)),
            ..
        })) = out.get(j)
        {
            if *ind != indent {
                break;
            }
            width = width.max(key.chars().count());
            j += 1;
        }
        for w in &mut widths[i..j] {
            *w = width;
        }
        i = j;
    }

    let mut result = String::with_capacity(src.len());
    let mut blank_pending = false;
    let mut any = false;
    for (line, width) in out.iter().zip(widths) {
        let Some(line) = line else {
            blank_pending = any;
            continue;
        };
        if blank_pending {
            result.push('\n');
            blank_pending = false;
        }
        any = true;
        for _ in 0..line.indent {
            result.push_str("  ");
        }
        match &line.attr {
            Some((key, value)) => {
                let pad = width - key.chars().count();
                result.push_str(key);
                result.extend(std::iter::repeat_n(' ', pad));
                result.push_str(" = ");
                result.push_str(value);
            }
            None => result.push_str(&line.text),
        }
        result.push('\n');
    }
    result
}

fn close(levels: &mut Vec<usize>) {
    if let Some(top) = levels.last_mut() {
        *top -= 1;
        if *top == 0 {
            levels.pop();
        }
    }
}

/// The tokens of one line joined with canonical spacing.
fn join(src: &str, toks: &[Token]) -> String {
    let mut s = String::new();
    for (n, t) in toks.iter().enumerate() {
        if n > 0 {
            let prev = &toks[n - 1];
            let space = t.kind == Kind::Assign
                || prev.kind == Kind::Assign
                || matches!(t.kind, Kind::LineComment | Kind::BlockComment)
                    && prev.kind != Kind::Open
                || (t.kind == Kind::Open
                    && &src[t.range.clone()] == "{"
                    && matches!(prev.kind, Kind::Str | Kind::Word)
                    && is_block_header(src, &toks[..n]))
                || t.space_before;
            if space {
                s.push(' ');
            }
        }
        s.push_str(&src[t.range.clone()]);
    }
    s
}

/// Whether the tokens before a `{` form a block header (`type "label" ident`), not an expression.
fn is_block_header(src: &str, before: &[Token]) -> bool {
    before.iter().all(|t| match t.kind {
        Kind::Str => true,
        Kind::Word => src[t.range.clone()]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        format_source(s).unwrap()
    }

    #[test]
    fn indents_aligns_and_spaces() {
        let src = "vault \"dr\"{\nname=\"x\"\n    resource_group   =  resource_group.dr\n\n\n\nlocation = var.r\n}\n\n";
        assert_eq!(
            fmt(src),
            "vault \"dr\" {\n  name           = \"x\"\n  resource_group = resource_group.dr\n\n  location = var.r\n}\n"
        );
    }

    #[test]
    fn comments_stay_and_break_alignment_runs() {
        let src = "# top\nlocals {\n  a = 1 # one\n  // two\n  bbb = 2\n  /* block\n     comment */\n  c = 3\n}\n";
        let out = fmt(src);
        assert_eq!(out, src, "already canonical");
    }

    #[test]
    fn nested_brackets_and_multi_line_values() {
        let src = "locals {\nvms = {\ndb01 = { tier = \"db\" }\napp001 = { tier = \"app\" }\n}\nlist = [{\na = 1\n}]\n}\n";
        assert_eq!(
            fmt(src),
            "locals {\n  vms = {\n    db01   = { tier = \"db\" }\n    app001 = { tier = \"app\" }\n  }\n  list = [{\n    a = 1\n  }]\n}\n"
        );
    }

    #[test]
    fn heredocs_and_templates_are_opaque() {
        let src =
            "locals {\n  s = <<-EOT\n      keep   this\n    EOT\n  t = \"${ {a = 1}.a }  x\"\n}\n";
        let out = fmt(src);
        assert!(out.contains("      keep   this\n    EOT\n"), "{out}");
        assert!(out.contains("\"${ {a = 1}.a }  x\""), "{out}");
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn heredoc_markers_end_where_the_parser_ends_them() {
        // Two empty heredocs: the parser binds the first opener to the *second* marker line.
        let src = "a {\n a = <<-EOT\n   EOT\n}\na {\n a = <<-EOT\n   EOT\n}\n";
        let out = fmt(src);
        assert_eq!(fmt(&out), out);
        // The marker may be followed by more tokens on its line.
        let src = "x = join(\"\", [<<EOT\nhi\nEOT\n])\ny = f(<<EOT\nhi\nEOT\n  )\n";
        let out = fmt(src);
        assert!(out.contains("hi\nEOT\n"), "{out}");
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn operators_are_not_assignments() {
        let src = "locals {\n  a = 1==2\n  b = { for k, v in var.m : k=>v if v!=0 }\n}\n";
        let out = fmt(src);
        assert!(out.contains("a = 1==2"), "{out}");
        assert!(out.contains("k=>v if v!=0"), "{out}");
    }

    #[test]
    fn parse_errors_are_reported_with_an_offset() {
        let e = format_source("vault \"x\" {\n  name = \n").unwrap_err();
        assert!(
            matches!(e, FormatError::Parse { offset, .. } if offset > 0),
            "{e:?}"
        );
    }

    #[test]
    fn empty_and_crlf_input() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n"), "");
        assert_eq!(fmt("a = 1\r\nbb = 2\r\n"), "a  = 1\nbb = 2\n");
    }
}
