//! The lock file that pins every input so that another machine reproduces the same cells, and
//! the one place a pin is checked or moved.

mod lockfile;
mod pins;

pub(crate) use lockfile::{FORMAT, LockDrift, LockError, LockFile, LockedFile, LockedModel, LockedToolbox, PinnedOn};
pub(crate) use pins::Found;
