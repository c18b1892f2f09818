//! Running cells: launch argv in toolboxes, supervise children, turn their output into
//! metrics, and record every result as it lands. (What is in a toolbox, and making its
//! container, is `toolbox/`'s; it runs its commands through this room's supervisor.)

mod ask;
mod client;
mod command;
mod dispatch;
mod energy;
mod execute;
mod group;
mod launch;
mod leftovers;
mod memory;
mod metrics;
mod process;
mod progress;
mod rounds;
mod run_lock;
mod runtime;
mod serve_metrics;
mod server;
mod slurm;
mod supervisor;
mod tool_output;
mod tracker;
mod workload;

pub use ask::ask;
pub use command::{Detached, Launch};
pub use dispatch::Observer;
pub use execute::{Executor, LocalExecutor, RunOptions, RunSummary};
pub use launch::{CONTAINER_PREFIX, LaunchContext, LaunchError, launch};
pub(crate) use launch::{container_tool, device_args};
pub use leftovers::stop_leftovers;
pub use metrics::{bench_metrics, command_metrics};
pub use run_lock::{RunLock, acquire};
pub(crate) use runtime::runtime;
pub use slurm::{JobLog, SlurmExecutor, jobs_dir, stop_leftover_jobs};
pub(crate) use supervisor::remove_container;
pub use supervisor::{ChildResult, Exit, capture, supervise};
pub(crate) use tool_output::{error_line, last_line};
pub use tracker::{Started, Tracker};

#[cfg(test)]
pub(crate) use serve_metrics::events_to_metrics;
