//! Server workloads measured under load or as conversations, each as one table: latency
//! percentiles side by side (time to first token, end to end, between tokens), or time to
//! first token turn by turn (a table with its chart, a line per configuration over the turns).
//! Their metrics stay out of the one-table-per-metric defaults.

use crate::metric::names::TTFT_MS;
use std::collections::BTreeMap;

use serde::Serialize;

use super::table::{Chart, ChartKind, Entry, Row, Table};
use crate::metric::server::LOADED;
use crate::metric::{Family, MetricName, Phase};
use crate::store::CellRecord;

/// One workload's breakdown: a row per shown cell (its configuration, and host when several).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub workload: String,
    pub kind: BreakdownKind,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<Option<f64>>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakdownKind {
    /// `ttft_ms`, `e2e_ms`, `itl_ms` at p50, p90, p99, in ms.
    Percentiles,
    /// `ttft_ms_turnK` for each turn, in ms.
    Turns,
}

/// What a conversation's turns and a workload under load are read by: time to first token.
pub(super) const TTFT: &str = TTFT_MS;

/// The name whose presence says that a workload ran under concurrency: its median time to first
/// token.
pub(super) fn loaded_marker() -> String {
    MetricName::new(TTFT, Phase::Percentile(Phase::PERCENTILES[0])).to_string()
}

/// `BASE_turnK`: a conversation metric's name for turn `turn` (from 1).
pub(super) fn turn_metric(base: &str, turn: usize) -> String {
    MetricName::new(base, Phase::Turn(u32::try_from(turn).unwrap_or(u32::MAX))).to_string()
}

/// A labelled record: its row's label and the record.
pub(super) type Labelled<'a> = (String, &'a CellRecord);

/// The records grouped by workload, in the order the workloads first appear.
pub(super) fn by_workload<'a, 'r>(shown: impl Iterator<Item = &'a Labelled<'r>>) -> Vec<(String, Vec<&'a Labelled<'r>>)>
where
    'r: 'a,
{
    let mut groups: Vec<(String, Vec<&Labelled<'r>>)> = Vec::new();
    for labelled in shown {
        match groups.iter_mut().find(|(workload, _)| *workload == labelled.1.workload) {
            Some((_, records)) => records.push(labelled),
            None => groups.push((labelled.1.workload.clone(), vec![labelled])),
        }
    }
    groups
}

/// The last conversation turn any of the records measured; 0 when none is a conversation.
pub(super) fn last_turn(records: &[&Labelled<'_>]) -> usize {
    records
        .iter()
        .flat_map(|(_, record)| record.metrics.keys())
        .filter_map(|name| match MetricName::parse(name) {
            MetricName { base: TTFT, phase: Phase::Turn(turn) } => usize::try_from(turn).ok(),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The breakdowns of the shown records, given each one's row label.
pub(super) fn breakdowns(shown: &[Labelled<'_>]) -> Vec<Breakdown> {
    let mut found = Vec::new();
    for (workload, records) in by_workload(shown.iter()) {
        let value = |record: &CellRecord, name: &str| record.metrics.get(name).map(|metric| metric.mean);
        let loaded = records.iter().any(|(_, record)| record.metrics.contains_key(&loaded_marker()));
        if loaded {
            let names: Vec<String> = LOADED
                .iter()
                .flat_map(|latency| {
                    Phase::PERCENTILES
                        .iter()
                        .map(move |percentile| MetricName::new(latency, Phase::Percentile(*percentile)).to_string())
                })
                .collect();
            found.push(Breakdown {
                workload: workload.clone(),
                kind: BreakdownKind::Percentiles,
                columns: names.clone(),
                rows: records
                    .iter()
                    .map(|(label, record)| (label.clone(), names.iter().map(|name| value(record, name)).collect()))
                    .collect(),
            });
        }
        let turns = last_turn(&records);
        if turns > 0 {
            found.push(Breakdown {
                workload: workload.clone(),
                kind: BreakdownKind::Turns,
                columns: (1..=turns).map(|turn| format!("turn {turn}")).collect(),
                rows: records
                    .iter()
                    .map(|(label, record)| {
                        (label.clone(), (1..=turns).map(|turn| value(record, &turn_metric(TTFT, turn))).collect())
                    })
                    .collect(),
            });
        }
    }
    found
}

/// A per-turn breakdown as a table with its chart: time to first token against the turn, a
/// line per configuration (bars with fewer than three turns).
pub(super) fn turns_table(breakdown: &Breakdown) -> Table {
    let turns = breakdown.columns.len();
    Table {
        metric: format!("{TTFT}_per_turn_{}", breakdown.workload),
        unit: Family::get(TTFT).unit_symbol().to_owned(),
        better: Family::get(TTFT).better,
        keys: vec!["turn".to_owned()],
        column_dimension: Some("configuration".to_owned()),
        columns: breakdown.rows.iter().map(|(label, _)| label.clone()).collect(),
        rows: (0..turns)
            .map(|turn| Row {
                key: vec![(turn + 1).to_string()],
                entries: breakdown
                    .rows
                    .iter()
                    .map(|(_, values)| match values[turn] {
                        Some(mean) => Entry::Ok {
                            mean,
                            spread: None,
                            samples: 1,
                            rounds: 1,
                            outliers: Vec::new(),
                            partial: None,
                            ratio: None,
                            significance: None,
                            baseline: false,
                        },
                        None => Entry::NoMetric,
                    })
                    .collect(),
            })
            .collect(),
        baseline: BTreeMap::new(),
        best: Vec::new(),
        chart: Some(Chart { file: String::new(), kind: if turns >= 3 { ChartKind::Line } else { ChartKind::Bar } }),
        chart_refused: None,
        family_extent: None,
    }
}
