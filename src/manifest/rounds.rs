//! `rounds N`, or adaptive rounds: `rounds min=2 max=10 until="ci < 3%"` measures every cell
//! `min` rounds, then more, interleaved, only for cells whose confidence interval is still wider
//! than asked, up to `max`.

use kdl::{KdlNode, KdlValue};

use super::decode::Decoder;
use super::error::ErrorKind;
use super::source::Spanned;

/// The most rounds a cell is measured in.
const MOST: u64 = 1000;

/// When an adaptive cell has had rounds enough.
#[derive(Debug, Clone, PartialEq)]
pub struct Until {
    /// Rounds every cell gets before its interval is looked at (at least 2).
    pub min: u32,
    /// The metric whose interval counts; `None`: every measured metric (not memory or energy).
    pub metric: Option<String>,
    /// The widest the 95% confidence interval's half-width may be, in percent of the mean.
    pub percent: f64,
}

/// Parses `ci < 3%` or `tg128 ci < 3%` (`<=` too).
pub fn parse_until(text: &str) -> Result<(Option<String>, f64), String> {
    let (left, right) = text
        .split_once("<=")
        .or_else(|| text.split_once('<'))
        .ok_or_else(|| "write it as `ci < 3%` or `METRIC ci < 3%`".to_owned())?;
    let words: Vec<&str> = left.split_whitespace().collect();
    let metric = match words.as_slice() {
        ["ci"] => None,
        [metric, "ci"] => Some((*metric).to_owned()),
        _ => return Err(format!("`{}` is not `ci` or `METRIC ci`", left.trim())),
    };
    let percent: f64 = right
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| "give the width in percent of the mean, e.g. `3%`".to_owned())?
        .trim()
        .parse()
        .ok()
        .filter(|percent: &f64| percent.is_finite() && *percent > 0.0)
        .ok_or_else(|| format!("`{}` is not a positive percentage", right.trim()))?;
    if percent < 0.001 {
        return Err(format!("{percent}% is below the 0.001% bakeoff can keep"));
    }
    Ok((metric, percent))
}

/// Decodes a `rounds` node: `rounds N`, or `rounds min=… max=… until="…"`.
pub(super) fn decode_rounds(decoder: &mut Decoder<'_>, node: &KdlNode) -> (Option<Spanned<u64>>, Option<Until>) {
    let adaptive = node.entries().iter().any(|entry| entry.name().is_some());
    if !adaptive {
        decoder.check_properties(node, &[]);
        let help = "give how many times each cell is measured, e.g. `rounds 3` (a confidence interval needs 2 or \
                    more), or `rounds min=2 max=10 until=\"ci < 3%\"`";
        let count = decoder.single_count(node);
        if let Some(count) = &count
            && !(1..=MOST).contains(&count.value)
        {
            decoder.report(
                count.at.span,
                ErrorKind::InvalidValue {
                    what: "rounds".to_owned(),
                    value: count.value.to_string(),
                    reason: format!("a cell is measured in 1 to {MOST} rounds"),
                },
                help,
            );
            return (None, None);
        }
        return (count, None);
    }
    decoder.check_properties(node, &["min", "max", "until"]);
    decoder.check_no_arguments(node);
    let at = decoder.at(node.span());
    let mut count = |name: &str| -> Option<u64> {
        let entry = node.entries().iter().find(|entry| entry.name().is_some_and(|key| key.value() == name))?;
        match entry.value() {
            KdlValue::Integer(value) => u64::try_from(*value).ok(),
            other => {
                decoder.wrong_type(node, entry, "a whole number", other);
                None
            }
        }
    };
    let (min, max) = (count("min").unwrap_or(2), count("max"));
    let until = decoder.string_property(node, "until");
    let usage = "e.g. `rounds min=2 max=10 until=\"ci < 3%\"`";
    let (Some(max), Some(until)) = (max, until) else {
        decoder.report(
            node.span(),
            ErrorKind::MissingValue { node: "adaptive `rounds`".to_owned(), what: "`max=` and `until=`".to_owned() },
            usage,
        );
        return (None, None);
    };
    if min < 2 || max < min || max > MOST {
        decoder.report(
            node.span(),
            ErrorKind::InvalidValue {
                what: "rounds".to_owned(),
                value: format!("min={min} max={max}"),
                reason: format!(
                    "adaptive rounds need `min` of 2 or more (an interval needs two), and `max` from `min` to {MOST}"
                ),
            },
            usage,
        );
        return (None, None);
    }
    match parse_until(&until.value) {
        Ok((metric, percent)) => {
            let min = u32::try_from(min).unwrap_or(u32::MAX);
            (Some(Spanned::new(max, at)), Some(Until { min, metric, percent }))
        }
        Err(reason) => {
            decoder.report(
                until.at.span,
                ErrorKind::InvalidValue { what: "`until`".to_owned(), value: until.value.clone(), reason },
                usage,
            );
            (None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_until;

    #[test]
    fn until_reads_a_width_and_maybe_a_metric() {
        assert_eq!(parse_until("ci < 3%"), Ok((None, 3.0)));
        assert_eq!(parse_until("tg128 ci <= 0.5 %"), Ok((Some("tg128".to_owned()), 0.5)));
        assert!(parse_until("ci < 3").unwrap_err().contains("percent"));
        assert!(parse_until("cv < 3%").unwrap_err().contains("is not `ci`"));
        assert!(parse_until("ci < -1%").unwrap_err().contains("positive"));
        assert!(parse_until("ci 3%").unwrap_err().contains("write it as"));
    }
}
