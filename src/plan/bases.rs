//! Quality bases in the plan: a candidate that runs reads its reference's base logits, so a
//! reference whose base is missing (deleted, pruned, another machine) runs again; a base larger
//! than the free space where it goes blocks its reference, and with it the candidates.

use super::decide::{Decision, PlannedCell, RunReason};
use crate::fingerprint::ResolvedCell;

/// Settles the quality references of `planned`: `present` says whether a reference's base is on
/// disk, `free` how many bytes the disk it goes to has free (unknown: not checked). A reference
/// that a selection (`--only`) left out joins the plan, from `references`, when a candidate that
/// runs needs the base it would write.
pub(crate) fn settle_bases(
    planned: &mut Vec<PlannedCell>,
    references: &[ResolvedCell],
    present: impl Fn(&str) -> bool,
    free: Option<u64>,
) {
    for reference in references {
        let needed = planned.iter().any(|candidate| {
            matches!(candidate.decision, Decision::Run(_))
                && candidate.cell.base.as_ref().is_some_and(|base| !base.writes && base.reference == reference.hash)
        });
        let planned_too = planned.iter().any(|cell| cell.cell.hash == reference.hash);
        if needed && !planned_too && !present(&reference.hash) {
            planned.push(PlannedCell { cell: reference.clone(), decision: Decision::Cached });
        }
    }
    let references: Vec<usize> =
        (0..planned.len()).filter(|&index| planned[index].cell.base.as_ref().is_some_and(|base| base.writes)).collect();
    let mut settled: Vec<String> = Vec::new();
    for index in references {
        let hash = planned[index].cell.hash.clone();
        if settled.contains(&hash) {
            continue;
        }
        let candidates: Vec<usize> = (0..planned.len())
            .filter(|&other| {
                let base = planned[other].cell.base.as_ref();
                base.is_some_and(|base| !base.writes && base.reference == hash)
                    && matches!(planned[other].decision, Decision::Run(_))
            })
            .collect();
        if planned[index].decision == Decision::Cached && !candidates.is_empty() && !present(&hash) {
            let distinct: std::collections::BTreeSet<&str> =
                candidates.iter().map(|&other| planned[other].cell.hash.as_str()).collect();
            planned[index].decision = Decision::Run(RunReason::BaseMissing { candidates: distinct.len() });
        }
        let size = planned[index].cell.base.as_ref().and_then(|base| base.size);
        if let (Decision::Run(_), Some(size), Some(free)) = (&planned[index].decision, size, free)
            && size.bytes > free
        {
            let reason = format!(
                "its base logits need {size} and the store's disk has {} free: free some space, or give `--chunks` \
                 fewer chunks",
                crate::units::format_bytes(free)
            );
            planned[index].decision = Decision::Blocked { reasons: vec![reason.clone()] };
            let id = planned[index].cell.id.clone();
            for candidate in candidates {
                planned[candidate].decision =
                    Decision::Blocked { reasons: vec![format!("its quality reference `{id}` is blocked: {reason}")] };
            }
        }
        settled.push(hash);
    }
}
