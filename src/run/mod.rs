//! Running cells: launch argv in toolboxes, supervise children, turn their output into
//! metrics, and record every result as it lands. (What is in a toolbox, and making its
//! container, is `toolbox/`'s; it runs its commands through this room's supervisor.)

mod ask;
mod cell_step;
mod client;
mod command;
mod dispatch;
mod drive;
mod energy;
mod error;
mod executor;
mod gpu_memory;
mod group;
mod launch;
mod leftovers;
mod memory;
mod metrics;
mod outcome;
mod process;
mod progress;
mod ran_on;
mod rounds;
mod run_lock;
mod runtime;
mod serve_metrics;
mod server;
mod server_step;
mod slurm;
mod speculation;
mod stop_after;
mod supervisor;
mod tool_output;
mod tracker;
mod walk;
mod workload;

pub(crate) use ask::ask;
pub(crate) use command::Launch;
pub(crate) use dispatch::Observer;
pub(crate) use executor::{Executor, RunOptions, RunSummary};
pub(crate) use launch::{LaunchContext, LaunchError, launch};
pub(crate) use launch::{container_tool, device_args};
pub(crate) use run_lock::acquire;
pub(crate) use runtime::runtime;
pub(crate) use slurm::{JobLog, SlurmError, SlurmExecutor, stop_leftover_jobs};
pub(crate) use supervisor::remove_container;
pub(crate) use supervisor::{Exit, capture};
pub(crate) use tool_output::{error_line, last_line};
pub(crate) use walk::LocalExecutor;

#[cfg(test)]
pub(crate) use metrics::bench_metrics;
#[cfg(test)]
pub(crate) use serve_metrics::events_to_metrics;
