//! The `asrform` binary (wired to the CLI once the configuration module lands).
fn main() {}
