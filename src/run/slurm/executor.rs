//! The Slurm executor's state: the jobs this run submitted and what it has counted, and the
//! walk of the plan's units of work into jobs.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::commands::{JobState, Node, Slurm, unsatisfiable};
use super::job_log::{JobLogReader, PlannedOnNode};
use super::ledger::Ledger;

use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::notice::Notice;
use crate::plan::{Decision, PlannedCell, Work};
use crate::process::StopSignal;
use crate::run::ExecutorError;
use crate::run::dispatch::{Event, Observer};
use crate::run::drive::drive;
use crate::run::executor::{Executor, RunOptions, RunSummary};
use crate::run::progress::Progress;
use crate::run::stop_after::Streaks;
use crate::store::{Status, Store};

pub(crate) struct SlurmExecutor<'a> {
    pub manifests: &'a Manifests,
    pub host: &'a HostFacts,
    pub store: &'a Store,
    pub options: RunOptions,
    /// Where jobs go [default: the cluster's default partition].
    pub partition: Option<String>,
    /// What a job runs, but for its cells' `--only-key` arguments: bakeoff on the node.
    pub job_command: Vec<String>,
    /// Where a job starts: the project, on the filesystem the nodes share.
    pub directory: PathBuf,
}

/// A job this run submitted.
pub(super) struct Job {
    pub(super) id: u64,
    /// The planned cells it runs.
    pub(super) cells: Vec<usize>,
    /// Which submission of these cells it is (1, then 2 after a job failure …), of `attempts`.
    pub(super) attempt: u32,
    pub(super) attempts: u32,
    pub(super) state: Option<JobState>,
    /// Over: final in Slurm's eyes (or forgotten by it), its log read to the end.
    pub(super) over: bool,
    pub(super) log: JobLogReader,
    pub(super) node: String,
    /// What the node planned for each of its cells, by portable key.
    pub(super) on_node: HashMap<String, PlannedOnNode>,
    /// Cells whose outcome this run has counted.
    pub(super) settled: HashSet<usize>,
    /// The hash of each cell the node recorded.
    pub(super) recorded: HashMap<usize, String>,
}

/// What the dispatching loop keeps.
pub(super) struct Dispatch<'p> {
    pub(super) planned: &'p [PlannedCell],
    pub(super) keys: Vec<String>,
    pub(super) events: UnboundedSender<Event>,
    pub(super) summary: RunSummary,
    pub(super) jobs: Vec<Job>,
    /// Set once Ctrl-C cancelled the jobs: unfinished cells are then not failures.
    pub(super) cancelled: bool,
    pub(super) ledger: Ledger,
    /// Each toolbox's failure streak across jobs (`stop-after`).
    pub(super) streaks: Streaks,
    /// Jobs not submitted yet: their toolbox has as many out as its `stop-after`.
    pub(super) held: Vec<Vec<usize>>,
}

impl Dispatch<'_> {
    pub(super) fn note(&self, notice: Notice) {
        let _ = self.events.send(Event::Note(notice));
    }
}

impl Executor for SlurmExecutor<'_> {
    fn run(
        &self,
        planned: &[PlannedCell],
        work: &[Work],
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, ExecutorError> {
        let slurm = Slurm::find(self.partition.clone())?;
        // A progress step per cell that goes to the cluster.
        let estimates = planned
            .iter()
            .filter(|planned| submitted(&planned.decision))
            .map(|planned| self.options.estimates.get(&planned.cell.hash).copied())
            .collect();
        let progress = Progress::new(estimates, self.options.progress_bars);
        let stopping = "stopping: cancelling this run's Slurm jobs; press Ctrl-C again to stop waiting for them";
        drive(progress, observer, stopping, |events, stop| async move {
            let nodes = slurm.nodes().await?;
            let mut dispatch = Dispatch {
                planned,
                keys: planned.iter().map(|planned| planned.cell.fingerprint.portable_key()).collect(),
                events,
                summary: RunSummary { cells: planned.len(), ..RunSummary::default() },
                jobs: Vec::new(),
                cancelled: false,
                // An earlier run's jobs were stopped before this run planned (`stop_leftover_jobs`).
                ledger: Ledger::of(self.store),
                streaks: Streaks::new(self.options.stop_after),
                held: Vec::new(),
            };
            self.dispatch(&slurm, &nodes, work, &mut dispatch, stop).await?;
            Ok(dispatch.summary)
        })
    }
}

/// Whether a cell of the plan goes to the cluster: one to run, and one blocked here (this
/// machine's facts and toolboxes are not the nodes'; the node decides for itself).
pub(super) fn submitted(decision: &Decision) -> bool {
    matches!(decision, Decision::Run(_) | Decision::Blocked { .. })
}

impl SlurmExecutor<'_> {
    async fn dispatch(
        &self,
        slurm: &Slurm,
        nodes: &[Node],
        work: &[Work],
        dispatch: &mut Dispatch<'_>,
        mut stop: StopSignal,
    ) -> Result<(), ExecutorError> {
        let started = Instant::now();
        let mut submissions = 0usize;
        for planned in dispatch.planned {
            match planned.decision {
                Decision::Cached => dispatch.summary.cached += 1,
                Decision::FailedBefore { .. } => dispatch.summary.failed_before += 1,
                _ => {}
            }
        }
        for unit in work {
            let cells: Vec<usize> =
                unit.cells().iter().copied().filter(|&index| submitted(&dispatch.planned[index].decision)).collect();
            if cells.is_empty() {
                continue;
            }
            if *stop.borrow() > 0 {
                dispatch.summary.interrupted = true;
                break;
            }
            let toolbox = &self.manifests.toolboxes[&dispatch.planned[cells[0]].cell.toolbox];
            if let Some(reason) = unsatisfiable(nodes, &toolbox.features, slurm.partition.as_deref()) {
                for &index in &cells {
                    self.record_unsubmitted(index, Status::Blocked, &reason, dispatch)?;
                }
                continue;
            }
            if self.submit_or_hold(slurm, cells, dispatch).await? {
                submissions += 1;
            }
        }
        if submissions > 0 {
            let seconds = started.elapsed().as_secs_f64();
            #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
            let rate = submissions as f64 / seconds.max(1e-9);
            dispatch.note(Notice::info(format!(
                "submitted {submissions} Slurm job(s) in {seconds:.2} s ({rate:.1} per second)"
            )));
        }
        self.follow(slurm, dispatch, &mut stop).await?;
        for line in dispatch.streaks.summary() {
            dispatch.note(line);
        }
        dispatch.ledger.clear();
        Ok(())
    }
}

/// `CELL` or `CELL (+2 more)`: what a job runs, for the progress output.
pub(super) fn job_label(job: &Job, planned: &[PlannedCell]) -> String {
    let first = &planned[job.cells[0]].cell.id;
    match job.cells.len() {
        1 => first.clone(),
        count => format!("{first} (+{} more)", count - 1),
    }
}
