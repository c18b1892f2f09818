//! Metric names: a base (`ttft_ms`, `gen_tps`) and the phase of a server workload it was read
//! in (`_first`, `_warm`, `_turnK`, `_pNN`). Server metrics are written with these names and
//! reports read them back; this is the one place that spells the grammar.

use std::fmt;

/// What every cell records about what it used, beside what it measured, whatever it ran.
pub(crate) const USAGE: [&str; 5] = ["peak_rss_bytes", "peak_vram_bytes", "peak_gtt_bytes", "energy_j", "tokens_per_j"];

/// Which requests a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Every request (the mean), or a metric with no phase at all.
    All,
    /// The workload's first request: cold, before the prompt cache.
    First,
    /// The median of the later requests.
    Warm,
    /// Turn K of a conversation, from 1.
    Turn(u32),
    /// The Pth percentile over requests in flight together.
    Percentile(u32),
}

/// A metric's name taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricName<'a> {
    pub base: &'a str,
    pub phase: Phase,
}

impl<'a> MetricName<'a> {
    pub(crate) fn new(base: &'a str, phase: Phase) -> Self {
        Self { base, phase }
    }

    /// `ttft_ms_turn2` → `ttft_ms` in turn 2; a name without a phase is its own base.
    pub(crate) fn parse(name: &'a str) -> Self {
        if let Some(base) = name.strip_suffix("_first") {
            return Self::new(base, Phase::First);
        }
        if let Some(base) = name.strip_suffix("_warm") {
            return Self::new(base, Phase::Warm);
        }
        if let Some((base, suffix)) = name.rsplit_once('_') {
            let number = |prefix: &str| {
                suffix
                    .strip_prefix(prefix)
                    .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
                    .and_then(|digits| digits.parse().ok())
            };
            if let Some(turn) = number("turn") {
                return Self::new(base, Phase::Turn(turn));
            }
            if let Some(percentile) = number("p") {
                return Self::new(base, Phase::Percentile(percentile));
            }
        }
        Self::new(name, Phase::All)
    }
}

impl fmt::Display for MetricName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            Phase::All => write!(formatter, "{}", self.base),
            Phase::First => write!(formatter, "{}_first", self.base),
            Phase::Warm => write!(formatter, "{}_warm", self.base),
            Phase::Turn(turn) => write!(formatter, "{}_turn{turn}", self.base),
            Phase::Percentile(percentile) => write!(formatter, "{}_p{percentile}", self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_base_and_phase_and_back() {
        for (name, base, phase) in [
            ("ttft_ms_first", "ttft_ms", Phase::First),
            ("cache_n_warm", "cache_n", Phase::Warm),
            ("ttft_ms_turn12", "ttft_ms", Phase::Turn(12)),
            ("e2e_ms_p99", "e2e_ms", Phase::Percentile(99)),
            ("gen_tps", "gen_tps", Phase::All),
            ("draft_n", "draft_n", Phase::All),
            ("tg128", "tg128", Phase::All),
            ("ttft_ms_per_turn_session", "ttft_ms_per_turn_session", Phase::All),
            ("my_turnover", "my_turnover", Phase::All),
            ("gen_tps_total", "gen_tps_total", Phase::All),
        ] {
            let parsed = MetricName::parse(name);
            assert_eq!((parsed.base, parsed.phase), (base, phase), "{name}");
            assert_eq!(parsed.to_string(), name);
        }
    }
}
