//! Following the jobs: poll `squeue` until every job is over, take in what each node wrote to its
//! job log, and cancel everything on Ctrl-C.

use std::time::{Duration, Instant};

use super::commands::{Slurm, SlurmState};
use super::executor::job_label;
use super::executor::{Dispatch, SlurmExecutor};
use super::job_log::{JobLine, NodeDecision};
use crate::notice::Notice;
use crate::process::StopSignal;
use crate::run::ExecutorError;
use crate::run::dispatch::Event;
use crate::run::outcome::{describe_metrics, describe_server_metrics, finished_line};
use crate::store::{CellRecord, Status};

use super::commands::FIRST_POLL;
const LONGEST_POLL: Duration = Duration::from_secs(5);
/// How long to wait, after cancelling, for running jobs to stop their cells.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

impl SlurmExecutor<'_> {
    /// Polls the jobs until every one is over, following their logs; cancels them all on the
    /// first stop request.
    pub(super) async fn follow(
        &self,
        slurm: &Slurm,
        dispatch: &mut Dispatch<'_>,
        stop: &mut StopSignal,
    ) -> Result<(), ExecutorError> {
        let mut pause = FIRST_POLL;
        let mut cancelled_at: Option<Instant> = None;
        let mut squeue_failing = false;
        let mut since = Instant::now();
        loop {
            // The time since the last look: on the nodes while a job of ours ran, else waiting
            // in the queue (never both: they would count one moment twice).
            let spent = since.elapsed();
            since = Instant::now();
            let running = dispatch
                .jobs
                .iter()
                .any(|job| !job.over && job.state.as_ref().is_some_and(|state| state.state.is_running()));
            if running {
                dispatch.summary.time.on_nodes += spent;
            } else {
                dispatch.summary.time.waiting += spent;
            }
            // Jobs that waited on their toolbox's `stop-after` go out (or are skipped) as it
            // allows; none once a stop is asked for.
            if *stop.borrow() == 0 {
                self.release_held(slurm, dispatch).await?;
            }
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
                    dispatch.note(Notice::warning(format!("cannot cancel Slurm job(s): {reason}")));
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
                        dispatch
                            .note(Notice::warning(format!("cannot ask Slurm about the jobs (asking again): {reason}")));
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
                dispatch.note(Notice::warning(format!("cannot cancel Slurm job(s) {list}: {reason}")));
            }
        }
        let list = open.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        dispatch.note(Notice::info(format!("cancelled Slurm job(s) {list}")));
        dispatch.cancelled = true;
        dispatch.summary.interrupted = true;
    }

    /// Takes in the lines the job's log has gained. Returns whether there were any.
    fn read_log(&self, position: usize, dispatch: &mut Dispatch<'_>) -> bool {
        let (lines, problems) = dispatch.jobs[position].log.read_new();
        for problem in problems {
            dispatch.note(Notice::warning(problem.clone()));
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
                        let line = match on_node.decision {
                            NodeDecision::Cached => {
                                dispatch.summary.cached += 1;
                                Some(format!("cached   {id} on {node}"))
                            }
                            NodeDecision::FailedBefore => {
                                dispatch.summary.failed_before += 1;
                                Some(format!("failed   {id} before on {node}: {reason} (rerun with --retry-failed)"))
                            }
                            NodeDecision::Blocked => {
                                dispatch.summary.blocked += 1;
                                Some(format!("blocked  {id} on {node}: {reason}"))
                            }
                            NodeDecision::Run => None,
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
                            dispatch.note(Notice::warning(format!(
                                "job {} recorded `{hash}`, which is not in the store",
                                dispatch.jobs[position].id
                            )));
                            continue;
                        }
                        Err(error) => {
                            dispatch.note(Notice::warning(format!("{error}")));
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
                        Status::Skipped => dispatch.summary.skipped += 1,
                        _ => dispatch.summary.failed += 1,
                    }
                    self.count_streak(&record, dispatch);
                    let job = &dispatch.jobs[position];
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
            dispatch.note(Notice::warning(format!("job {} wrote of a cell it was not given (key {key})", job.id)));
        }
        found
    }
}

/// `ok       CELL  METRICS` for a record a node wrote.
fn result_line(record: &CellRecord) -> String {
    let describe = match record.block() {
        crate::matrix::Block::Bench | crate::matrix::Block::Command | crate::matrix::Block::Quality => describe_metrics,
        crate::matrix::Block::Server => describe_server_metrics,
    };
    finished_line(&record.cell, record, describe)
}
