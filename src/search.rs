//! Searching one axis for where a condition stops holding: what is known of a configuration's
//! probes (a value → held or not, with what was measured), the next values to probe, and the
//! answer once the boundary is found. Pure: the plan feeds it the records it has, the run
//! measures what it asks for and feeds it again, the report states what it concludes. Every
//! probe is an ordinary cell, so a search already made asks for nothing.
//!
//! The condition is assumed to hold on one side of a boundary: below it for `want "largest"`,
//! above it for `want "smallest"`. Both ends of the grid are probed first, then the bracket
//! around the boundary is halved, always starting from the tightest bracket every known probe
//! (from this range or an earlier one) gives, so a widened range probes only what it adds.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::manifest::{Keep, Search, Want};

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Probe {
    /// The cell measured `mean` (± `spread` over its rounds, when it had them).
    Measured { mean: f64, spread: Option<f64> },
    /// The cell failed, timed out, or did not record the metric: the condition does not hold.
    Failed { reason: String },
}

impl Probe {
    pub(crate) fn holds(&self, keep: &Keep) -> bool {
        match self {
            Self::Measured { mean, .. } => keep.holds(*mean),
            Self::Failed { .. } => false,
        }
    }

    /// Whether its interval reaches across the threshold: held or not, it is within noise.
    pub(crate) fn within_noise(&self, keep: &Keep) -> bool {
        match self {
            Self::Measured { mean, spread: Some(spread) } => (mean - keep.value).abs() <= *spread,
            _ => false,
        }
    }
}

/// Where a search of one configuration stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// These grid values are to be measured next (none is known yet).
    Probe(Vec<i64>),
    Answer(Answer),
}

/// What a finished search found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) outcome: Outcome,
    /// Known probes that contradict one boundary: (a value where it holds, one where it does
    /// not) on the wrong sides of each other.
    pub(crate) contradictions: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// It holds at `keeps` and not at its neighbour on the grid, `breaks`.
    Boundary { keeps: i64, breaks: i64 },
    /// It holds over the whole range; `at` is the far end.
    Everywhere { at: i64 },
    /// It holds nowhere in the range; `at` is the near end (where it should hold first).
    Nowhere { at: i64 },
}

/// The next step of the search over `grid` (ascending), given the probes known by value.
pub(crate) fn step(search: &Search, grid: &[i64], known: &BTreeMap<i64, Probe>) -> Step {
    // Seen from the side where the condition holds: index 0 holds first.
    let ordered: Vec<i64> = match search.want {
        Want::Largest => grid.to_vec(),
        Want::Smallest => grid.iter().rev().copied().collect(),
    };
    let Some((&near, &far)) = ordered.first().zip(ordered.last()) else {
        return Step::Probe(Vec::new());
    };
    let holds = |value: i64| known.get(&value).map(|probe| probe.holds(&search.keep));
    let mut ends: Vec<i64> = [near, far].into_iter().filter(|value| holds(*value).is_none()).collect();
    ends.dedup();
    if !ends.is_empty() {
        return Step::Probe(ends);
    }
    let contradictions = |boundary: usize| -> Vec<(i64, i64)> {
        // Held beyond the boundary, against the first value where it did not.
        ordered[boundary..]
            .iter()
            .filter(|value| holds(**value) == Some(true))
            .map(|value| (*value, ordered[boundary]))
            .collect()
    };
    if holds(near) == Some(false) {
        let contradicting = ordered.iter().filter(|value| holds(**value) == Some(true)).map(|value| (*value, near));
        return Step::Answer(Answer {
            outcome: Outcome::Nowhere { at: near },
            contradictions: contradicting.collect(),
        });
    }
    // The first value known not to hold, and the last known to hold before it.
    let Some(breaks) = ordered.iter().position(|value| holds(*value) == Some(false)) else {
        return Step::Answer(Answer { outcome: Outcome::Everywhere { at: far }, contradictions: Vec::new() });
    };
    let keeps = ordered[..breaks].iter().rposition(|value| holds(*value) == Some(true)).unwrap_or(0);
    if breaks - keeps > 1 {
        return Step::Probe(vec![ordered[keeps + (breaks - keeps) / 2]]);
    }
    Step::Answer(Answer {
        outcome: Outcome::Boundary { keeps: ordered[keeps], breaks: ordered[breaks] },
        contradictions: contradictions(breaks),
    })
}

