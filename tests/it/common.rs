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
