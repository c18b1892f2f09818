//! Two hosts' results of one experiment side by side: each metric of each cell measured on
//! both, the ratio, whether the difference is significant over the rounds, and the host facts
//! that differ, so that a reader sees where and by how much the machines disagree, and why.

use std::collections::BTreeSet;

use serde::Serialize;

use super::grid::{Grid, Point};
use super::table::{Better, Significance};
use crate::store::{CellRecord, MetricValue, Status};
use crate::units::format_bytes;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub reference: String,
    pub other: String,
    /// Facts of the two hosts (and of the toolboxes they ran) that differ.
    pub differences: Vec<FactDifference>,
    pub rows: Vec<CompareRow>,
    /// Cells with an `ok` result on both hosts.
    pub both: usize,
    pub only_reference: usize,
    pub only_other: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactDifference {
    pub fact: String,
    pub reference: String,
    pub other: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub cell: String,
    /// The values that vary between the experiment's cells, `axis=value`.
    pub configuration: String,
    pub metric: String,
    pub unit: String,
    pub reference: Measured,
    pub other: Measured,
    /// `other / reference`.
    pub ratio: Option<f64>,
    /// Whether the difference is real: Welch's t-test over both hosts' rounds.
    pub verdict: Significance,
    /// Whether the other host did better, when the metric has a better side and the
    /// difference is significant.
    pub other_better: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub mean: f64,
    /// The 95% confidence interval's half-width over rounds, or the repetitions' standard
    /// deviation of a single run.
    pub spread: Option<f64>,
    pub samples: usize,
    /// Rounds the mean is over.
    pub rounds: usize,
}

impl Measured {
    fn of(value: &MetricValue) -> Self {
        Self { mean: value.mean, spread: value.spread(), samples: value.samples.len(), rounds: value.round_count() }
    }
}

/// The metrics a comparison covers, with the side that is better.
pub(super) type Metrics = [(String, Option<Better>)];

/// Compares host `other` against host `reference` (dimension values of the grid's host axis).
pub(super) fn compare(
    grid: &Grid<'_>,
    reference: usize,
    other: usize,
    metrics: &Metrics,
    configuration: &dyn Fn(&Point<'_>) -> String,
) -> Comparison {
    let host = grid.host_dimension();
    let label = |index: usize| grid.dimensions[host].values[index].clone();
    let on = |point: &Point<'_>, index: usize| {
        let mut coords = point.coords.clone();
        coords[host] = index;
        grid.point(&coords).and_then(|point| point.record).filter(|record| record.status == Status::Ok)
    };
    let mut rows = Vec::new();
    let (mut both, mut only_reference, mut only_other) = (0, 0, 0);
    let mut pairs: Vec<(&CellRecord, &CellRecord)> = Vec::new();
    for point in grid.points.iter().filter(|point| point.coords[host] == reference) {
        match (on(point, reference), on(point, other)) {
            (Some(first), Some(second)) => {
                both += 1;
                pairs.push((first, second));
                for (metric, better) in metrics {
                    let (Some(a), Some(b)) = (first.metrics.get(metric), second.metrics.get(metric)) else {
                        continue;
                    };
                    let (reference, other) = (Measured::of(a), Measured::of(b));
                    let verdict = Significance::of(b, a);
                    let other_better = better.filter(|_| verdict.significant()).map(|better| match better {
                        Better::Higher => other.mean > reference.mean,
                        Better::Lower => other.mean < reference.mean,
                    });
                    rows.push(CompareRow {
                        cell: first.cell.clone(),
                        configuration: configuration(point),
                        metric: metric.clone(),
                        unit: a.unit.clone(),
                        ratio: (reference.mean != 0.0).then(|| other.mean / reference.mean),
                        reference,
                        other,
                        verdict,
                        other_better,
                    });
                }
            }
            (Some(_), None) => only_reference += 1,
            (None, Some(_)) => only_other += 1,
            (None, None) => {}
        }
    }
    // Metric by metric, so that one metric's rows read as a table of their own.
    rows.sort_by_key(|row| metrics.iter().position(|(metric, _)| *metric == row.metric));
    Comparison {
        reference: label(reference),
        other: label(other),
        differences: differences(&pairs),
        rows,
        both,
        only_reference,
        only_other,
    }
}

