//! The statistics behind "how sure are we": a metric measured over interleaved rounds becomes a
//! mean with a 95% confidence interval (Student t), a coefficient of variation and the rounds that
//! look like outliers; two such metrics differ significantly only when Welch's t-test says so.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The modified z-score above which a round is flagged (Iglewicz and Hoaglin's rule).
const OUTLIER_Z: f64 = 3.5;
/// Fewer rounds than this flag no outlier.
pub(crate) const MIN_ROUNDS_FOR_OUTLIERS: usize = 5;
/// Differences with a two-sided p-value below this are called significant.
pub(crate) const SIGNIFICANCE: f64 = 0.05;

/// Several rounds of one metric, summarised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub mean: f64,
    /// The sample standard deviation; `None` with one round.
    pub stddev: Option<f64>,
    /// The 95% confidence interval of the mean; `None` with one round.
    pub ci95: Option<(f64, f64)>,
    /// Standard deviation over the mean; `None` with one round or a zero mean.
    pub cv: Option<f64>,
    /// Indices of the rounds whose modified z-score is above 3.5.
    pub outliers: Vec<usize>,
}

/// Mean, spread, confidence interval and outliers of `values` (one per round; not empty).
pub(crate) fn summarise(values: &[f64]) -> Summary {
    let count = values.len();
    let mean = mean(values);
    if count < 2 {
        return Summary { mean, stddev: None, ci95: None, cv: None, outliers: Vec::new() };
    }
    let stddev = variance(values, mean).sqrt();
    let half = t_quantile(0.975, length(&values[1..])) * stddev / length(values).sqrt();
    Summary {
        mean,
        stddev: Some(stddev),
        ci95: Some((mean - half, mean + half)),
        cv: (mean != 0.0).then(|| stddev / mean.abs()),
        outliers: outliers(values),
    }
}

/// The rounds whose modified z-score, `0.6745 (x − median) / MAD`, is above 3.5. When more than
/// half the rounds are equal the MAD is zero, and the mean absolute deviation stands in for it
/// (scaled to match); values all equal have no outlier. Below five rounds nothing is flagged:
/// the MAD of three or four values is one or two distances, and two rounds that happen to agree
/// closely would make any third an "outlier".
pub(crate) fn outliers(values: &[f64]) -> Vec<usize> {
    if values.len() < MIN_ROUNDS_FOR_OUTLIERS {
        return Vec::new();
    }
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|value| (value - center).abs()).collect();
    let mad = median(&deviations);
    // 0.7979 is E|X − μ| / σ for a normal distribution, as 0.6745 is MAD / σ.
    let (factor, scale) = if mad > 0.0 { (0.6745, mad) } else { (0.7979, mean(&deviations)) };
    if scale == 0.0 {
        return Vec::new();
    }
    deviations
        .iter()
        .enumerate()
        .filter(|(_, deviation)| factor * **deviation / scale > OUTLIER_Z)
        .map(|(index, _)| index)
        .collect()
}

/// The outcome of Welch's unequal-variances t-test between two sets of rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Welch {
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

impl Welch {
    pub(crate) fn significant(&self) -> bool {
        self.p < SIGNIFICANCE
    }
}

/// Welch's t-test of `a` against `b`; `None` unless both have at least two rounds.
pub(crate) fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (mean_a, mean_b) = (mean(a), mean(b));
    let (share_a, share_b) = (variance(a, mean_a) / length(a), variance(b, mean_b) / length(b));
    let standard_error = (share_a + share_b).sqrt();
    if standard_error == 0.0 {
        // No spread at all: any difference is certain, none is nothing.
        let differ = (mean_a - mean_b).abs() > 0.0;
        let (t, p) = if differ { (f64::INFINITY.copysign(mean_a - mean_b), 0.0) } else { (0.0, 1.0) };
        return Some(Welch { t, df: f64::INFINITY, p });
    }
    let t = (mean_a - mean_b) / standard_error;
    let df = (share_a + share_b).powi(2) / (share_a.powi(2) / length(&a[1..]) + share_b.powi(2) / length(&b[1..]));
    let distribution = StudentsT::new(0.0, 1.0, df).ok()?;
    let p = (2.0 * (1.0 - distribution.cdf(t.abs()))).clamp(0.0, 1.0);
    Some(Welch { t, df, p })
}

