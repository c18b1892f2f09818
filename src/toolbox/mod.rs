//! Toolboxes on this machine: what runs in each (inspection, at plan time), and making the
//! containers the manifests declare (realisation). Measuring is `run/`'s; this room asks its
//! supervisor to run podman, toolbox and distrobox.

mod cache;
mod error;
mod inspect;
mod podman;
mod realise;

pub(crate) use error::ToolboxError;
pub(crate) use inspect::{Depth, Inspection, inspect_all, toolbox_states};
pub(crate) use realise::{Realised, create, refresh};
