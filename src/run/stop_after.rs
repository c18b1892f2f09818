//! `stop-after N`: after N failed or timed-out cells in a row on one toolbox, the run skips that
//! toolbox's other cells (a `ROCm` image the kernel breaks fails every cell, each after its own
//! timeout) and goes on with the other toolboxes. The skipped cells are recorded as not run,
//! so that the next plan runs them.

use std::collections::BTreeMap;

use crate::notice::Notice;
use crate::store::Status;

#[derive(Debug, Default)]
struct Streak {
    /// Failed cells in a row.
    failed: u64,
    /// The last failure's reason.
    last: String,
    /// Once the streak reached its limit: the cells skipped since.
    stopped: Option<usize>,
}

/// The failure streak of each toolbox in one run.
#[derive(Debug, Default)]
pub(in crate::run) struct Streaks {
    /// `run --stop-after N`, for every experiment; else each experiment's own.
    run_limit: Option<u64>,
    by_toolbox: BTreeMap<String, Streak>,
}

impl Streaks {
    pub(in crate::run) fn new(run_limit: Option<u64>) -> Self {
        Self { run_limit, by_toolbox: BTreeMap::new() }
    }

    /// A cell of `toolbox` finished with `status` (and `reason` when it failed); `limit` is its
    /// experiment's `stop-after`. Returns a line to show when this stops the toolbox.
    pub(in crate::run) fn finished(
        &mut self,
        toolbox: &str,
        limit: Option<u64>,
        status: Status,
        reason: &str,
    ) -> Option<Notice> {
        let streak = self.by_toolbox.entry(toolbox.to_owned()).or_default();
        if streak.stopped.is_some() {
            return None;
        }
        match status {
            Status::Failed | Status::TimedOut => {
                streak.failed += 1;
                reason.clone_into(&mut streak.last);
            }
            _ => streak.failed = 0,
        }
        let limit = self.run_limit.or(limit)?;
        (streak.failed >= limit).then(|| {
            streak.stopped = Some(0);
            Notice::warning(format!(
                "toolbox `{toolbox}` failed {} cells in a row (last: {}): its other cells in this run are skipped",
                streak.failed, streak.last
            ))
        })
    }

    /// Why a cell of `toolbox` is skipped, when the toolbox is stopped; counts the skip.
    pub(in crate::run) fn skip(&mut self, toolbox: &str) -> Option<String> {
        let streak = self.by_toolbox.get_mut(toolbox)?;
        let skipped = streak.stopped.as_mut()?;
        *skipped += 1;
        Some(self.reason(toolbox))
    }

    /// Why a cell of `toolbox` is skipped: its streak.
    pub(in crate::run) fn reason(&self, toolbox: &str) -> String {
        let (failed, last) =
            self.by_toolbox.get(toolbox).map_or((0, ""), |streak| (streak.failed, streak.last.as_str()));
        format!("skipped: toolbox `{toolbox}` failed {failed} cells in a row (last: {last}): fix it and rerun")
    }

    /// The failed cells in a row `toolbox` has now.
    pub(in crate::run) fn failed_in_a_row(&self, toolbox: &str) -> u64 {
        self.by_toolbox.get(toolbox).map_or(0, |streak| streak.failed)
    }

    /// Whether `toolbox` is stopped (its cells are skipped).
    pub(in crate::run) fn is_stopped(&self, toolbox: &str) -> bool {
        self.by_toolbox.get(toolbox).is_some_and(|streak| streak.stopped.is_some())
    }

    /// A line per stopped toolbox that skipped cells, for the end of the run.
    pub(in crate::run) fn summary(&self) -> Vec<Notice> {
        self.by_toolbox
            .iter()
            .filter_map(|(toolbox, streak)| {
                let skipped = streak.stopped.filter(|skipped| *skipped > 0)?;
                Some(Notice::warning(format!(
                    "toolbox `{toolbox}` failed {} cells in a row (last: {}); its other {skipped} {} skipped: fix it \
                     and rerun",
                    streak.failed,
                    streak.last,
                    if skipped == 1 { "cell was" } else { "cells were" }
                )))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_stops_its_toolbox_only_and_an_ok_cell_breaks_it() {
        let mut streaks = Streaks::new(None);
        assert_eq!(streaks.finished("rocm", Some(3), Status::Failed, "exit code 1"), None);
        assert_eq!(streaks.finished("rocm", Some(3), Status::Ok, ""), None);
        assert_eq!(streaks.finished("rocm", Some(3), Status::Failed, "exit code 1"), None);
        assert_eq!(streaks.finished("vulkan", Some(3), Status::Failed, "crash"), None);
        assert_eq!(streaks.finished("rocm", Some(3), Status::TimedOut, "timed out after 1800 s"), None);
        let stopped = streaks.finished("rocm", Some(3), Status::Failed, "exit code 2").unwrap();
        assert_eq!(stopped.severity, crate::notice::Severity::Warning);
        assert_eq!(
            stopped.text,
            "toolbox `rocm` failed 3 cells in a row (last: exit code 2): its other cells in this run are skipped"
        );
        assert!(streaks.is_stopped("rocm") && !streaks.is_stopped("vulkan"));
        let reason = streaks.skip("rocm").unwrap();
        assert_eq!(reason, "skipped: toolbox `rocm` failed 3 cells in a row (last: exit code 2): fix it and rerun");
        streaks.skip("rocm");
        assert_eq!(streaks.skip("vulkan"), None);
        assert_eq!(
            streaks.summary().iter().map(|notice| notice.text.as_str()).collect::<Vec<_>>(),
            [
                "toolbox `rocm` failed 3 cells in a row (last: exit code 2); its other 2 cells were skipped: fix it and rerun"
            ]
        );
    }

    #[test]
    fn without_a_limit_nothing_stops_and_the_runs_limit_wins() {
        let mut off = Streaks::new(None);
        for _ in 0..10 {
            assert_eq!(off.finished("host", None, Status::Failed, "x"), None);
        }
        let mut run = Streaks::new(Some(1));
        assert!(run.finished("host", Some(5), Status::Failed, "x").is_some());
    }
}
