//! The integration test binary. One binary links the crate once; each area of the product has a module here.
//! Add a `mod` line for a new area (keep the list sorted).

mod common;
mod config_errors;
mod config_fuzz;
mod config_valid;
mod graph_scale;
