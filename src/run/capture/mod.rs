//! Real clients' traffic: `bakeoff capture`, a recording proxy in front of llama-server that
//! writes a trace (its format and the cache diagnosis are `traffic/`'s).

mod proxy;
mod session;

pub(crate) use proxy::Proxy;
pub(crate) use session::{CaptureOptions, capture, client_env, summary};
