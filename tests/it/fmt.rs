//! `asrform fmt`: golden before/after fixtures, idempotence on every example and parseable fixture, comments kept,
//! the CLI's --check/--diff/rewrite behaviour, and a property test over generated configurations.

use std::path::{Path, PathBuf};

use asrform::fmt::format_source;
use assert_cmd::Command;
use proptest::prelude::*;

use crate::common;

fn hcl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            hcl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "hcl") {
            out.push(p);
        }
    }
}

#[test]
fn every_golden_input_formats_to_its_output() {
    let dir = common::path("tests/fixtures/fmt");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".in.hcl"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 2, "{inputs:?}");
    for input_path in inputs {
        let input = std::fs::read_to_string(&input_path).unwrap();
        let expected_path = input_path.to_string_lossy().replace(".in.hcl", ".out.hcl");
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        let out = format_source(&input).unwrap();
        similar_asserts(&expected, &out);
        assert_eq!(format_source(&out).unwrap(), out, "idempotent");
        assert_ne!(input, out, "{} has something to fix", input_path.display());
    }
}

fn similar_asserts(expected: &str, actual: &str) {
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected, actual);
        panic!(
            "formatted output differs from the golden file:\n{}",
            diff.unified_diff().header("expected", "actual")
        );
    }
}

#[test]
fn comments_are_kept_in_place() {
    let input = std::fs::read_to_string(common::path("tests/fixtures/fmt/messy.in.hcl")).unwrap();
    let out = format_source(&input).unwrap();
    let comments = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| {
                ["#", "//", "/*", "comment kept verbatim */"]
                    .iter()
                    .filter_map(|m| l.find(m))
                    .min()
                    .map(|i| l[i..].trim_end().to_string())
            })
            .collect()
    };
    let before = comments(&input);
    assert_eq!(
        before.len(),
        5,
        "the fixture has five comment lines: {before:?}"
    );
    assert_eq!(comments(&out), before, "same comments, same order");
}

#[test]
fn examples_are_formatted_and_every_parseable_fixture_is_idempotent() {
    let mut files = Vec::new();
    hcl_files(&common::path("examples"), &mut files);
    let examples = files.len();
    assert!(examples >= 2);
    hcl_files(&common::path("tests/fixtures"), &mut files);
    let mut checked = 0;
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let Ok(once) = format_source(&text) else {
            assert!(
                hcl::parse(&text).is_err(),
                "{} parses but does not format",
                f.display()
            );
            continue;
        };
        if i < examples {
            similar_asserts(&text, &once);
        }
        assert_eq!(
            format_source(&once).unwrap(),
            once,
            "{} is not idempotent",
            f.display()
        );
        assert_eq!(hcl::parse(&once).unwrap(), hcl::parse(&text).unwrap());
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files checked");
}

fn asrform() -> Command {
    Command::cargo_bin("asrform").unwrap()
}

#[test]
fn cli_rewrites_checks_and_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let messy = std::fs::read_to_string(common::path("tests/fixtures/fmt/messy.in.hcl")).unwrap();
    let golden = std::fs::read_to_string(common::path("tests/fixtures/fmt/messy.out.hcl")).unwrap();
    let file = dir.path().join("main.asr.hcl");
    std::fs::write(&file, &messy).unwrap();
    std::fs::write(dir.path().join("ok.asr.hcl"), "a = 1\n").unwrap();
    std::fs::write(dir.path().join("notes.hcl"), "x   =   1\n").unwrap();

    let out = asrform()
        .args(["fmt", "--check"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let listed = String::from_utf8(out).unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("main.asr.hcl"), "{listed}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        messy,
        "--check writes nothing"
    );

    let out = asrform()
        .args(["fmt", "-check", "-diff"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let diff = String::from_utf8(out).unwrap();
    assert!(
        diff.contains("(original)") && diff.contains("(formatted)"),
        "{diff}"
    );
    assert!(diff.contains("+  estate = \"estate.json\""), "{diff}");

    asrform().arg("fmt").arg(dir.path()).assert().success();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), golden);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.hcl")).unwrap(),
        "x   =   1\n",
        "only *.asr.hcl files are picked up from a directory"
    );
    asrform()
        .args(["fmt", "--check"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout("");
    // A file named explicitly is formatted whatever its name.
    asrform()
        .arg("fmt")
        .arg(dir.path().join("notes.hcl"))
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.hcl")).unwrap(),
        "x = 1\n"
    );
}

#[test]
fn cli_formats_standard_input_to_standard_output() {
    asrform()
        .args(["fmt", "-"])
        .write_stdin("a=1\nbbb   =  2\n")
        .assert()
        .success()
        .stdout("a   = 1\nbbb = 2\n");
    asrform()
        .args(["fmt", "--check", "-"])
        .write_stdin("a = 1\n")
        .assert()
        .success()
        .stdout("");
    asrform()
        .args(["fmt", "--check", "-"])
        .write_stdin("a=1\n")
        .assert()
        .code(1);
    let out = asrform()
        .args(["fmt", "--color", "never", "-"])
        .write_stdin("a = \n")
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("<stdin>") && err.contains("syntax error"),
        "{err}"
    );
}

#[test]
fn cli_reports_a_parse_error_with_its_location_and_formats_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.asr.hcl"),
        "vault \"x\" {\n  name = \"y\"\n  location = \n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.asr.hcl"), "b   = 2\n").unwrap();
    let out = asrform()
        .args(["fmt", "--color", "never"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("a.asr.hcl:"), "names the file and line: {err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.asr.hcl")).unwrap(),
        "b = 2\n"
    );
}

