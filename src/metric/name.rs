//! The phase grammar: a family's name and the requests a value comes from (`ttft_ms_first`,
//! `cache_n_warm`, `ttft_ms_turn2_first`, `ttft_ms_turn2_warm`, `e2e_ms_p90`, `gen_tps_req3`),
//! composed and parsed here.

use std::fmt;

use super::bench::BenchName;
use super::family::{Better, Family};

/// Which requests a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "phase", content = "k", rename_all = "kebab-case")]
pub(crate) enum Phase {
    /// Every request (the mean), or a metric with no phase at all.
    All,
    /// The workload's first request: cold, before the prompt cache.
    First,
    /// The median of the later requests.
    Warm,
    /// Turn K of a conversation, from 1, over every session: what records before sessions were
    /// kept apart hold (a cold first session averaged with its cached repeats). Read, no longer
    /// written.
    Turn(u32),
    /// Turn K of a conversation's first session: its turn 1 is cold.
    TurnFirst(u32),
    /// Turn K of a conversation's later sessions (its `repeat`s), which find the earlier
    /// sessions' turns in the prompt cache: their mean, spread and count.
    TurnWarm(u32),
    /// The Pth percentile over requests in flight together.
    Percentile(u32),
    /// Request K of an agent client's session, from 1.
    Request(u32),
}

impl Phase {
    /// The percentiles a workload with requests in flight together records.
    pub(crate) const PERCENTILES: [u32; 3] = [50, 90, 99];

    /// How a pattern writes a phase whose number is open: `_turnK`, `_reqK`.
    pub(crate) fn open_suffix(self) -> Option<&'static str> {
        match self {
            Self::Turn(_) => Some("_turnK"),
            Self::TurnFirst(_) => Some("_turnK_first"),
            Self::TurnWarm(_) => Some("_turnK_warm"),
            Self::Percentile(_) => Some("_pNN"),
            Self::Request(_) => Some("_reqK"),
            Self::All | Self::First | Self::Warm => None,
        }
    }

    /// A reader's words for it: `cold`, `turn 2`, `p90`.
    pub(crate) fn words(self) -> Option<String> {
        match self {
            Self::All => None,
            Self::First => Some("cold".to_owned()),
            Self::Warm => Some("warm".to_owned()),
            Self::Turn(turn) => Some(format!("turn {turn}")),
            Self::TurnFirst(turn) => Some(format!("turn {turn}, first session")),
            Self::TurnWarm(turn) => Some(format!("turn {turn}, later sessions")),
            Self::Percentile(percentile) => Some(format!("p{percentile}")),
            Self::Request(request) => Some(format!("request {request}")),
        }
    }
}

/// A metric's name taken apart: its base and its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricName<'a> {
    pub(crate) base: &'a str,
    pub(crate) phase: Phase,
}

impl<'a> MetricName<'a> {
    pub(crate) fn new(base: &'a str, phase: Phase) -> Self {
        Self { base, phase }
    }

    /// `ttft_ms_turn2` → `ttft_ms` in turn 2. Only a phased family of the catalogue takes a
    /// phase: any other name (a `command`'s `tokens_p50`, llama-bench's `tg128`, the quality
    /// family `kld_p99`) is its own base.
    pub(crate) fn parse(name: &'a str) -> Self {
        let whole = Self::new(name, Phase::All);
        if Family::named(name).is_some() {
            return whole;
        }
        let Some(parsed) = Self::split(name) else { return whole };
        if Family::named(parsed.base).is_some_and(|family| family.phased) { parsed } else { whole }
    }

    /// The grammar alone: a phase suffix and what stands before it.
    fn split(name: &'a str) -> Option<Self> {
        // `_first` and `_warm` close a turn's name too: `ttft_ms_turn2_first`.
        for (suffix, plain, turned) in
            [("_first", Phase::First, Phase::TurnFirst as fn(u32) -> Phase), ("_warm", Phase::Warm, Phase::TurnWarm)]
        {
            if let Some(rest) = name.strip_suffix(suffix) {
                return Some(match Self::numbered(rest) {
                    Some(Self { base, phase: Phase::Turn(turn) }) => Self::new(base, turned(turn)),
                    _ => Self::new(rest, plain),
                });
            }
        }
        Self::numbered(name)
    }

    /// A suffix with a number: `_turnK`, `_reqK`, `_pNN`.
    fn numbered(name: &'a str) -> Option<Self> {
        let (base, suffix) = name.rsplit_once('_')?;
        let number = |prefix: &str| {
            suffix
                .strip_prefix(prefix)
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
                .and_then(|digits| digits.parse().ok())
        };
        // `req` before `p`: neither is a prefix of the other, but say so by order.
        if let Some(turn) = number("turn") {
            return Some(Self::new(base, Phase::Turn(turn)));
        }
        if let Some(request) = number("req") {
            return Some(Self::new(base, Phase::Request(request)));
        }
        number("p").map(|percentile| Self::new(base, Phase::Percentile(percentile)))
    }

    /// The name with an open number as a pattern: `ttft_ms_turnK`, `gen_tps_reqK`.
    pub(crate) fn pattern(&self) -> String {
        match self.phase.open_suffix() {
            Some(suffix) => format!("{}{suffix}", self.base),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for MetricName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            Phase::All => write!(formatter, "{}", self.base),
            Phase::First => write!(formatter, "{}_first", self.base),
            Phase::Warm => write!(formatter, "{}_warm", self.base),
            Phase::Turn(turn) => write!(formatter, "{}_turn{turn}", self.base),
            Phase::TurnFirst(turn) => write!(formatter, "{}_turn{turn}_first", self.base),
            Phase::TurnWarm(turn) => write!(formatter, "{}_turn{turn}_warm", self.base),
            Phase::Percentile(percentile) => write!(formatter, "{}_p{percentile}", self.base),
            Phase::Request(request) => write!(formatter, "{}_req{request}", self.base),
        }
    }
}

