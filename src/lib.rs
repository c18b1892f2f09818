//! bakeoff: a declarative experiment orchestrator for local LLM inference.
//!
//! Data flows manifest → matrix → fingerprint → plan → run → store → report; each stage
//! is a module named after it.

pub mod glob;
pub mod host;
pub mod manifest;
pub mod suggest;
pub mod units;
pub mod fingerprint;
pub mod matrix;
pub mod atomic;
pub mod inputs;
pub mod lock;
pub mod store;
pub mod plan;
pub mod error;
pub mod cli;
pub use error::Error;
