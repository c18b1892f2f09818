//! The machine cells run on: its facts and the toolbox requirements they satisfy.

mod constraint;
mod facts;

pub use constraint::{Condition, Fact, Requirement, compare_versions};
pub use facts::{HostFacts, HostFactsError};
