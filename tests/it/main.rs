//! The integration test binary. One binary links the crate once; each area of the product has a module here.
//! Add a `mod` line for a new area (keep the list sorted).

mod apply_fleet;
mod apply_saved;
mod arm_auth;
mod arm_client;
mod arm_fake;
mod arm_models;
mod arm_sim;
mod arm_sim_env;
mod cli;
mod common;
mod config_errors;
mod config_valid;
mod import_cli;
mod import_env;
mod import_small;
mod plan_env;
mod plan_golden;
mod schemas;
mod sim_flow;
mod sim_scenarios;
mod sim_spec;
mod sim_support;
mod state_blob;
