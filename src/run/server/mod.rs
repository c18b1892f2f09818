//! llama-server from the client's side: its lifecycle, the HTTP client, the workloads sent to it,
//! and the metrics read from what came back.

pub(in crate::run) mod agent;
mod client;
mod lifecycle;
pub(in crate::run) mod replay;
pub(in crate::run) mod serve_metrics;
pub(in crate::run) mod speculation;
pub(in crate::run) mod workload;

pub(in crate::run) use client::{Exchange, RequestSpec, describe, is_event_stream, take_event, take_whole};
pub(in crate::run) use lifecycle::{Server, start};
