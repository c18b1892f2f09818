//! The model inventory: GGUF files under the model roots and what their headers say.

pub(crate) mod gguf;
mod inventory;

pub use gguf::{GgufError, GgufInfo, parse, read};
pub use inventory::{ModelFile, WalkProblem, scan};
