//! The integration test binary. One binary links the crate once; each area of the product has a module here.
//! Add a `mod` line for a new area (keep the list sorted).

mod arm_auth;
mod arm_client;
mod arm_fake;
mod arm_models;
mod arm_sim;
mod arm_sim_env;
mod common;
mod sim_flow;
mod sim_ops;
mod sim_python;
mod sim_scale;
mod sim_scenarios;
mod sim_spec;
mod sim_store;
mod sim_support;