/// The host and toolbox facts that differ between the two hosts' newest compared results.
fn differences(pairs: &[(&CellRecord, &CellRecord)]) -> Vec<FactDifference> {
    let (Some(first), Some(second)) = (newest(side(pairs, false)), newest(side(pairs, true))) else {
        return Vec::new();
    };
    let facts = |record: &CellRecord| {
        let host = &record.host;
        vec![
            ("kernel".to_owned(), host.kernel.clone()),
            ("os".to_owned(), host.os.clone()),
            ("cpu".to_owned(), host.cpu.clone()),
            ("memory".to_owned(), format_bytes(host.memory_bytes)),
            ("gpus".to_owned(), host.gpus_shown()),
            ("cmdline".to_owned(), host.cmdline.clone()),
            ("firmware".to_owned(), host.firmware.clone().unwrap_or_default()),
            ("cpu layout".to_owned(), host.cpu_layout().unwrap_or_default()),
        ]
    };
    let mut differences: Vec<FactDifference> = facts(first)
        .into_iter()
        .zip(facts(second))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((fact, a), (_, b))| FactDifference { fact, reference: shown(a), other: shown(b) })
        .collect();
    // Each toolbox both hosts ran: its llama.cpp build, image digest, and the backend, devices
    // and driver it ran on, from the newest pair.
    let toolboxes: BTreeSet<&str> = pairs.iter().map(|(record, _)| record.fingerprint.toolbox.name.as_str()).collect();
    let toolbox_facts = |record: &CellRecord| {
        let toolbox = &record.fingerprint.toolbox;
        let ran_on = record.ran_on.clone().unwrap_or_default();
        [
            ("llama.cpp build", toolbox.llama_cpp.clone().unwrap_or_default()),
            ("image digest", toolbox.digest.clone().unwrap_or_default()),
            ("backend", ran_on.backend),
            ("devices", ran_on.devices.join(", ")),
            ("driver", ran_on.driver.unwrap_or_default()),
        ]
    };
    for toolbox in toolboxes {
        let of = |second: bool| {
            newest(side(pairs, second).filter(|record| record.fingerprint.toolbox.name == toolbox)).map(toolbox_facts)
        };
        let (Some(a), Some(b)) = (of(false), of(true)) else {
            continue;
        };
        for ((what, x), (_, y)) in a.into_iter().zip(b) {
            if x != y {
                differences.push(FactDifference {
                    fact: format!("{what} (toolbox {toolbox})"),
                    reference: shown(x),
                    other: shown(y),
                });
            }
        }
    }
    differences
}

/// One host's records of the compared pairs: the reference's, or with `second` the other's.
fn side<'a>(pairs: &[(&'a CellRecord, &'a CellRecord)], second: bool) -> impl Iterator<Item = &'a CellRecord> {
    pairs.iter().map(move |pair| if second { pair.1 } else { pair.0 })
}

fn newest<'a>(records: impl Iterator<Item = &'a CellRecord>) -> Option<&'a CellRecord> {
    records.max_by_key(|record| (record.timings.started_unix_ms, &record.hash))
}

fn shown(value: String) -> String {
    if value.is_empty() { "(unknown)".to_owned() } else { value }
}

/// The default pairs: the host with the most `ok` results (the label breaks ties, so every
/// machine writes the same report) against each other host.
pub(super) fn default_reference(grid: &Grid<'_>) -> usize {
    let host = grid.host_dimension();
    let count = |index: usize| {
        grid.points
            .iter()
            .filter(|point| point.coords[host] == index)
            .filter(|point| point.record.is_some_and(|record| record.status == Status::Ok))
            .count()
    };
    let hosts = grid.dimensions[host].values.len();
    (0..hosts).max_by_key(|&index| (count(index), std::cmp::Reverse(index))).unwrap_or(0)
}