/// The answer in words: "largest ctx with `ttft_ms_first` ≤ 30000: 98,304 (not at 102,400)", and
/// what contradicts one boundary, if anything.
pub(crate) fn outcome_words(search: &Search, answer: &Answer) -> String {
    let keep = &search.keep;
    let condition = format!("{} {} {}", keep.metric, keep.op, figure(keep.value));
    let axis = &search.axis.value;
    let mut words = match answer.outcome {
        Outcome::Boundary { keeps, breaks } => {
            format!("{} {axis} with {condition}: {} (not at {})", search.want, shown(keeps), shown(breaks))
        }
        Outcome::Everywhere { at } => format!("{condition} holds over the whole range, to {axis}={}", shown(at)),
        Outcome::Nowhere { at } => format!("{condition} holds nowhere in the range, not even at {axis}={}", shown(at)),
    };
    if !answer.contradictions.is_empty() {
        let pairs: Vec<String> = answer
            .contradictions
            .iter()
            .map(|(holds, breaks)| format!("it holds at {} but not at {}", shown(*holds), shown(*breaks)))
            .collect();
        let _ = write!(words, "; not one boundary as `want \"{}\"` assumes: {}", search.want, pairs.join(", "));
    }
    words
}

/// A threshold as written: `30000`, `0.5`.
fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        #[expect(clippy::cast_possible_truncation, reason = "a whole number below 1e15")]
        let whole = value as i64;
        whole.to_string()
    } else {
        value.to_string()
    }
}

