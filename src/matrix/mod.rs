//! The matrix: axes → cells.

mod cell;
mod expand;

pub use cell::{Cell, WorkloadKind};
pub use expand::{expand, workloads};
