//! Settling a job that is over: its cells without an outcome fail with the job's state (or go to
//! a new job while `retries` allow), and cells Slurm's signal killed take the job's state as
//! their reason.

use std::fmt::Write;

use super::commands::{JobState, Slurm, SlurmState};
use super::executor::{Dispatch, SlurmExecutor};
use crate::notice::Notice;
use crate::run::ExecutorError;
use crate::run::dispatch::Event;
use crate::run::outcome::{describe_metrics, finished_line, log_tail, now_unix_ms, unrun_record};
use crate::store::{CellRecord, Failure, SlurmJob, Status};

impl SlurmExecutor<'_> {
    /// A job is over: its cells without an outcome fail with the job's state, or go to a new
    /// job when `retries` allow (not after a cancellation). Cells the node recorded as killed
    /// by a signal when Slurm ended the job (cancelled, out of time, its node failed) take the
    /// job's state as their reason: the node saw only the signal. Returns the cells to
    /// resubmit.
    pub(super) async fn settle(
        &self,
        slurm: &Slurm,
        position: usize,
        state: Option<JobState>,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<Option<(Vec<usize>, u32, u32)>, ExecutorError> {
        let job = &dispatch.jobs[position];
        let left: Vec<usize> = job.cells.iter().copied().filter(|index| !job.settled.contains(index)).collect();
        if dispatch.cancelled {
            for &index in &left {
                dispatch
                    .note(Notice::info(format!("interrupted {}: no result recorded", dispatch.planned[index].cell.id)));
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
            dispatch.note(Notice::info(format!(
                "{reason}; submitting its {} cell(s) again ({attempt}/{attempts})",
                left.len()
            )));
            return Ok(Some((left, attempt, attempts)));
        }
        let output = std::fs::read(self.store.slurm_job_output(Some(id))).unwrap_or_default();
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
    ) -> Result<(), ExecutorError> {
        for hash in dispatch.jobs[position].recorded.values() {
            let Ok(Some(mut record)) = self.store.read(hash) else { continue };
            let Some(failure) = &mut record.failure else { continue };
            if record.status != Status::Failed || !matches!(failure.signal, Some(libc::SIGTERM | libc::SIGKILL)) {
                continue;
            }
            failure.reason = format!("{reason}; the cell was {}", failure.reason);
            record.status = status;
            self.store.write(&record)?;
            dispatch.note(Notice::info(finished_line(&record.cell, &record, describe_metrics)));
            let _ = dispatch.events.send(Event::Landed(Box::new(record)));
        }
        Ok(())
    }

    /// Records a cell the job could not give a result, counting it failed. An earlier record of
    /// the same hash with rounds this run measured is kept: the next run measures the rest.
    fn write_failure(&self, record: CellRecord, dispatch: &mut Dispatch<'_>) -> Result<(), ExecutorError> {
        dispatch.summary.failed += 1;
        self.count_streak(&record, dispatch);
        let line = finished_line(&record.cell, &record, describe_metrics);
        let keep = matches!(self.store.read(&record.hash), Ok(Some(earlier)) if earlier.status == Status::Ok && !earlier.rounds.is_empty() && !earlier.is_complete());
        if keep {
            dispatch.note(Notice::info(format!("{line} (its recorded rounds are kept)")));
            return Ok(());
        }
        self.store.write(&record)?;
        let _ = dispatch.events.send(Event::Recorded { line, record: Box::new(record) });
        Ok(())
    }

    /// Records a cell that no job ran: blocked (no node can run it), skipped (its toolbox's
    /// `stop-after` stopped it) or failed (Slurm refused the job). A record of the same hash
    /// already there is left as it is for a blocked or skipped cell.
    pub(super) fn record_unsubmitted(
        &self,
        index: usize,
        status: Status,
        reason: &str,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<(), ExecutorError> {
        let cell = &dispatch.planned[index].cell;
        let record = unrun_record(cell, self.host, status, reason.to_owned());
        if status == Status::Failed {
            return self.write_failure(record, dispatch);
        }
        if status == Status::Skipped {
            dispatch.summary.skipped += 1;
        } else {
            dispatch.summary.blocked += 1;
        }
        let line = finished_line(&cell.id, &record, describe_metrics);
        if matches!(self.store.head(&cell.hash), Ok(None)) {
            self.store.write(&record)?;
        }
        let _ = dispatch.events.send(Event::Recorded { line, record: Box::new(record) });
        Ok(())
    }
}
