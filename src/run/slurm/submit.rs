//! Submitting a unit of work as one `sbatch --exclusive` job: its command, time limit and
//! constraint, and why no node could take it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::commands::{JobSpec, Refused, Slurm};
use super::executor::{Dispatch, Job, SlurmExecutor, job_label};
use super::job_log::JobLogReader;
use crate::plan::PlannedCell;
use crate::run::ExecutorError;
use crate::run::dispatch::Event;
use crate::store::Status;

/// Time a job may take beyond its cells' timeouts (bakeoff's start, probes, a model's hash).
const JOB_MARGIN: Duration = Duration::from_secs(600);

impl SlurmExecutor<'_> {
    /// Submits one job for `cells` and tells the progress output. Returns whether a job was
    /// submitted; when Slurm refuses it, its cells are blocked or failed with the reason.
    pub(super) async fn submit(
        &self,
        slurm: &Slurm,
        cells: Vec<usize>,
        attempt: u32,
        attempts: u32,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<bool, ExecutorError> {
        let toolbox = &self.manifests.toolboxes[&dispatch.planned[cells[0]].cell.toolbox];
        let mut command = self.job_command.clone();
        command.extend(cells.iter().map(|&index| format!("--only-key={}", dispatch.keys[index])));
        let spec = JobSpec {
            name: format!("bakeoff-{}", dispatch.planned[cells[0]].cell.cell.experiment),
            features: toolbox.features.clone(),
            minutes: self.time_limit(&cells, dispatch.planned).as_secs().div_ceil(60),
            output: self.store.slurm_job_output(None),
            directory: self.directory.clone(),
            // Each node names itself, whatever this machine is called.
            command: format!("unset BAKEOFF_HOST_NAME; exec {}", crate::shell::words(&command)),
        };
        self.store.ensure_slurm_dir().map_err(|source| ExecutorError::Io {
            what: format!("cannot create `{}`", self.store.slurm_dir().display()),
            source,
        })?;
        match slurm.submit(&spec).await {
            Ok(id) => {
                let job = Job {
                    id,
                    cells,
                    attempt,
                    attempts,
                    state: None,
                    over: false,
                    log: JobLogReader::new(self.store.slurm_job_log(id)),
                    node: String::new(),
                    on_node: HashMap::new(),
                    settled: HashSet::new(),
                    recorded: HashMap::new(),
                };
                let what = job_label(&job, dispatch.planned);
                let phase = if attempt == 1 {
                    format!("queued (job {id})")
                } else {
                    format!("queued again, attempt {attempt}/{attempts} (job {id})")
                };
                let _ = dispatch.events.send(Event::Started { what, phase });
                dispatch.jobs.push(job);
                dispatch.ledger.add(id);
                Ok(true)
            }
            Err(refused) => {
                let (status, reason) = match refused {
                    Refused::Unsatisfiable(reason) => (Status::Blocked, format!("Slurm refused the job: {reason}")),
                    Refused::Other(reason) => (Status::Failed, format!("cannot submit the job: {reason}")),
                };
                for &index in &cells {
                    self.record_unsubmitted(index, status, &reason, dispatch)?;
                }
                Ok(false)
            }
        }
    }

    /// Submissions the cells may have: 1 + the most `retries` among their experiments.
    pub(super) fn attempts(&self, cells: &[usize], planned: &[PlannedCell]) -> u32 {
        1 + cells
            .iter()
            .filter_map(|&index| self.manifests.experiment(&planned[index].cell.cell.experiment))
            .map(|experiment| experiment.attempts() - 1)
            .max()
            .unwrap_or(0)
    }

    /// The job's time limit: every cell's timeout for each attempt and round, and a margin.
    fn time_limit(&self, cells: &[usize], planned: &[PlannedCell]) -> Duration {
        let seconds: u64 = cells
            .iter()
            .filter_map(|&index| {
                let cell = &planned[index].cell;
                let experiment = self.manifests.experiment(&cell.cell.experiment)?;
                let timeout = experiment.timeout().as_secs();
                let attempts = u64::from(experiment.attempts());
                Some(timeout.saturating_mul(attempts).saturating_mul(u64::from(cell.fingerprint.rounds.max(1))))
            })
            .sum();
        Duration::from_secs(seconds) + JOB_MARGIN
    }
}
