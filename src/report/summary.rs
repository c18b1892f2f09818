//! The table a server workload's reader looks for first: one row per configuration, and the
//! handful of metrics that answer the workload's question (time to first token cold and warm,
//! or per turn, or under load; generation speed; what the prompt cache served; peak memory).

use crate::metric::names::{CACHE_N, E2E_MS, GEN_TPS, GEN_TPS_TOTAL, PEAK_RSS_BYTES, REQ_PER_S, TTFT_MS};
use serde::Serialize;

use crate::fingerprint::WorkloadPrint;
use crate::metric::{MetricName, Phase};
use crate::store::CellRecord;

/// One workload's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub workload: String,
    pub columns: Vec<Column>,
    /// The configuration's label, and each column's value where the record has it.
    pub rows: Vec<(String, Vec<Option<f64>>)>,
}

/// A column: the metric it shows, its title, and its unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub metric: String,
    pub title: String,
    pub unit: String,
}

/// What a workload's records can be summed up by, in the order a reader wants them: the first
/// of these that a record has decides which of the three kinds of workload it is. Each column is
/// titled with the catalogue's label of its name.
const REQUESTS: [(&str, Phase); 5] = [
    (TTFT_MS, Phase::First),
    (TTFT_MS, Phase::Warm),
    (GEN_TPS, Phase::All),
    (CACHE_N, Phase::Warm),
    (PEAK_RSS_BYTES, Phase::All),
];
const UNDER_LOAD: [(&str, Phase); 6] = [
    (TTFT_MS, Phase::Percentile(50)),
    (TTFT_MS, Phase::Percentile(99)),
    (E2E_MS, Phase::Percentile(50)),
    (REQ_PER_S, Phase::All),
    (GEN_TPS_TOTAL, Phase::All),
    (PEAK_RSS_BYTES, Phase::All),
];

/// A name and its title, from the catalogue.
fn titled(family: &str, phase: Phase) -> (String, String) {
    let name = MetricName::new(family, phase).to_string();
    let title = crate::metric::describe(&name).map_or_else(|| name.clone(), |described| described.label());
    (name, title)
}

/// A summary per server workload among `shown` (each record with its row label), in the order
/// the workloads first appear.
pub(super) fn summaries(shown: &[(String, &CellRecord)]) -> Vec<Summary> {
    let server =
        |labelled: &&(String, &CellRecord)| matches!(labelled.1.fingerprint.workload, WorkloadPrint::Server { .. });
    super::breakdown::by_workload(shown.iter().filter(server))
        .into_iter()
        .map(|(workload, records)| {
            let has = |metric: &str| records.iter().any(|(_, record)| record.metrics.contains_key(metric));
            let turns = super::breakdown::last_turn(&records);
            let turn = |turn: usize| Phase::Turn(u32::try_from(turn).unwrap_or(u32::MAX));
            let wanted: Vec<(String, String)> = if has(&super::breakdown::loaded_marker()) {
                UNDER_LOAD.iter().map(|(family, phase)| titled(family, *phase)).collect()
            } else if turns > 0 {
                let mut wanted: Vec<(String, String)> =
                    (1..=turns).map(|number| titled(super::breakdown::TTFT, turn(number))).collect();
                wanted.push(titled(CACHE_N, turn(turns)));
                wanted.push(titled(GEN_TPS, Phase::All));
                wanted.push(titled(PEAK_RSS_BYTES, Phase::All));
                wanted
            } else {
                REQUESTS.iter().map(|(family, phase)| titled(family, *phase)).collect()
            };
            let columns: Vec<Column> = wanted
                .into_iter()
                .filter(|(metric, _)| has(metric))
                .map(|(metric, title)| {
                    let unit = records
                        .iter()
                        .find_map(|(_, record)| record.metrics.get(&metric).map(|value| value.unit.clone()))
                        .unwrap_or_default();
                    Column { metric, title, unit }
                })
                .collect();
            let rows = records
                .iter()
                .map(|(label, record)| {
                    let values = columns
                        .iter()
                        .map(|column| record.metrics.get(&column.metric).map(|value| value.mean))
                        .collect();
                    (label.clone(), values)
                })
                .collect();
            Summary { workload, columns, rows }
        })
        .filter(|summary| !summary.columns.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::MetricValue;

    fn record(workload: &str, metrics: &[(&str, f64, &str)]) -> CellRecord {
        let cell =
            crate::fingerprint::ResolvedCell::stand_in(&[("t", "1")], workload, crate::matrix::Block::Server, &[]);
        let mut record = CellRecord::new(&cell, &crate::host::HostFacts::default(), crate::store::Status::Ok);
        record.metrics = metrics
            .iter()
            .map(|(name, mean, unit)| ((*name).to_owned(), MetricValue::single(*mean, unit)))
            .collect::<BTreeMap<_, _>>();
        record
    }

    #[test]
    fn each_kind_of_workload_is_summed_up_by_its_own_metrics() {
        let chat =
            record("chat", &[("ttft_ms_first", 90.0, "ms"), ("ttft_ms_warm", 45.0, "ms"), ("gen_tps", 42.0, "t/s")]);
        let session = record(
            "session",
            &[("ttft_ms_turn1", 146.0, "ms"), ("ttft_ms_turn2", 120.0, "ms"), ("cache_n_turn2", 51.0, "tokens")],
        );
        let loaded =
            record("load", &[("ttft_ms_p50", 12.0, "ms"), ("req_per_s", 3.5, "req/s"), ("ttft_ms_first", 9.0, "ms")]);
        let shown = [("t=1".to_owned(), &chat), ("t=1".to_owned(), &session), ("t=1".to_owned(), &loaded)];
        let summaries = summaries(&shown);
        let metrics = |index: usize| -> Vec<&str> {
            summaries[index].columns.iter().map(|column| column.metric.as_str()).collect()
        };
        assert_eq!(metrics(0), ["ttft_ms_first", "ttft_ms_warm", "gen_tps"]);
        assert_eq!(metrics(1), ["ttft_ms_turn1", "ttft_ms_turn2", "cache_n_turn2"]);
        assert_eq!(metrics(2), ["ttft_ms_p50", "req_per_s"]);
        assert_eq!(summaries[0].rows, [("t=1".to_owned(), vec![Some(90.0), Some(45.0), Some(42.0)])]);
        assert_eq!(summaries[1].columns[2].unit, "tokens");
    }
}
