//! Server workloads measured under load or as conversations, each as one table: latency
//! percentiles side by side (time to first token, end to end, between tokens), or time to
//! first token turn by turn (a table with its chart, a line per configuration and session over
//! the turns: the first session, whose turn 1 is cold, apart from the later ones, which the
//! prompt cache serves). Their metrics stay out of the one-table-per-metric defaults.

use crate::metric::names::TTFT_MS;
use std::collections::BTreeMap;

use serde::Serialize;

use super::figure::Figure;
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
    /// A row per shown cell (per cell and session for turns), each column's figure where the
    /// record has it.
    pub rows: Vec<(String, Vec<Option<Figure>>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakdownKind {
    /// `ttft_ms`, `e2e_ms`, `itl_ms` at p50, p90, p99, in ms.
    Percentiles,
    /// `ttft_ms_turnK_first` and `ttft_ms_turnK_warm` for each turn, in ms.
    Turns,
}

/// What a conversation's turns and a workload under load are read by: time to first token.
pub(super) const TTFT: &str = TTFT_MS;

/// The name whose presence says that a workload ran under concurrency: its median time to first
/// token.
pub(super) fn loaded_marker() -> String {
    MetricName::new(TTFT, Phase::Percentile(Phase::PERCENTILES[0])).to_string()
}

/// The sessions a conversation's turns are told apart by: the phase of turn K, and the words
/// its rows are labelled with. Records from before sessions were kept apart have every
/// session's turns together (`_turnK`).
const SESSIONS: [(TurnPhase, &str); 3] =
    [(Phase::TurnFirst, "first session"), (Phase::TurnWarm, "later sessions"), (Phase::Turn, "every session")];

/// What makes turn K's phase: `Phase::TurnFirst`, `Phase::TurnWarm`, `Phase::Turn`.
type TurnPhase = fn(u32) -> Phase;

/// `BASE_turnK_…`: a conversation metric's name for turn `turn` (from 1) in `phase`.
fn turn_metric(base: &str, phase: TurnPhase, turn: usize) -> String {
    MetricName::new(base, phase(u32::try_from(turn).unwrap_or(u32::MAX))).to_string()
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
            MetricName { base: TTFT, phase: Phase::Turn(turn) | Phase::TurnFirst(turn) | Phase::TurnWarm(turn) } => {
                usize::try_from(turn).ok()
            }
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The breakdowns of the shown records, given each one's row label.
pub(super) fn breakdowns(shown: &[Labelled<'_>]) -> Vec<Breakdown> {
    let mut found = Vec::new();
    for (workload, records) in by_workload(shown.iter()) {
        let value = |record: &CellRecord, name: &str| record.metrics.get(name).map(Figure::of);
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
            // A row per record and session it has: the first session, the later ones. The session
            // leads its label, so that a chart's legend cut short still shows it.
            let rows = records
                .iter()
                .flat_map(|(label, record)| {
                    SESSIONS.iter().filter_map(move |(phase, words)| {
                        let values: Vec<Option<Figure>> =
                            (1..=turns).map(|turn| value(record, &turn_metric(TTFT, *phase, turn))).collect();
                        values.iter().any(Option::is_some).then(|| (format!("{words}, {label}"), values))
                    })
                })
                .collect();
            found.push(Breakdown {
                workload: workload.clone(),
                kind: BreakdownKind::Turns,
                columns: (1..=turns).map(|turn| format!("turn {turn}")).collect(),
                rows,
            });
        }
    }
    found
}

/// A per-turn breakdown as a table with its chart: time to first token against the turn, a
/// line per configuration and session (bars with fewer than three turns), each value with its
/// spread and count.
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
                        Some(Figure { mean, spread, count }) => Entry::Ok {
                            mean,
                            spread,
                            samples: count,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MetricValue;

    fn conversation(metrics: &[(&str, &[f64])]) -> CellRecord {
        let cell = crate::fingerprint::ResolvedCell::stand_in(&[("t", "1")], "talk", crate::matrix::Block::Server, &[]);
        let mut record = CellRecord::new(&cell, &crate::host::HostFacts::default(), crate::store::Status::Ok);
        for (name, samples) in metrics {
            let value = MetricValue {
                mean: crate::stats::mean(samples),
                stddev: crate::stats::stddev(samples),
                unit: "ms".to_owned(),
                samples: samples.to_vec(),
                rounds: None,
            };
            record.metrics.insert((*name).to_owned(), value);
        }
        record
    }

    /// The per-turn chart once drew the mean of a cold first session and its cached repeat: each
    /// is a line of its own now, the repeats with their spread and count.
    #[test]
    fn each_session_is_a_line_of_the_per_turn_table() {
        let record = conversation(&[
            ("ttft_ms_turn1_first", &[24_587.0]),
            ("ttft_ms_turn2_first", &[300.0]),
            ("ttft_ms_turn1_warm", &[104.0, 110.0]),
            ("ttft_ms_turn2_warm", &[250.0, 262.0]),
        ]);
        let shown = [("t=1".to_owned(), &record)];
        let found = breakdowns(&shown);
        assert_eq!(found.len(), 1);
        let labels: Vec<&str> = found[0].rows.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(labels, ["first session, t=1", "later sessions, t=1"]);
        let table = turns_table(&found[0]);
        assert_eq!(table.columns, ["first session, t=1", "later sessions, t=1"]);
        let Entry::Ok { mean, spread, samples, .. } = &table.rows[0].entries[1] else { panic!("{table:?}") };
        assert_eq!((*mean, *samples), (107.0, 2));
        assert!(spread.is_some_and(|spread| spread > 0.0));
        let Entry::Ok { mean, samples, .. } = &table.rows[0].entries[0] else { panic!("{table:?}") };
        assert_eq!((*mean, *samples), (24_587.0, 1));
    }
}
