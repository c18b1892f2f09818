//! `search "AXIS" from=A to=B step=S { keep "METRIC OP VALUE"; want "largest" }`: one numeric
//! axis whose values are a grid, searched per configuration of the other axes for where a
//! condition on one metric stops holding, instead of measured value by value.

use kdl::{KdlNode, KdlValue};

use super::decode::Decoder;
use super::error::ErrorKind;
use super::source::{Location, Spanned};

/// The most grid points a search may have: bisection probes about 20 of a million.
pub const MAX_POINTS: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Search {
    pub at: Location,
    /// The axis searched: its values are the grid, and `{AXIS}` fills them in.
    pub axis: Spanned<String>,
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub keep: Keep,
    pub want: Want,
}

/// `keep "METRIC OP VALUE"`: what a probe must measure to hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Keep {
    pub metric: String,
    pub op: Op,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Le,
    Lt,
    Ge,
    Gt,
}

/// Which end of the grid the answer is: the largest value where the condition holds (it holds
/// below a boundary), or the smallest (it holds above one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Largest,
    Smallest,
}

impl Search {
    /// The grid: `from`, `from + step`, … up to `to` (included when on the grid).
    pub fn grid(&self) -> Vec<i64> {
        let mut values = Vec::new();
        let mut value = self.from;
        while value <= self.to {
            values.push(value);
            match value.checked_add(self.step) {
                Some(next) => value = next,
                None => break,
            }
        }
        values
    }

    /// The most probes a search over `points` grid points takes: both ends, then a bisection.
    pub fn most_probes(points: usize) -> usize {
        match points {
            0 => 0,
            1 => 1,
            _ => 2 + usize::try_from((points - 1).next_power_of_two().trailing_zeros()).unwrap_or(64),
        }
    }
}

impl Keep {
    pub fn holds(&self, measured: f64) -> bool {
        match self.op {
            Op::Le => measured <= self.value,
            Op::Lt => measured < self.value,
            Op::Ge => measured >= self.value,
            Op::Gt => measured > self.value,
        }
    }

    /// Which way the metric must go to hold: `higher` for `>=`/`>`.
    pub fn wants_higher(&self) -> bool {
        matches!(self.op, Op::Ge | Op::Gt)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Le => "≤",
            Self::Lt => "<",
            Self::Ge => "≥",
            Self::Gt => ">",
        })
    }
}

impl std::fmt::Display for Want {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Largest => "largest",
            Self::Smallest => "smallest",
        })
    }
}

/// Parses `METRIC OP VALUE`: `ttft_ms_first <= 30000`, `pp512>=400`.
pub fn parse_keep(text: &str) -> Result<Keep, String> {
    let operators = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let Some((index, symbol, op)) =
        operators.iter().find_map(|(symbol, op)| text.find(symbol).map(|index| (index, *symbol, *op)))
    else {
        return Err("it has no comparison: write `METRIC <= VALUE` (or `<`, `>=`, `>`)".to_owned());
    };
    let metric = text[..index].trim();
    let value = text[index + symbol.len()..].trim();
    if metric.is_empty()
        || !metric.chars().all(|character| character.is_ascii_alphanumeric() || "_+".contains(character))
    {
        return Err(format!("`{metric}` is not a metric name (letters, digits, `_`)"));
    }
    let value: f64 = value
        .replace('_', "")
        .parse()
        .ok()
        .filter(|value: &f64| value.is_finite())
        .ok_or_else(|| format!("`{value}` is not a number (in the metric's own unit: ms, t/s, bytes)"))?;
    Ok(Keep { metric: metric.to_owned(), op, value })
}

