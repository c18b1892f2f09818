//! Fingerprints: a resolved cell → canonical JSON → sha256 cell hash.

mod canonical;
mod resolve;

pub use canonical::{
    ARGV_FIELD, FieldChange, Fingerprint, HostPrint, RequestPrint, SCHEMA, ToolboxPrint, WorkloadPrint, diff,
};
pub use resolve::{InputDigests, ModelInput, ResolvedCell, ToolboxState, resolve_cell};
