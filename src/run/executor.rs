//! What every executor shares: how a run is set up (`RunOptions`), what it did (`RunSummary`),
//! and the `Executor` seam where the local walk and the Slurm dispatcher plug in.

use std::time::Duration;

use super::dispatch::Observer;
use super::executor_error::ExecutorError;
use crate::plan::{PlannedCell, Work};

#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Between SIGTERM and SIGKILL when a cell times out or is interrupted.
    pub grace: Duration,
    pub progress_bars: bool,
    /// Expected milliseconds per cell hash, from earlier results of the same or similar cells.
    pub estimates: std::collections::HashMap<String, u64>,
    /// The Slurm job this run is (`run --slurm-job`): its records say so, and what it starts
    /// is listed in a file of this host's own, as nodes share the store.
    pub job: Option<crate::store::SlurmJob>,
    /// `run --stop-after N`: after N failed cells in a row on a toolbox, skip its other cells
    /// (for every experiment, over each one's own `stop-after`).
    pub stop_after: Option<u64>,
    /// The share of the machine's CPUs other processes may use before a cell's record says it
    /// ran on a busy host; `None`: not checked.
    pub busy_threshold: Option<f64>,
    /// `run --quiet-host`: before each cell, wait up to this long for the host to settle below
    /// the threshold.
    pub quiet_host: Option<Duration>,
}

/// What a run did, for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub cells: usize,
    pub ok: usize,
    pub failed: usize,
    pub cached: usize,
    pub blocked: usize,
    /// Skipped because their toolbox failed `stop-after` cells in a row.
    pub skipped: usize,
    pub failed_before: usize,
    /// Cells with rounds recorded in this run and more to measure (an interrupted run): the
    /// next run measures the rest.
    pub partly: usize,
    pub interrupted: bool,
    /// The signal that interrupted the run (SIGINT or SIGTERM), when one did.
    pub signal: Option<i32>,
    /// Where the run's time went.
    pub time: crate::time_spent::TimeSpent,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} {}: {} ran ({} ok, {} failed), {} cached, {} blocked",
            self.cells,
            if self.cells == 1 { "cell" } else { "cells" },
            self.ok + self.failed,
            self.ok,
            self.failed,
            self.cached,
            self.blocked
        )?;
        if self.skipped > 0 {
            write!(formatter, ", {} skipped", self.skipped)?;
        }
        if self.failed_before > 0 {
            write!(formatter, ", {} failed before", self.failed_before)?;
        }
        if self.partly > 0 {
            write!(formatter, ", {} partly measured (rounds left for the next run)", self.partly)?;
        }
        if self.interrupted {
            formatter.write_str(", interrupted")?;
        }
        Ok(())
    }
}

/// Where a plan's measuring steps run: given the planned cells and the units of work in run
/// order, record every result in the store and tell `observer`. The local executor runs them on
/// this machine; a cluster's executor plugs in here.
pub(crate) trait Executor {
    fn run(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, ExecutorError>;
}
