//! The table a server workload's reader looks for first: one row per configuration, and the
//! handful of metrics that answer the workload's question (time to first token cold and warm,
//! or per turn with the first session apart from the later ones, or under load; generation and
//! prompt processing speed; what the prompt cache served; the draft acceptance rate; peak
//! memory).

use crate::metric::names::{
    ACCEPT_RATE, CACHE_N, E2E_MS, GEN_TPS, GEN_TPS_TOTAL, PEAK_RSS_BYTES, PROMPT_N, PROMPT_TPS, REQ_PER_S,
    REQUESTS as REQUESTS_COUNT, SESSION_MS, TTFT_MS,
};
use serde::Serialize;

use super::figure::Figure;
use crate::fingerprint::WorkloadPrint;
use crate::metric::{MetricName, Phase};
use crate::store::CellRecord;

/// One workload's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub workload: String,
    pub columns: Vec<Column>,
    /// The configuration's label, and each column's figure where the record has it.
    pub rows: Vec<(String, Vec<Option<Figure>>)>,
    /// What the columns' phases mean, where a reader could take them otherwise: how a cold figure
    /// was made cold, what a later session's turn is.
    pub notes: Vec<String>,
}

/// A column: the metric it shows, its title, and its unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub metric: String,
    pub title: String,
    pub unit: String,
}

/// What a workload's records can be summed up by, in the order a reader wants them: the first
/// of these that a record has decides which of the four kinds of workload it is. Each column is
/// titled with the catalogue's label of its name; a column no record has is left out.
const REQUESTS: [(&str, Phase); 7] = [
    (TTFT_MS, Phase::First),
    (TTFT_MS, Phase::Warm),
    (GEN_TPS, Phase::All),
    (PROMPT_TPS, Phase::First),
    (CACHE_N, Phase::Warm),
    (ACCEPT_RATE, Phase::All),
    (PEAK_RSS_BYTES, Phase::All),
];
/// A `cache "cold"` workload: every request is cold, so there is no warm phase to set apart.
const COLD: [(&str, Phase); 5] = [
    (TTFT_MS, Phase::All),
    (GEN_TPS, Phase::All),
    (PROMPT_TPS, Phase::All),
    (ACCEPT_RATE, Phase::All),
    (PEAK_RSS_BYTES, Phase::All),
];
const UNDER_LOAD: [(&str, Phase); 7] = [
    (TTFT_MS, Phase::Percentile(50)),
    (TTFT_MS, Phase::Percentile(99)),
    (E2E_MS, Phase::Percentile(50)),
    (REQ_PER_S, Phase::All),
    (GEN_TPS_TOTAL, Phase::All),
    (ACCEPT_RATE, Phase::All),
    (PEAK_RSS_BYTES, Phase::All),
];
/// A replayed session's: the whole session, then its first request against the rest.
const SESSION: [(&str, Phase); 7] = [
    (SESSION_MS, Phase::All),
    (REQUESTS_COUNT, Phase::All),
    (TTFT_MS, Phase::First),
    (TTFT_MS, Phase::Warm),
    (CACHE_N, Phase::Warm),
    (GEN_TPS, Phase::All),
    (PEAK_RSS_BYTES, Phase::All),
];
/// The most requests of one session a report lists one by one.
const MAX_REQUESTS_SHOWN: usize = 1000;
/// A session's request-by-request columns (`_reqK`).
const PER_REQUEST: [&str; 4] = [PROMPT_N, CACHE_N, TTFT_MS, GEN_TPS];

/// A conversation's, after its turns: the whole conversation's, and the prompt processing rate
/// of its first request (the first session's turn 1, cold).
const CONVERSATION: [(&str, Phase); 4] =
    [(GEN_TPS, Phase::All), (PROMPT_TPS, Phase::First), (ACCEPT_RATE, Phase::All), (PEAK_RSS_BYTES, Phase::All)];

/// A name and its title, from the catalogue.
fn titled(family: &str, phase: Phase) -> (String, String) {
    let name = MetricName::new(family, phase).to_string();
    let title = crate::metric::describe(&name).map_or_else(|| name.clone(), |described| described.label());
    (name, title)
}

/// The phase of turn `turn` (from 1) that `phase` builds.
fn turn(phase: fn(u32) -> Phase, turn: usize) -> Phase {
    phase(u32::try_from(turn).unwrap_or(u32::MAX))
}

/// A conversation's columns: time to first token turn by turn in the first session, then in the
/// later ones (records from before sessions were kept apart: over every session), what the
/// prompt cache held at the last turn, then the whole conversation's.
fn conversation(turns: usize) -> Vec<(String, String)> {
    let mut wanted = Vec::new();
    for phase in [Phase::TurnFirst as fn(u32) -> Phase, Phase::TurnWarm, Phase::Turn] {
        wanted.extend((1..=turns).map(|number| titled(super::breakdown::TTFT, turn(phase, number))));
    }
    wanted.push(titled(CACHE_N, turn(Phase::TurnFirst, turns)));
    wanted.push(titled(CACHE_N, turn(Phase::Turn, turns)));
    wanted.extend(CONVERSATION.iter().map(|(family, phase)| titled(family, *phase)));
    wanted
}

