//! Running a plan on a Slurm cluster. Each unit of work (a cell, a llama-bench load group, a
//! server group with its cells) becomes one `sbatch --exclusive` job that runs bakeoff itself
//! on the node over the shared checkout (`bakeoff run … --only-key K… --slurm-job`): the node
//! probes its own facts, inspects its own toolboxes, measures, and writes its records into the
//! one store. This side submits, polls `squeue`, follows each job's log
//! (`results/slurm/JOBID.jsonl`) into the progress output and the reports, turns a job that
//! ended badly into its cells' failures, resubmits as `retries` allow, and cancels its jobs on
//! Ctrl-C.

mod commands;
mod job_log;

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use self::commands::{JobSpec, JobState, Node, Refused, Slurm, SlurmState};
use self::job_log::{JobLine, JobLogReader, PlannedOnNode};
pub use self::job_log::{JobLog, jobs_dir};
use super::dispatch::{Event, Observer};
use super::execute::{
    Executor, RunOptions, RunSummary, describe_metrics, describe_server_metrics, drive, finished_line, log_tail,
    now_unix_ms, unrun_record,
};
use super::progress::Progress;
use super::supervisor::StopSignal;
use crate::Error;
use crate::host::HostFacts;
use crate::manifest::Manifests;
use crate::plan::{Decision, PlannedCell, Work};
use crate::store::{CellRecord, Failure, SlurmJob, Status, Store};

/// The first pause between two polls; it doubles while nothing changes, up to the longest.
const FIRST_POLL: Duration = Duration::from_millis(250);
const LONGEST_POLL: Duration = Duration::from_secs(5);
/// Time a job may take beyond its cells' timeouts (bakeoff's start, probes, a model's hash).
const JOB_MARGIN: Duration = Duration::from_secs(600);
/// Job states in which Slurm ended the job's processes itself.
/// How long to wait, after cancelling, for running jobs to stop their cells.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

pub struct SlurmExecutor<'a> {
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
struct Job {
    id: u64,
    /// The planned cells it runs.
    cells: Vec<usize>,
    /// Which submission of these cells it is (1, then 2 after a job failure …), of `attempts`.
    attempt: u32,
    attempts: u32,
    state: Option<JobState>,
    /// Over: final in Slurm's eyes (or forgotten by it), its log read to the end.
    over: bool,
    log: JobLogReader,
    node: String,
    /// What the node planned for each of its cells, by portable key.
    on_node: HashMap<String, PlannedOnNode>,
    /// Cells whose outcome this run has counted.
    settled: HashSet<usize>,
    /// The hash of each cell the node recorded.
    recorded: HashMap<usize, String>,
}

/// What the dispatching loop keeps.
struct Dispatch<'p> {
    planned: &'p [PlannedCell],
    keys: Vec<String>,
    events: UnboundedSender<Event>,
    summary: RunSummary,
    jobs: Vec<Job>,
    /// Set once Ctrl-C cancelled the jobs: unfinished cells are then not failures.
    cancelled: bool,
    ledger: Ledger,
}

impl Dispatch<'_> {
    fn note(&self, line: String) {
        let _ = self.events.send(Event::Note(line));
    }
}

impl Executor for SlurmExecutor<'_> {
    fn run(&self, planned: &[PlannedCell], work: &[Work], observer: &mut dyn Observer) -> Result<RunSummary, Error> {
        let slurm = Slurm::find(self.partition.clone()).map_err(|reason| Error::Slurm { reason })?;
        // A progress step per cell that goes to the cluster.
        let estimates = planned
            .iter()
            .filter(|planned| submitted(&planned.decision))
            .map(|planned| self.options.estimates.get(&planned.cell.hash).copied())
            .collect();
        let progress = Progress::new(estimates, self.options.progress_bars);
        let stopping = "stopping: cancelling this run's Slurm jobs; press Ctrl-C again to stop waiting for them";
        drive(progress, observer, stopping, |events, stop| async move {
            let nodes = slurm.nodes().await.map_err(|reason| Error::Slurm { reason })?;
            let mut dispatch = Dispatch {
                planned,
                keys: planned.iter().map(|planned| planned.cell.fingerprint.portable_key()).collect(),
                events,
                summary: RunSummary { cells: planned.len(), ..RunSummary::default() },
                jobs: Vec::new(),
                cancelled: false,
                // An earlier run's jobs were stopped before this run planned (`stop_leftover_jobs`).
                ledger: Ledger::of(self.store.root()),
            };
            self.dispatch(&slurm, &nodes, work, &mut dispatch, stop).await?;
            Ok(dispatch.summary)
        })
    }
}

