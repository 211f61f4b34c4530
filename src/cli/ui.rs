//! The terminal: where output goes, whether it is coloured, and how diagnostics are drawn.
//!
//! Every byte asrform prints passes through a [`Ui`]. It owns the colour decision (`--color`, `NO_COLOR`, whether
//! the stream is a terminal) and miette's report rendering. It must not decide what to say: commands do.

use std::io::{self, IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};

/// `--color` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Resolves `auto` for a stream: colour only on a terminal and only without `NO_COLOR` (any non-empty value).
    pub fn resolve(self, is_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && no_color.is_none_or(str::is_empty),
        }
    }
}

/// Output streams plus the colour decision for each.
pub struct Ui {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// Colour on stdout.
    pub color_out: bool,
    /// Colour on stderr.
    pub color_err: bool,
    /// Whether stdin and stderr are a terminal (prompts and live progress need one).
    pub interactive: bool,
}

impl Ui {
    /// The process's stdout and stderr.
    pub fn stdio(choice: ColorChoice) -> Self {
        let no_color = std::env::var("NO_COLOR").ok();
        Self {
            color_out: choice.resolve(io::stdout().is_terminal(), no_color.as_deref()),
            color_err: choice.resolve(io::stderr().is_terminal(), no_color.as_deref()),
            interactive: io::stdin().is_terminal() && io::stderr().is_terminal(),
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
        }
    }

    /// Captured streams, for tests.
    pub fn capture(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            err,
            color_out: false,
            color_err: false,
            interactive: false,
        }
    }

    /// Standard output.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }

    /// Standard error.
    pub fn err(&mut self) -> &mut dyn Write {
        &mut self.err
    }

    /// Renders a diagnostic (with its related diagnostics and source excerpts) to a string.
    pub fn render_diagnostic(diag: &dyn miette::Diagnostic, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut text = String::new();
        if handler.render_report(&mut text, diag).is_err() {
            // The handler only fails when the writer does; a String never does, but keep the message anyway.
            text = format!("{diag}\n");
        }
        text
    }

    /// Renders a diagnostic to stderr.
    pub fn report(&mut self, diag: &dyn miette::Diagnostic) -> io::Result<()> {
        let text = Self::render_diagnostic(diag, self.color_err);
        self.err.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_disables_auto_colour_only() {
        assert!(ColorChoice::Auto.resolve(true, None));
        assert!(!ColorChoice::Auto.resolve(true, Some("1")));
        assert!(
            ColorChoice::Auto.resolve(true, Some("")),
            "an empty NO_COLOR does not count"
        );
        assert!(!ColorChoice::Auto.resolve(false, None));
        assert!(ColorChoice::Always.resolve(false, Some("1")));
        assert!(!ColorChoice::Never.resolve(true, None));
    }
}