/// A value with thousands separated: `98,304`.
pub(crate) fn shown(value: i64) -> String {
    let grouped = crate::units::thousands(value.unsigned_abs());
    if value < 0 { format!("-{grouped}") } else { grouped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Location, Spanned, parse_keep};

    fn search(want: Want, keep: &str, from: i64, to: i64, step: i64) -> Search {
        let at = Location { file: crate::manifest::FileId(0), span: (0, 0).into() };
        Search { at, axis: Spanned::new("ctx".to_owned(), at), from, to, step, keep: parse_keep(keep).unwrap(), want }
    }

    /// Runs the search to its end against `measure`, counting the probes it asks for beyond
    /// those already `known`.
    fn run(search: &Search, known: &mut BTreeMap<i64, Probe>, measure: impl Fn(i64) -> Probe) -> (Answer, usize) {
        let grid = search.grid();
        let mut probes = 0;
        loop {
            match step(search, &grid, known) {
                Step::Probe(values) => {
                    assert!(!values.is_empty());
                    for value in values {
                        assert!(!known.contains_key(&value), "{value} was probed twice");
                        probes += 1;
                        known.insert(value, measure(value));
                    }
                }
                Step::Answer(answer) => return (answer, probes),
            }
        }
    }

    fn measured(mean: f64) -> Probe {
        Probe::Measured { mean, spread: None }
    }

    #[test]
    fn the_largest_value_that_keeps_is_found_in_few_probes_and_found_again_for_free() {
        // ttft grows with ctx; it stays under 30 s up to 98,304.
        let search = search(Want::Largest, "ttft_ms_first <= 30000", 16384, 262_144, 4096);
        let grid = search.grid();
        let ttft = |ctx: i64| measured(if ctx <= 98_304 { 20_000.0 } else { 31_000.0 });
        let mut known = BTreeMap::new();
        let (answer, probes) = run(&search, &mut known, ttft);
        assert_eq!(answer.outcome, Outcome::Boundary { keeps: 98_304, breaks: 102_400 });
        assert!(answer.contradictions.is_empty());
        assert!(probes <= Search::most_probes(grid.len()), "{probes} probes for {} points", grid.len());
        // Again: nothing to probe.
        assert_eq!(run(&search, &mut known, ttft).1, 0);
        // A widened range probes its new end only.
        let wider = self::search(Want::Largest, "ttft_ms_first <= 30000", 16384, 524_288, 4096);
        let (again, added) = run(&wider, &mut known, ttft);
        assert_eq!(again.outcome, answer.outcome);
        assert_eq!(added, 1);
    }

    #[test]
    fn every_boundary_on_small_grids_is_exact_within_the_probe_bound() {
        for points in 1..40i64 {
            for boundary in -1..points {
                for want in [Want::Largest, Want::Smallest] {
                    let search = search(want, "x >= 1", 0, points - 1, 1);
                    // Holds at and below `boundary` (largest), at and above it (smallest).
                    let value = |at: i64| {
                        let keeps = match want {
                            Want::Largest => at <= boundary,
                            Want::Smallest => at >= boundary && boundary >= 0,
                        };
                        measured(if keeps { 2.0 } else { 0.0 })
                    };
                    let (answer, probes) = run(&search, &mut BTreeMap::new(), value);
                    assert!(probes <= Search::most_probes(usize::try_from(points).unwrap()), "{points} {boundary}");
                    let (near, far) = match want {
                        Want::Largest => (0, points - 1),
                        Want::Smallest => (points - 1, 0),
                    };
                    let expected = if boundary == -1 {
                        Outcome::Nowhere { at: near }
                    } else if boundary == far {
                        Outcome::Everywhere { at: far }
                    } else {
                        let breaks = if want == Want::Largest { boundary + 1 } else { boundary - 1 };
                        Outcome::Boundary { keeps: boundary, breaks }
                    };
                    assert_eq!(answer.outcome, expected, "{points} points, boundary {boundary}, {want}");
                }
            }
        }
    }

    #[test]
    fn a_failed_probe_does_not_hold_and_contradictions_are_named() {
        let search = search(Want::Largest, "pp >= 100", 0, 8, 1);
        // Out of memory from 5 on.
        let failing =
            |at: i64| if at >= 5 { Probe::Failed { reason: "out of memory".to_owned() } } else { measured(150.0) };
        let (answer, _) = run(&search, &mut BTreeMap::new(), failing);
        assert_eq!(answer.outcome, Outcome::Boundary { keeps: 4, breaks: 5 });
        // Fails at the near end but holds at the far one: not the one boundary assumed.
        let backwards = |at: i64| measured(if at >= 6 { 150.0 } else { 50.0 });
        let (answer, _) = run(&search, &mut BTreeMap::new(), backwards);
        assert_eq!(answer.outcome, Outcome::Nowhere { at: 0 });
        assert_eq!(answer.contradictions, [(8, 0)]);
        // Probes known from before: one that holds beyond one that does not.
        let mut known = BTreeMap::from([(4, measured(50.0)), (7, measured(150.0))]);
        let dips = |at: i64| measured(if at <= 3 || at == 7 { 150.0 } else { 50.0 });
        let (answer, _) = run(&search, &mut known, dips);
        assert_eq!(answer.outcome, Outcome::Boundary { keeps: 3, breaks: 4 });
        assert_eq!(answer.contradictions, [(7, 4)]);
    }

    #[test]
    fn within_noise_is_an_interval_across_the_threshold() {
        let keep = parse_keep("x <= 100").unwrap();
        assert!(Probe::Measured { mean: 98.0, spread: Some(3.0) }.within_noise(&keep));
        assert!(!Probe::Measured { mean: 90.0, spread: Some(3.0) }.within_noise(&keep));
        assert!(!Probe::Measured { mean: 100.0, spread: None }.within_noise(&keep));
        assert_eq!(shown(98_304), "98,304");
        assert_eq!(shown(-1_000), "-1,000");
        assert_eq!(shown(512), "512");
    }
}
