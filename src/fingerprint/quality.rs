//! Quality cells linked to their experiment's reference configuration (its inputs become
//! theirs), and what llama-perplexity needs that can be known before it runs: one vocabulary, a
//! corpus long enough for `-c × --chunks`, enough scored tokens.

use std::collections::BTreeSet;

use super::canonical::WorkloadPrint;
use super::resolve::{InputDigests, ResolvedCell};
use super::scoring::{Base, BaseSize, Scoring};
use crate::manifest::{Experiment, Manifests};
use crate::matrix::Block;

/// Below this many scored tokens llama-perplexity prints no KL divergence statistics.
const FEWEST_SCORED: u64 = 100;

/// How large the base of `reference` will be: its scoring, its model's vocabulary and, without
/// `--chunks`, as many chunks as the corpus's bytes could make.
fn base_size(
    reference: &ResolvedCell,
    experiment: &Experiment,
    inputs: &InputDigests,
    manifests: &Manifests,
) -> Option<BaseSize> {
    let vocab = inputs.models.get(reference.model.as_deref()?)?.shape.as_ref()?.vocab?;
    let scoring = Scoring::of(&reference.argv);
    let (chunks, at_most) = match scoring.chunks {
        Some(chunks) => (chunks, false),
        None => {
            let corpus = experiment.quality.as_ref()?.corpus.as_ref()?;
            let bytes = *inputs.sizes.get(&manifests.input_path(corpus.at, &corpus.value))?;
            ((bytes + 1) / scoring.context.max(1), true)
        }
    };
    Some(BaseSize { bytes: scoring.base_bytes(chunks, vocab), at_most })
}

/// Links every quality cell to its experiment's reference: the reference's portable key enters
/// each candidate's fingerprint (another reference is another measurement), and what cannot work
/// is a reason to block: a selector that matches no configuration or several, another
/// vocabulary, a corpus too short, too few tokens scored, a reference that cannot run.
pub fn link(manifests: &Manifests, cells: &mut [ResolvedCell], inputs: &InputDigests) {
    let experiments: BTreeSet<String> = cells
        .iter()
        .filter(|cell| cell.cell.block == Block::Quality)
        .map(|cell| cell.cell.experiment.clone())
        .collect();
    for name in experiments {
        let Some(experiment) = manifests.experiment(&name) else { continue };
        let indices: Vec<usize> = (0..cells.len())
            .filter(|&index| cells[index].cell.block == Block::Quality && cells[index].cell.experiment == name)
            .collect();
        for &index in &indices {
            let reasons = corpus_problems(experiment, &cells[index], inputs, manifests);
            cells[index].blocked.extend(reasons);
        }
        let selector = experiment.quality_reference();
        let chosen: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&index| {
                selector.iter().all(|(axis, value)| cells[index].cell.value(&axis.value) == Some(&value.value))
            })
            .collect();
        let written: Vec<String> =
            selector.iter().map(|(axis, value)| format!("{}={}", axis.value, value.value)).collect();
        let written = written.join(" ");
        let hashes: BTreeSet<&str> = chosen.iter().map(|&index| cells[index].hash.as_str()).collect();
        let problem = match hashes.len() {
            0 => Some(format!(
                "the quality reference `{written}` is no configuration of the matrix (an `exclude` may remove it): name \
                 one its cells have"
            )),
            1 => None,
            count => {
                let used = super::scoring::used_axes(experiment);
                let differ: Vec<String> = differing_axes(cells, &chosen)
                    .into_iter()
                    .filter(|axis| {
                        // The model and the toolbox enter every fingerprint; other axes only where used.
                        axis == "model" || axis == "toolbox" || used.contains(axis)
                    })
                    .collect();
                Some(format!(
                    "the quality reference `{written}` matches {count} configurations that differ in {}: add a value for \
                     each to `reference`",
                    differ.iter().map(|axis| format!("`{axis}`")).collect::<Vec<_>>().join(", ")
                ))
            }
        };
        if let Some(problem) = problem {
            for &index in &indices {
                cells[index].blocked.push(problem.clone());
            }
            continue;
        }
        let reference = chosen[0];
        let size = base_size(&cells[reference], experiment, inputs, manifests);
        let reference_hash = cells[reference].hash.clone();
        let reference_key = cells[reference].fingerprint.portable_key();
        let reference_id = cells[reference].id.clone();
        let reference_blocked = cells[reference].blocked.clone();
        let reference_model = cells[reference].model.clone();
        for &index in &indices {
            if cells[index].hash == reference_hash {
                cells[index].base = Some(Base { reference: reference_hash.clone(), writes: true, size });
                continue;
            }
            let cell = &mut cells[index];
            cell.base = Some(Base { reference: reference_hash.clone(), writes: false, size: None });
            if let WorkloadPrint::Quality { reference, .. } = &mut cell.fingerprint.workload {
                *reference = Some(reference_key.clone());
            }
            cell.hash = cell.fingerprint.hash();
            if let Some(reason) = vocabulary_problem(cell.model.as_deref(), reference_model.as_deref(), inputs) {
                cell.blocked.push(reason);
            }
            let scoring = Scoring::of(&cell.argv);
            if let Some(chunks) = scoring.chunks
                && chunks * scoring.scored_per_chunk() < FEWEST_SCORED
            {
                cell.blocked.push(format!(
                    "`-c {} --chunks {chunks}` scores {} tokens: llama-perplexity prints KL divergence statistics from \
                     {FEWEST_SCORED} on; give more chunks or a larger `-c`",
                    scoring.context,
                    chunks * scoring.scored_per_chunk()
                ));
            }
            if !reference_blocked.is_empty() {
                cell.blocked.push(format!(
                    "its quality reference `{reference_id}` cannot run here: {}",
                    reference_blocked.join("; ")
                ));
            }
            cell.blocked.dedup();
        }
    }
}