// ---- property: generated configurations ------------------------------------------------------------------------

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,9}"
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100000).prop_map(|n| n.to_string()),
        "[a-zA-Z0-9 ._/-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        ident().prop_map(|s| format!("\"${{var.{s}}}-x\"")),
        Just("true".to_string()),
        ident().prop_map(|s| format!("var.{s}")),
    ]
}

fn ws() -> impl Strategy<Value = String> {
    prop_oneof![Just(""), Just(" "), Just("   "), Just("\t")].prop_map(str::to_string)
}

/// A value, single-line or spread over lines with messy whitespace.
fn value() -> impl Strategy<Value = String> {
    let leaf = scalar();
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..3), ws())
                .prop_map(|(vs, w)| format!("[{w}{}{w}]", vs.join(", "))),
            (
                prop::collection::vec((ident(), inner.clone(), ws()), 0..3),
                any::<bool>()
            )
                .prop_map(|(kvs, multi)| {
                    if multi {
                        let body: String = kvs
                            .iter()
                            .map(|(k, v, w)| format!("{w}{k}{w}={w}{v}\n"))
                            .collect();
                        format!("{{\n{body}}}")
                    } else {
                        let body: Vec<String> = kvs
                            .iter()
                            .map(|(k, v, w)| format!("{k}{w}={w}{v}"))
                            .collect();
                        format!("{{ {} }}", body.join(", "))
                    }
                }),
        ]
    })
}

#[derive(Debug, Clone)]
enum Item {
    Attr(String, String, String, Option<String>),
    Heredoc(String, Vec<String>),
    Comment(String),
    Blank,
    Block(String, Vec<String>, Vec<Item>),
}

fn item() -> impl Strategy<Value = Item> {
    let leaf = prop_oneof![
        4 => (ident(), value(), ws(), prop::option::of("[a-z ]{0,8}")).prop_map(|(k, v, w, c)| {
            Item::Attr(k, v, w, c.map(|c| format!("# {c}")))
        }),
        1 => (ident(), prop::collection::vec("[ a-z=\\{}\\[]{0,12}", 0..3)).prop_map(|(k, ls)| Item::Heredoc(k, ls)),
        1 => "[a-z ]{0,10}".prop_map(|c| Item::Comment(format!("# {c}"))),
        1 => Just(Item::Blank),
    ];
    leaf.prop_recursive(2, 20, 5, |inner| {
        (
            ident(),
            prop::collection::vec("[a-z0-9]{1,6}", 0..3),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(t, labels, body)| Item::Block(t, labels, body))
    })
}

fn render(items: &[Item], depth: usize, indent_noise: &[usize], out: &mut String) {
    for (i, it) in items.iter().enumerate() {
        let pad = " ".repeat(indent_noise[(depth + i) % indent_noise.len()] + depth);
        match it {
            Item::Attr(k, v, w, c) => {
                let c = c.as_deref().map_or(String::new(), |c| format!("{w} {c}"));
                out.push_str(&format!("{pad}{k}{w}={w}{v}{c}\n"));
            }
            Item::Heredoc(k, ls) => {
                out.push_str(&format!("{pad}{k} = <<-EOT\n"));
                for l in ls {
                    out.push_str(&format!("{l}\n"));
                }
                out.push_str(&format!("{pad}  EOT\n"));
            }
            Item::Comment(c) => out.push_str(&format!("{pad}{c}\n")),
            Item::Blank => out.push_str("\n\n"),
            Item::Block(t, labels, body) => {
                let labels: String = labels.iter().map(|l| format!(" \"{l}\"")).collect();
                out.push_str(&format!("{pad}{t}{labels}{{\n"));
                render(body, depth + 1, indent_noise, out);
                out.push_str(&format!("{pad}}}\n"));
            }
        }
    }
}

fn items_have_heredocs(items: &[Item]) -> bool {
    items.iter().any(|i| match i {
        Item::Heredoc(..) => true,
        Item::Block(_, _, body) => items_have_heredocs(body),
        _ => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn formatting_is_idempotent_and_keeps_meaning(
        items in prop::collection::vec(item(), 0..8),
        noise in prop::collection::vec(0usize..5, 1..4),
    ) {
        let mut src = String::new();
        render(&items, 0, &noise, &mut src);
        // Generated names may repeat; only inputs HCL accepts are meaningful here.
        prop_assume!(hcl::parse(&src).is_ok());
        let once = format_source(&src).map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        prop_assert_eq!(hcl::parse(&once).unwrap(), hcl::parse(&src).unwrap());
        prop_assert_eq!(format_source(&once).unwrap(), once.clone());
        prop_assert!(once.is_empty() || once.ends_with('\n') && !once.ends_with("\n\n"));
        // Heredoc bodies are verbatim, so blank runs and blanks at line ends may be theirs.
        let heredoc_text = items_have_heredocs(&items);
        prop_assert!(heredoc_text || !once.contains("\n\n\n"));
        for line in once.lines().filter(|_| !heredoc_text) {
            prop_assert!(line == line.trim_end(), "trailing whitespace in {:?}", line);
            let lead = line.len() - line.trim_start().len();
            prop_assert!(lead % 2 == 0 && !line.starts_with('\t'), "odd indent in {:?}", line);
        }
    }
}
