//! Metric families: the base names cells record, each with its unit, the side that is better,
//! the label reports give it and the kind of block that produces it.

use super::names::{
    ACCEPT_RATE, CACHE_N, DP_RMS, DRAFT_ACCEPTED, DRAFT_N, E2E_MS, ENERGY_J, GEN_N, GEN_TPS, GEN_TPS_TOTAL, ITL_MS,
    KLD_MAX, KLD_MEAN, KLD_P99, PEAK_GTT_BYTES, PEAK_RSS_BYTES, PEAK_VRAM_BYTES, PPL, PPL_RATIO, PROMPT_MS, PROMPT_N,
    PROMPT_TPS, REQ_PER_S, REQUESTS, SAME_TOP_P, SERVER_LOAD_MS, SESSION_MS, TOKENS_PER_J, TTFT_MS,
};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    Higher,
    Lower,
}

impl Better {
    /// `higher` or `lower`, as `better=` takes it.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "higher" => Some(Self::Higher),
            "lower" => Some(Self::Lower),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::Higher => "higher",
            Self::Lower => "lower",
        }
    }
}

/// What a metric's values count, as records spell it (`t/s`, `ms`, `tokens`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    TokensPerSecond,
    Milliseconds,
    Tokens,
    Bytes,
    Joules,
    TokensPerJoule,
    RequestsPerSecond,
    Percent,
    /// A ratio or a figure with no unit (an acceptance rate, a perplexity, a divergence).
    Ratio,
    /// A number of things (requests).
    Requests,
}

impl Unit {
    /// The unit as a record holds it.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::TokensPerSecond => "t/s",
            Self::Milliseconds => "ms",
            Self::Tokens => "tokens",
            Self::Bytes => "bytes",
            Self::Joules => "J",
            Self::TokensPerJoule => "tokens/J",
            Self::RequestsPerSecond => "req/s",
            Self::Percent => "%",
            Self::Ratio => "",
            Self::Requests => "requests",
        }
    }
}

/// Which kind of block produces a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// llama-bench's tests (`pp`, `tg`, `pp+tg`; the sizes are in the name).
    Bench,
    /// A server workload's requests, by phase.
    Server,
    /// What every cell used beside what it measured (memory, energy).
    Usage,
    /// Output quality against a reference (perplexity, KL divergence).
    Quality,
    /// An agent client's session, by request.
    Client,
    /// Named by a `command`'s `metric` line: outside the catalogue.
    Declared,
}

/// A metric family: a base name and what its values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) unit: Unit,
    pub(crate) better: Option<Better>,
    /// How reports title it.
    pub(crate) label: &'static str,
    pub(crate) kind: Kind,
    /// Whether it comes per phase (`_first`, `_warm`, `_turnK`, `_pNN`, `_reqK`) as well.
    pub(crate) phased: bool,
}

const fn family(name: &'static str, unit: Unit, better: Option<Better>, label: &'static str, kind: Kind) -> Family {
    let phased = matches!(kind, Kind::Server);
    Family { name, unit, better, label, kind, phased }
}

const UP: Option<Better> = Some(Better::Higher);
const DOWN: Option<Better> = Some(Better::Lower);

