//! Helpers shared by the integration tests: paths into the repository and the built binary.

use std::path::{Path, PathBuf};

/// The repository root (where Cargo.toml is).
#[allow(dead_code)]
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository root.
#[allow(dead_code)]
pub fn path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// Copies the quickstart example into `dir` with its simulated clock sped up so initial replication finishes
/// between two commands, applying `edit` to the configuration text. Returns the configuration file's path.
#[allow(dead_code)]
pub fn fast_quickstart(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    for entry in std::fs::read_dir(path("examples/quickstart")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let main = dir.join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    assert!(
        text.contains("clock_speed = 600"),
        "the quickstart's clock speed moved; update fast_quickstart"
    );
    std::fs::write(
        &main,
        edit(text.replace("clock_speed = 600", "clock_speed = 100000")),
    )
    .unwrap();
    main
}
