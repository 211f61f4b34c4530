//! asrform: disaster recovery as code for Azure VMs.
//!
//! Teams declare in HCL which VMs Azure Site Recovery (ASR) protects between two regions and how each must come up
//! in the target region. The library is the engine behind the `asrform` binary:
//!
//! ```text
//!   *.asr.hcl ──► config ──► graph ──► plan ◄── live snapshot ◄── provider ──► ARM REST ──► transport
//!                (parse,    (DAG of   (diff,                                                  ├─ https: Azure
//!                 validate,  target    actions,                                                ├─ in-process: sim
//!                 diagnose)  objects)  render)                                                 └─ loopback: sim serve
//! ```
//!
//! `config`, `graph` and `plan` are pure: values in, values and diagnostics out, no I/O, no clock, no printing.
//! Only `cli` prints. I/O lives at the edges: the provider's transports, the state stores and file loading.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![recursion_limit = "256"]

/// mimalloc for every program built on the library (the binary, its benches and tests measure the same thing):
/// loading and planning 10,000 VMs makes millions of small, short-lived allocations, where glibc's allocator spent
/// about half of the time (see BENCHMARKS.md, "pure part").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod addr;
pub mod apply;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dr;
pub mod estate;
pub mod fmt;
pub mod graph;
pub mod id;
pub mod import;
pub mod plan;
pub mod provider;
pub mod region;
pub mod sim;
pub mod state;
