//! Interleaved rounds: an experiment with `rounds N` has every cell measured N times, round 1 of
//! every cell before round 2 of any, so that drift over a run (heat, a background job) spreads
//! over all cells instead of biasing the last ones. Each round's result joins the cell's record
//! as it lands, so a killed run keeps every finished round and the next run adds the rest.

use std::collections::HashMap;

use crate::fingerprint::ResolvedCell;
use crate::manifest::Manifests;
use crate::plan::{Decision, PlannedCell, RunReason};
use crate::store::{CellRecord, Round, Status, Store, over_rounds};

/// The rounds each cell of a run has so far, and the pass of the walk (each pass measures one
/// more round of every cell that needs one).
pub(super) struct Rounds {
    pub(super) pass: u32,
    /// Per cell hash, its record as last written in this run (or by the interrupted run this one
    /// continues), for cells measured in several rounds.
    partial: HashMap<String, CellRecord>,
    /// Adaptive cells and the cells their report compares them with (each cell and its
    /// baseline's, both ways): a pair whose difference is decided needs no more rounds.
    partners: HashMap<String, Vec<String>>,
    /// Partners measured before this run (a cached baseline), as the store has them.
    measured: HashMap<String, CellRecord>,
    /// Adaptive cells that are a search's probes: the metric and the threshold their interval
    /// must leave to count.
    thresholds: HashMap<String, crate::manifest::Keep>,
}

/// One round's record joined to the cell's earlier rounds.
pub(super) struct Joined {
    pub(super) record: CellRecord,
    /// ` (round 2/3)` for the progress line; empty for a cell measured once.
    pub(super) label: String,
    /// Whether the cell is done: its last round, or a round that failed.
    pub(super) finished: bool,
}

impl Rounds {
    /// Picks up the rounds an interrupted run recorded for the cells that need more.
    pub(super) fn new(planned: &[PlannedCell], store: &Store, manifests: &Manifests) -> Self {
        let partial = planned
            .iter()
            .filter(|planned| matches!(planned.decision, Decision::Run(RunReason::MoreRounds { .. })))
            .filter_map(|planned| store.read(&planned.cell.hash).ok().flatten())
            .filter(|record| record.status == Status::Ok && !record.rounds.is_empty())
            .map(|record| (record.hash.clone(), record))
            .collect();
        let partners = partners(planned, manifests);
        let running: std::collections::HashSet<&str> = planned
            .iter()
            .filter(|planned| matches!(planned.decision, Decision::Run(_)))
            .map(|planned| planned.cell.hash.as_str())
            .collect();
        let measured = partners
            .values()
            .flatten()
            .filter(|hash| !running.contains(hash.as_str()))
            .filter_map(|hash| store.read(hash).ok().flatten())
            .map(|record| (record.hash.clone(), record))
            .collect();
        Self { pass: 1, partial, partners, measured, thresholds: thresholds(planned, manifests) }
    }

    /// Between passes: adaptive search probes whose interval no longer reaches across the
    /// search's threshold: they hold, or do not, beyond noise. Returns their records, complete
    /// now.
    fn settle_probes(&mut self) -> Vec<CellRecord> {
        let mut settled = Vec::new();
        for (hash, keep) in &self.thresholds {
            let Some(record) = self.partial.get(hash) else { continue };
            let Some(until) = &record.fingerprint.until else { continue };
            if record.is_complete() || record.status != Status::Ok || record.rounds.len() < until.min as usize {
                continue;
            }
            let Some(value) = record.metrics.get(&keep.metric) else { continue };
            let Some(spread) = value.spread() else { continue };
            if (value.mean - keep.value).abs() <= spread {
                continue;
            }
            let side = if keep.holds(value.mean) { "holds" } else { "does not hold" };
            let shown = |x: f64| match x.abs() {
                100.0.. => format!("{x:.0}"),
                1.0.. => format!("{x:.2}"),
                _ => format!("{x:.4}"),
            };
            let mut record = record.clone();
            record.rounds_stop = Some(format!(
                "decided after {} rounds: {} {} {} {side} beyond noise ({} ± {})",
                record.rounds.len(),
                keep.metric,
                keep.op,
                keep.value,
                shown(value.mean),
                shown(spread)
            ));
            self.partial.insert(record.hash.clone(), record.clone());
            settled.push(record);
        }
        settled
    }