/// How many values, as a number to divide by.
#[expect(clippy::cast_precision_loss, reason = "counts of rounds and samples are far below 2^52")]
fn length(values: &[f64]) -> f64 {
    values.len() as f64
}

fn t_quantile(probability: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |distribution| distribution.inverse_cdf(probability))
}

/// The sample standard deviation; `None` for fewer than two values.
pub(crate) fn stddev(values: &[f64]) -> Option<f64> {
    (values.len() > 1).then(|| variance(values, mean(values)).sqrt())
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / length(values)
}

/// The sample variance (n − 1).
fn variance(values: &[f64], mean: f64) -> f64 {
    values.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / length(&values[1..])
}

/// The middle value, or the mean of the two middle ones.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) { f64::midpoint(sorted[middle - 1], sorted[middle]) } else { sorted[middle] }
}

/// The `rank` quantile (0 to 1) of `values`, interpolated between the two nearest.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "an index into a list of requests or tokens"
)]
pub(crate) fn percentile(values: &[f64], rank: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = rank * (sorted.len() - 1) as f64;
    let (lower, upper) = (position.floor() as usize, position.ceil() as usize);
    sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five rounds around `mean` whose sample standard deviation is `spread` (a fraction of it).
    fn rounds(mean: f64, spread: f64) -> Vec<f64> {
        // ±1.2649 sd at the ends, 0 in the middle: {-2,-1,0,1,2} scaled to sd 1 is /√2.5.
        [-2.0, -1.0, 0.0, 1.0, 2.0].iter().map(|step| mean * (1.0 + spread * step / 2.5_f64.sqrt())).collect()
    }

    #[test]
    fn percentiles_interpolate_between_the_nearest_values() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&values, 0.5) - 50.5).abs() < 1e-9);
        assert!((percentile(&values, 0.99) - 99.01).abs() < 1e-9);
        assert!((percentile(&[7.0], 0.9) - 7.0).abs() < 1e-9);
    }

    #[test]
    fn the_confidence_interval_uses_students_t() {
        let summary = summarise(&[10.0, 12.0, 14.0]);
        assert!((summary.mean - 12.0).abs() < 1e-12);
        assert!((summary.stddev.unwrap() - 2.0).abs() < 1e-12);
        // t(0.975, 2) = 4.3027; half-width 4.3027 · 2 / √3 = 4.968.
        let (low, high) = summary.ci95.unwrap();
        assert!((high - 12.0 - 4.968).abs() < 1e-3 && (12.0 - low - 4.968).abs() < 1e-3, "{low} {high}");
        assert!((summary.cv.unwrap() - 2.0 / 12.0).abs() < 1e-12);
        let one = summarise(&[7.0]);
        assert_eq!((one.stddev, one.ci95, one.cv), (None, None, None));
    }

    #[test]
    fn welch_needs_a_difference_beyond_the_spread() {
        let reference = rounds(100.0, 0.10);
        assert!((summarise(&reference).stddev.unwrap() - 10.0).abs() < 1e-9);
        let close = welch(&reference, &rounds(105.0, 0.10)).unwrap();
        assert!(!close.significant(), "5% apart with 10% spread: {close:?}");
        let far = welch(&rounds(100.0, 0.02), &rounds(130.0, 0.02)).unwrap();
        assert!(far.significant(), "30% apart with 2% spread: {far:?}");
        assert!(far.p < 1e-6 && far.t < 0.0);
        assert_eq!(welch(&[1.0], &reference), None, "one round: not enough to test");
    }

    #[test]
    fn a_planted_outlier_is_flagged_and_clean_data_has_none() {
        let clean = [48.1, 48.4, 47.9, 48.3, 48.0, 48.2, 47.8, 48.5];
        assert_eq!(outliers(&clean), Vec::<usize>::new());
        let mut planted = clean.to_vec();
        planted[5] = 35.0;
        assert_eq!(outliers(&planted), [5]);
        assert_eq!(summarise(&planted).outliers, [5]);
        // More than half equal: the MAD is zero and the mean deviation takes over.
        assert_eq!(outliers(&[10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 14.0]), [7]);
        assert_eq!(outliers(&[10.0; 6]), Vec::<usize>::new());
        // Two close rounds do not make the third an outlier.
        assert_eq!(outliers(&[41.4, 42.31, 42.33]), Vec::<usize>::new());
    }
}
