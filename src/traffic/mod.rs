//! Real clients' traffic as bakeoff keeps it: the trace format a capture writes and a `replay`
//! workload reads, and why a prompt cache missed between two of its requests. A leaf: the
//! proxy (`run/capture`), the fingerprint (a trace's problems block at plan) and the report use it.

mod diagnosis;
mod trace;

pub(crate) use diagnosis::{Comparison, compare};
pub(crate) use trace::{
    Answer, TraceEntry, forwarded_header, hop_by_hop, kept_header, overlapping, pauses, read, recorded_api,
    redacted_path,
};
