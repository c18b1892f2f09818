//! `stop-after` across jobs. A toolbox whose cells stop after N failures in a row, with F of them
//! failed in a row so far, has at most N − F of its jobs queued or running at once: were they
//! all to fail, the streak would reach N and nothing more would be wasted. The rest wait here,
//! unsubmitted, until one is over. A node's bakeoff counts the streak within its job; here each
//! cell's outcome, whichever job gave it, counts to the toolbox's streak, and once it reaches N
//! the waiting jobs' cells are recorded skipped with the reason and never submitted.

use super::commands::Slurm;
use super::executor::{Dispatch, SlurmExecutor};
use crate::run::ExecutorError;
use crate::store::{CellRecord, Status};

impl SlurmExecutor<'_> {
    /// Submits a job for `cells` unless their toolbox is stopped (they are recorded skipped)
    /// or has as many jobs out as its `stop-after` leaves room for (they wait). Returns
    /// whether it submitted.
    pub(super) async fn submit_or_hold(
        &self,
        slurm: &Slurm,
        cells: Vec<usize>,
        dispatch: &mut Dispatch<'_>,
    ) -> Result<bool, ExecutorError> {
        let toolbox = dispatch.planned[cells[0]].cell.toolbox.clone();
        if dispatch.streaks.is_stopped(&toolbox) {
            for &index in &cells {
                let reason = dispatch.streaks.skip(&toolbox).unwrap_or_default();
                self.record_unsubmitted(index, Status::Skipped, &reason, dispatch)?;
            }
            return Ok(false);
        }
        if let Some(limit) = self.stop_after(&cells, dispatch) {
            let failed = dispatch.streaks.failed_in_a_row(&toolbox);
            // The streak already reached this job's limit (cells of an experiment without one
            // count to it, but do not stop the toolbox by themselves).
            if failed >= limit {
                let reason = dispatch.streaks.reason(&toolbox);
                for &index in &cells {
                    self.record_unsubmitted(index, Status::Skipped, &reason, dispatch)?;
                }
                return Ok(false);
            }
            let out = dispatch
                .jobs
                .iter()
                .filter(|job| !job.over && dispatch.planned[job.cells[0]].cell.toolbox == toolbox)
                .count();
            // It waits only behind a job that is out: one is always over at some point.
            if out > 0 && u64::try_from(out).unwrap_or(u64::MAX).saturating_add(failed) >= limit {
                dispatch.held.push(cells);
                return Ok(false);
            }
        }
        let attempts = self.attempts(&cells, dispatch.planned);
        self.submit(slurm, cells, 1, attempts, dispatch).await
    }

    /// The jobs that waited: each is submitted, skipped or kept waiting as its toolbox now
    /// allows, in the order they were planned. Nothing after a Ctrl-C (the caller does not
    /// call it once one is asked for).
    pub(super) async fn release_held(&self, slurm: &Slurm, dispatch: &mut Dispatch<'_>) -> Result<(), ExecutorError> {
        if dispatch.cancelled || dispatch.held.is_empty() {
            return Ok(());
        }
        for cells in std::mem::take(&mut dispatch.held) {
            self.submit_or_hold(slurm, cells, dispatch).await?;
        }
        Ok(())
    }

    /// A cell's outcome counts to its toolbox's failure streak; the line that says the toolbox
    /// stopped, once.
    pub(super) fn count_streak(&self, record: &CellRecord, dispatch: &mut Dispatch<'_>) {
        // A cell that did not run neither adds to a streak nor breaks it.
        if record.status.is_unrun() {
            return;
        }
        let limit = self
            .manifests
            .experiment(&record.experiment)
            .and_then(|experiment| experiment.stop_after.as_ref().map(|limit| limit.value));
        let reason = record.failure.as_ref().map_or("", |failure| failure.reason.as_str());
        if let Some(line) = dispatch.streaks.finished(&record.fingerprint.toolbox.name, limit, record.status, reason) {
            dispatch.note(line);
        }
    }

    /// The `stop-after` that holds for a job's cells: the run's, else the strictest of their
    /// experiments'.
    fn stop_after(&self, cells: &[usize], dispatch: &Dispatch<'_>) -> Option<u64> {
        self.options.stop_after.or_else(|| {
            cells
                .iter()
                .filter_map(|&index| self.manifests.experiment(&dispatch.planned[index].cell.cell.experiment))
                .filter_map(|experiment| experiment.stop_after.as_ref().map(|limit| limit.value))
                .min()
        })
    }
}