/// Whether the records are of a `replay` or `client` workload: a session.
fn replayed(records: &[&(String, &CellRecord)]) -> bool {
    records.iter().any(|(_, record)| match &record.fingerprint.workload {
        WorkloadPrint::Server { replay, session, .. } => replay.is_some() || session.is_some(),
        _ => false,
    })
}

/// A replayed session request by request: a row per configuration and request.
fn request_by_request(workload: &str, records: &[&(String, &CellRecord)]) -> Option<Summary> {
    let count = |record: &CellRecord| {
        (1..=u32::try_from(MAX_REQUESTS_SHOWN).unwrap_or(u32::MAX))
            .take_while(|number| {
                let name = MetricName::new(TTFT_MS, Phase::Request(*number)).to_string();
                let prompt = MetricName::new(PROMPT_N, Phase::Request(*number)).to_string();
                record.metrics.contains_key(&name) || record.metrics.contains_key(&prompt)
            })
            .count()
    };
    let columns: Vec<Column> = PER_REQUEST
        .iter()
        .map(|family| {
            let (_, title) = titled(family, Phase::All);
            let unit =
                crate::metric::Family::named(family).map(|family| family.unit_symbol().to_owned()).unwrap_or_default();
            Column { metric: (*family).to_owned(), title, unit }
        })
        .collect();
    let mut rows = Vec::new();
    for (label, record) in records {
        for number in 1..=u32::try_from(count(record)).unwrap_or(0) {
            let values = PER_REQUEST
                .iter()
                .map(|family| {
                    record.metrics.get(&MetricName::new(family, Phase::Request(number)).to_string()).map(Figure::of)
                })
                .collect();
            rows.push((format!("{label}, request {number}"), values));
        }
    }
    (!rows.is_empty()).then(|| Summary {
        workload: format!("{workload}, request by request"),
        columns,
        rows,
        notes: vec![
            "prompt tokens are those the server processed; cached ones it took from its prompt cache".to_owned(),
        ],
    })
}

/// Whether the records are of a `cache "cold"` workload.
fn cold(records: &[&(String, &CellRecord)]) -> bool {
    records.iter().any(|(_, record)| {
        matches!(&record.fingerprint.workload, WorkloadPrint::Server { prompt_cache: Some(cache), .. } if cache == "cold")
    })
}

/// What the shown columns' phases need said.
fn notes(columns: &[Column], cold_workload: bool, replay: bool) -> Vec<String> {
    let phases: Vec<Phase> = columns.iter().map(|column| MetricName::parse(&column.metric).phase).collect();
    let mut notes = Vec::new();
    // A conversation's first request is its first session's turn 1.
    let cold = if phases.contains(&Phase::TurnFirst(1)) {
        Some("the first session's turn 1 is cold, as is the prompt processing shown as cold")
    } else if phases.contains(&Phase::First) {
        Some("cold is the workload's first request")
    } else {
        None
    };
    if replay {
        notes.push(
            "a client's session (or a replay of one) runs on a server started afresh: cold is its first request, \
             which finds the prompt cache empty"
                .to_owned(),
        );
    } else if let Some(cold) = cold {
        notes.push(format!(
            "{cold}: it is sent with `cache_prompt: false`, so that what an earlier workload left in a shared \
             server's prompt cache does not serve it (an Anthropic API workload, whose API ignores that, gets a \
             server started afresh)"
        ));
    }
    if phases.contains(&Phase::Warm) {
        notes.push("warm is the median of the requests after the first".to_owned());
    }
    if cold_workload {
        notes.push("every request of a `cache \"cold\"` workload is cold: each figure is over all of them".to_owned());
    }
    if phases.iter().any(|phase| matches!(phase, Phase::TurnWarm(_))) {
        notes.push(
            "a turn's first-session figure is one request; its later-session figure is the mean ± standard deviation \
             over the repeated sessions (n), which find the earlier sessions' turns in the prompt cache"
                .to_owned(),
        );
    }
    notes
}

