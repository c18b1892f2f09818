//! The model inventory: GGUF files under the model roots and what their headers say.

pub(crate) mod gguf;
mod inventory;

#[cfg(test)]
pub(crate) use gguf::parse;
pub(crate) use gguf::read;
pub(crate) use inventory::{ModelFile, WalkProblem, scan};
