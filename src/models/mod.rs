//! The model inventory: GGUF files under the model roots and what their headers say.

mod applies;
pub(crate) mod gguf;
mod inventory;

pub(crate) use applies::ModelShape;
pub(crate) use applies::inapplicable;
#[cfg(test)]
pub(crate) use gguf::parse;
pub(crate) use gguf::read;
pub(crate) use inventory::{ModelFile, WalkProblem, scan};
