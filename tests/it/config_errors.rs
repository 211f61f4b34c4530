//! Golden diagnostics: every broken configuration under `tests/fixtures/errors/<case>/` is loaded, must fail with the
//! codes its `# expect:` line names, and its rendered report (miette, unicode, no colour, 100 columns) is snapshotted.

use std::collections::BTreeMap;
use std::path::Path;

use asrform::config::{self, Diagnostics, LoadOptions};

use crate::common;

fn render(d: &Diagnostics) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, d)
        .unwrap();
    out
}

fn pairs(path: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("name=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn options(dir: &Path) -> LoadOptions {
    let counts = pairs(&dir.join("disk_counts.txt"));
    LoadOptions {
        vars: pairs(&dir.join("vars.txt")),
        source_disk_counts: (!counts.is_empty()).then(|| {
            counts
                .into_iter()
                .map(|(k, v)| (k, v.parse().unwrap()))
                .collect::<BTreeMap<String, u32>>()
        }),
        ..LoadOptions::default()
    }
}

fn expected_codes(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asr.hcl"))
        .collect();
    files.sort();
    let first = std::fs::read_to_string(&files[0]).unwrap();
    let line = first.lines().next().unwrap();
    line.strip_prefix("# expect:")
        .unwrap_or_else(|| {
            panic!(
                "{}: first line must be `# expect: codes`",
                files[0].display()
            )
        })
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn config_errors_render_as_snapshots() {
    let root = common::path("tests/fixtures/errors");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "only {} error cases", cases.len());
    for dir in cases {
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        let diags = match config::load(&dir, &options(&dir)) {
            Ok(_) => panic!("{case}: loaded without errors"),
            Err(d) => d,
        };
        assert!(diags.has_errors(), "{case}");
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        for want in expected_codes(&dir) {
            assert!(
                codes.contains(&want.as_str()),
                "{case}: expected {want}, got {codes:?}\n{}",
                render(&diags)
            );
        }
        // Every error points into a file (except the ones that have no location by nature).
        for d in diags.iter() {
            if !matches!(
                d.code,
                "config::missing_provider" | "config::unknown_variable"
            ) {
                assert!(d.file().is_some(), "{case}: {} has no location", d.code);
            }
        }
        insta::assert_snapshot!(format!("config_error_{case}"), render(&diags));
    }
}

#[test]
fn config_errors_three_independent_errors_are_all_reported() {
    let dir = common::path("tests/fixtures/errors/three_errors");
    let diags = config::load(&dir, &LoadOptions::default()).unwrap_err();
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "config::duration",
            "config::region",
            "config::unknown_attribute"
        ]
    );
    let json = diags.to_json();
    let lines: Vec<u64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|d| d["file"] == "main.asr.hcl" && d["severity"] == "error")
    );
}

#[test]
fn config_errors_missing_directory_is_a_diagnostic() {
    let diags =
        config::load(Path::new("/nonexistent/asrform"), &LoadOptions::default()).unwrap_err();
    assert_eq!(diags.iter().next().unwrap().code, "config::no_files");
    let empty = tempfile::tempdir().unwrap();
    let diags = config::load(empty.path(), &LoadOptions::default()).unwrap_err();
    assert_eq!(diags.iter().next().unwrap().code, "config::no_files");
}
