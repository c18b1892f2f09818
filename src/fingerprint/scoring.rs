//! What a quality cell scores: llama-perplexity's settings in its argv, the axes its arguments
//! use, and its part in the base logits (the reference writes them, the others read them).

use std::collections::BTreeSet;

use crate::manifest::{Experiment, Part, Template};

/// llama-perplexity's own default context (`params.n_ctx = 512` in its `main`).
const DEFAULT_CONTEXT: u64 = 512;
/// The axes a quality cell's arguments use: `{axis}` placeholders, and the variant's (with the
/// axes its arguments use) where `{variant}` is spliced in.
pub(super) fn used_axes(experiment: &Experiment) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let templates = experiment.quality.iter().flat_map(|quality| &quality.args);
    add_axes(templates, experiment, &mut used);
    used
}

fn add_axes<'a>(
    templates: impl Iterator<Item = &'a Template>,
    experiment: &'a Experiment,
    used: &mut BTreeSet<String>,
) {
    for template in templates {
        if template.is_variant_splice() {
            if used.insert("variant".to_owned()) {
                add_axes(experiment.variant_templates(), experiment, used);
            }
            continue;
        }
        for part in template.placeholders() {
            if let Part::Axis(axis) = part {
                used.insert(axis.clone());
            }
        }
    }
}

/// What a llama-perplexity pass scores, from its argv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scoring {
    /// `-c`: the tokens of one chunk.
    pub context: u64,
    /// `--chunks`: how many chunks; every chunk the corpus has when not given.
    pub chunks: Option<u64>,
}

impl Scoring {
    pub fn of(argv: &[String]) -> Self {
        let value = |names: &[&str]| {
            argv.windows(2).rev().find(|pair| names.contains(&pair[0].as_str())).and_then(|pair| pair[1].parse().ok())
        };
        Self {
            context: value(&["-c", "--ctx-size"]).unwrap_or(DEFAULT_CONTEXT),
            chunks: value(&["--chunks"]).filter(|chunks: &u64| *chunks > 0),
        }
    }

    /// Tokens scored in one chunk: its second half, less the last (llama-perplexity's rule).
    pub fn scored_per_chunk(self) -> u64 {
        self.context.saturating_sub(1).saturating_sub(self.context / 2)
    }

    /// The corpus tokens the pass needs: `-c × --chunks`, and at least two chunks' worth (less
    /// and llama-perplexity refuses).
    pub fn tokens_needed(self) -> u64 {
        self.context.saturating_mul(self.chunks.unwrap_or(2).max(2))
    }

    /// The bytes of the base logits file written for `chunks` chunks of a `vocab`-token
    /// vocabulary: a header, the tokens, and per scored token a scale, a minimum and 16 bits per
    /// vocabulary entry (llama-perplexity's `--kl-divergence-base` layout).
    pub fn base_bytes(self, chunks: u64, vocab: u64) -> u64 {
        let per_token = (2 * vocab.div_ceil(2) + 4) * 2;
        let header = 8 + 4 + 4 + 4;
        header + chunks * self.context * 4 + chunks * self.scored_per_chunk() * per_token
    }
}

/// A quality cell's part in its experiment's base logits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The hash of the reference configuration's quality cell: the base file's name.
    pub reference: String,
    /// Whether this cell is the reference, which writes the base (else it reads it).
    pub writes: bool,
    /// The reference's: how large the base will be, where the vocabulary is known.
    pub size: Option<BaseSize>,
}

/// The bytes a base will take: exact with `--chunks`, else at most (every chunk the corpus's
/// bytes could make).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseSize {
    pub bytes: u64,
    pub at_most: bool,
}

impl std::fmt::Display for BaseSize {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = crate::units::format_bytes(self.bytes);
        if self.at_most { write!(formatter, "at most {bytes}") } else { write!(formatter, "{bytes}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn reads_context_and_chunks_with_llama_perplexity_defaults() {
        let scoring = Scoring::of(&argv("llama-perplexity -m m -f c -c 128 --chunks 8"));
        assert_eq!(scoring, Scoring { context: 128, chunks: Some(8) });
        assert_eq!(scoring.scored_per_chunk(), 63);
        assert_eq!(scoring.tokens_needed(), 1024);
        let default = Scoring::of(&argv("llama-perplexity -m m -f c"));
        assert_eq!(default, Scoring { context: 512, chunks: None });
        assert_eq!(default.tokens_needed(), 1024);
        assert_eq!(Scoring::of(&argv("x --ctx-size 256 --chunks 1")).tokens_needed(), 512);
    }

    /// The size llama-perplexity wrote for Gemma 3 (262,144 tokens), `-c 128 --chunks 8`.
    #[test]
    fn base_size_is_the_bytes_llama_perplexity_writes() {
        let scoring = Scoring { context: 128, chunks: Some(8) };
        assert_eq!(scoring.base_bytes(8, 262_144), 264_249_300);
    }
}
