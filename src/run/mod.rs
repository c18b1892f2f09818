//! Running cells: the only async code. Launch argv in toolboxes, supervise children, turn
//! their output into metrics, and record every result as it lands; inspect and realise the
//! toolboxes they run in.

mod client;
mod dispatch;
mod energy;
mod execute;
mod group;
mod inspect;
mod launch;
mod leftovers;
mod memory;
mod metrics;
mod podman;
mod process;
mod progress;
mod realise;
mod rounds;
mod run_lock;
mod runtime;
mod serve_metrics;
mod server;
mod slurm;
mod supervisor;
mod tracker;
mod workload;

pub use dispatch::Observer;
pub use execute::{Executor, LocalExecutor, RunOptions, RunSummary};
pub use inspect::{ContainerView, Depth, ImageView, Inspection, inspect, inspect_all, short_id, toolbox_states};
pub use launch::{CONTAINER_PREFIX, Detached, Launch, LaunchContext, LaunchError, launch};
pub use leftovers::stop_leftovers;
pub use metrics::{bench_metrics, command_metrics};
pub use realise::{Realised, create, refresh};
pub use run_lock::{RunLock, acquire};
pub(crate) use runtime::runtime;
pub use slurm::{JobLog, SlurmExecutor, jobs_dir, stop_leftover_jobs};
pub use supervisor::{ChildResult, Exit, capture, supervise};
pub use tracker::{Started, Tracker};

#[cfg(test)]
pub(crate) use serve_metrics::events_to_metrics;