    /// Between passes: adaptive cells whose every comparison with their report's baseline is
    /// decided (Welch's test, on the metrics their `until` counts) need no more rounds. Returns
    /// their records, complete now, to write.
    pub(super) fn settle_pairs(&mut self) -> Vec<CellRecord> {
        let mut settled = self.settle_probes();
        for (hash, partners) in &self.partners {
            if settled.iter().any(|record| record.hash == *hash) {
                continue;
            }
            let Some(record) = self.partial.get(hash) else { continue };
            if record.is_complete() || record.status != Status::Ok {
                continue;
            }
            let Some(until) = &record.fingerprint.until else { continue };
            if record.rounds.len() < until.min as usize {
                continue;
            }
            let verdicts: Option<Vec<String>> = partners
                .iter()
                .map(|partner| {
                    let other = self.partial.get(partner).or_else(|| self.measured.get(partner))?;
                    decided(record, other, until)
                })
                .collect();
            if let Some(verdicts) = verdicts.filter(|verdicts| !verdicts.is_empty()) {
                let mut record = record.clone();
                record.rounds_stop = Some(format!(
                    "decided after {} rounds: differs from {}",
                    record.rounds.len(),
                    verdicts.join("; from ")
                ));
                settled.push(record);
            }
        }
        for record in &settled {
            self.partial.insert(record.hash.clone(), record.clone());
        }
        settled.sort_by(|a, b| a.cell.cmp(&b.cell));
        settled
    }

    /// How many passes the walk makes: the most rounds any cell still needs.
    pub(super) fn passes(&self, planned: &[PlannedCell]) -> u32 {
        planned
            .iter()
            .filter(|planned| matches!(planned.decision, Decision::Run(_)))
            .map(|planned| self.left(&planned.cell))
            .max()
            .unwrap_or(1)
    }

    /// How many rounds of `cell` (to be run) this run measures: at least one.
    pub(super) fn left(&self, cell: &ResolvedCell) -> u32 {
        cell.fingerprint.rounds.saturating_sub(self.recorded(cell)).max(1)
    }

    fn recorded(&self, cell: &ResolvedCell) -> u32 {
        self.partial.get(&cell.hash).map_or(0, |record| u32::try_from(record.rounds.len()).unwrap_or(u32::MAX))
    }

    /// Whether `cell` (to be run) is measured in this pass: the first pass measures every cell
    /// once; later ones the cells with rounds still to measure and no failed round.
    pub(super) fn needs(&self, cell: &ResolvedCell) -> bool {
        match self.partial.get(&cell.hash) {
            None => self.pass == 1,
            Some(record) => record.status == Status::Ok && !record.is_complete(),
        }
    }

    /// How many cells have rounds recorded and more to measure (a run interrupted between
    /// rounds): the next run measures the rest.
    pub(super) fn unfinished(&self) -> usize {
        self.partial.values().filter(|record| !record.is_complete()).count()
    }

    /// Joins one round's `record` to the cell's earlier rounds. A cell measured once is passed
    /// through as it is.
    pub(super) fn join(&mut self, mut record: CellRecord) -> Joined {
        let wanted = record.fingerprint.rounds;
        if wanted <= 1 || record.status.is_unrun() {
            return Joined { record, label: String::new(), finished: true };
        }
        let earlier = self.partial.remove(&record.hash);
        let mut rounds = earlier.as_ref().map(|earlier| earlier.rounds.clone()).unwrap_or_default();
        let number = rounds.len() + 1;
        let label = if record.fingerprint.until.is_some() {
            format!(" (round {number}, at most {wanted})")
        } else {
            format!(" (round {number}/{wanted})")
        };
        if record.status == Status::Ok {
            rounds.push(Round {
                started_unix_ms: record.timings.started_unix_ms,
                duration_ms: record.timings.duration_ms,
                metrics: std::mem::take(&mut record.metrics),
            });
            record.metrics = over_rounds(&rounds);
        } else if let Some(failure) = &mut record.failure {
            failure.reason = format!("round {number} of {wanted}: {}", failure.reason);
        }
        if let Some(earlier) = earlier {
            record.timings.started_unix_ms = earlier.timings.started_unix_ms;
            record.timings.duration_ms += earlier.timings.duration_ms;
            record.attempts = record.attempts.max(earlier.attempts);
            let mut raw = earlier.raw;
            raw.append(&mut record.raw);
            record.raw = raw;
        }
        record.rounds = rounds;
        record.rounds_stop = record.rounds_settled();
        let finished = record.is_complete();
        self.partial.insert(record.hash.clone(), record.clone());
        Joined { record, label, finished }
    }
}

