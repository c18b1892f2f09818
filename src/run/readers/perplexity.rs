//! llama-perplexity's output into quality metrics: the reference pass's perplexity, a
//! candidate's perplexity, KL divergence and token statistics against the base logits.
//! llama-perplexity exits 0 whatever went wrong (a corpus too short, a base it cannot read), so
//! a pass without its result lines fails with the tool's own error line.

use std::collections::BTreeMap;

use crate::metric::Family;
use crate::metric::names::{DP_RMS, KLD_MAX, KLD_MEAN, KLD_P99, PPL, PPL_RATIO, SAME_TOP_P};
use crate::store::MetricValue;

/// What one pass printed: its metrics, and how many chunks it scored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    pub(crate) metrics: BTreeMap<String, MetricValue>,
    pub(crate) chunks: Option<u64>,
}

/// Reads the reference pass (`writes` the base: its `Final estimate`) or a candidate's (the
/// KL divergence statistics).
pub(crate) fn quality_metrics(output: &str, writes: bool) -> Result<Scored, String> {
    let mut metrics = BTreeMap::new();
    let mut chunks = None;
    let mut put = |name: &str, mean: f64, spread: Option<f64>| {
        let unit = Family::get(name).unit_symbol();
        let mut value = MetricValue::single(mean, unit);
        value.stddev = spread;
        metrics.insert(name.to_owned(), value);
    };
    for line in output.lines() {
        if let Some(rest) = after(line, "calculating perplexity over ") {
            chunks = rest.split_whitespace().next().and_then(|count| count.parse().ok());
        }
        if writes {
            // `Final estimate: PPL = 284.2366 +/- 31.94056`
            if let Some(rest) = after(line, "Final estimate: PPL = ") {
                let mut words = rest.split_whitespace();
                if let Some(mean) = words.next().and_then(|word| word.parse().ok()) {
                    let spread = words.nth(1).and_then(|word| word.parse().ok());
                    put(PPL, mean, spread);
                }
            }
            continue;
        }
        let reads = [
            ("Mean PPL(Q)                   :", PPL),
            ("Mean PPL(Q)/PPL(base)         :", PPL_RATIO),
            ("Mean    KLD:", KLD_MEAN),
            ("99.0%   KLD:", KLD_P99),
            ("Maximum KLD:", KLD_MAX),
            ("RMS Δp    :", DP_RMS),
            ("Same top p:", SAME_TOP_P),
        ];
        for (label, name) in reads {
            if let Some(rest) = after(line, label)
                && let Some((mean, spread)) = figure(rest)
            {
                put(name, mean, spread);
            }
        }
    }
    let wanted: &[&str] = if writes { &[PPL] } else { &[PPL, PPL_RATIO, KLD_MEAN, SAME_TOP_P] };
    if let Some(missing) = wanted.iter().find(|name| !metrics.contains_key(**name)) {
        return Err(match error_line(output) {
            Some(line) => format!("llama-perplexity: {line}"),
            None => format!("llama-perplexity printed no `{missing}` (its log has the whole output)"),
        });
    }
    Ok(Scored { metrics, chunks })
}

/// The text after `label` on a line of llama.cpp's log (which starts with a time and a level).
fn after<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    line.find(label).map(|at| &line[at + label.len()..])
}

/// `0.668942 ± 0.006612`, `53.571 ± 2.224 %`, `1.142612`: the value and its ±.
fn figure(text: &str) -> Option<(f64, Option<f64>)> {
    let text = text.trim().trim_end_matches('%').trim();
    let mut parts = text.split('±');
    let mean = parts.next()?.trim().parse().ok()?;
    let spread = parts.next().and_then(|spread| spread.trim().parse().ok());
    Some((mean, spread))
}

