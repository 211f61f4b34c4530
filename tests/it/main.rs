//! The integration test binary. One binary links the crate once; each area of the product has a module here.
//! Add a `mod` line for a new area (keep the list sorted).

mod apply_blob;
mod apply_converge;
mod apply_crash;
mod apply_destroy;
mod apply_faults;
mod apply_fleet;
mod apply_overlap;
mod apply_saved;
mod apply_scale;
mod apply_throttle;
mod arm_auth;
mod arm_client;
mod arm_fake;
mod arm_models;
mod arm_sim;
mod arm_sim_env;
mod azurite;
/// The benches' fast vault setup (`benches/support/vaults.rs`), for the request-count tests of large estates.
#[path = "../../benches/support/vaults.rs"]
#[allow(dead_code)]
mod bench_vaults;
mod cli;
mod common;
mod config_errors;
mod config_fuzz;
mod config_valid;
mod dr_cli_commands;
mod dr_cli_golden;
mod dr_cli_pit;
mod dr_env;
mod dr_ops;
mod dr_outage;
mod dr_pit_gates;
mod dr_status;
mod fmt;
mod graph_scale;
mod import_blocks;
mod import_cli;
mod import_env;
mod import_portal;
mod import_small;
mod plan_cli;
mod plan_env;
mod plan_golden;
mod plan_requests;
mod plan_scale;
mod progress_render;
mod schemas;
mod sim_fidelity;
mod sim_flow;
mod sim_graph;
mod sim_ops;
mod sim_pit_cancel;
mod sim_python;
mod sim_scale;
mod sim_scenarios;
mod sim_spec;
mod sim_store;
mod sim_support;
mod state_blob;
mod state_cli;
