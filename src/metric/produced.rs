//! A name a block's cells are said to record: exact, or a pattern where its number is open (the
//! requests of an agent client's session, the sizes of a llama-bench range), and whether it is
//! recorded always or only where something holds.

use serde::Serialize;

/// When a metric is recorded only where something holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Condition {
    /// Where the GPU has memory counters (amdgpu's VRAM and GTT).
    GpuCounters,
    /// Where the host has energy counters (RAPL, a GPU's power sensor).
    EnergyCounters,
    /// Where the server drafts (speculative decoding that happened).
    Drafting,
    /// Where a reply streams more than one token.
    Streamed,
    /// Where the cell's processes live long enough for their memory to be read (a `command` may
    /// be over before the first sample).
    Sampled,
    /// Where the configuration is not the quality reference (which has nothing to diverge from).
    Candidate,
}

impl Condition {
    /// The words `check` prints beside the name.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Self::GpuCounters => "where the GPU has memory counters",
            Self::EnergyCounters => "where the host has energy counters",
            Self::Drafting => "where the server drafts",
            Self::Streamed => "where a reply streams more than one token",
            Self::Sampled => "where its processes live long enough to be read",
            Self::Candidate => "where the configuration is not the reference",
        }
    }
}

/// One name (or pattern) a block's cells record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Produced {
    pub(crate) name: String,
    /// The name holds an open number (`K`, `N`): any value of it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) pattern: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<Condition>,
}

impl Produced {
    pub(crate) fn always(name: impl Into<String>) -> Self {
        Self { name: name.into(), pattern: false, condition: None }
    }

    pub(crate) fn when(name: impl Into<String>, condition: Option<Condition>) -> Self {
        Self { name: name.into(), pattern: false, condition }
    }

    pub(crate) fn pattern(name: impl Into<String>) -> Self {
        Self { name: name.into(), pattern: true, condition: None }
    }

    /// Whether a recorded `metric` is this name, or fits this pattern: `K` and `N` stand for a
    /// number.
    pub(crate) fn matches(&self, metric: &str) -> bool {
        if !self.pattern {
            return self.name == metric;
        }
        let mut rest = metric;
        let mut pattern = self.name.as_str();
        while let Some(open) = pattern.find(['K', 'N']) {
            let Some(after) = rest.strip_prefix(&pattern[..open]) else { return false };
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            // `NN` stands for one number, as `K` does.
            let width = pattern[open..].bytes().take_while(|byte| *byte == pattern.as_bytes()[open]).count();
            rest = &after[digits..];
            pattern = &pattern[open + width..];
        }
        rest == pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_stand_for_numbers() {
        let request = Produced::pattern("gen_tps_reqK");
        assert!(request.matches("gen_tps_req12") && request.matches("gen_tps_req1"));
        assert!(!request.matches("gen_tps_req") && !request.matches("gen_tps_reqx") && !request.matches("gen_tps"));
        let range = Produced::pattern("tgN");
        assert!(range.matches("tg64") && !range.matches("tg64@d512") && !range.matches("pp64"));
        assert!(Produced::pattern("e2e_ms_pNN").matches("e2e_ms_p999"));
        assert!(Produced::always("tg16").matches("tg16") && !Produced::always("tg16").matches("tg8"));
    }
}
