//! Metrics from a finished child: llama-bench's JSON lines, or a `command`'s regexes.

use std::collections::BTreeMap;

use crate::manifest::MetricSpec;
use crate::metric::BenchName;
use crate::store::MetricValue;

/// llama-bench `-o jsonl` records → metrics named like its tests (`pp512`, `tg128`,
/// `pp512+tg128`, `tg128@d32768`; the depth only where the output has several): mean and stddev
/// in tokens per second. The raw records are returned as they were, to be kept in the cell's
/// record.
pub(crate) fn bench_metrics(stdout: &[u8]) -> Result<(BTreeMap<String, MetricValue>, Vec<serde_json::Value>), String> {
    let mut metrics = BTreeMap::new();
    let mut raw = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let record: serde_json::Value = serde_json::from_str(line)
            .map_err(|error| format!("llama-bench printed a malformed JSON line: {error}"))?;
        let number = |key: &str| record.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let (prompt, generated, depth) = (number("n_prompt"), number("n_gen"), number("n_depth"));
        let name = BenchName::new(prompt, generated, depth);
        // Comma lists (`-t 1,2`) give several records of one test; number the repeats.
        let mut unique = name.to_string();
        let mut index = 2;
        while metrics.contains_key(&unique) {
            unique = name.repeated(index).to_string();
            index += 1;
        }
        let mean =
            record.get("avg_ts").and_then(serde_json::Value::as_f64).ok_or("a llama-bench record has no `avg_ts`")?;
        let samples: Vec<f64> = record
            .get("samples_ts")
            .and_then(serde_json::Value::as_array)
            .map(|samples| samples.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        let stddev = record.get("stddev_ts").and_then(serde_json::Value::as_f64);
        let unit = name.test.family().unit_symbol().to_owned();
        metrics.insert(unique, MetricValue { mean, stddev, unit, samples, rounds: None });
        raw.push(record);
    }
    if metrics.is_empty() {
        return Err("llama-bench printed no results".to_owned());
    }
    Ok((crate::metric::plain_depth_names(metrics), raw))
}

/// Each metric's regex over the output; the first group of its last match is the value.
pub(crate) fn command_metrics(output: &[u8], specs: &[MetricSpec]) -> Result<BTreeMap<String, MetricValue>, String> {
    let text = String::from_utf8_lossy(output);
    let mut metrics = BTreeMap::new();
    for spec in specs {
        let regex = regex::Regex::new(&spec.regex.value).map_err(|error| error.to_string())?;
        let Some(captures) = regex.captures_iter(&text).last() else {
            return Err(format!(
                "metric `{}`: regex `{}` found nothing in the output",
                spec.name.value, spec.regex.value
            ));
        };
        let matched = captures.get(1).or_else(|| captures.get(0)).map_or("", |found| found.as_str());
        let value: f64 = matched.trim().parse().map_err(|_| {
            format!(
                "metric `{}`: regex `{}` matched `{matched}`, which is not a number",
                spec.name.value, spec.regex.value
            )
        })?;
        metrics.insert(spec.name.value.clone(), MetricValue::single(value, ""));
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two records as llama-bench b7000+ prints them with `-o jsonl` (fields trimmed).
    const JSONL: &str = r#"{"n_prompt": 64, "n_gen": 0, "n_depth": 0, "avg_ts": 107.1655, "stddev_ts": 16.03, "samples_ts": [ 118.503, 95.8278 ]}
{"n_prompt": 0, "n_gen": 16, "n_depth": 4096, "avg_ts": 14.89, "stddev_ts": 3.31, "samples_ts": [ 17.2401, 12.5474 ]}
"#;

    #[test]
    fn names_metrics_like_llama_bench_tests() {
        let (metrics, raw) = bench_metrics(JSONL.as_bytes()).unwrap();
        assert_eq!(metrics.keys().collect::<Vec<_>>(), ["pp64", "tg16@d4096"]);
        assert!((metrics["pp64"].mean - 107.1655).abs() < 1e-9);
        assert_eq!(metrics["pp64"].samples, [118.503, 95.8278]);
        assert_eq!(raw.len(), 2);
        assert_eq!(bench_metrics(b"loading model\n").unwrap_err(), "llama-bench printed no results");
    }

    /// A depth from a matrix axis: `table rows="depth" metric="tg16"` found `n/a` for every depth
    /// but 0 while the metric was named `tg16@d4096`.
    #[test]
    fn one_depth_keeps_the_plain_name_and_several_keep_theirs() {
        let deep = JSONL.replace(r#""n_depth": 0,"#, r#""n_depth": 4096,"#);
        let (metrics, _) = bench_metrics(deep.as_bytes()).unwrap();
        assert_eq!(metrics.keys().collect::<Vec<_>>(), ["pp64", "tg16"]);
        let repeated = format!("{deep}{}", deep.lines().nth(1).unwrap());
        let (metrics, _) = bench_metrics(repeated.as_bytes()).unwrap();
        assert_eq!(metrics.keys().collect::<Vec<_>>(), ["pp64", "tg16", "tg16#2"]);
    }
}
