//! Server workload metrics: per request from the client (TTFT, end to end) and from the
//! server's `timings` (or Anthropic `usage`), aggregated as all requests, the first (cold)
//! one, and the median of the rest (warm, after the prompt cache).

use std::collections::BTreeMap;

use super::client::Exchange;
use crate::metric::server::{LOADED, PER_TURN, THROUGHPUT, TIMINGS, USAGE_COUNTS};
use crate::metric::{Family, MetricName, Phase};
use crate::stats;
use crate::store::MetricValue;

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
            if let Some(value) = exchange.timing(key) {
                push(name, value);
            }
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

/// A conversation's metrics per turn K (1-based): `ttft_ms_turnK`, `prompt_n_turnK` (the
/// whole prompt, cached tokens included: it grows with the conversation), `cache_n_turnK`,
/// `gen_tps_turnK`, each over the conversation's repeats.
pub(in crate::run) fn per_turn(turns: &[(usize, &Exchange)]) -> BTreeMap<String, MetricValue> {
    let mut series: BTreeMap<(String, &str), Vec<f64>> = BTreeMap::new();
    for (turn, exchange) in turns {
        let values = [
            exchange.ttft_ms,
            // The turn's whole prompt: what the server processed and what it took from its cache.
            prompt_size(exchange),
            exchange.cache_n(),
            exchange.timing("predicted_per_second"),
        ];
        for (name, value) in PER_TURN.into_iter().zip(values) {
            if let Some(value) = value {
                let turn = u32::try_from(*turn).unwrap_or(u32::MAX);
                let unit = Family::get(name).unit_symbol();
                series.entry((MetricName::new(name, Phase::Turn(turn)).to_string(), unit)).or_default().push(value);
            }
        }
    }
    series
        .into_iter()
        .map(|((name, unit), samples)| {
            (
                name,
                MetricValue { mean: stats::mean(&samples), stddev: None, unit: unit.to_owned(), samples, rounds: None },
            )
        })
        .collect()
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
    let _ = per_turn(&exchanges.iter().enumerate().map(|(turn, exchange)| (turn + 1, exchange)).collect::<Vec<_>>());
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
