//! The matrix: axes → cells.

mod cell;
mod expand;

pub(crate) use cell::{Block, Cell, WorkloadKind};
pub(crate) use expand::{expand, workloads};
