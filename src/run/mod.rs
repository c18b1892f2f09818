//! Running cells: the only async code. Launch argv in toolboxes, supervise children, turn
//! their output into metrics, and record every result as it lands.

mod client;
mod execute;
mod inspect;
mod launch;
mod metrics;
mod progress;
mod run_lock;
mod serve_metrics;
mod server;
mod supervisor;

pub use execute::{DEFAULT_TIMEOUT, Executor, RunOptions, RunSummary};
pub use inspect::{inspect, inspect_all};
pub use launch::{Launch, LaunchError, Mounts, launch};
pub use metrics::{bench_metrics, command_metrics};
pub use run_lock::{RunLock, acquire};
pub use supervisor::{ChildResult, Exit, supervise};
