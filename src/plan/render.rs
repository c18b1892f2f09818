//! The plan as people read it (one line per cell and a summary) and as scripts read it (JSON).

use std::fmt::Write;

use serde_json::json;

use super::decide::{Decision, PlannedCell, RunReason, Summary};
use super::graph::status_word;
use crate::fingerprint::{ARGV_FIELD, FieldChange};

const SHOWN_CHANGES: usize = 4;

/// How toolboxes here differ from bakeoff.lock's pins from other hosts, one line each; then one
/// line per cell, then the summary line.
pub(crate) fn render_text(cells: &[PlannedCell]) -> String {
    let mut text = String::new();
    let drift: std::collections::BTreeSet<_> = cells.iter().flat_map(|planned| &planned.cell.drift).collect();
    for drift in &drift {
        let _ = writeln!(text, "differs from lock: {drift}");
    }
    let notes: std::collections::BTreeSet<_> = cells.iter().flat_map(|planned| &planned.cell.notes).collect();
    for note in &notes {
        let _ = writeln!(text, "{}", crate::notice::Notice::note(note.as_str()));
    }
    for (planned, shared) in cells.iter().zip(super::decide::measured_with(cells)) {
        let _ = write!(
            text,
            "{:<13} {}  {}",
            status_word(&planned.decision),
            crate::digest::listed(&planned.cell.hash),
            planned.cell.id
        );
        if let Some(earlier) = shared {
            let _ = writeln!(text, "  (the same inputs as {earlier}: measured once)");
            continue;
        }
        match (&planned.decision, decision_words(planned)) {
            (Decision::Blocked { .. } | Decision::FailedBefore { .. }, Some(words)) => {
                let _ = write!(text, "  {words}");
            }
            (_, Some(words)) => {
                let _ = write!(text, "  ({words})");
            }
            (_, None) => {}
        }
        if let (Decision::Run(_), Some(base)) = (&planned.decision, &planned.cell.base)
            && base.writes
        {
            match base.size {
                Some(size) => {
                    let _ = write!(text, "  [writes {size} of base logits to results/bases/]");
                }
                None => text.push_str("  [writes base logits to results/bases/]"),
            }
        }
        text.push('\n');
    }
    let _ = writeln!(text, "{}", Summary::of(cells));
    text
}

/// `-d 0 → 4096, + -ub 256, - -fa 1, axes.depth 0 → 4096` (at most a few, then `and N more`).
/// Why a planned cell runs, or why it does not (`new`, `changed: …`, its block's reasons),
/// as the plan says it; `None` for a cached cell.
pub(crate) fn decision_words(planned: &PlannedCell) -> Option<String> {
    Some(match &planned.decision {
        Decision::Cached => return None,
        Decision::Run(RunReason::New) => "new".to_owned(),
        Decision::Run(RunReason::Forced) => "forced".to_owned(),
        Decision::Run(RunReason::MoreRounds { recorded, wanted }) => format!("{recorded} of {wanted} rounds recorded"),
        Decision::Run(RunReason::RetryFailed { reason }) => format!("retrying: {reason}"),
        Decision::Run(RunReason::Unblocked { reason }) => format!("no longer blocked: {reason}"),
        Decision::Run(RunReason::Skipped { reason }) => format!("skipped last time: {reason}"),
        Decision::Run(RunReason::BaseMissing { candidates }) => {
            format!("its base logits are missing; {candidates} quality cell(s) read them")
        }
        Decision::Run(RunReason::Changed { previous, changes, .. }) => {
            let mut words = format!("changed: {}", describe_changes(changes));
            if *previous != planned.cell.id {
                let _ = write!(words, "; nearest earlier result: {previous}");
            }
            words
        }
        Decision::Blocked { reasons } => reasons.join("; "),
        Decision::FailedBefore { reason } => format!("{reason} (rerun with --retry-failed)"),
    })
}

pub(crate) fn describe_changes(changes: &[FieldChange]) -> String {
    if changes.is_empty() {
        return "no field differs".to_owned();
    }
    let mut parts: Vec<String> = changes.iter().take(SHOWN_CHANGES).map(describe_change).collect();
    if changes.len() > SHOWN_CHANGES {
        parts.push(format!("and {} more", changes.len() - SHOWN_CHANGES));
    }
    parts.join(", ")
}

/// One change as people read it: an argv option with its value added (`+ -ub 256`), removed
/// (`- -fa 1`) or changed (`-t 1 → 2`); any other field as `field old → new`.
pub(crate) fn describe_change(change: &FieldChange) -> String {
    let words = |value: &str| value.split(' ').map(shorten).collect::<Vec<_>>().join(" ");
    if let Some(option) = change.field.strip_prefix(ARGV_FIELD) {
        let option = option.split_once('#').map_or(option, |(option, _)| option);
        let with =
            |value: &str| if value.is_empty() { option.to_owned() } else { format!("{option} {}", words(value)) };
        return match (&change.old, &change.new) {
            (None, Some(new)) => format!("+ {}", with(new)),
            (Some(old), None) => format!("- {}", with(old)),
            (Some(old), Some(new)) => format!("{option} {} → {}", or_none(&words(old)), or_none(&words(new))),
            (None, None) => option.to_owned(),
        };
    }
    format!(
        "{} {} → {}",
        change.field,
        change.old.as_deref().map_or_else(|| "(none)".to_owned(), words),
        change.new.as_deref().map_or_else(|| "(none)".to_owned(), words)
    )
}

fn or_none(value: &str) -> &str {
    if value.is_empty() { "(no value)" } else { value }
}

/// Long hashes are shown short (`digest::short`), with an ellipsis.
fn shorten(value: &str) -> String {
    match value.strip_prefix("sha256:") {
        Some(hash) if hash.len() > 12 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{}…", crate::digest::short_id(hash))
        }
        _ if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{}…", crate::digest::short(value))
        }
        _ => value.to_owned(),
    }
}

/// `{"cells": [...], "summary": {...}}`, one object per cell with its decision.
pub(crate) fn render_json(cells: &[PlannedCell]) -> String {
    let rows: Vec<serde_json::Value> = cells
        .iter()
        .map(|planned| {
            let axes: serde_json::Map<String, serde_json::Value> = planned
                .cell
                .cell
                .axes
                .iter()
                .map(|(axis, value)| (axis.clone(), serde_json::Value::String(value.clone())))
                .collect();
            json!({
                "id": planned.cell.id,
                "hash": planned.cell.hash,
                "experiment": planned.cell.cell.experiment,
                "workload": planned.cell.cell.workload,
                "axes": axes,
                "decision": planned.decision,
                "lock_drift": planned.cell.drift,
                "base_bytes": planned.cell.base.as_ref().filter(|base| base.writes).and_then(|base| base.size).map(|size| size.bytes),
                "notes": planned.cell.notes,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "cells": rows, "summary": Summary::of(cells) }))
        .expect("JSON values always serialise");
    text.push('\n');
    text
}
