//! Server workload metrics: per request from the client (TTFT, end to end) and from the
//! server's `timings` (or Anthropic `usage`), aggregated as all requests, the first (cold)
//! one, and the median of the rest (warm, after the prompt cache).

use std::collections::BTreeMap;

use super::client::Exchange;
use crate::metric::names::GEN_TPS;
use crate::metric::server::{LOADED, PER_TURN, THROUGHPUT, TIMINGS, USAGE_COUNTS};
use crate::metric::{Family, MetricName, Phase};
use crate::stats;
use crate::store::MetricValue;

/// A session's requests one by one (`ttft_ms_req1`, `prompt_n_req2`, …), with the session's
/// time and its request count: an agent client's or a replayed trace's.
pub(in crate::run) fn per_request(
    exchanges: &[Option<Exchange>],
    session: std::time::Duration,
) -> BTreeMap<String, MetricValue> {
    use crate::metric::names::{CACHE_N, PROMPT_N, REQUESTS, SESSION_MS, TTFT_MS};
    let mut metrics = BTreeMap::new();
    for (index, exchange) in exchanges.iter().enumerate() {
        let Some(exchange) = exchange else { continue };
        let phase = Phase::Request(u32::try_from(index + 1).unwrap_or(u32::MAX));
        let figures = [
            (TTFT_MS, exchange.ttft_ms),
            (PROMPT_N, exchange.processed_n()),
            (CACHE_N, exchange.cache_n()),
            (GEN_TPS, exchange.gen_tps()),
        ];
        for (family, value) in figures {
            if let Some(value) = value {
                let unit = Family::get(family).unit_symbol();
                metrics.insert(MetricName::new(family, phase).to_string(), MetricValue::single(value, unit));
            }
        }
    }
    let answered = exchanges.iter().flatten().count();
    metrics.insert(
        SESSION_MS.to_owned(),
        MetricValue::single(session.as_secs_f64() * 1000.0, Family::get(SESSION_MS).unit_symbol()),
    );
    #[expect(clippy::cast_precision_loss, reason = "a session's request count is far below 2^52")]
    metrics.insert(REQUESTS.to_owned(), MetricValue::single(answered as f64, Family::get(REQUESTS).unit_symbol()));
    metrics
}

/// Every request's metrics: the mean over all requests, the first (`_first`) and the median of
/// the rest (`_warm`), each in its family's unit.
pub(in crate::run) fn aggregate(exchanges: &[Exchange]) -> BTreeMap<String, MetricValue> {
    let mut series: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut push = |name: &'static str, value: f64| series.entry(name).or_default().push(value);
    for exchange in exchanges {
        let [ttft, e2e] = crate::metric::server::TIMED;
        if let Some(value) = exchange.ttft_ms {
            push(ttft, value);
        }
        push(e2e, exchange.e2e_ms);
        for (name, key) in TIMINGS {
            // One generated token is no rate: the server says 0 t/s for it.
            if name == GEN_TPS {
                continue;
            }
            if let Some(value) = exchange.timing(key) {
                push(name, value);
            }
        }
        if let Some(rate) = exchange.gen_tps() {
            push(GEN_TPS, rate);
        }
        if let (Some(drafted), Some(accepted)) = (exchange.timing("draft_n"), exchange.timing("draft_n_accepted")) {
            let [_, draft_accepted, accept_rate] = crate::metric::server::DRAFTING;
            push(draft_accepted, accepted);
            if drafted > 0.0 {
                push(accept_rate, accepted / drafted);
            }
        }
        // The Anthropic API streams no `timings`; its usage counts the same tokens.
        if exchange.timings.is_none() {
            for (name, key) in USAGE_COUNTS {
                if let Some(value) = exchange.usage.get(key) {
                    push(name, *value);
                }
            }
        }
    }
    let mut metrics = BTreeMap::new();
    for (name, samples) in series {
        let unit = Family::get(name).unit_symbol();
        let (mean, stddev) = (stats::mean(&samples), stats::stddev(&samples));
        let single = |value: f64| MetricValue::single(value, unit);
        metrics.insert(MetricName::new(name, Phase::First).to_string(), single(samples[0]));
        if samples.len() > 1 {
            metrics.insert(MetricName::new(name, Phase::Warm).to_string(), single(stats::median(&samples[1..])));
        }
        metrics.insert(name.to_owned(), MetricValue { mean, stddev, unit: unit.to_owned(), samples, rounds: None });
    }
    metrics
}

