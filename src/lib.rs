//! bakeoff: a declarative experiment orchestrator for local LLM inference.
//!
//! Data flows manifest → matrix → fingerprint → plan → run → store → report; each stage
//! is a module named after it.

pub(crate) mod atomic;
pub mod cli;
pub mod console;
pub mod digest;
pub mod error;
pub mod fingerprint;
#[cfg(test)]
mod fuzzing;
pub(crate) mod glob;
pub mod host;
pub mod inputs;
pub(crate) mod lock;
pub mod manifest;
pub(crate) mod matrix;
pub(crate) mod metric;
pub(crate) mod models;
pub mod notice;
pub(crate) mod plan;
pub(crate) mod process;
pub mod project;
pub(crate) mod report;
pub(crate) mod reserved;
pub(crate) mod stats;
pub mod store;
pub(crate) mod suggest;
pub(crate) mod time_spent;
pub(crate) mod tool_options;
pub(crate) mod toolbox;
pub(crate) mod traffic;
pub(crate) mod units;
pub use error::Error;
pub(crate) mod parallel;
pub(crate) mod run;
pub(crate) mod run_journal;
pub(crate) mod run_project;
pub(crate) mod search;
pub(crate) mod secret;
pub(crate) mod shell;
pub mod storage;
