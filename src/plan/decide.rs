//! Deciding, per cell, whether it is cached, will run (and why), is blocked, or failed before.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::fingerprint::{FieldChange, ResolvedCell, diff};
use crate::manifest::pseudo_axis;
use crate::store::{CellRecord, RecordHead, Status};

/// Why a cell will run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum RunReason {
    /// No earlier result resembles it.
    New,
    /// The nearest earlier result, and the fingerprint fields that differ from it.
    Changed {
        previous: String,
        previous_hash: String,
        changes: Vec<FieldChange>,
    },
    Forced,
    /// An interrupted run recorded fewer rounds than the experiment asks for: the rest run and
    /// join them.
    MoreRounds {
        recorded: usize,
        wanted: u32,
    },
    RetryFailed {
        reason: String,
    },
    /// It was blocked when last planned, and nothing blocks it now: blocked is not a result.
    Unblocked {
        reason: String,
    },
    /// The last run skipped it (its toolbox failed `stop-after` cells in a row): not a result.
    Skipped {
        reason: String,
    },
    /// A quality reference whose base logits are not on disk, which candidates that run read.
    BaseMissing {
        candidates: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Decision {
    Cached,
    Run(RunReason),
    Blocked { reasons: Vec<String> },
    FailedBefore { reason: String },
}

#[derive(Debug, Clone)]
pub struct PlannedCell {
    pub cell: ResolvedCell,
    pub decision: Decision,
}

/// Which cells the user asked to rerun even though they are cached or failed.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub force: bool,
    pub retry_failed: bool,
    /// `axis=value` pairs (values may be globs): only cells matching all of them are planned.
    pub only: Vec<(String, String)>,
    /// `axis=value` pairs: cells matching any of them are left out.
    pub except: Vec<(String, String)>,
    /// Portable keys ([`crate::fingerprint::Fingerprint::portable_key`]): when not empty, only
    /// these cells are planned (a cluster job runs the cells its dispatcher gave it, whatever
    /// hash they have on the node).
    pub keys: Vec<String>,
}

impl Selection {
    /// Whether `cell` matches every `--only` selector (`workload` selects by workload name) and
    /// is one of `keys` when they are given.
    pub fn selects(&self, cell: &ResolvedCell) -> bool {
        self.only.iter().all(|(axis, pattern)| matches(cell, axis, pattern))
            && !self.except.iter().any(|(axis, pattern)| matches(cell, axis, pattern))
            && (self.keys.is_empty() || self.keys.contains(&cell.fingerprint.portable_key()))
    }