/// Under concurrency: percentiles of time to first token, end to end and inter-token latency
/// (`NAME_p50`, `_p90`, `_p99`, and `itl_ms` itself), requests per second and generated
/// tokens per second over the workload's wall time.
#[expect(clippy::cast_precision_loss, reason = "a workload has far fewer than 2^52 requests and tokens")]
pub(in crate::run) fn under_load(exchanges: &[Exchange], wall: std::time::Duration) -> BTreeMap<String, MetricValue> {
    let mut metrics = BTreeMap::new();
    let ttft: Vec<f64> = exchanges.iter().filter_map(|exchange| exchange.ttft_ms).collect();
    let e2e: Vec<f64> = exchanges.iter().map(|exchange| exchange.e2e_ms).collect();
    let itl: Vec<f64> =
        exchanges.iter().flat_map(|exchange| exchange.chunk_ms.windows(2).map(|pair| pair[1] - pair[0])).collect();
    let metric = |family: &str, mean: f64, samples: Vec<f64>| MetricValue {
        mean,
        stddev: None,
        unit: Family::get(family).unit_symbol().to_owned(),
        samples,
        rounds: None,
    };
    for (name, values) in LOADED.into_iter().zip([&ttft, &e2e, &itl]) {
        if values.is_empty() {
            continue;
        }
        for percentile in Phase::PERCENTILES {
            let value = stats::percentile(values, f64::from(percentile) / 100.0);
            metrics.insert(
                MetricName::new(name, Phase::Percentile(percentile)).to_string(),
                metric(name, value, vec![value]),
            );
        }
    }
    let [_, _, itl_ms] = LOADED;
    if !itl.is_empty() {
        metrics.insert(itl_ms.to_owned(), metric(itl_ms, stats::mean(&itl), itl));
    }
    let seconds = wall.as_secs_f64();
    if seconds > 0.0 && !exchanges.is_empty() {
        let [req_per_s, gen_tps_total] = THROUGHPUT;
        let requests = exchanges.len() as f64 / seconds;
        metrics.insert(req_per_s.to_owned(), metric(req_per_s, requests, vec![requests]));
        let generated: f64 = exchanges.iter().filter_map(Exchange::generated_n).sum();
        let total = generated / seconds;
        metrics.insert(gen_tps_total.to_owned(), metric(gen_tps_total, total, vec![total]));
    }
    metrics
}

/// A conversation's metrics per turn K (1-based), the first session apart from the later ones:
/// the first session's turn 1 is cold, and a repeat's turn 1 finds it in the prompt cache, so a
/// mean over both is neither (24.6 s and 0.1 s averaged to 12.3 s). `ttft_ms_turnK_first` is the
/// first session's one request; `ttft_ms_turnK_warm` the later sessions' mean, spread and count.
/// Each for `ttft_ms`, `prompt_n` (the whole prompt, cached tokens included: it grows with the
/// conversation), `cache_n` and `gen_tps`.
pub(in crate::run) fn per_turn(turns: &[Turned<'_>]) -> BTreeMap<String, MetricValue> {
    let mut series: BTreeMap<(String, &str), Vec<f64>> = BTreeMap::new();
    for turned in turns {
        let exchange = turned.exchange;
        let values = [
            exchange.ttft_ms,
            // The turn's whole prompt: what the server processed and what it took from its cache.
            prompt_size(exchange),
            exchange.cache_n(),
            exchange.gen_tps(),
        ];
        let turn = u32::try_from(turned.turn).unwrap_or(u32::MAX);
        let phase = if turned.session == 0 { Phase::TurnFirst(turn) } else { Phase::TurnWarm(turn) };
        for (name, value) in PER_TURN.into_iter().zip(values) {
            if let Some(value) = value {
                let unit = Family::get(name).unit_symbol();
                series.entry((MetricName::new(name, phase).to_string(), unit)).or_default().push(value);
            }
        }
    }
    series
        .into_iter()
        .map(|((name, unit), samples)| {
            let (mean, stddev) = (stats::mean(&samples), stats::stddev(&samples));
            (name, MetricValue { mean, stddev, unit: unit.to_owned(), samples, rounds: None })
        })
        .collect()
}

/// One request of a conversation: its session (from 0, in the order sent) and turn (from 1).
pub(in crate::run) struct Turned<'a> {
    pub(in crate::run) session: usize,
    pub(in crate::run) turn: usize,
    pub(in crate::run) exchange: &'a Exchange,
}