/// Every family a cell of a known block records.
pub(crate) const FAMILIES: [Family; 32] = [
    family("pp", Unit::TokensPerSecond, UP, "prompt processing", Kind::Bench),
    family("tg", Unit::TokensPerSecond, UP, "generation", Kind::Bench),
    family("pp+tg", Unit::TokensPerSecond, UP, "prompt and generation", Kind::Bench),
    family(TTFT_MS, Unit::Milliseconds, DOWN, "time to first token", Kind::Server),
    family(E2E_MS, Unit::Milliseconds, DOWN, "end to end", Kind::Server),
    family(ITL_MS, Unit::Milliseconds, DOWN, "inter-token latency", Kind::Server),
    family(PROMPT_N, Unit::Tokens, None, "prompt tokens", Kind::Server),
    family(PROMPT_MS, Unit::Milliseconds, DOWN, "prompt processing time", Kind::Server),
    family(PROMPT_TPS, Unit::TokensPerSecond, UP, "prompt processing", Kind::Server),
    family(GEN_N, Unit::Tokens, None, "generated tokens", Kind::Server),
    family(GEN_TPS, Unit::TokensPerSecond, UP, "generation", Kind::Server),
    family(GEN_TPS_TOTAL, Unit::TokensPerSecond, UP, "generation, all requests", Kind::Server),
    family(REQ_PER_S, Unit::RequestsPerSecond, UP, "requests per second", Kind::Server),
    family(CACHE_N, Unit::Tokens, None, "prompt tokens from cache", Kind::Server),
    family(DRAFT_N, Unit::Tokens, None, "drafted tokens", Kind::Server),
    family(DRAFT_ACCEPTED, Unit::Tokens, None, "accepted draft tokens", Kind::Server),
    family(ACCEPT_RATE, Unit::Ratio, UP, "draft acceptance rate", Kind::Server),
    family(SERVER_LOAD_MS, Unit::Milliseconds, DOWN, "server load time", Kind::Server),
    family(PEAK_RSS_BYTES, Unit::Bytes, DOWN, "peak memory", Kind::Usage),
    family(PEAK_VRAM_BYTES, Unit::Bytes, DOWN, "peak VRAM", Kind::Usage),
    family(PEAK_GTT_BYTES, Unit::Bytes, DOWN, "peak GTT", Kind::Usage),
    family(ENERGY_J, Unit::Joules, DOWN, "energy", Kind::Usage),
    family(TOKENS_PER_J, Unit::TokensPerJoule, UP, "tokens per joule", Kind::Usage),
    family(PPL, Unit::Ratio, DOWN, "perplexity", Kind::Quality),
    family(PPL_RATIO, Unit::Ratio, DOWN, "perplexity against the reference", Kind::Quality),
    family(KLD_MEAN, Unit::Ratio, DOWN, "mean KL divergence", Kind::Quality),
    family(KLD_P99, Unit::Ratio, DOWN, "KL divergence, p99", Kind::Quality),
    family(KLD_MAX, Unit::Ratio, DOWN, "largest KL divergence", Kind::Quality),
    family(SAME_TOP_P, Unit::Percent, UP, "same top token", Kind::Quality),
    family(DP_RMS, Unit::Percent, DOWN, "RMS of the probability change", Kind::Quality),
    family(SESSION_MS, Unit::Milliseconds, DOWN, "session time", Kind::Client),
    family(REQUESTS, Unit::Requests, None, "requests", Kind::Client),
];

impl Family {
    /// The family named `name` exactly.
    pub(crate) fn named(name: &str) -> Option<&'static Self> {
        FAMILIES.iter().find(|family| family.name == name)
    }

    /// The family a writer names: the catalogue must have it.
    pub(crate) fn get(name: &str) -> &'static Self {
        Self::named(name).unwrap_or_else(|| panic!("`{name}` is not in the metric catalogue"))
    }

    /// Its unit as records spell it.
    pub(crate) fn unit_symbol(&self) -> &'static str {
        self.unit.symbol()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_named_once_and_has_a_unit_a_label_and_a_reasoned_direction() {
        for (index, family) in FAMILIES.iter().enumerate() {
            assert!(!family.label.is_empty(), "{}", family.name);
            assert_eq!(Family::named(family.name), Some(family), "{} is listed twice", family.name);
            assert!(FAMILIES[..index].iter().all(|earlier| earlier.name != family.name));
            // Only counts of things have no better side.
            let counts = matches!(family.unit, Unit::Tokens | Unit::Requests);
            assert_eq!(family.better.is_none(), counts, "{}", family.name);
            assert!(!family.unit_symbol().is_empty() || family.unit == Unit::Ratio, "{}", family.name);
        }
    }
}
