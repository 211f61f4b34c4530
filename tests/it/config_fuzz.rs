//! No input makes the loader panic: arbitrary text, and the design sketch mutated by byte flips, truncation and token
//! splicing, all go through `config::load_sources` (in memory), are rendered when they fail, and are graphed when
//! they load.

use asrform::config::{self, LoadOptions};
use asrform::graph;
use proptest::prelude::*;

use crate::common;

fn sketch() -> Vec<(String, String)> {
    let dir = common::path("tests/fixtures/configs/design_sketch");
    ["main.asr.hcl", "inventory.csv", "estate.json"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read_to_string(dir.join(n)).unwrap()))
        .collect()
}

/// Loads, renders failures through miette (spans must be in range), graphs successes.
fn exercise(files: Vec<(String, String)>) {
    let opts = LoadOptions {
        vars: vec![("target_region".into(), "westus3".into())],
        ..LoadOptions::default()
    };
    match config::load_sources(files, &opts) {
        Ok(loaded) => {
            let _ = graph::build(&loaded.config).map(|g| (g.to_dot(), g.to_json()));
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            let mut out = String::new();
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .render_report(&mut out, &diags)
                .unwrap();
            let _ = diags.to_json();
        }
    }
}

fn with_main(main: String) -> Vec<(String, String)> {
    let mut files = sketch();
    files[0].1 = main;
    files
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    "\"",
    "${",
    "%{",
    "\n",
    ",",
    ".",
    "*",
    ":",
    "=>",
    "?",
    "for",
    "in",
    "if",
    "each",
    "each.value",
    "var.",
    "local.",
    "protected_vm.web",
    "protected_vm.web[\"web01\"]",
    "region_pair.primary",
    "depends_on",
    "for_each",
    "lifecycle",
    "null",
    "true",
    "-1",
    "1e400",
    "\"\"",
    "<<EOT\nx\nEOT\n",
    "#",
    "/*",
    "...",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_fuzz_arbitrary_text(text in "\\PC*") {
        exercise(vec![("main.asr.hcl".into(), text)]);
    }

    #[test]
    fn config_fuzz_token_soup(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..60)) {
        exercise(vec![("main.asr.hcl".into(), format!("provider \"azure\" {{ subscription_id = \"s\" }}\nlocals {{ x = {} }}\n", tokens.concat()))]);
    }

    #[test]
    fn config_fuzz_byte_flips(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = sketch()[0].1.clone().into_bytes();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        exercise(with_main(String::from_utf8_lossy(&bytes).into_owned()));
    }

    #[test]
    fn config_fuzz_truncation(cut in any::<prop::sample::Index>()) {
        let text = sketch()[0].1.clone();
        let mut at = cut.index(text.len());
        while !text.is_char_boundary(at) { at -= 1; }
        exercise(with_main(text[..at].to_string()));
    }

    #[test]
    fn config_fuzz_token_splicing(from in any::<prop::sample::Index>(), len in 0usize..80, to in any::<prop::sample::Index>(), token in proptest::sample::select(TOKENS)) {
        let text = sketch()[0].1.clone();
        let chars: Vec<char> = text.chars().collect();
        let start = from.index(chars.len());
        let end = (start + len).min(chars.len());
        let piece: String = chars[start..end].iter().collect();
        let mut out: Vec<char> = chars.clone();
        let at = to.index(out.len());
        out.splice(at..at, piece.chars().chain(token.chars()));
        exercise(with_main(out.into_iter().collect()));
    }
}
