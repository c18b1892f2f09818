//! Toolboxes on this machine: what runs in each (inspection, at plan time), making the
//! containers the manifests declare (realisation), and turning an argv into the command that
//! runs it inside a toolbox (used here and by the run). Measuring is `run/`'s; this room runs
//! podman, toolbox and distrobox through the process layer.

mod cache;
mod error;
mod inspect;
mod launch;
mod podman;
mod realise;

pub(crate) use error::ToolboxError;
pub(crate) use inspect::{Asked, Depth, Inspection, inspect_all, toolbox_states};
pub(crate) use launch::{LaunchContext, LaunchError, launch};
pub(crate) use realise::{Realised, create, refresh};
