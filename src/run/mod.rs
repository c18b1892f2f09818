//! Running cells: the only async code. Launch argv in toolboxes, supervise children, turn
//! their output into metrics, and record every result as it lands; inspect and realise the
//! toolboxes they run in.

mod client;
mod dispatch;
mod execute;
mod group;
mod inspect;
mod launch;
mod leftovers;
mod metrics;
mod podman;
mod progress;
mod realise;
mod run_lock;
mod serve_metrics;
mod server;
mod supervisor;
mod workload;

pub use dispatch::Observer;
pub use execute::{DEFAULT_TIMEOUT, Executor, LocalExecutor, RunOptions, RunSummary};
pub use inspect::{ContainerView, Depth, ImageView, Inspection, inspect, inspect_all, short_id};
pub use launch::{CONTAINER_PREFIX, Detached, Launch, LaunchContext, LaunchError, launch};
pub use leftovers::{Started, Tracker, stop_leftovers};
pub use metrics::{bench_metrics, command_metrics};
pub use realise::{Realised, create, refresh};
pub use run_lock::{RunLock, acquire};
pub use supervisor::{ChildResult, Exit, capture, supervise};

/// A llama-server event stream's lines read as each API would, and the metrics made of them.
#[cfg(test)]
pub(crate) fn events_to_metrics(text: &str) {
    let mut exchanges = Vec::new();
    for api in
        [crate::manifest::Api::Completion, crate::manifest::Api::OpenaiChat, crate::manifest::Api::AnthropicMessages]
    {
        let mut exchange = client::Exchange::default();
        for line in text.lines() {
            let _ = client::take_event(&mut exchange, api, line, std::time::Instant::now());
        }
        exchanges.push(exchange);
    }
    let _ = serve_metrics::aggregate(&exchanges);
}
