//! Server workload metrics: per request from the client (TTFT, end to end) and from the
//! server's `timings` (or Anthropic `usage`), aggregated as all requests, the first (cold)
//! one, and the median of the rest (warm, after the prompt cache).

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::Exchange;
use crate::store::MetricValue;

/// (metric, unit, where in `timings`)
const TIMINGS: [(&str, &str, &str); 7] = [
    ("prompt_n", "tokens", "prompt_n"),
    ("prompt_ms", "ms", "prompt_ms"),
    ("prompt_tps", "t/s", "prompt_per_second"),
    ("gen_n", "tokens", "predicted_n"),
    ("gen_tps", "t/s", "predicted_per_second"),
    ("cache_n", "tokens", "cache_n"),
    ("draft_n", "tokens", "draft_n"),
];

#[expect(clippy::cast_precision_loss, reason = "a workload has far fewer than 2^52 requests")]
pub(super) fn aggregate(exchanges: &[Exchange]) -> BTreeMap<String, MetricValue> {
    let mut series: BTreeMap<&str, (&str, Vec<f64>)> = BTreeMap::new();
    let mut push = |name: &'static str, unit: &'static str, value: f64| {
        series.entry(name).or_insert_with(|| (unit, Vec::new())).1.push(value);
    };
    for exchange in exchanges {
        if let Some(ttft) = exchange.ttft_ms {
            push("ttft_ms", "ms", ttft);
        }
        push("e2e_ms", "ms", exchange.e2e_ms);
        let timing = |key: &str| exchange.timings.as_ref().and_then(|timings| timings.get(key)).and_then(Value::as_f64);
        for (name, unit, key) in TIMINGS {
            if let Some(value) = timing(key) {
                push(name, unit, value);
            }
        }
        if let (Some(drafted), Some(accepted)) = (timing("draft_n"), timing("draft_n_accepted")) {
            push("draft_accepted", "tokens", accepted);
            if drafted > 0.0 {
                push("accept_rate", "", accepted / drafted);
            }
        }
        // The Anthropic API streams no `timings`; its usage counts the same tokens.
        if exchange.timings.is_none() {
            for (name, key) in
                [("cache_n", "cache_read_input_tokens"), ("prompt_n", "input_tokens"), ("gen_n", "output_tokens")]
            {
                if let Some(value) = exchange.usage.get(key) {
                    push(name, "tokens", *value);
                }
            }
        }
    }
    let mut metrics = BTreeMap::new();
    for (name, (unit, samples)) in series {
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let stddev = (samples.len() > 1).then(|| {
            (samples.iter().map(|sample| (sample - mean).powi(2)).sum::<f64>() / (samples.len() - 1) as f64).sqrt()
        });
        let single =
            |value: f64| MetricValue { mean: value, stddev: None, unit: unit.to_owned(), samples: vec![value] };
        metrics.insert(format!("{name}_first"), single(samples[0]));
        if samples.len() > 1 {
            metrics.insert(format!("{name}_warm"), single(median(&samples[1..])));
        }
        metrics.insert(name.to_owned(), MetricValue { mean, stddev, unit: unit.to_owned(), samples });
    }
    metrics
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) { f64::midpoint(sorted[middle - 1], sorted[middle]) } else { sorted[middle] }
}

#[cfg(test)]
mod tests {
    use super::*;

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