/// llama.cpp's first error line (`… E perplexity: you need at least 256 tokens …`), and the one
/// after it when it continues the thought (`… tokenizes to only 117 tokens`).
fn error_line(output: &str) -> Option<String> {
    let errors: Vec<&str> = output
        .lines()
        .filter_map(|line| {
            let mut words = line.trim_start().splitn(3, ' ');
            let stamp = words.next()?;
            let level = words.next()?;
            (level == "E" && stamp.chars().all(|c| c.is_ascii_digit() || c == '.')).then(|| words.next()).flatten()
        })
        .map(str::trim)
        .collect();
    let first = errors.first()?;
    Some(match errors.get(1) {
        Some(second) if second.split(':').next() == first.split(':').next() => {
            let continued = second.split_once(": ").map_or(*second, |(_, text)| text);
            format!("{first}; {continued}")
        }
        _ => (*first).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a candidate's pass, as our pinned llama-perplexity prints it.
    const CANDIDATE: &str = "\
0.01.500.812 I perplexity: calculating perplexity over 8 chunks, n_ctx=128, batch_size=2048, n_seq=16
====== Perplexity statistics ======
Mean PPL(Q)                   : 778.213674 ± 106.477462
Mean PPL(base)                : 284.236597 ±  31.940628
Cor(ln(PPL(Q)), ln(PPL(base))):  89.32%
Mean ln(PPL(Q)/PPL(base))     :   1.007194 ±   0.062299
Mean PPL(Q)/PPL(base)         :   2.737908 ±   0.170569
Mean PPL(Q)-PPL(base)         : 493.977078 ±  79.259189

====== KL divergence statistics ======
Mean    KLD:   0.668942 ±   0.006612
Maximum KLD:   1.142612
99.9%   KLD:   1.116060
99.0%   KLD:   1.024406
Median  KLD:   0.672649
====== Token probability statistics ======
Mean    Δp: -0.248 ± 0.107 %
Maximum Δp: 17.743%
RMS Δp    :  2.404 ± 0.230 %
Same top p: 53.571 ± 2.224 %
";

    #[test]
    fn reads_a_candidates_statistics() {
        let scored = quality_metrics(CANDIDATE, false).unwrap();
        let value = |name: &str| (scored.metrics[name].mean, scored.metrics[name].stddev);
        assert_eq!(value(PPL), (778.213_674, Some(106.477_462)));
        assert_eq!(value(PPL_RATIO), (2.737_908, Some(0.170_569)));
        assert_eq!(value(KLD_MEAN), (0.668_942, Some(0.006_612)));
        assert_eq!(value(KLD_P99), (1.024_406, None));
        assert_eq!(value(KLD_MAX), (1.142_612, None));
        assert_eq!(value(DP_RMS), (2.404, Some(0.230)));
        assert_eq!(value(SAME_TOP_P), (53.571, Some(2.224)));
        assert_eq!(scored.metrics[SAME_TOP_P].unit, "%");
        assert_eq!(scored.chunks, Some(8));
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "the parser keeps the digits printed")]
    fn reads_the_reference_perplexity() {
        let output = "0.01.859.596 I perplexity: calculating perplexity over 8 chunks, n_ctx=128\n\
                      [1]428.6635,[2]317.8842,\n0.12.782.400 I Final estimate: PPL = 284.2366 +/- 31.94056\n";
        let scored = quality_metrics(output, true).unwrap();
        assert_eq!(scored.metrics[PPL].mean, 284.2366);
        assert_eq!(scored.metrics[PPL].stddev, Some(31.940_56));
        assert_eq!(scored.metrics.len(), 1);
    }

    /// llama-perplexity exits 0 after these; the cell fails with its words.
    #[test]
    fn a_pass_without_results_fails_with_the_tools_error() {
        let short = "0.01.356.544 E perplexity: you need at least 256 tokens to evaluate perplexity with a context of 128\n\
                     0.01.356.545 E perplexity: the data file you provided tokenizes to only 117 tokens\n";
        assert_eq!(
            quality_metrics(short, true).unwrap_err(),
            "llama-perplexity: perplexity: you need at least 256 tokens to evaluate perplexity with a context of \
             128; the data file you provided tokenizes to only 117 tokens"
        );
        let missing = "0.01.444.805 E kl_divergence: failed to open /tmp/none.kld\n";
        assert_eq!(
            quality_metrics(missing, false).unwrap_err(),
            "llama-perplexity: kl_divergence: failed to open /tmp/none.kld"
        );
        assert_eq!(
            quality_metrics("nothing\n", false).unwrap_err(),
            "llama-perplexity printed no `ppl` (its log has the whole output)"
        );
    }
}