/// The search probes measured in adaptive rounds, by hash: the condition their interval must
/// leave behind to count.
fn thresholds(planned: &[PlannedCell], manifests: &Manifests) -> HashMap<String, crate::manifest::Keep> {
    planned
        .iter()
        .filter(|planned| planned.cell.fingerprint.until.is_some())
        .filter_map(|planned| {
            let search = manifests.experiment(&planned.cell.cell.experiment)?.search.as_ref()?;
            Some((planned.cell.hash.clone(), search.keep.clone()))
        })
        .collect()
}

/// Each adaptive cell with a report baseline, and the cell with the baseline's values on those
/// axes (the same experiment, workload and other values): both ways.
fn partners(planned: &[PlannedCell], manifests: &Manifests) -> HashMap<String, Vec<String>> {
    let key = |cell: &ResolvedCell| (cell.cell.experiment.clone(), cell.cell.workload.clone(), cell.cell.axes.clone());
    let by_key: HashMap<_, &str> =
        planned.iter().map(|planned| (key(&planned.cell), planned.cell.hash.as_str())).collect();
    let mut partners: HashMap<String, Vec<String>> = HashMap::new();
    for planned in planned.iter().filter(|planned| planned.cell.fingerprint.until.is_some()) {
        let cell = &planned.cell;
        let Some(baseline) = manifests
            .experiment(&cell.cell.experiment)
            .and_then(|experiment| experiment.report.as_ref())
            .map(|report| &report.baseline)
            .filter(|baseline| !baseline.is_empty())
        else {
            continue;
        };
        let mut axes = cell.cell.axes.clone();
        for (axis, value) in baseline {
            if let Some(slot) = axes.iter_mut().find(|(name, _)| *name == axis.value) {
                slot.1.clone_from(&value.value);
            }
        }
        let Some(other) = by_key.get(&(cell.cell.experiment.clone(), cell.cell.workload.clone(), axes)) else {
            continue;
        };
        if *other == cell.hash {
            continue;
        }
        partners.entry(cell.hash.clone()).or_default().push((*other).to_owned());
        partners.entry((*other).to_owned()).or_default().push(cell.hash.clone());
    }
    partners
}

/// Whether `record` and `other` differ beyond noise by Welch's test on every metric counted
/// (`until`'s metric, or all but memory and energy): "`cell` (tg16 p=0.003)"; `None` while
/// undecided. The test is made after every round, up to `max - min + 1` times: each look is
/// held to 0.05 shared among them (Bonferroni), so that looking often does not make a
/// difference out of noise.
fn decided(record: &CellRecord, other: &CellRecord, until: &crate::fingerprint::UntilPrint) -> Option<String> {
    let counted = |name: &str| until.metric.as_deref().map_or(!crate::metric::is_usage(name), |metric| metric == name);
    let looks = (record.fingerprint.rounds.saturating_sub(until.min) + 1).max(1);
    let alpha = crate::stats::SIGNIFICANCE / f64::from(looks);
    let mut verdicts = Vec::new();
    for (name, value) in record.metrics.iter().filter(|(name, _)| counted(name)) {
        let theirs = other.metrics.get(name)?;
        let welch = crate::stats::welch(value.round_values()?, theirs.round_values()?)?;
        if welch.p >= alpha {
            return None;
        }
        verdicts.push(format!("{name} p={:.4} < {alpha:.4}", welch.p));
    }
    (!verdicts.is_empty()).then(|| format!("`{}` ({})", other.cell, verdicts.join(", ")))
}
