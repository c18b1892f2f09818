//! Running cells: launch argv in toolboxes, supervise children (through the process layer),
//! meter them, turn their output into metrics, and record every result as it lands. (What is
//! in a toolbox, making its container and its launch argv are `toolbox/`'s.)

pub(crate) mod capture;
mod dispatch;
mod drive;
mod error;
mod executor;
mod executor_error;
mod meters;
mod outcome;
mod progress;
mod readers;
mod server;
mod slurm;
mod stop_after;
mod walk;

pub(crate) use dispatch::Observer;
pub(crate) use executor::{Executor, RunOptions, RunSummary};
pub(crate) use executor_error::ExecutorError;
pub(crate) use meters::{DEFAULT_THRESHOLD as DEFAULT_BUSY_THRESHOLD, ForeignLoad};
pub(crate) use slurm::{JobLog, SlurmError, SlurmExecutor, stop_leftover_jobs};
pub(crate) use walk::LocalExecutor;

#[cfg(test)]
pub(crate) use readers::metrics::bench_metrics;
#[cfg(test)]
pub(crate) use server::serve_metrics::events_to_metrics;
