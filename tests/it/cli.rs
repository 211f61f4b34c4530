//! The `asrform` binary end to end: exit codes, output formats, colour, help and version.

use std::io::Write;
use std::process::{Command, Stdio};

use assert_cmd::prelude::*;

use crate::common;

fn asrform() -> Command {
    let mut cmd = Command::cargo_bin("asrform").unwrap();
    cmd.current_dir(common::root()).env_remove("NO_COLOR");
    for (k, _) in std::env::vars() {
        if k.starts_with("ASRFORM_VAR_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn examples_validate() {
    for ex in ["examples/quickstart", "examples/fleet"] {
        let out = asrform().args(["validate", ex]).output().unwrap();
        assert!(
            out.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("Success! The configuration is valid")
        );
    }
}

#[test]
fn graph_renders_with_graphviz() {
    let dot = asrform()
        .args(["graph", "examples/quickstart"])
        .output()
        .unwrap();
    assert!(dot.status.success());
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` must be installed for this test (apt-get install graphviz; .ci/run does it)");
    child.stdin.take().unwrap().write_all(&dot.stdout).unwrap();
    let svg = child.wait_with_output().unwrap();
    assert!(
        svg.status.success(),
        "dot rejected the graph: {}",
        String::from_utf8_lossy(&svg.stderr)
    );
    let svg = String::from_utf8(svg.stdout).unwrap();
    assert!(svg.contains("<svg"));
    assert!(
        svg.contains("protected_vm.app[&quot;db01&quot;]"),
        "every node is drawn"
    );
}

#[test]
fn graph_json_lists_nodes_and_edges() {
    let out = asrform()
        .args(["graph", "examples/quickstart", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 13);
    assert!(
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "vault.dr" && e["to"] == "replication_policy.standard")
    );
}

#[test]
fn invalid_configuration_exits_1_with_every_error() {
    let out = asrform()
        .args([
            "validate",
            "tests/fixtures/errors/three_errors",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        !err.contains('\u{1b}'),
        "--color never prints no escape codes"
    );
    assert_eq!(err.matches("Error: config::").count(), 3, "{err}");

    let out = asrform()
        .args(["validate", "tests/fixtures/errors/three_errors", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["error_count"], 3);
    let first = &doc["diagnostics"][0];
    assert!(
        first["line"].as_u64().unwrap() > 0 && first["column"].as_u64().unwrap() > 0,
        "{first}"
    );
    assert!(first["file"].as_str().unwrap().ends_with(".asr.hcl"));
}

#[test]
fn colour_follows_flag_and_no_color() {
    let coloured = asrform()
        .args([
            "validate",
            "tests/fixtures/errors/three_errors",
            "--color",
            "always",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'));
    let plain = asrform()
        .args(["validate", "tests/fixtures/errors/three_errors"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'));
}

#[test]
fn variables_from_flags_env_and_terraform_style() {
    // The fleet's validation block rejects eastus as target region.
    let out = asrform()
        .args(["validate", "examples/fleet", "-var", "target_region=eastus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must differ from the source region"));
    let out = asrform()
        .args(["validate", "examples/fleet"])
        .env("ASRFORM_VAR_target_region", "eastus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = asrform()
        .args([
            "validate",
            "examples/fleet",
            "--var",
            "target_region=westus3",
        ])
        .env("ASRFORM_VAR_target_region", "eastus")
        .output()
        .unwrap();
    assert!(out.status.success(), "--var wins over the environment");
}

#[test]
fn usage_errors_exit_2_and_help_and_version_exit_0() {
    let out = asrform()
        .args(["validate", "--var", "no-equals"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = asrform().args(["--version"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("asrform {}", env!("CARGO_PKG_VERSION"))
    );
    for cmd in ["validate", "graph"] {
        let out = asrform().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("Examples:"),
            "{cmd} --help"
        );
    }
}

#[test]
fn missing_directory_is_a_clear_error() {
    let out = asrform()
        .args(["validate", "does/not/exist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist"));
}

/// The README's main command, run the way a user types it: a relative configuration directory.
#[test]
fn readme_main_command_protects_the_quickstart_and_replans_to_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let qs = tmp.path().join("qs");
    std::fs::create_dir(&qs).unwrap();
    common::fast_quickstart(&qs, |text| text);

    let run = |args: &[&str]| {
        asrform()
            .current_dir(tmp.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["apply", "--auto-approve", "--wait", "protected", "qs"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Apply complete! 13 applied, 0 failed"));
    let out = run(&["plan", "--detailed-exitcode", "qs"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        qs.join("asrform.state.json").exists(),
        "state is kept beside the configuration"
    );
}
