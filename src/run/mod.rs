//! Running cells: launch argv in toolboxes, supervise children (through the process layer),
//! meter them, turn their output into metrics, and record every result as it lands. (What is
//! in a toolbox, making its container and its launch argv are `toolbox/`'s.)

mod cell_step;
mod client;
mod dispatch;
mod drive;
mod error;
mod executor;
mod executor_error;
mod group;
mod meters;
mod metrics;
mod outcome;
mod progress;
mod ran_on;
mod rounds;
mod serve_metrics;
mod server;
mod server_step;
mod slurm;
mod speculation;
mod stop_after;
mod walk;
mod workload;

pub(crate) use dispatch::Observer;
pub(crate) use executor::{Executor, RunOptions, RunSummary};
pub(crate) use executor_error::ExecutorError;
pub(crate) use slurm::{JobLog, SlurmError, SlurmExecutor, stop_leftover_jobs};
pub(crate) use walk::LocalExecutor;

#[cfg(test)]
pub(crate) use metrics::bench_metrics;
#[cfg(test)]
pub(crate) use serve_metrics::events_to_metrics;
