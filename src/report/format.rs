//! Numbers for people: a few significant digits, one scale per table, ratios and dates.

/// How a table shows a metric: its values divided by `divisor`, labelled `unit`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scale {
    pub(super) divisor: f64,
    pub(super) unit: String,
}

impl Scale {
    /// One scale for every value of a table, so that a column never mixes ms and s.
    pub(super) fn for_values(unit: &str, values: impl Iterator<Item = f64>) -> Self {
        let largest = values.map(f64::abs).fold(0.0, f64::max);
        match unit {
            "ms" if largest >= 10_000.0 => Self { divisor: 1000.0, unit: "s".to_owned() },
            "bytes" if largest >= 1024.0 * 1024.0 * 1024.0 => {
                Self { divisor: 1024.0 * 1024.0 * 1024.0, unit: "GiB".to_owned() }
            }
            "bytes" => Self { divisor: 1024.0 * 1024.0, unit: "MiB".to_owned() },
            _ => Self { divisor: 1.0, unit: unit.to_owned() },
        }
    }

    /// One scale for columns that sit side by side (a family's cold and warm times): seconds
    /// only when every value is a second or more, so that no value reads `0.0464 s`.
    pub(super) fn side_by_side(unit: &str, values: impl Iterator<Item = f64>) -> Self {
        let values: Vec<f64> = values.collect();
        let smallest = values.iter().copied().map(f64::abs).fold(f64::INFINITY, f64::min);
        match unit {
            "ms" if smallest.is_finite() && smallest < 1000.0 => Self { divisor: 1.0, unit: "ms".to_owned() },
            "tokens" => Self { divisor: 1.0, unit: unit.to_owned() },
            _ => Self::for_values(unit, values.into_iter()),
        }
    }

    /// A value as this scale shows it; token counts are whole numbers.
    pub(super) fn shown(&self, value: f64) -> String {
        if self.unit == "tokens" { fixed(value, 0) } else { self.number(value) }
    }

    pub(super) fn number(&self, value: f64) -> String {
        number(value / self.divisor)
    }

    /// `37.5 ± 1.2`, both with the mean's precision; the spread is left out when there is none.
    pub(super) fn spread(&self, mean: f64, stddev: Option<f64>) -> String {
        let mean = mean / self.divisor;
        match stddev.filter(|stddev| *stddev > 0.0) {
            Some(stddev) => {
                let decimals = decimals(mean);
                let stddev = stddev / self.divisor;
                // A spread too small for the mean's precision keeps its own first digits.
                let spread = fixed(stddev, decimals);
                let spread = if spread.trim_start_matches(['0', '.']).is_empty() { number(stddev) } else { spread };
                format!("{} ± {spread}", fixed(mean, decimals))
            }
            None => number(mean),
        }
    }

    /// `37.5 ± 1.2 t/s`: [`Scale::spread`] with the unit.
    pub(super) fn spread_with_unit(&self, mean: f64, stddev: Option<f64>) -> String {
        let value = self.spread(mean, stddev);
        if self.unit.is_empty() { value } else { format!("{value} {}", self.unit) }
    }
}

/// Three significant digits, no exponent, thousands separated: `284`, `37.5`, `4.21`,
/// `0.875`, `12,345`.
pub(super) fn number(value: f64) -> String {
    fixed(value, decimals(value))
}

fn decimals(value: f64) -> usize {
    match value.abs() {
        magnitude if magnitude >= 100.0 || magnitude == 0.0 => 0,
        magnitude if magnitude >= 10.0 => 1,
        magnitude if magnitude >= 1.0 => 2,
        magnitude if magnitude >= 0.1 => 3,
        _ => 4,
    }
}

fn fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    let text = format!("{value:.decimals$}");
    let (sign, text) = text.strip_prefix('-').map_or(("", text.as_str()), |rest| ("-", rest));
    let (whole, fraction) = text.split_once('.').map_or((text, None), |(whole, fraction)| (whole, Some(fraction)));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 && whole.len() > 4 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A value against its baseline: `2.41×` when at least as large, `-38%` when smaller.
pub(super) fn ratio(ratio: f64) -> String {
    if !ratio.is_finite() {
        "n/a".to_owned()
    } else if ratio >= 0.995 {
        if ratio >= 10.0 { format!("{ratio:.1}×") } else { format!("{ratio:.2}×") }
    } else {
        format!("-{:.0}%", (1.0 - ratio) * 100.0)
    }
}

/// `+5%`, `-12%`, and `0%` for a change that rounds to nothing (never `-0%`).
pub(super) fn change(ratio: f64) -> String {
    let percent = ((ratio - 1.0) * 100.0).round();
    if percent == 0.0 { "0%".to_owned() } else { format!("{percent:+.0}%") }
}

/// `2026-11-22` for milliseconds since the Unix epoch (UTC).
pub(super) fn date(unix_ms: u64) -> String {
    crate::units::utc(unix_ms)[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(number(284.49), "284");
        assert_eq!(number(37.04), "37.0");
        assert_eq!(number(4.2149), "4.21");
        assert_eq!(number(0.875), "0.875");
        assert_eq!(number(0.01234), "0.0123");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(12_345.6), "12,346");
        assert_eq!(number(-1_234_567.0), "-1,234,567");
        assert_eq!(number(f64::NAN), "n/a");
    }

    #[test]
    fn a_table_of_long_latencies_is_shown_in_seconds() {
        let scale = Scale::for_values("ms", [48.3, 73_100.0].into_iter());
        assert_eq!(scale.unit, "s");
        assert_eq!(scale.spread_with_unit(73_100.0, None), "73.1 s");
        assert_eq!(scale.number(48.3), "0.0483");
        let scale = Scale::for_values("ms", [48.3, 912.0].into_iter());
        assert_eq!(scale.spread(48.31, Some(2.04)), "48.3 ± 2.0");
        assert_eq!(scale.spread(48.31, Some(0.0)), "48.3");
        assert_eq!(Scale::for_values("t/s", [1.0].into_iter()).spread(284.4, Some(7.6)), "284 ± 8");
        assert_eq!(Scale::for_values("t/s", [1.0].into_iter()).spread(173.6, Some(0.41)), "174 ± 0.410");
    }

    #[test]
    fn ratios_read_as_speedups_or_losses() {
        assert_eq!(ratio(2.412), "2.41×");
        assert_eq!(ratio(1.0), "1.00×");
        assert_eq!(ratio(0.998), "1.00×");
        assert_eq!(ratio(0.62), "-38%");
        assert_eq!(ratio(12.34), "12.3×");
        assert_eq!(ratio(f64::INFINITY), "n/a");
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_795_305_600_000), "2026-11-22");
    }

    /// Regression: a change that rounds to nothing read `-0%`.
    #[test]
    fn changes_round_to_whole_percents_without_a_negative_zero() {
        assert_eq!(change(0.997), "0%");
        assert_eq!(change(1.049), "+5%");
        assert_eq!(change(0.88), "-12%");
    }

    #[test]
    fn side_by_side_columns_stay_in_ms_unless_every_value_is_a_second() {
        assert_eq!(Scale::side_by_side("ms", [28_220.0, 83.3].into_iter()).unit, "ms");
        assert_eq!(Scale::side_by_side("ms", [28_220.0, 12_000.0].into_iter()).unit, "s");
        let tokens = Scale::side_by_side("tokens", [11_078.0, 24.0].into_iter());
        assert_eq!((tokens.shown(11_078.0), tokens.shown(24.0)), ("11,078".to_owned(), "24".to_owned()));
    }
}