    /// Every `--only` and `--except` selector names an axis some cell has and matches one of its
    /// values, so that a typo never plans nothing in silence.
    pub fn check(&self, cells: &[ResolvedCell]) -> Result<(), UnmatchedSelector> {
        for (flag, selectors) in [("--only", &self.only), ("--except", &self.except)] {
            for (axis, pattern) in selectors {
                let values: BTreeSet<&str> = cells.iter().filter_map(|cell| value_of(cell, axis)).collect();
                let selector = format!("{flag} {axis}={pattern}");
                if values.is_empty() {
                    let mut axes: BTreeSet<&str> =
                        cells.iter().flat_map(|cell| cell.cell.axes.iter().map(|(name, _)| name.as_str())).collect();
                    axes.insert(pseudo_axis::WORKLOAD);
                    let help = crate::suggest::help_for(axis, axes.iter().copied(), "axes");
                    return Err(UnmatchedSelector {
                        message: format!("no cell has an axis `{axis}` (`{selector}`)"),
                        help,
                    });
                }
                if !values.iter().any(|value| crate::glob::glob_match(pattern, value)) {
                    // A number is not misspelt as a nearby one: numbers get the list.
                    let what = format!("values of `{axis}`");
                    let help = if pattern.parse::<f64>().is_ok() {
                        let listed: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
                        format!("expected one of the {what}: {}", listed.join(", "))
                    } else {
                        crate::suggest::help_for(pattern, values.iter().copied(), &what)
                    };
                    return Err(UnmatchedSelector {
                        message: format!("no cell has `{axis}={pattern}` (`{selector}`)"),
                        help,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A selector that names no axis or no value of the cells it selects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedSelector {
    pub message: String,
    pub help: String,
}

/// The cell's value of `axis` (`workload` is the workload's name).
fn value_of<'a>(cell: &'a ResolvedCell, axis: &str) -> Option<&'a str> {
    if axis == pseudo_axis::WORKLOAD { Some(cell.cell.workload.as_str()) } else { cell.cell.value(axis) }
}

fn matches(cell: &ResolvedCell, axis: &str, pattern: &str) -> bool {
    value_of(cell, axis).is_some_and(|value| crate::glob::glob_match(pattern, value))
}

/// Earlier results, indexed for finding the nearest one to a cell.
pub(crate) struct History<'a> {
    by_cell: HashMap<&'a str, Vec<&'a CellRecord>>,
    by_workload: HashMap<(&'a str, &'a str), Vec<&'a CellRecord>>,
    /// Hashes of the cells planned now: a record one of them still claims is less likely to
    /// be the earlier version of a changed cell than a record no current cell claims.
    current: HashSet<&'a str>,
}

impl<'a> History<'a> {
    pub(crate) fn new(records: &'a [CellRecord], current: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_cell: HashMap<&str, Vec<&CellRecord>> = HashMap::new();
        let mut by_workload: HashMap<(&str, &str), Vec<&CellRecord>> = HashMap::new();
        for record in records {
            by_cell.entry(&record.cell).or_default().push(record);
            by_workload.entry((&record.experiment, &record.workload)).or_default().push(record);
        }
        Self { by_cell, by_workload, current: current.into_iter().collect() }
    }

    /// The earlier result most like `cell`: the same cell id if there is one, else the one of the
    /// same experiment and workload with the fewest differing axes; ties go to a record no
    /// current cell claims (the value that was edited away), then to the fewest differing
    /// fingerprint fields.
    pub(crate) fn nearest(&self, cell: &ResolvedCell) -> Option<(&'a CellRecord, Vec<FieldChange>)> {
        let candidates: Vec<&CellRecord> = match self.by_cell.get(cell.id.as_str()) {
            Some(same) => same.clone(),
            None => {
                let all = self.by_workload.get(&(cell.cell.experiment.as_str(), cell.cell.workload.as_str()))?;
                let distance = |record: &CellRecord| {
                    cell.cell.axes.iter().filter(|(axis, value)| record.axes.get(axis) != Some(value)).count()
                        + record.axes.len().saturating_sub(cell.cell.axes.len())
                };
                let best = all.iter().map(|record| distance(record)).min()?;
                all.iter().copied().filter(|record| distance(record) == best).collect()
            }
        };
        candidates
            .into_iter()
            .filter(|record| record.hash != cell.hash)
            .map(|record| (record, diff(&record.fingerprint, &cell.fingerprint)))
            .min_by_key(|(record, changes)| {
                (self.current.contains(record.hash.as_str()), changes.len(), record.hash.clone())
            })
    }
}

/// Decides every cell `selection` selects. `heads` has the stored status of each cell hash
/// that has a record.
pub(crate) fn decide(
    mut cells: Vec<ResolvedCell>,
    heads: &HashMap<String, RecordHead>,
    history: &History<'_>,
    selection: &Selection,
) -> Vec<PlannedCell> {
    cells.retain(|cell| selection.selects(cell));
    cells
        .into_iter()
        .map(|cell| {
            let head = heads.get(&cell.hash);
            let forced = selection.force;
            let decision = match head {
                _ if !cell.blocked.is_empty() && head.is_none_or(|head| head.status == Status::Blocked) => {
                    Decision::Blocked { reasons: cell.blocked.clone() }
                }
                Some(_) if forced => Decision::Run(RunReason::Forced),
                Some(head)
                    if head.status == Status::Ok
                        && head.rounds_stop.is_none()
                        && head.rounds.len() < cell.fingerprint.rounds as usize =>
                {
                    // A record without rounds holds one.
                    let recorded = head.rounds.len().max(1);
                    if recorded >= cell.fingerprint.rounds as usize {
                        Decision::Cached
                    } else {
                        Decision::Run(RunReason::MoreRounds { recorded, wanted: cell.fingerprint.rounds })
                    }
                }
                Some(head) if head.status == Status::Ok => Decision::Cached,
                Some(head) if head.status == Status::Blocked => Decision::Run(RunReason::Unblocked {
                    reason: head.failure.as_ref().map_or_else(String::new, |failure| failure.reason.clone()),
                }),
                Some(head) if head.status == Status::Skipped => Decision::Run(RunReason::Skipped {
                    reason: head.failure.as_ref().map_or_else(String::new, |failure| failure.reason.clone()),
                }),
                Some(head) => {
                    let reason = head
                        .failure
                        .as_ref()
                        .map_or_else(|| head.status.name().to_owned(), |failure| failure.reason.clone());
                    if selection.retry_failed {
                        Decision::Run(RunReason::RetryFailed { reason })
                    } else {
                        Decision::FailedBefore { reason }
                    }
                }
                None => Decision::Run(match history.nearest(&cell) {
                    Some((record, changes)) => RunReason::Changed {
                        previous: record.cell.clone(),
                        previous_hash: record.hash.clone(),
                        changes,
                    },
                    None => RunReason::New,
                }),
            };
            // What blocks a cell blocks it under `--force`, `--retry-failed` or with rounds to
            // add, too: running it would fail at launch. Its earlier result stays as it is.
            let decision = match decision {
                Decision::Run(_) if !cell.blocked.is_empty() => Decision::Blocked { reasons: cell.blocked.clone() },
                decision => decision,
            };
            PlannedCell { cell, decision }
        })
        .collect()
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    pub cells: usize,
    pub cached: usize,
    pub to_run: usize,
    pub blocked: usize,
    pub failed: usize,
    /// Cells that run with another of the same inputs (one measurement, shown by both): not in
    /// `to_run`.
    #[serde(skip_serializing_if = "is_zero")]
    pub shared: usize,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// Per cell that will run: the id of an earlier cell in `cells` of the same inputs, which the
/// run measures once for both.
pub(crate) fn measured_with(cells: &[PlannedCell]) -> Vec<Option<&str>> {
    let mut first: HashMap<&str, &str> = HashMap::new();
    cells
        .iter()
        .map(|planned| {
            if !matches!(planned.decision, Decision::Run(_)) {
                return None;
            }
            let earlier = first.entry(planned.cell.hash.as_str()).or_insert(planned.cell.id.as_str());
            (*earlier != planned.cell.id.as_str()).then_some(*earlier)
        })
        .collect()
}

impl Summary {
    pub(crate) fn of(cells: &[PlannedCell]) -> Self {
        let mut summary = Self { cells: cells.len(), ..Self::default() };
        let shared = measured_with(cells);
        for (cell, shared) in cells.iter().zip(shared) {
            match cell.decision {
                Decision::Run(_) if shared.is_some() => summary.shared += 1,
                Decision::Cached => summary.cached += 1,
                Decision::Run(_) => summary.to_run += 1,
                Decision::Blocked { .. } => summary.blocked += 1,
                Decision::FailedBefore { .. } => summary.failed += 1,
            }
        }
        summary
    }
}

impl std::fmt::Display for Summary {
    /// `24 cells: 18 cached, 5 to run, 1 blocked` (and `, 2 failed before` when there are any).
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if self.cells == 1 { "cell" } else { "cells" };
        write!(formatter, "{} {noun}: {} cached, {} to run", self.cells, self.cached, self.to_run)?;
        if self.shared > 0 {
            write!(formatter, " (and {} with the same inputs as one of them)", self.shared)?;
        }
        write!(formatter, ", {} blocked", self.blocked)?;
        if self.failed > 0 {
            write!(formatter, ", {} failed before", self.failed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Block;

    fn cell(threads: &str, blocked: &[&str]) -> ResolvedCell {
        let mut cell =
            ResolvedCell::stand_in(&[("threads", threads)], "bench", Block::Bench, &["llama-bench", "-t", threads]);
        cell.blocked = blocked.iter().map(|reason| (*reason).to_owned()).collect();
        cell
    }

    fn head(status: &str, reason: Option<&str>) -> RecordHead {
        let failure = reason.map(|reason| serde_json::json!({ "reason": reason }));
        serde_json::from_value(serde_json::json!({ "format": 1, "status": status, "failure": failure })).unwrap()
    }

    fn decision(
        cell: ResolvedCell,
        head: Option<RecordHead>,
        history: &[CellRecord],
        selection: &Selection,
    ) -> Decision {
        let heads: HashMap<String, RecordHead> = head.into_iter().map(|head| (cell.hash.clone(), head)).collect();
        let hash = cell.hash.clone();
        decide(vec![cell], &heads, &History::new(history, [hash.as_str()]), selection).remove(0).decision
    }

    #[test]
    fn a_cell_with_its_result_is_cached_unless_forced() {
        assert_eq!(decision(cell("1", &[]), Some(head("ok", None)), &[], &Selection::default()), Decision::Cached);
        let forced = Selection { force: true, ..Selection::default() };
        assert_eq!(decision(cell("1", &[]), Some(head("ok", None)), &[], &forced), Decision::Run(RunReason::Forced));
    }

    #[test]
    fn a_failure_stays_a_result_until_retried() {
        let failed = || Some(head("failed", Some("exit code 1")));
        assert_eq!(
            decision(cell("1", &[]), failed(), &[], &Selection::default()),
            Decision::FailedBefore { reason: "exit code 1".to_owned() }
        );
        let retry = Selection { retry_failed: true, ..Selection::default() };
        assert_eq!(
            decision(cell("1", &[]), failed(), &[], &retry),
            Decision::Run(RunReason::RetryFailed { reason: "exit code 1".to_owned() })
        );
    }

    #[test]
    fn blocked_is_no_result_once_nothing_blocks() {
        assert_eq!(
            decision(cell("1", &["no /dev/kfd"]), None, &[], &Selection::default()),
            Decision::Blocked { reasons: vec!["no /dev/kfd".to_owned()] }
        );
        assert_eq!(
            decision(cell("1", &[]), Some(head("blocked", Some("no /dev/kfd"))), &[], &Selection::default()),
            Decision::Run(RunReason::Unblocked { reason: "no /dev/kfd".to_owned() })
        );
    }

    /// Regression: a blocked cell with an earlier result ran under `--force` (and a failed one
    /// under `--retry-failed`) and failed at launch.
    #[test]
    fn a_blocked_cell_with_a_result_stays_blocked_when_forced_or_retried() {
        let blocked = || cell("1", &["no /dev/kfd"]);
        let reasons = || Decision::Blocked { reasons: vec!["no /dev/kfd".to_owned()] };
        // Without force its result stands.
        assert_eq!(decision(blocked(), Some(head("ok", None)), &[], &Selection::default()), Decision::Cached);
        let forced = Selection { force: true, ..Selection::default() };
        assert_eq!(decision(blocked(), Some(head("ok", None)), &[], &forced), reasons());
        let retry = Selection { retry_failed: true, ..Selection::default() };
        assert_eq!(decision(blocked(), Some(head("failed", Some("exit code 1"))), &[], &retry), reasons());
    }

    /// A new cell is explained against the nearest earlier result: its option with its value.
    #[test]
    fn a_changed_cell_names_what_changed_since_the_nearest_result() {
        let earlier = CellRecord::new(&cell("1", &[]), &crate::host::HostFacts::default(), Status::Ok);
        let Decision::Run(RunReason::Changed { changes, .. }) =
            decision(cell("2", &[]), None, &[earlier], &Selection::default())
        else {
            panic!("not a change")
        };
        let described = crate::plan::describe_changes(&changes);
        assert_eq!(described, "-t 1 → 2, axes.threads 1 → 2");
        assert_eq!(decision(cell("2", &[]), None, &[], &Selection::default()), Decision::Run(RunReason::New));
    }

    #[test]
    fn selectors_must_name_an_axis_and_a_value_the_cells_have() {
        let cells = [cell("1", &[]), cell("2", &[])];
        let only = |axis: &str, value: &str| Selection {
            only: vec![(axis.to_owned(), value.to_owned())],
            ..Selection::default()
        };
        assert!(only("threads", "2").check(&cells).is_ok());
        assert!(only("threads", "*").check(&cells).is_ok());
        let axis = only("thread", "1").check(&cells).unwrap_err();
        assert_eq!(axis.help, "did you mean `threads`?");
        let value = only("threads", "8").check(&cells).unwrap_err();
        assert_eq!(value.help, "expected one of the values of `threads`: `1`, `2`");
        let except = Selection { except: vec![("threads".to_owned(), "1".to_owned())], ..Selection::default() };
        assert!(except.selects(&cells[1]) && !except.selects(&cells[0]));
    }

    #[test]
    fn the_summary_counts_each_decision() {
        let planned = |decision| PlannedCell { cell: cell("1", &[]), decision };
        let cells = [
            planned(Decision::Cached),
            planned(Decision::Run(RunReason::New)),
            planned(Decision::FailedBefore { reason: String::new() }),
        ];
        assert_eq!(Summary::of(&cells).to_string(), "3 cells: 1 cached, 1 to run, 0 blocked, 1 failed before");
    }
}
