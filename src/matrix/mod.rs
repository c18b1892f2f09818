//! The matrix: axes → cells.

mod cell;
mod expand;

pub use cell::Cell;
pub use expand::{expand, workloads};