/// The axes whose values differ among `chosen` cells.
fn differing_axes(cells: &[ResolvedCell], chosen: &[usize]) -> Vec<String> {
    let first = &cells[chosen[0]].cell;
    first
        .axes
        .iter()
        .filter(|(axis, value)| chosen.iter().any(|&index| cells[index].cell.value(axis) != Some(value.as_str())))
        .map(|(axis, _)| axis.clone())
        .collect()
}

/// Why a candidate's model cannot be compared with the reference's: another vocabulary size.
fn vocabulary_problem(model: Option<&str>, reference: Option<&str>, inputs: &InputDigests) -> Option<String> {
    let vocab = |name: &str| inputs.models.get(name)?.shape.as_ref()?.vocab;
    let (model, reference) = (model?, reference?);
    let (own, theirs) = (vocab(model)?, vocab(reference)?);
    (own != theirs).then(|| {
        format!(
            "KL divergence needs one vocabulary: `{model}` has {} tokens, the reference `{reference}` {}",
            crate::units::thousands(own),
            crate::units::thousands(theirs)
        )
    })
}

/// Why the corpus cannot give the cell what its arguments ask: fewer bytes than the tokens
/// `-c × --chunks` needs (a token is at least a byte, and a begin-of-text token is added), so
/// llama-perplexity would refuse or score fewer chunks than asked.
fn corpus_problems(
    experiment: &Experiment,
    cell: &ResolvedCell,
    inputs: &InputDigests,
    manifests: &Manifests,
) -> Option<String> {
    let corpus = experiment.quality.as_ref()?.corpus.as_ref()?;
    let bytes = *inputs.sizes.get(&manifests.input_path(corpus.at, &corpus.value))?;
    let scoring = Scoring::of(&cell.argv);
    let needed = scoring.tokens_needed();
    let most = bytes + 1;
    (most < needed).then(|| {
        let chunks = scoring.chunks.map(|chunks| format!(" --chunks {chunks}")).unwrap_or_default();
        format!(
            "corpus `{}` is too short for `-c {}{chunks}`: llama-perplexity needs {} tokens, and its {} bytes make at \
             most {}",
            corpus.value,
            scoring.context,
            crate::units::thousands(needed),
            crate::units::thousands(bytes),
            crate::units::thousands(most)
        )
    })
}
