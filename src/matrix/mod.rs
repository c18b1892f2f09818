//! The matrix: axes → cells.

mod cell;
mod expand;

pub use cell::{Block, Cell, WorkloadKind};
pub use expand::{expand, workloads};
