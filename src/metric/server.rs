//! What a server workload's requests give, by family: what llama-server's `timings` and the
//! Anthropic API's `usage` hold, what a conversation records per turn and what requests in
//! flight together record percentiles of. The writer reads these lists, and so does what `check`
//! says a workload produces.

use super::names::{
    ACCEPT_RATE, CACHE_N, DRAFT_ACCEPTED, DRAFT_N, E2E_MS, GEN_N, GEN_TPS, GEN_TPS_TOTAL, ITL_MS, PROMPT_MS, PROMPT_N,
    PROMPT_TPS, REQ_PER_S, SERVER_LOAD_MS, TTFT_MS,
};

/// The families every request gives, from the client's clock.
pub(crate) const TIMED: [&str; 2] = [TTFT_MS, E2E_MS];

/// (family, key in llama-server's `timings`). `draft_n` is there only where the server drafts.
pub(crate) const TIMINGS: [(&str, &str); 7] = [
    (PROMPT_N, "prompt_n"),
    (PROMPT_MS, "prompt_ms"),
    (PROMPT_TPS, "prompt_per_second"),
    (GEN_N, "predicted_n"),
    (GEN_TPS, "predicted_per_second"),
    (CACHE_N, "cache_n"),
    (DRAFT_N, "draft_n"),
];

/// The families of speculative decoding, where the server drafts.
pub(crate) const DRAFTING: [&str; 3] = [DRAFT_N, DRAFT_ACCEPTED, ACCEPT_RATE];

/// (family, key in the Anthropic API's `usage`): it streams no `timings`, and its usage counts
/// the same tokens.
pub(crate) const USAGE_COUNTS: [(&str, &str); 3] =
    [(CACHE_N, "cache_read_input_tokens"), (PROMPT_N, "input_tokens"), (GEN_N, "output_tokens")];

/// The families a conversation records per turn (`_turnK`).
pub(crate) const PER_TURN: [&str; 4] = [TTFT_MS, PROMPT_N, CACHE_N, GEN_TPS];

/// The latencies requests in flight together record percentiles of (`_pNN`); `itl_ms` needs a
/// reply of two chunks or more.
pub(crate) const LOADED: [&str; 3] = [TTFT_MS, E2E_MS, ITL_MS];

/// The families of the whole workload under concurrency, over its wall time.
pub(crate) const THROUGHPUT: [&str; 2] = [REQ_PER_S, GEN_TPS_TOTAL];

/// The server's own: how long it took to load and answer its first `/health`.
pub(crate) const SERVER_LOAD: &str = SERVER_LOAD_MS;

/// The families an agent client's session records per request (`_reqK`).
pub(crate) const PER_REQUEST: [&str; 4] = [TTFT_MS, PROMPT_N, CACHE_N, GEN_TPS];

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_family_is_in_the_catalogue_and_takes_phases() {
        let timings = super::TIMINGS.iter().map(|(family, _)| *family);
        let usage = super::USAGE_COUNTS.iter().map(|(family, _)| *family);
        let listed = timings
            .chain(usage)
            .chain(super::TIMED)
            .chain(super::DRAFTING)
            .chain(super::PER_TURN)
            .chain(super::LOADED)
            .chain(super::THROUGHPUT)
            .chain(super::PER_REQUEST)
            .chain([super::SERVER_LOAD]);
        for family in listed {
            let found = super::super::Family::named(family).unwrap_or_else(|| panic!("{family}"));
            assert!(found.phased, "{family}");
        }
    }
}