/// A first request that the server nevertheless answered from its prompt cache was not cold:
/// its figures are taken out of `metrics` (every `_first`, and a conversation's
/// `_turn1_first`) rather than reported as cold, and the warning returned says why. `None` when
/// the first request was cold, or says nothing of the cache.
pub(in crate::run) fn unseat_warm_first(
    metrics: &mut BTreeMap<String, MetricValue>,
    first: Option<&Exchange>,
) -> Option<String> {
    let cached = first?.cache_n().filter(|cached| *cached > 0.0)?;
    metrics.retain(|name, _| !matches!(MetricName::parse(name).phase, Phase::First | Phase::TurnFirst(1)));
    Some(format!(
        "the first request was answered from llama-server's prompt cache ({cached:.0} tokens, `cache_n`) though \
         it asked for none (`cache_prompt: false`): it was not cold, so no cold figure (`_first`) is recorded"
    ))
}

/// The tokens of a request's whole prompt: processed plus taken from the cache.
fn prompt_size(exchange: &Exchange) -> Option<f64> {
    Some(exchange.processed_n()? + exchange.cache_n().unwrap_or(0.0))
}

/// A llama-server event stream's lines read as each API would, and the metrics made of them.
#[cfg(test)]
pub(crate) fn events_to_metrics(text: &str) {
    let mut exchanges = Vec::new();
    for api in
        [crate::manifest::Api::Completion, crate::manifest::Api::OpenaiChat, crate::manifest::Api::AnthropicMessages]
    {
        let mut exchange = Exchange::default();
        for line in text.lines() {
            let _ = super::client::take_event(&mut exchange, api, line, std::time::Instant::now());
        }
        exchanges.push(exchange);
    }
    let _ = aggregate(&exchanges);
    let _ = under_load(&exchanges, std::time::Duration::from_millis(1));
    let turned: Vec<Turned<'_>> = exchanges
        .iter()
        .enumerate()
        .map(|(turn, exchange)| Turned { session: turn % 2, turn: turn + 1, exchange })
        .collect();
    let _ = per_turn(&turned);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gaps between chunks are inter-token latencies; throughput is over the wall time.
    #[test]
    fn load_metrics_come_from_chunks_and_wall_time() {
        let exchange = |chunks: &[f64]| Exchange {
            ttft_ms: chunks.first().copied(),
            e2e_ms: chunks.last().copied().unwrap_or(0.0),
            chunk_ms: chunks.to_vec(),
            timings: Some(serde_json::json!({ "predicted_n": chunks.len() })),
            ..Exchange::default()
        };
        let metrics =
            under_load(&[exchange(&[10.0, 20.0, 40.0]), exchange(&[15.0, 45.0])], std::time::Duration::from_secs(2));
        assert_eq!(metrics["itl_ms"].samples, [10.0, 20.0, 30.0]);
        assert!((metrics["itl_ms_p50"].mean - 20.0).abs() < 1e-9);
        assert!((metrics["req_per_s"].mean - 1.0).abs() < 1e-9);
        assert!((metrics["gen_tps_total"].mean - 2.5).abs() < 1e-9);
        assert!((metrics["ttft_ms_p50"].mean - 12.5).abs() < 1e-9);
    }

    /// A conversation with `repeat 3`: turn 1 was once the mean of the cold first session and its
    /// cached repeats (24.6 s and 0.1 s averaged to 12.3 s). Each session kind stands apart now,
    /// the later ones with their spread and count.
    #[test]
    fn a_conversations_first_session_stays_apart_from_its_repeats() {
        let exchange = |ttft: f64, cache: f64| Exchange {
            ttft_ms: Some(ttft),
            timings: Some(
                serde_json::json!({ "cache_n": cache, "prompt_n": 5, "predicted_n": 4, "predicted_per_second": 40.0 }),
            ),
            ..Exchange::default()
        };
        let requests = [
            exchange(24_587.0, 0.0),
            exchange(300.0, 380.0),
            exchange(107.0, 380.0),
            exchange(250.0, 400.0),
            exchange(113.0, 380.0),
            exchange(260.0, 400.0),
        ];
        let turned: Vec<Turned<'_>> = requests
            .iter()
            .enumerate()
            .map(|(index, exchange)| Turned { session: index / 2, turn: index % 2 + 1, exchange })
            .collect();
        let metrics = per_turn(&turned);
        let first = &metrics["ttft_ms_turn1_first"];
        assert_eq!((first.mean, first.samples.len(), first.stddev), (24_587.0, 1, None));
        let warm = &metrics["ttft_ms_turn1_warm"];
        assert_eq!(warm.samples, [107.0, 113.0]);
        assert!((warm.mean - 110.0).abs() < 1e-9 && warm.stddev.is_some_and(|spread| spread > 0.0));
        assert_eq!(metrics["ttft_ms_turn2_warm"].samples, [250.0, 260.0]);
        assert_eq!(metrics["cache_n_turn1_first"].samples, [0.0]);
        assert!(!metrics.contains_key("ttft_ms_turn1"), "no mean over sessions");
    }

    /// `max-tokens=1` once recorded `gen_tps` 0: one token is no rate.
    #[test]
    fn one_generated_token_is_no_generation_speed() {
        let one = Exchange {
            ttft_ms: Some(40.0),
            timings: Some(serde_json::json!({ "predicted_n": 1, "predicted_per_second": 0.0, "prompt_n": 2 })),
            ..Exchange::default()
        };
        assert_eq!(one.gen_tps(), None);
        let metrics = aggregate(&[one.clone(), one]);
        assert!(!metrics.contains_key("gen_tps") && !metrics.contains_key("gen_tps_first"), "{metrics:?}");
        assert_eq!(metrics["gen_n"].samples, [1.0, 1.0]);
    }

    /// The Anthropic API streams no `timings`: its speed is the tokens its usage counts over the
    /// time from the first streamed text to the last, as the server counts its own.
    #[test]
    fn an_anthropic_reply_has_a_generation_speed_from_its_usage() {
        let reply = Exchange {
            ttft_ms: Some(100.0),
            chunk_ms: vec![100.0, 150.0, 200.0, 300.0],
            usage: BTreeMap::from([("output_tokens".to_owned(), 4.0), ("input_tokens".to_owned(), 12.0)]),
            ..Exchange::default()
        };
        assert_eq!(reply.gen_tps(), Some(20.0));
        assert_eq!(aggregate(&[reply])["gen_tps_first"].samples, [20.0]);
    }

    /// Two workloads with one system prompt on one server: the second's first request was once
    /// reported as cold with `cache_n` 899. A first request that found the cache is no cold figure.
    #[test]
    fn a_first_request_served_from_the_cache_is_no_cold_figure() {
        let exchange = |cache: f64| Exchange {
            ttft_ms: Some(463.0),
            timings: Some(serde_json::json!({ "cache_n": cache, "prompt_n": 5 })),
            ..Exchange::default()
        };
        let warm = exchange(899.0);
        let mut metrics = aggregate(&[warm.clone(), exchange(899.0)]);
        metrics.insert("ttft_ms_turn1_first".to_owned(), MetricValue::single(463.0, "ms"));
        let warning = unseat_warm_first(&mut metrics, Some(&warm)).unwrap();
        assert!(warning.contains("899 tokens") && warning.contains("not cold"), "{warning}");
        assert!(metrics.keys().all(|name| !name.ends_with("_first")), "{metrics:?}");
        assert!(metrics.contains_key("ttft_ms_warm") && metrics.contains_key("ttft_ms"));
        let cold = exchange(0.0);
        let mut metrics = aggregate(std::slice::from_ref(&cold));
        assert_eq!(unseat_warm_first(&mut metrics, Some(&cold)), None);
        assert!(metrics.contains_key("ttft_ms_first"));
    }

    #[test]
    fn first_and_warm_come_from_the_first_request_and_the_median_of_the_rest() {
        let exchange = |ttft: f64, cache: f64| Exchange {
            ttft_ms: Some(ttft),
            e2e_ms: ttft + 100.0,
            timings: Some(serde_json::json!({ "cache_n": cache, "prompt_n": 10, "prompt_ms": ttft })),
            ..Exchange::default()
        };
        let metrics =
            aggregate(&[exchange(900.0, 0.0), exchange(30.0, 2000.0), exchange(50.0, 2000.0), exchange(40.0, 2000.0)]);
        assert!((metrics["ttft_ms_first"].mean - 900.0).abs() < 1e-9);
        assert!((metrics["ttft_ms_warm"].mean - 40.0).abs() < 1e-9);
        assert!((metrics["cache_n_warm"].mean - 2000.0).abs() < 1e-9);
        assert_eq!(metrics["ttft_ms"].samples, [900.0, 30.0, 50.0, 40.0]);
        assert_eq!(metrics["ttft_ms"].unit, "ms");
    }
}
