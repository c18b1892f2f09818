//! Fingerprints: a resolved cell → canonical JSON → sha256 cell hash.

mod canonical;
mod quality;
mod resolve;
mod scoring;

pub use canonical::{
    ARGV_FIELD, FieldChange, Fingerprint, HostPrint, RequestPrint, SCHEMA, ToolboxPrint, UntilPrint, WorkloadPrint,
    diff,
};
pub use quality::link as link_quality;
pub use resolve::{InputDigests, ModelInput, ResolvedCell, ToolboxState, resolve_cell};
pub use scoring::{Base, BaseSize, Scoring};
