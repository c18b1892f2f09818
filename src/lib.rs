//! bakeoff: a declarative experiment orchestrator for local LLM inference.
//!
//! Data flows manifest → matrix → fingerprint → plan → run → store → report; each stage
//! is a module named after it.

pub mod atomic;
pub mod cli;
pub mod digest;
pub mod error;
pub mod fingerprint;
#[cfg(test)]
mod fuzzing;
pub mod glob;
pub mod host;
pub mod inputs;
pub mod lock;
pub mod manifest;
pub mod matrix;
pub mod metric_name;
pub mod models;
pub mod plan;
pub mod project;
pub mod report;
pub mod stats;
pub mod store;
pub mod suggest;
pub mod toolbox;
pub mod units;
pub use error::Error;
pub mod parallel;
pub mod run;
pub mod shell;