/// A summary per server workload among `shown` (each record with its row label), in the order
/// the workloads first appear.
pub(super) fn summaries(shown: &[(String, &CellRecord)]) -> Vec<Summary> {
    let server =
        |labelled: &&(String, &CellRecord)| matches!(labelled.1.fingerprint.workload, WorkloadPrint::Server { .. });
    super::breakdown::by_workload(shown.iter().filter(server))
        .into_iter()
        .flat_map(|(workload, records)| {
            let has = |metric: &str| records.iter().any(|(_, record)| record.metrics.contains_key(metric));
            let turns = super::breakdown::last_turn(&records);
            let cold_workload = cold(&records);
            let replay = replayed(&records);
            let wanted: Vec<(String, String)> = if replay {
                SESSION.iter().map(|(family, phase)| titled(family, *phase)).collect()
            } else if has(&super::breakdown::loaded_marker()) {
                UNDER_LOAD.iter().map(|(family, phase)| titled(family, *phase)).collect()
            } else if turns > 0 {
                conversation(turns)
            } else if cold_workload {
                COLD.iter().map(|(family, phase)| titled(family, *phase)).collect()
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
                    let values =
                        columns.iter().map(|column| record.metrics.get(&column.metric).map(Figure::of)).collect();
                    (label.clone(), values)
                })
                .collect();
            let notes = notes(&columns, cold_workload, replay);
            let by_request = if replay { request_by_request(&workload, &records) } else { None };
            std::iter::once(Summary { workload, columns, rows, notes }).chain(by_request)
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
        let means: Vec<Option<f64>> =
            summaries[0].rows[0].1.iter().map(|figure| figure.map(|figure| figure.mean)).collect();
        assert_eq!(means, [Some(90.0), Some(45.0), Some(42.0)]);
        assert_eq!(summaries[1].columns[2].unit, "tokens");
    }

    /// A conversation's turns once averaged the cold first session with its cached repeats: the
    /// summary shows them apart, the later sessions with their spread and count.
    #[test]
    fn a_conversation_shows_its_first_session_apart_from_the_later_ones() {
        let mut session = record(
            "session",
            &[
                ("ttft_ms_turn1_first", 24_587.0, "ms"),
                ("ttft_ms_turn2_first", 300.0, "ms"),
                ("ttft_ms_turn1_warm", 107.0, "ms"),
                ("cache_n_turn2_first", 380.0, "tokens"),
                ("prompt_tps_first", 270.0, "t/s"),
            ],
        );
        session.metrics.get_mut("ttft_ms_turn1_warm").unwrap().samples = vec![104.0, 110.0];
        session.metrics.get_mut("ttft_ms_turn1_warm").unwrap().stddev = Some(4.2);
        let summaries = summaries(&[("t=1".to_owned(), &session)]);
        let titles: Vec<&str> = summaries[0].columns.iter().map(|column| column.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "time to first token, turn 1, first session",
                "time to first token, turn 2, first session",
                "time to first token, turn 1, later sessions",
                "prompt tokens from cache, turn 2, first session",
                "prompt processing, cold",
            ]
        );
        assert_eq!(summaries[0].rows[0].1[2], Some(Figure { mean: 107.0, spread: Some(4.2), count: 2 }));
        assert!(summaries[0].notes.iter().any(|note| note.contains("later-session")), "{:?}", summaries[0].notes);
        assert!(
            summaries[0].notes.iter().any(|note| note.starts_with("the first session's turn 1 is cold")
                && note.contains("sent with `cache_prompt: false`")),
            "{:?}",
            summaries[0].notes
        );
        assert!(
            !summaries[0].notes.iter().any(|note| note.contains("median")),
            "no warm column: {:?}",
            summaries[0].notes
        );
    }

    /// Under `cache "cold"` every request is cold: "cold" and "warm" columns were shown there.
    #[test]
    fn a_cold_workload_has_no_cold_and_warm_columns() {
        let mut cold = record(
            "cold",
            &[
                ("ttft_ms", 900.0, "ms"),
                ("ttft_ms_first", 910.0, "ms"),
                ("ttft_ms_warm", 890.0, "ms"),
                ("gen_tps", 40.0, "t/s"),
            ],
        );
        cold.fingerprint.workload = serde_json::from_value(serde_json::json!({
            "kind": "server", "name": "cold", "prompt_cache": "cold", "repeat": 3, "requests": []
        }))
        .unwrap();
        let summaries = summaries(&[("t=1".to_owned(), &cold)]);
        let metrics: Vec<&str> = summaries[0].columns.iter().map(|column| column.metric.as_str()).collect();
        assert_eq!(metrics, ["ttft_ms", "gen_tps"]);
        assert!(summaries[0].notes.iter().any(|note| note.contains("every request")), "{:?}", summaries[0].notes);
    }

    /// A speculative cell's acceptance rate was only under "Every metric", and no column showed
    /// how fast the prompt was processed.
    #[test]
    fn acceptance_and_prompt_processing_rates_are_in_the_summary() {
        let speculative = record(
            "chat",
            &[
                ("ttft_ms_first", 90.0, "ms"),
                ("gen_tps", 42.0, "t/s"),
                ("prompt_tps_first", 300.0, "t/s"),
                ("prompt_tps", 200.0, "t/s"),
                ("accept_rate", 0.62, ""),
            ],
        );
        let summaries = summaries(&[("t=1".to_owned(), &speculative)]);
        let titles: Vec<&str> = summaries[0].columns.iter().map(|column| column.title.as_str()).collect();
        assert_eq!(
            titles,
            ["time to first token, cold", "generation", "prompt processing, cold", "draft acceptance rate"]
        );
    }
}