/// A catalogued metric's name read: its family and phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Described {
    pub(crate) family: &'static Family,
    pub(crate) phase: Phase,
}

impl Described {
    /// How reports title it: `time to first token, cold`, `generation`.
    pub(crate) fn label(&self) -> String {
        match self.phase.words() {
            Some(words) => format!("{}, {words}", self.family.label),
            None => self.family.label.to_owned(),
        }
    }
}

impl Better {
    /// The side of `metric`: its family's; outside the catalogue (a `command`'s own metric, named
    /// by the user) guessed from its unit, and from its name only where the unit says nothing:
    /// throughput and rates up, times down; counts have no better side.
    pub(crate) fn of(metric: &str, unit: &str) -> Option<Self> {
        if let Some(described) = describe(metric) {
            return described.family.better;
        }
        match unit {
            "t/s" => Some(Self::Higher),
            "ms" | "s" | "bytes" | "J" => Some(Self::Lower),
            // Work per energy (`tokens/J`).
            _ if unit.ends_with("/J") => Some(Self::Higher),
            "tokens" => None,
            // A rate (`req/s`): more per second is better.
            _ if unit.ends_with("/s") => Some(Self::Higher),
            _ if metric.ends_with("tps") || metric.ends_with("_ts") || metric.contains("rate") => Some(Self::Higher),
            _ if metric.ends_with("_ms") || metric.ends_with("_s") || metric.ends_with("time") => Some(Self::Lower),
            _ => None,
        }
    }
}

/// What the catalogue knows of `name`: a llama-bench test, or a family in a phase; `None` for a
/// name outside it (a `command`'s metric).
pub(crate) fn describe(name: &str) -> Option<Described> {
    if let Some(bench) = BenchName::parse(name) {
        return Some(Described { family: bench.test.family(), phase: Phase::All });
    }
    let parsed = MetricName::parse(name);
    Family::named(parsed.base).map(|family| Described { family, phase: parsed.phase })
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
            ("ttft_ms_turn1_first", "ttft_ms", Phase::TurnFirst(1)),
            ("cache_n_turn3_warm", "cache_n", Phase::TurnWarm(3)),
            ("ttft_ms_turnx_first", "ttft_ms_turnx_first", Phase::All),
            ("e2e_ms_p99", "e2e_ms", Phase::Percentile(99)),
            ("gen_tps_req3", "gen_tps", Phase::Request(3)),
            ("prompt_n_req10", "prompt_n", Phase::Request(10)),
            ("gen_tps", "gen_tps", Phase::All),
            ("gen_tps_total", "gen_tps_total", Phase::All),
            ("gen_tps_total_p50", "gen_tps_total", Phase::Percentile(50)),
            ("draft_n", "draft_n", Phase::All),
            ("tg128", "tg128", Phase::All),
            ("ttft_ms_per_turn_session", "ttft_ms_per_turn_session", Phase::All),
            ("my_turnover", "my_turnover", Phase::All),
            // Quality families whose names look like a phase are whole names.
            ("kld_p99", "kld_p99", Phase::All),
            ("same_top_p", "same_top_p", Phase::All),
            // A user's name is never read for a phase.
            ("tokens_p50", "tokens_p50", Phase::All),
            ("decode_first", "decode_first", Phase::All),
        ] {
            let parsed = MetricName::parse(name);
            assert_eq!((parsed.base, parsed.phase), (base, phase), "{name}");
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn every_phase_composes_to_a_name_that_parses_back() {
        for family in super::super::family::FAMILIES.iter().filter(|family| family.phased) {
            for phase in [
                Phase::All,
                Phase::First,
                Phase::Warm,
                Phase::Turn(3),
                Phase::TurnFirst(2),
                Phase::TurnWarm(4),
                Phase::Percentile(90),
                Phase::Request(7),
            ] {
                let name = MetricName::new(family.name, phase).to_string();
                assert_eq!(MetricName::parse(&name), MetricName::new(family.name, phase), "{name}");
            }
        }
    }

    #[test]
    fn descriptions_carry_the_family_and_a_label() {
        let cold = describe("ttft_ms_first").unwrap();
        assert_eq!((cold.family.name, cold.label().as_str()), ("ttft_ms", "time to first token, cold"));
        assert_eq!(describe("tg128@d4096#2").unwrap().family.name, "tg");
        assert_eq!(describe("pp512+tg128").unwrap().label(), "prompt and generation");
        assert_eq!(describe("kld_p99").unwrap().family.unit_symbol(), "");
        assert!(describe("decode_tps").is_none());
        assert_eq!(MetricName::new("gen_tps", Phase::Request(1)).pattern(), "gen_tps_reqK");
        assert_eq!(MetricName::new("ttft_ms", Phase::TurnWarm(1)).pattern(), "ttft_ms_turnK_warm");
        assert_eq!(describe("ttft_ms_turn2_warm").unwrap().label(), "time to first token, turn 2, later sessions");
    }

    #[test]
    fn sides_come_from_the_catalogue_else_from_the_unit_then_the_name() {
        assert_eq!(Better::of("ttft_ms_turn2", "ms"), Some(Better::Lower));
        assert_eq!(Better::of("cache_n_warm", "tokens"), None);
        assert_eq!(Better::of("accept_rate", ""), Some(Better::Higher));
        assert_eq!(Better::of("decode_tps", ""), Some(Better::Higher));
        assert_eq!(Better::of("load_s", ""), Some(Better::Lower));
        assert_eq!(Better::of("tg128@d4096", "t/s"), Some(Better::Higher));
        assert_eq!(Better::of("widgets", ""), None);
    }
}
