//! Inputs on disk: finding models under the model roots and hashing them (with a stat cache).

mod gather;
mod hasher;
mod model_roots;
mod stat_cache;

pub use gather::{Needed, folder_digests, gather, needed};
pub use hasher::hash_file;
pub use model_roots::{ModelNotFound, ModelRoots};
pub use stat_cache::StatCache;