/// `results/slurm/`, made with a `.gitignore` of its own: job logs and outputs are this
/// cluster's scratch, not results to commit.
fn prepare_jobs_dir(store_root: &std::path::Path) -> Result<(), Error> {
    let directory = jobs_dir(store_root);
    let io = |source| Error::Io { what: format!("cannot create `{}`", directory.display()), source };
    std::fs::create_dir_all(&directory).map_err(io)?;
    let ignore = directory.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# Slurm job logs and outputs, written by bakeoff: not results.\n*\n").map_err(io)?;
    }
    Ok(())
}

/// Whether a cell of the plan goes to the cluster: one to run, and one blocked here (this
/// machine's facts and toolboxes are not the nodes'; the node decides for itself).
fn submitted(decision: &Decision) -> bool {
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
    ) -> Result<(), Error> {
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
            let attempts = self.attempts(&cells, dispatch.planned);
            if self.submit(slurm, cells, 1, attempts, dispatch).await? {
                submissions += 1;
            }
        }
        if submissions > 0 {
            let seconds = started.elapsed().as_secs_f64();
            #[expect(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
            let rate = submissions as f64 / seconds.max(1e-9);
            dispatch.note(format!("submitted {submissions} Slurm job(s) in {seconds:.2} s ({rate:.1} per second)"));
        }
        self.follow(slurm, dispatch, &mut stop).await?;
        dispatch.ledger.clear();
        Ok(())
    }

    /// Polls the jobs until every one is over, following their logs; cancels them all on the
    /// first stop request.
    async fn follow(&self, slurm: &Slurm, dispatch: &mut Dispatch<'_>, stop: &mut StopSignal) -> Result<(), Error> {
        let mut pause = FIRST_POLL;
        let mut cancelled_at: Option<Instant> = None;
        let mut squeue_failing = false;
        loop {
            let open: Vec<u64> = dispatch.jobs.iter().filter(|job| !job.over).map(|job| job.id).collect();
            if open.is_empty() {
                return Ok(());
            }
            let requests = *stop.borrow();
            if requests > 0 && cancelled_at.is_none() {
                self.cancel(slurm, &open, dispatch).await;
                cancelled_at = Some(Instant::now());
                pause = FIRST_POLL;
            }
            if requests > 1 || cancelled_at.is_some_and(|at| at.elapsed() > CANCEL_WAIT + self.options.grace) {
                // Whatever still runs is cancelled outright, and not waited for.
                if let Err(reason) = slurm.cancel(&open).await {
                    dispatch.note(format!("warning: cannot cancel Slurm job(s): {reason}"));
                }
                return Ok(());
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = stop.changed() => match changed {
                    // A stop request: cancel at the top of the loop.
                    Ok(()) => continue,
                    // No signal handling (the handlers could not be set up): just wait.
                    Err(_) => tokio::time::sleep(pause).await,
                },
            }
            let states = match slurm.states(&open).await {
                Ok(states) => {
                    squeue_failing = false;
                    states
                }
                Err(reason) => {
                    if !squeue_failing {
                        dispatch.note(format!("warning: cannot ask Slurm about the jobs (asking again): {reason}"));
                    }
                    squeue_failing = true;
                    pause = (pause * 2).min(LONGEST_POLL);
                    continue;
                }
            };
            let mut changed = false;
            let mut resubmit = Vec::new();
            for position in 0..dispatch.jobs.len() {
                if dispatch.jobs[position].over {
                    continue;
                }
                let state = states.get(&dispatch.jobs[position].id).cloned();
                changed |= self.read_log(position, dispatch);
                let job = &mut dispatch.jobs[position];
                match state {
                    Some(state) if !state.is_final() => {
                        if job.state.as_ref().is_none_or(|seen| seen.state != state.state) {
                            changed = true;
                            if state.state == SlurmState::Running {
                                let what = job_label(job, dispatch.planned);
                                let phase = format!("running on {} (job {})", state.node, job.id);
                                let _ = dispatch.events.send(Event::Started { what, phase });
                            }
                        }
                        job.state = Some(state);
                    }
                    // Over, or forgotten (Slurm keeps a finished job `MinJobAge` seconds).
                    state => {
                        changed = true;
                        // Whatever the job wrote last.
                        self.read_log(position, dispatch);
                        let job = &mut dispatch.jobs[position];
                        job.over = true;
                        if let Some(state) = &state {
                            job.state = Some(state.clone());
                        }
                        if let Some(again) = self.settle(slurm, position, state, dispatch).await? {
                            resubmit.push(again);
                        }
                    }
                }
            }
            for (cells, attempt, attempts) in resubmit {
                self.submit(slurm, cells, attempt, attempts, dispatch).await?;
            }
            pause = if changed { FIRST_POLL } else { (pause * 2).min(LONGEST_POLL) };
        }
    }

    /// Ctrl-C: queued jobs are cancelled; a running job's bakeoff is sent SIGTERM alone
    /// (`scancel --batch`), so that it stops its cell as a local run does and records nothing
    /// for it, where a plain `scancel` would signal the cell's processes behind its back.
    async fn cancel(&self, slurm: &Slurm, open: &[u64], dispatch: &mut Dispatch<'_>) {
        // What runs now, not at the last poll.
        let states = slurm.states(open).await.unwrap_or_default();
        let running = |id: &u64| {
            let state = states.get(id).or_else(|| dispatch.jobs.iter().find(|job| job.id == *id)?.state.as_ref());
            state.is_some_and(|state| state.state.is_running())
        };
        let (running, queued): (Vec<u64>, Vec<u64>) = open.iter().partition(|id| running(id));
        for (ids, result) in
            [(&queued, slurm.cancel(&queued).await), (&running, slurm.signal_batch(&running, "TERM").await)]
        {
            if let Err(reason) = result {
                let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
                dispatch.note(format!("warning: cannot cancel Slurm job(s) {list}: {reason}"));
            }
        }
        let list = open.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        dispatch.note(format!("cancelled Slurm job(s) {list}"));
        dispatch.cancelled = true;
        dispatch.summary.interrupted = true;
    }

    /// Submits one job for `cells` and tells the progress output. Returns whether a job was
    /// submitted; when Slurm refuses it, its cells are blocked or failed with the reason.
    async fn submit(
        &self,
        slurm: &Slurm,
        cells: Vec<usize>,
        attempt: u32,
        attempts: u32,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<bool, Error> {
        let toolbox = &self.manifests.toolboxes[&dispatch.planned[cells[0]].cell.toolbox];
        let mut command = self.job_command.clone();
        command.extend(cells.iter().map(|&index| format!("--only-key={}", dispatch.keys[index])));
        let spec = JobSpec {
            name: format!("bakeoff-{}", dispatch.planned[cells[0]].cell.cell.experiment),
            features: toolbox.features.clone(),
            minutes: self.time_limit(&cells, dispatch.planned).as_secs().div_ceil(60),
            output: jobs_dir(self.store.root()).join("%j.out"),
            directory: self.directory.clone(),
            // Each node names itself, whatever this machine is called.
            command: format!("unset BAKEOFF_HOST_NAME; exec {}", crate::shell::words(&command)),
        };
        prepare_jobs_dir(self.store.root())?;
        match slurm.submit(&spec).await {
            Ok(id) => {
                let job = Job {
                    id,
                    cells,
                    attempt,
                    attempts,
                    state: None,
                    over: false,
                    log: JobLogReader::new(jobs_dir(self.store.root()).join(format!("{id}.jsonl"))),
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

    /// Takes in the lines the job's log has gained. Returns whether there were any.
    fn read_log(&self, position: usize, dispatch: &mut Dispatch<'_>) -> bool {
        let (lines, problems) = dispatch.jobs[position].log.read_new();
        for problem in problems {
            dispatch.note(format!("warning: {problem}"));
        }
        let any = !lines.is_empty();
        for line in lines {
            match line {
                JobLine::Planned { node, cells } => {
                    dispatch.jobs[position].node.clone_from(&node);
                    for on_node in cells {
                        let Some(index) = self.cell_of(position, &on_node.key, dispatch) else { continue };
                        let id = &dispatch.planned[index].cell.id;
                        let reason = on_node.reason.clone().unwrap_or_default();
                        let line = match on_node.decision.as_str() {
                            "cached" => {
                                dispatch.summary.cached += 1;
                                Some(format!("cached   {id} on {node}"))
                            }
                            "failed-before" => {
                                dispatch.summary.failed_before += 1;
                                Some(format!("failed   {id} before on {node}: {reason} (rerun with --retry-failed)"))
                            }
                            "blocked" => {
                                dispatch.summary.blocked += 1;
                                Some(format!("blocked  {id} on {node}: {reason}"))
                            }
                            _ => None,
                        };
                        if let Some(line) = line {
                            dispatch.jobs[position].settled.insert(index);
                            let _ = dispatch.events.send(Event::Passed(line));
                        }
                        dispatch.jobs[position].on_node.insert(on_node.key.clone(), on_node);
                    }
                }
                JobLine::Recorded { key, hash, complete } => {
                    let Some(index) = self.cell_of(position, &key, dispatch) else { continue };
                    let record = match self.store.read(&hash) {
                        Ok(Some(record)) => record,
                        Ok(None) => {
                            dispatch.note(format!(
                                "warning: job {} recorded `{hash}`, which is not in the store",
                                dispatch.jobs[position].id
                            ));
                            continue;
                        }
                        Err(error) => {
                            dispatch.note(format!("warning: {error}"));
                            continue;
                        }
                    };
                    let job = &mut dispatch.jobs[position];
                    if !complete || job.settled.contains(&index) {
                        let _ = dispatch.events.send(Event::Landed(Box::new(record)));
                        continue;
                    }
                    job.settled.insert(index);
                    job.recorded.insert(index, hash);
                    match record.status {
                        Status::Ok => dispatch.summary.ok += 1,
                        Status::Blocked => dispatch.summary.blocked += 1,
                        _ => dispatch.summary.failed += 1,
                    }
                    let line = format!("{} on {} (job {})", result_line(&record), job.node, job.id);
                    let _ = dispatch.events.send(Event::Recorded { line, record: Box::new(record) });
                }
            }
        }
        any
    }

    /// The job's cell of portable key `key`.
    fn cell_of(&self, position: usize, key: &str, dispatch: &Dispatch<'_>) -> Option<usize> {
        let job = &dispatch.jobs[position];
        let found = job.cells.iter().copied().find(|&index| dispatch.keys[index] == key);
        if found.is_none() {
            dispatch.note(format!("warning: job {} wrote of a cell it was not given (key {key})", job.id));
        }
        found
    }

    /// A job is over: its cells without an outcome fail with the job's state, or go to a new
    /// job when `retries` allow (not after a cancellation). Cells the node recorded as killed
    /// by a signal when Slurm ended the job (cancelled, out of time, its node failed) take the
    /// job's state as their reason: the node saw only the signal. Returns the cells to
    /// resubmit.
    async fn settle(
        &self,
        slurm: &Slurm,
        position: usize,
        state: Option<JobState>,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<Option<(Vec<usize>, u32, u32)>, Error> {
        let job = &dispatch.jobs[position];
        let left: Vec<usize> = job.cells.iter().copied().filter(|index| !job.settled.contains(index)).collect();
        if dispatch.cancelled {
            for &index in &left {
                dispatch.note(format!("interrupted {}: no result recorded", dispatch.planned[index].cell.id));
            }
            return Ok(None);
        }
        let ended_by_slurm = state.as_ref().is_some_and(|state| state.state.ended_by_slurm());
        if left.is_empty() && !ended_by_slurm {
            return Ok(None);
        }
        let id = job.id;
        let (name, node) = match &state {
            Some(state) => {
                (Some(state.state.clone()), if state.node.is_empty() { job.node.clone() } else { state.node.clone() })
            }
            None => (None, job.node.clone()),
        };
        let completed = name == Some(SlurmState::Completed);
        let exit = if completed || state.is_none() { None } else { slurm.exit_code(id).await };
        let mut reason = match &state {
            Some(state) => format!("Slurm job {id} ended {}", state.state),
            None => format!("Slurm job {id} is no longer known to Slurm and recorded no result"),
        };
        if !node.is_empty() {
            let _ = write!(reason, " on {node}");
        }
        match exit {
            Some((code, 0)) if code != 0 => {
                let _ = write!(reason, " (exit code {code})");
            }
            Some((_, signal)) if signal != 0 => {
                let _ = write!(reason, " (signal {signal})");
            }
            _ => {}
        }
        if let Some(state) = &state
            && !state.reason.is_empty()
            && state.reason != "NonZeroExitCode"
        {
            let _ = write!(reason, ": {}", state.reason);
        }
        if completed {
            reason.push_str(" without a result for the cell (did its manifest change after it was submitted?)");
        }
        let status = if name == Some(SlurmState::Timeout) { Status::TimedOut } else { Status::Failed };
        if ended_by_slurm {
            self.blame_the_job(position, &reason, status, dispatch)?;
        }
        if left.is_empty() {
            return Ok(None);
        }
        let job = &dispatch.jobs[position];
        if name != Some(SlurmState::Cancelled) && job.attempt < job.attempts {
            let (attempt, attempts) = (job.attempt + 1, job.attempts);
            dispatch.note(format!("{reason}; submitting its {} cell(s) again ({attempt}/{attempts})", left.len()));
            return Ok(Some((left, attempt, attempts)));
        }
        let output = std::fs::read(jobs_dir(self.store.root()).join(format!("{id}.out"))).unwrap_or_default();
        let failure = Failure {
            reason,
            exit_code: exit.map(|(code, _)| code).filter(|code| *code != 0),
            signal: exit.map(|(_, signal)| signal).filter(|signal| *signal != 0),
            log_tail: log_tail(&output),
        };
        let job = &dispatch.jobs[position];
        let slurm_job = SlurmJob { job_id: id, node: node.clone() };
        let attempt = job.attempt;
        let pending: Vec<(usize, Option<CellRecord>)> = left
            .iter()
            .map(|&index| {
                let pending =
                    job.on_node.get(&dispatch.keys[index]).and_then(|on_node| on_node.pending.as_deref().cloned());
                (index, pending)
            })
            .collect();
        for (index, pending) in pending {
            let mut record =
                pending.unwrap_or_else(|| CellRecord::new(&dispatch.planned[index].cell, self.host, status));
            record.status = status;
            record.failure = Some(failure.clone());
            record.attempts = attempt;
            record.timings.started_unix_ms = now_unix_ms();
            record.slurm = Some(slurm_job.clone());
            self.write_failure(record, dispatch)?;
        }
        Ok(None)
    }

    /// The cells of a job Slurm ended that the node recorded as killed by SIGTERM or SIGKILL
    /// (Slurm signals every process of the job, the cell's too) failed because of the job:
    /// their records say so.
    fn blame_the_job(
        &self,
        position: usize,
        reason: &str,
        status: Status,
        dispatch: &Dispatch<'_>,
    ) -> Result<(), Error> {
        for hash in dispatch.jobs[position].recorded.values() {
            let Ok(Some(mut record)) = self.store.read(hash) else { continue };
            let Some(failure) = &mut record.failure else { continue };
            if record.status != Status::Failed || !matches!(failure.signal, Some(libc::SIGTERM | libc::SIGKILL)) {
                continue;
            }
            failure.reason = format!("{reason}; the cell was {}", failure.reason);
            record.status = status;
            self.store.write(&record)?;
            dispatch.note(finished_line(&record.cell, &record, describe_metrics));
            let _ = dispatch.events.send(Event::Landed(Box::new(record)));
        }
        Ok(())
    }

    /// Records a cell the job could not give a result, counting it failed. An earlier record of
    /// the same hash with rounds this run measured is kept: the next run measures the rest.
    fn write_failure(&self, record: CellRecord, dispatch: &mut Dispatch<'_>) -> Result<(), Error> {
        dispatch.summary.failed += 1;
        let line = finished_line(&record.cell, &record, describe_metrics);
        let keep = matches!(self.store.read(&record.hash), Ok(Some(earlier)) if earlier.status == Status::Ok && !earlier.rounds.is_empty() && !earlier.is_complete());
        if keep {
            dispatch.note(format!("{line} (its recorded rounds are kept)"));
            return Ok(());
        }
        self.store.write(&record)?;
        let _ = dispatch.events.send(Event::Recorded { line, record: Box::new(record) });
        Ok(())
    }

    /// Records a cell that no job ran: blocked (no node can run it) or failed (Slurm refused
    /// the job). A record of the same hash already there is left as it is for a blocked cell.
    fn record_unsubmitted(
        &self,
        index: usize,
        status: Status,
        reason: &str,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<(), Error> {
        let cell = &dispatch.planned[index].cell;
        let record = unrun_record(cell, self.host, status, reason.to_owned());
        if status == Status::Failed {
            return self.write_failure(record, dispatch);
        }
        dispatch.summary.blocked += 1;
        let line = finished_line(&cell.id, &record, describe_metrics);
        if matches!(self.store.head(&cell.hash), Ok(None)) {
            self.store.write(&record)?;
        }
        let _ = dispatch.events.send(Event::Recorded { line, record: Box::new(record) });
        Ok(())
    }

    /// Submissions the cells may have: 1 + the most `retries` among their experiments.
    fn attempts(&self, cells: &[usize], planned: &[PlannedCell]) -> u32 {
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

/// `ok       CELL  METRICS` for a record a node wrote.
fn result_line(record: &CellRecord) -> String {
    let describe = match record.block() {
        crate::matrix::Block::Bench | crate::matrix::Block::Command => describe_metrics,
        crate::matrix::Block::Server => describe_server_metrics,
    };
    finished_line(&record.cell, record, describe)
}

/// `CELL` or `CELL (+2 more)`: what a job runs, for the progress output.
fn job_label(job: &Job, planned: &[PlannedCell]) -> String {
    let first = &planned[job.cells[0]].cell.id;
    match job.cells.len() {
        1 => first.clone(),
        count => format!("{first} (+{} more)", count - 1),
    }
}

/// Why no node of the partition can run a job that needs `features`; `None` when one can.
fn unsatisfiable(nodes: &[Node], features: &[String], partition: Option<&str>) -> Option<String> {
    let has_all = |node: &&Node| features.iter().all(|feature| node.features.contains(feature));
    if nodes.iter().filter(|node| node.usable()).any(|node| has_all(&node)) {
        return None;
    }
    let partition = partition.map_or_else(|| "the default partition".to_owned(), |name| format!("partition `{name}`"));
    let wanted = features.join("&");
    let down: Vec<String> =
        nodes.iter().filter(has_all).map(|node| format!("{} ({})", node.name, node.state)).collect();
    if !down.is_empty() {
        return Some(format!("the nodes of {partition} with `{wanted}` are not up: {}", down.join(", ")));
    }
    let missing: Vec<&str> = features
        .iter()
        .filter(|feature| !nodes.iter().any(|node| node.features.contains(feature)))
        .map(String::as_str)
        .collect();
    let mut there: Vec<&str> = nodes.iter().flat_map(|node| node.features.iter().map(String::as_str)).collect();
    there.sort_unstable();
    there.dedup();
    let there = if there.is_empty() { "none".to_owned() } else { there.join(", ") };
    Some(if missing.is_empty() {
        format!("no node of {partition} has all of `{wanted}` (its nodes' features: {there})")
    } else {
        let missing = missing.iter().map(|feature| format!("`{feature}`")).collect::<Vec<_>>().join(", ");
        format!("no node of {partition} has feature {missing} (its nodes' features: {there})")
    })
}

/// The jobs a run has submitted and not seen end, one id a line in
/// `results/slurm/submitted.txt` (appended as each is submitted, removed when the run has seen
/// them all end), so that a run killed outright leaves none queued: the next Slurm run stops
/// them.
struct Ledger {
    path: PathBuf,
}

impl Ledger {
    fn of(store_root: &std::path::Path) -> Self {
        Self { path: jobs_dir(store_root).join("submitted.txt") }
    }

    /// Writes down job `id`. A job it could not write down is still followed by this run.
    fn add(&self, id: u64) {
        use std::io::Write as _;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path);
        let _ = file.and_then(|mut file| file.write_all(format!("{id}\n").as_bytes()));
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// The jobs an earlier run wrote down.
    fn read(&self) -> Vec<u64> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines().filter_map(|line| line.trim().parse().ok()).collect()
    }
}

/// Before a Slurm run plans: the jobs an earlier run submitted and did not see end (it was
/// killed outright) are stopped the way Ctrl-C stops them (queued ones cancelled, a running
/// one's bakeoff sent SIGTERM so that it records nothing for its cell) and waited for, so the
/// plan sees what they recorded and nothing of theirs runs beside this run's jobs. Returns
/// lines saying what was stopped. Without Slurm's clients there is nothing to do here (the run
/// then says what is missing).
pub fn stop_leftover_jobs(store_root: &std::path::Path, grace: Duration) -> Vec<String> {
    let ledger = Ledger::of(store_root);
    let ids = ledger.read();
    let Ok(slurm) = Slurm::find(None) else { return Vec::new() };
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(runtime) = crate::run::runtime() else { return Vec::new() };
    let lines = runtime.block_on(async {
        let Ok(states) = slurm.states(&ids).await else {
            return vec!["warning: cannot ask Slurm about the jobs an earlier run left".to_owned()];
        };
        let open: Vec<u64> =
            ids.iter().copied().filter(|id| states.get(id).is_some_and(|state| !state.is_final())).collect();
        if open.is_empty() {
            return Vec::new();
        }
        let (running, queued): (Vec<u64>, Vec<u64>) =
            open.iter().partition(|id| states.get(id).is_some_and(|state| state.state == SlurmState::Running));
        let mut problems = Vec::new();
        for result in [slurm.cancel(&queued).await, slurm.signal_batch(&running, "TERM").await] {
            if let Err(reason) = result {
                problems.push(reason);
            }
        }
        let deadline = Instant::now() + grace + Duration::from_secs(30);
        loop {
            let left = match slurm.states(&open).await {
                Ok(states) => {
                    open.iter().copied().filter(|id| states.get(id).is_some_and(|state| !state.is_final())).collect()
                }
                Err(_) => Vec::new(),
            };
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                if let Err(reason) = slurm.cancel(&left).await {
                    problems.push(reason);
                }
                break;
            }
            tokio::time::sleep(FIRST_POLL).await;
        }
        let list = open.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let mut lines = vec![format!("cancelled the Slurm job(s) an earlier run left: {list}")];
        lines.extend(problems.into_iter().map(|reason| format!("warning: {reason}")));
        lines
    });
    ledger.clear();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, features: &[&str], state: &str) -> Node {
        Node {
            name: name.to_owned(),
            features: features.iter().map(|feature| (*feature).to_owned()).collect(),
            state: state.to_owned(),
        }
    }

    #[test]
    fn a_feature_no_up_node_has_is_named() {
        let nodes = [node("strix1", &["rocm", "gfx1151"], "idle"), node("epyc1", &["cpu"], "alloc")];
        let features = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert_eq!(unsatisfiable(&nodes, &features(&["rocm", "gfx1151"]), None), None);
        assert_eq!(unsatisfiable(&nodes, &[], Some("bench")), None);
        let cuda = unsatisfiable(&nodes, &features(&["cuda"]), Some("bench")).unwrap();
        assert_eq!(cuda, "no node of partition `bench` has feature `cuda` (its nodes' features: cpu, gfx1151, rocm)");
        let apart = unsatisfiable(&nodes, &features(&["rocm", "cpu"]), None).unwrap();
        assert!(apart.starts_with("no node of the default partition has all of `rocm&cpu`"), "{apart}");
        let down = [node("strix1", &["rocm"], "down*"), node("strix2", &["rocm"], "drain")];
        let reason = unsatisfiable(&down, &features(&["rocm"]), None).unwrap();
        assert_eq!(reason, "the nodes of the default partition with `rocm` are not up: strix1 (down*), strix2 (drain)");
    }
}
