//! The lock file that pins every input so that another machine reproduces the same cells.

mod lockfile;

pub(crate) use lockfile::{FORMAT, LockDrift, LockError, LockFile, LockedFile, LockedModel, LockedToolbox, PinnedOn};
