//! Real clients' traffic: a recording proxy in front of llama-server, the trace it writes, and
//! why a prompt cache missed between two of its requests. `bakeoff capture` runs it by itself;
//! a `client` workload puts it in front of each configuration's server.

mod proxy;
mod session;

pub(crate) use session::{CaptureOptions, capture, summary};