/// Decodes a `search` node of an experiment.
pub(super) fn decode_search(decoder: &mut Decoder<'_>, node: &KdlNode) -> Option<Search> {
    decoder.check_properties(node, &["from", "to", "step"]);
    let axis = decoder.single_string(node)?;
    let at = decoder.at(node.span());
    let mut number = |name: &str| -> Option<i64> {
        let Some(entry) = node.entries().iter().find(|entry| entry.name().is_some_and(|key| key.value() == name))
        else {
            decoder.report(
                node.span(),
                ErrorKind::MissingValue { node: "`search`".to_owned(), what: format!("`{name}=`") },
                "write it as `search \"ctx\" from=16384 to=262144 step=4096 { … }`",
            );
            return None;
        };
        match entry.value() {
            KdlValue::Integer(value) => i64::try_from(*value).ok(),
            other => {
                decoder.wrong_type(node, entry, "a whole number", other);
                None
            }
        }
    };
    let (from, to, step) = (number("from"), number("to"), number("step"));
    let (keep, want) = decode_condition(decoder, node);
    let (from, to, step) = (from?, to?, step?);
    if step <= 0 || to <= from {
        decoder.report(
            node.span(),
            ErrorKind::InvalidValue {
                what: "search range".to_owned(),
                value: format!("from={from} to={to} step={step}"),
                reason: "a search needs `from` below `to` and a positive `step`".to_owned(),
            },
            "e.g. `search \"ctx\" from=16384 to=262144 step=4096`",
        );
        return None;
    }
    let points =
        u64::try_from((i128::from(to) - i128::from(from)) / i128::from(step)).unwrap_or(u64::MAX).saturating_add(1);
    if points > MAX_POINTS {
        decoder.report(
            node.span(),
            ErrorKind::InvalidValue {
                what: "search range".to_owned(),
                value: format!("from={from} to={to} step={step}"),
                reason: format!("it has {points} grid points, more than {MAX_POINTS}"),
            },
            "take a larger `step`",
        );
        return None;
    }
    let Some(keep) = keep else {
        decoder.report(
            node.span(),
            ErrorKind::MissingValue { node: "`search`".to_owned(), what: "a `keep \"METRIC OP VALUE\"`".to_owned() },
            "e.g. `keep \"ttft_ms_first <= 30000\"`",
        );
        return None;
    };
    let Some(want) = want else {
        decoder.report(
            node.span(),
            ErrorKind::MissingValue {
                node: "`search`".to_owned(),
                what: "a `want \"largest\"` or `\"smallest\"`".to_owned(),
            },
            "`want \"largest\"` when the condition holds below a boundary, `want \"smallest\"` above one",
        );
        return None;
    };
    Some(Search { at, axis, from, to, step, keep, want })
}

/// The `keep` and `want` children of a `search` node.
fn decode_condition(decoder: &mut Decoder<'_>, node: &KdlNode) -> (Option<Keep>, Option<Want>) {
    let mut keep = None;
    let mut want = None;
    for child in decoder.children(node) {
        match child.name().value() {
            "keep" => {
                decoder.check_properties(child, &[]);
                let Some(text) = decoder.single_string(child) else { continue };
                match parse_keep(&text.value) {
                    Ok(parsed) => keep = Some(parsed),
                    Err(reason) => decoder.report(
                        text.at.span,
                        ErrorKind::InvalidValue { what: "condition".to_owned(), value: text.value.clone(), reason },
                        "e.g. `keep \"ttft_ms_first <= 30000\"`: a metric the cells record, compared with a number",
                    ),
                }
            }
            "want" => {
                decoder.check_properties(child, &[]);
                let Some(text) = decoder.single_string(child) else { continue };
                want = match text.value.as_str() {
                    "largest" => Some(Want::Largest),
                    "smallest" => Some(Want::Smallest),
                    _ => {
                        decoder.report(
                            text.at.span,
                            ErrorKind::InvalidValue {
                                what: "`want`".to_owned(),
                                value: text.value.clone(),
                                reason: "a search wants the `largest` or the `smallest` value that keeps".to_owned(),
                            },
                            "`want \"largest\"` when the condition holds below a boundary (a context that stays \
                             fast enough), `want \"smallest\"` when it holds above one",
                        );
                        None
                    }
                };
            }
            _ => decoder.unknown_node(child, "`search`", &["keep", "want"]),
        }
    }
    (keep, want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_with_their_operator_and_bad_ones_say_why() {
        assert_eq!(
            parse_keep("ttft_ms_first <= 30000").unwrap(),
            Keep { metric: "ttft_ms_first".to_owned(), op: Op::Le, value: 30000.0 }
        );
        assert_eq!(parse_keep("pp512>400.5").unwrap().op, Op::Gt);
        assert!(parse_keep("pp512 = 4").unwrap_err().contains("no comparison"));
        assert!(parse_keep(" <= 4").unwrap_err().contains("not a metric"));
        assert!(parse_keep("tg128 >= fast").unwrap_err().contains("not a number"));
    }

    #[test]
    fn the_grid_and_the_most_probes() {
        let at = Location { file: super::super::FileId(0), span: (0, 0).into() };
        let search = |from, to, step| Search {
            at,
            axis: Spanned::new("ctx".to_owned(), at),
            from,
            to,
            step,
            keep: parse_keep("x <= 1").unwrap(),
            want: Want::Largest,
        };
        assert_eq!(search(0, 10, 5).grid(), [0, 5, 10]);
        assert_eq!(search(1, 10, 4).grid(), [1, 5, 9]);
        // n points: at most ⌈log2 n⌉ + 2 probes.
        for points in 2..300usize {
            let bound = 2 + usize::try_from(points.next_power_of_two().trailing_zeros()).unwrap();
            assert!(Search::most_probes(points) <= bound, "{points}");
        }
        assert_eq!(Search::most_probes(3), 3);
        assert_eq!(Search::most_probes(17), 6);
    }
}
