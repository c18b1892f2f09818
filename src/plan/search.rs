//! A search experiment's cells in a plan: of each configuration's grid, the values probed
//! before (cached or failed, which the search reads) and the values to probe next; the rest of
//! the grid is not part of this pass. A run measures what this asks for, then plans again,
//! until every search has its answer.

use std::collections::BTreeMap;

use super::decide::{Decision, PlannedCell};
use crate::manifest::{Manifests, Search};
use crate::search::{Probe, Step, outcome_words, step};
use crate::store::{CellRecord, Status};

/// Where one configuration's search stands.
#[derive(Debug, Clone)]
pub(crate) struct SearchState {
    pub experiment: String,
    /// The other axes' values and the workload: `model=gemma, bench`.
    pub configuration: String,
    pub axis: String,
    /// Grid points the search may probe here.
    pub points: usize,
    /// Probes measured before this pass.
    pub measured: usize,
    /// Values this pass measures.
    pub next: Vec<i64>,
    /// The answer in words, once there is nothing left to probe.
    pub answer: Option<String>,
}

impl SearchState {
    /// One line for the plan: how far the search is, and what it probes next or found.
    pub(crate) fn line(&self) -> String {
        let most = Search::most_probes(self.points);
        let head = format!(
            "search `{}` for {}/{}: {} of at most {most} probes measured ({} grid points)",
            self.axis, self.experiment, self.configuration, self.measured, self.points
        );
        match (&self.answer, self.next.as_slice()) {
            (Some(answer), _) => format!("{head}; {answer}"),
            (None, []) => format!("{head}; nothing it can probe now"),
            (None, next) => format!(
                "{head}; probes {} next",
                next.iter().map(|value| format!("{}={value}", self.axis)).collect::<Vec<_>>().join(" and ")
            ),
        }
    }
}

/// Keeps, of the search experiments' cells, those measured before and those to measure next,
/// and says where each search stands. `read` gives a cell's record by hash. Cells of other
/// experiments pass unchanged.
pub(crate) fn settle_searches(
    planned: Vec<PlannedCell>,
    manifests: &Manifests,
    read: impl Fn(&str) -> Option<CellRecord>,
) -> (Vec<PlannedCell>, Vec<SearchState>) {
    let searches: BTreeMap<&str, &Search> = manifests
        .experiments
        .iter()
        .filter_map(|experiment| Some((experiment.name.value.as_str(), experiment.search.as_ref()?)))
        .collect();
    if searches.is_empty() {
        return (planned, Vec::new());
    }
    // Each configuration's cells by their value on the searched axis.
    let mut groups: BTreeMap<(String, String), Vec<(i64, usize)>> = BTreeMap::new();
    for (index, planned) in planned.iter().enumerate() {
        let cell = &planned.cell.cell;
        let Some(search) = searches.get(cell.experiment.as_str()) else { continue };
        let Some(value) = cell.value(&search.axis.value).and_then(|value| value.parse::<i64>().ok()) else {
            continue;
        };
        let mut others: Vec<String> = cell
            .axes
            .iter()
            .filter(|(axis, _)| *axis != search.axis.value)
            .map(|(axis, value)| format!("{axis}={value}"))
            .collect();
        others.push(cell.workload.clone());
        groups.entry((cell.experiment.clone(), others.join(", "))).or_default().push((value, index));
    }
    let mut keep = vec![true; planned.len()];
    let mut states = Vec::new();
    for ((experiment, configuration), mut cells) in groups {
        let search = searches[experiment.as_str()];
        cells.sort_unstable();
        let grid: Vec<i64> = cells.iter().map(|(value, _)| *value).collect();
        let mut known = BTreeMap::new();
        for (value, index) in &cells {
            let planned = &planned[*index];
            if matches!(planned.decision, Decision::Cached | Decision::FailedBefore { .. })
                && let Some(probe) = read(&planned.cell.hash).and_then(|record| probe_of(&record, &search.keep.metric))
            {
                known.insert(*value, probe);
            }
        }
        let (next, answer) = match step(search, &grid, &known) {
            Step::Probe(values) => (values, None),
            Step::Answer(answer) => (Vec::new(), Some(outcome_words(search, &answer))),
        };
        for (value, index) in &cells {
            keep[*index] = known.contains_key(value) || next.contains(value);
        }
        states.push(SearchState {
            experiment,
            configuration,
            axis: search.axis.value.clone(),
            points: grid.len(),
            measured: known.len(),
            next,
            answer,
        });
    }
    let planned = planned.into_iter().zip(keep).filter_map(|(planned, kept)| kept.then_some(planned)).collect();
    (planned, states)
}

/// What a record says of the searched condition: the metric's mean (± its interval over
/// rounds), or why there is none; `None` for a cell that did not run (blocked, skipped) or has
/// rounds still to measure: no probe yet.
pub(crate) fn probe_of(record: &CellRecord, metric: &str) -> Option<Probe> {
    if record.status.is_unrun() || !record.is_complete() {
        return None;
    }
    Some(probe_measured(record, metric))
}

fn probe_measured(record: &CellRecord, metric: &str) -> Probe {
    if record.status != Status::Ok {
        let reason = match &record.failure {
            // What the cell said last, beside how it ended: `exit code 3: out of memory`.
            Some(failure) => match failure.log_tail.last().map(|line| line.trim()).filter(|line| !line.is_empty()) {
                Some(last) if !failure.reason.contains(last) => format!("{}: {last}", failure.reason),
                _ => failure.reason.clone(),
            },
            None => record.status.words().to_owned(),
        };
        return Probe::Failed { reason };
    }
    match record.metrics.get(metric) {
        Some(value) => Probe::Measured { mean: value.mean, spread: value.spread() },
        None => Probe::Failed { reason: format!("it recorded no `{metric}`") },
    }
}
