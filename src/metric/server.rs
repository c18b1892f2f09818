//! What a server workload's requests give, by family: what llama-server's `timings` and the
//! Anthropic API's `usage` hold, what a conversation records per turn and what requests in
//! flight together record percentiles of. The writer reads these lists, and so does what `check`
//! says a workload produces.

/// The families every request gives, from the client's clock.
pub(crate) const TIMED: [&str; 2] = ["ttft_ms", "e2e_ms"];

/// (family, key in llama-server's `timings`). `draft_n` is there only where the server drafts.
pub(crate) const TIMINGS: [(&str, &str); 7] = [
    ("prompt_n", "prompt_n"),
    ("prompt_ms", "prompt_ms"),
    ("prompt_tps", "prompt_per_second"),
    ("gen_n", "predicted_n"),
    ("gen_tps", "predicted_per_second"),
    ("cache_n", "cache_n"),
    ("draft_n", "draft_n"),
];

/// The families of speculative decoding, where the server drafts.
pub(crate) const DRAFTING: [&str; 3] = ["draft_n", "draft_accepted", "accept_rate"];

/// (family, key in the Anthropic API's `usage`): it streams no `timings`, and its usage counts
/// the same tokens.
pub(crate) const USAGE_COUNTS: [(&str, &str); 3] =
    [("cache_n", "cache_read_input_tokens"), ("prompt_n", "input_tokens"), ("gen_n", "output_tokens")];

/// The families a conversation records per turn (`_turnK`).
pub(crate) const PER_TURN: [&str; 4] = ["ttft_ms", "prompt_n", "cache_n", "gen_tps"];

/// The latencies requests in flight together record percentiles of (`_pNN`); `itl_ms` needs a
/// reply of two chunks or more.
pub(crate) const LOADED: [&str; 3] = ["ttft_ms", "e2e_ms", "itl_ms"];

/// The families of the whole workload under concurrency, over its wall time.
pub(crate) const THROUGHPUT: [&str; 2] = ["req_per_s", "gen_tps_total"];

/// The server's own: how long it took to load and answer its first `/health`.
pub(crate) const SERVER_LOAD: &str = "server_load_ms";

/// The families an agent client's session records per request (`_reqK`).
pub(crate) const PER_REQUEST: [&str; 4] = ["ttft_ms", "prompt_n", "cache_n", "gen_tps"];

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
