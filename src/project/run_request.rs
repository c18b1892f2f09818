//! What a run is asked to do, as the command line says it: the project owns it, so that the
//! command line names no executor (the run itself is `run_project.rs`'s, above the project).

use std::time::Duration;

use crate::plan::Selection;
use crate::store::SlurmJob;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Manifest files or experiment names (every experiment when empty).
    pub targets: Vec<String>,
    pub selection: Selection,
    /// Between SIGTERM and SIGKILL when a cell times out or is interrupted.
    pub grace: Duration,
    pub progress_bars: bool,
    /// One llama-bench process for cells that differ only in per-test parameters.
    pub load_groups: bool,
    pub executor: Executor,
    /// The Slurm job this run is, on a node (`run --slurm-job`).
    pub job: Option<SlurmJob>,
    /// `--stop-after N`: after N failed cells in a row on a toolbox, skip its other cells.
    pub stop_after: Option<u64>,
    /// The share (0 to 1) of the machine's CPUs that other processes may use before a cell is
    /// said to have run on a busy host; `None` turns the check off.
    pub busy_threshold: Option<f64>,
    /// `--quiet-host`: wait up to this long before each cell for the host to settle.
    pub quiet_host: Option<Duration>,
}

/// Where the cells run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executor {
    /// On this machine, one measuring step at a time.
    Local,
    /// As Slurm batch jobs, in `partition` (the cluster's default when `None`).
    Slurm { partition: Option<String> },
}
