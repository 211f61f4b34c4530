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
mod azurite;
mod cli;
mod common;
mod config_errors;
mod config_fuzz;
mod config_valid;
mod dr_env;
mod dr_ops;
mod dr_status;
mod fmt;
mod graph_scale;
mod plan_cli;
mod plan_env;
mod plan_golden;
mod plan_scale;
mod progress_render;
mod schemas;
mod sim_flow;
mod sim_ops;
mod sim_python;
mod sim_scale;
mod sim_scenarios;
mod sim_spec;
mod sim_store;
mod sim_support;
mod state_blob;
mod state_cli;
